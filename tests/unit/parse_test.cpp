// The parse stage through the Chain, the way a worker runs it: validation, blank lines, CRLF,
// error records, counts, and the head cut that the writer applies.
#include <catch2/catch.hpp>

#include <cstring>

#include <simdjson.h>

#include "src/core/chain.h"
#include "src/io/framer.h"
#include "stages/registry.h"

using namespace ppipe;

namespace {

std::vector<std::unique_ptr<Stage>> stages(std::initializer_list<std::pair<const char*, const char*>> spec) {
  std::vector<std::unique_ptr<Stage>> out;
  for (auto [name, arg] : spec) {
    std::string err;
    std::string flag = std::string("--") + name;
    out.push_back(*arg ? make_stage(name, {{flag, arg}}, &err) : make_stage(name, {}, &err));
    REQUIRE(out.back());
  }
  return out;
}

BatchPtr make_batch(const std::string& text, std::uint64_t first_line = 1) {
  auto b = std::make_unique<Batch>();
  b->input.resize(text.size());
  std::memcpy(b->input.data(), text.data(), text.size());
  b->first_line = first_line;
  // Record boundaries are found by the reader's framer (they used to be found in Chain::process).
  JsonLinesFramer framer;
  framer.start_source();
  framer.start_batch(*b);
  framer.scan(*b);
  framer.finish(*b);
  return b;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("parse passes valid JSON through byte for byte and rejects the rest", "[parse]") {
  Chain chain(stages({{"parse", ""}}), {"t.jsonl"}, 64 << 20);
  auto ws = chain.make_worker_state();
  const char* good[] = {"{\"a\":1}", "  [1, 2 ,3]  ", "\"str\"", "-0", "1e1000", "100000000000000000000",
                        "{\"g\":[123456789012345678901234567890, -1e-400]}", "null", "true", "{}"};
  const char* bad[] = {"{\"a\":1}x", "[01]", "[1 2]", "{\"a\":1} {\"b\":2}", "[1,]", "tru", "{'a':1}",
                       "\"\\ud800\"", "[\"a\tb\"]", "[1e]", "[-]", "[1.]", "{\"a\":1", "[100000000000000000000",
                       "[1e1000,]", "\"\xff\""};
  std::string text;
  for (auto g : good) text += std::string(g) + "\n";
  for (auto b : bad) text += std::string(b) + "\n";
  auto b = make_batch(text);
  chain.process(*b, *ws);
  auto out = lines(b->output_string());
  REQUIRE(out.size() == std::size(good));
  for (std::size_t i = 0; i < out.size(); ++i) REQUIRE(out[i] == good[i]);
  auto errs = lines(b->err);
  REQUIRE(errs.size() == std::size(bad));
  simdjson::dom::parser p;
  for (std::size_t i = 0; i < errs.size(); ++i) {
    simdjson::dom::element e;
    REQUIRE(p.parse(errs[i]).get(e) == simdjson::SUCCESS);
    REQUIRE(int64_t(e["line"]) == static_cast<int64_t>(std::size(good) + i + 1));
    REQUIRE(std::string_view(e["stage"]) == "parse");
    if (i + 1 < std::size(bad)) REQUIRE(std::string_view(e["record"]) == bad[i]);
  }
  REQUIRE(b->records == std::size(good) + std::size(bad));
  REQUIRE(b->counts[0].errors == std::size(bad));
  REQUIRE(b->counts[0].out == std::size(good));
}

TEST_CASE("blank lines are skipped, CRLF normalized, positions count every line", "[parse]") {
  Chain chain(stages({{"parse", ""}}), {"t.jsonl"}, 64 << 20);
  auto ws = chain.make_worker_state();
  auto b = make_batch("{\"a\":1}\r\n\n   \n\t\r\n[2]\nbad\n", 10);
  b->offset = 100;
  chain.process(*b, *ws);
  REQUIRE(b->output_string() == "{\"a\":1}\n[2]\n");
  REQUIRE(b->records == 3);
  simdjson::dom::parser p;
  simdjson::dom::element e;
  REQUIRE(p.parse(b->err).get(e) == simdjson::SUCCESS);
  REQUIRE(int64_t(e["line"]) == 15);
  REQUIRE(int64_t(e["offset"]) == 100 + 21);
  REQUIRE(std::string_view(e["source"]) == "t.jsonl");
}

TEST_CASE("deep nesting is an error, not a crash", "[parse]") {
  Chain chain(stages({{"parse", ""}}), {"t"}, 64 << 20);
  auto ws = chain.make_worker_state();
  std::string deep = std::string(100000, '[') + std::string(100000, ']') + "\n";
  auto b = make_batch(deep);
  chain.process(*b, *ws);
  REQUIRE(b->output_string().empty());
  REQUIRE(b->err.find("nesting deeper than 1024") != std::string::npos);
}

TEST_CASE("records longer than max_record_size are read errors with their size", "[parse]") {
  Chain chain(stages({{"parse", ""}}), {"t"}, 10);
  auto ws = chain.make_worker_state();
  auto b = make_batch("[1]\n[1,2,3,4,5,6,7]\n");
  chain.process(*b, *ws);
  REQUIRE(b->output_string() == "[1]\n");
  REQUIRE(b->err.find("\"stage\":\"read\"") != std::string::npos);
  REQUIRE(b->err.find("\"record_size\":15") != std::string::npos);
}

TEST_CASE("head cuts the batch after the N-th record and forgets what follows", "[head]") {
  Chain chain(stages({{"parse", ""}, {"head", "3"}}), {"t"}, 64 << 20);
  REQUIRE(chain.needs_order());
  auto ws = chain.make_worker_state();
  auto writer = chain.start();
  auto b1 = make_batch("[1]\nbad\n[2]\n");
  auto b2 = make_batch("[3]\n[4]\nbad2\n[5]\n", 4);
  chain.process(*b1, *ws);
  chain.process(*b2, *ws);
  REQUIRE_FALSE(writer->admit(*b1));  // 2 of 3 admitted, not yet satisfied
  REQUIRE(b1->output_string() == "[1]\n[2]\n");
  REQUIRE(b1->records == 3);
  REQUIRE(writer->admit(*b2));  // the third arrives: stop after it
  REQUIRE(b2->output_string() == "[3]\n");
  REQUIRE(b2->err.empty());  // bad2 comes after the cut: never read
  REQUIRE(b2->records == 1);
  REQUIRE(b2->counts[0].in == 1);
  REQUIRE(b2->counts[1].out == 1);
}

TEST_CASE("head 0 admits nothing", "[head]") {
  Chain chain(stages({{"parse", ""}, {"head", "0"}}), {"t"}, 64 << 20);
  auto ws = chain.make_worker_state();
  auto writer = chain.start();
  auto b = make_batch("bad\n[1]\n");
  chain.process(*b, *ws);
  REQUIRE(writer->admit(*b));
  REQUIRE(b->output_string().empty());
  REQUIRE(b->err.empty());
  REQUIRE(b->records == 0);
}

TEST_CASE("a batch's output offsets hold more than 4 GiB (a map that fans out may make that much)", "[batch]") {
  // Offsets only: the segments name bytes that are never read here, so no memory is needed.
  constexpr std::uint64_t kGiB = 1ull << 30;
  Batch b;
  b.segments = {{0, 3 * kGiB, false}, {0, 100, true}, {3 * kGiB, 2 * kGiB, false}};
  b.out_bytes = 5 * kGiB + 100;
  std::vector<OutSegment> tail;
  b.copy_output_range(3 * kGiB + 50, 5 * kGiB + 100, tail);
  REQUIRE(tail.size() == 2);
  CHECK(tail[0].in_input);
  CHECK(tail[0].begin == 50);
  CHECK(tail[0].len == 50);
  CHECK_FALSE(tail[1].in_input);
  CHECK(tail[1].begin == 3 * kGiB);
  CHECK(tail[1].len == 2 * kGiB);
  b.truncate_output(4 * kGiB + 7);
  REQUIRE(b.segments.size() == 3);
  CHECK(b.segments[2].len == kGiB - 93);
  CHECK(b.out_bytes == 4 * kGiB + 7);
  RecordTrace t{};
  t.out_end = b.out_bytes;
  CHECK(t.out_end == 4 * kGiB + 7);
}
