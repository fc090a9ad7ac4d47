#!/usr/bin/env python3
"""ppipe's agg against Miller's stats1 (tests/e2e/checks/48-agg-peers.sh), field by field.

  mlr_compare.py spec FIELDS          the --agg list for ppipe over the comma-separated FIELDS,
                                      named as Miller names its outputs (FIELD_mean = avg(.FIELD))
  mlr_compare.py check KEY FIELDS PPIPE STATS INTERP FIRST LAST
      PPIPE   ppipe --group-by .KEY --agg "$(mlr_compare.py spec FIELDS)"
      STATS   mlr --ijsonl --ojsonl stats1 -a count,sum,mean,min,max,var,stddev,p50,median,
                  distinct_count -f FIELDS -g KEY
      INTERP  mlr --ijsonl --ojsonl stats1 -i -a p50,median,p90,p99 -f FIELDS -g KEY
      FIRST   mlr --ijsonl --ojsonl filter 'is_not_null($F1) && ...' then head -n 1 -g KEY
      LAST    the same with tail -n 1 (Miller 6.6's stats1 has no first/last accumulators; with
              several FIELDS, use data where each record has all or none of them)
    Exit 1 with the differences.

Where the definitions agree, and how each field is compared:
  exactly (as numbers: Miller keeps an input number's text, ppipe prints it the shortest way, so
  0.000011920928955078125 and 1.1920928955078125e-05 are equal):
    count (FIELD never null in the data used), min, max, first, last, distinct_count (Miller
    counts distinct texts, ppipe distinct values: they agree when each value has one spelling);
    sum and mean of integers (Miller adds ints as ints; sum/n is then one rounding, as ppipe's);
    interpolated percentiles (stats1 -i: findex = (p/100)*(n-1), x[i] + frac*(x[i+1]-x[i]), the
    same operations in doubles as ppipe's h = (n-1)*p formula).
  with relative tolerance 1e-9 (Miller adds floats naively, left to right, and finishes var and
  stddev with float arithmetic on its running sums; ppipe's are exact and rounded once; for
  n < 10^5 values of one sign the naive error stays below n * 2^-53 ~ 1e-11):
    sum and mean of floats, var, stddev.
  only where they coincide: Miller's default (non-interpolated) p50/median is x[int(n/2)], the
  upper of the two middle values, while ppipe interpolates; for odd n both are x[(n-1)/2], so they
  are compared exactly for odd n only.
  Not compared: a group whose FIELD is always missing (Miller writes the key alone, ppipe nulls
  and count 0); var/stddev of one value (Miller "", ppipe null: both "no value").
  Group order differs (Miller: first seen; ppipe: jq's key order), so groups are matched by key.
  Records without KEY: Miller skips them, ppipe puts them in the null group, so ppipe may have
  one more group, with a null key.
"""
import json
import math
import sys

PPIPE_AGGS = ["count", "sum", "mean", "min", "max", "var", "stddev", "p50", "median", "p90", "p99",
              "distinct_count", "first", "last"]
PPIPE_FN = {"count": "count", "mean": "avg", "distinct_count": "count_distinct"}
EXACT = ["count", "min", "max", "distinct_count"]
TOLERANT = ["sum", "mean", "var", "stddev"]
REL_TOL = 1e-9


def spec(fields):
    return ", ".join(f"{PPIPE_FN.get(a, a)}(.{f}) as {f}_{a}" for f in fields for a in PPIPE_AGGS)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_key(rows, key):
    return {json.dumps(r.get(key)): r for r in rows}


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check(key, fields, ppipe_path, stats_path, interp_path, first_path, last_path):
    pp = by_key(load(ppipe_path), key)
    st = by_key(load(stats_path), key)
    ip = by_key(load(interp_path), key)
    fi = by_key(load(first_path), key)
    la = by_key(load(last_path), key)
    bad = []
    extra = set(pp) - set(st)
    if extra - {"null"} or set(st) - set(pp):
        bad.append(f"groups: only in ppipe {sorted(extra)[:5]}, only in Miller {sorted(set(st) - set(pp))[:5]}")
    compared = 0
    groups = 0

    def cmp(k, name, want, got, tolerant=False):
        nonlocal compared
        compared += 1
        if not (is_num(want) and is_num(got)):
            bad.append(f"group {k}: {name}: Miller {want!r}, ppipe {got!r} (not both numbers)")
        elif tolerant and (type(want) is float or type(got) is float):
            if not math.isclose(want, got, rel_tol=REL_TOL, abs_tol=0.0):
                bad.append(f"group {k}: {name}: Miller {want!r}, ppipe {got!r} (beyond relative {REL_TOL})")
        elif want != got:  # Python compares ints and floats exactly
            bad.append(f"group {k}: {name}: Miller {want!r}, ppipe {got!r}")

    for f in fields:
        ints = True
        for k, m in st.items():
            p = pp.get(k)
            if p is None or p[f"{f}_count"] == 0:
                continue
            groups += 1
            n = p[f"{f}_count"]

            def both(a, name=None, tolerant=False, mlr=m):
                cmp(k, f"{f}_{name or a}", mlr[f"{f}_{a}"], p[f"{f}_{a}"], tolerant)
            for a in EXACT:
                both(a)
            for a in TOLERANT:
                if a in ("var", "stddev") and n < 2:
                    if m[f"{f}_{a}"] != "" or p[f"{f}_{a}"] is not None:
                        bad.append(f"group {k}: {f}_{a} of one value: Miller {m[f'{f}_{a}']!r}, ppipe {p[f'{f}_{a}']!r}")
                    continue
                both(a, tolerant=True)
            ints = ints and isinstance(p[f"{f}_sum"], int)
            if n % 2 == 1:
                both("median", "median (odd n, non-interpolated)")
                both("p50", "p50 (odd n, non-interpolated)")
            for a in ("p50", "median", "p90", "p99"):
                both(a, f"{a} (stats1 -i)", mlr=ip[k])
            cmp(k, f"{f}_first", fi[k][f], p[f"{f}_first"])
            cmp(k, f"{f}_last", la[k][f], p[f"{f}_last"])
        if ints:  # all sums were integers: sums and means must then agree exactly
            for k, m in st.items():
                p = pp.get(k)
                if p and p[f"{f}_count"]:
                    cmp(k, f"{f}_sum (integers)", m[f"{f}_sum"], p[f"{f}_sum"])
                    cmp(k, f"{f}_mean (integers)", m[f"{f}_mean"], p[f"{f}_mean"])
    if groups == 0 or compared < 10 * groups:
        bad.append(f"only {compared} values compared for {groups} groups with values")
    for line in bad[:20]:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "spec":
        print(spec(sys.argv[2].split(",")))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3].split(","), *sys.argv[4:9]))
