// ByteSource: where the reader's bytes come from, below any framing.
//
// The reader asks a source for bytes with a timeout and frames whatever comes back; it never sees a
// file descriptor. FdSource reads a file or a pipe. A decompressing source (gzip, zstd) wraps
// another ByteSource: it passes the timeout and the stop on to the source it wraps, returns
// decompressed bytes from read(), and counts what it took from the wrapped source in
// compressed_bytes(), so --progress can compare that count with the file's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "src/core/stop_token.h"

namespace ppipe {

class ByteSource {
 public:
  enum class Status { kOk, kEof, kStopped, kError };
  struct Result {
    Status status;
    std::size_t got;  // kOk: bytes written to dst; 0 when the timeout passed with nothing to read
  };

  virtual ~ByteSource() = default;
  // Up to `cap` bytes into dst. timeout_ms: how long a source that can stall (a pipe) may stay
  // silent (-1: wait forever); a regular file never times out. kStopped once the stop token is
  // raised, also while blocked. kError: error() says why.
  virtual Result read(char* dst, std::size_t cap, int timeout_ms) = 0;
  // A regular file: reads return at once, so stall timeouts do not apply.
  virtual bool regular() const = 0;
  // The display name ("<stdin>" for "-").
  virtual const std::string& name() const = 0;
  // Bytes taken from the underlying file so far (equal to the bytes read() returned, unless the
  // source decompresses).
  virtual std::uint64_t compressed_bytes() const = 0;
  // The bytes come out of a decompressor (gzip, zstd), not as they are in the file.
  virtual bool decompresses() const { return false; }
  virtual const std::string& error() const = 0;
};

// A file or standard input ("-"), read with read(); pipes and terminals are poll()ed together with
// the stop token's eventfd so that a stop interrupts a blocked read.
class FdSource final : public ByteSource {
 public:
  // Opens `path`; nullptr with *error set when it cannot be opened or is a directory.
  static std::unique_ptr<FdSource> open(const std::string& path, StopToken& stop, std::string* error);
  FdSource(int fd, bool owned, bool regular, std::string name, StopToken& stop);
  ~FdSource() override;
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  Result read(char* dst, std::size_t cap, int timeout_ms) override;
  bool regular() const override { return regular_; }
  const std::string& name() const override { return name_; }
  std::uint64_t compressed_bytes() const override { return bytes_; }
  const std::string& error() const override { return error_; }

 private:
  int fd_;
  bool owned_;
  bool regular_;
  std::string name_;
  StopToken& stop_;
  std::uint64_t bytes_ = 0;
  std::string error_;
};

// "-" is standard input; its display name is "<stdin>".
std::string source_display_name(const std::string& path);

}  // namespace ppipe
