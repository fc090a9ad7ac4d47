// The async stage slot, with a test-only stage: an AsyncStage that "waits on the outside world" by
// sleeping 50 ms per record on its own threads, at most `concurrency` at once. Behind a CPU-bound
// parallel stage, the engine must (1) keep many records waiting at once, not one per CPU worker,
// (2) let the workers go on with the parallel stage meanwhile, and (3) write the output in input
// order whatever order the jobs complete in.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "src/core/pipeline.h"
#include "stages/registry.h"
#include "tests/unit/run_to_files.h"

using namespace ppipe;
using Clock = std::chrono::steady_clock;

namespace {

double now_ms() {
  static const auto t0 = Clock::now();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Busy for about 2 ms per record, and notes when each record passed.
class BurnStage final : public RecordStage {
 public:
  explicit BurnStage(std::vector<double>* passed_at) : passed_at_(passed_at) {}
  std::string_view name() const override { return "burn"; }
  Verdict process(Record& rec, WorkerScratch&, StageState*) const override {
    auto until = Clock::now() + std::chrono::milliseconds(2);
    volatile std::uint64_t h = 1469598103934665603ull;
    while (Clock::now() < until)
      for (char c : rec.text()) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    std::lock_guard<std::mutex> lock(mu_);
    passed_at_->push_back(now_ms());
    return Verdict::kPass;
  }

 private:
  std::vector<double>* passed_at_;
  mutable std::mutex mu_;
};

struct SleepStats {
  std::chrono::milliseconds submit_delay{0};  // submit() (on the writer's thread) takes this long
  std::vector<std::pair<double, std::size_t>> submitted;  // when each job was submitted, its records
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> jobs{0};
  std::mutex mu;
  std::vector<std::pair<double, double>> windows;  // [start, end) of each record's wait
};

class SleepRun final : public AsyncRun {
 public:
  SleepRun(std::size_t concurrency, std::chrono::milliseconds delay, AsyncStage::Done done, SleepStats* stats)
      : delay_(delay), done_(std::move(done)), stats_(stats) {
    for (std::size_t i = 0; i < concurrency; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~SleepRun() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::unique_ptr<AsyncJob> job) override {
    ++stats_->jobs;
    if (stats_->submit_delay.count() > 0) std::this_thread::sleep_for(stats_->submit_delay);
    {
      std::lock_guard<std::mutex> lock(stats_->mu);
      stats_->submitted.emplace_back(now_ms(), job->size());
    }
    auto* j = job.release();
    std::lock_guard<std::mutex> lock(mu_);
    if (j->size() == 0) {
      finish_locked(j);
      return;
    }
    outs_[j].resize(j->size());
    left_[j] = j->size();
    for (std::size_t i = 0; i < j->size(); ++i) tasks_.push_back({j, i});
    cv_.notify_all();
  }

 private:
  struct Task {
    AsyncJob* job;
    std::size_t index;
  };
  void finish_locked(AsyncJob* j) {
    // done() may be called from any thread; here it is one of ours, outside no engine lock.
    pending_done_.push_back(j);
  }
  void loop() {
    for (;;) {
      Task t;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !tasks_.empty() || !pending_done_.empty(); });
        if (!pending_done_.empty()) {
          AsyncJob* j = pending_done_.front();
          pending_done_.pop_front();
          lock.unlock();
          done_(std::unique_ptr<AsyncJob>(j));
          continue;
        }
        if (tasks_.empty()) return;  // closing, nothing left
        t = tasks_.front();
        tasks_.pop_front();
      }
      int now = ++stats_->running;
      int seen = stats_->max_running.load();
      while (now > seen && !stats_->max_running.compare_exchange_weak(seen, now)) {
      }
      double start = now_ms();
      std::this_thread::sleep_for(delay_);
      double end = now_ms();
      --stats_->running;
      {
        std::lock_guard<std::mutex> lock(stats_->mu);
        stats_->windows.emplace_back(start, end);
      }
      AsyncJob* finished = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        outs_[t.job][t.index] = t.job->record(t.index);
        if (--left_[t.job] == 0) {
          left_.erase(t.job);
          for (const std::string& text : outs_[t.job]) t.job->out.append(text).push_back('\n');
          outs_.erase(t.job);
          finished = t.job;
        }
      }
      if (finished) done_(std::unique_ptr<AsyncJob>(finished));
    }
  }

  std::chrono::milliseconds delay_;
  AsyncStage::Done done_;
  SleepStats* stats_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::deque<AsyncJob*> pending_done_;
  std::map<AsyncJob*, std::size_t> left_;
  std::map<AsyncJob*, std::vector<std::string>> outs_;  // each record's output, until the job is done
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

