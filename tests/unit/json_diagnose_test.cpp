// The readable parse errors (stages/json_diagnose.h): one case per kind of problem with its reason
// and column, the nesting limit at simdjson's exact boundary, and a property: over valid lines and
// thousands of one- and few-byte mutations of them, the parse stage rejects a line exactly when the
// diagnoser names a problem, and the stage's message is then the diagnosis (never the fallback).
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "stages/json_diagnose.h"
#include "stages/registry.h"

using namespace ppipe;

namespace {

struct Case {
  const char* kind;
  std::string line;
  std::string reason;
  std::uint64_t column;
  std::string hint;
};

// One per kind of problem; the column is 1-based, in bytes.
const std::vector<Case>& cases() {
  static const std::vector<Case> k = {
      {"trailing comma in object", R"({"a":1,})", "trailing comma before '}'", 7, ""},
      {"trailing comma in array", R"([1,2,])", "trailing comma before ']'", 5, ""},
      {"trailing comma after spaces", R"({"a": [1 , ] })", "trailing comma before ']'", 10, ""},
      {"single-quoted value", R"({"a": 'x'})", "single-quoted string", 7, "JSON strings use double quotes"},
      {"single-quoted key", R"({'a':1})", "single-quoted string", 2, "JSON strings use double quotes"},
      {"NaN", R"({"a":NaN})", "NaN is not valid JSON", 6, "use null or a string"},
      {"Infinity", R"([1,Infinity])", "Infinity is not valid JSON", 4, "use null or a string"},
      {"-Infinity", R"({"a": -Infinity})", "-Infinity is not valid JSON", 7, "use null or a string"},
      {"unquoted key", R"({a:1})", "object key must be a double-quoted string", 2, ""},
      {"number as key", R"({"a":1, 2:3})", "object key must be a double-quoted string", 9, ""},
      {"missing }", R"({"a":1, "b":2)", "unterminated object (missing '}')", 14, "opened at column 1"},
      {"missing ]", R"({"a":[1,2)", "unterminated array (missing ']')", 10, "opened at column 6"},
      {"missing } after spaces", "{\"a\":1   ", "unterminated object (missing '}')", 10, "opened at column 1"},
      {"missing } after a colon", R"({"a":)", "unterminated object (missing '}')", 6, "opened at column 1"},
      {"// comment", R"({"a":1} // note)", "comments are not allowed in JSON", 9, ""},
      {"/* comment */", R"([1, /* two */ 2])", "comments are not allowed in JSON", 5, ""},
      {"extra ]", R"({"a":[1]]})", "unexpected ']' at column 9 (expected ',' or '}')", 9, ""},
      {"extra ] after the value", R"([1,2]])", "unexpected ']'", 6, "no array is open"},
      {"extra } after the value", R"({"a":1}})", "unexpected '}'", 8, "no object is open"},
      {"mismatched closer", R"([1}])", "unexpected '}'", 3, "expected ',' or ']'"},
      {"two objects", R"({"a":1} {"b":2})", "a second value after the first", 9, "one JSON value per line"},
      {"two numbers", "1 2", "a second value after the first", 3, "one JSON value per line"},
      {"two strings", R"("a""b")", "a second value after the first", 4, "one JSON value per line"},
      {"garbage after the value", R"({"a":2}TRAILER)", "unexpected 'TRAILER' after the value", 8, ""},
      {"comma after the value", "1,2", "unexpected ',' after the value", 2, "one JSON value per line"},
      {"123abc", R"({"n":123abc})", "invalid number '123abc'", 6, ""},
      {"number with two dots", "[1.2.3]", "invalid number '1.2.3'", 2, ""},
      {"number without fraction digits", "[1.]", "invalid number '1.'", 2, ""},
      {"number without exponent digits", "1e+", "invalid number '1e+'", 1, ""},
      {"lone minus", "[-]", "invalid number '-'", 2, ""},
      {"leading plus", "+1", "invalid number '+1'", 1, "a number cannot start with '+'"},
      {"leading dot", "[.5]", "invalid number '.5'", 2, "a number must start with a digit"},
      {"leading zeros", R"({"a":01})", "invalid number '01'", 6, "leading zeros are not allowed"},
      {"negative leading zeros", "-007", "invalid number '-007'", 1, "leading zeros are not allowed"},
      {"tab in a string", "{\"a\":\"x\ty\"}", "control character U+0009 in a string", 8, "escape it as \\t"},
      {"newline-ish in a string", "[\"\x0b\"]", "control character U+000B in a string", 3, "escape it as \\u000B"},
      {"NUL in a string", std::string("\"a\0b\"", 5), "control character U+0000 in a string", 3, "escape it as \\u0000"},
      {"invalid escape", R"({"a":"\x41"})", "invalid escape '\\x'", 7, ""},
      {"escape of a control byte", "\"\\\x01\"", "invalid escape: '\\' followed by byte 0x01", 2, ""},
      {"short \\u escape", R"("ab\u12")", "invalid escape '\\u12'", 4, "\\u needs 4 hex digits"},
      {"non-hex \\u escape", R"("\u12G4")", "invalid escape '\\u12G4'", 2, "\\u needs 4 hex digits"},
      {"unpaired high surrogate", R"(["\ud800"])", "unpaired surrogate '\\ud800'", 3,
       "a high surrogate must be followed by a low one, \\uDC00 to \\uDFFF"},
      {"high surrogate and a BMP escape", R"("\uD800\u0041")", "unpaired surrogate '\\uD800'", 2,
       "a high surrogate must be followed by a low one, \\uDC00 to \\uDFFF"},
      {"lone low surrogate", R"("x\udc00")", "unpaired surrogate '\\udc00'", 3, "a low surrogate must follow a high one"},
      {"missing colon", R"({"a" 1})", "missing ':' after object key", 6, ""},
      {"missing colon before }", R"({"a"})", "missing ':' after object key", 5, ""},
      {"missing key", R"({:1})", "missing key before ':'", 2, ""},
      {"missing comma in array", "[1 2]", "missing ',' between array elements", 4, ""},
      {"missing comma in object", R"({"a":1 "b":2})", "missing ',' between object members", 8, ""},
      {"unterminated string", R"({"a":"xyz)", "unterminated string (missing '\"')", 10, "opened at column 6"},
      {"unterminated string ending in a backslash", R"("ab\)", "unterminated string (missing '\"')", 5,
       "opened at column 1"},
      {"invalid UTF-8 byte", "{\"a\":\"\xff\"}", "invalid UTF-8", 7, "byte 0xFF never occurs in UTF-8"},
      {"truncated UTF-8", "[\"caf\xc3\"]", "invalid UTF-8", 6, "incomplete sequence starting with byte 0xC3"},
      {"stray continuation byte", "\"ok \xa9\"", "invalid UTF-8", 5, "unexpected continuation byte 0xA9"},
      {"overlong UTF-8", "\"\xc0\xaf\"", "invalid UTF-8", 2, "overlong encoding starting with byte 0xC0"},
      {"UTF-8 surrogate", "\"\xed\xa0\x80\"", "invalid UTF-8", 2,
       "UTF-16 surrogate encoded in UTF-8, starting with bytes 0xED 0xA0"},
      {"UTF-8 beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", "invalid UTF-8", 2,
       "code point above U+10FFFF, starting with bytes 0xF4 0x90"},
      {"invalid UTF-8 outside a string", "[1,\xfe]", "invalid UTF-8", 4, "byte 0xFE never occurs in UTF-8"},
      {"bad literal tru", "[tru]", "invalid literal 'tru'", 2, "expected true"},
      {"bad literal nul", R"({"a":nul})", "invalid literal 'nul'", 6, "expected null"},
      {"bad literal falsee", "falsee", "invalid literal 'falsee'", 1, "expected false"},
      {"capitalized literal", "[True]", "invalid literal 'True'", 2, "JSON literals are lowercase: true"},
      {"bare word", R"({"a":hello})", "invalid literal 'hello'", 6, "strings need double quotes"},
      {"empty line", "", "no value", 1, "the line is empty"},
      {"whitespace line", " \t ", "no value", 4, "the line holds only whitespace"},
      {"empty member value", R"({"a": })", "missing value before '}'", 7, ""},
      {"empty element", "[1,,2]", "missing value before ','", 4, ""},
      {"unexpected colon", "[:]", "unexpected ':'", 2, "expected a value"},
      {"byte-order mark mid-file", "\xef\xbb\xbf{}", "unexpected character U+FEFF", 1,
       "a byte-order mark, allowed only at the start of a file"},
      {"control character outside a string", "[1,\x0c 2]", "unexpected control character U+000C", 4,
       "expected a value"},
      {"non-ASCII outside a string", "[\xc3\xa9]", "unexpected character U+00E9", 2, "expected a value"},
      {"nesting too deep", std::string(1100, '[') + std::string(1100, ']'), "nesting deeper than 1024 levels", 1025, ""},
  };
  return k;
}

