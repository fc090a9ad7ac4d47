#include "stages/exec/exec_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "src/util/child_groups.h"
#include "src/util/fd_write.h"

#include "src/io/diagnostics.h"
#include "src/util/text_util.h"

namespace ppipe {

namespace {

constexpr std::size_t kStderrTailLines = 5;
// A stderr line is held until its end, up to kStderrLineMax bytes (per running process: memory
// stays bounded; a longer one is passed on in parts of that size). It is written in pieces of
// kStderrPiece bytes, one after the other with nothing of another process between them: each
// piece, prefixed or as JSON with every byte escaped (6 times as long), stays under PIPE_BUF, so
// that one write() to a pipe is never split by ppipe's other writers of stderr.
constexpr std::size_t kStderrLineMax = 64 << 10;
constexpr std::size_t kStderrPiece = 600;
constexpr std::size_t kStderrTailLineMax = 300;  // of each line kept for the error record
constexpr std::size_t kReadChunk = 256 << 10;
// After the command exits with its stdout at its end, its stderr is read this much longer (a
// last line racing the exit), then let go: a process it left running may hold it for ever.
constexpr double kStderrGrace = 0.1;

double clock_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A span's output buffer (megabytes, touched once per call) asks for transparent huge pages: a
// page fault costs microseconds on a VM, and 4 KiB pages make one per 4 KiB of output (most of
// exec's time in batch mode went to them). Best effort: where THP is off, nothing changes.
void back_with_huge_pages(std::string& buffer) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(buffer.data());
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + buffer.capacity()) & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

std::string plural(std::uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

}  // namespace

ExecRun::ExecRun(std::shared_ptr<const ExecConfig> config, std::size_t concurrency, std::size_t span_jobs,
                 std::uint64_t max_errors, AsyncStage::Done done)
    : config_(std::move(config)),
      concurrency_(std::max<std::size_t>(1, concurrency)),
      span_jobs_(std::max<std::size_t>(1, span_jobs)),
      max_errors_(max_errors),
      done_(std::move(done)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      stderr_json_(isatty(STDERR_FILENO) != 1),
      rng_(std::random_device{}()) {
  if (config_->rate > 0) bucket_.emplace(config_->rate, config_->burst);
  thread_ = std::thread([this] { loop(); });
}

ExecRun::~ExecRun() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    cancel_requested_ = true;  // normally nothing is left; if something is, it must not outlive us
  }
  wake();
  thread_.join();
  close_fd(wake_fd_);
}

// The I/O thread leaves poll() (eventfd: wake-ups add up, none is lost).
void ExecRun::wake() {
  std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void ExecRun::submit(std::unique_ptr<AsyncJob> job) {
  auto js = std::make_unique<JobState>();
  js->job = std::move(job);
  {
    std::lock_guard<std::mutex> lock(mu_);
    incoming_.push_back(std::move(js));
  }
  wake();
}

void ExecRun::cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_requested_ = true;
  }
  wake();
}

void ExecRun::end_of_input() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    end_requested_ = true;
  }
  wake();
}

void ExecRun::reuse(AsyncJob& job) {
  // Only buffers a span's output needed (more than a batch's): the small ones stay with the job.
  if (job.out.capacity() < (4u << 20)) return;
  std::lock_guard<std::mutex> lock(mu_);
  // As many as calls may run, and one: a buffer freed here would be allocated again for a later
  // call, fresh pages that the kernel zeroes (with two, 10 of the 64 spans of 1 GiB through cat
  // did). No more memory than the run held at its peak.
  if (spare_out_.size() <= concurrency_) spare_out_.push_back(std::move(job.out));
  job.out = std::string();
}

std::string ExecRun::stats_fields() const {
  return fmt::format("\"calls\":{},\"retries\":{},\"timeouts\":{},\"failures\":{},\"rate_wait_seconds\":{:.3f}",
                     calls_.load(), retries_.load(), timeouts_.load(), failures_.load(), rate_wait_s_.load());
}

