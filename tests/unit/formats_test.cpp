// Input formats decoded to JSON (src/io/formats.h): tsv headers, fields, escapes, number inference,
// wrong field counts; lines as JSON strings.
#include <catch2/catch.hpp>

#include <string>

#include "src/io/formats.h"

using namespace ppipe;

namespace {

std::string keys(std::string_view header_line) {
  std::string out;
  auto header = tsv_header(header_line);  // (held: a range-for would not keep it alive)
  for (const auto& k : header->keys_json) out += k + " ";
  return out;
}

std::string tsv(std::string_view header_line, std::string_view row, bool infer = true) {
  std::string out, error;
  if (!decode_tsv(row, *tsv_header(header_line), infer, &out, &error)) return "error: " + error;
  return out;
}

}  // namespace

TEST_CASE("formats: names, and the format a file name implies", "[formats]") {
  InputFormat f;
  CHECK(parse_input_format("tsv", &f));
  CHECK(f == InputFormat::kTsv);
  CHECK_FALSE(parse_input_format("TSV", &f));
  CHECK(format_from_name("a.tsv") == InputFormat::kTsv);
  CHECK(format_from_name("a.tsv.gz") == InputFormat::kTsv);
  CHECK(format_from_name("a.tsv.zst") == InputFormat::kTsv);
  CHECK(format_from_name("a.jsonl.gz") == InputFormat::kJsonLines);
  // File names from other systems: the extension in any case.
  CHECK(format_from_name("A.CSV") == InputFormat::kCsv);
  CHECK(format_from_name("a.csv.GZ") == InputFormat::kCsv);
  CHECK(format_from_name("a.Tsv.Zst") == InputFormat::kTsv);
  CHECK(format_from_name("a.csvx") == InputFormat::kJsonLines);
  CHECK(format_from_name("-") == InputFormat::kJsonLines);
}

TEST_CASE("formats: a tsv header's keys: repeats get a suffix, an empty name its column", "[formats]") {
  CHECK(keys("a\tb\tc") == "\"a\" \"b\" \"c\" ");
  CHECK(keys("a\ta\ta\ta_2") == "\"a\" \"a_2\" \"a_3\" \"a_2_2\" ");
  CHECK(keys("a\t\tb\t") == "\"a\" \"2\" \"b\" \"4\" ");
  CHECK(keys("x\\ty\t\"q\"") == "\"x\\ty\" \"\\\"q\\\"\" ");  // unescaped, then JSON-escaped
  CHECK(keys("\xff") == "\"\xEF\xBF\xBD\" ");                  // not UTF-8: U+FFFD
}

TEST_CASE("formats: tsv rows: escapes, canonical JSON numbers, field counts", "[formats]") {
  CHECK(tsv("a\tb", "1\tx") == R"({"a":1,"b":"x"})");
  CHECK(tsv("a\tb", "1\tx", false) == R"({"a":"1","b":"x"})");
  // Only canonical JSON numbers are numbers, as Miller infers.
  CHECK(tsv("a\tb\tc\td\te\tf", "00501\t1e5x\t+1\t.5\t-0.0\t1E+2") ==
        R"({"a":"00501","b":"1e5x","c":"+1","d":".5","e":-0.0,"f":1E+2})");
  CHECK(tsv("a\tb", "\t") == R"({"a":"","b":""})");
  CHECK(tsv("a", "x\\ty\\nz\\\\w\\q") == R"({"a":"x\ty\nz\\w\\q"})");
  CHECK(tsv("a", "\\t5") == R"({"a":"\t5"})");
  CHECK(tsv("a", "1\\\\") == R"({"a":"1\\"})");
  CHECK(tsv("a", "say \"hi\"") == R"({"a":"say \"hi\""})");
  CHECK(tsv("a\tb", "1") == "error: the row has 1 field, the header 2");
  CHECK(tsv("a\tb", "1\t2\t3") == "error: the row has 3 fields, the header 2");
  CHECK(tsv("a", "\xc3") == "error: invalid UTF-8 in a field");
}

TEST_CASE("formats: a raw CR in tsv (classic Mac OS line ends) is an error, its header malformed", "[formats]") {
  // A file of CR line ends was one header row and no records, silently.
  CHECK(tsv("a\tb", "1\t2\r3") ==
        "error: a carriage return (CR) in field 2: line ends of classic Mac OS? (write it as \\r, or convert "
        "them: tr '\\r' '\\n')");
  CHECK(tsv("a", "x\\ry") == R"({"a":"x\ry"})");  // the escape is a CR in the value
  CHECK(tsv_header("a\tb\r1\t2")->malformed_row == "a\tb\r1\t2");
  CHECK(tsv_header("a\tb")->malformed_row.empty());
  std::string out, error;
  CHECK_FALSE(decode_tsv("a\tb\r1", *tsv_header("a\tb\r1"), true, &out, &error, true));
  CHECK(error.rfind("the header row: a carriage return (CR) in field 2:", 0) == 0);
}

TEST_CASE("formats: a line is a JSON string, escaped as jq -R does", "[formats]") {
  std::string out, error;
  REQUIRE(decode_line("a\t\"b\"\\ \x7f", &out, &error));
  CHECK(out == "\"a\\t\\\"b\\\"\\\\ \\u007f\"");
  REQUIRE(decode_line("", &out, &error));
  CHECK(out == "\"\"");
  CHECK_FALSE(decode_line("\xff", &out, &error));
}
