// A whole buffer to a descriptor: again after EINTR and after a short write.
#pragma once

#include <cstddef>

namespace ppipe {

// 0 when all n bytes were written, else the errno of the write that failed (EIO for one that
// wrote nothing).
int write_fully(int fd, const char* p, std::size_t n);

}  // namespace ppipe
