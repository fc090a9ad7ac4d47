#include "stages/exec/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "src/util/child_groups.h"

extern char** environ;

namespace ppipe {

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // pidfd_open sets it already; older kernels may not
  return fd;
#else
  (void)pid;
  return -1;
#endif
}

constexpr std::string_view kShellWords[] = {
    // dash's keywords and builtins: a plain command starting with one is the shell's business.
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until",
    "while", ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval",
    "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf",
    "pwd", "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type", "ulimit",
    "umask", "unalias", "unset", "wait"};

bool plain_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         std::string_view("_./,:@%+=-").find(ch) != std::string_view::npos;
}

// execvp's search: a name with a '/' as it is, else the first executable regular file on PATH.
std::optional<std::string> find_program(const std::string& name) {
  auto runnable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return runnable(name) ? std::optional<std::string>(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    if (runnable(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

bool spawn_program(const SpawnPlan& plan, ChildProcess* child, std::string* error);

}  // namespace

std::optional<std::vector<std::string>> plain_command_words(std::string_view command) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < command.size()) {
    char ch = command[i];
    if (ch == ' ' || ch == '\t') {
      ++i;
      continue;
    }
    if (!plain_char(ch)) return std::nullopt;
    std::size_t j = i;
    while (j < command.size() && plain_char(command[j])) ++j;
    if (j < command.size() && command[j] != ' ' && command[j] != '\t') return std::nullopt;
    words.emplace_back(command.substr(i, j - i));
    i = j;
  }
  if (words.empty()) return std::nullopt;
  const std::string& first = words[0];
  if (first.find('=') != std::string::npos) return std::nullopt;  // an assignment
  for (std::string_view w : kShellWords)
    if (first == w) return std::nullopt;
  return words;
}

SpawnPlan plan_command(const std::string& command) {
  if (auto words = plain_command_words(command)) {
    // Not found: the shell says so as it always does ("sh: 1: x: not found", status 127).
    if (auto path = find_program((*words)[0])) return SpawnPlan{*path, std::move(*words), command, false};
  }
  return SpawnPlan{"/bin/sh", {"sh", "-c", command}, command, true};
}

bool spawn_shell(const std::string& command, ChildProcess* child, std::string* error) {
  return spawn_program(SpawnPlan{"/bin/sh", {"sh", "-c", command}, command, true}, child, error);
}

bool spawn_command(const SpawnPlan& plan, ChildProcess* child, std::string* error) {
  if (spawn_program(plan, child, error)) return true;
  return !plan.shell && spawn_shell(plan.command, child, error);
}

namespace {

bool spawn_program(const SpawnPlan& plan, ChildProcess* child, std::string* error) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto fail = [&](std::string_view what, int e) {
    *error = fmt::format("{}: {}", what, std::strerror(e));
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return false;
  };
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return fail("cannot create a pipe", errno);
  // Fewer wake-ups for batch mode's megabytes; best effort (the limit may be lower).
  ::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
  ::fcntl(out[0], F_SETPIPE_SZ, 1 << 20);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const std::string& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, plan.path.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc == E2BIG) {
    // The placeholders' values made the command line longer than the kernel takes: 128 KiB for
    // one argument (the whole `sh -c` line is one), about ARG_MAX for all with the environment.
    return fail(fmt::format("cannot start {} (the command line with the placeholders' values is too long: at most "
                            "128 KiB; the record is on the command's stdin too)",
                            plan.path),
                rc);
  }
  if (rc != 0) return fail(fmt::format("cannot start {}", plan.path), rc);

  close_fd(out[1]);
  close_fd(err[1]);
  // (Not in[0]: its file description is the child's stdin too.)
  for (int fd : {in[1], out[0], err[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  child->pid = pid;
  child->stdin_fd = in[1];
  child->stdin_read_fd = in[0];
  child->stdout_fd = out[0];
  child->stderr_fd = err[0];
  child->pid_fd = open_pidfd(pid);
  child_group_started(pid);
  return true;
}

}  // namespace

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return name ? fmt::format("killed by signal {} ({})", sig, name) : fmt::format("killed by signal {}", sig);
  }
  return fmt::format("wait status {}", status);
}

void signal_group(pid_t pid, int sig) {
  if (pid > 0) ::kill(-pid, sig);
}

}  // namespace ppipe
