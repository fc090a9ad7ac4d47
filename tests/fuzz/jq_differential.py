#!/usr/bin/env python3
"""Differential fuzzing of ppipe's expression language against jq (tests/fuzz/README.md).

Generates random jq programs from the grammar (paths, generators, bindings and destructuring,
reduce/foreach, def with parameters and recursion, if/try/?/`//`, string interpolation, formats,
assignment, common builtins) and small random JSON inputs; runs each through `jq -c` and through
ppipe (build-fuzz/jq_driver: expr::compile, then the fast path or the general engine), and compares
the outputs as JSON values (numbers by value, object keys in order) and error-vs-no-error.

  tests/fuzz/jq_differential.py [--minutes 20] [--seed N] [--jq /usr/bin/jq]
                                [--driver build-fuzz/jq_driver] [--out build-fuzz/jqdiff]

Differences go to OUT/differences.jsonl, each with the class of a known difference (KNOWN below)
when one matches, and a summary (counts per class) is printed at the end. Unclassified ones are the
ones to look at.
"""
import argparse
import json
import os
import random
import re
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------------------------------------
# Program generator


class Gen:
    def __init__(self, rng):
        self.r = rng

    def weighted(self, opts):
        """One of the (weight, function) pairs' functions, by weight (None in the rare float miss)."""
        x = self.r.uniform(0, sum(w for w, _ in opts))
        for w, f in opts:
            x -= w
            if x <= 0:
                return f
        return None

    def choice(self, xs):
        return self.r.choice(xs)

    def program(self):
        self.fns = []  # (name, kind) in scope: kind "0" (no params), "f" (one filter), "v" ($a)
        self.nfn = 0
        return self.expr(4, [])

    # A filter. d: depth budget; vs: variable names in scope.
    def expr(self, d, vs):
        r = self.r.random()
        if d <= 0 or r < 0.25:
            return self.term(d, vs)
        ops = [
            (8, lambda: f"{self.expr(d - 1, vs)} | {self.expr(d - 1, vs)}"),
            (5, lambda: f"{self.expr(d - 1, vs)}, {self.expr(d - 1, vs)}"),
            (6, lambda: f"{self.post(d - 1, vs)} {self.choice(['+', '-', '*', '/', '%'])} {self.post(d - 1, vs)}"),
            (5, lambda: f"{self.post(d - 1, vs)} {self.choice(['==', '!=', '<', '<=', '>', '>='])} {self.post(d - 1, vs)}"),
            (3, lambda: f"{self.post(d - 1, vs)} {self.choice(['and', 'or'])} {self.post(d - 1, vs)}"),
            (4, lambda: f"{self.post(d - 1, vs)} // {self.post(d - 1, vs)}"),
            (6, lambda: self.binding(d, vs)),
            (4, lambda: self.reduce(d, vs)),
            (3, lambda: self.define(d, vs)),
            (4, lambda: self.cond(d, vs)),
            (3, lambda: f"try {self.post(d - 1, vs)}" + (f" catch {self.post(d - 1, vs)}" if self.r.random() < 0.5 else "")),
            (5, lambda: self.assign(d, vs)),
            (2, lambda: f"label $out | {self.expr(d - 1, vs)} | ., break $out"),
            (2, lambda: f"label $out | foreach ({self.expr(d - 1, vs)}) as $i (0; . + 1; if . > {self.r.randint(0, 3)} then ., break $out else $i end)"),
        ]
        f = self.weighted(ops)
        return f() if f else ops[0][1]()

    # A postfix term, safe as an operand of a binary operator.
    def post(self, d, vs):
        t = self.term(d, vs)
        if self.r.random() < 0.15 and t not in (".", ".."):
            t = f"{t}{self.choice(['?', '[]?', '.a', '[0]', '[1:]', '[]'])}"
        return t

    def path(self, d, vs):
        """A path expression (for assignment, del, path, paths)."""
        opts = [".a", ".b", ".[0]", ".[-1]", ".[]", ".a.b", ".[1:]", ".[:1]", ".a[0]", ".[]?", "..",
                f".[] | select({self.cmp(vs)})", "(.a, .b)", ".a // .b", "first(.[])", "getpath([\"a\"])",
                "if type == \"array\" then .[0] else .a end", ".[\"a\"]?", "(.a | .b)", "empty", "recurse(.[]?)"]
        return self.choice(opts)

    def cmp(self, vs):
        return self.choice(["type == \"number\"", ". == 1", ". != null", "type == \"string\"", ". > 1",
                            "(numbers | . > 0)", "length > 1"] + [f". == ${v}" for v in vs])

    def lit(self):
        return self.choice(["0", "1", "2", "-1", "0.5", "3", "10", "null", "true", "false", "\"a\"", "\"b\"", "\"\"",
                            "\"a,b\"", "\"ab\"", "\"1\"", "[]", "{}", "[1,2]", "{\"a\":1}", "1e3", "\"x y\""])

    def term(self, d, vs):
        d1 = d - 1
        opts = [
            (10, lambda: self.choice([".", ".a", ".b", ".[0]", ".[1]", ".[-1]", ".[1:]", ".[:2]", ".[]", ".[]?", "..", ".a.b", ".a?", ".[\"b\"]"])),
            (8, lambda: self.lit()),
            (6, lambda: f"[{self.expr(d1, vs)}]" if self.r.random() < 0.9 else "[]"),
            (4, lambda: self.obj(d1, vs)),
            (4, lambda: f"({self.expr(d1, vs)})"),
            (4, lambda: f"${self.choice(vs)}" if vs else "."),
            (3, lambda: f"range({self.choice(['0', '1', '2', '3', '-1'])}; {self.choice(['0', '2', '3', '5'])})" if self.r.random() < 0.4 else f"range({self.choice(['0', '1', '2', '3', '4'])})"),
            (4, lambda: self.string(d1, vs)),
            (12, lambda: self.builtin(d1, vs)),
            (3, lambda: f"({self.post(d1, vs)}?)"),
            (2, lambda: f"-{self.post(d1, vs)}" if self.r.random() < 0.5 else f"-({self.expr(d1, vs)})"),
            (2, lambda: self.call_fn(d1, vs)),
        ]
        if d <= 0:
            opts = opts[:2] + opts[5:6]
        f = self.weighted(opts)
        return f() if f else "."

    def obj(self, d, vs):
        n = self.r.randint(0, 3)
        parts = []
        for _ in range(n):
            k = self.r.random()
            if k < 0.4:
                parts.append(f"{self.choice(['a', 'b', 'c'])}: ({self.expr(d, vs)})")
            elif k < 0.55:
                parts.append(self.choice(["a", "b"]))
            elif k < 0.7 and vs:
                parts.append(f"${self.choice(vs)}")
            elif k < 0.85:
                parts.append(f"\"{self.choice(['a', 'k', 'x y'])}\": ({self.expr(d, vs)})")
            else:
                parts.append(f"({self.post(d, vs)} | tostring): ({self.post(d, vs)})")
        return "{" + ", ".join(parts) + "}"

    def string(self, d, vs):
        pre = self.choice(["", "@base64 ", "@json ", "@html ", "@uri ", "@sh ", "@text ", "@csv ", "@tsv "]) if self.r.random() < 0.3 else ""
        if pre in ("@csv ", "@tsv "):
            inner = f"[{self.expr(d, vs)}]"
        else:
            inner = self.expr(d, vs)
        return f"{pre}\"{self.choice(['', 'x', 'a-', '<&>'])}\\({inner}){self.choice(['', 'y', ' z'])}\""

    def cond(self, d, vs):
        d1 = d - 1
        c = self.post(d1, vs) if self.r.random() < 0.6 else self.cmp(vs)
        if self.r.random() < 0.3:
            return f"if {c} then {self.expr(d1, vs)} elif {self.cmp(vs)} then {self.expr(d1, vs)} else {self.expr(d1, vs)} end"
        return f"if {c} then {self.expr(d1, vs)} else {self.expr(d1, vs)} end"

    def fresh(self, vs):
        for name in ["x", "y", "z", "a", "b", "c"]:
            if name not in vs:
                return name
        return "w"

    def binding(self, d, vs):
        d1 = d - 1
        src = f"({self.expr(d1, vs)})" if self.r.random() < 0.7 else self.term(0, vs)
        k = self.r.random()
        if k < 0.5:
            v = self.fresh(vs)
            return f"{src} as ${v} | {self.expr(d1, vs + [v])}"
        if k < 0.7:
            a = self.fresh(vs)
            b = self.fresh(vs + [a])
            return f"{src} as [${a}, ${b}] | {self.expr(d1, vs + [a, b])}"
        if k < 0.85:
            a = self.fresh(vs)
            b = self.fresh(vs + [a])
            pat = self.choice([f"{{a: ${a}, ${b}}}", f"{{\"a\": ${a}, b: [${b}]}}", f"{{${a}, ${b}}}"])
            if pat == f"{{${a}, ${b}}}":
                # {$a, $b} binds $a to .a
                return f"{src} as {pat} | {self.expr(d1, vs + [a, b])}"
            return f"{src} as {pat} | {self.expr(d1, vs + [a, b])}"
        a = self.fresh(vs)
        return f"{src} as [${a}] ?// ${a} | {self.expr(d1, vs + [a])}"

    def reduce(self, d, vs):
        d1 = d - 1
        v = self.fresh(vs)
        gen = self.choice([".[]?", "range(4)", self.post(d1, vs), "..", "(.[]?, 1)"])
        init = self.choice(["0", "[]", "null", ".", "{}", "\"\""])
        upd = self.choice([f". + ${v}", f". + [${v}]", f"[., ${v}]", f"{self.expr(d1, vs + [v])}", f"if ${v} == null then . else ${v} end", f".[${v} | tostring] = ${v}"])
        if self.r.random() < 0.5:
            return f"reduce {gen} as ${v} ({init}; {upd})"
        ext = f"; {self.expr(d1, vs + [v])}" if self.r.random() < 0.5 else ""
        return f"foreach {gen} as ${v} ({init}; {upd}{ext})"

    def define(self, d, vs):
        d1 = d - 1
        self.nfn += 1
        name = f"f{self.nfn}"
        k = self.r.random()
        if k < 0.3:
            body = self.expr(d1, vs)
            self.fns.append((name, "0"))
            rest = self.expr(d1, vs)
            return f"def {name}: {body}; {rest}"
        if k < 0.55:
            body = self.choice(["[g, g]", "g | g", "g + 1", "first(g)", "[.[]? | g]", "reduce g as $q (0; . + 1)", "if g then 1 else 2 end"])
            self.fns.append((name, "f"))
            return f"def {name}(g): {body}; {self.expr(d1, vs)}"
        if k < 0.75:
            body = self.choice(["$p + 1", "[$p, .]", "$p | length", ". as $q | $p", "[$p[]?]", "$p // ."])
            self.fns.append((name, "v"))
            return f"def {name}($p): {body}; {self.expr(d1, vs)}"
        # recursion, bounded by its input
        body = self.choice([
            f"if type == \"number\" and . > 0 and . < 20 then . - 1 | {name} else . end",
            f"if type == \"array\" then map({name}) elif type == \"object\" then map_values({name}) else [.] end",
            f"if type == \"array\" and length > 0 then .[1:] | {name} else . end",
            f"(.[]? | {name}), .",
            f"def r($n): if $n > 0 then r($n - 1) + [$n] else [] end; r(3)",
        ])
        self.fns.append((name, "0"))
        return f"def {name}: {body}; {self.expr(d1, vs)}"

    def call_fn(self, d, vs):
        if not getattr(self, "fns", None):
            return "."
        name, kind = self.choice(self.fns)
        if kind == "0":
            return name
        return f"{name}({self.expr(d, vs)})"

    def assign(self, d, vs):
        d1 = d - 1
        p = self.path(d1, vs)
        op = self.choice(["=", "|=", "+=", "-=", "*=", "//=", "|=", "="])
        rhs = self.post(d1, vs) if op != "|=" else self.choice([". + 1", "tostring", "[.]", "empty", "length", ". // 0", "not", self.post(d1, vs)])
        return f"{p} {op} {rhs}"

    def builtin(self, d, vs):
        e = lambda: self.expr(d, vs)
        p = lambda: self.post(d, vs)
        one = ["length", "keys", "keys_unsorted", "add", "to_entries", "from_entries", "tostream", "tojson", "tostring",
               "type", "not", "sort", "unique", "min", "max", "reverse", "flatten", "first", "last", "paths",
               "leaf_paths", "ascii_downcase", "ascii_upcase", "explode", "floor", "sqrt", "values", "nulls",
               "numbers", "strings", "arrays", "objects", "iterables", "scalars", "any", "all", "tonumber",
               "utf8bytelength", "transpose", "@base64", "@base64d", "@text", "@json", "@html", "@uri", "@csv",
               "@tsv", "@sh", "recurse", "empty", "isnan", "infinite | tostring", "nan | isnan", "fromjson",
               "[paths]", "[..]", "[.[]?]", "input_line_number", "ascii", "implode", "error", "splits(\",\")",
               "combinations", "to_entries | from_entries", "[tostream] | fromstream(.[])", "tojson | fromjson",
               "getpath([\"a\"])", "getpath([0, \"a\"])", "[paths(type == \"number\")]", "[leaf_paths]", "env | type",
               "builtins | length > 10", "isvalid(.a)", "halt_error", "input", "$__loc__", "splits(\"a\")",
               "ltrimstr(\"a\")", "rtrimstr(\"b\")", "startswith(\"a\")", "endswith(\"b\")", "join(\",\")",
               "join(\"-\")", "split(\",\")", "split(\"\")", "test(\"a\")", "test(\"A\"; \"i\")", "sub(\"a\"; \"X\")",
               "gsub(\"a\"; \"X\")", "gsub(\"(?<l>[a-z])\"; \"<\\(.l)>\")", "[match(\"a\"; \"g\") | .offset]",
               "capture(\"(?<x>a)\")", "[scan(\"a\")]", "indices(1)", "indices(\"a\")", "index(\"a\")", "rindex(\"a\")",
               "has(\"a\")", "has(0)", "contains(\"a\")", "contains([1])", "contains({a: 1})", "inside([1,2,3])",
               "inside(\"abc\")", "in({\"a\":1})", "nth(1)", "del(.a)", "del(.[0])", "del(.[])", "del(..)",
               "to_entries | map(.key)", "with_entries(.value |= tostring)", "map_values(. + 1)", "map(type)",
               "tostring | length", "ascii_downcase? // .", "@base32", "@base32d", "limit(0; .[]?)", "walk(.)",
               "splits(\"b\"; \"g\")", "getpath([])", "setpath([]; 1)", "setpath([\"a\"]; 1)", "setpath([0]; 1)",
               "delpaths([[\"a\"]])", "delpaths([[0], [1]])", "paths(..)", "pick(.a)", "abs", "toarray", "trim",
               "ltrimstr(1)", "significand", "getpath([\"a\",\"b\"])", "error(null)", "[limit(3; repeat(1))]",
               "[limit(2; .[]?)]", "first(empty)", "isempty(.[]?)", "[range(0; 10; 3)]", "[range(5; 0; -2)]",
               "tojson | length", "@json \"v=\\(.)\"", "[.[]?] | length", "add // 0", "min_by(.a)", "max_by(.a)",
               "unique_by(length)", "group_by(type)", "sort_by(type)", "sort_by(.a; .b)", "[splits(\", *\"; null)]",
               "ascii(65)", "implode", "[.[]?] | implode?", "getpath([\"x\"]) // 5", "to_entries[0]", "keys[0]",
               "[recurse(.[]?; . != 2)]", "[recurse(if type == \"number\" and . < 3 then . + 1 else empty end)]",
               "env.HOME | type", "$ENV | type", "splits(1)", "tojson | test(\"a\")", "[.. | numbers]", "[..?]",
               "until(type != \"number\" or . > 10; . * 2 + 1)", "[while(type == \"number\" and . < 10; . + 3)]",
               "[.[]?] | nth(0)", "[.[]?] | nth(-1)", "input_filename", "$__prog_args", "@text \"\\(.)\"",
               "tostream | select(length == 2)", "fromstream(tostream)", "truncate_stream(1; tostream)",
               "[1,[2]] | getpath([1,0])", "ltrimstr(\"\")", "todate?", "now | type", "infinite", "-infinite", "nan",
               "[nan] | sort", "[nan, 1] | min", "1 / 0?", "[.[]?] | add", "[.[]?] | join(\",\")?", "tostring * 2",
               "explode | implode", "splits(\"\")"]
        withf = ["map", "select", "with_entries", "map_values", "sort_by", "group_by", "unique_by", "min_by", "max_by",
                 "any", "all", "path", "paths", "del", "first", "last", "isempty", "recurse", "walk", "to_entries | map",
                 "[limit(2; ", "[.[]? | ", "add", "error", "tojson | fromjson | ", "try", "splits", "test", "has",
                 "contains", "join", "indices", "getpath", "ltrimstr", "tostream | ", "[", "@base64d | ", "until(true; ",
                 "env | ", "input_line_number, ", "IN", "in", "inside", "isvalid", "getpath(path(", "tojson, ",
                 "[paths(", "ascii_downcase | ", "limit(1; ", "nth(0; ", "first(", "last(", "[range(", "splits(\"a\"; "]
        if self.r.random() < 0.55:
            return self.choice(one)
        f = self.choice(withf)
        if f.endswith(" | ") or f.endswith(", "):
            return f"({f}{e()})"
        if f in ("[limit(2; ", "[.[]? | ", "[", "[range(", "[paths("):
            close = {"[limit(2; ": ")]", "[.[]? | ": "]", "[": "]", "[range(": ")]", "[paths(": ")]"}[f]
            return f"{f}{e()}{close}"
        if f in ("until(true; ", "limit(1; ", "nth(0; ", "first(", "last(", "splits(\"a\"; "):
            return f"{f}{e()})"
        if f == "getpath(path(":
            return f"getpath(path({self.path(d, vs)}))"
        if f in ("path", "paths", "del"):
            return f"{f}({self.path(d, vs)})"
        if f == "to_entries | map":
            return f"(to_entries | map({e()}))"
        return f"{f}({e()})"


