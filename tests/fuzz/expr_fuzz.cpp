// libFuzzer target for the expression language (src/expr): compile, evaluate, write.
//
// Input: EXPRESSION NUL JSON (or, without a NUL, EXPRESSION NEWLINE JSON; with neither, the whole
// input is the expression and the document is `null`). Checked on every input:
//  * compile() returns (never throws, never crashes); a CompileError has a column inside the source
//    and format_compile_error() renders it;
//  * evaluate() on the parsed document (skipped when simdjson refuses the document) returns;
//  * a value is written by append_json() as valid JSON (valid UTF-8 included) that reads back and
//    writes again to the same text (modulo -0, which simdjson reads as the integer 0; numbers
//    beyond 64-bit integers, which simdjson refuses, are checked by json_oracle.h instead);
//  * evaluating again with the same Scratch gives the same outcome, value and message;
//  * the general engine (src/expr/jq; a program's general twin when the fast path took it) runs
//    the program too, to its end or its 50th output (infinite generators such as `repeat(1)` are
//    stopped there; the engine's recursion guard bounds `def f: f; f`): an error has a message,
//    and every output is valid JSON that reads back (jq::parse_json) and writes again the same.
// Anything else is abort()ed, so libFuzzer keeps the input. ASan and UBSan watch the rest.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <simdjson.h>

#include "src/expr/expr.h"
#include "src/expr/internal.h"
#include "src/expr/jq/jq.h"
#include "src/util/interrupt.h"
#include "tests/fuzz/json_oracle.h"

namespace {

// A loop that never ends never ends in jq either (`[recurse(type; . != 3)]`, `until(false; .)`):
// as ppipe's run does on SIGINT, a watchdog raises the stop flag that the engine's loops poll once
// an evaluation has run for 250 ms, and the evaluation ends with its "interrupted" error (not a
// libFuzzer timeout, which stops the fuzzing). Each evaluation starts with start_clock().
std::atomic<std::int64_t> g_started_ms{0};
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void start_clock() {
  static const bool started = [] {
    std::thread([] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const std::int64_t t = g_started_ms.load();
        if (t != 0 && now_ms() - t > 250) ppipe::run_stopping().store(true);
      }
    }).detach();
    return true;
  }();
  (void)started;
  ppipe::run_stopping().store(false);
  g_started_ms.store(now_ms());
}

using ppipe::expr::Outcome;
using ppipe::expr::Value;

[[noreturn]] void fail(const char* what, std::string_view a = {}, std::string_view b = {}) {
  std::fprintf(stderr, "expr_fuzz: %s\n", what);
  if (!a.empty()) std::fprintf(stderr, "  first:  %.*s\n", static_cast<int>(std::min<std::size_t>(a.size(), 2000)), a.data());
  if (!b.empty()) std::fprintf(stderr, "  second: %.*s\n", static_cast<int>(std::min<std::size_t>(b.size(), 2000)), b.data());
  std::abort();
}

// Values are views, so `[.,.] | [.,.] | ...` builds an exponentially large value in linear
// memory. Writing it is a legitimate resource blow-up (jq does the same), not a bug: skip values
// whose JSON would exceed the budget. Walks at most `budget` nodes.
bool small_enough(const Value& v, std::size_t& budget) {
  if (budget == 0) return false;
  --budget;
  if (v.is_string()) {
    std::size_t n = v.string_value().size() / 16;
    if (n >= budget) return false;
    budget -= n;
    return true;
  }
  if (!v.is_array() && !v.is_object()) return true;
  bool ok = true;
  ppipe::expr::for_each_item(v, [&](const Value& x) {
    ok = small_enough(x, budget);
    return ok;
  });
  return ok;
}

// What one evaluation produced, as text: outcome, then the JSON or the error message.
std::string describe(const ppipe::expr::Result& r, const ppipe::expr::Scratch& scratch, bool& too_big) {
  too_big = false;
  switch (r.outcome) {
    case Outcome::kEmpty: return "empty";
    case Outcome::kError: return "error: " + std::string(ppipe::expr::error_message(scratch));
    case Outcome::kValue: break;
  }
  std::size_t budget = 1u << 20;
  if (!small_enough(r.value, budget)) {
    too_big = true;
    return "value (too big to write)";
  }
  std::string out;
  ppipe::expr::append_json(r, out);
  if (out.empty()) fail("append_json wrote nothing for a value");
  std::string raw;
  ppipe::expr::append_raw(r.value, raw);
  if (!r.value.is_string() && raw != out) fail("append_raw differs from append_json for a non-string", out, raw);
  return "value: " + out;
}

