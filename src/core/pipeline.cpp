#include "src/core/pipeline.h"

#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <new>
#include <semaphore>
#include <thread>

#include <fmt/format.h>

#include "src/core/bounded_queue.h"
#include "src/core/sequencer.h"
#include "src/io/error_sink.h"
#include "src/io/output.h"
#include "src/util/fd_write.h"
#include "src/util/json_string.h"

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
  if (b.spans.capacity() > keep / 2) std::vector<RecordSpan>().swap(b.spans);
}

// On a terminal one line redrawn ten times a second; elsewhere (a log file) one JSON object a
// second, so that stderr stays JSON Lines.
class ProgressLine {
 public:
  ProgressLine(bool enabled, bool json, std::uint64_t total)
      : enabled_(enabled), json_(json), total_(total), start_(Clock::now()) {}

  // bytes: as read (decompressed); compressed: taken from the files, which is what their total size
  // counts. Both are shown only when they differ.
  // bottleneck: over the last second, or "" (see bottleneck() in stats.h).
  void maybe_print(std::uint64_t bytes, std::uint64_t compressed, std::uint64_t records, const std::string& bottleneck) {
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
      if (compressed != bytes) line += fmt::format(",\"compressed_bytes\":{}", compressed);
      if (total_ > 0 && compressed <= total_) line += fmt::format(",\"percent\":{:.1f}", 100.0 * compressed / total_);
      if (!bottleneck.empty()) {
        line += ",\"bottleneck\":";
        append_json_string(line, bottleneck);
      }
      line += "}\n";
      (void)write_stderr(line);
      return;
    }
    std::string line = fmt::format("\r\033[Kppipe: {} records, {:.0f} rec/s, {:.1f} MB/s", records,
                                   records / s, bytes / s / 1e6);
    if (compressed != bytes) line += fmt::format(" ({:.1f} MB/s compressed)", compressed / s / 1e6);
    if (total_ > 0 && compressed <= total_) {
      double frac = static_cast<double>(compressed) / static_cast<double>(total_);
      double eta = frac > 0 ? s / frac - s : 0;
      line += fmt::format(", {:.1f}%, ETA {:.0f}s", frac * 100, eta);
    }
    // The stage name comes from our own table; still, nothing but printable ASCII reaches the terminal.
    if (!bottleneck.empty() && std::all_of(bottleneck.begin(), bottleneck.end(), [](char c) { return c > ' ' && c < 127; }))
      line += fmt::format(", bottleneck: {}", bottleneck);
    auto lock = lock_stderr();
    (void)write_fully(STDERR_FILENO, line.data(), line.size());  // ("\r\033[K" first: it redraws itself)
    set_stderr_status_shown(true);
  }
  // Clears the line, before error records on stderr and at the end (every other writer of stderr
  // clears it too: see write_stderr).
  void clear() {
    auto lock = lock_stderr();
    clear_stderr_status();
  }

 private:
  bool enabled_;
  bool json_;
  std::uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

AsyncContext async_context(const EngineOptions& options) {
  AsyncContext context;
  context.workers = options.workers;
  context.batch_size = options.reader.batch_size;
  context.max_errors = options.ordered ? options.max_errors : 0;
  return context;
}

std::size_t async_extra_jobs(const EngineOptions& options, const Chain& chain) {
  const AsyncStage* a = chain.async_stage();
  return a ? a->extra_jobs(async_context(options)) : 0;
}

// One run, as passes (mold's main is a list of passes):
//   start_reader ─► start_workers ─► drain (in-order: ordered stages, --max-errors, the writer's
//   segment, async jobs back in order, writing) ─► finish (finishing stages emit) ─► join, stats.
// Every early end goes through the StopToken; this object owns the threads and joins them.
class PipelineRun {
 public:
  PipelineRun(const EngineOptions& options, const Chain& chain, StopToken& stop, int out_fd, int err_fd,
              const std::string& err_name)
      : options_(options),
        chain_(chain),
        stop_(stop),
        tokens_(options.queue_depth + async_extra_jobs(options, chain)),
        free_batches_(tokens_, BoundedQueue<BatchPtr>::Order::kLifo),
        work_(options.queue_depth),
        events_(2 * tokens_ + 1),
        reader_(options.reader, options.inputs, stop),
        out_(out_fd, "stdout"),
        err_(err_fd, err_name),
        errors_(err_, options.human_errors),
        err_on_stderr_(err_fd == STDERR_FILENO),
        progress_(options.progress, options.progress_json, options.total_input_bytes),
        must_order_(options.ordered || chain.needs_order()) {
    if (tokens_ > options.queue_depth)
      front_ = std::make_unique<std::counting_semaphore<>>(static_cast<std::ptrdiff_t>(options.queue_depth));
    if (auto f = make_formatter(options.output)) out_.set_formatter(std::move(f));
    if (options.stats_interval > 0) {
      interval_ns_ = static_cast<std::uint64_t>(options.stats_interval * 1e9);
      wake_every_ = std::min(wake_every_, std::chrono::milliseconds(std::max<std::uint64_t>(1, interval_ns_ / 1'000'000)));
    }
  }

