#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "stages/agg/agg_spec.h"
#include "stages/agg/group_table.h"
#include "stages/registry.h"

using namespace ppipe;
using namespace ppipe::agg;

TEST_CASE("agg spec: lists split at top-level commas only", "[agg]") {
  std::string err;
  auto v = split_top_level(R"(.a, {x: .b, y: [1,2]}, "a,b" as s, f(.c; .d), .["x,y"])", &err);
  REQUIRE(v);
  CHECK(*v == std::vector<std::string>{".a", "{x: .b, y: [1,2]}", "\"a,b\" as s", "f(.c; .d)", ".[\"x,y\"]"});
  CHECK(split_top_level("  ", &err)->empty());
  CHECK_FALSE(split_top_level(".a,,.b", &err));
  CHECK(err.find("empty item") != std::string::npos);
  CHECK_FALSE(split_top_level("(.a, .b", &err));
  CHECK(err.find("unbalanced") != std::string::npos);
}

TEST_CASE("agg spec: `as NAME` and default names", "[agg]") {
  CHECK(split_as(".user.country as country") == std::pair<std::string, std::string>{".user.country", "country"});
  CHECK(split_as(".a") == std::pair<std::string, std::string>{".a", ""});
  CHECK(split_as(".as") == std::pair<std::string, std::string>{".as", ""});
  CHECK(split_as("\"x as y\"") == std::pair<std::string, std::string>{"\"x as y\"", ""});
  CHECK(split_as("(.a as b)") == std::pair<std::string, std::string>{"(.a as b)", ""});
  // `as "any name"`, and the spec's names read back whatever they are.
  using P = std::pair<std::string, std::string>;
  CHECK(split_as("p99.9(.v) as \"p99.9_v\"") == P{"p99.9(.v)", "p99.9_v"});
  CHECK(split_as(".\"a b\" as  \"a \\\"b\\\\\"") == P{".\"a b\"", "a \"b\\"});
  CHECK(split_as(".\"x as \\\"y\"") == P{".\"x as \\\"y\"", ""});  // inside the key's string
  CHECK(split_as("as \"x\"") == P{"as \"x\"", ""});
  CHECK(spec_name("count") == "count");
  CHECK(spec_name("p99.9_v") == "\"p99.9_v\"");
  for (std::string name : {"p99.9_v", "a b", "é", "sum_x-y", "q\"\\\n\t", "_1"})
    CHECK(split_as("sum(.v) as " + spec_name(name)) == P{"sum(.v)", name});
  CHECK(last_path_name(".user.country") == "country");
  CHECK(last_path_name(".a[\"b c\"]") == "b c");
  CHECK(last_path_name(".\"x\"") == "x");
  CHECK(last_path_name(".a | length") == "");
  CHECK(last_path_name(".") == "");
  CHECK(last_path_name(".a[0]") == "");
}

TEST_CASE("agg spec: --group-by", "[agg]") {
  std::string err;
  auto keys = parse_group_by(".host, .user.country as c, .port_proto", &err);
  REQUIRE(keys);
  REQUIRE(keys->size() == 3);
  CHECK((*keys)[0].expr == ".host");
  CHECK((*keys)[0].name == "host");
  CHECK((*keys)[1].expr == ".user.country");
  CHECK((*keys)[1].name == "c");
  CHECK((*keys)[2].name == "port_proto");
  CHECK(parse_group_by("", &err)->empty());
  CHECK_FALSE(parse_group_by(".a | length", &err));
  CHECK(err == "--group-by: '.a | length' needs a name: write '.a | length as NAME'");
  CHECK_FALSE(parse_group_by(".a.x, .b.x", &err));
  CHECK(err.find("two keys named 'x'") != std::string::npos);
}

