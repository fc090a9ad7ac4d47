// exec: runs an external command over the records, as a worker pool that waits on the outside
// world (an async stage): bounded concurrency, a rate limit, retries with backoff, timeouts, and
// output in input order. The run itself is stages/exec/exec_run.{h,cpp}.
#include <sys/resource.h>

#include <algorithm>

#include <fmt/format.h>

#include "stages/exec/exec_run.h"
#include "stages/registry.h"

namespace ppipe {

namespace {

// Record mode's batch when --batch-size is not given: at most 8 records in 4 KiB, so that output
// comes out as calls finish (and `| head -1` ends the run after the first few), where a 1 MiB
// batch held every output until its thousands of calls were done. (The reader cuts batches by
// record for JSON Lines, lines and tsv input; csv and json input keep the 4 KiB.) Measured with
// 20,000 calls of `true`, 4 alternating runs: 8.11 s against 7.96 s with 1 MiB batches; with 4
// records a batch it was 4% slower.
constexpr std::size_t kRecordModeBatch = 4 << 10;
constexpr std::size_t kRecordModeRecords = 8;

constexpr StageOption kExecOptions[] = {
    {"--exec", OptionKind::kValue, "CMD", nullptr, "the command, as /bin/sh -c runs it", true},
    {"--exec-mode", OptionKind::kValue, "MODE", "batch",
     "batch: one process per run of batches (--exec-span), its records on stdin; record: one process per record "
     "(see ppipe help exec)",
     false},
    {"--concurrency", OptionKind::kValue, "N", "",
     "processes running at once (default: batch mode --workers, at least 2; record mode 2 x --workers)", false},
    {"--timeout", OptionKind::kValue, "D", "",
     "a call running longer (500ms, 5s, 2m) fails: its process group gets TERM, then KILL 1 s later (default none)",
     false},
    {"--retries", OptionKind::kValue, "N", "0", "retry a failed call up to N times", false},
    {"--backoff", OptionKind::kValue, "MIN[:MAX]", "100ms:10s",
     "before retry n wait a random time from 0 to min(MAX, MIN x 2^(n-1))", false},
    {"--rate", OptionKind::kValue, "R/s", "", "at most R process starts a second (also R/m, R/h), retries included",
     false},
    {"--burst", OptionKind::kValue, "B", "1", "with --rate: starts allowed at once after a pause", false},
    {"--exec-max-output", OptionKind::kValue, "SIZE", "64M",
     "a call whose stdout is larger fails (memory stays bounded)", false},
    {"--exec-span", OptionKind::kValue, "SIZE", "16M",
     "batch mode: input per process, in whole batches, at most 1,024 of them (a start costs milliseconds); "
     "memory holds up to --concurrency of them",
     false},
};

constexpr const char* kExecHelp =
    "  Runs CMD as /bin/sh -c runs it (a plain command, words of letters, digits and _./,:@%+=-\n"
    "  naming a program on PATH, is started directly: a shell start is half the cost of a call).\n"
    "  In batch mode (the default) the records of a span of batches (below) are written to one\n"
    "  process's stdin and its stdout lines are the output records (any number of lines; a later\n"
    "  `parse` validates them if asked). In record mode one process runs per record, the record on its\n"
    "  stdin; in CMD `{}` is the whole record and `{.path}` a field's value (a string as its text, other\n"
    "  values as JSON), each substituted as one single-quoted shell word: no record value can inject a\n"
    "  command. A missing path, or a value with a NUL byte, sends the record to the error stream.\n"
    "  Placeholders are not allowed inside quotes in CMD (they are quoted already), nor in `...`,\n"
    "  ${...}, comments or here-documents, where the shell would not read them as one word.\n"
    "\n"
    "  A call fails when the command exits non-zero, is killed, runs past --timeout, or writes more\n"
    "  than --exec-max-output to stdout (then its output is dropped: nothing of a failed call is\n"
    "  written). It is retried --retries times (not after an output overflow); a call that still\n"
    "  fails sends each of its records to the error stream with the exit status or signal (or\n"
    "  `timeout`), the number of attempts and the last lines of its stderr. The command's stderr is\n"
    "  passed to ppipe's stderr line by line, prefixed `exec[PID]: ` (a JSON object when stderr is not\n"
    "  a terminal). Output is in input order, whatever the concurrency and retries, and so are\n"
    "  errors, a later stage's too (in record mode such an error names the input record's line).\n"
    "\n"
    "  Each process runs in its own process group. SIGINT/SIGTERM stop new starts, send TERM to the\n"
    "  running groups (KILL 1 s later); records not done go to the error stream as interrupted.\n"
    "  In batch mode a process takes consecutive batches, up to --exec-span of input and at most\n"
    "  1,024 batches (one batch if it alone is larger) (a process\n"
    "  start costs milliseconds: a 1 GiB input makes tens of them); its stdin ends there, where the\n"
    "  input pauses (a pipe that stalls: slow input is not held back) or where it ends, so the spans\n"
    "  are the same from run to run on files. A failed call sends every record of its span to the\n"
    "  error stream, and --timeout counts from the last batch it took (not while ppipe holds up the\n"
    "  next one: a paused reader of the output). Memory: up to --concurrency\n"
    "  spans of input are held (for retries and error records), and each call's output, up to\n"
    "  --exec-max-output. For a slow command, a smaller --exec-span spreads the batches over more\n"
    "  processes (--exec-span 1 gives each batch its own).\n"
    "  --stats adds calls, retries, timeouts, failures and rate_wait_seconds to the stage.\n"
    "  Examples: ppipe --stages parse,exec --exec 'gzip -c | wc -c' big.jsonl\n"
    "            ppipe --stages parse,exec --exec-mode record --exec 'curl -sf https://api/v1/{.id}' \\\n"
    "                  --rate 20/s --retries 3 --timeout 5s --errors failed.jsonl ids.jsonl\n";

class ExecStage final : public AsyncStage {
 public:
  explicit ExecStage(std::shared_ptr<const ExecConfig> config) : config_(std::move(config)) {}
  Output output() const override { return Output::kForeign; }  // the command's output lines
  std::size_t preferred_batch_size() const override { return config_->record_mode ? kRecordModeBatch : 0; }
  std::size_t preferred_batch_records() const override { return config_->record_mode ? kRecordModeRecords : 0; }
  std::string_view name() const override { return "exec"; }
  std::unique_ptr<AsyncRun> start(Done done, const AsyncContext& context) const override {
    return std::make_unique<ExecRun>(config_, descriptors_for(concurrency(context)), span_jobs(context),
                                     context.max_errors, std::move(done));
  }
  // Batch mode: each running call may hold a whole span of jobs (batches) before any comes back,
  // one batch at least (with --exec-span 1, or a span no larger than --batch-size, no more were
  // given: --concurrency 16 ran at most --queue-depth calls at once; found by a docs audit).
  // Record mode: its batches are small (8 records), and --concurrency calls must find their records
  // queued while others run: twice that many batches.
  std::size_t extra_jobs(const AsyncContext& context) const override {
    if (config_->record_mode) return 2 * concurrency(context);
    return concurrency(context) * span_jobs(context);
  }

