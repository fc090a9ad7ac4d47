#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>

#include "src/cli/markdown.h"
#include "src/util/plain_lines.h"
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

// PlainLines counts the lines of a text that can be written as it came (each a record as it is),
// fed in any pieces: the count and the verdict are those of the whole text at once, and those of
// a plain reference written here.
TEST_CASE("PlainLines: lines each a record as it is, fed whole or in pieces", "[util]") {
  auto reference = [](const std::string& t) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    std::size_t at = 0;
    while (at < t.size()) {
      std::size_t nl = t.find('\n', at);
      std::string line = t.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '\r' || line.back() == '\r') return std::nullopt;
      ++n;
      at = nl == std::string::npos ? t.size() : nl + 1;
    }
    return n;
  };
  CHECK(ppipe::plain_lines("") == std::optional<std::uint64_t>(0));
  CHECK(ppipe::plain_lines("{}\n{}\n") == std::optional<std::uint64_t>(2));
  CHECK(ppipe::plain_lines("{}\n{}") == std::optional<std::uint64_t>(2));
  CHECK_FALSE(ppipe::plain_lines("{}\n\n{}\n"));
  CHECK_FALSE(ppipe::plain_lines("{}\r\n"));
  CHECK_FALSE(ppipe::plain_lines(" {}\n"));
  CHECK_FALSE(ppipe::plain_lines("{}\n\t"));
  CHECK_FALSE(ppipe::plain_lines("\n"));
  const char alphabet[] = {'a', 'b', '\n', '\n', ' ', '\t', '\r', '{', '}'};
  std::uint64_t seed = 7;
  auto next = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull, seed >> 33; };
  for (int round = 0; round < 2000; ++round) {
    std::string t;
    const std::size_t len = next() % 40;
    // Mostly plain lines, sometimes a byte that makes one not.
    for (std::size_t i = 0; i < len; ++i) t.push_back(next() % 4 ? "ab\n{}"[next() % 5] : alphabet[next() % 9]);
    INFO(round << ": " << t);
    const auto want = reference(t);
    CHECK(ppipe::plain_lines(t) == want);
    ppipe::PlainLines p;
    std::size_t fed = 0;
    while (fed < t.size()) {
      fed = std::min(t.size(), fed + 1 + next() % 7);
      p.scan(t.data(), fed);
    }
    CHECK(p.finish(t.data(), t.size()) == want);
  }
}

TEST_CASE("reverse_utf8: code points reversed, their bytes kept together", "[text]") {
  auto rev = [](std::string_view s) {
    std::string out(s.size(), '?');
    ppipe::reverse_utf8(s, out.data());
    return out;
  };
  CHECK(rev("") == "");
  CHECK(rev("abc") == "cba");
  CHECK(rev("a\xC3\xA9z") == "z\xC3\xA9" "a");            // é
  CHECK(rev("\xE6\xBC\xA2\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80\xE6\xBC\xA2");  // 漢😀
}
