#!/usr/bin/env bash
# Differential test: ppipe --filter/--map against jq 1.6 on small slices of real data.
#
#   tests/jqdiff/run.sh PPIPE [PPIPE_GEN]
#
# PPIPE_GEN (default: ppipe-gen next to PPIPE) generates the access-log dataset "gen";
# without it the "gen" runs are reported as failures (they cannot be skipped silently).
# Environment:
#   JQ=/usr/bin/jq        the oracle (jq 1.6; other versions are warned about)
#   JQDIFF_JOBS=2         cases run at once
#   JQDIFF_ONLY=REGEX     run only cases whose "kind[dataset] expression" matches (grep -E)
#   JQDIFF_DIAG=1         on a difference, bisect the dataset to the first input line that
#                         differs and show that line with both tools' results (0: off)
#   JQDIFF_VERBOSE=1      also print the diagnostics of deliberate differences
# Case files (see README.md): filters.txt, maps.txt, chains.txt, rejects.txt; accepted
# differences: deliberate.txt. Exit status: 0 when every case is ok, 1 otherwise, 2 usage.
set -u
export LC_ALL=C

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 PPIPE [PPIPE_GEN]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PPIPE=$(realpath "$1")
GEN=${2:-$(dirname "$PPIPE")/ppipe-gen}
JQ=${JQ:-jq}
JOBS=${JQDIFF_JOBS:-2}
ONLY=${JQDIFF_ONLY:-}
DIAG=${JQDIFF_DIAG:-1}
VERBOSE=${JQDIFF_VERBOSE:-0}
# ppipe runs with two workers and small batches so that ordering across batches is exercised.
PP_OPTS=(-j 2 --batch-size 16K)

[[ -x $PPIPE ]] || { echo "$0: $PPIPE is not executable" >&2; exit 2; }
command -v "$JQ" >/dev/null || { echo "$0: jq not found (apt-get install jq)" >&2; exit 2; }
jqver=$("$JQ" --version 2>&1)
[[ $jqver == jq-1.6* ]] || echo "# warning: oracle is $jqver, the cases and deliberate.txt assume jq-1.6"

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

# Normalized copies (jq -c .), one value per line, for looking up what --filter passes through.
mkdir -p "$WORK/norm"
for ds in "${!DSFILE[@]}"; do
  "$JQ" -c . "${DSFILE[$ds]}" > "$WORK/norm/$ds.jsonl" &&
    [[ $(wc -l < "${DSFILE[$ds]}") == $(wc -l < "$WORK/norm/$ds.jsonl") ]] ||
    { echo "$0: dataset $ds is not one JSON value per line (for jq)" >&2; exit 2; }
done

# ---- case files ------------------------------------------------------------------------
# Each case: kind (filter|map|chain|reject), dataset, the expression as written (the key in
# deliberate.txt), the ppipe stage arguments and the jq program.
T_KIND=() T_DS=() T_EXPR=() T_PPARGS=() T_JQ=() T_WHERE=()
SEP=$'\x1f'

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

