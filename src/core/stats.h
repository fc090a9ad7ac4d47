// Run statistics: what --stats prints. The writer tallies them from each batch as it consumes it,
// and from its own part of the chain (Chain::Run), so they describe exactly what reached the output
// and the error stream.
//
// Invariant: records_in + emitted == records_out + dropped + errors + consumed, where consumed
// counts the records finishing stages (tail) and async stages (exec: records in, any number of
// lines out) took in and emitted the records they made, and a map whose expression gave several
// values emitted the records beyond the first; for a chain without finishing or async stages or
// such a map, records_in == records_out + dropped + errors. Each stage's own counts add up too:
// in == out + dropped + errors for parallel and ordered stages (out - in + dropped + errors are
// the records a fanning-out map emitted), and in == consumed + dropped +
// errors, out == emitted for a finishing or async stage.
//
// Time (what shows where the run waits): each stage's busy time summed over the threads that ran
// it, and the engine's waits: the reader waiting on its input or for a free batch (backpressure),
// workers waiting for batches, the writer waiting for them or inside write(). From these, the
// bottleneck: the part of the engine with the highest utilization (busy time / wall time, per
// thread of it), named by its busiest stage, or "input" / "output".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/batch.h"

namespace ppipe {

struct StageStats {
  std::string name;
  StageMode mode = StageMode::kParallel;
  StageCounts counts;
  std::string extra;  // more fields of the stage's own (an async stage's calls, retries, ...), or ""
  std::uint64_t sampled_ns = 0;  // on the workers: the records timed one by one (kTimedEvery)
  std::uint64_t writer_ns = 0;   // on the writer thread; an async stage: its jobs' time out
};

// Nanoseconds, summed over the threads of each part of the engine.
struct EngineTimes {
  std::uint64_t reader_ns = 0;         // the reader holding a batch: reading and framing
  std::uint64_t reader_input_ns = 0;   // of which inside read(): waiting for input or copying it
  std::uint64_t reader_wait_ns = 0;    // the reader waiting for a free batch (backpressure)
  std::uint64_t queue_full_waits = 0;  // how often it had to wait so: every batch was in use
  std::uint64_t workers_busy_ns = 0;   // running the worker segment (of the batches seen so far)
  std::uint64_t workers_idle_ns = 0;   // waiting for a batch from the reader
  std::uint64_t writer_wait_ns = 0;    // the writer waiting for the next batch
  std::uint64_t write_ns = 0;          // the writer inside write(): stdout and the error stream
  std::uint64_t async_max_in_flight = 0;
};

struct RunStats {
  std::uint64_t records_in = 0;
  std::uint64_t records_out = 0;
  std::uint64_t dropped = 0;
  std::uint64_t errors = 0;
  std::uint64_t consumed = 0;
  std::uint64_t emitted = 0;
  std::uint64_t bytes_in = 0;             // of the records in records_in (decompressed)
  std::uint64_t bytes_read = 0;           // all the reader read, with what it read ahead of a stop
  std::uint64_t compressed_bytes_in = 0;  // taken from the files; in the JSON only when it differs
  std::uint64_t bytes_out = 0;
  double seconds = 0;
  unsigned workers = 0;
  std::uint64_t max_rss_kib = 0;  // peak resident memory of the process (getrusage)
  std::string stopped_by = "end";
  bool parse_added = false;  // --stages lacked the parse its stages or --output need; the plan put it in
  std::vector<StageStats> stages;
  std::size_t worker_stages = 0;  // stages [0, worker_stages) run on the workers
  std::size_t queue_depth = 0;
  EngineTimes engine;

  // Where each stage's busy seconds come from: the workers' time on a batch, split between the
  // stages in proportion to the records timed one by one, plus its time on the writer.
  double busy_seconds(std::size_t stage) const;
  // A batch came back from a worker (counted whether or not it is written: the work was done).
  void add_worker_time(const Batch& b);

  // Adds one batch's counts (records that entered the chain, per-stage counters); `to_output`:
  // the records that passed its stages were written (the chain ends with the workers' segment).
  void add_batch(const Batch& b, bool to_output);
  // Takes back what add_batch added: the batch is discarded as if never read (an async job's
  // batch behind a --max-errors cut).
  void remove_batch(const Batch& b, bool to_output);
  // `n` records that passed the first `stages` stages (on the workers), as `lines` lines (more
  // when the last of those stages fans out), are forgotten: an async job was cut after them, or
  // head on the writer's part had ended the stream.
  void forget_forwarded(std::uint64_t n, std::uint64_t lines, std::size_t stages);
  // The counts of the writer's part of the chain so far (Chain::Run), replacing the last ones.
  void set_writer_counts(const std::vector<StageCounts>& counts, std::uint64_t records_out);
  std::string to_json() const;

 private:
  void update();
  void tally(const Batch& b, bool to_output, bool add);
  std::vector<StageCounts> batch_counts_, writer_counts_;
  std::uint64_t batch_out_ = 0, writer_out_ = 0, read_errors_ = 0;
};

// The bottleneck between two snapshots of a run's stats (`before` all zeros: the whole run):
// a stage's name, "input", "output", or "" when nothing was measured.
std::string bottleneck(const RunStats& before, const RunStats& now);

struct QueueState {
  std::size_t depth = 0;       // --queue-depth: batches that exist
  std::size_t in_use = 0;      // taken from the free pool: being read, queued, worked on or written
  std::size_t to_workers = 0;  // read, waiting for a worker
};

// One --stats-interval line: totals so far, rates over the interval since `before`, the queue.
// `now.seconds` is the time since the start.
std::string interval_json(const RunStats& before, const RunStats& now, const QueueState& queue);

}  // namespace ppipe
