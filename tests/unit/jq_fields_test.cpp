// The general engine's field projection (src/expr/jq): which programs read their input only
// as `.name` fields (jq::input_fields), reading only those members of a record
// (jq::parse_json_fields), and that a program gives the same outputs and errors on the
// projected record as on the whole one.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/expr/jq/jq.h"

namespace {

namespace jq = ppipe::expr::jq;

// The fields a program reads, "*" when it needs its whole input.
std::string fields_of(const std::string& source) {
  jq::CompileFailure failure;
  auto p = jq::compile(source, jq::J::object(), &failure);
  if (!p) return "compile error: " + failure.message;
  if (!p->reads_fields_only) return "*";
  std::string out;
  for (const std::string& f : p->fields) out += (out.empty() ? "" : ",") + f;
  return out;
}

// Every output of the program on the input read whole, and on the input read with only the
// program's fields, as `jq -c` lines; an error as "error: ...".
std::string run(const jq::Program& p, const jq::J& input) {
  std::string out, error;
  bool ok = jq::run(p, input, jq::RunContext{}, [&](const jq::J& v) { out += jq::to_json(v) + "\n"; }, &error);
  if (!ok) out += "error: " + error + "\n";
  return out;
}

}  // namespace

TEST_CASE("input_fields: programs that read only fields of their input", "[jq][fields]") {
  CHECK(fields_of(".a") == "a");
  CHECK(fields_of(".a.b.c") == "a");
  CHECK(fields_of(".[\"a b\"]") == "a b");
  CHECK(fields_of(".\"x\"") == "x");
  CHECK(fields_of(".tags[]") == "tags");
  CHECK(fields_of(".a, .b, .a") == "a,b");
  CHECK(fields_of("\"\\(.host) \\(.status)\"") == "host,status");
  CHECK(fields_of("@csv \"\\(.a)\"") == "a");
  CHECK(fields_of("reduce .tags[] as $t (0; . + ($t | length))") == "tags");
  CHECK(fields_of("foreach .xs[] as $x (.n; . + $x; [$x, .])") == "xs,n");
  CHECK(fields_of("{host, s: .status, (.k): .v}") == "host,status,k,v");
  CHECK(fields_of(".a as $x | .b | . + $x") == "a,b");
  CHECK(fields_of(".a as [$x, {y: $y}] | $x + $y") == "a");
  CHECK(fields_of("if .a then .b else .c end") == "a,b,c");
  CHECK(fields_of("try .a catch .") == "a");
  CHECK(fields_of(".a // .b") == "a,b");
  CHECK(fields_of("[.a[]?, .b[1:2]]") == "a,b");
  CHECK(fields_of("def f: . + 1; .a | f") == "a");
  CHECK(fields_of("label $out | .a | ., break $out") == "a");
  CHECK(fields_of("-.a") == "a");
  CHECK(fields_of("1, \"x\", null") == "");
}

TEST_CASE("input_fields: programs that need their whole input", "[jq][fields]") {
  for (const char* p : {".", ".[]", "..", "keys", "to_entries", "length", ".a, .", ". as $r | $r.a", "select(.a > 1)",
                        "map(.a)", ".a = 1", ".a |= . + 1", "del(.a)", "path(.a)", "paths", "@csv", "@json",
                        ".[0]", ".[.k]", ".[1:2]", "if .a then .b end", "{a: 1} + .", "[.[] | .a]",
                        "def f: .a; f", ". as {(.k): $v} | $v", "reduce . as $x (0; 1)", "input_filename",
                        "getpath([\"a\"])", "tojson", "$__loc__, ."}) {
    INFO(p);
    CHECK(fields_of(p) == "*");
  }
}

