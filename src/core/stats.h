// Run statistics: what --stats prints. The writer tallies them from each batch as it consumes it,
// so they describe exactly what reached the output and the error stream.
// Invariant: records_in == records_out + dropped + errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/batch.h"

namespace ppipe {

struct StageStats {
  std::string name;
  StageCounts counts;
};

struct RunStats {
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t errors = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  double seconds = 0;
  unsigned workers = 0;
  std::uint64_t max_rss_kib = 0;  // peak resident memory of the process (getrusage)
  std::string stopped_by = "end";
  bool parse_added = false;  // --stages lacked the parse its stages need; the plan put it in
  std::vector<StageStats> stages;

  // Adds one batch's counts (records that entered the chain, per-stage counters).
  void add_batch(const Batch& b);
  std::string to_json() const;
};

}  // namespace ppipe
