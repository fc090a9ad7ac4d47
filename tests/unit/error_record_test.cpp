#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <simdjson.h>

#include "src/io/error_record.h"
#include "src/util/json_string.h"

using namespace ppipe;

namespace {
std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}
}  // namespace

TEST_CASE("JSON strings escape quotes, backslashes and control characters", "[errors]") {
  REQUIRE(json_string("plain") == "\"plain\"");
  REQUIRE(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  REQUIRE(json_string("t\tn\nr\r") == "\"t\\tn\\nr\\r\"");
  REQUIRE(json_string(std::string_view("\0\x1f", 2)) == "\"\\u0000\\u001f\"");
  REQUIRE(json_string("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
}

TEST_CASE("error records keep DEL raw; expression output escapes it as jq does", "[errors]") {
  // Long enough that escapes fall both in the 8-byte words and in the byte-wise tail.
  std::string s = "0123456789\x7f abcdefgh\"ijklmnop\\qrstuvw\x01xyz\x7f";
  std::string jq;
  append_json_string_jq(jq, s);
  REQUIRE(json_string(s) == "\"0123456789\x7f abcdefgh\\\"ijklmnop\\\\qrstuvw\\u0001xyz\x7f\"");
  REQUIRE(jq == "\"0123456789\\u007f abcdefgh\\\"ijklmnop\\\\qrstuvw\\u0001xyz\\u007f\"");
}

TEST_CASE("base64 matches RFC 4648 test vectors", "[errors]") {
  const char* vectors[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                              {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
  for (auto& v : vectors) {
    std::string out;
    append_base64(out, v[0]);
    REQUIRE(out == v[1]);
  }
}

TEST_CASE("an error record is one valid JSON line with every field", "[errors]") {
  ErrorInfo e;
  e.source = "a.jsonl";
  e.line = 17;
  e.offset = 8812;
  e.stage = "parse";
  e.message = "invalid JSON: bad number";
  e.record = "{\"a\":01}";
  std::string out;
  append_error_record(out, e);
  REQUIRE(out.back() == '\n');
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(out.substr(0, out.size() - 1)).get(doc) == simdjson::SUCCESS);
  REQUIRE(std::string_view(doc["source"]) == "a.jsonl");
  REQUIRE(int64_t(doc["line"]) == 17);
  REQUIRE(int64_t(doc["offset"]) == 8812);
  REQUIRE(std::string_view(doc["stage"]) == "parse");
  REQUIRE(std::string_view(doc["record"]) == "{\"a\":01}");
  REQUIRE(doc["record_base64"].error() == simdjson::NO_SUCH_FIELD);
}

TEST_CASE("invalid UTF-8 records travel as record_base64; truncated ones carry their size", "[errors]") {
  ErrorInfo e;
  e.source = "<stdin>";
  e.stage = "read";
  e.message = "too long";
  e.record = "ab\xff";
  e.record_size = 123456;
  std::string out;
  append_error_record(out, e);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(out).get(doc) == simdjson::SUCCESS);
  REQUIRE(std::string_view(doc["record_base64"]) == "YWL/");
  REQUIRE(doc["record"].error() == simdjson::NO_SUCH_FIELD);
  REQUIRE(int64_t(doc["record_size"]) == 123456);
  REQUIRE(bool(doc["truncated"]));
}

TEST_CASE("text that is not UTF-8 (a file name) is written as JSON with U+FFFD; error records keep the name exactly", "[errors]") {
  REQUIRE(json_string("caf\xe9") == "\"caf\xEF\xBF\xBD\"");
  REQUIRE(json_string("a\xff\"b\xc3") == "\"a\xEF\xBF\xBD\\\"b\xEF\xBF\xBD\"");
  ErrorInfo e;
  e.source = "caf\xe9.jsonl";
  e.stage = "parse";
  e.message = "cannot read 'caf\xe9.jsonl'";
  e.record = "x";
  std::string out;
  append_error_record(out, e);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(out).get(doc) == simdjson::SUCCESS);  // (simdjson refuses text that is not UTF-8)
  REQUIRE(std::string_view(doc["source"]) == "caf\xEF\xBF\xBD.jsonl");
  REQUIRE(std::string_view(doc["source_base64"]) == "Y2Fm6S5qc29ubA==");
  REQUIRE(std::string_view(doc["error"]) == "cannot read 'caf\xEF\xBF\xBD.jsonl'");
  out.clear();
  e.source = "caf\xC3\xA9.jsonl";
  append_error_record(out, e);
  REQUIRE(out.find("source_base64") == std::string::npos);
}

TEST_CASE("kErrorRecordFields (the man page's list) are the fields append_error_record writes, in order", "[errors]") {
  // Both shapes: a cut record with valid UTF-8 (of a file whose name is not), and a whole one that is not.
  std::string out;
  append_error_record(out, {"caf\xe9.jsonl", 3, 10, "read", "too long", "{\"a\":1", 5000});
  append_error_record(out, {"a.jsonl", 4, 20, "parse", "bad", "\xff", 0});
  std::vector<std::string> keys;
  simdjson::dom::parser parser;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    simdjson::dom::object obj;
    REQUIRE(parser.parse(out.substr(start, nl - start)).get(obj) == simdjson::SUCCESS);
    for (auto field : obj) {
      std::string key(field.key);
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  std::vector<std::string> documented;
  for (const ErrorFieldDoc& f : kErrorRecordFields) documented.push_back(f.name);
  CHECK(keys == std::vector<std::string>{"source", "source_base64", "line", "offset", "stage", "error", "record_size", "truncated",
                                         "record", "record_base64"});
  CHECK(documented == keys);
}