TEST_CASE("parse_json_fields: reads the wanted members and skips the others", "[jq][fields]") {
  const std::vector<std::string> keys = {"a", "q\"k", "last"};
  jq::J v;
  std::string err;
  SECTION("values of every kind are skipped") {
    std::string text = R"({"s":"x\"}]{[\\","n":-1.5e3,"t":true,"f":false,"z":null,)"
                       R"("o":{"k":["}",{"]":"\\\""}],"e":{}},"arr":[[],[1,[2,"]"]]],"a":[1,"two",{"3":3}],)"
                       R"( "q\"k" : 7 , "last":"end"})";
    REQUIRE(jq::parse_json_fields(text, keys, v, &err, true));
    CHECK(jq::to_json(v) == R"({"a":[1,"two",{"3":3}],"q\"k":7,"last":"end"})");
  }
  SECTION("a key written with escapes is the key it decodes to") {
    REQUIRE(jq::parse_json_fields(R"({"\u0061":1,"b":2})", keys, v, &err, true));
    CHECK(jq::to_json(v) == R"({"a":1})");
  }
  SECTION("the last of duplicate members wins, as when read whole") {
    REQUIRE(jq::parse_json_fields(R"({"a":1,"b":0,"a":2})", keys, v, &err, true));
    CHECK(jq::to_json(v) == R"({"a":2})");
  }
  SECTION("numbers keep their text") {
    REQUIRE(jq::parse_json_fields(R"({"a":1.50,"last":100000000000000000001})", keys, v, &err, true));
    CHECK(jq::to_json(v) == R"({"a":1.50,"last":100000000000000000001})");
  }
  SECTION("what is not an object is read whole") {
    REQUIRE(jq::parse_json_fields(R"([{"a":1},2])", keys, v, &err, true));
    CHECK(jq::to_json(v) == R"([{"a":1},2])");
    REQUIRE(jq::parse_json_fields(R"( "s" )", keys, v, &err, true));
    CHECK(jq::to_json(v) == R"("s")");
  }
  SECTION("invalid text gives the error of a whole read") {
    for (std::string bad : {R"({"a":1,"b":[1,2})", R"({"a":1,"b":"x)", R"({"a":1} x)", R"({"b":1,)", R"({"a")"}) {
      INFO(bad);
      std::string whole_err;
      jq::J w;
      CHECK_FALSE(jq::parse_json(bad, w, &whole_err, true));
      err.clear();
      CHECK_FALSE(jq::parse_json_fields(bad, keys, v, &err, true));
      CHECK(err == whole_err);
    }
  }
}

TEST_CASE("a program gives the same outputs on its projected input", "[jq][fields]") {
  const std::vector<std::string> inputs = {
      R"({"host":"h1","status":200,"tags":["a","bc"],"user":{"id":7,"name":"n"},"x":1.50,"ua":"q\"}"})",
      R"({"status":"500","tags":null,"user":null,"k":"host","v":[1,2]})",
      R"({"tags":{"a":1,"b":[2]},"host":null,"host":"dup","n":3,"xs":[1,2,3]})",
      R"({})",
      R"([1,2,3])",
      R"("text")",
      R"(null)",
  };
  const std::vector<std::string> programs = {
      ".tags[]",
      "\"\\(.host) \\(.status)\"",
      "reduce .tags[] as $t (0; . + ($t | length))",
      "{host, s: .status, (.k // \"k\"): .v}",
      ".user.id as $i | .user.name | [., $i]",
      "if .status == 200 then .host else .tags end",
      "try (.tags | length) catch \"caught: \\(.)\"",
      "foreach .xs[]? as $x (.n; . + $x; [$x, .])",
      "[.tags[]?, .x]",
      ".host + .status",
      ".[\"ua\"] | ascii_downcase",
  };
  for (const std::string& source : programs) {
    jq::CompileFailure failure;
    auto p = jq::compile(source, jq::J::object(), &failure);
    REQUIRE(p);
    INFO(source);
    REQUIRE(p->reads_fields_only);
    for (const std::string& text : inputs) {
      INFO(text);
      jq::J whole, projected;
      std::string e1, e2;
      REQUIRE(jq::parse_json(text, whole, &e1, true));
      REQUIRE(jq::parse_json_fields(text, p->fields, projected, &e2, true));
      CHECK(run(*p, projected) == run(*p, whole));
    }
  }
}
