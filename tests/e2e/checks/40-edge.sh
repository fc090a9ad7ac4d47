# shellcheck shell=bash
# Edge inputs made on the fly (too big for fixtures), --max-errors, --errors FILE. Sourced by run_all.sh.

# {"s":"<100 MiB of a>"} between two small records.
make_huge() {
  { printf '{"before":1}\n{"s":"'; head -c 104857600 /dev/zero | tr '\0' a; printf '"}\n{"after":1}\n'; } > huge.jsonl
}

t_huge_line_default_limit() {
  local name="edge: a 100 MiB line with the default --max-record-size is a read error with record_size, truncated"
  make_huge
  local msg=() mode
  for mode in file pipe; do
    if [ $mode = file ]; then "$PPIPE" huge.jsonl > out 2> err; else cat huge.jsonl | "$PPIPE" > out 2> err; fi
    local rc=$?
    [ "$rc" = 1 ] || msg+=("$mode: exit $rc, expected 1")
    [ "$(cat out)" = $'{"before":1}\n{"after":1}' ] || msg+=("$mode: stdout: $(head -c 200 out)")
    [ "$(wc -l < err)" = 1 ] || msg+=("$mode: $(wc -l < err) error records, expected 1")
    jq -e '.line == 2 and .offset == 13 and .stage == "read" and .record_size == 104857608 and .truncated == true
        and (.record | length) == 4096 and .record == "{\"s\":\"" + ("a" * 4090)' err > /dev/null 2>&1 \
      || msg+=("$mode: error record: $(jq -c 'del(.record)' err 2>&1 | head -c 300) record length $(jq '.record | length' err 2>&1)")
  done
  rm -f huge.jsonl
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_huge_line_default_limit

t_huge_line_passes_with_limit() {
  local name="edge: a 100 MiB line passes through byte-identical with --max-record-size 200M"
  make_huge
  "$PPIPE" --max-record-size 200M huge.jsonl > out 2> err; local rc=$?
  local msg=()
  [ "$rc" = 0 ] || msg+=("exit $rc, expected 0")
  cmp -s out huge.jsonl || msg+=("output differs: $(cmp out huge.jsonl 2>&1)")
  [ -s err ] && msg+=("stderr: $(head -c 300 err)")
  rm -f huge.jsonl out
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_huge_line_passes_with_limit

t_deep_nesting_100000() {
  local name="edge: 100,000-deep [[[...]]] is one error (nesting depth), no crash"
  { head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; echo; echo '{"ok":1}'; } > deep.jsonl
  timeout 10 "$PPIPE" deep.jsonl > out 2> err; local rc=$?
  local msg=()
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  [ "$(cat out)" = '{"ok":1}' ] || msg+=("stdout: $(head -c 100 out)")
  jq -e '.line == 1 and .offset == 0 and (.error | test("nesting|depth")) and (.record | length) == 200000' err > /dev/null 2>&1 \
    || msg+=("error: $(jq -c 'del(.record)' err 2>&1 | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_deep_nesting_100000

t_max_errors() {
  local name="--max-errors 3 on 10 bad lines: exit 3, at least 3 error records, a JSON 'stopped' diagnostic, stderr pure JSON Lines"
  { for i in 1 2 3 4 5 6 7 8 9 10; do printf '{"ok":%d}\nbad %d\n' "$i" "$i"; done; } > bad10.jsonl
  local args msg=() rc
  for args in "" "-j 4 --batch-size 1" "--unordered -j 2 --batch-size 1"; do
    # shellcheck disable=SC2086
    "$PPIPE" --max-errors 3 --stats $args bad10.jsonl > out 2> err; rc=$?
    [ "$rc" = 3 ] || msg+=("[$args] exit $rc, expected 3")
    local n; n=$(grep -c '^{"source"' err)
    [ "$n" -ge 3 ] || msg+=("[$args] $n error records, expected at least 3")
    # stderr is not a terminal: the diagnostic is a JSON object too, so every line parses (issue 12).
    jq -e -s 'length > 0' err > /dev/null 2>&1 || msg+=("[$args] stderr is not pure JSON Lines: $(grep -v '^{' err | head -c 300)")
    [ "$(jq -c 'select(.ppipe == "stopped")' err 2>/dev/null)" = \
      "{\"ppipe\":\"stopped\",\"reason\":\"max-errors\",\"after\":$n,\"message\":\"stopped after $n record errors (--max-errors 3)\"}" ] \
      || msg+=("[$args] no stopped diagnostic with after=$n; got: $(grep '"ppipe"' err)")
    tail -n 1 err | jq -e '.stopped_by == "max_errors" or .stopped_by == "max-errors"' > /dev/null 2>&1 \
      || msg+=("[$args] --stats not last, or stopped_by not max-errors: $(tail -n 1 err | head -c 200)")
    # What was written is still a consistent prefix: good records before the last reported error.
    # (Ordered runs only: --unordered writes batches as they finish, and the failing batch may come
    # before earlier ones; the check failed about 1 run in 10 there, before this session too.)
    local last; last=$(grep '^{"source"' err | tail -n 1 | jq .line)
    [[ $args == *--unordered* ]] || [ "$(wc -l < out)" -ge $(( (last - 1) / 2 )) ] ||
      msg+=("[$args] only $(wc -l < out) records before error line $last")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_max_errors

t_max_errors_not_reached() {
  local name="--max-errors 11 on 10 bad lines: runs to the end, exit 1"
  { for i in 1 2 3 4 5 6 7 8 9 10; do printf '{"ok":%d}\nbad %d\n' "$i" "$i"; done; } > bad10.jsonl
  "$PPIPE" --max-errors 11 bad10.jsonl > out 2> err; local rc=$?
  if [ "$rc" = 1 ] && [ "$(wc -l < out)" = 10 ] && [ "$(wc -l < err)" = 10 ]; then ok "$name"
  else not_ok "$name" "exit $rc, $(wc -l < out) records, stderr: $(tail -n 1 err | head -c 200)"; fi
}
register t_max_errors_not_reached

t_errors_file() {
  local name="--errors FILE: the error stream goes to FILE, stderr holds no records"
  local F; F=$(gen_file g5 "${G5_ARGS[@]}")
  "$PPIPE" "$F" > ref.out 2> ref.err
  "$PPIPE" --errors errs.jsonl --stats "$F" > out 2> err; local rc=$?
  local msg=()
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  cmp -s out ref.out || msg+=("stdout differs from a run without --errors")
  cmp -s errs.jsonl ref.err || msg+=("FILE differs from the stderr of a run without --errors")
  [ "$(wc -l < err)" = 1 ] && tail -n 1 err | jq -e '.errors > 0' > /dev/null 2>&1 || msg+=("stderr should hold only --stats: $(head -c 300 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_errors_file

# --version: checks/70-ship.sh.

t_help() {
  local rc; "$PPIPE" --help > out 2> err; rc=$?
  local msg=() w
  [ "$rc" = 0 ] || msg+=("exit $rc")
  for w in --stages --workers --unordered --batch-size --queue-depth --max-record-size --errors --max-errors \
           --stats --progress --no-progress --head --version parse head; do
    grep -q -- "$w" out || msg+=("--help does not mention $w")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "cli: --help lists every option and stage"; else not_ok "cli: --help lists every option and stage" "${msg[@]}"; fi
}
register t_help

t_no_progress_when_not_tty() {
  local name="cli: no progress output when stderr is not a terminal, or when stdout is the same terminal; --no-progress accepted"
  local F; F=$(gen_file g5 "${G5_ARGS[@]}")
  "$PPIPE" "$F" > /dev/null 2> err1
  "$PPIPE" --no-progress "$F" > /dev/null 2> err2
  local msg=()
  ! grep -q $'\r' err1 && ! grep -q $'\r' err2 && cmp -s err1 err2 || msg+=("stderr contains progress output")
  # stdout and stderr on one terminal (script(1)): no progress line by default, or records would
  # land after its text; the records are there, each on its own line.
  if command -v script > /dev/null; then
    script -qec "'$PPIPE' -j 1 --batch-size 16K --errors /dev/null '$F'" /dev/null < /dev/null | tr -d '\r' > tty.txt
    ! grep -q "rec/s" tty.txt || msg+=("progress text on the terminal with the records: $(grep -m1 'rec/s' tty.txt | head -c 200)")
    [ "$(grep -c '^{' tty.txt)" = "$("$PPIPE" --errors /dev/null "$F" | wc -l)" ] || msg+=("records on the terminal: $(grep -c '^{' tty.txt)")
  fi
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_no_progress_when_not_tty

# Bounded memory: the token cap, not the input size, decides how much memory a run takes. The
# same run on 8 MiB and 256 MiB of input must stay under the same small ceiling (max_rss_kib is
# getrusage's peak RSS, reported by --stats).
t_bounded_memory() {
  local name="memory: peak RSS stays under 64 MiB for 8 MiB and 256 MiB inputs (-j 2 and -j 4)"
  local small big msg=() f j rss
  # ASan's shadow memory makes RSS meaningless; the Release run of this suite checks it.
  if [ -n "${ASAN_OPTIONS:-}" ]; then ok "$name # SKIP under ASan"; return; fi
  small=$(gen_file mem8 --seed 11 --size 8M)
  big="$TMP/gen/mem256"
  [ -f "$big" ] || for _ in $(seq 32); do cat "$small"; done > "$big"
  for f in "$small" "$big"; do
    for j in 2 4; do
      "$PPIPE" -j "$j" --stats "$f" > /dev/null 2> err || { msg+=("$(basename "$f") -j $j: exit $?"); continue; }
      rss=$(tail -n 1 err | jq '.max_rss_kib')
      [ -n "$rss" ] && [ "$rss" -lt 65536 ] || msg+=("$(basename "$f") -j $j: max_rss_kib $rss (limit 65536)")
    done
  done
  rm -f "$big"
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_bounded_memory

# Bounded memory when every record fails: an error record (~150 bytes: source, line, offset,
# stage, reason, raw text) is far larger than a 2-byte line, so a batch of 1 MiB of such lines held
# 75 MiB of error text (peak RSS 430 MiB at the default batch size, 11 GiB with --batch-size 64M).
# A batch holds at most 16,384 records (kMaxBatchRecords), so this stays within the ceiling
# above, plus what the larger batch size asks for itself (its buffers).
t_bounded_memory_error_records() {
  local name="memory: 12 MiB of 2-byte bad lines stays under 96 MiB (-j 2), and every line is an error record"
  local msg=() rss n
  if [ -n "${ASAN_OPTIONS:-}" ]; then ok "$name # SKIP under ASan"; return; fi
  yes x | head -c 12M > tiny-bad.txt
  local rc=0
  "$PPIPE" -j 2 --stats --errors tiny-bad.err tiny-bad.txt > /dev/null 2> err || rc=$?
  [ "$rc" -eq 1 ] || msg+=("exit code $rc (want 1)")
  rss=$(tail -n 1 err | jq '.max_rss_kib')
  [ -n "$rss" ] && [ "$rss" -lt 98304 ] || msg+=("max_rss_kib $rss (limit 98304)")
  n=$(wc -l < tiny-bad.err)
  [ "$n" -eq 6291456 ] || msg+=("$n error records, want 6291456")
  [ "$(tail -n 1 tiny-bad.err | jq -c '[.line, .record]')" = '[6291456,"x"]' ] || msg+=("last error: $(tail -n 1 tiny-bad.err)")
  rm -f tiny-bad.txt tiny-bad.err
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_bounded_memory_error_records

# An expression that builds more than memory holds fails its record (an error record, as jq's
# error would) instead of ending the process (it was "terminate called after throwing
# std::bad_alloc", signal 6). A 3 GB address-space limit makes that quick; the next record runs.
t_out_of_memory_is_a_record_error() {
  local name="memory: a record whose expression runs out of memory is an error record, the run goes on (exit 1); a batch's output, a tail or a record's buffer that does not fit stops the run (exit 3)"
  if [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then ok "$name # SKIP under a sanitizer (its shadow memory needs the address space)"; return; fi
  local rc=0 msg=()
  printf '1\n2\n' > oom.jsonl
  (ulimit -v 3000000; exec "$PPIPE" -j 2 --map 'if . == 1 then [range(1e9)] | length else . end' oom.jsonl) > out 2> err || rc=$?
  [ "$rc" -eq 1 ] || msg+=("exit $rc (want 1)")
  [ "$(cat out)" = "2" ] || msg+=("output: $(head -c 200 out)")
  [ "$(jq -c '[.line, .stage, .error]' err 2>/dev/null)" = '[1,"map","out of memory: what this stage made of the record did not fit in memory"]' ] ||
    msg+=("stderr: $(head -c 300 err)")
  # A batch whose output does not fit (2,000 records, 600 KB of output each, in one batch): the
  # run stops at it with a clear message, exit 3 (it too was signal 6).
  rc=0
  seq 1 2000 > oom2.jsonl
  (ulimit -v 1200000; exec "$PPIPE" -j 1 --map 'range(100000)' oom2.jsonl) > /dev/null 2> err || rc=$?
  [ "$rc" -eq 3 ] || msg+=("batch: exit $rc (want 3)")
  jq -e 'select(.ppipe == "error") | .message | startswith("out of memory on the batch that starts at oom2.jsonl line 1 (")' err > /dev/null ||
    msg+=("batch: stderr: $(head -c 300 err)")
  # tail keeping more records than fit: the run stops with exit 3 and an "out of memory" message
  # (the allocation that fails may be the writer's, tail's, or a worker's), not signal 6.
  rc=0
  "$PPIPE_GEN" --seed 5 --size 48M > oom3.jsonl
  (ulimit -v 150000; exec "$PPIPE" -j 2 --tail 1 oom3.jsonl) > /dev/null 2> err || rc=$?
  [ "$rc" -eq 0 ] || msg+=("tail 1 under the same limit (the control): exit $rc: $(head -c 200 err)")
  rc=0
  (ulimit -v 150000; exec "$PPIPE" -j 2 --tail 100000000 oom3.jsonl) > /dev/null 2> err || rc=$?
  [ "$rc" -eq 3 ] || msg+=("tail: exit $rc (want 3)")
  jq -e 'select(.ppipe == "error") | .message | startswith("out of memory")' err > /dev/null || msg+=("tail: stderr: $(head -c 300 err)")
  rm -f oom3.jsonl
  # The reader's buffer for a record of 160 MB (allowed by --max-record-size 1G) under a 290 MiB
  # limit: exit 3 and the reader's message (it too was signal 6).
  rc=0
  head -c 160M /dev/zero | tr '\0' 'a' > oom4.txt
  (ulimit -v 300000; exec "$PPIPE" -j 2 --max-record-size 1G oom4.txt) > /dev/null 2> err || rc=$?
  [ "$rc" -eq 3 ] || msg+=("reader: exit $rc (want 3)")
  grep -qF '"out of memory in the reader: ' err || msg+=("reader: stderr: $(head -c 300 err)")
  rm -f oom4.txt
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_out_of_memory_is_a_record_error

t_option_value_is_an_option() {
  # `--filter --head 3`: the filter forgotten, the next option taken as its value. A usage error
  # naming both, not a compile error of the expression "--head".
  local name="cli: a stage option whose value is another option (--filter --head 3) is a clear usage error" msg=() rc
  printf '{"a":1}\n' > ov.jsonl
  rc=0; "$PPIPE" --filter --head 3 ov.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "--filter needs a value, but the word after it is the option --head" err ||
    msg+=("--filter --head 3: exit $rc: $(head -c 200 err)")
  rc=0; "$PPIPE" --uniq --map=.a ov.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "--uniq needs a value, but the word after it is the option --map" err ||
    msg+=("--uniq --map=.a: exit $rc: $(head -c 200 err)")
  [ "$("$PPIPE" --map '.a - -1' ov.jsonl 2>&1)" = 2 ] || msg+=("an expression with '-' changed")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_option_value_is_an_option

t_edge_max_record_size_crlf_boundary() {
  # A record of exactly --max-record-size bytes passes whatever its line end (LF, CRLF, none at
  # the end, a lone CR at the end), for every --batch-size; one byte more is refused, with its
  # true size. (The buffer had room for one byte past the limit: a CRLF record of exactly the
  # limit was refused at small batch sizes, as "4096 bytes is longer than ... (4096 bytes)".)
  local name="--max-record-size: a record of exactly the limit passes with CRLF too, for any --batch-size" msg=() f b got e
  python3 -c "
def rec(n): return b'\"' + b'x' * (n - 2) + b'\"'
for n, tag in ((4096, 'ok'), (4097, 'big')):
    open('mrs-lf-%s.jsonl' % tag, 'wb').write(b'{}\n' + rec(n) + b'\n{}\n')
    open('mrs-crlf-%s.jsonl' % tag, 'wb').write(b'{}\r\n' + rec(n) + b'\r\n{}\r\n')
    open('mrs-eof-%s.jsonl' % tag, 'wb').write(b'{}\n' + rec(n))
    open('mrs-eofcr-%s.jsonl' % tag, 'wb').write(b'{}\n' + rec(n) + b'\r')"
  for f in mrs-*-ok.jsonl mrs-*-big.jsonl; do
    for b in 64 1K 4K 8K 1M; do
      got=$("$PPIPE" --max-record-size 4096 --batch-size "$b" --errors mrs.err "$f" | wc -l)
      e=$(wc -l < mrs.err)
      case $f in
        *-ok.jsonl)
          [ "$e" = 0 ] || msg+=("$f --batch-size $b: refused: $(head -c 200 mrs.err)") ;;
        *)
          [ "$e" = 1 ] && grep -q '"record of 4097 bytes is longer than --max-record-size (4096 bytes)"' mrs.err ||
            msg+=("$f --batch-size $b: $e errors: $(head -c 200 mrs.err)") ;;
      esac
    done
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_edge_max_record_size_crlf_boundary

t_empty_attached_value() {
  # `--name=` with nothing after the '=' is an empty value, as `--name ''`: CLI11 took the next
  # argument as the value (`--group-by= .x` grouped by .x; `--group-by= FILE` read the file's
  # name as an expression, exit 2). A flag keeps taking `--flag=` as given.
  local name="cli: --opt= is an empty value, not the next argument" msg=() got rc
  printf '{"x":1}\n{"x":2}\n' > eav.jsonl
  got=$("$PPIPE" --group-by= eav.jsonl 2>&1); rc=$?
  [ "$rc" = 0 ] && [ "$got" = '{"count":2}' ] || msg+=("--group-by= FILE: exit $rc: $got")
  rc=0; "$PPIPE" --group-by= .x eav.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q "'.x' is not a file" err || msg+=("--group-by= .x FILE: exit $rc: $(head -c 200 out err)")
  rc=0; "$PPIPE" --batch-size= eav.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--batch-size needs a value, got an empty one" err || msg+=("--batch-size=: exit $rc: $(head -c 200 err)")
  # A flag with an empty value (`--uniq-all=$UNSET`) is refused too: it turned the flag on.
  for f in --stats= --uniq-all=; do
    rc=0; "$PPIPE" --uniq .x $f eav.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q -- "$f is empty: a flag is given alone" err || msg+=("$f: exit $rc: $(head -c 150 err)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_empty_attached_value

t_empty_values_refused() {
  # An empty value (an unset shell variable: `--errors="$LOG"`) is a usage error (exit 2), no
  # output written: some options took it as not given (--max-errors '': no limit, --top '': all,
  # --timeout '': none, --format '': jsonl), --errors '' failed only once the run had started.
  local name="cli: an empty option value is a usage error (exit 2) naming the option" msg=() opt rc
  printf '{"a":1}\n' > ev.jsonl
  for opt in "--errors" "--max-errors" "--stats-interval" "--format" "--config" "--group-by .a --top" \
             "--group-by .a --sort" "--exec cat --timeout" "--exec cat --rate" "--exec cat --concurrency"; do
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $opt '' ev.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && [ ! -s out ] && grep -Eq -- "${opt##* }:? needs a value, got an empty one" err ||
      msg+=("[$opt ''] exit $rc: $(head -c 150 err)")
  done
  [ "$("$PPIPE" --group-by '' ev.jsonl)" = '{"count":1}' ] || msg+=("--group-by '' is one group")
  [ "$("$PPIPE" --arg x '' --map '$x' ev.jsonl)" = '""' ] || msg+=("--arg x '' is the empty string")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_empty_values_refused

t_help_write_failure() {
  # --help, --version, help TOPIC and --print-config on a full disk: exit 3 with the reason (they
  # exited 0: a script's `--print-config > job.toml` left an empty file and reported success). A
  # reader that goes away (`| head -1`) is no failure.
  local name="cli: --help, --version, help, --print-config: a failed write is exit 3; a closed pipe is not" msg=() a rc
  for a in "--help" "--version" "help --man" "help agg" "--filter .a --print-config"; do
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $a > /dev/full 2> err || rc=$?
    [ "$rc" = 3 ] && grep -q 'cannot write the output: No space left on device' err || msg+=("[$a > /dev/full] exit $rc: $(head -c 150 err)")
  done
  "$PPIPE" help --man 2> err | head -c 10 > /dev/null
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] && [ ! -s err ] || msg+=("help --man | head -c 10: exit $rc: $(head -c 150 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_help_write_failure

t_jq_bundles_and_raw_modes() {
  # jq's bundles with -r or -j in them (-cr, jq's most common spelling) get the jq hint (they
  # said "unknown option"); -r with --output raw0 and --join-output with --output raw are refused
  # (the flag's mode was written, the --output given ignored).
  local name="cli: -cr/-nr/-cj get the jq hint; -r --output raw0 and --join-output --output raw are usage errors" msg=() a rc
  printf '{"s":"x"}\n' > jb.jsonl
  for a in -cr -nr -cj; do
    rc=0; "$PPIPE" "$a" jb.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q "(in '$a') is a jq option, not a ppipe one" err || msg+=("[$a] exit $rc: $(head -c 150 err)")
  done
  for a in "-r --output raw0" "--join-output --output raw"; do
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $a --map .s jb.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q "do not go together" err && [ ! -s out ] || msg+=("[$a] exit $rc: $(head -c 150 out err)")
  done
  [ "$("$PPIPE" -r --output raw --map .s jb.jsonl)" = x ] || msg+=("-r --output raw changed")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_jq_bundles_and_raw_modes

t_config_short_key() {
  # A config key is a long option's name: a one-letter key (`j = 1`, CLI11's short option) is
  # refused with the long name. It escaped the check for a key set twice: `j = 1` and
  # `workers = 3` ran with the first, silently.
  local name="config: a one-letter key is refused with the long name (it escaped the set-twice check)" msg=() rc
  printf '{"a":1}\n' > ck.jsonl
  printf 'j = 1\nworkers = 3\n' > ck.toml
  rc=0; "$PPIPE" --config ck.toml ck.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q "ck.toml line 1: unknown key 'j': a key is a long option's name, 'workers'" err ||
    msg+=("exit $rc: $(head -c 200 err)")
  printf 'workers = 3\n' > ck2.toml
  [ "$("$PPIPE" --config ck2.toml ck.jsonl)" = '{"a":1}' ] || msg+=("workers = 3 broke")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_config_short_key

t_config_repeated_stage_flag() {
  # --print-config writes a stage flag once per occurrence (`uniq-all = [true, true]`) and a
  # config file may say so: the n-th configures the n-th stage. Written once, the second uniq lost
  # --uniq-all, and the file's run kept a record the command line's dropped.
  local name="config: a repeated stage flag round-trips through --print-config (one true per occurrence)" msg=() want got rc
  printf '{"a":1,"s":"x"}\n{"a":2,"s":"y"}\n{"a":3,"s":"x"}\n' > rsf.jsonl
  want=$("$PPIPE" --uniq .a --uniq-all --uniq .s --uniq-all rsf.jsonl)
  "$PPIPE" --uniq .a --uniq-all --uniq .s --uniq-all --print-config > rsf.toml
  grep -qx 'uniq-all = \[true, true\]' rsf.toml || msg+=("written: $(grep uniq-all rsf.toml)")
  got=$("$PPIPE" --config rsf.toml rsf.jsonl 2>&1)
  [ "$got" = "$want" ] || msg+=("read back: $(echo "$got" | head -c 200), want $(echo "$want" | tr '\n' ' ')")
  "$PPIPE" --config rsf.toml --print-config | cmp -s - rsf.toml || msg+=("--print-config of the file differs from it")
  # An array lists occurrences, one true each: a false holds no place (it put the flag on the
  # first stage), an empty array and an array of a shared flag are refused.
  local bad
  for bad in 'uniq-all = [false, true]' 'uniq-all = []' 'partial = [true, false]'; do
    printf 'stages = "parse,uniq,uniq"\nuniq = [".a", ".s"]\n%s\n' "$bad" > rsf-bad.toml
    rc=0; "$PPIPE" --config rsf-bad.toml rsf.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q 'rsf-bad.toml line 3' err || msg+=("[$bad] exit $rc: $(head -c 200 err)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_config_repeated_stage_flag

t_engine_counts_decimal() {
  # -j, --queue-depth, --max-errors, --table-rows take decimal digits: 0x10 ran 16 workers, ' 2'
  # was taken, and 1.5 or 2k said "Could not convert: --workers = 1.5".
  local name="cli: -j, --queue-depth, --max-errors, --table-rows: a whole number, or a clear usage error" msg=() a rc
  printf '{"a":1}\n' > ed.jsonl
  for a in "-j 1.5" "-j 2k" "-j 0x10" "--queue-depth 1e3" "--max-errors -1" "--output table --table-rows 5x"; do
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $a ed.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] && grep -q 'expected a whole number like 4, not' err || msg+=("[$a] exit $rc: $(head -c 150 err)")
  done
  rc=0; "$PPIPE" -j ' 2' ed.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] || msg+=("[-j ' 2'] exit $rc")
  [ "$("$PPIPE" -j 2 --queue-depth 8 --max-errors 3 ed.jsonl)" = '{"a":1}' ] || msg+=("plain numbers broke")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_engine_counts_decimal

t_stages_blanks() {
  # --stages: blanks around a name are dropped, blanks inside one are not (`p a r s e` ran parse).
  local name="cli: --stages 'p a r s e' is an unknown stage; ' parse , head ' is parse,head" msg=() rc
  printf '{"a":1}\n{"a":2}\n' > sb.jsonl
  rc=0; "$PPIPE" --stages 'p a r s e' sb.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q "unknown stage 'p a r s e'" err || msg+=("'p a r s e': exit $rc: $(head -c 150 err)")
  [ "$("$PPIPE" --stages ' parse , head ' --head 1 sb.jsonl)" = '{"a":1}' ] || msg+=("' parse , head ' broke")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stages_blanks

t_stage_option_messages() {
  # A second exec with one --exec is refused as a second exec (it said "needs its option --exec
  # (one per 'exec' stage)", as if two were allowed); a count past 64 bits says it is too large
  # (it said "needs a non-negative integer").
  local name="cli: parse,exec,exec says one exec per run; --head 99999999999999999999 is too large" msg=() rc
  printf '{"a":1}\n' > som.jsonl
  rc=0; "$PPIPE" --stages parse,exec,exec --exec cat som.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q "'exec' cannot come after 'exec' in one chain (one exec per run" err || msg+=("exec,exec: exit $rc: $(head -c 200 err)")
  rc=0; "$PPIPE" --head 99999999999999999999 som.jsonl > out 2> err || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--head 99999999999999999999 is too large (at most 18446744073709551615)" err || msg+=("huge --head: exit $rc: $(head -c 200 err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_stage_option_messages

t_debug_lines_whole() {
  # jq's debug and stderr builtins write their lines under the lock every writer of stderr takes:
  # with their own lock, a DEBUG line broke error records longer than PIPE_BUF on a full pipe (15
  # to 24 of 150 lines were not JSON).
  local name="debug/stderr builtins: their lines never land inside an error record (one stderr lock)" msg=() k bad
  python3 -c "
import json
for i in range(100): print(json.dumps({'i': i, 'pad': 'p' * 30000}))" > dbg100.jsonl
  for k in 1 2; do
    "$PPIPE" -j 2 --batch-size 64K --map 'debug | if .i % 2 == 0 then error("x") else . end' dbg100.jsonl 2>&1 > /dev/null |
      (sleep 1; cat) > dbg.err
    bad=$(non_json_lines dbg.err 150)
    [ "$bad" = 0 ] || msg+=("run $k: $bad lines are not JSON")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_debug_lines_whole

t_side_pipes_do_not_cut_output() {
  # Stats are a side channel: a closed pipe that only the --stats-interval lines go to (their own
  # --stats-file pipe, or stderr with nothing else) stops the stats, not the run: every record is
  # written, exit 0. (A change of this session stopped the run there, output cut short with exit 0;
  # the review found it before it landed.)
  local name="pipes: a closed pipe of the stats lines alone does not cut the output short" msg=() rc n
  seq 1 40000 | sed 's/.*/{"i":&}/' > side40k.jsonl
  rc=0
  ( head -n 100 side40k.jsonl; sleep 1.2; tail -n +101 side40k.jsonl ) |
    "$PPIPE" --stats-interval 50ms --stats-file >(head -n 1 > /dev/null) > side.out 2> side.err || rc=$?
  n=$(wc -l < side.out)
  [ "$rc" = 0 ] && [ "$n" = 40000 ] || msg+=("--stats-file pipe closed: exit $rc, $n of 40000 lines")
  rc=0
  ( head -n 100 side40k.jsonl; sleep 1.2; tail -n +101 side40k.jsonl ) |
    { "$PPIPE" --stats-interval 50ms 2>&1 > side.out; echo $? > side.rc; } | head -n 1 > /dev/null
  sleep 0.3
  n=$(wc -l < side.out)
  [ "$(cat side.rc)" = 0 ] && [ "$n" = 40000 ] || msg+=("stderr (stats lines only) closed: exit $(cat side.rc), $n of 40000 lines")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_side_pipes_do_not_cut_output

t_tty_eof_oversized_last() {
  # On a terminal, Ctrl-D ends the input once: a last line longer than --max-record-size with no
  # newline was skipped by reading the terminal again, so the run went on until another Ctrl-D.
  local name="tty: Ctrl-D after an oversized last line ends the run at once" got
  cat > pty_eof.py <<'PY'
import os, pty, sys, time, signal
P, out_path = sys.argv[1], sys.argv[2]
m, s = pty.openpty()
pid = os.fork()
if pid == 0:
    os.dup2(s, 0); os.close(m)
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.execv(P, [P, "--max-record-size", "20"])
os.close(s)
time.sleep(0.3)
os.write(m, b'{"a":1}\n{"s":"xxxxxxxxxxxxxxxxxxxxxxxxxxx"}')
time.sleep(0.2)
os.write(m, b"\x04")  # sends the partial line
time.sleep(0.2)
os.write(m, b"\x04")  # the end of the input
t0 = time.time()
while time.time() - t0 < 3:
    r, st = os.waitpid(pid, os.WNOHANG)
    if r:
        print("exit %d" % os.waitstatus_to_exitcode(st)); break
    time.sleep(0.05)
else:
    print("still running 3 s after the end"); os.kill(pid, signal.SIGTERM); os.waitpid(pid, 0)
PY
  got=$(python3 pty_eof.py "$PPIPE" "$PWD/pty.out")
  if [ "$got" = "exit 1" ] && grep -q '"record_size":35' pty.out; then ok "$name"; else not_ok "$name" "$got: $(head -c 300 pty.out)"; fi
}
register t_tty_eof_oversized_last

t_non_utf8_file_name() {
  # A file name that is not UTF-8 (Latin-1 "café"): error records and diagnostics stay JSON (the
  # raw byte made the line invalid: Python's json and serde refused it, jq replaced the byte), the
  # name is in "source" with U+FFFD and exactly in "source_base64" (found by a bug hunt).
  local name="a file name that is not UTF-8: error records and messages are JSON, the exact name in source_base64" got
  local f; f=$(printf 'caf\xe9.jsonl')
  printf '{"a":1}\nnot json\n' > "$f"
  "$PPIPE" --errors u8.err "$f" > u8.out 2> /dev/null
  "$PPIPE" "$(printf 'missing\xe9.jsonl')" > /dev/null 2> u8.diag
  got=$(python3 - "$f" <<'PY'
import base64, json, sys
name = sys.argv[1].encode('utf-8', 'surrogateescape')
e = json.loads(open('u8.err', 'rb').read().decode('utf-8'))
d = json.loads(open('u8.diag', 'rb').read().decode('utf-8'))
print(e['source'] == 'caf\ufffd.jsonl', base64.b64decode(e['source_base64']) == name, e['line'],
      'missing\ufffd.jsonl' in d['message'])
PY
  )
  if [ "$got" = "True True 2 True" ]; then ok "$name"; else not_ok "$name" "$got: $(od -c u8.err | head -2)"; fi
}
register t_non_utf8_file_name

t_terminal_messages_escape_names() {
  # On a terminal, a message naming a file shows its control bytes as escapes, as error records'
  # lines do: a directory named "logs ESC ]0;owned BEL ESC [2J" given as input set the terminal's
  # title and cleared the screen through "cannot read ...: Is a directory" (found by a bug hunt).
  local name="messages on a terminal escape control bytes of file names" got
  mkdir -p "$(printf 'tdir\033]0;owned\007\033[2J')"
  got=$(PPIPE="$PPIPE" script -qec 'cd "$PWD" && "$PPIPE" ./tdir*' /dev/null < /dev/null | tr -d '\r')
  if printf '%s' "$got" | grep -q $'\033'; then not_ok "$name" "raw ESC on the terminal: $(printf '%s' "$got" | od -c | head -3)"; return
  elif ! printf '%s' "$got" | grep -qF 'tdir\x1b]0;owned\x07\x1b[2J'; then not_ok "$name" "$got"; return
  fi
  # The same in usage errors (a --config file that cannot be read); a program's tabs are kept.
  got=$(PPIPE="$PPIPE" script -qec 'cd "$PWD" && "$PPIPE" --config ./tdir*' /dev/null < /dev/null | tr -d '\r')
  if printf '%s' "$got" | grep -q $'\033'; then not_ok "$name" "usage error: raw ESC on the terminal: $(printf '%s' "$got" | od -c | head -3)"; return
  elif ! printf '%s' "$got" | grep -qF 'tdir\x1b]0;owned\x07\x1b[2J'; then not_ok "$name" "usage error: $got"; return
  fi
  # script(1) runs the command with $SHELL, which may be dash (no $'...'): the program goes in by
  # the environment.
  got=$(PPIPE="$PPIPE" PROG=$'.a +\t1 +' script -qec 'cd "$PWD" && "$PPIPE" --map "$PROG"' /dev/null < /dev/null | tr -d '\r')
  if ! printf '%s' "$got" | grep -qF $'  .a +\t1 +'; then not_ok "$name" "caret line with a tab: $got"; return; fi
  # And in the refusals of the command line's files (an input that is the output).
  printf '{"a":1}\n' > "$(printf 'tfile\033]0;owned\007.jsonl')"
  got=$(PPIPE="$PPIPE" script -qec 'cd "$PWD" && f=$(echo ./tfile*) && "$PPIPE" "$f" >> "$f"' /dev/null < /dev/null | tr -d '\r')
  if printf '%s' "$got" | grep -q $'\033'; then not_ok "$name" "refusal: raw ESC on the terminal: $(printf '%s' "$got" | od -c | head -3)"
  elif printf '%s' "$got" | grep -qF 'tfile\x1b]0;owned\x07.jsonl'"' is output file"; then ok "$name"
  else not_ok "$name" "refusal: $got"; fi
}
register t_terminal_messages_escape_names

t_parse_out_of_memory_message() {
  # A valid record whose parse does not fit in memory (ulimit -v) is "out of memory", not
  # "invalid JSON: Error allocating memory" (simdjson's MEMALLOC read as a syntax error; found by
  # a bug hunt). With enough memory the record passes and there is nothing to check.
  local name="a record whose parse runs out of memory is said to be out of memory, not invalid JSON" rc
  python3 -c "import sys; sys.stdout.write('[' + ','.join(['1'] * 10000000) + ']\n')" > oom20.jsonl
  local f msg=()
  for f in "" "--format json"; do
    rc=0
    # shellcheck disable=SC2086
    (ulimit -v 400000; "$PPIPE" -j 1 $f --errors oom.err oom20.jsonl > /dev/null 2> oom.stderr) || rc=$?
    if grep -q 'invalid JSON' oom.err; then msg+=("[$f] exit $rc: $(head -c 200 oom.err)")
    elif [ "$rc" != 0 ] && ! grep -q '"error":"out of memory' oom.err; then msg+=("[$f] exit $rc: $(head -c 200 oom.err) $(head -c 200 oom.stderr)"); fi
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_parse_out_of_memory_message
