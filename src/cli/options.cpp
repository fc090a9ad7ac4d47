#include "src/cli/options.h"

#include <sched.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <simdjson.h>
#include <fmt/format.h>

#include "src/cli/text_util.h"
#include "src/io/reader.h"
#include "stages/registry.h"

namespace ppipe {

extern const char* const kExprDoc;  // docs/expr.md, generated into the build

namespace {

constexpr std::uint64_t kMaxBatchSize = 256ull << 20;
constexpr std::uint64_t kMaxRecordLimit = 1ull << 30;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

std::string stage_list_text() {
  std::string s = "Stages:\n";
  for (const auto& st : stage_table()) s += fmt::format("  {:<8} {}\n", st.name, st.summary);
  return s;
}

std::string usage_footer() { return "Run 'ppipe --help' for usage, 'ppipe help STAGE' for a stage.\n"; }

int print_help_topic(int argc, char** argv) {
  if (argc < 3) {
    std::cout << "Usage: ppipe help STAGE|expr\n\n" << stage_list_text()
              << "\nexpr     the expression language of filter and map\n";
    return kExitOk;
  }
  std::string topic = argv[2];
  if (topic == "expr") {
    std::cout << kExprDoc;
    return kExitOk;
  }
  if (const StageInfo* st = find_stage(topic)) {
    std::cout << st->help;
    return kExitOk;
  }
  std::vector<std::string> names{"expr"};
  for (const auto& st : stage_table()) names.push_back(st.name);
  std::string near = nearest_name(topic, names);
  std::cerr << "ppipe: no help for '" << topic << "'"
            << (near.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", near)) << "\n\n"
            << stage_list_text();
  return kExitUsage;
}

}  // namespace

unsigned usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

std::unique_ptr<Plan> build_plan(const Options& o, std::string* error, std::string* help_stage) {
  auto plan = std::make_unique<Plan>();
  EngineOptions& e = plan->engine;

  // The chain.
  std::vector<std::string> names = o.stages;
  if (!o.stages_given) {
    names = {"parse"};
    for (const auto& [opt, value] : o.stage_args)
      for (const auto& st : stage_table())
        if (opt == st.option) names.push_back(st.name);
  }
  if (names.empty()) {
    *error = "--stages needs at least one stage";
    return nullptr;
  }
  std::vector<std::string> all_names;
  for (const auto& st : stage_table()) all_names.push_back(st.name);
  std::vector<std::size_t> used(o.stage_args.size(), 0);
  bool seen_parse = false;
  for (const auto& name : names) {
    const StageInfo* info = find_stage(name);
    if (!info) {
      std::string near = nearest_name(name, all_names);
      *error = name.empty() ? "empty stage name in --stages"
                            : fmt::format("unknown stage '{}'{}", name,
                                          near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
      *help_stage = "*";
      return nullptr;
    }
    std::string arg;
    if (*info->option) {
      // The n-th stage of this kind takes the n-th occurrence of its option.
      bool found = false;
      for (std::size_t i = 0; i < o.stage_args.size(); ++i) {
        if (o.stage_args[i].first == info->option && !used[i]) {
          used[i] = 1;
          arg = o.stage_args[i].second;
          found = true;
          break;
        }
      }
      if (!found) {
        *error = fmt::format("stage '{}' needs its option {} (one per '{}' stage)", name, info->option, name);
        *help_stage = name;
        return nullptr;
      }
    }
    std::string stage_error;
    auto stage = info->make(arg, &stage_error);
    if (!stage) {
      *error = stage_error;
      *help_stage = name;
      return nullptr;
    }
    if (auto* rs = dynamic_cast<const RecordStage*>(stage.get()); rs && rs->needs_parsed() && !seen_parse) {
      *error = fmt::format("stage '{}' works on parsed JSON: put 'parse' before it in --stages", name);
      *help_stage = name;
      return nullptr;
    }
    if (name == "parse") seen_parse = true;
    plan->stages.push_back(std::move(stage));
  }
  for (std::size_t i = 0; i < o.stage_args.size(); ++i) {
    if (!used[i]) {
      const auto& [opt, value] = o.stage_args[i];
      std::string stage;
      for (const auto& st : stage_table())
        if (opt == st.option) stage = st.name;
      *error = fmt::format("{} {} has no '{}' stage to configure in --stages", opt, value, stage);
      *help_stage = stage;
      return nullptr;
    }
  }

  // Engine.
  e.inputs = o.inputs.empty() ? std::vector<std::string>{"-"} : o.inputs;
  for (const auto& p : e.inputs) plan->source_names.push_back(source_display_name(p));
  if (o.workers_given && (o.workers < 1 || o.workers > 1024)) {
    *error = "--workers must be between 1 and 1024";
    return nullptr;
  }
  e.workers = o.workers_given ? static_cast<unsigned>(o.workers) : usable_cores();
  if (o.queue_depth_given && (o.queue_depth < 1 || o.queue_depth > 4096)) {
    *error = "--queue-depth must be between 1 and 4096";
    return nullptr;
  }
  e.queue_depth = o.queue_depth_given ? static_cast<std::size_t>(o.queue_depth)
                                      : std::max<std::size_t>(4, 4 * e.workers);
  if (o.max_errors < 0) {
    *error = "--max-errors must be a positive number (omit it for no limit)";
    return nullptr;
  }
  auto batch = parse_size(o.batch_size);
  if (!batch || *batch > kMaxBatchSize) {
    *error = fmt::format("--batch-size '{}': expected a size from 1 to 256M, like 64K or 1M", o.batch_size);
    return nullptr;
  }
  auto max_record = parse_size(o.max_record_size);
  if (!max_record || *max_record > kMaxRecordLimit) {
    *error = fmt::format("--max-record-size '{}': expected a size from 1 to 1G, like 64M", o.max_record_size);
    return nullptr;
  }
  e.reader.batch_size = static_cast<std::size_t>(*batch);
  e.reader.max_record_size = *max_record;
  e.ordered = !o.unordered;
  e.max_errors = static_cast<std::uint64_t>(o.max_errors);
  e.progress = o.progress.value_or(isatty(STDERR_FILENO) == 1);
  plan->errors_path = o.errors_path;
  plan->stats = o.stats;
  return plan;
}

CliResult parse_command_line(int argc, char** argv) {
  CliResult result;
  if (argc >= 2 && std::string(argv[1]) == "help") {
    result.exit_code = print_help_topic(argc, argv);
    return result;
  }

  Options o;
  CLI::App app{"ppipe: a parallel, order-preserving stream processor for JSON Lines.\n"
               "Reads FILEs (or stdin) and runs each record through a chain of stages.",
               "ppipe"};
  app.set_version_flag("--version", fmt::format("ppipe {} (simdjson {}.{}.{})", PPIPE_VERSION, int(simdjson::SIMDJSON_VERSION_MAJOR),
                                                   int(simdjson::SIMDJSON_VERSION_MINOR), int(simdjson::SIMDJSON_VERSION_REVISION)));
  std::string stages;
  auto* stages_opt = app.add_option("--stages", stages, "Comma-separated stages, run in order (default: parse)")
                         ->type_name("LIST");
  auto* workers_opt = app.add_option("-j,--workers", o.workers, "Worker threads (default: the number of cores)")->type_name("N");
  app.add_flag("--unordered", o.unordered, "Write batches as they finish instead of in input order");
  app.add_option("--batch-size", o.batch_size, "Bytes of input per batch (default 1M; K/M/G suffixes)")
      ->type_name("SIZE");
  auto* depth_opt = app.add_option("--queue-depth", o.queue_depth, "Batches in flight at once (default 4 x workers)")
      ->type_name("N");
  app.add_option("--max-record-size", o.max_record_size,
                 "Longer records go to the error stream (default 64M)")
      ->type_name("SIZE");
  app.add_option("--errors", o.errors_path, "Error stream destination (default '-': stderr)")->type_name("FILE");
  app.add_option("--max-errors", o.max_errors, "Stop (exit 3) once N records failed (default: no limit)")
      ->type_name("N");
  app.add_flag("--stats", o.stats, "Print a JSON summary as the last line of stderr");
  bool progress_flag = false;
  auto* progress_opt = app.add_flag("--progress,!--no-progress", progress_flag,
                                    "Show progress on stderr (default: when stderr is a terminal)");
  // Stage options: each occurrence takes one value; the n-th configures the n-th such stage.
  std::vector<std::pair<CLI::Option*, std::string>> stage_options;
  for (const auto& st : stage_table()) {
    if (!*st.option) continue;
    auto* opt = app.add_option(st.option)
                    ->description(fmt::format("Argument of the '{}' stage: {}", st.name, st.summary))
                    ->expected(1)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                    ->type_name(st.arg_name);
    stage_options.emplace_back(opt, st.option);
  }
  app.add_option("FILE", o.inputs, "Input files ('-' or none: stdin)")->type_name("");
  app.footer(stage_list_text() + "\nExit codes: 0 ok, 1 some records went to the error stream, 2 usage error,\n"
                                 "3 I/O error or --max-errors reached, 130/143 interrupted.\n"
                                 "'ppipe help STAGE' describes a stage, 'ppipe help expr' the expressions.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::CallForVersion& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::ParseError& e) {
    std::cerr << "ppipe: " << e.what() << "\n" << usage_footer();
    result.exit_code = kExitUsage;
    return result;
  }

  o.stages_given = stages_opt->count() > 0;
  o.workers_given = workers_opt->count() > 0;
  o.queue_depth_given = depth_opt->count() > 0;
  if (o.stages_given) o.stages = split_list(stages);
  if (progress_opt->count() > 0) o.progress = progress_flag;
  // Stage option values in command-line order.
  std::vector<std::size_t> taken(stage_options.size(), 0);
  for (CLI::Option* opt : app.parse_order()) {
    for (std::size_t i = 0; i < stage_options.size(); ++i) {
      if (stage_options[i].first != opt) continue;
      const auto& values = opt->results();
      if (taken[i] < values.size()) o.stage_args.emplace_back(stage_options[i].second, values[taken[i]++]);
    }
  }

  std::string error, help_stage;
  result.plan = build_plan(o, &error, &help_stage);
  if (!result.plan) {
    std::cerr << "ppipe: " << error << "\n";
    if (help_stage == "*") {
      std::cerr << "\n" << stage_list_text();
    } else if (const StageInfo* st = find_stage(help_stage)) {
      std::cerr << "\n" << st->help;
    }
    std::cerr << usage_footer();
    result.exit_code = kExitUsage;
  }
  return result;
}

}  // namespace ppipe
