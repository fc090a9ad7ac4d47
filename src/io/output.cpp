#include "src/io/output.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <climits>
#include <mutex>

#include "src/util/fd_write.h"

namespace ppipe {

namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// Adds the time of a scope to a counter (a write is at least a system call: two clock reads are noise).
struct Timed {
  explicit Timed(std::uint64_t& into) : into_(into), start_(now_ns()) {}
  ~Timed() { into_ += now_ns() - start_; }
  std::uint64_t& into_;
  std::uint64_t start_;
};

bool same_open_file(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

Output::Output(int fd, std::string name)
    : fd_(fd), shares_stderr_(fd == STDERR_FILENO || same_open_file(fd, STDERR_FILENO)), name_(std::move(name)) {}

std::unique_lock<std::mutex> Output::lock_if_stderr() const {
  if (!shares_stderr_) return {};
  auto lock = lock_stderr();
  clear_stderr_status();
  return lock;
}

int Output::write_all(const char* p, std::size_t n) {
  Timed timed(write_ns_);
  const auto lock = lock_if_stderr();
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

int Output::writev_all(struct iovec* v, std::size_t count) {
  Timed timed(write_ns_);
  const auto lock = lock_if_stderr();
  while (count > 0) {
    int n = static_cast<int>(std::min<std::size_t>(count, IOV_MAX));
    ssize_t w = ::writev(fd_, v, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes_ += static_cast<std::uint64_t>(w);
    auto left = static_cast<std::size_t>(w);
    while (count > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --count;
    }
    if (count > 0 && left > 0) {  // a short write inside one piece
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
  return 0;
}

int Output::finish_format() {
  if (!formatter_ || error_) return error_;
  formatted_.clear();
  formatter_->finish(formatted_);
  auto f = std::move(formatter_);  // once
  return append(formatted_);
}

int Output::append(const struct iovec* pieces, std::size_t count, std::size_t total) {
  if (error_) return error_;
  if (formatter_) {
    formatted_.clear();
    for (std::size_t i = 0; i < count; ++i)
      formatter_->records(std::string_view(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len), formatted_);
    auto f = std::move(formatter_);  // the formatted bytes are written as they are
    int e = append(formatted_);
    formatter_ = std::move(f);
    return e;
  }
  // A whole batch's output (about --batch-size) goes out as it is; copying it into pending_ would
  // cost the writer a copy of every byte for no fewer writes.
  if (pending_.size() + total < kFlushAt && total < kFlushAt / 4) {
    for (std::size_t i = 0; i < count; ++i) pending_.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    return 0;
  }
  if ((error_ = flush())) return error_;
  iov_.assign(pieces, pieces + count);
  return error_ = writev_all(iov_.data(), iov_.size());
}

int Output::append(std::string_view data) {
  if (formatter_ && !error_) {
    std::string formatted;
    formatter_->records(data, formatted);
    auto f = std::move(formatter_);
    int e = append(formatted);
    formatter_ = std::move(f);
    return e;
  }
  if (error_) return error_;
  if (pending_.size() + data.size() < kFlushAt) {
    pending_.append(data);
    return 0;
  }
  if ((error_ = flush())) return error_;
  return error_ = write_all(data.data(), data.size());
}

bool Output::reader_gone() const {
  if (error_) return false;  // (already failed: reported then)
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  struct pollfd p {fd_, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

int Output::flush() {
  if (error_) return error_;
  if (pending_.empty()) return 0;
  error_ = write_all(pending_.data(), pending_.size());
  pending_.clear();
  return error_;
}

}  // namespace ppipe
