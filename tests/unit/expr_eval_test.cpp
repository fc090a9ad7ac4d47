// Evaluation tests for src/expr: jq 1.6 semantics per operator and function, on documents parsed
// with simdjson's DOM parser. Expected values were checked against `jq -c` 1.6 unless marked
// "(ppipe)" — those are the deliberate differences listed in docs/expr.md.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "src/expr/expr.h"
#include "src/expr/jq/jq.h"

namespace {

using ppipe::expr::CompileError;
using ppipe::expr::Outcome;

std::string run(const std::string& expr, const std::string& json = "null") {
  auto compiled = ppipe::expr::compile(expr);
  if (auto* e = std::get_if<CompileError>(&compiled)) return "compile error: " + e->message;
  auto program = std::get<0>(compiled);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return "bad test input";
  ppipe::expr::Scratch scratch;
  ppipe::expr::Result r = ppipe::expr::evaluate(*program, doc, scratch);
  if (r.outcome == Outcome::kEmpty) return "<empty>";
  if (r.outcome == Outcome::kError) return "error: " + std::string(ppipe::expr::error_message(scratch));
  std::string out;
  ppipe::expr::append_json(r, out);
  return out;
}

}  // namespace

TEST_CASE("expr eval: quiet jq behaviours", "[expr][eval]") {
  CHECK(run(".missing", R"({"a":1})") == "null");
  CHECK(run(".missing.deep", R"({"a":1})") == "null");
  CHECK(run(".a[3]", R"({"a":[1]})") == "null");
  CHECK(run(".a[-5]", R"({"a":[1]})") == "null");
  CHECK(run(".[1.5]", "[1,2]") == "2");  // rounded down, as jq 1.7 (jq 1.6: null; docs/expr.md)
  CHECK(run(".[nan]", "[1,2]") == "null");
  CHECK(run(".a", "null") == "null");
  CHECK(run(".[0]", "null") == "null");
  CHECK(run(".[1:]", "null") == "null");
  CHECK(run("null | length") == "0");
  CHECK(run(".missing == null", "{}") == "true");
  CHECK(run("null > 0.01") == "false");
  CHECK(run(".a.b", R"({"a":"x"})") == "error: Cannot index string with string (\"b\")");
  CHECK(run(".a.b", R"({"a":5})") == "error: Cannot index number with string (\"b\")");
  CHECK(run(".a", "[1]") == "error: Cannot index array with string (\"a\")");
  CHECK(run(".[0]", R"({"a":5})") == "error: Cannot index object with number (0)");
  CHECK(run(".[\"a\"]", "true") == "error: Cannot index boolean with string (\"a\")");
  CHECK(run(".[1:2]", "5") == "error: Cannot index number with object");  // a slice
  CHECK(run(".[\"a\":]", "[1]") == "error: Start and end indices of an array slice must be numbers");
}

TEST_CASE("expr eval: duplicate keys, last one wins", "[expr][eval]") {
  CHECK(run(".id", R"({"id":3,"x":1,"id":42})") == "42");
  CHECK(run("keys", R"({"id":3,"id":42})") == R"(["id"])");
  CHECK(run(". + {}", R"({"id":3,"b":1,"id":42})") == R"({"id":42,"b":1})");
}

TEST_CASE("expr eval: optional and alternative", "[expr][eval]") {
  CHECK(run(".a?", "\"x\"") == "<empty>");
  CHECK(run("[.a?]", "\"x\"") == "[]");
  CHECK(run("[.a.b?]", R"({"a":"x"})") == "[]");
  CHECK(run(".a? // \"d\"", "\"x\"") == "\"d\"");
  CHECK(run(".a // \"d\"", R"({"a":false})") == "\"d\"");
  CHECK(run(".a // \"d\"", R"({"a":0})") == "0");
  CHECK(run(".a // .b // \"c\"", "{}") == "\"c\"");
  CHECK(run("select(false) // 1") == "1");
  // As jq 1.6: an error on the left of // is an error; `?` defaults over it.
  CHECK(run(".a.b // 2", R"({"a":"x"})") == "error: Cannot index string with string (\"b\")");
  CHECK(run(".a.b? // 2", R"({"a":"x"})") == "2");
  CHECK(run("(.a | startswith(\"x\")) // 2", R"({"a":1})").rfind("error: ", 0) == 0);
  CHECK(run("try error(\"x\") catch .") == "\"x\"");
  CHECK(run("try error({\"a\":1}) catch .a") == "1");
  CHECK(run("try (.a | tonumber) catch \"bad\"", R"({"a":"x"})") == "\"bad\"");
  CHECK(run("(.a | tonumber)?", R"({"a":"x"})") == "<empty>");
}

TEST_CASE("expr eval: select, empty and the single-valued model", "[expr][eval]") {
  CHECK(run("select(.a > 1)", R"({"a":2})") == R"({"a":2})");
  CHECK(run("select(.a > 1)", R"({"a":1})") == "<empty>");
  CHECK(run("select(.a)", R"({"a":null})") == "<empty>");
  CHECK(run("select(.a) | .b", R"({"a":false,"b":1})") == "<empty>");
  CHECK(run("{a: select(false)}") == "<empty>");
  CHECK(run("[empty, 1]") == "[1]");
  CHECK(run("if empty then 1 else 2 end") == "<empty>");
  CHECK(run("empty == 1") == "<empty>");
  CHECK(run("[.[] | select(. > 1)]", "[1,2,3]") == "[2,3]");
  CHECK(run("map(select(. > 1))", "[1,2,3]") == "[2,3]");
  CHECK(run("values", "null") == "<empty>");
  CHECK(run("nulls", "null") == "null");
}

