# shellcheck shell=bash
# No output of ppipe may be one of its inputs (issue 12): refused with exit 2 before anything is
# opened for writing, so the input is left exactly as it was.

# same_file_refused NAME EXPECTED-MESSAGE-REGEX COMMAND...: runs COMMAND (a shell string) in a fresh
# directory holding victim.jsonl; expects exit 2, the message on stderr, victim.jsonl unchanged.
same_file_refused() {
  local name=$1 want=$2 cmd=$3
  rm -rf sf && mkdir sf && cd sf || return
  printf '{"a":1}\nbad\n{"a":2}\n' > victim.jsonl
  cp victim.jsonl orig
  local rc=0
  bash -c "$cmd" > /dev/null 2> err.txt < /dev/null || rc=$?
  local msg=()
  [ "$rc" = 2 ] || msg+=("exit $rc, expected 2")
  grep -qE "$want" err.txt || msg+=("message not found: $want; stderr: $(head -c 300 err.txt)")
  cmp -s victim.jsonl orig || msg+=("victim.jsonl was changed: $(head -c 200 victim.jsonl | cat -v)")
  cd .. || return
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "cmd: $cmd" "${msg[@]}"; fi
}

# stderr_refused NAME [OPTIONS...]: ppipe OPTIONS v.jsonl 2>> v.jsonl. Refused (exit 2) with
# v.jsonl exactly as it was: not even the refusal is written there (it goes to the terminal, if
# any), and no record is read or written.
stderr_refused() {
  local name=$1; shift
  printf '{"a":1}\nbad\n' > v.jsonl
  cp v.jsonl v.orig
  local rc=0 msg=()
  "$PPIPE" "$@" v.jsonl 2>> v.jsonl > out.jsonl < /dev/null || rc=$?
  [ "$rc" = 2 ] || msg+=("exit $rc, expected 2")
  cmp -s v.jsonl v.orig || msg+=("v.jsonl was changed: $(cat -v v.jsonl)")
  [ ! -s out.jsonl ] || msg+=("records were written")
  # On a terminal (script(1) gives the command one) the refusal is shown there.
  if command -v script > /dev/null; then
    local shown; shown=$(PPIPE="$PPIPE" ARGS="$*" script -qec 'cd "$PWD" && "$PPIPE" $ARGS v.jsonl 2>> v.jsonl' /dev/null < /dev/null | tr -d '\r')
    [[ "$shown" == *"ppipe: input file 'v.jsonl' is the error stream (stderr)"* ]] || msg+=("on a terminal, the refusal was not shown: $shown")
    cmp -s v.jsonl v.orig || msg+=("on a terminal, v.jsonl was changed: $(cat -v v.jsonl)")
  fi
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}

t_errors_file_is_input() {
  same_file_refused "--errors FILE FILE: refused, exit 2, input intact" \
    "^ppipe: --errors 'victim.jsonl' is the input file 'victim.jsonl': refusing to overwrite it$" \
    '"$PPIPE" --errors victim.jsonl victim.jsonl'
  same_file_refused "--errors ./FILE FILE (other spelling): refused" \
    "^ppipe: --errors './victim.jsonl' is the input file 'victim.jsonl'" \
    '"$PPIPE" --errors ./victim.jsonl victim.jsonl'
  same_file_refused "--errors LINK FILE (symlink): refused" \
    "^ppipe: --errors 'link.jsonl' is the input file 'victim.jsonl'" \
    'ln -s victim.jsonl link.jsonl && "$PPIPE" --errors link.jsonl victim.jsonl'
  same_file_refused "--errors HARDLINK, input among several files: refused" \
    "^ppipe: --errors 'hard.jsonl' is the input file 'victim.jsonl'" \
    'printf "{}\n" > other.jsonl && ln victim.jsonl hard.jsonl && "$PPIPE" --errors hard.jsonl other.jsonl victim.jsonl'
  same_file_refused "--errors FILE with FILE on stdin: refused" \
    "^ppipe: --errors 'victim.jsonl' is the input file stdin" \
    '"$PPIPE" --errors victim.jsonl < victim.jsonl'
}
register t_errors_file_is_input

t_stats_file_is_input() {
  same_file_refused "--stats-file FILE FILE: refused, exit 2, input intact" \
    "^ppipe: --stats-file 'victim.jsonl' is the input file 'victim.jsonl': refusing to overwrite it$" \
    '"$PPIPE" --stats-file victim.jsonl victim.jsonl'
  same_file_refused "--stats-file HARDLINK with --stats-interval: refused" \
    "^ppipe: --stats-file 'hard.jsonl' is the input file 'victim.jsonl'" \
    'ln victim.jsonl hard.jsonl && "$PPIPE" --stats-interval 1s --stats-file hard.jsonl victim.jsonl'
  # The stats alone on stderr (the errors elsewhere) make stderr an output too.
  stderr_refused "ppipe --stats --errors E FILE 2>> FILE (stats on stderr): refused, FILE intact" \
    --stats --errors e.jsonl
}
register t_stats_file_is_input

