// Stage interfaces. Each stage has one mode, as oneTBB's filters do, and implements the one
// interface of its mode; the engine asks mode() and never guesses with dynamic_cast.
//
//  * kParallel (parse, filter, map): process() runs on any worker, one record at a time, and must
//    not mutate shared state; per-worker memory lives in the StageState it asks for.
//  * kOrdered (head, uniq): sees every record that reaches it in input order, on one thread, and may
//    keep state there (OrderedRun, made fresh for each run). Its per-record work that needs the
//    document (uniq's key) runs in parallel first: key() on a worker, admit() in order.
//  * kFinishing (tail; agg and merge next): consumes records into a partial state and, when the
//    stream ends, emits any number of records. Partials are made per batch on the workers and
//    merged in input order, so the result never depends on scheduling (map-reduce, as mold does).
//  * kAsync (exec): waits on the outside world with its own concurrency limit, never holding a
//    CPU worker. Jobs (the surviving records of one batch) are submitted in input order and may
//    complete in any order; the engine puts them back in order.
//
// The engine runs a chain as segments cut at the first finishing or async stage: see
// src/core/chain.h and docs/architecture.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "stages/record.h"

namespace ppipe {

enum class Verdict { kPass, kDrop, kError };
enum class StageMode { kParallel, kOrdered, kFinishing, kAsync };

// Per-worker memory shared by all stages of the chain.
struct WorkerScratch {
  simdjson::dom::parser dom;          // records parsed by `parse`; reused for every record
  std::string number_copy;            // parse's copy of a record with numbers the DOM refuses
  std::string error;                  // message of the current record's error
};

// Private per-worker state of one stage (e.g. an expression evaluator's arena).
class StageState {
 public:
  virtual ~StageState() = default;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  virtual StageMode mode() const = 0;
  // True when the stage reads the parsed document (so `parse` must come before it).
  virtual bool needs_parsed() const { return false; }
  // What its output records are: the records it was given (filter, head, tail, uniq), JSON that
  // it checked or wrote (parse, map, agg, merge), or text from elsewhere that nobody checked (exec:
  // a command's output lines). An --output other than jsonl needs checked JSON (build_plan).
  enum class Output { kAsGiven, kJson, kForeign };
  virtual Output output() const { return Output::kAsGiven; }
  // The batch size the stage works best with when --batch-size is not given (0: the default). A
  // batch is the unit of output order: exec's record mode asks for small ones, so that each
  // record's output comes out soon after its call, not when a megabyte of calls is done.
  virtual std::size_t preferred_batch_size() const { return 0; }
  // The same for the records a batch holds at most (0: as many as fit).
  virtual std::size_t preferred_batch_records() const { return 0; }
  virtual std::unique_ptr<StageState> make_state() const { return nullptr; }
};

class RecordStage : public Stage {
 public:
  StageMode mode() const final { return StageMode::kParallel; }
  // kError: the message is in scratch.error. Never throws.
  virtual Verdict process(Record& rec, WorkerScratch& scratch, StageState* state) const = 0;
  // True when process() may turn one record into several (Record::set_outputs): a map with a jq
  // generator. The engine then ends the workers' segment after this stage.
  virtual bool may_fan_out() const { return false; }
};

// --- ordered

enum class Admit {
  kKeep,      // the record goes on
  kDrop,      // dropped on purpose (counted as dropped by this stage)
  kKeepLast,  // goes on, and the stream ends after it (head's N-th record)
  kStop,      // the stream ends before it: it and everything after are as if never read
  kFail,      // the run cannot go on (failure() says why): ends before it, fatal error (exit 3)
};

class OrderedRun {
 public:
  virtual ~OrderedRun() = default;
  // In input order, one call per record that reaches the stage; `key` is what key() wrote.
  virtual Admit admit(std::string_view key) = 0;
  // True when the stream is to end before the next record, whatever stage it reaches (head 0):
  // asked before each record.
  virtual bool satisfied() const { return false; }
  // After kFail: a one-line message.
  virtual std::string failure() const { return ""; }
};

class OrderedStage : public Stage {
 public:
  StageMode mode() const final { return StageMode::kOrdered; }
  // On a worker, for each record that reaches the stage: write what admit() needs into `key`.
  // kError fails the record (message in scratch.error); kDrop is not allowed.
  virtual Verdict key(Record&, WorkerScratch&, StageState*, std::string&) const { return Verdict::kPass; }
  // The run state: a new one per run, so a plan can run more than once.
  virtual std::unique_ptr<OrderedRun> start() const = 0;
};

// --- finishing

class Partial {
 public:
  virtual ~Partial() = default;
};

// Where an emitted record came from, when it is an input record kept as it was (tail): its source
// name (Record::source, valid for the run), line and byte offset there.
struct Origin {
  std::string_view source;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
};

// Records a finishing stage emits at the end, each a complete JSON text without terminator, with
// its Origin when it has one. Without, a later stage's error names the stage and the record's
// position among its outputs (an aggregate's group has no input line).
class Emit {
 public:
  using Fn = std::function<void(std::string_view record, const Origin* origin)>;
  Emit(Fn fn) : fn_(std::move(fn)) {}  // NOLINT(google-explicit-constructor): built from lambdas
  void operator()(std::string_view record) const { fn_(record, nullptr); }
  void operator()(std::string_view record, const Origin& origin) const { fn_(record, &origin); }