TEST_CASE("agg spec: --agg names, arguments, defaults and errors", "[agg]") {
  std::string err;
  auto items = parse_agg_list("count, count(.x), avg(.latency_ms) as lat, p99(.latency_ms), p99.9(.a.b), "
                              "sum({a: 1, b: 2} | .a) as s, collect(.s) as all",
                              7, &err);
  INFO(err);
  REQUIRE(items);
  REQUIRE(items->size() == 7);
  CHECK((*items)[0].spec.kind == AggregateKind::kCount);
  CHECK((*items)[0].name == "count");
  CHECK((*items)[0].expr.empty());
  CHECK((*items)[1].spec.kind == AggregateKind::kCountValues);
  CHECK((*items)[1].name == "count_x");
  CHECK((*items)[2].spec.kind == AggregateKind::kAvg);
  CHECK((*items)[2].name == "lat");
  CHECK((*items)[2].expr == ".latency_ms");
  CHECK((*items)[3].name == "p99_latency_ms");
  CHECK((*items)[3].spec.kind == AggregateKind::kPercentile);
  CHECK((*items)[3].spec.p == 0.99);
  CHECK((*items)[4].name == "p99.9_b");
  CHECK((*items)[5].expr == "{a: 1, b: 2} | .a");
  CHECK((*items)[5].text == "sum({a: 1, b: 2} | .a)");
  CHECK((*items)[6].spec.kind == AggregateKind::kCollect);
  CHECK((*items)[6].spec.collect_limit == 7u);
  CHECK((*items)[6].name == "all");

  CHECK_FALSE(parse_agg_list("count, avgg(.x)", 1000, &err));
  CHECK(err.rfind("--agg: unknown aggregate 'avgg'", 0) == 0);
  CHECK(err.find("avg") != std::string::npos);
  CHECK_FALSE(parse_agg_list("sum", 1000, &err));
  CHECK(err == "--agg: sum needs an argument, e.g. sum(.latency_ms)");
  CHECK_FALSE(parse_agg_list("sum(.a | length)", 1000, &err));
  CHECK(err == "--agg: 'sum(.a | length)' needs a name: write 'sum(.a | length) as NAME'");
  CHECK_FALSE(parse_agg_list("sum(.a) x", 1000, &err));
  CHECK_FALSE(parse_agg_list("", 1000, &err));
  CHECK_FALSE(parse_agg_list("p101(.a)", 1000, &err));
}

TEST_CASE("agg stage: built from its options; bad specs are usage errors", "[agg]") {
  std::string err;
  CHECK(make_stage("agg", {}, &err));
  CHECK(make_stage("agg", {{"--group-by", ".host, .user.country as country"},
                           {"--agg", "count, avg(.latency_ms) as lat, p99(.latency_ms)"}},
                   &err));
  CHECK_FALSE(make_stage("agg", {{"--group-by", ".count"}, {"--agg", "count"}}, &err));
  CHECK(err.find("name of a key") != std::string::npos);
  CHECK_FALSE(make_stage("agg", {{"--agg", "sum(.a), sum(.a)"}}, &err));
  CHECK(err.find("two aggregates named 'sum_a'") != std::string::npos);
  CHECK_FALSE(make_stage("agg", {{"--agg", "sum(.a +) as s"}}, &err));
  CHECK(is_expression_error(err));
  // Without `as NAME` too: the syntax error, not a missing name.
  CHECK_FALSE(make_stage("agg", {{"--agg", "sum(.a +)"}}, &err));
  CHECK(is_expression_error(err));
  CHECK_FALSE(make_stage("agg", {{"--group-by", ".a +"}}, &err));
  CHECK(is_expression_error(err));
  CHECK_FALSE(make_stage("agg", {{"--max-groups", "0"}}, &err));
}

