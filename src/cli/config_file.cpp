#include "src/cli/config_file.h"

#include <cctype>
#include <cstdint>

#include <fmt/format.h>

#include "src/util/text_util.h"

namespace ppipe {

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool parse(std::vector<ConfigEntry>* entries, std::string* error) {
    try {
      while (pos_ < s_.size()) parse_line(entries);
      return true;
    } catch (const std::string& message) {
      *error = fmt::format("line {}: {}", line_, message);
      return false;
    }
  }

 private:
  bool at_end_of_line() const { return pos_ >= s_.size() || s_[pos_] == '\n'; }
  void skip_blanks() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  void skip_to_next_line() {
    while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
    if (pos_ < s_.size()) {
      ++pos_;
      ++line_;
    }
  }
  // After a key or a value: only blanks and a comment may follow on the line.
  void end_line(const std::string& what) {
    skip_blanks();
    if (!at_end_of_line() && s_[pos_] != '#') throw fmt::format("unexpected text after {}", what);
    skip_to_next_line();
  }
  // Blanks, line ends and comments, inside an array.
  void skip_space_in_array() {
    for (;;) {
      skip_blanks();
      if (pos_ < s_.size() && s_[pos_] == '#') {
        while (!at_end_of_line()) ++pos_;
      } else if (pos_ < s_.size() && s_[pos_] == '\n') {
        ++pos_;
        ++line_;
      } else {
        return;
      }
    }
  }

  // A "basic" or 'literal' string; pos_ is at the opening quote.
  std::string parse_string() {
    const char quote = s_[pos_++];
    if (s_.substr(pos_, 2) == std::string(2, quote))
      throw std::string("multi-line strings (\"\"\" or ''') are not supported: write the value on one line");
    std::string out;
    for (;;) {
      if (at_end_of_line()) throw fmt::format("a string is not closed: {} missing", quote);
      char c = s_[pos_++];
      if (c == quote) return out;
      if (c != '\\' || quote == '\'') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) throw std::string("a string ends in a backslash");
      char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u':
        case 'U': {
          std::size_t digits = e == 'u' ? 4 : 8;
          std::uint32_t cp = 0;
          for (std::size_t i = 0; i < digits; ++i, ++pos_) {
            char h = pos_ < s_.size() ? s_[pos_] : '\0';
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0) throw fmt::format("\\{} needs {} hex digits", e, digits);
            cp = cp * 16 + static_cast<std::uint32_t>(v);
          }
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) throw fmt::format("\\{} escape is not a Unicode scalar value", e);
          append_utf8(out, cp);
          break;
        }
        default:
          throw fmt::format("unknown escape \\{} in a \"string\" (use \\\\ for a backslash, or a 'literal string')", e);
      }
    }
  }

  // A bare value (10, 1M, true, an INI-style word): up to `stop` or a comment (a '#' after a
  // blank), trimmed.
  std::string parse_bare(std::string_view stop) {
    std::size_t start = pos_;
    while (!at_end_of_line() && stop.find(s_[pos_]) == std::string_view::npos &&
           !(s_[pos_] == '#' && pos_ > start && (s_[pos_ - 1] == ' ' || s_[pos_ - 1] == '\t')))
      ++pos_;
    std::string_view v = s_.substr(start, pos_ - start);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
    return std::string(v);
  }

  std::string parse_scalar(std::string_view stop) {
    if (s_[pos_] == '"' || s_[pos_] == '\'') return parse_string();
    return parse_bare(stop);
  }

  void parse_line(std::vector<ConfigEntry>* entries) {
    skip_blanks();
    if (at_end_of_line() || s_[pos_] == '#' || s_[pos_] == ';') return skip_to_next_line();
    if (s_[pos_] == '[') {
      std::size_t close = s_.find(']', pos_);
      std::size_t eol = s_.find('\n', pos_);
      if (close == std::string_view::npos || close > eol) throw std::string("a section header is not closed: ']' missing");
      std::string_view name = s_.substr(pos_ + 1, close - pos_ - 1);
      if (name != "default")
        throw fmt::format("sections ([{}]) are not used: the keys are ppipe's long options, at the top level", name);
      pos_ = close + 1;
      return end_line("the section header");
    }
    ConfigEntry entry;
    entry.line = line_;
    if (s_[pos_] == '"' || s_[pos_] == '\'') {
      entry.key = parse_string();
    } else {
      std::size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' || s_[pos_] == '_')) ++pos_;
      entry.key = std::string(s_.substr(start, pos_ - start));
    }
    if (entry.key.empty()) throw std::string("expected a key (a long option name without --) or a comment");
    for (const ConfigEntry& e : *entries)
      if (e.key == entry.key)
        throw fmt::format("'{}' is set twice (first on line {}): give all its values as one array, {} = [..., ...]",
                          entry.key, e.line, entry.key);
    skip_blanks();
    if (at_end_of_line() || s_[pos_] == '#') {
      // INI's bare key: a flag that is on.
      entry.values.push_back("true");
    } else {
      if (s_[pos_] != '=') throw fmt::format("expected '=' after '{}'", entry.key);
      ++pos_;
      skip_blanks();
      if (at_end_of_line() || s_[pos_] == '#') throw fmt::format("'{}' has no value after '='", entry.key);
      if (s_[pos_] == '[') {
        ++pos_;
        for (;;) {
          skip_space_in_array();
          if (pos_ >= s_.size()) throw fmt::format("the array of '{}' is not closed: ']' missing", entry.key);
          if (s_[pos_] == ']') break;
          if (s_[pos_] == '[') throw fmt::format("'{}': arrays inside arrays are not used", entry.key);
          if (s_[pos_] == ',') throw fmt::format("'{}': an empty element in the array", entry.key);
          entry.values.push_back(parse_scalar(",]"));
          skip_space_in_array();
          if (pos_ >= s_.size()) throw fmt::format("the array of '{}' is not closed: ']' missing", entry.key);
          if (s_[pos_] == ',') {
            ++pos_;
          } else if (s_[pos_] != ']') {
            throw fmt::format("'{}': expected ',' or ']' in the array", entry.key);
          }
        }
        ++pos_;
      } else {
        entry.values.push_back(parse_scalar(""));
      }
    }
    std::string what = fmt::format("the value of '{}'", entry.key);
    entries->push_back(std::move(entry));
    end_line(what);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

}  // namespace

bool parse_config_text(std::string_view text, std::vector<ConfigEntry>* entries, std::string* error) {
  entries->clear();
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark (editors on Windows)
  return Parser(text).parse(entries, error);
}

std::string config_quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);  // UTF-8 (or any other byte) as it is
        }
    }
  }
  return out + "\"";
}

std::optional<bool> config_flag_value(std::string_view word) {
  std::string w;
  for (char c : word) w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (w == "true" || w == "yes" || w == "on" || w == "1") return true;
  if (w == "false" || w == "no" || w == "off" || w == "0") return false;
  return std::nullopt;
}

}  // namespace ppipe
