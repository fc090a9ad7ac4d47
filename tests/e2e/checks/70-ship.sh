# shellcheck shell=bash
# Shipping ppipe: --version, and --config / --print-config.

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

# --config FILE and --print-config.
t_ship_config_round_trip() {
  local name="config: --print-config, read back with --config, gives the same output and the same --print-config"
  local F msg=()
  F=$(gen_file ship "--seed" 70 "--size" 2M)
  # Repeated options, stage options out of order, a flag, engine options, quoting that needs escapes.
  local args=(--filter '.status >= 400' --map '{host, status, q: "a\"b #c\\d"}' --filter '.status != 404'
              --head 50 -j 2 --batch-size 64K --max-errors 1000 --uniq .host --uniq-all)
  "$PPIPE" "${args[@]}" "$F" > out.cli 2> err.cli || msg+=("the command line run failed: $(head -c 300 err.cli)")
  "$PPIPE" "${args[@]}" --print-config > c1.toml 2> err || msg+=("--print-config failed: $(cat err)")
  "$PPIPE" --config c1.toml "$F" > out.cfg 2> err.cfg || msg+=("the --config run failed: $(head -c 300 err.cfg)")
  "$PPIPE" --config c1.toml --print-config > c2.toml 2> err || msg+=("--config --print-config failed: $(cat err)")
  [ -s out.cli ] || msg+=("no output")
  cmp -s out.cli out.cfg || msg+=("outputs differ:" "$(short_diff out.cli out.cfg)")
  cmp -s c1.toml c2.toml || msg+=("the printed configs differ:" "$(short_diff c1.toml c2.toml)")
  grep -qx 'stages = "parse,filter,map,filter,head,uniq"' c1.toml || msg+=("stages: $(grep stages c1.toml)")
  grep -qx 'filter = \[".status >= 400", ".status != 404"\]' c1.toml || msg+=("filter: $(grep ^filter c1.toml)")
  grep -qx 'uniq-all = true' c1.toml || msg+=("uniq-all: $(grep uniq-all c1.toml)")
  grep -qx 'workers = 2' c1.toml || msg+=("workers: $(grep workers c1.toml)")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}" "--- c1.toml:" "$(cat c1.toml)"; fi
}
register t_ship_config_round_trip

t_ship_config_rules() {
  local name="config: the command line overrides the file; the file's stage options come first; flags set false add nothing"
  local F msg=() got
  F=$(gen_file ship "--seed" 70 "--size" 2M)
  printf '%s\n' '# job' 'head = 5' "filter = '.status >= 500'" 'unordered = false' > job.toml
  got=$("$PPIPE" --config job.toml --print-config 2>&1 | grep '^stages')
  [ "$got" = 'stages = "parse,head,filter"' ] || msg+=("file order: $got")
  got=$("$PPIPE" --config job.toml --head 2 --map .host --print-config 2>&1 | grep -e '^stages' -e '^head' | tr '\n' ' ')
  [ "$got" = 'stages = "parse,filter,head,map" head = 2 ' ] || msg+=("file, then command line: $got")
  got=$("$PPIPE" --config job.toml --head 2 "$F" 2>&1 | wc -l)
  [ "$got" = 2 ] || msg+=("--head 2 over the file's head = 5 gave $got lines")
  got=$("$PPIPE" --config job.toml "$F" 2>&1 | jq -c 'select(.status < 500)' | wc -l)
  [ "$got" = 0 ] || msg+=("the file's filter was not applied")
  printf '%s\n' 'uniq-all = false' 'stats = false' 'workers = 1' > flags.toml
  got=$("$PPIPE" --config flags.toml --print-config 2>&1 | grep -v '^#' | tr '\n' ' ')
  [ "$got" = 'stages = "parse" workers = 1 stats = false ' ] || msg+=("flags set false: $got")
  printf '%s\n' 'stages = "parse,head"' 'head = 3' > stages.toml
  got=$("$PPIPE" --config stages.toml "$F" | wc -l)
  [ "$got" = 3 ] || msg+=("stages from the file: $got lines")
  if [ ${#msg[@]} -eq 0 ]; then ok "$name"; else not_ok "$name" "${msg[@]}"; fi
}
register t_ship_config_rules

# config_error_case NAME EXPECTED LINE...: a config file NAME.toml of these lines is refused with
# exit 2 and a message containing EXPECTED, nothing written. Prints what went wrong, if anything.
config_error_case() {
  local file="$1.toml" expected=$2 rc; shift 2
  printf '%s\n' "$@" > "$file"
  "$PPIPE" --config "$file" /dev/null > out 2> err; rc=$?
  if [ "$rc" != 2 ] || ! grep -qF -- "$expected" err || [ -s out ]; then echo "$file: exit $rc: $(head -c 300 err)"; fi
}

t_ship_config_errors() {
  local name="config: an unknown key, a bad line or a missing file is a usage error (exit 2) naming the file and line"
  local msg
  msg=$(
    config_error_case bad-key "ppipe: bad-key.toml line 3: unknown key 'filtr' (did you mean 'filter'?)" \
      '# job' 'head = 5' 'filtr = ".a"'
    config_error_case dashes "dashes.toml line 2: unknown key '--map': write it without the dashes, 'map'" \
      'head = 5' '--map = ".a"'
    config_error_case version "version.toml line 1: 'version' cannot be set in a config file" 'version = true'
    config_error_case value "--head needs a non-negative integer, got 'x'" 'head = "x"'
    config_error_case flag "flag.toml line 2: 'uniq-all' is a flag: true or false, not 'maybe'" 'head = 1' 'uniq-all = maybe'
    config_error_case one "one.toml line 1: 'workers' takes one value, not an array of 2" 'workers = [1, 2]'
    config_error_case open "open.toml line 3: the array of 'map' is not closed" 'head = 1' 'map = [".a",'
    "$PPIPE" --config missing.toml /dev/null > /dev/null 2> err; rc=$?
    { [ "$rc" = 2 ] && grep -qF "missing.toml" err; } || echo "missing file: exit $rc: $(cat err)"
  )
  if [ -z "$msg" ]; then ok "$name"; else not_ok "$name" "$msg"; fi
}
register t_ship_config_errors
