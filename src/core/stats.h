// Run statistics: what --stats prints. The writer tallies them from each batch as it consumes it,
// and from its own part of the chain (Chain::Run), so they describe exactly what reached the output
// and the error stream.
//
// Invariant: records_in + emitted == records_out + dropped + errors + consumed, where consumed
// counts the records finishing stages (tail) and async stages (exec: records in, any number of
// lines out) took in and emitted the records they made; for a chain without finishing or async
// stages, records_in == records_out + dropped + errors. Each stage's own counts add up too:
// in == out + dropped + errors for parallel and ordered stages, and in == consumed + dropped +
// errors, out == emitted for a finishing or async stage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/batch.h"

namespace ppipe {

struct StageStats {
  std::string name;
  StageMode mode = StageMode::kParallel;
  StageCounts counts;
  std::string extra;  // more fields of the stage's own (an async stage's calls, retries, ...), or ""
};

struct RunStats {
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t errors = 0;
  std::uint64_t consumed = 0;
  std::uint64_t emitted = 0;
  std::uint64_t bytes_in = 0;             // as read (decompressed)
  std::uint64_t compressed_bytes_in = 0;  // taken from the files; in the JSON only when it differs
  std::uint64_t bytes_out = 0;
  double seconds = 0;
  unsigned workers = 0;
  std::uint64_t max_rss_kib = 0;  // peak resident memory of the process (getrusage)
  std::string stopped_by = "end";
  bool parse_added = false;  // --stages lacked the parse its stages need; the plan put it in
  std::vector<StageStats> stages;

  // Adds one batch's counts (records that entered the chain, per-stage counters); `to_output`:
  // the records that passed its stages were written (the chain ends with the workers' segment).
  void add_batch(const Batch& b, bool to_output);
  // Takes back what add_batch added: the batch is discarded as if never read (an async job's
  // batch behind a --max-errors cut).
  void remove_batch(const Batch& b, bool to_output);
  // `n` records that passed the first `stages` stages (on the workers) are forgotten: an async job
  // was cut after them.
  void forget_forwarded(std::uint64_t n, std::size_t stages);
  // The counts of the writer's part of the chain so far (Chain::Run), replacing the last ones.
  void set_writer_counts(const std::vector<StageCounts>& counts, std::uint64_t records_out);
  std::string to_json() const;

 private:
  void update();
  void tally(const Batch& b, bool to_output, bool add);
  std::vector<StageCounts> batch_counts_, writer_counts_;
  std::uint64_t batch_out_ = 0, writer_out_ = 0, read_errors_ = 0;
};

}  // namespace ppipe
