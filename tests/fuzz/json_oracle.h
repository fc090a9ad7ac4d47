// An independent JSON validator for the fuzz targets: RFC 8259 as written, plus the rules the
// `parse` stage documents (valid UTF-8, no unpaired surrogate escapes, nesting at most 1024).
// Numbers of any size are valid. Deliberately simple and slow: it is the oracle, not the product.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ppipe_fuzz {

// RFC 8259 JSON text, strict: ws value ws, nothing else.
class JsonOracle {
 public:
  // `max_depth` bounds the nesting of arrays and objects. With `scalars_count`, a scalar inside
  // the innermost container counts as one more level: simdjson's DOM parser does that (1024
  // nested empty arrays pass, 1024 nested arrays around a `1` fail with DEPTH_ERROR).
  explicit JsonOracle(std::string_view s, int max_depth = 1024, bool scalars_count = false)
      : s_(s), max_depth_(max_depth), scalars_count_(scalars_count) {}

  bool valid() {
    ws();
    if (!value(1)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  unsigned char cur() const { return static_cast<unsigned char>(s_[i_]); }

  void ws() {
    while (!at_end() && (cur() == ' ' || cur() == '\t' || cur() == '\n' || cur() == '\r')) ++i_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (at_end()) return false;
    if (scalars_count_ && depth > max_depth_) return false;
    switch (cur()) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string();
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool object(int depth) {
    if (depth > max_depth_) return false;
    ++i_;
    ws();
    if (!at_end() && cur() == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      ws();
      if (at_end() || cur() != '"' || !string()) return false;
      ws();
      if (at_end() || cur() != ':') return false;
      ++i_;
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (at_end()) return false;
      if (cur() == '}') {
        ++i_;
        return true;
      }
      if (cur() != ',') return false;
      ++i_;
    }
  }

  bool array(int depth) {
    if (depth > max_depth_) return false;
    ++i_;
    ws();
    if (!at_end() && cur() == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (at_end()) return false;
      if (cur() == ']') {
        ++i_;
        return true;
      }
      if (cur() != ',') return false;
      ++i_;
    }
  }

  bool digits() {
    std::size_t start = i_;
    while (!at_end() && cur() >= '0' && cur() <= '9') ++i_;
    return i_ > start;
  }

  bool number() {
    if (!at_end() && cur() == '-') ++i_;
    if (at_end()) return false;
    if (cur() == '0') {
      ++i_;
    } else if (cur() >= '1' && cur() <= '9') {
      digits();
    } else {
      return false;
    }
    if (!at_end() && cur() == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (!at_end() && (cur() == 'e' || cur() == 'E')) {
      ++i_;
      if (!at_end() && (cur() == '+' || cur() == '-')) ++i_;
      if (!digits()) return false;
    }
    return true;
  }

  bool hex4(std::uint32_t& out) {
    if (i_ + 4 > s_.size()) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
      unsigned char c = cur();
      out <<= 4;
      if (c >= '0' && c <= '9') out |= c - '0';
      else if (c >= 'a' && c <= 'f') out |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') out |= c - 'A' + 10;
      else return false;
      ++i_;
    }
    return true;
  }

  // One UTF-8 encoded code point (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
  bool utf8_char() {
    unsigned char c = cur();
    int n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i_;
      return true;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    ++i_;
    for (int k = 0; k < n; ++k) {
      if (at_end() || (cur() & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cur() & 0x3F);
      ++i_;
    }
    static const std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    return true;
  }

  bool string() {
    ++i_;  // the opening quote
    for (;;) {
      if (at_end()) return false;
      unsigned char c = cur();
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c != '\\') {
        if (!utf8_char()) return false;
        continue;
      }
      ++i_;
      if (at_end()) return false;
      c = cur();
      ++i_;
      switch (c) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': break;
        case 'u': {
          std::uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first
          if (cp >= 0xD800 && cp <= 0xDBFF) {               // a high one needs a low one next
            if (s_.substr(i_, 2) != "\\u") return false;
            i_ += 2;
            std::uint32_t lo;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
          }
          break;
        }
        default: return false;
      }
    }
  }

  std::string_view s_;
  int max_depth_;  // 1024: simdjson's default and the stage's documented limit
  bool scalars_count_;
  std::size_t i_ = 0;
};

}  // namespace ppipe_fuzz
