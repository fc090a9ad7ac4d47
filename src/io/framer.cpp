#include "src/io/framer.h"

#include <cstring>

namespace ppipe {

namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";

// Blank lines (empty or only spaces, tabs and CRs) are skipped, not records.
bool is_blank(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
  return true;
}

}  // namespace

bool only_json_space(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != '\n' && !is_blank(p + i, 1)) return false;
  return true;
}

bool strip_bom(Batch& b, bool& pending, std::size_t* removed) {
  *removed = 0;
  if (!pending) return true;
  // A BOM can only open the source: decided once its first 3 bytes are here (or finish()).
  std::size_t size = b.input.size();
  if (size < 3 && (size == 0 || std::memcmp(b.input.data(), kBom, size) == 0)) return false;
  pending = false;
  if (size >= 3 && std::memcmp(b.input.data(), kBom, 3) == 0) {
    std::memmove(b.input.data(), b.input.data() + 3, size - 3);
    b.input.resize(size - 3);
    *removed = 3;
  }
  return true;
}

void JsonLinesFramer::start_source() {
  bom_pending_ = true;
  header_pending_ = header_line_;
  header_.reset();
}

bool JsonLinesFramer::limit(Batch& b, std::size_t n) {
  if (n == 0 || b.spans.size() <= n) return false;
  // Records after the n-th follow it, so its line has its '\n' before the cut.
  const RecordSpan& last = b.spans[n - 1];
  const std::size_t end = last.begin + last.len;
  const void* nl = std::memchr(b.input.data() + end, '\n', line_start_ - end);
  if (!nl) return false;
  line_start_ = static_cast<std::size_t>(static_cast<const char*>(nl) - b.input.data()) + 1;
  scanned_ = line_start_;
  line_ = last.line + 1;
  b.spans.resize(n);
  return true;
}

void JsonLinesFramer::start_batch(Batch& b) {
  b.spans.clear();
  b.header_row = Batch::kNoHeaderRow;
  scanned_ = 0;
  line_start_ = 0;
  line_ = 0;
}

inline void JsonLinesFramer::add_line(Batch& b, std::size_t begin, std::size_t end) {
  const char* p = b.input.data() + begin;
  std::size_t len = end - begin;
  if (len && p[len - 1] == '\r') --len;
  const bool blank = only_empty_blank_ ? len == 0 : is_blank(p, len);
  if (header_pending_ && !blank) {
    header_pending_ = false;
    if (len <= max_record_) {
      header_ = tsv_header(std::string_view(p, len));
      if (header_->malformed_row.empty()) return;
      b.header_row = line_;  // a record too: the decoder reports it (see InputHeader)
    } else {
      header_ = unusable_header(max_record_);  // its worker reports it as any record that long
    }
  }
  if (keep_blank_ || !blank)
    b.spans.push_back(RecordSpan{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(len), line_});
}

std::size_t JsonLinesFramer::scan(Batch& b) {
  std::size_t removed = 0;
  if (!strip_bom(b, bom_pending_, &removed)) return 0;
  const std::size_t size = b.input.size();
  const char* data = b.input.data();
  const char* p = data + scanned_;
  const char* end = data + size;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!nl) break;
    std::size_t at = static_cast<std::size_t>(nl - data);
    add_line(b, line_start_, at);
    ++line_;
    line_start_ = at + 1;
    p = nl + 1;
  }
  scanned_ = size;
  return removed;
}

void JsonLinesFramer::finish(Batch& b) {
  bom_pending_ = false;  // fewer than 3 bytes in the whole source: no BOM
  std::size_t size = b.input.size();
  if (line_start_ < size) {
    add_line(b, line_start_, size);
    line_start_ = size;
  }
  scanned_ = size;
}

void JsonLinesFramer::start_skip(const char* p, std::size_t n) {
  bom_pending_ = false;
  if (header_pending_) {  // the header line is the record skipped: no keys for the source's rows
    header_pending_ = false;
    header_ = unusable_header(max_record_);
  }
  skipped_ = n;
  skipped_cr_ = n && p[n - 1] == '\r';
}

std::size_t JsonLinesFramer::skip(const char* p, std::size_t n, bool* found) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
  if (!nl) {
    skipped_ += n;
    if (n) skipped_cr_ = p[n - 1] == '\r';
    *found = false;
    return n;
  }
  std::size_t len = static_cast<std::size_t>(nl - p);
  skipped_ += len;
  if (len) skipped_cr_ = nl[-1] == '\r';  // a CR right before the newline is not part of the record
  *found = true;
  return len + 1;
}

}  // namespace ppipe