TEST_CASE("expr eval: arithmetic", "[expr][eval]") {
  CHECK(run("10 / 4") == "2.5");
  CHECK(run("10 / 2") == "5");
  CHECK(run(".a / .b", R"({"a":1,"b":0})") ==
        "error: number (1) and number (0) cannot be divided because the divisor is zero");
  CHECK(run(".a % .b", R"({"a":5,"b":0})") ==
        "error: number (5) and number (0) cannot be divided (remainder) because the divisor is zero");
  CHECK(run(". % 0.5", "5") ==
        "error: number (5) and number (0.5) cannot be divided (remainder) because the divisor is zero");
  CHECK(run(". % 2", "-7") == "-1");
  CHECK(run(". % -3", "7") == "1");
  CHECK(run(". % 2", "5.5") == "1");
  CHECK(run("-.", "3") == "-3");
  CHECK(run("-.", "\"a\"") == "error: string (\"a\") cannot be negated");
  CHECK(run("9223372036854775807 + 1") == "9223372036854776000");  // int overflow -> double
  CHECK(run(". * 3", "2") == "6");
  CHECK(run("0.1 + 0.2") == "0.30000000000000004");
  CHECK(run("null + 1") == "1");
  CHECK(run("1 + null") == "1");
  CHECK(run("null + null") == "null");
  CHECK(run("\"ab\" + \"cd\"") == "\"abcd\"");
  CHECK(run("[1,2] + [3]") == "[1,2,3]");
  CHECK(run("{\"b\":1,\"a\":2} + {\"a\":3,\"c\":4}") == R"({"b":1,"a":3,"c":4})");
  CHECK(run(". + {\"z\":0}", R"({"a":{"b":1}})") == R"({"a":{"b":1},"z":0})");
  CHECK(run("[1,2,1,3] - [1]") == "[2,3]");
  CHECK(run("\"x\" * 0") == "\"\"");  // jq 1.8: floor(n) copies, null below 0
  CHECK(run("\"x\" * 0.5") == "\"\"");
  CHECK(run("\"x\" * -1") == "null");
  CHECK(run("\"ab\" * 2.7") == "\"abab\"");
  CHECK(run("3 * \"a\"") == "\"aaa\"");
  CHECK(run(". * {\"a\":{\"c\":2}}", R"({"a":{"b":1},"z":1})") == R"({"a":{"b":1,"c":2},"z":1})");
  CHECK(run("\"a,b,c\" / \",\"") == R"(["a","b","c"])");
  CHECK(run("1 + \"a\"") == "error: number (1) and string (\"a\") cannot be added");
  CHECK(run(". - \"a\"", "1") == "error: number (1) and string (\"a\") cannot be subtracted");
  CHECK(run(". * \"a\"", "{}") == "error: object ({}) and string (\"a\") cannot be multiplied");
  CHECK(run(". / \"a\"", "[]") == "error: array ([]) and string (\"a\") cannot be divided");
  CHECK(run(". % \"a\"", "5") == "error: number (5) and string (\"a\") cannot be divided (remainder)");
  // jq shows at most 11 bytes of a value, then "...".
  CHECK(run(". + 1", R"({"long key":"long value"})") ==
        "error: object ({\"long key\":\"long value\"}) and number (1) cannot be added");
  CHECK(run(". + 1", R"({"long key":"long value","x":1})") ==
        "error: object ({\"long key\":\"long value\",\"...) and number (1) cannot be added");
}

TEST_CASE("expr eval: total order across types", "[expr][eval]") {
  CHECK(run("[null < false, false < true, true < 0, 0 < \"\", \"\" < [], [] < {}]") ==
        "[true,true,true,true,true,true]");
  CHECK(run("\"10\" > 9") == "true");
  CHECK(run("\"abc\" > 5") == "true");
  CHECK(run(".s >= 500", R"({"s":"500"})") == "true");
  CHECK(run("[1,2] < [1,3]") == "true");
  CHECK(run("[1,2] < [1,2,0]") == "true");
  CHECK(run("{\"a\":1} < {\"a\":2}") == "true");
  CHECK(run("{\"a\":2} < {\"b\":1}") == "true");      // key sets first
  CHECK(run("{\"b\":1} < {\"a\":1,\"b\":1}") == "false");  // ["b"] > ["a","b"]
  CHECK(run("{\"a\":1,\"b\":2} == {\"b\":2,\"a\":1}") == "true");
  CHECK(run("1 == 1.0") == "true");
  CHECK(run("\"a\" < \"b\"") == "true");
  CHECK(run("\"é\" > \"z\"") == "true");  // code point (byte) order
  CHECK(run("[1, \"1\"] == [1, \"1\"]") == "true");
}

TEST_CASE("expr eval: big integers are exact (ppipe)", "[expr][eval]") {
  const char* doc = R"({"id":505874924095815681,"u":18446744073709551615,"k":123456789012345678})";
  CHECK(run(".id", doc) == "505874924095815681");
  CHECK(run(".id == 505874924095815680", doc) == "false");
  CHECK(run(".id > 505874924095815680", doc) == "true");
  CHECK(run(".id == 505874924095815681", doc) == "true");
  CHECK(run(".u", doc) == "18446744073709551615");
  CHECK(run(".u > .id", doc) == "true");
  CHECK(run(".u == 18446744073709551615", doc) == "true");
  CHECK(run(".k", doc) == "123456789012345678");
  CHECK(run("{k}", doc) == R"({"k":123456789012345678})");
  CHECK(run(".id < 1e300", doc) == "true");
  CHECK(run("9007199254740993 > 9007199254740992.0") == "true");
}

