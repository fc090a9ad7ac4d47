// Chain: the configured stages and how a batch runs through them.
//
// Workers call process(): the batch is split into lines, blank lines are skipped, and each record
// runs through every RecordStage in order (ordered stages are pass-through markers there). What
// passes is appended to batch.out, failures are serialized into batch.err, both in input order.
//
// The writer calls admit() on each batch in sequence order: ordered stages (head) learn how many
// records reached them and may cut the batch after a record; everything after the cut is removed
// (output, errors and counts), as if it had never been read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/core/batch.h"
#include "stages/stage.h"

namespace ppipe {

class Chain {
 public:
  struct WorkerState {
    WorkerScratch scratch;
    std::vector<std::unique_ptr<StageState>> states;  // one per stage (may be null)
  };

  Chain(std::vector<std::unique_ptr<Stage>> stages, std::vector<std::string> source_names,
        std::uint64_t max_record_size);

  std::size_t size() const { return stages_.size(); }
  const Stage& stage(std::size_t i) const { return *stages_[i]; }
  bool has_ordered() const { return has_ordered_; }

  std::unique_ptr<WorkerState> make_worker_state() const;
  // Any worker thread.
  void process(Batch& b, WorkerState& ws) const;
  // Writer thread only, in sequence order. Returns true when an ordered stage is satisfied and the
  // stream must stop after this batch.
  bool admit(Batch& b);
  // Writer thread: if the batch holds n or more failed records, cuts it right after the n-th and
  // returns true (--max-errors). Needs enable_trace() before the workers start.
  bool cut_after_errors(Batch& b, std::uint64_t n);
  // Workers keep a per-record trace (needed by admit and cut_after_errors). On when the chain has
  // ordered stages; call before any process().
  void enable_trace() { tracing_ = true; }

 private:
  void run_record(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line,
                  std::uint64_t offset) const;
  void add_error(Batch& b, std::string_view stage, std::string_view message, std::string_view text,
                 std::uint64_t line, std::uint64_t offset, std::uint64_t full_size) const;
  void add_oversized_error(Batch& b, std::string_view text, std::uint64_t size, std::uint64_t line,
                           std::uint64_t offset) const;
  void recount(Batch& b, std::size_t keep) const;
  void cut(Batch& b, std::size_t keep) const;

  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<const RecordStage*> record_stages_;  // per index: null for ordered stages
  std::vector<OrderedStage*> ordered_stages_;      // per index: null for record stages
  std::vector<std::string> source_names_;
  std::uint64_t max_record_size_;
  bool has_ordered_ = false;
  bool tracing_ = false;
};

}  // namespace ppipe