class SleepStage final : public AsyncStage {
 public:
  SleepStage(std::size_t concurrency, std::chrono::milliseconds delay, SleepStats* stats, std::size_t extra_jobs = 0)
      : concurrency_(concurrency), delay_(delay), stats_(stats), extra_jobs_(extra_jobs) {}
  std::string_view name() const override { return "sleep"; }
  std::unique_ptr<AsyncRun> start(Done done, const AsyncContext&) const override {
    return std::make_unique<SleepRun>(concurrency_, delay_, std::move(done), stats_);
  }
  std::size_t extra_jobs(const AsyncContext&) const override { return extra_jobs_; }

 private:
  std::size_t concurrency_;
  std::chrono::milliseconds delay_;
  SleepStats* stats_;
  std::size_t extra_jobs_;
};

// parse, burn (a CPU stage), then the sleep stage.
std::vector<std::unique_ptr<Stage>> parse_burn_sleep(std::vector<double>* passed_at, SleepStats* stats,
                                                     std::size_t concurrency, std::chrono::milliseconds delay,
                                                     std::size_t extra_jobs) {
  std::vector<std::unique_ptr<Stage>> stages;
  std::string e;
  stages.push_back(make_stage("parse", {}, &e));
  stages.push_back(std::make_unique<BurnStage>(passed_at));
  stages.push_back(std::make_unique<SleepStage>(concurrency, delay, stats, extra_jobs));
  return stages;
}

// 2 workers, batches cut at the last whole record of each read.
EngineOptions two_workers(const std::string& input, std::size_t queue_depth) {
  EngineOptions opt;
  opt.inputs = {input};
  opt.workers = 2;
  opt.queue_depth = queue_depth;
  opt.reader.batch_size = 1;
  opt.reader.max_record_size = 1 << 20;
  return opt;
}

// Runs the chain on opt.inputs: its stdout and error stream.
RunResult run_to_strings(const EngineOptions& opt, const Chain& chain, const std::string& stem, std::string* out,
                         std::string* err) {
  StopToken stop;
  test::FileRun r = test::run_to_files(opt, chain, stem, stop);
  *out = std::move(r.out);
  *err = std::move(r.err);
  return r.result;
}
}  // namespace

TEST_CASE("an async stage waits at its own concurrency, the CPU workers go on, output stays in order",
          "[async][pipeline]") {
  const int kRecords = 256;
  std::string in_path = "/tmp/ppipe_async_test_in_" + std::to_string(getpid());
  std::string expected;
  {
    std::ofstream in(in_path, std::ios::binary);
    for (int i = 0; i < kRecords; ++i) {
      // About 1 KiB a record: the reader fills 4 KiB at a time, so batches hold about 4 records.
      std::string line = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(1000, 'x') + "\"}\n";
      in << line;
      expected += line;
    }
  }
  std::vector<double> passed_at;
  SleepStats stats;
  Chain chain(parse_burn_sleep(&passed_at, &stats, 32, std::chrono::milliseconds(50), 0), {"in.jsonl"}, 1 << 20);
  REQUIRE(chain.async_stage() != nullptr);
  REQUIRE(chain.worker_end() == 2);

  EngineOptions opt = two_workers(in_path, 64);
  std::string out, err;
  double t0 = now_ms();
  RunResult r = run_to_strings(opt, chain, in_path, &out, &err);
  double elapsed = now_ms() - t0;
  std::remove(in_path.c_str());

  // (3) Every record, in input order, nothing on the error stream, counts that add up.
  REQUIRE(out == expected);
  REQUIRE(err.empty());
  REQUIRE(r.stats.records_in == kRecords);
  REQUIRE(r.stats.records_out == kRecords);
  REQUIRE(r.stats.stages[2].counts.in == kRecords);
  REQUIRE(r.stats.stages[2].counts.out == kRecords);
  // (1) Many records waited at once: far more than the 2 CPU workers could hold if the stage ran
  // on them. 256 x 50 ms one at a time would take 12.8 s; 32 at once, 0.4 s.
  INFO("max waiting at once: " << stats.max_running.load() << ", elapsed " << elapsed << " ms");
  REQUIRE(stats.max_running.load() >= 16);
  REQUIRE(elapsed < 6400);
  // (2) While records waited, the workers kept running the parallel stage: some record passed the
  // burn stage inside the wait of an earlier one.
  std::sort(passed_at.begin(), passed_at.end());
  REQUIRE(passed_at.size() == static_cast<std::size_t>(kRecords));
  std::size_t overlapped = 0;
  for (const auto& [start, end] : stats.windows)
    overlapped += std::upper_bound(passed_at.begin(), passed_at.end(), end) -
                  std::upper_bound(passed_at.begin(), passed_at.end(), start);
  auto first_wait = std::min_element(stats.windows.begin(), stats.windows.end())->first;
  INFO("burn-stage passes inside waits: " << overlapped << "; burn from " << passed_at.front() << " to "
                                          << passed_at.back() << " ms, first wait at " << first_wait << " ms");
  REQUIRE(overlapped >= static_cast<std::size_t>(kRecords));
}