TEST_CASE("expr eval: number formatting as jq", "[expr][eval]") {
  CHECK(run(".", "[1.0, 1.5, -0.0, 0.1, 100, 3.14159]") == "[1,1.5,-0,0.1,100,3.14159]");
  CHECK(run(".", "[1e17, 1e16, 1e15, 2.5e16, 2.5e17]") ==
        "[1e+17,1e+16,1000000000000000,25000000000000000,2.5e+17]");
  CHECK(run(".", "[0.0001, 0.00001, 1.5e-7, 5e-324, 1e308]") == "[0.0001,1e-05,1.5e-07,5e-324,1e+308]");
  CHECK(run("[.[] | tostring]", "[1.5, 1e20, 0.00001]") == R"(["1.5","1e+20","1e-05"])");
  CHECK(run("[1e1000, -1e1000]") == "[1.7976931348623157e+308,-1.7976931348623157e+308]");
  CHECK(run("[.[] | sqrt]", "[-1]") == "[null]");  // NaN prints as null
  CHECK(run("12345678912345678 * 10") == "123456789123456780");
}

TEST_CASE("expr eval: string output escaping as jq -c", "[expr][eval]") {
  CHECK(run(".", R"("caf\u00e9 \u2028 \u007f \u0000 <&> \ud83d\ude00 \/ tab\there \u001b")") ==
        "\"caf\xc3\xa9 \xe2\x80\xa8 \\u007f \\u0000 <&> \xf0\x9f\x98\x80 / tab\\there \\u001b\"");
  CHECK(run(".", R"({"a\"b":"\\"})") == R"({"a\"b":"\\"})");
}

