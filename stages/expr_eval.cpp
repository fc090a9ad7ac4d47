#include "stages/expr_eval.h"

namespace ppipe {

namespace {
std::vector<expr::NamedArg>& named_store() {
  static std::vector<expr::NamedArg> args;
  return args;
}
}  // namespace

void set_named_args(std::vector<expr::NamedArg> args) { named_store() = std::move(args); }
const std::vector<expr::NamedArg>& named_args() { return named_store(); }

bool run_general(const expr::jq::Program& program, const Record& rec, WorkerScratch& s,
                 const std::function<void(const expr::jq::J&, bool& stop)>& out) {
  expr::jq::J input;
  std::string perr;
  const bool read = program.reads_fields_only
                        ? expr::jq::parse_json_fields(rec.text(), program.fields, input, &perr, /*valid_utf8=*/true)
                        : expr::jq::parse_json(rec.text(), input, &perr, /*valid_utf8=*/true);
  if (!read) {
    s.error = "invalid JSON: " + perr;
    return false;
  }
  expr::jq::RunContext ctx;
  ctx.line = rec.line();
  constexpr std::uint64_t kEnough = ~std::uint64_t{0};
  bool stop = false;
  try {
    bool ok = expr::jq::run(
        program, input, ctx,
        [&](const expr::jq::J& v) {
          out(v, stop);
          if (stop) throw expr::jq::Stop{kEnough};
        },
        &s.error);
    return ok;
  } catch (expr::jq::Stop&) {
    return true;
  }
}

std::shared_ptr<const expr::Program> compile_expression(std::string_view flag, const std::string& source,
                                                        std::string* error) {
  expr::CompileOptions options;
  options.named = named_args();
  auto result = expr::compile(source, options);
  if (auto* err = std::get_if<expr::CompileError>(&result)) {
    *error = expression_error(flag, source, *err);
    return nullptr;
  }
  return std::get<std::shared_ptr<const expr::Program>>(result);
}

std::string expression_error(std::string_view flag, std::string_view source, const expr::CompileError& e) {
  std::string error = expr::format_compile_error(source, e);
  while (!error.empty() && error.back() == '\n') error.pop_back();
  static const std::string kExprError = "error in expression";
  if (error.compare(0, kExprError.size(), kExprError) == 0)
    error.replace(0, kExprError.size(), "error in " + std::string(flag) + " expression");
  return error;
}

std::shared_ptr<const expr::Program> compile_stage_expression(const StageArgs& args, std::string_view flag,
                                                              std::string* error) {
  return compile_expression(flag, args.value(flag), error);
}

namespace {

// The record as the expression's input: the value a map left, or its parsed document; valid JSON
// with a number beyond 64 bits (no document) read as jq 1.7 reads it.
bool input_value(Record& rec, WorkerScratch& s, ExprState& st, expr::Value& in) {
  if (!rec.has_doc() && rec.value()) {
    in = *rec.value();
    return true;
  }
  simdjson::dom::element doc;
  if (!rec.doc(s, &doc)) return rec.big_numbers() && expr::read_value(rec.text(), st.whole, in, &s.error);
  in = expr::Value::from_dom(doc);
  return true;
}

}  // namespace

bool evaluate_expression(const expr::Program& program, Record& rec, WorkerScratch& s, ExprState& st,
                         expr::Result& r) {
  expr::Value in;
  if (!input_value(rec, s, st, in)) return false;
  r = expr::evaluate_value(program, in, st.scratch);
  if (r.outcome != expr::Outcome::kError) return true;
  s.error.assign(expr::error_message(st.scratch));
  return false;
}

bool evaluate_expression_all(const expr::Program& program, Record& rec, WorkerScratch& s, ExprState& st,
                             std::span<const expr::Value>& values) {
  expr::Value in;
  if (!input_value(rec, s, st, in)) return false;
  if (expr::evaluate_all_value(program, in, st.scratch, values) != expr::Outcome::kError) return true;
  s.error.assign(expr::error_message(st.scratch));
  return false;
}

}  // namespace ppipe
