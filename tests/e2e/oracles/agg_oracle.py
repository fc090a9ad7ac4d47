#!/usr/bin/env python3
"""Exact oracle for ppipe's agg stage (tests/e2e/checks/47-agg.sh, 48-agg-peers.sh).

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
  agg_oracle.py check KEY FIELD DATA GOT AGGS
                                      the same for the comma-separated oracle names AGGS (any of
                                      count count_F sum_F min_F max_F avg_F var_F stddev_F
                                      median_F pNN_F pNN_N_F (= pNN.N) count_distinct_F first_F last_F);
                                      DATA may be gzip-compressed (.gz), KEY and FIELD are
                                      top-level member names.
  agg_oracle.py spec FIELD AGGS       the --agg list that makes ppipe write those names
                                      (e.g. "stddev_F" -> "stddev(.FIELD) as stddev_F")
  agg_oracle.py selftest              checks the oracle's correctly rounded square root against
                                      math.sqrt (exact for doubles) and 120-digit decimal roots
"""
import decimal
import gzip
import json
import math
import random
import re
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


def sqrt_rounded(q):
    """The correctly rounded double of sqrt(q) for an exact rational q >= 0 (stddev: the root of the
    exact variance rounded once, not the root of the rounded variance).

    r = floor(sqrt(q) * 2^k) = isqrt(floor(q * 4^k)) with k chosen so that r has 61..64 bits. If
    r^2 == q * 4^k the root is r / 2^k exactly; otherwise it lies strictly inside (r, r+1) / 2^k,
    and no double or midpoint between doubles (at most 54 significant bits) lies strictly inside
    that interval, so the odd (2r+1) / 2^(k+1) rounds to the same double as the true root."""
    if q == 0:
        return 0.0
    p, d = q.numerator, q.denominator
    k = 62 - (p.bit_length() - d.bit_length()) // 2
    y = q * Fraction(4) ** k  # k may be negative for huge q
    r = math.isqrt(y.numerator // y.denominator)
    if Fraction(r * r) == y:
        return to_float(Fraction(r) / Fraction(2) ** k)
    return to_float(Fraction(2 * r + 1) / Fraction(2) ** (k + 1))


def selftest():
    rnd = random.Random(1)
    bad = []
    # Doubles: IEEE sqrt is correctly rounded, so math.sqrt is the reference.
    for _ in range(20000):
        x = abs(rnd.choice([rnd.uniform(0, 1e6), math.ldexp(rnd.random(), rnd.randint(-1074, 1023)),
                            float(rnd.randint(0, 2**53)), 5e-324, 2.0, 4.0]))
        if sqrt_rounded(Fraction(x)) != math.sqrt(x):
            bad.append(f"sqrt({x!r}): {sqrt_rounded(Fraction(x))!r} != math.sqrt {math.sqrt(x)!r}")
    # Rationals (variances are p/q): against a 120-digit decimal root, rounded to a double (the
    # double rounding can only matter within 1e-100 relative of a midpoint: not for random data).
    ctx = decimal.Context(prec=120)
    for _ in range(5000):
        q = Fraction(rnd.randint(1, 10**rnd.randint(1, 80)), rnd.randint(1, 10**rnd.randint(1, 80)))
        want = float(ctx.sqrt(ctx.divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator))))
        if sqrt_rounded(q) != want:
            bad.append(f"sqrt({q}): {sqrt_rounded(q)!r} != decimal {want!r}")
    # Perfect squares and exact halves stay exact.
    for a, b in [(9, 4), (1, 1), (10**40, 1), (1, 10**40), (2**-1074, 1)]:
        q = Fraction(a) / Fraction(b)
        want = math.sqrt(float(q)) if float(q) > 0 else 0.0
        if sqrt_rounded(q) != want:
            bad.append(f"sqrt({q}) exact case: {sqrt_rounded(q)!r} != {want!r}")
    for line in bad[:20]:
        print(line)
    return 1 if bad else 0


def percentile(sorted_vals, p):
    n = len(sorted_vals)
    h = (n - 1) * p
    lo = math.floor(h)
    if h == lo:
        return sorted_vals[lo]
    return sorted_vals[lo] + (h - lo) * (sorted_vals[lo + 1] - sorted_vals[lo])


PCT = re.compile(r"^p(\d+(?:_\d+)?)_F$")  # p99_F, p99_9_F (= p99.9)


