#!/usr/bin/env python3
"""Random records through ppipe's input and output formats (not run by CI: a tool for finding bugs).

    tests/fuzz/format_fuzz.py PPIPE ROUNDS SEED [KEEP_DIR]

Each round makes random JSON values (nested, unicode, escapes, big and small numbers) and checks
that every way of writing them reads back as the same records:
- JSON Lines (LF, CRLF, no final newline, BOM, blank lines, gzip, zstd, stdin) against
  `--format json` (pretty, concatenated) and `--format json --unwrap` (one array);
- `--output json` and `--output pretty` parse back (Python's json) to the records;
- flat records of strings written by Python's csv module (any delimiter, header) and as TSV
  with its escapes read with --no-infer as the same objects; ppipe's `--output csv`/`tsv` of
  them read back by Python to the same rows;
- number inference: a CSV field becomes a number exactly when it is a canonical JSON number.
All at -j 1 and at -j 3 with small batches. A failing round's files stay in KEEP_DIR.
"""
import csv
import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

P = sys.argv[1]; rounds = int(sys.argv[2]); rng = random.Random(int(sys.argv[3]))
KEEP = sys.argv[4] if len(sys.argv) > 4 else tempfile.mkdtemp(prefix="ppipe-format-fuzz-")
os.makedirs(KEEP, exist_ok=True)
HAVE_ZSTD = shutil.which("zstd") is not None
NUM = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")

CHARS = ["a", "b", "z", " ", ",", ";", "\t", "\n", "\r\n", "\r", '"', "'", "\\", "/", "é", "漢", "😀", "\u2028",
         "\x01", "\x7f", "0", "1", "-", ".", "e", "+", "{", "}", "[", "]", ":", "#"]


def rstr(maxlen=8):
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, maxlen)))


def rnum():
    k = rng.random()
    if k < 0.3: return rng.randint(-1000, 1000)
    if k < 0.45: return rng.choice([2**63 - 1, -2**63, 2**64, 10**30, -10**25])
    if k < 0.8: return rng.choice([0.5, -2.25, 1e-300, 1.7976931348623157e308, 3.14159, 1e21, 123456.789])
    return rng.uniform(-1e6, 1e6)


def rval(depth=0):
    k = rng.random()
    if depth > 3 or k < 0.35: return rng.choice([None, True, False, rnum(), rstr(), rnum(), rstr()])
    if k < 0.65: return {rstr(5): rval(depth + 1) for _ in range(rng.randint(0, 4))}
    return [rval(depth + 1) for _ in range(rng.randint(0, 4))]


def norm(v):
    """A value as Python reads it back: numbers by value (ints exact), keys in order (last duplicate wins)."""
    return json.loads(json.dumps(v))


def run(args, data=None, path=None):
    cmd = [P] + args + ([path] if path else [])
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y: return f"at {i}: {x!r} vs {y!r}"
    return f"lengths {len(a)} vs {len(b)}"


def jsonl_values(out):
    return [json.loads(l) for l in out.decode().split("\n") if l]


bad = 0


