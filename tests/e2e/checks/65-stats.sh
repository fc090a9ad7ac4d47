# shellcheck shell=bash
# Throughput monitoring (issue 10): --stats' figures agree with each other, --stats-interval lines
# while it runs, --stats-file, the bottleneck, and --progress on a terminal (under `script`).

# The final line's byte counts are those of the records counted, whatever was read ahead.
t_stats_bytes_of_records_read() {
  local name="--stats: bytes_in is the bytes of the records read (whole file; --head 2 beside its read-ahead), for any -j and batch size"
  local F; F=$(gen_file g5 "${G5_ARGS[@]}")
  local size; size=$(wc -c < "$F")
  local msg=() args s
  "$PPIPE" --stats "$F" > /dev/null 2> err
  s=$(stats_of err '[.bytes_in, .bytes_read, (.records_in == .records_out + .dropped + .errors)]')
  expect_eq "whole file [bytes_in, bytes_read, invariant]" "[$size,$size,true]" "$s" || msg+=("whole file: $s")
  local want2; want2=$(head -n 2 "$F" | wc -c)
  for args in "-j 1" "-j 4 --batch-size 1" "-j 2 --batch-size 64K"; do
    # shellcheck disable=SC2086
    "$PPIPE" $args --head 2 --stats "$F" > out 2> err
    s=$(stats_of err '[.records_in, .bytes_in, (.bytes_read >= .bytes_in), (.seconds < 0.05 or ((.mb_per_second - .bytes_in / .seconds / 1e6) | fabs) <= 0.1 + 0.05 * .mb_per_second)]')
    expect_eq "[$args] --head 2 [records_in, bytes_in, read ahead >= bytes_in, mb_per_second from bytes_in (seconds are printed to the ms: a tolerance)]" \
      "[2,$want2,true,true]" "$s" || msg+=("[$args] $s")
  done
  # The read-ahead is really there on a 5 MB file with 1 MiB batches: the point of two fields.
  "$PPIPE" -j 2 --head 2 --stats "$F" > /dev/null 2> err
  s=$(stats_of err '.bytes_read > 1000000')
  expect_eq "bytes_read shows the read-ahead" true "$s" || msg+=("bytes_read: $(tail -n 1 err | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stats_bytes_of_records_read

# head after a stage that makes records (tail, agg, exec, a map that fans out): what head did not
# take once it had ended the stream is as if never read or emitted, so the counts still add up,
# and each stage's `in` is the `out` of the stage before it, for any -j. Also a map that fans out
# after uniq (whose decisions recount the batch: the map's out is the lines it left).
t_stats_head_after_emitters() {
  local name="--stats: head after tail/agg/exec/a fanning map, a fanning map after uniq: records_in + emitted = out + dropped + errors + consumed, stage by stage"
  awk 'BEGIN { for (i = 1; i <= 10; i++) printf "{\"a\":%d,\"b\":%d}\n", i, int(i / 3) }' > ten.jsonl  # uniq .b: 4 runs
  local msg=() chain s j
  local -a chains=(
    "--stages tail,head --tail 3 --head 0"
    "--stages tail,filter,head --tail 5 --filter true --head 2"
    "--stages parse,map,head --map .a,.a --head 3"
    "--stages parse,agg,map,head --map .a,.a --head 0"
    "--stages exec,head,parse --exec cat --head 1"
    "--stages exec,filter,head --exec cat --filter true --head 2"
    "--stages parse,uniq,map --uniq .b --map .a,.a"
    "--stages parse,uniq,map,filter --uniq .b --map .a,.a+10 --filter .>2"
    "--stages parse,uniq,map,tail --uniq .b --map .a,.a --tail 4"
  )
  for chain in "${chains[@]}"; do
    for j in "-j 1" "-j 3 --batch-size 16"; do
      # shellcheck disable=SC2086
      "$PPIPE" --stats $j $chain ten.jsonl > out 2> err
      s=$(tail -n 1 err)
      echo "$s" | jq -e '(.records_in + (.emitted // 0) == .records_out + .dropped + .errors + (.consumed // 0))
                         and ([range(1; .stages | length) as $i | .stages[$i].in == .stages[$i - 1].out] | all)
                         and .records_out == (.stages[-1].out)' > /dev/null \
        || msg+=("[$j $chain] $(echo "$s" | jq -c '{records_in, records_out, consumed, emitted, stages: [.stages[] | [.name, .in, .out]]}')")
      [ "$(wc -l < out)" = "$(echo "$s" | jq .records_out)" ] || msg+=("[$j $chain] $(wc -l < out) lines written")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stats_head_after_emitters

t_stats_time_fields() {
  local name="--stats: busy_seconds per stage, the engine's waits and a bottleneck, all numbers >= 0"
  local F; F=$(gen_file g5 "${G5_ARGS[@]}")
  "$PPIPE" --stats --filter '.status >= 500' --tail 3 "$F" > /dev/null 2> err
  local s
  s=$(stats_of err '[(.stages | map(.name)), (.stages | all(.busy_seconds >= 0)),
      (.engine | [.reader_seconds, .reader_input_seconds, .reader_wait_seconds, .queue_full_waits,
                  .workers_busy_seconds, .workers_idle_seconds, .writer_wait_seconds, .write_seconds]
               | all(type == "number" and . >= 0)),
      (.engine.queue_depth > 0), (.bottleneck | IN("input","output","parse","filter","tail")),
      (.stages[0].busy_seconds > 0)]')
  if [ "$s" = '[["parse","filter","tail"],true,true,true,true,true]' ]; then ok "$name"
  else not_ok "$name" "got $s" "$(tail -n 1 err | head -c 600)"; fi
}
register t_stats_time_fields

# slow_lines N MS: N small records, MS milliseconds apart (a slow producer, as tail -f).
slow_lines() {
  local i
  for ((i = 1; i <= $1; i++)); do
    printf '{"i":%d}\n' "$i"
    sleep "$(printf '0.%03d' "$2")"
  done
}

# intervals_ok FILE MIN_LINES: the interval lines of FILE (before its final line) parse as JSON,
# are at least MIN_LINES, and their counts and times never go down. Prints what is wrong.
intervals_ok() {
  local n; n=$(grep -c '"ppipe":"stats"' "$1")
  [ "$n" -ge "$2" ] || { echo "$n interval lines, expected at least $2: $(head -c 300 "$1")"; return 1; }
  head -n -1 "$1" | jq -s -e '
    all(.[]; .ppipe == "stats" and (.queue.depth > 0) and (.interval_seconds > 0)) and
    ([.[].records_in] as $r | $r == ($r | sort)) and ([.[].bytes_in] as $b | $b == ($b | sort)) and
    ([.[].seconds] as $t | $t == ($t | sort))' > /dev/null \
    || { echo "interval lines not JSON, or counts going down: $(head -c 600 "$1")"; return 1; }
}

t_stats_interval() {
  local name="--stats-interval 100ms: JSON lines while a slow input runs, counts never going down, then the final line"
  local msg=() rc=0
  slow_lines 3 300 | "$PPIPE" --stats-interval 100ms > out 2> err || rc=$?
  [ "$rc" = 0 ] || msg+=("exit $rc")
  [ "$(wc -l < out)" = 3 ] || msg+=("stdout: $(head -c 200 out)")
  local why; why=$(intervals_ok err 4) || msg+=("$why")
  local s; s=$(stats_of err '[.records_in, .bytes_in, has("ppipe")]')
  expect_eq "final [records_in, bytes_in, has ppipe]" '[3,24,false]' "$s" || msg+=("final line: $(tail -n 1 err | head -c 300)")
  # While the input is silent the reader waits on it: that is the bottleneck shown.
  [ "$(head -n -1 err | jq -r .bottleneck | sort | uniq -c | sort -rn | head -n 1 | awk '{print $2}')" = input ] \
    || msg+=("bottleneck of a slow input: $(head -n -1 err | jq -r .bottleneck | tr '\n' ' ')")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stats_interval

t_stats_file() {
  local name="--stats-file FILE: interval lines and the final line go there, stderr keeps only the error records"
  local msg=() rc=0
  { slow_lines 2 250; echo bad; } | "$PPIPE" --stats-interval 100ms --stats-file s.jsonl > out 2> err || rc=$?
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1 (one bad record)")
  [ "$(jq -r .line err 2>/dev/null)" = 3 ] && [ "$(wc -l < err)" = 1 ] || msg+=("stderr: $(head -c 300 err)")
  local why; why=$(intervals_ok s.jsonl 3) || msg+=("$why")
  local s; s=$(stats_of s.jsonl '[.records_in, .records_out, .errors]')
  expect_eq "final line in the file" '[3,2,1]' "$s" || msg+=("s.jsonl: $(tail -n 1 s.jsonl | head -c 300)")
  # --stats-file alone implies --stats (its final line); it replaces what was in the file.
  echo stale > s2.jsonl
  printf '{"a":1}\n' | "$PPIPE" --stats-file s2.jsonl > /dev/null 2> err2
  [ "$(wc -l < s2.jsonl)" = 1 ] && [ "$(stats_of s2.jsonl .records_in)" = 1 ] && [ ! -s err2 ] \
    || msg+=("--stats-file alone: $(head -c 200 s2.jsonl) / stderr $(head -c 200 err2)")
  local e; e=$("$PPIPE" --stats-interval 5ms < /dev/null 2>&1); rc=$?
  [ "$rc" = 2 ] && [[ $e == *"--stats-interval '5ms': expected a duration from 10ms to 24h"* ]] \
    || msg+=("--stats-interval 5ms: exit $rc, $e")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stats_file

t_stats_bottleneck_output() {
  local name="--stats: a slow reader of the output is the bottleneck 'output' (the reader waits for free batches)"
  local F; F=$(gen_file g5 "${G5_ARGS[@]}")
  head -n 5000 "$F" > in.jsonl
  # 2 MB through a consumer taking 64 KiB every 20 ms: about 0.6 s, while ppipe alone takes 0.02 s.
  "$PPIPE" --stats --batch-size 64K --queue-depth 2 -j 1 --errors /dev/null in.jsonl 2> err \
    | python3 -c 'import sys, time
while sys.stdin.buffer.read(65536): time.sleep(0.02)'
  local s; s=$(stats_of err '[.bottleneck, (.engine.write_seconds > .seconds / 2), (.engine.queue_full_waits > 0)]')
  if [ "$s" = '["output",true,true]' ]; then ok "$name"
  else not_ok "$name" "got $s" "$(tail -n 1 err | head -c 600)"; fi
}
register t_stats_bottleneck_output

# --progress on a terminal: stderr is the pty of `script`, stdout a slow pipe so that the run lasts
# long enough for several redraws. Two input files, one bad record in each: the percent is of their
# total size, the error lines on the terminal start on a line of their own, the line is cleared at
# the end.
t_progress_on_terminal() {
  local name="--progress on a terminal: percent of several files, ETA, bottleneck; cleared at the end; error lines never inside it"
  command -v script > /dev/null || { ok "$name # SKIP no script(1)"; return; }
  local F; F=$(gen_file clean4k --seed 11 --records 4000)
  { head -n 2000 "$F"; echo 'bad one'; } > a.jsonl
  { echo 'bad two'; head -n 2000 "$F"; } > b.jsonl
  cat > slow.py << 'EOF'
import sys, time
while sys.stdin.buffer.read(32768): time.sleep(0.02)
EOF
  script -qec "'$PPIPE' --progress -j 1 --batch-size 16K --queue-depth 2 a.jsonl b.jsonl | python3 slow.py" /dev/null > tty.txt < /dev/null
  python3 - tty.txt << 'EOF' > why.txt
import re, sys
raw = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
clear = '\r\x1b[K'
problems = []
lines = [seg for seg in raw.split(clear)]
progress = [s for s in lines if s.startswith('ppipe: ') and ' rec/s' in s]
if len(progress) < 5:
    problems.append(f'{len(progress)} progress lines drawn')
percents = [float(m.group(1)) for s in progress for m in [re.search(r', ([0-9.]+)%, ETA [0-9]+s', s)] if m]
if len(percents) < 5 or percents != sorted(percents) or not (0 < percents[0] < percents[-1] <= 100):
    problems.append(f'percents of both files: {percents[:3]}...{percents[-3:]}')
if not any(', bottleneck: output' in s for s in progress):
    problems.append('no "bottleneck: output" on a run that waits on its output')
# Every error line on the terminal starts a line: right after a clear, a newline or at the start.
for text in ('a.jsonl:2001: parse:', 'b.jsonl:1: parse:'):
    i = raw.find(text)
    if i < 0:
        problems.append(f'error line {text!r} not shown')
    elif not (i == 0 or raw[:i].endswith(clear) or raw[:i].endswith('\n')):
        problems.append(f'error line {text!r} inside the progress line: {raw[max(0, i - 80):i + 20]!r}')
# No error line inside a progress line, and nothing drawn after the last clear but ppipe's closing lines.
if any('rec/s' in s and 'parse:' in s for s in lines):
    problems.append('a progress line holds an error line')
tail = raw[raw.rfind(clear) + len(clear):] if clear in raw else raw
if 'rec/s' in tail:
    problems.append(f'progress line not cleared at the end: {tail[-200:]!r}')
if problems: print('\n'.join(problems))
EOF
  if [ ! -s why.txt ]; then ok "$name"; else not_ok "$name" "$(cat why.txt)" "$(tr '\r' '\n' < tty.txt | cat -v | tail -n 8)"; fi
}
register t_progress_on_terminal

t_stats_line_write_error() {
  # --stats on a stderr that cannot be written (2>/dev/full) is a write error, exit 3, as it is in
  # a --stats-file; without --stats nothing is written there and the run is fine.
  local name="--stats with 2>/dev/full: exit 3 (the stats line is lost); without --stats: exit 0" msg=() rc
  [ -w /dev/full ] || { ok "$name (skipped: no /dev/full)"; return; }
  printf '{"a":1}\n' > sw.jsonl
  rc=0; "$PPIPE" --stats sw.jsonl > out 2> /dev/full || rc=$?
  [ "$rc" = 3 ] || msg+=("--stats: exit $rc, expected 3")
  [ "$(cat out)" = '{"a":1}' ] || msg+=("output: $(cat out)")
  rc=0; "$PPIPE" sw.jsonl > out 2> /dev/full || rc=$?
  [ "$rc" = 0 ] || msg+=("no --stats: exit $rc, expected 0")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stats_line_write_error

t_bytes_in_at_a_cut_for_any_batch_size() {
  # bytes_in after a head or --max-errors cut ends with the last record read (its line end; a
  # JSON value's end), for every --batch-size: with both cuts in one batch it was 0; blank lines
  # after the last record counted when a batch ended after them; with --format json it ran on to
  # the end of the batch (found by a fuzzer of batch sizes).
  local msg=() bs f got want
  python3 -c "open('bi2.jsonl','wb').write(b'1\n1\nbad\n' + b'1\n' * 100)"
  python3 -c "print('[' + ','.join(map(str, range(100))) + ']')" > bi3.json
  python3 -c "print(' '.join(['1'] * 10 + ['x'] + ['2'] * 100))" > bi3b.json
  python3 -c "open('bi4.jsonl','wb').write(b'\"' + b'a' * 60 + b'\"\n\n1\n')"
  # (a head after a map that fans out, satisfied by the last record of a batch)
  "$PPIPE_GEN" --seed 5 --size 20K > bi5.jsonl
  # (a head satisfied at a batch's last record, in a batch where uniq dropped one; blanks after)
  python3 -c "p = 'x' * 40; r = '{\"a\":%d,\"p\":\"' + p + '\"}\\n'; open('bi6.jsonl', 'w').write(r % 1 + r % 1 + r % 2 + '\\n' * 4 + r % 3)"
  for bs in 64 100 168 1M; do
    for f in "--max-errors 1 --head 50 bi2.jsonl|[3,8]" "--format json --unwrap --head 1 bi3.json|[1,2]" \
             "--format json --max-errors 1 bi3b.json|[11,21]" "--head 1 bi4.jsonl|[1,63]" \
             "--stages parse,map,head --map .tags[]? --head 7 bi5.jsonl|[5,1722]" \
             "--format json --stages parse,map,head --map .tags[]? --head 7 bi5.jsonl|[5,1721]" \
             "--stages parse,uniq,head --uniq .a --head 2 bi6.jsonl|[3,165]"; do
      want=${f#*|}
      # shellcheck disable=SC2086
      got=$("$PPIPE" --batch-size $bs --errors /dev/null --stats-file /dev/stdout ${f%|*} 2> /dev/null | tail -n 1 | jq -c '[.records_in, .bytes_in]')
      [ "$got" = "$want" ] || msg+=("${f%|*} --batch-size $bs: [records_in, bytes_in] $got, want $want")
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "--stats: bytes_in at a head or --max-errors cut is the same for every --batch-size"; else not_ok "bytes_in at a cut" "${msg[@]}"; fi
}
register t_bytes_in_at_a_cut_for_any_batch_size

t_bytes_in_of_a_bom_only_file() {
  # A file of only a byte-order mark: its 3 bytes are in bytes_in, as they are with a newline
  # after them (bytes_in was 0 against bytes_read 3).
  local got
  printf '\357\273\277' > bomonly.jsonl
  got=$("$PPIPE" --stats-file /dev/stdout bomonly.jsonl | jq -c '[.records_in, .bytes_in, .bytes_read]')
  if [ "$got" = '[0,3,3]' ]; then ok "--stats: a file of only a BOM counts its 3 bytes in bytes_in"
  else not_ok "--stats: a file of only a BOM counts its 3 bytes in bytes_in" "[records_in, bytes_in, bytes_read] $got"; fi
}
register t_bytes_in_of_a_bom_only_file
