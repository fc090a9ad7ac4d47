# shellcheck shell=bash
# Output formats (issue 9): --output csv/tsv byte-identical to Miller's --ocsv/--otsv on flat
# records (real flights; quotes, commas, line breaks, null/true, heterogeneous keys as header
# blocks); CSV -> JSONL -> CSV is the identity on canonical CSVs; --output json is one array.

t_output_vs_miller() {
  local msg=() fmt
  zcat "$DATA/flights/flights-20k.jsonl.gz" > flights.jsonl
  printf '%s\n' '{"a":1.50,"b":"x, y","c":null,"d":true,"e":"say \"hi\"","f":"","g":" lead","h":"multi\nline","i":1e5,"j":"\u00e9"}' \
    '{"a":2,"b":"z","c":3,"d":false,"e":"q","f":"-","g":"x","h":"tab\there","i":0,"j":"back\\slash"}' \
    '{"a":3}' '{"a":4}' '{"a":1,"b":3,"a":2}' '{"z":"cr\r"}' > odd.jsonl  # (a duplicate key: one column, the last value)
  for fmt in csv tsv; do
    "$PPIPE" -j 2 --output $fmt flights.jsonl > got 2>/dev/null
    mlr --ijsonl --o$fmt cat flights.jsonl > want
    cmp -s want got || msg+=("flights --output $fmt:" "$(short_diff want got)")
    "$PPIPE" --output $fmt odd.jsonl > got 2>/dev/null
    mlr --ijsonl --o$fmt cat odd.jsonl > want
    cmp -s want got || msg+=("odd values --output $fmt:" "$(short_diff want got)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "--output csv/tsv = mlr --ocsv/--otsv byte for byte (flights 20k; quotes, line breaks, null, header blocks, a duplicate key)"; else not_ok "output vs Miller" "${msg[@]}"; fi
}
register t_output_vs_miller

t_output_roundtrip_and_json() {
  local msg=() f
  for f in seattle-weather example null-fields quotednewlines mixedtypes; do
    "$PPIPE" "$DATA/csv/$f.csv" 2>/dev/null | "$PPIPE" --output csv > rt.csv 2>/dev/null
    cmp -s "$DATA/csv/$f.csv" rt.csv || msg+=("$f.csv -> jsonl -> csv is not the identity:" "$(short_diff "$DATA/csv/$f.csv" rt.csv)")
  done
  zcat "$DATA/flights/flights-20k.jsonl.gz" | head -n 500 > some.jsonl
  "$PPIPE" -j 2 --batch-size 4K --output json some.jsonl > arr.json 2>/dev/null
  [ "$(jq -c . arr.json)" = "$(jq -c -s . some.jsonl)" ] || msg+=("--output json is not the array of the records")
  [ "$(head -c 2 arr.json)" = "[" ] || true
  [ "$(printf '' | "$PPIPE" --output json)" = "[]" ] || msg+=("no records: $(printf '' | "$PPIPE" --output json)")
  local rc=0
  "$PPIPE" --output yaml some.jsonl > /dev/null 2> u.err || rc=$?
  [ "$rc" = 2 ] && grep -q "expected jsonl, json, pretty, csv, tsv, table, raw or raw0" u.err || msg+=("--output yaml: exit $rc, $(head -c 200 u.err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv -> jsonl -> csv = identity on 5 canonical CSVs; --output json = jq -s"; else not_ok "output round trip / json" "${msg[@]}"; fi
}
register t_output_roundtrip_and_json

t_output_checks_unchecked_text() {
  # --output json/pretty/csv read every record as JSON: lines nobody checked (no parse in the
  # chain, a command's output) go through a parse at the end, so a line that is not JSON becomes
  # an error record instead of breaking the array or being reflowed.
  local msg=() rc fmt
  printf '{"a":1}\nnot json\n{"a":3}\n' > mixed.jsonl
  for fmt in json pretty csv; do
    for chain in "--stages head --head 3" "--stages exec --exec cat" "--stages parse,exec --exec cat" "--stages tail --tail 3"; do
      # shellcheck disable=SC2086
      "$PPIPE" --stats $chain --output $fmt --errors errs.jsonl mixed.jsonl > out 2> err; rc=$?
      [ "$rc" = 1 ] || msg+=("[$chain --output $fmt] exit $rc, expected 1")
      jq -e -s 'length == 1 and .[0].stage == "parse" and .[0].record == "not json"' errs.jsonl > /dev/null \
        || msg+=("[$chain --output $fmt] errors: $(head -c 200 errs.jsonl)")
      tail -n 1 err | jq -e '.records_out == 2 and .errors == 1' > /dev/null || msg+=("[$chain --output $fmt] stats: $(tail -n 1 err | head -c 200)")
      grep -q 'not' out && msg+=("[$chain --output $fmt] the line is in the output: $(head -c 200 out)")
      if [ "$fmt" = json ]; then jq -e 'length == 2' out > /dev/null || msg+=("[$chain --output json] not an array of 2: $(head -c 200 out)"); fi
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "--output json/pretty/csv: unchecked lines are parsed first, not written as they are"; else not_ok "--output with unchecked lines" "${msg[@]}"; fi
}
register t_output_checks_unchecked_text

t_output_pretty_table_fill() {
  local msg=() got
  zcat "$DATA/flights/flights-20k.jsonl.gz" > flights.jsonl
  printf '%s\n' '{"a":[],"b":{},"c":[1,{"d":null,"e":[true]}],"s":"x, \"y\""}' '{"a":1,"bb":"x y","c":""}' '{"a":22,"bb":"z","c":"w"}' '{"q":1}' > odd.jsonl
  "$PPIPE" -j 2 --output pretty flights.jsonl > got 2>/dev/null
  jq . flights.jsonl > want
  cmp -s want got || msg+=("pretty = jq . (flights):" "$(short_diff want got)")
  "$PPIPE" --output pretty odd.jsonl > got 2>/dev/null
  jq . odd.jsonl > want
  cmp -s want got || msg+=("pretty = jq . (nesting, empty [] {}):" "$(short_diff want got)")
  # Number texts are kept (jq 1.6 prints 3600.0 as 3600).
  got=$(echo '{"n":3600.0,"m":1e5}' | "$PPIPE" --output pretty | tr -d ' \n')
  [ "$got" = '{"n":3600.0,"m":1e5}' ] || msg+=("pretty keeps number texts: $got")
  "$PPIPE" --output table --table-rows 100000 flights.jsonl > got 2>/dev/null
  mlr --ijsonl --opprint cat flights.jsonl > want
  cmp -s want got || msg+=("table = mlr --opprint (flights, one block):" "$(short_diff want got)")
  tail -n +2 odd.jsonl > flat.jsonl  # (Miller flattens nested values into columns)
  "$PPIPE" --output table flat.jsonl > got 2>/dev/null
  mlr --ijsonl --opprint cat flat.jsonl > want
  cmp -s want got || msg+=("table = mlr --opprint (empty values, key changes):" "$(short_diff want got)")
  [ "$("$PPIPE" --output table flights.jsonl 2>/dev/null | grep -c '^date ')" = 20 ] || msg+=("table: not 20 blocks of 1000 rows")
  got=$(printf '{"a":1,"b":2}\n{"b":3}\n{"c":4}\n' | "$PPIPE" --output csv --fill | tr '\n' '|')
  [ "$got" = 'a,b|1,2|,3||c|4|' ] || msg+=("--fill: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "--output pretty = jq . (number texts kept); table = mlr --opprint (blocks of --table-rows); --fill"; else not_ok "pretty/table/fill" "${msg[@]}"; fi
}
register t_output_pretty_table_fill

t_output_empty_record() {
  # `{}` in csv, tsv and table output: as Miller (a blank line, one for a run of them, none for a
  # table that starts so; the next record starts a new header block). A header and a row of
  # nothing were written, three blank lines.
  local name="output csv/tsv/table: an empty record is one blank line and a new header block, as Miller" msg=() f seq got want
  command -v mlr > /dev/null || { not_ok "$name" "mlr is required (scripts/setup installs it)"; return; }
  for seq in '{}\n{"a":1}\n' '{"a":1}\n{}\n{}\n{"a":2}\n' '{"a":1}\n{}\n' '{"a":1}\n{}\n{"a":1}\n' '{}\n{}\n'; do
    printf "$seq" > er.jsonl
    for f in csv tsv table; do
      got=$("$PPIPE" --output "$f" er.jsonl | od -An -c)
      want=$(mlr --ijsonl --o"${f/table/pprint}" cat er.jsonl | od -An -c)
      [ "$got" = "$want" ] || msg+=("[$f] $(printf "$seq" | tr '\n' ' '): $got, Miller: $want")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_output_empty_record

t_output_csv_many_keys() {
  # A record of many keys (past the 64 found by a scan: a hash then; a scan per key made 40,000
  # keys take 1.6 s) keeps the rule for a repeated key: one column, the last value in the first
  # one's place, for csv, tsv and table.
  local name="--output csv/tsv/table of a record of 300 keys with repeated keys: one column each, the last value" got
  python3 -c "
import json
parts = ['\"k%d\":%d' % (i, i) for i in range(300)] + ['\"k5\":\"five\"', '\"k200\":\"two\"']
print('{' + ','.join(parts) + '}')" > wide.jsonl
  got=$("$PPIPE" --output csv wide.jsonl | python3 -c "
import csv, sys
rows = list(csv.reader(sys.stdin))
print(len(rows), len(rows[0]), rows[0][5], rows[1][5], rows[0][200], rows[1][200], rows[1][299])")
  [ "$got" = "2 300 k5 five k200 two 299" ] || { not_ok "$name" "csv: $got"; return; }
  got=$("$PPIPE" --output tsv wide.jsonl | awk -F'\t' 'NR == 2 { print NF, $6, $201 }')
  [ "$got" = "300 five two" ] || { not_ok "$name" "tsv: $got"; return; }
  got=$("$PPIPE" --output table wide.jsonl | awk 'NR == 2 { print NF, $6, $201 }')
  if [ "$got" = "300 five two" ]; then ok "$name"; else not_ok "$name" "table: $got"; fi
}
register t_output_csv_many_keys

t_output_fill_many_keys() {
  # --fill with a header of more than 64 keys (found by a hash then; a scan per key made a record
  # of 20,000 keys take 0.46 s): a record of the header's keys in another order, or of some of
  # them, is written under that header; one with a new key starts a new block.
  local name="--output csv --fill with 100-key records: reordered and partial records fill the header" got want
  python3 -c "
import json
ks = ['k%d' % i for i in range(100)]
print(json.dumps({k: i for i, k in enumerate(ks)}))
print(json.dumps({k: -i for i, k in reversed(list(enumerate(ks)))}))
print(json.dumps({k: 'x' for k in ks[::3]}))
print(json.dumps(dict({k: 1 for k in ks}, new=2)))" > fillw.jsonl
  want=$(python3 -c "
ks = ['k%d' % i for i in range(100)]
print(','.join(ks)); print(','.join(str(i) for i in range(100)))
print(','.join(str(-i) for i in range(100)))
print(','.join('x' if i % 3 == 0 else '' for i in range(100)))
print(); print(','.join(ks + ['new'])); print(','.join(['1'] * 100 + ['2']))")
  got=$("$PPIPE" --output csv --fill fillw.jsonl)
  if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name" "got: $(printf '%s' "$got" | head -c 400)"; fi
}
register t_output_fill_many_keys

t_output_csv_empty_single_field_and_non_objects() {
  # A csv row of one empty field is `""` (an empty line was skipped on reading: the record was
  # lost in a round trip); a record that is not an object is compact JSON under `value` (`[1, 2]`
  # kept its spaces, ` 7` read back as a string). Found by a bug hunt.
  local msg=() got
  got=$(printf '{"a":""}\n{"a":"x"}\n' | "$PPIPE" --output csv | "$PPIPE" --format csv | tr '\n' ' ')
  [ "$got" = '{"a":""} {"a":"x"} ' ] || msg+=("round trip of an empty value: $got")
  got=$(printf '{"":1}\n{"":2}\n' | "$PPIPE" --output csv | od -An -c | tr -s ' \n' ' ')
  [ "$got" = ' " " \n 1 \n 2 \n ' ] || msg+=("empty key's header: $got")
  got=$(printf '[1, 2]\n 7\n"s t"\n' | "$PPIPE" --output csv | tr '\n' '|')
  [ "$got" = 'value|"[1,2]"|7|s t|' ] || msg+=("non-objects: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "--output csv: a row of one empty field is \"\"; non-objects as compact JSON"; else not_ok "csv empty field / non-objects" "${msg[@]}"; fi
}
register t_output_csv_empty_single_field_and_non_objects
