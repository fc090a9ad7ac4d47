#include <catch2/catch.hpp>

#include <algorithm>

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

TEST_CASE("an --output other than jsonl ends the chain with 'parse' where text may be unchecked", "[cli]") {
  std::string err, help;
  auto chain_of = [&](std::vector<std::string> stages, std::vector<std::pair<std::string, std::string>> args,
                      const std::string& output, const std::string& format = "") {
    Options o;
    o.stages = std::move(stages);
    o.stages_given = true;
    o.stage_args = std::move(args);
    o.output = output;
    o.format = format;
    auto plan = build_plan(o, &err, &help);
    std::string names;
    if (!plan) return std::string("error: ") + err;
    for (const auto& st : plan->stages) names += (names.empty() ? "" : ",") + std::string(st->name());
    return names + (plan->parse_added ? " (added)" : "");
  };
  // Unchecked: raw lines, a command's output (also after a parse), tail's lines with no parse.
  CHECK(chain_of({"head"}, {{"--head", "3"}}, "csv") == "head,parse (added)");
  CHECK(chain_of({"exec"}, {{"--exec", "cat"}}, "json") == "exec,parse (added)");
  CHECK(chain_of({"parse", "exec"}, {{"--exec", "cat"}}, "pretty") == "parse,exec,parse (added)");
  CHECK(chain_of({"tail"}, {{"--tail", "3"}}, "raw") == "tail,parse (added)");
  // Checked: parse after the last unchecked stage, JSON a stage writes, decoded input, jsonl output.
  CHECK(chain_of({"parse", "head", "tail"}, {{"--head", "3"}, {"--tail", "2"}}, "table") == "parse,head,tail");
  CHECK(chain_of({"exec", "parse"}, {{"--exec", "cat"}}, "tsv") == "exec,parse");
  CHECK(chain_of({"exec", "map"}, {{"--exec", "cat"}, {"--map", ".a"}}, "csv") == "exec,parse,map (added)");
  CHECK(chain_of({"agg"}, {}, "csv") == "parse,agg (added)");
  CHECK(chain_of({"head"}, {{"--head", "3"}}, "csv", "csv") == "head");
  CHECK(chain_of({"exec"}, {{"--exec", "cat"}}, "jsonl") == "exec");
}

