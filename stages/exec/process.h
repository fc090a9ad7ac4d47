// Starting a shell command as a child process for exec: posix_spawn of `/bin/sh -c CMD` in a
// process group of its own (so a timeout or an interrupt can signal everything it started), with
// pipes for stdin, stdout and stderr. Every descriptor ppipe holds is close-on-exec and the child
// closes all but its three (closefrom), so no child keeps another's pipe open. The child starts
// with no blocked signals and default dispositions, whatever ppipe's threads block or ignore.
#pragma once

#include <sys/types.h>

#include <string>

namespace ppipe {

struct ChildProcess {
  pid_t pid = -1;   // also its process group id
  int stdin_fd = -1;   // ours: non-blocking, close-on-exec
  int stdout_fd = -1;
  int stderr_fd = -1;
  int pid_fd = -1;  // readable when the child exits (pidfd_open), or -1 where the kernel has none
};

// False with *error (strerror-like) when the process could not be started.
bool spawn_shell(const std::string& command, ChildProcess* child, std::string* error);

// "exit status 3", "killed by signal 9 (KILL)": a waitpid status as words.
std::string describe_wait_status(int status);

// Sends `sig` to the child's process group. Only while the child is not reaped: until then no other
// process can have its id as a group id.
void signal_group(pid_t pid, int sig);

}  // namespace ppipe
