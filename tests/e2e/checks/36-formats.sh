# shellcheck shell=bash
# Line-based input formats (issue 9): tsv (header row; records equal Miller's, with and without
# number inference), lines (each line a JSON string, as jq -R), the format implied by a .tsv name
# (also compressed), and rows that cannot be records on the error stream with their line.

t_formats_tsv_vs_miller() {
  local msg=()
  # Real data (vega flights) through Miller's TSV writer, read back by ppipe and by Miller.
  zcat "$DATA/flights/flights-20k.jsonl.gz" | mlr --ijsonl --otsv cat > flights.tsv
  mlr --itsv --ojsonl cat flights.tsv | jq -c . > want.jsonl
  "$PPIPE" -j 2 --batch-size 64K flights.tsv > got.jsonl 2> got.err || msg+=("exit $?: $(head -c 300 got.err)")
  cmp -s want.jsonl got.jsonl || msg+=("inferred:" "$(short_diff want.jsonl got.jsonl)")
  mlr --infer-none --itsv --ojsonl cat flights.tsv | jq -c . > want-s.jsonl
  "$PPIPE" --no-infer --format tsv flights.tsv > got-s.jsonl 2>/dev/null
  cmp -s want-s.jsonl got-s.jsonl || msg+=("--no-infer (= mlr --infer-none):" "$(short_diff want-s.jsonl got-s.jsonl)")
  gzip -c flights.tsv > flights.tsv.gz
  "$PPIPE" flights.tsv.gz > got-gz.jsonl 2>/dev/null
  cmp -s want.jsonl got-gz.jsonl || msg+=("flights.tsv.gz:" "$(short_diff want.jsonl got-gz.jsonl)")
  [ "$(wc -l < got.jsonl)" = 20000 ] || msg+=("$(wc -l < got.jsonl) records, expected 20000")
  # Escapes, a repeated and an empty header name, what Miller infers and what it does not.
  printf 'id\tnote\tnote\tv\n1\ttab\\there\t00501\t-0.5\n2\tback\\\\slash\t1e5x\t+3\n' > odd.tsv
  mlr --itsv --ojsonl cat odd.tsv | jq -c . > want-odd.jsonl
  "$PPIPE" odd.tsv > got-odd.jsonl 2>/dev/null
  cmp -s want-odd.jsonl got-odd.jsonl || msg+=("escapes and header names:" "$(short_diff want-odd.jsonl got-odd.jsonl)")
  # Rows of empty or space fields are records, as Miller reads them ("\t" is two empty strings;
  # these were once skipped as blank lines, silently).
  printf 'a\tb\n1\t2\n\t\n \t \n3\t4\n' > spaces.tsv
  mlr --itsv --ojsonl cat spaces.tsv | jq -c . > want-sp.jsonl
  "$PPIPE" spaces.tsv > got-sp.jsonl 2>/dev/null
  cmp -s want-sp.jsonl got-sp.jsonl || msg+=("rows of empty or space fields:" "$(short_diff want-sp.jsonl got-sp.jsonl)")
  # Where ppipe differs on purpose (README): an empty header name is its column number (Miller: "").
  printf 'a\t\n1\t2\n' > empty-name.tsv
  [ "$("$PPIPE" empty-name.tsv 2>&1)" = '{"a":1,"2":2}' ] || msg+=("empty name: $("$PPIPE" empty-name.tsv 2>&1)")
  if [ ${#msg[@]} -eq 0 ]; then ok "tsv = Miller (flights 20k by name, .tsv.gz, --no-infer; escapes, repeated names, rows of empty fields); empty name = column number"; else not_ok "tsv vs Miller" "${msg[@]}"; fi
}
register t_formats_tsv_vs_miller

t_formats_tsv_errors() {
  printf 'a\tb\n1\t2\n3\n\n4\t5\t6\n\xff\t7\n8\t9\n' > bad.tsv
  local rc=0 msg=()
  "$PPIPE" --stats --errors bad.err bad.tsv > out.jsonl 2> stats.err || rc=$?
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  [ "$(cat out.jsonl)" = "$(printf '{"a":1,"b":2}\n{"a":8,"b":9}')" ] || msg+=("output: $(cat out.jsonl)")
  local errs; errs=$(jq -c '[.line, .stage, .error]' bad.err | tr '\n' ' ')
  [ "$errs" = '[3,"tsv","the row has 1 field, the header 2"] [5,"tsv","the row has 3 fields, the header 2"] [6,"tsv","invalid UTF-8 in a field"] ' ] ||
    msg+=("errors: $errs")
  [ "$(stats_of stats.err '[.records_in, .records_out, .errors]')" = "[5,2,3]" ] || msg+=("stats: $(tail -n 1 stats.err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "tsv: ragged rows and bad bytes are error records with their line; counts reconcile"; else not_ok "tsv errors" "${msg[@]}"; fi
}
register t_formats_tsv_errors

t_formats_lines() {
  local msg=()
  printf 'plain\n\n  spaced  \ttab "quoted" back\\slash\r\nlast without newline' > l.txt
  # As jq -R, except that a CR before the line's LF is no part of it (ppipe's lines, README).
  sed 's/\r$//' l.txt | jq -R -c . > want.jsonl
  "$PPIPE" --format lines l.txt > got.jsonl 2>/dev/null || msg+=("exit $?")
  cmp -s want.jsonl got.jsonl || msg+=("= jq -R:" "$(short_diff want.jsonl got.jsonl)")
  "$PPIPE" --format lines --stages parse,filter --filter 'startswith("  ")' l.txt > f.jsonl 2>/dev/null
  [ "$(cat f.jsonl)" = "$(sed -n 3p want.jsonl)" ] || msg+=("filter on lines: $(cat f.jsonl)")
  local rc=0
  printf 'a\n\xff\n' | "$PPIPE" --format lines --errors e.jsonl > /dev/null || rc=$?
  [ "$rc" = 1 ] && [ "$(jq -c '[.line, .stage]' e.jsonl)" = '[2,"lines"]' ] || msg+=("invalid UTF-8: exit $rc, $(cat e.jsonl)")
  rc=0
  "$PPIPE" --format xml l.txt > /dev/null 2> u.err || rc=$?
  [ "$rc" = 2 ] && grep -q "expected jsonl, json, lines, tsv or csv" u.err || msg+=("--format xml: exit $rc, $(head -c 200 u.err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "lines: each line (blank, CRLF, tabs, quotes) a string = jq -R; filters see strings"; else not_ok "lines" "${msg[@]}"; fi
}
register t_formats_lines

t_format_options_where_they_apply() {
  # --no-infer (tsv, csv) and --table-rows (--output table) are refused where they do nothing, as
  # --delimiter, --fill, --unwrap and --no-header are (they were accepted silently).
  local name="formats: --no-infer without tsv/csv and --table-rows without --output table are usage errors" msg=() rc
  printf '{"a":1}\n' > fo.jsonl
  printf 'a\tb\n1\t2\n' > fo.tsv
  rc=0; "$PPIPE" --no-infer fo.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q -- '--no-infer is for --format tsv or csv' err || msg+=("--no-infer on jsonl: exit $rc: $(head -c 150 err)")
  rc=0; "$PPIPE" --table-rows 5 fo.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q -- '--table-rows is for --output table' err || msg+=("--table-rows with jsonl output: exit $rc: $(head -c 150 err)")
  [ "$("$PPIPE" --no-infer fo.tsv)" = '{"a":"1","b":"2"}' ] || msg+=("--no-infer on tsv changed")
  [ "$("$PPIPE" --table-rows 5 --output table fo.jsonl | tr '\n' ' ')" = 'a 1 ' ] || msg+=("--table-rows with table output changed")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_format_options_where_they_apply
