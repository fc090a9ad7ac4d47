// Counts the lines of a text while each is a record as it is: not empty, not starting with a
// space, tab or CR (it might be blank), not ending with a CR. Such a text can be written as it
// came, one record a line. The text may arrive in pieces (exec reads a command's output into one
// growing buffer): scan() goes on from where it stopped, so each byte is looked at once, while
// it is still in cache.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace ppipe {

class PlainLines {
 public:
  // The text is now its first `size` bytes at `data` (the bytes scanned before are unchanged,
  // wherever the buffer now is).
  void scan(const char* data, std::size_t size) {
    while (plain_ && pos_ < size) {
      const void* nl = std::memchr(data + pos_, '\n', size - pos_);
      if (!nl) {
        pos_ = size;
        return;
      }
      const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
      check(data, end);
      pos_ = end + 1;
      start_ = pos_;
    }
  }
  // The lines, once the whole text (`size` bytes) is scanned; nothing when one is not plain.
  std::optional<std::uint64_t> finish(const char* data, std::size_t size) {
    scan(data, size);
    if (plain_ && start_ < size) check(data, size);  // a last line without its '\n'
    if (!plain_) return std::nullopt;
    return lines_;
  }
  void reset() { *this = PlainLines(); }

 private:
  void check(const char* data, std::size_t end) {
    const char first = data[start_];
    if (end == start_ || first == ' ' || first == '\t' || first == '\r' || data[end - 1] == '\r') plain_ = false;
    ++lines_;
  }

  std::size_t pos_ = 0;    // scanned up to here
  std::size_t start_ = 0;  // where the current line starts
  std::uint64_t lines_ = 0;
  bool plain_ = true;
};

// The lines of a whole text, when each is a record as it is.
inline std::optional<std::uint64_t> plain_lines(std::string_view text) {
  PlainLines p;
  return p.finish(text.data(), text.size());
}

}  // namespace ppipe
