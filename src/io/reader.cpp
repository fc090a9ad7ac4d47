#include "src/io/reader.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ppipe {

namespace {

using Clock = std::chrono::steady_clock;

// Written so that the compiler vectorizes it: byte-wide counters over 32 lanes, emptied before
// they can overflow (a plain `count += p[i] == '\n'` into a 64-bit counter was 11% of a run).
std::uint64_t count_newlines(const char* p, std::size_t n) {
  constexpr std::size_t kLanes = 32, kRounds = 255;
  std::uint64_t count = 0;
  while (n >= kLanes) {
    unsigned char acc[kLanes] = {};
    std::size_t rounds = std::min(kRounds, n / kLanes);
    for (std::size_t r = 0; r < rounds; ++r, p += kLanes)
      for (std::size_t j = 0; j < kLanes; ++j) acc[j] += p[j] == '\n';
    n -= rounds * kLanes;
    for (std::size_t j = 0; j < kLanes; ++j) count += acc[j];
  }
  for (std::size_t i = 0; i < n; ++i) count += p[i] == '\n';
  return count;
}

constexpr char kBom[] = "\xEF\xBB\xBF";

std::string read_error(const ByteSource& src) {
  return fmt::format("read error on '{}': {}", src.name(), src.error());
}

}  // namespace

Reader::Reader(ReaderOptions options, std::vector<std::string> paths, StopToken& stop)
    : options_(options), paths_(std::move(paths)), stop_(stop) {}

std::string Reader::run(const Acquire& acquire, const Emit& emit, const Release& release) {
  for (std::uint32_t i = 0; i < paths_.size(); ++i) {
    if (stop_.stopped()) break;
    std::string err;
    std::unique_ptr<ByteSource> src = FdSource::open(paths_[i], stop_, &err);
    if (!src) return err;
    compressed_base_ = compressed_read_.load(std::memory_order_relaxed);
    err = read_source(i, *src, acquire, emit, release);
    if (!err.empty()) return err;
  }
  return "";
}

ByteSource::Result Reader::read_some(ByteSource& src, char* dst, std::size_t cap, int timeout_ms) {
  ByteSource::Result r = src.read(dst, cap, timeout_ms);
  if (r.got) {
    bytes_read_.fetch_add(r.got, std::memory_order_relaxed);
    compressed_read_.store(compressed_base_ + src.compressed_bytes(), std::memory_order_relaxed);
  }
  return r;
}