TEST_CASE("exec's record mode asks for batches of 8 records in 4 KiB, unless --batch-size is given; else at most kMaxBatchRecords", "[cli]") {
  std::string err, help;
  Options o;
  o.stages = {"exec"};
  o.stages_given = true;
  o.stage_args = {{"--exec", "cat"}, {"--exec-mode", "record"}};
  auto plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  CHECK(plan->engine.reader.batch_size == 4096);
  CHECK(plan->engine.reader.max_records == 8);
  o.batch_size_given = true;
  o.batch_size = "64K";
  plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  CHECK(plan->engine.reader.batch_size == 64 * 1024);
  CHECK(plan->engine.reader.max_records == kMaxBatchRecords);
  o.batch_size_given = false;
  o.batch_size = "1M";
  o.stage_args = {{"--exec", "cat"}};  // batch mode: the defaults
  plan = build_plan(o, &err, &help);
  REQUIRE(plan);
  CHECK(plan->engine.reader.batch_size == 1u << 20);
  CHECK(plan->engine.reader.max_records == kMaxBatchRecords);
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

// ---- stage options declared as data, with a table of fake stages ----

namespace {

// Records what it was built with: "flag=value" for each option that has a value (given or
// default; "*" marks a default), "flag" for a flag that is present.
class FakeStage final : public RecordStage {
 public:
  FakeStage(std::string name, std::string config, bool needs_parsed)
      : name_(std::move(name)), config_(std::move(config)), needs_parsed_(needs_parsed) {}
  std::string_view name() const override { return name_; }
  Verdict process(Record&, WorkerScratch&, StageState*) const override { return Verdict::kPass; }
  bool needs_parsed() const override { return needs_parsed_; }
  const std::string& config() const { return config_; }

 private:
  std::string name_, config_;
  bool needs_parsed_;
};

std::string describe(StageOptions options, const StageArgs& args) {
  std::string out;
  for (const StageOption& o : options) {
    if (!args.has(o.flag)) continue;
    if (!out.empty()) out += ' ';
    out += o.flag;
    if (o.kind == OptionKind::kValue) out += (args.given(o.flag) ? "=" : "=*") + args.value(o.flag);
  }
  return out;
}

constexpr StageOption kFakeAggOptions[] = {
    {"--group-by", OptionKind::kValue, "EXPR", nullptr, "the key", true},
    {"--agg", OptionKind::kValue, "LIST", "count", "what to compute", false},
    {"--partial", OptionKind::kFlag, nullptr, nullptr, "write partial results", false},
    {"--max-groups", OptionKind::kValue, "N", "1000", "at most N groups", false},
};
constexpr StageOption kFakeUniqOptions[] = {
    {"--uniq", OptionKind::kValue, "EXPR", ".", "the key", true},
    {"--uniq-all", OptionKind::kFlag, nullptr, nullptr, "keep counting after the first", false},
};
constexpr StageOption kFakeTagOptions[] = {
    {"--tag", OptionKind::kValue, "NAME", nullptr, "the tag", true},
};

const StageInfo kFakeParse = {"parse", "parses", "  Parses.\n", {}, [](const StageArgs&, std::string*) {
                                return std::unique_ptr<Stage>(new FakeStage("parse", "", false));
                              }};
const StageInfo kFakeAgg = {"agg", "groups", "  Groups.\n", kFakeAggOptions,
                            [](const StageArgs& args, std::string* error) -> std::unique_ptr<Stage> {
                              if (!args.count("--max-groups", error)) return nullptr;
                              return std::make_unique<FakeStage>("agg", describe(kFakeAggOptions, args), false);
                            }};
const StageInfo kFakeUniq = {"uniq", "dedups", "  Dedups.\n", kFakeUniqOptions,
                             [](const StageArgs& args, std::string*) -> std::unique_ptr<Stage> {
                               return std::make_unique<FakeStage>("uniq", describe(kFakeUniqOptions, args), false);
                             }};
// Reads parsed JSON, so --stages gets a parse before it.
const StageInfo kFakeTag = {"tag", "tags", "  Tags.\n", kFakeTagOptions,
                            [](const StageArgs& args, std::string*) -> std::unique_ptr<Stage> {
                              return std::make_unique<FakeStage>("tag", describe(kFakeTagOptions, args), true);
                            }};
const StageTable kFakeTable = {&kFakeParse, &kFakeAgg, &kFakeUniq, &kFakeTag};

// "name[config]" for each stage of the plan.
std::vector<std::string> chain_of(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.stages) {
    auto* fake = dynamic_cast<const FakeStage*>(s.get());
    out.push_back(std::string(s->name()) + (fake && !fake->config().empty() ? "[" + fake->config() + "]" : ""));
  }
  return out;
}

using Args = std::vector<std::pair<std::string, std::string>>;
using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("declared options: several per stage; the n-th occurrence configures the n-th stage", "[cli]") {
  std::string err, help;
  Options o;
  o.stage_args = Args{{"--group-by", ".a"}, {"--agg", "sum"}, {"--group-by", ".b"}, {"--partial", ""},
                      {"--max-groups", "5"}, {"--agg", "max"}};
  auto plan = build_plan(o, &err, &help, kFakeTable);
  INFO(err);
  REQUIRE(plan);
  CHECK(chain_of(*plan) == Names{"parse", "agg[--group-by=.a --agg=sum --partial --max-groups=5]",
                                 "agg[--group-by=.b --agg=max --max-groups=*1000]"});
}

TEST_CASE("declared options: defaults fill what is not given", "[cli]") {
  std::string err, help;
  Options o;
  o.stage_args = Args{{"--group-by", ".a"}, {"--uniq", ".id"}, {"--uniq", ".x"}, {"--uniq-all", ""}};
  auto plan = build_plan(o, &err, &help, kFakeTable);
  REQUIRE(plan);
  CHECK(chain_of(*plan) == Names{"parse", "agg[--group-by=.a --agg=*count --max-groups=*1000]",
                                 "uniq[--uniq=.id --uniq-all]", "uniq[--uniq=.x]"});
}

TEST_CASE("declared options: the default chain follows the options that add a stage", "[cli]") {
  std::string err, help;
  Options o;
  // Each --tag and --group-by adds a stage where it appears; --partial configures the agg added
  // after it; --uniq-all adds the uniq (no --uniq is given) where it first appears.
  o.stage_args = Args{{"--tag", "a"}, {"--partial", ""}, {"--uniq-all", ""}, {"--group-by", ".k"}, {"--tag", "b"}};
  auto plan = build_plan(o, &err, &help, kFakeTable);
  INFO(err);
  REQUIRE(plan);
  CHECK(chain_of(*plan) == Names{"parse", "tag[--tag=a]", "uniq[--uniq=*. --uniq-all]",
                                 "agg[--group-by=.k --agg=*count --partial --max-groups=*1000]", "tag[--tag=b]"});
  CHECK_FALSE(plan->parse_added);

  // With a --uniq anywhere, --uniq-all only configures: the stage sits where --uniq is.
  o.stage_args = Args{{"--uniq-all", ""}, {"--tag", "a"}, {"--uniq", ".id"}};
  plan = build_plan(o, &err, &help, kFakeTable);
  REQUIRE(plan);
  CHECK(chain_of(*plan) == Names{"parse", "tag[--tag=a]", "uniq[--uniq=.id --uniq-all]"});

  // A non-adding option alone adds one stage, whatever its count.
  o.stage_args = Args{{"--max-groups", "3"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "stage 'agg' needs its option --group-by (one per 'agg' stage)");
  CHECK(help == "agg");
}

TEST_CASE("declared options: errors name the option and its stage", "[cli]") {
  std::string err, help;
  Options o;

  // Required, with --stages.
  o.stages = {"parse", "agg"};
  o.stages_given = true;
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "stage 'agg' needs its option --group-by (one per 'agg' stage)");
  CHECK(help == "agg");

  // A flag or a value for a stage missing from --stages.
  o.stages = {"parse", "uniq"};
  o.stage_args = Args{{"--partial", ""}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "--partial has no 'agg' stage to configure in --stages");
  CHECK(help == "agg");
  o.stage_args = Args{{"--max-groups", "5"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "--max-groups 5 has no 'agg' stage to configure in --stages");

  // More flags than stages, without --stages.
  o = Options{};
  o.stage_args = Args{{"--group-by", ".a"}, {"--partial", ""}, {"--partial", ""}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err ==
        "--partial has no 2nd 'agg' stage to configure: the n-th --partial configures the n-th 'agg' stage, "
        "and each --group-by adds one");
  CHECK(help == "agg");
  o.stage_args = Args{{"--uniq-all", ""}, {"--uniq-all", ""}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err ==
        "--uniq-all has no 2nd 'uniq' stage to configure: the n-th --uniq-all configures the n-th 'uniq' stage, "
        "and each --uniq adds one");

  // A factory's error names the flag (StageArgs::count).
  o.stage_args = Args{{"--group-by", ".a"}, {"--max-groups", "many"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "--max-groups needs a non-negative integer, got 'many'");
  CHECK(help == "agg");

  // An option no stage declares (only a caller bypassing the command line can do this).
  o.stage_args = Args{{"--nope", "1"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, kFakeTable));
  CHECK(err == "unknown stage option '--nope'");
}

TEST_CASE("declared options: --stages gets parse before a stage that reads JSON, from the table", "[cli]") {
  std::string err, help;
  Options o;
  o.stages = {"uniq", "tag"};
  o.stages_given = true;
  o.stage_args = Args{{"--tag", "t"}};
  auto plan = build_plan(o, &err, &help, kFakeTable);
  REQUIRE(plan);
  CHECK(plan->parse_added);
  CHECK(chain_of(*plan) == Names{"uniq[--uniq=*.]", "parse", "tag[--tag=t]"});
}

TEST_CASE("declared options: help and README text come from the declarations", "[cli]") {
  CHECK(stage_usage(kFakeAgg) == "agg --group-by EXPR [--agg LIST] [--partial] [--max-groups N]");
  CHECK(stage_help(kFakeAgg) ==
        "agg --group-by EXPR [--agg LIST] [--partial] [--max-groups N]\n"
        "  Groups.\n"
        "  Options:\n"
        "    --group-by EXPR  the key\n"
        "    --agg LIST       what to compute (default count)\n"
        "    --partial        write partial results\n"
        "    --max-groups N   at most N groups (default 1000)\n");
  // One option: the help text says what it is, no list.
  CHECK(stage_help(kFakeTag) == "tag --tag NAME\n  Tags.\n");
  CHECK(stage_help(kFakeParse) == "parse\n  Parses.\n");
  std::string md = stages_markdown(StageTable{&kFakeParse, &kFakeUniq});
  CHECK(md ==
        "| stage option | stage | meaning |\n"
        "|---|---|---|\n"
        "| `--uniq EXPR` | `uniq` | the key (default .) |\n"
        "| `--uniq-all` | `uniq` | keep counting after the first (does not add a stage) |\n"
        "\n"
        "### Stages\n"
        "\n"
        "| stage | what it does |\n"
        "|---|---|\n"
        "| `parse` | parses |\n"
        "| `uniq` | dedups |\n");
}

TEST_CASE("StageArgs: values by flag, defaults, counts and sizes", "[cli]") {
  StageArgs args(kFakeAggOptions);
  CHECK(args.has("--agg"));
  CHECK_FALSE(args.given("--agg"));
  CHECK(args.value("--agg") == "count");
  CHECK_FALSE(args.has("--group-by"));
  CHECK_FALSE(args.has("--partial"));
  CHECK(args.value("--group-by").empty());
  args.set("--agg", "sum");
  args.set("--partial", "");
  CHECK(args.given("--agg"));
  CHECK(args.value("--agg") == "sum");
  CHECK(args.has("--partial"));
  std::string err;
  CHECK(args.count("--max-groups", &err) == 1000u);
  args.set("--max-groups", "-1");
  CHECK_FALSE(args.count("--max-groups", &err));
  CHECK(err == "--max-groups needs a non-negative integer, got '-1'");
  args.set("--max-groups", "64K");
  CHECK(args.size("--max-groups", 1u << 20, &err) == 64u * 1024);
  CHECK_FALSE(args.size("--max-groups", 1u << 15, &err));
  CHECK(err == "--max-groups '64K': expected a size from 1 to 32K, like 64K or 1M");
}

TEST_CASE("every stage option is declared once (or shared alike), and the real stages keep their help", "[cli]") {
  std::vector<std::string> flags;
  std::vector<const StageOption*> decls;
  for (const StageInfo* st : stage_table())
    for (const StageOption& o : st->options) {
      INFO(o.flag);
      auto seen = std::find(flags.begin(), flags.end(), o.flag);
      if (seen != flags.end()) {
        // A shared option: the same kind, argument and default, and it adds no stage.
        const StageOption& first = *decls[static_cast<std::size_t>(seen - flags.begin())];
        CHECK(is_shared_option(o.flag));
        CHECK(first.kind == o.kind);
        CHECK(std::string(first.arg_name ? first.arg_name : "") == (o.arg_name ? o.arg_name : ""));
        CHECK(std::string(first.default_value ? first.default_value : "") == (o.default_value ? o.default_value : ""));
        CHECK_FALSE(first.creates_stage);
        CHECK_FALSE(o.creates_stage);
      }
      decls.push_back(&o);
      CHECK(std::string(o.flag).rfind("--", 0) == 0);
      CHECK((o.kind == OptionKind::kFlag) == (o.arg_name == nullptr));
      flags.push_back(o.flag);
    }
  CHECK(stage_usage(*find_stage("head")) == "head --head N");
  CHECK(stage_usage(*find_stage("parse")) == "parse");
  std::string err;
  CHECK(make_stage("head", {{"--head", "3"}}, &err));
  CHECK_FALSE(make_stage("head", {}, &err));
  CHECK(err == "stage 'head' needs its option --head");
  CHECK_FALSE(make_stage("head", {{"--map", "."}}, &err));
  CHECK(err == "stage 'head' has no option --map");
}

TEST_CASE("declared options: a shared option configures every stage that declares it", "[cli]") {
  constexpr static StageOption kSharedA[] = {
      {"--a", OptionKind::kValue, "X", nullptr, "a", true},
      {"--limit", OptionKind::kValue, "N", "9", "limit", false},
  };
  constexpr static StageOption kSharedB[] = {
      {"--b", OptionKind::kFlag, nullptr, nullptr, "b", true},
      {"--limit", OptionKind::kValue, "N", "9", "limit", false},
  };
  static const StageInfo kA = {"sa", "a", "  A.\n", kSharedA, [](const StageArgs& args, std::string*) {
                                 return std::unique_ptr<Stage>(new FakeStage("sa", describe(kSharedA, args), false));
                               }};
  static const StageInfo kB = {"sb", "b", "  B.\n", kSharedB, [](const StageArgs& args, std::string*) {
                                 return std::unique_ptr<Stage>(new FakeStage("sb", describe(kSharedB, args), false));
                               }};
  const StageTable table = {&kFakeParse, &kA, &kB};
  CHECK(is_shared_option("--limit", table));
  CHECK_FALSE(is_shared_option("--a", table));
  CHECK(shared_option_stages("--limit", table) == "sa, sb");
  std::string err, help;
  Options o;
  o.stage_args = Args{{"--a", "1"}, {"--limit", "3"}, {"--b", ""}, {"--a", "2"}};
  auto plan = build_plan(o, &err, &help, table);
  INFO(err);
  REQUIRE(plan);
  CHECK(chain_of(*plan) == Names{"parse", "sa[--a=1 --limit=3]", "sb[--b --limit=3]", "sa[--a=2 --limit=3]"});
  // Given twice: refused. Alone: it adds no stage, so it has nothing to configure.
  o.stage_args = Args{{"--a", "1"}, {"--limit", "3"}, {"--limit", "4"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, table));
  CHECK(err == "--limit is given twice: it configures every stage that declares it (sa, sb), so give it once");
  o.stage_args = Args{{"--limit", "3"}};
  REQUIRE_FALSE(build_plan(o, &err, &help, table));
  CHECK(err == "--limit 3 has no stage to configure: it configures sa, sb, and the chain has none");
}
