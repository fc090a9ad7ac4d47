#!/usr/bin/env bash
# End-to-end tests of ppipe: golden cases (cases/<group>/<NNNN-name>/) and scripted checks
# (checks/*.sh). Usage: run_all.sh PPIPE PPIPE_GEN  (cwd arbitrary).
# Prints one line per check ("ok - name" / "not ok - name" + indented reason), then a summary;
# exits 1 if any check failed. E2E_ONLY=REGEX runs only the checks whose name matches (the golden
# cases are named cases/<group>/<case>); E2E_SKIP=REGEX leaves out the checks whose name matches.
# E2E_TIMES=1 prints how long each scripted check took.
set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 PATH/TO/ppipe PATH/TO/ppipe-gen" >&2
  exit 2
fi
PPIPE=$(realpath "$1")
PPIPE_GEN=$(realpath "$2")
E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
DATA="$REPO/tests/data"
CORPUS=$(cd "$REPO/.." && pwd)/shared/corpus
export PPIPE PPIPE_GEN E2E REPO DATA CORPUS
export LC_ALL=C

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ppipe-e2e.XXXXXX")
export TMP
cleanup() {
  # Background helpers (producers, ppipe under test) that a check left behind: only our own jobs.
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

source "$E2E/lib.sh"

want() {  # want NAME: is this check selected by E2E_ONLY (and not by E2E_SKIP)?
  if [ -n "${E2E_SKIP:-}" ] && [[ $1 =~ $E2E_SKIP ]]; then return 1; fi
  [ -z "${E2E_ONLY:-}" ] || [[ $1 =~ $E2E_ONLY ]]
}

START=$(now_ms)
echo "# ppipe e2e: $PPIPE"
for tool in "$PPIPE" "$PPIPE_GEN"; do
  [ -x "$tool" ] || { echo "Bail out! not executable: $tool"; exit 2; }
done
command -v jq >/dev/null || { echo "Bail out! jq is required"; exit 2; }

# ---- golden cases ----
for dir in "$E2E"/cases/*/*/; do
  dir=${dir%/}
  [ -f "$dir/cmd" ] || continue
  # Parameter expansion, not basename/dirname: 4 processes x 160 cases were ~50 s under load.
  group=${dir%/*}; group=${group##*/}
  name="cases/$group/${dir##*/}"
  want "$name" || continue
  run_case "$dir"
  reasons=()
  exp_code=0
  [ -f "$dir/expcode" ] && read -r exp_code < "$dir/expcode"
  read -r got_code < "$TMP/case.rc"
  [ "$got_code" = "$exp_code" ] || reasons+=("exit code: expected $exp_code, got $got_code")
  if [ -f "$dir/expout" ] && ! cmp -s "$dir/expout" "$TMP/case.out"; then
    reasons+=("stdout differs:" "$(short_diff "$dir/expout" "$TMP/case.out")")
  fi
  if [ -f "$dir/experr" ] && ! cmp -s "$dir/experr" "$TMP/case.err"; then
    reasons+=("stderr differs:" "$(short_diff "$dir/experr" "$TMP/case.err")")
  fi
  if [ ${#reasons[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "cmd: $(cat "$dir/cmd")" "${reasons[@]}"; fi
done

# ---- scripted checks ----
# Each file defines functions named t_<something> and registers them with `register`.
CHECKS=()
register() { CHECKS+=("$1"); }
# shellcheck source=/dev/null
for f in "$E2E"/checks/*.sh; do source "$f"; done
for fn in "${CHECKS[@]}"; do
  want "${fn#t_}" || continue
  mkdir -p "$TMP/w/$fn"
  t0=$(now_ms)
  # A subshell per check: a cd, a trap or a failure inside one check cannot leak into the next.
  # Results are counted from the ok/not ok lines it prints.
  out=$(cd "$TMP/w/$fn" && "$fn" 2>&1)
  [ -n "$out" ] && printf '%s\n' "$out"
  [ -n "${E2E_TIMES:-}" ] && echo "#   $fn: $(( $(now_ms) - t0 )) ms"
  while IFS= read -r line; do
    case $line in
      "ok - "*) PASS=$((PASS + 1)) ;;
      "not ok - "*) FAIL=$((FAIL + 1)); FAILED_NAMES+=("${line#not ok - }") ;;
    esac
  done <<< "$out"
  rm -rf "$TMP/w/$fn"
done

ELAPSED=$(( $(now_ms) - START ))
echo
echo "# $PASS passed, $FAIL failed, $((PASS + FAIL)) checks, $((ELAPSED / 1000)).$(printf '%03d' $((ELAPSED % 1000)))s"
if [ "$FAIL" -gt 0 ]; then
  echo "# failed:"
  printf '#   %s\n' "${FAILED_NAMES[@]}"
  exit 1
fi
exit 0
