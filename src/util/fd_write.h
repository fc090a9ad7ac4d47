// A whole buffer to a descriptor: again after EINTR and after a short write. And stderr, which
// several of ppipe's threads write to.
#pragma once

#include <cstddef>
#include <mutex>
#include <string_view>

namespace ppipe {

// 0 when all n bytes were written, else the errno of the write that failed (EIO for one that
// wrote nothing).
int write_fully(int fd, const char* p, std::size_t n);

// Writers of stderr (fd 2): the writer thread's error records, the progress line, the lines of
// exec's commands (from exec's I/O thread), messages. Each write of whole lines holds this lock,
// so that no line lands inside another: a pipe takes a write of more than PIPE_BUF bytes in
// pieces, and another thread's write could go in between them.
std::unique_lock<std::mutex> lock_stderr();
// Writes whole lines to stderr only if that cannot wait: the lock is free within 100 ms (another
// thread may be blocked in a write to a pipe nobody reads) and fd 2 has room now. For a last
// word before _exit. True when written.
bool write_stderr_now(std::string_view lines);
// The progress line on a terminal (text without '\n', redrawn in place) is shown or not; under
// the lock.
void set_stderr_status_shown(bool shown);
// Erases a shown progress line ("\r\033[K"), so that the lines written next start at the left
// margin; under the lock.
void clear_stderr_status();
// Whole lines to stderr, under the lock, after erasing a shown progress line: write_fully's result.
// A failure other than EPIPE (a reader that went away ends nothing) is also kept for
// stderr_write_error(): callers that cannot stop for it (exec's relayed lines, debug, progress)
// ignore the result, and the run's exit code says it at the end.
int write_stderr(std::string_view lines);
// The errno of the first write_stderr that failed other than with EPIPE, or 0.
int stderr_write_error();

}  // namespace ppipe