// The extra tokens an async stage asks for (exec's batch mode: its calls' spans) are for the jobs
// it holds, not for a reader running ahead of a busy writer: between the reader and the writer's
// in-order point (where jobs are submitted) there are at most --queue-depth batches, as without an
// async stage. Fed through a pipe of one page, to a writer that takes 3 ms per submission: the
// reader is never far ahead of the submissions.
TEST_CASE("an async stage's extra jobs do not let the reader run ahead of the writer", "[async][pipeline]") {
  const int kRecords = 200;
  std::string fifo = "/tmp/ppipe_async_front_" + std::to_string(getpid());
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::vector<double> written_at(kRecords);
  std::string expected;
  for (int i = 0; i < kRecords; ++i)
    expected += "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(1000, 'x') + "\"}\n";
  std::thread feeder([&] {
    int fd = open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    std::size_t at = 0;
    for (int i = 0; i < kRecords; ++i) {
      // One page, again before each record: ppipe's reader makes the pipes it reads 1 MiB (when
      // it opens the input, maybe after our first write). Shrinking fails (EBUSY) while the pipe
      // holds more than the page: then wait until the reader has taken enough, or the records
      // would all go at once into the big pipe (seen: 3 runs in 30 on a 2-core VM).
      while (fcntl(fd, F_SETPIPE_SZ, 4096) < 0 && errno == EBUSY) std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::size_t end = expected.find('\n', at) + 1;
      for (std::size_t p = at; p < end;) {
        ssize_t w = write(fd, expected.data() + p, end - p);
        if (w <= 0) break;
        p += static_cast<std::size_t>(w);
      }
      written_at[i] = now_ms();
      at = end;
    }
    close(fd);
  });
  SleepStats stats;
  stats.submit_delay = std::chrono::milliseconds(3);
  std::vector<std::unique_ptr<Stage>> stages;
  std::string e;
  stages.push_back(make_stage("parse", {}, &e));
  stages.push_back(std::make_unique<SleepStage>(8, std::chrono::milliseconds(1), &stats, 64));
  Chain chain(std::move(stages), {"in.jsonl"}, 1 << 20);

  EngineOptions opt = two_workers(fifo, 2);
  std::string out, err;
  RunResult r = run_to_strings(opt, chain, fifo, &out, &err);
  feeder.join();
  std::remove(fifo.c_str());

  REQUIRE(out == expected);
  REQUIRE(err.empty());
  REQUIRE(r.stats.records_out == kRecords);
  // When record i had gone into the pipe, how many records before it had not been submitted:
  // the pipe's page (4 records), the batches in front (2, each at most a pipe's page), the one
  // being submitted and the one being written. 64 extra tokens let the reader take 64 batches more.
  std::vector<double> submitted_at;  // one entry per record
  for (const auto& [t, n] : stats.submitted) submitted_at.insert(submitted_at.end(), n, t);
  std::sort(submitted_at.begin(), submitted_at.end());
  REQUIRE(submitted_at.size() == static_cast<std::size_t>(kRecords));
  long ahead = 0;
  for (int i = 0; i < kRecords; ++i) {
    long done = std::upper_bound(submitted_at.begin(), submitted_at.end(), written_at[i]) - submitted_at.begin();
    ahead = std::max(ahead, static_cast<long>(i + 1) - done);
  }
  INFO("records written but not submitted at most: " << ahead << "; written from " << written_at.front() << " to "
                                                      << written_at.back() << " ms, submitted from "
                                                      << submitted_at.front() << " to " << submitted_at.back()
                                                      << " ms");
  REQUIRE(ahead <= 24);
}