TEST_CASE("expr eval: string functions", "[expr][eval]") {
  CHECK(run("length", "\"café 👍🏽\"") == "7");  // code points
  CHECK(run("utf8bytelength", "\"café 👍🏽\"") == "14");
  CHECK(run("utf8bytelength", "1") == "error: number (1) only strings have UTF-8 byte length");
  CHECK(run("startswith(\"ab\")", "\"abc\"") == "true");
  CHECK(run("startswith(\"b\")", "\"abc\"") == "false");
  CHECK(run("startswith(\"a\")", "1") == "error: startswith() requires string inputs");
  CHECK(run("endswith(\"bc\")", "\"abc\"") == "true");
  CHECK(run("endswith(1)", "\"a\"") == "error: endswith() requires string inputs");
  CHECK(run("contains(\"bar\")", "\"foobar\"") == "true");
  CHECK(run("contains(\"bar\")", R"("foo\u0000bar")") == "true");  // (ppipe) jq 1.6 stops at NUL
  CHECK(run("ascii_downcase", "\"ÉCOLE Straße\"") == "\"École straße\"");
  CHECK(run("ascii_upcase", "\"école straße\"") == "\"éCOLE STRAßE\"");
  CHECK(run("ascii_downcase", "1") == "error: explode input must be a string");
  CHECK(run("ltrimstr(\"ab\")", "\"abc\"") == "\"c\"");
  CHECK(run("ltrimstr(\"x\")", "\"abc\"") == "\"abc\"");
  CHECK(run("ltrimstr(1)", "\"abc\"") == "\"abc\"");
  CHECK(run("rtrimstr(\"bc\")", "\"abc\"") == "\"a\"");
  CHECK(run("rtrimstr(\"a\")", "1") == "1");
  CHECK(run("split(\", \")", "\"a, b, c\"") == R"(["a","b","c"])");
  CHECK(run("split(\",\")", "\"\"") == "[]");
  CHECK(run("split(\",\")", "\"a,\"") == R"(["a",""])");
  CHECK(run("split(\"\")", "\"aé\"") == R"(["a","é"])");
  CHECK(run("split(\",\")", "1") == "error: split input and separator must be strings");
  CHECK(run("join(\"-\")", R"(["a","b","c"])") == "\"a-b-c\"");
  CHECK(run("join(\",\")", R"(["a",1,null,true])") == "\"a,1,,true\"");
  CHECK(run("join(\"-\")", "[]") == "\"\"");
  CHECK(run("join(\",\")", "[[1]]") == "error: string (\"\") and array ([1]) cannot be added");
  CHECK(run("join(1)", R"(["a","b"])") == "error: string (\"a\") and number (1) cannot be added");
  CHECK(run("test(\"b\")", "\"abc\"") == "true");
  CHECK(run("test(\"B\")", "\"abc\"") == "false");
  CHECK(run("test(\"B\"; \"i\")", "\"abc\"") == "true");
  // test([RE, FLAGS]) as jq's def test($val), a literal array or a value's.
  CHECK(run("test([\"B\", \"i\"])", "\"abc\"") == "true");
  CHECK(run("test([\"B\"])", "\"abc\"") == "false");
  CHECK(run(".s | test([\"B\", \"i\"])", "{\"s\":\"abc\"}") == "true");
  CHECK(run(".s as $s | .p as $p | $s | test($p)", "{\"s\":\"abc\",\"p\":[\"B\",\"i\"]}") == "true");
  CHECK(run("test(\"é\"; \"i\")", "\"É\"") == "true");
  CHECK(run("test(\"a b # comment\"; \"x\")", "\"xab\"") == "true");
  CHECK(run("test(\"^a.c$\")", "\"abc\"") == "true");
  CHECK(run("test(\"\\\\d+\")", "\"a12\"") == "true");
  CHECK(run("test(\"^b\")", "\"a\\nb\"") == "false");  // ^ anchors at the text start, as jq
  CHECK(run("test(\"a\")", "1") == "error: number (1) cannot be matched, as it is not a string");
  CHECK(run("test(.re)", R"({"re":"x"})") == R"(error: object ({"re":"x"}) cannot be matched, as it is not a string)");
  CHECK(run(".s | test(.)", R"({"s":"a+"})") == "true");  // computed pattern (cached per worker)
  CHECK(run(".s | test(\"(\" + .)", R"({"s":"a"})") ==
        "error: (a (at offset 0) is not a valid regex: missing ): (a");
  CHECK(run(".s | test(\"a\"; .)", R"({"s":"q"})") == "error: q is not a valid modifier string");
  CHECK(run("tostring", "\"x\"") == "\"x\"");
  CHECK(run("tostring", R"([1,"a"])") == R"("[1,\"a\"]")");
  CHECK(run("tojson", R"({"a":[1.0,"\u007f"]})") == R"("{\"a\":[1,\"\\u007f\"]}")");
  CHECK(run("fromjson", R"("{\"a\":[1,\"x\",null]}")") == R"({"a":[1,"x",null]})");
  CHECK(run("fromjson | .a", R"("{\"a\":5}")") == "5");
  CHECK(run("fromjson", "1") == "error: number (1) only strings can be parsed");
  CHECK(run("[.[] | fromjson] | .[0] + .[1]", R"(["[1]","[2]"])") == "[1,2]");
}

TEST_CASE("expr eval: tonumber", "[expr][eval]") {
  // jq 1.8's grammar (docs/expr.md): a sign, digits with an optional point, an exponent
  CHECK(run("[.[] | tonumber]", R"(["1","1.5","-3","1e3","+5",".5","5.","0012",2])") ==
        "[1,1.5,-3,1000,5,0.5,5,12,2]");
  for (const char* bad : {"\" 12 \"", "\"12 \"", "\"nan\"", "\"\"", "\".\"", "\"1e\"", "\"--1\"", "\"1_000\""}) {
    INFO(bad);
    CHECK(run("tonumber", bad).rfind("error: string (", 0) == 0);
  }
  CHECK(run("tonumber", "\"-0\"") == "-0");
  CHECK(run("tonumber", "\"505874924095815681\"") == "505874924095815681");
  CHECK(run("tonumber", "\"abc\"") == "error: string (\"abc\") cannot be parsed as a number");
  CHECK(run("tonumber", "\"0x10\"") == "error: string (\"0x10\") cannot be parsed as a number");
  CHECK(run("tonumber", "[1]") == "error: array ([1]) cannot be parsed as a number");
}

TEST_CASE("expr eval: length, keys, has, type", "[expr][eval]") {
  CHECK(run("length", "[1,2]") == "2");
  CHECK(run("length", R"({"a":1,"b":2})") == "2");
  CHECK(run("length", "-5.5") == "5.5");
  CHECK(run("length", "-5") == "5");
  CHECK(run("length", "true") == "error: boolean (true) has no length");
  CHECK(run("keys", R"({"b":1,"a":2,"B":3})") == R"(["B","a","b"])");
  CHECK(run("keys_unsorted", R"({"b":1,"a":2})") == R"(["b","a"])");
  CHECK(run("keys", "[5,6]") == "[0,1]");
  CHECK(run("keys", "1") == "error: number (1) has no keys");
  CHECK(run("has(\"a\")", R"({"a":null})") == "true");
  CHECK(run("has(\"b\")", R"({"a":1})") == "false");
  CHECK(run("has(0)", "[1]") == "true");
  CHECK(run("has(1)", "[1]") == "false");
  CHECK(run("has(-1)", "[1]") == "false");
  CHECK(run("has(0)", "null") == "false");
  CHECK(run("has(\"a\")", "[1]") == "error: Cannot check whether array has a string key");
  CHECK(run("[.[] | type]", R"([null,true,1,"a",[],{}])") ==
        R"(["null","boolean","number","string","array","object"])");
  CHECK(run("to_entries", R"({"a":1,"b":[2]})") == R"([{"key":"a","value":1},{"key":"b","value":[2]}])");
}

TEST_CASE("expr eval: contains", "[expr][eval]") {
  CHECK(run("contains([\"ba\"])", R"(["abc","x"])") == "false");
  CHECK(run("contains([\"b\"])", R"(["abc","x"])") == "true");
  CHECK(run("contains({\"a\":[1]})", R"({"a":[1,2],"b":3})") == "true");
  CHECK(run("contains({\"a\":[3]})", R"({"a":[1,2],"b":3})") == "false");
  CHECK(run("contains({\"c\":1})", R"({"a":1})") == "false");
  CHECK(run("contains(1)", "1.0") == "true");
  CHECK(run("contains(\"a\")", "1") ==
        "error: number (1) and string (\"a\") cannot have their containment checked");
  CHECK(run("contains(false)", "true") ==
        "error: boolean (true) and boolean (false) cannot have their containment checked");
}

TEST_CASE("expr eval: map, any, all, add, min, max, sort", "[expr][eval]") {
  CHECK(run("map(. * 2)", "[1,2,3]") == "[2,4,6]");
  CHECK(run("map(.a)", R"([{"a":1},{"b":2}])") == "[1,null]");
  CHECK(run("map(. + 1)", R"({"a":1,"b":2})") == "[2,3]");
  CHECK(run("map(.)", "1") == "error: Cannot iterate over number (1)");
  CHECK(run("any", "[false,null,1]") == "true");
  CHECK(run("any", "[false,null]") == "false");
  CHECK(run("any", "[]") == "false");
  CHECK(run("all", "[true,1,\"a\"]") == "true");
  CHECK(run("all", "[true,false]") == "false");
  CHECK(run("all", "[]") == "true");
  CHECK(run("any(. > 2)", "[1,2,3]") == "true");
  CHECK(run("all(. > 0)", "[1,2,3]") == "true");
  CHECK(run("all", R"({"a":true})") == "true");
  CHECK(run("any", "null") == "error: Cannot iterate over null (null)");
  CHECK(run("add", "[1,2,3.5]") == "6.5");
  CHECK(run("add", R"(["a",null,"b"])") == "\"ab\"");
  CHECK(run("add", "[[1],[2]]") == "[1,2]");
  CHECK(run("add", R"([{"a":1},{"b":2}])") == R"({"a":1,"b":2})");
  CHECK(run("add", "[]") == "null");
  CHECK(run("add", R"({"a":1,"b":2})") == "3");
  CHECK(run("add", "null") == "error: Cannot iterate over null (null)");
  CHECK(run("add", R"([1,"a"])") == "error: number (1) and string (\"a\") cannot be added");
  CHECK(run("min", "[3,1,2]") == "1");
  CHECK(run("max", "[3,1,2]") == "3");
  CHECK(run("min", "[]") == "null");
  CHECK(run("max", R"(["a",[],{},null])") == "{}");
  CHECK(run("min", "1") == "error: number (1) and number (1) cannot be iterated over");
  CHECK(run("sort", R"([3,"a",null,[1],{},1])") == R"([null,1,3,"a",[1],{}])");
  CHECK(run("reverse", "[1,2,3]") == "[3,2,1]");
  CHECK(run("[first, last]", "[1,2,3]") == "[1,3]");
}

TEST_CASE("expr eval: math", "[expr][eval]") {
  CHECK(run("[.[] | floor]", "[1.5,-1.5,2]") == "[1,-2,2]");
  CHECK(run("[.[] | ceil]", "[1.5,-1.5,2]") == "[2,-1,2]");
  CHECK(run("[.[] | round]", "[1.5,-1.5,2.4,-2.5]") == "[2,-2,2,-3]");
  CHECK(run("[.[] | sqrt]", "[4,2]") == "[2,1.4142135623730951]");
  CHECK(run("[.[] | abs]", "[-5,5,-1.5,0]") == "[5,5,1.5,0]");
  CHECK(run("floor", "\"a\"") == "error: string (\"a\") number required");
  CHECK(run("abs", "\"a\"") == "\"a\"");  // jq 1.8: anything but a number passes through
}

TEST_CASE("expr eval: construction keeps key order", "[expr][eval]") {
  const char* doc = R"({"host":"h","status":503,"latency_ms":1.25,"user":{"b":1,"a":2}})";
  CHECK(run("{status, host}", doc) == R"({"status":503,"host":"h"})");
  CHECK(run("{host, status, latency_ms}", doc) == R"({"host":"h","status":503,"latency_ms":1.25})");
  CHECK(run("{u: .user, n: (.status + 1)}", doc) == R"({"u":{"b":1,"a":2},"n":504})");
  CHECK(run("{(.host): 1}", doc) == R"({"h":1})");
  CHECK(run("{(.status): 1}", doc) == "error: Cannot use number (503) as object key");
  CHECK(run("[.host, .status]", doc) == R"(["h",503])");
  CHECK(run(".user", doc) == R"({"b":1,"a":2})");
  CHECK(run(".", doc) == doc);
}

TEST_CASE("expr eval: logic and conditionals", "[expr][eval]") {
  CHECK(run(".a and .b", R"({"a":true,"b":false})") == "false");
  CHECK(run(".a or .b", R"({"a":false,"b":1})") == "true");
  CHECK(run("false and error(\"x\")") == "false");  // short circuit
  CHECK(run("true or error(\"x\")") == "true");
  CHECK(run("[.[] | not]", "[true,false,null,0,\"\"]") == "[false,true,true,false,false]");
  CHECK(run("if .a then \"y\" else \"n\" end", R"({"a":[]})") == "\"y\"");
  CHECK(run("if .a > 1 then \"big\" elif .a > 0 then \"small\" else \"neg\" end", R"({"a":0.5})") ==
        "\"small\"");
  CHECK(run("(.path|startswith(\"/api\")) and .user.country == \"DE\"",
            R"({"path":"/api/x","user":{"country":"DE"}})") == "true");
}

TEST_CASE("expr eval: errors as values, truthiness", "[expr][eval]") {
  auto program = std::get<0>(ppipe::expr::compile(".a | startswith(\"x\")"));
  simdjson::dom::parser parser;
  ppipe::expr::Scratch scratch;
  ppipe::expr::Result r = ppipe::expr::evaluate(*program, parser.parse(std::string(R"({"a":1})")).value(), scratch);
  CHECK(r.outcome == Outcome::kError);
  CHECK_FALSE(ppipe::expr::is_truthy(r));
  CHECK(ppipe::expr::error_message(scratch) == "startswith() requires string inputs");
  r = ppipe::expr::evaluate(*program, parser.parse(std::string(R"({"a":"xy"})")).value(), scratch);
  CHECK(r.outcome == Outcome::kValue);
  CHECK(ppipe::expr::is_truthy(r));
  std::string raw;
  auto p2 = std::get<0>(ppipe::expr::compile(".a"));
  r = ppipe::expr::evaluate(*p2, parser.parse(std::string(R"({"a":"x\"y"})")).value(), scratch);
  ppipe::expr::append_raw(r.value, raw);
  CHECK(raw == "x\"y");
  CHECK(run("error", R"({"a":1})") == R"(error: (not a string): {"a":1})");
}

TEST_CASE("expr eval: one program, many threads, one scratch each", "[expr][eval]") {
  auto program = std::get<0>(ppipe::expr::compile("{n: (.i * 2), s: (.s + \"!\"), t: (.s | test(\"^a\"))}"));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      simdjson::dom::parser parser;
      ppipe::expr::Scratch scratch;
      for (int i = 0; i < 2000; ++i) {
        std::string doc = "{\"i\":" + std::to_string(i) + ",\"s\":\"a" + std::to_string(t) + "\"}";
        ppipe::expr::Result r = ppipe::expr::evaluate(*program, parser.parse(doc).value(), scratch);
        std::string out;
        ppipe::expr::append_json(r, out);
        std::string want = "{\"n\":" + std::to_string(i * 2) + ",\"s\":\"a" + std::to_string(t) + "!\",\"t\":true}";
        if (out != want) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK(f == 0);
}

// A fast program's general twin (for records the fast path cannot read) is compiled on first use,
// which may be on several worker threads at once: one compile, the same twin for all.
TEST_CASE("expr eval: the general twin, first asked for by many threads", "[expr][eval]") {
  auto program = std::get<0>(ppipe::expr::compile("{a: .a, n: (.n + 1)}"));
  REQUIRE_FALSE(ppipe::expr::is_general(*program));
  std::vector<std::thread> threads;
  std::vector<const ppipe::expr::jq::Program*> seen(4, nullptr);
  std::vector<std::string> outs(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      seen[t] = ppipe::expr::general_program(*program);
      namespace jq = ppipe::expr::jq;
      jq::J in;
      std::string err;
      if (seen[t] && jq::parse_json(R"({"a":100000000000000000001,"n":1})", in, &err))
        jq::run(*seen[t], in, jq::RunContext{}, [&](const jq::J& v) { outs[t] += jq::to_json(v); }, &err);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    CHECK(seen[t] != nullptr);
    CHECK(seen[t] == seen[0]);
    CHECK(outs[t] == R"({"a":100000000000000000001,"n":2})");
  }
}

// Found by review, confirmed under tests/fuzz/expr_fuzz (regressions/expr/slice-nan-bound):
// a NaN slice bound was converted to an integer (undefined behaviour). jq 1.7 reads a NaN start
// as 0 and a NaN end as the length.
TEST_CASE("expr eval: NaN slice bounds take the whole range", "[expr][eval][fuzz]") {
  CHECK(run(".[(-1 | sqrt):]", "\"abc\"") == "\"abc\"");
  CHECK(run(".[:(-1 | sqrt)]", "[1,2]") == "[1,2]");
  CHECK(run(".[(-1 | sqrt):(-1 | sqrt)]", "[1,2,3]") == "[1,2,3]");
  CHECK(run(".[(-1 | sqrt):2]", "\"h\xC3\xA9llo\"") == "\"h\xC3\xA9\"");
  CHECK(run(".[1:(-1 | sqrt)]", "[1,2,3]") == "[2,3]");
}

// Found by review, confirmed under tests/fuzz/expr_fuzz (regressions/expr/empty-string-repeat):
// `"" * 1e300` converted 1e300 to size_t (undefined behaviour; in practice a loop of 2^63 empty
// copies, at compile time when constant).
TEST_CASE("expr eval: repeating the empty string", "[expr][eval][fuzz]") {
  CHECK(run("\"\" * 1e300") == "\"\"");
  CHECK(run(".s * 1e300", R"({"s":""})") == "\"\"");
  CHECK(run("\"\" * 3") == "\"\"");
  CHECK(run("\"\" * 0") == "\"\"");
  CHECK(run("\"\" * -1") == "null");
  CHECK(run("\"ab\" * 1e300") == "error: Repeat string result too long");
}

// Found by the jq differential suite (tests/jqdiff/FINDINGS.md).
TEST_CASE("expr eval: jq 1.6 agreements found by tests/jqdiff", "[expr][eval]") {
  // NaN is below every number, itself included.
  CHECK(run("[(.v|sqrt) < 1, (.v|sqrt) > 1, 1 < (.v|sqrt), (.v|sqrt) == (.v|sqrt)]", R"({"v":-1.5})") ==
        "[true,false,false,false]");
  CHECK(run(".v | to_entries", R"({"v":[5,6]})") == R"([{"key":0,"value":5},{"key":1,"value":6}])");
  // `?` covers only the step it follows.
  CHECK(run("[.user | keys[]?]", R"({"user":null})").rfind("error: ", 0) == 0);
  CHECK(run("[.user | keys[]?]", R"({"user":{"b":1,"a":2}})") == R"(["a","b"])");
  CHECK(run("[.v.k[]?]", R"({"v":{"k":3}})") == "[]");
  CHECK(run(".a.b?", "\"x\"").rfind("error: ", 0) == 0);
  CHECK(run("[.a.b?]", R"({"a":"x"})") == "[]");
  CHECK(run("[.a?.b?]", "\"x\"") == "[]");
  CHECK(run("[isnan, (1|isnan), (\"x\"|isnan)]", "null") == "[false,false,false]");
  CHECK(run("[(0|reverse), (\"\"|reverse), ({}|reverse)]") == "[[],\"\",[]]");  // "": jq 1.7.1
  CHECK(run("\"ab\u00e9\" | reverse") == "\"\u00e9ba\"");  // jq 1.7.1 (jq 1.6: an error)
  CHECK(run("test(\"one.line\"; \"p\")", "\"line one\\nline two\\n\"") == "true");
  CHECK(run("test(\"one.line\")", "\"line one\\nline two\\n\"") == "false");
}

// Found by review (a _GLIBCXX_DEBUG build of src/expr aborts in std::stable_sort): with NaN below
// every number, NaN included, `compare(nan, nan) < 0` both ways, so sort's comparator was not a
// strict weak ordering (undefined behaviour). NaNs now sort first among numbers, as equals.
TEST_CASE("expr eval: sort with NaNs", "[expr][eval][fuzz]") {
  CHECK(run("[(-1|sqrt), 3, (-1|sqrt), 1, null, (-1|sqrt), 2, 0] | sort | map(isnan)") ==
        "[false,true,true,true,false,false,false,false]");
  CHECK(run("[.[] | if . == \"n\" then (-1|sqrt) else . end] | sort",
            R"([3,"n",1,"a","n",[1],2,"n",0])") == R"([null,null,null,0,1,2,3,"a",[1]])");
  CHECK(run("[[(-1|sqrt), 2], [1], [(-1|sqrt), 1], [0]] | sort | map(.[1])") == "[2,1,null,null]");
}

TEST_CASE("expr compare: the public jq order agrees with `<` on every pair", "[expr][eval]") {
  // Values of every type, including equal numbers in two representations and objects that
  // need sorted keys; compare() must agree with the `<` and `==` operators pair by pair.
  const std::string values =
      R"([null,false,true,-1,0,1,1.0,1.5,18446744073709551615,"","a","b","é",[],[1],[1,2],[2],)"
      R"({},{"a":1},{"a":2},{"b":0},{"a":1,"b":0},{"b":0,"a":1}])";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array items;
  REQUIRE_FALSE(parser.parse(values).get(doc));
  REQUIRE_FALSE(doc.get_array().get(items));
  std::vector<ppipe::expr::Value> vs;
  for (simdjson::dom::element e : items) vs.push_back(ppipe::expr::Value::from_dom(e));
  ppipe::expr::Scratch scratch;
  auto text = [](const ppipe::expr::Value& v) {
    std::string s;
    ppipe::expr::append_json(v, s);
    return s;
  };
  for (const auto& a : vs) {
    for (const auto& b : vs) {
      std::string pair = "[" + text(a) + "," + text(b) + "]";
      INFO(pair);
      int c = ppipe::expr::compare(a, b, scratch);
      CHECK((c < 0) == (run(".[0] < .[1]", pair) == "true"));
      CHECK((c == 0) == (run(".[0] == .[1]", pair) == "true"));
    }
  }
}

TEST_CASE("expr lookup_members + evaluate_from_member = evaluate", "[expr][eval]") {
  // Paths with a leading key, evaluated from one scan of the members, give what evaluate() gives:
  // duplicate keys (last wins), missing keys, nested objects, indices, and errors past the first key.
  // Keys of one length (a, b, c, d, s; "ab", "ba"), of 9 to 16 bytes alike but for their last
  // byte (compared as a first and a last 8 bytes), one of 63 bytes and two longer ones (the
  // length index's last slot) exercise MemberKeys.
  const std::string k63 = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkka", k70 = "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqz", k70b = "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqy";
  const std::vector<std::string> exprs = {".a", ".a.b", ".b", ".a.b.c", ".c[1]", ".d.x", ".\"k k\"", ".missing",
                                          ".missing.x", ".s.x", ".c.x", ".a[0]", ".ab", ".ba", "." + k63,
                                          "." + k70, "." + k70b + ".x", ".latency_ms", ".latency_mx",
                                          ".abcdefghijklmnop", ".abcdefghijklmnoq"};
  const std::vector<std::string> docs = {
      R"({"a":{"b":1},"b":2,"c":[1,2,3],"d":{"x":"y"},"k k":true,"s":"str"})",
      R"({"a":1,"a":{"b":{"c":5}},"b":null,"b":7,"c":{"x":[1]},"d":{"x":1,"x":2}})",
      R"({})",
      R"({"c":[],"s":{"x":0}})",
      "{\"ab\":1,\"ba\":2,\"" + k63 + "\":3,\"" + k70 + "\":4,\"" + k70b + "\":{\"x\":5},\"a\":6}",
      "{\"" + k70b + "\":0,\"" + k70 + "\":[7],\"ba\":null}",
      R"({"latency_ms":1.5,"latency_mz":2,"abcdefghijklmnop":3,"latency_ms":4.5,"abcdefghijklmnor":5})",
      R"({"latency_mx":[1],"abcdefghijklmnoq":{"x":1},"latency_m":6,"latency_mss":7,"abcdefghijklmno":8})",
  };
  std::vector<std::shared_ptr<const ppipe::expr::Program>> programs;
  std::vector<std::string_view> keys;
  for (const auto& e : exprs) {
    programs.push_back(std::get<0>(ppipe::expr::compile(e)));
    std::string_view k = ppipe::expr::leading_key(*programs.back());
    INFO(e);
    REQUIRE_FALSE(k.empty());
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  CHECK(ppipe::expr::leading_key(*std::get<0>(ppipe::expr::compile("."))).empty());
  CHECK(ppipe::expr::leading_key(*std::get<0>(ppipe::expr::compile(".a + 1"))).empty());
  CHECK(ppipe::expr::leading_key(*std::get<0>(ppipe::expr::compile(".[0]"))).empty());
  CHECK(ppipe::expr::leading_key(*std::get<0>(ppipe::expr::compile(".a?"))).empty());
  auto outcome_text = [](const ppipe::expr::Result& r, const ppipe::expr::Scratch& s) {
    if (r.outcome == Outcome::kEmpty) return std::string("<empty>");
    if (r.outcome == Outcome::kError) return "error: " + std::string(ppipe::expr::error_message(s));
    std::string out;
    ppipe::expr::append_json(r, out);
    return out;
  };
  for (const auto& d : docs) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(d).get(doc));
    std::vector<ppipe::expr::Value> members(keys.size());
    REQUIRE(ppipe::expr::lookup_members(doc, ppipe::expr::MemberKeys(keys), members.data()));
    for (std::size_t i = 0; i < exprs.size(); ++i) {
      INFO(d << "  " << exprs[i]);
      ppipe::expr::Scratch s1, s2;
      auto want = outcome_text(ppipe::expr::evaluate(*programs[i], doc, s1), s1);
      std::string_view k = ppipe::expr::leading_key(*programs[i]);
      std::size_t j = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), k) - keys.begin());
      CHECK(outcome_text(ppipe::expr::evaluate_from_member(*programs[i], members[j], s2), s2) == want);
      if (ppipe::expr::is_single_field(*programs[i])) {
        ppipe::expr::Result r;
        r.outcome = Outcome::kValue;
        r.value = members[j];
        CHECK(outcome_text(r, s2) == want);
      }
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::element arr;
  REQUIRE_FALSE(parser.parse(std::string("[1,2]")).get(arr));
  std::vector<ppipe::expr::Value> members(keys.size());
  CHECK_FALSE(ppipe::expr::lookup_members(arr, ppipe::expr::MemberKeys(keys), members.data()));
  CHECK(ppipe::expr::is_single_field(*std::get<0>(ppipe::expr::compile(".a"))));
  CHECK(ppipe::expr::is_single_field(*std::get<0>(ppipe::expr::compile(".\"k k\""))));
  CHECK_FALSE(ppipe::expr::is_single_field(*std::get<0>(ppipe::expr::compile(".a.b"))));
  CHECK_FALSE(ppipe::expr::is_single_field(*std::get<0>(ppipe::expr::compile(".a[0]"))));
  CHECK_FALSE(ppipe::expr::is_single_field(*std::get<0>(ppipe::expr::compile("."))));
}

// Found by tests/fuzz/jq_differential.py: `T[e]?` and `T[a:b]?` covered errors in T and e too
// (jq: the indexing only), and `(T)?` after a path covered only its last step (jq: all of T).
// Expected values from jq 1.6.
TEST_CASE("expr eval: what `?` covers after an index, a slice and parentheses", "[expr][eval]") {
  CHECK(run(".a.b[1:]?", "[]") == "error: Cannot index array with string (\"a\")");
  CHECK(run(".a[1:]?", "5") == "error: Cannot index number with string (\"a\")");
  CHECK(run(".[1:]?", "5") == "<empty>");
  CHECK(run(".a[1:]?", R"({"a":"xyz"})") == "\"yz\"");
  CHECK(run(".a[1:]?", R"({"a":5})") == "<empty>");
  CHECK(run(".[.x]?", "[]") == "error: Cannot index array with string (\"x\")");
  CHECK(run(".a[.x]?", R"({"a":[1],"x":"k"})") == "<empty>");
  CHECK(run(".a[.x]?", R"({"a":{"k":2},"x":"k"})") == "2");
  CHECK(run("(.a.b)?", "[]") == "<empty>");
  CHECK(run("(.a.b[0])?", "[]") == "<empty>");
  CHECK(run("(.a[1:])?", "[]") == "<empty>");
  CHECK(run("(.a).b?", "[]") == "error: Cannot index array with string (\"a\")");
  CHECK(run("((.a).b)?", "[]") == "<empty>");
  CHECK(run("(.a | .b).c?", R"({"a":5})") == "error: Cannot index number with string (\"b\")");
  CHECK(run("(.a)[1:]?", R"({"a":5})") == "<empty>");
  CHECK(run("(.a)[1:]?", "[]") == "error: Cannot index array with string (\"a\")");
}

// Found by tests/fuzz/jq_differential.py: NaN in @csv and @tsv is an empty field, as jq writes it
// (it was "null").
TEST_CASE("expr eval: NaN in @csv and @tsv", "[expr][eval]") {
  CHECK(run("[1, (-1 | sqrt), \"a\", null] | @csv") == R"("1,,\"a\",")");
  CHECK(run("[(-1 | sqrt), 2] | @tsv") == R"("\t2")");
}
