// Chain: the configured stages, cut into segments, and how records run through them.
//
//   stages:  parse  filter  uniq   map  | tail    filter        (| = end of the worker segment)
//   where:   ───── workers, per batch ─────  writer thread, in input order ──►
//
// * The worker segment is every stage before the first finishing or async stage. Workers run it
//   on each batch (process()): parallel stages per record; an ordered stage's key() (the part of
//   it that may read the document). Records that pass are appended to batch.out (or, when the
//   segment ends at a finishing stage that nothing ordered precedes, taken into the batch's own
//   partial: map-reduce, the partials are merged in input order); failures are serialized into
//   batch.err, both in input order.
// * The writer (Chain::Run, one per run) then sees each batch in sequence order: ordered stages
//   decide per record (admit(): keep, drop, keep and stop, stop before), --max-errors cuts after
//   the N-th failure; a record an ordered stage drops or a cut removes takes its later effects
//   (output, errors, counts) with it, as if it had never reached them. So output, error stream and
//   stats are identical for every --workers and --batch-size.
// * The rest of the chain runs on the writer thread (Run::feed): records the worker segment
//   forwarded, a finished stage's records at the end of the stream (Run::finish), and an async
//   stage's completed jobs, which the engine puts back in order.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/core/batch.h"
#include "src/io/formats.h"
#include "stages/stage.h"

namespace ppipe {

class Chain {
 public:
  struct WorkerState {
    WorkerScratch scratch;
    std::vector<std::unique_ptr<StageState>> states;  // one per stage (may be null)
    std::string key;                                  // an ordered stage's key, before it is kept
    std::string decoded;                              // a record of another input format, as JSON
  };

  Chain(std::vector<std::unique_ptr<Stage>> stages, std::vector<std::string> source_names,
        std::uint64_t max_record_size);

  // Records of another input format than JSON Lines are decoded to JSON text before the first stage
  // (src/io/formats.h); infer: tsv fields that are JSON numbers become numbers.
  void set_input_format(InputFormat format, bool infer, char delimiter = ',') {
    input_format_ = format;
    infer_ = infer;
    delimiter_ = delimiter;
  }
  std::size_t size() const { return stages_.size(); }
  const Stage& stage(std::size_t i) const { return *stages_[i]; }
  const std::string& source_name(std::uint32_t source) const { return source_names_[source]; }
  // Stages [0, worker_end()) run on the workers.
  std::size_t worker_end() const { return worker_end_; }
  // Any stage that is not parallel: batches must reach the writer in input order.
  bool needs_order() const { return needs_order_; }
  // The async stage that ends the worker segment, or null.
  const AsyncStage* async_stage() const;
  // The worker segment hands its records to stages that run on the writer thread, one by one
  // (Run::take_over feeds them): not an async stage, not a finishing stage's partials merged.
  bool feeds_writer() const {
    return worker_end_ < stages_.size() && modes_[worker_end_] != StageMode::kAsync && !speculate_finishing_;
  }

  std::unique_ptr<WorkerState> make_worker_state() const;
  // Any worker thread. `trace_all`: keep the per-record trace even when the chain itself does not
  // need it (the engine asks for it with --max-errors, which cuts after the N-th failure).
  void process(Batch& b, WorkerState& ws, bool trace_all = false) const;

  class Run;
  // The writer's state for one run (ordered stages' state, partials, counts of the writer's part).
  std::unique_ptr<Run> start() const;

  const std::vector<StageMode>& modes() const { return modes_; }
  void add_error(std::string& err, std::string_view source, std::string_view stage, std::string_view message,
                 std::string_view text, std::uint64_t line, std::uint64_t offset, std::uint64_t full_size) const;

