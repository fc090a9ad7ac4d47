// Parser / compiler tests for src/expr: precedence, literals, functions, compile errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/util/json_string.h"
#include "src/expr/expr.h"

namespace {

using ppipe::expr::CompileError;
using ppipe::expr::Outcome;
using ppipe::expr::Program;

// Compiles and evaluates against `json`; returns the compact output, "<empty>", or "error: ...".
std::string eval_str(const std::string& expr, const std::string& json = "null") {
  auto compiled = ppipe::expr::compile(expr);
  if (auto* e = std::get_if<CompileError>(&compiled)) return "compile error: " + e->message;
  auto program = std::get<0>(compiled);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json).value();
  ppipe::expr::Scratch scratch;
  ppipe::expr::Result r = ppipe::expr::evaluate(*program, doc, scratch);
  if (r.outcome == Outcome::kEmpty) return "<empty>";
  if (r.outcome == Outcome::kError) return "error: " + std::string(ppipe::expr::error_message(scratch));
  std::string out;
  ppipe::expr::append_json(r, out);
  return out;
}

CompileError compile_error(const std::string& expr) {
  auto compiled = ppipe::expr::compile(expr);
  auto* e = std::get_if<CompileError>(&compiled);
  if (e == nullptr) return CompileError{"<compiled fine>", 9999};
  return *e;
}

}  // namespace

TEST_CASE("expr parser: precedence follows jq", "[expr][parser]") {
  CHECK(eval_str("1 + 2 * 3") == "7");
  CHECK(eval_str("(1 + 2) * 3") == "9");
  CHECK(eval_str("10 - 4 - 3") == "3");        // left associative
  CHECK(eval_str("100 / 10 / 5") == "2");
  CHECK(eval_str("2 * 3 % 4") == "2");         // * and % share a level, left to right
  CHECK(eval_str("-7 % 3") == "-1");           // unary minus takes the whole * / % chain: -(7 % 3)
  CHECK(eval_str("2 * -3 + 1") == "-5");
  CHECK(eval_str("-1 + 2") == "1");
  CHECK(eval_str("1 + 2 == 3") == "true");     // arithmetic binds tighter than comparison
  CHECK(eval_str("1 < 2 and 3 < 4") == "true");
  CHECK(eval_str("false and true or true") == "true");   // and binds tighter than or
  CHECK(eval_str("true or true and false") == "true");
  CHECK(eval_str("true and true and false") == "false");  // and/or are left associative
  CHECK(eval_str("null // false // 3") == "3");           // // is right associative
  CHECK(eval_str("false // 1 == 1") == "true");           // // is looser than ==
  CHECK(eval_str("null // 1 or false") == "true");        // // is looser than or: null // (1 or false)
  CHECK(eval_str("1 | . + 1 | . * 10") == "20");          // | is loosest, right associative
  CHECK(eval_str("[1, 2 // 3]") == "[1,2]");              // , is looser than //
  CHECK(eval_str("[.a, .b | . + 1]", R"({"a":1,"b":2})") == "[2,3]");  // | is looser than ,
  CHECK(eval_str(".a.b?", R"({"a":"x"})") == "<empty>");  // postfix ? binds tightest
  CHECK(eval_str("1 + .a?", R"("x")") == "<empty>");
  CHECK(eval_str("try .a catch \"d\" | length", "1") == "1");  // try binds to one term
}

TEST_CASE("expr parser: every operator", "[expr][parser]") {
  CHECK(eval_str("1 + 1") == "2");
  CHECK(eval_str("3 - 1") == "2");
  CHECK(eval_str("3 * 2") == "6");
  CHECK(eval_str("7 / 2") == "3.5");
  CHECK(eval_str("7 % 2") == "1");
  CHECK(eval_str("-(3)") == "-3");
  CHECK(eval_str("1 == 1") == "true");
  CHECK(eval_str("1 != 1") == "false");
  CHECK(eval_str("1 < 2") == "true");
  CHECK(eval_str("1 <= 1") == "true");
  CHECK(eval_str("1 > 2") == "false");
  CHECK(eval_str("2 >= 2") == "true");
  CHECK(eval_str("true and false") == "false");
  CHECK(eval_str("true or false") == "true");
  CHECK(eval_str("true | not") == "false");
  CHECK(eval_str("null // 1") == "1");
  CHECK(eval_str("1 | . + 1") == "2");
  CHECK(eval_str("(1)") == "1");
  CHECK(eval_str("if true then 1 else 2 end") == "1");
  CHECK(eval_str("if false then 1 elif true then 2 else 3 end") == "2");
  CHECK(eval_str("if false then 1 end", "7") == "7");  // no else: identity (jq 1.7)
  CHECK(eval_str("try error(\"x\") catch .") == "\"x\"");
  CHECK(eval_str("[try error(\"x\")]") == "[]");
}

TEST_CASE("expr parser: paths", "[expr][parser]") {
  const char* doc = R"({"a":{"b":[10,20,30]},"k k":1,"and":2,"s":"héllo"})";
  CHECK(eval_str(".", "[1]") == "[1]");
  CHECK(eval_str(".a.b", doc) == "[10,20,30]");
  CHECK(eval_str(".a .b", doc) == "[10,20,30]");
  CHECK(eval_str(".\"k k\"", doc) == "1");
  CHECK(eval_str(".[\"k k\"]", doc) == "1");
  CHECK(eval_str(".and", doc) == "2");  // keywords are fine as field names
  CHECK(eval_str(".a.b[0]", doc) == "10");
  CHECK(eval_str(".a.b[-1]", doc) == "30");
  CHECK(eval_str(".a.b[1:]", doc) == "[20,30]");
  CHECK(eval_str(".a.b[:1]", doc) == "[10]");
  CHECK(eval_str(".a.b[1:2]", doc) == "[20]");
  CHECK(eval_str(".s[1:3]", doc) == "\"él\"");
  CHECK(eval_str(".a[\"b\"][2]", doc) == "30");
  CHECK(eval_str(".a.[\"b\"]", doc) == "[10,20,30]");  // jq 1.7's .a.[x] form
  CHECK(eval_str("(.a).b[1]", doc) == "20");
  CHECK(eval_str("{\"x\":[5]}.x[0]") == "5");
  CHECK(eval_str(".a.b[.i]", R"({"a":{"b":[1,2]},"i":1})") == "2");  // index evaluated on the input
}