def fail(round_no, what, detail, files):
    global bad
    bad += 1
    d = os.path.join(KEEP, f"round{round_no}")
    os.makedirs(d, exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(content)
    print(f"round {round_no}: {what}: {detail[:400]} (files in {d})", flush=True)


for r in range(rounds):
    n = rng.randint(0, rng.choice([5, 60, 600]))
    values = [rval() for _ in range(n)]
    expect = [norm(v) for v in values]
    small = ["-j", "3", "--batch-size", str(rng.choice([64, 200, 1000, 4096]))]
    jobs = rng.choice([["-j", "1"], small])
    eol = rng.choice(["\n", "\n", "\r\n"])
    texts = [json.dumps(v, ensure_ascii=rng.random() < 0.3) for v in values]
    body = eol.join(texts) + (eol if texts and rng.random() < 0.9 else "")
    if rng.random() < 0.2: body = "\ufeff" + body
    if rng.random() < 0.2 and texts: body = body.replace(eol, eol + "  " + eol, 1)
    raw = body.encode()
    tmp = tempfile.mkdtemp(prefix="ff-", dir=KEEP)
    files = {"in.jsonl": raw}
    try:
        # JSON Lines: file, stdin, gzip, zstd
        variants = [("file", lambda: run(jobs + ["--stages", "parse"], path=os.path.join(tmp, "in.jsonl"))),
                    ("stdin", lambda: run(jobs + ["--stages", "parse"], data=raw))]
        with open(os.path.join(tmp, "in.jsonl"), "wb") as f: f.write(raw)
        with gzip.open(os.path.join(tmp, "in.jsonl.gz"), "wb") as f: f.write(raw)
        variants.append(("gzip", lambda: run(jobs + ["--stages", "parse"], path=os.path.join(tmp, "in.jsonl.gz"))))
        if HAVE_ZSTD:
            subprocess.run(["zstd", "-q", "-f", os.path.join(tmp, "in.jsonl"), "-o", os.path.join(tmp, "in.jsonl.zst")], check=True)
            variants.append(("zstd", lambda: run(jobs + ["--stages", "parse"], path=os.path.join(tmp, "in.jsonl.zst"))))
        for name, f in variants:
            rc, out, err = f()
            if rc != 0: fail(r, f"jsonl {name} rc {rc}", err.decode(errors="replace"), files); continue
            got = jsonl_values(out)
            if got != expect: fail(r, f"jsonl {name} differs", first_diff(got, expect), files)
        # --format json, pretty and concatenated
        seps = ["\n", " ", "", "\r\n", "\n\n\t"]
        pretty = ""
        for v in values:
            t = json.dumps(v, indent=rng.choice([None, 1, 2]), ensure_ascii=rng.random() < 0.5)
            # Concatenation without a separator is only unambiguous between non-numbers (as in jq).
            pretty += t + rng.choice(seps if isinstance(v, (str, dict, list)) else ["\n", " "])
        files["in.json"] = pretty.encode()
        rc, out, err = run(jobs + ["--format", "json", "--map", "."], data=pretty.encode())
        if rc != 0: fail(r, f"--format json rc {rc}", err.decode(errors="replace"), files)
        elif jsonl_values(out) != expect: fail(r, "--format json differs", first_diff(jsonl_values(out), expect), files)
        arr = json.dumps(values, indent=rng.choice([None, 2])).encode()
        files["arr.json"] = arr
        rc, out, err = run(jobs + ["--format", "json", "--unwrap", "--map", "."], data=arr)
        if rc != 0: fail(r, f"--unwrap rc {rc}", err.decode(errors="replace"), files)
        elif jsonl_values(out) != expect: fail(r, "--unwrap differs", first_diff(jsonl_values(out), expect), files)
        # --output json / pretty
        rc, out, err = run(jobs + ["--stages", "parse", "--output", "json"], data=raw)
        if rc != 0 or json.loads(out.decode()) != expect: fail(r, f"--output json rc {rc}", out.decode()[:200] + err.decode(), files)
        rc, out, err = run(jobs + ["--stages", "parse", "--output", "pretty"], data=raw)
        if rc == 0:
            dec = json.JSONDecoder(); s = out.decode(); i = 0; got = []
            while True:
                while i < len(s) and s[i] in " \n": i += 1
                if i >= len(s): break
                v, i = dec.raw_decode(s, i); got.append(v)
            if got != expect: fail(r, "--output pretty differs", first_diff(got, expect), files)
        else: fail(r, f"--output pretty rc {rc}", err.decode(), files)

        # CSV / TSV of flat string records
        ncol = rng.randint(1, 5)
        header = []
        while len(header) < ncol:
            h = "".join(rng.choice("abcxyz_") for _ in range(rng.randint(1, 4)))
            if h not in header: header.append(h)
        rows = [[rstr(6) for _ in header] for _ in range(rng.randint(0, rng.choice([5, 300])))]
        # A row whose fields are all empty is a blank line for one column; rows of only empty
        # fields are written quoted by csv only when needed, so keep at least one non-empty field.
        rows = [row if any(row) else ["x"] + row[1:] for row in rows]
        delim = rng.choice([",", ";", "|", "\t"])
        # RFC 4180 by hand: Python's csv writer leaves a CR unquoted when its line terminator is LF.
        def cfield(f):
            if any(c in f for c in (delim, '"', "\r", "\n")) or rng.random() < 0.1:
                return '"' + f.replace('"', '""') + '"'
            return f
        term = rng.choice(["\n", "\r\n"])
        ctext = "".join(delim.join(cfield(f) for f in row) + term for row in [header] + rows)
        if rng.random() < 0.2: ctext = ctext[:-len(term)]
        ctext = ctext.encode()
        files["in.csv"] = ctext
        want = [dict(zip(header, row)) for row in rows]
        dopt = ["--delimiter", "tab" if delim == "\t" else delim]
        rc, out, err = run(jobs + ["--format", "csv", "--no-infer"] + dopt, data=ctext)
        if rc != 0: fail(r, f"csv rc {rc}", err.decode(errors="replace"), files)
        elif jsonl_values(out) != want: fail(r, "csv differs", first_diff(jsonl_values(out), want), files)
        # inferred: a field becomes a number exactly when it is a canonical JSON number
        numrows = [[rng.choice(["1", "-0", "007", "1e5", "1.", ".5", "+1", "0x10", "1.5e-3", " 1", "1 ", "-", "12345678901234567890123", "NaN", "inf", "0.0", "1E+2"]) for _ in header] for _ in range(rng.randint(1, 20))]
        sio = io.StringIO(); w = csv.writer(sio, delimiter=delim, lineterminator="\n"); w.writerow(header); w.writerows(numrows)
        files["num.csv"] = sio.getvalue().encode()
        rc, out, err = run(jobs + ["--format", "csv"] + dopt, data=files["num.csv"])
        wantn = [{h: (json.loads(f) if NUM.match(f) else f) for h, f in zip(header, row)} for row in numrows]
        if rc != 0: fail(r, f"csv infer rc {rc}", err.decode(errors="replace"), files)
        elif jsonl_values(out) != wantn: fail(r, "csv infer differs", first_diff(jsonl_values(out), wantn), files)
        # TSV with its escapes
        def tsv_esc(s): return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        ttext = ("\n".join("\t".join(tsv_esc(f) for f in row) for row in [header] + rows) + "\n").encode()
        files["in.tsv"] = ttext
        rc, out, err = run(jobs + ["--format", "tsv", "--no-infer"], data=ttext)
        if rc != 0: fail(r, f"tsv rc {rc}", err.decode(errors="replace"), files)
        elif jsonl_values(out) != want: fail(r, "tsv differs", first_diff(jsonl_values(out), want), files)
        # --output csv / tsv read back
        recs = "".join(json.dumps(x) + "\n" for x in want).encode()
        files["recs.jsonl"] = recs
        rc, out, err = run(jobs + ["--stages", "parse", "--output", "csv"], data=recs)
        if rc != 0: fail(r, f"--output csv rc {rc}", err.decode(), files)
        elif want:
            back = list(csv.reader(io.StringIO(out.decode(), newline="")))
            if back != [header] + rows: fail(r, "--output csv read back differs", first_diff(back, [header] + rows), files)
        rc, out, err = run(jobs + ["--stages", "parse", "--output", "tsv"], data=recs)
        if rc != 0: fail(r, f"--output tsv rc {rc}", err.decode(), files)
        elif want:
            rc2, out2, err2 = run(["--format", "tsv", "--no-infer"], data=out)
            if jsonl_values(out2) != want: fail(r, "--output tsv read back differs", first_diff(jsonl_values(out2), want), files)
        # Corrupted streams: a few bytes deleted, inserted or replaced. Whatever the damage: exit
        # 0 or 1, the --stats identity, every output line valid JSON, and the same output and
        # error stream at -j 1 with 1 MiB batches as at -j 3 with tiny ones (framing across batch
        # boundaries must not depend on where they fall).
        for name, text, opts in (("in.json", pretty.encode(), ["--format", "json"]),
                                 ("arr.json", arr, ["--format", "json", "--unwrap"]),
                                 ("in.csv", ctext, ["--format", "csv"] + dopt),
                                 ("in.jsonl", raw, [])):
            b = bytearray(text)
            for _ in range(rng.randint(1, 4)):
                if not b: break
                at = rng.randrange(len(b) + 1)
                junk = rng.choice([b'"', b"{", b"}", b"[", b"]", b",", b"\\", b"\n", b"\r\n", b"\xff", b"\xc3", b"", b" "])
                cut = rng.randint(0, 3)
                b[at:at + cut] = junk
            bad_text = bytes(b)
            runs = []
            for jopts in (["-j", "1"], ["-j", "3", "--batch-size", str(rng.choice([64, 100, 333]))]):
                rc, out, err = run(jopts + opts + ["--stats"], data=bad_text)
                lines = err.decode(errors="replace").splitlines()
                stats = json.loads(lines[-1]) if lines and lines[-1].startswith('{"records_in"') else None
                problems = []
                if rc not in (0, 1): problems.append(f"exit {rc}")
                if stats is None: problems.append("no stats")
                elif stats["records_in"] + stats.get("emitted", 0) != stats["records_out"] + stats["dropped"] + stats["errors"] + stats.get("consumed", 0):
                    problems.append("stats identity")
                for l in out.decode(errors="replace").split("\n"):
                    if l:
                        try: json.loads(l)
                        except Exception: problems.append(f"invalid output line {l[:60]!r}"); break
                if problems:
                    fail(r, f"corrupted {name} {jopts}", "; ".join(problems), dict(files, **{"bad-" + name: bad_text}))
                runs.append((out, [l for l in lines if not l.startswith('{"records_in"')]))
            if len(runs) == 2 and runs[0] != runs[1]:
                fail(r, f"corrupted {name}: -j 1 and -j 3 with small batches differ",
                     first_diff(runs[0][0].decode(errors="replace").split("\n") + runs[0][1],
                                runs[1][0].decode(errors="replace").split("\n") + runs[1][1]),
                     dict(files, **{"bad-" + name: bad_text}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if (r + 1) % 50 == 0: print(f"{r + 1} rounds, {bad} failures", flush=True)
print(f"rounds {rounds} bad {bad} kept in {KEEP if bad else '-'}")
sys.exit(1 if bad else 0)
