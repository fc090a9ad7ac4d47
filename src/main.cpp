// ppipe: arguments -> plan -> run -> exit code. The only place that decides the exit code.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "src/cli/config_file.h"
#include "src/cli/options.h"
#include "src/core/chain.h"
#include "src/core/pipeline.h"
#include "src/io/diagnostics.h"
#include "src/io/error_sink.h"
#include "src/util/child_groups.h"
#include "src/util/exit_codes.h"
#include "src/util/fd_write.h"

namespace {

using namespace ppipe;

// Checks every input before anything runs, so a typo in the last file name fails at once rather
// than after the first files were processed. Returns "" or a one-line message.
std::string check_inputs(const std::vector<std::string>& inputs, std::uint64_t* total_bytes) {
  bool all_regular = true;
  std::uint64_t total = 0;
  for (const auto& path : inputs) {
    struct stat st {};
    if (path == "-") {
      if (fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) all_regular = false;
      else total += static_cast<std::uint64_t>(st.st_size);
      continue;
    }
    if (stat(path.c_str(), &st) != 0) return fmt::format("cannot open '{}': {}", path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return fmt::format("cannot read '{}': Is a directory", path);
    // (open() refuses a socket: found here, before the inputs ahead of it are written)
    if (S_ISSOCK(st.st_mode)) return fmt::format("cannot open '{}': {}", path, std::strerror(ENXIO));
    if (access(path.c_str(), R_OK) != 0) return fmt::format("cannot open '{}': {}", path, std::strerror(errno));
    if (S_ISREG(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
    else all_regular = false;
  }
  *total_bytes = all_regular ? total : 0;
  return "";
}

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId&) const = default;
};

// The regular file behind a path ("-": stdin), if it is one.
std::optional<FileId> regular_file(const std::string& path) {
  struct stat st {};
  int r = path == "-" ? fstat(STDIN_FILENO, &st) : stat(path.c_str(), &st);
  if (r != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

std::optional<FileId> regular_fd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

// No output of ppipe may be one of its inputs: `--errors f f` would truncate f before reading it,
// `ppipe f >> f` would read its own output without end. Device and inode are compared, so links
// and other spellings of the same path are caught. Checked before anything is opened for writing.
// Returns "" or the one-line usage error; *on_stderr: the output that is an input is stderr.
std::string check_outputs_are_not_inputs(const Plan& plan, bool* on_stderr) {
  std::vector<std::pair<FileId, std::string>> inputs;
  for (const auto& path : plan.engine.inputs)
    if (auto id = regular_file(path)) inputs.emplace_back(*id, path == "-" ? "stdin" : "'" + path + "'");
  for (const auto& path : plan.read_files)  // --map-file, --filter-file, --config: read too
    if (auto id = regular_file(path)) inputs.emplace_back(*id, "'" + path + "'");
  auto input_named = [&](const FileId& out) -> const std::string* {
    for (const auto& [id, name] : inputs)
      if (id == out) return &name;
    return nullptr;
  };
  // Whatever goes to stderr (error records, --stats, any message, this refusal too) would be
  // written into the input: known first, so that any refusal below goes elsewhere (`--errors
  // /dev/stderr 2>> input` wrote its refusal into the input).
  const std::string* stderr_input = nullptr;
  if (auto id = regular_fd(STDERR_FILENO)) stderr_input = input_named(*id);
  if (stderr_input) *on_stderr = true;
  if (plan.errors_path != "-")
    if (auto id = regular_file(plan.errors_path))
      if (const std::string* in = input_named(*id))
        return fmt::format("--errors '{}' is the input file {}: refusing to overwrite it", plan.errors_path, *in);
  if (auto id = regular_fd(STDOUT_FILENO))
    if (const std::string* in = input_named(*id)) return fmt::format("input file {} is output file (stdout)", *in);
  if (plan.stats_path != "-")
    if (auto id = regular_file(plan.stats_path))
      if (const std::string* in = input_named(*id))
        return fmt::format("--stats-file '{}' is the input file {}: refusing to overwrite it", plan.stats_path, *in);
  if (stderr_input) return fmt::format("input file {} is the error stream (stderr)", *stderr_input);
  return "";
}

// Whether stderr is a regular file that a word of the command line names (`ppipe --map '.a +' f
// 2>> f`), or stdin's file: then the messages of a command line that does not parse must not go there, into what
// may be an input (the full check, check_outputs_are_not_inputs, needs the parsed plan).
// The files a --config file names (`map-file = "prog.jq"`) count as named: every value of its
// entries, read by the config parser itself (arrays over several lines, comments, escapes), is
// tried as a path. Only a regular file is read (a pipe, `--config /dev/stdin`, read here would
// be empty for the run).
bool config_names(const std::string& path, const FileId& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (8 << 20)) return false;
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<ConfigEntry> entries;
  std::string error;
  if (!parse_config_text(text, &entries, &error)) return false;
  for (const auto& entry : entries)
    for (const auto& value : entry.values)
      if (regular_file(value) == err) return true;
  return false;
}

bool command_line_names_stderr(int argc, char** argv) {
  const std::optional<FileId> err = regular_fd(STDERR_FILENO);
  if (!err) return false;
  if (regular_fd(STDIN_FILENO) == err) return true;  // (`ppipe ... < f 2>> f`: stdin, named by no word)
  for (int i = 1; i < argc; ++i) {
    std::string_view word = argv[i];
    if (regular_file(std::string(word)) == err) return true;
    std::string value;  // the value of a --config option
    if (const std::size_t eq = word.find('='); eq != std::string_view::npos && word.substr(0, 2) == "--") {
      if (regular_file(std::string(word.substr(eq + 1))) == err) return true;
      if (word.substr(0, eq) == "--config") value = word.substr(eq + 1);
    } else if (word == "--config" && i + 1 < argc) {
      value = argv[i + 1];
    }
    if (!value.empty() && config_names(value, *err)) return true;
  }
  return false;
}

// Text for a terminal: control bytes escaped (a file name with `ESC ]0;...` in it would be the
// terminal's commands); line ends and tabs kept (a program's caret line lines up with them).
std::string for_terminal(std::string_view text) {
  std::string safe;
  for (std::size_t at = 0;;) {
    const std::size_t tab = text.find('\t', at);
    safe += terminal_safe(text.substr(at, tab - at), std::string_view::npos, true);
    if (tab == std::string_view::npos) return safe;
    safe += '\t';
    at = tab + 1;
  }
}

// A message of the command line's (usage errors, refusals) to stderr, escaped there when it is a
// terminal; or, when stderr may be an input (`without_stderr`), not there (it would be written
// into the input) but on the terminal when there is one: the exit code says it in any case.
void tell(std::string_view text, bool without_stderr = false) {
  if (!without_stderr) {
    if (isatty(STDERR_FILENO) == 1) std::cerr << for_terminal(text) << std::flush;
    else std::cerr << text << std::flush;
    return;
  }
  const int fd = ::open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;
  const std::string line = for_terminal(text);
  [[maybe_unused]] ssize_t w = ::write(fd, line.data(), line.size());
  ::close(fd);
}

// SIGINT/SIGTERM are blocked in every thread and taken here: the first one stops the run (which
// then drains and flushes), a second one ends the process at once.
class SignalWatcher {
 public:
  SignalWatcher(StopToken& stop, const Diagnostics& diag)
      : stop_(stop),
        again_int_(diag.format("stopped", "interrupted again, exiting at once", {{"reason", "\"sigint\""}})),
        again_term_(diag.format("stopped", "terminated again, exiting at once", {{"reason", "\"sigterm\""}})) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR2);  // our own wake-up call at the end of the run
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatcher() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }

 private:
  void watch() {
    int count = 0;
    while (!done_) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0 || sig == SIGUSR2) continue;
      if (++count == 1) {
        stop_.raise(sig == SIGINT ? StopReason::kSigint : StopReason::kSigterm);
      } else {
        // A second SIGINT or SIGTERM: at once (a worker deep in one long expression does not
        // look at the stop; `kill` twice ends the run as Ctrl-C twice does). The commands still
        // running (exec) go first: no grace, no orphan (they ignore a terminal's Ctrl-C in their
        // own process groups, and may ignore TERM). The message only when it goes at once and
        // whole: with stderr a pipe nobody read, the write waited for ever (and without the lock
        // it landed inside an error record; found by a bug hunt).
        signal_child_groups(SIGKILL);
        (void)write_stderr_now(sig == SIGINT ? again_int_ : again_term_);
        // Again: during the message's wait for the lock (100 ms at most) exec's thread may have
        // started a queued command (found by a review).
        signal_child_groups(SIGKILL);
        _exit(sig == SIGINT ? kExitSigint : kExitSigterm);
      }
    }
  }

  StopToken& stop_;
  const std::string again_int_, again_term_;  // formatted before any signal can come
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Whether address space is plentiful: no RLIMIT_AS, and the kernel overcommits (mode 0 or 1).
bool large_stacks_fit() {
  struct rlimit as {};
  if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur != RLIM_INFINITY) return false;
  int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char mode = '0';
  const bool read_it = read(fd, &mode, 1) == 1;
  close(fd);
  return !read_it || mode != '2';
}

}  // namespace

