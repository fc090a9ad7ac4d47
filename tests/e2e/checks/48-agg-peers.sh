# shellcheck shell=bash
# agg against its peers (issue 7), beside 47-agg.sh (which has the oracle on generated data, the
# -j/--batch-size invariance and 2/3/7-part merges with first/last/collect/count_distinct):
#   - split and merge with the aggregates 47 does not split (p99, p99.9, stddev, min, max, float
#     sums), two keys, uneven cuts (an empty part, one-record parts), and parts merged in reverse
#     order (= the single run on the reversed input; order-free aggregates unchanged);
#   - the same through GNU parallel --pipepart (and --pipe) | merge, with and without -k;
#   - against Miller's stats1 where the definitions agree (tests/e2e/oracles/mlr_compare.py says
#     which fields are compared exactly, which within a stated tolerance, and why);
#   - real data (flights by origin, Zeek DNS by qtype_name) and stddev against the exact oracle.
# python3, parallel and mlr are installed by scripts/setup; a check fails, not skips, without them.

PEERS_ORACLE="$E2E/oracles/agg_oracle.py"
PEERS_MLR="$E2E/oracles/mlr_compare.py"

# peers_need NAME TOOL WHAT: true if TOOL is on PATH, else reports NAME as failed and returns 1.
peers_need() {
  command -v "$2" >/dev/null && return 0
  not_ok "$1" "$2 is required ($3; scripts/setup installs it)"
  return 1
}

# peers_python NAME: sets PY to the python3 interpreter itself, or reports NAME as failed. Calling
# the interpreter, not a version manager's `python3` shim, saves ~1 s per call where pyenv is used;
# it is looked up once per run (cached in $TMP, which run_all.sh removes).
peers_python() {
  peers_need "$1" python3 "the oracles are python3 scripts" || return 1
  [ -s "$TMP/peers_python" ] || python3 -c 'import sys; print(sys.executable)' > "$TMP/peers_python"
  PY=$(cat "$TMP/peers_python") && [ -x "$PY" ] && return 0
  not_ok "$1" "python3 does not run"
  return 1
}

# cut_parts FILE PREFIX N1 N2 ...: PREFIX00 gets lines 1..N1, PREFIX01 lines N1+1..N2, ..., the
# last part the rest; equal cuts make empty parts (every part file exists).
cut_parts() {
  local f=$1 prefix=$2
  shift 2
  awk -v cuts="$*" -v prefix="$prefix" '
    BEGIN { n = split(cuts, c, " "); for (j = 0; j <= n; j++) printf "" > sprintf("%s%02d", prefix, j); j = 0 }
    { while (j < n && NR > c[j + 1]) j++; print > sprintf("%s%02d", prefix, j) }' "$f"
}