 private:
  Fn fn_;
};

// What the engine tells a finishing stage when the stream ends.
struct FinishContext {
  unsigned threads = 1;  // threads finish() may keep busy (--workers: the CPU workers are idle by then)
  // Where finish() may put the stage's own --stats fields: JSON members, comma-separated, no
  // braces (agg: its groups and their memory). Null: nobody asks.
  std::string* stats_fields = nullptr;
  // Records that went to the error stream before the end of the stream (merge gives no result
  // when a line of its input was lost on the way: a partial that did not parse).
  std::uint64_t errors = 0;
  // --max-errors (0: none): the run ends right after that many record errors in all, also those
  // of the stages after this one as it emits (read by the chain, not by the stage).
  std::uint64_t max_errors = 0;
};

class FinishingStage : public Stage {
 public:
  StageMode mode() const final { return StageMode::kFinishing; }
  virtual std::unique_ptr<Partial> new_partial() const = 0;
  // One record into a partial (on a worker, or on the drain thread). kPass: consumed. kError: the
  // record goes to the error stream (message in scratch.error) and the partial is unchanged.
  virtual Verdict accumulate(Record& rec, WorkerScratch& scratch, StageState* state, Partial& into) const = 0;
  // Non-empty once the run's partial cannot go on (agg past --max-groups, --max-values or a
  // collect past --collect-limit): the engine ends the run there, exit 3 with this message,
  // instead of reading the rest of the input (an endless stream) for nothing. Asked by the
  // writer after each merge or accumulate into the run's partial.
  virtual std::string failure(const Partial& all) const {
    (void)all;
    return {};
  }
  // `later` holds records that come after those of `into` in input order.
  virtual void merge(Partial& into, Partial& later) const = 0;
  // End of stream: emit the result (from this thread, in order). False (message in *error) ends
  // the run with a fatal error.
  virtual bool finish(Partial& all, const Emit& emit, const FinishContext& context, std::string* error) const = 0;
};

// --- async

// The surviving records of one batch, in input order, and what became of them. Texts travel as one
// buffer each way (no allocation per record): a command reads the input as it is and its output is
// taken as it came.
struct AsyncJob {
  std::uint64_t seq = 0;                 // the batch's sequence number (set by the engine)
  // Input (set by the engine): the record texts one after the other, each followed by '\n'; in
  // the batch's own buffer (kept until the job is done) or in `own_input`.
  std::string_view input;
  std::string own_input;
  std::vector<std::size_t> ends;         // input: where each record's '\n' is in `input`
  std::vector<std::uint64_t> lines;      // input: their line numbers (for error records)
  std::vector<std::uint64_t> offsets;    // input: their byte offsets
  std::size_t size() const { return ends.size(); }
  // Record i, without its '\n'.
  std::string_view record(std::size_t i) const {
    std::size_t begin = i == 0 ? 0 : ends[i - 1] + 1;
    return std::string_view(input).substr(begin, ends[i] - begin);
  }
  // Output, filled by the stage: the output records as lines, in order ('\n' after each; the last
  // may lack it). Blank lines are no records and a CR before a '\n' is dropped, as in the input.
  std::string out;
  // Optional, when the stage knows and there are failures: where the output of record i ends in
  // `out`, so that --max-errors can cut the job right after its N-th failed record.
  std::vector<std::size_t> out_ends;
  // Optional, when the stage counted them as it read `out`: its lines, each a record as it is
  // (src/util/plain_lines.h); the engine then writes `out` as it came without a scan of its own.
  std::optional<std::uint64_t> out_plain_lines;
  struct Failure {
    std::size_t index;      // the record's
    std::string message;
  };
  std::vector<Failure> failures;
  std::uint64_t dropped = 0;
  // Set by the engine: the input paused or ended after this job's batch (a stalled pipe, the end of
  // a source), so a stage that gathers consecutive jobs into one call should not wait for the next.
  bool pause = false;

