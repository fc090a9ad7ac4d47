// The diagnostic scanner of json_diagnose.h: a state machine over the bytes of one line with an
// explicit stack of open containers, so deep nesting costs memory bounded by kMaxJsonLevels, never
// native stack. It stops at the first problem.
#include "stages/json_diagnose.h"

#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace ppipe {

std::string JsonProblem::message() const {
  std::string m = line > 1 ? fmt::format("{} at line {} of the value, column {}", reason, line, column)
                           : fmt::format("{} at column {}", reason, column);
  if (!hint.empty()) m += fmt::format(" ({})", hint);
  return m;
}

namespace {

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word_char(unsigned char c) { return is_letter(c) || is_digit(c) || c == '_'; }
bool is_number_char(unsigned char c) { return is_word_char(c) || c == '.' || c == '+' || c == '-'; }

int hex_value(unsigned char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = x - 'A' + 'a';
    if (y >= 'A' && y <= 'Z') y = y - 'A' + 'a';
    if (x != y) return false;
  }
  return true;
}

// A token as it appears in a message: in single quotes, cut when long. Only called on printable
// ASCII runs, so the message stays valid UTF-8.
std::string in_quotes(std::string_view t) {
  constexpr std::size_t kMax = 40;
  if (t.size() > kMax) return fmt::format("'{}...'", t.substr(0, kMax));
  return fmt::format("'{}'", t);
}


// NaN, Infinity and their usual spellings, with an optional sign.
bool is_non_finite(std::string_view w) {
  if (!w.empty() && (w[0] == '-' || w[0] == '+')) w.remove_prefix(1);
  return iequals(w, "nan") || iequals(w, "infinity") || iequals(w, "inf");
}

// One UTF-8 sequence at the start of `s` (Unicode table 3-7: no overlongs, no surrogates, at most
// U+10FFFF). Returns its length, or 0 with the reason in *why.
std::size_t utf8_sequence(std::string_view s, char32_t* cp, std::string* why) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = b(0);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  const char* range_error = nullptr;
  if (b0 < 0xC0) {
    *why = fmt::format("unexpected continuation byte 0x{:02X}", b0);
    return 0;
  } else if (b0 < 0xC2) {
    *why = fmt::format("overlong encoding starting with byte 0x{:02X}", b0);
    return 0;
  } else if (b0 < 0xE0) {
    need = 2;
  } else if (b0 < 0xF0) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0, range_error = "overlong encoding";
    if (b0 == 0xED) hi = 0x9F, range_error = "UTF-16 surrogate encoded in UTF-8";
  } else if (b0 < 0xF5) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90, range_error = "overlong encoding";
    if (b0 == 0xF4) hi = 0x8F, range_error = "code point above U+10FFFF";
  } else {
    *why = fmt::format("byte 0x{:02X} never occurs in UTF-8", b0);
    return 0;
  }
  for (std::size_t i = 1; i < need; ++i) {
    if (i >= s.size() || (b(i) & 0xC0) != 0x80) {
      *why = fmt::format("incomplete sequence starting with byte 0x{:02X}", b0);
      return 0;
    }
    if (i == 1 && (b(1) < lo || b(1) > hi)) {
      *why = fmt::format("{}, starting with bytes 0x{:02X} 0x{:02X}", range_error, b0, b(1));
      return 0;
    }
  }
  char32_t v = b0 & (0xFF >> (need + 1));
  for (std::size_t i = 1; i < need; ++i) v = (v << 6) | (b(i) & 0x3F);
  *cp = v;
  return need;
}

std::string escape_hint(unsigned char c) {
  switch (c) {
    case '\t': return "escape it as \\t";
    case '\n': return "escape it as \\n";
    case '\r': return "escape it as \\r";
    case '\b': return "escape it as \\b";
    case '\f': return "escape it as \\f";
    default: return fmt::format("escape it as \\u{:04X}", c);
  }
}

class Scanner {
 public:
  explicit Scanner(std::string_view t) : t_(t), n_(t.size()) {}

