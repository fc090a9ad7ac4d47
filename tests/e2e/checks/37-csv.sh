# shellcheck shell=bash
# CSV input (issue 9) against Miller on real files (tests/data/csv; sources in tests/data/SOURCES.md):
# the records equal `mlr --icsv --ojsonl cat` (inference) and `mlr -S` (--no-infer) as JSON values,
# except the differences README documents; malformed files give error records, never a crash; the
# same records for every batch size (quoted newlines across batch boundaries), -j, stdin and .gz.

# same_json A B: the two JSON Lines files hold equal values, line by line (numbers as numbers).
same_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
if a != b:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    print(f"{len(a)} vs {len(b)} records; first difference at record {n + 1}")
    if n < len(a): print("  mlr:   " + json.dumps(a[n])[:250])
    if n < len(b): print("  ppipe: " + json.dumps(b[n])[:250])
    sys.exit(1)
PY
}

t_csv_vs_miller() {
  local f msg=() out
  for f in seattle-weather example null-fields quotednewlines mixedtypes multiple_quoted_nulls; do
    mlr --icsv --ojsonl --no-auto-unflatten cat "$DATA/csv/$f.csv" > want.jsonl
    "$PPIPE" -j 2 "$DATA/csv/$f.csv" > got.jsonl 2> got.err || msg+=("$f: exit $?: $(head -c 200 got.err)")
    out=$(same_json want.jsonl got.jsonl) || msg+=("$f (inferred): $out")
    mlr -S --icsv --ojsonl --no-auto-unflatten cat "$DATA/csv/$f.csv" > want.jsonl
    "$PPIPE" -j 2 --no-infer "$DATA/csv/$f.csv" > got.jsonl 2>/dev/null
    out=$(same_json want.jsonl got.jsonl) || msg+=("$f (--no-infer = mlr -S): $out")
  done
  # A pipe-delimited file without a header: keys are column numbers in both.
  mlr --icsv --ifs '|' --implicit-csv-header --ojsonl --no-auto-unflatten cat "$DATA/csv/web_page.csv" > want.jsonl
  "$PPIPE" --delimiter '|' --no-header "$DATA/csv/web_page.csv" > got.jsonl 2>/dev/null
  out=$(same_json want.jsonl got.jsonl) || msg+=("web_page (--delimiter '|' --no-header): $out")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv = Miller on 7 real files (inferred and -S; a '|'-delimited file without header)"; else not_ok "csv vs Miller" "${msg[@]}"; fi
}
register t_csv_vs_miller

# The differences README lists, each as it is: an empty header name is its column number (Miller:
# "", "_2"), names that are not UTF-8 get U+FFFD and such rows are error records (JSON text is UTF-8).
t_csv_documented_differences() {
  local msg=() s
  s=$("$PPIPE" "$DATA/csv/empty_header.csv" 2>&1 | head -n 1)
  [ "$s" = '{"1":123,"2":"TEST3","3":"text1"}' ] || msg+=("empty_header: $s")
  s=$("$PPIPE" "$DATA/csv/ontime_sample.csv" 2>/dev/null | jq -c 'keys_unsorted | last')
  [ "$(echo "$s" | sort -u)" = '"110"' ] || msg+=("ontime_sample's empty last name: $s")
  local rc=0
  "$PPIPE" --stats --errors bank.err "$DATA/csv/banklist.csv" > bank.jsonl 2> bank.stats || rc=$?
  [ "$(head -n 1 bank.jsonl | jq 'keys_unsorted[0] == "Bank Name\ufffd"')" = true ] || msg+=("banklist header: $(head -c 100 bank.jsonl)")
  [ "$rc" = 1 ] && [ "$(stats_of bank.stats '.records_in == .records_out + .errors and .errors > 0')" = true ] ||
    msg+=("banklist: exit $rc, $(tail -n 1 bank.stats | head -c 200)")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv: the documented differences from Miller (empty names, non-UTF-8 names and rows)"; else not_ok "csv documented differences" "${msg[@]}"; fi
}
register t_csv_documented_differences

