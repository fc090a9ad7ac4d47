#!/usr/bin/env bash
# Builds the libFuzzer targets (expr_fuzz, parse_fuzz, csv_fuzz) with clang, ASan and UBSan into build-fuzz/.
#   tests/fuzz/build.sh            configure (first time) and build, incrementally
# Environment: CXX (default clang++), BUILD_DIR (default build-fuzz at the repository root),
# JOBS (default 1: the build machine is shared).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
cxx="${CXX:-clang++}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root/tests/fuzz" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
nice -n 10 cmake --build "$build" -j "${JOBS:-1}"
echo "built: $build/expr_fuzz $build/parse_fuzz $build/csv_fuzz"