  RunResult run() {
    const auto start = Clock::now();
    RunStats& stats = result_.stats;
    stats.workers = options_.workers;
    stats.queue_depth = options_.queue_depth;
    stats.worker_stages = chain_.worker_end();
    for (std::size_t i = 0; i < chain_.size(); ++i)
      stats.stages.push_back({std::string(chain_.stage(i).name()), chain_.modes()[i], {}, {}});
    start_ns_ = now_ns();
    next_interval_ns_ = start_ns_ + interval_ns_;
    interval_before_ = stats;
    window_before_ = stats;
    window_start_ns_ = start_ns_;
    writer_part_ = chain_.start();
    if (const AsyncStage* a = chain_.async_stage()) {
      async_unordered_ = !options_.ordered;
      for (std::size_t i = chain_.worker_end() + 1; i < chain_.size(); ++i)
        async_unordered_ = async_unordered_ && chain_.modes()[i] == StageMode::kParallel;
      async_ = a->start(
          [this](std::unique_ptr<AsyncJob> job) {
            Event e;
            e.job = std::move(job);
            events_.push(e);
          },
          async_context(options_));
    }

    // `--head 0`: the stream ends before its first record; nothing is read (a stalled pipe is not
    // waited for).
    if (writer_part_->ended_before_start()) stop(StopReason::kHead);
    start_reader();
    start_workers();
    drain();
    if (async_) {
      // Every job has come back: the drain waited for them.
      stats.stages[chain_.worker_end()].extra = async_->stats_fields();
      async_.reset();
    }
    try {
      finish();
    } catch (const std::bad_alloc&) {
      writer_out_of_memory();
    }
    if (int e = out_.finish_format(); e && e != EPIPE) write_failed(e, out_);
    flush_all();
    progress_.clear();

    reader_thread_.join();
    for (auto& t : workers_) t.join();
    if (!read_error_.empty() && result_.fatal_error.empty()) result_.fatal_error = read_error_;
    // Batches left behind the cut of a head are freed with the queue.

    refresh_stats();
    // Only when some input was compressed: a plain file's bytes read ahead of a `head` cut are
    // no compressed bytes (found by a fuzzer of batch sizes).
    stats.compressed_bytes_in = reader_.any_compressed() ? reader_.compressed_bytes_read() : 0;
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    struct rusage usage {};
    if (getrusage(RUSAGE_SELF, &usage) == 0) stats.max_rss_kib = static_cast<std::uint64_t>(usage.ru_maxrss);
    result_.stop = stop_.reason();
    stats.stopped_by = stop_reason_name(result_.stop);
    result_.error_summary = errors_.summary();
    result_.hint = errors_.hint(stats.records_out);
    return std::move(result_);
  }

 private:
  // What the writer waits for: a batch from a worker, an async job that came back, or the news
  // that the last worker is done.
  struct Event {
    BatchPtr batch;
    std::unique_ptr<AsyncJob> job;
    bool workers_done = false;
  };

