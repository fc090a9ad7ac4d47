#!/usr/bin/env bash
# Differential test: ppipe --filter/--map (and -r, --join-output) against jq 1.6 on small slices
# of real data.
#
#   tests/jqdiff/run.sh PPIPE [PPIPE_GEN]            ppipe against jq's stored answers (expected/)
#   tests/jqdiff/run.sh --update PPIPE [PPIPE_GEN]   run jq 1.6 on every case and rewrite expected/
#
# PPIPE_GEN (default: ppipe-gen next to PPIPE) generates the access-log dataset "gen";
# without it the "gen" runs are reported as failures (they cannot be skipped silently).
# jq's answer for a case is what `jq -c PROGRAM < DATASET` (raw cases: `jq -r -c`, join cases:
# `jq -j -c`) writes and exits with; expected/ holds them (README.md), so a run starts one ppipe
# per case and no jq, except to normalize a ppipe output that is not byte-identical to jq's and
# to diagnose a difference.
# Environment:
#   JQ=/usr/bin/jq        jq 1.6: the oracle for --update and JQDIFF_LIVE, the normalizer always
#   JQDIFF_LIVE=0         0: jq's answers from expected/ only. N: also run jq live on every N-th
#                         case (case number 1, N+1, ...) and fail the case if jq's answer is not the
#                         stored one. all: run jq live on every case; ppipe is compared with the live
#                         answer and a stored answer that differs from it fails the case.
#   JQDIFF_JOBS=2         cases run at once
#   JQDIFF_ONLY=REGEX     run only cases whose "kind[dataset] expression" matches (bash =~, ERE)
#   JQDIFF_DIAG=1         on a difference, bisect the dataset to the first input line that
#                         differs and show that line with both tools' results (0: off; runs jq)
#   JQDIFF_VERBOSE=1      also print the diagnostics of deliberate differences
# Case files (see README.md): filters.txt, maps.txt, chains.txt, raws.txt, joins.txt,
# rejects.txt; accepted differences: deliberate.txt. Exit status: 0 when every case is ok, 1 otherwise, 2 usage.
set -u
export LC_ALL=C

