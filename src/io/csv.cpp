#include "src/io/csv.h"

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "src/util/json_string.h"
#include "src/util/text_util.h"

namespace ppipe {

namespace {

// Bit i set where p[i] == c, for the 64 bytes at p.
inline std::uint64_t byte_mask(const char* p, char c) {
#if defined(__SSE2__)
  const __m128i v = _mm_set1_epi8(c);
  std::uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    m |= static_cast<std::uint64_t>(static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, v)))) << (16 * k);
  }
  return m;
#else
  std::uint64_t m = 0;
  for (int i = 0; i < 64; ++i) m |= static_cast<std::uint64_t>(p[i] == c) << i;
  return m;
#endif
}

// Bit i: an odd number of bits set in x[0..i] (the quote parity up to and including i).
inline std::uint64_t prefix_xor(std::uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

// One field of a record from `pos`: its value (dequoted into scratch when quoted) and where the
// next field starts (npos after the last). False with *error for a malformed field.
bool next_field(std::string_view rec, std::size_t& pos, char delim, std::string& scratch, std::string_view* value,
                bool* quoted, std::size_t column, std::string* error) {
  *quoted = false;
  if (pos < rec.size() && rec[pos] == '"') {
    *quoted = true;
    scratch.clear();
    std::size_t i = pos + 1;
    for (;;) {
      std::size_t q = rec.find('"', i);
      if (q == std::string_view::npos) {
        *error = fmt::format("unterminated quoted field (field {}): a quote was left open", column);
        return false;
      }
      scratch.append(rec.substr(i, q - i));
      if (q + 1 < rec.size() && rec[q + 1] == '"') {  // "" is a quote
        scratch.push_back('"');
        i = q + 2;
        continue;
      }
      i = q + 1;
      break;
    }
    *value = scratch;
    if (i == rec.size()) {
      pos = std::string_view::npos;
    } else if (rec[i] == delim) {
      pos = i + 1;
    } else {
      *error = fmt::format("text after the closing quote of field {}", column);
      return false;
    }
    return true;
  }
  std::size_t end = rec.find(delim, pos);
  std::string_view raw = rec.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
  if (raw.find('"') != std::string_view::npos) {
    *error = fmt::format("a bare quote in unquoted field {} (quote the field and double the quote)", column);
    return false;
  }
  // A CR not before a LF (the framer took a CRLF's CR off) is a line end of classic Mac OS: read
  // as text, a whole file of them would be one header row and no records, silently.
  if (raw.find('\r') != std::string_view::npos) {
    *error = fmt::format(
        "a carriage return (CR) in unquoted field {}: line ends of classic Mac OS? (quote the field, or "
        "convert them: tr '\\r' '\\n')",
        column);
    return false;
  }
  *value = raw;
  pos = end == std::string_view::npos ? std::string_view::npos : end + 1;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- framer

void CsvFramer::start_source() {
  bom_pending_ = true;
  header_pending_ = header_row_;
  header_.reset();
}

void CsvFramer::start_batch(Batch& b) {
  b.spans.clear();
  b.header_row = Batch::kNoHeaderRow;
  scanned_ = 0;
  record_start_ = 0;
  lines_ = 0;
  record_line_ = 0;
  in_quotes_ = false;  // a batch starts at a record's start
  closed_at_ = SIZE_MAX;
}

void CsvFramer::add_record(Batch& b, std::size_t begin, std::size_t end) {
  const char* p = b.input.data() + begin;
  std::size_t len = end - begin;
  if (len && p[len - 1] == '\r') --len;
  if (len == 0) return;  // an empty line: no record
  if (header_pending_) {
    header_pending_ = false;
    if (len > max_record_) {
      // Its worker reports it as any record that long; the rows after it have no keys.
      header_ = unusable_header(max_record_);
    } else {
      header_ = csv_header(std::string_view(p, len), delimiter_);
      if (header_->malformed_row.empty()) return;
      // A malformed header row is a record too: the decoder reports it (see InputHeader).
      b.header_row = record_line_;
    }
  }
  b.spans.push_back(RecordSpan{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(len), record_line_});
}

std::size_t CsvFramer::scan(Batch& b) {
  std::size_t removed = 0;
  if (!strip_bom(b, bom_pending_, &removed)) return 0;
  const std::size_t size = b.input.size();
  const char* data = b.input.data();
  std::size_t i = scanned_;
  const char delim = delimiter_;
  // One byte by the rule of Quotes (its state here: in_quotes_, the byte before, closed_at_).
  auto scalar = [&](std::size_t at) {
    const char c = data[at];
    if (c == '"') {
      const char prev = at == record_start_ ? '\n' : data[at - 1];
      if (in_quotes_) {
        in_quotes_ = false;
        closed_at_ = at;
      } else {
        in_quotes_ = Quotes::opens(prev, closed_at_ + 1 == at, delim);
      }
    } else if (c == '\n') {
      ++lines_;
      if (!in_quotes_) {
        add_record(b, record_start_, at);
        record_start_ = at + 1;
        record_line_ = lines_;
      }
    }
  };
  // 64 bytes at a time: the newlines outside quotes are record ends. Taking every quote as a
  // toggle, a quote that opens must be at a field's start; a block with one that is not (a bare
  // quote, rare) goes byte by byte.
  while (i + 64 <= size) {
    std::uint64_t quotes = byte_mask(data + i, '"');
    std::uint64_t nls = byte_mask(data + i, '\n');
    if ((quotes | nls) == 0) {
      i += 64;
      continue;
    }
    std::uint64_t inside = prefix_xor(quotes) ^ (in_quotes_ ? ~std::uint64_t{0} : 0);
    if (quotes) {
      const std::uint64_t opening = quotes & inside;
      const bool first_at_start = i == record_start_ || Quotes::opens(data[i - 1], closed_at_ + 1 == i, delim);
      const std::uint64_t starts = ((byte_mask(data + i, delim) | nls | (quotes & ~inside)) << 1) |
                                   (first_at_start ? 1 : 0);
      if (opening & ~starts) {
        for (const std::size_t end = i + 64; i < end; ++i) scalar(i);
        continue;
      }
      const std::uint64_t closing = quotes & ~inside;
      if (closing) closed_at_ = i + 63 - static_cast<std::size_t>(__builtin_clzll(closing));
    }
    std::uint64_t ends = nls & ~inside;
    std::uint64_t all = nls;
    while (all) {
      int bit = __builtin_ctzll(all);
      all &= all - 1;
      ++lines_;
      if (ends & (std::uint64_t{1} << bit)) {
        std::size_t at = i + static_cast<std::size_t>(bit);
        add_record(b, record_start_, at);
        record_start_ = at + 1;
        record_line_ = lines_;
      }
    }
    in_quotes_ = (inside >> 63) & 1;
    i += 64;
  }
  for (; i < size; ++i) scalar(i);
  scanned_ = size;
  return removed;
}

bool CsvFramer::limit(Batch& b, std::size_t n) {
  if (n == 0 || b.spans.size() <= n) return false;
  // A record ends at a '\n' outside quotes, so the cut after the n-th is outside quotes too: the
  // next batch scans the carried bytes from a clean state. Its span excludes the CR of a CRLF;
  // the '\n' that ends it is the first one after the span (its quoted newlines are inside it).
  const RecordSpan& last = b.spans[n - 1];
  const char* data = b.input.data();
  const std::size_t end = last.begin + last.len;
  const void* nl = std::memchr(data + end, '\n', record_start_ - end);
  if (!nl) return false;
  record_start_ = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
  record_line_ = last.line + static_cast<std::uint32_t>(std::count(data + last.begin, data + end, '\n')) + 1;
  scanned_ = record_start_;
  lines_ = record_line_;
  in_quotes_ = false;
  b.spans.resize(n);
  return true;
}

void CsvFramer::finish(Batch& b) {
  bom_pending_ = false;
  std::size_t size = b.input.size();
  if (record_start_ < size) {
    add_record(b, record_start_, size);  // also one left inside a quote: the decoder reports it
    record_start_ = size;
  }
  scanned_ = size;
}

void CsvFramer::start_skip(const char* p, std::size_t n) {
  bom_pending_ = false;
  if (header_pending_) {  // the header row is the record skipped: no keys for the source's rows
    header_pending_ = false;
    header_ = unusable_header(max_record_);
  }
  skipped_ = n;
  skip_quotes_ = Quotes{};
  skipped_newlines_ = 0;
  for (std::size_t i = 0; i < n; ++i) {
    skip_quotes_.step(p[i], delimiter_);
    if (p[i] == '\n') ++skipped_newlines_;  // (inside quotes: the batch held no whole record)
  }
  skipped_cr_ = n && p[n - 1] == '\r';
}

std::size_t CsvFramer::skip(const char* p, std::size_t n, bool* found) {
  *found = false;
  for (std::size_t i = 0; i < n; ++i) {
    skip_quotes_.step(p[i], delimiter_);
    if (p[i] == '\n') {
      if (skip_quotes_.in) {
        ++skipped_newlines_;  // (the lines after the record are numbered past these)
        continue;
      }
      *found = true;
      skipped_ += i;
      skipped_cr_ = i > 0 ? p[i - 1] == '\r' : skipped_cr_;
      return i + 1;
    }
  }
  skipped_ += n;
  if (n) skipped_cr_ = p[n - 1] == '\r';
  return n;
}

// ---------------------------------------------------------------- decoding

std::shared_ptr<const InputHeader> csv_header(std::string_view record, char delimiter) {
  auto h = std::make_shared<InputHeader>();
  std::string scratch, error;
  std::size_t pos = 0, column = 0;
  while (pos != std::string_view::npos) {
    std::string_view value;
    bool quoted = false;
    if (!next_field(record, pos, delimiter, scratch, &value, &quoted, column + 1, &error)) {
      value = record.substr(pos);  // malformed: the rest of the line, as it is, is the last name
      pos = std::string_view::npos;
      h->malformed_row.assign(record);
    }
    h->add(value, ++column);
  }
  return h;
}

bool decode_csv(std::string_view record, const InputHeader* header, char delimiter, bool infer, std::string* out,
                std::string* error, bool header_row) {
  if (header && !header->unusable.empty()) {
    *error = header->unusable;
    return false;
  }
  if (!simdjson::validate_utf8(record.data(), record.size())) {
    *error = "invalid UTF-8 in a field";
    return false;
  }
  thread_local std::string scratch;
  out->clear();
  out->push_back('{');
  std::size_t pos = 0, column = 0;
  const std::size_t want = header ? header->keys_json.size() : 0;
  while (pos != std::string_view::npos) {
    ++column;
    std::string_view value;
    bool quoted = false;
    if (!next_field(record, pos, delimiter, scratch, &value, &quoted, column, error)) {
      if (header_row) *error = "the header row: " + *error + " (the keys are its text as it is)";
      return false;
    }
    if (header && column > want) continue;  // counted, reported below
    if (column > 1) out->push_back(',');
    if (header) {
      out->append(header->keys_json[column - 1]);
    } else {
      fmt::format_to(std::back_inserter(*out), "\"{}\"", column);
    }
    out->push_back(':');
    if (infer && is_json_number(value)) out->append(value);
    else append_json_string_jq(*out, value);
  }
  if (header && column != want) {
    *error = fmt::format("the row has {} field{}, the header {}", column, column == 1 ? "" : "s", want);
    return false;
  }
  out->push_back('}');
  return true;
}

}  // namespace ppipe
