#!/usr/bin/env python3
"""ppipe's two expression engines against each other (not run by CI: a tool for finding bugs).

    tests/fuzz/fast_general.py [--minutes 5] [--seed N] [--driver build-fuzz/jq_driver]

A program the fast path takes (src/expr) must give what the general engine (src/expr/jq) gives
for it: the same source with `def i: .;` in front, which keeps it off the fast path. Programs
come from jq_differential.py's generator (those the fast path takes), inputs from its input
generator; outputs are compared as JSON values (numbers by value: the general engine keeps a
number's text), errors by whether there is one and by message. No jq needed: this is ppipe's
own consistency, whatever jq version is installed. Differences are printed.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jq_differential as jd  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--driver", default=os.path.join(jd.ROOT, "build-fuzz", "jq_driver"))
    ap.add_argument("--inputs", type=int, default=4)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    g = jd.Gen(rng)
    drv = jd.Driver(args.driver)
    end = time.time() + args.minutes * 60
    programs = fast = cases = diffs = 0
    seen = set()
    while time.time() < end:
        prog = g.program()
        programs += 1
        inputs = [json.dumps(jd.gen_input(rng), separators=(",", ":")) for _ in range(args.inputs)]
        first = drv.ask(prog, inputs[0], 10)
        if first.get("fast") is not True:
            continue
        fast += 1
        for inp in inputs:
            a = drv.ask(prog, inp, 10)
            b = drv.ask("def i: .; " + prog, inp, 10)
            cases += 1
            why = jd.same(b, a, 100)  # the general engine as the reference
            if why is None and (a.get("error") or "") != (b.get("error") or ""):
                why = "error messages differ"
            if why is None:
                continue
            key = (prog, why)
            if key in seen:
                continue
            seen.add(key)
            diffs += 1
            print(json.dumps({"program": prog, "input": inp, "why": why, "fast": a, "general": b}), flush=True)
    print(f"seed {seed}: {programs} programs, {fast} on the fast path, {cases} cases, {diffs} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
