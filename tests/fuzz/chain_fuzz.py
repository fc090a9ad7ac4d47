#!/usr/bin/env python3
"""Random stage chains through the ppipe binary (not run by CI: a tool for finding bugs).

    tests/fuzz/chain_fuzz.py PPIPE ROUNDS SEED [KEEP_DIR]

Each round: 0-400 JSON Lines records (with lines that are not JSON, big numbers, blank lines), a
random chain of parse/filter/map/head/tail/uniq/agg/exec (batch and record mode) with random
options, --output, --max-errors and --unordered, run at -j 1 and at -j 3 with small batches.
Checked: the exit code, the --stats identity records_in + emitted = records_out + dropped + errors
+ consumed, valid JSON output (--output json; jsonl after a parse with nothing unchecked after it),
byte-equal output of the two runs (the same set under --unordered), no sanitizer report. A failing
round's input is kept in KEEP_DIR (default: a temporary directory) and the round is printed.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

P = sys.argv[1]; rounds = int(sys.argv[2]); rng = random.Random(int(sys.argv[3]))
KEEP = sys.argv[4] if len(sys.argv) > 4 else tempfile.mkdtemp(prefix="ppipe-chain-fuzz-")
os.makedirs(KEEP, exist_ok=True)
stage_opts = {
  "parse": [], "filter": ["--filter", None], "map": ["--map", None], "head": ["--head", None], "tail": ["--tail", None],
  "uniq": ["--uniq", None], "exec": ["--exec", None], "agg": None, "recexec": None,
}
filters = ['.a > 1', '.a != null', 'true', '.b | type == "string"', '(.a // 0) % 2 == 0']
maps = ['.', '{a: .a, c: 1}', '.a', '.b', '[.a, .b]', '.a, .a', 'empty', 'select(.a > 2)']
uniqs = ['.', '.a', '.b']
execs = ['cat', 'sort', 'head -n 3', 'grep -v 5', 'sed "s/1/x/"', 'tac']
bad = 0
merged = 0
for r in range(rounds):
    lines = []
    for i in range(rng.randint(0, rng.choice([40, 400]))):
        x = rng.random()
        if x < 0.08: lines.append(rng.choice(['bad', '{', '', '   ', '[1,]', '{"a":1e400}', '{"a":123456789012345678901234567890}']))
        else: lines.append(json.dumps({"a": rng.choice([1, 2, 3, 4, 5, None, 2.5, -1]), "b": rng.choice(["x", "y", "é", 1, None])}))
    data = ("\n".join(lines) + ("\n" if lines and rng.random() < 0.9 else "")).encode()
    chain = []; args = []
    has_agg = False
    for _ in range(rng.randint(1, 4)):
        st = rng.choice(list(stage_opts))
        if st == "recexec":
            if "exec" in chain or "recexec" in chain: continue
            chain.append("exec"); args += ["--exec-mode", "record", "--exec", rng.choice(["echo {}", "cat", "echo {.a}", "true", "test {.a} != 2 && echo {}", "printf '%s\\n%s\\n' {.a} {.b}"])]
            continue
        if st == "agg":
            if has_agg: continue
            has_agg = True
            chain.append("agg"); args += ["--group-by", rng.choice([".a", ".b", ".a, .b"])] if rng.random() < 0.7 else []
            args += ["--agg", rng.choice(["count", "count, sum(.a)", "first(.b), last(.a), collect(.a)"])] if rng.random() < 0.8 else []
            continue
        chain.append(st)
        o = stage_opts[st]
        if o:
            val = {"filter": filters, "map": maps, "uniq": uniqs, "exec": execs}.get(st)
            v = rng.choice(val) if val else str(rng.randint(0, 5))
            args += [o[0], v]
    out_fmt = rng.choice(["jsonl", "jsonl", "json", "csv", "pretty"])
    common = ["--stats", "--stages", ",".join(chain)] + args + ["--output", out_fmt]
    if rng.random() < 0.2: common += ["--max-errors", str(rng.randint(1, 3))]
    unordered = rng.random() < 0.3
    if unordered: common += ["--unordered"]
    res = []
    for extra in (["-j", "1"], ["-j", "3", "--batch-size", rng.choice(["64", "1K"])]):
        try:
            p = subprocess.run([P] + extra + common, input=data, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            bad += 1; print("TIMEOUT", common); continue
        err = p.stderr.decode("utf-8", "replace")
        last = err.strip().splitlines()[-1] if err.strip() else ""
        ok = True
        try:
            s = json.loads(last)
            if s.get("records_in", 0) + s.get("emitted", 0) != s.get("records_out", 0) + s.get("dropped", 0) + s.get("errors", 0) + s.get("consumed", 0):
                ok = False; print("STATS", common, last[:300])
        except Exception:
            if p.returncode != 2: ok = False; print("NO STATS", p.returncode, common, err[-300:])
        if p.returncode not in (0, 1, 2, 3) or "Sanitizer" in err or "runtime error" in err:
            ok = False; print("RC", p.returncode, common, err[-400:])
        if out_fmt in ("json",) and p.returncode in (0, 1):
            try: json.loads(p.stdout)
            except Exception: ok = False; print("INVALID JSON ARRAY", common, p.stdout[:200])
        if out_fmt == "jsonl" and p.returncode in (0, 1) and ("exec" not in chain or "parse" in chain[chain.index("exec"):]):
            if "parse" in chain or "filter" in chain or "map" in chain or "agg" in chain:
                # records that went through parse (and nothing unchecked after it) must be JSON
                lastparse = max([i for i, c in enumerate(chain) if c in ("parse", "filter", "map", "agg")])
                if "exec" not in chain[lastparse:] and not any(c in ("head", "tail", "uniq") for c in chain[:lastparse + 1] if False):
                    for line in p.stdout.decode("utf-8", "replace").splitlines():
                        try: json.loads(line)
                        except Exception: ok = False; print("INVALID LINE", common, line[:100]); break
        if not ok:
            bad += 1; open(os.path.join(KEEP, f"chain-{r}.in"), "wb").write(data)
        res.append((p.returncode, p.stdout))
    if len(res) == 2 and unordered and "head" not in chain and "--max-errors" not in common and out_fmt == "jsonl" and res[0][0] == res[1][0] and sorted(res[0][1].splitlines()) != sorted(res[1][1].splitlines()):
        bad += 1; print("UNORDERED SET DIFFERS", common); open(os.path.join(KEEP, f"chain-{r}.in"), "wb").write(data)
    if len(res) == 2 and res[0] != res[1] and "--unordered" not in common:
        bad += 1; print("NONDET", common, res[0][0], res[1][0], res[0][1][:120], "|", res[1][1][:120]); open(os.path.join(KEEP, f"chain-{r}.in"), "wb").write(data)
    # agg at the end after record-local stages only: agg --partial over 1-4 pieces of the input,
    # then merge, must equal the single run (as the e2e checks do for fixed specs).
    local_execs = {"cat", "grep -v 5", 'sed "s/1/x/"'}
    agg_last = chain and chain[-1] == "agg" and chain.count("agg") == 1
    record_local = all(c in ("parse", "filter", "map", "exec") for c in chain[:-1])
    execs_local = all(a in local_execs for a, prev in zip(args[1:], args) if prev == "--exec") or "--exec-mode" in args
    if agg_last and record_local and execs_local and "--max-errors" not in common and len(res) == 2 and res[0][0] in (0, 1):
        lines_in = data.split(b"\n")
        k = rng.randint(1, 4)
        cuts = sorted(rng.randint(0, len(lines_in)) for _ in range(k - 1))
        pieces = [b"\n".join(lines_in[a:b]) for a, b in zip([0] + cuts, cuts + [len(lines_in)])]
        partial_args = [a for a in common if a not in ("--unordered",)]
        partial_args = partial_args[:partial_args.index("--output")] + ["--partial"]
        parts = b""
        for piece in pieces:
            if piece and not piece.endswith(b"\n"): piece += b"\n"
            q = subprocess.run([P, "-j", "2"] + partial_args, input=piece, capture_output=True, timeout=60)
            parts += q.stdout
        merge_args = ["--stages", "merge", "--output", out_fmt]  # the spec comes with the lines
        q = subprocess.run([P, "-j", "2"] + merge_args, input=parts, capture_output=True, timeout=60)
        merged += 1
        if q.returncode != 0 or q.stdout != res[0][1]:
            bad += 1; print("PARTIAL+MERGE DIFFERS", k, common, q.returncode, q.stderr[-200:], q.stdout[:150], "|", res[0][1][:150])
            open(os.path.join(KEEP, f"chain-{r}.in"), "wb").write(data)
print("rounds", rounds, "bad", bad, "partial+merge checks", merged, "kept in", KEEP if bad else "-")
sys.exit(1 if bad else 0)