  void start_reader() {
    reader_thread_ = std::thread([this] {
      // reader_holding_since_: when the reader took the batch it is filling (0: none), so that a
      // reader blocked on a silent pipe shows as busy in the interval lines while it waits.
      auto held = [&] {
        std::uint64_t since = reader_holding_since_.exchange(0, std::memory_order_relaxed);
        reader_ns_.fetch_add(now_ns() - since, std::memory_order_relaxed);
      };
      try {
        read_error_ = reader_.run(
            [&]() -> BatchPtr {
              BatchPtr b;
              // With an async stage, first a place in front of it (see front_).
              if (front_ && !front_->try_acquire()) {
                std::uint64_t t0 = now_ns();
                queue_full_waits_.fetch_add(1, std::memory_order_relaxed);
                front_->acquire();
                reader_wait_ns_.fetch_add(now_ns() - t0, std::memory_order_relaxed);
              }
              if (!free_batches_.try_pop(b) && made_batches_.load(std::memory_order_relaxed) < tokens_) {
                // The batches are made as they are first needed, up to the tokens: an async stage's
                // tokens (a span of small batches per call) can be a million more than a short
                // input ever uses.
                made_batches_.fetch_add(1, std::memory_order_relaxed);
                b = std::make_unique<Batch>();
              }
              if (!b) {
                // Every batch is in use downstream: backpressure.
                std::uint64_t t0 = now_ns();
                queue_full_waits_.fetch_add(1, std::memory_order_relaxed);
                bool got = free_batches_.pop(b);
                reader_wait_ns_.fetch_add(now_ns() - t0, std::memory_order_relaxed);
                if (!got) return nullptr;
              }
              reader_holding_since_.store(now_ns(), std::memory_order_relaxed);
              return b;
            },
            [&](BatchPtr b) {
              held();
              work_.push(b);
            },
            [&](BatchPtr b) {
              held();
              free_batches_.push(b);
              if (front_) front_->release();
            });
      } catch (const std::bad_alloc&) {
        // A record as long as --max-record-size allows needs a buffer that size (and one read
        // ahead): what was read before is processed and written, then the run stops, exit 3.
        read_error_ = "out of memory in the reader: a record's buffer did not fit (a smaller --max-record-size "
                      "bounds it)";
      }
      if (!read_error_.empty()) stop_.raise(StopReason::kFatalIo);
      work_.close();
    });
  }

  void start_workers() {
    workers_left_ = options_.workers;
    for (unsigned w = 0; w < options_.workers; ++w) {
      workers_.emplace_back([this] {
        auto state = chain_.make_worker_state();
        Event e;
        std::uint64_t t0 = now_ns();
        while (work_.pop(e.batch)) {
          std::uint64_t t1 = now_ns();
          workers_idle_ns_.fetch_add(t1 - t0, std::memory_order_relaxed);
          // After a broken pipe nothing more is written: skip the work, keep the tokens moving.
          if (stop_.reason() != StopReason::kBrokenPipe) {
            try {
              chain_.process(*e.batch, *state, options_.max_errors > 0);
            } catch (const std::bad_alloc&) {
              // What the batch made (a map that fans out a thousandfold) did not fit. A stage's
              // own record fails alone (Chain's guard); this is the batch's output or errors:
              // its results are freed and the writer stops the run at it.
              e.batch->reset_results(chain_.size());
              std::string().swap(e.batch->out);
              std::string().swap(e.batch->err);
              e.batch->partial.reset();
              e.batch->out_of_memory = true;
            }
            t0 = now_ns();
            e.batch->busy_ns = t0 - t1;
          } else {
            e.batch->busy_ns = 0;
            e.batch->sampled_ns.clear();
            t0 = t1;
          }
          events_.push(e);
        }
        if (workers_left_.fetch_sub(1) == 1) {
          Event last;
          last.workers_done = true;
          events_.push(last);
        }
      });
    }
  }

  // The writer: batches in sequence order, then (with an async stage) in sequence order again as
  // their jobs come back.
  void drain() {
    bool workers_done = false;
    while (!workers_done || in_flight_ > 0) {
      cancel_async_if_interrupted();
      Event e;
      std::uint64_t t0 = now_ns();
      auto r = events_.pop_for(e, wake_every_);
      writer_wait_ns_ += now_ns() - t0;
      if (r == BoundedQueue<Event>::PopResult::kTimeout) {
        // Waiting (on commands, on the input): a reader of the output that has gone ends the run
        // now, as the failed write it would get would (quietly, exit 0).
        if (!discarding_by_failure_ && out_.reader_gone()) write_failed(EPIPE, out_);
        show_progress();
        continue;
      }
      if (r == BoundedQueue<Event>::PopResult::kClosed) break;
      try {
        handle(e, workers_done);
      } catch (const std::bad_alloc&) {
        writer_out_of_memory();
      }
      // Nothing more ready: write out what we have, so a slow stream is not held back.
      if (events_.size() == 0) flush_all();
      show_progress();
    }
  }

