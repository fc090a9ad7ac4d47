// The one table of stages: name, kind, the option that configures it, help text, and factory.
// Adding a stage: its file, one row in registry.cpp, one CMake line, its tests.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stages/stage.h"

namespace ppipe {

struct StageInfo {
  const char* name;
  const char* option;   // e.g. "--head": the n-th occurrence configures the n-th such stage; "" if none
  const char* arg_name; // how --help shows the option's value, e.g. "N", "EXPR"
  const char* summary;  // one line, for `ppipe help` and --help
  const char* help;     // full text for `ppipe help NAME` and the README
  // Builds the stage from its option value (empty if the stage takes none). On a bad value returns
  // nullptr and sets *error to a one-line message.
  std::unique_ptr<Stage> (*make)(const std::string& arg, std::string* error);
};

const std::vector<StageInfo>& stage_table();
const StageInfo* find_stage(std::string_view name);

// Stage factories, one per file in stages/.
std::unique_ptr<Stage> make_parse_stage(const std::string& arg, std::string* error);
std::unique_ptr<Stage> make_head_stage(const std::string& arg, std::string* error);
std::unique_ptr<Stage> make_filter_stage(const std::string& arg, std::string* error);
std::unique_ptr<Stage> make_map_stage(const std::string& arg, std::string* error);
extern const char* const kParseHelp;
extern const char* const kFilterHelp;
extern const char* const kMapHelp;
extern const char* const kHeadHelp;

}  // namespace ppipe