TEST_CASE("merge stage: built with its defaults; --max-groups is shared with uniq and agg", "[agg]") {
  std::string err;
  CHECK(make_stage("merge", {}, &err));
  CHECK_FALSE(make_stage("merge", {{"--max-groups", "0"}}, &err));
  CHECK(is_shared_option("--max-groups"));
  CHECK(shared_option_stages("--max-groups") == "uniq, agg, merge");
  CHECK(make_stage("merge", {{"--partial", ""}}, &err));
  CHECK(is_shared_option("--partial"));
  CHECK(shared_option_stages("--partial") == "agg, merge");
}

TEST_CASE("group table: finds what was inserted, through growth and colliding hashes", "[agg]") {
  struct G {
    std::uint64_t hash = 0;
    std::string text;
    std::string_view key() const { return text; }
  };
  using Table = ppipe::agg::GroupTable<G>;
  Table t;
  std::vector<std::unique_ptr<G>> owned;  // the table does not own its groups
  CHECK(t.find("[1]", Table::hash_of("[1]")) == nullptr);
  // Half the keys get a forced hash, so that they collide in the slots and in the tag.
  auto hash = [](std::size_t i, const std::string& k) { return i % 2 ? std::uint64_t{0xabcdef0000000007} : Table::hash_of(k); };
  for (std::size_t i = 0; i < 5000; ++i) {
    auto g = std::make_unique<G>();
    g->text = "[" + std::to_string(i) + "]";
    g->hash = hash(i, g->text);
    REQUIRE(t.find(g->key(), g->hash) == nullptr);
    G* raw = t.insert(g.get());
    owned.push_back(std::move(g));
    REQUIRE(t.find(raw->key(), raw->hash) == raw);
  }
  CHECK(t.size() == 5000);
  for (std::size_t i = 0; i < 5000; ++i) {
    std::string k = "[" + std::to_string(i) + "]";
    G* g = t.find(k, hash(i, k));
    REQUIRE(g != nullptr);
    CHECK(g->key() == k);
    CHECK(t.groups()[i] == g);  // insertion order
  }
  CHECK(t.find("[5000]", Table::hash_of("[5000]")) == nullptr);
  CHECK(t.find("[5001]", 0xabcdef0000000007) == nullptr);
  // reserve() on a full table re-places what is there.
  t.reserve(20000);
  for (std::size_t i = 0; i < 5000; i += 7) {
    std::string k = "[" + std::to_string(i) + "]";
    REQUIRE(t.find(k, hash(i, k)) == t.groups()[i]);
  }
  // take_slots() hands the slot array over (agg's finish sorts in it): at least 16 bytes a group;
  // the groups are still listed, none is found, and an insert grows the slots again.
  {
    const std::size_t n = t.size();
    auto room = t.take_slots();
    CHECK(room.size() * sizeof(room[0]) >= 16 * n);
    CHECK(t.size() == n);
    CHECK(t.groups()[3]->key() == "[3]");
    CHECK(t.find("[3]", hash(3, "[3]")) == nullptr);
    CHECK(t.bytes() == t.groups().capacity() * sizeof(G*));
    auto g = std::make_unique<G>();
    g->text = "[5000]";
    g->hash = Table::hash_of(g->text);
    G* raw = t.insert(g.get());
    owned.push_back(std::move(g));
    CHECK(t.find("[5000]", Table::hash_of("[5000]")) == raw);
    CHECK(t.find("[3]", hash(3, "[3]")) == t.groups()[3]);  // re-placed as the slots grew
  }
  // clear() keeps the slots (a batch's table is used again) but forgets every group.
  t.clear();
  CHECK(t.empty());
  for (std::size_t i = 0; i < 5000; i += 13) {
    std::string k = "[" + std::to_string(i) + "]";
    CHECK(t.find(k, hash(i, k)) == nullptr);
  }
  t.reserve(100);
  auto g = std::make_unique<G>();
  g->text = "[1]";
  g->hash = Table::hash_of(g->text);
  G* raw = t.insert(g.get());
  CHECK(t.find("[1]", Table::hash_of("[1]")) == raw);
  CHECK(t.size() == 1);
  CHECK(t.groups()[0] == raw);
}