std::string Reader::read_source(std::uint32_t index, ByteSource& src, const Acquire& acquire, const Emit& emit,
                                const Release& release) {
  const bool is_regular = src.regular();
  const std::size_t batch_size = options_.batch_size;
  const std::uint64_t max_record = options_.max_record_size;
  std::uint64_t line = 1;
  std::uint64_t offset = 0;
  bool first = true;
  carry_.clear();

  for (;;) {
    if (stop_.stopped()) return "";
    BatchPtr b = acquire();
    if (!b) return "";
    PaddedBuffer& buf = b->input;
    buf.clear();
    buf.reserve(std::max(batch_size, carry_.size() + 4096));
    if (carry_.size()) std::memcpy(buf.data(), carry_.data(), carry_.size());
    std::size_t size = carry_.size();
    carry_.clear();

    // has_nl: the batch holds a whole line. A tail carried over a cut holds none, but what follows
    // a skipped oversized line may hold many.
    bool has_nl = size && std::memchr(buf.data(), '\n', size);
    bool eof = false, stopped = false;
    // When the batch first held a whole line (pipes only): it is cut max_hold_ms after that.
    Clock::time_point whole_line_at = has_nl ? Clock::now() : Clock::time_point();
    for (;;) {
      if (has_nl && size >= batch_size) break;
      if (size == buf.capacity()) {
        if (has_nl || size > max_record) break;
        std::size_t want = std::min<std::uint64_t>(std::max(buf.capacity() * 2, batch_size), max_record + 1);
        buf.resize(size);
        buf.reserve(want);
      }
      int timeout_ms = -1;
      if (has_nl && !is_regular) {
        auto held = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - whole_line_at).count();
        if (held >= options_.max_hold_ms) break;  // a steady trickle: send what we have
        timeout_ms = static_cast<int>(std::min<long long>(options_.stall_ms, options_.max_hold_ms - held));
      }
      auto [status, got] = read_some(src, buf.data() + size, buf.capacity() - size, timeout_ms);
      if (status == ByteSource::Status::kError) return read_error(src);
      if (status == ByteSource::Status::kStopped) { stopped = true; break; }
      if (status == ByteSource::Status::kEof) { eof = true; break; }
      if (got == 0) break;  // the input stalled and we hold whole lines: send them now
      if (!has_nl && std::memchr(buf.data() + size, '\n', got)) {
        has_nl = true;
        whole_line_at = Clock::now();
      }
      size += got;
    }
    buf.resize(size);

    // A BOM can only open the first line; the first cut always holds the start of that line (a
    // batch is only cut after a newline, at end of input, or when a line is oversized).
    if (first) {
      first = false;
      if (size >= 3 && std::memcmp(buf.data(), kBom, 3) == 0) {
        std::memmove(buf.data(), buf.data() + 3, size - 3);
        size -= 3;
        buf.resize(size);
        offset = 3;
      }
    }
    b->source = index;
    b->first_line = line;
    b->offset = offset;
    b->oversized = false;
    b->oversized_size = 0;

    if (!has_nl && size > max_record) {
      // One line longer than --max-record-size: keep its first bytes, skip the rest of it.
      std::size_t keep = std::min<std::size_t>(size, options_.oversized_keep);
      std::uint64_t total = size;
      bool found = false;
      bool prev_cr = buf.data()[size - 1] == '\r';  // a CR right before the newline is not part of it
      std::size_t scratch = std::min<std::size_t>(buf.capacity(), keep + (1 << 20));
      while (!found) {
        auto [status, got] = read_some(src, buf.data() + keep, scratch - keep, -1);
        if (status == ByteSource::Status::kError) return read_error(src);
        if (status == ByteSource::Status::kStopped) { stopped = true; break; }
        if (status == ByteSource::Status::kEof) { eof = true; break; }
        if (got == 0) continue;
        const char* start = buf.data() + keep;
        const char* nl = static_cast<const char*>(std::memchr(start, '\n', got));
        if (!nl) {
          total += got;
          prev_cr = start[got - 1] == '\r';
          continue;
        }
        total += static_cast<std::uint64_t>(nl - start);
        prev_cr = nl > start ? nl[-1] == '\r' : prev_cr;
        found = true;
        std::size_t rest = got - static_cast<std::size_t>(nl + 1 - start);
        carry_.resize(rest);
        if (rest) std::memcpy(carry_.data(), nl + 1, rest);
      }
      buf.resize(keep);
      std::uint64_t consumed = total + (found ? 1 : 0);
      // The record's size, as the worker would see it: without its line terminator (CRLF, or a
      // final CR at end of input).
      if (prev_cr) --total;
      b->oversized = true;
      b->oversized_size = total;
      line += 1;
      offset += consumed;
      b->seq = seq_++;
      emit(std::move(b));
      if (eof || stopped) return "";
      continue;
    }

    // At end of input the last line counts even without its newline. When stopped, a partial
    // last line was never whole: it is dropped.
    std::size_t data_len = size;
    if (!eof) {
      const char* last = has_nl ? static_cast<const char*>(memrchr(buf.data(), '\n', size)) : nullptr;
      data_len = last ? static_cast<std::size_t>(last - buf.data()) + 1 : 0;
    }
    if (!stopped && data_len < size) {
      carry_.resize(size - data_len);
      std::memcpy(carry_.data(), buf.data() + data_len, size - data_len);
    }
    buf.resize(data_len);
    line += count_newlines(buf.data(), data_len);
    offset += data_len;
    if (data_len == 0) {
      release(std::move(b));
    } else {
      b->seq = seq_++;
      emit(std::move(b));
    }
    if (eof || stopped) return "";
  }
}

}  // namespace ppipe