 private:
  // Record mode's commands are mostly short and waiting (a start, a request), so twice as many as
  // workers. A batch-mode call streams a span through a command that is mostly busy on a CPU
  // (cat, jq, a script): more of them than workers only add spans of memory in flight and
  // processes sharing the same cores (`--exec cat`, -j 2, 1 GiB: 4 calls 189 MB peak RSS, 2 calls
  // 112 MB, the same time within noise; see docs/performance-notes.md). At least 2, so that the
  // next call is starting while one ends (1 leaves a gap at each start).
  std::size_t concurrency(const AsyncContext& context) const {
    if (config_->concurrency) return config_->concurrency;
    if (config_->record_mode) return 2 * std::size_t{context.workers};
    return std::max<std::size_t>(2, context.workers);
  }
  // Each running call holds five descriptors (both ends of its stdin pipe, stdout, stderr, a
  // pidfd). The soft limit (1024 on Debian) allowed about 200 calls: past them every start failed
  // for good, "cannot create a pipe: Too many open files". It is raised toward the hard limit as
  // far as the calls need; a hard limit too low for --concurrency runs as many calls at once as
  // fit in it (at least one).
  static std::size_t descriptors_for(std::size_t calls) {
    constexpr rlim_t kPerCall = 5, kBase = 256;  // (the engine's own: files, eventfds, pipes)
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return calls;
    const rlim_t need = kPerCall * calls + kBase;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
      rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::min(rl.rlim_max, need);
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return calls;
    const rlim_t fit = rl.rlim_cur > kBase + kPerCall ? (rl.rlim_cur - kBase) / kPerCall : 1;
    return static_cast<std::size_t>(std::max<rlim_t>(1, std::min<rlim_t>(fit, calls)));
  }
  // The most batches a span takes: --exec-span / --batch-size (a span also ends at --exec-span
  // bytes: ExecRun::take_new_jobs), at most kMaxSpanJobs. Each one is a token the engine adds per call
  // (extra_jobs), and a batch costs some kilobytes besides its input: with 64-byte batches a 16M
  // span was 262,144 of them a call, and a run took 580 MB to 1 GB whatever its input.
  static constexpr std::uint64_t kMaxSpanJobs = 1024;
  std::size_t span_jobs(const AsyncContext& context) const {
    if (config_->record_mode) return 1;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(
        config_->span / std::max<std::size_t>(1, context.batch_size), 1, kMaxSpanJobs));
  }

