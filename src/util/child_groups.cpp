#include "src/util/child_groups.h"

#include <signal.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace ppipe {

namespace {

std::mutex& groups_mutex() {
  static std::mutex m;
  return m;
}
std::vector<pid_t>& groups() {
  static std::vector<pid_t> g;
  return g;
}

}  // namespace

void child_group_started(pid_t pgid) {
  std::lock_guard<std::mutex> lock(groups_mutex());
  groups().push_back(pgid);
}

void child_group_reaped(pid_t pgid) {
  std::lock_guard<std::mutex> lock(groups_mutex());
  auto& g = groups();
  auto it = std::find(g.begin(), g.end(), pgid);
  if (it != g.end()) {
    *it = g.back();
    g.pop_back();
  }
}

void signal_child_groups(int sig) {
  std::lock_guard<std::mutex> lock(groups_mutex());
  for (pid_t pgid : groups()) ::kill(-pgid, sig);
}

}  // namespace ppipe
