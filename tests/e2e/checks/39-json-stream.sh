# shellcheck shell=bash
# --format json (issue 9): JSON values in any layout (pretty-printed, concatenated, one per line) are
# the records, as jq reads them, for any batch size; --unwrap streams a top-level array's elements
# in bounded memory; a bad value is an error record naming the line where it starts, and the run
# goes on with the next value.

t_json_stream_layouts() {
  local msg=() bs
  zcat "$DATA/flights/flights-20k.jsonl.gz" > fl.jsonl
  jq . fl.jsonl > pretty.json                                          # pretty-printed, 7 lines each
  { head -n 3 fl.jsonl | tr -d '\n'; printf ' 42 "s" true null [1,\n2]\n'; } > mixed.json  # concatenated
  jq -c . pretty.json > want.jsonl
  for bs in 100 1K 64K; do
    "$PPIPE" -j 2 --batch-size $bs --format json pretty.json > got.jsonl 2>/dev/null
    cmp -s want.jsonl got.jsonl || msg+=("pretty, --batch-size $bs:" "$(short_diff want.jsonl got.jsonl)")
  done
  jq -c . mixed.json > want-mixed.jsonl
  "$PPIPE" --format json --batch-size 50 < mixed.json > got-mixed.jsonl 2>/dev/null
  cmp -s want-mixed.jsonl got-mixed.jsonl || msg+=("concatenated values and scalars (stdin):" "$(short_diff want-mixed.jsonl got-mixed.jsonl)")
  if [ ${#msg[@]} -eq 0 ]; then ok "--format json = jq -c . (20k pretty-printed flights, batch sizes 100 B-64K; concatenated values, scalars)"; else not_ok "json stream layouts" "${msg[@]}"; fi
}
register t_json_stream_layouts

t_json_stream_unwrap() {
  local msg=() bs i
  zcat "$DATA/flights/flights-20k.jsonl.gz" > fl.jsonl
  jq -s . fl.jsonl > arr.json
  for bs in 100 4K 1M; do
    "$PPIPE" -j 2 --batch-size $bs --format json --unwrap arr.json > got.jsonl 2>/dev/null
    cmp -s fl.jsonl got.jsonl || msg+=("--unwrap --batch-size $bs:" "$(short_diff fl.jsonl got.jsonl)")
  done
  # Bounded memory: an array 10 times larger takes no more memory to stream.
  { echo '['; for i in 1 2 3 4 5 6 7 8 9; do sed 's/$/,/' fl.jsonl; done; sed '$!s/$/,/' fl.jsonl; echo ']'; } > big.json
  local small big
  /usr/bin/time -f '%M' -o small.rss "$PPIPE" -j 2 --format json --unwrap arr.json > /dev/null
  /usr/bin/time -f '%M' -o big.rss "$PPIPE" -j 2 --format json --unwrap --stats big.json > /dev/null 2> big.stats
  small=$(tail -n 1 small.rss) big=$(tail -n 1 big.rss)
  [ "$(grep -o '"records_out":[0-9]*' big.stats | head -n 1)" = '"records_out":200000' ] || msg+=("big array: $(grep records_in big.stats | head -c 200)")
  [ "$big" -lt $((small * 2 + 20000)) ] || msg+=("max RSS $big KiB for a 10x array, $small KiB for the 1x one")
  if [ ${#msg[@]} -eq 0 ]; then ok "--unwrap = jq -c '.[]' for any batch size; a 10x larger array in bounded memory (max RSS $small / $big KiB)"; else not_ok "json --unwrap" "${msg[@]}"; fi
}
[ -x /usr/bin/time ] && register t_json_stream_unwrap

t_json_stream_errors() {
  local rc=0 msg=()
  printf '{"a":1}\n{"b":\n}\n{"c":3} } {"d":4}\n{"e":' > bad.json
  "$PPIPE" --format json --stats --errors e.jsonl bad.json > o.jsonl 2> s.err || rc=$?
  [ "$rc" = 1 ] || msg+=("exit $rc")
  [ "$(tr '\n' ' ' < o.jsonl)" = '{"a":1} {"c":3} {"d":4} ' ] || msg+=("output: $(cat o.jsonl)")
  [ "$(jq -c '[.line, .stage, .record]' e.jsonl | tr '\n' ' ')" = '[2,"json","{\"b\":\n}"] [4,"json","}"] [5,"json","{\"e\":"] ' ] ||
    msg+=("errors: $(jq -c '[.line, .stage, .record]' e.jsonl | tr '\n' ' ')")
  [ "$(stats_of s.err '[.records_in, .records_out, .errors]')" = "[6,3,3]" ] || msg+=("stats: $(tail -n 1 s.err)")
  # Numbers: beyond 64 bits is valid JSON; a malformed number (1., 01, -) is not, as for parse.
  printf '[1.]\n{"a":01}\n[-]\n{"a":123456789012345678901234567890}\n[1e400]\n' > nums.json
  rc=0
  "$PPIPE" --format json --errors e.jsonl nums.json > o.jsonl 2> /dev/null || rc=$?
  [ "$rc" = 1 ] || msg+=("numbers: exit $rc")
  [ "$(tr '\n' ' ' < o.jsonl)" = '{"a":123456789012345678901234567890} [1e400] ' ] || msg+=("numbers output: $(cat o.jsonl)")
  [ "$(jq -c '.line' e.jsonl | tr '\n' ' ')" = '1 2 3 ' ] || msg+=("numbers errors: $(jq -c '[.line, .error]' e.jsonl | tr '\n' ' ')")
  rc=0
  "$PPIPE" --unwrap bad.json > /dev/null 2> u.err || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--unwrap is for --format json" u.err || msg+=("--unwrap without --format json: exit $rc")
  if [ ${#msg[@]} -eq 0 ]; then ok "--format json: bad values are error records with their first line; the run goes on"; else not_ok "json stream errors" "${msg[@]}"; fi
}
register t_json_stream_errors

t_json_unwrap_broken_arrays() {
  # --unwrap: an array cut short (no closing ']': a truncated download), stray separators and
  # missing ones are error records, not a silently complete result; the elements that are there
  # are records. --batch-size 1: every record is cut at, so the framer's state crosses each cut.
  local name="--unwrap: a missing ']', a ',' where an element must come, a ',]' and a missing ',' are error records" msg=() t want rc j
  while IFS='|' read -r t want; do
    printf '%s' "$t" > ua.json
    for j in 1 2; do
      rc=0
      "$PPIPE" -j "$j" --batch-size 1 --format json --unwrap --errors errs.jsonl ua.json > out 2> err || rc=$?
      [ "$rc" = 1 ] || msg+=("[$t] -j $j exit $rc, expected 1")
      [ "$(tr '\n' ' ' < out)$(jq -r '.record' errs.jsonl | tr '\n' '/')" = "$want" ] ||
        msg+=("[$t] -j $j got: $(tr '\n' ' ' < out) errors: $(head -c 300 errs.jsonl)")
    done
  done <<'CASES'
[{"a":1},{"b":2}|{"a":1} {"b":2} /
[1,2|1 2 /
[|/
[1,2,|1 2 /
[,1]|1 ,/
[1,,2]|1 2 ,/
[1,2,]|1 2 ]/
[1 2]|1 2 /
[{"a":1} {"b":2}]|{"a":1} {"b":2} /
["x""y" 3,[4] {}]|"x" "y" 3 [4] {} ///
[1 }]|1 }/
CASES
  # A missing ',': an empty error record saying so, on the line and at the offset of the element
  # that lacks it (then the element itself).
  printf '[1,\n 2\n 3,\n 4]\n' > mc.json
  rc=0
  "$PPIPE" --format json --unwrap --errors mc.err mc.json > mc.out || rc=$?
  [ "$rc" = 1 ] && [ "$(tr '\n' ' ' < mc.out)" = "1 2 3 4 " ] || msg+=("missing ',' on line 3: exit $rc, output $(tr '\n' ' ' < mc.out)")
  [ "$(jq -c '[.line, .offset, .stage, .error, .record]' mc.err)" = '[3,8,"json","a '"','"' is missing between two elements of the top-level array",""]' ] ||
    msg+=("missing ',' on line 3: error $(cat mc.err)")
  grep -q "closing ']' is missing" <("$PPIPE" --format json --unwrap <<< '[1' 2>&1) || msg+=("no message for a missing ']'")
  printf '[1, 2]\n[3]\n' > ok.json
  [ "$("$PPIPE" --format json --unwrap ok.json | tr '\n' ' ')" = "1 2 3 " ] || msg+=("well-formed arrays changed")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_json_unwrap_broken_arrays

t_json_mismatched_bracket() {
  # A bracket that closes another kind ends the bad value there: the values after it are records
  # (it took the whole rest of the input into one error record).
  local name="--format json: a value with a mismatched bracket is one error record, the next values are records" msg=() j
  printf '{"c": [1,}\n{"d":1}\n{"e":[2]}\n' > mb.json
  printf '[{"a":[1,{"b":[]}]},{"x":[}]\n[3]\n' > mb2.json
  for j in 1 2; do
    [ "$("$PPIPE" -j "$j" --batch-size 1 --format json --errors e1 mb.json | tr '\n' ' ')" = '{"d":1} {"e":[2]} ' ] ||
      msg+=("-j $j: $("$PPIPE" --format json mb.json 2>&1 | tr '\n' ' ')")
    [ "$(jq -c '[.line, .record]' e1)" = '[1,"{\"c\": [1,}"]' ] || msg+=("-j $j errors: $(cat e1)")
    [ "$("$PPIPE" -j "$j" --batch-size 1 --format json --unwrap --errors e2 mb2.json | tr '\n' ' ')" = '{"a":[1,{"b":[]}]} 3 ' ] ||
      msg+=("-j $j --unwrap: $("$PPIPE" --format json --unwrap mb2.json 2>&1 | tr '\n' ' ')")
    [ "$(jq -r .record e2)" = '{"x":[}' ] || msg+=("-j $j --unwrap errors: $(cat e2)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_json_mismatched_bracket

t_json_error_position_multiline() {
  # --format json: a bad value on several lines is placed by its line within the value and the
  # column on that line (the column was the byte within the whole value: 'tru' on the value's
  # second line, column 2, said "at column 8").
  local name="json: a bad value on several lines: the error names the line of the value and the column on it" msg=() got
  printf '{"b":\n tru}\n' > jm1.json
  got=$("$PPIPE" --format json jm1.json 2>&1 | jq -r .error)
  [ "$got" = "invalid JSON: invalid literal 'tru' at line 2 of the value, column 2 (expected true)" ] || msg+=("literal: $got")
  printf '{"b":\n [1,\n2' > jm2.json
  got=$("$PPIPE" --format json jm2.json 2>&1 | jq -r .error)
  [ "$got" = "invalid JSON: unterminated array (missing ']') at line 3 of the value, column 2 (opened at line 2, column 2)" ] ||
    msg+=("open array: $got")
  got=$(printf '{"a":tru}\n' | "$PPIPE" 2>&1 | jq -r .error)
  [ "$got" = "invalid JSON: invalid literal 'tru' at column 6 (expected true)" ] || msg+=("one line: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_json_error_position_multiline

t_json_oversized_value_any_batch() {
  # --format json: a value longer than --max-record-size is one error record with its own line,
  # offset, size and first bytes for every --batch-size: at small batches the blanks before it
  # were carried with it (line 1, offset 7, 6009 bytes, text starting with the newline).
  local name="json: an oversized value's error record is the same for every --batch-size" msg=() bs got want
  python3 -c "open('jov.json','w').write('{\"a\":1}\\n{\"k\":\"'+'x'*6000+'\"}\\n{\"a\":2}\\n')"
  want='[2,8,6008,"{\"k\":\"xxxx"]'
  for bs in 64 1K 4K 64K; do
    got=$("$PPIPE" --format json --max-record-size 4K --batch-size "$bs" jov.json 2>&1 > out | jq -c '[.line, .offset, .record_size, .record[0:10]]')
    [ "$got" = "$want" ] || msg+=("--batch-size $bs: $got, want $want")
    [ "$(tr '\n' ' ' < out)" = '{"a":1} {"a":2} ' ] || msg+=("--batch-size $bs: output $(head -c 100 out)")
  done
  # --unwrap: an element after a ',' (it was reported from the comma: line 1, offset 2, 6010 bytes)
  python3 -c "open('jovu.json','w').write('[1,\n{\"k\":\"'+'x'*6000+'\"},\n2]\n')"
  want='[2,4,6008,"{\"k\":\"xxxx"]'
  for bs in 64 1K 64K; do
    got=$("$PPIPE" --format json --unwrap --max-record-size 4K --batch-size "$bs" jovu.json 2>&1 > out | jq -c '[.line, .offset, .record_size, .record[0:10]]')
    [ "$got" = "$want" ] || msg+=("--unwrap --batch-size $bs: $got, want $want")
    [ "$(tr '\n' ' ' < out)" = '1 2 ' ] || msg+=("--unwrap --batch-size $bs: output $(head -c 100 out)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_json_oversized_value_any_batch

t_json_missing_comma_at_batch_end() {
  # --unwrap: the mark of a missing ',' that a small batch is cut right after was reported as the
  # input ending inside the array (both are empty records at the batch's end; the framer now says
  # which). The error stream is the same for every --batch-size.
  local name="json --unwrap: a missing ',' at a batch's end is not a truncated array; errors the same for any --batch-size" msg=() bs want got
  python3 -c "
import random
r = random.Random(5)
s = '['
for i in range(400):
    if i: s += (' ' if r.random() < 0.05 else ',') + (' ' if r.random() < 0.3 else '')
    s += str(r.randint(0, 10 ** r.randint(1, 9)))
open('mc.json', 'w').write(s + ']\n')"
  want=$("$PPIPE" --format json --unwrap --batch-size 1M mc.json 2>&1 > /dev/null)
  grep -q 'the input ended inside' <<< "$want" && msg+=("1M: a truncated array reported")
  for bs in 64 100 333; do
    got=$("$PPIPE" --format json --unwrap --batch-size "$bs" mc.json 2>&1 > /dev/null)
    [ "$got" = "$want" ] || msg+=("--batch-size $bs: $(diff <(echo "$want") <(echo "$got") | head -c 300)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_json_missing_comma_at_batch_end

t_blank_runs_longer_than_max_record_size() {
  # White space between JSON values, or blank lines in JSON Lines, longer than --max-record-size:
  # not a record (it was taken for an oversized one: an error, and with --format json the skip of
  # its "rest" took the next value with it, {"a":1} lost; found by a bug hunt). For every
  # --batch-size and -j: the same records, lines, offsets and bytes_in.
  local name="blank runs longer than --max-record-size are no record (--format json, JSON Lines), for any --batch-size" msg=() f bs j ref got
  { echo '{"a":0}'; head -c 5000 /dev/zero | tr '\0' '\n'; printf '{"a":1}  '; head -c 3000 /dev/zero | tr '\0' ' '; echo '{"a":2}'; } > blk.json
  { echo '{"a":0}'; head -c 3000 /dev/zero | tr '\0' ' '; echo; printf '\t\t'; head -c 2000 /dev/zero | tr '\0' ' '; echo; echo '{"a":1}'; echo 'bad'; } > blk.jsonl
  # --unwrap: the array's '[' ',' ']' among the blanks are no record either (after a '[' the
  # skip took every element, by --batch-size; found by a fuzzer of batch sizes); a second array
  # left open at the end is one error record, wherever the batches end.
  { printf '['; head -c 3000 /dev/zero | tr '\0' ' '; printf '{"a":0}'; head -c 3000 /dev/zero | tr '\0' '\n'
    printf ','; head -c 3000 /dev/zero | tr '\0' ' '; printf '{"a":1}'; head -c 3000 /dev/zero | tr '\0' ' '; printf ']'
    head -c 3000 /dev/zero | tr '\0' '\n'; printf '[{"a":2},'; head -c 3000 /dev/zero | tr '\0' '\n'; } > blk-u.json
  for f in "--format json blk.json" "blk.jsonl" "--format json --unwrap blk-u.json"; do
    ref=""
    for bs in 64 100 4K 1M; do
      for j in 1 3; do
        # shellcheck disable=SC2086
        got=$("$PPIPE" -j $j --batch-size $bs --max-record-size 1K --stats --errors blk.err $f 2> blk.stats | tr '\n' ' ')
        got+=" | $(jq -c '[.line, .offset, .stage]' blk.err | tr '\n' ' ') | $(grep '^{"records_in"' blk.stats | jq -c '[.records_in, .records_out, .errors, .bytes_in]')"
        [ -n "$ref" ] || ref=$got
        [ "$got" = "$ref" ] || msg+=("$f -j $j --batch-size $bs: $got (not $ref)")
      done
    done
    case $f in
      *blk.json) [ "$ref" = '{"a":0} {"a":1} {"a":2}  |  | [3,3,0,8025]' ] || msg+=("$f: $ref") ;;
      *blk-u.json) [ "$ref" = '{"a":0} {"a":1} {"a":2}  | [9001,18026,"json"]  | [4,3,1,18026]' ] || msg+=("$f: $ref") ;;
      *) [ "$ref" = '{"a":0} {"a":1}  | [5,5020,"parse"]  | [3,2,1,5024]' ] || msg+=("$f: $ref") ;;
    esac
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_blank_runs_longer_than_max_record_size

t_lines_after_oversized_multiline_value() {
  # A value longer than --max-record-size over many lines, bigger than the reader's first 4 KiB
  # (skipped by the reader, not cut by a worker): the records after it kept the line of its
  # first line plus one (3 instead of 1402), by --batch-size (found by a fuzzer of batch sizes).
  local name="--format json: line numbers after an oversized value of many lines, for any --batch-size" msg=() bs got
  python3 -c "open('olm.json','w').write('[' + '1,\\n'*1400 + '2]\\nbad\\n')"
  python3 -c "open('olm-u.json','w').write('[[' + '1,\\n'*1400 + '2],\\n3,\\nx]\\n')"
  for bs in 64 1K 1M; do
    got=$("$PPIPE" --format json --max-record-size 300 --batch-size $bs --errors - olm.json 2>&1 | jq -c '[.line, .offset, .stage]' | tr '\n' ' ')
    [ "$got" = '[1,0,"read"] [1402,4204,"json"] ' ] || msg+=("--batch-size $bs: $got")
    got=$("$PPIPE" --format json --unwrap --max-record-size 300 --batch-size $bs --errors olm.err olm-u.json)
    got+=" $(jq -c '[.line, .offset, .stage]' olm.err | tr '\n' ' ')"
    [ "$got" = '3 [1,1,"read"] [1403,4209,"json"] ' ] || msg+=("--unwrap --batch-size $bs: $got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_lines_after_oversized_multiline_value