# parse_chain "@filter A @map B ..." -> sets CH_PP (args joined by SEP) and CH_JQ
parse_chain() {
  local s=" $1 " part kind expr
  local -a parts
  CH_PP="" CH_JQ=""
  s=${s// @filter /$'\x1e'filter$'\x1d'}
  s=${s// @map /$'\x1e'map$'\x1d'}
  IFS=$'\x1e' read -ra parts <<< "$s"
  [[ -z $(trim "${parts[0]}") && ${#parts[@]} -ge 2 ]] || return 1
  for part in "${parts[@]:1}"; do
    kind=${part%%$'\x1d'*} expr=$(trim "${part#*$'\x1d'}")
    [[ -n $expr ]] || return 1
    CH_PP+="${CH_PP:+$SEP}--$kind$SEP$expr"
    if [[ $kind == filter ]]; then
      CH_JQ+="${CH_JQ:+ | }select($expr)"
    else
      CH_JQ+="${CH_JQ:+ | }($expr)"
    fi
  done
}

load_cases() {
  local kind=$1 file=$HERE/$2 lineno=0 line defds="edge" dsl expr jqexpr ds
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    ((lineno++))
    line=$(trim "$line")
    [[ -z $line || $line == \#* ]] && continue
    if [[ $line =~ ^@datasets[[:space:]]+([a-z,]+)$ ]]; then
      defds=${BASH_REMATCH[1]}
      continue
    fi
    dsl=$defds
    if [[ $kind != chain && $line =~ ^@([a-z,]+)[[:space:]]+(.*)$ ]]; then
      dsl=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
    elif [[ $kind == chain && $line =~ ^@([a-z,]+)[[:space:]]+(@(filter|map)[[:space:]].*)$ ]] \
         && [[ ${BASH_REMATCH[1]} != filter && ${BASH_REMATCH[1]} != map ]]; then
      dsl=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]}
    fi
    expr=$line jqexpr=""
    if [[ $line == *" @jq "* ]]; then
      expr=$(trim "${line%% @jq *}") jqexpr=$(trim "${line#* @jq }")
    fi
    [[ $dsl == all ]] && dsl=$(IFS=,; echo "${ALL_DS[*]}")
    local pp jqp
    case $kind in
      filter) pp="--filter$SEP$expr"; jqp="select(${jqexpr:-$expr})" ;;
      map)    pp="--map$SEP$expr";    jqp=${jqexpr:-$expr} ;;
      chain)  parse_chain "$expr" || { echo "# bad chain line $2:$lineno: $line" >&2; BAD=1; continue; }
              pp=$CH_PP; jqp=${jqexpr:-$CH_JQ} ;;
      reject) pp="--map$SEP$expr"; jqp="" ;;
    esac
    IFS=, read -ra dss <<< "$dsl"
    for ds in "${dss[@]}"; do
      if [[ ! " ${ALL_DS[*]} " == *" $ds "* ]]; then
        echo "# unknown dataset '$ds' at $2:$lineno" >&2; BAD=1; continue
      fi
      if [[ -n $ONLY ]] && ! grep -qE -- "$ONLY" <<< "$kind[$ds] $expr"; then continue; fi
      T_KIND+=("$kind") T_DS+=("$ds") T_EXPR+=("$expr") T_PPARGS+=("$pp") T_JQ+=("$jqp")
      T_WHERE+=("$2:$lineno")
    done
  done < "$file"
}

BAD=0
load_cases filter filters.txt
load_cases map maps.txt
load_cases chain chains.txt
load_cases reject rejects.txt

# deliberate.txt: KIND|DATASET|REASON|EXPRESSION (expression last: it may contain '|')
declare -A DELIB
if [[ -f $HERE/deliberate.txt ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    line=$(trim "$line")
    [[ -z $line || $line == \#* ]] && continue
    IFS='|' read -r dk dd dr _ <<< "$line"
    de=${line#*|*|*|}
    DELIB["$(trim "$dk")$SEP$(trim "$dd")$SEP$(trim "$de")"]=$(trim "$dr")
  done < "$HERE/deliberate.txt"
fi

# ---- running one comparison -------------------------------------------------------------
# run_pair INPUT DIR: runs both tools, writes DIR/{jq.out,jq.err,pp.raw,pp.out,pp.err,pp.stderr}
# and sets PAIR_STATUS ("" = same) and PAIR_MSG.
run_pair() {
  local in=$1 d=$2 jrc prc njq npp
  local -a args
  IFS=$SEP read -ra args <<< "$PPARGS"
  "$JQ" -c "$JQPROG" "$in" > "$d/jq.out" 2> "$d/jq.err"; jrc=$?
  "$PPIPE" "${PP_OPTS[@]}" "${args[@]}" --errors "$d/pp.err" "$in" > "$d/pp.raw" 2> "$d/pp.stderr"; prc=$?
  PAIR_STATUS="" PAIR_MSG=""
  if [[ $jrc == 3 || $jrc == 2 ]] || grep -q '^jq: error: \|^jq: [0-9]* compile error\|^parse error' "$d/jq.err"; then
    PAIR_STATUS=harness PAIR_MSG="jq failed (exit $jrc): $(cut_line "$d/jq.err" 200)"; return
  fi
  if (( prc != 0 && prc != 1 )); then
    PAIR_STATUS=fail PAIR_MSG="ppipe exit $prc: $(cut_line "$d/pp.stderr" 200)"; return
  fi
  # Normalize ppipe's output as jq -c . would. jq -c output is already normal (jq -c . is the
  # identity on it), so bytes equal to jq's need no work. A filter passes original input lines:
  # look each one up in the dataset's normalized copy (made once with jq -c .); a line that is
  # not byte-identical to an input line is a failure in itself.
  if cmp -s "$d/jq.out" "$d/pp.raw"; then
    cp "$d/pp.raw" "$d/pp.out"
  elif [[ $KIND == filter ]]; then
    if ! awk 'FNR == 1 { f++ }
              f == 1 { orig[FNR] = $0; next }
              f == 2 { norm[orig[FNR]] = $0; next }
              !($0 in norm) { bad = 1; exit }
              { print norm[$0] }
              END { exit bad }' "${DSFILE[$DSNAME]}" "$WORK/norm/$DSNAME.jsonl" "$d/pp.raw" > "$d/pp.out"; then
      PAIR_STATUS=fail PAIR_MSG="ppipe --filter wrote a line that is not byte-identical to an input line"; return
    fi
  elif ! "$JQ" -c . "$d/pp.raw" > "$d/pp.out" 2> "$d/pp.norm.err"; then
    PAIR_STATUS=fail PAIR_MSG="ppipe output is not valid JSON: $(head -c 200 "$d/pp.norm.err")"; return
  fi
  njq=$(grep -c '^jq: error' "$d/jq.err")
  npp=$(grep -c . "$d/pp.err" 2>/dev/null || true); npp=${npp:-0}
  if ! cmp -s "$d/jq.out" "$d/pp.out"; then
    PAIR_STATUS=fail
    PAIR_MSG="outputs differ (jq $(wc -l < "$d/jq.out") lines, ppipe $(wc -l < "$d/pp.out") lines)"
  fi
  if [[ $njq != "$npp" ]]; then
    PAIR_STATUS=fail
    PAIR_MSG="${PAIR_MSG:+$PAIR_MSG; }runtime errors: jq $njq, ppipe $npp"
  fi
  if [[ -z $PAIR_STATUS && $npp -gt 0 ]]; then
    # Same number of errors: they must be on the same input lines.
    sed -n 's/^jq: error (at [^)]*:\([0-9]*\)).*/\1/p' "$d/jq.err" > "$d/jq.errlines"
    "$JQ" -r '.line' "$d/pp.err" > "$d/pp.errlines" 2>/dev/null
    if ! cmp -s "$d/jq.errlines" "$d/pp.errlines"; then
      PAIR_STATUS=fail
      PAIR_MSG="runtime errors on different lines: jq $(head -n 5 "$d/jq.errlines" | tr '\n' ' ')..., ppipe $(head -n 5 "$d/pp.errlines" | tr '\n' ' ')..."
    fi
  fi
  if (( (npp > 0) != (prc == 1) )); then
    PAIR_STATUS=fail PAIR_MSG="${PAIR_MSG:+$PAIR_MSG; }ppipe exit $prc with $npp error records"
  fi
}

# First N characters (not bytes) of the first lines of a file, on one line.
cut_line() { head -n "${3:-1}" "$1" | "$JQ" -Rrs --argjson n "${2:-300}" 'rtrimstr("\n") | gsub("\n"; " | ") | .[0:$n]' 2>/dev/null; }

# Bisect INPUT to the first line whose prefix differs; print it with both results.
diagnose() {
  local in=$1 d=$2 lo=0 hi n mid
  n=$(wc -l < "$in"); hi=$n
  # Most differences show up early: try prefixes of 1, 4, 16, ... lines before bisecting.
  for (( mid = 1; mid < n; mid *= 4 )); do
    head -n "$mid" "$in" > "$d/prefix"
    run_pair "$d/prefix" "$d"
    if [[ -n $PAIR_STATUS ]]; then hi=$mid; break; fi
    lo=$mid
  done
  while (( hi - lo > 1 )); do
    mid=$(( (lo + hi) / 2 ))
    head -n "$mid" "$in" > "$d/prefix"
    run_pair "$d/prefix" "$d"
    if [[ -n $PAIR_STATUS ]]; then hi=$mid; else lo=$mid; fi
  done
  sed -n "${hi}p" "$in" > "$d/line"
  run_pair "$d/line" "$d"
  echo "#   first differing input: line $hi of $DSNAME: $(cut_line "$d/line" 300)"
  echo "#   jq:    $(cut_line "$d/jq.out" 300 2)$( [[ -s $d/jq.err ]] && printf ' [stderr: %s]' "$(cut_line "$d/jq.err" 200)")"
  echo "#   ppipe: $(cut_line "$d/pp.raw" 300 2)$( [[ -s $d/pp.err ]] && printf ' [error: %s]' "$("$JQ" -r '.error' "$d/pp.err" 2>/dev/null | cut_line /dev/stdin 200)")"
  [[ -z $PAIR_STATUS ]] && echo "#   (that line alone does not differ: the difference depends on neighbouring records)"
}

run_task() {
  local i=$1 d=$WORK/scratch/$1 key
  mkdir -p "$d"
  KIND=${T_KIND[i]} DSNAME=${T_DS[i]} EXPR=${T_EXPR[i]} PPARGS=${T_PPARGS[i]} JQPROG=${T_JQ[i]}
  local title="$KIND[$DSNAME] $EXPR"
  local in=${DSFILE[$DSNAME]:-}
  if [[ -z $in ]]; then
    echo "not ok - $title"; echo "#   dataset $DSNAME unavailable (ppipe-gen missing?)"; return
  fi
  if [[ $KIND == reject ]]; then
    local -a args; IFS=$SEP read -ra args <<< "$PPARGS"
    "$PPIPE" "${args[@]}" "$in" > "$d/out" 2> "$d/err"; local rc=$?
    if [[ $rc == 2 && ! -s $d/out ]] && grep -q . "$d/err"; then
      echo "ok - $title # rejected: $(head -n 1 "$d/err" | head -c 160)"
    else
      echo "not ok - $title"; echo "#   expected a compile error (exit 2, no output), got exit $rc, $(wc -l < "$d/out") output lines"
    fi
    return
  fi
  run_pair "$in" "$d"
  key="$KIND$SEP$DSNAME$SEP$EXPR"
  local reason=${DELIB[$key]:-}
  [[ -z $reason ]] && reason=${DELIB["$KIND$SEP*$SEP$EXPR"]:-}
  if [[ $PAIR_STATUS == harness ]]; then
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
    [[ $DIAG == 1 && $PAIR_MSG != "ppipe exit"* ]] && diagnose "$in" "$d"
  fi
}

# ---- run ---------------------------------------------------------------------------------
N=${#T_KIND[@]}
echo "# jqdiff: $N cases, ppipe=$PPIPE_SHOWN, oracle=$jqver, jobs=$JOBS"
for ((i = 0; i < N; i++)); do
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
  run_task "$i" > "$WORK/res/$i" 2>&1 &
done
wait

pass=0 fail=0 delib=0 num=0
declare -A SEEN
for ((i = 0; i < N; i++)); do
  ((num++))
  SEEN["${T_KIND[i]}$SEP${T_DS[i]}$SEP${T_EXPR[i]}"]=1
  SEEN["${T_KIND[i]}$SEP*$SEP${T_EXPR[i]}"]=1
  first=$(head -n 1 "$WORK/res/$i")
  case $first in
    "ok - "*"# deliberate: "*) ((delib++)) ;;
    "ok - "*) ((pass++)) ;;
    *) ((fail++)) ;;
  esac
  sed "1s/^ok - /ok $num - /; 1s/^not ok - /not ok $num - /" "$WORK/res/$i"
done
stale=0
if [[ -z $ONLY ]]; then
  for k in "${!DELIB[@]}"; do
    if [[ -z ${SEEN[$k]:-} ]]; then
      ((stale++)); echo "not ok - deliberate.txt entry matches no case: ${k//$SEP/|}"
    fi
  done
fi
echo "1..$num"
echo "# summary: $num cases: $pass ok, $delib ok (deliberate), $fail not ok; $stale stale deliberate entries; $((SECONDS - START)) s"
(( fail == 0 && stale == 0 && BAD == 0 ))
