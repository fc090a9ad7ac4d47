// tail: the last N records, in input order, emitted when the stream ends (a finishing stage).
//
// Each batch keeps the last N of its own records (a partial); partials are merged in input order
// (the later ones win), so the result is the same for every --workers and --batch-size. Memory is
// bounded by N records (per batch in flight, and once for the run).
#include <deque>

#include "stages/registry.h"

namespace ppipe {

namespace {

constexpr StageOption kTailOptions[] = {
    {"--tail", OptionKind::kValue, "N", nullptr, "how many records to keep", true},
};

constexpr const char* kTailHelp =
    "  Keeps the last N records that reach it and writes them, in input order, when the input\n"
    "  ends (as tail -n N; also with --unordered). Memory: N records. Stages after it run on\n"
    "  those N records.\n"
    "  Example: ppipe --stages parse,filter,tail --filter '.status >= 500' --tail 20 logs.jsonl\n";

// A kept record: its text, and where it came from (for the errors of the stages after tail).
struct Kept {
  std::string text;
  Origin origin;
};

struct TailPartial final : Partial {
  std::deque<Kept> last;  // at most n, oldest first
};

class TailStage final : public FinishingStage {
 public:
  explicit TailStage(std::uint64_t n) : n_(n) {}
  std::string_view name() const override { return "tail"; }
  std::unique_ptr<Partial> new_partial() const override { return std::make_unique<TailPartial>(); }

  Verdict accumulate(Record& rec, WorkerScratch&, StageState*, Partial& into) const override {
    if (n_ == 0) return Verdict::kPass;
    auto& p = static_cast<TailPartial&>(into);
    const Origin origin{rec.source(), rec.line(), rec.offset()};
    if (p.last.size() == n_) {
      // Reuse the oldest string's buffer for the newest record.
      Kept oldest = std::move(p.last.front());
      p.last.pop_front();
      oldest.text.assign(rec.text());
      oldest.origin = origin;
      p.last.push_back(std::move(oldest));
    } else {
      p.last.push_back(Kept{std::string(rec.text()), origin});
    }
    return Verdict::kPass;
  }

  void merge(Partial& into, Partial& later) const override {
    auto& a = static_cast<TailPartial&>(into);
    auto& b = static_cast<TailPartial&>(later);
    for (auto& s : b.last) {
      a.last.push_back(std::move(s));
      if (a.last.size() > n_) a.last.pop_front();
    }
    b.last.clear();
  }

  bool finish(Partial& all, const Emit& emit, const FinishContext&, std::string*) const override {
    for (const auto& k : static_cast<TailPartial&>(all).last) emit(k.text, k.origin);
    return true;
  }

 private:
  std::uint64_t n_;
};

std::unique_ptr<Stage> make_tail_stage(const StageArgs& args, std::string* error) {
  auto n = args.count("--tail", error);
  if (!n) return nullptr;
  return std::make_unique<TailStage>(*n);
}

}  // namespace

extern const StageInfo kTailStageInfo = {
    "tail", "keep the last N records (in input order), written when the input ends", kTailHelp, kTailOptions,
    make_tail_stage};

}  // namespace ppipe