TEST_CASE("expr parser: literals and escapes", "[expr][parser]") {
  CHECK(eval_str("null") == "null");
  CHECK(eval_str("true") == "true");
  CHECK(eval_str("false") == "false");
  CHECK(eval_str("42") == "42");
  CHECK(eval_str("1.5") == "1.5");
  CHECK(eval_str(".5") == "0.5");
  CHECK(eval_str("1e3") == "1000");
  CHECK(eval_str("1.0") == "1");
  CHECK(eval_str("1E-2") == "0.01");
  CHECK(eval_str("100000000000000000000") == "1e+20");
  CHECK(eval_str("9007199254740993") == "9007199254740993");   // exact
  CHECK(eval_str("18446744073709551615") == "18446744073709551615");
  CHECK(eval_str("1e1000") == "1.7976931348623157e+308");
  CHECK(eval_str(R"("a\"b\\c\/d\b\f\n\r\t")") == R"("a\"b\\c/d\b\f\n\r\t")");
  CHECK(eval_str(R"("\u00e9\u20AC")") == "\"é€\"");
  CHECK(eval_str(R"("\ud83d\ude00")") == "\"😀\"");   // surrogate pair
  CHECK(eval_str(R"("\ud800x")") == "\"\xEF\xBF\xBDx\"");  // lone surrogate -> U+FFFD
  CHECK(eval_str(R"("\u007f\u0000")") == R"("\u007f\u0000")");
  CHECK(eval_str("[]") == "[]");
  CHECK(eval_str("[1, \"a\", null, [2]]") == "[1,\"a\",null,[2]]");
  CHECK(eval_str("{}") == "{}");
  CHECK(eval_str("{a: 1, \"b c\": 2, (\"d\"): 3}") == R"({"a":1,"b c":2,"d":3})");
  CHECK(eval_str("{a, b}", R"({"b":2,"a":1})") == R"({"a":1,"b":2})");
  CHECK(eval_str("{\"a b\"}", R"({"a b":5})") == R"({"a b":5})");
  CHECK(eval_str("{a: 1, a: 2}") == R"({"a":2})");
  CHECK(eval_str("{if: 1, then: 2}") == R"({"if":1,"then":2})");
  CHECK(eval_str("{a: .x | length}", R"({"x":"abc"})") == R"({"a":3})");
  CHECK(eval_str("{a: 1 + 2, b: 3}") == R"({"a":3,"b":3})");  // jq 1.6 needs parentheses here
  CHECK(eval_str("1 # a comment\n + 1") == "2");
}

TEST_CASE("expr parser: every function compiles with its arity", "[expr][parser]") {
  const char* fns[] = {
      "length", "utf8bytelength", "startswith(\"a\")", "endswith(\"a\")", "contains(\"a\")",
      "test(\"a\")", "test(\"a\"; \"i\")", "ascii_downcase", "ascii_upcase", "ltrimstr(\"a\")",
      "rtrimstr(\"a\")", "split(\",\")", "join(\",\")", "has(\"a\")", "type", "tostring",
      "tonumber", "keys", "keys_unsorted", "select(.)", "not", "map(.)", "any", "any(.)", "all",
      "all(.)", "add", "abs", "floor", "ceil", "round", "sqrt", "min", "max", "tojson", "fromjson",
      "empty", "error", "error(\"x\")", "sort", "reverse", "first", "last", "values", "nulls",
      "to_entries", "isnan"};
  for (const char* f : fns) {
    INFO(f);
    auto compiled = ppipe::expr::compile(f);
    CHECK(std::holds_alternative<std::shared_ptr<const ppipe::expr::Program>>(compiled));
  }
}

TEST_CASE("expr parser: generators only inside [...] and map(...)", "[expr][parser]") {
  CHECK(eval_str("[.[] | . * 2]", "[1,2]") == "[2,4]");
  CHECK(eval_str("[.a[].b]", R"({"a":[{"b":1},{"b":2}]})") == "[1,2]");
  CHECK(eval_str("[.[]?]", "3") == "[]");
  CHECK(eval_str("[.a, .b]", R"({"a":1,"b":2})") == "[1,2]");
  CHECK(eval_str("[(1, 2) | . * 10]") == "[10,20]");
  CHECK(eval_str("map(.a, .b)", R"([{"a":1,"b":2}])") == "[1,2]");
  CHECK(eval_str("map(.[])", "[[1],[2,3]]") == "[1,2,3]");
  CHECK(eval_str("[.[] | select(. > 1)]", "[1,2,3]") == "[2,3]");
}

TEST_CASE("expr parser: compile errors carry a message and a column", "[expr][parser]") {
  struct Case {
    const char* expr;
    const char* message;
    std::size_t column;
  };
  const Case cases[] = {
      {"lenght", "unknown function 'lenght' (did you mean 'length'?)", 0},
      {".a | tostrin", "unknown function 'tostrin' (did you mean 'tostring'?)", 5},
      {"frobnicate", "unknown function 'frobnicate'", 0},
      {".a | ", "unexpected end of expression", 5},
      {".a )", "unexpected ')'", 3},
      {"(.a", "unexpected end of expression, expected ')'", 3},
      {"\"abc", "unterminated string", 0},
      {".a == \"x", "unterminated string", 6},
      {"\"a\\qb\"", "invalid escape '\\q' in string", 2},
      {"\"\\u12\"", "invalid \\u escape in string (need 4 hex digits)", 1},
      {"1 < 2 < 3", "comparison operators do not chain; add parentheses, e.g. (a < b) == true", 6},
      {"startswith", "function 'startswith' takes 1 argument, got 0 (usage: startswith(s))", 0},
      {"length(1)", "function 'length' takes 0 arguments, got 1 (usage: length)", 0},
      {"test(\"a\"; \"i\"; 1)", "function 'test' takes 1 or 2 arguments, got 3 (usage: test(re) or test(re; flags))", 0},
      {"if . then 1 else 2", "unexpected end of expression, expected 'end'", 18},
      {"if . 1 end", "expected 'then' but found '1'", 5},
      {"{a: 1", "unexpected end of expression, expected ',' or '}'", 5},
      {"{1: 2}", "expected an object key (name, \"string\" or (expression)) but found '1'", 1},
      {".a & .b", "unexpected character '&' (use 'and')", 3},
      {"!.a", "unexpected '!' (use 'not' or '!=')", 0},
      {"test(\"(\")", "( (at offset 0) is not a valid regex: missing ): (", 5},
      {"test(\"a\"; \"q\")", "q is not a valid modifier string", 10},
      {"then", "unexpected 'then'", 0},
      {"$x", "$x is not defined", 0},
      {"[.[] | $nope]", "$nope is not defined", 7},
      {"def f: 1; g", "g/0 is not defined", 10},
      {"input", "input is not supported: ppipe gives each record to the expression as its one input", 0},
      {"label $a | break $b", "$*label-b is not defined", 11},
  };
  for (const Case& c : cases) {
    INFO(c.expr);
    CompileError e = compile_error(c.expr);
    CHECK(e.message == c.message);
    CHECK(e.column == c.column);
  }
}

// What the fast path refuses compiles to the general engine (src/expr/jq), with jq's results.
TEST_CASE("expr: jq constructs beyond the fast path run on the general engine", "[expr][parser]") {
  struct Case {
    const char* expr;
    const char* input;
    const char* outputs;  // each output's compact JSON, one per line
  };
  const Case cases[] = {
      {"sort_by(.a)", R"([{"a":2},{"a":1}])", R"([{"a":1},{"a":2}])"},
      {".[]", "[1,[2]]", "1\n[2]"},
      {".a[] | .b", R"({"a":[{"b":1},{"b":null}]})", "1\nnull"},
      {".a, .b", R"({"a":1,"b":2})", "1\n2"},
      {"{a: (1, 2)}", "null", R"({"a":1})" "\n" R"({"a":2})"},
      {"[..]", "[[1]]", "[[[1]],[1],1]"},
      {"range(3)", "null", "0\n1\n2"},
      {"first(.[])", "[5,6]", "5"},
      {"reduce .[] as $x (0; . + $x)", "[1,2,3]", "6"},
      {"[foreach .[] as $x (0; . + $x; [$x, .])]", "[1,2]", "[[1,1],[2,3]]"},
      {"def f(g): [g, g]; f(.a)", R"({"a":1})", "[1,1]"},
      {". as [$a, {b: $c}] | $a + $c", R"([1,{"b":2}])", "3"},
      {"@base64", R"("hi")", R"("aGk=")"},
      {R"("a\(.b)c")", R"({"b":[1]})", R"("a[1]c")"},
      {".a = 1", "{}", R"({"a":1})"},
      {".a |= . + 1", R"({"a":1})", R"({"a":2})"},
      {".[] += 1", "[1,2]", "[2,3]"},
      {"to_entries", R"({"a":1})", R"([{"key":"a","value":1}])"},
      {"[paths]", R"({"a":[1]})", R"([["a"],["a",0]])"},
      {"del(.[1, 2])", "[1,2,3,4]", "[1,4]"},
      {"[limit(3; 1 | repeat(. * 2))]", "null", "[2,2,2]"},
      {"[.[] | select(. > 1)] | length", "[1,2,3]", "2"},
      {"label $out | 1, break $out, 2", "null", "1"},
      {"try error({a: 1}) catch .a", "null", "1"},
      {"[.[] as [$a] ?// $a | $a]", "[[1],2]", "[1,2]"},
      {"@csv \"\\(.)\"", R"([1,"a\"b"])", R"("1,\"a\"\"b\"")"},
      {".tags[] == \"x\"", R"({"tags":["x","y"]})", "true\nfalse"},
      {".items.[] | .name", R"({"items":[{"name":"a"}]})", R"("a")"},
      {".a = 1 and .b", R"({"b":false})", R"({"b":false,"a":false})"},
  };
  for (const Case& c : cases) {
    INFO(c.expr);
    auto r = ppipe::expr::compile(c.expr);
    REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(r));
    const Program& p = *std::get<std::shared_ptr<const Program>>(r);
    std::vector<std::string> outs;
    std::string err;
    CHECK(ppipe::expr::run_text(p, c.input, outs, &err));
    INFO(err);
    std::string joined;
    for (std::size_t i = 0; i < outs.size(); ++i) joined += (i ? "\n" : "") + outs[i];
    CHECK(joined == c.outputs);
  }
  for (const char* general : {".[] as $x | $x", "reduce .[] as [$x] (0; . + $x)", "foreach .[] as $x (0; . + $x)",
                              "reduce .[] as $x (0, 1; . + $x)", "\"\\(.a[])\"", "\"\\(.a, .b)\"",
                              "[.a, .b] | .[] as $x | $x", ".a[] + 1", "{k: .a[]}", ".a |= 1", "def f: 1; f", "$__loc__", "@csv \"\\(.a)\""}) {
    INFO(general);
    auto r = ppipe::expr::compile(general);
    REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(r));
    CHECK(ppipe::expr::is_general(*std::get<std::shared_ptr<const Program>>(r)));
  }
  // what the fast path takes stays on it
  for (const char* fast : {".a", ".status >= 500", "{host, n: (.x | length)}", "[.a[] | .b]", "map(.x)", ".[]", "[.a[] | . + 1]", ".a[] | . + 1",
                           ".tags[]?", ".a, .b", ".[] | .x", "(.a, .b) | length", "\"\\(.a)\"",
                           "\"\\(.host):\\(.port | tostring)!\"", "reduce .[] as $x (0; . + $x)",
                           "reduce .tags[]? as $t (0; . + ($t | length))", "[reduce (.a, .b) as $v ({}; . + $v)]"}) {
    INFO(fast);
    auto r = ppipe::expr::compile(fast);
    REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(r));
    CHECK_FALSE(ppipe::expr::is_general(*std::get<std::shared_ptr<const Program>>(r)));
  }
  // a generator at the top of a fast program: is_multi(), and evaluate() (one value expected)
  // says so for several values, as the general engine does
  for (const auto& [text, multi] : std::initializer_list<std::pair<const char*, bool>>{
           {".[]", true}, {".a, .b", true}, {".a | .b", false}, {"[.[]]", false}, {"\"\\(.a)\"", false}}) {
    INFO(text);
    auto r = ppipe::expr::compile(text);
    REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(r));
    CHECK(ppipe::expr::is_multi(*std::get<std::shared_ptr<const Program>>(r)) == multi);
  }
  {
    auto r = ppipe::expr::compile(".[]");
    const Program& p = *std::get<std::shared_ptr<const Program>>(r);
    simdjson::dom::parser parser;
    ppipe::expr::Scratch scratch;
    auto one = ppipe::expr::evaluate(p, parser.parse(std::string("[7]")).value(), scratch);
    REQUIRE(one.outcome == ppipe::expr::Outcome::kValue);
    CHECK(one.value.int_value() == 7);
    CHECK(ppipe::expr::evaluate(p, parser.parse(std::string("[]")).value(), scratch).outcome ==
          ppipe::expr::Outcome::kEmpty);
    CHECK(ppipe::expr::evaluate(p, parser.parse(std::string("[1,2]")).value(), scratch).outcome ==
          ppipe::expr::Outcome::kError);
    CHECK(ppipe::expr::error_message(scratch) == "the expression gave 2 values where one is expected");
  }
}

