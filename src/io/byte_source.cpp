#include "src/io/byte_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ppipe {

std::string source_display_name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

std::unique_ptr<FdSource> FdSource::open(const std::string& path, StopToken& stop, std::string* error) {
  int fd = 0;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *error = fmt::format("cannot open '{}': {}", path, std::strerror(errno));
      return nullptr;
    }
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) st.st_mode = 0;
  if (S_ISDIR(st.st_mode)) {
    if (fd != 0) close(fd);
    *error = fmt::format("cannot read '{}': Is a directory", path);
    return nullptr;
  }
  bool regular = S_ISREG(st.st_mode);
  if (regular) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  } else if (S_ISFIFO(st.st_mode)) {
    // A bigger pipe means fewer wake-ups for both ends; refused quietly where not allowed.
    fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  }
  return std::make_unique<FdSource>(fd, fd != 0, regular, source_display_name(path), stop);
}

FdSource::FdSource(int fd, bool owned, bool regular, std::string name, StopToken& stop)
    : fd_(fd), owned_(owned), regular_(regular), name_(std::move(name)), stop_(stop) {}

FdSource::~FdSource() {
  if (owned_) close(fd_);
}

ByteSource::Result FdSource::read(char* dst, std::size_t cap, int timeout_ms) {
  for (;;) {
    if (!regular_) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_.wake_fd(), POLLIN, 0}};
      int r = poll(fds, stop_.wake_fd() >= 0 ? 2 : 1, timeout_ms);
      if (r < 0) {
        if (errno == EINTR) continue;
        error_ = std::strerror(errno);
        return {Status::kError, 0};
      }
      if (stop_.stopped()) return {Status::kStopped, 0};
      if (r == 0) return {Status::kOk, 0};  // stalled
    } else if (stop_.stopped()) {
      return {Status::kStopped, 0};
    }
    ssize_t n = ::read(fd_, dst, cap);
    if (n > 0) {
      bytes_ += static_cast<std::uint64_t>(n);
      return {Status::kOk, static_cast<std::size_t>(n)};
    }
    if (n == 0) return {Status::kEof, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) continue;  // a non-blocking descriptor: poll again
    error_ = std::strerror(errno);
    return {Status::kError, 0};
  }
}

}  // namespace ppipe
