// head: the first N records in input order; then the stream stops (the reader stops at once).
#include <charconv>

#include "stages/registry.h"

namespace ppipe {

const char* const kHeadHelp =
    "head --head N\n"
    "  Keeps the first N records that reach it, in input order (also with --unordered), then stops\n"
    "  the run: the reader stops reading and records read beyond the N-th are discarded as if never\n"
    "  read (they are not counted in --stats and their errors are not reported).\n"
    "  Example: ppipe --stages parse,head --head 10 big.jsonl\n";

namespace {

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

}  // namespace

std::unique_ptr<Stage> make_head_stage(const std::string& arg, std::string* error) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
  if (arg.empty() || ec != std::errc() || p != arg.data() + arg.size()) {
    *error = "--head needs a non-negative integer, got '" + arg + "'";
    return nullptr;
  }
  return std::make_unique<HeadStage>(n);
}

}  // namespace ppipe