// Every output of `expr` on `input` (run_text), one per line, then "error: MESSAGE" if it failed.
std::string run_outputs(const std::string& expr, const std::string& input) {
  auto r = ppipe::expr::compile(expr);
  REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(r));
  std::vector<std::string> outs;
  std::string err;
  bool ok = ppipe::expr::run_text(*std::get<std::shared_ptr<const Program>>(r), input, outs, &err);
  std::string joined;
  for (std::size_t i = 0; i < outs.size(); ++i) joined += (i ? "\n" : "") + outs[i];
  return ok ? joined : joined + (joined.empty() ? "" : "\n") + "error: " + err;
}

// The fast path's top-level generators and string interpolation give what the general engine
// gives (the same source with `def i: .;` in front, which keeps it off the fast path), outputs
// and errors, on records of every kind. (Numbers print the same where the input text is the
// shortest form: the general engine keeps other texts, docs/expr.md.)
TEST_CASE("expr: fast generators and interpolation agree with the general engine", "[expr][parser]") {
  const char* programs[] = {
      ".[]", ".[]?", ".a[]", ".a[]?", ".a, .b", ".a, .b, .a", ".[] | .a", ".[]? | .a?", "(.a, .b) | length",
      ".a[] | select(. > 1)", ".a[], .b", "(.a[]?, .b) | tostring", ".[] | .[]?", ".a, error(\"x\"), .b",
      "\"\\(.a)\"", "\"<\\(.a)|\\(.b)>\"", "\"\\(.a) \\(.b | length) \\(.c)\"", "\"x\\(\"y\\(.a)z\")w\"",
      "\"\\(error(\"a\"))\\(error(\"b\"))\"", "\"\\(.a.x)\"", "\"\\(empty)\"", "\"\\(\")\")\\(.a)\"",
      "[.a[] | \"#\\(.)\"]", "{k: \"\\(.a)\"}", ".a[] | \"v=\\(.)\"", "\"\\u00e9\\(.a)\\n\"",
      "reduce .[] as $x (0; . + $x)", "reduce .[]? as $x (null; . + $x)", "reduce .a[]? as $x ([]; [$x] + .)",
      "reduce .[] as $x (0; empty)", "reduce .[]? as $x (0; if $x == 2 then empty else . + 1 end)",
      "reduce .a as $x (.; [$x, .b])", "reduce (.a[]?, .b) as $x (0; . + ($x | length))",
      "reduce .[]? as $x (0; reduce .[]? as $y (.; . + 1))", "reduce .[]? as $x (0; reduce $x as $x (.; $x))",
      "[.[]? | reduce .a as $v (1; $v)]", "\"\\(reduce .[]? as $x (0; . + 1))\"", "reduce .[]? as $x (0; error(\"e\"))",
      // a variable under a part that does not read the input is not folded at compile time
      "reduce .[]? as $x (0; 1 | $x)", "reduce .[]? as $x (0; \"a\" | \"\\($x)\")",
      "reduce .[]? as $x (0; [1,2] | map($x))", "reduce .[]? as $x ([]; . + [1 | if $x == 1 then 0 else 2 end])",
      // parts that read input fields: one scan of the members for all of them (Node::leads)
      "{a, b}", "{x: .a, y: .b.x, z: .a, w: .c[0]?}", "{a: .a, a: .b}", "\"\\(.a.x) \\(.a.y) \\(.b)\"",
      "[.[]? | {a, b: .b, c: (.a | length)}]", "\"\\(.b[0].a)-\\(.b[1].a)-\\(.c)\"", "{(.b | tostring): .a, c: .c}",
      // an array indexed by an array: where that run of elements starts (the fast path said
      // "Cannot index array with array")
      ".[[1]]", ".[[]]", ".[[2, 3]]", ".a[[1, 2]]", "[.[]?] | .[[{\"a\": 1}]]", ".[[[1]]]",
      // isnan of a non-number: false on both (the general engine raised an error)
      "isnan", ".a | isnan", "[.[]? | isnan]",
      // found by tests/fuzz/fast_general.py: has on null, reverse of strings and of things of
      // length 0, any/all stopping at the decisive element, `[]??` covering what comes before
      "has(\"a\")", "has(0)", "reverse", ".a | reverse", "any(.a)", "all(.a)", "any", "[.[]? | any(. == 1)]",
      ".[]??", "[.[]??]",
      // ... and on the wording of these errors (jq 1.6's)
      "error", "ascii_downcase", "ascii_upcase", "min", "max",
  };
  const char* inputs[] = {
      "null", "1", "\"s\"", "[]", "[1,2,3]", "{\"a\":[1,2,3],\"b\":\"x\"}", "{\"a\":\"str\",\"b\":null}",
      "{\"a\":{\"x\":1,\"y\":[true,null]},\"b\":[{\"a\":1},{\"a\":2}],\"c\":-2.5}",
      "[{\"a\":1},{\"a\":\"\u00e9\"},{\"b\":2}]", "{\"a\":[0.5,1e-07,-3],\"b\":{}}",
  };
  for (const char* program : programs) {
    auto fast = ppipe::expr::compile(program);
    REQUIRE(std::holds_alternative<std::shared_ptr<const Program>>(fast));
    INFO(program);
    CHECK_FALSE(ppipe::expr::is_general(*std::get<std::shared_ptr<const Program>>(fast)));
    for (const char* input : inputs) {
      INFO(input);
      CHECK(run_outputs(program, input) == run_outputs(std::string("def i: .; ") + program, input));
    }
  }
}

