#include <catch2/catch.hpp>

#include "src/cli/options.h"

using namespace ppipe;

TEST_CASE("the default chain is parse plus stage options in command-line order", "[cli]") {
  Options o;
  o.stage_args = {{"--head", "5"}};
  std::string err, help;
  auto plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  REQUIRE(plan->stages.size() == 2);
  REQUIRE(plan->stages[0]->name() == "parse");
  REQUIRE(plan->stages[1]->name() == "head");
  REQUIRE(plan->engine.inputs == std::vector<std::string>{"-"});
  REQUIRE(plan->source_names == std::vector<std::string>{"<stdin>"});
  REQUIRE(plan->engine.workers >= 1);
  REQUIRE(plan->engine.queue_depth >= 4);
}

TEST_CASE("unknown stages are usage errors with a suggestion", "[cli]") {
  Options o;
  o.stages = {"parse", "haed"};
  o.stages_given = true;
  std::string err, help;
  REQUIRE_FALSE(build_plan(o, &err, &help));
  REQUIRE(err == "unknown stage 'haed' (did you mean 'head'?)");
}

TEST_CASE("each head stage takes its own --head, and they must match up", "[cli]") {
  std::string err, help;
  Options o;
  o.stages = {"parse", "head", "head"};
  o.stages_given = true;
  o.stage_args = {{"--head", "5"}};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  REQUIRE(help == "head");
  o.stage_args = {{"--head", "5"}, {"--head", "2"}};
  REQUIRE(build_plan(o, &err, &help));
  o.stages = {"parse"};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  REQUIRE(err.find("--head 5 has no 'head' stage") == 0);
  o.stages = {"parse", "head"};
  o.stage_args = {{"--head", "x"}};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  REQUIRE(err == "--head needs a non-negative integer, got 'x'");
}

TEST_CASE("sizes are validated into the plan", "[cli]") {
  std::string err, help;
  Options o;
  o.batch_size = "64K";
  o.max_record_size = "2M";
  auto plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  REQUIRE(plan->engine.reader.batch_size == 64 * 1024);
  REQUIRE(plan->engine.reader.max_record_size == 2u << 20);
  o.batch_size = "0";
  REQUIRE_FALSE(build_plan(o, &err, &help));
  o.batch_size = "1M";
  o.max_record_size = "2G";
  REQUIRE_FALSE(build_plan(o, &err, &help));
}

TEST_CASE("a stage that reads JSON gets 'parse' put before it", "[cli]") {
  std::string err, help;
  Options o;
  o.stages = {"filter", "map"};
  o.stages_given = true;
  o.stage_args = {{"--filter", ".a"}, {"--map", ".b"}};
  auto plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  REQUIRE(plan->parse_added);
  REQUIRE(plan->stages.size() == 3);
  CHECK(plan->stages[0]->name() == "parse");
  CHECK(plan->stages[1]->name() == "filter");
  CHECK(plan->stages[2]->name() == "map");

  // Before the first such stage only, after stages that do not read JSON.
  o.stages = {"head", "map", "filter"};
  o.stage_args = {{"--head", "3"}, {"--filter", ".a"}, {"--map", ".b"}};
  plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  REQUIRE(plan->parse_added);
  REQUIRE(plan->stages.size() == 4);
  CHECK(plan->stages[0]->name() == "head");
  CHECK(plan->stages[1]->name() == "parse");
  CHECK(plan->stages[2]->name() == "map");

  // Nothing added when parse is there, or when no stage needs it.
  for (auto stages : {std::vector<std::string>{"parse", "head", "filter", "map"},
                      std::vector<std::string>{"head"}, std::vector<std::string>{"parse"}}) {
    o.stages = stages;
    o.stage_args.clear();
    for (const auto& s : stages)
      if (s != "parse") o.stage_args.emplace_back("--" + s, s == "head" ? "3" : ".a");
    plan = build_plan(o, &err, &help);
    INFO(stages.size());
    REQUIRE(plan);
    CHECK_FALSE(plan->parse_added);
    CHECK(plan->stages.size() == stages.size());
  }
  // The default chain starts with parse: nothing to add.
  Options d;
  d.stage_args = {{"--filter", ".a"}};
  plan = build_plan(d, &err, &help);
  REQUIRE(plan);
  CHECK_FALSE(plan->parse_added);
  CHECK(plan->stages.size() == 2);
}

TEST_CASE("an expression's compile error points to 'ppipe help expr', not to the stage help", "[cli]") {
  std::string err, help;
  Options o;
  o.stage_args = {{"--map", ".a"}, {"--filter", ".a && .b"}};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  CHECK(help == "expr");
  CHECK(err ==
        "error in --filter expression: '&&' is not an operator (use 'and')\n"
        "  .a && .b\n"
        "     ^");
  // Other stage errors still show the stage's help.
  o.stage_args = {{"--head", "x"}};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  CHECK(help == "head");
}

TEST_CASE("looks_like_expression: expressions yes, file names no", "[cli]") {
  for (const char* word : {".type", ".", ".a.b == 1", ".[\"k\"]", ".\"k k\"", ".a && .b", ".tags[]",
                           "select(.a==1)", "select (.a)", "map(.x)", "test(\"x\")", "sort_by(.a)",
                           "{host}", "[.a, .b]", "type == \"object\"", "length > 3", ".x | not"}) {
    INFO(word);
    CHECK(looks_like_expression(word));
  }
  for (const char* word : {"", "-", "data.jsonl", "./x.jsonl", "../x.jsonl", "/tmp/x", ".hidden.jsonl",
                           ".logs.json.gz", "logs(1).json", "data", "x|y", ".5", "..", "2024-01-01.log",
                           "~/x.json", "a b.json", "[draft] notes", "{broken", "true"}) {
    INFO(word);
    CHECK_FALSE(looks_like_expression(word));
  }
}

TEST_CASE("an expression given as the first FILE is a usage error with a pointer", "[cli]") {
  std::string err, help;
  Options o;
  o.inputs = {".type", "no-such-dir/data.jsonl"};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  CHECK(err ==
        "'.type' is not a file; expressions go in --filter or --map "
        "(e.g. ppipe --map '.type' no-such-dir/data.jsonl)");
  o.inputs = {"select(.a == \"x\")"};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  CHECK(err ==
        "'select(.a == \"x\")' is not a file; expressions go in --filter or --map "
        "(e.g. ppipe --filter '.a == \"x\"')");
  o.inputs = {".a == 'it'"};
  REQUIRE_FALSE(build_plan(o, &err, &help));
  CHECK(err ==
        "'.a == 'it'' is not a file; expressions go in --filter or --map "
        "(e.g. ppipe --filter '.a == '\\''it'\\''')");
  // Only the first FILE is asked, and a file that exists is a file whatever its name ('.' is the
  // current directory: main reports it).
  o.inputs = {"data.jsonl", ".type"};
  CHECK(build_plan(o, &err, &help));
  o.inputs = {"."};
  CHECK(build_plan(o, &err, &help));
}
