// filter and map: the two stages driven by an expression (src/expr, docs/expr.md).
//
//   filter --filter EXPR   keeps the records whose value is truthy, passing their original bytes
//   map --map EXPR         replaces each record with the value of EXPR as compact JSON
//
// A runtime error (e.g. `.a.b` on a string) ends that record: it goes to the error stream with the
// message, as jq reports one error per input. A syntax error is a usage error found at plan time.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "stages/expr_eval.h"
#include "stages/registry.h"

namespace ppipe {

namespace {

constexpr StageOption kFilterOptions[] = {
    {"--filter", OptionKind::kValue, "EXPR", ".", "keep the records for which EXPR is truthy", true},
    {"--filter-file", OptionKind::kValue, "FILE", "", "the same, with EXPR read from FILE (jq -f)", false},
};

constexpr const char* kFilterHelp =
    "  Keeps the records for which EXPR is truthy (anything but false and null), byte for byte;\n"
    "  drops the others. EXPR is the body of a jq select(): `ppipe help expr` has the language.\n"
    "  A runtime error (wrong type, division by zero) sends the record to the error stream.\n"
    "  Without an expression EXPR is `.` (as jq's default program): every record but null and false\n"
    "  is kept, so `ppipe --stages parse,filter,agg` runs as typed.\n"
    "  Example: ppipe --filter '.status >= 500 and (.path | startswith(\"/api\"))' logs.jsonl\n";

constexpr StageOption kMapOptions[] = {
    {"--map", OptionKind::kValue, "EXPR", nullptr, "replace each record with the value of EXPR", true},
    {"--map-file", OptionKind::kValue, "FILE", "", "the same, with EXPR read from FILE (jq -f)", false},
};

constexpr const char* kMapHelp =
    "  Replaces each record with the value of EXPR, written as compact JSON (as jq -c): object key\n"
    "  order is kept, numbers taken unchanged from the input keep their value (integers exactly),\n"
    "  computed numbers print in the shortest form that reads back the same. A record for which\n"
    "  EXPR gives no value (select(...) false) is dropped. Runtime errors go to the error stream.\n"
    "  Example: ppipe --map '{host, status, slow: (.latency_ms > 100)}' logs.jsonl\n";

}  // namespace

namespace {

// What filter and map share: the compiled program, per-worker state, and evaluation of the
// record's document with errors turned into the record's error.
class ExprStage : public RecordStage {
 public:
  explicit ExprStage(std::shared_ptr<const expr::Program> p)
      : program_(std::move(p)) {}
  bool needs_parsed() const override { return true; }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<ExprState>(); }

 protected:
  bool evaluate(Record& rec, WorkerScratch& s, ExprState& st, expr::Result& r) const {
    return evaluate_expression(*program_, rec, s, st, r);
  }
  // The general engine runs the record: for what the fast path does not take, and for records
  // without a document (numbers beyond 64 bits: jq 1.7 reads them, and unread ones keep their text),
  // also text no parse has seen (a command's output), found so when it is parsed here.
  const expr::jq::Program* general_for(Record& rec, WorkerScratch& s) const {
    bool general = expr::is_general(*program_);
    if (!general && !rec.has_doc() && !rec.value()) {
      simdjson::dom::element doc;
      general = !rec.replaced() || rec.big_numbers() || (!rec.doc(s, &doc) && rec.big_numbers());
    }
    return general ? expr::general_program(*program_) : nullptr;  // (a fast program's twin: compiled on first use)
  }
  bool fans_out() const { return expr::is_general(*program_) || expr::is_multi(*program_); }
  bool multi() const { return expr::is_multi(*program_); }
  bool evaluate_all(Record& rec, WorkerScratch& s, ExprState& st, std::span<const expr::Value>& values) const {
    return evaluate_expression_all(*program_, rec, s, st, values);
  }