TEST_CASE("expr parser: habits from other languages get one hint", "[expr][parser]") {
  struct Case {
    const char* expr;
    const char* message;
    std::size_t column;
  };
  const Case cases[] = {
      {".a && .b", "'&&' is not an operator (use 'and')", 3},
      {".a || .b", "'||' is not an operator (use 'or'; '//' gives a default)", 3},
      {".a == 1 AND .b", "unexpected 'AND' (operators are lower case: 'and')", 8},
      {".a == 'x'", "strings use double quotes: \"x\", not 'x'", 6},
      {".a == 'it\"s'", "unexpected character ''' (strings use double quotes: \"...\")", 6},
      {".a == 'x", "unexpected character ''' (strings use double quotes: \"...\")", 6},
      {".a === 1", "'===' is not an operator (use ==)", 3},
      {".a !== 1", "'!==' is not an operator (use !=)", 3},
      {".a => 1", "'=>' is not an operator (use >= to compare)", 3},
      {".a =< 1", "'=<' is not an operator (use <= to compare)", 3},
      {".a <> 1", "'<>' is not an operator (use != for not equal)", 3},
      {".a =~ \"x\"", "'=~' is not an operator (use test(\"regex\") to match)", 3},
  };
  for (const Case& c : cases) {
    INFO(c.expr);
    CompileError e = compile_error(c.expr);
    CHECK(e.message == c.message);
    CHECK(e.column == c.column);
  }
  // What the hints point to compiles and does what was meant.
  CHECK(eval_str(".tags | any(. == \"x\")", R"({"tags":["y","x"]})") == "true");
  CHECK(eval_str(".items | map(.name)", R"({"items":[{"name":1},{"name":2}]})") == "[1,2]");
  // Inside strings and comments nothing is hinted.
  CHECK(eval_str("\"a && b || 'c' === d\" # && ||") == "\"a && b || 'c' === d\"");
}

TEST_CASE("expr parser: hostile input is an error, not a crash", "[expr][parser]") {
  CHECK(compile_error(std::string(10000, '(') + "1" + std::string(10000, ')')).message ==
        "expression nested too deeply");
  CHECK(compile_error(std::string(10000, '-') + "1").message == "expression nested too deeply");
  CHECK(compile_error(std::string(5000, '[')).message == "expression nested too deeply");
  CHECK(eval_str(std::string(50, '(') + "1" + std::string(50, ')')) == "1");
  const char* junk[] = {"", " ", "(", ")", "[", "{", "}", "{a:", "{(", ".[", ".[:", "..a", "\\", "\"\\",
                        "if", "if . then", "try", "reduce", "., .", "|", "| .", "?", ".a??", "-", "1 +",
                        "\"\\u", "\"\\ud800", "#", "not not", "{\"a\"", ".\"", "$__loc__", "@"};
  for (const char* j : junk) {
    INFO(j);
    auto compiled = ppipe::expr::compile(j);
    (void)compiled;  // must return (either way) without crashing
  }
  CHECK(compile_error("").message == "unexpected end of expression");
}