int main(int argc, char** argv) {
  // A standard descriptor the caller closed (`ppipe f >&-`) would be the next file ppipe opens (an
  // eventfd, the --errors file), and stdout would be written there. Each is opened on /dev/null
  // the other way round (stdin for writing, stdout and stderr for reading): the number is taken,
  // and reading stdin or writing stdout still fails with EBADF, reported as any read or write
  // error (exit 3).
  bool std_closed[3] = {false, false, false};
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      std_closed[fd] = true;
      int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
      if (got >= 0 && got != fd) close(got);  // (fd was taken meanwhile: nothing to reserve)
    }
  // A closed output pipe comes back from write() as EPIPE and ends the run quietly.
  signal(SIGPIPE, SIG_IGN);
  // Threads get 64 MiB of stack, of address space: a page is used only once an expression
  // recurses that deep. jq programs recurse (`def f: ... f ...`), and the general engine's frames
  // are larger than jq's: with the default 8 MiB a recursive function ended in "recursion too
  // deep" at about 2,500 levels; now at about 18,000 (3.6 KB a level). Not when the address space
  // is limited (ulimit -v) or memory is not overcommitted: there a thread's stack is charged
  // whole, and a thread that cannot start would end the run.
  if (large_stacks_fit()) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
      if (pthread_attr_setstacksize(&attr, std::size_t{64} << 20) == 0) pthread_setattr_default_np(&attr);
      pthread_attr_destroy(&attr);
    }
  }
  // SIGINT/SIGTERM wait for the SignalWatcher from the start: one that comes while the command
  // line is read stops the run as soon as it begins (exit 130/143 with the stats), instead of
  // killing the process by the default action. Children get an empty mask (exec's posix_spawn).
  {
    sigset_t early;
    sigemptyset(&early);
    sigaddset(&early, SIGINT);
    sigaddset(&early, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &early, nullptr);
  }

  CliResult cli;
  {
    // A usage error's message goes to the terminal, or nowhere, when stderr may be an input; it
    // is written once the command line is read (tell()).
    std::ostringstream captured;
    std::streambuf* saved = std::cerr.rdbuf(captured.rdbuf());
    cli = parse_command_line(argc, argv);
    std::cerr.rdbuf(saved);
    std::cerr.clear();
    const std::string text = captured.str();
    if (!text.empty()) tell(text, command_line_names_stderr(argc, argv));
  }
  if (!cli.config_text.empty()) {
    // --print-config > job.toml with --config job.toml: the shell emptied it, and the config
    // printed from that would silently lack its settings (with >>: a file set twice). Refused
    // as a run's output into its input is.
    if (const auto out = regular_fd(STDOUT_FILENO))
      for (const auto& path : cli.read_files)
        if (regular_file(path) == out) {
          const std::string message =
              "--print-config: stdout is '" + path + "', a file this command line reads: refusing to write into it";
          tell("ppipe: " + message + "\n", regular_fd(STDERR_FILENO) == out);  // (2>&1: not into it either)
          return kExitUsage;
        }
    std::cout << cli.config_text;
  }
  if (cli.exit_code >= 0) {
    // --help, --version, help TOPIC, --print-config: their text must have been written (a full
    // disk gave an empty config file and exit 0). A reader that went away is no failure.
    std::cout.flush();  // (errno is the failed write's: nothing since has set it)
    if (!std::cout && errno != EPIPE) {
      const int e = errno ? errno : EIO;
      std::cerr << "ppipe: cannot write the output: " << std::strerror(e) << "\n";
      return kExitFatal;
    }
    return cli.exit_code;
  }
  Plan& plan = *cli.plan;

  bool same_is_stderr = false;
  if (std::string same = check_outputs_are_not_inputs(plan, &same_is_stderr); !same.empty()) {
    tell("ppipe: " + same + "\n", same_is_stderr);
    return kExitUsage;
  }
  const bool stderr_is_tty = isatty(STDERR_FILENO) == 1;
  const Diagnostics diag(!stderr_is_tty);
  std::string input_error = check_inputs(plan.engine.inputs, &plan.engine.total_input_bytes);
  if (!input_error.empty()) {
    diag.print("error", input_error);
    return kExitFatal;
  }
  // An --errors or --stats-file that is a file ppipe writes already (stdout, stderr, or each
  // other: `--errors /dev/stdout > f`, `--stats-file /dev/stderr 2> log`, both the same path)
  // shares its descriptor, as 2>&1 does: opened again (O_TRUNC, an offset of its own) it would
  // write over what the other wrote.
  auto same_file = [](const std::string& path, int fd) {
    auto a = regular_file(path);
    return a && a == regular_fd(fd);
  };
  // A path of a standard descriptor the caller closed (`--errors /dev/stderr 2>&-`) is that
  // descriptor, whose writes fail (exit 3): opened, it was the /dev/null reserved in its place,
  // and the error records or the stats line went nowhere, exit 1 or 0.
  auto closed_std = [&std_closed](const std::string& path) {
    for (int fd = 1; fd <= 2; ++fd)
      if (std_closed[fd] && (path == (fd == 1 ? "/dev/stdout" : "/dev/stderr") || path == fmt::format("/dev/fd/{}", fd) ||
                             path == fmt::format("/proc/self/fd/{}", fd)))
        return fd;
    return -1;
  };
  int err_fd = STDERR_FILENO;
  std::string err_name = "stderr";
  bool err_opened = false;
  if (const int fd = closed_std(plan.errors_path); fd >= 0) {
    err_fd = fd;
    err_name = "'" + plan.errors_path + "'";
  } else if (plan.errors_path != "-" && same_file(plan.errors_path, STDOUT_FILENO)) {
    err_fd = STDOUT_FILENO;
    err_name = "'" + plan.errors_path + "'";
  } else if (plan.errors_path != "-" && same_file(plan.errors_path, STDERR_FILENO)) {
    err_name = "'" + plan.errors_path + "'";
  } else if (plan.errors_path != "-") {
    err_opened = true;
    err_fd = open(plan.errors_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      diag.print("error", fmt::format("cannot open error file '{}': {}", plan.errors_path, std::strerror(errno)));
      return kExitFatal;
    }
    err_name = "'" + plan.errors_path + "'";
  }
  int stats_fd = STDERR_FILENO;
  bool stats_opened = false;
  if (plan.stats_path != "-") {
    if (const int fd = closed_std(plan.stats_path); fd >= 0) {
      stats_fd = fd;
    } else if (err_opened && (plan.stats_path == plan.errors_path || same_file(plan.stats_path, err_fd))) {
      stats_fd = err_fd;  // after the error records, as on stderr
    } else if (same_file(plan.stats_path, STDOUT_FILENO)) {
      stats_fd = STDOUT_FILENO;
    } else if (same_file(plan.stats_path, STDERR_FILENO)) {
      stats_fd = STDERR_FILENO;
    } else {
      stats_opened = true;
      stats_fd = open(plan.stats_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (stats_fd < 0) {
      diag.print("error", fmt::format("cannot open stats file '{}': {}", plan.stats_path, std::strerror(errno)));
      if (err_opened) close(err_fd);
      return kExitFatal;
    }
  }
  plan.engine.stats_fd = stats_fd;
  plan.engine.human_errors = stderr_is_tty && err_fd == STDERR_FILENO;
  plan.engine.progress_json = !stderr_is_tty;

  StopToken stop;
  RunResult result;
  {
    SignalWatcher signals(stop, diag);
    Chain chain(std::move(plan.stages), plan.source_names, plan.engine.reader.max_record_size);
    chain.set_input_format(plan.engine.reader.format, plan.infer, plan.engine.reader.delimiter);
    result = run_pipeline(plan.engine, chain, stop, STDOUT_FILENO, err_fd, err_name);
  }
  // An error file the stats share is closed after the stats line (below).
  if (err_opened && stats_fd != err_fd && close(err_fd) != 0 && result.fatal_error.empty()) {
    result.fatal_error = fmt::format("write error on {}: {}", err_name, std::strerror(errno));
    result.stop = StopReason::kFatalIo;
  }

  if (!result.error_summary.empty()) std::cerr << result.error_summary << std::flush;
  if (!result.hint.empty()) diag.print("hint", result.hint);
  int code = result.stats.errors ? kExitRecordErrors : kExitOk;
  switch (result.stop) {
    case StopReason::kSigint: code = kExitSigint; break;
    case StopReason::kSigterm: code = kExitSigterm; break;
    case StopReason::kMaxErrors: {
      std::uint64_t n = result.stats.errors;
      diag.print("stopped",
                 fmt::format("stopped after {} record error{} (--max-errors {})", n, n == 1 ? "" : "s",
                             plan.engine.max_errors),
                 {{"reason", "\"max-errors\""}, {"after", std::to_string(n)}});
      code = kExitFatal;
      break;
    }
    case StopReason::kFatalIo:
    case StopReason::kFatal: code = kExitFatal; break;
    default: break;
  }
  if (!result.fatal_error.empty()) {
    diag.print("error", result.fatal_error);
    if (code != kExitSigint && code != kExitSigterm) code = kExitFatal;
  }
  // Lines only relayed to stderr (exec's commands', debug, progress) that could not be written
  // (2>/dev/full): lost, and the exit code says so, as for an error record (no message: stderr
  // is what failed; found by a bug hunt).
  if (stderr_write_error() != 0 && code != kExitSigint && code != kExitSigterm) code = kExitFatal;
  result.stats.parse_added = plan.parse_added;
  // A pipe whose reader went away (`2>&1 | head -1`, `--stats-file /dev/stdout | head`) is no
  // write error: the run ends quietly, as for the records (README, Signals and pipes).
  auto write_line = [](int fd, const std::string& line) {
    const int e = write_fully(fd, line.data(), line.size());
    return e == EPIPE ? 0 : e;
  };
  if (plan.stats && stats_fd == STDERR_FILENO) {
    // The stats line is output the user asked for: one that cannot be written (2>/dev/full) is a
    // write error (exit 3), as it is in a --stats-file. (No message: it could not be written either.)
    std::cerr << std::flush;
    if (write_line(STDERR_FILENO, result.stats.to_json() + "\n") != 0 && code != kExitSigint && code != kExitSigterm)
      code = kExitFatal;
  }
  if (stats_fd != STDERR_FILENO) {
    int e = write_line(stats_fd, result.stats.to_json() + "\n");
    const bool ours = stats_opened || (err_opened && stats_fd == err_fd);  // not stdout's
    if (ours && close(stats_fd) != 0) e = errno;  // (a failed close says why, before the write)
    if (e != 0 && code != kExitSigint && code != kExitSigterm) {
      diag.print("error", fmt::format("write error on stats file '{}': {}", plan.stats_path, std::strerror(e)));
      code = kExitFatal;
    }
  }
  return code;
}
