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
