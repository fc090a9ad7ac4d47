# shellcheck shell=bash
# The jq language in full (issue 11), end to end against jq on real flights: raw output (-r,
# --join-output), --arg/--argjson, --map-file/--filter-file, a map with several outputs per record
# followed by ordered, finishing and parallel stages, and --stats counting the extra records.

t_jq_raw_args_files() {
  local msg=()
  zcat "$DATA/flights/flights-20k.jsonl.gz" | head -n 2000 > fl.jsonl
  local prog='"\(.origin)->\(.destination)\t\(.delay)"'
  "$PPIPE" -j 2 --batch-size 8K -r --map "$prog" fl.jsonl > got 2>/dev/null
  jq -r "$prog" fl.jsonl > want
  cmp -s want got || msg+=("-r vs jq -r:" "$(short_diff want got)")
  "$PPIPE" --join-output --map '.origin' fl.jsonl > got 2>/dev/null
  jq -j '.origin' fl.jsonl > want
  cmp -s want got || msg+=("--join-output vs jq -j differ")
  "$PPIPE" --arg o LAX --argjson d 60 --filter '.origin == $o and .delay > $d' fl.jsonl > got 2>/dev/null
  jq -c --arg o LAX --argjson d 60 'select(.origin == $o and .delay > $d)' fl.jsonl > want
  cmp -s want got || msg+=("--arg/--argjson vs jq:" "$(short_diff want got)")
  printf '%s\n' 'def late: .delay > 100;' '# a comment' 'select(late) | {origin, delay}' > prog.jq
  "$PPIPE" --map-file prog.jq fl.jsonl > got 2>/dev/null
  jq -c -f prog.jq fl.jsonl > want
  cmp -s want got || msg+=("--map-file vs jq -f:" "$(short_diff want got)")
  printf '%s\n' '.distance > 2000' > cond.jq
  "$PPIPE" --filter-file cond.jq fl.jsonl > got 2>/dev/null
  jq -c 'select(.distance > 2000)' fl.jsonl > want
  cmp -s want got || msg+=("--filter-file vs jq:" "$(short_diff want got)")
  # A directory as the program file: said so (it read as an empty program: "unexpected end").
  mkdir -p progdir
  "$PPIPE" --filter-file progdir fl.jsonl > got 2> err && msg+=("--filter-file DIR: exit 0")
  grep -qF -- "--filter-file progdir: cannot read it (a directory)" err || msg+=("--filter-file DIR: $(head -c 200 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "jq language: -r, --join-output, --arg/--argjson, --map-file/--filter-file agree with jq on 2000 flights"; else not_ok "jq raw/args/files" "${msg[@]}"; fi
}
register t_jq_raw_args_files

t_jq_generator_map_chain() {
  local msg=() s
  zcat "$DATA/flights/flights-20k.jsonl.gz" | head -n 3000 > fl.jsonl
  # one record per output, in order, for every worker count; then head, uniq, agg and filter
  local gen='.origin, .destination'
  jq -c "$gen" fl.jsonl > want
  for w in 1 2 4; do
    "$PPIPE" -j $w --batch-size 4K --map "$gen" fl.jsonl > got 2>/dev/null
    cmp -s want got || msg+=("-j $w --map '$gen' vs jq:" "$(short_diff want got)")
  done
  "$PPIPE" -j 2 --batch-size 4K --stages parse,map,head --map "$gen" --head 7 fl.jsonl > got 2>/dev/null
  head -n 7 want > want7
  cmp -s want7 got || msg+=("map generator then head 7:" "$(short_diff want7 got)")
  "$PPIPE" -j 2 --batch-size 4K --stages parse,map,filter --map "$gen" --filter 'startswith("S")' fl.jsonl > got 2>/dev/null
  jq -c "$gen | select(startswith(\"S\"))" fl.jsonl > wantf
  cmp -s wantf got || msg+=("map generator then filter:" "$(short_diff wantf got)")
  "$PPIPE" -j 2 --batch-size 4K --stages parse,map,agg --map "{airport: ($gen)}" --group-by .airport --agg count fl.jsonl > got 2>/dev/null
  jq -c "{airport: ($gen)}" fl.jsonl | jq -s -c 'group_by(.airport) | map({airport: .[0].airport, count: length}) | .[]' > wanta
  cmp -s wanta got || msg+=("map generator then agg:" "$(short_diff wanta got)")
  # --stats: records_in + emitted = records_out + dropped + errors
  "$PPIPE" -j 2 --batch-size 4K --stats --map 'select(.delay > 0) | (.origin, .destination)' fl.jsonl > got 2> st.err
  s=$(tail -n 1 st.err)
  [ "$(jq '.records_in + .emitted == .records_out + .dropped + .errors' <<<"$s")" = true ] || msg+=("stats do not reconcile: $s")
  [ "$(jq .records_out <<<"$s")" = "$(wc -l < got)" ] || msg+=("records_out is not the lines written: $s")
  if [ ${#msg[@]} -eq 0 ]; then ok "jq language: a generator map writes one record per output (= jq -c for -j 1/2/4), then head, filter and agg see each; --stats reconciles"; else not_ok "jq generator map chain" "${msg[@]}"; fi
}
register t_jq_generator_map_chain

# Doubles the program computes (not the input's own text) print as jq 1.6 prints them: shortest
# round-trip digits in jq's layout (1e+20, 1e-05, 0.00012, -0, 1.7976931348623157e+308), on
# doubles of random bit patterns, random decimals and every magnitude.
t_jq_double_printing() {
  python3 - > dbl.jsonl <<'PY'
import math, random, struct
random.seed(11)
for i in range(30000):
    if i % 3 == 0:
        x = struct.unpack('d', struct.pack('Q', random.getrandbits(64)))[0]
        if math.isnan(x) or math.isinf(x):
            continue
    elif i % 3 == 1:
        x = round(random.uniform(-1e6, 1e6), random.randint(0, 6))
    else:
        x = random.uniform(0, 1) * 10 ** random.randint(-30, 30)
    print(repr(x))
print("-0.0\n5e-324\n1e300\n-1e-5\n0.1")
PY
  jq -c '. * 1, . / 3' dbl.jsonl > want
  "$PPIPE" -j 2 --map '. * 1, . / 3' dbl.jsonl > got 2>/dev/null
  if cmp -s want got; then ok "computed doubles print as jq prints them ($(wc -l < want) values)"
  else not_ok "double printing vs jq" "$(short_diff want got)"; fi
}
register t_jq_double_printing

t_jq_arg_then_files() {
  # --arg/--argjson take two words each, as jq's: a FILE after them is an input (it was taken as a
  # second pair, and stdin was read instead); and they come back through --print-config/--config.
  local name="--arg NAME VALUE FILE reads FILE; --arg/--argjson round-trip through --print-config" msg=() got
  printf '{"in":2}\n' > argf.jsonl
  got=$(echo '{"in":1}' | "$PPIPE" --map '[$x, $ARGS.named, .in]' --arg x 1 argf.jsonl 2>&1)
  [ "$got" = '["1",{"x":"1"},2]' ] || msg+=("--arg x 1 FILE: $got")
  got=$(echo '{"in":1}' | "$PPIPE" --map '[$x, $z, .in]' --arg x 1 --argjson z '{"a":[1]}' argf.jsonl argf.jsonl 2>&1 | tr '\n' ' ')
  [ "$got" = '["1",{"a":[1]},2] ["1",{"a":[1]},2] ' ] || msg+=("--arg, --argjson, two files: $got")
  "$PPIPE" --arg x 'a "b"' --arg y 2 --argjson z '[3]' --map '[$x, $y, $z]' --print-config > argc.toml 2>&1 || msg+=("--print-config failed: $(cat argc.toml)")
  got=$(echo '{}' | "$PPIPE" --config argc.toml 2>&1)
  [ "$got" = '["a \"b\"","2",[3]]' ] || msg+=("--config of --print-config: $got" "$(cat argc.toml)")
  printf 'arg = ["x"]\nmap = "$x"\n' > argbad.toml
  got=$(echo '{}' | "$PPIPE" --config argbad.toml 2>&1); local rc=$?
  [ "$rc" = 2 ] && grep -q "argbad.toml line 1: 'arg' takes names and values in pairs" <<< "$got" || msg+=("odd pair: exit $rc: $got")
  # a bad --argjson text is a usage error at the start, as in jq, also when no expression uses it
  got=$(echo '{}' | "$PPIPE" --argjson y '{"a":' 2>&1); rc=$?
  [ "$rc" = 2 ] && grep -q -- '--argjson y: invalid JSON' <<< "$got" || msg+=("bad --argjson, no expression: exit $rc: $got")
  got=$(echo '{}' | "$PPIPE" --argjson y '1 2' --map '$y' 2>&1); rc=$?
  [ "$rc" = 2 ] || msg+=("--argjson '1 2': exit $rc: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_arg_then_files

t_jq_stderr_builtin_lines() {
  # `stderr` ends each value's line: the error records after it stay one JSON object a line
  local name="the stderr builtin writes whole lines; the error stream stays JSON Lines" msg=() got
  printf '%s\n' '{"q":1}' '{"q":"s"}' > sq.jsonl
  "$PPIPE" -j 1 --map 'stderr | .q + 1' sq.jsonl > got 2> err
  [ "$(cat got)" = 2 ] || msg+=("output: $(cat got)")
  [ "$(wc -l < err)" = 3 ] || msg+=("stderr is not 3 lines:" "$(cat err)")
  jq -c . err > /dev/null 2>&1 || msg+=("stderr is not JSON Lines:" "$(cat err)")
  [ "$(head -n 2 err | tr '\n' ' ')" = '{"q":1} {"q":"s"} ' ] || msg+=("stderr lines: $(head -n 2 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_stderr_builtin_lines

t_jq_filter_stops_at_truthy() {
  # filter keeps a record at its expression's first truthy value, as any(E; .) stops there: an
  # error after it does not fail the record, on the fast path as on the general engine.
  local name="filter: a truthy value before an error keeps the record (fast path = general engine)" msg=() e got
  printf '%s\n' '{"a":["x",true]}' '{"a":[true,"x"]}' '{"a":["y"]}' > ft.jsonl
  for e in '.a[] | test("x")' '.a[] as $v | $v | test("x")'; do
    got=$("$PPIPE" --filter "$e" --errors fe.jsonl ft.jsonl | jq -c .a | tr '\n' ' ')
    [ "$got" = '["x",true] ' ] || msg+=("[$e] kept: $got")
    [ "$(jq -c .line fe.jsonl | tr '\n' ' ')" = "2 " ] || msg+=("[$e] errors: $(cat fe.jsonl)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_filter_stops_at_truthy

# Loops inside one record, at jq's scale: until, while, recurse(f) and recurse(f; cond) ran one
# C++ recursion per step ("recursion too deep" after about 1,300 steps, where jq runs millions),
# and reduce/foreach copied their state at each step (`. + [$x]`, `.[$k] = $v`, `.a += [$x]`:
# quadratic, minutes for 100,000 steps where jq takes a second). Each against jq
# 1.6 on a few inputs; the generator forms (which keep jq's recursive definitions) and path mode
# too. The big reduce cases run under a timeout of 30 s (0.1 to 0.5 s here; the old code took
# minutes). Recursive functions too: fib (both sides of `+` recursive: the stack grew with the
# calls, "too deep" at fib 15) and a linear recursion 10,000 deep (the default 8 MiB thread stack
# ended near 2,500).
t_jq_loops_at_scale() {
  local name="jq language: until/while/recurse run 100,000 steps and reduce/foreach build 100,000-element values in place, as jq" msg=() e rc
  printf '%s\n' '0' '{"a":{"a":{"a":null,"v":3},"v":2},"v":1,"xs":[1,[2,[3,null]],{"k":null}]}' '[3,1,2]' '"abc"' > lp.jsonl
  local exprs=(
    'until(. > 100000; . + 1)?'
    '[.[]?] | until(length > 5; . + [length])'
    '[while(type == "object"; .a)] | length'
    '[recurse(if . < 100000 then . + 1 else empty end)?] | length'
    '[recurse(.a; . != null)] | length'
    '[recurse(.[]?; . != null)] | length'
    '[recurse] | length'
    '[paths(type == "number")]'
    '[limit(5; recurse(.[]?))] | length'
    '[limit(7; repeat(.))] | length'
    '[limit(3; repeat(.v?, 1))]'
    'first(repeat(1, 2))'
    '[.[]? | until(. == null or type != "object" or . == 3; .a?)]'
    '[path(recurse(.a?; . != null))]'
    'reduce range(100000) as $i ([]; . + [$i]) | length'
    'reduce range(100000) as $i ({}; .["k\($i)"] = $i) | [length, .k99999]'
    'reduce range(100000) as $i ([]; .[$i] = $i * 2) | .[-1]'
    'reduce range(5000) as $i ({a: []}; .a |= . + [$i]) | .a | length'  # (jq 1.6 is quadratic here)
    '[foreach range(100000) as $i ([]; . + [$i]; length)] | add'
    'reduce range(5) as $i ([]; . + [$i], . + [-$i])'
    'reduce range(5) as $i ({}; .[$i|tostring] = ($i, $i * 10))'
    'reduce range(4) as $i ([1]; . + .) | length'
    'reduce .[]? as $x (.; . + [$x])'
    '. as $o | reduce range(3) as $i ([$o]; . + [$i]) | [., $o]'
    'reduce range(3) as $i (null; .a += [$i])'
    'reduce range(3) as $i ({}; .a |= empty)'
    'reduce range(3) as $i ({a:[1]}; .a |= (. + [$i], . + [-1]))'
    'reduce range(3) as $i ({a:"s"}; .a += "\($i)")'
    'reduce range(3) as $i ({}; .x.y += [$i]) | .x'
    'def fib: if . < 2 then . else (. - 1 | fib) + (. - 2 | fib) end; 22 | fib'
    'def f: if . > 0 then (. - 1 | f) + 1 else 0 end; 10000 | f'
    'def s: if type == "array" then (.[0]? | s) + (.[1:] | if length == 0 then 0 else s end) else 1 end; s?'
  )
  for e in "${exprs[@]}"; do
    timeout -k 5 30 "$PPIPE" --map "$e" lp.jsonl > got 2> err
    rc=$?  # 1: some record failed, as some do in jq too (compared below by what each prints)
    [ $rc -le 1 ] || { msg+=("[$e] exit $rc: $(head -c 300 err)"); continue; }
    jq -c "$e" lp.jsonl > want 2>/dev/null
    cmp -s want got || msg+=("[$e] vs jq:" "$(short_diff want got)")
  done
  # a loop that does not end (as in jq) ends with the run: SIGINT makes it the record's error
  printf '%s\n' 1 2 > two.jsonl
  "$PPIPE" --stats --map 'until(false; .)' two.jsonl > got 2> err &
  local pid=$!
  sleep 1
  kill -INT $pid
  wait $pid
  e=$?
  [ $e = 130 ] || msg+=("until(false; .) then SIGINT: exit $e (want 130)")
  [ "$(grep -c '"error":"interrupted: the expression was still running when ppipe stopped"' err)" = 2 ] ||
    msg+=("until(false; .) then SIGINT: no interrupted error record for each record:" "$(head -c 600 err)")
  [ "$(tail -n 1 err | jq -c '[.records_in, .errors]')" = '[2,2]' ] || msg+=("stats: $(tail -n 1 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "jq loops at scale" "${msg[@]}"; fi
}
register t_jq_loops_at_scale

t_jq_filter_refuses_assignment() {
  # `--filter '.status = 500'` (== mistyped) is jq's assignment, whose value is always true: every
  # record would be kept. Refused with a caret under the `=`; map assigns as jq does.
  local name="--filter with a top-level '=' is refused (it would keep every record); --map assigns" msg=() got rc e
  printf '%s\n' '{"status":200}' '{"status":500}' > fa.jsonl
  for e in '.status = 500' '.x | .status = .code' 'def f: 500; .status = $__loc__'; do
    got=$("$PPIPE" --filter "$e" fa.jsonl 2>&1); rc=$?
    [ "$rc" = 2 ] && grep -q "'=' is jq's assignment" <<< "$got" && grep -q "use '==' to compare" <<< "$got" ||
      msg+=("--filter '$e': exit $rc: $got")
  done
  printf '.status = 500\n' > fa.jq
  got=$("$PPIPE" --filter-file fa.jq fa.jsonl 2>&1); rc=$?
  [ "$rc" = 2 ] && grep -q -- "--filter-file fa.jq expression" <<< "$got" || msg+=("--filter-file: exit $rc: $got")
  # not refused: comparisons, other assignments, an assignment inside something else, `. = E`
  # (its value is E's)
  got=$("$PPIPE" --filter '. = (.status > 300)' fa.jsonl 2>&1)
  [ "$got" = '{"status":500}' ] || msg+=("--filter '. = (.status > 300)': $got")
  # nor a right side that may give no value (then no record is kept: a real filter, as in jq)
  got=$("$PPIPE" --filter '.status = (.status | select(. > 300))' fa.jsonl 2>&1)
  [ "$got" = '{"status":500}' ] || msg+=("--filter '.status = (.status | select(. > 300))': $got")
  "$PPIPE" --filter '.status = empty' fa.jsonl > /dev/null 2>&1 || msg+=("--filter '.status = empty' refused")
  for e in '.status == 500' '(.status = 500) | .x' '.status |= . + 1 | .status > 500'; do
    "$PPIPE" --filter "$e" fa.jsonl > /dev/null 2>&1 || msg+=("--filter '$e' refused")
  done
  got=$("$PPIPE" --map '.status = 1' fa.jsonl | tr '\n' ' ')
  [ "$got" = '{"status":1} {"status":1} ' ] || msg+=("--map assignment: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_filter_refuses_assignment

# jq_disagrees FILE EXPR [errors]: nothing when `ppipe --map EXPR FILE` writes what `jq -c EXPR
# FILE` does, else one line saying both. With `errors`, an error record and jq's error for the
# record count as the same when their messages are (a value is compared as compact JSON).
jq_disagrees() {
  local file=$1 e=$2 got want
  if [ "${3:-}" = errors ]; then
    got=$("$PPIPE" --map "$e" "$file" 2>&1 | jq -r 'if type == "object" and has("error") then .error else tojson end' 2>&1)
    want=$(jq -c "$e" "$file" 2>&1 | sed "s/^jq: error (at $file:[0-9]*): //")
  else
    got=$("$PPIPE" --map "$e" "$file" 2>&1)
    want=$(jq -c "$e" "$file" 2>&1)
  fi
  [ "$got" = "$want" ] || echo "[$e] ppipe: $(tr '\n' ' ' <<< "$got") jq: $(tr '\n' ' ' <<< "$want")"
}

t_jq_regex_flags_g_n() {
  # The g and n flags against jq 1.6: `g` and `n` made '.' match a newline in the fast path (as
  # `p` does), so `--filter '.m | test("error.detail"; "g")'` kept "error\ndetail"; `n` (empty
  # matches do not count) was ignored by test, and without g a first empty match ended match/sub.
  local name="regex flags g and n as jq: '.' stays off newlines; n skips empty matches" msg=() e got
  printf '%s\n' '"a\nb"' '"abc"' '"bab"' '"x"' '"éaéa😀a"' > rx.jsonl
  local exprs=(
    'test("a.b"; "g")' 'test("a.b"; "n")' 'test("a.b"; "gi")' 'test("a.b"; "gx")' 'test("a.b"; null)'
    '. as $x | $x | test("a.b"; "g")' '[test("( )*"; "gn")]' '. as $x | [$x | test("( )*"; "gn")]'
    '[test("( )*"; ("gn" | tostring))]' '[match("a*"; "n")]' 'sub("a*"; "X"; "n")' '[match("a*"; "gn")]'
    '[match("a"; "g") | .offset]' '[match("é(a)"; "g") | [.offset, .length, .captures[0].offset]]'
    # n: a non-empty match from where the first match is empty (needs more than one step there)
    'test("|a"; "n")' 'test("a*?"; "n")' '. as $x | $x | test("|a"; "n")' 'test("|a"; ("n" | tostring))'
    '[match("(|b)c*"; "n") | .string]' '"bcc" | [match("(|b)c*"; "n") | .string]'
  )
  for e in "${exprs[@]}"; do
    got=$(jq_disagrees rx.jsonl "$e") && [ -z "$got" ] || msg+=("$got")
  done
  got=$(printf '%s\n' '{"m":"error\ndetail"}' '{"m":"error detail"}' | "$PPIPE" --filter '.m | test("error.detail"; "g")')
  [ "$got" = '{"m":"error detail"}' ] || msg+=("--filter test(...; \"g\") kept: $got")
  # match with g counts code points from the last match: 200,000 matches, not 200,000^2 / 2 steps
  python3 -c 'import json; print(json.dumps("a" * 200000))' > rxmany.json
  got=$(timeout 20 "$PPIPE" --map '[match("a"; "g")] | length' rxmany.json)
  [ "$got" = 200000 ] || msg+=("200,000 matches: '$got' (timeout 20 s)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_regex_flags_g_n

t_jq_deep_value_freed() {
  # A value built millions of levels deep inside an expression is freed without recursion (it
  # crashed the process, signal 11, when freed: one stack frame per level).
  local name="a value built 2,000,000 levels deep is freed without a crash" msg=() e got rc
  echo null > deep.json
  for e in 'reduce range(2000000) as $i (0; [.]) | 1' 'reduce range(2000000) as $i (0; {a: .}) | 1' \
           'last(limit(2000000; recurse([.]))) | 1'; do
    rc=0
    got=$(timeout 120 "$PPIPE" --map "$e" deep.json 2>&1) || rc=$?
    [ "$rc" = 0 ] && [ "$got" = 1 ] || msg+=("[$e] exit $rc: $(head -c 200 <<< "$got")")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_deep_value_freed

t_jq_gsub_many_matches() {
  # gsub over many matches: one loop step a match, not one stack frame ("recursion too deep" at
  # 128,000 matches, after seconds); replacements giving several values give as many results, the
  # k-th of every match's k-th value (jq 1.7; they branched per match, every combination).
  local name="gsub: 300,000 matches in one string; several replacement values give one result each (jq 1.7)" msg=() got
  python3 -c 'import json; print(json.dumps("a" * 300000))' > gs.json
  got=$(timeout 30 "$PPIPE" --map 'gsub("a"; "bc") | length' gs.json 2>&1)
  [ "$got" = 600000 ] || msg+=("gsub on 300,000 a's: $(head -c 300 <<< "$got")")
  echo '"ab"' > gs2.json
  got=$("$PPIPE" --map '[gsub("(?<x>.)"; "\(.x)1", "\(.x)2")]' gs2.json)
  [ "$got" = '["a1b1","a2b2"]' ] || msg+=("several values: $got")
  got=$("$PPIPE" --map '[gsub("b"; empty)]' gs2.json)
  [ "$got" = '["ab"]' ] || msg+=("empty replacement: $got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_gsub_many_matches

t_jq_regex_classes_unicode() {
  # Regex classes as jq's Oniguruma, against jq 1.6, in both engines: \W \D \S in a bracket
  # (were ASCII), a POSIX class before \w in one bracket (its ']' ended the bracket: the pattern
  # broke), \s and the vertical tab, \h (a plain h in jq, not a hex digit).
  local name="regex classes: [\\W] [\\D] [\\S], [[:alpha:]\\w], \\s with \\v, \\h as jq" msg=() e got
  printf '%s\n' '"é"' '"a"' '"١"' '"\u3000"' '"\u000b"' '"\u0085"' '"h"' '"1 "' '"5"' '"_"' '" "' > rcl.jsonl
  local exprs=('test("[\\W]")' 'test("[^\\W]")' 'test("[\\D]")' 'test("[\\S]")' 'test("^[[:alpha:]\\w]$")'
               'test("\\s")' 'test("[\\s]")' 'test("\\h")' 'test("[x\\D]")' '. as $x | $x | test("^[[:alpha:]\\w]$")'
               '. as $x | $x | test("[\\W]")' 'test("\\H")' 'test("^[]#]"; "x")')
  # the x flag's stripping keeps a POSIX class's bracket whole (ASCII text: [[:alpha:]] is ASCII)
  got=$(echo '"ab cd"' | "$PPIPE" --map '[match("[[:alpha:] ]+"; "gx") | .string]' 2>&1)
  [ "$got" = '["ab cd"]' ] || msg+=("[[:alpha:] ]+ with x: $got")
  # [\s-z]: the '-' after a class escape is a plain '-' (the expansion made it a range: refused)
  got=$(echo '"a -zb"' | "$PPIPE" --map '[match("[\\s-z]+"; "g") | .string]' 2>&1)
  [ "$got" = '[" -z"]' ] || msg+=("[\\s-z]: $got")
  for e in "${exprs[@]}"; do
    got=$(jq_disagrees rcl.jsonl "$e") && [ -z "$got" ] || msg+=("$got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_regex_classes_unicode

t_jq_dates_out_of_range() {
  # Times no calendar holds are errors (jq 1.7's words), not garbage dates from an undefined
  # cast: `1e20 | todate` was "-219246529-01-00T08:29:52Z", `nan | todate` ended in ":-2147483648Z".
  local name="gmtime/todate/mktime: out-of-range times are errors, not garbage dates" msg=() e got
  echo null > dt.json
  for e in '1e20 | todate' 'nan | todate' 'infinite | gmtime' '-1e20 | gmtime' '[1e20,0,1,0,0,0,0,0] | mktime' \
           '[2024,0,1,0,0,1e30,0,0] | mktime' '[1e20,0,1,0,0,0,0,0] | todate'; do
    got=$("$PPIPE" --map "$e" --errors dt.err dt.json)
    [ -z "$got" ] && grep -q '"error":"\(error converting number of seconds since epoch to datetime\|mktime requires parsed datetime inputs\|strftime/1 requires parsed datetime inputs\)"' dt.err ||
      msg+=("[$e] output '$got', error: $(head -c 200 dt.err)")
  done
  got=$("$PPIPE" --map '[1700000000 | todate, (-1.5 | todate), ([2024,0,1,0,0,0,0,0] | mktime)]' dt.json)
  [ "$got" = '["2023-11-14T22:13:20Z","1969-12-31T23:59:58Z",1704067200]' ] || msg+=("in range: $got")
  # years up to an int's largest, and a day of the year mktime does not read, as jq
  for e in '6.32e16 | todate' '6.6e16 | gmtime | mktime' '[2100000000,0,1,0,0,0,0,0] | mktime' '[2024,0,1,0,0,0,0,3000000000] | mktime'; do
    got=$(jq_disagrees dt.json "$e") && [ -z "$got" ] || msg+=("$got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_dates_out_of_range

t_jq_base64d_invalid_utf8() {
  # Decoded bytes that are not UTF-8: one U+FFFD for each cut-short sequence (Unicode's maximal
  # subparts, as jq), not one per byte ("8J+Y" is F0 9F 98: was three U+FFFD).
  local name="@base64d: a cut UTF-8 sequence is one U+FFFD, as jq" msg=() got
  printf '%s\n' '"8J+Y"' '"4oI="' '"/w=="' '"wA=="' '"8J+YgA=="' '"YfCfmGI="' '"4oJh"' > b64d.jsonl
  got=$(jq_disagrees b64d.jsonl '@base64d | explode') && [ -z "$got" ] || msg+=("$got")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_base64d_invalid_utf8

t_jq_del_several_paths() {
  # del/delpaths as jq: every index against the array as it was, repeats once, slices beside
  # indices without shifting them (one element at a time, sorted, deleted the wrong ones:
  # del(.[1], .[1]) took two), and in one pass (quadratic: 12 s for 300,000 deletions).
  local name="del with repeated, negative, fractional and slice paths: as jq; 150,000 deletions in one pass" msg=() e got
  echo '[0,1,2,3,4,5,6]' > dl.json
  local exprs=('del(.[1,1])' 'del(.[1], .[1])' 'delpaths([[1],[1]])' 'del(.[1], .[-6])' 'del(.[1.2], .[1.7])'
    'del(.[1:3], .[2:5])' 'del(.[1:3], .[1:3])' 'del(.[1:3], .[4])' 'del(.[5], .[1:3])' 'del(.[1:3], .[2])'
    'del(.[1:3], .[-1])' '{"a":[0,1,2,3]} | del(.a[1], .a[1])' 'del(.[] | select(. % 2 == 0))' 'del(.[-1:])'
    '[[1,2],[3,4]] | del(.[0][0], .[1])' '[[1,2],[3,4]] | del(.[1], .[1][0])' '{"a":{"b":1,"c":2},"d":3} | del(.a.b, .d)'
    'del(.[2:5][1:2])' '[[0,1,2]] | del(.[0][1], .[0][-1])' '. as $x | $x | del(.[1], .[1])'
    # keys read against the array as its earlier slices left it, as jq (made absolute against the
    # original array first, del(.[0:2][0], .[3:][0]) deleted the wrong element)
    '[1,2,3,4,5] | del(.[0:2][0], .[3:][0])' '{"a":[1,2,3,4,5]} | del(.a[:2][0], .a[3:][0])'
    '[1,2,3,4] | del(.[-2:], .[0:2][0])' '[1,2,3] | del(.[-1], .[0:2][0])' '[1,2,3,4,5] | del(.[:2][0], .[-1])'
    '[0,"s"] | try delpaths([[-2],[0,"a"]]) catch .' '[[1,2],[3,4]] | del(.[-1][0], .[0])')
  for e in "${exprs[@]}"; do
    got=$(jq_disagrees dl.json "$e") && [ -z "$got" ] || msg+=("$got")
  done
  got=$(timeout 20 "$PPIPE" --map '[range(300000)] | del(.[] | select(. % 2 == 0)) | length' dl.json)
  [ "$got" = 150000 ] || msg+=("150,000 deletions: '$got' (timeout 20 s)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_del_several_paths

t_jq_paths_over_null_and_contains() {
  # As jq (1.6 and 1.7): iterating null in a path expression is an error (`.tags[] |= f` on a
  # null .tags did nothing, silently), `.[]?` stays quiet; and in both engines true and false are
  # two kinds for contains/inside (the general engine said false where jq errs).
  local name="paths through null .[] are jq's error; contains(true, false) errs in both engines" msg=() e got
  echo '{"tags":null,"x":null}' > pn.json
  for e in '.tags[] |= ascii_downcase' 'try (.tags[] += 1) catch .' 'try del(.tags[]) catch .' 'try [path(.tags[])] catch .' \
           'try (.x | map_values(. + 1)) catch .' '[path(.tags[]?)]' '.tags[]? |= 1' '[paths]' '[path(..)]' \
           'true | try contains(false) catch .' '. as $v | true | try contains(false) catch .' \
           '. as $v | true | try inside(false) catch .' '. as $v | {"a":true} | contains({"a":false})'; do
    got=$(jq_disagrees pn.json "$e" errors) && [ -z "$got" ] || msg+=("$got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_paths_over_null_and_contains

t_jq_split_gsub_flags_not_string() {
  # split/2, splits/2 and gsub/3 with flags that are not a string are jq's error for the record
  # ("g" + flags, flags + "g"): a boolean or computed number crashed the process (signal 11).
  local name="split/splits/gsub with non-string flags: jq's error, no crash" msg=() e got
  echo '"xay"' > sf.json
  for e in 'split("a"; true)' 'split("a"; 1+1)' '[splits("a"; true)]' 'gsub("a"; "b"; true)' 'gsub("a"; "b"; 1+1)' \
           'split("a"; {"b":1})' 'split("a"; 2)' 'split("a"; null)' 'gsub("a"; "b"; null)'; do
    got=$(jq_disagrees sf.json "$e" errors) && [ -z "$got" ] || msg+=("$got")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_split_gsub_flags_not_string

t_jq_fractional_slice_end_before_start() {
  # Slices round their bounds first (start down, end up), then an end before the start is the
  # start, as jq: the fast path clamped first, so .[1.5:1] was .[1.5:1.5], one element.
  local name="fractional slices with the end before the start: as jq, in both engines" msg=() e in got gen want
  for in in '[1,2,3,4]' '"abcd"' '"/api/v1?q=a b&c=é"'; do
    for e in '.[1.5:1]' '.[1.5:1.5]' '.[1.2:2.5]' '.[-1.5:10]' '.[2.5:1]' '.[-1.5:1]' '.[0.5:0.2]' '.[3:-10]'; do
      got=$(echo "$in" | "$PPIPE" --map "$e")
      gen=$(echo "$in" | "$PPIPE" --map ". as \$v | $e")
      want=$(echo "$in" | jq -c "$e")
      [ "$got" = "$want" ] && [ "$gen" = "$want" ] || msg+=("$in | $e: fast $got, general $gen, jq $want")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_fractional_slice_end_before_start

t_expression_error_lines() {
  # A syntax error in an expression of several lines (--map-file) names the line shown; its help
  # pointer is the expression language's (a file name after the flag got the map stage's help);
  # a config file's location goes after the message's first line, not after the caret.
  local name="expression errors: the line of a --map-file, the expr help pointer, a config location on the first line" msg=() got
  printf '{"a":1}\n' > el.jsonl
  printf '.a +\n\n  foo(' > el.jq
  got=$("$PPIPE" --map-file el.jq el.jsonl 2>&1)
  [ "$(head -n 1 <<< "$got")" = "ppipe: error in --map-file el.jq expression: unexpected end of expression (line 3)" ] ||
    msg+=("--map-file: $(head -n 1 <<< "$got")")
  grep -q "Run 'ppipe help expr' for the expression language" <<< "$got" && ! grep -q '^map --map EXPR' <<< "$got" ||
    msg+=("--map-file: not the expr help pointer: $(tail -n 3 <<< "$got")")
  printf 'filter = [".a > 0", ".a <"]\n' > el.toml
  got=$("$PPIPE" --config el.toml el.jsonl 2>&1)
  [ "$(head -n 1 <<< "$got")" = "ppipe: error in --filter expression: unexpected end of expression (el.toml line 1)" ] ||
    msg+=("config: $(head -n 3 <<< "$got" | tr '\n' '|')")
  [ "$("$PPIPE" --map '.a +' el.jsonl 2>&1 | head -n 1)" = "ppipe: error in --map expression: unexpected end of expression" ] ||
    msg+=("one line: $("$PPIPE" --map '.a +' el.jsonl 2>&1 | head -n 1)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_expression_error_lines

t_jq_arg_repeated_first_wins() {
  # --arg/--argjson naming a variable again keep the first value, as jq's main.c (it kept the
  # last; found by a bug hunt).
  local name="--arg/--argjson given twice: the first value, as jq" got want
  echo null > argrep.json
  got=$("$PPIPE" --arg a 1 --arg a 2 --argjson b 3 --argjson b 4 --map '[$a, $b, $ARGS.named]' argrep.json)
  want=$(jq -c --arg a 1 --arg a 2 --argjson b 3 --argjson b 4 '[$a, $b, $ARGS.named]' argrep.json)
  if [ "$got" = "$want" ] && [ "$got" = '["1",3,{"a":"1","b":3}]' ]; then ok "$name"; else not_ok "$name" "ppipe $got, jq $want"; fi
}
register t_jq_arg_repeated_first_wins
