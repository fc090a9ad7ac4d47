#!/usr/bin/env bash
# Rewrites the expected results of golden cases from the current binary, for review with git diff.
# Usage: regen.sh PPIPE PPIPE_GEN [CASE_DIR...]   (default: every case under cases/)
# expout and expcode are always written (expcode only when non-zero, else removed); experr is
# rewritten only where it exists (a case without experr does not check stderr). To start checking
# stderr of a case, create an empty experr first.
# Cases with a file named 'handwritten' are skipped (their expected results were written by hand
# from the spec, typically for a known engine bug): set REGEN_HANDWRITTEN=1 to regenerate them too.
# Never commit the result without reading the diff: a golden that records a bug is a bug.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 PATH/TO/ppipe PATH/TO/ppipe-gen [CASE_DIR...]" >&2
  exit 2
fi
PPIPE=$(realpath "$1")
PPIPE_GEN=$(realpath "$2")
shift 2
E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
DATA="$REPO/tests/data"
CORPUS=$(cd "$REPO/.." && pwd)/shared/corpus
export PPIPE PPIPE_GEN E2E REPO DATA CORPUS
export LC_ALL=C
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ppipe-regen.XXXXXX")
export TMP
trap 'rm -rf "$TMP"' EXIT
source "$E2E/lib.sh"

if [ $# -eq 0 ]; then
  set -- "$E2E"/cases/*/*/
fi
for dir in "$@"; do
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/cmd" ] || { echo "skip (no cmd): $dir" >&2; continue; }
  if [ -f "$dir/handwritten" ] && [ -z "${REGEN_HANDWRITTEN:-}" ]; then
    echo "skip (expected results written by hand, see its 'handwritten' file; REGEN_HANDWRITTEN=1 to override): ${dir#$E2E/}"
    continue
  fi
  run_case "$dir"
  cp "$TMP/case.out" "$dir/expout"
  [ -f "$dir/experr" ] && cp "$TMP/case.err" "$dir/experr"
  rc=$(cat "$TMP/case.rc")
  if [ "$rc" = 0 ]; then rm -f "$dir/expcode"; else echo "$rc" > "$dir/expcode"; fi
  echo "regenerated ${dir#$E2E/} (exit $rc)"
done
