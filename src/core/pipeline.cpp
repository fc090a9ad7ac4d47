#include "src/core/pipeline.h"

#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "src/core/bounded_queue.h"
#include "src/core/sequencer.h"
#include "src/io/error_sink.h"
#include "src/io/output.h"

namespace ppipe {

namespace {

using Clock = std::chrono::steady_clock;

// Keeps one huge record from pinning memory in a recycled batch for the rest of the run.
void trim_batch(Batch& b, std::size_t batch_size) {
  std::size_t keep = batch_size * 4;
  if (b.input.capacity() > keep) b.input.shrink_to(batch_size);
  if (b.out.capacity() > keep) std::string().swap(b.out);
  if (b.err.capacity() > keep) std::string().swap(b.err);
  if (b.trace.capacity() > keep / 64) std::vector<RecordTrace>().swap(b.trace);
  if (b.segments.capacity() > keep / 64) std::vector<OutSegment>().swap(b.segments);
}

// On a terminal one line redrawn ten times a second; elsewhere (a log file) one JSON object a
// second, so that stderr stays JSON Lines.
class ProgressLine {
 public:
  ProgressLine(bool enabled, bool json, std::uint64_t total)
      : enabled_(enabled), json_(json), total_(total), start_(Clock::now()) {}

  void maybe_print(std::uint64_t bytes, std::uint64_t records) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(json_ ? 1000 : 100)) return;
    last_ = now;
    double s = std::chrono::duration<double>(now - start_).count();
    if (s <= 0) return;
    if (json_) {
      std::string line = fmt::format(
          "{{\"ppipe\":\"progress\",\"records\":{},\"bytes\":{},\"seconds\":{:.1f},\"records_per_second\":{:.0f},"
          "\"mb_per_second\":{:.1f}",
          records, bytes, s, records / s, bytes / s / 1e6);
      if (total_ > 0 && bytes <= total_) line += fmt::format(",\"percent\":{:.1f}", 100.0 * bytes / total_);
      line += "}\n";
      ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
      (void)ignored;
      return;
    }
    std::string line = fmt::format("\r\033[Kppipe: {} records, {:.0f} rec/s, {:.1f} MB/s", records,
                                   records / s, bytes / s / 1e6);
    if (total_ > 0 && bytes <= total_) {
      double frac = static_cast<double>(bytes) / static_cast<double>(total_);
      double eta = frac > 0 ? s / frac - s : 0;
      line += fmt::format(", {:.1f}%, ETA {:.0f}s", frac * 100, eta);
    }
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
    shown_ = true;
  }
  // Clears the line, before error records on stderr and at the end.
  void clear() {
    if (!shown_) return;
    static const char kClear[] = "\r\033[K";
    ssize_t ignored = ::write(STDERR_FILENO, kClear, sizeof kClear - 1);
    (void)ignored;
    shown_ = false;
  }

 private:
  bool enabled_;
  bool json_;
  std::uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
  bool shown_ = false;
};

}  // namespace

