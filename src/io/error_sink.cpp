#include "src/io/error_sink.h"

#include <algorithm>

#include <fmt/format.h>

#include "src/io/error_record.h"

namespace ppipe {

namespace {

// The raw bytes of an error record's "record" or "record_base64" field.
bool record_bytes(simdjson::dom::element doc, std::string& out) {
  out.clear();
  std::string_view text;
  if (doc["record"].get(text) == simdjson::SUCCESS) {
    out.assign(text);
    return true;
  }
  if (doc["record_base64"].get(text) == simdjson::SUCCESS) return decode_base64(text, out);
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ErrorSink::look_at_first(std::string_view line) {
  simdjson::dom::element doc;
  if (parser_.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) return;
  std::uint64_t line_no = 0;
  if (doc["line"].get(line_no) != simdjson::SUCCESS) return;
  if (!record_bytes(doc, scratch_)) return;
  std::string_view r = scratch_;
  // UTF-16 text: a byte-order mark (FF FE or FE FF, bytes UTF-8 never has), or a NUL in every
  // other byte, as UTF-16 spells ASCII (its first failed record may be line 2: a CSV's header is
  // line 1). Other binary data has its NULs anywhere.
  const bool bom16 = r.size() >= 2 && ((r[0] == '\xff' && r[1] == '\xfe') || (r[0] == '\xfe' && r[1] == '\xff'));
  std::size_t nul_at[2] = {0, 0};
  const std::size_t look = std::min<std::size_t>(r.size(), 64);
  for (std::size_t i = 0; i < look; ++i) nul_at[i % 2] += r[i] == '\0';
  const std::size_t pairs = look / 2, most = std::max(nul_at[0], nul_at[1]), least = std::min(nul_at[0], nul_at[1]);
  if (bom16 || (pairs >= 2 && most * 5 >= pairs * 4 && least * 10 <= pairs)) {
    first_look_ = Look::kUtf16;
    return;
  }
  if (line_no != 1) return;
  // (Compressed input is no longer a hint: the reader decompresses gzip and zstd itself.)
  if (trim(r) == "{") {
    first_look_ = Look::kPrettyObject;
  } else if (trim(r) == "[") {
    first_look_ = Look::kPrettyArray;
  }
}

int ErrorSink::show(std::string_view line) {
  simdjson::dom::element doc;
  if (parser_.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) return out_.append(line);
  std::string_view source, stage, message;
  std::uint64_t line_no = 0;
  // Our own records always have these fields; a missing one shows as empty.
  if (doc["source"].get(source) || doc["stage"].get(stage) || doc["error"].get(message) || doc["line"].get(line_no))
    return out_.append(line);
  std::string text = fmt::format("{}:{}: {}: {}", terminal_safe(source), line_no, terminal_safe(stage),
                                 terminal_safe(message));
  if (record_bytes(doc, scratch_)) {
    text.append(" | ");
    text.append(terminal_safe(scratch_, 80));
  }
  text.push_back('\n');
  return out_.append(text);
}

int ErrorSink::append(std::string_view records) {
  if (records.empty()) return 0;
  if (count_ == 0) look_at_first(records.substr(0, records.find('\n')));
  if (!human_) {
    count_ += static_cast<std::uint64_t>(std::count(records.begin(), records.end(), '\n'));
    return out_.append(records);
  }
  std::size_t pos = 0;
  while (pos < records.size()) {
    std::size_t end = records.find('\n', pos);
    if (end == std::string_view::npos) end = records.size();
    ++count_;
    if (count_ <= kMaxShown) {
      if (int e = show(records.substr(pos, end - pos))) return e;
    } else if (count_ == kMaxShown + 1) {
      if (int e = out_.append(fmt::format("ppipe: more than {} records failed; counting the rest\n", kMaxShown)))
        return e;
    } else {
      // Past the cut only the count matters (every record is one line ending in '\n').
      if (end + 1 < records.size())
        count_ += static_cast<std::uint64_t>(
            std::count(records.begin() + static_cast<std::ptrdiff_t>(end + 1), records.end(), '\n'));
      break;
    }
    pos = end + 1;
  }
  return 0;
}

std::string ErrorSink::summary() const {
  if (!human_ || count_ == 0) return "";
  return fmt::format("ppipe: {} record{} went to the error stream{}; --errors FILE keeps them as JSON Lines\n",
                     count_, count_ == 1 ? "" : "s",
                     count_ > kMaxShown ? fmt::format(" (the first {} shown)", kMaxShown) : "");
}

std::string ErrorSink::hint(std::uint64_t records_out) const {
  if (count_ <= records_out) return "";
  switch (first_look_) {
    case Look::kPrettyObject:
      return "the input looks like pretty-printed JSON ('{' alone on line 1), not JSON Lines: "
             "read it with --format json (JSON values in any layout)";
    case Look::kPrettyArray:
      return "the input looks like a pretty-printed JSON array ('[' alone on line 1), not JSON Lines: "
             "read its elements as the records with --format json --unwrap";
    case Look::kUtf16:
      return "the input looks like UTF-16 text (a byte-order mark, or NUL bytes between the characters); "
             "ppipe reads UTF-8: convert it first (iconv -f UTF-16 -t UTF-8 FILE | ppipe ...)";
    case Look::kNone: break;
  }
  return "";
}

}  // namespace ppipe