void ExecRun::loop() {
  // We keep each stdin pipe's read end (see drain_stdin), so a command that exits without reading
  // its stdin leaves our writes waiting on a full pipe until its call ends, not failing with
  // EPIPE. Should a write to a pipe still raise SIGPIPE, it stays blocked on this thread (and is
  // taken back below), whatever the process does with SIGPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  buffer_.resize(kReadChunk);

  std::vector<pollfd> fds;
  struct Slot {
    Call* call;
    int in = -1, out = -1, err = -1, pid = -1;  // indexes into fds
  };
  std::vector<Slot> slots;
  for (;;) {
    double now = clock_now();
    bool closing = false, cancel = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing = closing_;
      cancel = cancel_requested_;
    }
    if (cancel && !cancelled_) apply_cancel(now);  // not under the lock: it may hand jobs back
    take_new_jobs(now);
    while (!backing_off_.empty() && backing_off_.begin()->first <= now) {
      ready_.push_front(backing_off_.begin()->second);
      backing_off_.erase(backing_off_.begin());
    }
    start_calls(now);
    if (closing && jobs_.empty()) break;

    fds.clear();
    slots.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (Call* c : running_) {
      Slot s{c};
      if (c->child.stdin_fd >= 0 && c->piece < pieces(*c)) {  // not while it waits for its next job
        s.in = static_cast<int>(fds.size());
        fds.push_back({c->child.stdin_fd, POLLOUT, 0});
      }
      if (c->child.stdout_fd >= 0) {
        s.out = static_cast<int>(fds.size());
        fds.push_back({c->child.stdout_fd, POLLIN, 0});
      }
      if (c->child.stderr_fd >= 0) {
        s.err = static_cast<int>(fds.size());
        fds.push_back({c->child.stderr_fd, POLLIN, 0});
      }
      if (!c->reaped && c->child.pid_fd >= 0) {
        s.pid = static_cast<int>(fds.size());
        fds.push_back({c->child.pid_fd, POLLIN, 0});
      }
      slots.push_back(s);
    }
    double wait = poll_timeout(now);
    timespec ts;
    ts.tv_sec = static_cast<time_t>(wait);
    ts.tv_nsec = static_cast<long>((wait - static_cast<double>(ts.tv_sec)) * 1e9);
    int r = ::ppoll(fds.data(), fds.size(), &ts, nullptr);  // to the microsecond: --rate is measured
    if (r < 0 && errno != EINTR) r = 0;
    if (fds[0].revents & POLLIN) {
      std::uint64_t n;
      ssize_t ignored = ::read(wake_fd_, &n, sizeof n);
      (void)ignored;
    }
    now = clock_now();
    for (const Slot& s : slots) {
      Call& c = *s.call;
      pump(c, s.in >= 0 ? fds[s.in].revents : 0, s.out >= 0 ? fds[s.out].revents : 0,
           s.err >= 0 ? fds[s.err].revents : 0, now);
      if (!c.reaped && (c.child.pid_fd < 0 || (s.pid >= 0 && fds[s.pid].revents))) {
        int status = 0;
        pid_t w = ::waitpid(c.child.pid, &status, WNOHANG);
        if (w == c.child.pid) {
          c.reaped = true;
          c.reaped_at = now;
          c.status = status;
          child_group_reaped(c.child.pid);
        }
      }
      // The command has exited and its stdout is at its end, but a process it left running holds
      // its stderr (`sleep 100 >/dev/null & echo hi`): what it has written is the call's, what
      // comes later is not. Waiting for that end held the call for the background's lifetime, and
      // with --timeout failed it as a timeout although it exited 0 at once.
      if (c.reaped && c.child.stdout_fd < 0 && c.child.stderr_fd >= 0 && now >= c.reaped_at + kStderrGrace) {
        read_stderr(c);  // what is there by now (it may end it)
        if (c.child.stderr_fd >= 0) close_stderr(c);
      }
      // Timers. They also run after the process is reaped while something it started still
      // holds its pipes open: the group gets the signals too. Not once the attempt is over (a
      // span's call waiting for its last jobs).
      if (c.reaped && c.child.stdout_fd < 0 && c.child.stderr_fd < 0) continue;
      // A span still open waits for ppipe, not the command: its next batch is held up before
      // exec (a reader of ppipe's output that paused, slow stages ahead). The clock runs again
      // from its next batch, or from when it is sealed. (It ran on: `| (sleep 3; cat)` failed a
      // span of `cat` as a timeout of 1s; found by a bug hunt.)
      if ((!c.sealed || c.sealed_now) && c.deadline > 0 && c.kill_at == 0) c.deadline = now + config_->timeout_s;
      c.sealed_now = false;
      if (c.deadline > 0 && now >= c.deadline && c.kill_at == 0) {
        c.timed_out = true;
        terminate(c, now);
      } else if (c.kill_at > 0 && now >= c.kill_at) {
        if (!c.killed) {
          signal_group(c.child.pid, SIGKILL);
          c.killed = true;
          c.kill_at = now + config_->kill_grace_s;
        } else {
          // Killed, and still someone outside the group holds the pipes: stop waiting for them.
          close_fd(c.child.stdout_fd);
          if (c.child.stderr_fd >= 0) close_stderr(c);
          c.kill_at = 0;
          c.deadline = 0;
        }
      }
    }
    // Calls whose process is reaped and whose pipes are closed are over (a span's, once it is
    // complete: the jobs still to come are its input too, should it be retried).
    std::vector<Call*> still;
    for (Call* c : running_) {
      if (c->reaped && c->child.stdout_fd < 0 && c->child.stderr_fd < 0 && c->sealed) end_attempt(*c, now);
      else still.push_back(c);
    }
    running_.swap(still);
    // Taken back: a SIGPIPE from a write to a command that had stopped reading.
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
    }
  }
}

