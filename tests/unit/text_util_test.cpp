#include <catch2/catch.hpp>

#include "src/cli/markdown.h"
#include "src/util/text_util.h"

using namespace ppipe;

TEST_CASE("parse_size accepts plain numbers and K/M/G suffixes", "[cli]") {
  REQUIRE(parse_size("1") == 1u);
  REQUIRE(parse_size("100") == 100u);
  REQUIRE(parse_size("64K") == 64u * 1024);
  REQUIRE(parse_size("64k") == 64u * 1024);
  REQUIRE(parse_size("1M") == 1u << 20);
  REQUIRE(parse_size("2MiB") == 2u << 20);
  REQUIRE(parse_size("1G") == 1ull << 30);
  REQUIRE(parse_size("10B") == 10u);
}

TEST_CASE("parse_size rejects zero, junk and overflow", "[cli]") {
  REQUIRE_FALSE(parse_size(""));
  REQUIRE_FALSE(parse_size("0"));
  REQUIRE_FALSE(parse_size("M"));
  REQUIRE_FALSE(parse_size("1X"));
  REQUIRE_FALSE(parse_size("-1"));
  REQUIRE_FALSE(parse_size("1.5M"));
  REQUIRE_FALSE(parse_size("99999999999999999999"));
  REQUIRE_FALSE(parse_size("18014398509481984G"));
}

TEST_CASE("nearest_name suggests close names only", "[cli]") {
  std::vector<std::string> names{"parse", "head", "filter", "map"};
  REQUIRE(nearest_name("parce", names) == "parse");
  REQUIRE(nearest_name("haed", names) == "head");
  REQUIRE(nearest_name("fliter", names) == "filter");
  REQUIRE(nearest_name("zzzzzz", names).empty());
  REQUIRE(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("utf8_safe_prefix never ends inside a character", "[cli]") {
  std::string e_acute = "caf\xC3\xA9";  // café
  REQUIRE(utf8_safe_prefix(e_acute) == 5);
  REQUIRE(utf8_safe_prefix(e_acute.substr(0, 4)) == 3);
  std::string emoji = "a\xF0\x9F\x98\x80";
  REQUIRE(utf8_safe_prefix(emoji) == 5);
  REQUIRE(utf8_safe_prefix(emoji.substr(0, 4)) == 1);
  REQUIRE(utf8_safe_prefix(emoji.substr(0, 2)) == 1);
  REQUIRE(utf8_safe_prefix("abc") == 3);
  REQUIRE(utf8_safe_prefix("") == 0);
}

TEST_CASE("shell_quote quotes only what needs it", "[cli]") {
  CHECK(shell_quote("data.jsonl") == "data.jsonl");
  CHECK(shell_quote("logs/a-1.json") == "logs/a-1.json");
  CHECK(shell_quote("my file") == "'my file'");
  CHECK(shell_quote(".a == 1", true) == "'.a == 1'");
  CHECK(shell_quote(".type", true) == "'.type'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("") == "''");
}

TEST_CASE("render_markdown_for_terminal: what it shows can be copied and run", "[cli]") {
  const char* md =
      "# Title\n"
      "\n"
      "Some **bold** and *emphasis*, `code **kept**`, a [link](https://x.org) and [docs/a.md](docs/a.md).\n"
      "Escaped \\* star, `a \\| b` in code stays, a * b stays.\n"
      "\n"
      "## Small table\n"
      "\n"
      "| op | assoc |\n"
      "|---|---:|\n"
      "| `\\|` | right |\n"
      "| `//` | right |\n"
      "\n"
      "### Code\n"
      "\n"
      "```\n"
      "ppipe --filter '.a | not'\n"
      "```\n"
      "\n"
      "<!-- a note for editors -->\n"
      "| name | semantics | example |\n"
      "|---|---|---|\n"
      "| `not` | boolean negation of truthiness, a long explanation that cannot possibly fit next to the "
      "others | `null \\| not` → `true` |\n"
      "| `isnan` | NaN test | |\n"
      "\n"
      "<!-- contributors -->\n"
      "## For stage authors (C++ API)\n"
      "secret\n"
      "<!-- /contributors -->\n"
      "\n"
      "\n"
      "\n"
      "The end.\n"
      "<!-- contributors: to the end -->\n"
      "## Checked by hand\n"
      "more secret\n";
  std::string out = render_markdown_for_terminal(md);
  CHECK(out ==
        "Title\n"
        "=====\n"
        "\n"
        "Some bold and emphasis, `code **kept**`, a link (https://x.org) and docs/a.md.\n"
        "Escaped * star, `a \\| b` in code stays, a * b stays.\n"
        "\n"
        "Small table\n"
        "-----------\n"
        "\n"
        "  op    assoc\n"
        "  ----  -----\n"
        "  `|`   right\n"
        "  `//`  right\n"
        "\n"
        "Code\n"
        "\n"
        "    ppipe --filter '.a | not'\n"
        "\n"
        "  `not`\n"
        "      semantics: boolean negation of truthiness, a long explanation that cannot possibly fit next to\n"
        "        the others\n"
        "      example: `null | not` → `true`\n"
        "\n"
        "  `isnan`\n"
        "      semantics: NaN test\n"
        "\n"
        "The end.\n");
}

TEST_CASE("render_markdown_for_terminal never cuts a code span when it wraps", "[cli]") {
  std::string cell(80, 'x');
  std::string md = "| a | b |\n|---|---|\n| k | " + cell + " `if c then a elif d then b else e end` |\n";
  std::string out = render_markdown_for_terminal(md);
  CHECK(out == "  k\n      b: " + cell + "\n        `if c then a elif d then b else e end`\n");
}

TEST_CASE("utf8_replace_invalid: every byte outside a valid sequence becomes U+FFFD", "[text]") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(utf8_replace_invalid("ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(utf8_replace_invalid("a\xff" "b") == "a" + r + "b");
  CHECK(utf8_replace_invalid("\xC3") == r);                  // cut short
  CHECK(utf8_replace_invalid("\xC0\xAF") == r + r);          // overlong
  CHECK(utf8_replace_invalid("\xED\xA0\x80") == r + r + r);  // a surrogate
  CHECK(utf8_replace_invalid("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
}
