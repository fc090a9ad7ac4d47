// Output: buffered writes to a file descriptor with explicit error results (no exceptions, no
// SIGPIPE: main ignores it, so a closed pipe comes back here as EPIPE).
//
// Small pieces are gathered up to kFlushAt bytes; a large piece goes out in one write beside what
// is pending. The writer calls flush() whenever it has nothing more to write, which is what keeps
// a trickling stream moving.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <sys/uio.h>

#include <memory>

#include "src/io/output_format.h"

namespace ppipe {

class Output {
 public:
  static constexpr std::size_t kFlushAt = 1 << 20;

  Output(int fd, std::string name);
  // Records appended from now on are written in another format (src/io/output_format.h).
  void set_formatter(std::unique_ptr<RecordFormatter> f) { formatter_ = std::move(f); }
  // The format's closing bytes (the end of a JSON array); nothing without a formatter.
  int finish_format();
  // Returns 0 or the errno of the failed write. After a failure every call returns that error.
  int append(std::string_view data);
  // Appends `count` pieces; when they are large they go out with writev, without being copied.
  int append(const struct iovec* pieces, std::size_t count, std::size_t total);
  int flush();
  // True when the output is a pipe whose reader has gone (`ppipe ... | head -1` after head
  // exited): the next write would fail with EPIPE. One poll(), no write: the writer asks while it
  // waits (slow commands, a stalled input), so the run ends at once, not at its next output.
  bool reader_gone() const;
  const std::string& name() const { return name_; }
  std::uint64_t bytes_written() const { return bytes_; }
  // Nanoseconds spent in write(): a slow reader of the output shows here.
  std::uint64_t write_ns() const { return write_ns_; }

 private:
  int write_all(const char* p, std::size_t n);
  // When fd_ shares stderr: lock_stderr held, a shown progress line erased; else no lock.
  std::unique_lock<std::mutex> lock_if_stderr() const;
  int writev_all(struct iovec* pieces, std::size_t count);

  int fd_;
  // fd_ is stderr, or the same pipe, terminal or file: each write holds lock_stderr (other threads
  // write lines there: exec's commands' stderr) and erases a progress line first.
  bool shares_stderr_ = false;
  std::string name_;
  std::string pending_;
  std::vector<struct iovec> iov_;  // scratch for writev (it advances the pieces on short writes)
  std::uint64_t bytes_ = 0;
  std::uint64_t write_ns_ = 0;
  int error_ = 0;
  std::unique_ptr<RecordFormatter> formatter_;
  std::string formatted_;
};

}  // namespace ppipe
