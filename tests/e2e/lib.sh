# shellcheck shell=bash
# Helpers shared by run_all.sh and the scripted checks in checks/*.sh. Sourced, not run.
# Expects: PPIPE, PPIPE_GEN, TMP (scratch dir, removed on exit), E2E (this dir), DATA, CORPUS.

PASS=0
FAIL=0
FAILED_NAMES=()

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }

# not_ok NAME REASON...: REASON lines are printed indented under the result line.
not_ok() {
  local name=$1; shift
  FAIL=$((FAIL + 1)); FAILED_NAMES+=("$name")
  echo "not ok - $name"
  local line
  printf '%s\n' "$@" | head -n 40 | while IFS= read -r line; do printf '#   %s\n' "$line"; done
}

# check NAME CONDITION-COMMAND... : ok if the command succeeds, else not ok with its output.
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}

# Short unified diff of two files (printable, capped).
short_diff() {
  diff -u --label expected --label actual "$1" "$2" | head -n 30 | cut -c1-300 | cat -v
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

# json_field FILE FILTER: jq -r over the last line of FILE (for --stats).
stats_of() { tail -n 1 "$1" | jq -c "$2" 2>/dev/null; }

# expect_eq WHAT EXPECTED ACTUAL: prints a message and fails when they differ.
expect_eq() {
  if [ "$2" != "$3" ]; then echo "$1: expected '$2', got '$3'"; return 1; fi
}

# non_json_lines FILE N: how many lines of FILE are not JSON, or "lines: M" when it has M lines, not
# N (the stderr checks: no line of one writer lands inside another's).
non_json_lines() {
  python3 -c "
import json, sys
n = b = 0
for l in open(sys.argv[1]):
    n += 1
    try: json.loads(l)
    except Exception: b += 1
print(b if n == int(sys.argv[2]) else 'lines: %d' % n)" "$1" "$2"
}

# A file of the generator's output, made once per run and shared by checks.
gen_file() {  # gen_file NAME ARGS... -> path; stats in NAME.genstats
  local name=$1; shift
  local f="$TMP/gen/$name"
  if [ ! -f "$f" ]; then
    mkdir -p "$TMP/gen"
    "$PPIPE_GEN" "$@" > "$f" 2> "$f.genstats" || return 1
  fi
  echo "$f"
}

# run_case CASE_DIR: runs the case's cmd in a scratch copy of its directory (so a cmd may write
# scratch files without touching the repo). Leaves $TMP/case.out, case.err, case.rc.
run_case() {
  local dir=$1
  local group=${dir%/*}; group=${group##*/}
  local work="$TMP/casework/$group/${dir##*/}"
  rm -rf "$work"; mkdir -p "$work"
  cp -R "$dir/." "$work/"
  rm -f "$work/expout" "$work/experr" "$work/expcode"
  local rc=0
  local cmd
  cmd=$(< "$dir/cmd")
  (cd "$work" && exec timeout 60 bash -c "$cmd") </dev/null >"$TMP/case.out" 2>"$TMP/case.err" || rc=$?
  echo "$rc" > "$TMP/case.rc"
}
