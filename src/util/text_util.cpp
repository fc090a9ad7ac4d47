#include "src/util/text_util.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include <simdjson.h>

namespace ppipe {

// A non-negative decimal number at the start of `text`: its value and length.
std::optional<std::pair<double, std::size_t>> leading_number(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.')) ++n;
  if (n == 0) return std::nullopt;
  std::string digits(text.substr(0, n));
  if (digits.front() == '.' || digits.back() == '.' || std::count(digits.begin(), digits.end(), '.') > 1)
    return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || !std::isfinite(v)) return std::nullopt;
  return std::pair{v, n};
}

std::optional<double> parse_duration(std::string_view text) {
  auto num = leading_number(text);
  if (!num) return std::nullopt;
  std::string_view unit = text.substr(num->second);
  double scale = 0;
  if (unit == "ms") scale = 1e-3;
  else if (unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else return std::nullopt;
  return num->first * scale;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p == text.data()) return std::nullopt;
  std::string suffix(p, text.data() + text.size());
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB") shift = 10;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB") shift = 20;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB") shift = 30;
  else return std::nullopt;
  if (value == 0 || value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("haed" -> "head"
// is one typo, not two).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(n, m);
}

std::string nearest_name(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Allow about one typo per three letters, at least one.
  std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

void reverse_utf8(std::string_view s, char* out) {
  std::size_t at = s.size();
  for (std::size_t i = 0; i < s.size();) {
    std::size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    at -= j - i;
    std::memcpy(out + at, s.data() + i, j - i);
    i = j;
  }
}

std::size_t utf8_safe_prefix(std::string_view s) {
  std::size_t n = s.size();
  std::size_t i = n;
  // Walk back over at most 3 continuation bytes to the last lead byte.
  while (i > 0 && n - i < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i == 0) return n;
  unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  std::size_t have = n - (i - 1);
  return have >= need ? n : i - 1;
}


namespace {

// The length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  unsigned char c1 = b(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
  if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
  if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
  return len;
}

}  // namespace

namespace {
// The bytes at i that one U+FFFD replaces when no valid sequence starts there: the longest start
// of a valid sequence (its lead byte and the continuation bytes that may follow it), at least one
// byte. Unicode's "maximal subpart" practice: a cut 4-byte sequence F0 9F 98 is one U+FFFD, not
// three, as in jq; an encoded surrogate (ED A0 80) or an overlong form (E0 80 80) is one U+FFFD
// per byte, where jq 1.6 gives one for the whole.
std::size_t invalid_run(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (b0 >= 0xC2 && b0 <= 0xDF) need = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) need = 3, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
  else if (b0 >= 0xF0 && b0 <= 0xF4) need = 4, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
  else return 1;
  std::size_t n = 1;
  while (n < need && i + n < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + n]);
    if (n == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    ++n;
  }
  return n;
}
}  // namespace

std::string utf8_replace_invalid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_sequence(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      i += invalid_run(s, i);
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string shell_quote(std::string_view word, bool always) {
  auto safe = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("._-/+,:=@%").find(c) != std::string_view::npos;
  };
  if (!always && !word.empty() && std::all_of(word.begin(), word.end(), safe)) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  return out + "'";
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

namespace {

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // continuation byte or never valid as a lead
}

// "\\xNN" (or "\\u00NN") for byte c.
void append_hex_escape(std::string& out, const char* prefix, unsigned c) {
  static const char kHex[] = "0123456789abcdef";
  out += prefix;
  out.push_back(kHex[(c >> 4) & 0xf]);
  out.push_back(kHex[c & 0xf]);
}

}  // namespace

std::string terminal_safe(std::string_view s, std::size_t max_chars, bool keep_newlines) {
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (chars == max_chars) {
      out.append("…");
      break;
    }
    ++chars;
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = utf8_length(c);
    if (len == 1) {
      if ((c >= 0x20 && c != 0x7f) || (keep_newlines && c == '\n')) {
        out.push_back(static_cast<char>(c));
      } else if (c == '\t') {
        out.append("\\t");
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '\r') {
        out.append("\\r");
      } else {
        append_hex_escape(out, "\\x", c);
      }
      ++i;
      continue;
    }
    if (len == 0 || i + len > s.size() || !simdjson::validate_utf8(s.data() + i, len)) {
      append_hex_escape(out, "\\x", c);
      ++i;
      continue;
    }
    // C1 controls (U+0080..U+009F, bytes C2 80..C2 9F) are terminal escapes on some terminals.
    if (c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      append_hex_escape(out, "\\u00", static_cast<unsigned char>(s[i + 1]));
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  return out;
}

}  // namespace ppipe
