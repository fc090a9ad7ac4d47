# shellcheck shell=bash
# Real data vendored from the shared corpus into tests/data (see tests/data/SOURCES.md). Sourced by run_all.sh.

JTS=jsontestsuite/test_parsing

# n_ files that are not one bad record under the ppipe spec: after BOM removal they are blank, and
# blank lines are not records (exit 0, no output, no error). Asserted as such below, not skipped.
declare -A JTS_BLANK_N=(
  [n_single_space.json]="a single space: a blank line"
  [n_structure_no_data.json]="empty file: no lines"
  [n_structure_UTF8_BOM_no_data.json]="only a BOM: removed at the start of the file, leaving nothing"
)

# Runs ppipe on every newline-free file of test_parsing whose name starts with $1; writes one
# "name<TAB>exit<TAB>stdout-bytes<TAB>error-lines<TAB>stdout-equals-input+LF" line per file.
# One process per file is the point (an exit code each, a crash stays in its file); the
# bookkeeping around them is two python3 runs, not five tools per file (CI time, under ASan too).
jts_run() {
  local prefix=$1 f rc
  : > results
  command -v python3 >/dev/null || { echo "python3 is required (scripts/setup installs it)" > results.err; return 1; }
  mkdir -p jts
  python3 - "$DATA/$JTS" "$prefix" > files <<'PY'
import os, sys
d, prefix = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(d)):
    if name.startswith(prefix):
        with open(os.path.join(d, name), "rb") as f:
            if b"\n" not in f.read():
                print(name)
PY
  while IFS= read -r f; do
    timeout 10 "$PPIPE" "$DATA/$JTS/$f" > "jts/$f.out" 2> "jts/$f.err"; rc=$?
    printf '%s\t%s\n' "$f" "$rc" >> codes
  done < files
  python3 - "$DATA/$JTS" codes > results <<'PY'
import sys
d, codes = sys.argv[1], sys.argv[2]
for line in open(codes):
    name, rc = line.rstrip("\n").split("\t")
    data = open(f"{d}/{name}", "rb").read()
    out = open(f"jts/{name}.out", "rb").read()
    errs = sum(1 for l in open(f"jts/{name}.err", "rb") if l.startswith(b'{"source"'))
    same = "yes" if out == data + b"\n" else "no"
    print("\t".join([name, rc, str(len(out)), str(errs), same]))
PY
}

t_jsontestsuite_y() {
  local name="JSONTestSuite: every newline-free y_ file is accepted byte for byte"
  [ -d "$DATA/$JTS" ] || { not_ok "$name" "missing $DATA/$JTS"; return; }
  jts_run y_
  local fails
  fails=$(awk -F'\t' '$2 != 0 || $5 != "yes" || $4 != 0 { print $1 ": exit " $2 ", errors " $4 ", output equals input+LF: " $5 }' results)
  local n; n=$(wc -l < results)
  if [ -z "$fails" ] && [ "$n" -gt 0 ]; then ok "$name ($n files)"; else not_ok "$name" "$fails"; fi
}
register t_jsontestsuite_y

t_jsontestsuite_n() {
  local name="JSONTestSuite: every newline-free n_ file is one error record, nothing on stdout, exit 1"
  [ -d "$DATA/$JTS" ] || { not_ok "$name" "missing $DATA/$JTS"; return; }
  jts_run n_
  local fails="" b rc bytes errs same
  while IFS=$'\t' read -r b rc bytes errs same; do
    if [ -n "${JTS_BLANK_N[$b]:-}" ]; then
      [ "$rc" = 0 ] && [ "$bytes" = 0 ] && [ "$errs" = 0 ] \
        || fails+="$b (expected exception, ${JTS_BLANK_N[$b]}: exit 0, no output, no error): exit $rc, stdout $bytes B, $errs errors"$'\n'
    elif [ "$rc" -ge 128 ]; then fails+="$b: CRASH or HANG (exit $rc)"$'\n'
    elif [ "$rc" != 1 ] || [ "$bytes" != 0 ] || [ "$errs" != 1 ]; then
      fails+="$b: exit $rc, stdout $bytes B, $errs error records"$'\n'
    fi
  done < results
  local n; n=$(wc -l < results)
  if [ -z "$fails" ] && [ "$n" -gt 0 ]; then
    ok "$name ($n files; exceptions as specified: ${!JTS_BLANK_N[*]})"
  else not_ok "$name" "$fails"; fi
}
register t_jsontestsuite_n

t_jsontestsuite_i() {
  local name="JSONTestSuite: i_ files never crash or hang"
  [ -d "$DATA/$JTS" ] || { not_ok "$name" "missing $DATA/$JTS"; return; }
  jts_run i_
  local crashes accepted rejected
  crashes=$(awk -F'\t' '$2 >= 128 || ($2 != 0 && $2 != 1) { print $1 ": exit " $2 }' results)
  accepted=$(awk -F'\t' '$2 == 0 { sub(/^i_/, "", $1); sub(/\.json$/, "", $1); print $1 }' results | tr '\n' ' ')
  rejected=$(awk -F'\t' '$2 == 1' results | wc -l)
  local n; n=$(wc -l < results)
  if [ -z "$crashes" ] && [ "$n" -gt 0 ]; then ok "$name (accepted: ${accepted}; rejected: $rejected)"
  else not_ok "$name" "${crashes:-no i_ file was run}"; fi
}
register t_jsontestsuite_i

t_gharchive() {
  local name="real data: gharchive (800 JSONL records) passes through byte-identical; jq agrees on the count"
  local f="$DATA/gharchive/2021-07-21-few-hours.json"
  [ -f "$f" ] || { not_ok "$name" "missing $f"; return; }
  "$PPIPE" --stats "$f" > out 2> err; local rc=$?
  local msg=() n
  [ "$rc" = 0 ] || msg+=("exit $rc")
  cmp -s out "$f" || msg+=("output differs: $(cmp out "$f" 2>&1)")
  n=$(jq -c . "$f" | wc -l)
  [ "$n" = 800 ] || msg+=("jq counts $n records (expected 800)")
  tail -n 1 err | jq -e --argjson n "$n" '.records_in == $n and .records_out == $n and .errors == 0' > /dev/null 2>&1 \
    || msg+=("stats: $(tail -n 1 err | head -c 300)")
  [ "$(wc -l < err)" = 1 ] || msg+=("stderr: $(head -c 300 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_gharchive

t_zeek_dns() {
  local name="real data: zcat zeek dns.json.gz | ppipe equals the input"
  local f="$DATA/zeek/dns.json.gz"
  [ -f "$f" ] || { not_ok "$name" "missing $f"; return; }
  zcat "$f" > in.jsonl
  zcat "$f" | "$PPIPE" > out 2> err; local rc=${PIPESTATUS[1]}
  local msg=()
  [ "$rc" = 0 ] || msg+=("exit $rc")
  cmp -s out in.jsonl || msg+=("output differs: $(cmp out in.jsonl 2>&1)")
  [ -s err ] && msg+=("stderr: $(head -c 300 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name ($(wc -l < out) records)"; else not_ok "$name" "${msg[@]}"; fi
}
register t_zeek_dns
