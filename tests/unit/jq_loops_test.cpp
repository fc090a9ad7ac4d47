// The general engine's loops (src/expr/jq): which expressions give at most one value
// (Node::single, mark_single), the loops that rely on it (until, while, recurse), and reduce's
// state changed in place: never a value that something else still holds.
#include <catch2/catch.hpp>

#include <string>

#include "src/expr/jq/jq.h"

namespace {

namespace jq = ppipe::expr::jq;

// Whether the program's top expression is marked single, "unknown" when not ("error: ..." if it
// does not compile). The marking is conservative: a user function is never known single.
std::string single(const std::string& source) {
  jq::CompileFailure failure;
  auto p = jq::compile(source, jq::J::object(), &failure);
  if (!p) return "error: " + failure.message;
  return p->root->single ? "single" : "unknown";
}

// Every output of the program on `input` (JSON), as `jq -c` lines; an error as "error: ...".
std::string run(const std::string& source, const std::string& input) {
  jq::CompileFailure failure;
  auto p = jq::compile(source, jq::J::object(), &failure);
  if (!p) return "compile error: " + failure.message;
  jq::J in;
  std::string out, error;
  if (!jq::parse_json(input, in, &error)) return "bad input: " + error;
  bool ok = jq::run(*p, in, jq::RunContext{}, [&](const jq::J& v) { out += jq::to_json(v) + "\n"; }, &error);
  if (!ok) out += "error: " + error + "\n";
  return out;
}

}  // namespace

TEST_CASE("mark_single: expressions that give at most one value", "[jq][loops]") {
  for (const char* s : {".", "1", ".a", ".a.b[0]", ". + 1", "[.[]]", "{a: .b, c: 1}", "\"x\\(.a)\"", "$ENV",
                        "if . then 1 else empty end", "try .a catch 0", ".a // 1", "-.", "length", "tostring",
                        "select(. > 1)", "map(. + 1)", "reduce .[] as $x (0; . + $x)", ".a = 1", ".a |= . + 1",
                        ". as $x | $x + 1", "error(\"x\")", "empty", "first(.[])", "not", "map(.[])",
                        "any(.[]; . > 1)", "def f: 1; f", "def f(g): 1; f(.[])", "def f: if . then f else 1 end; f",
                        "def fib: if . < 2 then . else (. - 1 | fib) + (. - 2 | fib) end; fib",
                        // a parameter every call gives one value is single inside the body
                        "def f(g): g; f(1)", "def f(n): if n <= 0 then 0 else 1 + f(n - 1) end; f(.a)",
                        "def ack(m; n): if m == 0 then n + 1 elif n == 0 then ack(m - 1; 1) "
                        "else ack(m - 1; ack(m; n - 1)) end; ack(2; 3)"})
  {
    CAPTURE(s);
    CHECK(single(s) == "single");
  }
  for (const char* s : {".[]", "1, 2", "..", "range(3)", "recurse", "limit(2; .[])", ".[] | .a", ". + (1, 2)",
                        "[.[]] | .[]", "foreach .[] as $x (0; . + $x)", "select(.[])", "map(.) | .[]",
                        "def f: 1, 2; f", "def length: 1, 2; length", "def f: 1, f; f",
                        "def f(g): g; f(1, 2)", "def f(g): g; f(1), f(.[])", "def f(g): [g]; f(1) | .[]",
                        "def f: def g: 1, 2; g; f", ".a = (1, 2)", "if .[] then 1 else 2 end",
                        ". as [$a] ?// $a | $a", "splits(\"a\")", "until(. > 1; . + 1)"})
  {
    CAPTURE(s);
    CHECK(single(s) == "unknown");
  }
}

TEST_CASE("until, while, recurse: a loop when their functions give one value, jq's recursion otherwise",
          "[jq][loops]") {
  CHECK(run("until(. > 100000; . + 1)", "0") == "100001\n");
  CHECK(run("[while(. < 5; . + 2)]", "0") == "[0,2,4]\n");
  CHECK(run("last(while(. < 100000; . + 1))", "0") == "99999\n");
  CHECK(run("[recurse(if . < 3 then . + 1 else empty end)]", "0") == "[0,1,2,3]\n");
  CHECK(run("[recurse(. + 1; . < 3)]", "0") == "[0,1,2]\n");
  CHECK(run("[recurse(if . < 100000 then . + 1 else empty end)] | length", "0") == "100001\n");
  // generators: jq's definitions, the same order
  CHECK(run("[recurse(.[]?)]", "[[1],2]") == "[[[1],2],[1],1,2]\n");
  CHECK(run("[until(. > 2; . + 1, . + 2)]", "0") == "[3,4,3,3,4]\n");
  CHECK(run("[limit(5; repeat(1, 2))]", "0") == "[1,2,1,2,1]\n");
  CHECK(run("[while(. < 2; . + 1, . + 1)]", "0") == "[0,1,1]\n");
  // an error in the loop is the record's, and try catches it as in jq
  CHECK(run("try until(. > 3; if . == 2 then error(\"two\") else . + 1 end) catch .", "0") == "\"two\"\n");
  CHECK(run("[.[] | until(. > 3; . * 2)]", "[1, null]") ==
        "error: null (null) and number (2) cannot be multiplied\n");
  // path mode keeps the definitions
  CHECK(run("[path(recurse(.a; . != null))]", "{\"a\":{\"a\":null}}") == "[[],[\"a\"]]\n");
}