void ExecRun::take_new_jobs(double now) {
  std::vector<std::unique_ptr<JobState>> fresh;
  bool end = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh.swap(incoming_);
    end = end_requested_;  // after the jobs submitted before it
    end_requested_ = false;
  }
  for (auto& js : fresh) {
    JobState& j = *js;
    const std::size_t n = j.job->size();
    const bool pause = j.job->pause;
    jobs_.push_back(std::move(js));
    if (config_->record_mode) {
      for (std::size_t i = 0; i < n; ++i) {
        auto c = std::make_shared<Call>();
        c->jobs.push_back(&j);
        c->first = i;
        j.calls.push_back(std::move(c));
      }
      j.left = n;
      if (n == 0) {
        finish_job(j);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) {
        Call& c = *j.calls[i];
        if (cancelled_) fail(c, "not run: the run was interrupted");  // may free the job
        else ready_.push_back(&c);
      }
      continue;
    }
    // Batch mode: the job joins the open call's span, or starts a call.
    if (n == 0) {
      // A job with no record counts towards the open span's jobs, as one with records does: the
      // engine holds each such batch in order behind the span's call, which cannot end while
      // the span is open, so a long run of them (a filter that keeps nothing for 40 MiB) used
      // every batch, the reader waited for one for ever, and the run hung (found by a hunt).
      if (open_ && (pause || open_->jobs.size() + ++open_->passed >= span_jobs_)) seal(*open_);
      finish_job(j);  // nothing to run; the engine puts it back in order
      continue;
    }
    if (cancelled_) {
      auto c = std::make_shared<Call>();
      c->jobs.push_back(&j);
      j.calls.push_back(c);
      j.left = 1;
      fail(*c, "not run: the run was interrupted");
      continue;
    }
    // A span is at most --exec-span of input, in whole jobs (one, if a job alone is larger): a
    // batch holds at least one record, so with records longer than --batch-size, span_jobs_
    // jobs (--exec-span / --batch-size) were many times --exec-span (a 64-byte --batch-size and
    // 400-byte records: 100 MiB a call, whose output then passed --exec-max-output).
    const std::uint64_t bytes = j.job->input.size();
    if (open_ && !open_->jobs.empty() && open_->span_bytes + bytes > config_->span) seal(*open_);
    if (!open_) {
      open_ = std::make_shared<Call>();
      open_->sealed = false;
      ready_.push_back(open_.get());
    }
    Call& c = *open_;
    c.jobs.push_back(&j);
    c.span_bytes += bytes;
    j.calls.push_back(open_);
    j.left = 1;
    // --timeout: the time a call has counts from its last job (a span takes its jobs as they come).
    if (c.deadline > 0 && c.kill_at == 0) c.deadline = now + config_->timeout_s;
    if (c.jobs.size() + c.passed >= span_jobs_ || c.span_bytes >= config_->span || pause) seal(c);
  }
  if (end && open_) seal(*open_);
}

