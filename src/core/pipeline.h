// Pipeline: runs a plan over its inputs with a reader, N workers and the writer.
//
//   sources ─► reader ─► [work queue] ─► worker ×N ─► [done queue] ─► writer ─► stdout
//   (1 thread: reads,    (bounded)      (Chain::process:  (bounded)   (this thread: orders by
//    splits at newlines,                  parse, filter..)             seq, runs ordered stages,
//    numbers batches)                                                  writes out + error stream,
//        ▲                                                             stats, progress)
//        └──────────────── free batches (the tokens: --queue-depth) ◄──────┘
//
// At most queue_depth batches exist, so memory is bounded whatever the input size, and a slow
// writer stops the reader (backpressure). Every early end goes through the StopToken; no thread
// exits the process, so what was finished is always flushed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/core/chain.h"
#include "src/core/stats.h"
#include "src/core/stop_token.h"
#include "src/io/output_format.h"
#include "src/io/reader.h"

namespace ppipe {

struct EngineOptions {
  std::vector<std::string> inputs;  // paths; "-" is stdin
  ReaderOptions reader;
  unsigned workers = 1;
  std::size_t queue_depth = 4;
  bool ordered = true;
  std::uint64_t max_errors = 0;  // 0: unlimited
  bool progress = false;
  bool progress_json = false;   // stderr is not a terminal: progress as JSON objects, one a second
  bool human_errors = false;    // error records as short lines for a terminal (see ErrorSink)
  std::uint64_t total_input_bytes = 0;  // for percent and ETA; 0 if unknown
  OutputOptions output;  // --output, --fill, --table-rows
  double stats_interval = 0;            // --stats-interval in seconds (0: none)
  int stats_fd = 2;                     // where interval lines go (stderr, or --stats-file)
};

struct RunResult {
  RunStats stats;
  StopReason stop = StopReason::kNone;
  std::string fatal_error;  // one line, set for kFatalIo and kFatal
  std::string error_summary;  // human_errors: the closing line about the error stream, or ""
  std::string hint;           // "" or one hint: the input is clearly not what ppipe reads
};

// Runs to completion (or until stopped). out_fd receives records, err_fd the error stream,
// progress goes to stderr, --stats-interval lines to options.stats_fd (the final --stats line is
// main's).
RunResult run_pipeline(const EngineOptions& options, const Chain& chain, StopToken& stop, int out_fd,
                       int err_fd, const std::string& err_name);

}  // namespace ppipe
