# shellcheck shell=bash
# agg (issue 7): against an exact oracle (tests/e2e/oracles/agg_oracle.py: fractions and the
# percentile formula) on generated data with nulls, missing fields, mixed ints and floats, huge and
# tiny magnitudes; on real Zeek logs (tests/data/zeek) against a jq oracle; byte-identical output for
# -j 1,2,4,8 x batch sizes 1, 4K, 1M x --unordered; bad input (a type error inside an aggregate,
# --max-groups exceeded, an unknown aggregate name, collect past --collect-limit).

AGG_ORACLE="$E2E/oracles/agg_oracle.py"

agg_list() {  # agg_list FIELD: the aggregates the oracle computes, with its names
  local f=$1
  echo "count, count(.$f) as count_F, sum(.$f) as sum_F, min(.$f) as min_F, max(.$f) as max_F, avg(.$f) as avg_F," \
       "var(.$f) as var_F, p50(.$f) as p50_F, p90(.$f) as p90_F, median(.$f) as median_F," \
       "count_distinct(.$f) as count_distinct_F, first(.$f) as first_F, last(.$f) as last_F"
}

t_agg_exact_oracle() {
  local name="agg: every aggregate = the exact oracle (generated data: nulls, missing, ints, floats, 1e300, 5e-324)"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required (scripts/setup installs it)"; return; }
  python3 "$AGG_ORACLE" gen 20000 7 > gen.jsonl
  local f msg=() rc cfg
  for f in x y; do
    for cfg in "-j 1" "-j 4 --batch-size 1" "-j 8 --batch-size 4K --unordered"; do
      # shellcheck disable=SC2086
      "$PPIPE" $cfg --group-by .g --agg "$(agg_list "$f")" gen.jsonl > got 2> err; rc=$?
      [ "$rc" = 0 ] || msg+=("[.$f $cfg] exit $rc: $(head -c 300 err)")
      python3 "$AGG_ORACLE" check g "$f" gen.jsonl got > diff.txt || msg+=("[.$f $cfg] differs from the oracle:" "$(cat diff.txt)")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_exact_oracle

t_agg_invariance() {
  local name="agg: byte-identical output over -j 1,2,4,8 x --batch-size 1,4K,1M x --unordered"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required"; return; }
  python3 "$AGG_ORACLE" gen 5000 11 > gen.jsonl
  local spec="count, sum(.x), avg(.y), stddev(.y), p99(.y), first(.i), last(.i), collect(.i) as ids"
  "$PPIPE" -j 1 --collect-limit 5000 --group-by '.g' --agg "$spec" gen.jsonl > want 2>/dev/null
  local j b u msg=()
  for j in 1 2 4 8; do
    for b in 1 4K 1M; do
      for u in "" --unordered; do
        # shellcheck disable=SC2086
        "$PPIPE" -j $j --batch-size $b $u --collect-limit 5000 --group-by '.g' --agg "$spec" gen.jsonl > got 2>/dev/null
        cmp -s want got || msg+=("[-j $j --batch-size $b $u] differs" "$(short_diff want got)")
      done
    done
  done
  [ "$(wc -l < want)" = 5 ] || msg+=("expected 5 groups (a b c d, and null: null or missing), got $(wc -l < want)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_invariance

t_agg_zeek() {
  local name="agg: Zeek known_services by .port_proto and by .host = a jq oracle, in every configuration"
  zcat "$DATA/zeek/known_services.json.gz" > ks.jsonl
  # jq: group_by sorts by key in jq's order; numbers printed by jq.
  jq -s -c 'group_by(.port_proto)[] | {port_proto: .[0].port_proto, count: length,
      sum_port_num: (map(.port_num) | add), min_port_num: (map(.port_num) | min), max_port_num: (map(.port_num) | max),
      count_distinct_host: (map(.host) | unique | length)}' ks.jsonl > want1
  jq -s -c 'group_by(.host)[] | {host: .[0].host, count: length, first_port_num: .[0].port_num,
      last_port_num: .[-1].port_num}' ks.jsonl > want2
  local cfg msg=()
  for cfg in "-j 1" "-j 2 --batch-size 1" "-j 4 --batch-size 4K" "-j 8 --batch-size 1M --unordered"; do
    # shellcheck disable=SC2086
    "$PPIPE" $cfg --group-by .port_proto --agg 'count, sum(.port_num), min(.port_num), max(.port_num), count_distinct(.host)' \
      ks.jsonl > got1 2> err || msg+=("[$cfg] exit $?: $(head -c 200 err)")
    cmp -s want1 got1 || msg+=("[$cfg] by .port_proto differs" "$(short_diff want1 got1)")
    # shellcheck disable=SC2086
    "$PPIPE" $cfg --group-by .host --agg 'count, first(.port_num), last(.port_num)' ks.jsonl > got2 2> err ||
      msg+=("[$cfg] exit $?: $(head -c 200 err)")
    cmp -s want2 got2 || msg+=("[$cfg] by .host differs" "$(short_diff want2 got2)")
  done
  # avg and p50 of .port_num by .port_proto, against jq's arithmetic (exact on these small integers).
  jq -s -c 'group_by(.port_proto)[] | (map(.port_num) | sort) as $x | ($x | length) as $n | ((($n - 1) * 0.5) | floor) as $i |
      {port_proto: .[0].port_proto, avg_port_num: (($x | add) / $n),
       p50_port_num: (if ($n - 1) * 0.5 == $i then $x[$i] else $x[$i] + (($n - 1) * 0.5 - $i) * ($x[$i + 1] - $x[$i]) end)}' \
    ks.jsonl > want3
  "$PPIPE" --group-by .port_proto --agg 'avg(.port_num), p50(.port_num)' ks.jsonl > got3 2>/dev/null
  cmp -s want3 got3 || msg+=("avg/p50 by .port_proto differs" "$(short_diff want3 got3)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_zeek

t_agg_sort_top_headline() {
  local name="agg: --sort -.count --top 3, and the headline command runs as typed"
  local msg=() rc=0
  "$PPIPE" --group-by .host --agg count --sort -.count --top 3 "$REPO/sample-data/access.jsonl" > got 2>/dev/null
  jq -s -c 'map(select(type == "object")) | group_by(.host) | map({host: .[0].host, count: length})
      | sort_by(-.count) | .[:3][]' <("$PPIPE" --stages parse "$REPO/sample-data/access.jsonl" 2>/dev/null) > want
  cmp -s want got || msg+=("--sort/--top differs" "$(short_diff want got)")
  "$PPIPE" --stages parse,filter,agg --filter '.status >= 500' --group-by '.host, .user.country as country' \
    --agg 'count, avg(.latency_ms) as lat, p99(.latency_ms), count_distinct(.user.id) as users' \
    "$REPO/sample-data/access.jsonl" > got 2> err || rc=$?
  [ "$rc" = 1 ] || msg+=("headline: exit $rc, want 1 (the sample has bad lines): $(grep -v '"stage":"parse"' err | head -c 300)")
  head -n 1 got | grep -qF '{"host":"api-01","country":null,"count":1,"lat":' || msg+=("headline: first line $(head -n 1 got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_sort_top_headline

t_agg_bad_input() {
  local name="agg: a type error is a record error (none of its aggregates applied); --max-groups, --max-values (agg, merge) and --collect-limit exit 3; unknown aggregate exit 2"
  local msg=() rc
  printf '%s\n' '{"g":"a","n":1,"s":"x"}' '{"g":"a","n":2,"s":3}' '{"g":"b","n":5,"s":"y"}' > in.jsonl
  rc=0; "$PPIPE" --group-by .g --agg 'count, sum(.n), sum(.s)' in.jsonl > got 2> err || rc=$?
  [ "$rc" = 1 ] || msg+=("type error: exit $rc, want 1")
  expect_eq "type error output" '{"g":"a","count":1,"sum_n":2,"sum_s":3}' "$(cat got)" >/dev/null || msg+=("type error output: $(cat got)")
  [ "$(grep -c '"stage":"agg","error":"sum(.s): cannot sum a string"' err)" = 2 ] || msg+=("type error messages: $(head -c 300 err)")
  printf '%s\n' '{"v":[1]}' '{"v":{}}' '{"v":true}' | "$PPIPE" --agg 'sum(.v), p90(.v)' > /dev/null 2> err
  [ "$(jq -r .error err | tr '\n' '/')" = "sum(.v): cannot sum an array/sum(.v): cannot sum an object/sum(.v): cannot sum a boolean/" ] ||
    msg+=("type error messages (arrays, objects): $(head -c 300 err)")
  rc=0; "$PPIPE" --group-by .g --max-groups 1 in.jsonl > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("--max-groups: exit $rc, want 3")
  grep -qF 'agg: more than 1 groups (--max-groups 1)' err || msg+=("--max-groups message: $(head -c 300 err)")
  rc=0; "$PPIPE" --agg 'collect(.n)' --collect-limit 2 in.jsonl > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("--collect-limit: exit $rc, want 3")
  # (the aggregate's name once: it said "agg: collect(.n): collect: more than ...")
  grep -qF '"agg: collect(.n): more than 2 values in a group (raise --collect-limit)"' err || msg+=("--collect-limit message: $(head -c 300 err)")
  # --max-values: 3 values kept (two medians' of group a, one of b); with 2 allowed, exit 3; and
  # merge counts the partials' values the same way.
  rc=0; "$PPIPE" --group-by .g --agg 'median(.n)' --max-values 3 in.jsonl > got 2> err || rc=$?
  [ "$rc" = 0 ] || msg+=("--max-values 3: exit $rc, want 0: $(head -c 300 err)")
  rc=0; "$PPIPE" --group-by .g --agg 'median(.n)' --max-values 2 in.jsonl > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("--max-values 2: exit $rc, want 3")
  grep -qF 'agg: the percentiles, count_distinct and collect of the groups keep more than 2 values (--max-values 2); raise --max-values, or keep fewer' err ||
    msg+=("--max-values message: $(head -c 300 err)")
  [ ! -s got ] || msg+=("--max-values 2 wrote: $(head -c 200 got)")
  "$PPIPE" --group-by .g --agg 'median(.n)' --partial in.jsonl > in.partial 2>/dev/null
  rc=0; "$PPIPE" --stages merge --max-values 2 in.partial > got 2> err || rc=$?
  # (in merge's name: it said "agg:")
  [ "$rc" = 3 ] && grep -qF '"merge: the percentiles, count_distinct and collect of the groups keep more than 2 values (--max-values 2)' err ||
    msg+=("merge --max-values 2: exit $rc: $(head -c 300 err)")
  rc=0; "$PPIPE" --agg 'count, avgg(.n)' in.jsonl > got 2> err || rc=$?
  [ "$rc" = 2 ] || msg+=("unknown aggregate: exit $rc, want 2")
  grep -qF "ppipe: --agg: unknown aggregate 'avgg' (did you mean 'avg'?)" err || msg+=("unknown aggregate message: $(head -c 300 err)")
  rc=0; "$PPIPE" --group-by '.a | length' in.jsonl > got 2> err || rc=$?
  [ "$rc" = 2 ] || msg+=("key without a name: exit $rc, want 2")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_bad_input

t_agg_partial_merge() {
  local name="agg --partial | merge = the single run, byte for byte, for 2, 3 and 7 parts (in parallel, any -j); foreign lines refused"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required"; return; }
  python3 "$AGG_ORACLE" gen 6000 5 > gen.jsonl
  local spec="count, sum(.x), avg(.y), var(.y), p90(.y), median(.x), first(.i), last(.i), collect(.i) as ids, count_distinct(.y)"
  local opts=(--collect-limit 10000 --group-by '.g' --agg "$spec" --sort '-.count')
  "$PPIPE" "${opts[@]}" gen.jsonl > want 2>/dev/null
  local k f msg=() rc
  for k in 2 3 7; do
    rm -f part.* ./*.partial
    split -n "l/$k" -d -a 2 gen.jsonl part.
    for f in part.*; do "$PPIPE" -j 2 --batch-size 4K --partial "${opts[@]}" "$f" > "$f.partial" 2>/dev/null & done
    wait
    "$PPIPE" --stages merge part.*.partial > got 2> err || msg+=("[$k parts] merge exit $?: $(head -c 300 err)")
    cmp -s want got || msg+=("[$k parts] differs from the single run" "$(short_diff want got)")
    # shellcheck disable=SC2046
    cat $(ls part.*.partial) | "$PPIPE" --stages merge -j 4 --batch-size 1 > got 2>/dev/null
    cmp -s want got || msg+=("[$k parts, stdin, -j 4 --batch-size 1] differs from the single run")
  done
  # Foreign lines: another spec, another format version, not a partial line at all.
  "$PPIPE" --partial --group-by .g gen.jsonl > other.partial 2>/dev/null
  rc=0; "$PPIPE" --stages merge part.00.partial other.partial > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("two specs: exit $rc, want 3")
  grep -qF 'merge: partials of two specs' err || grep -qF 'a partial of another spec' err || msg+=("two specs: $(head -c 300 err)")
  printf '%s\n' '{"ppipe_agg_partial":2,"spec":{}}' '{"a":1}' > bad.partial
  rc=0; "$PPIPE" --stages merge part.00.partial bad.partial > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("bad lines: exit $rc, want 3")
  [ ! -s got ] || msg+=("bad lines: a result was written")
  grep -qF '"source":"bad.partial","line":1,"offset":0,"stage":"merge","error":"partial format version 2; this ppipe reads version 1"' err ||
    msg+=("format version: $(head -c 300 err)")
  grep -qF '"source":"bad.partial","line":2,"offset":34,"stage":"merge","error":"not a partial line of agg --partial' err ||
    msg+=("not a partial line: $(head -c 300 err)")
  grep -qF 'merge: 2 lines were refused (see the error stream); no result written' err || msg+=("refusal: $(tail -n 1 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_partial_merge

t_agg_merge_of_merges() {
  local name="agg: merge --partial makes tree-shaped reductions (merge of merges = the single run); partial text is the same for every -j and --batch-size"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required"; return; }
  python3 "$AGG_ORACLE" gen 6000 9 > gen.jsonl
  local spec="count, sum(.x), avg(.y), stddev(.y), p99(.y), first(.i), last(.i), collect(.i) as ids, count_distinct(.y)"
  local opts=(--collect-limit 10000 --group-by '.g' --agg "$spec")
  "$PPIPE" "${opts[@]}" gen.jsonl > want 2>/dev/null
  local f msg=()
  rm -f part.* ./*.partial
  split -n l/7 -d -a 2 gen.jsonl part.
  for f in part.*; do "$PPIPE" -j 2 --batch-size 1K --partial "${opts[@]}" "$f" > "$f.partial" 2>/dev/null & done
  wait
  # ((0 1 2) ((3 4) (5 6))): every level keeps the parts in input order.
  "$PPIPE" --stages merge --partial part.00.partial part.01.partial part.02.partial > m012 2>/dev/null
  "$PPIPE" --stages merge --partial part.03.partial part.04.partial > m34 2>/dev/null
  "$PPIPE" --stages merge --partial part.05.partial part.06.partial > m56 2>/dev/null
  "$PPIPE" --stages merge --partial -j 4 --batch-size 1 m34 m56 > m3456 2>/dev/null
  "$PPIPE" --stages merge m012 m3456 > got 2> err || msg+=("merge of merges: exit $?: $(head -c 300 err)")
  cmp -s want got || msg+=("merge of merges differs from the single run" "$(short_diff want got)")
  [ "$(grep -c ppipe_agg_partial m3456)" = 5 ] || msg+=("merge --partial: $(wc -l < m3456) lines, want 5 partial lines (groups)")
  # The partial of the whole input, by agg and by a merge of all seven parts: the same text.
  "$PPIPE" -j 1 --partial "${opts[@]}" gen.jsonl > p1 2>/dev/null
  "$PPIPE" -j 4 --batch-size 1 --unordered --partial "${opts[@]}" gen.jsonl > p4 2>/dev/null
  cmp -s p1 p4 || msg+=("partial text depends on -j/--batch-size/--unordered" "$(short_diff p1 p4)")
  "$PPIPE" --stages merge --partial part.0?.partial > pm 2>/dev/null
  cmp -s p1 pm || msg+=("merge --partial of the 7 parts differs from agg --partial of the whole" "$(short_diff p1 pm)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_merge_of_merges

t_agg_merge_names() {
  # Default names that are not words (p99.9_v, "a b" of ."a b", é) and `as "any name"` come back
  # through a partial's spec: merge = the single run.
  local name='agg --partial | merge: names that are not words (p99.9(.v), ."a b", as "x y") merge as the single run' msg=() g a
  printf '%s\n' '{"a b":1,"é":"x","v":1,"x-y":2}' '{"a b":2,"é":"x","v":5}' '{"a b":1,"é":"y","v":2.5}' > nm.jsonl
  for g in '."a b", ."é"' '.v as "v v", ."a b" as "q\"\\"'; do
    for a in 'p99.9(.v), sum(."x-y"), count as "n n"' 'median(.v) as "m\\ \"x\""'; do
      "$PPIPE" --group-by "$g" --agg "$a" nm.jsonl > want 2> err || msg+=("[$g | $a] single run exit $?: $(head -c 200 err)")
      "$PPIPE" --group-by "$g" --agg "$a" --partial nm.jsonl > part 2> err || msg+=("[$g | $a] partial exit $?")
      "$PPIPE" --stages merge part > got 2> err || msg+=("[$g | $a] merge exit $?: $(head -c 300 err)")
      cmp -s want got || msg+=("[$g | $a] merge differs" "$(short_diff want got)")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_merge_names

t_agg_merge_refuses_lost_lines() {
  # merge gives no result (exit 3) when a line of its input is lost: one cut short (it fails in
  # parse, before merge) or one of another spec in another file (named with its file and line).
  local name="merge: a partial line cut short or of another spec in another file: exit 3, no result, file and line named" msg=() rc
  printf '{"v":1}\n' | "$PPIPE" --agg count --partial > ma.partial
  printf '{"v":1}\n' | "$PPIPE" --agg 'count, sum(.v)' --partial > mb.partial
  printf '{"ppipe_agg_partial":1,"spec":{"gro\n' > mc.partial
  rc=0; "$PPIPE" --stages merge ma.partial mc.partial > got 2> err || rc=$?
  [ "$rc" = 3 ] && [ ! -s got ] || msg+=("cut short: exit $rc, output $(head -c 100 got)")
  grep -q '"source":"mc.partial","line":1' err && grep -q 'merge: 1 line was refused' err || msg+=("cut short: $(head -c 300 err)")
  rc=0; "$PPIPE" --stages merge ma.partial mb.partial > got 2> err || rc=$?
  [ "$rc" = 3 ] && [ ! -s got ] || msg+=("two specs: exit $rc, output $(head -c 100 got)")
  grep -q 'merge: mb.partial line 1: a partial of another spec' err || msg+=("two specs: $(head -c 300 err)")
  [ "$("$PPIPE" --stages merge ma.partial ma.partial 2>&1)" = '{"count":2}' ] || msg+=("good partials refused")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_merge_refuses_lost_lines

t_agg_key_values() {
  local name="agg: keys group by value as jq's group_by does (1 = 1.0, -0.0 = 0, objects' members in any order), strings and arrays with commas and quotes"
  printf '%s\n' '{"g":0,"x":1}' '{"g":-0.0,"x":2}' '{"g":1.0,"x":3}' '{"g":1,"x":4}' '{"g":"a\"],b","x":5}' \
    '{"g":[1,"x,]"],"x":6}' '{"g":{"b":1,"a":[2]},"x":7}' '{"x":8}' '{"g":null,"x":9}' '{"g":"a\"],b","x":10}' \
    '{"g":1e2,"x":11}' '{"g":100,"x":12}' '{"g":{"a":[2.0],"b":1},"x":13}' '{"g":[{"q":1,"p":0}],"x":14}' \
    '{"g":[{"p":-0.0,"q":1}],"x":15}' > keys.jsonl
  # Objects equal as jq finds them equal (members in any order) are one group, written with their
  # members sorted.
  jq -s -c 'def s: if type == "object" then to_entries | sort_by(.key) | map(.value |= s) | from_entries
                   elif type == "array" then map(s) else . end;
    group_by(.g)[] | {g: (.[0].g | s), count: length, sum_x: (map(.x) | add), first_x: .[0].x}' keys.jsonl > want
  local msg=() cfg
  for cfg in "-j 1" "-j 3 --batch-size 1"; do
    # shellcheck disable=SC2086
    "$PPIPE" $cfg --group-by .g --agg 'count, sum(.x), first(.x)' keys.jsonl > got 2> err || msg+=("[$cfg] exit $?: $(head -c 300 err)")
    cmp -s want got || msg+=("[$cfg] differs from jq group_by" "$(short_diff want got)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_key_values

t_agg_big_numbers() {
  # Valid JSON with a number beyond 64 bits (which simdjson's DOM cannot hold) is read as jq 1.7
  # reads it, by agg, uniq and exec's {.path}, as by filter and map: not an error for the record.
  local name="agg, uniq, exec {.path}: records with numbers beyond 64 bits are read, not refused" msg=() rc
  printf '%s\n' '{"k":"a","big":1e400}' '{"k":"a","n":100000000000000000000}' '{"k":"a","n":2}' \
    '{"k":"b","n":9223372036854775807,"x":-1e999}' > big.jsonl
  "$PPIPE" --stats --group-by .k --agg 'count, sum(.n), max(.big), first(.x)' big.jsonl > got 2> err; rc=$?
  [ "$rc" = 0 ] || msg+=("agg exit $rc: $(head -c 300 err)")
  [ "$(cat got)" = '{"k":"a","count":3,"sum_n":1e+20,"max_big":1.7976931348623157e+308,"first_x":null}
{"k":"b","count":1,"sum_n":9223372036854775807,"max_big":null,"first_x":-1.7976931348623157e+308}' ] ||
    msg+=("agg output: $(cat got)")
  "$PPIPE" --stages parse,map,agg --map . --group-by .k big.jsonl > got 2> err || msg+=("map,agg exit $?: $(head -c 300 err)")
  [ "$(jq -c .count got | tr '\n' ' ')" = "3 1 " ] || msg+=("map,agg output: $(cat got)")
  "$PPIPE" --uniq .k big.jsonl > got 2> err || msg+=("uniq exit $?: $(head -c 300 err)")
  [ "$(cat got)" = "$(sed -n '1p;4p' big.jsonl)" ] || msg+=("uniq output: $(cat got)")
  "$PPIPE" --stages parse,exec --exec-mode record --exec 'echo {.k} {.n}' big.jsonl > got 2> err; rc=$?
  [ "$rc" = 1 ] || msg+=("exec exit $rc, expected 1 (the first record has no .n)")
  [ "$(cat got)" = $'a 100000000000000000000\na 2\nb 9223372036854775807' ] || msg+=("exec output: $(cat got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_big_numbers

t_agg_big_number_keys() {
  # Keys whose jq text is an integer beyond 64 bits (jq writes 1.8446744073709552e19 as
  # 18446744073709552000): grouped, ordered and printed as jq does, and a partial of them merges
  # to the same bytes. (The finish read the key texts back with simdjson, which refuses such a
  # number: "internal error: group keys do not parse", exit 3; merge refused the partial lines.)
  local name="agg: keys that are numbers beyond 64 bits group as in jq, and merge their partials" msg=() rc
  cat > bk.jsonl <<'JSON'
{"k":-9223372036854775808.0}
{"k":0.5}
{"k":18446744073709551616}
{"k":"-99999999999999999999999"}
{"k":"q\"12345678901234567890123\\"}
{"k":[1e25,-123456789012345678901234]}
{"k":{"a":18446744073709551616,"b":"x"}}
{"k":12345678901234567890123}
{"k":0.5}
{"k":18446744073709551616}
{"k":-1e19}
JSON
  # (One deliberate difference: a key that is a whole number a 64-bit integer holds is printed as
  # that integer, -9223372036854775808, where jq prints the double -9223372036854776000: it is
  # one group with the integer of that value, which prints exactly. See t_agg_integral_double_keys.)
  jq -c -s 'group_by(.k) | map({k: .[0].k, count: length}) | .[]' bk.jsonl |
    sed 's/^{"k":-9223372036854776000,/{"k":-9223372036854775808,/' > want
  rc=0
  "$PPIPE" --group-by .k bk.jsonl > got 2> err || rc=$?
  [ "$rc" = 0 ] || msg+=("exit $rc: $(head -c 300 err)")
  cmp -s want got || msg+=("differs from jq:" "$(short_diff want got)")
  rc=0
  "$PPIPE" --group-by .k --sort -.count bk.jsonl > got.sorted 2> err || rc=$?
  jq -c -s 'group_by(.k) | map({k: .[0].k, count: length}) | sort_by(-.count) | .[]' bk.jsonl |
    sed 's/^{"k":-9223372036854776000,/{"k":-9223372036854775808,/' > want.sorted
  [ "$rc" = 0 ] && cmp -s want.sorted got.sorted || msg+=("--sort -.count: exit $rc: $(short_diff want.sorted got.sorted)")
  head -6 bk.jsonl > part1.jsonl
  tail -n +7 bk.jsonl > part2.jsonl
  rc=0
  { "$PPIPE" --group-by .k --partial part1.jsonl && "$PPIPE" --group-by .k --partial part2.jsonl; } > parts 2> err || rc=$?
  "$PPIPE" --stages merge parts > merged 2>> err || rc=$?
  [ "$rc" = 0 ] || msg+=("partial, merge: exit $rc: $(head -c 300 err)")
  cmp -s got merged || msg+=("merge differs from the single run:" "$(short_diff got merged)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_big_number_keys

t_agg_many_groups() {
  local name="agg: 200,000 groups in key order with 1 and 2 workers, written as they are emitted (past several 1 MiB flushes); | head -1 exits 0, quietly"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required"; return; }
  python3 -c '
import json, random
r = random.Random(3); ids = list(range(200000)); r.shuffle(ids)
with open("many.jsonl", "w") as f, open("want", "w") as w:
    for i in ids: f.write(json.dumps({"id": i, "x": i % 7}) + "\n")
    for i in range(200000): w.write(json.dumps({"id": i, "count": 1, "sum_x": i % 7}, separators=(",", ":")) + "\n")
'
  local msg=() rc
  "$PPIPE" -j 2 --stats --group-by .id --agg 'count, sum(.x)' many.jsonl > got 2> err || msg+=("exit $?: $(head -c 300 err)")
  cmp -s want got || msg+=("differs from the expected groups" "$(short_diff want got)")
  # --stats: the groups and their memory (a group of count and sum is 72 bytes and its key, a slot
  # 8 and there are twice as many); the run's peak within 64 MiB more (issue 7's memory bound;
  # ASan's shadow memory makes RSS meaningless there, as in 40-edge.sh).
  tail -n 1 err | jq -e '.stages[1] | .groups == 200000 and .group_bytes >= 200000 * 72 and .group_table_bytes >= 200000 * 16' \
    > /dev/null || msg+=("--stats: $(tail -n 1 err | jq -c '.stages[1]')")
  [ -n "${ASAN_OPTIONS:-}" ] || tail -n 1 err | jq -e '.max_rss_kib * 1024 <= .stages[1].group_bytes + .stages[1].group_table_bytes + 64 * 1048576' \
    > /dev/null || msg+=("peak RSS over 64 MiB more than the groups': $(tail -n 1 err | jq -c '{max_rss_kib, s: .stages[1]}')")
  # One worker writes the groups on one thread; two make them on two (chunks written in turn).
  "$PPIPE" -j 1 --group-by .id --agg 'count, sum(.x)' many.jsonl > got1 2> err || msg+=("-j 1: exit $?: $(head -c 300 err)")
  cmp -s want got1 || msg+=("-j 1 differs from the expected groups" "$(short_diff want got1)")
  "$PPIPE" -j 2 --group-by .id --agg 'count, sum(.x)' many.jsonl 2> err | head -n 1 > first
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || msg+=("| head -1: exit $rc, want 0")
  [ ! -s err ] || msg+=("| head -1: stderr: $(head -c 300 err)")
  [ "$(cat first)" = '{"id":0,"count":1,"sum_x":0}' ] || msg+=("| head -1: $(cat first)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_many_groups

t_agg_int_keys() {
  local name="agg: integer keys (negative, beyond 2^53, near the int64 ends) in numeric order with 1 and 2 workers, and --top"
  command -v python3 >/dev/null || { not_ok "$name" "python3 is required"; return; }
  python3 -c '
import json, random
r = random.Random(11)
pool = [r.randrange(-10**15, 10**15) for _ in range(4000)] + [r.randrange(-2**63, 2**63) for _ in range(1000)]
pool += [-2**63, 2**63 - 1, -1, 0, 1, 2**53 + 1, -(2**53 + 1)]
count, total = {}, {}
with open("ints.jsonl", "w") as f:
    for i in range(30000):
        k = pool[r.randrange(len(pool))] if i >= len(pool) else pool[i]
        f.write(json.dumps({"k": k, "x": i % 5}) + "\n")
        count[k] = count.get(k, 0) + 1
        total[k] = total.get(k, 0) + i % 5
with open("want", "w") as w:
    for k in sorted(count): w.write(json.dumps({"k": k, "count": count[k], "sum_x": total[k]}, separators=(",", ":")) + "\n")
'
  local msg=() j
  for j in 1 2; do
    "$PPIPE" -j $j --group-by .k --agg 'count, sum(.x)' ints.jsonl > got 2> err || msg+=("-j $j: exit $?: $(head -c 300 err)")
    cmp -s want got || msg+=("-j $j: differs from the expected groups" "$(short_diff want got)")
  done
  "$PPIPE" -j 2 --group-by .k --agg 'count, sum(.x)' --top 7 ints.jsonl > got 2> err || msg+=("--top 7: exit $?: $(head -c 300 err)")
  head -n 7 want > want7
  cmp -s want7 got || msg+=("--top 7 differs from the first 7 groups" "$(short_diff want7 got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_int_keys

t_agg_mostly_int_keys() {
  local name="agg: integer keys with a few null, boolean and string keys (sorted apart) in jq's order; a fraction or an escaped string key as well"
  # Integers (sorted as rows in the table's memory) and, apart, null (also missing), false, true
  # before them and plain strings (digits too, empty, not ASCII) after; then one key of the
  # general way added. Against jq's group_by, which orders by jq's order too.
  awk 'BEGIN {
    for (i = 0; i < 6000; i++) printf "{\"k\":%d,\"x\":%d}\n", (i * 7919) % 2003 - 1000, i % 5
    print "{\"x\":1}"; print "{\"k\":null,\"x\":2}"; print "{\"k\":true,\"x\":3}"; print "{\"k\":false,\"x\":4}"
    print "{\"k\":\"10\",\"x\":1}"; print "{\"k\":\"-5\",\"x\":1}"; print "{\"k\":\"\",\"x\":1}"
    print "{\"k\":\"\u00e9t\u00e9\",\"x\":1}"; print "{\"k\":\"abc\",\"x\":1}"; print "{\"k\":\"10\",\"x\":1}"
  }' > mixed.jsonl
  { cat mixed.jsonl; echo '{"k":2.5,"x":1}'; } > frac.jsonl
  { cat mixed.jsonl; echo '{"k":"a\"b","x":1}'; } > esc.jsonl
  local msg=() f j
  for f in mixed frac esc; do
    jq -s -c 'group_by(.k)[] | {k: .[0].k, count: length, sum_x: (map(.x) | add)}' $f.jsonl > want
    for j in 1 2; do
      "$PPIPE" -j $j --group-by .k --agg 'count, sum(.x)' $f.jsonl > got 2> err || msg+=("$f -j $j: exit $?: $(head -c 300 err)")
      cmp -s want got || msg+=("$f -j $j: differs from jq" "$(short_diff want got)")
    done
  done
  "$PPIPE" --group-by .k --agg 'count, sum(.x)' --top 4 mixed.jsonl > got 2> err
  jq -s -c 'group_by(.k)[] | {k: .[0].k, count: length, sum_x: (map(.x) | add)}' mixed.jsonl | head -n 4 > want
  cmp -s want got || msg+=("--top 4 differs from jq's first 4 groups" "$(short_diff want got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_mostly_int_keys

t_agg_empty_input() {
  local name="agg without --group-by: one group even on no input ({\"count\":0}, as jq's reduce), also through --partial | merge; with keys: no group"
  : > empty.jsonl
  printf '%s\n' '{"x":1}' '{"x":2}' > two.jsonl
  jq -n -c '[inputs] | {count: length, sum_x: (map(.x) | add), max_x: (map(.x) | max)}' empty.jsonl > want
  local msg=()
  "$PPIPE" --agg 'count, sum(.x), max(.x)' empty.jsonl > got 2> err || msg+=("exit $?: $(head -c 200 err)")
  cmp -s want got || msg+=("empty input" "$(short_diff want got)")
  "$PPIPE" --stages parse,filter,agg --filter '.x > 5' --agg 'count, sum(.x), max(.x)' two.jsonl > got 2>/dev/null
  cmp -s want got || msg+=("all filtered out" "$(short_diff want got)")
  "$PPIPE" --partial --agg 'count, sum(.x), max(.x)' empty.jsonl > p1 2>/dev/null
  "$PPIPE" --stages merge p1 p1 > got 2>/dev/null
  cmp -s want got || msg+=("merge of two empty parts" "$(short_diff want got)")
  "$PPIPE" --partial --agg 'count, sum(.x), max(.x)' two.jsonl > p2 2>/dev/null
  jq -n -c '[inputs] | {count: length, sum_x: (map(.x) | add), max_x: (map(.x) | max)}' two.jsonl > want2
  "$PPIPE" --stages merge p1 p2 p1 > got 2>/dev/null
  cmp -s want2 got || msg+=("merge of empty and non-empty parts" "$(short_diff want2 got)")
  "$PPIPE" --group-by .g --agg count empty.jsonl > got 2>/dev/null
  [ ! -s got ] || msg+=("with --group-by, empty input gave: $(head -c 200 got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_empty_input

t_agg_objects_by_value() {
  # count_distinct and uniq compare objects as jq does: members in any order are one value.
  local name="count_distinct and uniq: objects with the same members in another order are one value (jq's unique)" msg=() got
  printf '%s\n' '{"k":{"a":1,"b":[2,{"d":0,"c":1}]}}' '{"k":{"b":[2,{"c":1,"d":-0.0}],"a":1.0}}' '{"k":{"a":2}}' > ov.jsonl
  got=$("$PPIPE" --agg 'count_distinct(.k)' ov.jsonl 2>&1)
  [ "$got" = "{\"count_distinct_k\":$(jq -s '[.[].k] | unique | length' ov.jsonl)}" ] || msg+=("count_distinct: $got")
  got=$("$PPIPE" --uniq .k --uniq-all ov.jsonl 2>&1 | wc -l)
  [ "$got" = 2 ] || msg+=("uniq --uniq-all kept $got records, expected 2")
  got=$("$PPIPE" --uniq .k ov.jsonl 2>&1 | wc -l)
  [ "$got" = 2 ] || msg+=("uniq kept $got records, expected 2")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_objects_by_value

t_agg_sort_descending_path() {
  # --sort -PATH is descending by the path in jq's order: a group whose value is null (no values)
  # sorts last instead of failing the whole run (jq's -null is an error), strings sort too; ties by
  # key. Through --partial and merge the same.
  local name="agg --sort -PATH: descending in jq's order (null last, strings too), ties by key; merge the same" msg=() got
  printf '%s\n' '{"k":"a","v":1}' '{"k":"b"}' '{"k":"c","v":5}' '{"k":"d","v":5}' > sd.jsonl
  got=$("$PPIPE" --group-by .k --agg 'max(.v)' --sort '-.max_v' sd.jsonl 2>&1 | jq -r .k | tr -d '\n')
  [ "$got" = cdab ] || msg+=("-.max_v: $got")
  got=$("$PPIPE" --group-by .k --agg 'max(.v)' --sort ' -.k' sd.jsonl 2>&1 | jq -r .k | tr -d '\n')
  [ "$got" = dcba ] || msg+=("-.k: $got")
  got=$("$PPIPE" --group-by .k --agg 'max(.v)' --sort '-.max_v' --top 3 --partial sd.jsonl | "$PPIPE" --stages merge | jq -r .k | tr -d '\n')
  [ "$got" = cda ] || msg+=("partial | merge: $got")
  # Another expression is ascending by its value (arithmetic as jq's).
  got=$("$PPIPE" --group-by .k --agg 'max(.v)' --sort '-(.max_v // 0) + 1' sd.jsonl 2>&1 | jq -r .k | tr -d '\n')
  [ "$got" = cdab ] || msg+=("-(.max_v // 0) + 1: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_sort_descending_path

t_agg_guards_stop_the_run() {
  # Past --max-groups, --max-values or --collect-limit the run ends there (exit 3, the guard's
  # message), as uniq --uniq-all's --max-groups does: it read on to the end of the input before
  # (an endless stream: never), only to fail then.
  local name="agg, merge: a memory guard ends the run at once, also on an endless stream (exit 3)" msg=() rc args out
  for args in "--group-by .a --max-groups 10" "--agg p50(.a) --max-values 50" "--agg collect(.a) --collect-limit 5" \
              "--head 1000000 --group-by .a --max-groups 10"; do
    rc=0
    # shellcheck disable=SC2086
    out=$(timeout 20 "$PPIPE" $args < <(awk 'BEGIN { for (i = 0; ; i++) print "{\"a\":" i "}" }') 2>&1 >/dev/null) || rc=$?
    [ "$rc" = 3 ] || msg+=("[$args] exit $rc (124: still running after 20 s), expected 3")
    grep -q '"ppipe":"error","message":"agg: ' <<< "$out" || msg+=("[$args] message: $(head -c 200 <<< "$out")")
  done
  seq 1 300 | sed 's/.*/{"a":&}/' > g300.jsonl
  "$PPIPE" --group-by .a --partial g300.jsonl > g300.parts
  rc=0; "$PPIPE" --stages merge --max-groups 10 --batch-size 1K --stats g300.parts > /dev/null 2> err || rc=$?
  [ "$rc" = 3 ] && grep -q 'merge: more than 10 groups' err && [ "$(stats_of err '.records_in < 300')" = true ] ||
    msg+=("merge --max-groups: exit $rc, read on: $(tail -n 1 err | head -c 200)")
  # Not a read or write error: stopped_by says "fatal_error" (it said "io_error").
  [ "$(stats_of err '.stopped_by')" = '"fatal_error"' ] || msg+=("merge --max-groups: stopped_by $(stats_of err '.stopped_by')")
  "$PPIPE" --group-by .a --max-groups 10 --stats g300.jsonl > /dev/null 2> err || true
  [ "$(stats_of err '.stopped_by')" = '"fatal_error"' ] || msg+=("agg --max-groups: stopped_by $(stats_of err '.stopped_by')")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_guards_stop_the_run

t_agg_integral_double_keys() {
  # An integral double equal to an integer is one key with it, as `==` says (1e18 ==
  # 1000000000000000000; 2^62 written 4611686018427387904.0): group-by, uniq and count_distinct
  # split them (their texts were 1e+18 and 4611686018427388000). A double that no integer equals
  # exactly (2^64, beside uint64's largest) stays apart, as `==` keeps it.
  local name="agg/uniq/count_distinct: an integral double is one key with the integer it equals" msg=() got
  printf '%s\n' '{"n":4611686018427387904}' '{"n":4611686018427387904.0}' '{"n":1e18}' \
    '{"n":1000000000000000000}' '{"n":-9223372036854775808}' '{"n":-9223372036854775808.0}' \
    '{"n":18446744073709551615}' '{"n":1.8446744073709552e19}' '{"n":1}' '{"n":1.0}' > idk.jsonl
  got=$("$PPIPE" --group-by .n --agg count idk.jsonl | tr '\n' ' ')
  [ "$got" = '{"n":-9223372036854775808,"count":2} {"n":1,"count":2} {"n":1000000000000000000,"count":2} {"n":4611686018427387904,"count":2} {"n":18446744073709551615,"count":1} {"n":18446744073709552000,"count":1} ' ] ||
    msg+=("group-by: $got")
  got=$("$PPIPE" --uniq .n idk.jsonl | wc -l)
  [ "$got" = 6 ] || msg+=("uniq: $got records (want 6)")
  got=$("$PPIPE" --agg 'count_distinct(.n)' idk.jsonl)
  [ "$got" = '{"count_distinct_n":6}' ] || msg+=("count_distinct: $got")
  # the same through partials and merge, and for every -j
  "$PPIPE" --group-by .n --agg count --partial idk.jsonl > idk.partial
  got=$("$PPIPE" --stages merge idk.partial | wc -l)
  [ "$got" = 6 ] || msg+=("merge: $got groups")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_integral_double_keys

t_agg_order_within_a_line() {
  # first/last/collect follow the order of the records even where several come from one input
  # line (a fanning-out map, --format json, exec's output): their positions were the line, so
  # `last` kept the first of them and `collect` shuffled them past 16 (std::sort of ties), and a
  # --partial/merge run differed from the single run.
  local name="agg: first, last and collect in record order when records share a line (fan-out map, json, exec)" msg=() cfg got want
  python3 -c 'import json
for r in range(4): print(json.dumps({"g": r % 2, "xs": [r * 100 + i for i in range(40)]}))' > fan.jsonl
  want=$(jq -c '.g as $g | .xs[] | {g: $g, x: .}' fan.jsonl | jq -s -c 'group_by(.g)[] | {g: .[0].g, first_x: .[0].x, last_x: .[-1].x, collect_x: map(.x)}')
  for cfg in "-j 1" "-j 2 --batch-size 64" "-j 4 --batch-size 1K --unordered"; do
    # shellcheck disable=SC2086
    got=$("$PPIPE" $cfg --stages parse,map,agg --map '.g as $g | .xs[] | {g: $g, x: .}' --group-by .g \
      --agg 'first(.x), last(.x), collect(.x)' fan.jsonl)
    [ "$got" = "$want" ] || msg+=("fan-out [$cfg]: $(echo "$got" | head -c 300)")
  done
  local A=(--stages parse,map,agg --map '.g as $g | .xs[] | {g: $g, x: .}' --group-by .g --agg 'first(.x), last(.x), collect(.x)')
  head -n 2 fan.jsonl > fan_a.jsonl; tail -n 2 fan.jsonl > fan_b.jsonl
  "$PPIPE" "${A[@]}" --partial fan_a.jsonl > fan_a.p && "$PPIPE" "${A[@]}" --partial fan_b.jsonl > fan_b.p
  got=$("$PPIPE" --stages merge fan_a.p fan_b.p)
  [ "$got" = "$want" ] || msg+=("merge of two partials: $(echo "$got" | head -c 300)")
  printf '[{"x":1},{"x":2},{"x":3}]\n' > fan_arr.json
  got=$("$PPIPE" --format json --unwrap --agg 'first(.x), last(.x)' fan_arr.json)
  [ "$got" = '{"first_x":1,"last_x":3}' ] || msg+=("--unwrap: $got")
  printf '{"i":1}\n{"i":2}\n' > fan_ex.jsonl
  got=$("$PPIPE" --stages parse,exec,agg --exec-mode record --exec 'cat; echo "{\"i\":99}"' --agg 'last(.i), collect(.i)' fan_ex.jsonl)
  [ "$got" = '{"last_i":99,"collect_i":[1,99,2,99]}' ] || msg+=("exec output: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_order_within_a_line

t_merge_collect_limit_message() {
  # merge past the collect limit the partials carry: the message names what to do (merge takes no
  # --collect-limit; it said "raise --collect-limit", which merge refuses; found by a bug hunt).
  local name="merge past the partials' --collect-limit: the message says to run the parts again" rc
  for i in $(seq 1 3000); do echo "{\"k\":$i,\"v\":$((i % 600))}"; done > mcl.jsonl
  "$PPIPE" --group-by .v --agg 'collect(.k)' --collect-limit 5 --partial mcl.jsonl > mcl.partial
  rc=0; "$PPIPE" --stages merge mcl.partial mcl.partial > /dev/null 2> mcl.err || rc=$?
  if [ "$rc" = 3 ] && grep -q "more than 5 values in a group (the limit came with the partial lines: run the parts' agg --partial again with a larger --collect-limit)" mcl.err
  then ok "$name"; else not_ok "$name" "exit $rc: $(head -c 300 mcl.err)"; fi
}
register t_merge_collect_limit_message

t_agg_sort_on_doubles_past_64_bits() {
  # --sort on a value that is a double past 64 bits, which jq writes as its digits
  # (18446744073709552000): "internal error: --sort values do not parse", exit 3, no output, in
  # agg and merge (found by a bug hunt).
  local msg=() got
  got=$(printf '{"x":18446744073709551615}\n' | "$PPIPE" --agg 'sum(.x)' --sort .sum_x 2>&1)
  [ "$got" = '{"sum_x":18446744073709552000}' ] || msg+=("agg: $got")
  got=$(printf '{"x":5}\n{"x":1.8446744073709552e19}\n{"x":-3}\n' | "$PPIPE" --group-by .x --agg count --sort -.x 2>&1 | tr '\n' ' ')
  [ "$got" = '{"x":18446744073709552000,"count":1} {"x":5,"count":1} {"x":-3,"count":1} ' ] || msg+=("-.x: $got")
  got=$(printf '{"x":18446744073709551615}\n' | "$PPIPE" --agg 'sum(.x)' --sort .sum_x --partial | "$PPIPE" --stages merge 2>&1)
  [ "$got" = '{"sum_x":18446744073709552000}' ] || msg+=("merge: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "agg/merge --sort on doubles past 64 bits"; else not_ok "agg --sort past 64 bits" "${msg[@]}"; fi
}
register t_agg_sort_on_doubles_past_64_bits

t_agg_decimals_in_a_record_with_a_big_number() {
  # A record with a number past 64 bits is read by the general engine's reader, which made the
  # decimals written as such (1.0, -0.0) integers: sum exact where it is a double's, -0.0 lost its
  # sign. Now as in any other record (found by a bug hunt).
  local msg=() got want
  want=$(printf '%s\n' '{"x":4611686018427387904}' '{"x":1.0,"pad":1}' | "$PPIPE" --agg 'sum(.x)')
  got=$(printf '%s\n' '{"x":4611686018427387904}' '{"x":1.0,"pad":1e400}' | "$PPIPE" --agg 'sum(.x)')
  [ "$got" = "$want" ] && [ "$got" = '{"sum_x":4611686018427388000}' ] || msg+=("sum: $got, without the big number: $want")
  got=$(printf '%s\n' '{"x":-0.0,"pad":1e400}' | "$PPIPE" --agg 'sum(.x), min(.x), first(.x), collect(.x)')
  [ "$got" = '{"sum_x":-0,"min_x":-0,"first_x":-0,"collect_x":[-0]}' ] || msg+=("-0.0: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "agg: decimals in a record with a number past 64 bits stay doubles"; else not_ok "agg decimals with a big number" "${msg[@]}"; fi
}
register t_agg_decimals_in_a_record_with_a_big_number
