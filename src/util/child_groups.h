// The process groups of the commands ppipe runs now (exec). They run in groups of their own, so a
// Ctrl-C typed at the terminal does not reach them; the run signals them when it stops. A second
// SIGINT/SIGTERM ends ppipe at once (no drain), and KILLs these groups first, so that no command
// outlives it (README: every process ppipe starts is reaped or killed).
#pragma once

#include <sys/types.h>

namespace ppipe {

// After a successful spawn (pgid: the child's pid, its group id).
void child_group_started(pid_t pgid);
// Right after the child is reaped (from then on its id may be another process's).
void child_group_reaped(pid_t pgid);
// Sends sig to every group still registered.
void signal_child_groups(int sig);

}  // namespace ppipe