TEST_CASE("expr parser: format_compile_error draws a caret", "[expr][parser]") {
  std::string src = ".a | lenght";
  CompileError e = compile_error(src);
  CHECK(ppipe::expr::format_compile_error(src, e) ==
        "error in expression: unknown function 'lenght' (did you mean 'length'?)\n"
        "  .a | lenght\n"
        "       ^\n");
  // The caret counts characters, not bytes; only the offending line is shown, and named.
  std::string multi = ".x == 1 and\n  (.b";
  CompileError e2 = compile_error(multi);
  CHECK(ppipe::expr::format_compile_error(multi, e2) ==
        "error in expression: unexpected end of expression, expected ')' (line 2)\n"
        "    (.b\n"
        "       ^\n");
  std::string utf8 = "\"\xc3\xa9\" | lenght";  // "é" | lenght
  CompileError e4 = compile_error(utf8);
  CHECK(e4.column == 7);  // bytes
  CHECK(ppipe::expr::format_compile_error(utf8, e4) ==
        "error in expression: unknown function 'lenght' (did you mean 'length'?)\n"
        "  \"\xc3\xa9\" | lenght\n"
        "        ^\n");  // 6 characters
  CompileError e3 = compile_error(".\xc3\xa9x");  // ".éx": é is not an identifier character
  CHECK(e3.column == 1);
  CHECK(ppipe::expr::format_compile_error(".\xc3\xa9x", e3) ==
        "error in expression: unexpected character '\xc3\xa9'\n"
        "  .\xc3\xa9x\n"
        "   ^\n");
}

TEST_CASE("expr parser: constant folding", "[expr][parser]") {
  // jq 1.7: a constant division by zero is a run-time error (so `try (1/0) catch .` works)
  CHECK(eval_str("1 / 0") == "error: number (1) and number (0) cannot be divided because the divisor is zero");
  CHECK(eval_str("try (1 % 0) catch .") ==
        "\"number (1) and number (0) cannot be divided (remainder) because the divisor is zero\"");
  CHECK(eval_str("\"abc\" | length") == "3");
  CHECK(eval_str("[1, 2] + [3]") == "[1,2,3]");
  CHECK(eval_str("{a: [\"x\", \"y\"]} | .a[1]") == "\"y\"");
  CHECK(eval_str("(1, 2) as $x | 1") == "error: the expression gave 2 values where one is expected");
  // Other constant errors stay run-time errors (the branch may never run).
  CHECK(eval_str("\"a\" | startswith(1)") == "error: startswith() requires string inputs");
  CHECK(eval_str("if true then 1 else 1 + \"a\" end") == "1");
  // Not folded: depends on input, or has effects.
  CHECK(eval_str("[empty, 1]") == "[1]");
  CHECK(eval_str("error(\"x\")") == "error: x");
}

// Found by tests/fuzz/expr_fuzz (regressions/expr/invalid-utf8-string-literal): raw bytes of a
// string literal that are not UTF-8 went into the JSON output unchanged.
TEST_CASE("expr parser: invalid UTF-8 in a string literal becomes U+FFFD, as jq", "[expr][parser][fuzz]") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(eval_str("\"a\xBB" "b\"") == "\"a" + fffd + "b\"");                 // stray continuation byte
  CHECK(eval_str("\"\xC3\"") == "\"" + fffd + "\"");                         // truncated sequence
  CHECK(eval_str("\"\xE2\x82x\"") == "\"" + fffd + "x\"");                   // truncated 3-byte sequence
  CHECK(eval_str("\"\xC0\xAF\"") == "\"" + fffd + "\"");                     // overlong
  CHECK(eval_str("\"\xED\xA0\x80\"") == "\"" + fffd + "\"");                 // encoded surrogate
  CHECK(eval_str("\"\xF4\x90\x80\x80\"") == "\"" + fffd + "\"");             // beyond U+10FFFF
  CHECK(eval_str("\"\xFF\\u00e9\"") == "\"" + fffd + "\xC3\xA9\"");          // escapes stay
  CHECK(eval_str("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");  // valid: kept
  CHECK(eval_str("{\"k\xFF\": 1}") == "{\"k" + fffd + "\":1}");              // object keys too
  CHECK(eval_str(".[\"\xFF\"]", "{\"\xEF\xBF\xBD\":7}") == "7");
}

// Found by review, confirmed under tests/fuzz/expr_fuzz (regressions/expr/deep-*): chains built
// by loops or by unguarded recursion (`try try ...`, `1 // 1 // ...`, `.+.+...`, `.a???...`,
// `.[][]...`) overflowed the stack in the parser, the checks, evaluation or the destructor.
TEST_CASE("expr parser: deep chains are an error, not a stack overflow", "[expr][parser][fuzz]") {
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  CHECK(compile_error(repeat("try ", 50000) + ".").message == "expression nested too deeply");
  CHECK(compile_error(repeat("1 // ", 50000) + "1").message == "expression nested too deeply");
  CHECK(compile_error("{a: " + repeat(". | ", 50000) + ".}").message == "expression nested too deeply");
  CHECK(compile_error(repeat(".+", 50000) + ".").message == "expression nested too deeply");
  CHECK(compile_error(repeat(". or ", 50000) + ".").message == "expression nested too deeply");
  CHECK(compile_error(".a" + std::string(50000, '?')).message == "expression nested too deeply");
  CHECK(compile_error("." + repeat("[.]", 50000)).message == "expression nested too deeply");
  CHECK(compile_error("[" + repeat(".[]", 50000) + "]").message == "expression nested too deeply");
  CHECK(compile_error(repeat(".+", 50000) + ")").message == "unexpected ')'");  // freed while unwinding
  // Below the limits: fine.
  CHECK(eval_str(repeat(".+", 998) + ".", "1") == "999");
  CHECK(eval_str(".a" + std::string(998, '?'), R"({"a":2})") == "2");
  CHECK(eval_str(repeat("try ", 150) + "error(\"x\")") == "<empty>");
  CHECK(eval_str(repeat("null // ", 150) + "1") == "1");
  CHECK(eval_str("[" + repeat(".[]?", 150) + "]", "[[[1]]]") == "[]");
}

