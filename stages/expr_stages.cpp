// filter and map: the two stages driven by an expression (src/expr, docs/expr.md).
//
//   filter --filter EXPR   keeps the records whose value is truthy, passing their original bytes
//   map --map EXPR         replaces each record with the value of EXPR as compact JSON
//
// A runtime error (e.g. `.a.b` on a string) ends that record: it goes to the error stream with the
// message, as jq reports one error per input. A syntax error is a usage error found at plan time.
#include "src/expr/expr.h"
#include "stages/registry.h"

namespace ppipe {

const char* const kFilterHelp =
    "filter --filter EXPR\n"
    "  Keeps the records for which EXPR is truthy (anything but false and null), byte for byte;\n"
    "  drops the others. EXPR is the body of a jq select(): `ppipe help expr` has the language.\n"
    "  A runtime error (wrong type, division by zero) sends the record to the error stream.\n"
    "  Example: ppipe --filter '.status >= 500 and (.path | startswith(\"/api\"))' logs.jsonl\n";

const char* const kMapHelp =
    "map --map EXPR\n"
    "  Replaces each record with the value of EXPR, written as compact JSON (as jq -c): object key\n"
    "  order is kept, numbers taken unchanged from the input keep their value (integers exactly),\n"
    "  computed numbers print in the shortest form that reads back the same. A record for which\n"
    "  EXPR gives no value (select(...) false) is dropped. Runtime errors go to the error stream.\n"
    "  Example: ppipe --map '{host, status, slow: (.latency_ms > 100)}' logs.jsonl\n";

bool ensure_doc(RecordCtx& rec, WorkerScratch& scratch) {
  if (rec.has_doc) return true;
  if (!rec.replaced) {
    scratch.error = "the record holds a number outside the 64-bit range, which expressions cannot read";
    return false;
  }
  if (auto e = scratch.dom.parse(rec.text.data(), rec.text.size(), false).get(rec.doc)) {
    scratch.error = std::string("cannot read the previous stage's output: ") + simdjson::error_message(e);
    return false;
  }
  rec.has_doc = true;
  return true;
}

namespace {

struct ExprState final : StageState {
  expr::Scratch scratch;
  std::string out;        // map's output, with padding so the next stage may parse it in place
  expr::Result result;    // map's value, handed to the next expression stage (RecordCtx::value)
};

std::shared_ptr<const expr::Program> compile_or_error(const std::string& source, std::string* error) {
  auto result = expr::compile(source);
  if (auto* err = std::get_if<expr::CompileError>(&result)) {
    *error = expr::format_compile_error(source, *err);
    while (!error->empty() && error->back() == '\n') error->pop_back();
    return nullptr;
  }
  return std::get<std::shared_ptr<const expr::Program>>(result);
}

// What filter and map share: the compiled program, per-worker state, and evaluation of the
// record's document with errors turned into the record's error.
class ExprStage : public RecordStage {
 public:
  explicit ExprStage(std::shared_ptr<const expr::Program> p) : program_(std::move(p)) {}
  bool needs_parsed() const override { return true; }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<ExprState>(); }

 protected:
  // False (with the message in s.error) when the record fails.
  bool evaluate(RecordCtx& rec, WorkerScratch& s, ExprState& st, expr::Result& r) const {
    if (!rec.has_doc && rec.value) {
      r = expr::evaluate_value(*program_, *rec.value, st.scratch);
    } else {
      if (!ensure_doc(rec, s)) return false;
      r = expr::evaluate(*program_, rec.doc, st.scratch);
    }
    if (r.outcome != expr::Outcome::kError) return true;
    s.error.assign(expr::error_message(st.scratch));
    return false;
  }

 private:
  std::shared_ptr<const expr::Program> program_;
};

class FilterStage final : public ExprStage {
 public:
  using ExprStage::ExprStage;
  std::string_view name() const override { return "filter"; }
  Verdict process(RecordCtx& rec, WorkerScratch& s, StageState* state) const override {
    expr::Result r;
    if (!evaluate(rec, s, static_cast<ExprState&>(*state), r)) return Verdict::kError;
    return expr::is_truthy(r) ? Verdict::kPass : Verdict::kDrop;
  }
};

class MapStage final : public ExprStage {
 public:
  using ExprStage::ExprStage;
  std::string_view name() const override { return "map"; }
  Verdict process(RecordCtx& rec, WorkerScratch& s, StageState* state) const override {
    auto& st = static_cast<ExprState&>(*state);
    if (!evaluate(rec, s, st, st.result)) return Verdict::kError;
    if (st.result.outcome == expr::Outcome::kEmpty) return Verdict::kDrop;
    st.out.clear();
    expr::append_json(st.result, st.out);
    st.out.reserve(st.out.size() + simdjson::SIMDJSON_PADDING);
    rec.text = st.out;
    rec.replaced = true;
    rec.has_doc = false;
    rec.value = &st.result.value;
    return Verdict::kPass;
  }
};

}  // namespace

std::unique_ptr<Stage> make_filter_stage(const std::string& arg, std::string* error) {
  auto p = compile_or_error(arg, error);
  if (!p) return nullptr;
  return std::make_unique<FilterStage>(std::move(p));
}

std::unique_ptr<Stage> make_map_stage(const std::string& arg, std::string* error) {
  auto p = compile_or_error(arg, error);
  if (!p) return nullptr;
  return std::make_unique<MapStage>(std::move(p));
}

}  // namespace ppipe
