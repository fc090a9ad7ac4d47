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
};

struct CompileFailure {
  std::string message;
  std::size_t pos = 0;
};

// named_args: an object of --arg/--argjson values, each visible as $name and in $ARGS.named.
std::shared_ptr<const Program> compile(std::string_view source, const J& named_args, CompileFailure* error);

// Calls out(v) for each output of the program on `input`, in order. False when the program
// raised an error (after the outputs before it): its message in *error (jq's wording; a
// non-string error value as "VALUE (not a string)").
bool run(const Program& program, const J& input, const RunContext& ctx, Out out, std::string* error,
         J* error_value = nullptr);

// jq's message for an error value: strings as they are, others "JSON (not a string)".
std::string error_text(const J& value);

}  // namespace ppipe::expr::jq