  // Empty again, keeping the buffers' room (the engine uses a job object again for a later batch:
  // fresh megabytes per batch cost page faults) unless one grew past `keep` bytes.
  void clear(std::size_t keep) {
    seq = 0;
    out_plain_lines.reset();
    dropped = 0;
    pause = false;
    input = {};
    for (std::string* s : {&own_input, &out}) {
      if (s->capacity() > keep) std::string().swap(*s);
      else s->clear();
    }
    for (auto* v : {&ends, &out_ends}) {
      if (v->capacity() > keep / 64) std::vector<std::size_t>().swap(*v);
      else v->clear();
    }
    for (auto* v : {&lines, &offsets}) {
      if (v->capacity() > keep / 64) std::vector<std::uint64_t>().swap(*v);
      else v->clear();
    }
    std::vector<Failure>().swap(failures);
  }
};

class AsyncRun {
 public:
  // Waits for every submitted job to complete.
  virtual ~AsyncRun() = default;
  // Called on the engine's drain thread in input order; must return at once. Later, from any
  // thread, the stage calls done(job) exactly once per job.
  virtual void submit(std::unique_ptr<AsyncJob> job) = 0;
  // The run is being interrupted (SIGINT/SIGTERM, a closed output, a fatal error): start no more
  // work, end what runs, and complete every job soon, also those submitted later (their records
  // as failures). On the drain thread, at most once.
  virtual void cancel() {}
  // No job follows: the input ended, or head or --max-errors ended the stream. A stage that keeps a
  // call open for later jobs ends its input now. On the drain thread; may come more than once.
  virtual void end_of_input() {}
  // The engine is done with a job that came back (its output is written) and will clear it: the
  // stage may take back buffers of it to use again (exec: a span's output buffer). Drain thread.
  virtual void reuse(AsyncJob& job) { (void)job; }
  // Extra fields for this stage's object in --stats (`"calls":12,"retries":1`, no braces), asked
  // once every job has come back.
  virtual std::string stats_fields() const { return ""; }
};

// What the engine tells an async stage when a run starts.
struct AsyncContext {
  unsigned workers = 1;         // CPU worker threads (--workers)
  std::size_t batch_size = 1;   // --batch-size: about the input bytes behind one job
  // --max-errors (0: none), in ordered runs. The run is cut right after the N-th failed record in
  // input order, so once N of a stage's own failures lie at or before a record, whatever comes
  // after that record is past the cut: it need not run (exec starts no command for it). Not with
  // --unordered, whose cut is in the order jobs complete (0 then).
  std::uint64_t max_errors = 0;
};

class AsyncStage : public Stage {
 public:
  StageMode mode() const final { return StageMode::kAsync; }
  using Done = std::function<void(std::unique_ptr<AsyncJob>)>;
  virtual std::unique_ptr<AsyncRun> start(Done done, const AsyncContext& context) const = 0;
  // How many jobs a run may hold at once beyond --queue-depth before it completes any (exec's batch
  // mode gathers consecutive jobs into one call): the engine adds that many batches (tokens), so the
  // reader can fill them. Memory grows by that many batches.
  virtual std::size_t extra_jobs(const AsyncContext& context) const {
    (void)context;
    return 0;
  }
};

}  // namespace ppipe
