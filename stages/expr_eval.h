// What the stages driven by an expression share (filter, map, uniq): per-worker evaluation state,
// compiling a stage option's expression, and evaluating it on a record, whatever form the record
// is in (a parsed document, or the value a map left).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/expr/expr.h"
#include "stages/registry.h"

namespace ppipe {

struct ExprState final : StageState {
  expr::Scratch scratch;
  std::string out;        // map's output, with padding so the next stage may parse it in place
  expr::Result result;    // map's value, handed to the next expression stage (Record::value)
};

// `source`, the expression of option `flag`; on a syntax error nullptr and "error in --flag
// expression: ..." with the expression and a caret (registry.h: is_expression_error).
std::shared_ptr<const expr::Program> compile_expression(std::string_view flag, const std::string& source,
                                                        std::string* error);
// The same for the value of `flag` in a stage's arguments.
std::shared_ptr<const expr::Program> compile_stage_expression(const StageArgs& args, std::string_view flag,
                                                              std::string* error);

// False (with the message in s.error) when the record fails.
bool evaluate_expression(const expr::Program& program, Record& rec, WorkerScratch& s, ExprState& st,
                         expr::Result& r);

}  // namespace ppipe
