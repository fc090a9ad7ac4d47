// uniq: drops repeated records, in input order (an ordered stage).
//
// The key of a record is the value of --uniq EXPR (default `.`, the whole record), compared as
// compact JSON, so `{"a":1}` and `{ "a": 1 }` are the same key. Workers compute the keys in
// parallel; the decisions are made in input order on one thread, so the output is the same for
// every --workers, --batch-size and --unordered.
#include <unordered_set>

#include <fmt/format.h>

#include "stages/expr_eval.h"

namespace ppipe {

namespace {

constexpr StageOption kUniqOptions[] = {
    {"--uniq", OptionKind::kValue, "EXPR", ".", "the key: records whose EXPR values are equal are repeats", true},
    {"--uniq-all", OptionKind::kFlag, nullptr, nullptr,
     "drop every repeat of a key seen before, not only of the previous record's", false},
    {"--max-groups", OptionKind::kValue, "N", kMaxGroupsDefault,
     kMaxGroupsHelp, false},
};

constexpr const char* kUniqHelp =
    "  Drops a record whose key equals the previous record's key, as uniq does on sorted input;\n"
    "  with --uniq-all, drops every record whose key was seen before (keeps the first of each).\n"
    "  The key is the value of EXPR as compact JSON (default `.`: the whole record, so spacing and\n"
    "  number spelling do not make records different). Records are compared in input order, also\n"
    "  with --unordered. --uniq-all keeps every distinct key in memory, at most --max-groups.\n"
    "  Example: ppipe --uniq '.user.id' --uniq-all logs.jsonl\n";

class AdjacentRun final : public OrderedRun {
 public:
  Admit admit(std::string_view key) override {
    if (seen_any_ && key == previous_) return Admit::kDrop;
    previous_.assign(key);
    seen_any_ = true;
    return Admit::kKeep;
  }

 private:
  std::string previous_;
  bool seen_any_ = false;
};

class AllRun final : public OrderedRun {
 public:
  explicit AllRun(std::uint64_t max_keys) : max_keys_(max_keys) {}
  Admit admit(std::string_view key) override {
    if (seen_.find(std::string(key)) != seen_.end()) return Admit::kDrop;
    if (seen_.size() >= max_keys_) {
      failure_ = fmt::format("uniq: more than {} distinct keys (--max-groups {}); raise --max-groups, or drop "
                             "--uniq-all to compare neighbours only",
                             max_keys_, max_keys_);
      return Admit::kFail;
    }
    seen_.emplace(key);
    return Admit::kKeep;
  }
  std::string failure() const override { return failure_; }

 private:
  std::uint64_t max_keys_;
  std::unordered_set<std::string> seen_;
  std::string failure_;
};

class UniqStage final : public OrderedStage {
 public:
  UniqStage(std::shared_ptr<const expr::Program> key, bool all, std::uint64_t max_keys)
      : key_(std::move(key)), all_(all), max_keys_(max_keys) {}
  std::string_view name() const override { return "uniq"; }
  bool needs_parsed() const override { return true; }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<ExprState>(); }

  Verdict key(Record& rec, WorkerScratch& s, StageState* state, std::string& out) const override {
    auto& st = static_cast<ExprState&>(*state);
    if (!evaluate_expression(*key_, rec, s, st, st.result)) return Verdict::kError;
    // No value (`empty`, select false): the empty key, which no JSON text equals.
    // Keys equal as jq finds them equal: objects by their sorted members, -0.0 as 0.
    if (st.result.outcome == expr::Outcome::kValue) expr::append_json_sorted(st.result.value, out);
    return Verdict::kPass;
  }

  std::unique_ptr<OrderedRun> start() const override {
    if (all_) return std::make_unique<AllRun>(max_keys_);
    return std::make_unique<AdjacentRun>();
  }

 private:
  std::shared_ptr<const expr::Program> key_;
  bool all_;
  std::uint64_t max_keys_;
};

std::unique_ptr<Stage> make_uniq_stage(const StageArgs& args, std::string* error) {
  auto key = compile_stage_expression(args, "--uniq", error);
  if (!key) return nullptr;
  auto max_keys = args.count("--max-groups", error);
  if (!max_keys) return nullptr;
  if (*max_keys == 0) {
    *error = "--max-groups must be at least 1";
    return nullptr;
  }
  return std::make_unique<UniqStage>(std::move(key), args.has("--uniq-all"), *max_keys);
}

}  // namespace

extern const StageInfo kUniqStageInfo = {
    "uniq", "drop records whose key repeats the previous record's (or, --uniq-all, any earlier one)", kUniqHelp,
    kUniqOptions, make_uniq_stage};

}  // namespace ppipe