 private:
  friend class Run;
  // timed: the record's time in each stage is added to b.sampled_ns (see kTimedEvery).
  void run_record(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line, std::uint64_t offset,
                  bool trace, bool timed) const;
  // The record in ws.decoded as JSON; false after writing its error record.
  bool decode(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line, std::uint64_t offset) const;
  void add_oversized_error(Batch& b, std::string_view text, std::uint64_t size, std::uint64_t line,
                           std::uint64_t offset) const;

  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<StageMode> modes_;
  std::vector<std::string> source_names_;
  std::uint64_t max_record_size_;
  InputFormat input_format_ = InputFormat::kJsonLines;
  bool infer_ = true;
  char delimiter_ = ',';
  std::size_t worker_end_ = 0;
  bool needs_order_ = false;
  std::vector<bool> may_fan_out_;  // per stage: a parallel stage that may make several records of one
  bool fans_out_ = false;  // the worker segment ends after a stage that may make several records of one
  bool speculate_finishing_ = false;  // the worker segment ends at a finishing stage, nothing ordered before it
  bool tracing_ = false;  // the chain needs the per-record trace (a stage that is not parallel)
};

// The writer thread's part of a run. All calls on one thread, batches in sequence order.
class Chain::Run {
 public:
  explicit Run(const Chain& chain);
  ~Run();

  // Ordered stages of the worker segment decide on each record of the batch, in order. Returns true
  // when the stream must stop after this batch (head is satisfied).
  bool admit(Batch& b);
  // An ordered stage of the worker segment ends the stream before any record (head 0): the run
  // need not read anything.
  bool ended_before_start() const;
  // --max-errors: if the batch holds n or more failed records, cuts it right after the n-th and
  // returns true.
  bool cut_after_errors(Batch& b, std::uint64_t n);
  // Cuts the batch after its records on lines up to `line` (an async job's --max-errors cut fell
  // before some of them): the rest, their output and errors, as if never read.
  void cut_after_line(Batch& b, std::uint64_t line);
  // After admit: hands what the batch carries for the rest of the chain to it (merges its partial;
  // or feeds its forwarded records; or, for an async stage, moves them into b.job for the engine to
  // submit). Its output then holds only what is to be written. Returns what an ordered stage here
  // (head) did not take because it had ended the stream: forwarded records and lines, which the
  // stats forget (as if never read; a map that fans out leaves several lines per record).
  // Records fed here (not to an async stage) are fed in input order with the batch's own failures:
  // the batch is cut right after its `max_failures`-th failed record (UINT64_MAX: no limit), the
  // worker segment's and the stages' here counted together, and after the record at which an
  // ordered stage here (head) ended the stream; the records cut away are as if never read (their
  // errors are not reported). The errors made here are marked by line (err_marks) for the writer
  // to interleave with the batch's own.
  struct Untaken {
    std::uint64_t records = 0;  // input records none of whose lines was taken
    std::uint64_t lines = 0;    // lines not taken
    bool budget_spent = false;  // cut after the max_failures-th failure
  };
  Untaken take_over(Batch& b, std::uint64_t max_failures = UINT64_MAX);
  // An async job came back (in sequence order): its records go on through the rest of the chain,
  // its failures to the error stream. The job ends right after its `max_failures`-th failed record
  // (UINT64_MAX: no limit; 0: before its first record), failures of the stages after it counted
  // too, all in the order of the records they came from, when the job says whose output is whose
  // (AsyncJob::out_ends; else its output comes after its last record). Returns where the batch is
  // cut: the rest as if never read.
  // `worker_error_lines`: the lines of the batch's records that failed before the async stage
  // (sorted), which max_failures counts too: they precede or follow the job's failures by line.
  struct Cut {
    bool cut = false;           // the budget was spent in this batch
    std::uint64_t line = 0;     // after the error on this line: the rest as if never read
    std::uint64_t records = 0;  // the job's records after that line
  };
  Cut complete(AsyncJob& job, std::uint32_t source, std::uint64_t max_failures,
               const std::vector<std::uint64_t>& worker_error_lines = {});
  // The errors complete() put in err(), by the line of the record they came from (sorted): the
  // end in err() of each record's errors. The writer interleaves them with the batch's own.
  const std::vector<std::pair<std::uint64_t, std::size_t>>& err_marks() const { return err_marks_; }
  std::size_t err_marks_base() const { return err_marks_base_; }
  void clear_err_marks() { err_marks_.clear(); }
  // End of stream: finishing stages emit their records, which run through the stages after them.
  // False (message in *error) when a stage cannot finish. `flush`, when given, is called whenever
  // out() and err() hold kFinishFlushBytes or more, to write and clear them (a million groups
  // are not held as one text); it returns false when the output is gone (a closed pipe), and
  // the stages then stop emitting. `context` is handed to the finishing stages.
  static constexpr std::size_t kFinishFlushBytes = 1 << 20;
  bool finish(std::string* error, const std::function<bool()>& flush = {}, const FinishContext& context = {});

