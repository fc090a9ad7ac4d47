// What the stages driven by an expression share (filter, map, uniq): per-worker evaluation state,
// compiling a stage option's expression, and evaluating it on a record, whatever form the record
// is in (a parsed document, or the value a map left).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <functional>
#include <vector>

#include "src/expr/expr.h"
#include "src/expr/jq/jq.h"
#include "stages/registry.h"

namespace ppipe {

struct ExprState final : StageState {
  expr::Scratch scratch;
  std::string out;        // map's output, with padding so the next stage may parse it in place
  expr::Result result;    // map's value, handed to the next expression stage (Record::value)
  expr::Scratch whole;    // a record with a number beyond 64 bits, read by the general reader
};

// --arg NAME VALUE / --argjson NAME JSON, set once at plan time before the stages are made:
// every expression of the run sees them as $NAME.
void set_named_args(std::vector<expr::NamedArg> args);
const std::vector<expr::NamedArg>& named_args();

// A program for the general engine (expr::is_general), or the general twin of a fast one, run
// on a record's JSON text: calls out(v) for each output. False (message in s.error) on an error.
// `stop` set by out ends the run early (filter's first truthy output).
bool run_general(const expr::jq::Program& program, const Record& rec, WorkerScratch& s,
                 const std::function<void(const expr::jq::J&, bool& stop)>& out);

// `source`, the expression of option `flag`; on a syntax error nullptr and "error in --flag
// expression: ..." with the expression and a caret (registry.h: is_expression_error).
std::shared_ptr<const expr::Program> compile_expression(std::string_view flag, const std::string& source,
                                                        std::string* error);
// The message of an error `e` in `source`, the expression of option `flag`, as compile_expression
// writes it (for a stage that refuses a program that compiled: filter's top-level `=`).
std::string expression_error(std::string_view flag, std::string_view source, const expr::CompileError& e);
// The same for the value of `flag` in a stage's arguments.
std::shared_ptr<const expr::Program> compile_stage_expression(const StageArgs& args, std::string_view flag,
                                                              std::string* error);

// False (with the message in s.error) when the record fails.
bool evaluate_expression(const expr::Program& program, Record& rec, WorkerScratch& s, ExprState& st,
                         expr::Result& r);
// The same for a program that may give several values (expr::is_multi): all of them, in order.
bool evaluate_expression_all(const expr::Program& program, Record& rec, WorkerScratch& s, ExprState& st,
                             std::span<const expr::Value>& values);

}  // namespace ppipe
