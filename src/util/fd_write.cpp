#include "src/util/fd_write.h"

#include <limits.h>
#include <poll.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace ppipe {

int write_fully(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

namespace {
std::mutex stderr_mu;
bool status_shown = false;  // (under stderr_mu)
}  // namespace

std::unique_lock<std::mutex> lock_stderr() { return std::unique_lock<std::mutex>(stderr_mu); }

bool write_stderr_now(std::string_view lines) {
  // Another thread may hold the lock for a moment (a write to a healthy stderr): a few tries,
  // 100 ms at most, not a wait for one blocked for ever.
  std::unique_lock<std::mutex> lock(stderr_mu, std::defer_lock);
  for (int i = 0; i < 20 && !lock.try_lock(); ++i) ::usleep(5000);
  if (!lock.owns_lock()) return false;
  // A pipe with room takes a write of up to PIPE_BUF bytes whole, at once.
  struct pollfd p {STDERR_FILENO, POLLOUT, 0};
  if (lines.size() > PIPE_BUF || ::poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) return false;
  return ::write(STDERR_FILENO, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size());
}

void set_stderr_status_shown(bool shown) { status_shown = shown; }

void clear_stderr_status() {
  if (!status_shown) return;
  static const char kClear[] = "\r\033[K";
  (void)write_fully(STDERR_FILENO, kClear, sizeof kClear - 1);
  status_shown = false;
}

namespace {
std::atomic<int> stderr_failed{0};
}  // namespace

int write_stderr(std::string_view lines) {
  auto lock = lock_stderr();
  clear_stderr_status();
  const int e = write_fully(STDERR_FILENO, lines.data(), lines.size());
  if (e != 0 && e != EPIPE) {
    int none = 0;
    stderr_failed.compare_exchange_strong(none, e);
  }
  return e;
}

int stderr_write_error() { return stderr_failed.load(); }

}  // namespace ppipe