  JsonProblem run() {
    enum class State { kValue, kKey, kColon, kAfter } state = State::kValue;
    for (;;) {
      skip_ws();
      if (pos_ == n_) {
        if (!open_.empty()) return unterminated_container();
        if (state == State::kAfter) return {};
        return problem(pos_, "no value", n_ == 0 ? "the line is empty" : "the line holds only whitespace");
      }
      unsigned char c = t_[pos_];
      if (c == '/' && pos_ + 1 < n_ && (t_[pos_ + 1] == '/' || t_[pos_ + 1] == '*'))
        return problem(pos_, "comments are not allowed in JSON");
      switch (state) {
        case State::kValue: {
          if (c == '{' || c == '[') {
            char closer = c == '{' ? '}' : ']';
            std::size_t open = pos_;
            ++pos_;
            skip_ws();
            if (pos_ < n_ && t_[pos_] == closer) {  // empty: a value, not a level of its own
              ++pos_;
              state = State::kAfter;
              break;
            }
            // This container holds a value one level further in. simdjson refuses the 1024th
            // non-empty container, i.e. a value at level 1025 (json_diagnose.h).
            if (pos_ < n_ && open_.size() + 1 >= kMaxJsonLevels)
              return problem(pos_, fmt::format("nesting deeper than {} levels", kMaxJsonLevels));
            open_.push_back({closer, open});
            state = c == '{' ? State::kKey : State::kValue;
            break;
          }
          std::size_t start = pos_;
          if (JsonProblem p = scalar(); p.found()) return p;
          if (pos_ != start) {
            state = State::kAfter;
            break;
          }
          char top = open_.empty() ? 0 : open_.back().closer;
          if (c == ']' && top == ']') return problem(last_comma_, "trailing comma before ']'");
          if ((c == ',' && top) || (c == '}' && top == '}'))
            return problem(pos_, fmt::format("missing value before '{}'", char(c)));
          if (!top && (c == ']' || c == '}')) return unexpected_closer(pos_);
          return unexpected(pos_, "expected a value");
        }
        case State::kKey: {
          if (c == '"') {
            if (JsonProblem p = string(); p.found()) return p;
            state = State::kColon;
          } else if (c == '}') {  // `{}` was taken as a value: this follows a comma
            return problem(last_comma_, "trailing comma before '}'");
          } else if (c == '\'') {
            return problem(pos_, "single-quoted string", "JSON strings use double quotes");
          } else if (c == ':') {
            return problem(pos_, "missing key before ':'");
          } else if (c == ',' || c == ']' || c == '/' || c < 0x20 || c == 0x7F) {
            return unexpected(pos_, "expected a double-quoted key");
          } else if (JsonProblem p = bad_utf8(pos_); p.found()) {
            return p;
          } else {
            return problem(pos_, "object key must be a double-quoted string");
          }
          break;
        }
        case State::kColon: {
          if (c < 0x20 || c >= 0x7F) return unexpected(pos_, "expected ':'");
          if (c != ':') return problem(pos_, "missing ':' after object key");
          ++pos_;
          state = State::kValue;
          break;
        }
        case State::kAfter: {
          if (open_.empty()) {
            if (starts_value(c, true))
              return problem(pos_, "a second value after the first", "one JSON value per line");
            if (c == ']' || c == '}') return unexpected_closer(pos_);
            return unexpected(pos_, c == ',' || c == ':' ? "one JSON value per line" : "", " after the value");
          }
          char top = open_.back().closer;
          if (c == top) {
            open_.pop_back();
            ++pos_;
          } else if (c == ',') {
            last_comma_ = pos_++;
            state = top == '}' ? State::kKey : State::kValue;
          } else if (starts_value(c, false)) {
            return problem(pos_, top == '}' ? "missing ',' between object members" : "missing ',' between array elements");
          } else {
            return unexpected(pos_, fmt::format("expected ',' or '{}'", top));
          }
          break;
        }
      }
    }
  }

 private:
  struct Open {
    char closer;
    std::size_t pos;
  };

  // The 1-based line of pos within the text and its column on that line: a value on several lines
  // (--format json) was placed by its byte in the whole value ("at column 8" for line 3, column 2).
  std::pair<std::size_t, std::size_t> line_column(std::size_t pos) const {
    std::size_t line = 1, column = pos + 1;
    for (std::size_t i = 0; i < pos && i < n_; ++i)
      if (t_[i] == '\n') {
        ++line;
        column = pos - i;
      }
    return {line, column};
  }

  JsonProblem problem(std::size_t pos, std::string reason, std::string hint = {}) const {
    JsonProblem p;
    std::tie(p.line, p.column) = line_column(pos);
    p.reason = std::move(reason);
    p.hint = std::move(hint);
    return p;
  }

  void skip_ws() {
    while (pos_ < n_ && is_ws(t_[pos_])) ++pos_;
  }

  // "opened at column N", or "opened at line L, column N" of a value on several lines.
  std::string opened_at(std::size_t pos) const {
    const auto [line, column] = line_column(pos);
    return line > 1 ? fmt::format("opened at line {}, column {}", line, column) : fmt::format("opened at column {}", column);
  }

  JsonProblem unterminated_container() const {
    const Open& o = open_.back();
    return problem(n_, fmt::format("unterminated {} (missing '{}')", o.closer == '}' ? "object" : "array", o.closer),
                   opened_at(o.pos));
  }