std::size_t ExecRun::pieces(const Call& c) const { return config_->record_mode ? 1 : c.jobs.size(); }

// Input piece i of a call: record mode, its record and '\n'; batch mode, a job's input.
std::string_view ExecRun::piece(const Call& c, std::size_t i) const {
  const AsyncJob& job = *c.jobs[config_->record_mode ? 0 : i]->job;
  if (!config_->record_mode) return job.input;
  const std::size_t begin = c.first == 0 ? 0 : job.ends[c.first - 1] + 1;
  return std::string_view(job.input).substr(begin, job.ends[c.first] + 1 - begin);
}

// The span is complete: the call takes no more jobs; its stdin ends once written.
void ExecRun::seal(Call& c) {
  c.sealed = true;
  c.sealed_now = true;  // --timeout counts from here (the timers' next pass)
  if (open_.get() == &c) open_.reset();
  close_input_if_done(c);
}

void ExecRun::close_input_if_done(Call& c) {
  if (c.sealed && c.child.stdin_fd >= 0 && c.piece >= pieces(c)) close_fd(c.child.stdin_fd);
}

void ExecRun::apply_cancel(double now) {
  cancelled_ = true;
  for (Call* c : running_) {
    if (c->reaped && c->child.stdout_fd < 0 && c->child.stderr_fd < 0) continue;  // over: its outcome stands
    c->interrupted = true;
    if (c->kill_at == 0) terminate(*c, now);
  }
  if (open_) seal(*open_);  // the jobs still to come fail as they arrive
  std::vector<Call*> waiting(ready_.begin(), ready_.end());
  std::vector<Call*> retrying;
  for (auto& [t, c] : backing_off_) retrying.push_back(c);
  ready_.clear();
  backing_off_.clear();
  for (Call* c : waiting) fail(*c, "not run: the run was interrupted");
  // A call that ran and failed, interrupted while it waited to retry: what its attempts gave.
  for (Call* c : retrying) {
    ++failures_;  // its last attempt failed, and no other comes
    fail(*c, failure_message(*c, "interrupted while waiting to retry; the last attempt: " + c->last_failure));
  }
  if (rate_waiting_) {
    rate_wait_s_ = rate_wait_s_.load() + (now - rate_wait_since_);
    rate_waiting_ = false;
  }
}

bool ExecRun::past_cut(const Call& c) const {
  if (max_errors_ == 0 || failed_at_.size() < max_errors_ || c.jobs.empty()) return false;
  return std::pair<std::uint64_t, std::size_t>(c.jobs[0]->job->seq, c.first) > failed_at_.top();
}

void ExecRun::start_calls(double now) {
  while (!ready_.empty()) {
    if (past_cut(*ready_.front())) {
      // (Its records are cut away by the engine: they were run, for nothing, up to a job's worth.)
      Call* c = ready_.front();
      ready_.pop_front();
      fail(*c, "not run: past --max-errors");
      continue;
    }
    if (running_.size() >= concurrency_) break;
    if (config_->tmpl && !ready_.front()->expanded) {
      Call* c = ready_.front();
      std::string error;
      if (!config_->tmpl->expand(c->jobs[0]->job->record(c->first), parser_, &c->command_line, &error)) {
        ready_.pop_front();
        fail(*c, error);  // no process, no rate token
        continue;
      }
      c->expanded = true;
    }
    if (bucket_) {
      if (!bucket_->try_take(now)) {
        if (!rate_waiting_) {
          rate_waiting_ = true;
          rate_wait_since_ = now;
        }
        return;
      }
      if (rate_waiting_) {
        rate_wait_s_ = rate_wait_s_.load() + (now - rate_wait_since_);
        rate_waiting_ = false;
      }
    }
    Call* c = ready_.front();
    ready_.pop_front();
    start(*c, now);
  }
}

