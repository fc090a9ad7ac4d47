# shellcheck shell=bash
# docs/cookbook.md and the README's examples are tests: every ```sh block followed by an ```output
# block is run (tests/e2e/cookbook.py) and its stdout must be the output shown.

t_cookbook() {
  local out rc=0 f
  for f in docs/cookbook.md README.md; do
    out=$(python3 "$E2E/cookbook.py" "$(dirname "$PPIPE")" "$REPO" "$REPO/$f" 2>&1) || rc=$?
    local n; n=$(grep -c '^ok - ' <<<"$out")
    if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
      ok "$f: all $n recipes give the output shown"
    else
      not_ok "$f: recipes" "$(grep -v '^ok - ' <<<"$out")"
    fi
    rc=0
  done
  # The cookbook has the recipes the issue asks for.
  n=$(grep -c '^```sh' "$REPO/docs/cookbook.md")
  if [ "$n" -ge 8 ]; then ok "docs/cookbook.md has $n recipes (>= 8)"; else not_ok "docs/cookbook.md has $n recipes, fewer than 8"; fi
}
register t_cookbook
