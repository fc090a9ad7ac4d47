#include "src/io/output.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace ppipe {

int Output::write_all(const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    bytes_ += static_cast<std::uint64_t>(w);
  }
  return 0;
}

int Output::append(std::string_view data) {
  if (error_) return error_;
  if (pending_.size() + data.size() < kFlushAt) {
    pending_.append(data);
    return 0;
  }
  if ((error_ = flush())) return error_;
  return error_ = write_all(data.data(), data.size());
}

int Output::flush() {
  if (error_) return error_;
  if (pending_.empty()) return 0;
  error_ = write_all(pending_.data(), pending_.size());
  pending_.clear();
  return error_;
}

}  // namespace ppipe
