// compile(): the fast path when it takes the expression, the general engine otherwise.
#include "src/expr/internal.h"
#include "src/expr/jq/jq.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace ppipe::expr {

CompileResult compile(std::string_view source) { return compile(source, CompileOptions{}); }

CompileResult compile(std::string_view source, const CompileOptions& options) {
  bool uses_vars = false;
  jq::J named = jq::J::object();
  for (const NamedArg& a : options.named) {
    jq::J v;
    std::string err;
    if (!jq::parse_json(a.json, v, &err)) return CompileError{"--argjson " + a.name + ": invalid JSON text: " + err, 0};
    named.mut_obj().set(a.name, v);
    uses_vars = true;
  }
  CompileResult fast = CompileError{};
  if (!uses_vars) {
    fast = compile_fast(source);
    if (std::get_if<std::shared_ptr<const Program>>(&fast)) return fast;  // its twin: general_program()
  }
  jq::CompileFailure failure;
  auto general = jq::compile(source, named, &failure);
  if (!general) {
    // Both refuse it: the fast path's words are the more helpful ("'&&' is not an operator (use
    // 'and')", "did you mean 'length'?"), unless it refused a construct the general engine knows.
    if (const auto* f = std::get_if<CompileError>(&fast);
        f && !uses_vars && f->message.find("not supported") == std::string::npos &&
        f->message.find("is a generator") == std::string::npos)
      return *f;
    return CompileError{failure.message, failure.pos};
  }
  auto program = std::make_shared<Program>();
  program->source.assign(source);
  program->general = std::move(general);
  return std::shared_ptr<const Program>(std::move(program));
}

bool is_general(const Program& program) { return program.general != nullptr; }

std::optional<std::size_t> plain_assignment_at_top(const Program& program) {
  const jq::Program* g = general_program(program);
  const jq::Node* n = g ? g->root.get() : nullptr;
  // The value of `A | B` is B's; of `def f: ...; B` B's.
  while (n && (n->kind == jq::NK::kPipe || n->kind == jq::NK::kDef) && !n->kids.empty())
    n = n->kind == jq::NK::kPipe ? n->kids.back().get() : n->kids[0].get();
  // Only the plain mistake: a path into the record on the left (`.a`, `.a.b[0]`, `.[]`) and one
  // value on the right (a literal, a variable, a field of the record). Its value is then the
  // record changed, never false or null. Not `. = .ok` (its value is .ok's), not a right side
  // that may give none (`.a = (.a | select(. > 5))` keeps what jq keeps), not `"s".a = 1`.
  auto record_path = [](const jq::Node* x, bool iterate_ok) {
    bool stepped = false;
    while (x && (x->kind == jq::NK::kField || x->kind == jq::NK::kIndex || x->kind == jq::NK::kSlice ||
                 x->kind == jq::NK::kIterate)) {
      if (x->kind == jq::NK::kIterate && !iterate_ok) return false;
      if (x->kind == jq::NK::kIndex && (!x->kid(1) || x->kid(1)->kind != jq::NK::kLiteral)) return false;
      if (x->kind == jq::NK::kSlice && !iterate_ok) return false;  // (on the right: not counted as one value)
      stepped = true;
      x = x->kid(0);
    }
    return stepped && x && x->kind == jq::NK::kIdentity;
  };
  if (n && n->kind == jq::NK::kAssign && n->assign == '=' && n->kids.size() == 2) {
    const jq::Node* rhs = n->kid(1);
    const bool one_value =
        rhs->kind == jq::NK::kLiteral || rhs->kind == jq::NK::kVar || record_path(rhs, /*iterate_ok=*/false);
    if (record_path(n->kid(0), /*iterate_ok=*/true) && one_value) return n->pos;
  }
  return std::nullopt;
}

const jq::Program* general_program(const Program& program) {
  if (program.general) return program.general.get();
  // A fast program takes no --arg/--argjson (compile() sends those to the general engine).
  std::call_once(program.twin_once, [&] {
    jq::CompileFailure ignored;
    program.twin = jq::compile(program.source, jq::J::object(), &ignored);
  });
  return program.twin.get();
}

jq::J to_j(const Value& v) {
  switch (v.tag()) {
    case Tag::kNull: return jq::J::null();
    case Tag::kFalse: return jq::J::boolean(false);
    case Tag::kTrue: return jq::J::boolean(true);
    case Tag::kInt: {
      std::string text;
      write_int(v.int_value(), text);
      return jq::J::number_text(static_cast<double>(v.int_value()), text);
    }
    case Tag::kUint: return jq::J::number_text(static_cast<double>(v.uint_value()), std::to_string(v.uint_value()));
    case Tag::kDouble: return jq::J::number(v.double_value());
    case Tag::kString: return jq::J::string(std::string(v.string_value()));
    case Tag::kArray: {
      std::vector<jq::J> items;
      for_each_item(v, [&](const Value& x) {
        items.push_back(to_j(x));
        return true;
      });
      return jq::J::array(std::move(items));
    }
    case Tag::kObject: {
      jq::J o = jq::J::object();
      jq::JObj& m = o.mut_obj();
      for_each_member(v, [&](std::string_view k, const Value& x) {
        m.set(k, to_j(x));
        return true;
      });
      return o;
    }
  }
  return jq::J::null();
}

