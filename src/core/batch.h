// Batch: the unit of work that moves through the pipeline.
//
// The reader fills `input` with whole records (lines) of one source and, through its framer, the
// span of each record in `spans`; the worker runs the parallel stage chain over those records and
// serializes what survives into `out` and the failures into `err`; the writer writes both in
// sequence order. Records are views into `input`; a batch is recycled through the token pool, so
// its buffers keep their capacity and the hot path does not allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>

#include <simdjson.h>

#include "stages/stage.h"

namespace ppipe {

struct InputHeader;  // src/io/formats.h

// Per-stage counters for one batch (summed by the writer into the run's stats).
struct StageCounts {
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t errors = 0;
};

// Of a record longer than --max-record-size, the error stream keeps this many first bytes (the
// reader keeps them of an oversized line, the chain cuts an oversized record in a batch to them).
constexpr std::size_t kOversizedKeep = 4096;

// Of the records of a batch, one in kTimedEvery is timed stage by stage (two clock reads per stage);
// the others pay nothing. Enough to tell which stage takes the time, without slowing any of them.
constexpr std::size_t kTimedEvery = 64;

// Nanoseconds on the steady clock, for the run's timings.
inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// What became of a record in the worker segment (RecordTrace::fate).
enum class Fate : std::uint8_t {
  kPassed = 0,         // passed the whole chain: its bytes are in the output
  kDropped = 1,        // dropped on purpose by stage end_stage
  kFailed = 2,         // went to the error stream from stage end_stage
  kFailedBeforeChain = 3,  // longer than --max-record-size: no stage saw it
  kConsumed = 4,       // taken in by the finishing stage end_stage (its per-batch partial)
  kForwarded = 5,      // passed the worker segment; its bytes in the output are the next segment's input
};

// What happened to one record, kept when the writer must see records one by one: ordered stages
// (head, uniq) decide in input order and may drop a record or cut the batch after any of them,
// --max-errors cuts after the N-th failure, and a segment after the workers' takes records over.
struct RecordTrace {
  std::uint64_t line;        // absolute 1-based line number
  // (64 bits: what a batch produces is not bounded by its input; a map that fans out may make
  // gigabytes of it. 32-bit offsets lost all but the last 4 GiB's remainder, silently.)
  std::uint64_t out_end;     // output bytes of the batch after this record (Batch::out_bytes)
  std::uint64_t err_end;     // size of `err` after this record's error (or unchanged)
  std::uint32_t raw_begin;   // the record's raw bytes: input[raw_begin, raw_begin + raw_len)
  std::uint32_t raw_len;
  std::uint16_t end_stage;   // index of the stage where it ended (dropped, failed, consumed), or
                             // the end of the worker segment (passed, forwarded)
  Fate fate;
  std::uint8_t pad = 0;
  bool failed() const { return fate == Fate::kFailed || fate == Fate::kFailedBeforeChain; }
};

// One record of a batch, as the reader's framer found it. Blank lines have no span (they only
// count in line numbers). 12 bytes: the line is relative to the batch's first line.
struct RecordSpan {
  std::uint32_t begin;  // offset of its first byte in Batch::input
  std::uint32_t len;    // without its line terminator (and without the CR of a CRLF)
  std::uint32_t line;   // its line number minus Batch::first_line
};

// A key written by an ordered stage's key() for one record (in Batch::keys).
struct KeySpan {
  std::uint32_t record;  // index into trace
  std::uint16_t stage;
  std::uint32_t begin, len;
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
    if (n >= kPopulateAt) populate(p + size_, n - size_);
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
  // A batch's room is written soon, all of it: its pages faulted in with one call, not one page
  // fault per 4 KiB (each costs microseconds on a VM). Best effort (Linux 5.14).
  static constexpr std::size_t kPopulateAt = 256 << 10;
  static void populate(char* p, std::size_t n) {
#ifdef MADV_POPULATE_WRITE
    const std::uintptr_t page = 4096;
    std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
    std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// A range of output bytes, either in the batch's `input` (records passed through unchanged,
// adjacent ones merged) or in its `out` buffer (bytes that had to be produced).
struct OutSegment {
  std::uint64_t begin;  // in `input` or `out` (which may pass 4 GiB: see RecordTrace::out_end)
  std::uint64_t len;
  bool in_input;
};

struct Batch {
  // --- filled by the reader
  std::uint64_t seq = 0;
  std::uint32_t source = 0;       // index into the plan's source names
  std::uint64_t first_line = 1;   // line number of the first byte of `input`
  std::uint64_t offset = 0;       // byte offset of the first byte of `input` in its source
  // Bytes of the source this batch stands for: its records with their line terminators, blank
  // lines, a BOM, the whole of an oversized record. Summed over the batches the writer consumes it
  // is --stats' bytes_in (the read-ahead beyond a head cut is not in it).
  std::uint64_t bytes = 0;
  PaddedBuffer input;             // whole lines; the last one may lack its '\n' at end of input
  std::vector<RecordSpan> spans;  // the records in `input`, in order
  // csv: the RecordSpan::line of the source's malformed header row when the framer handed it on
  // as a record in this batch (see InputHeader::malformed_row); kNoHeaderRow when it did not.
  static constexpr std::uint32_t kNoHeaderRow = 0xffffffff;
  std::uint32_t header_row = kNoHeaderRow;
  // --unwrap: the last span is the mark of a top-level array the input left open (an empty span at
  // the input's end). Said by the framer: an empty span there may also be the mark of a missing
  // ',' that a small batch was cut right after (it was then reported as a truncated array).
  bool array_left_open = false;
  // A record longer than --max-record-size: `input` holds only its first bytes.
  bool oversized = false;
  bool pause = false;  // the input paused or ended after it (not cut at --batch-size)
  std::uint64_t oversized_size = 0;

  // --- filled by the worker
  // The output: `segments` in order, each record ending in '\n'. A record that passes unchanged is
  // not copied: its segment points into `input`, so a batch whose records all pass is written
  // straight from the buffer it was read into.
  std::vector<OutSegment> segments;
  std::string out;                       // produced bytes that segments refer to
  std::uint64_t out_bytes = 0;           // total bytes of the output
  std::string err;                       // error-stream lines, in input order
  std::vector<StageCounts> counts;       // one per stage of the chain
  std::vector<RecordTrace> trace;        // only when the writer needs it (see RecordTrace)
  std::string keys;                      // ordered stages' keys (key_spans point here)
  std::vector<KeySpan> key_spans;        // in record order
  std::unique_ptr<Partial> partial;      // a finishing stage's partial for this batch's records
  std::uint64_t records = 0;             // records that entered the chain
  // Time: the worker's time on this batch, and per stage the time of the records timed one by one
  // (one in kTimedEvery); --stats splits busy_ns between the stages in those proportions.
  std::uint64_t busy_ns = 0;
  std::vector<std::uint64_t> sampled_ns;

  // --- filled by the writer
  std::shared_ptr<const InputHeader> header;  // its source's header row (tsv), for the decoder
  std::unique_ptr<AsyncJob> job;  // its records at an async stage
  std::unique_ptr<AsyncJob> spare_job;  // the last one, emptied: its buffers are used again
  bool discard = false;           // after the end of the stream (head, a failure): not written
  // The worker ran out of memory on it (its output or errors did not fit): the run stops there.
  bool out_of_memory = false;
  std::uint64_t submitted_ns = 0;  // when its job went to the async stage (steady clock)
  // Where the bytes counted in `bytes` end in `input` (SIZE_MAX: its end): a cut moves it back to
  // the last kept record's end, once or more (head, then --max-errors).
  std::size_t counted_end = SIZE_MAX;

  void reset_results(std::size_t n_stages) {
    out_of_memory = false;
    segments.clear();
    out_bytes = 0;
    out.clear();
    err.clear();
    counts.assign(n_stages, StageCounts{});
    sampled_ns.assign(n_stages, 0);
    busy_ns = 0;
    trace.clear();
    keys.clear();
    key_spans.clear();
    records = 0;
    counted_end = SIZE_MAX;
  }

  // Output of a record that passed unchanged: input[begin, begin+len) including its '\n'.
  void emit_input(std::size_t begin, std::size_t len);
  // Output of a record given as bytes (without terminator): copied into `out`, '\n' appended.
  void emit_copy(std::string_view record);
  // Keeps the first `bytes` of the output (the head cut).
  void truncate_output(std::uint64_t bytes);
  // Keeps output bytes [begin, end) of the current output, appended to `into`'s segments.
  void copy_output_range(std::uint64_t begin, std::uint64_t end, std::vector<OutSegment>& into) const;
  // The lines ('\n') in output bytes [begin, end): the records a map that fanned out left there.
  std::uint64_t count_output_lines(std::uint64_t begin, std::uint64_t end) const;
  // The output as one string (tests, diagnostics).
  // The output records, one after the other, appended to s.
  void append_output(std::string& s) const;
  // The same as one piece of text: in `input` itself when the output is one run of it (records
  // passed through unchanged: no copy), else put together in `scratch`.
  std::string_view output_view(std::string& scratch) const {
    if (segments.empty()) return {};
    if (segments.size() == 1 && segments[0].in_input) return {input.data() + segments[0].begin, segments[0].len};
    scratch.clear();
    append_output(scratch);
    return scratch;
  }
  std::string output_string() const {
    std::string s;
    append_output(s);
    return s;
  }
};

inline void Batch::emit_input(std::size_t begin, std::size_t len) {
  if (!segments.empty() && segments.back().in_input && segments.back().begin + segments.back().len == begin)
    segments.back().len += len;
  else
    segments.push_back({begin, len, true});
  out_bytes += len;
}

inline void Batch::emit_copy(std::string_view record) {
  std::size_t begin = out.size();
  out.append(record);
  out.push_back('\n');
  std::size_t len = record.size() + 1;
  if (!segments.empty() && !segments.back().in_input && segments.back().begin + segments.back().len == begin)
    segments.back().len += len;
  else
    segments.push_back({begin, len, false});
  out_bytes += len;
}

inline void Batch::truncate_output(std::uint64_t bytes) {
  std::uint64_t seen = 0;
  std::size_t i = 0;
  for (; i < segments.size() && seen < bytes; ++i) {
    if (seen + segments[i].len > bytes) segments[i].len = bytes - seen;
    seen += segments[i].len;
  }
  segments.resize(i);
  out_bytes = seen;
}

inline void Batch::copy_output_range(std::uint64_t begin, std::uint64_t end, std::vector<OutSegment>& into) const {
  std::uint64_t pos = 0;
  for (const auto& seg : segments) {
    std::uint64_t seg_end = pos + seg.len;
    if (seg_end > begin && pos < end) {
      std::uint64_t from = std::max(pos, begin), to = std::min(seg_end, end);
      OutSegment piece{seg.begin + (from - pos), to - from, seg.in_input};
      if (!into.empty() && into.back().in_input == piece.in_input && into.back().begin + into.back().len == piece.begin)
        into.back().len += piece.len;
      else
        into.push_back(piece);
    }
    if (seg_end >= end) break;
    pos = seg_end;
  }
}

inline std::uint64_t Batch::count_output_lines(std::uint64_t begin, std::uint64_t end) const {
  std::uint64_t pos = 0, lines = 0;
  for (const auto& seg : segments) {
    const std::uint64_t seg_end = pos + seg.len;
    if (seg_end > begin && pos < end) {
      const std::uint64_t from = std::max(pos, begin), to = std::min(seg_end, end);
      const char* p = (seg.in_input ? input.data() : out.data()) + seg.begin + (from - pos);
      lines += static_cast<std::uint64_t>(std::count(p, p + (to - from), '\n'));
    }
    if (seg_end >= end) break;
    pos = seg_end;
  }
  return lines;
}

inline void Batch::append_output(std::string& s) const {
  s.reserve(s.size() + out_bytes);
  for (const auto& seg : segments) s.append((seg.in_input ? input.data() : out.data()) + seg.begin, seg.len);
}

using BatchPtr = std::unique_ptr<Batch>;

}  // namespace ppipe
