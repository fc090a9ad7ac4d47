#include <catch2/catch.hpp>

#include "src/cli/text_util.h"

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