 private:
  std::shared_ptr<const expr::Program> program_;
};

class FilterStage final : public ExprStage {
 public:
  using ExprStage::ExprStage;
  std::string_view name() const override { return "filter"; }
  Verdict process(Record& rec, WorkerScratch& s, StageState* state) const override {
    if (const expr::jq::Program* g = general_for(rec, s)) {
      // several values: kept when any is truthy (once), as `any(E; .)` (docs/expr.md)
      bool keep = false;
      if (!run_general(*g, rec, s, [&](const expr::jq::J& v, bool& stop) { stop = keep = v.truthy(); }))
        return Verdict::kError;
      return keep ? Verdict::kPass : Verdict::kDrop;
    }
    if (multi()) {  // the fast path's generators: the same rule
      // (It makes every value first: a truthy one before an error keeps the record, as `any`
      // stops there; the values before an error are those it made.)
      std::span<const expr::Value> values;
      const bool ok = evaluate_all(rec, s, static_cast<ExprState&>(*state), values);
      for (const expr::Value& v : values)
        if (v.truthy()) return Verdict::kPass;
      return ok ? Verdict::kDrop : Verdict::kError;
    }
    expr::Result r;
    if (!evaluate(rec, s, static_cast<ExprState&>(*state), r)) return Verdict::kError;
    return expr::is_truthy(r) ? Verdict::kPass : Verdict::kDrop;
  }
};

class MapStage final : public ExprStage {
 public:
  using ExprStage::ExprStage;
  std::string_view name() const override { return "map"; }
  Output output() const override { return Output::kJson; }
  bool may_fan_out() const override { return fans_out(); }
  Verdict process(Record& rec, WorkerScratch& s, StageState* state) const override {
    auto& st = static_cast<ExprState&>(*state);
    if (const expr::jq::Program* g = general_for(rec, s)) {
      // each value its own record, in order (jq -c); none: dropped
      st.out.clear();
      std::uint32_t n = 0;
      if (!run_general(*g, rec, s, [&](const expr::jq::J& v, bool&) {
            if (n++) st.out.push_back('\n');
            expr::jq::write(v, st.out);
          }))
        return Verdict::kError;
      if (n == 0) return Verdict::kDrop;
      return take_out(rec, st, n, nullptr);
    }
    if (multi()) {  // the fast path's generators: each value its own record, in order
      std::span<const expr::Value> values;
      if (!evaluate_all(rec, s, st, values)) return Verdict::kError;
      if (values.empty()) return Verdict::kDrop;
      if (values.size() > 1) {
        st.out.clear();
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i) st.out.push_back('\n');
          expr::append_json(values[i], st.out);
        }
        return take_out(rec, st, static_cast<std::uint32_t>(values.size()), nullptr);
      }
      st.result.outcome = expr::Outcome::kValue;
      st.result.value = values[0];
    } else if (!evaluate(rec, s, st, st.result)) {
      return Verdict::kError;
    }
    if (st.result.outcome == expr::Outcome::kEmpty) return Verdict::kDrop;
    st.out.clear();
    expr::append_json(st.result, st.out);
    return take_out(rec, st, 1, &st.result.value);
  }

 private:
  // st.out, n output records a line each, becomes the record, with padding so that the next
  // stage may parse it in place; `value` is what it prints when it is one fast-path value.
  static Verdict take_out(Record& rec, ExprState& st, std::uint32_t n, const expr::Value* value) {
    st.out.reserve(st.out.size() + simdjson::SIMDJSON_PADDING);
    rec.replace(st.out, value);
    rec.set_outputs(n);
    return Verdict::kPass;
  }
};

// The expression of `flag`, or of `file_flag`'s file when that is given.
std::shared_ptr<const expr::Program> stage_expression(const StageArgs& args, const char* flag, const char* file_flag,
                                                      std::string* error) {
  if (!args.given(file_flag)) return compile_stage_expression(args, flag, error);
  if (args.given(flag)) {
    *error = std::string("give ") + flag + " or " + file_flag + ", not both";
    return nullptr;
  }
  std::string path = args.value(file_flag);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = std::string(file_flag) + " " + path + ": cannot read it (a directory)";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::string(file_flag) + " " + path + ": cannot read it (" + std::strerror(errno) + ")";
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return compile_expression(std::string(file_flag) + " " + path, text.str(), error);
}

std::unique_ptr<Stage> make_filter_stage(const StageArgs& args, std::string* error) {
  auto p = stage_expression(args, "--filter", "--filter-file", error);
  if (!p) return nullptr;
  if (auto at = expr::plain_assignment_at_top(*p)) {
    // Valid jq, and never what is meant: the assignment's value is the record changed, which is
    // true, so every record would be kept (`select(.status = 500)` in jq keeps them all too).
    *error = expression_error(
        args.given("--filter-file") ? "--filter-file " + args.value("--filter-file") : std::string("--filter"),
        expr::source_text(*p),
        expr::CompileError{"'=' is jq's assignment, whose value (the record with that field set) is true, so "
                           "this filter would keep every record: use '==' to compare",
                           *at});
    return nullptr;
  }
  return std::make_unique<FilterStage>(std::move(p));
}

std::unique_ptr<Stage> make_map_stage(const StageArgs& args, std::string* error) {
  auto p = stage_expression(args, "--map", "--map-file", error);
  if (!p) return nullptr;
  return std::make_unique<MapStage>(std::move(p));
}

}  // namespace

extern const StageInfo kFilterStageInfo = {
    "filter", "keep the records for which the expression is truthy (jq select body)", kFilterHelp, kFilterOptions,
    make_filter_stage,
};

extern const StageInfo kMapStageInfo = {
    "map", "replace each record with the expression's value, as compact JSON", kMapHelp, kMapOptions,
    make_map_stage,
};

}  // namespace ppipe