def ratio(v):
    """(numerator, log2 denominator) of an int or a double, exactly (a double's denominator is a
    power of two, at most 2^1074)."""
    n, d = v.as_integer_ratio()
    return n, d.bit_length() - 1


class Values:
    """The non-null values of one group, with their exact sums computed once, in integers scaled
    by 2^1074 (every double is a multiple of 2^-1074): much faster than summing Fractions."""

    def __init__(self, vals):
        self.vals = vals
        self.n = len(vals)
        s1 = s2 = 0
        for v in vals:
            num, e = ratio(v)
            s1 += num << (1074 - e)
            s2 += (num * num) << (2148 - 2 * e)
        self.s1 = Fraction(s1, 1 << 1074)
        self.s2 = Fraction(s2, 1 << 2148)


def value_of(name, g):
    """Oracle name NAME (count_F, sum_F, p99_F, ...) over the non-null values of one group."""
    vals, n = g.vals, g.n
    if name == "count_F":
        return n
    if name == "count_distinct_F":
        return len({v.as_integer_ratio() for v in vals})  # 1 and 1.0 are one value, as -0.0 and 0
    if not vals:
        return None
    if name == "sum_F":
        ints = all(isinstance(v, int) for v in vals)
        return int(g.s1) if ints and -2**63 <= g.s1 < 2**63 else to_float(g.s1)
    if name == "min_F":  # Python compares ints and doubles exactly; the first of equal values
        return min(vals)
    if name == "max_F":
        return max(vals)
    if name == "avg_F":
        return to_float(g.s1 / n)
    if name in ("var_F", "stddev_F"):
        if n < 2:
            return None
        var = (n * g.s2 - g.s1 * g.s1) / (n * (n - 1))
        return to_float(var) if name == "var_F" else sqrt_rounded(var)
    if name == "first_F":
        return vals[0]
    if name == "last_F":
        return vals[-1]
    m = PCT.match(name)
    if name == "median_F" or m:
        # p: the double nearest to NN.N / 100 (0.999 for p99.9, not the double 99.9 divided by 100).
        p = 0.5 if name == "median_F" else float(Fraction(m.group(1).replace("_", ".")) / 100)
        # IEEE total order for -0.0 < 0.0 (no NaN here).
        fl = sorted((float(v) for v in vals), key=lambda d: (d, math.copysign(1, d)))
        return percentile(fl, p)
    raise SystemExit(f"agg_oracle: unknown aggregate name {name!r}")


def oracle(records, key, field, aggs=AGGS):
    groups = {}
    for r in records:
        k = r.get(key)
        g = groups.setdefault(json.dumps(k), {"key": k, "n": 0, "vals": []})
        g["n"] += 1
        v = r.get(field)
        if v is not None:
            g["vals"].append(v)
    out = []
    for g in groups.values():
        row = {key: g["key"]}
        vals = Values(g["vals"])
        for name in aggs:
            row[name] = g["n"] if name == "count" else value_of(name, vals)
        out.append(row)

    def order(row):  # jq's order for null, booleans, numbers and strings (the keys used here)
        k = row[key]
        if k is None:
            return (0, 0)
        if isinstance(k, bool):
            return (1, int(k))
        if isinstance(k, (int, float)):
            return (2, Fraction(k))
        return (3, k.encode("utf-16-be"))  # jq compares strings by code point
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


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def check(key, field, data_path, got_path, aggs=AGGS):
    want = oracle(read_lines(data_path), key, field, aggs)
    got = read_lines(got_path)
    bad = []
    if len(got) != len(want):
        bad.append(f"groups: want {len(want)}, got {len(got)}")
    wk = [key] + list(aggs)
    for w, g in zip(want, got):
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


def spec(field, aggs):
    """The --agg list that makes ppipe name its outputs as the oracle does."""
    parts = []
    for name in aggs:
        if name == "count":
            parts.append("count")
        elif name == "count_F":
            parts.append(f"count(.{field}) as count_F")
        else:
            fn = name[:-2].replace("_", ".") if PCT.match(name) else name[:-2]  # p99_9_F: p99.9
            parts.append(f"{fn}(.{field}) as {name}")
    return ", ".join(parts)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "spec":
        print(spec(sys.argv[2], sys.argv[3].split(",")))
    elif cmd == "selftest":
        sys.exit(selftest())
    elif len(sys.argv) == 7:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].split(",")))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
