// CSV (src/io/csv.h): the quote-aware framer cut at every byte (as batch boundaries and as reads
// fall) finds the same records as one scan; the decoder's fields, quotes and errors.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "src/io/csv.h"
#include "tests/unit/csv_frame.h"

using namespace ppipe;
using csv_frame_test::Found;
using csv_frame_test::append;
using csv_frame_test::frame;

namespace {

std::string decode(std::string_view rec, bool header = true, bool infer = true, char delim = ',') {
  auto h = csv_header("a,b,c", ',');
  std::string out, error;
  if (!decode_csv(rec, header ? h.get() : nullptr, delim, infer, &out, &error)) return "error: " + error;
  return out;
}

}  // namespace

TEST_CASE("csv framer: quoted newlines at every batch boundary and read size give the same records", "[csv]") {
  // Long enough for the 64-byte blocks; quoted newlines, CRLF, "" and a quoted field that spans
  // block boundaries; empty lines; no final newline.
  std::string text = "id,note,n\r\n";
  for (int i = 0; i < 12; ++i) {
    text += std::to_string(i) + ",\"line one\nline \"\"two\"\",\r\nthree\"," + std::to_string(i * 7) + "\n";
    if (i % 5 == 0) text += "\n";
    text += std::to_string(i) + ",plain text " + std::string(static_cast<std::size_t>(i * 3), 'x') + ",1\r\n";
  }
  text += "99,\"last, unterminated? no\",0";
  const Found whole = frame(text, text.size(), text.size());
  REQUIRE(whole.records.size() == 25);
  CHECK(whole.records[0] == "0,\"line one\nline \"\"two\"\",\r\nthree\",0");
  CHECK(whole.lines[0] == 2);
  CHECK(whole.lines[1] == 6);   // the first record took lines 2-4, then an empty line 5
  CHECK(whole.records.back() == "99,\"last, unterminated? no\",0");
  for (std::size_t cut = 1; cut < text.size(); cut += 1) {
    CAPTURE(cut);
    REQUIRE(frame(text, cut, text.size()) == whole);
  }
  for (std::size_t step : {1, 2, 3, 63, 64, 65}) {
    CAPTURE(step);
    REQUIRE(frame(text, text.size(), step) == whole);
    REQUIRE(frame(text, 100, step) == whole);
  }
}

TEST_CASE("csv framer: the header row, a BOM, a quote left open at the end", "[csv]") {
  CsvFramer framer(',', true);
  framer.start_source();
  Batch b;
  framer.start_batch(b);
  append(b, "\xEF\xBB\xBF\"x\",x,\n1,2,3\n4,\"open\n5,6\n");
  CHECK(framer.scan(b) == 3);  // the BOM removed
  framer.finish(b);
  REQUIRE(framer.header());
  CHECK(framer.header()->keys_json == std::vector<std::string>{"\"x\"", "\"x_2\"", "\"3\""});
  REQUIRE(b.spans.size() == 2);
  std::string last(b.input.data() + b.spans[1].begin, b.spans[1].len);
  CHECK(last == "4,\"open\n5,6\n");  // to the end of the input: one record, one error
  CHECK(decode(last).rfind("error: unterminated quoted field (field 2)", 0) == 0);
}

TEST_CASE("csv decoder: RFC 4180 fields, inference, errors", "[csv]") {
  CHECK(decode("1,x,") == R"({"a":1,"b":"x","c":""})");
  CHECK(decode("\"1\",\"x,y\",\"say \"\"hi\"\"\"") == R"({"a":1,"b":"x,y","c":"say \"hi\""})");
  CHECK(decode("\"1\",\"x,y\",\"\"", true, false) == R"({"a":"1","b":"x,y","c":""})");
  CHECK(decode("00501,1e5x,-0.5") == R"({"a":"00501","b":"1e5x","c":-0.5})");
  CHECK(decode("\"multi\r\nline\",2,3") == R"({"a":"multi\r\nline","b":2,"c":3})");
  CHECK(decode("1,2") == "error: the row has 2 fields, the header 3");
  CHECK(decode("1,2,3,4") == "error: the row has 4 fields, the header 3");
  CHECK(decode("1,x\"y,3").rfind("error: a bare quote in unquoted field 2", 0) == 0);
  CHECK(decode("1,\"x\"y,3") == "error: text after the closing quote of field 2");
  // A CR alone (classic Mac OS line ends) is refused in an unquoted field, kept in a quoted one.
  CHECK(decode("1,x\ry,3").rfind("error: a carriage return (CR) in unquoted field 2: line ends of classic Mac OS?", 0) == 0);
  CHECK(decode("1,\"x\ry\",3").rfind("error", 0) != 0);
  CHECK(decode("1,\xff,3") == "error: invalid UTF-8 in a field");
  CHECK(decode("1;2", false, true, ';') == R"({"1":1,"2":2})");
  CHECK(decode("x", false) == R"({"1":"x"})");
}

TEST_CASE("csv framer: a bare quote is its record's error, not the start of a quoted part", "[csv]") {
  // A quote opens a quoted part only at a field's start or right after a closing quote (""); one
  // elsewhere (x"y) changes nothing, so the rows after it are rows (one stray quote made the rest
  // of the file one error record; found by a bug hunt). The framer's 64-byte blocks, cut at every
  // byte and read in small steps, agree with a byte-by-byte reading of that rule on random text.
  auto reference = [](std::string_view text) {
    std::vector<std::string> records;
    bool in = false, prev_closed = false;
    char prev = '\n';
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        if (in) in = false, prev_closed = true;
        else in = prev == ',' || prev == '\n' || (prev == '"' && prev_closed), prev_closed = false;
      } else {
        prev_closed = false;
      }
      prev = c;
      if (c == '\n' && !in) {
        std::size_t len = i - start;
        if (len && text[start + len - 1] == '\r') --len;
        if (len) records.emplace_back(text.substr(start, len));
        start = i + 1;
        prev = '\n';
      }
    }
    std::size_t len = text.size() - start;
    if (len && text[start + len - 1] == '\r') --len;
    if (len) records.emplace_back(text.substr(start, len));
    return records;
  };
  const std::string simple = "a,b\nx\"y,1\n2,\"z\"\n3,4\n5,\"w\"\n6,7\n";
  const Found f = frame(simple, simple.size(), simple.size());
  CHECK(f.records == std::vector<std::string>{"x\"y,1", "2,\"z\"", "3,4", "5,\"w\"", "6,7"});
  CHECK(decode("x\"y,1").rfind("error: a bare quote", 0) == 0);
  std::uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  const char* pieces[] = {"a", "bc", ",", "\n", "\r\n", "\"", "\"\"", "\"q\"", "x\"y", " ", "\"a,b\nc\""};
  for (int round = 0; round < 300; ++round) {
    std::string text = "h1,h2\n";
    const int n = 20 + static_cast<int>(next() % 200);
    for (int k = 0; k < n; ++k) text += pieces[next() % (sizeof pieces / sizeof pieces[0])];
    std::vector<std::string> want = reference(text);
    want.erase(want.begin());  // the header row
    CAPTURE(round, text);
    const Found whole = frame(text, text.size(), text.size());
    REQUIRE(whole.records == want);
    for (std::size_t cut : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{100}})
      REQUIRE(frame(text, cut, 13).records == want);
  }
}