Value from_j(const jq::J& j, Arena& arena) {
  switch (j.type()) {
    case jq::T::kNull: return Value::null();
    case jq::T::kFalse: return Value::boolean(false);
    case jq::T::kTrue: return Value::boolean(true);
    case jq::T::kNumber: {
      double d = j.num();
      // A number read from JSON keeps its text: an integer that fits 64 bits stays exact (as the
      // fast engine reads it from the DOM), beyond 2^53 too.
      if (const std::string* text = j.literal(); text && !text->empty()) {
        if (d == std::trunc(d)) {
          std::int64_t i = 0;
          auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), i);
          if (ec == std::errc() && end == text->data() + text->size()) return Value::integer(i);
          std::uint64_t u = 0;
          auto [uend, uec] = std::from_chars(text->data(), text->data() + text->size(), u);
          if (uec == std::errc() && uend == text->data() + text->size()) return Value::uinteger(u);
        }
        // A decimal as written (1.0, -0.0, 1e15) stays a double, as the DOM reads it: a record
        // read here (one with a number past 64 bits) made them integers, so `sum` came out exact
        // where it is a double's, and -0.0 lost its sign (found by a bug hunt).
        if (text->find_first_of(".eE") != std::string::npos) return Value::number(d);
      }
      if (d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) return Value::integer(static_cast<std::int64_t>(d));
      return Value::number(d);
    }
    case jq::T::kString: {
      const std::string& s = j.str();
      char* p = arena.alloc_chars(s.size());
      std::memcpy(p, s.data(), s.size());
      return Value::string({p, s.size()});
    }
    case jq::T::kArray: {
      const auto& a = j.arr();
      Value* items = arena.alloc_array<Value>(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) items[i] = from_j(a[i], arena);
      return Value::array(items, static_cast<std::uint32_t>(a.size()));
    }
    case jq::T::kObject: {
      const auto& m = j.obj().m;
      Member* members = arena.alloc_array<Member>(m.size());
      for (std::size_t i = 0; i < m.size(); ++i) {
        char* p = arena.alloc_chars(m[i].first.size());
        std::memcpy(p, m[i].first.data(), m[i].first.size());
        members[i].key = std::string_view(p, m[i].first.size());
        members[i].value = from_j(m[i].second, arena);
      }
      return Value::object(members, static_cast<std::uint32_t>(m.size()));
    }
  }
  return Value::null();
}

bool read_value(std::string_view text, Scratch& scratch, Value& out, std::string* error) {
  ScratchState& s = scratch.state();
  s.arena.reset();
  jq::J j;
  std::string perr;
  if (!jq::parse_json(text, j, &perr, /*valid_utf8=*/true)) {
    *error = "invalid JSON: " + perr;
    return false;
  }
  out = from_j(j, s.arena);
  return true;
}

Outcome several_values(ScratchState& s, std::size_t n) {
  s.message = "the expression gave " + std::to_string(n) + " values where one is expected";
  s.error_is_message = true;
  return Outcome::kError;
}

// evaluate() of a general program where one value is expected (agg keys, uniq keys): its one
// output; none is empty; several is an error.
Result evaluate_general(const Program& program, const Value& input, ScratchState& s) {
  Result r;
  std::size_t n = 0;
  jq::J first;
  std::string error;
  jq::RunContext ctx;
  bool ok = jq::run(*program.general, to_j(input), ctx,
                    [&](const jq::J& v) {
                      if (n++ == 0) first = v;
                    },
                    &error);
  if (!ok) {
    s.message = error;
    s.error_is_message = true;
    r.outcome = Outcome::kError;
    return r;
  }
  if (n > 1) {
    r.outcome = several_values(s, n);
    return r;
  }
  if (n == 0) return r;
  r.outcome = Outcome::kValue;
  r.value = from_j(first, s.arena);
  return r;
}

bool run_text(const Program& program, std::string_view input, std::vector<std::string>& outputs, std::string* error) {
  if (program.general) {
    jq::J in;
    std::string perr;
    if (!jq::parse_json(input, in, &perr)) {
      if (error) *error = "invalid input: " + perr;
      return false;
    }
    jq::RunContext ctx;
    return jq::run(*program.general, in, ctx, [&](const jq::J& v) { outputs.push_back(jq::to_json(v)); }, error);
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(input);
  simdjson::dom::element doc;
  Scratch scratch;
  Arena input_memory;  // the input when simdjson cannot read it; the values may point into it
  std::span<const Value> values;
  Outcome outcome;
  if (parser.parse(padded).get(doc) == simdjson::SUCCESS) {
    outcome = evaluate_all(program, doc, scratch, values);
  } else {
    // what simdjson's DOM refuses but jq reads (a BOM, NaN, numbers beyond 64 bits)
    jq::J in;
    std::string perr;
    if (!jq::parse_json(input, in, &perr)) {
      if (error) *error = "invalid input: " + perr;
      return false;
    }
    Value v = from_j(in, input_memory);  // apart from the scratch arena, which evaluation resets
    outcome = evaluate_all_value(program, v, scratch, values);
  }
  for (const Value& v : values) {
    std::string out;
    append_json(v, out);
    outputs.push_back(std::move(out));
  }
  if (outcome == Outcome::kError) {
    if (error) *error = std::string(error_message(scratch));
    return false;
  }
  return true;
}

}  // namespace ppipe::expr
