#include "src/core/stop_token.h"

#include "src/util/interrupt.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace ppipe {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "end";
    case StopReason::kHead: return "head";
    case StopReason::kBrokenPipe: return "broken_pipe";
    case StopReason::kMaxErrors: return "max_errors";
    case StopReason::kFatalIo: return "io_error";
    case StopReason::kFatal: return "fatal_error";
    case StopReason::kSigint: return "sigint";
    case StopReason::kSigterm: return "sigterm";
  }
  return "unknown";
}

StopToken::StopToken() {
  event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  run_stopping().store(false, std::memory_order_relaxed);  // (one run at a time per process)
}

StopToken::~StopToken() {
  run_stopping().store(false, std::memory_order_relaxed);  // the run is over (tests run many)
  if (event_fd_ >= 0) close(event_fd_);
}

bool StopToken::raise(StopReason reason) {
  int expected = 0;
  bool first = reason_.compare_exchange_strong(expected, static_cast<int>(reason), std::memory_order_acq_rel);
  if (first) run_stopping().store(true, std::memory_order_relaxed);
  if (first && event_fd_ >= 0) {
    std::uint64_t one = 1;
    ssize_t ignored = write(event_fd_, &one, sizeof one);
    (void)ignored;
  }
  return first;
}

}  // namespace ppipe