  // Could the byte at pos_ start a value that lacks a separator before it? At the top level only
  // real JSON values count (`{"a":1}x` is garbage, not a second value).
  bool starts_value(unsigned char c, bool top_level) const {
    if (c == '"' || c == '{' || c == '[' || c == '-' || c == '\'' || is_digit(c)) return true;
    if (!is_letter(c)) return false;
    if (!top_level) return true;
    std::string_view w = word_at(pos_, is_word_char);
    return w == "true" || w == "false" || w == "null";
  }

  std::string_view word_at(std::size_t pos, bool (*in_word)(unsigned char)) const {
    std::size_t e = pos;
    while (e < n_ && in_word(t_[e])) ++e;
    return t_.substr(pos, e - pos);
  }

  JsonProblem bad_utf8(std::size_t pos) const {
    char32_t cp;
    std::string why;
    if (utf8_sequence(t_.substr(pos), &cp, &why) == 0) return problem(pos, "invalid UTF-8", why);
    return {};
  }

  // Something that has no place here. `hint` says what was expected; `where` qualifies the reason.
  JsonProblem unexpected(std::size_t pos, std::string hint, std::string_view where = {}) const {
    unsigned char c = t_[pos];
    if (c < 0x20 || c == 0x7F)
      return problem(pos, fmt::format("unexpected control character U+{:04X}{}", c, where), std::move(hint));
    if (c >= 0x80) {
      char32_t cp;
      std::string why;
      if (utf8_sequence(t_.substr(pos), &cp, &why) == 0) return problem(pos, "invalid UTF-8", why);
      if (cp == 0xFEFF) hint = "a byte-order mark, allowed only at the start of a file";
      return problem(pos, fmt::format("unexpected character U+{:04X}{}", static_cast<std::uint32_t>(cp), where),
                     std::move(hint));
    }
    std::string_view shown = is_letter(c) ? word_at(pos, is_word_char) : t_.substr(pos, 1);
    return problem(pos, fmt::format("unexpected {}{}", in_quotes(shown), where), std::move(hint));
  }

  // A ']' or '}' with nothing open.
  JsonProblem unexpected_closer(std::size_t pos) const {
    return problem(pos, fmt::format("unexpected '{}'", t_[pos]), t_[pos] == ']' ? "no array is open" : "no object is open");
  }

  // A string, number or literal at pos_; advances past it. Leaves pos_ alone (and reports
  // nothing) when the byte cannot start a scalar, for the caller to explain.
  JsonProblem scalar() {
    unsigned char c = t_[pos_];
    if (c == '"') return string();
    if (c == '\'') return problem(pos_, "single-quoted string", "JSON strings use double quotes");
    if (is_digit(c) || c == '-' || c == '+' || c == '.') {
      std::string_view num = word_at(pos_, is_number_char);
      if (is_json_number(num)) {
        pos_ += num.size();
        return {};
      }
      if (is_non_finite(num)) return problem(pos_, fmt::format("{} is not valid JSON", num), "use null or a string");
      std::string_view digits = num[0] == '-' ? num.substr(1) : num;
      std::string hint;
      if (num[0] == '+') hint = "a number cannot start with '+'";
      else if (!digits.empty() && digits[0] == '.') hint = "a number must start with a digit";
      else if (digits.size() > 1 && digits[0] == '0' && is_digit(digits[1])) hint = "leading zeros are not allowed";
      return problem(pos_, fmt::format("invalid number {}", in_quotes(num)), hint);
    }
    if (is_letter(c)) {
      std::string_view w = word_at(pos_, is_word_char);
      if (w == "true" || w == "false" || w == "null") {
        pos_ += w.size();
        return {};
      }
      if (is_non_finite(w)) return problem(pos_, fmt::format("{} is not valid JSON", w), "use null or a string");
      std::string hint = "strings need double quotes";
      for (std::string_view lit : {"true", "false", "null"}) {
        if (iequals(w, lit)) {
          hint = fmt::format("JSON literals are lowercase: {}", lit);
        } else if (lit.substr(0, w.size()) == w || w.substr(0, lit.size()) == lit) {
          hint = fmt::format("expected {}", lit);
        }
      }
      return problem(pos_, fmt::format("invalid literal {}", in_quotes(w)), hint);
    }
    return {};
  }