def gen_input(rng, depth=2):
    k = rng.random()
    if depth <= 0 or k < 0.35:
        return rng.choice([None, True, False, 0, 1, 2, -1, 3, 0.5, 10, "", "a", "b", "ab", "a,b", "1", "x y", "A"])
    if k < 0.7:
        return [gen_input(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    keys = rng.sample(["a", "b", "c"], rng.randint(0, 3))
    return {key: gen_input(rng, depth - 1) for key in keys}


# ---------------------------------------------------------------------------------------------
# Running


def tag(v):
    """A JSON value as a comparable tree: numbers by value (1 == 1.0), booleans apart from numbers,
    object members in order."""
    if v is None or isinstance(v, bool):
        return ("j", v)
    if isinstance(v, (int, float)):
        return ("n", float(v))
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list) and v and isinstance(v[0], tuple) and v[0] and v[0][0] == "__obj__":
        return ("o", tuple((k, tag(x)) for k, x in v[1:]))
    if isinstance(v, list):
        return ("a", tuple(tag(x) for x in v))
    raise TypeError(v)


def parse_value(text):
    def obj(pairs):
        return [("__obj__",)] + pairs
    return tag(json.loads(text, object_pairs_hook=obj, parse_constant=lambda c: None))


def run_jq(jq, program, inp, limit, timeout):
    # (a program starting with '-' would be read as an option)
    p = subprocess.Popen([jq, "-c", " " + program if program.startswith("-") else program], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(inp.encode())
        p.stdin.close()
    except BrokenPipeError:
        pass
    out = b""
    deadline = time.time() + timeout
    lines = 0
    hang = False
    while True:
        left = deadline - time.time()
        if left <= 0:
            hang = True
            break
        r, _, _ = select.select([p.stdout], [], [], left)
        if not r:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        out += chunk
        if out.count(b"\n") > limit:
            break
    stopped = False
    if p.poll() is None:
        p.kill()
        stopped = not hang
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    p.stdout.close()
    p.stderr.close()
    lines = out.decode(errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rc = p.returncode
    res = {"outputs": lines[:limit], "stopped": stopped or len(lines) > limit, "hang": hang}
    if hang:
        return res
    if rc == 3 or (rc != 0 and "compile error" in err):
        return {"compile_error": err.strip()}
    if rc not in (0, None, -9) and not stopped:
        res["error"] = err.strip().split("\n")[-1] if err.strip() else f"exit {rc}"
    else:
        res["error"] = None
    return res


class Driver:
    def __init__(self, path):
        self.path = path
        self.start()

    def start(self):
        self.p = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.buf = b""

    def ask(self, program, inp, timeout):
        self.p.stdin.write((json.dumps([program, inp]) + "\n").encode())
        self.p.stdin.flush()
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                self.p.kill()
                self.p.wait()
                self.start()
                return {"hang": True}
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                err = self.p.stderr.read().decode(errors="replace")
                self.p.wait()
                self.start()
                return {"crash": err[-4000:]}
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


MESSAGE_WORDS = ("annot ", " is not ", "not a string", "cannot", "not valid", "is too", "must be", "Invalid",
                 "out of", "Out of", "only", "not defined", "expected")


def blur_messages(v):
    """The value with every string that reads like an error message replaced by one placeholder."""
    if v[0] == "s":
        return ("s", "<message>") if any(w in v[1] for w in MESSAGE_WORDS) else v
    if v[0] == "a":
        return ("a", tuple(blur_messages(x) for x in v[1]))
    if v[0] == "o":
        return ("o", tuple((k, blur_messages(x)) for k, x in v[1]))
    return v


def same(a, b, limit):
    """Compare a jq result and a ppipe result. Returns None when equal, else a short reason."""
    if "crash" in b:
        return "ppipe crashed"
    if a.get("hang") or b.get("hang"):
        if a.get("hang") and b.get("hang"):
            return None
        return "hang in " + ("jq" if a.get("hang") else "ppipe")
    ca, cb = "compile_error" in a, "compile_error" in b
    if ca or cb:
        if ca and cb:
            return None
        return "compile error only in " + ("jq" if ca else "ppipe")
    oa, ob = a["outputs"], b["outputs"]
    n = min(len(oa), len(ob)) if (a.get("stopped") or b.get("stopped")) else None
    if n is not None:
        oa, ob = oa[:n], ob[:n]
    try:
        va = [parse_value(x) for x in oa]
        vb = [parse_value(x) for x in ob]
    except Exception as e:  # noqa: BLE001
        return f"unparsable output: {e}"
    if va != vb:
        if [blur_messages(x) for x in va] == [blur_messages(x) for x in vb]:
            return "outputs differ in error messages only"
        return "outputs differ"
    if n is None and (a["error"] is None) != (b["error"] is None):
        return "error only in " + ("jq" if a["error"] is not None else "ppipe")
    return None


# Known differences: (class, name, predicate(program, input, jq result, ppipe result)).
# class: "1.6-vs-1.7" (ppipe follows jq 1.7/1.8 deliberately), "jq-1.6-bug", "deliberate" (ppipe's
# documented choice, docs/expr.md), "ppipe-bug" (listed in README until fixed).
def has(*words):
    return lambda p, i, a, b: any(w in p for w in words)


def undefined_in_jq16(p, i, a, b):
    """jq 1.6 refuses a name ppipe knows (a builtin of jq 1.7/1.8)."""
    m = re.search(r"error: (\$?[A-Za-z_0-9@]+(/\d+)?) is not (defined|a valid format)", a.get("compile_error", ""))
    return bool(m) and "compile_error" not in b


def syntax_only_in_jq16(p, i, a, b):
    return "syntax error" in a.get("compile_error", "") and "compile_error" not in b


def error_only_in(who, *words):
    """An error on one side only, the program using one of words (a heuristic: sampled by hand)."""
    def pred(p, i, a, b):
        ea, eb = a.get("error") is not None, b.get("error") is not None
        side = (eb and not ea) if who == "ppipe" else (ea and not eb)
        return side and WHY.startswith("error only in") and any(w in p for w in words)
    return pred


WHY = ""


def jq_error_ppipe_none(*words):
    """jq raised an error, ppipe did not (its outputs may go on), the program uses one of words."""
    def pred(p, i, a, b):
        return a.get("error") is not None and b.get("error") is None and any(w in p for w in words)
    return pred


def ppipe_error_jq_none(*words):
    def pred(p, i, a, b):
        return a.get("error") is None and b.get("error") is not None and any(w in p for w in words)
    return pred


def try_bug(p, i, a, b):
    """The other faces of jq 1.6's try bug: its catch handler also ran for an error raised downstream
    (jq has outputs more), or a `?` swallowed an error that ppipe's `try ... catch .` reports (ppipe has
    message strings more)."""
    if not ("?" in p or "try" in p):
        return False
    oa, ob = a.get("outputs") or [], b.get("outputs") or []
    if "catch" in p and a.get("error") and b.get("error") and len(ob) < len(oa) and oa[:len(ob)] == ob:
        return True
    rest = [x for x in ob if not (x.startswith('"') and any(w in x for w in MESSAGE_WORDS))]
    return rest == oa and len(rest) < len(ob)


def jq_hangs_ppipe_guard(p, i, a, b):
    return a.get("hang") and "recursion too deep" in str(b.get("error"))


def negated_binding(p, i, a, b):
    return re.search(r"(^|[^\w.\])\"?])-\s*[\w.\"]+ as [\[{$]", p) is not None


# Known differences, first match wins: (class, name, predicate(program, input, jq result, ppipe
# result)). Classes: "1.6-vs-1.7" (ppipe follows jq 1.7/1.8 on purpose), "jq-1.6-bug", "deliberate"
# (ppipe's documented choice), "open" (not decided: listed in the README). The predicates are
# heuristics over the program text: each class was checked by hand on samples (README).
KNOWN = [
    ("1.6-vs-1.7", "builtins jq 1.6 does not have (abs toarray trim pick getpath/1 splits/1 ltrimstr ... of "
     "jq 1.7/1.8)", undefined_in_jq16),
    ("1.6-vs-1.7", "grammar: jq 1.6 refuses what jq 1.7 accepts (`X?` as a term, `{a: X?}`, `.?`, ...)",
     syntax_only_in_jq16),
    ("1.6-vs-1.7", "error message wording only (caught by catch, or in the output)",
     lambda p, i, a, b: WHY == "outputs differ in error messages only"),
    ("1.6-vs-1.7", "limit(0; f) is empty in jq 1.7 (1.6: all of f)", has("limit(0")),
    ("1.6-vs-1.7", "input_line_number, input, $__loc__, env, builtins, now: depend on the run",
     has("input", "$__loc__", "env", "builtins", "$ENV", "now")),
    ("1.6-vs-1.7", "error(null) is an error in jq 1.7 (1.6: behaves as empty)", has("error(null)")),
    ("1.6-vs-1.7", "walk keeps key order in jq 1.7 (1.6 sorts keys)", has("walk(")),
    ("1.6-vs-1.7", "nth(n; f) / last(f) with too few outputs: empty in jq 1.8 (1.6: null), nth(-1) an error",
     has("nth(", "last(")),
    ("1.6-vs-1.7", "todate/mktime/strftime take short arrays (jq 1.8: [2024,8,21] | mktime), 1.6 refuses",
     has("todate", "mktime", "strftime")),
    ("1.6-vs-1.7", "indices([]) / .[[]] on an array: null (ppipe's array_indices, as jq 1.7's "
     "jv_array_indexes), 1.6 []", has("indices(", "index(", ".[[")),
    ("jq-1.6-bug", "try/`?` in jq 1.6 also catches errors raised downstream, after its body produced a "
     "value (fixed in jq 1.7)", lambda p, i, a, b: ppipe_error_jq_none("?", "try")(p, i, a, b) or try_bug(p, i, a, b)),
    ("jq-1.6-bug", "`break $label` inside a try/`?`/`?//` body: jq 1.6 implements break as an error, "
     "which the try catches (its handler or alternative runs)",
     lambda p, i, a, b: "break $" in p and any(w in p for w in ("try", "?"))),
    ("1.6-vs-1.7", "formats jq 1.6 does not have (@base32d; a run-time error there)",
     lambda p, i, a, b: "is not a valid format" in str(a.get("error"))),
    ("1.6-vs-1.7", "`p |= f` with f empty: jq 1.7 deletes the path (1.6: other results)",
     lambda p, i, a, b: any(w in p for w in ("|=", "map_values", "with_entries")) and
     any(w in p for w in ("empty", "?", "select", "range(0)"))),
    ("1.6-vs-1.7", "from_entries of non-string or missing keys (to_entries of an array): jq 1.7 makes them "
     "strings with tojson, 1.6 an error (also when caught)",
     lambda p, i, a, b: any(w in p for w in ("with_entries", "from_entries")) and not b.get("error") and
     ("as object key" in str(a.get("error")) or "try" in p)),
    ("1.6-vs-1.7", "error message wording seen through `catch ... length` (jq 1.8's `with string (\"b\")`)",
     lambda p, i, a, b: "catch" in p and "length" in p and not a.get("error") and not b.get("error") and
     all(str(x).lstrip("-").isdigit() for x in (a.get("outputs") or []) + (b.get("outputs") or []))),
    ("1.6-vs-1.7", "nan % x and x % nan are nan (printed null) in jq 1.7; 1.6 converts nan to an integer",
     lambda p, i, a, b: "%" in p and "nan" in p and b.get("outputs") == ["null"]),
    ("jq-1.6-bug", "try/`?`: jq 1.6's `?` on a right-hand operand also catches the left operand's error "
     "(evaluated after it), so the array or try around it still yields; jq 1.7 raises it",
     lambda p, i, a, b: "try" in p and "?" in p and not b.get("error") and not b.get("outputs") and
     bool(a.get("outputs")) and not a.get("error")),
    ("jq-1.6-bug", "@base64d of bytes that are not UTF-8: jq 1.6's decoder swallows the byte after an "
     "invalid lead byte", has("@base64d")),
    ("deliberate", "unbounded recursion: jq runs until the timeout, ppipe stops at its stack guard",
     jq_hangs_ppipe_guard),
    ("1.6-vs-1.7", "string repetition by 0 <= n < 1 is \"\" (jq 1.8; 1.6/1.7 null); reverse of a string reverses it "
     "(jq 1.7.1; 1.6 [] for \"\")", lambda p, i, a, b: "*" in p and '""' in str(b.get("outputs")) and
     ("null" in str(a.get("outputs")) or '"b"' in str(a.get("outputs"))) or
     ("reverse" in p and '""' in str(b.get("outputs")))),
    ("1.6-vs-1.7", "any(f)/all(f) evaluate f on every element (jq 1.7.1's builtin.jq: reduce; 1.6 stops at the "
     "first decisive one), so a later element's error is raised", has("any(", "all(")),
    ("deliberate", "a number literal keeps its text in tostring/tojson/interpolation (`1e3` -> \"1e3\"; jq 1.6 "
     "\"1000\"; value.h)", lambda p, i, a, b: "1e3" in str(b.get("outputs")) and "1000" in str(a.get("outputs"))),
    ("open", "path(.[]) on null: empty in ppipe (its eval.cpp: 'as jq'), an error in jq 1.6 (map_values, "
     "|=, paths on null)", lambda p, i, a, b: "Cannot iterate over null" in str(a.get("error")) and
     any(w in p for w in ("|=", "+=", "-=", "*=", "/=", "%=", "//=", "map_values", "paths", "path(", "del("))),
    ("open", "`-T as $x | body`: jq 1.6 negates the whole binding, -(T as $x | body); ppipe binds -T",
     negated_binding),
    ("deliberate", "regex flavour: RE2 vs Oniguruma (docs/expr.md)",
     has("test(", "match(", "capture(", "scan(", "sub(", "splits(")),
    ("deliberate", "fromjson/tonumber strict (docs/expr.md)", has("fromjson", "tonumber"))]


def classify(p, i, a, b, why):
    global WHY
    WHY = why
    for cls, name, pred in KNOWN:
        try:
            if pred(p, i, a, b):
                return cls, name
        except Exception:  # noqa: BLE001
            pass
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--jq", default="/usr/bin/jq")
    ap.add_argument("--driver", default=os.path.join(ROOT, "build-fuzz", "jq_driver"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-fuzz", "jqdiff"))
    ap.add_argument("--inputs", type=int, default=3, help="inputs per program")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--print", type=int, default=0, help="print N generated programs and exit")
    ap.add_argument("--reclassify", metavar="FILE", help="classify the differences of FILE again and exit")
    ap.add_argument("--recheck", action="store_true", help="with --reclassify: run each case through "
                    "the current jq_driver again and count the ones that no longer differ")
    ap.add_argument("--show", metavar="CLASS", help="with --reclassify: print the cases of CLASS "
                    "(a prefix, e.g. UNCLASSIFIED or open)")
    args = ap.parse_args()
    if args.reclassify:
        counts = {}
        drv = Driver(args.driver) if args.recheck else None
        for line in open(args.reclassify):
            d = json.loads(line)
            cls, name = classify(d["program"], d["input"], d["jq"], d["ppipe"], d["why"])
            key = f"{cls}: {name}" if cls else f"UNCLASSIFIED: {d['why']}"
            if drv:
                now = drv.ask(d["program"], d["input"], args.timeout)
                if same(d["jq"], now, 100) is None:
                    key = "FIXED (now as jq), was " + key
            counts[key] = counts.get(key, 0) + 1
            if args.show and key.startswith(args.show):
                a, b = d["jq"], d["ppipe"]
                print(f"--- {key}\nP: {d['program']}\nI: {d['input']}")
                print(f"jq:    {a.get('outputs')} {a.get('error') or ''}{a.get('compile_error', '')[:120]}"
                      f"{' HANG' if a.get('hang') else ''}")
                print(f"ppipe: {b.get('outputs')} {b.get('error') or ''}{b.get('compile_error', '')}"
                      f"{' HANG' if b.get('hang') else ''}{b.get('crash', '')}")
        for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {v:6d}  {k}")
        return 0
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    g = Gen(rng)
    if args.print:
        for _ in range(args.print):
            print(g.program())
        return 0
    os.makedirs(args.out, exist_ok=True)
    drv = Driver(args.driver)
    diffs = open(os.path.join(args.out, "differences.jsonl"), "a")
    end = time.time() + args.minutes * 60
    programs = cases = ndiff = compile_errors = ppipe_general = 0
    counts = {}
    limit = 100
    while time.time() < end:
        prog = g.program()
        programs += 1
        for _ in range(args.inputs):
            inp = json.dumps(gen_input(rng), separators=(",", ":"))
            a = run_jq(args.jq, prog, inp, limit, args.timeout)
            b = drv.ask(prog, inp, args.timeout)
            cases += 1
            if "compile_error" in a:
                compile_errors += 1
            if b.get("fast") is False:
                ppipe_general += 1
            why = same(a, b, limit)
            if why is None:
                if "compile_error" in a:
                    break
                continue
            ndiff += 1
            cls, name = classify(prog, inp, a, b, why)
            key = f"{cls}: {name}" if cls else f"UNCLASSIFIED: {why}"
            counts[key] = counts.get(key, 0) + 1
            diffs.write(json.dumps({"seed": seed, "program": prog, "input": inp, "why": why, "class": cls,
                                    "known": name, "jq": a, "ppipe": b}) + "\n")
            diffs.flush()
            if "compile" in why:
                break
    print(f"seed {seed}: {programs} programs, {cases} cases ({compile_errors} jq compile errors, "
          f"{ppipe_general} on ppipe's general engine), {ndiff} differences")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {v:6d}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
