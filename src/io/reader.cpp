#include "src/io/reader.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "src/io/csv.h"
#include "src/io/decompress.h"
#include "src/io/json_stream.h"

namespace ppipe {

namespace {

using Clock = std::chrono::steady_clock;

// The most one read takes: the framer scans what came while it is still in the core's cache (a
// whole 1 MiB batch is not, once other threads stream megabytes: exec's pipes and processes).
constexpr std::size_t kReadChunk = 256 << 10;

std::unique_ptr<Framer> make_framer(const ReaderOptions& o) {
  if (o.format == InputFormat::kCsv) return std::make_unique<CsvFramer>(o.delimiter, o.header, o.max_record_size);
  if (o.format == InputFormat::kJson) return std::make_unique<JsonStreamFramer>(o.unwrap, o.max_records);
  return std::make_unique<JsonLinesFramer>(o.format, o.max_record_size);
}

std::string read_error(const ByteSource& src) {
  return fmt::format("read error on '{}': {}", src.name(), src.error());
}

}  // namespace

Reader::Reader(ReaderOptions options, std::vector<std::string> paths, StopToken& stop)
    : options_(options), paths_(std::move(paths)), stop_(stop), framer_(make_framer(options_)) {}

std::string Reader::run(const Acquire& acquire, const Emit& emit, const Release& release) {
  for (std::uint32_t i = 0; i < paths_.size(); ++i) {
    if (stop_.stopped()) break;
    std::string err;
    std::unique_ptr<ByteSource> src = open_input(paths_[i], stop_, &err);
    if (!src) return err;
    compressed_base_ = compressed_read_.load(std::memory_order_relaxed);
    if (src->decompresses()) any_compressed_.store(true, std::memory_order_relaxed);
    err = read_source(i, *src, acquire, emit, release);
    if (!err.empty()) return err;
  }
  return "";
}

ByteSource::Result Reader::read_some(ByteSource& src, char* dst, std::size_t cap, int timeout_ms) {
  std::uint64_t t0 = now_ns();
  ByteSource::Result r = src.read(dst, cap, timeout_ms);
  input_ns_.fetch_add(now_ns() - t0, std::memory_order_relaxed);
  if (r.got) bytes_read_.fetch_add(r.got, std::memory_order_relaxed);
  // Also when nothing came out: an empty gzip member is 20 compressed bytes that give none.
  compressed_read_.store(compressed_base_ + src.compressed_bytes(), std::memory_order_relaxed);
  return r;
}

std::string Reader::read_source(std::uint32_t index, ByteSource& src, const Acquire& acquire, const Emit& emit,
                                const Release& release) {
  const bool is_regular = src.regular();
  const std::size_t batch_size = options_.batch_size;
  const std::uint64_t max_record = options_.max_record_size;
  Framer& framer = *framer_;
  std::uint64_t line = 1;
  std::uint64_t offset = 0;
  framer.start_source();
  carry_.clear();
  // The source said it ended: it is not read again (carried records are sent without a read). A
  // FIFO gives more after its end when another writer opens it: that was read as this input.
  bool ended = false;
  // The last batch sent said the input paused (or nothing was sent yet). When it did not (it was
  // cut at --batch-size) and the input then stalls before a whole record, an empty batch says so:
  // exec's batch mode ends its span at a pause, and held the records until more input came (with
  // --timeout, failed them all as timed out).
  bool paused = true;
  // A filled batch on its way: numbered, with its header, and what it says of a pause noted.
  auto send = [&](BatchPtr b) {
    b->seq = seq_++;
    b->header = framer.header();
    paused = b->pause;
    emit(std::move(b));
  };

  for (;;) {
    if (stop_.stopped()) return "";
    BatchPtr b = acquire();
    if (!b) return "";
    PaddedBuffer& buf = b->input;
    buf.clear();
    buf.reserve(std::max(batch_size, carry_.size() + 4096));
    if (carry_.size()) std::memcpy(buf.data(), carry_.data(), carry_.size());
    buf.resize(carry_.size());
    carry_.clear();
    const std::uint64_t batch_start = offset;  // where the carried-over bytes began
    framer.start_batch(*b);
    offset += framer.scan(*b);

    // whole: the batch holds a complete record. A tail carried over a cut holds none, but what
    // follows a skipped oversized record may hold many.
    bool whole = framer.cut() > 0;
    bool eof = false, stopped = false, failed = false;
    bool full = false;  // cut at --batch-size (not because the input paused or ended)
    bool stalled = false;  // the input stalled before a whole record, after a batch that did not pause
    // When the batch first held a whole record (pipes only): it is cut max_hold_ms after that.
    Clock::time_point whole_at = whole ? Clock::now() : Clock::time_point();
    for (;;) {
      std::size_t size = buf.size();
      if (whole && size >= batch_size) { full = true; break; }
      if (whole && options_.max_records && b->spans.size() >= options_.max_records) { full = true; break; }
      if (size == buf.capacity()) {
        // Room for a record of --max-record-size and its line end, "\r\n" included: with room for
        // one more byte only, a CRLF record of exactly that size was refused (or not, by batch
        // size), as "N bytes is longer than ... (N bytes)".
        if (whole || size > max_record + 1) { full = true; break; }
        buf.reserve(std::min<std::uint64_t>(std::max(buf.capacity() * 2, batch_size), max_record + 2));
      }
      if (ended) { eof = true; break; }
      int timeout_ms = -1;
      if (whole && !is_regular) {
        auto held = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - whole_at).count();
        if (held >= options_.max_hold_ms) break;  // a steady trickle: send what we have
        timeout_ms = static_cast<int>(std::min<long long>(options_.stall_ms, options_.max_hold_ms - held));
      } else if (!whole && !is_regular && !paused) {
        timeout_ms = options_.stall_ms;  // then say the input paused (below)
      }
      // No more than the batch's room asks for (a small --batch-size gives small batches, not one
      // read's worth of records), at least 64 bytes; past it (a record longer than the batch
      // size, not whole yet) as much again as the batch holds.
      const std::size_t want = std::max<std::size_t>(size < batch_size ? batch_size - size : size, 64);
      auto [status, got] =
          read_some(src, buf.data() + size, std::min({buf.capacity() - size, kReadChunk, want}), timeout_ms);
      if (status == ByteSource::Status::kError) {
        // (A corrupt compressed stream.) What came before is framed, counted and written first,
        // a last partial line as the last record; then the run stops with the error.
        failed = true;
        eof = true;
        break;
      }
      if (status == ByteSource::Status::kStopped) { stopped = true; break; }
      if (status == ByteSource::Status::kEof) { eof = ended = true; break; }
      if (got == 0 && !whole) { stalled = true; break; }  // (only after a batch that did not pause)
      if (got == 0) break;  // the input stalled and we hold whole records: send them now
      buf.resize(size + got);
      offset += framer.scan(*b);  // a BOM removed at the start of the source
      if (!whole && framer.cut() > 0) {
        whole = true;
        whole_at = Clock::now();
      }
    }
    const std::size_t size = buf.size();
    b->source = index;
    b->first_line = line;
    b->offset = offset;
    b->oversized = false;
    b->oversized_size = 0;
    b->pause = !full;
    if (stalled) {
      // An empty batch that says the input paused; the part of a record read so far is carried.
      carry_.resize(size);
      if (size) std::memcpy(carry_.data(), buf.data(), size);
      buf.resize(0);
      b->spans.clear();
      b->bytes = offset - batch_start;  // (a BOM removed)
      b->seq = seq_++;
      b->header = framer.header();
      paused = true;
      emit(std::move(b));
      continue;
    }

    // Blanks before a record are no part of it, however many (JSON Lines: blank lines are not
    // records; JSON: white space between values, and with --unwrap the array's '[' ',' ']'): a
    // run of them longer than --max-record-size was taken for an oversized record, an error, and
    // with --format json the skip of its "rest" took the next value with it (with --unwrap, after
    // a '[' or ',': every element, by --batch-size). They are passed over, counted in lines and
    // offsets.
    bool finished = false;
    if (!whole && size > max_record && framer.pass_over(*b)) {
      if (eof) {
        // At the end of the input: what the format says of it (--unwrap's array still open: an
        // error record, at the end) goes out with these bytes, as from a batch of any size.
        framer.finish(*b);
        finished = true;
        whole = !b->spans.empty();
      }
      if (!whole) {
        line += static_cast<std::uint64_t>(std::count(buf.data(), buf.data() + size, '\n'));
        offset += size;
        carry_.clear();
        // Sent as a batch of no record, so that its bytes count in the stats.
        buf.resize(0);
        b->spans.clear();
        b->bytes = offset - batch_start;
        b->pause = eof || stopped;
        send(std::move(b));
        if (failed) return read_error(src);
        if (eof || stopped) return "";
        continue;
      }
    }
    // (A '\r' last is not the record's: its "\n" may not have been read yet.)
    if (!whole && size - (size > 0 && buf.data()[size - 1] == '\r' ? 1 : 0) > max_record) {
      // One record longer than --max-record-size: keep its first bytes, skip the rest of it.
      std::size_t keep = std::min<std::size_t>(size, options_.oversized_keep);
      std::uint64_t consumed = size;
      framer.start_skip(buf.data(), size);
      // Room to read the rest into past the kept bytes: a small batch's buffer (4 KiB at
      // --batch-size 64) may hold no more than them, and a read of 0 bytes was the end of the
      // input: every record after the oversized one was lost.
      if (buf.capacity() < keep + (64 << 10)) buf.reserve(keep + (64 << 10));
      std::size_t scratch = std::min<std::size_t>(buf.capacity(), keep + (1 << 20));
      bool found = false;
      while (!found) {
        if (ended) { eof = true; break; }  // (the record ran to the end of the input: not read again)
        auto [status, got] = read_some(src, buf.data() + keep, scratch - keep, -1);
        if (status == ByteSource::Status::kError) {
          // (A corrupt compressed stream, inside the record: it is still sent, as an error
          // record, before the run stops with the error. Returning here lost it.)
          failed = eof = true;
          break;
        }
        if (status == ByteSource::Status::kStopped) { stopped = true; break; }
        if (status == ByteSource::Status::kEof) { eof = ended = true; break; }
        if (got == 0) continue;
        const char* start = buf.data() + keep;
        std::size_t used = framer.skip(start, got, &found);
        consumed += used;
        if (found) {
          carry_.resize(got - used);
          if (got > used) std::memcpy(carry_.data(), start + used, got - used);
        }
      }
      buf.resize(keep);
      b->spans.clear();
      b->oversized = true;
      b->oversized_size = framer.skipped_size();
      b->pause = eof || stopped;
      line += framer.skipped_lines();  // (a quoted CSV field's line ends count too; a JSON value's)
      offset += consumed;
      b->bytes = offset - batch_start;
      send(std::move(b));
      if (failed) return read_error(src);
      if (eof || stopped) return "";
      continue;
    }

    // At end of input the last record counts even without its terminator. When stopped, a partial
    // last record was never whole: it is dropped.
    if (eof && !finished) framer.finish(*b);
    // --- a batch of at most max_records: the rest is carried (also at the end of the input: the
    // source is then read again, which gives its end again, until the carried records are sent).
    if (options_.max_records && !stopped && !failed && framer.limit(*b, options_.max_records)) {
      b->pause = false;  // cut, not a pause of the input
      eof = false;
    }
    const std::size_t cut = framer.cut();
    if (!stopped && cut < size) {
      carry_.resize(size - cut);
      std::memcpy(carry_.data(), buf.data() + cut, size - cut);
    }
    buf.resize(cut);
    line += framer.cut_lines();
    offset += cut;
    b->bytes = offset - batch_start;
    // Nothing to send: no record, no byte (a file of only a BOM sends its 3 bytes, for bytes_in).
    if (cut == 0 && b->spans.empty() && b->bytes == 0) {  // (an empty span: --unwrap's array left open, at the end)
      release(std::move(b));
    } else {
      send(std::move(b));
    }
    if (failed) return read_error(src);
    if (eof || stopped) return "";
  }
}

}  // namespace ppipe
