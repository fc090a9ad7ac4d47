#include "stages/registry.h"

namespace ppipe {

const std::vector<StageInfo>& stage_table() {
  static const std::vector<StageInfo> table = {
      {"parse", "", "", "validate each line as exactly one JSON value; pass it through byte for byte",
       kParseHelp, make_parse_stage},
      {"filter", "--filter", "EXPR", "keep the records for which the expression is truthy (jq select body)",
       kFilterHelp, make_filter_stage},
      {"map", "--map", "EXPR", "replace each record with the expression's value, as compact JSON", kMapHelp,
       make_map_stage},
      {"head", "--head", "N", "keep the first N records (in input order) and stop reading", kHeadHelp,
       make_head_stage},
  };
  return table;
}

const StageInfo* find_stage(std::string_view name) {
  for (const auto& s : stage_table())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace ppipe
