// The floor of exec's batch mode (issue 8): the bytes' trip through a command and back, done the
// cheapest way there is, with nothing else. scripts/bench runs it beside `ppipe --stages parse`
// on the same file at the same time: what `ppipe --stages parse,exec --exec CMD` must do at least.
//
//   ppipe-floor-exec FILE [CMD]   (CMD default: cat; run by /bin/sh -c)
//
// FILE is mapped (no copy of its bytes into this process), and its pages go into CMD's stdin by
// vmsplice (the pipe refers to them: no copy either), 1 MiB at a time, on a thread of their own;
// the main thread reads CMD's stdout into one 1 MiB buffer and throws it away. Both pipes are
// 1 MiB, as ppipe makes them. So the copies are only CMD's own (reading its stdin, writing its
// stdout) and the read of its output, which any exec must do; ppipe in addition parses the input
// (the run beside this one), keeps the output in order, counts its lines and writes it.
// Prints {"bytes_in":..,"bytes_out":..,"seconds":..} to stderr.
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ppipe-floor-exec FILE [CMD]\n");
    return 2;
  }
  const char* cmd = argc > 2 ? argv[2] : "cat";
  const auto t0 = std::chrono::steady_clock::now();
  int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  const char* data = nullptr;
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      std::perror("mmap");
      return 1;
    }
    data = static_cast<const char*>(m);
    ::madvise(m, size, MADV_SEQUENTIAL);
  }
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    return 1;
  }
  ::fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
  ::fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const char* args[] = {"/bin/sh", "-c", cmd, nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(args), environ) != 0) {
    std::perror("posix_spawn");
    return 1;
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);

  std::thread feeder([&] {
    constexpr std::size_t kChunk = 1 << 20;
    for (std::size_t at = 0; at < size;) {
      iovec iov{const_cast<char*>(data + at), std::min(kChunk, size - at)};
      ssize_t w = ::vmsplice(in[1], &iov, 1, 0);
      if (w <= 0) w = ::write(in[1], iov.iov_base, iov.iov_len);
      if (w <= 0) {
        std::perror("write");
        break;
      }
      at += static_cast<std::size_t>(w);
    }
    ::close(in[1]);
  });
  std::vector<char> buffer(1 << 20);
  std::size_t got = 0;
  for (;;) {
    ssize_t r = ::read(out[0], buffer.data(), buffer.size());
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  feeder.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "{\"bytes_in\":%zu,\"bytes_out\":%zu,\"seconds\":%.3f}\n", size, got, s);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
