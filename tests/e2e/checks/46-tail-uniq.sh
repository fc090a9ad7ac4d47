# shellcheck shell=bash
# tail (a finishing stage) and uniq (an ordered stage) against coreutils tail, uniq and an awk
# oracle on real Zeek logs (tests/data/zeek), for -j 1/2/4/8, several batch sizes, and --unordered:
# the output must be byte-identical in every configuration (issue 6).

tail_uniq_inputs() {
  zcat "$DATA/zeek/known_services.json.gz" > ks.jsonl
  zcat "$DATA/zeek/notice.json.gz" > notice.jsonl
  # Adjacent repeats for uniq: every third line twice, every fifth three times.
  awk '{print} NR%3==0{print} NR%5==0{print; print}' ks.jsonl > ks-dups.jsonl
  sort ks.jsonl > ks-sorted.jsonl
}

TAIL_UNIQ_CONFIGS=("-j 1" "-j 2" "-j 4 --batch-size 1" "-j 8 --batch-size 4K" "-j 2 --batch-size 64K --unordered"
                   "-j 4 --batch-size 1 --unordered")

# compare_runs NAME EXPECTED-FILE PPIPE-ARGS...: ppipe ARGS in every configuration == EXPECTED.
compare_runs() {
  local name=$1 expected=$2; shift 2
  local cfg msg=() rc
  for cfg in "${TAIL_UNIQ_CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    "$PPIPE" $cfg "$@" > got 2> err; rc=$?
    [ "$rc" = 0 ] || msg+=("[$cfg] exit $rc: $(head -c 200 err)")
    cmp -s got "$expected" || msg+=("[$cfg] output differs from the oracle ($(wc -l < got) vs $(wc -l < "$expected") lines)" "$(short_diff "$expected" got)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}

t_tail_matches_coreutils() {
  tail_uniq_inputs
  local n
  for n in 1 25 1000; do
    tail -n "$n" notice.jsonl > want
    compare_runs "tail --tail $n = tail -n $n (zeek notice, 207 records)" want --tail "$n" notice.jsonl
  done
  tail -n 300 ks.jsonl > want
  compare_runs "tail --tail 300 = tail -n 300 (zeek known_services, 1579 records)" want --tail 300 ks.jsonl
  : > want
  compare_runs "tail --tail 0 writes nothing" want --tail 0 ks.jsonl
  # Stages after tail run on its records: the last 100, then a filter.
  tail -n 100 ks.jsonl | jq -c 'select(.port_num == 443)' > want
  compare_runs "tail then filter = tail -n 100 | jq select" want --stages parse,tail,filter --tail 100 --filter '.port_num == 443' ks.jsonl
  # A filter before tail: the last 10 of the survivors.
  jq -c 'select(.port_proto == "udp")' ks.jsonl | tail -n 10 > want
  compare_runs "filter then tail = jq select | tail -n 10" want --filter '.port_proto == "udp"' --tail 10 ks.jsonl
}
register t_tail_matches_coreutils

t_uniq_matches_coreutils() {
  tail_uniq_inputs
  uniq ks-dups.jsonl > want
  compare_runs "uniq (default key .) = coreutils uniq on adjacent repeats" want --uniq . ks-dups.jsonl
  compare_runs "--uniq-all alone adds the uniq stage" want --uniq-all ks-dups.jsonl
  uniq ks-sorted.jsonl > want
  compare_runs "uniq on sorted input = sort | uniq" want --uniq . ks-sorted.jsonl
  # By a key: keep a record when its .port_num differs from the previous record's.
  paste -d '\t' <(jq -c .port_num ks.jsonl) ks.jsonl | awk -F'\t' 'NR==1 || $1 != prev {print $2} {prev = $1}' > want
  compare_runs "uniq --uniq .port_num = awk on the key column" want --uniq .port_num ks.jsonl
  # --uniq-all: the first record of every key.
  paste -d '\t' <(jq -c '[.host, .port_num]' ks.jsonl) ks.jsonl | awk -F'\t' '!seen[$1]++ {print $2}' > want
  compare_runs "uniq --uniq-all '[.host, .port_num]' = awk '!seen[key]++'" want --uniq '[.host, .port_num]' --uniq-all ks.jsonl
  # uniq before tail: both modes in one chain.
  uniq ks-dups.jsonl | tail -n 7 > want
  compare_runs "uniq then tail = uniq | tail -n 7" want --uniq . --tail 7 ks-dups.jsonl
}
register t_uniq_matches_coreutils

t_uniq_max_groups() {
  local name="uniq --uniq-all past --max-groups: exit 3, a clear message, the records before it written"
  tail_uniq_inputs
  local rc=0 msg=()
  "$PPIPE" --uniq .host --uniq-all --max-groups 5 ks.jsonl > got 2> err || rc=$?
  [ "$rc" = 3 ] || msg+=("exit $rc, expected 3")
  grep -qF '"message":"uniq: more than 5 distinct keys (--max-groups 5)' err || msg+=("message: $(head -c 300 err)")
  [ "$(wc -l < got)" = 5 ] || msg+=("$(wc -l < got) records written, expected the 5 before the 6th key")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_uniq_max_groups

t_tail_stats_reconcile() {
  local name="tail and uniq --stats: records_in + emitted = records_out + dropped + errors + consumed"
  tail_uniq_inputs
  printf 'bad line\n' >> ks-dups.jsonl
  local msg=() cfg s
  for cfg in "-j 1" "-j 4 --batch-size 1"; do
    # shellcheck disable=SC2086
    "$PPIPE" $cfg --stats --uniq . --filter '.port_num != 80' --tail 50 ks-dups.jsonl > /dev/null 2> err
    s=$(tail -n 1 err)
    echo "$s" | jq -e '.records_in + .emitted == .records_out + .dropped + .errors + .consumed' > /dev/null \
      || msg+=("[$cfg] does not reconcile: $s")
    echo "$s" | jq -e '.emitted == 50 and .records_out == 50 and .errors == 1' > /dev/null || msg+=("[$cfg] $s")
    echo "$s" | jq -e '[.stages[] | select(.name != "tail") | .in == .out + .dropped + .errors] | all' > /dev/null \
      || msg+=("[$cfg] a stage's counts do not add up: $s")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_tail_stats_reconcile

t_tail_then_parse() {
  # tail keeps input lines as they came: a parse after it checks them.
  printf '{"a":1}\nbad line\n{"a":3}\n' > tp.jsonl
  local msg=() rc
  "$PPIPE" --stats --stages tail,parse --tail 2 --errors errs.jsonl tp.jsonl > out 2> err; rc=$?
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  [ "$(cat out)" = '{"a":3}' ] || msg+=("output: $(head -c 200 out)")
  jq -e -s 'length == 1 and .[0].stage == "parse" and .[0].record == "bad line"' errs.jsonl > /dev/null \
    || msg+=("errors: $(head -c 300 errs.jsonl)")
  tail -n 1 err | jq -e '.records_in + .emitted == .records_out + .dropped + .errors + .consumed and .errors == 1' \
    > /dev/null || msg+=("stats: $(tail -n 1 err | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "tail then parse: the kept lines are validated"; else not_ok "tail then parse: the kept lines are validated" "${msg[@]}"; fi
}
register t_tail_then_parse

t_tail_error_origin() {
  # A record tail kept is an input record: a later stage's error names its file, line and offset,
  # not "tail" and its place among tail's records. A group agg made has no input line: "agg" and
  # the group's position.
  local name="tail then a failing stage: the error names the record's file and line" msg=() j
  printf '{"a":1}\nbad line\n{"a":"x"}\n' > to1.jsonl
  printf '{"a":2}\n\n{"a":"y"}\n' > to2.jsonl
  local want='{"source":"to1.jsonl","line":3,"offset":17,"stage":"map","error":"string (\"x\") and number (1) cannot be added","record":"{\"a\":\"x\"}"}
{"source":"to2.jsonl","line":3,"offset":9,"stage":"map","error":"string (\"y\") and number (1) cannot be added","record":"{\"a\":\"y\"}"}'
  for j in 1 3; do
    "$PPIPE" -j "$j" --batch-size 8 --stages tail,parse,map --tail 4 --map '.a + 1' --errors errs.jsonl \
      to1.jsonl to2.jsonl > out 2> err
    [ "$(cat out)" = 3 ] || msg+=("-j $j output: $(head -c 200 out)")
    [ "$(grep -v '"bad line"' errs.jsonl)" = "$want" ] || msg+=("-j $j errors: $(head -c 600 errs.jsonl)")
    grep -q '"source":"to1.jsonl","line":2,"offset":8,"stage":"parse"' errs.jsonl || msg+=("-j $j parse error: $(head -c 300 errs.jsonl)")
  done
  printf '{"g":"a"}\n{"g":"b"}\n' | "$PPIPE" --stages parse,agg,map --group-by .g --map '.g + 1' --errors errs.jsonl > out 2> err
  [ "$(jq -c '[.source, .line]' errs.jsonl | tr '\n' ' ')" = '["agg",1] ["agg",2] ' ] || msg+=("agg errors: $(head -c 300 errs.jsonl)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_tail_error_origin

t_tail_after_sigint() {
  local name="tail after SIGINT: exit 130, emits the last N of the records read so far"
  ( printf '{"i":1}\n{"i":2}\n{"i":3}\n'; sleep 6; printf '{"i":4}\n' ) 2>/dev/null | "$PPIPE" --no-progress --tail 2 > got 2> err &
  local pid=$! rc=0 msg=()
  sleep 1.5
  kill -INT "$pid"
  wait "$pid" || rc=$?
  [ "$rc" = 130 ] || msg+=("exit $rc, expected 130")
  [ "$(cat got)" = $'{"i":2}\n{"i":3}' ] || msg+=("output: $(cat got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_tail_after_sigint

t_head_then_finishing_after_fan_out() {
  # A map that fans out puts head on the writer's side; when head ends the stream there, the
  # finishing stages after it (tail, agg) still write what they hold: jq | head | tail.
  local name="fan-out map, head, then tail or agg: the finishing stage writes the records head took" msg=() j want
  printf '%s\n' '{"t":[1,2]}' '{"t":[3]}' '{"t":[4,5]}' '{"t":[6]}' > fo.jsonl
  for j in 1 3; do
    want=$(jq -c '.t[]' fo.jsonl | head -n 3 | tail -n 2)
    [ "$("$PPIPE" -j "$j" --map '.t[]' --head 3 --tail 2 fo.jsonl)" = "$want" ] || msg+=("-j $j tail: $("$PPIPE" -j "$j" --map '.t[]' --head 3 --tail 2 fo.jsonl | tr '\n' ' ')")
    [ "$("$PPIPE" -j "$j" --map '.t[]' --head 4 --agg 'count, sum(.) as s' fo.jsonl)" = '{"count":4,"s":10}' ] ||
      msg+=("-j $j agg: $("$PPIPE" -j "$j" --map '.t[]' --head 4 --agg 'count, sum(.) as s' fo.jsonl 2>&1)")
    # tail, head, tail: the first tail's emission is cut by head; the second tail still writes.
    [ "$(seq 1 9 | "$PPIPE" -j "$j" --stages tail,map,head,tail --tail 4 --map . --head 3 --tail 2 | tr '\n' ' ')" = "7 8 " ] ||
      msg+=("-j $j tail,head,tail: $(seq 1 9 | "$PPIPE" -j "$j" --stages tail,map,head,tail --tail 4 --map . --head 3 --tail 2 | tr '\n' ' ')")
  done
  "$PPIPE" --stats --map '.t[]' --head 3 --tail 2 fo.jsonl 2> err > /dev/null
  tail -n 1 err | jq -e '.records_in + .emitted == .records_out + .dropped + .errors + .consumed and .records_out == 2' \
    > /dev/null || msg+=("stats: $(tail -n 1 err | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_head_then_finishing_after_fan_out

t_fan_out_errors_in_order() {
  # After a map that fans out, the stages on the writer's side fail records too: their errors and
  # the workers' come in input order, --max-errors counts both and stops right after the N-th, and
  # a head there drops the errors of the records after its cut (as if never read).
  local name="fan-out map then failing stages: errors in input order, --max-errors exact, head's cut drops later errors" msg=() j cfg got
  printf '%s\n' '{"t":["a","b"]}' 'bad' '{"t":["c"]}' > fe.jsonl
  printf '%s\n' '{"t":[1,2]}' 'bad' 'bad2' '{"t":[6]}' 'bad3' > fh.jsonl
  for cfg in "-j 1" "-j 3 --batch-size 1" "-j 2 --batch-size 20"; do
    # shellcheck disable=SC2086
    got=$("$PPIPE" $cfg --map '.t[]' --map '.+1' fe.jsonl 2>&1 >/dev/null | jq -c '[.line, .stage]' | tr '\n' ' ')
    [ "$got" = '[1,"map"] [1,"map"] [2,"parse"] [3,"map"] ' ] || msg+=("[$cfg] error order: $got")
    # shellcheck disable=SC2086
    got=$("$PPIPE" $cfg --map '.t[]' --map '.+1' --max-errors 1 fe.jsonl 2>&1 >/dev/null | jq -c '[.line, .stage, .reason]' | tr '\n' ' ')
    [ "$got" = '[1,"map",null] [null,null,"max-errors"] ' ] || msg+=("[$cfg] --max-errors 1: $got")
    # shellcheck disable=SC2086
    got=$("$PPIPE" $cfg --map '.t[]' --map '.+1' --max-errors 3 --stats fe.jsonl 2>&1 >/dev/null | tail -n 1 | jq -c '[.records_in, .errors]')
    [ "$got" = '[2,3]' ] || msg+=("[$cfg] --max-errors 3 stats: $got")
    # shellcheck disable=SC2086
    got=$("$PPIPE" $cfg --stats --map '.t[]' --head 1 fh.jsonl 2>&1; echo "rc=$?")
    [ "$(head -n 1 <<< "$got")" = 1 ] && [ "$(tail -n 1 <<< "$got")" = rc=0 ] &&
      jq -e '.records_in == 1 and .errors == 0' <(sed -n 2p <<< "$got") > /dev/null || msg+=("[$cfg] head cut: $got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_fan_out_errors_in_order

t_fan_out_after_finishing() {
  # A map that fans out after tail, agg or exec: each output is a record of its own for the stages
  # after it (they were one multi-line record: agg refused it, head counted it once).
  local name="fan-out map after tail/agg/exec: each output is its own record (head, agg, filter, stats)" msg=() got
  printf '{"t":[1,2]}\n{"t":[3,4]}\n' > fa.jsonl
  got=$("$PPIPE" --stages parse,tail,map,head --tail 2 --map '.t[]' --head 3 fa.jsonl 2>&1 | tr '\n' ' ')
  [ "$got" = "1 2 3 " ] || msg+=("tail,map,head: $got")
  got=$("$PPIPE" --tail 2 --map '.t[]' --agg count fa.jsonl 2>&1)
  [ "$got" = '{"count":4}' ] || msg+=("tail,map,agg: $got")
  got=$("$PPIPE" --stages parse,agg,map,filter --group-by .t --map '.t[]' --filter '. > 1' fa.jsonl 2>&1 | tr '\n' ' ')
  [ "$got" = "2 3 4 " ] || msg+=("agg,map,filter: $got")
  got=$("$PPIPE" --exec cat --map '.t[]' --head 3 fa.jsonl 2>&1 | tr '\n' ' ')
  [ "$got" = "1 2 3 " ] || msg+=("exec,map,head: $got")
  "$PPIPE" --stats --tail 2 --map '.t[]' --head 3 fa.jsonl > /dev/null 2> err
  tail -n 1 err | jq -e '.records_in + .emitted == .records_out + .dropped + .errors + .consumed and .records_out == 3' \
    > /dev/null || msg+=("stats: $(tail -n 1 err | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_fan_out_after_finishing

t_stage_flag_values() {
  # A stage's flag with a value, as scripts write `--flag=$VAR`: false is not the flag (it was:
  # CLI11 counts the occurrence), a word that is not true or false is a usage error, as for the
  # engine's flags (--unordered=bogus).
  local name="stage flags: --uniq-all=false and --partial=false are off, --uniq-all=bogus a usage error" msg=() rc
  printf '%s\n' '{"a":1,"b":1}' '{"a":1,"b":2}' '{"a":2,"b":2}' '{"a":1,"b":3}' > sf.jsonl
  [ "$("$PPIPE" --uniq .a --uniq-all=false sf.jsonl | wc -l)" = 3 ] || msg+=("--uniq-all=false: not 3 records")
  [ "$("$PPIPE" --uniq .a --uniq-all=no sf.jsonl | wc -l)" = 3 ] || msg+=("--uniq-all=no: not 3 records")
  [ "$("$PPIPE" --uniq .a --uniq-all=true sf.jsonl | wc -l)" = 2 ] || msg+=("--uniq-all=true: not 2 records")
  [ "$("$PPIPE" --uniq .a --uniq-all sf.jsonl | wc -l)" = 2 ] || msg+=("--uniq-all: not 2 records")
  ! "$PPIPE" --uniq .a --uniq-all=false --print-config | grep -q uniq-all || msg+=("--print-config shows uniq-all")
  [ "$("$PPIPE" --group-by .a --partial=false sf.jsonl | tr '\n' ' ')" = '{"a":1,"count":3} {"a":2,"count":1} ' ] ||
    msg+=("--partial=false: $("$PPIPE" --group-by .a --partial=false sf.jsonl | head -c 200)")
  rc=0; "$PPIPE" --uniq .a --uniq-all=bogus sf.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "--uniq-all: a flag: true or false, not 'bogus'" err || msg+=("--uniq-all=bogus: exit $rc: $(head -c 200 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stage_flag_values

t_max_errors_while_finishing() {
  # The stages after tail or agg fail records as those emit at the end: --max-errors ends the run
  # right after the N-th, as it does during the run (it was checked once a MiB of output was
  # made: 50 errors for --max-errors 3, 7,506 with agg; found by a bug hunt). The output is what
  # came before that error, the stats reconcile.
  local name="--max-errors holds for errors of stages after tail/agg (at the end of the stream)" msg=() rc got st
  for i in $(seq 1 20); do echo "{\"x\":{\"y\":$i}}"; echo "{\"x\":\"s$i\"}"; done > mef.jsonl
  rc=0; "$PPIPE" --tail 10 --map '.x.y' --max-errors 2 --errors mef.err --stats mef.jsonl > mef.out 2> mef.stats || rc=$?
  got=$(tr '\n' ' ' < mef.out)
  st=$(grep '^{"records_in"' mef.stats | jq -c '[.records_in, .records_out, .errors, .consumed, .emitted, .stopped_by]')
  [ "$rc" = 3 ] && [ "$got" = "16 17 " ] && [ "$(wc -l < mef.err)" = 2 ] && [ "$st" = '[40,2,2,40,4,"max_errors"]' ] ||
    msg+=("tail: exit $rc, output '$got', $(wc -l < mef.err) errors, stats $st")
  for i in $(seq 1 500); do echo "{\"k\":\"k$i\"}"; done > mef2.jsonl
  rc=0; "$PPIPE" --stages parse,agg,map --group-by .k --map '.k.y' --max-errors 3 --errors mef2.err mef2.jsonl > /dev/null 2> mef2.stats || rc=$?
  [ "$rc" = 3 ] && [ "$(wc -l < mef2.err)" = 3 ] && grep -q 'stopped after 3 record errors' mef2.stats ||
    msg+=("agg: exit $rc, $(wc -l < mef2.err) errors, $(head -c 200 mef2.stats)")
  # After a head ended the stream: the cut is still the errors' (exit 3, the message), not the head's.
  rc=0; "$PPIPE" --head 30 --tail 10 --map '.x.y' --max-errors 3 --stats mef.jsonl > mef.out 2> mef.stats || rc=$?
  got=$(tr '\n' ' ' < mef.out)
  [ "$rc" = 3 ] && [ "$got" = "11 12 13 " ] && grep -q 'stopped after 3 record errors' mef.stats &&
    grep -q '"stopped_by":"max_errors"' mef.stats || msg+=("head then tail: exit $rc, output '$got', $(grep -c . mef.stats) stats lines")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_max_errors_while_finishing
