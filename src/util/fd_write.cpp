#include "src/util/fd_write.h"

#include <unistd.h>

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

void set_stderr_status_shown(bool shown) { status_shown = shown; }

void clear_stderr_status() {
  if (!status_shown) return;
  static const char kClear[] = "\r\033[K";
  (void)write_fully(STDERR_FILENO, kClear, sizeof kClear - 1);
  status_shown = false;
}

int write_stderr(std::string_view lines) {
  auto lock = lock_stderr();
  clear_stderr_status();
  return write_fully(STDERR_FILENO, lines.data(), lines.size());
}

}  // namespace ppipe