t_program_and_config_files_are_inputs() {
  # --map-file, --filter-file and --config are read too: --errors or --stats-file naming one of them
  # would destroy the user's program or config.
  local name="--errors/--stats-file naming the --map-file, --filter-file or --config: refused, file intact" msg=() rc args
  printf '{"a":1}\nbad\n' > pc.jsonl
  for args in "--map-file prog.jq --errors prog.jq" "--filter-file prog.jq --stats-file ./prog.jq" \
              "--config conf.toml --errors conf.toml" "--config conf.toml --stats-file conf.toml"; do
    echo '.a' > prog.jq
    printf 'map = ".a"\n' > conf.toml
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $args pc.jsonl > out 2> err || rc=$?
    [ "$rc" = 2 ] || msg+=("[$args] exit $rc, expected 2")
    grep -q "refusing to overwrite it" err || msg+=("[$args] stderr: $(head -c 200 err)")
    [ "$(cat prog.jq)" = .a ] || msg+=("[$args] prog.jq changed: $(head -c 200 prog.jq)")
    [ "$(cat conf.toml)" = 'map = ".a"' ] || msg+=("[$args] conf.toml changed: $(head -c 200 conf.toml)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_program_and_config_files_are_inputs

t_stdout_is_input() {
  same_file_refused "ppipe FILE >> FILE: 'input file is output file', exit 2" \
    "^ppipe: input file 'victim.jsonl' is output file \(stdout\)$" \
    '"$PPIPE" victim.jsonl >> victim.jsonl'
  same_file_refused "ppipe < FILE >> FILE: refused" \
    "^ppipe: input file stdin is output file \(stdout\)$" \
    '"$PPIPE" < victim.jsonl >> victim.jsonl'
  stderr_refused "ppipe FILE 2>> FILE (the error stream): refused, FILE intact"
  # Error records and stats elsewhere: any message ppipe prints (a read error, a warning) would
  # still land in FILE.
  stderr_refused "ppipe --errors E --stats-file S FILE 2>> FILE: refused, FILE intact" --errors e.jsonl --stats --stats-file s.json
}
register t_stdout_is_input

t_distinct_outputs_still_work() {
  local name="outputs that are not inputs still work (--errors new file, stdout a new file, /dev/null)"
  printf '{"a":1}\nbad\n' > in.jsonl
  local rc=0 msg=()
  "$PPIPE" --errors errs.jsonl in.jsonl > out.jsonl || rc=$?
  [ "$rc" = 1 ] || msg+=("exit $rc, expected 1")
  [ "$(cat out.jsonl)" = '{"a":1}' ] || msg+=("stdout: $(cat out.jsonl)")
  [ "$(jq -r .line errs.jsonl)" = 2 ] || msg+=("errors: $(cat errs.jsonl)")
  "$PPIPE" --errors /dev/null in.jsonl > /dev/null; rc=$?
  [ "$rc" = 1 ] || msg+=("--errors /dev/null: exit $rc")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_distinct_outputs_still_work

# Outputs that are one file (--errors /dev/stdout > f, --stats-file /dev/stderr 2> f, --errors and
# --stats-file naming one file, directly or through a link) share one descriptor, as 2>&1 does:
# nothing is written over (each was opened again, truncated and written from offset 0, so the
# stats line replaced the error records, the error records the output).
t_outputs_that_are_one_file() {
  local name="outputs that are one file keep all of their lines (--errors /dev/stdout, --stats-file /dev/stderr, the same file twice)"
  printf '{"a":1}\nbad\nworse\n{"a":3}\n' > in.jsonl
  local msg=() got
  "$PPIPE" --errors /dev/stdout in.jsonl > both.out
  got=$(jq -c 'if has("line") then .line else .a end' both.out | sort | tr '\n' ' ')
  [ "$got" = "1 2 3 3 " ] || msg+=("--errors /dev/stdout > f: $(tr '\n' ' ' < both.out | head -c 300)")
  "$PPIPE" --stats-file /dev/stderr in.jsonl 2> log > /dev/null
  got=$(jq -c 'if has("line") then .line else .records_in end' log | tr '\n' ' ')
  [ "$got" = "2 3 4 " ] || msg+=("--stats-file /dev/stderr 2> f: $(tr '\n' ' ' < log | head -c 300)")
  "$PPIPE" --errors one.out --stats-file one.out in.jsonl > /dev/null
  got=$(jq -c 'if has("line") then .line else .records_in end' one.out | tr '\n' ' ')
  [ "$got" = "2 3 4 " ] || msg+=("--errors f --stats-file f: $(tr '\n' ' ' < one.out | head -c 300)")
  ln -sf one.out link.out
  "$PPIPE" --errors one.out --stats-file link.out in.jsonl > /dev/null
  got=$(jq -c 'if has("line") then .line else .records_in end' one.out | tr '\n' ' ')
  [ "$got" = "2 3 4 " ] || msg+=("--errors f --stats-file link-to-f: $(tr '\n' ' ' < one.out | head -c 300)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_outputs_that_are_one_file

t_same_file_refusal_not_into_stderr_input() {
  # When stderr is an input, no refusal may be written there, whichever output the refusal names
  # (`--errors /dev/stderr in 2>> in` appended its message to the input).
  local name="a refusal is not written into an input that is stderr (--errors/--stats-file /dev/stderr, 2>> input)" msg=() rc o got
  # (also a command line that does not parse: its usage error was appended to the input)
  for o in '--errors /dev/stderr' '--stats-file /dev/stderr' '--errors /proc/self/fd/2' '--map .a+' '--nosuchopt'; do
    printf '{"a":1}\n' > sfe.jsonl
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $o sfe.jsonl 2>> sfe.jsonl > /dev/null < /dev/null || rc=$?
    [ "$rc" = 2 ] || msg+=("$o: exit $rc (want 2)")
    [ "$(cat sfe.jsonl)" = '{"a":1}' ] || msg+=("$o: the input changed:" "$(head -c 300 sfe.jsonl)")
  done
  # The input is stdin, named by no word of a command line that does not parse (`ppipe --map
  # '.a +' < f 2>> f`: the caret message was appended to f; found by a bug hunt).
  for o in '--map .a+' '--nosuchopt'; do
    printf '{"a":1}\n' > sfe.jsonl
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $o < sfe.jsonl 2>> sfe.jsonl > /dev/null || rc=$?
    [ "$rc" = 2 ] || msg+=("$o < f: exit $rc (want 2)")
    [ "$(cat sfe.jsonl)" = '{"a":1}' ] || msg+=("$o < f: the input changed:" "$(head -c 300 sfe.jsonl)")
  done
  # The input is a program named only inside the --config file (`map-file = "prog.jq"`): the
  # usage error was appended to the program (found by a bug hunt).
  printf '.a + 1\n' > sfe.jq
  printf 'stages = "parse,map"\nmap-file = "sfe.jq"\n' > sfe.toml
  # (also named in an array over several lines, or with a comment after it)
  printf 'stages = "parse,map"\nmap-file = [\n  "sfe.jq",\n]\n' > sfe2.toml
  printf 'stages = "parse,map"\nmap-file = sfe.jq  # the program\n' > sfe3.toml
  for o in '--config sfe.toml' '--config=sfe.toml' '--config sfe2.toml' '--config sfe3.toml'; do
    rc=0
    # shellcheck disable=SC2086
    "$PPIPE" $o --nosuchopt 2>> sfe.jq > /dev/null < /dev/null || rc=$?
    [ "$rc" = 2 ] || msg+=("$o --nosuchopt 2>> prog: exit $rc (want 2)")
    [ "$(cat sfe.jq)" = '.a + 1' ] || msg+=("$o: the program changed:" "$(head -c 300 sfe.jq)")
  done
  # A config read from a pipe, with stderr a file: read once, by the run (a scan of the files it
  # names read it first, and the run went on without its settings).
  rc=0
  got=$(printf 'stages = "parse,map"\nmap = ".a + 10"\n' | "$PPIPE" --config /dev/stdin <(printf '{"a":1}\n') 2>> sfe.log) || rc=$?
  [ "$rc" = 0 ] && [ "$got" = 11 ] || msg+=("--config /dev/stdin 2>> file: exit $rc, output $got (want 11)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_same_file_refusal_not_into_stderr_input

t_print_config_not_into_its_config() {
  # --print-config into the --config file it reads (or a --map-file): with >> the file got a
  # second copy of every key (unusable: "set twice"), with > the shell emptied it first and the
  # settings were silently dropped, exit 0 both. Refused (exit 2) as a run's output into its
  # input is; into another file it still works (found by a bug hunt).
  local name="--print-config into the config or program file it reads is refused (exit 2)" msg=() rc
  printf 'filter = ".a > 1"\nhead = 5\n' > pc.toml
  printf '.a\n' > pc.jq
  rc=0; "$PPIPE" --config pc.toml --print-config >> pc.toml 2> pc.err || rc=$?
  [ "$rc" = 2 ] && grep -q "stdout is 'pc.toml', a file this command line reads" pc.err &&
    [ "$(cat pc.toml)" = "$(printf 'filter = ".a > 1"\nhead = 5')" ] || msg+=(">> pc.toml: exit $rc, $(head -c 200 pc.err), file: $(head -c 200 pc.toml)")
  rc=0; "$PPIPE" --map-file pc.jq --print-config >> pc.jq 2> pc.err || rc=$?
  [ "$rc" = 2 ] && [ "$(cat pc.jq)" = .a ] || msg+=(">> pc.jq: exit $rc, $(head -c 200 pc.err)")
  # (stderr into it too: the refusal is not written there; an input file named is protected too)
  rc=0; "$PPIPE" --config pc.toml --print-config >> pc.toml 2>&1 || rc=$?
  [ "$rc" = 2 ] && [ "$(cat pc.toml)" = "$(printf 'filter = ".a > 1"\nhead = 5')" ] || msg+=(">> pc.toml 2>&1: exit $rc, file: $(head -c 300 pc.toml)")
  printf '{"a":1}\n' > pc-in.jsonl
  rc=0; "$PPIPE" --print-config pc-in.jsonl >> pc-in.jsonl 2> pc.err || rc=$?
  [ "$rc" = 2 ] && [ "$(cat pc-in.jsonl)" = '{"a":1}' ] || msg+=(">> input: exit $rc, file: $(head -c 300 pc-in.jsonl)")
  rc=0; "$PPIPE" --config pc.toml --print-config > pc2.toml 2> pc.err || rc=$?
  [ "$rc" = 0 ] && grep -q 'head = 5' pc2.toml || msg+=("> other file: exit $rc, $(head -c 200 pc.err)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_print_config_not_into_its_config

t_same_file_empty_attached_value() {
  # `--errors=$UNSET in.jsonl` (an unset variable): CLI11 took the next word as the value, so the
  # input became the error file and was overwritten, exit 0. Now it is a usage error and the input
  # is untouched; the same for --stats-file.
  local name="never overwrite an input: --errors= and --stats-file= before an input file are usage errors" msg=() o rc
  for o in --errors= --stats-file=; do
    printf '{"a":1}\nbad\n' > day1.jsonl
    cp day1.jsonl day1.bak
    rc=0; "$PPIPE" "$o" day1.jsonl < /dev/null > out 2> err || rc=$?
    [ "$rc" = 2 ] && cmp -s day1.jsonl day1.bak || msg+=("[$o day1.jsonl] exit $rc, input $(cmp -s day1.jsonl day1.bak && echo intact || echo changed): $(head -c 150 err)")
  done
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_same_file_empty_attached_value

t_closed_std_named_as_output() {
  # --errors /dev/stderr or --stats-file /dev/stderr with stderr closed (2>&-): the writes fail,
  # exit 3, as without the option (the /dev/null reserved in its place was opened: the error
  # records and the stats line went nowhere, exit 1 and 0; found by a bug hunt).
  local name="--errors/--stats-file naming a closed stderr or stdout fail (exit 3), not write into nothing" msg=() rc
  printf '{"a":1}\nnot json\n' > cso-mixed.jsonl
  printf '{"a":1}\n' > cso-ok.jsonl
  rc=0; "$PPIPE" --errors /dev/stderr cso-mixed.jsonl > /dev/null 2>&- || rc=$?
  [ "$rc" = 3 ] || msg+=("--errors /dev/stderr 2>&-: exit $rc")
  rc=0; "$PPIPE" --stats-file /dev/stderr cso-ok.jsonl > /dev/null 2>&- || rc=$?
  [ "$rc" = 3 ] || msg+=("--stats-file /dev/stderr 2>&-: exit $rc")
  rc=0; "$PPIPE" --errors /proc/self/fd/2 cso-mixed.jsonl > /dev/null 2>&- || rc=$?
  [ "$rc" = 3 ] || msg+=("--errors /proc/self/fd/2 2>&-: exit $rc")
  rc=0; "$PPIPE" --errors /dev/stderr cso-mixed.jsonl > /dev/null 2> cso.err || rc=$?
  [ "$rc" = 1 ] && grep -q '"line":2' cso.err || msg+=("--errors /dev/stderr (open): exit $rc")
  # A socket among the inputs is refused before the inputs ahead of it are written.
  python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('cso.sock')"
  rc=0; "$PPIPE" cso-ok.jsonl cso.sock > cso.out 2> cso.err || rc=$?
  [ "$rc" = 3 ] && [ ! -s cso.out ] && grep -q "cannot open 'cso.sock'" cso.err || msg+=("socket input: exit $rc, output $(head -c 100 cso.out)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_closed_std_named_as_output
