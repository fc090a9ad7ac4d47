// The general engine's entry points: compile a whole jq program once, run it on a value.
//
//   auto p = jq::compile(source, named_args, &error);      at plan time; thread-safe to share
//   jq::run(*p, input, ctx, [](const J& v) {...}, &err)    per record, on any thread
//
// src/expr/expr.h uses it for the expressions the single-valued fast path does not take.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/expr/jq/interp.h"
#include "src/expr/jq/value.h"

namespace ppipe::expr::jq {

class Program {
 public:
  std::string source;
  NodeP root;
  J named_args = J::object();
  // The program reads its input only as these fields (`.name`, `."name"`, `.["name"]`, at the
  // top of the program, never `.` itself): a record may be read with only them (parse_json_fields).
  bool reads_fields_only = false;
  std::vector<std::string> fields;
};

struct CompileFailure {
  std::string message;
  std::size_t pos = 0;
};

// named_args: an object of --arg/--argjson values, each visible as $name and in $ARGS.named.
// The fields of its input a program reads, when it reads its input only through `.name` steps
// (see Program::fields). False when it may use the input otherwise (`.`, a call on it, `..`, paths,
// assignment, `@fmt`, a function or a destructuring key computed from it).
bool input_fields(const Node* n, std::vector<std::string>& fields);

std::shared_ptr<const Program> compile(std::string_view source, const J& named_args, CompileFailure* error);

// Calls out(v) for each output of the program on `input`, in order. False when the program
// raised an error (after the outputs before it): its message in *error (jq's wording; a
// non-string error value as "VALUE (not a string)").
bool run(const Program& program, const J& input, const RunContext& ctx, Out out, std::string* error,
         J* error_value = nullptr);

// jq's message for an error value: strings as they are, others "JSON (not a string)".
std::string error_text(const J& value);

}  // namespace ppipe::expr::jq
