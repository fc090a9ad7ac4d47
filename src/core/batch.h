// Batch: the unit of work that moves through the pipeline.
//
// The reader fills `input` with whole records (lines) of one source, the worker runs the parallel
// stage chain over them and serializes what survives into `out` and the failures into `err`, the
// writer writes both in sequence order. Records are views into `input`; a batch is recycled through
// the token pool, so its buffers keep their capacity and the hot path does not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

namespace ppipe {

// Per-stage counters for one batch (summed by the writer into the run's stats).
struct StageCounts {
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t errors = 0;
};

// What happened to one record, kept only when the chain has ordered stages (head), which must see
// records in input order and may cut a batch after any of them.
struct RecordTrace {
  std::uint64_t line;        // absolute 1-based line number
  std::uint32_t out_end;     // size of `out` after this record was appended (or unchanged)
  std::uint32_t err_end;     // size of `err` after this record's error (or unchanged)
  std::uint16_t end_stage;   // index of the stage that dropped/failed it; chain size if it passed
  std::uint8_t failed;       // 1 when it went to the error stream
  std::uint8_t pad = 0;
};

// A growable byte buffer with SIMDJSON_PADDING readable bytes after its end, as simdjson needs.
class PaddedBuffer {
 public:
  PaddedBuffer() = default;
  PaddedBuffer(const PaddedBuffer&) = delete;
  PaddedBuffer& operator=(const PaddedBuffer&) = delete;
  ~PaddedBuffer() { std::free(data_); }

  char* data() { return data_; }
  const char* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  void resize(std::size_t n) { reserve(n); size_ = n; }
  void clear() { size_ = 0; }
  // Keeps the first size() bytes.
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    char* p = static_cast<char*>(std::realloc(data_, n + simdjson::SIMDJSON_PADDING));
    if (!p) throw std::bad_alloc();
    data_ = p;
    capacity_ = n;
  }
  // Returns memory after a huge record so that one long line does not pin it for the whole run.
  void shrink_to(std::size_t n) {
    if (capacity_ <= n) return;
    char* p = static_cast<char*>(std::realloc(data_, n + simdjson::SIMDJSON_PADDING));
    if (!p) return;
    data_ = p;
    capacity_ = n;
    if (size_ > n) size_ = n;
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

struct Batch {
  // --- filled by the reader
  std::uint64_t seq = 0;
  std::uint32_t source = 0;       // index into the plan's source names
  std::uint64_t first_line = 1;   // line number of the first byte of `input`
  std::uint64_t offset = 0;       // byte offset of the first byte of `input` in its source
  std::uint64_t bytes_read = 0;   // bytes consumed from the source for this batch
  PaddedBuffer input;             // whole lines; the last one may lack its '\n' at end of input
  // A record longer than --max-record-size: `input` holds only its first bytes.
  bool oversized = false;
  std::uint64_t oversized_size = 0;

  // --- filled by the worker
  std::string out;                       // records that passed, each ending in '\n'
  std::string err;                       // error-stream lines, in input order
  std::vector<StageCounts> counts;       // one per stage of the chain
  std::vector<RecordTrace> trace;        // only when the chain has ordered stages
  std::uint64_t records = 0;             // records that entered the chain

  void reset_results(std::size_t n_stages) {
    out.clear();
    err.clear();
    counts.assign(n_stages, StageCounts{});
    trace.clear();
    records = 0;
  }
};

using BatchPtr = std::unique_ptr<Batch>;

}  // namespace ppipe
