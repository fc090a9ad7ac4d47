// ppipe: arguments -> plan -> run -> exit code. The only place that decides the exit code.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "src/cli/options.h"
#include "src/core/chain.h"
#include "src/core/pipeline.h"

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
    if (access(path.c_str(), R_OK) != 0) return fmt::format("cannot open '{}': {}", path, std::strerror(errno));
    if (S_ISREG(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
    else all_regular = false;
  }
  *total_bytes = all_regular ? total : 0;
  return "";
}

// SIGINT/SIGTERM are blocked in every thread and taken here: the first one stops the run (which
// then drains and flushes), a second SIGINT ends the process at once.
class SignalWatcher {
 public:
  explicit SignalWatcher(StopToken& stop) : stop_(stop) {
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
      } else if (sig == SIGINT) {
        static const char kMsg[] = "ppipe: interrupted again, exiting at once\n";
        ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
        (void)ignored;
        _exit(kExitSigint);
      }
    }
  }

  StopToken& stop_;
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  // A closed output pipe comes back from write() as EPIPE and ends the run quietly.
  signal(SIGPIPE, SIG_IGN);

  CliResult cli = parse_command_line(argc, argv);
  if (cli.exit_code >= 0) return cli.exit_code;
  Plan& plan = *cli.plan;

  std::string input_error = check_inputs(plan.engine.inputs, &plan.engine.total_input_bytes);
  if (!input_error.empty()) {
    std::cerr << "ppipe: " << input_error << "\n";
    return kExitFatal;
  }
  int err_fd = STDERR_FILENO;
  std::string err_name = "stderr";
  if (plan.errors_path != "-") {
    err_fd = open(plan.errors_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      std::cerr << "ppipe: cannot open error file '" << plan.errors_path << "': " << std::strerror(errno) << "\n";
      return kExitFatal;
    }
    err_name = "'" + plan.errors_path + "'";
  }

  StopToken stop;
  RunResult result;
  {
    SignalWatcher signals(stop);
    Chain chain(std::move(plan.stages), plan.source_names, plan.engine.reader.max_record_size);
    result = run_pipeline(plan.engine, chain, stop, STDOUT_FILENO, err_fd, err_name);
  }
  if (err_fd != STDERR_FILENO && close(err_fd) != 0 && result.fatal_error.empty()) {
    result.fatal_error = fmt::format("write error on {}: {}", err_name, std::strerror(errno));
    result.stop = StopReason::kFatalIo;
  }

  int code = result.stats.errors ? kExitRecordErrors : kExitOk;
  switch (result.stop) {
    case StopReason::kSigint: code = kExitSigint; break;
    case StopReason::kSigterm: code = kExitSigterm; break;
    case StopReason::kMaxErrors:
      std::cerr << fmt::format("ppipe: stopped after {} record errors (--max-errors {})\n", result.stats.errors,
                               plan.engine.max_errors);
      code = kExitFatal;
      break;
    case StopReason::kFatalIo: code = kExitFatal; break;
    default: break;
  }
  if (!result.fatal_error.empty()) {
    std::cerr << "ppipe: " << result.fatal_error << "\n";
    if (code != kExitSigint && code != kExitSigterm) code = kExitFatal;
  }
  if (plan.stats) std::cerr << result.stats.to_json() << "\n";
  return code;
}
