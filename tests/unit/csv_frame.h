// The reader's use of a CsvFramer, replayed on a string (shared by tests/unit/csv_test.cpp and
// tests/fuzz/csv_fuzz.cpp): the records and line numbers it finds when the bytes come in reads of
// `step` and the batch is cut after `cut_at` bytes, the rest carried into the next batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "src/io/csv.h"

namespace ppipe::csv_frame_test {

struct Found {
  std::vector<std::string> records;
  std::vector<std::uint64_t> lines;
  bool operator==(const Found& o) const { return records == o.records && lines == o.lines; }
};

inline void append(Batch& b, std::string_view s) {
  if (s.empty()) return;  // (an empty buffer's data() may be null: no pointer arithmetic on it)
  std::size_t n = b.input.size();
  b.input.resize(n + s.size());
  std::memcpy(b.input.data() + n, s.data(), s.size());
}

inline void collect(const Batch& b, std::uint64_t first_line, Found& f) {
  for (const RecordSpan& r : b.spans) {
    f.records.emplace_back(b.input.data() + r.begin, r.len);
    f.lines.push_back(first_line + r.line);
  }
}

// The reader's way: a batch gets bytes in reads of `step`, is cut after `cut_at` bytes (or at the
// end), the rest is carried into the next batch.
inline Found frame(std::string_view text, std::size_t cut_at, std::size_t step) {
  CsvFramer framer(',', true);
  framer.start_source();
  Found f;
  std::string carry;
  std::size_t pos = 0;
  std::uint64_t line = 1;
  while (true) {
    Batch b;
    framer.start_batch(b);
    append(b, carry);
    carry.clear();
    framer.scan(b);
    std::size_t limit = std::max<std::size_t>(b.input.size(), std::min(text.size(), pos + cut_at));
    while (pos < limit) {
      std::size_t n = std::min(step, limit - pos);
      append(b, text.substr(pos, n));
      pos += n;
      framer.scan(b);
    }
    bool eof = pos == text.size();
    if (eof) framer.finish(b);
    collect(b, line, f);
    std::size_t cut = framer.cut();
    carry.assign(b.input.data() + cut, b.input.size() - cut);
    line += framer.cut_lines();
    if (eof) break;
  }
  return f;
}

}  // namespace ppipe::csv_frame_test
