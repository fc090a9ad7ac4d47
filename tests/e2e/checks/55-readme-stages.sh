# shellcheck shell=bash
# The README's stage tables are generated from the stages' declarations (stages/registry.h): the
# part of README.md between <!-- stages:begin --> and <!-- stages:end --> must be exactly what
# `ppipe help --markdown-stages` prints. To update it, paste that output between the markers.

t_readme_stages() {
  local name="README.md stage tables = ppipe help --markdown-stages"
  local readme="$REPO/README.md"
  if [ "$(grep -c -e '^<!-- stages:begin -->$' -e '^<!-- stages:end -->$' "$readme")" != 2 ]; then
    not_ok "$name" "README.md needs one '<!-- stages:begin -->' and one '<!-- stages:end -->' line"
    return
  fi
  sed -n '/^<!-- stages:begin -->$/,/^<!-- stages:end -->$/p' "$readme" | sed '1d;$d' > readme-stages.md
  "$PPIPE" help --markdown-stages > binary-stages.md 2>&1 || { not_ok "$name" "ppipe help --markdown-stages failed: $(head -c 300 binary-stages.md)"; return; }
  if cmp -s binary-stages.md readme-stages.md; then
    ok "$name"
  else
    not_ok "$name" "README.md differs from the binary (paste its output between the markers):" \
      "$(diff -u --label binary --label README.md binary-stages.md readme-stages.md | head -n 30)"
  fi
}
register t_readme_stages