RunResult run_pipeline(const EngineOptions& options, Chain& chain, StopToken& stop, int out_fd, int err_fd,
                       const std::string& err_name) {
  RunResult result;
  RunStats& stats = result.stats;
  stats.workers = options.workers;
  for (std::size_t i = 0; i < chain.size(); ++i) stats.stages.push_back({std::string(chain.stage(i).name()), {}});
  const auto start = Clock::now();

  if (options.max_errors) chain.enable_trace();
  const std::size_t depth = options.queue_depth;
  BoundedQueue<BatchPtr> free_batches(depth);
  BoundedQueue<BatchPtr> work(depth);
  BoundedQueue<BatchPtr> done(depth);
  for (std::size_t i = 0; i < depth; ++i) {
    BatchPtr b = std::make_unique<Batch>();
    free_batches.push(b);
  }

  Reader reader(options.reader, options.inputs, stop);
  std::string read_error;
  std::thread reader_thread([&] {
    read_error = reader.run(
        [&]() -> BatchPtr {
          BatchPtr b;
          if (!free_batches.pop(b)) return nullptr;
          return b;
        },
        [&](BatchPtr b) { work.push(b); }, [&](BatchPtr b) { free_batches.push(b); });
    if (!read_error.empty()) stop.raise(StopReason::kFatalIo);
    work.close();
  });

  std::atomic<unsigned> workers_left{options.workers};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < options.workers; ++w) {
    workers.emplace_back([&] {
      auto state = chain.make_worker_state();
      BatchPtr b;
      while (work.pop(b)) {
        // After a broken pipe nothing more is written: skip the work, keep the tokens moving.
        if (stop.reason() != StopReason::kBrokenPipe) chain.process(*b, *state);
        done.push(b);
      }
      if (workers_left.fetch_sub(1) == 1) done.close();
    });
  }

  // The writer: this thread.
  Output out(out_fd, "stdout");
  Output err(err_fd, err_name);
  ErrorSink errors(err, options.human_errors);
  const bool err_on_stderr = err_fd == STDERR_FILENO;  // shares the terminal with --progress
  ProgressLine progress(options.progress, options.progress_json, options.total_input_bytes);
  Sequencer<BatchPtr> sequencer;
  bool discarding = false;  // after head, a broken pipe, a write error or --max-errors
  bool must_order = options.ordered || chain.has_ordered();
  std::vector<iovec> iov;

  auto write_failed = [&](int e, const Output& o) {
    if (e == EPIPE && &o == &out) {
      stop.raise(StopReason::kBrokenPipe);
    } else if (stop.raise(StopReason::kFatalIo) || result.fatal_error.empty()) {
      result.fatal_error = fmt::format("write error on {}: {}", o.name(), std::strerror(e));
    }
    discarding = true;
  };

  auto consume = [&](BatchPtr& b) {
    if (!discarding) {
      bool stop_after = chain.has_ordered() && chain.admit(*b);
      // --max-errors: the run ends right after the N-th failed record, as head ends after its N-th.
      bool too_many_errors = options.max_errors && chain.cut_after_errors(*b, options.max_errors - stats.errors);
      stats.add_batch(*b);
      if (b->out_bytes) {
        iov.clear();
        for (const auto& seg : b->segments)
          iov.push_back({const_cast<char*>((seg.in_input ? b->input.data() : b->out.data()) + seg.begin), seg.len});
        if (int e = out.append(iov.data(), iov.size(), b->out_bytes)) write_failed(e, out);
      }
      if (!b->err.empty()) {
        if (err_on_stderr) progress.clear();
        if (int e = errors.append(b->err)) write_failed(e, err);
      }
      if (stop_after) {
        stop.raise(StopReason::kHead);
        discarding = true;
      }
      if (too_many_errors) {
        stop.raise(StopReason::kMaxErrors);
        discarding = true;
      }
    }
    trim_batch(*b, options.reader.batch_size);
    free_batches.push(b);
  };

  // Error records on stderr must not land in the middle of the progress line: the line is cleared
  // before they are queued and they are flushed before the line is drawn again.
  auto show_progress = [&] {
    if (!options.progress) return;
    if (err_on_stderr)
      if (int e = err.flush()) write_failed(e, err);
    progress.maybe_print(reader.bytes_read(), stats.records_in);
  };

  auto flush_all = [&] {
    if (int e = out.flush()) write_failed(e, out);
    if (int e = err.flush()) write_failed(e, err);
  };

  for (;;) {
    BatchPtr b;
    auto r = done.pop_for(b, std::chrono::milliseconds(100));
    if (r == BoundedQueue<BatchPtr>::PopResult::kClosed) break;
    if (r == BoundedQueue<BatchPtr>::PopResult::kTimeout) {
      show_progress();
      continue;
    }
    if (must_order) {
      std::uint64_t seq = b->seq;
      sequencer.push(seq, std::move(b));
      BatchPtr next;
      while (sequencer.pop(next)) consume(next);
    } else {
      consume(b);
    }
    // Nothing more ready: write out what we have, so a slow stream is not held back.
    if (done.size() == 0) flush_all();
    show_progress();
  }
  flush_all();
  progress.clear();

  reader_thread.join();
  for (auto& t : workers) t.join();
  if (!read_error.empty() && result.fatal_error.empty()) result.fatal_error = read_error;
  // Batches left behind the cut of a head are freed with the queue.

  stats.bytes_in = reader.bytes_read();
  stats.bytes_out = out.bytes_written();
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) == 0) stats.max_rss_kib = static_cast<std::uint64_t>(usage.ru_maxrss);
  result.stop = stop.reason();
  result.error_summary = errors.summary();
  result.hint = errors.hint(stats.records_out);
  stats.stopped_by = stop_reason_name(result.stop);
  return result;
}

}  // namespace ppipe