TEST_CASE("recursive functions: as deep as their recursion, not as their calls", "[jq][loops]") {
  // Both operands of `+` call the function: each is evaluated to its value before the other runs.
  CHECK(run("def fib: if . < 2 then . else (. - 1 | fib) + (. - 2 | fib) end; 25 | fib", "null") == "75025\n");
  CHECK(run("def s: if type == \"array\" then (.[0] | s) + (.[1:] | if length == 0 then 0 else s end) else . end; s",
            "[[1,[2,3]],[4,[5,[6]]]]") == "21\n");
  // a generator operand keeps jq's order of outputs (the right side's outer loop)
  CHECK(run("def f: (1, 2); [f + (10, 20)]", "null") == "[11,12,21,22]\n");
  CHECK(run("def f: if . > 0 then (. - 1 | f) + 1 else 0 end; 1500 | f", "null") == "1500\n");  // (8 MiB: this thread)
}

TEST_CASE("reduce and foreach change their state in place, never a value held elsewhere", "[jq][loops]") {
  CHECK(run("reduce range(100000) as $i ([]; . + [$i]) | length", "null") == "100000\n");
  CHECK(run("reduce range(5) as $i ({}; .[$i | tostring] = $i)", "null") == "{\"0\":0,\"1\":1,\"2\":2,\"3\":3,\"4\":4}\n");
  CHECK(run("reduce range(3) as $i ({}; .a += [$i])", "null") == "{\"a\":[0,1,2]}\n");
  CHECK(run("reduce range(3) as $i ({a: []}; .a |= . + [$i])", "null") == "{\"a\":[0,1,2]}\n");
  CHECK(run("reduce range(3) as $i (\"\"; . + \"x\")", "null") == "\"xxx\"\n");
  CHECK(run("[foreach range(4) as $i ([]; . + [$i]; length)]", "null") == "[1,2,3,4]\n");
  // the initial value is the input, a variable, or a member: they keep their value
  CHECK(run(". as $o | reduce range(3) as $i ($o; . + [$i]) | [., $o]", "[9]") == "[[9,0,1,2],[9]]\n");
  CHECK(run("[., reduce range(2) as $i (.; . + [$i])]", "[9]") == "[[9],[9,0,1]]\n");
  CHECK(run(". as $o | reduce range(2) as $i ($o; .a += [$i]) | [., $o]", "{\"a\":[]}") ==
        "[{\"a\":[0,1]},{\"a\":[]}]\n");
  CHECK(run(". as $o | reduce range(2) as $i ($o; .a |= . + [$i]) | [., $o]", "{\"a\":[]}") ==
        "[{\"a\":[0,1]},{\"a\":[]}]\n");
  CHECK(run(".a as $a | reduce range(2) as $i (.; .a += [$i]) | [., $a]", "{\"a\":[5]}") ==
        "[{\"a\":[5,0,1]},[5]]\n");
  // the state added to itself, and kept by foreach's outputs
  CHECK(run("reduce range(3) as $i ([1]; . + .)", "null") == "[1,1,1,1,1,1,1,1]\n");
  CHECK(run("[foreach range(3) as $i ([]; . + [$i])]", "null") == "[[0],[0,1],[0,1,2]]\n");
  // several values of the update: the last is the state, as before
  CHECK(run("reduce range(3) as $i ([]; . + [$i], . + [-$i])", "null") == "[-0,-1,-2]\n");
  CHECK(run("reduce range(2) as $i ({a: [1]}; .a |= (. + [$i], . + [-1]))", "null") == "{\"a\":[1,0,1]}\n");
  CHECK(run("reduce range(2) as $i ({}; .a |= empty)", "null") == "{}\n");
  CHECK(run("try (reduce range(3) as $i ([]; . + {})) catch .", "null") ==
        "\"array ([]) and object ({}) cannot be added\"\n");
}
