# shellcheck shell=bash
# Determinism: stdout and the error stream are byte-identical for every --workers and --batch-size
# in ordered mode; --unordered gives the same multiset of lines. Sourced by run_all.sh.

G5_ARGS=(--seed 7 --size 5M --bad-every 50 --crlf-every 10 --stats)

# det_matrix NAME REF_OUT REF_ERR -- CMD-PREFIX...: runs CMD-PREFIX -j J --batch-size B for every
# combination and compares with the reference files (after $DET_SED on stderr, if set).
det_matrix() {
  local name=$1 ref_out=$2 ref_err=$3; shift 4
  local j b bad=() first_diff="" rc why
  for j in 1 2 4 8; do
    for b in 1 100 4K 64K 1M; do
      "$@" -j "$j" --batch-size "$b" > o 2> e; rc=$?
      why=""
      [ "$rc" = "${DET_RC:-1}" ] || why+=" exit $rc;"
      cmp -s o "$ref_out" || why+=" stdout differs ($(cmp o "$ref_out" 2>&1 | head -n 1));"
      if ! cmp -s e "$ref_err"; then
        why+=" error stream differs;"
        [ -n "$first_diff" ] || first_diff="first error-stream diff (-j $j --batch-size $b):"$'\n'"$(short_diff "$ref_err" e | head -n 12 | cut -c1-220)"
      fi
      [ -z "$why" ] || bad+=("-j $j --batch-size $b:$why")
    done
  done
  if [ ${#bad[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${bad[@]}" "$first_diff"; fi
}

t_determinism_file() {
  local f; f=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok determinism_file "ppipe-gen failed"; return; }
  "$PPIPE" -j 1 "$f" > ref.out 2> ref.err
  det_matrix "determinism: file, ordered, -j 1/2/4/8 x --batch-size 1/100/4K/64K/1M" ref.out ref.err -- "$PPIPE" "$f"
}
register t_determinism_file

t_determinism_stdin() {
  local f; f=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok determinism_stdin "ppipe-gen failed"; return; }
  "$PPIPE" -j 1 "$f" > ref.out 2> ref.err
  # Same run through a pipe: only the source name may differ.
  sed 's/^{"source":"[^"]*"/{"source":"<stdin>"/' ref.err > ref.stdin.err
  det_matrix "determinism: stdin pipe, ordered, -j 1/2/4/8 x --batch-size 1/100/4K/64K/1M" ref.out ref.stdin.err -- \
    bash -c 'cat "$1" | "$0" "${@:2}"' "$PPIPE" "$f"
}
register t_determinism_stdin

t_determinism_unordered() {
  local f; f=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok determinism_unordered "ppipe-gen failed"; return; }
  "$PPIPE" -j 1 "$f" > ref.out 2> ref.err
  sort ref.out > ref.out.sorted; sort ref.err > ref.err.sorted
  local j b bad=() rc
  for j in 1 2 4 8; do
    for b in 1 4K 64K 1M; do
      "$PPIPE" --unordered -j "$j" --batch-size "$b" "$f" > o 2> e; rc=$?
      [ "$rc" = 1 ] || bad+=("-j $j --batch-size $b: exit $rc")
      sort o | cmp -s - ref.out.sorted || bad+=("-j $j --batch-size $b: sorted stdout differs")
      sort e | cmp -s - ref.err.sorted || bad+=("-j $j --batch-size $b: sorted error stream differs")
    done
  done
  if [ ${#bad[@]} -eq 0 ]; then ok "determinism: --unordered gives the same multiset of lines (stdout and errors)"
  else not_ok "determinism: --unordered gives the same multiset of lines (stdout and errors)" "${bad[@]}"; fi
}
register t_determinism_unordered

# Records longer than --max-record-size, some CRLF-terminated, some longer than a batch: the
# "read" errors (record_size, record) must not depend on how the input was cut into batches.
t_determinism_oversized() {
  local i
  {
    for i in 1 2 3 4 5 6; do
      printf '{"i":%d}\n' "$i"
      printf '{"i":%d,"s":"' "$i"; head -c $((3000 * i)) /dev/zero | tr '\0' x; printf '"}'
      if [ $((i % 2)) = 0 ]; then printf '\r\n'; else printf '\n'; fi
    done
    printf '{"s":"'; head -c 9000 /dev/zero | tr '\0' y; printf '"}\r'   # last line, no newline
  } > over.jsonl
  "$PPIPE" -j 1 --max-record-size 5000 over.jsonl > ref.out 2> ref.err
  det_matrix "determinism: oversized records (--max-record-size 5000, CRLF) for every -j/--batch-size" ref.out ref.err -- \
    "$PPIPE" --max-record-size 5000 over.jsonl
}
register t_determinism_oversized

# --head N on generated data: the first N good records and exactly the errors before the N-th,
# for every -j/--batch-size, ordered and unordered.
t_head_determinism() {
  local f; f=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok head_determinism "ppipe-gen failed"; return; }
  local n=5000
  "$PPIPE" -j 1 "$f" > full.out 2> full.err
  # Physical line of the N-th good record: skip blank lines and the lines the full run rejected.
  jq -r .line full.err > badlines
  local last
  last=$(awk -v n="$n" 'NR==FNR { bad[$1] = 1; next }
    { if (!(FNR in bad) && $0 !~ /^[ \t\r]*$/ && ++good == n) { print FNR; exit } }' badlines "$f")
  head -n "$n" full.out > exp.out
  jq -c --argjson last "$last" 'select(.line < $last)' full.err > exp.err
  local j b u bad=() rc
  for u in "" --unordered; do
    for j in 1 2 4 8; do
      for b in 1 100 4K 64K 1M; do
        "$PPIPE" $u -j "$j" --batch-size "$b" --head "$n" "$f" > o 2> e; rc=$?
        [ "$rc" = 1 ] || bad+=("$u -j $j --batch-size $b: exit $rc (errors before the ${n}th record exist)")
        cmp -s o exp.out || bad+=("$u -j $j --batch-size $b: stdout is not the first $n records")
        cmp -s e exp.err || bad+=("$u -j $j --batch-size $b: errors differ from those before line $last:" "$(short_diff exp.err e | head -n 6)")
      done
    done
  done
  if [ ${#bad[@]} -eq 0 ]; then ok "head: --head $n deterministic for every -j/--batch-size, ordered and --unordered"
  else not_ok "head: --head $n deterministic for every -j/--batch-size, ordered and --unordered" "${bad[@]}"; fi
}
register t_head_determinism

t_multiple_files_generated() {
  local f; f=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok multiple_files "ppipe-gen failed"; return; }
  cp "$f" a.jsonl; cp "$f" b.jsonl
  "$PPIPE" a.jsonl > a.out 2> a.err
  "$PPIPE" a.jsonl b.jsonl > ab.out 2> ab.err; local rc=$?
  { cat a.err; sed 's/^{"source":"a.jsonl"/{"source":"b.jsonl"/' a.err; } > exp.err
  local msg=()
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  cat a.out a.out | cmp -s - ab.out || msg+=("stdout is not a's output followed by b's")
  cmp -s exp.err ab.err || msg+=("errors: lines must restart at 1 in b.jsonl and name it" "$(short_diff exp.err ab.err | head -n 6)")
  if [ ${#msg[@]} -eq 0 ]; then ok "multiple files: a then b, errors name each source, lines restart"
  else not_ok "multiple files: a then b, errors name each source, lines restart" "${msg[@]}"; fi
}
register t_multiple_files_generated