// A record as the reader hands it to a stage: in a buffer with SIMDJSON_PADDING after it.
struct ParseRun {
  Verdict verdict;
  std::string error;
};

ParseRun run_parse(std::string_view line) {
  static std::unique_ptr<Stage> stage = [] {
    std::string err;
    return make_stage("parse", {}, &err);
  }();
  static WorkerScratch scratch;
  std::vector<char> buf(line.size() + simdjson::SIMDJSON_PADDING, '1');
  std::copy(line.begin(), line.end(), buf.begin());
  Record rec(std::string_view(buf.data(), line.size()), 1, 0);
  scratch.error.clear();
  Verdict v = static_cast<const RecordStage&>(*stage).process(rec, scratch, nullptr);
  return {v, scratch.error};
}

// Valid records, with every kind of token, escapes, raw UTF-8 and numbers simdjson cannot hold.
const std::vector<std::string>& valid_lines() {
  static const std::vector<std::string> k = {
      R"({"a":1})",
      R"({"host":"api-3","status":503,"path":"/api/v1/users?id=7","latency_ms":12.75,"ok":false,"user":null})",
      R"({"ts":"2024-01-02T03:04:05Z","tags":["x","y"],"geo":{"lat":-33.8688,"lon":151.2093,"alt":1E+2}})",
      R"([1, 2 ,3, [ ], { }, [[]], {"a":{}}])",
      R"(  "str"  )",
      "\t{\"k\" : [true,false,null]}\r",
      R"("esc: \" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00 \uFFFF")",
      "\"raw UTF-8: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"",
      "-0",
      "0",
      "[0.5, -1.25e-3, 6.02E23, 1e400, -1e-400, 100000000000000000000, -123456789012345678901234567890]",
      R"({"big":18446744073709551616,"neg":-9223372036854775809,"f":1.7976931348623157e309})",
      "true",
      "null",
      R"({"":"","a":[{"b":[{"c":[1]}]}]})",
      R"({"dup":1,"dup":2})",
      "[" + std::string(40, ' ') + "1" + std::string(40, ' ') + "]",
      std::string(1023, '[') + "1" + std::string(1023, ']'),
      std::string(1024, '[') + std::string(1024, ']'),
  };
  return k;
}

}  // namespace