void ExecRun::start(Call& c, double now) {
  c.piece = 0;
  c.written = 0;
  c.out_len = 0;
  c.out_lines.reset();
  if (config_->record_mode) {
    c.out.clear();
  } else {
    // Batch mode: the output goes to a buffer kept from call to call (one the engine gave back,
    // or the first job's); a filter's output is at most its input, mostly: room for a whole span
    // avoids copies as it grows (only the pages written are touched). Not per record: thousands
    // of calls wait in a job, small outputs each.
    if (c.out.capacity() < (4u << 20)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!spare_out_.empty()) {
        c.out.swap(spare_out_.back());
        spare_out_.pop_back();
      }
    }
    if (c.out.capacity() < (4u << 20)) c.out.swap(c.jobs[0]->job->out);
    // Rounded up, so that a buffer of an earlier span fits the next (no new memory).
    const std::uint64_t span = std::min<std::uint64_t>(config_->span, c.jobs[0]->job->input.size() * span_jobs_);
    const std::uint64_t want = std::min<std::uint64_t>(config_->max_output, (span + span / 8 + (1 << 20)) & ~std::uint64_t{(1 << 20) - 1});
    if (c.out.capacity() < want) {
      c.out.clear();  // nothing to copy
      c.out.reserve(want);
      back_with_huge_pages(c.out);
    }
    // stdout is read straight into the buffer (read_stdout), which sizes it as the output comes:
    // only bytes past an earlier call's output are zeroed (a buffer given back keeps that output's
    // size), and a short input's call touches no more pages than its output needs (the room
    // reserved is for a whole span: with 64-byte batches, a span is 262,144 of them).
  }
  c.err_line.clear();
  c.err_tail.clear();
  c.reaped = false;
  c.reaped_at = 0;
  c.status = 0;
  c.timed_out = c.overflow = c.interrupted = c.killed = false;
  c.kill_at = 0;
  ++c.attempts;
  // A retry is counted when it starts (not when it is scheduled: an interrupt during the backoff
  // counted retries that never ran).
  if (c.attempts > 1) ++retries_;
  std::string error;
  if (config_->tmpl ? !spawn_shell(c.command_line, &c.child, &error) : !spawn_command(config_->plan, &c.child, &error)) {
    c.child = ChildProcess{};
    fail(c, error);  // (no process ran: not in calls nor failures, as a placeholder with no value)
    return;
  }
  ++calls_;
  c.deadline = config_->timeout_s > 0 ? now + config_->timeout_s : 0;
  running_.push_back(&c);
}

void ExecRun::pump(Call& c, short in_events, short out_events, short err_events, double now) {
  if (c.child.stdin_fd >= 0 && in_events) {
    const std::size_t n = pieces(c);
    while (c.piece < n) {
      std::string_view data = piece(c, c.piece).substr(c.written);
      if (data.empty()) {
        ++c.piece;
        c.written = 0;
        continue;
      }
      // vmsplice: the pipe takes references to the pages instead of a copy of the bytes (in
      // batch mode every input byte: a copy of 1 GiB is ~0.1 s of CPU, and the pipe's own pages
      // are allocated and freed again). The bytes stay ours and unchanged until the call is over:
      // a job's input is kept until then, and end_attempt() empties the pipe before it is.
      ssize_t w = -1;
      if (c.splice) {
        struct iovec iov{const_cast<char*>(data.data()), data.size()};
        w = ::vmsplice(c.child.stdin_fd, &iov, 1, SPLICE_F_NONBLOCK);
        if (w < 0 && errno != EINTR && errno != EAGAIN && errno != EPIPE) c.splice = false;  // then write()
      }
      if (!c.splice) w = ::write(c.child.stdin_fd, data.data(), data.size());
      if (w > 0) {
        c.written += static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) break;
      // Any other error (not EPIPE: we hold a read end): the command gets no more of its input;
      // whether it succeeds without it is its business (also for the jobs to come).
      close_fd(c.child.stdin_fd);
      break;
    }
    close_input_if_done(c);
  }
  if (c.child.stdout_fd >= 0 && out_events) read_stdout(c, now);
  if (c.child.stderr_fd >= 0 && err_events) read_stderr(c);
}

