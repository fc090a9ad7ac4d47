# shellcheck shell=bash
# Output formats (issue 9): --output csv/tsv byte-identical to Miller's --ocsv/--otsv on flat
# records (real flights; quotes, commas, line breaks, null/true, heterogeneous keys as header
# blocks); CSV -> JSONL -> CSV is the identity on canonical CSVs; --output json is one array.

t_output_vs_miller() {
  local msg=() fmt
  zcat "$DATA/flights/flights-20k.jsonl.gz" > flights.jsonl
  printf '%s\n' '{"a":1.50,"b":"x, y","c":null,"d":true,"e":"say \"hi\"","f":"","g":" lead","h":"multi\nline","i":1e5,"j":"\u00e9"}' \
    '{"a":2,"b":"z","c":3,"d":false,"e":"q","f":"-","g":"x","h":"tab\there","i":0,"j":"back\\slash"}' \
    '{"a":3}' '{"a":4}' '{"z":"cr\r"}' > odd.jsonl
  for fmt in csv tsv; do
    "$PPIPE" -j 2 --output $fmt flights.jsonl > got 2>/dev/null
    mlr --ijsonl --o$fmt cat flights.jsonl > want
    cmp -s want got || msg+=("flights --output $fmt:" "$(short_diff want got)")
    "$PPIPE" --output $fmt odd.jsonl > got 2>/dev/null
    mlr --ijsonl --o$fmt cat odd.jsonl > want
    cmp -s want got || msg+=("odd values --output $fmt:" "$(short_diff want got)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "--output csv/tsv = mlr --ocsv/--otsv byte for byte (flights 20k; quotes, line breaks, null, header blocks)"; else not_ok "output vs Miller" "${msg[@]}"; fi
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
  "$PPIPE" --output table some.jsonl > /dev/null 2> u.err || rc=$?
  [ "$rc" = 2 ] && grep -q "not built yet" u.err || msg+=("--output table: exit $rc, $(head -c 200 u.err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "csv -> jsonl -> csv = identity on 5 canonical CSVs; --output json = jq -s"; else not_ok "output round trip / json" "${msg[@]}"; fi
}
register t_output_roundtrip_and_json
