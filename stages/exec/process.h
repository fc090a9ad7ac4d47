// Starting a shell command as a child process for exec: posix_spawn of `/bin/sh -c CMD` in a
// process group of its own (or, for a plain command, of the program itself: see SpawnPlan) (so a timeout or an interrupt can signal everything it started), with
// pipes for stdin, stdout and stderr. Every descriptor ppipe holds is close-on-exec and the child
// closes all but its three (closefrom), so no child keeps another's pipe open. The child starts
// with no blocked signals and default dispositions, whatever ppipe's threads block or ignore.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppipe {

struct ChildProcess {
  pid_t pid = -1;   // also its process group id
  int stdin_fd = -1;   // ours: non-blocking, close-on-exec
  // The read end of the stdin pipe, kept open by us too (close-on-exec; blocking, as it is the
  // child's stdin too, but read only once stdin_fd, the only write end, is closed): exec lends
  // its buffers' pages to the pipe (vmsplice) instead of copying them in, and empties the pipe
  // through this end when the call is over, before those buffers are reused (see ExecRun::pump).
  int stdin_read_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int pid_fd = -1;  // readable when the child exits (pidfd_open), or -1 where the kernel has none
};

// How a command is started. A plain command, words of letters, digits and `_./,:@%+=-` only (no
// quotes, `$`, globs, redirections, `~`, `#`, `\\`, ...), whose first word is no shell keyword or
// builtin and names a program found on PATH, means to `sh -c` exactly running that program with those
// words: it is started directly, without the shell. A process start costs page faults, and a shell
// start is most of the cost of a short call (measured: `cat` per 1 MiB batch, twice as fast).
// Anything else runs as `/bin/sh -c CMD`.
struct SpawnPlan {
  std::string path;               // the program to run: "/bin/sh", or the resolved plain command
  std::vector<std::string> argv;  // its arguments, argv[0] included
  std::string command;            // as given: when the program cannot be started directly after
                                  // all (a script with no #! line), the shell runs it
  bool shell = true;              // path is /bin/sh, argv `sh -c command`
};
SpawnPlan plan_command(const std::string& command);

// The words of a plain command, or nothing when the shell must see it (exposed for tests).
std::optional<std::vector<std::string>> plain_command_words(std::string_view command);

// False with *error (strerror-like) when the process could not be started.
bool spawn_command(const SpawnPlan& plan, ChildProcess* child, std::string* error);
// The same for `/bin/sh -c command`.
bool spawn_shell(const std::string& command, ChildProcess* child, std::string* error);

// "exit status 3", "killed by signal 9 (KILL)": a waitpid status as words.
std::string describe_wait_status(int status);

// Sends `sig` to the child's process group. Only while the child is not reaped: until then no other
// process can have its id as a group id.
void signal_group(pid_t pid, int sig);

}  // namespace ppipe