void ExecRun::read_stdout(Call& c, double now) {
  // At most a few chunks per wake-up, so that one flood does not starve the other calls.
  for (int round = 0; round < 16; ++round) {
    if (!config_->record_mode) {
      // Batch mode: into the call's buffer, whose first out_len bytes are the output so far (one
      // copy less than through buffer_: the span's output is the bulk of exec's bytes).
      if (c.out_len == c.out.size()) {
        std::uint64_t grown = std::max<std::uint64_t>(std::uint64_t{2} * c.out.size(), kReadChunk);
        // Up to the room reserved for the span first (no copy), then doubling past it.
        if (c.out.size() < c.out.capacity()) grown = std::min<std::uint64_t>(grown, c.out.capacity());
        c.out.resize(std::min<std::uint64_t>(grown, config_->max_output + 1));
      }
      const std::size_t room = std::min(c.out.size() - c.out_len, kReadChunk);
      ssize_t n = room ? ::read(c.child.stdout_fd, c.out.data() + c.out_len, room) : 0;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n > 0) c.out_len += static_cast<std::size_t>(n);
      if (n > 0 && c.out_len <= config_->max_output) {
        c.out_lines.scan(c.out.data(), c.out_len);  // what was just read, still in cache
        continue;
      }
      if (n > 0) output_overflow(c, now);
      else close_fd(c.child.stdout_fd);
      return;
    }
    ssize_t n = ::read(c.child.stdout_fd, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      close_fd(c.child.stdout_fd);
      return;
    }
    if (c.out.size() + static_cast<std::size_t>(n) > config_->max_output) {
      output_overflow(c, now);
      return;
    }
    c.out.append(buffer_.data(), static_cast<std::size_t>(n));
  }
}

// Past --exec-max-output. Memory stays bounded: stop reading (the command gets EPIPE), drop what
// came, and end the call (it fails).
void ExecRun::output_overflow(Call& c, double now) {
  c.overflow = true;
  close_fd(c.child.stdout_fd);
  std::string().swap(c.out);
  c.out_len = 0;
  if (!c.reaped && c.kill_at == 0) terminate(c, now);
}

void ExecRun::read_stderr(Call& c) {
  for (int round = 0; round < 16; ++round) {
    ssize_t n = ::read(c.child.stderr_fd, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      close_stderr(c);
      return;
    }
    std::string_view data(buffer_.data(), static_cast<std::size_t>(n));
    while (!data.empty()) {
      std::size_t nl = data.find('\n');
      std::size_t take = std::min(nl == std::string_view::npos ? data.size() : nl, kStderrLineMax - c.err_line.size());
      c.err_line.append(data.substr(0, take));
      data.remove_prefix(take);
      if (!data.empty() && data.front() == '\n') {
        data.remove_prefix(1);
      } else if (c.err_line.size() < kStderrLineMax) {
        continue;  // the rest of the line comes with a later read
      } else {
        // A line of kStderrLineMax bytes so far: passed on in whole characters; the bytes of one
        // cut at the limit start the next piece (they were two U+FFFD, one in each).
        const std::size_t whole = utf8_safe_prefix(c.err_line);
        if (whole > 0 && whole < c.err_line.size()) {
          std::string cut = c.err_line.substr(whole);
          stderr_line(c, std::string_view(c.err_line).substr(0, whole));
          c.err_line = std::move(cut);
          continue;
        }
      }
      stderr_line(c, c.err_line);
      c.err_line.clear();
    }
  }
}