// jq prints a negative zero double as -0; simdjson reads -0 back as the integer 0.
std::string without_negative_zero(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '-' && i + 1 < s.size() && s[i + 1] == '0' &&
        (i + 2 == s.size() || std::string_view(".0123456789eE").find(s[i + 2]) == std::string_view::npos)) {
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

void check_json_output(const ppipe::expr::Program& identity, std::string_view json) {
  static simdjson::dom::parser* parser = [] {
    auto* p = new simdjson::dom::parser();
    // Outputs may nest deeper than the input ([.] on a 1024-deep document).
    if (p->allocate(1 << 16, 1 << 16)) std::abort();
    return p;
  }();
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  simdjson::error_code e = parser->parse(padded).get(doc);
  if (e == simdjson::NUMBER_ERROR) {
    // simdjson refuses integers beyond 64 bits, which jq's layout of doubles writes out in full
    // (1.23456e20 -> 123456000000000000000). Valid JSON all the same: check with the oracle.
    if (!ppipe_fuzz::JsonOracle(json, 1 << 16).valid()) fail("append_json wrote invalid JSON (oracle)", json);
    return;
  }
  if (e) {
    std::fprintf(stderr, "expr_fuzz: output is not valid JSON: %s\n", simdjson::error_message(e));
    fail("append_json wrote invalid JSON", json);
  }
  // Written, read back and written again: the same text.
  ppipe::expr::Scratch scratch;
  ppipe::expr::Result r = ppipe::expr::evaluate(identity, doc, scratch);
  if (r.outcome != Outcome::kValue) fail("identity on the output gave no value", json);
  std::string again;
  ppipe::expr::append_json(r, again);
  if (without_negative_zero(again) != without_negative_zero(json)) {
    fail("output does not read back to the same text", json, again);
  }
}

// As small_enough, for the general engine's values.
bool small_enough_j(const ppipe::expr::jq::J& v, std::size_t& budget) {
  if (budget == 0) return false;
  --budget;
  if (v.is_string()) {
    std::size_t n = v.str().size() / 16;
    if (n >= budget) return false;
    budget -= n;
    return true;
  }
  if (v.is_array()) {
    for (const auto& x : v.arr())
      if (!small_enough_j(x, budget)) return false;
  } else if (v.is_object()) {
    for (const auto& m : v.obj().m) {
      if (m.first.size() / 16 >= budget) return false;
      budget -= m.first.size() / 16;
      if (!small_enough_j(m.second, budget)) return false;
    }
  }
  return true;
}

void check_general_output(const ppipe::expr::jq::J& v) {
  namespace jq = ppipe::expr::jq;
  std::size_t budget = 1u << 20;
  if (!small_enough_j(v, budget)) return;
  std::string text = jq::to_json(v);
  if (text.empty()) fail("jq::to_json wrote nothing");
  if (!ppipe_fuzz::JsonOracle(text, 1 << 16).valid()) fail("the general engine wrote invalid JSON", text);
  jq::J back;
  std::string err;
  if (!jq::parse_json(text, back, &err)) fail("general output does not read back", text, err);
  std::string again = jq::to_json(back);
  if (again != text) fail("general output does not write again the same", text, again);
}

// Every output of the general engine (at most kMaxOutputs), each checked; the outcome as text.
std::string run_general(const ppipe::expr::jq::Program& program, std::string_view json) {
  namespace jq = ppipe::expr::jq;
  constexpr std::size_t kMaxOutputs = 50;
  jq::J in;
  std::string err;
  if (!jq::parse_json(json, in, &err)) return "invalid input";
  std::size_t n = 0;
  std::string error;
  bool ok = true;
  start_clock();
  try {
    ok = jq::run(program, in, jq::RunContext{},
                 [&](const jq::J& v) {
                   check_general_output(v);
                   if (++n == kMaxOutputs) throw jq::Stop{~std::uint64_t{0}};
                 },
                 &error);
  } catch (jq::Stop&) {
    return std::to_string(n) + " outputs (stopped)";
  }
  if (!ok && error.empty()) fail("general engine: an error without a message");
  // (not the message itself: `error(now)` differs from run to run)
  return std::to_string(n) + " outputs" + (ok ? "" : ", an error");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t cut = input.find('\0');
  if (cut == std::string_view::npos) cut = input.find('\n');
  std::string_view source = input.substr(0, cut);
  std::string_view json = cut == std::string_view::npos ? std::string_view("null") : input.substr(cut + 1);

  auto compiled = ppipe::expr::compile(source);
  if (auto* err = std::get_if<ppipe::expr::CompileError>(&compiled)) {
    if (err->message.empty()) fail("compile error without a message");
    if (err->column > source.size()) fail("compile error column past the end of the source", err->message);
    std::string text = ppipe::expr::format_compile_error(source, *err);
    if (text.find(err->message) == std::string::npos) fail("format_compile_error lost the message", text);
    return 0;
  }
  const auto& program = std::get<std::shared_ptr<const ppipe::expr::Program>>(compiled);
  (void)ppipe::expr::is_identity(*program);
  if (ppipe::expr::source_text(*program) != source) fail("source_text differs from the source");

  // The general engine: the program itself, or the fast path's general twin.
  if (const auto* general = ppipe::expr::general_program(*program)) {
    std::string a = run_general(*general, json);
    std::string b = run_general(*general, json);
    if (a != b) fail("two runs of the general engine differ", a, b);
    // evaluate() of a general program takes every output (to report "several values"): not for
    // an infinite generator.
    if (a.ends_with("(stopped)")) return 0;
  }

  static simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) return 0;

  ppipe::expr::Scratch scratch;
  bool too_big = false;
  start_clock();
  ppipe::expr::Result r1 = ppipe::expr::evaluate(*program, doc, scratch);
  std::string first = describe(r1, scratch, too_big);
  if (r1.outcome == Outcome::kError && ppipe::expr::error_message(scratch).empty()) {
    fail("runtime error without a message");
  }
  if (r1.outcome == Outcome::kValue && !too_big) {
    static const auto identity =
        std::get<std::shared_ptr<const ppipe::expr::Program>>(ppipe::expr::compile("."));
    check_json_output(*identity, std::string_view(first).substr(7));  // after "value: "
  }

  // The same Scratch again (arena reset, caches warm): the same result.
  start_clock();
  ppipe::expr::Result r2 = ppipe::expr::evaluate(*program, doc, scratch);
  std::string second = describe(r2, scratch, too_big);
  // (`now` reads the clock: only the outcome is the same)
  const bool clock = source.find("now") != std::string_view::npos;
  if (clock ? r1.outcome != r2.outcome : first != second) fail("two evaluations with the same scratch differ", first, second);
  if (ppipe::expr::is_truthy(r1) != ppipe::expr::is_truthy(r2)) fail("truthiness differs");
  return 0;
}