  // One event of the drain: a batch from a worker, a job back from the async stage, or the end.
  void handle(Event& e, bool& workers_done) {
    if (e.workers_done) {
      workers_done = true;
      // Every batch has been consumed (the events are in order): no job follows.
      if (async_) async_->end_of_input();
    } else if (e.job) {
      --in_flight_;
      std::uint64_t seq = e.job->seq;
      auto it = held_.find(seq);
      BatchPtr b = std::move(it->second);
      held_.erase(it);
      async_ns_ += now_ns() - b->submitted_ns;
      in_flight_submitted_ns_ -= b->submitted_ns;
      b->job = std::move(e.job);
      after_async(std::move(b));
    } else if (must_order_) {
      result_.stats.add_worker_time(*e.batch);
      std::uint64_t seq = e.batch->seq;
      in_order_.push(seq, std::move(e.batch));
      BatchPtr next;
      while (in_order_.pop(next)) consume(std::move(next));
    } else {
      result_.stats.add_worker_time(*e.batch);
      consume(std::move(e.batch));
    }
  }

  // What the writer's stages keep (tail's records, agg's groups without speculation, the output
  // format's rows) did not fit: the run stops, nothing more is written or finished (the state
  // the exception left is not trusted), and the exit is 3 with this message.
  void writer_out_of_memory() {
    fail_writer(StopReason::kFatal,
                "out of memory in the writer: what the stages after the workers keep (tail, agg, uniq --uniq-all, "
                "the output format) did not fit in memory");
    if (async_) async_->end_of_input();
  }

  // An interrupt, a closed output or a fatal error: commands still running are of no use (or must
  // not outlive the run), so the async stage ends them and returns its jobs. Not after head or
  // --max-errors: the jobs before the cut are still to be written.
  void cancel_async_if_interrupted() {
    if (!async_ || async_cancelled_) return;
    StopReason why = stop_.reason();
    if (why == StopReason::kSigint || why == StopReason::kSigterm || why == StopReason::kBrokenPipe ||
        why == StopReason::kFatalIo || why == StopReason::kFatal) {
      async_cancelled_ = true;
      async_->cancel();
    }
  }

  // A batch in sequence order: ordered stages, --max-errors, the hand-over to the writer's
  // segment; then it is written, or waits for its async job.
  void consume(BatchPtr b) {
    StopReason stop_after = StopReason::kNone;  // this batch is written, then the stream ends
    if (front_) front_->release();  // in order at the writer: no longer in front of the async stage
    if (b->out_of_memory && !discarding_) {
      // Everything before it is written; it and what follows are not.
      result_.fatal_error = fmt::format(
          "out of memory on the batch that starts at {} line {} ({} bytes): the run holds more than fits (what "
          "tail, agg or uniq --uniq-all keep, or this batch's output: a map that fans out holds it until it is "
          "written, and a smaller --batch-size holds less)",
          chain_.source_name(b->source), b->first_line, b->input.size());
      stop(StopReason::kFatal);
    }
    if (!discarding_) {
      if (writer_part_->admit(*b)) stop_after = StopReason::kHead;
      if (!writer_part_->failure().empty()) {
        result_.fatal_error = writer_part_->failure();
        stop_after = StopReason::kFatal;
      }
      // --max-errors: the run ends right after the N-th failed record, as head ends after its N-th.
      // When the writer's segment runs here on the batch's forwarded records, their failures and
      // the batch's own count together, in input order (take_over cuts the batch).
      const std::uint64_t budget = options_.max_errors ? options_.max_errors - result_.stats.errors : UINT64_MAX;
      const bool fed_here = chain_.feeds_writer();
      if (options_.max_errors && !fed_here && writer_part_->cut_after_errors(*b, budget))
        stop_after = StopReason::kMaxErrors;
      // (Counted after take_over, which may cut the batch: what it cut away was never read.)
      const Chain::Run::Untaken u = writer_part_->take_over(*b, fed_here ? budget : UINT64_MAX);
      // A finishing stage past a memory guard (agg --max-groups): the run ends with this batch.
      if (!writer_part_->failure().empty() && result_.fatal_error.empty()) {
        result_.fatal_error = writer_part_->failure();
        stop_after = StopReason::kFatal;
      }
      result_.stats.add_batch(*b, chain_.worker_end() == chain_.size());
      if (u.lines > 0) result_.stats.forget_forwarded(u.records, u.lines, chain_.worker_end());
      if (u.budget_spent) stop_after = StopReason::kMaxErrors;
      if (b->job) {
        ++in_flight_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
        b->submitted_ns = now_ns();
        in_flight_submitted_ns_ += b->submitted_ns;
        auto job = std::move(b->job);
        held_.emplace(b->seq, std::move(b));
        async_->submit(std::move(job));
        if (stop_after != StopReason::kNone) stop(stop_after);
        return;
      }
    } else {
      b->discard = true;
      b->job.reset();
    }
    if (async_) {
      after_async(std::move(b));
    } else {
      write(*b);
      recycle(std::move(b));
    }
    if (stop_after != StopReason::kNone) stop(stop_after);
  }

