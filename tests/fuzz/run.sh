#!/usr/bin/env bash
# Replays every kept crash input, then fuzzes each target for a while. Fails on any crash.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     default: 60 seconds each, targets expr and parse
# One fuzzer process at a time, niced (the machine is shared). Build first: tests/fuzz/build.sh.
# New corpus entries go to build-fuzz/corpus/TARGET (seeded from tests/fuzz/corpus/TARGET, which
# is not modified); crash inputs to build-fuzz/artifacts/TARGET/.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
fuzz="$root/tests/fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(expr parse)

status=0
for t in "${targets[@]}"; do
  bin="$build/${t}_fuzz"
  if [[ ! -x "$bin" ]]; then
    echo "run.sh: $bin missing; run tests/fuzz/build.sh" >&2
    exit 2
  fi
  dict=()
  [[ -f "$fuzz/$t.dict" ]] && dict=(-dict="$fuzz/$t.dict")

  # 1. Regressions: each kept input once (a file argument is executed, not fuzzed).
  shopt -s nullglob
  regressions=("$fuzz/regressions/$t"/*)
  shopt -u nullglob
  if [[ ${#regressions[@]} -gt 0 ]]; then
    if nice -n 10 "$bin" "${regressions[@]}" >"$build/$t-regressions.log" 2>&1; then
      echo "$t: ${#regressions[@]} regression inputs pass"
    else
      echo "$t: a regression input fails again; see $build/$t-regressions.log" >&2
      tail -40 "$build/$t-regressions.log" >&2
      status=1
      continue
    fi
  fi

  # 2. Fuzz for the given time. A crash (sanitizer report, abort, deadly signal) fails the run.
  # Running out of memory or time is kept as an artifact and reported, and fuzzing resumes: the
  # expression language can legitimately be asked for huge values ("ab" * 500000000, `.+.|.+.|...`),
  # as jq can. Set FUZZ_STRICT=1 to fail on those too.
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  log="$build/$t-fuzz.log"
  : >"$log"
  start=$SECONDS
  runs=0
  resource=()
  while (( SECONDS - start < seconds )); do
    left=$(( seconds - (SECONDS - start) ))
    seeds=()
    [[ -d "$fuzz/corpus/$t" ]] && seeds=("$fuzz/corpus/$t")  # (csv has no kept corpus)
    nice -n 10 "$bin" "$build/corpus/$t" "${seeds[@]}" "${dict[@]}" \
      -max_total_time="$left" -max_len=4096 -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 >>"$log" 2>&1
    rc=$?
    n="$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
    runs=$(( runs + ${n:-0} ))
    echo "stat::number_of_executed_units: 0" >>"$log"  # so a run without final stats adds nothing
    [[ $rc -eq 0 ]] && break
    artifact="$(grep -a -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')"
    case "$(basename "${artifact:-none}")" in
      oom-*|timeout-*|slow-unit-*)
        resource+=("$artifact")
        echo "$t: resource limit hit ($(basename "$artifact")); fuzzing on" >&2
        ;;
      *)
        echo "$t: FAILED after $runs runs; log $log" >&2
        grep -a -E '^(==[0-9]+==ERROR|SUMMARY|expr_fuzz:|parse_fuzz:|.*runtime error)|Test unit written' "$log" | tail -8 >&2
        status=1
        continue 2
        ;;
    esac
  done
  echo "$t: ${seconds}s, $runs runs, no crash${resource:+, ${#resource[@]} resource-limit inputs}"
  for a in "${resource[@]}"; do echo "  resource limit: $a"; done
  if [[ ${#resource[@]} -gt 0 && "${FUZZ_STRICT:-0}" == 1 ]]; then status=1; fi
done
exit $status