// The end of the call's stderr: a last line without its '\n' is passed on and kept too (it was
// dropped when the pipe was closed early: a process left behind held it, or the group was killed).
void ExecRun::close_stderr(Call& c) {
  if (!c.err_line.empty()) stderr_line(c, c.err_line);
  c.err_line.clear();
  close_fd(c.child.stderr_fd);
}

// One line of a command's stderr: passed on to ours in one write, so lines of different processes
// never mix, and kept for the error record should the call fail.
void ExecRun::stderr_line(Call& c, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string text = utf8_replace_invalid(line);  // it goes into JSON text
  std::string_view rest = stderr_json_ ? std::string_view(text) : line;
  do {  // (an empty line is one empty piece)
    std::string_view piece = rest.substr(0, kStderrPiece);
    if (stderr_json_ && piece.size() < rest.size()) piece = piece.substr(0, utf8_safe_prefix(piece));
    if (piece.empty()) piece = rest.substr(0, kStderrPiece);  // (no whole character fits: cut anyway)
    rest.remove_prefix(piece.size());
    std::string out = stderr_json_ ? Diagnostics(true).format("stderr", piece, {{"stage", "\"exec\""},
                                                                                  {"pid", std::to_string(c.child.pid)}})
                                   : fmt::format("exec[{}]: {}\n", c.child.pid, piece);
    (void)write_stderr(out);  // (under the lock the writer's error records take too)
  } while (!rest.empty());
  std::string_view kept = std::string_view(text).substr(0, kStderrTailLineMax);
  c.err_tail.emplace_back(kept.substr(0, utf8_safe_prefix(kept)));
  if (c.err_tail.size() > kStderrTailLines) c.err_tail.pop_front();
}

void ExecRun::terminate(Call& c, double now) {
  signal_group(c.child.pid, SIGTERM);
  c.kill_at = now + config_->kill_grace_s;
}