  // With an async stage every batch passes here in sequence order (with its job, or none).
  // With --unordered and only parallel stages after it, each as its job comes back.
  void after_async(BatchPtr b) {
    if (async_unordered_) {
      finish_async(std::move(b));
      return;
    }
    std::uint64_t seq = b->seq;
    async_order_.push(seq, std::move(b));
    BatchPtr next;
    while (async_order_.pop(next)) finish_async(std::move(next));
  }

  // One batch back from the async stage: its job's records through the rest of the chain (cut
  // after the last failure --max-errors allows), then written.
  void finish_async(BatchPtr next) {
    if ((async_cut_ || discarding_by_failure_) && !next->discard) {
      // Behind the --max-errors cut, or back after the output failed (a closed pipe: its job
      // was cancelled, nothing more is written): as if never read (consume had counted it).
      result_.stats.remove_batch(*next, false);
      next->discard = true;
    }
    if (!next->discard) {
      // --max-errors in input order: the errors of the batches before this one (finished here in
      // order; the stats count batches when they are consumed, which runs ahead of their jobs),
      // then this batch's own (before the async stage, by line) and its job's.
      worker_error_lines_.clear();
      if (options_.max_errors)
        for (const RecordTrace& t : next->trace)
          if (t.failed()) worker_error_lines_.push_back(t.line);
      std::uint64_t job_errors = 0;
      if (next->job) {
        std::uint64_t budget = UINT64_MAX;
        if (options_.max_errors) budget = options_.max_errors - std::min(options_.max_errors, ordered_errors_);
        const std::uint64_t before = writer_errors();
        const Chain::Run::Cut cut = writer_part_->complete(*next->job, next->source, budget, worker_error_lines_);
        if (cut.cut && !next->trace.empty() && next->trace.back().line > cut.line) {
          // The budget was spent at cut.line: the batch is cut there, its later records (the
          // job's, and those that failed or were dropped before the async stage) and their bytes
          // as if never read.
          result_.stats.remove_batch(*next, false);
          writer_part_->cut_after_line(*next, cut.line);
          result_.stats.add_batch(*next, false);
          while (!worker_error_lines_.empty() && worker_error_lines_.back() > cut.line) worker_error_lines_.pop_back();
        }
        if (cut.cut && cut.records) {
          // Lines of the record at the cut that the job never reached (a map before it fanned
          // the record out): not taken, as head leaves them (the record itself was).
          const AsyncJob& job = *next->job;
          std::uint64_t untaken = 0;
          for (std::size_t i = job.size() - cut.records; i < job.size(); ++i) untaken += job.lines[i] == cut.line;
          if (untaken) result_.stats.forget_forwarded(0, untaken, chain_.worker_end());
        }
        job_errors = writer_errors() - before;
      }
      ordered_errors_ += worker_error_lines_.size() + job_errors;
    }
    write(*next);
    if (next->job) {
      async_->reuse(*next->job);
      next->job->clear(options_.reader.batch_size * 4);
      next->spare_job = std::move(next->job);
    }
    recycle(std::move(next));
    // Also when a stage after it (head) ended the stream: the batches behind are as if never read
    // (whatever -j and --concurrency read ahead), and their commands are of no use.
    if (((options_.max_errors && ordered_errors_ >= options_.max_errors) || writer_part_->stopped()) && !async_cut_) {
      // Jobs still out come after the cut: the commands are of no use any more.
      async_cut_ = true;
      if (!async_cancelled_) {
        async_cancelled_ = true;
        async_->cancel();
      }
    }
  }

  // The batch's own output and errors, then what the writer's segment made of it.
  void write(Batch& b) {
    if (b.discard) return;
    if (b.out_bytes) {
      iov_.clear();
      for (const auto& seg : b.segments)
        iov_.push_back({const_cast<char*>((seg.in_input ? b.input.data() : b.out.data()) + seg.begin), seg.len});
      if (int e = out_.append(iov_.data(), iov_.size(), b.out_bytes)) write_failed(e, out_);
    }
    if (!b.err.empty()) {
      if (!interleave_errors(b)) write_errors(b.err);
    }
    write_writer_part();
  }