  // What the writer's part produced since the last call: output lines and error-stream lines.
  std::string& out() { return out_; }
  std::string& err() { return err_; }
  // An async job's output taken as it came (complete()), written before out(): a view of the job's
  // buffer, which the engine holds until it is written, then gives back to the stage. The writer
  // empties it.
  std::string_view& passed() { return passed_; }
  std::uint64_t out_records() const { return out_records_; }
  // True once an ordered stage on the writer's part ended the stream.
  bool stopped() const { return stopped_; }
  // True once finish() ended the stream at the --max-errors-th record error (stopped() too).
  bool errors_cut() const { return errors_cut_; }
  // Set when a stage could not go on (uniq past --max-groups): the run ends with a fatal error.
  const std::string& failure() const { return failure_; }
  // Counts of the stages' work on the writer thread (added to the batches' counts in the stats).
  const std::vector<StageCounts>& counts() const { return counts_; }
  // Nanoseconds each stage ran on the writer thread (its ordered decisions, merges, records fed).
  const std::vector<std::uint64_t>& busy_ns() const { return busy_ns_; }
  // The finishing stages' own --stats fields (FinishContext::stats_fields), per stage index.
  const std::vector<std::string>& stats_fields() const { return stats_fields_; }

 private:
  // Runs a record through stages [from, n) on this thread. False when it was not taken: an ordered
  // stage had ended the stream (or ends it at this record, which it leaves as if never read).
  bool feed(std::size_t from, Record& rec, std::string_view raw, std::string_view source);
  // A record past the last stage: a line of the output.
  void write_line(std::string_view text) {
    out_.append(text);
    out_.push_back('\n');
    ++out_records_;
  }
  bool admit_records(Batch& b);
  void rebuild(Batch& b, const std::vector<std::uint8_t>& keep_effects, std::size_t keep_records);
  // The run stops after record keep_records - 1 of b: its bytes end with that record (and its
  // line end), not with the blank lines after it, nor with the rest of its line (--format json).
  void count_bytes_to(Batch& b, std::size_t keep_records) const;
  void recount(Batch& b) const;

  const Chain& chain_;
  WorkerState ws_;
  std::vector<std::unique_ptr<OrderedRun>> ordered_;  // per stage index, null if not ordered
  std::vector<std::unique_ptr<Partial>> partials_;    // per stage index, null if not finishing
  std::vector<StageCounts> counts_;
  std::vector<std::uint64_t> busy_ns_;
  std::vector<std::string> stats_fields_;
  std::uint64_t feed_ns_ = 0;  // all of feed()'s time, so finish() can tell its own apart
  std::uint64_t feed_errors_ = 0;  // records feed() sent to the error stream
  // The async stage's output so far without a record of its own (exec's batch mode): its lines and
  // bytes, in input order, so that a later stage's error names the line of the whole output (one
  // numbering for the run, not one per batch: the same for every --batch-size and --exec-span).
  std::uint64_t async_lines_ = 0;
  std::uint64_t async_bytes_ = 0;
  std::string key_;
  std::string output_;  // take_over: the forwarded records of a batch (its room kept)
  std::string out_, err_;
  std::vector<std::pair<std::uint64_t, std::size_t>> err_marks_;
  std::size_t err_marks_base_ = 0;
  std::string_view passed_;
  std::uint64_t out_records_ = 0;
  bool stopped_ = false;
  bool errors_cut_ = false;
  // The stage that ended the stream (an ordered stage: head), or kEverything (the output is gone).
  // A finishing stage after it still emits what it holds; one before it stops emitting.
  static constexpr std::size_t kEverything = static_cast<std::size_t>(-1);
  std::size_t stop_stage_ = kEverything;
  void stop_at(std::size_t stage) {
    stopped_ = true;
    stop_stage_ = stage;
  }
  std::string failure_;
};

}  // namespace ppipe
