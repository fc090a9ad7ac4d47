// head: the first N records in input order; then the stream stops (the reader stops at once).
#include "stages/registry.h"

namespace ppipe {

namespace {

constexpr StageOption kHeadOptions[] = {
    {"--head", OptionKind::kValue, "N", nullptr, "how many records to keep", true},
};

constexpr const char* kHeadHelp =
    "  Keeps the first N records that reach it, in input order (also with --unordered), then stops\n"
    "  the run: the reader stops reading and records read beyond the N-th are discarded as if never\n"
    "  read (they are not counted in --stats and their errors are not reported).\n"
    "  Example: ppipe --stages parse,head --head 10 big.jsonl\n";

class HeadRun final : public OrderedRun {
 public:
  explicit HeadRun(std::uint64_t n) : remaining_(n) {}
  Admit admit(std::string_view) override {
    if (remaining_ == 0) return Admit::kStop;
    return --remaining_ == 0 ? Admit::kKeepLast : Admit::kKeep;
  }
  bool satisfied() const override { return remaining_ == 0; }

 private:
  std::uint64_t remaining_;
};

class HeadStage final : public OrderedStage {
 public:
  explicit HeadStage(std::uint64_t n) : n_(n) {}
  std::string_view name() const override { return "head"; }
  std::unique_ptr<OrderedRun> start() const override { return std::make_unique<HeadRun>(n_); }

 private:
  std::uint64_t n_;
};

std::unique_ptr<Stage> make_head_stage(const StageArgs& args, std::string* error) {
  auto n = args.count("--head", error);
  if (!n) return nullptr;
  return std::make_unique<HeadStage>(*n);
}

}  // namespace

extern const StageInfo kHeadStageInfo = {
    "head", "keep the first N records (in input order) and stop reading", kHeadHelp, kHeadOptions, make_head_stage,
};

}  // namespace ppipe