  // A double-quoted string at pos_; advances past its closing quote.
  JsonProblem string() {
    std::size_t open = pos_;
    std::size_t i = pos_ + 1;
    for (;;) {
      if (i >= n_) return problem(n_, "unterminated string (missing '\"')", opened_at(open));
      unsigned char c = t_[i];
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= n_) return problem(n_, "unterminated string (missing '\"')", opened_at(open));
        unsigned char e = t_[i + 1];
        if (e == 'u') {
          std::size_t len = escape_u(i);
          if (len == 0) return bad_u_escape(i);
          i += len;
          continue;
        }
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          i += 2;
          continue;
        }
        if (e >= 0x20 && e < 0x7F) return problem(i, fmt::format("invalid escape '\\{}'", char(e)));
        return problem(i, fmt::format("invalid escape: '\\' followed by byte 0x{:02X}", e));
      }
      if (c < 0x20)
        return problem(i, fmt::format("control character U+{:04X} in a string", c), escape_hint(c));
      if (c >= 0x80) {
        char32_t cp;
        std::string why;
        std::size_t len = utf8_sequence(t_.substr(i), &cp, &why);
        if (len == 0) return problem(i, "invalid UTF-8", why);
        i += len;
        continue;
      }
      ++i;
    }
    pos_ = i + 1;
    return {};
  }

  // The code point of the \uXXXX escape at i, or -1.
  long u_code(std::size_t i) const {
    if (i + 6 > n_ || t_[i] != '\\' || t_[i + 1] != 'u') return -1;
    long v = 0;
    for (std::size_t k = i + 2; k < i + 6; ++k) {
      if (!is_hex(t_[k])) return -1;
      v = v * 16 + hex_value(t_[k]);
    }
    return v;
  }

  // Length of a valid \u escape at i (6, or 12 for a surrogate pair), else 0.
  std::size_t escape_u(std::size_t i) const {
    long v = u_code(i);
    if (v < 0 || (v >= 0xDC00 && v <= 0xDFFF)) return 0;
    if (v < 0xD800 || v > 0xDBFF) return 6;
    long low = u_code(i + 6);
    return low >= 0xDC00 && low <= 0xDFFF ? 12 : 0;
  }

  JsonProblem bad_u_escape(std::size_t i) const {
    long v = u_code(i);
    if (v < 0) {
      std::size_t e = i + 2;
      while (e < n_ && e < i + 6 && t_[e] >= 0x20 && t_[e] < 0x7F && t_[e] != '"') ++e;
      return problem(i, fmt::format("invalid escape {}", in_quotes(t_.substr(i, e - i))), "\\u needs 4 hex digits");
    }
    std::string shown(t_.substr(i, 6));
    if (v >= 0xDC00)
      return problem(i, fmt::format("unpaired surrogate {}", in_quotes(shown)), "a low surrogate must follow a high one");
    return problem(i, fmt::format("unpaired surrogate {}", in_quotes(shown)),
                   "a high surrogate must be followed by a low one, \\uDC00 to \\uDFFF");
  }

  std::string_view t_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::size_t last_comma_ = 0;
  std::vector<Open> open_;
};

}  // namespace

JsonProblem diagnose_json(std::string_view line) { return Scanner(line).run(); }

std::string coarse_json_error(simdjson::error_code e) {
  using namespace simdjson;
  switch (e) {
    case UTF8_ERROR: return "invalid JSON: invalid UTF-8";
    case TAPE_ERROR: return "invalid JSON: bad structure (missing or extra comma, colon, brace or bracket, or content after the value)";
    case DEPTH_ERROR: return "invalid JSON: nesting deeper than 1024 levels";
    case STRING_ERROR: return "invalid JSON: bad string (invalid escape or unpaired surrogate)";
    case UNESCAPED_CHARS: return "invalid JSON: unescaped control character in a string";
    case UNCLOSED_STRING: return "invalid JSON: unterminated string";
    case NUMBER_ERROR: return "invalid JSON: bad number";
    case T_ATOM_ERROR: return "invalid JSON: bad literal (expected true)";
    case F_ATOM_ERROR: return "invalid JSON: bad literal (expected false)";
    case N_ATOM_ERROR: return "invalid JSON: bad literal (expected null)";
    case EMPTY: return "invalid JSON: no value";
    case INCORRECT_TYPE: return "invalid JSON: bad structure";
    default: return std::string("invalid JSON: ") + simdjson::error_message(e);
  }
}

bool refused_only_for_numbers(std::string_view text, simdjson::error_code e) {
  return e == simdjson::NUMBER_ERROR && !diagnose_json(text).found();
}

std::string describe_invalid_json(std::string_view line, simdjson::error_code e) {
  // (simdjson's MEMALLOC is no syntax error: "invalid JSON: Error allocating memory" was said of
  // valid records too long for the memory left.)
  if (e == simdjson::MEMALLOC) return "out of memory: the parse of the record did not fit in memory";
  JsonProblem p = diagnose_json(line);
  if (!p.found()) return coarse_json_error(e);
  return "invalid JSON: " + p.message();
}


}  // namespace ppipe