  std::shared_ptr<const ExecConfig> config_;
};

std::unique_ptr<Stage> make_exec_stage(const StageArgs& args, std::string* error) {
  auto config = std::make_shared<ExecConfig>();
  config->command = args.value("--exec");
  // (Blanks only are no command either: `sh -c '  '` took every record and gave nothing, exit 0.)
  if (config->command.find_first_not_of(" \t\r\n") == std::string::npos) {
    *error = "--exec needs a command";
    return nullptr;
  }
  const std::string& mode = args.value("--exec-mode");
  if (mode != "batch" && mode != "record") {
    *error = fmt::format("--exec-mode '{}': expected batch or record", mode);
    return nullptr;
  }
  config->record_mode = mode == "record";
  std::string template_error;
  auto tmpl = CommandTemplate::compile(config->command, &template_error);
  if (config->record_mode) {
    if (!tmpl) {
      *error = template_error;
      return nullptr;
    }
    if (tmpl->has_placeholders()) config->tmpl = std::move(tmpl);
    else config->plan = plan_command(config->command);
  } else if (tmpl && tmpl->has_placeholders()) {
    *error = "--exec: {} and {.path} are substituted only with --exec-mode record (in batch mode the records "
             "are on the command's stdin)";
    return nullptr;
  } else {
    config->plan = plan_command(config->command);
  }

  auto bounded_count = [&](std::string_view flag, std::uint64_t lo, std::uint64_t hi) -> std::optional<std::uint64_t> {
    auto n = args.count(flag, error);
    if (!n || *n < lo || *n > hi) {
      // (one message: "--burst -1" said "needs a non-negative integer", though 0 is refused too)
      *error = fmt::format("{} must be a whole number from {} to {}, got '{}'", flag, lo, hi, args.value(flag));
      return std::nullopt;
    }
    return n;
  };
  if (!args.value("--concurrency").empty()) {
    auto n = bounded_count("--concurrency", 1, 4096);
    if (!n) return nullptr;
    config->concurrency = *n;
  }
  // `none`: no timeout, the default its help names (it was refused as "expected a duration").
  if (const std::string& t = args.value("--timeout"); !t.empty() && t != "none") {
    auto d = parse_duration(t);
    if (!d || *d <= 0) {
      *error = fmt::format("--timeout '{}': expected a duration like 500ms, 5s or 2m, or none", t);
      return nullptr;
    }
    config->timeout_s = *d;
    config->timeout_text = t;
  }
  auto retries = bounded_count("--retries", 0, 1000);
  if (!retries) return nullptr;
  config->retries = static_cast<unsigned>(*retries);
  auto backoff = parse_backoff(args.value("--backoff"));
  if (!backoff) {
    *error = fmt::format("--backoff '{}': expected MIN or MIN:MAX durations, like 100ms:10s (MIN <= MAX)",
                         args.value("--backoff"));
    return nullptr;
  }
  config->backoff = *backoff;
  if (const std::string& r = args.value("--rate"); !r.empty()) {
    auto rate = parse_rate(r);
    if (!rate) {
      *error = fmt::format("--rate '{}': expected a rate like 20/s, 100/m or 3600/h", r);
      return nullptr;
    }
    config->rate = *rate;
  }
  auto burst = bounded_count("--burst", 1, 1000000);
  if (!burst) return nullptr;
  config->burst = static_cast<double>(*burst);
  auto max_output = args.size("--exec-max-output", std::uint64_t{16} << 30, error);
  if (!max_output) return nullptr;
  config->max_output = *max_output;
  config->max_output_text = args.value("--exec-max-output");
  auto span = args.size("--exec-span", std::uint64_t{4} << 30, error);
  if (!span) return nullptr;
  config->span = *span;
  return std::make_unique<ExecStage>(std::move(config));
}

}  // namespace

extern const StageInfo kExecStageInfo = {
    "exec", "run an external command per batch or per record (concurrency, rate, retries, timeouts; in order)",
    kExecHelp, kExecOptions, make_exec_stage,
};

}  // namespace ppipe