  // The batch's own errors (before its async stage) and those complete() made of its job, in the
  // order of the records they came from. False when there is nothing to interleave (or the batch
  // cannot say which error is whose): the caller writes the batch's, then the writer's.
  bool interleave_errors(Batch& b) {
    const auto& marks = writer_part_->err_marks();
    // After a failed write (a closed stdout) the writer's part writes nothing (write_writer_part):
    // the jobs cancelled then are no records' errors.
    if (discarding_by_failure_ || marks.empty() || writer_part_->err_marks_base() != 0 || b.trace.empty() ||
        b.trace.back().err_end != b.err.size() || marks.back().second != writer_part_->err().size())
      return false;
    const std::string& later = writer_part_->err();
    merged_errors_.clear();
    std::size_t m = 0, later_at = 0, own_at = 0;
    for (const RecordTrace& t : b.trace) {
      if (t.err_end == own_at) continue;
      for (; m < marks.size() && marks[m].first < t.line; ++m) {
        merged_errors_.append(later, later_at, marks[m].second - later_at);
        later_at = marks[m].second;
      }
      merged_errors_.append(b.err, own_at, t.err_end - own_at);
      own_at = t.err_end;
    }
    merged_errors_.append(later, later_at, std::string::npos);
    write_errors(merged_errors_);
    writer_part_->err().clear();
    writer_part_->clear_err_marks();
    return true;
  }

  void write_writer_part() {
    std::string& o = writer_part_->out();
    std::string& e = writer_part_->err();
    std::string_view& passed = writer_part_->passed();
    if (!discarding_by_failure_) {
      if (!passed.empty())
        if (int err = out_.append(passed)) write_failed(err, out_);
      if (!o.empty())
        if (int err = out_.append(o)) write_failed(err, out_);
      if (!e.empty()) write_errors(e);
      result_.stats.set_writer_counts(writer_part_->counts(), writer_part_->out_records());
      if (!writer_part_->failure().empty() && result_.fatal_error.empty()) {
        result_.fatal_error = writer_part_->failure();
        stop(StopReason::kFatal);
      }
      if (writer_part_->errors_cut()) {  // (before kHead: the reason is the first)
        stop(StopReason::kMaxErrors);
        stop_.replace(StopReason::kHead, StopReason::kMaxErrors);  // (a head before the finishing stage)
      }
      if (writer_part_->stopped()) stop(StopReason::kHead);
      if (options_.max_errors && result_.stats.errors >= options_.max_errors) stop(StopReason::kMaxErrors);
    }
    passed = {};
    o.clear();
    e.clear();
    writer_part_->clear_err_marks();
  }

  void write_errors(std::string_view records) {
    if (err_on_stderr_) progress_.clear();
    if (int e = errors_.append(records)) write_failed(e, err_);
  }

  // End of stream: finishing stages emit (also after head or an interrupt: what was read is
  // finished), not after a failure or a closed output.
  void finish() {
    StopReason why = stop_.reason();
    if (why == StopReason::kBrokenPipe || why == StopReason::kMaxErrors || why == StopReason::kFatalIo ||
        why == StopReason::kFatal || !read_error_.empty() || discarding_by_failure_)
      return;
    std::string error;
    auto flush = [this] {
      write_writer_part();
      StopReason r = stop_.reason();  // finish runs after head and interrupts too; not past these
      return r != StopReason::kBrokenPipe && r != StopReason::kFatalIo && r != StopReason::kFatal &&
             r != StopReason::kMaxErrors;
    };
    FinishContext context;
    context.threads = options_.workers;
    context.errors = result_.stats.errors;
    context.max_errors = options_.max_errors;
    if (!writer_part_->finish(&error, flush, context)) {
      if (stop_.raise(StopReason::kFatal) || result_.fatal_error.empty()) result_.fatal_error = error;
    }
    write_writer_part();
  }

  void recycle(BatchPtr b) {
    b->discard = false;
    trim_batch(*b, options_.reader.batch_size);
    free_batches_.push(b);
  }

  void stop(StopReason why) {
    stop_.raise(why);
    discarding_ = true;
    if (async_) async_->end_of_input();  // later batches are not submitted
  }