// Found by tests/fuzz (expr_fuzz on the general engine, and the differential run against jq:
// tests/fuzz/README.md, regressions/expr/general-*).
TEST_CASE("expr: general engine fixes from fuzzing", "[expr][parser][fuzz]") {
  auto run = [](const std::string& expr, const std::string& input = "null") { return run_outputs(expr, input); };
  const std::string fffd = "\xEF\xBF\xBD";
  // Raw invalid UTF-8 in a string literal of a general program: U+FFFD, as on the fast path.
  CHECK(run("[\"a\xBB" "b\", {\"k\xFF\": 1}][]") == "\"a" + fffd + "b\"\n{\"k" + fffd + "\":1}");
  CHECK(run("\"x\xFF\\(1)\xC3\"") == "\"x" + fffd + "1" + fffd + "\"");
  // A number literal that is not JSON (`.5`, `1.`, `007`) is written as a number, not as its text.
  CHECK(run("[.7777777777777777777, 1., 007, .5e1][]") == "0.7777777777777778\n1\n7\n5");
  CHECK(run("[1.000, 100000000000000000001][] as $x | $x") == "1.000\n100000000000000000001");  // JSON text: kept
  // Below 1e-4 a double prints with an exponent: the text of such a literal is kept as well (it
  // printed as 3e-12 while `1e7` and `-0.0` kept theirs, so a tojson's text read back differed).
  CHECK(run("def i: .; [1e7, 0.000000000003, -0.0, 0.0001, -0.00001234] | ., (tojson | fromjson | tojson)") ==
        "[1e7,0.000000000003,-0.0,0.0001,-0.00001234]\n\"[1e7,0.000000000003,-0.0,0.0001,-0.00001234]\"");
  CHECK(run("def f: .[]; [f]", "[0.000001, 0.00012]") == "[0.000001,0.00012]");
  // `T[]?`, `T.a?`, `T[k]?`, `T[a:b]?` cover only their own step, not T (jq's EACH_OPT / INDEX_OPT).
  CHECK(run("[1 | error(\"x\")][]?") == "error: x");
  CHECK(run("(\"x y\"[] + \"ab\")[]?") == "error: Cannot iterate over string (\"x y\")");
  // (`def i: .;` keeps these off the fast path, which has them right)
  CHECK(run("def i: .; [(1, 2) | error(\"y\")].a?") == "error: y");
  CHECK(run("def i: .; [.[] | (.a, \"s\")[0]?, ({} | .[0:1]?), (. | tostring)[]?]", "[{\"a\":[7]}]") == "[7]");
  CHECK(run("def i: .; [.[][]?]", "[1,[2]]") == "[2]");
  CHECK(run("def i: .; [.[] | .a?]", "[1,{\"a\":2}]") == "[2]");
  CHECK(run("(.[] | .a)?", "[1]") == "");  // a `?` after parentheses still covers the whole term
  CHECK(run("[3] | path(.[0].a?)") == "");
  CHECK(run("[1] | .a? = 3") == "[1]");
  // An error in the left side of `//` is an error (jq 1.6 and 1.7), in eval and in path mode.
  CHECK(run("def i: .; error(\"x\") // 1") == "error: x");
  CHECK(run("def i: .; [.[] | .a // 1]", "[{\"a\":false},3]") == "error: Cannot index number with string (\"a\")");
  CHECK(run("def i: .; [.[] | .a? // 1]", "[{\"a\":false},3]") == "[1,1]");
  CHECK(run("def i: .; path(.a // .b)", "[]") == "error: Cannot index array with string (\"a\")");
  CHECK(run("try error(0) // 1") == "1");  // (try error(0)) // 1
  // join: numbers and booleans as JSON, null as "", anything else an error (jq 1.7's definition).
  CHECK(run("def i: .; join(\",\")", "[\"1\",2,true,null]") == "\"1,2,true,\"");
  CHECK(run("def i: .; join(\",\")", "[\"1\",\"2\",[3]]") == "error: string (\"1,2,\") and array ([3]) cannot be added");
  // flatten of an object flattens its values (jq: `reduce .[] as $i ...`).
  CHECK(run("def i: .; flatten", "{\"a\":[1,[2]],\"b\":3}") == "[1,2,3]");
  CHECK(run("def i: .; flatten(1)", "{\"a\":[1,[2]],\"b\":{\"c\":[3]}}") == "[1,[2],{\"c\":[3]}]");
  CHECK(run("def i: .; flatten", "\"x\"") == "error: Cannot iterate over string (\"x\")");
  // foreach: an item whose update is empty leaves null as the state for the next (jq's LOADVN).
  CHECK(run("[foreach (1, 2, 3) as $x (0; if $x == 2 then empty else (. // 100) + $x end)]") == "[1,103]");
  CHECK(run("[foreach (1, 2) as $x (0; (., 10))]") == "[0,10,10,10]");
  // The JSON reader on a text starting with '+' (read before the start of the text).
  CHECK(run("def i: .; .", "+1") .rfind("error: invalid input", 0) == 0);
}

// A reduce takes a slot of the fast path's frame; 65,535 of them fill it. More is a compile
// error there (it was memory corruption: the slot numbers wrapped past the frame).
TEST_CASE("expr: more variables than the fast path's frame holds", "[expr][parser]") {
  std::string source = "[";
  for (int i = 0; i < 70000; ++i) source += (i ? ", " : "") + std::string("reduce .[] as $x (0; . + $x)");
  source += "] | length";
  auto r = ppipe::expr::compile(source);
  if (const auto* e = std::get_if<ppipe::expr::CompileError>(&r)) {
    CHECK(e->message == "too many variables");
  } else {
    CHECK(run_outputs(source, "[1]") == "70000");
  }
}

// run_outputs on the fast path and on the general engine (`def i: .;` keeps a program off the
// fast path): the two must agree; the fast path's outputs.
std::string both_engines(const std::string& expr, const std::string& input = "null") {
  std::string fast = run_outputs(expr, input);
  CHECK(fast == run_outputs("def i: .; " + expr, input));
  return fast;
}