usage() {
  echo "usage: $0 [--update] PPIPE [PPIPE_GEN]" >&2
  exit 2
}
UPDATE=0
if [[ ${1:-} == --update ]]; then UPDATE=1; shift; fi
[[ $# -lt 1 || $# -gt 2 ]] && usage
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXP=$HERE/expected
PPIPE=$(realpath "$1")
GEN=${2:-$(dirname "$PPIPE")/ppipe-gen}
JQ=${JQ:-jq}
JOBS=${JQDIFF_JOBS:-2}
ONLY=${JQDIFF_ONLY:-}
DIAG=${JQDIFF_DIAG:-1}
VERBOSE=${JQDIFF_VERBOSE:-0}
LIVE=${JQDIFF_LIVE:-0}
[[ $LIVE == all || $LIVE =~ ^[0-9]+$ ]] || { echo "$0: JQDIFF_LIVE must be 0, a number or all" >&2; exit 2; }
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "$0: JQDIFF_JOBS must be a positive number" >&2; exit 2; }
if (( UPDATE )) && [[ -n $ONLY ]]; then echo "$0: --update rewrites every answer: unset JQDIFF_ONLY" >&2; exit 2; fi
# ppipe runs with two workers and small batches so that ordering across batches is exercised.
PP_OPTS=(-j 2 --batch-size 16K)

[[ -x $PPIPE ]] || { echo "$0: $PPIPE is not executable" >&2; exit 2; }
command -v "$JQ" >/dev/null || { echo "$0: jq not found (apt-get install jq)" >&2; exit 2; }
jqver=$("$JQ" --version 2>&1)
if (( UPDATE )) && [[ $jqver != jq-1.6 ]]; then
  echo "$0: --update records jq 1.6's answers; $JQ is $jqver" >&2; exit 2
fi
ORACLE=stored; [[ $LIVE == all ]] && ORACLE=live
[[ $LIVE != 0 && $jqver != jq-1.6* ]] && echo "# warning: live oracle is $jqver, expected/ and deliberate.txt assume jq-1.6"

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jqdiff.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/data" "$WORK/res" "$WORK/scratch" "$WORK/bin"
# Private copies: the build tree may be relinked while the suite runs.
cp "$PPIPE" "$WORK/bin/ppipe" || exit 2
PPIPE_SHOWN=$PPIPE PPIPE=$WORK/bin/ppipe
if [[ -x $GEN ]]; then cp "$GEN" "$WORK/bin/ppipe-gen" && GEN=$WORK/bin/ppipe-gen; fi

# ---- datasets -------------------------------------------------------------------------
ALL_DS=(gh dns weird flights tweets gen edge numbers toobig negzero text strnum)
declare -A DSFILE
for ds in gh dns weird flights tweets edge numbers toobig negzero text strnum; do DSFILE[$ds]=$HERE/data/$ds.jsonl; done
if [[ -x $GEN ]]; then
  "$GEN" --seed 5 --records 3000 > "$WORK/data/gen.jsonl" && DSFILE[gen]=$WORK/data/gen.jsonl
fi

# norm_ds DS: a copy of the dataset normalized by jq -c . (one value per line), made when first
# needed, for looking up what --filter passes through. Sets NORM to its path.
norm_ds() {
  NORM=$WORK/data/$1.norm.$BASHPID
  [[ -f $NORM ]] && return 0
  "$JQ" -c . "${DSFILE[$1]}" > "$NORM" 2>/dev/null &&
    [[ $(wc -l < "${DSFILE[$1]}") == $(wc -l < "$NORM") ]] ||
    { echo "dataset $1 is not one JSON value per line (for jq)"; rm -f "$NORM"; return 1; }
}

# sha256 of each dataset: expected/ records the ones its answers were made from.
declare -A DSSUM
while read -r sum f; do
  for ds in "${!DSFILE[@]}"; do [[ ${DSFILE[$ds]} == "$f" ]] && DSSUM[$ds]=$sum; done
done < <(sha256sum "${DSFILE[@]}")

# ---- case files ------------------------------------------------------------------------
# Each case: kind (filter|map|chain|raw|join|reject), dataset, the expression as written (the key
# in deliberate.txt), the ppipe stage arguments and jq's key (jq_args).
T_KIND=() T_DS=() T_EXPR=() T_PPARGS=() T_JQ=() T_WHERE=()
SEP=$'\x1f'

# trim VAR STRING: VAR = STRING without leading and trailing white space (no subshell).
trim() { local s=$2; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf -v "$1" '%s' "$s"; }

# parse_chain "@filter A @map B ..." -> sets CH_PP (args joined by SEP) and CH_JQ
parse_chain() {
  local s=" $1 " part kind expr
  local -a parts
  CH_PP="" CH_JQ=""
  s=${s// @filter /$'\x1e'filter$'\x1d'}
  s=${s// @map /$'\x1e'map$'\x1d'}
  IFS=$'\x1e' read -ra parts <<< "$s"
  trim expr "${parts[0]}"
  [[ -z $expr && ${#parts[@]} -ge 2 ]] || return 1
  for part in "${parts[@]:1}"; do
    kind=${part%%$'\x1d'*}; trim expr "${part#*$'\x1d'}"
    [[ -n $expr ]] || return 1
    CH_PP+="${CH_PP:+$SEP}--$kind$SEP$expr"
    if [[ $kind == filter ]]; then
      CH_JQ+="${CH_JQ:+ | }select($expr)"
    else
      CH_JQ+="${CH_JQ:+ | }($expr)"
    fi
  done
}

# is_ds_list "a,b": is every name a dataset (or all)? (no subshell: BASH_REMATCH survives)
is_ds_list() {
  local n; local -a ns
  IFS=, read -ra ns <<< "$1"
  for n in "${ns[@]}"; do [[ $n == all || " ${ALL_DS[*]} " == *" $n "* ]] || return 1; done
}

load_cases() {
  local kind=$1 file=$HERE/$2 lineno=0 line defds="edge" dsl expr jqexpr ds
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    ((lineno++))
    trim line "$line"
    [[ -z $line || $line == \#* ]] && continue
    if [[ $line =~ ^@datasets[[:space:]]+([a-z,]+)$ ]]; then
      defds=${BASH_REMATCH[1]}
      continue
    fi
    dsl=$defds
    # A leading @word is a dataset tag only when it names datasets: `@sh "\(.a)"` is jq's.
    if [[ $kind != chain && $line =~ ^@([a-z,]+)[[:space:]]+(.*)$ ]] && is_ds_list "${BASH_REMATCH[1]}"; then
      dsl=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
    elif [[ $kind == chain && $line =~ ^@([a-z,]+)[[:space:]]+(@(filter|map)[[:space:]].*)$ ]] \
         && [[ ${BASH_REMATCH[1]} != filter && ${BASH_REMATCH[1]} != map ]]; then
      dsl=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
    fi
    expr=$line jqexpr=""
    if [[ $line == *" @jq "* ]]; then
      trim expr "${line%% @jq *}"; trim jqexpr "${line#* @jq }"
    fi
    [[ $dsl == all ]] && dsl=$(IFS=,; echo "${ALL_DS[*]}")
    local pp jqp
    case $kind in
      filter) pp="--filter$SEP$expr"; jqp="select(${jqexpr:-$expr})" ;;
      map)    pp="--map$SEP$expr";    jqp=${jqexpr:-$expr} ;;
      chain)  parse_chain "$expr" || { echo "# bad chain line $2:$lineno: $line" >&2; BAD=1; continue; }
              pp=$CH_PP; jqp=${jqexpr:-$CH_JQ} ;;
      raw)    pp="--map$SEP$expr$SEP-r";            jqp="-rc ${jqexpr:-$expr}" ;;
      join)   pp="--map$SEP$expr$SEP--join-output"; jqp="-jc ${jqexpr:-$expr}" ;;
      reject) pp="--map$SEP$expr"; jqp="" ;;
    esac
    IFS=, read -ra dss <<< "$dsl"
    for ds in "${dss[@]}"; do
      if [[ ! " ${ALL_DS[*]} " == *" $ds "* ]]; then
        echo "# unknown dataset '$ds' at $2:$lineno" >&2; BAD=1; continue
      fi
      if [[ -n $ONLY && ! "$kind[$ds] $expr" =~ $ONLY ]]; then continue; fi
      T_KIND+=("$kind") T_DS+=("$ds") T_EXPR+=("$expr") T_PPARGS+=("$pp") T_JQ+=("$jqp")
      T_WHERE+=("$2:$lineno")
    done
  done < "$file"
}

BAD=0
load_cases filter filters.txt
load_cases map maps.txt
load_cases chain chains.txt
load_cases raw raws.txt
load_cases join joins.txt
load_cases reject rejects.txt

# deliberate.txt: KIND|DATASET|REASON|EXPRESSION (expression last: it may contain '|')
declare -A DELIB
if [[ -f $HERE/deliberate.txt ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    trim line "$line"
    [[ -z $line || $line == \#* ]] && continue
    IFS='|' read -r dk dd dr _ <<< "$line"
    de=${line#*|*|*|}
    trim dk "$dk"; trim dd "$dd"; trim de "$de"; trim dr "$dr"
    DELIB["$dk$SEP$dd$SEP$de"]=$dr
  done < "$HERE/deliberate.txt"
fi

# ---- jq's answers ------------------------------------------------------------------------
# expected/INDEX: one line per (dataset, jq program):
#   DATASET TAB NAME TAB EXIT-STATUS TAB STDOUT TAB PROGRAM
# PROGRAM: the jq program, or "-rc PROGRAM" / "-jc PROGRAM" for raw / join cases (jq_args).
# NAME: the first 16 hex digits of PROGRAM's sha1. STDOUT: "file" when jq's stdout is stored
# in expected/DATASET/NAME.out (up to OUT_MAX bytes), else "sha256:HEX:LINES" (its digest and line
# count: 35 MB of outputs in all). expected/DATASET/NAME.err: jq's stderr with each runtime error
# cut after its "(at <stdin>:N)" (messages are not compared), absent when empty.
# expected/DATASETS: jq's version and the sha256 of every dataset the answers were made from
# (gen is made by ppipe-gen at test time).
OUT_MAX=4096
# jq_args KEY: JQ_ARGS = jq's arguments for a case's key. The key is the jq program, run with -c,
# or "-rc PROGRAM" / "-jc PROGRAM" for raw / join cases, so that a raw case's answer (in INDEX,
# named by the key's sha1) never stands for the map case of the same expression.
jq_args() {
  case $1 in
    "-rc "*) JQ_ARGS=(-r -c "${1#-rc }") ;;
    "-jc "*) JQ_ARGS=(-j -c "${1#-jc }") ;;
    *)       JQ_ARGS=(-c "$1") ;;
  esac
}
cut_err() { sed 's/^\(jq: error (at [^)]*)\).*/\1/' "$@"; }
declare -A G_NAME G_RC G_OUT G_SEEN DS_STALE
if (( UPDATE )); then
  [[ ${#DSFILE[@]} == ${#ALL_DS[@]} ]] || { echo "$0: --update needs every dataset (ppipe-gen: $GEN)" >&2; exit 2; }
  (( BAD == 0 )) || { echo "$0: fix the case files first" >&2; exit 2; }
  for ds in "${ALL_DS[@]}"; do norm_ds "$ds" >&2 || exit 2; done
  NEW=$WORK/expected
  mkdir -p "$NEW"
  for ds in "${ALL_DS[@]}"; do mkdir -p "$NEW/$ds"; done
  declare -A U_PROG
  U_KEYS=()
  N=${#T_KIND[@]}
  for ((i = 0; i < N; i++)); do
    [[ ${T_KIND[i]} == reject ]] && continue
    key="${T_DS[i]}$SEP${T_JQ[i]}"
    [[ -n ${U_PROG[$key]:-} ]] && continue
    if [[ ${T_JQ[i]} == *[$'\t\n']* ]]; then echo "$0: a tab or newline in the jq program of ${T_WHERE[i]}" >&2; exit 2; fi
    U_PROG[$key]=1 U_KEYS+=("$key")
  done
  # Names first (one sha1sum per program), then jq in JOBS shards.
  declare -A U_NAME U_TAKEN
  for key in "${U_KEYS[@]}"; do
    ds=${key%%"$SEP"*} prog=${key#*"$SEP"}
    name=$(printf '%s' "$prog" | sha1sum); name=${name:0:16}
    if [[ -n ${U_TAKEN[$ds/$name]:-} ]]; then echo "$0: sha1 prefix collision on $ds: $prog" >&2; exit 2; fi
    U_TAKEN[$ds/$name]=1 U_NAME[$key]=$name
  done
  for ((s = 0; s < JOBS; s++)); do
    (
      for ((k = s; k < ${#U_KEYS[@]}; k += JOBS)); do
        key=${U_KEYS[k]} ds=${U_KEYS[k]%%"$SEP"*} prog=${U_KEYS[k]#*"$SEP"}
        f=$NEW/$ds/${U_NAME[$key]}
        jq_args "$prog"
        "$JQ" "${JQ_ARGS[@]}" < "${DSFILE[$ds]}" > "$f.out" 2> "$f.rawerr"; rc=$?
        out=file
        if (( $(wc -c < "$f.out") > OUT_MAX )); then
          out=$(sha256sum < "$f.out"); out="sha256:${out%% *}:$(wc -l < "$f.out")"
          rm -f "$f.out"
        fi
        cut_err "$f.rawerr" > "$f.err"; rm -f "$f.rawerr"
        [[ -s $f.err ]] || rm -f "$f.err"
        printf '%s\t%s\t%s\t%s\t%s\n' "$ds" "${U_NAME[$key]}" "$rc" "$out" "$prog" >> "$WORK/index.$s"
      done
    ) &
  done
  wait
  cat "$WORK"/index.* | sort > "$NEW/INDEX"
  {
    echo "# Made by tests/jqdiff/run.sh --update; do not edit (README.md)."
    echo "jq $jqver"
    for ds in "${ALL_DS[@]}"; do echo "dataset $ds ${DSSUM[$ds]}"; done
  } > "$NEW/DATASETS"
  n=$(wc -l < "$NEW/INDEX")
  harness=$(awk -F '\t' '$3 == 2 || $3 == 3' "$NEW/INDEX")
  rm -rf "$EXP" && cp -R "$NEW" "$EXP" || exit 2
  echo "# jqdiff --update: $n jq answers written to $EXP ($jqver), $((SECONDS - START)) s"
  if [[ -n $harness ]]; then
    echo "# jq rejected these programs (the cases fail until they are fixed):"
    printf '#   %s\n' "$harness"
  fi
  exit 0
fi

[[ -f $EXP/INDEX && -f $EXP/DATASETS ]] || { echo "$0: $EXP/INDEX or DATASETS missing: run $0 --update PPIPE" >&2; exit 2; }
while IFS=$'\t' read -r ds name rc out prog; do
  G_NAME["$ds$SEP$prog"]=$name G_RC["$ds$SEP$prog"]=$rc G_OUT["$ds$SEP$prog"]=$out
done < "$EXP/INDEX"
G_JQVER=
while read -r what a b; do
  case $what in
    jq) G_JQVER=$a ;;
    dataset) [[ ${DSSUM[$a]:-} == "$b" ]] || DS_STALE[$a]=$b ;;
  esac
done < "$EXP/DATASETS"
for ds in "${ALL_DS[@]}"; do
  grep -q "^dataset $ds " "$EXP/DATASETS" || DS_STALE[$ds]=none
done

# ---- running one comparison -------------------------------------------------------------
# jq's answer for the case: JQOUT (a file of its stdout, or "" when only its digest is known),
# JQSUM ("" or the digest "sha256:HEX:LINES"), JQERR (a file of its stderr, or of its cut_err) and
# JRC. live_jq IN DIR sets them by running jq, stored_jq from expected/ (1: no stored answer).
live_jq() {
  jq_args "$JQPROG"
  "$JQ" "${JQ_ARGS[@]}" < "$1" > "$2/jq.out" 2> "$2/jq.err"; JRC=$?
  JQOUT=$2/jq.out JQSUM="" JQERR=$2/jq.err
}
stored_jq() {
  local key="$DSNAME$SEP$JQPROG" name
  name=${G_NAME[$key]:-}
  [[ -n $name ]] || return 1
  JQOUT=$EXP/$DSNAME/$name.out JQSUM="" JQERR=$EXP/$DSNAME/$name.err JRC=${G_RC[$key]}
  if [[ ${G_OUT[$key]} == sha256:* ]]; then JQOUT="" JQSUM=${G_OUT[$key]}; else [[ -f $JQOUT ]] || return 1; fi
  [[ -f $JQERR ]] || JQERR=/dev/null
}
# digest FILE: sets DIGEST to "sha256:HEX:LINES" of the file.
digest() {
  local -a w
  w=($(sha256sum < "$1"; wc -l < "$1"))
  DIGEST="sha256:${w[0]}:${w[2]}"
}
# same_out FILE: does FILE hold jq's stdout (JQOUT or JQSUM)?
same_out() {
  if [[ -n $JQOUT ]]; then cmp -s "$JQOUT" "$1"; else digest "$1"; [[ $DIGEST == "$JQSUM" ]]; fi
}
jq_lines() { if [[ -n $JQOUT ]]; then wc -l < "$JQOUT"; else echo "${JQSUM##*:}"; fi; }

# jq_errors: from JQERR, sets NJQ (lines starting "jq: error"), JQ_LINES (the input line numbers
# of "jq: error (at FILE:N)" lines, space-separated) and JQ_HARNESS (a compile/parse error line).
jq_errors() {
  local -a lines; local l
  mapfile -t lines < "$JQERR"
  NJQ=0 JQ_LINES="" JQ_HARNESS=""
  for l in "${lines[@]}"; do
    if [[ $l == "jq: error: "* || $l =~ ^jq:\ [0-9]*\ compile\ error || $l == "parse error"* ]]; then
      [[ -z $JQ_HARNESS ]] && JQ_HARNESS=$l
    fi
    [[ $l == "jq: error"* ]] && ((NJQ++))
    [[ $l =~ ^jq:\ error\ \(at\ [^\)]*:([0-9]*)\) ]] && JQ_LINES+="${BASH_REMATCH[1]} "
  done
}

# pp_errors FILE: ppipe's error records: sets NPP (non-empty lines) and PP_LINES (their "line"
# fields, space-separated; read with jq when a record does not start as ppipe writes them).
pp_errors() {
  local -a lines; local l
  NPP=0 PP_LINES=""
  [[ -s $1 ]] || return 0
  mapfile -t lines < "$1"
  for l in "${lines[@]}"; do
    [[ -n $l ]] || continue
    ((NPP++))
    if [[ $l =~ ^\{\"source\":\"[^\"]*\",\"line\":([0-9]+), ]]; then
      PP_LINES+="${BASH_REMATCH[1]} "
    else
      PP_LINES=$("$JQ" -r '.line' "$1" 2>/dev/null | tr '\n' ' ')
      return 0
    fi
  done
}

# run_pair INPUT DIR: runs ppipe on INPUT, compares with jq's answer (JQOUT, JQERR, JRC), writes
# DIR/{pp.raw,pp.out,pp.err,pp.stderr} and sets PAIR_STATUS ("" = same) and PAIR_MSG.
run_pair() {
  local in=$1 d=$2 prc ppout
  local -a args
  IFS=$SEP read -ra args <<< "$PPARGS"
  : > "$d/pp.err"
  "$PPIPE" "${PP_OPTS[@]}" "${args[@]}" --errors "$d/pp.err" "$in" > "$d/pp.raw" 2> "$d/pp.stderr"; prc=$?
  PAIR_STATUS="" PAIR_MSG=""
  jq_errors
  if [[ $JRC == 3 || $JRC == 2 || -n $JQ_HARNESS ]]; then
    PAIR_STATUS=harness PAIR_MSG="jq failed (exit $JRC): $(cut_line "$JQERR" 200)"; return
  fi
  if (( prc != 0 && prc != 1 )); then
    PAIR_STATUS=fail PAIR_MSG="ppipe exit $prc: $(cut_line "$d/pp.stderr" 200)"; return
  fi
  # Normalize ppipe's output as jq -c . would. jq -c output is already normal (jq -c . is the
  # identity on it), so bytes equal to jq's need no work. A filter passes original input lines:
  # look each one up in the dataset's normalized copy (made once with jq -c .); a line that is
  # not byte-identical to an input line is a failure in itself.
  if same_out "$d/pp.raw"; then
    ppout=same
  elif [[ $KIND == raw || $KIND == join ]]; then
    # Raw output is not JSON: byte for byte, nothing to normalize.
    ppout=$d/pp.raw
  elif [[ $KIND == filter ]]; then
    ((NORMALIZED++))
    norm_ds "$DSNAME" > "$d/norm.msg" || { PAIR_STATUS=harness PAIR_MSG=$(< "$d/norm.msg"); return; }
    # The input here may be a prefix or one line of the dataset (diagnose): look lines up in
    # the whole dataset either way.
    if ! awk 'FNR == 1 { f++ }
              f == 1 { orig[FNR] = $0; next }
              f == 2 { norm[orig[FNR]] = $0; next }
              !($0 in norm) { bad = 1; exit }
              { print norm[$0] }
              END { exit bad }' "${DSFILE[$DSNAME]}" "$NORM" "$d/pp.raw" > "$d/pp.out"; then
      PAIR_STATUS=fail PAIR_MSG="ppipe --filter wrote a line that is not byte-identical to an input line"; return
    fi
    ppout=$d/pp.out
  else
    ((NORMALIZED++))
    if ! "$JQ" -c . "$d/pp.raw" > "$d/pp.out" 2> "$d/pp.norm.err"; then
      PAIR_STATUS=fail PAIR_MSG="ppipe output is not valid JSON: $(head -c 200 "$d/pp.norm.err")"; return
    fi
    ppout=$d/pp.out
  fi
  pp_errors "$d/pp.err"
  if [[ $ppout != same ]] && ! same_out "$ppout"; then
    PAIR_STATUS=fail
    PAIR_MSG="outputs differ (jq $(jq_lines) lines, ppipe $(wc -l < "$ppout") lines)"
  fi
  if [[ $NJQ != "$NPP" ]]; then
    PAIR_STATUS=fail
    PAIR_MSG="${PAIR_MSG:+$PAIR_MSG; }runtime errors: jq $NJQ, ppipe $NPP"
  fi
  if [[ -z $PAIR_STATUS && $NPP -gt 0 && $JQ_LINES != "$PP_LINES" ]]; then
    # Same number of errors: they must be on the same input lines.
    local -a jl=($JQ_LINES) pl=($PP_LINES)
    PAIR_STATUS=fail
    PAIR_MSG="runtime errors on different lines: jq ${jl[*]:0:5} ..., ppipe ${pl[*]:0:5} ..."
  fi
  if (( (NPP > 0) != (prc == 1) )); then
    PAIR_STATUS=fail PAIR_MSG="${PAIR_MSG:+$PAIR_MSG; }ppipe exit $prc with $NPP error records"
  fi
}

# First N characters (not bytes) of the first lines of a file, on one line.
# A NUL (raw output may hold one) is shown as <NUL>: bash drops it from a $(...).
cut_line() { head -n "${3:-1}" "$1" | "$JQ" -Rrs --argjson n "${2:-300}" 'rtrimstr("\n") | gsub("\n"; " | ") | .[0:$n]' 2>/dev/null | sed 's/\x00/<NUL>/g'; }

# Bisect INPUT to the first line whose prefix differs; print it with both results (runs jq live).
diagnose() {
  local in=$1 d=$2 lo=0 hi n mid
  n=$(wc -l < "$in"); hi=$n
  # Most differences show up early: try prefixes of 1, 4, 16, ... lines before bisecting.
  for (( mid = 1; mid < n; mid *= 4 )); do
    head -n "$mid" "$in" > "$d/prefix"
    live_jq "$d/prefix" "$d"; run_pair "$d/prefix" "$d"
    if [[ -n $PAIR_STATUS ]]; then hi=$mid; break; fi
    lo=$mid
  done
  while (( hi - lo > 1 )); do
    mid=$(( (lo + hi) / 2 ))
    head -n "$mid" "$in" > "$d/prefix"
    live_jq "$d/prefix" "$d"; run_pair "$d/prefix" "$d"
    if [[ -n $PAIR_STATUS ]]; then hi=$mid; else lo=$mid; fi
  done
  sed -n "${hi}p" "$in" > "$d/line"
  live_jq "$d/line" "$d"; run_pair "$d/line" "$d"
  echo "#   first differing input: line $hi of $DSNAME: $(cut_line "$d/line" 300)"
  echo "#   jq:    $(cut_line "$d/jq.out" 300 2)$( [[ -s $d/jq.err ]] && printf ' [stderr: %s]' "$(cut_line "$d/jq.err" 200)")"
  echo "#   ppipe: $(cut_line "$d/pp.raw" 300 2)$( [[ -s $d/pp.err ]] && printf ' [error: %s]' "$("$JQ" -r '.error' "$d/pp.err" 2>/dev/null | cut_line /dev/stdin 200)")"
  [[ -z $PAIR_STATUS ]] && echo "#   (that line alone does not differ: the difference depends on neighbouring records)"
}

# run_task I DIR: prints the case's result ("ok - ..." / "not ok - ..." and # lines).
run_task() {
  local i=$1 d=$2 key stale=""
  KIND=${T_KIND[i]} DSNAME=${T_DS[i]} EXPR=${T_EXPR[i]} PPARGS=${T_PPARGS[i]} JQPROG=${T_JQ[i]}
  local title="$KIND[$DSNAME] $EXPR"
  local in=${DSFILE[$DSNAME]:-}
  if [[ -z $in ]]; then
    echo "not ok - $title"; echo "#   dataset $DSNAME unavailable (ppipe-gen missing?)"; return
  fi
  if [[ $KIND == reject ]]; then
    local -a args; IFS=$SEP read -ra args <<< "$PPARGS"
    "$PPIPE" "${args[@]}" "$in" > "$d/out" 2> "$d/err"; local rc=$?
    local -a err; local first=""
    mapfile -t err < "$d/err"
    for first in "${err[@]}" ""; do [[ -n $first ]] && break; done
    if [[ $rc == 2 && ! -s $d/out && -n $first ]]; then
      first=${err[0]}
      echo "ok - $title # rejected: ${first:0:160}"
    else
      echo "not ok - $title"; echo "#   expected a compile error (exit 2, no output), got exit $rc, $(wc -l < "$d/out") output lines"
    fi
    return
  fi
  if [[ -n ${DS_STALE[$DSNAME]:-} ]]; then
    echo "not ok - $title"
    echo "#   expected/ was made from another $DSNAME dataset (sha256 ${DS_STALE[$DSNAME]:0:16}..., now ${DSSUM[$DSNAME]:0:16}...): the data or ppipe-gen changed; run tests/jqdiff/run.sh --update"
    return
  fi
  if ! stored_jq; then
    echo "not ok - $title"; echo "#   no stored jq answer in expected/: run tests/jqdiff/run.sh --update PPIPE  (${T_WHERE[i]})"
    return
  fi
  if [[ $LIVE == all ]] || (( LIVE > 0 && i % LIVE == 0 )); then
    local lrc
    live_jq "$in" "$d"; lrc=$JRC
    cut_err "$d/jq.err" > "$d/jq.cuterr"
    stored_jq
    if [[ $lrc != "$JRC" ]] || ! same_out "$d/jq.out" || ! cmp -s "$JQERR" "$d/jq.cuterr"; then
      stale="the stored jq answer (expected/INDEX: $DSNAME ${G_NAME[$DSNAME$SEP$JQPROG]}) is not what $jqver says now (exit $lrc, $(wc -l < "$d/jq.out") lines; stored: exit $JRC, $(jq_lines) lines): run tests/jqdiff/run.sh --update"
    fi
    if [[ $LIVE == all ]]; then JQOUT=$d/jq.out JQSUM="" JQERR=$d/jq.err JRC=$lrc; fi
  fi
  run_pair "$in" "$d"
  key="$KIND$SEP$DSNAME$SEP$EXPR"
  local reason=${DELIB[$key]:-}
  [[ -z $reason ]] && reason=${DELIB["$KIND$SEP*$SEP$EXPR"]:-}
  if [[ -n $stale ]]; then
    echo "not ok - $title"; echo "#   STALE: $stale"
    [[ -n $PAIR_STATUS ]] && echo "#   and against the $ORACLE jq answer: $PAIR_MSG"
  elif [[ $PAIR_STATUS == harness ]]; then
    echo "not ok - $title"; echo "#   HARNESS: $PAIR_MSG"
  elif [[ -z $PAIR_STATUS && -z $reason ]]; then
    echo "ok - $title"
  elif [[ -z $PAIR_STATUS ]]; then
    echo "not ok - $title"; echo "#   listed in deliberate.txt ($reason) but no longer differs: remove the entry"
  elif [[ -n $reason ]]; then
    echo "ok - $title # deliberate: $reason"
    if [[ $VERBOSE == 1 ]]; then echo "#   $PAIR_MSG"; diagnose "$in" "$d"; fi
  else
    echo "not ok - $title"; echo "#   $PAIR_MSG  ($(printf '%s' "${T_WHERE[i]}"))"
    if [[ $DIAG == 1 && $PAIR_MSG != "ppipe exit"* ]]; then
      if [[ $ORACLE == stored ]]; then
        live_jq "$in" "$d"; cut_err "$d/jq.err" > "$d/jq.cuterr"
        local lrc=$JRC; stored_jq
        if [[ $lrc != "$JRC" ]] || ! same_out "$d/jq.out" || ! cmp -s "$JQERR" "$d/jq.cuterr"; then
          echo "#   NOTE: $jqver's answer now is not the stored one (expected/INDEX: $DSNAME ${G_NAME[$DSNAME$SEP$JQPROG]}): a stale expected/? (JQDIFF_LIVE=all shows it)"
        fi
      fi
      diagnose "$in" "$d"
    fi
  fi
}

# ---- run ---------------------------------------------------------------------------------
# JOBS shells, each running every JOBS-th case in turn (no process per case but ppipe's).
N=${#T_KIND[@]}
echo "# jqdiff: $N cases, ppipe=$PPIPE_SHOWN, jq answers: expected/ ($G_JQVER)$([[ $LIVE != 0 ]] && echo ", live $jqver on ${LIVE/#[0-9]*/every $LIVE-th} case(s)"), jobs=$JOBS"
for ((s = 0; s < JOBS; s++)); do
  (
    NORMALIZED=0
    d=$WORK/scratch/$s
    mkdir -p "$d"
    for ((i = s; i < N; i += JOBS)); do
      run_task "$i" "$d" > "$WORK/res/$i" 2>&1
    done
    echo "$NORMALIZED" > "$WORK/normalized.$s"
  ) &
done
wait

pass=0 fail=0 delib=0 num=0 normalized=0
declare -A SEEN
for ((s = 0; s < JOBS; s++)); do
  read -r n < "$WORK/normalized.$s" && ((normalized += n))
done
for ((i = 0; i < N; i++)); do
  ((num++))
  SEEN["${T_KIND[i]}$SEP${T_DS[i]}$SEP${T_EXPR[i]}"]=1
  SEEN["${T_KIND[i]}$SEP*$SEP${T_EXPR[i]}"]=1
  [[ ${T_KIND[i]} != reject ]] && G_SEEN["${T_DS[i]}$SEP${T_JQ[i]}"]=1
  mapfile -t R < "$WORK/res/$i"
  first=${R[0]:-"not ok - ${T_KIND[i]}[${T_DS[i]}] ${T_EXPR[i]} (no result)"}
  case $first in
    "ok - "*"# deliberate: "*) ((delib++)) ;;
    "ok - "*) ((pass++)) ;;
    *) ((fail++)) ;;
  esac
  if [[ $first == "ok - "* ]]; then R[0]="ok $num - ${first#ok - }"; else R[0]="not ok $num - ${first#not ok - }"; fi
  printf '%s\n' "${R[@]}"
done
stale=0
if [[ -z $ONLY ]]; then
  for k in "${!DELIB[@]}"; do
    if [[ -z ${SEEN[$k]:-} ]]; then
      ((stale++)); echo "not ok - deliberate.txt entry matches no case: ${k//$SEP/|}"
    fi
  done
  for k in "${!G_NAME[@]}"; do
    if [[ -z ${G_SEEN[$k]:-} ]]; then
      ((stale++)); echo "not ok - expected/INDEX entry matches no case (run --update): ${k//$SEP/ }"
    fi
  done
fi
echo "1..$num"
echo "# summary: $num cases: $pass ok, $delib ok (deliberate), $fail not ok; $stale stale deliberate/expected entries; $normalized ppipe outputs normalized with jq -c .; $((SECONDS - START)) s"
(( fail == 0 && stale == 0 && BAD == 0 ))
