// exec's run: the processes of one ppipe run, driven by one I/O thread with poll().
//
//   submit(job) ──► calls (batch mode: one per job; record mode: one per record)
//                    │ ready, in input order (retries first, after their backoff)
//                    ▼ a free slot (--concurrency) and a rate token (--rate, --burst)
//                 spawn /bin/sh -c CMD ──► write stdin, read stdout (capped) and stderr (passed on
//                    │                      line by line, prefixed), reap; --timeout: TERM, KILL
//                    ▼ all calls of a job finished
//                 done(job): output lines and failures in input order
//
// The engine bounds the jobs in flight (its tokens), so a slow command slows the reader and never
// a CPU worker; within a job, record mode runs up to --concurrency records at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

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
  ExecRun(std::shared_ptr<const ExecConfig> config, std::size_t concurrency, AsyncStage::Done done);
  ~ExecRun() override;
  void submit(std::unique_ptr<AsyncJob> job) override;
  void cancel() override;
  std::string stats_fields() const override;

 private:
  struct JobState;
  struct Call {
    JobState* job = nullptr;
    std::size_t index = 0;  // among the job's calls
    std::size_t first = 0;  // its records: [first, first + count) of the job's
    std::size_t count = 0;
    unsigned attempts = 0;
    // The current attempt.
    ChildProcess child;
    bool reaped = false;
    int status = 0;
    std::string_view input;  // into the job's input
    std::size_t written = 0;
    std::string out;                    // stdout; on success, the call's output lines
    std::string err_line;               // stderr since its last line end
    std::deque<std::string> err_tail;   // its last lines, for the error record
    double deadline = 0;                // --timeout, or 0
    double kill_at = 0;                 // after TERM: KILL at this time, or 0
    bool timed_out = false;
    bool overflow = false;
    bool interrupted = false;
    bool killed = false;                // KILL sent (kill_at is then when we stop waiting for the pipes)
    std::optional<std::string> failure;  // the outcome, when it failed
  };
  struct JobState {
    std::unique_ptr<AsyncJob> job;
    std::vector<std::unique_ptr<Call>> calls;
    std::size_t left = 0;
  };

  void loop();
  void take_new_jobs();
  void apply_cancel(double now);
  void start_calls(double now);
  void start(Call& c, double now);
  void pump(Call& c, short in_events, short out_events, short err_events, double now);
  void read_stdout(Call& c, double now);
  void read_stderr(Call& c);
  void stderr_line(Call& c, std::string_view line);
  void end_attempt(Call& c, double now);
  void fail(Call& c, std::string message);
  void call_done(Call& c);
  void finish_job(JobState& j);
  void terminate(Call& c, double now);
  double poll_timeout(double now) const;  // seconds

  std::shared_ptr<const ExecConfig> config_;
  const std::size_t concurrency_;
  AsyncStage::Done done_;
  int wake_fd_ = -1;
  const bool stderr_json_;  // ppipe's stderr is not a terminal: forwarded lines as JSON objects

  std::mutex mu_;
  std::vector<std::unique_ptr<JobState>> incoming_;
  bool cancel_requested_ = false;
  bool closing_ = false;

  // The I/O thread's own.
  std::vector<std::unique_ptr<JobState>> jobs_;
  std::deque<Call*> ready_;
  std::multimap<double, Call*> backing_off_;
  std::vector<Call*> running_;
  std::optional<TokenBucket> bucket_;
  bool cancelled_ = false;
  bool rate_waiting_ = false;
  double rate_wait_since_ = 0;
  std::mt19937_64 rng_;
  simdjson::dom::parser parser_;
  std::string buffer_;

  std::atomic<std::uint64_t> calls_{0}, retries_{0}, timeouts_{0}, failures_{0};
  std::atomic<double> rate_wait_s_{0};

  std::thread thread_;
};

}  // namespace ppipe
