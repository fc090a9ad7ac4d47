// Whether the run is stopping (head has what it needs, the output was closed, --max-errors,
// SIGINT/SIGTERM): set by StopToken::raise, read by the loops that can run long inside one record
// (the jq engine's range, repeat, until, while and recurse), so that a record whose expression
// runs on and on (`until(false; .)`, as jq it does not end) does not hold back the run's end: it
// becomes an error record saying so, and the run drains and exits as it should.
#pragma once

#include <atomic>

namespace ppipe {

inline std::atomic<bool>& run_stopping() {
  static std::atomic<bool> stopping{false};
  return stopping;
}

}  // namespace ppipe
