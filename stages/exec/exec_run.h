// exec's run: the processes of one ppipe run, driven by one I/O thread with poll().
//
//   submit(job) ──► calls (batch mode: one per span of consecutive jobs, see below; record mode:
//                    │ one per record)
//                    │ ready, in input order (retries first, after their backoff)
//                    ▼ a free slot (--concurrency) and a rate token (--rate, --burst)
//                 spawn /bin/sh -c CMD ──► write stdin, read stdout (capped) and stderr (passed on
//                    │                      line by line, prefixed), reap; --timeout: TERM, KILL
//                    ▼ all calls of a job finished
//                 done(job): output lines and failures in input order
//
// The engine bounds the jobs in flight (its tokens), so a slow command slows the reader and never
// a CPU worker; within a job, record mode runs up to --concurrency records at once.
//
// Batch mode: a call takes consecutive jobs, its *span*, up to --exec-span of input (span_jobs_
// jobs): starting a process costs milliseconds, so a 1 GiB input makes tens of calls, not a
// thousand. The process starts with the first job; later ones are written to its stdin as they
// come. The span ends (stdin is closed once written) when it is full, after a job whose input
// paused or ended (AsyncJob::pause: slow input is not held back), or at end_of_input(); so it is
// the same for every schedule, and the output is too. The call's output goes back with the last
// job of its span; a failure sends every record of the span to the error stream. The engine adds
// --concurrency spans of batches to its tokens (extra_jobs), so that many calls can fill theirs.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "src/util/plain_lines.h"
#include "stages/exec/process.h"
#include "stages/exec/rate.h"
#include "stages/exec/template.h"
#include "stages/stage.h"

namespace ppipe {

struct ExecConfig {
  std::string command;
  SpawnPlan plan;  // how `command` starts (without placeholders)
  bool record_mode = false;
  std::optional<CommandTemplate> tmpl;  // record mode with placeholders
  std::size_t concurrency = 0;          // 0: 2 x workers
  std::uint64_t span = 16 << 20;        // batch mode: input bytes per call (about; whole batches)
  double timeout_s = 0;                 // 0: none
  double kill_grace_s = 1;              // after TERM, before KILL
  unsigned retries = 0;
  Backoff backoff;
  double rate = 0;  // starts per second; 0: no limit
  double burst = 1;
  std::uint64_t max_output = 64 << 20;
  std::string max_output_text = "64M";  // as given, for messages
  std::string timeout_text;
};

class ExecRun final : public AsyncRun {
 public:
  // span_jobs: batch mode, the most jobs one call takes (see above).
  ExecRun(std::shared_ptr<const ExecConfig> config, std::size_t concurrency, std::size_t span_jobs,
          std::uint64_t max_errors,
          AsyncStage::Done done);
  ~ExecRun() override;
  void submit(std::unique_ptr<AsyncJob> job) override;
  void cancel() override;
  void end_of_input() override;
  void reuse(AsyncJob& job) override;
  std::string stats_fields() const override;

