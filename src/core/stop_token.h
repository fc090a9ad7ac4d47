// StopToken: the one signal that ends a run early, whatever the cause.
//
// Raised by: head satisfied, the output pipe closed (EPIPE), --max-errors reached, a fatal I/O
// error, or the first SIGINT/SIGTERM. The first reason wins and is what main() turns into an exit
// code. The reader may be blocked in poll() on a pipe, so raising also writes to an eventfd that
// the reader polls beside its input.
#pragma once

#include <atomic>
#include <cstdint>

namespace ppipe {

enum class StopReason : int {
  kNone = 0,
  kHead,        // an ordered stage has all it needs
  kBrokenPipe,  // stdout closed by the reader of our output
  kMaxErrors,   // --max-errors reached
  kFatalIo,     // cannot read or write
  kFatal,       // another fatal error: a memory guard (agg --max-groups), out of memory, a finishing
                // stage that failed (merge refused a line)
  kSigint,
  kSigterm,
};

const char* stop_reason_name(StopReason r);

class StopToken {
 public:
  StopToken();
  ~StopToken();
  StopToken(const StopToken&) = delete;
  StopToken& operator=(const StopToken&) = delete;

  // Returns true if this call was the one that stopped the run.
  bool raise(StopReason reason);
  // The reason becomes `to` if it is `from` (a --max-errors cut at the end of a run that a head
  // had ended: the run did stop for its errors). True when it did.
  bool replace(StopReason from, StopReason to) {
    int expected = static_cast<int>(from);
    return reason_.compare_exchange_strong(expected, static_cast<int>(to), std::memory_order_acq_rel);
  }
  bool stopped() const { return reason_.load(std::memory_order_acquire) != 0; }
  StopReason reason() const { return static_cast<StopReason>(reason_.load(std::memory_order_acquire)); }
  // Readable (POLLIN) once the token is raised.
  int wake_fd() const { return event_fd_; }

 private:
  std::atomic<int> reason_{0};
  int event_fd_ = -1;
};

}  // namespace ppipe
