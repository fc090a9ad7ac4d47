#include "stages/exec/template.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "src/util/text_util.h"
#include "stages/json_diagnose.h"

namespace ppipe {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A quoted key at s[i] == '"': its text (\" and \\ unescaped); i moves past the closing quote.
std::optional<std::string> quoted_key(std::string_view s, std::size_t& i) {
  std::string key;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') {
      ++i;
      return key;
    }
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    key.push_back(s[i]);
  }
  return std::nullopt;
}

}  // namespace

std::optional<CommandTemplate> CommandTemplate::compile(std::string_view cmd, std::string* error) {
  CommandTemplate t;
  enum { kNormal, kSingle, kDouble } state = kNormal;
  auto literal = [&](std::string_view text) {
    if (t.pieces_.empty() || t.pieces_.back().kind != kLiteral) t.pieces_.push_back({});
    t.pieces_.back().text.append(text);
  };
  std::size_t i = 0;
  while (i < cmd.size()) {
    char c = cmd[i];
    bool placeholder = c == '{' && i + 1 < cmd.size() && (cmd[i + 1] == '}' || cmd[i + 1] == '.');
    if (placeholder && state != kNormal) {
      *error = fmt::format(
          "--exec: a placeholder inside quotes at column {} ({}): write it without quotes, it is always "
          "substituted as one safely quoted word",
          i + 1, state == kSingle ? "'...'" : "\"...\"");
      return std::nullopt;
    }
    if (placeholder && i > 0 && cmd[i - 1] == '$') {
      *error = fmt::format("--exec: a placeholder right after '$' at column {} ($'...' is a quoting of its own)", i + 1);
      return std::nullopt;
    }
    if (state == kSingle) {
      if (c == '\'') state = kNormal;
      literal(cmd.substr(i, 1));
      ++i;
      continue;
    }
    if (c == '\\') {  // outside single quotes a backslash makes the next byte literal
      literal(cmd.substr(i, std::min<std::size_t>(2, cmd.size() - i)));
      i += 2;
      continue;
    }
    if (state == kDouble) {
      if (c == '"') state = kNormal;
      literal(cmd.substr(i, 1));
      ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      state = c == '\'' ? kSingle : kDouble;
      literal(cmd.substr(i, 1));
      ++i;
      continue;
    }
    if (!placeholder) {
      literal(cmd.substr(i, 1));
      ++i;
      continue;
    }
    const std::size_t begin = i;
    if (cmd[i + 1] == '}') {
      t.pieces_.push_back({kWhole, "{}", {}});
      i += 2;
      continue;
    }
    // {.path}
    Piece p;
    p.kind = kPath;
    i += 1;
    auto bad = [&](std::string_view why) {
      std::size_t end = cmd.find('}', begin);
      std::string_view shown = cmd.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin + 1);
      *error = fmt::format("--exec: bad placeholder '{}' at column {}: {} (paths are like {{.a.b}}, {{.a[0]}}, "
                           "{{.\"key\"}}, {{.}})",
                           shown, begin + 1, why);
      return std::nullopt;
    };
    bool first = true;
    while (i < cmd.size() && cmd[i] != '}') {
      if (cmd[i] == '[') {
        ++i;
        if (i < cmd.size() && cmd[i] == '"') {
          auto key = quoted_key(cmd, i);
          if (!key) return bad("unterminated key");
          p.path.emplace_back(std::move(*key));
        } else {
          std::int64_t n = 0;
          auto [ptr, ec] = std::from_chars(cmd.data() + i, cmd.data() + cmd.size(), n);
          if (ec != std::errc()) return bad("expected an index or a quoted key after '['");
          i = static_cast<std::size_t>(ptr - cmd.data());
          p.path.emplace_back(n);
        }
        if (i >= cmd.size() || cmd[i] != ']') return bad("expected ']'");
        ++i;
      } else if (cmd[i] == '.') {
        ++i;
        if (i < cmd.size() && cmd[i] == '"') {
          auto key = quoted_key(cmd, i);
          if (!key) return bad("unterminated key");
          p.path.emplace_back(std::move(*key));
        } else if (i < cmd.size() && ident_start(cmd[i])) {
          std::size_t s = i;
          while (i < cmd.size() && ident_char(cmd[i])) ++i;
          p.path.emplace_back(std::string(cmd.substr(s, i - s)));
        } else if (!(first && i < cmd.size() && (cmd[i] == '}' || cmd[i] == '['))) {
          return bad("expected a field name after '.'");
        }
      } else {
        return bad("expected '.', '[' or '}'");
      }
      first = false;
    }
    if (i >= cmd.size()) return bad("no closing '}'");
    ++i;
    p.text = std::string(cmd.substr(begin, i - begin));
    t.pieces_.push_back(std::move(p));
    t.needs_document_ = true;
  }
  return t;
}

bool CommandTemplate::expand(std::string_view record, simdjson::dom::parser& parser, std::string* out,
                             std::string* error) const {
  out->clear();
  simdjson::dom::element doc;
  bool parsed = false;
  std::string word;
  for (const Piece& p : pieces_) {
    if (p.kind == kLiteral) {
      out->append(p.text);
      continue;
    }
    if (p.kind == kWhole) {
      word.assign(record);
    } else {
      if (!parsed) {
        if (auto err = parser.parse(record.data(), record.size(), true).get(doc)) {
          // In parse's words ("invalid JSON: ... at column N"); a number beyond 64 bits is valid
          // JSON that the path cannot read.
          *error = refused_only_for_numbers(record, err)
                       ? fmt::format("--exec {}: the record holds a number outside the 64-bit range, which a "
                                     "{{.path}} cannot read", p.text)
                       : fmt::format("--exec {}: the record is {}", p.text, describe_invalid_json(record, err));
          return false;
        }
        parsed = true;
      }
      simdjson::dom::element v = doc;
      std::string where = "";
      for (const Step& step : p.path) {
        if (const std::string* key = std::get_if<std::string>(&step)) {
          simdjson::dom::object obj;
          if (v.get(obj) != simdjson::SUCCESS) {
            *error = fmt::format("--exec {}: {} is not an object", p.text, where.empty() ? "the record" : where);
            return false;
          }
          where += "." + *key;
          if (obj[*key].get(v) != simdjson::SUCCESS) {
            *error = fmt::format("--exec {}: the record has no {}", p.text, where);
            return false;
          }
        } else {
          std::int64_t n = std::get<std::int64_t>(step);
          simdjson::dom::array arr;
          if (v.get(arr) != simdjson::SUCCESS) {
            *error = fmt::format("--exec {}: {} is not an array", p.text, where.empty() ? "the record" : where);
            return false;
          }
          where += fmt::format("[{}]", n);
          std::int64_t size = static_cast<std::int64_t>(arr.size());
          std::int64_t at = n < 0 ? n + size : n;
          if (at < 0 || at >= size || arr.at(static_cast<std::size_t>(at)).get(v) != simdjson::SUCCESS) {
            *error = fmt::format("--exec {}: the record has no {}", p.text, where);
            return false;
          }
        }
      }
      std::string_view s;
      if (v.get(s) == simdjson::SUCCESS) word.assign(s);
      else word = simdjson::to_string(v);
    }
    if (word.find('\0') != std::string::npos) {
      *error = fmt::format("--exec {}: the value holds a NUL byte, which no command line can carry", p.text);
      return false;
    }
    out->append(shell_quote(word, true));
  }
  return true;
}

}  // namespace ppipe