TEST_CASE("json diagnose: each kind of problem has its reason and column", "[parse][diagnose]") {
  for (const Case& c : cases()) {
    INFO(c.kind << ": " << c.line);
    JsonProblem p = diagnose_json(c.line);
    REQUIRE(p.found());
    // Some cases spell the whole message in `reason`, the others reason and hint apart.
    if (c.reason.find(" at column ") != std::string::npos) {
      CHECK(p.message() == c.reason);
    } else {
      CHECK(p.reason == c.reason);
      CHECK(p.hint == c.hint);
    }
    CHECK(p.column == c.column);
  }
}

TEST_CASE("json diagnose: the parse stage's message is the diagnosis with its column", "[parse][diagnose]") {
  for (const Case& c : cases()) {
    if (c.line.find_first_not_of(" \t") == std::string::npos) continue;  // blank: the reader skips it
    INFO(c.kind << ": " << c.line);
    ParseRun r = run_parse(c.line);
    REQUIRE(r.verdict == Verdict::kError);
    CHECK(r.error == "invalid JSON: " + diagnose_json(c.line).message());
  }
  CHECK(run_parse(R"({"a":1,})").error == "invalid JSON: trailing comma before '}' at column 7");
  CHECK(run_parse(R"({"a":'x'})").error ==
        "invalid JSON: single-quoted string at column 6 (JSON strings use double quotes)");
  // A big number first sends the record through validate_big_numbers; its error is diagnosed too.
  CHECK(run_parse("[100000000000000000000,]").error == "invalid JSON: trailing comma before ']' at column 23");
  CHECK(run_parse("[1e400 1]").error == "invalid JSON: missing ',' between array elements at column 8");
}

TEST_CASE("json diagnose: nesting stops where simdjson stops, deep lines cost no native stack", "[parse][diagnose]") {
  auto arrays = [](std::size_t n, const std::string& inner) {
    return std::string(n, '[') + inner + std::string(n, ']');
  };
  auto objects = [](std::size_t n, const std::string& inner) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += "{\"a\":";
    return s + inner + std::string(n, '}');
  };
  struct Deep {
    std::string line;
    std::uint64_t column;  // 0: valid
  };
  const Deep deep[] = {
      {arrays(1023, "1"), 0},          // the 1 is at level 1024
      {arrays(1024, ""), 0},           // the innermost [] is at level 1024
      {arrays(1023, "{}"), 0},
      {arrays(1024, "1"), 1025},       // the 1 is at level 1025
      {arrays(1024, " 1"), 1026},
      {arrays(1025, ""), 1025},        // the innermost [] is at level 1025
      {arrays(1023, "[1]"), 1025},
      {objects(1023, "1"), 0},
      {objects(1024, "{}"), 1023 * 5 + 2},  // inside the 1024th object: its key
      {arrays(100000, ""), 1025},
      {std::string(100000, '{'), 2},       // unquoted key long before the limit
  };
  for (const Deep& d : deep) {
    INFO("line of " << d.line.size() << " bytes starting " << d.line.substr(0, 12));
    JsonProblem p = diagnose_json(d.line);
    ParseRun r = run_parse(d.line);
    CHECK(p.column == d.column);
    CHECK((r.verdict == Verdict::kError) == (d.column != 0));
    if (d.column != 0 && d.column != 2) {
      CHECK(p.reason == "nesting deeper than 1024 levels");
      CHECK(r.error == "invalid JSON: nesting deeper than 1024 levels at column " + std::to_string(d.column));
    }
  }
  // Unterminated deep lines: the line ends before the limit is crossed.
  JsonProblem p = diagnose_json(std::string(1024, '['));
  CHECK(p.reason == "unterminated array (missing ']')");
  CHECK(p.column == 1025);
  CHECK(p.hint == "opened at column 1024");
}