t_agg_split_peers() {
  local name="agg --partial | merge: 2, 3, 7 parts and uneven cuts (empty, one-record parts) with p99, p99.9, stddev, min, max, float sums, two keys = the single run; parts reversed = the single run on the reversed input"
  peers_python "$name" || return
  "$PY" "$PEERS_ORACLE" gen 8000 13 > gen.jsonl
  # Order-dependent: first, last, collect. The rest must not change when parts are reordered.
  local order_dep='.first_y, .last_x, .ids'
  local spec="count, sum(.y) as sum_y, sum(.x) as sum_x, min(.x), max(.y), avg(.y), var(.y), stddev(.y),
    stddev(.x) as sd_x, p99(.y), p99.9(.x) as p999_x, median(.y), count_distinct(.y), first(.y), last(.x), collect(.i) as ids"
  local opts=(--collect-limit 10000 --group-by '.g, .i % 3 as m' --agg "$spec")
  "$PPIPE" "${opts[@]}" gen.jsonl > want 2> err || { not_ok "$name" "single run: exit $?: $(head -c 300 err)"; return; }
  local msg=() how f i cfgs=("-j 1" "-j 2 --batch-size 1" "-j 2 --batch-size 4K --unordered")
  [ "$(wc -l < want)" -ge 15 ] || msg+=("expected at least 15 groups (5 keys x 3), got $(wc -l < want)")
  for how in "split 2" "split 3" "split 7" "cut 1 1 4000 7999" "cut 0 0 7999 7999"; do
    rm -f part.* ./*.partial
    # shellcheck disable=SC2086  # the cut positions are words
    case $how in
      split*) split -n "l/${how#split }" -d -a 2 gen.jsonl part. ;;
      cut*) cut_parts gen.jsonl part. ${how#cut } ;;
    esac
    cat part.* | cmp -s - gen.jsonl || { msg+=("[$how] the parts do not add up to the input"); continue; }
    i=0
    for f in part.*; do
      # shellcheck disable=SC2086
      "$PPIPE" ${cfgs[i % 3]} --partial "${opts[@]}" "$f" > "$f.partial" 2> "$f.err" &
      i=$((i + 1))
    done
    wait
    # shellcheck disable=SC2046
    "$PPIPE" --stages merge $(ls part.*.partial) > got 2> err || msg+=("[$how] merge: exit $?: $(head -c 300 err)")
    cmp -s want got || msg+=("[$how] merge differs from the single run" "$(short_diff want got)")
    # Reversed: first/last/collect follow the order of the partial lines given, so the result is
    # the single run on the parts concatenated in that order; the other aggregates do not change.
    # shellcheck disable=SC2046
    cat $(ls -r part.?? ) > rev.jsonl
    "$PPIPE" "${opts[@]}" rev.jsonl > want_rev 2>/dev/null
    # shellcheck disable=SC2046
    "$PPIPE" --stages merge $(ls -r part.*.partial) > got_rev 2> err || msg+=("[$how] reversed merge: exit $?")
    cmp -s want_rev got_rev || msg+=("[$how] reversed merge differs from the single run on the reversed input" "$(short_diff want_rev got_rev)")
    jq -c "del($order_dep)" want > a; jq -c "del($order_dep)" got_rev > b
    cmp -s a b || msg+=("[$how] order-free aggregates changed when the parts were reversed" "$(short_diff a b)")
  done
  # The reversed input must change first/last, or the reversal test above shows nothing.
  cmp -s want want_rev && msg+=("reversing the parts did not change first/last/collect: the test is too weak")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_split_peers

t_agg_gnu_parallel() {
  local name="agg through GNU parallel: --pipepart -k (and --pipe -k) ... --partial | merge = the single run; without -k too when no first/last/collect"
  peers_python "$name" || return
  peers_need "$name" parallel "GNU parallel, apt package parallel" || return
  "$PY" "$PEERS_ORACLE" gen 10000 17 > gen.jsonl
  local spec="count, sum(.x), sum(.y) as sum_y, min(.y), max(.x), avg(.y), stddev(.y), p99(.y), median(.x),
    count_distinct(.y), first(.y), last(.i), collect(.i) as ids"
  local free="count, sum(.x), sum(.y) as sum_y, min(.y), max(.x), avg(.y), var(.y), stddev(.y), p99(.y), p90(.x), count_distinct(.y)"
  local opts=(--collect-limit 20000 --group-by .g) msg=() groups lines st
  "$PPIPE" "${opts[@]}" --agg "$spec" gen.jsonl > want 2>/dev/null
  "$PPIPE" "${opts[@]}" --agg "$free" gen.jsonl > want_free 2>/dev/null
  groups=$(wc -l < want)
  # --block 80k on ~400 KB: about 5 blocks, cut at newlines; -q keeps --agg's spaces one argument.
  parallel --will-cite --pipepart -a gen.jsonl --block 80k -k -j 4 -q "$PPIPE" "${opts[@]}" --agg "$spec" --partial 2> perr |
    tee parts.partial | "$PPIPE" --stages merge > got 2> err
  st=("${PIPESTATUS[@]}")
  [ "${st[*]}" = "0 0 0" ] || msg+=("--pipepart -k: exit statuses ${st[*]} (parallel, tee, merge): $(head -c 300 perr err)")
  cmp -s want got || msg+=("--pipepart -k differs from the single run" "$(short_diff want got)")
  lines=$(wc -l < parts.partial)
  [ "$lines" -ge $((4 * groups)) ] || msg+=("only $lines partial lines for $groups groups: fewer than 4 blocks")
  # --pipe reads stdin (the form that works with -S host1,host2, where the file is not on the hosts).
  parallel --will-cite --pipe --block 80k -k -j 4 -q "$PPIPE" "${opts[@]}" --agg "$spec" --partial < gen.jsonl 2> perr |
    "$PPIPE" --stages merge > got 2> err
  cmp -s want got || msg+=("--pipe -k differs from the single run" "$(short_diff want got)")
  # Without -k the blocks' partials come in completion order: fine for order-free aggregates.
  parallel --will-cite --pipepart -a gen.jsonl --block 80k -j 4 -q "$PPIPE" "${opts[@]}" --agg "$free" --partial 2> perr |
    "$PPIPE" --stages merge > got 2> err
  cmp -s want_free got || msg+=("--pipepart without -k (order-free aggregates) differs from the single run" "$(short_diff want_free got)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_gnu_parallel

t_agg_miller() {
  local name="agg = Miller's stats1 where the definitions agree (flights by origin: delay, distance; Zeek DNS by qtype_name: rtt)"
  peers_python "$name" || return
  peers_need "$name" mlr "Miller, apt package miller" || return
  zcat "$DATA/flights/flights-20k.jsonl.gz" > flights.jsonl
  # 6000 records are enough for every common qtype (a few have one value or none) and keep
  # Miller's four passes short.
  zcat "$DATA/zeek/dns.json.gz" | head -n 6000 > dns.jsonl
  local msg=() job key fields input nn
  for job in "origin delay,distance flights.jsonl" "qtype_name rtt dns.jsonl"; do
    read -r key fields input <<< "$job"
    nn=$(echo "$fields" | sed 's/\([a-z_]*\)/is_not_null($\1)/g; s/,/ \&\& /g')
    "$PPIPE" --group-by ".$key" --agg "$("$PY" "$PEERS_MLR" spec "$fields")" "$input" > pp 2> err ||
      { msg+=("[$key] ppipe exit $?: $(head -c 300 err)"); continue; }
    mlr --ijsonl --ojsonl stats1 -a count,sum,mean,min,max,var,stddev,p50,median,distinct_count \
      -f "$fields" -g "$key" "$input" > st
    mlr --ijsonl --ojsonl stats1 -i -a p50,median,p90,p99 -f "$fields" -g "$key" "$input" > ip
    # Miller 6.6's stats1 has no first/last: the first/last record of each group with a value.
    mlr --ijsonl --ojsonl filter "$nn" 'then' head -n 1 -g "$key" "$input" > first.jsonl
    mlr --ijsonl --ojsonl filter "$nn" 'then' tail -n 1 -g "$key" "$input" > last.jsonl
    "$PY" "$PEERS_MLR" check "$key" "$fields" pp st ip first.jsonl last.jsonl > diff.txt ||
      msg+=("[$key: $fields] ppipe and Miller differ:" "$(cat diff.txt)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_miller

# Every aggregate the oracle knows, stddev and p99/p99.9 included (agg_oracle.py names).
PEERS_AGGS=count,count_F,sum_F,min_F,max_F,avg_F,var_F,stddev_F,median_F,p50_F,p90_F,p99_F,p99_9_F,count_distinct_F,first_F,last_F

t_agg_real_data_oracle() {
  local name="agg = the exact oracle on real data (flights by origin: delay, distance; Zeek DNS by qtype_name: rtt) and stddev/p99 on generated extremes"
  peers_python "$name" || return
  local msg=() job key field input cfg
  # The oracle's own square root first (stddev is only as good as it).
  "$PY" "$PEERS_ORACLE" selftest > self.txt || msg+=("the oracle's correctly rounded sqrt is wrong:" "$(cat self.txt)")
  "$PY" "$PEERS_ORACLE" gen 10000 23 > gen.jsonl
  zcat "$DATA/flights/flights-20k.jsonl.gz" > flights.jsonl
  zcat "$DATA/zeek/dns.json.gz" > dns.jsonl
  for job in "origin delay flights.jsonl" "origin distance flights.jsonl" "qtype_name rtt dns.jsonl" \
             "g x gen.jsonl" "g y gen.jsonl"; do
    read -r key field input <<< "$job"
    cfg="-j 2 --batch-size 64K"
    # shellcheck disable=SC2086
    "$PPIPE" $cfg --group-by ".$key" --agg "$("$PY" "$PEERS_ORACLE" spec "$field" "$PEERS_AGGS")" "$input" > got 2> err ||
      { msg+=("[$key/$field] exit $?: $(head -c 300 err)"); continue; }
    "$PY" "$PEERS_ORACLE" check "$key" "$field" "$input" got "$PEERS_AGGS" > diff.txt ||
      msg+=("[$key/$field] differs from the oracle:" "$(cat diff.txt)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_agg_real_data_oracle
