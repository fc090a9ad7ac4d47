# shellcheck shell=bash
# Generated data with bad lines (ppipe-gen --bad-every 50 --crlf-every 10): error positions, stats,
# agreement with jq. Sourced by run_all.sh.

# g5_run: runs ppipe --stats on the shared generated file once per check dir; sets F, RC.
g5_run() {
  F=$(gen_file g5 "${G5_ARGS[@]}") || return 1
  "$PPIPE" --stats "$F" > out 2> err; RC=$?
  head -n -1 err > errs
  tail -n 1 err > stats
}

t_generated_error_count() {
  local name="generated: one error record per bad line of ppipe-gen (--stats counts), exit 1"
  g5_run || { not_ok "$name" "ppipe-gen failed"; return; }
  local bad records nerr msg=()
  bad=$(jq .bad "$F.genstats"); records=$(jq .records "$F.genstats")
  nerr=$(wc -l < errs)
  [ "$RC" = 1 ] || msg+=("exit $RC, expected 1")
  [ "$bad" -gt 0 ] || msg+=("generator reported no bad lines: $(cat "$F.genstats")")
  [ "$nerr" = "$bad" ] || msg+=("error records: $nerr, generator's bad lines: $bad")
  [ "$(wc -l < out)" = "$records" ] || msg+=("stdout lines: $(wc -l < out), generator's valid records: $records")
  # Every error record has exactly the documented fields.
  local badshape
  badshape=$(jq -c 'select(((keys - ["record","record_base64"]) != ["error","line","offset","source","stage"])
      or ((has("record")) == (has("record_base64"))) or (.source != $src) or (.stage != "parse")
      or ((.error | startswith("invalid JSON: ")) | not))' --arg src "$F" errs | head -n 3)
  [ -z "$badshape" ] || msg+=("error records with unexpected fields:" "$badshape")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_generated_error_count

t_generated_error_positions() {
  local name="generated: every error's line, offset and record point at the exact bytes of the input"
  g5_run || { not_ok "$name" "ppipe-gen failed"; return; }
  local msg=()
  # Positions and raw text of the reported lines, straight from the file (bytes, CR stripped).
  jq -r '.line' errs > lines
  awk 'NR == FNR { want[$1] = 1; next }
       { if (FNR in want) { t = $0; sub(/\r$/, "", t); printf "%d\t%d\n", FNR, off > "exp_pos"; print t > "exp_rec" }
         off += length($0) + 1 }' lines "$F"
  jq -r '"\(.line)\t\(.offset)"' errs > got_pos
  cmp -s exp_pos got_pos || msg+=("line/offset pairs do not match the file:" "$(short_diff exp_pos got_pos | head -n 8)")
  # The raw bytes of each record (record, or base64-decoded record_base64), one python3 run for
  # all of them (it was a base64 process per error record: ~20 s of CI under load).
  jq -r 'if has("record") then (.record | @base64) else .record_base64 end' errs |
    python3 -c 'import base64, sys
out = sys.stdout.buffer
for l in sys.stdin.buffer:
    out.write(base64.b64decode(l.strip(), validate=True) + b"\n")' > got_rec ||
    msg+=("decoding the records failed")
  if ! cmp -s exp_rec got_rec; then
    msg+=("records differ from the file's lines: $(cmp exp_rec got_rec 2>&1 | head -n 1)")
  fi
  # Spot check with tail/head -c, as a user would: the first 5 errors.
  local line off len
  while IFS=$'\t' read -r line off; do
    len=$(sed -n "${line}p" "$F" | tr -d '\r' | wc -c)
    if ! cmp -s <(tail -c +$((off + 1)) "$F" | head -c $((len - 1))) <(sed -n "${line}p" "$F" | tr -d '\r\n'); then
      msg+=("line $line: bytes at offset $off are not that line")
    fi
  done < <(head -n 5 got_pos)
  # record_base64 is used exactly for the records that are not valid UTF-8.
  local n64; n64=$(jq -r 'select(has("record_base64")) | .error' errs | sort | uniq -c)
  if jq -e 'select(has("record_base64") and (.error | test("UTF-8") | not))' errs > /dev/null; then
    msg+=("record_base64 for an error that is not about UTF-8: $n64")
  fi
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_generated_error_positions

t_generated_stdout_is_good_lines() {
  local name="generated: stdout is exactly the input minus blank and bad lines, CR removed"
  g5_run || { not_ok "$name" "ppipe-gen failed"; return; }
  jq -r '.line' errs > lines
  awk 'NR == FNR { bad[$1] = 1; next }
       { t = $0; sub(/\r$/, "", t); if (!(FNR in bad) && t !~ /^[ \t\r]*$/) print t }' lines "$F" > exp.out
  if cmp -s exp.out out; then ok "$name"; else not_ok "$name" "$(cmp exp.out out 2>&1)"; fi
}
register t_generated_stdout_is_good_lines

t_generated_stats() {
  local name="generated: --stats is the last stderr line and adds up"
  g5_run || { not_ok "$name" "ppipe-gen failed"; return; }
  local msg=() s; s=$(cat stats)
  if ! jq -e . stats > /dev/null 2>&1; then not_ok "$name" "last stderr line is not JSON: ${s:0:200}"; return; fi
  local bad records bytes
  bad=$(jq .bad "$F.genstats"); records=$(jq .records "$F.genstats"); bytes=$(jq .bytes "$F.genstats")
  local got want
  got=$(jq -c '[.records_in, .records_out, .dropped, .errors, .bytes_in, .bytes_out, .stopped_by]' stats)
  want="[$((records + bad)),$records,0,$bad,$bytes,$(wc -c < out),\"end\"]"
  expect_eq "[records_in,records_out,dropped,errors,bytes_in,bytes_out,stopped_by]" "$want" "$got" > m || msg+=("$(cat m)")
  jq -e '.records_in == .records_out + .dropped + .errors' stats > /dev/null || msg+=("records_in != records_out + dropped + errors: $s")
  jq -e '(.seconds | type) == "number" and .seconds >= 0 and (.workers | type) == "number" and .workers >= 1' stats > /dev/null \
    || msg+=("seconds/workers missing or not numbers")
  got=$(jq -c '[.stages[] | [.name, .in, .out, .dropped, .errors]]' stats)
  want="[[\"parse\",$((records + bad)),$records,0,$bad]]"
  expect_eq "stages" "$want" "$got" > m || msg+=("$(cat m)")
  # -j 3 is reported as workers 3.
  "$PPIPE" -j 3 --stats "$F" 2>&1 >/dev/null | tail -n 1 | jq -e '.workers == 3' > /dev/null || msg+=("-j 3 not reported as workers 3")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_generated_stats

t_generated_stats_head() {
  local name="generated: --stats with --head counts only the records up to the N-th"
  F=$(gen_file g5 "${G5_ARGS[@]}") || { not_ok "$name" "ppipe-gen failed"; return; }
  "$PPIPE" --stats --head 1000 "$F" > out 2> err
  local msg=()
  local nerr; nerr=$(($(wc -l < err) - 1))
  tail -n 1 err > stats
  jq -e --argjson e "$nerr" '.records_out == 1000 and .errors == $e and .records_in == 1000 + $e and .dropped == 0
      and .stopped_by == "head" and .stages[1].name == "head" and .stages[1].in == 1000 and .stages[1].out == 1000' stats > /dev/null \
    || msg+=("unexpected stats for --head 1000 with $nerr errors before it: $(cat stats)")
  [ "$(wc -l < out)" = 1000 ] || msg+=("stdout has $(wc -l < out) lines")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_generated_stats_head

t_generated_jq_agrees() {
  local name="generated: jq parses every output line; jq's per-line verdicts agree except jq 1.6 leniencies"
  g5_run || { not_ok "$name" "ppipe-gen failed"; return; }
  local msg=()
  local n; n=$(jq -c . out 2>/dev/null | wc -l)
  [ "$n" = "$(wc -l < out)" ] || msg+=("jq -c . parses $n of $(wc -l < out) output lines")
  [ "$n" = "$(jq .records "$F.genstats")" ] || msg+=("jq counts $n output records, the generator wrote $(jq .records "$F.genstats") valid ones")
  # jq's verdict for each physical line. jq 1.6 is lenient: it accepts invalid UTF-8 (replacing it),
  # nan and leading zeros; every other disagreement is reported.
  jq -R -r 'try (fromjson | "ok") catch "bad"' "$F" > verdicts
  jq -r '"\(.line)\t\(if has("record_base64") then "utf8" else .record end)"' errs > bad_lines
  local diffs
  diffs=$(awk -F'\t' 'NR == FNR { bad[$1] = $2; next }
    { blank = ($0 ~ /^[ \t\r]*$/) }
    FILENAME == ARGV[2] { text[FNR] = blank; next }
    { v = $0; line = FNR
      if (text[line]) next                                  # blank: no record, jq not asked
      if (v == "bad" && !(line in bad)) print "line " line ": jq rejects, ppipe accepted"
      if (v == "ok" && (line in bad)) {
        r = bad[line]
        if (r != "utf8" && r !~ /nan|NaN|[-:,\[ ]0[0-9]|^0[0-9]/) print "line " line ": jq accepts, ppipe rejected: " substr(r, 1, 120)
      } }' bad_lines "$F" verdicts | head -n 10)
  [ -z "$diffs" ] || msg+=("$diffs")
  local jq_ok; jq_ok=$(grep -c '^ok$' verdicts)
  if [ ${#msg[@]} -eq 0 ]; then ok "$name (jq 1.6 valid: $jq_ok lines, ppipe: $n)"; else not_ok "$name" "${msg[@]}"; fi
}
register t_generated_jq_agrees
