// Command line -> validated Plan. Nothing here starts a thread or reads input: a bad option, an
// unknown stage or a bad stage argument is found before the run starts (exit 2).
//
//   argv --(CLI11)--> Options (plain values) --(build_plan)--> Plan (built stages, engine options)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/pipeline.h"
#include "src/util/exit_codes.h"
#include "stages/registry.h"
#include "stages/stage.h"

namespace ppipe {

struct Options {
  std::vector<std::string> stages;     // empty: derived from the stage options' order
  bool stages_given = false;
  std::vector<std::string> inputs;     // empty: stdin
  std::int64_t workers = 0;            // 0: not given, the number of usable cores
  bool unordered = false;
  std::string batch_size = "1M";
  std::int64_t queue_depth = 0;        // 0: not given, 4 x workers
  std::string max_record_size = "64M";
  std::string format;                  // empty: implied by the file names, else jsonl
  bool no_infer = false;
  std::string delimiter;               // csv; empty: ','
  bool table_rows_given = false;
  bool delimiter_given = false;        // (given empty: a usage error, not ',')'
  std::string output = "jsonl";
  bool raw_output = false;             // -r: --output raw
  bool join_output = false;            // --output raw0
  std::vector<std::pair<std::string, std::string>> args;     // --arg NAME VALUE
  std::vector<std::pair<std::string, std::string>> argjson;  // --argjson NAME JSON
  bool fill = false;
  std::int64_t table_rows = 1000;
  bool no_header = false;
  bool unwrap = false;
  std::string errors_path = "-";
  std::int64_t max_errors = 0;         // 0: no limit
  bool stats = false;
  std::string stats_interval;          // "": none; else a duration, "5s", "500ms"
  std::string stats_file = "-";        // "-": stderr
  std::optional<bool> progress;
  bool workers_given = false;
  bool queue_depth_given = false;
  bool batch_size_given = false;  // else a stage may ask for smaller batches (Stage::preferred_batch_size)
  // Stage options in command-line order: (flag, value), e.g. ("--head", "10"); a flag option's
  // value is "".
  std::vector<std::pair<std::string, std::string>> stage_args;
};

struct Plan {
  EngineOptions engine;
  // The chain as --stages names it, given or derived from the stage options (without a `parse`
  // that build_plan added): what --print-config writes.
  std::vector<std::string> chain;
  std::vector<std::unique_ptr<Stage>> stages;
  std::vector<std::string> source_names;
  // Files ppipe reads besides its inputs (--map-file, --filter-file, --config): no output may be
  // one of them either.
  std::vector<std::string> read_files;
  std::string errors_path = "-";
  bool stats = false;               // the final line (also implied by --stats-interval, --stats-file)
  std::string stats_path = "-";     // where stats go: "-" is stderr
  bool infer = true;  // tsv: fields that are JSON numbers become numbers
  // --stages named a stage that reads parsed JSON (filter, map) with no `parse` before it, or an
  // --output other than jsonl could get lines nobody checked, and build_plan put a `parse` there
  // (before that stage; at the end of the chain); it shows in the stats' stages like any other.
  bool parse_added = false;
};

// Either a plan to run, or an exit code (help, version and usage errors are printed here).
struct CliResult {
  int exit_code = -1;  // -1: run the plan
  std::unique_ptr<Plan> plan;
  // --print-config: the text to print (main writes it, once stdout is known not to be a file the
  // command line reads), and those files (Plan::read_files).
  std::string config_text;
  std::vector<std::string> read_files;
};

// Also handles `ppipe help ...`, --help, --version, --config FILE and --print-config.
CliResult parse_command_line(int argc, char** argv);

// What --version prints: the version, the git commit it was built from (when it was built from a
// checkout) and the simdjson kernel chosen at run time for this CPU.
std::string version_text();

// One option of the command line, as --help shows it: the man page and the shell completions
// (src/cli/docgen.h) are written from these, so they cannot drift from --help.
struct OptionDoc {
  std::vector<std::string> names;  // "-j", "--workers"; "--progress", "--no-progress"
  std::string arg;                 // "N", "FILE", "LIST"; "" for a flag
  std::string help;
  bool stage_option = false;       // declared by a stage (stages/), not by the engine
};
std::vector<OptionDoc> option_docs();
// --help's first lines, and its paragraph on how the chain is made from the options.
std::string cli_description();
std::string chain_text();

// Options -> Plan. On error returns nullptr and sets the message (one line, or for an expression
// the line, the expression and a caret) and, where it helps, what to show after it: a stage name
// (its help), "*" (the stage list) or "expr" (a pointer to `ppipe help expr`).
// The stages and their options come from `table` (tests pass a table of their own).
std::unique_ptr<Plan> build_plan(const Options& options, std::string* error, std::string* help_stage,
                                 const StageTable& table = stage_table());

// Whether a word on the command line reads as an expression meant for --filter or --map rather
// than a file name: `.type`, `.["k"]`, `select(.a == 1)`, `map(.x)`, `{host}`, `type == "x"`.
// File names do not: `data.jsonl`, `./x.jsonl`, `../x`, `/tmp/x`, `.hidden.jsonl`, `logs(1).json`
// (`logs` is no function). build_plan asks this only of a first FILE that does not exist.
bool looks_like_expression(std::string_view word);

unsigned usable_cores();

}  // namespace ppipe