# Malformed files: error records with line and raw text, counts reconcile, exit 1, never a crash.
t_csv_malformed() {
  local f msg=() rc
  for f in unescaped_quote inconsistent_columns_3 latin1; do
    rc=0
    "$PPIPE" --stats --errors e.jsonl "$DATA/csv/$f.csv" > o.jsonl 2> s.err || rc=$?
    [ "$rc" = 1 ] || msg+=("$f: exit $rc")
    [ "$(stats_of s.err '.records_in == .records_out + .errors and .errors > 0')" = true ] || msg+=("$f: $(tail -n 1 s.err | head -c 200)")
    jq -e 'select(.stage == "csv" and (.line | type) == "number" and (.record or .record_base64))' e.jsonl > /dev/null ||
      msg+=("$f: error records: $(head -c 200 e.jsonl)")
  done
  printf 'a,b\n1,2\n3,"open\n4,5\n' > open.csv
  rc=0
  "$PPIPE" --errors e.jsonl open.csv > o.jsonl || rc=$?
  [ "$rc" = 1 ] && [ "$(cat o.jsonl)" = '{"a":1,"b":2}' ] &&
    [ "$(jq -c '[.line, .error]' e.jsonl)" = '[3,"unterminated quoted field (field 2): a quote was left open"]' ] ||
    msg+=("a quote open at the end: exit $rc, $(cat o.jsonl) $(cat e.jsonl)")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv: malformed files are error records (bare quotes, ragged rows, latin1, an open quote at the end)"; else not_ok "csv malformed" "${msg[@]}"; fi
}
register t_csv_malformed

# Quoted newlines across batch boundaries: the same output for tiny and large batches, any -j,
# --unordered aside; stdin and gzip too.
t_csv_batch_invariance() {
  local f="$DATA/csv/quotednewlines.csv" msg=() args
  "$PPIPE" -j 1 "$f" > want.jsonl 2>/dev/null
  for args in "-j 2 --batch-size 1K" "-j 4 --batch-size 100" "-j 2 --batch-size 64K" "-j 3 --batch-size 7"; do
    # shellcheck disable=SC2086
    "$PPIPE" $args "$f" > got.jsonl 2>/dev/null
    cmp -s want.jsonl got.jsonl || msg+=("$args:" "$(short_diff want.jsonl got.jsonl)")
  done
  "$PPIPE" --format csv < "$f" > got.jsonl 2>/dev/null
  cmp -s want.jsonl got.jsonl || msg+=("stdin:" "$(short_diff want.jsonl got.jsonl)")
  gzip -c "$f" > q.csv.gz
  "$PPIPE" q.csv.gz > got.jsonl 2>/dev/null
  cmp -s want.jsonl got.jsonl || msg+=("q.csv.gz:" "$(short_diff want.jsonl got.jsonl)")
  [ "$(wc -l < want.jsonl)" = 10100 ] || msg+=("$(wc -l < want.jsonl) records, expected 10100")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv: quoted newlines = the same records for batch sizes 7 B to 64K, -j 1-4, stdin, .csv.gz"; else not_ok "csv batch invariance" "${msg[@]}"; fi
}
register t_csv_batch_invariance

