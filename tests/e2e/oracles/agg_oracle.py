#!/usr/bin/env python3
"""Exact oracle for ppipe's agg stage (tests/e2e/checks/47-agg.sh).

  agg_oracle.py gen N SEED            generated records with nulls, missing fields, mixed ints
                                      and floats, huge and tiny magnitudes (JSON Lines on stdout)
  agg_oracle.py check KEY FIELD DATA GOT
                                      recomputes, per group of .KEY, with exact arithmetic
                                      (fractions; float(Fraction) is correctly rounded; the
                                      percentile formula of issue 7 in IEEE doubles), the output of
                                      --group-by .KEY --agg 'count, count(.F), sum(.F), min(.F),
                                      max(.F), avg(.F), var(.F), p50(.F), p90(.F), median(.F),
                                      count_distinct(.F), first(.F), last(.F)' and compares it with
                                      GOT value by value (floats bit for bit, ints exactly), groups
                                      in jq's key order. Exit 1 with the differences.
"""
import json
import math
import random
import sys
from fractions import Fraction

AGGS = ["count", "count_F", "sum_F", "min_F", "max_F", "avg_F", "var_F", "p50_F", "p90_F", "median_F",
        "count_distinct_F", "first_F", "last_F"]


def gen(n, seed):
    rnd = random.Random(seed)
    keys = ["a", "b", "c", "d", None, "missing"]
    for i in range(n):
        r = {"i": i}
        k = rnd.choice(keys)
        if k != "missing":
            r["g"] = k
        roll = rnd.random()
        if roll < 0.1:
            pass  # missing
        elif roll < 0.2:
            r["x"] = None
        elif roll < 0.5:
            r["x"] = rnd.randint(-10**6, 10**6)
        elif roll < 0.55:
            r["x"] = rnd.choice([2**62, -2**62, 2**53 + 1, 0])
        elif roll < 0.85:
            r["x"] = rnd.uniform(-1000, 1000)
        elif roll < 0.9:
            r["x"] = rnd.choice([1e300, -1e300, 1e300, -1e300, 5e-324, 1e-310, -2.5e-320, 0.1, 0.2, 0.3])
        else:
            r["x"] = rnd.choice([1.5, 2.0, -0.0, 3, 1e16, -1e16, 1.0])
        # y: no huge magnitudes, so the low digits of sums, averages and variances matter.
        roll = rnd.random()
        if roll < 0.4:
            r["y"] = rnd.randint(-1000, 1000)
        elif roll < 0.9:
            r["y"] = round(rnd.uniform(-100, 100), rnd.randint(0, 4))
        elif roll < 0.95:
            r["y"] = None
        # float drawn as e.g. 2.0 must stay a float in the text: json.dumps does that.
        sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")


def to_float(q):
    """The correctly rounded double of a Fraction; beyond the range, +-inf (IEEE overflow)."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def percentile(sorted_vals, p):
    n = len(sorted_vals)
    h = (n - 1) * p
    lo = math.floor(h)
    if h == lo:
        return sorted_vals[lo]
    return sorted_vals[lo] + (h - lo) * (sorted_vals[lo + 1] - sorted_vals[lo])


def oracle(records, key, field):
    groups = {}
    for pos, r in enumerate(records):
        k = r.get(key)
        g = groups.setdefault(json.dumps(k), {"key": k, "n": 0, "vals": []})
        g["n"] += 1
        v = r.get(field)
        if v is not None:
            g["vals"].append(v)
    out = []
    for g in groups.values():
        vals = g["vals"]
        row = {key: g["key"], "count": g["n"], "count_F": len(vals)}
        if not vals:
            for a in AGGS[2:]:
                row[a] = 0 if a == "count_distinct_F" else None
            out.append(row)
            continue
        exact = sum(Fraction(v) for v in vals)
        ints = all(isinstance(v, int) for v in vals)
        row["sum_F"] = int(exact) if ints and -2**63 <= exact < 2**63 else to_float(exact)
        row["min_F"] = min(vals, key=lambda v: Fraction(v))
        row["max_F"] = max(vals, key=lambda v: Fraction(v))
        row["avg_F"] = to_float(exact / len(vals))
        if len(vals) >= 2:
            n = len(vals)
            s2 = sum(Fraction(v) * Fraction(v) for v in vals)
            row["var_F"] = to_float((n * s2 - exact * exact) / (n * (n - 1)))
        else:
            row["var_F"] = None
        fl = sorted(float(v) for v in vals)
        # IEEE total order for -0.0 < 0.0 (no NaN here).
        fl.sort(key=lambda d: (d, math.copysign(1, d)))
        row["p50_F"] = percentile(fl, 0.5)
        row["p90_F"] = percentile(fl, 0.9)
        row["median_F"] = row["p50_F"]
        row["count_distinct_F"] = len({Fraction(v) for v in vals})
        row["first_F"] = vals[0]
        row["last_F"] = vals[-1]
        out.append(row)

    def order(row):  # jq's order for null and strings (the keys used here)
        k = row[key]
        return (0, "") if k is None else (1, k)
    out.sort(key=order)
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        fa, fb = float(a), float(b)
        if math.isinf(fa) or math.isinf(fb):  # jq prints +-Inf as +-1.7976931348623157e+308
            return math.copysign(1, fa) == math.copysign(1, fb)
        return fa == fb
    return a == b and type(a) is type(b)


def check(key, field, data_path, got_path):
    with open(data_path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    want = oracle(records, key, field)
    with open(got_path) as f:
        got = [json.loads(line) for line in f if line.strip()]
    bad = []
    if len(got) != len(want):
        bad.append(f"groups: want {len(want)}, got {len(got)}")
    for w, g in zip(want, got):
        wk = [key, "count"] + AGGS[1:]
        gk = list(g.keys())
        if gk != wk:
            bad.append(f"fields: want {wk}, got {gk}")
            continue
        for name in wk:
            if not same(w[name], g[name]):
                bad.append(f"group {json.dumps(w[key])}: {name}: want {w[name]!r}, got {g[name]!r}")
    for line in bad[:20]:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
