#include "src/util/json_string.h"

#include <cstdint>
#include <cstring>

#include <simdjson.h>

#include "src/util/text_util.h"

namespace ppipe {

namespace {

// true = needs escaping.
struct EscapeTable {
  bool t[256];
  constexpr explicit EscapeTable(bool escape_del) : t() {
    for (int c = 0; c < 0x20; ++c) t[c] = true;
    t[static_cast<unsigned char>('"')] = true;
    t[static_cast<unsigned char>('\\')] = true;
    t[0x7f] = escape_del;
  }
};
constexpr EscapeTable kEscapeJq(true);
constexpr EscapeTable kEscapeRaw(false);

constexpr char kHex[] = "0123456789abcdef";

// True when one of the 8 bytes may need escaping: < 0x20, '"', '\\' (and DEL if kEscapeDel). SWAR,
// no branch per byte; a false positive only sends the word to the byte loop.
template <bool kEscapeDel>
inline bool word_needs_escape(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  std::uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
  std::uint64_t hit = below_space | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'));
  if constexpr (kEscapeDel) hit |= has_zero(x ^ (kOnes * 0x7f));
  return hit != 0;
}

// The length of s's prefix that needs no escape.
template <bool kEscapeDel>
std::size_t plain_prefix(std::string_view s) {
  const EscapeTable& escape = kEscapeDel ? kEscapeJq : kEscapeRaw;
  std::size_t clean = 0;
  while (clean + 8 <= s.size()) {
    std::uint64_t word;
    std::memcpy(&word, s.data() + clean, sizeof(word));
    if (word_needs_escape<kEscapeDel>(word)) break;
    clean += 8;
  }
  while (clean < s.size() && !escape.t[static_cast<unsigned char>(s[clean])]) ++clean;
  return clean;
}

template <bool kEscapeDel>
void append_escaped(std::string& out, std::string_view s) {
  const EscapeTable& escape = kEscapeDel ? kEscapeJq : kEscapeRaw;
  // Most strings need no escape: checked first, then written with one resize and one copy
  // (agg writes a group key for every record, and push_back per part cost more than the check).
  const std::size_t plain = plain_prefix<kEscapeDel>(s);
  if (plain == s.size()) {
    const std::size_t at = out.size();
    out.resize(at + s.size() + 2);
    char* d = out.data() + at;
    d[0] = '"';
    if (!s.empty()) std::memcpy(d + 1, s.data(), s.size());
    d[s.size() + 1] = '"';
    return;
  }
  out.push_back('"');
  const char* run = s.data();  // start of the pending run of bytes that need no escape
  const char* p = run + plain;  // (the prefix checked above is part of that run)
  const char* end = run + s.size();
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, sizeof(word));
      if (!word_needs_escape<kEscapeDel>(word)) {
        p += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(*p);
    if (!escape.t[c]) {
      ++p;
      continue;
    }
    out.append(run, static_cast<std::size_t>(p - run));
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: {
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(buf, 6);
      }
    }
    ++p;
    run = p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out.push_back('"');
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // (File names, --arg values and messages quoting them may be any bytes: JSON text must be
  // UTF-8, so an invalid sequence is written as U+FFFD, as jq reads it.)
  if (simdjson::validate_utf8(s.data(), s.size())) append_escaped<false>(out, s);
  else append_escaped<false>(out, utf8_replace_invalid(s));
}

void append_json_string_jq(std::string& out, std::string_view s) { append_escaped<true>(out, s); }

bool json_string_is_plain_jq(std::string_view s) { return plain_prefix<true>(s) == s.size(); }

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, of any length.
bool is_json_number(std::string_view t) {
  std::size_t i = 0, n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n || !digit(t[i])) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < n && digit(t[i])) ++i;
  }
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !digit(t[i])) return false;
    while (i < n && digit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !digit(t[i])) return false;
    while (i < n && digit(t[i])) ++i;
  }
  return i == n;
}

}  // namespace ppipe