t_csv_malformed_header() {
  # A header row that is not well-formed CSV is an error record (line 1, its text): a quote left
  # open there took every row with it, silently (no output, no error, exit 0), and so did a file
  # with classic Mac OS line ends (a CR alone).
  local name="csv: a malformed header row is an error record; rows after a quote left open in it are in its text" msg=() rc
  printf 'a,"b\n1,2\n3,4\n' > mh1.csv
  rc=0; "$PPIPE" --stats --errors mh.err mh1.csv > out 2> err || rc=$?
  [ "$rc" = 1 ] || msg+=("open quote: exit $rc, expected 1")
  [ "$(jq -c '[.line, .stage, .record]' mh.err)" = '[1,"csv","a,\"b\n1,2\n3,4\n"]' ] || msg+=("open quote: errors $(cat mh.err)")
  jq -e '.errors == 1 and .records_in == 1' <(tail -n 1 err) > /dev/null || msg+=("open quote: stats $(tail -n 1 err | head -c 200)")
  printf 'a,"b"x\n1,2\n' > mh2.csv
  rc=0; "$PPIPE" --errors mh.err mh2.csv > out 2> err || rc=$?
  [ "$rc" = 1 ] || msg+=("text after a quote: exit $rc, expected 1")
  [ "$(cat out)" = '{"a":1,"\"b\"x":2}' ] || msg+=("text after a quote: output $(cat out)")
  jq -e '.line == 1 and (.error | startswith("the header row: "))' mh.err > /dev/null || msg+=("text after a quote: errors $(cat mh.err)")
  # A data row with the malformed header's text is a data row: only line 1 is "the header row".
  printf 'a,"b"x\n1,2\na,"b"x\n' > mh5.csv
  "$PPIPE" --errors mh.err mh5.csv > out 2> err || true
  [ "$(jq -c '[.line, (.error | startswith("the header row: "))]' mh.err | tr '\n' ' ')" = '[1,true] [3,false] ' ] ||
    msg+=("a row equal to the malformed header: errors $(cat mh.err)")
  # Classic Mac OS line ends (a CR alone): the whole file was one header row and no records, exit 0.
  printf 'a,b\r1,2\r3,4\r' > mh4.csv
  rc=0; "$PPIPE" --stats --errors mh.err mh4.csv > out 2> err || rc=$?
  [ "$rc" = 1 ] && [ ! -s out ] || msg+=("CR line ends: exit $rc, output $(head -c 100 out)")
  jq -e '.line == 1 and (.error | contains("carriage return (CR) in unquoted field 2: line ends of classic Mac OS?"))' mh.err > /dev/null ||
    msg+=("CR line ends: errors $(cat mh.err)")
  printf 'a,b\n1,2\n' > mh3.csv
  [ "$("$PPIPE" mh3.csv 2>&1)" = '{"a":1,"b":2}' ] || msg+=("a good header changed")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_csv_malformed_header

t_tsv_cr_line_ends() {
  # TSV with classic Mac OS line ends (a CR alone) was one header row and no records: no output,
  # no error, exit 0. A raw CR (TSV writes it \r) is an error, in the header row (the row is an
  # error record, as csv's) and in a data row; CRLF line ends stay fine.
  local name="tsv: a raw CR (classic Mac OS line ends) is an error record, in the header row and in a row" msg=() rc
  printf 'a\tb\r1\t2\r3\t4\r' > cr1.tsv
  rc=0; "$PPIPE" --stats --errors cr.err cr1.tsv > out 2> err || rc=$?
  [ "$rc" = 1 ] && [ ! -s out ] || msg+=("CR line ends: exit $rc, output $(head -c 100 out)")
  [ "$(jq -c '[.line, .stage, .record]' cr.err)" = '[1,"tsv","a\tb\r1\t2\r3\t4"]' ] || msg+=("CR line ends: errors $(cat cr.err)")
  jq -e '.error | startswith("the header row: a carriage return (CR) in field 2: line ends of classic Mac OS?")' cr.err > /dev/null ||
    msg+=("CR line ends: message $(cat cr.err)")
  jq -e '.errors == 1 and .records_in == 1' <(tail -n 1 err) > /dev/null || msg+=("CR line ends: stats $(tail -n 1 err | head -c 200)")
  printf 'a\n1\r2\n3\n' > cr2.tsv
  rc=0; "$PPIPE" -j 2 --batch-size 1 --errors cr.err cr2.tsv > out 2> err || rc=$?
  [ "$rc" = 1 ] && [ "$(cat out)" = '{"a":3}' ] || msg+=("a CR in a row: exit $rc, output $(cat out)")
  jq -e '.line == 2 and (.error | startswith("a carriage return (CR) in field 1"))' cr.err > /dev/null || msg+=("a CR in a row: errors $(cat cr.err)")
  printf 'a\tb\r\n1\tx\\ry\r\n' > cr3.tsv
  [ "$("$PPIPE" cr3.tsv 2>&1)" = '{"a":1,"b":"x\ry"}' ] || msg+=("CRLF and the \\r escape: $("$PPIPE" cr3.tsv 2>&1)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_tsv_cr_line_ends

t_csv_bad_delimiter() {
  # --delimiter that is not one character is a usage error (exit 2), the empty one too (it meant ','
  # silently: an unset shell variable read a ';' file with commas).
  local name="csv: --delimiter '', 'ab', '\"' and a line break are usage errors (exit 2)" msg=() d rc
  printf 'a;b\n1;2\n' > sd.csv
  for d in '' 'ab' '"' $'\n'; do
    rc=0; "$PPIPE" --delimiter "$d" sd.csv > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q "expected one character" err || msg+=("--delimiter '$d': exit $rc: $(head -c 200 err)")
  done
  [ "$("$PPIPE" --delimiter ';' sd.csv)" = '{"a":1,"b":2}' ] || msg+=("--delimiter ';' broke")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_csv_bad_delimiter

t_csv_oversized_record_small_batches() {
  # A record longer than --max-record-size, skipped by the reader, at a small --batch-size: the
  # records after it are read (a buffer no larger than the bytes kept made a read of 0 bytes,
  # taken for the end: every later record was lost, and the size said 4096); a quoted field's
  # line ends inside it count for the lines after it (they were numbered too low, by batch size);
  # a header of 20,000 equal names is named in linear time (it took 14 s).
  local name="csv/jsonl: records after an oversized one are kept, numbered right, for any --batch-size" msg=() b got
  { head -c 5000 /dev/zero | tr '\0' x; printf ',1\n2,3\n4,5\n'; } > ov1.csv
  { head -c 5000 /dev/zero | tr '\0' x; printf '\n{"a":2}\n{"a":3}\n'; } > ov1.jsonl
  { printf 'a,b\n1,"x\ny\n'; head -c 6000 /dev/zero | tr '\0' x; printf '"\n2,3\n4\n'; } > ov2.csv
  for b in 64 1K 8K 1M; do
    got=$("$PPIPE" --no-header --batch-size "$b" --max-record-size 1000 --errors ov.err ov1.csv | tr '\n' ' ')
    [ "$got" = '{"1":2,"2":3} {"1":4,"2":5} ' ] || msg+=("csv --batch-size $b: $got")
    grep -q '"record_size":5002' ov.err || msg+=("csv --batch-size $b: $(head -c 200 ov.err)")
    got=$("$PPIPE" --batch-size "$b" --max-record-size 1000 --errors ov.err ov1.jsonl | tr '\n' ' ')
    [ "$got" = '{"a":2} {"a":3} ' ] || msg+=("jsonl --batch-size $b: $got")
    got=$("$PPIPE" --batch-size "$b" --max-record-size 1000 --errors ov.err ov2.csv | tr '\n' ' ')
    [ "$got" = '{"a":2,"b":3} ' ] || msg+=("multi-line --batch-size $b: $got")
    [ "$(jq -c .line ov.err | tr '\n' ' ')" = '2 6 ' ] || msg+=("multi-line --batch-size $b: error lines $(jq -c .line ov.err | tr '\n' ' ')")
  done
  python3 -c "open('dup20k.csv','w').write(','.join(['a'] * 20000) + '\n' + ','.join(['1'] * 20000) + '\n')"
  got=$(timeout 10 "$PPIPE" dup20k.csv | jq -c '[(keys | length), .a_20000]')
  [ "$got" = '[20000,1]' ] || msg+=("20,000 equal header names: '$got' (timeout 10 s)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_csv_oversized_record_small_batches

t_csv_tsv_oversized_header() {
  # A header row longer than --max-record-size is an error record as any record that long, and
  # the rows of its source are error records ("no keys"), for every --batch-size: at small
  # batches the reader skipped it and the first data row silently became the header (a row
  # lost); at large ones it fit in a batch and was taken whatever its size.
  local name="csv/tsv: a header longer than --max-record-size: error records, the same for any --batch-size" msg=() b f want got size
  python3 -c "open('oh.csv','w').write('\"'+'k'*6000+'\",b\n1,2\n3,4\n')"
  python3 -c "open('oh.tsv','w').write('k'*6000+'\tb\n1\t2\n3\t4\n')"
  for f in oh.csv oh.tsv; do
    want="" size=6002
    [ "$f" = oh.csv ] && size=6004  # (its quotes)
    for b in 64 1K 64K 4M; do
      "$PPIPE" --max-record-size 4K --batch-size "$b" --stats --errors oh.err "$f" > out 2> err || true
      [ ! -s out ] || msg+=("$f --batch-size $b: output $(head -c 100 out)")
      got=$(jq -c '[.line, .stage, (.error | .[0:40])]' oh.err | tr '\n' ' ')
      [ "$got" = '[1,"read","record of '"$size"' bytes is longer than --ma"] [2,"'"${f#oh.}"'","no keys: the header row of this source i"] [3,"'"${f#oh.}"'","no keys: the header row of this source i"] ' ] ||
        msg+=("$f --batch-size $b: errors $got")
      jq -e '.records_in == 3 and .errors == 3' <(tail -n 1 err) > /dev/null || msg+=("$f --batch-size $b: stats $(tail -n 1 err | head -c 150)")
      [ -z "$want" ] && want=$(md5sum < oh.err)
      [ "$(md5sum < oh.err)" = "$want" ] || msg+=("$f --batch-size $b: another error stream than at 64")
    done
    [ "$("$PPIPE" --max-record-size 8K "$f" | tr '\n' ' ')" = '{"'"$(printf 'k%.0s' $(seq 6000))"'":1,"b":2} {"'"$(printf 'k%.0s' $(seq 6000))"'":3,"b":4} ' ] ||
      msg+=("$f: a header within --max-record-size changed")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_csv_tsv_oversized_header

t_csv_bare_quote_is_its_line() {
  # One bare quote (x"y) is the error of its own line: the rows after it are rows, for every
  # --batch-size (the quote opened a quoted part, and the rest of the file was one error record;
  # found by a bug hunt).
  local msg=() bs got
  printf 'a,b\nx"y,1\n2,"z"\n3,4\n5,"w"\n6,7\n' > bq.csv
  for bs in 64 1M; do
    got=$("$PPIPE" --batch-size $bs --errors bq.err bq.csv | tr '\n' ' ')
    [ "$got" = '{"a":2,"b":"z"} {"a":3,"b":4} {"a":5,"b":"w"} {"a":6,"b":7} ' ] || msg+=("--batch-size $bs: $got")
    [ "$(jq -c '[.line, .record]' bq.err)" = '[2,"x\"y,1"]' ] || msg+=("--batch-size $bs: errors $(head -c 300 bq.err)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "csv: a bare quote is the error of its own line, the rows after it are rows"; else not_ok "csv bare quote" "${msg[@]}"; fi
}
register t_csv_bare_quote_is_its_line