  void write_failed(int e, const Output& o) {
    // A reader that went away, of the output or of the error stream (`2>&1 | head -1`,
    // `--errors /dev/stdout | head`): the run stops quietly, as a pipe's writer does (exit 1 when
    // there were record errors, as always).
    if (e == EPIPE && (&o == &out_ || &o == &err_)) fail_writer(StopReason::kBrokenPipe, "");
    else fail_writer(StopReason::kFatalIo, fmt::format("write error on {}: {}", o.name(), std::strerror(e)));
  }

  // The writer cannot go on (a failed write, no memory): the run stops for `why`, its message is
  // the first failure's (none for a closed stdout), and nothing more is written.
  void fail_writer(StopReason why, std::string message) {
    if ((stop_.raise(why) || result_.fatal_error.empty()) && !message.empty()) result_.fatal_error = std::move(message);
    discarding_ = true;
    discarding_by_failure_ = true;
  }

  // Error records on stderr must not land in the middle of the progress line: the line is cleared
  // before they are queued and they are flushed before the line is drawn again.
  void show_progress() {
    if (interval_ns_) write_interval_line();
    if (!options_.progress) return;
    if (err_on_stderr_)
      if (int e = err_.flush()) write_failed(e, err_);
    // The bottleneck over the last half second: what is slow now, not since the start.
    std::uint64_t now = now_ns();
    if (now - window_start_ns_ >= 500'000'000) {
      refresh_stats();
      window_bottleneck_ = bottleneck(window_before_, result_.stats);
      window_before_ = result_.stats;
      window_start_ns_ = now;
    }
    progress_.maybe_print(reader_.bytes_read(), reader_.compressed_bytes_read(), result_.stats.records_in,
                          window_bottleneck_);
  }

  // --stats-interval: one JSON line every interval, to the stats destination.
  void write_interval_line() {
    std::uint64_t now = now_ns();
    if (now < next_interval_ns_) return;
    // The next one an interval after this one (not after the one that was due): a writer that was
    // busy for several intervals writes one line, not a burst.
    next_interval_ns_ = now + interval_ns_;
    refresh_stats();
    QueueState q;
    q.depth = tokens_;
    const std::size_t made = made_batches_.load(std::memory_order_relaxed);
    q.in_use = made - std::min(made, free_batches_.size());
    q.to_workers = work_.size();
    std::string line = interval_json(interval_before_, result_.stats, q);
    line.push_back('\n');
    interval_before_ = result_.stats;
    if (options_.stats_fd == STDERR_FILENO) {
      progress_.clear();
      if (err_on_stderr_)
        if (int e = err_.flush()) write_failed(e, err_);
    }
    // Stats are a side channel: when they cannot be written (a full disk, a reader of a pipe of
    // their own that went away) they stop, the run goes on: its output is not cut short.
    const int e = options_.stats_fd == STDERR_FILENO ? write_stderr(line)  // (under the lock exec's lines take)
                                                      : write_fully(options_.stats_fd, line.data(), line.size());
    if (e != 0) interval_ns_ = 0;
  }

  // The figures other threads keep, and the time so far, into result_.stats (writer thread).
  void refresh_stats() {
    RunStats& s = result_.stats;
    std::uint64_t now = now_ns();
    s.seconds = static_cast<double>(now - start_ns_) / 1e9;
    s.bytes_read = reader_.bytes_read();
    s.bytes_out = out_.bytes_written();
    const auto& busy = writer_part_->busy_ns();
    for (std::size_t i = 0; i < s.stages.size() && i < busy.size(); ++i) s.stages[i].writer_ns = busy[i];
    const auto& fields = writer_part_->stats_fields();
    for (std::size_t i = 0; i < s.stages.size() && i < fields.size(); ++i)
      if (!fields[i].empty()) s.stages[i].extra = fields[i];
    // The async stage's time: its jobs back, and those still out so far (without them, --progress
    // and --stats-interval named no bottleneck, or a stale one, while slow commands ran).
    const std::uint64_t out_ns = in_flight_ * now - in_flight_submitted_ns_;
    if (async_ns_ || in_flight_) s.stages[chain_.worker_end()].writer_ns += async_ns_ + out_ns;
    EngineTimes& e = s.engine;
    e.reader_ns = reader_ns_.load(std::memory_order_relaxed);
    if (std::uint64_t since = reader_holding_since_.load(std::memory_order_relaxed); since && since < now)
      e.reader_ns += now - since;
    e.reader_input_ns = reader_.input_ns();
    e.reader_wait_ns = reader_wait_ns_.load(std::memory_order_relaxed);
    e.queue_full_waits = queue_full_waits_.load(std::memory_order_relaxed);
    e.workers_idle_ns = workers_idle_ns_.load(std::memory_order_relaxed);
    e.writer_wait_ns = writer_wait_ns_;
    e.write_ns = out_.write_ns() + err_.write_ns();
    e.async_max_in_flight = max_in_flight_;
  }