 private:
  struct JobState;
  struct Call {
    // Record mode: one job, its record `first`. Batch mode: the jobs of its span, in order.
    std::vector<JobState*> jobs;
    std::size_t first = 0;
    bool sealed = true;  // takes no more jobs (batch mode: the span is complete)
    bool sealed_now = false;  // sealed since the timers' last pass: its --timeout starts again
    std::uint64_t span_bytes = 0;  // batch mode: the input of its jobs so far
    std::size_t passed = 0;        // batch mode: jobs with no record that came while it was open
    unsigned attempts = 0;
    // Record mode with a template: the command line, made before the call takes a rate token (a
    // record whose placeholder fails starts nothing and takes none) and kept for its retries.
    std::string command_line;
    bool expanded = false;
    // The current attempt.
    ChildProcess child;
    bool reaped = false;
    double reaped_at = 0;     // when: its stderr is read kStderrGrace longer, then let go
    int status = 0;
    std::size_t piece = 0;    // the input piece being written (batch mode: a job's input)
    std::size_t written = 0;  // of that piece
    bool splice = true;       // stdin is written with vmsplice (false: it failed once, write())
    std::string out;                    // stdout; on success, the call's output lines
    std::size_t out_len = 0;            // batch mode: out's first out_len bytes (it is sized to its room)
    PlainLines out_lines;               // batch mode: out's lines, counted as they are read (in cache)
    std::string err_line;               // stderr since its last line end
    std::deque<std::string> err_tail;   // its last lines, for the error record
    double deadline = 0;                // --timeout, or 0
    double kill_at = 0;                 // after TERM: KILL at this time, or 0
    bool timed_out = false;
    bool overflow = false;
    bool interrupted = false;
    bool killed = false;                // KILL sent (kill_at is then when we stop waiting for the pipes)
    std::optional<std::string> failure;  // the outcome, when it failed
    std::string last_failure;            // why its last attempt failed (while it waits to retry)
  };
  struct JobState {
    std::unique_ptr<AsyncJob> job;
    std::vector<std::shared_ptr<Call>> calls;  // batch mode: one, shared by the jobs of its span
    std::size_t left = 0;
  };

  void wake();
  void loop();
  void take_new_jobs(double now);
  void apply_cancel(double now);
  void start_calls(double now);
  void start(Call& c, double now);
  std::size_t pieces(const Call& c) const;
  std::string_view piece(const Call& c, std::size_t i) const;
  void seal(Call& c);
  void close_input_if_done(Call& c);
  void pump(Call& c, short in_events, short out_events, short err_events, double now);
  void read_stdout(Call& c, double now);
  void output_overflow(Call& c, double now);
  void read_stderr(Call& c);
  void stderr_line(Call& c, std::string_view line);
  void close_stderr(Call& c);
  void drain_stdin(Call& c);
  void end_attempt(Call& c, double now);
  void fail(Call& c, std::string message);
  // "WHAT (N attempts); stderr: ..." for an error record.
  static std::string failure_message(const Call& c, std::string_view what);
  void call_done(Call& c);
  void finish_job(JobState& j);
  void terminate(Call& c, double now);
  double poll_timeout(double now) const;  // seconds

  std::shared_ptr<const ExecConfig> config_;
  const std::size_t concurrency_;
  const std::size_t span_jobs_;
  const std::uint64_t max_errors_;  // --max-errors (0: none)
  AsyncStage::Done done_;
  int wake_fd_ = -1;
  const bool stderr_json_;  // ppipe's stderr is not a terminal: forwarded lines as JSON objects

  std::mutex mu_;
  std::vector<std::unique_ptr<JobState>> incoming_;
  bool cancel_requested_ = false;
  bool end_requested_ = false;
  std::vector<std::string> spare_out_;  // output buffers of spans the engine gave back
  bool closing_ = false;

  // The I/O thread's own.
  std::vector<std::unique_ptr<JobState>> jobs_;
  std::shared_ptr<Call> open_;  // batch mode: the call that takes the next job, until sealed
  std::deque<Call*> ready_;
  std::multimap<double, Call*> backing_off_;
  std::vector<Call*> running_;
  std::optional<TokenBucket> bucket_;
  bool cancelled_ = false;
  bool rate_waiting_ = false;
  double rate_wait_since_ = 0;
  std::mt19937_64 rng_;
  // --max-errors: the positions (job seq, record index) of the max_errors_ earliest failed calls,
  // the latest of them on top. Once there are that many, a call after the top is past the run's
  // cut (which the engine makes right after the N-th failed record): it is not started.
  std::priority_queue<std::pair<std::uint64_t, std::size_t>> failed_at_;
  bool past_cut(const Call& c) const;
  simdjson::dom::parser parser_;
  std::string buffer_;

  std::atomic<std::uint64_t> calls_{0}, retries_{0}, timeouts_{0}, failures_{0};
  std::atomic<double> rate_wait_s_{0};

  std::thread thread_;
};

}  // namespace ppipe
