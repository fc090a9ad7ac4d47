#include <catch2/catch.hpp>

#include "src/cli/config_file.h"

using namespace ppipe;

namespace {

std::vector<ConfigEntry> parse_ok(std::string_view text) {
  std::vector<ConfigEntry> entries;
  std::string error;
  INFO(text);
  REQUIRE(parse_config_text(text, &entries, &error));
  REQUIRE(error.empty());
  return entries;
}

std::string parse_error(std::string_view text) {
  std::vector<ConfigEntry> entries;
  std::string error;
  INFO(text);
  REQUIRE_FALSE(parse_config_text(text, &entries, &error));
  return error;
}

}  // namespace

TEST_CASE("config: keys, strings, bare values, arrays and comments, with their lines", "[config]") {
  auto e = parse_ok(
      "# a job\n"
      "\n"
      "stages = \"parse,filter,head\"   # the chain\n"
      "filter = ['.a == \"x\"', \".b\\t\\\"q\\\" \\u00e9\"]\n"
      "head = 10\n"
      "  batch-size=4M\n"
      "; ini comment\n"
      "unordered = true\n"
      "stats\n"
      "map = [\n"
      "  '{a}',  # first\n"
      "  \"{b}\",\n"
      "]\n"
      "errors = bad # file.jsonl\n"
      "exec = a#b\n");
  REQUIRE(e.size() == 9);
  CHECK(e[0].key == "stages");
  CHECK(e[0].values == std::vector<std::string>{"parse,filter,head"});
  CHECK(e[0].line == 3);
  CHECK(e[1].values == std::vector<std::string>{".a == \"x\"", ".b\t\"q\" \xC3\xA9"});
  CHECK(e[2].values == std::vector<std::string>{"10"});
  CHECK(e[3].key == "batch-size");
  CHECK(e[3].values == std::vector<std::string>{"4M"});
  CHECK(e[3].line == 6);
  CHECK(e[4].values == std::vector<std::string>{"true"});
  CHECK(e[5].key == "stats");
  CHECK(e[5].values == std::vector<std::string>{"true"});  // INI's bare key: a flag that is on
  CHECK(e[6].values == std::vector<std::string>{"{a}", "{b}"});
  CHECK(e[6].line == 10);
  CHECK(e[7].values == std::vector<std::string>{"bad"});  // '#' after a blank starts a comment
  CHECK(e[8].values == std::vector<std::string>{"a#b"});
  CHECK(e[8].line == 15);
}

TEST_CASE("config: a UTF-8 byte order mark before the first key is no part of it", "[config]") {
  auto e = parse_ok("\xEF\xBB\xBFhead = 1\nmap = '.a'\n");
  REQUIRE(e.size() == 2);
  CHECK(e[0].key == "head");
  CHECK(e[0].line == 1);
  CHECK(e[1].values == std::vector<std::string>{".a"});
}

TEST_CASE("config: syntax errors name the line", "[config]") {
  CHECK(parse_error("head = 1\nfilter = \".a\n") == "line 2: a string is not closed: \" missing");
  CHECK(parse_error("head = 1\nhead = 2\n") ==
        "line 2: 'head' is set twice (first on line 1): give all its values as one array, head = [..., ...]");
  CHECK(parse_error("[job]\nhead = 1\n") ==
        "line 1: sections ([job]) are not used: the keys are ppipe's long options, at the top level");
  CHECK(parse_error("head 1\n") == "line 1: expected '=' after 'head'");
  CHECK(parse_error("head =\n") == "line 1: 'head' has no value after '='");
  CHECK(parse_error("filter = [\".a\",\n\".b\"\n") == "line 3: the array of 'filter' is not closed: ']' missing");
  CHECK(parse_error("filter = \".a\" x\n") == "line 1: unexpected text after the value of 'filter'");
  CHECK(parse_error("filter = \"\\q\"\n").rfind("line 1: unknown escape \\q", 0) == 0);
  CHECK(parse_error("filter = \"\"\"x\"\"\"\n").rfind("line 1: multi-line strings", 0) == 0);
  CHECK(parse_error("= 1\n") == "line 1: expected a key (a long option name without --) or a comment");
  CHECK(parse_ok("[default]\nhead = 1\n").size() == 1);
}

TEST_CASE("config: config_quote is read back to the same bytes", "[config]") {
  const std::string values[] = {"",
                                "plain",
                                ".a == \"x\" and .b != 'y'",
                                "back\\slash # not a comment ; nor this",
                                std::string("ctl \x01\x1f\x7f\n\r\t\b\f end"),
                                "\xC3\xA9 utf-8 and \xFF invalid",
                                "[not, an, array]"};
  for (const std::string& v : values) {
    auto e = parse_ok("k = " + config_quote(v) + "\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].values == std::vector<std::string>{v});
    auto arr = parse_ok("k = [" + config_quote(v) + ", " + config_quote(v) + "]\n");
    CHECK(arr[0].values == std::vector<std::string>{v, v});
  }
}
