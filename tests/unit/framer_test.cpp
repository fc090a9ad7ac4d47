#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "src/io/framer.h"

using namespace ppipe;

namespace {

struct Rec {
  std::string text;
  std::uint64_t line;
  std::uint64_t offset;
  bool operator==(const Rec& o) const { return text == o.text && line == o.line && offset == o.offset; }
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << "{" << r.text << " @" << r.line << " +" << r.offset << "}";
}

// Frames `text` as the reader does: bytes arrive in reads of `chunk` bytes, a batch is cut once it
// holds `batch` bytes and a whole record, the rest is carried into the next batch. Returns every
// record with its absolute line and offset.
std::vector<Rec> frame(const std::string& text, std::size_t chunk, std::size_t batch) {
  JsonLinesFramer f;
  f.start_source();
  std::vector<Rec> out;
  std::string carry;
  std::size_t pos = 0;
  std::uint64_t line = 1, offset = 0;
  for (;;) {
    Batch b;
    b.input.reserve(text.size() + 16);
    std::memcpy(b.input.data(), carry.data(), carry.size());
    b.input.resize(carry.size());
    f.start_batch(b);
    offset += f.scan(b);
    bool eof = false;
    for (;;) {
      if (f.cut() > 0 && b.input.size() >= batch) break;
      if (pos == text.size()) {
        eof = true;
        break;
      }
      std::size_t n = std::min(chunk, text.size() - pos);
      std::size_t size = b.input.size();
      b.input.resize(size + n);
      std::memcpy(b.input.data() + size, text.data() + pos, n);
      pos += n;
      offset += f.scan(b);
    }
    if (eof) f.finish(b);
    std::size_t cut = f.cut();
    REQUIRE(cut <= b.input.size());
    for (const RecordSpan& r : b.spans) {
      REQUIRE(r.begin + r.len <= cut);
      out.push_back({std::string(b.input.data() + r.begin, r.len), line + r.line, offset + r.begin});
    }
    carry.assign(b.input.data() + cut, b.input.size() - cut);
    line += f.cut_lines();
    offset += cut;
    if (eof) break;
  }
  REQUIRE(carry.empty());
  return out;
}

std::vector<Rec> frame_all_ways(const std::string& text) {
  std::vector<Rec> first = frame(text, text.size() + 1, 1 << 20);
  for (std::size_t chunk : {1, 2, 3, 5, 64})
    for (std::size_t batch : {1, 4, 16, 1 << 20}) {
      INFO("chunk " << chunk << " batch " << batch);
      REQUIRE(frame(text, chunk, batch) == first);
    }
  return first;
}

}  // namespace

TEST_CASE("framer: LF and CRLF lines, the CR is not part of the record", "[framer]") {
  auto recs = frame_all_ways("{\"a\":1}\r\n[2]\n\"x\\r\"\r\n");
  REQUIRE(recs == std::vector<Rec>{{"{\"a\":1}", 1, 0}, {"[2]", 2, 9}, {"\"x\\r\"", 3, 13}});
}

TEST_CASE("framer: blank and whitespace-only lines are no records but count in line numbers", "[framer]") {
  auto recs = frame_all_ways("\n  \n\t\r\n[1]\n\r\n \t \n  [2] \n\n");
  REQUIRE(recs == std::vector<Rec>{{"[1]", 4, 7}, {"  [2] ", 7, 17}});
  REQUIRE(frame_all_ways("\n\n \r\n").empty());
  REQUIRE(frame_all_ways("").empty());
}

TEST_CASE("framer: the last line needs no newline, a final CR is dropped", "[framer]") {
  REQUIRE(frame_all_ways("[1]\n[2]") == std::vector<Rec>{{"[1]", 1, 0}, {"[2]", 2, 4}});
  REQUIRE(frame_all_ways("[1]\n[2]\r") == std::vector<Rec>{{"[1]", 1, 0}, {"[2]", 2, 4}});
  REQUIRE(frame_all_ways("x") == std::vector<Rec>{{"x", 1, 0}});
  REQUIRE(frame_all_ways("[1]\n  ").size() == 1);
}