TEST_CASE("json diagnose: falls back to simdjson's coarse message when it finds nothing", "[parse][diagnose]") {
  // The two disagree only if one of them has a bug; the record still fails, with today's words.
  CHECK(describe_invalid_json("[1]", simdjson::TAPE_ERROR) ==
        "invalid JSON: bad structure (missing or extra comma, colon, brace or bracket, or content after the value)");
  CHECK(describe_invalid_json("[1]", simdjson::NUMBER_ERROR) == "invalid JSON: bad number");
  CHECK(describe_invalid_json("[1]", simdjson::DEPTH_ERROR) == "invalid JSON: nesting deeper than 1024 levels");
  CHECK(describe_invalid_json("[1]", simdjson::UTF8_ERROR) == "invalid JSON: invalid UTF-8");
  CHECK(describe_invalid_json("[1]", simdjson::CAPACITY) ==
        std::string("invalid JSON: ") + simdjson::error_message(simdjson::CAPACITY));
  // When the diagnosis finds the problem, the code does not matter.
  CHECK(describe_invalid_json("[1,]", simdjson::TAPE_ERROR) == "invalid JSON: trailing comma before ']' at column 3");
}

TEST_CASE("json diagnose: valid lines have no problem", "[parse][diagnose]") {
  for (const std::string& line : valid_lines()) {
    INFO(line);
    CHECK_FALSE(diagnose_json(line).found());
    CHECK(run_parse(line).verdict == Verdict::kPass);
  }
}

// Property: for mutations of valid lines, the parse stage (simdjson, and validate_big_numbers for
// numbers it cannot hold) rejects a line exactly when the diagnoser names a problem, and the
// stage's message is then that diagnosis. The fallback is never needed on these lines.
TEST_CASE("json diagnose: agrees with the parse stage on mutated lines", "[parse][diagnose][property]") {
  static const char kAlphabet[] = "{}[]\",:'\\/* \t019-+.eEtfnuax\0\x01\x1f\x7f\x80\xa0\xc3\xe2\xed\xf0\xf4\xff";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  std::uint64_t rejected = 0, accepted = 0;
  std::vector<std::string> disagreements;
  auto check = [&](const std::string& line) {
    ParseRun r = run_parse(line);
    JsonProblem p = diagnose_json(line);
    bool bad = r.verdict == Verdict::kError;
    (bad ? rejected : accepted)++;
    if (bad != p.found() || (bad && r.error != "invalid JSON: " + p.message())) {
      if (disagreements.size() < 20)
        disagreements.push_back(line + "  stage: " + (bad ? r.error : "accepted") +
                                "  diagnosis: " + (p.found() ? p.message() : "none"));
    }
  };
  std::mt19937 rng(12);
  for (const std::string& base : valid_lines()) {
    if (base.size() > 200) continue;  // the deep lines: covered above
    for (std::size_t i = 0; i <= base.size(); ++i) {
      if (i < base.size()) check(base.substr(0, i) + base.substr(i + 1));  // delete
      for (char c : alphabet) {
        check(base.substr(0, i) + c + base.substr(i));                                // insert
        if (i < base.size()) check(base.substr(0, i) + c + base.substr(i + 1));       // replace
      }
    }
    for (int k = 0; k < 2000; ++k) {  // a few mutations at once
      std::string line = base;
      int edits = 2 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !line.empty(); ++e) {
        std::size_t at = rng() % (line.size() + 1);
        char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0: if (at < line.size()) line.erase(at, 1); break;
          case 1: line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c); break;
          default: if (at < line.size()) line[at] = c; break;
        }
      }
      check(line);
    }
  }
  INFO("rejected " << rejected << ", accepted " << accepted);
  for (const std::string& d : disagreements) UNSCOPED_INFO(d);
  CHECK(disagreements.empty());
  CHECK(rejected > 50000);  // the mutations do exercise the error paths
  CHECK(accepted > 1000);
}