// Found by a bug hunt against jq 1.6 on real data (each: jq's answer, or jq 1.7's where ppipe
// follows it). `def i: .;` keeps a program off the fast path, so both engines are checked.
TEST_CASE("expr: fixes from a bug hunt against jq", "[expr][parser]") {
  // group_by: a NaN key is a group of its own (comparing it with itself made empty groups for ever).
  CHECK(both_engines("[nan] | group_by(.)") == "[[null]]");
  CHECK(both_engines("[1, nan, nan] | group_by(.)") == "[[null],[null],[1]]");
  CHECK(both_engines("[{\"a\":nan},{\"a\":1}] | group_by(.a) | length") == "2");
  // range/3 with a step of 0 or NaN gives nothing (it gave `from` for ever).
  CHECK(both_engines("[range(0; 3; 0)]") == "[]");
  CHECK(both_engines("[range(0; 3; nan)]") == "[]");
  CHECK(both_engines("[limit(3; range(0; 3; .))]", "0") == "[]");
  CHECK(both_engines("[range(5; 0; -2)]") == "[5,3,1]");
  // @base64d/@base32d format strings: the parts are decoded (the check for an unknown format
  // decoded "[]" and failed); the literal text stays.
  CHECK(both_engines("@base64d \"\\(.x)\"", R"({"x":"YWJj"})") == "\"abc\"");
  CHECK(both_engines("@base64d \"plain\"") == "\"plain\"");
  CHECK(both_engines("@base32d \"<\\(.x)>\"", R"({"x":"MFRGG==="})") == "\"<abc>\"");
  CHECK(both_engines("@bogus \"\\(.)\"") == "error: bogus is not a valid format");
  // sub/gsub build the result with `+`: a null replacement adds nothing; others fail in jq's words.
  CHECK(both_engines(".s | gsub(\"(?<x>b)\"; .y)", R"({"s":"abc"})") == "\"ac\"");
  CHECK(both_engines(".s | sub(\"b\"; null)", R"({"s":"abc"})") == "\"ac\"");
  CHECK(both_engines(".s | gsub(\"b\"; 1)", R"({"s":"abc"})") == "error: string (\"a\") and number (1) cannot be added");
  // A computed key of an object pattern is evaluated against the value matched (jq: DUP, then the key).
  CHECK(both_engines("[.rows[] as {(.k): $v} | $v]", R"({"k":"x","rows":[{"k":"a","a":1},{"k":"b","b":2}]})") == "[1,2]");
  CHECK(both_engines(". as {rows: [{(.k): $v}]} | $v", R"({"k":"x","rows":[{"k":"a","a":1}]})") == "1");
  // join: native in the general engine (its reduce copied the string at every element); jq's
  // rules: null as "", numbers and booleans as JSON, an object's values, errors in + words.
  CHECK(both_engines("join(\",\")", R"(["x",1,null,true,2.5])") == "\"x,1,,true,2.5\"");
  CHECK(both_engines("join(\"-\")", R"({"a":"p","b":"q"})") == "\"p-q\"");
  CHECK(both_engines("join(\"-\")", "[]") == "\"\"");
  CHECK(both_engines("join(null)", R"(["a","b"])") == "\"ab\"");
  CHECK(both_engines("join(1)", R"(["a","b"])") == "error: string (\"a\") and number (1) cannot be added");
  CHECK(both_engines("join(\"-\")", "[[1]]") == "error: string (\"\") and array ([1]) cannot be added");
  CHECK(both_engines("[range(100000) | tostring] | join(\",\") | length") == "588889");
  // `. + A + B` on reduce's state is in place too (100,000 steps; it copied at each), and never
  // changes a value held elsewhere.
  CHECK(both_engines("[range(100000) | \"a\"] | reduce .[] as $x (\"\"; . + $x + \",\") | length") == "200000");
  CHECK(both_engines("\"s\" as $init | reduce range(3) as $x ($init; . + \"a\" + \"b\") | [., $init]") == "[\"sababab\",\"s\"]");
  CHECK(both_engines("[1] as $init | reduce range(2) as $x ($init; . + [$x] + [9]) | [., $init]") == "[[1,0,9,1,9],[1]]");
  CHECK(both_engines("reduce range(3) as $x (\"x\"; . + . + \"-\")") == "\"xx-xx--xx-xx---\"");
  CHECK(both_engines("[foreach range(3) as $x (\"\"; . + \"a\" + \"b\")]") == "[\"ab\",\"abab\",\"ababab\"]");
  // @csv, @tsv, @sh, @html write a NUL as \0, as jq's escape_string does.
  CHECK(both_engines("[.[] | @csv, @tsv, @sh] + [.[0][0] | @html]", R"([["a\u0000b"]])") ==
        R"(["\"a\\0b\"","a\\0b","'a\\0b'","a\\0b"])");
  // strftime of a date without its day of the week and of the year: from the date (was "Sun 001").
  CHECK(both_engines("[2015,2,5,23,51,47] | strftime(\"%a %j %Y-%m-%d\")") == "\"Thu 064 2015-03-05\"");
  CHECK(both_engines("[2015,2,5,23,51,47,4,63] | strftime(\"%a %j\")") == "\"Thu 064\"");
  // Recursion through a parameter every call gives one value: as deep as the recursion (it
  // stopped at 285 levels: each use of the parameter nested the whole chain of closures).
  // (1,000 levels: the tests run on the main thread's 8 MiB; ppipe's threads have 64 MiB, 5,000 pass)
  CHECK(both_engines("def f(n): if n <= 0 then 0 else 1 + f(n - 1) end; f(.n)", R"({"n":1000})") == "1000");
  CHECK(both_engines("def ack(m; n): if m == 0 then n + 1 elif n == 0 then ack(m - 1; 1) "
             "else ack(m - 1; ack(m; n - 1)) end; ack(3; 1)") == "13");
  CHECK(both_engines("def f(n): [n]; f(1), f(1, 2)") == "[1]\n[1,2]");
  CHECK(both_engines("def r(x): if x > 3 then x else r(x + 1) end; [r(0), r(2, 3)]") == "[4,4,5,4,5,3,4,4,5,4,5,3,4]");  // jq's
  // A fractional array index is cut toward zero in both engines, as jq 1.7's (int)didx (the fast
  // path gave null; both then rounded down: .[-1.5] was .[-2], .[-0.5] the last element).
  CHECK(both_engines("[.[1.7], .[-1.5], .[-0.5], .[2.9999], .[3.5], .[nan]]", "[10,20,30]") == "[20,30,10,30,null,null]");
  CHECK(both_engines("[del(.[-1.5]), (.[-1.5] = 9), del(.[1.7])]", "[10,20,30]") == "[[10,20],[10,20,9],[10,30]]");
  // A regex that is not a string: "is not a string" (the message said it "cannot be matched").
  CHECK(run_outputs("try sub(1; \"x\") catch .", "\"abc\"") == "\"number (1) is not a string\"");
  CHECK(run_outputs("try [splits(null)] catch .", "\"abc\"") == "\"null (null) is not a string\"");
  // indices of "" in a string: [] (jq 1.7's _strindices); index/rindex then null.
  CHECK(both_engines("[indices(\"\"), index(\"\"), rindex(\"\")]", "\"abc\"") == "[[],null,null]");
}

TEST_CASE("expr: number literals beyond 2^53 compare exactly in both engines, as jq 1.7", "[expr][parser]") {
  // The general engine compared the doubles: two distinct ids that round to one double were equal,
  // so unique and group_by dropped one, sort left them unsorted, index found the wrong one, while
  // the fast path (the same program without `def i: .;`) was exact (found by a bug hunt).
  const std::string ids = R"({"ids":[505874924095815682,505874924095815681],"a":505874924095815681,"b":505874924095815682})";
  CHECK(both_engines(".ids | sort", ids) == "[505874924095815681,505874924095815682]");
  CHECK(both_engines(".ids | unique", ids) == "[505874924095815681,505874924095815682]");
  CHECK(both_engines(".ids | group_by(.) | length", ids) == "2");
  CHECK(both_engines(".ids | sort_by(.)", ids) == "[505874924095815681,505874924095815682]");
  CHECK(both_engines(".ids | index(505874924095815681)", ids) == "1");
  CHECK(both_engines(".ids | indices(505874924095815681)", ids) == "[1]");
  CHECK(both_engines(".a == .b", ids) == "false");
  CHECK(both_engines(".a < .b", ids) == "true");
  CHECK(both_engines("13911860366432393 == 13911860366432392") == "false");  // jq.test (have_decnum)
  // Equal values in other spellings stay equal; -0 equals 0; the order of the doubles stands.
  CHECK(run_outputs("def i: .; [1.0, 1, 100e-2, 0.1e1, 10E-1] | unique | length", "null") == "1");
  CHECK(run_outputs("def i: .; [-0, 0, 0.0, -0e5] | unique | length", "null") == "1");
  CHECK(run_outputs("def i: .; [1e1000, 2e1000, 1e999, -1e1000] | sort", "null") == "[-1e1000,1e999,1e1000,2e1000]");
  CHECK(run_outputs("def i: .; [0.30000000000000004, 0.3, 0.1, 3e-1] | unique", "null") == "[0.1,0.3,0.30000000000000004]");
  CHECK(run_outputs("def i: .; [12345678901234567890123, 12345678901234567890122] | sort", "null") ==
        "[12345678901234567890122,12345678901234567890123]");
  CHECK(run_outputs("def i: .; [-9007199254740993, -9007199254740992] | sort", "null") ==
        "[-9007199254740993,-9007199254740992]");
  // Only integers are exact: a decimal is its double in both engines, and == stays transitive
  // (literals compared as decimals made 1e-400 == 0 true one way and false the other; found by a
  // review). An integer literal against a computed double: their exact values, as the fast path.
  CHECK(both_engines(".q == 0.1", R"({"q":0.10000000000000001})") == "true");
  CHECK(both_engines(".x as $a | .y as $b | [$a == $b, $b == 0, $a == 0]", R"({"x":1e-400,"y":0})") == "[true,true,true]");
  CHECK(both_engines("[.a, (.b + 0)] | unique | length", R"({"a":9007199254740993,"b":9007199254740992})") == "2");
  CHECK(both_engines(".a == .b + 0", R"({"a":9007199254740993,"b":9007199254740992})") == "false");
  CHECK(both_engines(".a == .b * 1", R"({"a":9007199254740992,"b":9007199254740992})") == "true");
  CHECK(run_outputs("def i: .; [1E3, 1000, 1000.0, 10e2] | unique | length", "null") == "1");
}