TEST_CASE("framer: a BOM is removed at the start of a source only", "[framer]") {
  std::string bom = "\xEF\xBB\xBF";
  REQUIRE(frame_all_ways(bom + "[1]\n" + bom + "[2]\n") ==
          std::vector<Rec>{{"[1]", 1, 3}, {bom + "[2]", 2, 7}});
  REQUIRE(frame_all_ways(bom).empty());
  REQUIRE(frame_all_ways(bom + "\n[1]") == std::vector<Rec>{{"[1]", 2, 4}});
  // A prefix of a BOM is text.
  REQUIRE(frame_all_ways("\xEF\xBB") == std::vector<Rec>{{"\xEF\xBB", 1, 0}});
  REQUIRE(frame_all_ways("\xEF\xBB\n[1]") == std::vector<Rec>{{"\xEF\xBB", 1, 0}, {"[1]", 2, 3}});
  // Each source starts over.
  JsonLinesFramer f;
  for (int source = 0; source < 2; ++source) {
    f.start_source();
    Batch b;
    b.input.resize(7);
    std::memcpy(b.input.data(), "\xEF\xBB\xBF[1]\n", 7);
    f.start_batch(b);
    REQUIRE(f.scan(b) == 3);
    REQUIRE(std::string(b.input.data(), b.input.size()) == "[1]\n");
    REQUIRE(f.cut() == 4);
  }
}

TEST_CASE("framer: a record cut across reads and line numbers across batches", "[framer]") {
  std::string text;
  std::vector<Rec> want;
  std::uint64_t offset = 0;
  for (int i = 0; i < 300; ++i) {
    std::string rec = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 23, 'x') + "\"}";
    std::string line = (i % 7 == 3) ? "\n" : (i % 5 == 0 ? rec + "\r\n" : rec + "\n");
    if (line != "\n") want.push_back({rec, static_cast<std::uint64_t>(i + 1), offset});
    text += line;
    offset += line.size();
  }
  REQUIRE(frame_all_ways(text) == want);
  for (std::size_t chunk : {7, 100, 1000})
    for (std::size_t batch : {50, 333, 4096}) REQUIRE(frame(text, chunk, batch) == want);
}

TEST_CASE("framer: the cut is the end of the last complete line", "[framer]") {
  JsonLinesFramer f;
  f.start_source();
  Batch b;
  b.input.resize(9);
  std::memcpy(b.input.data(), "[1]\n\n[2", 7);
  b.input.resize(7);
  f.start_batch(b);
  f.scan(b);
  REQUIRE(f.cut() == 5);
  REQUIRE(f.cut_lines() == 2);
  REQUIRE(b.spans.size() == 1);
  std::memcpy(b.input.data() + 7, "]\n", 2);
  b.input.resize(9);
  f.scan(b);
  REQUIRE(f.cut() == 9);
  REQUIRE(f.cut_lines() == 3);
  REQUIRE(b.spans.size() == 2);
  REQUIRE(b.spans[1].begin == 5);
  REQUIRE(b.spans[1].len == 3);
  REQUIRE(b.spans[1].line == 2);
}

TEST_CASE("framer: skipping an oversized record finds its end and its size", "[framer]") {
  JsonLinesFramer f;
  f.start_source();
  bool found = false;
  f.start_skip("aaaa", 4);
  REQUIRE(f.skip("bbb", 3, &found) == 3);
  REQUIRE_FALSE(found);
  REQUIRE(f.skip("cc\r", 3, &found) == 3);
  REQUIRE(f.skip("\n[1]\n", 5, &found) == 1);  // the CR before the newline is not counted
  REQUIRE(found);
  REQUIRE(f.skipped_size() == 9);
  f.start_skip("aaa\r", 4);
  REQUIRE(f.skip("\nx", 2, &found) == 1);
  REQUIRE(f.skipped_size() == 3);
  f.start_skip("aaa", 3);
  REQUIRE(f.skip("bb\n", 3, &found) == 3);
  REQUIRE(f.skipped_size() == 5);
  f.start_skip("aaa\r", 4);  // at end of input, a final CR is dropped too
  REQUIRE(f.skipped_size() == 3);
}
