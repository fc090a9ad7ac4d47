// The one table of stages, and what each stage declares about itself in its own file: its name,
// one-line summary, help text, options (as data) and factory. The command line (src/cli), --help,
// `ppipe help STAGE` and the README's stage tables (`ppipe help --markdown-stages`) are all built
// from these declarations, so a stage's options are written down once.
//
// Adding a stage: its file (with a `const StageInfo kFooStageInfo`), one row in registry.cpp, one
// CMake line, its tests. Nothing in src/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/stage.h"

namespace ppipe {

enum class OptionKind {
  kValue,  // --head N: each occurrence takes one value
  kFlag,   // --uniq-all: present or not
};

struct StageOption {
  // "--head"; unique across all stages (they share one command line), except a shared option:
  // several stages may declare one flag with one meaning (same kind, argument name and default;
  // --max-groups of uniq and agg). Given once, it configures each stage of the chain that declares
  // it, and it never adds a stage.
  const char* flag;
  OptionKind kind;
  const char* arg_name;       // how help shows the value: "N", "EXPR"; nullptr for a flag
  const char* default_value;  // nullptr: a value option the stage cannot do without (required)
  const char* help;           // one line: what the value (or the flag) means
  // Without --stages, each occurrence of a creating option adds a stage of this kind to the chain,
  // in command-line order. A non-creating option only configures a stage, except when none of its
  // stage's creating options is given: then its first occurrence adds the stage (see options.cpp).
  bool creates_stage;
};

// A stage's options, as a view of the static array in its file.
class StageOptions {
 public:
  constexpr StageOptions() = default;
  template <std::size_t N>
  constexpr StageOptions(const StageOption (&options)[N]) : data_(options), size_(N) {}
  constexpr const StageOption* begin() const { return data_; }
  constexpr const StageOption* end() const { return data_ + size_; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }

 private:
  const StageOption* data_ = nullptr;
  std::size_t size_ = 0;
};

// The values one stage gets, by flag: what the command line gave it, and the defaults of the
// rest. Built by the plan (or by make_stage) from the stage's declarations.
class StageArgs {
 public:
  StageArgs() = default;
  // The defaults of `options` (value options that have one).
  explicit StageArgs(StageOptions options);

  // A value given on the command line (replaces the default), or a flag that is present.
  void set(std::string_view flag, std::string value);
  // Whether `flag` has a value (given or default), or, for a flag, is present.
  bool has(std::string_view flag) const;
  // Whether the value was given on the command line rather than defaulted.
  bool given(std::string_view flag) const;
  // The value of `flag` ("" if it has none).
  const std::string& value(std::string_view flag) const;

  // The value as a non-negative integer. On anything else returns nullopt and sets *error to
  // "--head needs a non-negative integer, got 'x'".
  std::optional<std::uint64_t> count(std::string_view flag, std::string* error) const;
  // The value as a size with an optional K/M/G suffix ("64M"), from 1 to `max`. On anything else
  // returns nullopt and sets *error to "--flag 'x': expected a size from 1 to 256M, like 64K or 1M".
  std::optional<std::uint64_t> size(std::string_view flag, std::uint64_t max, std::string* error) const;

 private:
  struct Entry {
    std::string flag;
    std::string value;
    bool given = false;
  };
  const Entry* find(std::string_view flag) const;
  std::vector<Entry> entries_;
};

struct StageInfo {
  const char* name;
  const char* summary;  // one line, for `ppipe help`, --help and the README's stage table
  // For `ppipe help NAME`: the text under the usage line, which is built from the options (each
  // line indented by two spaces, ending in a newline). A stage with more than one option gets
  // their list after it.
  const char* help;
  StageOptions options;
  // Builds the stage from its values. On a bad value returns nullptr and sets *error to a one-line
  // message naming the flag. An expression that does not compile is reported as
  // "error in --flag expression: ..." (see is_expression_error).
  std::unique_ptr<Stage> (*make)(const StageArgs& args, std::string* error);
};

// The stages ppipe knows; a test may build plans from a table of its own.
using StageTable = std::vector<const StageInfo*>;
const StageTable& stage_table();
const StageInfo* find_stage(std::string_view name, const StageTable& table = stage_table());
// The stage that declares `flag`, and that option; nullptr if none does.
std::pair<const StageInfo*, const StageOption*> find_stage_option(std::string_view flag,
                                                                  const StageTable& table = stage_table());

// The default of --max-groups, the memory guard shared by uniq, agg and merge.
inline constexpr const char* kMaxGroupsDefault = "10000000";
// --max-groups means the same to each stage that declares it, so --help says one thing of it.
inline constexpr const char* kMaxGroupsHelp =
    "at most N distinct keys (uniq --uniq-all) or groups (agg, merge) are kept (past it the run stops, exit 3)";
// --max-values: the values agg's percentiles, count_distinct and collect keep, over all groups
// (8 bytes each for a percentile, a string for the others). Shared by agg and merge.
inline constexpr const char* kMaxValuesDefault = "100000000";
inline constexpr const char* kMaxValuesHelp =
    "at most N values kept by the percentiles, count_distinct and collect of all groups together (past it the "
    "run stops, exit 3)";

// Whether more than one stage of `table` declares `flag`; and those stages, as "uniq, agg".
bool is_shared_option(std::string_view flag, const StageTable& table = stage_table());
std::string shared_option_stages(std::string_view flag, const StageTable& table = stage_table());

// "head --head N", "agg --group-by EXPR --agg LIST [--partial] [--max-groups N]".
std::string stage_usage(const StageInfo& stage);
// The full text of `ppipe help NAME`: usage line, help, and the option list.
std::string stage_help(const StageInfo& stage);
// Markdown for the README: the table of stage options and the table of stages.
std::string stages_markdown(const StageTable& table = stage_table());

// Whether a factory's error is an expression that does not compile (so that the user is pointed to
// `ppipe help expr` rather than to the stage's help).
bool is_expression_error(std::string_view message);

// A stage built outside a plan (tests, fuzzers): `values` are (flag, value) pairs, "" for a flag;
// defaults fill the rest. nullptr with *error set when the stage is unknown, a flag is not one of
// its options, a required value is missing, or the factory refuses.
std::unique_ptr<Stage> make_stage(std::string_view name,
                                  std::initializer_list<std::pair<std::string_view, std::string_view>> values,
                                  std::string* error);

}  // namespace ppipe