TEST_CASE("expr: sub/gsub with a replacement of several values give one result per value, as jq 1.7", "[expr][parser]") {
  // It gave every combination (k^matches results: 65,536 for 16 matches and two values); jq 1.7's
  // manual: "a corresponding stream", its onig.test the case below (found by a bug hunt).
  CHECK(both_engines("[gsub(\"p\"; \"a\", \"b\")]", "\"pp\"") == "[\"aa\",\"bb\"]");
  CHECK(both_engines("[gsub(\"(?<a>.)\"; \"\\(.a|ascii_upcase)\", \"\\(.a|ascii_downcase)\", \"c\")]", "\"aB\"") ==
        "[\"AB\",\"ab\",\"cc\"]");
  CHECK(both_engines("[gsub(\"a\"; \"x\", \"y\")] | length", "\"aaaaaaaaaaaaaaaa\"") == "2");
  CHECK(both_engines("[sub(\"a\"; \"x\", \"y\")]", "\"bab\"") == "[\"bxb\",\"byb\"]");
  // The replacement's values are all made before they are added: its error is the one reported.
  CHECK(both_engines("try gsub(\"b\"; 1, error(\"boom\")) catch .", "\"abc\"") == "\"boom\"");
  // No value, or no match: the input (jq's `// $in`).
  CHECK(both_engines("[gsub(\"a\"; empty)]", "\"xa\"") == "[\"xa\"]");
  CHECK(both_engines("[gsub(\"z\"; \"a\", \"b\")]", "\"xa\"") == "[\"xa\"]");
  // A match with fewer values adds to the first results only; a later result starts at its match.
  CHECK(both_engines("[gsub(\"(?<d>[0-9])\"; if .d == \"1\" then \"A\" else (\"B\", \"C\") end)]", "\"x1y2z\"") ==
        "[\"xAyBz\",\"yCz\"]");
}

TEST_CASE("expr: objects of many keys keep jq's rules for duplicates, + and * (found by a hash past 128 keys)", "[expr][parser]") {
  // A record of 300 keys that repeats k5 and k80 (the last value wins, in the first place), and
  // objects added and compared: the same as the general engine gives (jq's own object).
  std::string rec = "{";
  for (int i = 0; i < 300; ++i) rec += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  rec += "\"k5\":\"five\",\"k80\":[80],\"z\":1}";
  auto both = [&](const std::string& expr) { return both_engines(expr, rec); };
  CHECK(both("keys_unsorted | length") == "301");
  CHECK(both("tojson | fromjson | [length, .k5, .k80, (keys_unsorted | .[5], .[300])]") == "[301,\"five\",[80],\"k5\",\"z\"]");
  // fromjson of text that repeats keys, past the scan's 128 members (fromjson scanned: quadratic).
  std::string text;
  ppipe::append_json_string(text, rec);
  CHECK(run_outputs("fromjson | [length, .k5, .k80, (keys_unsorted | .[5], .[80])]", text) ==
        "[301,\"five\",[80],\"k5\",\"k80\"]");
  CHECK(run_outputs("def i: .; fromjson | [length, .k5, .k80, (keys_unsorted | .[5], .[80])]", text) ==
        "[301,\"five\",[80],\"k5\",\"k80\"]");
  CHECK(both("keys_unsorted[5], .k5, .k80, (to_entries | .[80].value)") == "\"k5\"\n\"five\"\n[80]\n[80]");
  CHECK(both("to_entries | map(.key) | .[298:]") == "[\"k298\",\"k299\",\"z\"]");
  CHECK(both(". + {\"k7\": \"seven\", \"new\": 1} | [.k7, .new, (keys_unsorted | .[7], length)]") == "[\"seven\",1,\"k7\",302]");
  CHECK(both(". * {\"k80\": {\"a\": 1}, \"k90\": 9} | [.k80, .k90, (keys_unsorted | length)]") == "[{\"a\":1},9,301]");
  CHECK(both(". == (to_entries | from_entries)") == "true");
  CHECK(both(". == (.k299 = 0)") == "false");
  CHECK(both("[., (.z = 0)] | sort | .[0].z") == "0");
}

TEST_CASE("expr: jq builtins isfinite, erf, erfc, jn, yn, remainder, format/1, lgamma_r; fromdate with a line end", "[expr][parser]") {
  // They were "unknown function" (docs/expr.md promises jq's builtins), lgamma_r lost gamma's
  // sign, and a date followed by white space failed where jq reads it (found by a bug hunt).
  CHECK(run_outputs("[1, nan, infinite, -infinite, \"a\"] | map(isfinite)", "null") == "[true,true,false,false,false]");
  CHECK(run_outputs("[(1 | erf), (2 | erfc)]", "null") == "[0.8427007929497149,0.004677734981047265]");
  CHECK(run_outputs("[remainder(7; 2), remainder(-7; 2)]", "null") == "[-1,1]");
  CHECK(run_outputs("[jn(0; 0), yn(1; 1) < 0]", "null") == "[1,true]");
  CHECK(run_outputs("[1, \"a,b\"] | format(\"csv\"), format(\"tsv\"), format(\"json\")", "null") ==
        "\"1,\\\"a,b\\\"\"\n\"1\\ta,b\"\n\"[1,\\\"a,b\\\"]\"");
  CHECK(run_outputs("try format(1) catch .", "null") == "\"number (1) is not a valid format\"");
  CHECK(run_outputs("try format(\"bogus\") catch .", "null") == "\"bogus is not a valid format\"");
  CHECK(run_outputs("-0.5 | lgamma_r", "null") == "[1.2655121234846454,-1]");
  CHECK(run_outputs("3 | lgamma_r", "null") == "[0.6931471805599453,1]");
  CHECK(run_outputs("\"2015-03-05T23:51:47Z\\n\" | fromdate", "null") == "1425599507");
  CHECK(run_outputs("try (\"2015-03-05T23:51:47Zx\" | fromdate) catch .", "null") ==
        "\"date \\\"2015-03-05T23:51:47Zx\\\" does not match format \\\"%Y-%m-%dT%H:%M:%SZ\\\"\"");
}
