// Reader: turns input sources into batches of whole records.
//
// Bytes come from a ByteSource (a file or a pipe; later a decompressor wrapping one); a Framer finds
// the records in them as they arrive and writes their spans into the batch. Large reads (a batch is
// filled with as few reads as the source allows), cut at the end of the last complete record; the
// incomplete tail is carried into the next batch. A batch never spans two sources. Each batch
// records its source, first line number and byte offset, so workers can report exact positions
// without seeing other batches.
//
// Latency: on a pipe or terminal, once a batch holds at least one whole record the reader cuts it
// early when the input stalls for `stall_ms`, or at the latest `max_hold_ms` after that first
// whole record arrived (a steady trickle never stalls), so a slow source (tail -f) gets each record
// through within tens of milliseconds, while bulk input still fills whole batches.
//
// Memory: a record longer than the buffer grows it only up to --max-record-size; beyond that it
// is skipped to its end and sent on as an "oversized" batch carrying its first bytes and its size.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/batch.h"
#include "src/core/stop_token.h"
#include "src/io/byte_source.h"
#include "src/io/framer.h"

namespace ppipe {

inline constexpr std::size_t kMaxBatchRecords = 16384;

struct ReaderOptions {
  std::size_t batch_size = 1 << 20;
  // At most this many records a batch (0: no limit; every framer can cut between any two records):
  // exec's record mode, whose output waits for its whole batch, asks for fewer. The default bounds
  // what a batch of tiny records holds besides its bytes: an error record is ~150 bytes however
  // short its line, so a 1 MiB batch of 2-byte bad lines held 75 MiB of error text, and with
  // --batch-size 64M a 100 MB file of them took 11 GiB.
  std::size_t max_records = kMaxBatchRecords;
  std::uint64_t max_record_size = 64ull << 20;
  int stall_ms = 10;
  int max_hold_ms = 25;
  std::size_t oversized_keep = kOversizedKeep;  // bytes of an oversized record kept for the error stream
  InputFormat format = InputFormat::kJsonLines;
  char delimiter = ',';  // csv
  bool header = true;    // csv: the first record of each source is the header
  bool unwrap = false;   // json: a top-level array's elements are the records
};

class Reader {
 public:
  using Acquire = std::function<BatchPtr()>;      // a free batch, or nullptr when stopping
  using Emit = std::function<void(BatchPtr)>;      // hand a filled batch on
  using Release = std::function<void(BatchPtr)>;   // give back an unused batch

  Reader(ReaderOptions options, std::vector<std::string> paths, StopToken& stop);

  // Reads every source in order. Returns "" when done (or stopped), else a fatal error message.
  std::string run(const Acquire& acquire, const Emit& emit, const Release& release);

  // Bytes read so far (for --progress and --stats), as the sources returned them.
  std::uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }
  // Bytes the sources took from their files (differs from bytes_read() for compressed input).
  std::uint64_t compressed_bytes_read() const { return compressed_read_.load(std::memory_order_relaxed); }
  // A source opened so far was compressed (its file's bytes are not the bytes read from it).
  bool any_compressed() const { return any_compressed_.load(std::memory_order_relaxed); }
  // Nanoseconds spent inside the sources' read(): waiting for input, or copying it.
  std::uint64_t input_ns() const { return input_ns_.load(std::memory_order_relaxed); }

 private:
  std::string read_source(std::uint32_t index, ByteSource& src, const Acquire& acquire, const Emit& emit,
                          const Release& release);
  // src.read(), counted.
  ByteSource::Result read_some(ByteSource& src, char* dst, std::size_t cap, int timeout_ms);

  ReaderOptions options_;
  std::vector<std::string> paths_;
  StopToken& stop_;
  std::atomic<std::uint64_t> bytes_read_{0};
  std::atomic<std::uint64_t> compressed_read_{0};
  std::atomic<std::uint64_t> input_ns_{0};
  std::uint64_t compressed_base_ = 0;  // compressed_read_ before the current source
  std::atomic<bool> any_compressed_{false};
  std::unique_ptr<Framer> framer_;  // JSON Lines today; chosen per source format later
  std::uint64_t seq_ = 0;
  PaddedBuffer carry_;
};

}  // namespace ppipe