  void flush_all() {
    if (int e = out_.flush()) write_failed(e, out_);
    if (int e = err_.flush()) write_failed(e, err_);
  }

  const EngineOptions& options_;
  const Chain& chain_;
  StopToken& stop_;
  RunResult result_;
  const std::size_t tokens_;  // --queue-depth, and the jobs an async stage may gather (extra_jobs)
  BoundedQueue<BatchPtr> free_batches_;  // the tokens
  std::atomic<std::size_t> made_batches_{0};  // batches made so far (by the reader), at most tokens_
  std::vector<std::uint64_t> worker_error_lines_;  // finish_async's, kept for its room
  std::string merged_errors_;  // interleave_errors', kept for its room
  std::uint64_t ordered_errors_ = 0;  // finish_async: errors of the batches finished so far
  // The writer's part's errors so far (its stages after the async one).
  std::uint64_t writer_errors() const {
    std::uint64_t n = 0;
    for (const StageCounts& c : writer_part_->counts()) n += c.errors;
    return n;
  }
  // With an async stage: at most --queue-depth batches between the reader and the writer's
  // in-order point (consume()), as without one. The extra tokens are for the jobs the async stage
  // holds, and are not used by a reader running ahead of slow workers: every batch taken is
  // memory touched (fresh pages cost microseconds each on a VM; exec's batch mode gathered 68 MiB
  // of input in flight where its calls held 20).
  std::unique_ptr<std::counting_semaphore<>> front_;
  BoundedQueue<BatchPtr> work_;
  BoundedQueue<Event> events_;
  Reader reader_;
  std::string read_error_;
  std::thread reader_thread_;
  std::vector<std::thread> workers_;
  std::atomic<unsigned> workers_left_{0};
  Output out_;
  Output err_;
  ErrorSink errors_;
  const bool err_on_stderr_;  // shares the terminal with --progress
  ProgressLine progress_;
  const bool must_order_;
  std::unique_ptr<Chain::Run> writer_part_;
  std::unique_ptr<AsyncRun> async_;
  Sequencer<BatchPtr> in_order_;
  Sequencer<BatchPtr> async_order_;
  std::map<std::uint64_t, BatchPtr> held_;  // batches whose async job is out
  std::size_t in_flight_ = 0;
  std::uint64_t in_flight_submitted_ns_ = 0;  // the sum of the in-flight jobs' submitted_ns
  bool async_cancelled_ = false;
  bool async_cut_ = false;
  bool async_unordered_ = false;  // --unordered, nothing but parallel stages after the async one  // --max-errors was reached in an async job: later jobs are discarded
  bool discarding_ = false;  // after head, a broken pipe, a write error or --max-errors
  bool discarding_by_failure_ = false;
  std::vector<iovec> iov_;

  // Timings (see EngineTimes); the atomics are kept by the reader and the workers.
  std::atomic<std::uint64_t> reader_ns_{0}, reader_wait_ns_{0}, queue_full_waits_{0}, workers_idle_ns_{0};
  std::atomic<std::uint64_t> reader_holding_since_{0};
  std::uint64_t writer_wait_ns_ = 0, async_ns_ = 0;
  std::size_t max_in_flight_ = 0;
  std::uint64_t start_ns_ = 0;
  // --stats-interval: the next line is due at next_interval_ns_; rates are against interval_before_.
  std::uint64_t interval_ns_ = 0, next_interval_ns_ = 0;
  RunStats interval_before_;
  // --progress's bottleneck, over a window of about a second.
  RunStats window_before_;
  std::uint64_t window_start_ns_ = 0;
  std::string window_bottleneck_;
  // How long the writer waits for an event before it looks at the clock (progress, intervals).
  std::chrono::milliseconds wake_every_{100};
};

}  // namespace

RunResult run_pipeline(const EngineOptions& options, const Chain& chain, StopToken& stop, int out_fd, int err_fd,
                       const std::string& err_name) {
  return PipelineRun(options, chain, stop, out_fd, err_fd, err_name).run();
}

}  // namespace ppipe
