# shellcheck shell=bash
# Shipping ppipe: --version.

# --version: the version, the commit of a checkout build, and the simdjson kernel in use.
t_ship_version() {
  local name="version: ppipe X.Y.Z (commit C), then the simdjson version and its run-time kernel"
  local out rc msg=() line1 line2 commit
  out=$("$PPIPE" --version 2>&1); rc=$?
  line1=$(sed -n 1p <<< "$out"); line2=$(sed -n 2p <<< "$out")
  [ "$rc" = 0 ] || msg+=("exit $rc")
  [ "$(wc -l <<< "$out")" = 2 ] || msg+=("expected 2 lines")
  [[ $line1 =~ ^ppipe\ [0-9]+\.[0-9]+\.[0-9]+(\ \(commit\ ([0-9a-f]{7,40})(-dirty)?\))?$ ]] || msg+=("line 1: '$line1'")
  commit=${BASH_REMATCH[2]:-}
  [[ $line2 =~ ^simdjson\ [0-9]+\.[0-9]+\.[0-9]+,\ kernel\ (icelake|haswell|westmere|arm64|ppc64|lsx|lasx|fallback)\  ]] ||
    msg+=("line 2: '$line2'")
  # Built from this checkout: the commit is one of its commits.
  if [ -e "$REPO/.git" ] && command -v git > /dev/null; then
    if [ -z "$commit" ]; then msg+=("built from a git checkout, but no commit in: $line1")
    elif ! git -C "$REPO" cat-file -e "$commit^{commit}" 2> /dev/null; then msg+=("commit $commit is not in $REPO"); fi
  fi
  if [ ${#msg[@]} -eq 0 ]; then ok "$name ($line1; $line2)"; else not_ok "$name" "${msg[@]}"; fi
}
register t_ship_version

# The build's commit lookup (cmake/git_commit.cmake) gives "" outside a checkout, the commit inside.
t_ship_version_commit_lookup() {
  local name="version: cmake/git_commit.cmake writes no commit outside a git checkout, the commit inside"
  local msg=()
  command -v cmake > /dev/null || { ok "$name # SKIP no cmake"; return; }
  mkdir -p not-a-checkout
  cmake -DSOURCE_DIR="$PWD/not-a-checkout" -DOUTPUT="$PWD/none.cpp" -P "$REPO/cmake/git_commit.cmake" > /dev/null 2>&1
  grep -q 'kGitCommit = "";' none.cpp 2> /dev/null || msg+=("outside a checkout: $(cat none.cpp 2>&1)")
  if [ -e "$REPO/.git" ] && command -v git > /dev/null; then
    cmake -DSOURCE_DIR="$REPO" -DOUTPUT="$PWD/here.cpp" -P "$REPO/cmake/git_commit.cmake" > /dev/null 2>&1
    grep -Eq "kGitCommit = \"$(git -C "$REPO" rev-parse --short=12 HEAD)[0-9a-f]*(-dirty)?\";" here.cpp 2> /dev/null ||
      msg+=("in $REPO: $(cat here.cpp 2>&1)")
  fi
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_ship_version_commit_lookup
