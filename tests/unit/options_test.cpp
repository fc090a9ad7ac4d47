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