// What the command left unread in its stdin pipe (ours is the only write end, closed by now), read
// and dropped: the pipe may hold pages of our buffers (vmsplice), which must not be read by
// anything (a process the command left behind with its stdin) after we reuse them.
void ExecRun::drain_stdin(Call& c) {
  if (c.child.stdin_read_fd < 0) return;
  // Only what FIONREAD says is there (usually nothing: one ioctl). With no write end left, a
  // read() would not block anyway: it returns 0 once the pipe is empty.
  for (;;) {
    int avail = 0;
    if (::ioctl(c.child.stdin_read_fd, FIONREAD, &avail) != 0 || avail <= 0) break;
    ssize_t n = ::read(c.child.stdin_read_fd, buffer_.data(), std::min(buffer_.size(), static_cast<std::size_t>(avail)));
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  close_fd(c.child.stdin_read_fd);
}

// The process is reaped and its pipes are closed: success, a retry, or a failure.
void ExecRun::end_attempt(Call& c, double now) {
  close_fd(c.child.stdin_fd);
  drain_stdin(c);
  close_fd(c.child.pid_fd);
  const bool ok = !c.timed_out && !c.overflow && !c.interrupted && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0;
  if (c.timed_out) ++timeouts_;
  if (ok) {
    call_done(c);  // its stdout is its output
    return;
  }
  std::string().swap(c.out);
  std::string what;
  if (c.interrupted) what = "interrupted: the run was stopped while the command ran (" + describe_wait_status(c.status) + ")";
  else if (c.overflow) what = fmt::format("its output is larger than --exec-max-output ({})", config_->max_output_text);
  else if (c.timed_out) what = fmt::format("timeout ({})", config_->timeout_text);
  else what = describe_wait_status(c.status);
  const bool retry = !c.interrupted && !c.overflow && !cancelled_ && c.attempts <= config_->retries;
  if (retry) {
    c.last_failure = std::move(what);
    std::uniform_real_distribution<double> u(0, 1);
    double delay = backoff_delay(config_->backoff, c.attempts, u(rng_));
    backing_off_.emplace(now + delay, &c);
    return;
  }
  ++failures_;
  fail(c, failure_message(c, what));
}

std::string ExecRun::failure_message(const Call& c, std::string_view what) {
  std::string message = fmt::format("{} ({})", what, plural(c.attempts, "attempt"));
  if (!c.err_tail.empty()) {
    message += "; stderr: ";
    for (std::size_t i = 0; i < c.err_tail.size(); ++i) message += (i ? " | " : "") + c.err_tail[i];
  }
  return message;
}

void ExecRun::fail(Call& c, std::string message) {
  if (!c.sealed) seal(c);  // a span that never ran: the next job starts another call
  if (max_errors_ && !c.jobs.empty()) {
    failed_at_.emplace(c.jobs[0]->job->seq, c.first);
    if (failed_at_.size() > max_errors_) failed_at_.pop();
  }
  c.failure = std::move(message);
  call_done(c);
}

// A job whose calls are all over goes back to the engine: output lines and failures in input order.
// A span's jobs all go back at once, in order.
void ExecRun::call_done(Call& c) {
  std::vector<JobState*> jobs = c.jobs;  // finish_job may free the call
  for (JobState* j : jobs)
    if (--j->left == 0) finish_job(*j);
}

void ExecRun::finish_job(JobState& j) {
  AsyncJob& job = *j.job;
  if (!config_->record_mode) {
    if (!j.calls.empty()) {
      Call& c = *j.calls[0];
      if (c.failure) {
        for (std::size_t i = 0; i < job.size(); ++i) job.failures.push_back({i, *c.failure});
      } else if (c.jobs.back() == &j) {
        job.out_plain_lines = c.out_lines.finish(c.out.data(), c.out_len);
        c.out.resize(c.out_len);
        job.out = std::move(c.out);  // the span's output, as it came, no copy
      } else {
        job.out.clear();  // it comes with the span's last job
      }
    }
  } else {
    // Whose output is whose, for a --max-errors cut after a failed record.
    job.out_ends.reserve(job.size());
    for (auto& call : j.calls) {
      if (call->failure) {
        job.failures.push_back({call->first, *call->failure});
      } else if (!call->out.empty()) {
        job.out.append(call->out);
        if (job.out.back() != '\n') job.out.push_back('\n');
      }
      job.out_ends.resize(call->first + 1, job.out.size());
    }
  }
  std::unique_ptr<AsyncJob> back = std::move(j.job);
  auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& p) { return p.get() == &j; });
  jobs_.erase(it);  // also frees its calls
  done_(std::move(back));
}

double ExecRun::poll_timeout(double now) const {
  double until = now + 1.0;  // wake up at least once a second
  if (!backing_off_.empty()) until = std::min(until, backing_off_.begin()->first);
  if (bucket_ && !ready_.empty() && running_.size() < concurrency_) {
    // A copy: asking when the next token comes must not change the bucket.
    TokenBucket b = *bucket_;
    until = std::min(until, now + b.wait(now));
  }
  for (const Call* c : running_) {
    // Over, and sealed since the last look (the input ended after its process had exited): the
    // loop ends it right away. Waiting for a descriptor held the run's end up to a second.
    if (c->reaped && c->child.stdout_fd < 0 && c->child.stderr_fd < 0 && c->sealed) return 0.0;
    if (c->reaped && c->child.stdout_fd < 0 && c->child.stderr_fd >= 0) until = std::min(until, c->reaped_at + kStderrGrace);
    if (c->reaped) continue;
    if (c->child.pid_fd < 0) until = std::min(until, now + 0.005);  // no pidfd: look again soon
    if (c->deadline > 0 && c->kill_at == 0) until = std::min(until, c->deadline);
    if (c->kill_at > 0) until = std::min(until, c->kill_at);
  }
  return std::max(0.0, until - now);
}

}  // namespace ppipe
