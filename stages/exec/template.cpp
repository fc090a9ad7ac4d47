#include "stages/exec/template.h"

#include <cctype>
#include <charconv>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "src/expr/expr.h"
#include "src/expr/jq/value.h"
#include "src/util/text_util.h"
#include "stages/json_diagnose.h"

namespace ppipe {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A quoted key at s[i] == '"': its text with JSON's escapes read, as in a jq string literal
// (`{."\u00e9"}`, `{."a\nb"}`: only \" and \\ were, so these named other keys); i moves past the
// closing quote. nullopt with *why: no closing quote, or a bad escape.
std::optional<std::string> quoted_key(std::string_view s, std::size_t& i, std::string* why) {
  std::size_t j = i + 1;
  while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
  if (j >= s.size()) {
    *why = "unterminated key";
    return std::nullopt;
  }
  const simdjson::padded_string literal(s.substr(i, j + 1 - i));
  simdjson::dom::parser parser;
  std::string_view text;
  if (parser.parse(literal).get_string().get(text)) {
    *why = "a bad escape in the quoted key (JSON's escapes: \\\" \\\\ \\n \\t \\uXXXX ...)";
    return std::nullopt;
  }
  i = j + 1;
  return std::string(text);
}

// The shell's word delimiters: a '#' after one of these (or at the start) begins a comment.
bool word_break(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' ||
         c == '<' || c == '>';
}

// A here-document's delimiter word after `<<` / `<<-` at s[i] (blanks first): the word with its
// quotes removed; i moves past it. Empty when there is no word.
std::string heredoc_word(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  std::string word;
  char quote = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else word.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      word.push_back(s[++i]);
    } else if (word_break(c)) {
      break;
    } else {
      word.push_back(c);
    }
  }
  return word;
}

}  // namespace

// The template is read as the shell will read it, as far as it decides where a placeholder lands:
// quotes, backslashes, backquotes, comments and here-documents. A placeholder is substituted only
// where the shell reads the word we put there as one word and nothing more: outside quotes,
// backquotes (whose text ends at a backquote in the value), comments (where a newline in the value
// would end the comment) and here-documents (where the shell runs `$(..)` inside our quotes).
std::optional<CommandTemplate> CommandTemplate::compile(std::string_view cmd, std::string* error) {
  CommandTemplate t;
  enum { kNormal, kSingle, kDouble } state = kNormal;
  bool backquote = false;  // inside `...` (outside quotes, or inside "..."): substitution text
  int param_depth = 0;     // inside ${...} (opened outside quotes)
  bool dollar = false;     // the byte before was a `$` that opens nothing yet (outside quotes)
  std::vector<std::pair<std::string, bool>> heredocs;  // pending: delimiter, tabs stripped (<<-)
  auto literal = [&](std::string_view text) {
    if (t.pieces_.empty() || t.pieces_.back().kind != kLiteral) t.pieces_.push_back({});
    t.pieces_.back().text.append(text);
  };
  auto is_placeholder = [&](std::size_t at) {
    return cmd[at] == '{' && at + 1 < cmd.size() && (cmd[at + 1] == '}' || cmd[at + 1] == '.');
  };
  auto refuse = [&](std::size_t at, std::string_view where, std::string_view instead) {
    *error = fmt::format("--exec: a placeholder inside {} at column {}: {}", where, at + 1, instead);
    return std::nullopt;
  };
  std::size_t i = 0;
  while (i < cmd.size()) {
    char c = cmd[i];
    bool placeholder = is_placeholder(i);
    const bool after_dollar = dollar;  // (any byte read by another branch below ends it)
    dollar = false;
    if (placeholder && state != kNormal) {
      *error = fmt::format(
          "--exec: a placeholder inside quotes at column {} ({}): write it without quotes, it is always "
          "substituted as one safely quoted word",
          i + 1, state == kSingle ? "'...'" : "\"...\"");
      return std::nullopt;
    }
    if (placeholder && backquote)
      return refuse(i, "`...`", "write $(...) instead, where it is one safely quoted word");
    if (placeholder && param_depth > 0)
      return refuse(i, "${...}", "the shell splits and globs a word there; set a variable to it first");
    if (placeholder && i > 0 && cmd[i - 1] == '$') {
      *error = fmt::format("--exec: a placeholder right after '$' at column {} ($'...' is a quoting of its own)", i + 1);
      return std::nullopt;
    }
    if (state == kNormal && c == '#' && (i == 0 || word_break(cmd[i - 1]))) {  // a comment, to the line's end
      std::size_t end = std::min(cmd.find('\n', i), cmd.size());
      for (std::size_t j = i; j < end; ++j)
        if (is_placeholder(j))
          return refuse(j, "a comment", "a newline in the value would end the comment; move it out of the comment");
      literal(cmd.substr(i, end - i));
      i = end;
      continue;
    }
    if (state == kNormal && cmd.substr(i, 3) == "$((") {
      // Arithmetic: `<<` there is a shift, not a here-document. Up to the matching "))"; a
      // placeholder inside is refused (the shell evaluates what it finds there as arithmetic).
      std::size_t j = i + 3;
      int depth = 2;
      for (; j < cmd.size() && depth > 0; ++j) {
        if (is_placeholder(j)) return refuse(j, "$((...))", "arithmetic takes no quoted word; compute it in the command");
        if (cmd[j] == '(') ++depth;
        else if (cmd[j] == ')') --depth;
      }
      literal(cmd.substr(i, j - i));
      i = j;
      continue;
    }
    if (state == kNormal && c == '<' && cmd.substr(i, 2) == "<<" && cmd.substr(i, 3) != "<<<") {
      std::size_t j = i + 2;
      const bool strip = j < cmd.size() && cmd[j] == '-';
      if (strip) ++j;
      std::string word = heredoc_word(cmd, j);
      if (!word.empty()) heredocs.emplace_back(std::move(word), strip);
      literal(cmd.substr(i, j - i));
      i = j;
      continue;
    }
    if (state == kNormal && c == '\n' && !heredocs.empty()) {
      // The here-documents' bodies follow this line, one after the other, each up to its
      // delimiter line: text the shell does not parse as words (and, unless the delimiter is
      // quoted, where it runs $(...) and `...` wherever they are).
      std::size_t at = i + 1;
      for (const auto& [word, strip] : heredocs) {
        while (at < cmd.size()) {
          std::size_t end = std::min(cmd.find('\n', at), cmd.size());
          std::string_view line = cmd.substr(at, end - at);
          if (strip) line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
          if (line == word) {
            at = end;
            break;
          }
          for (std::size_t j = at; j < end; ++j)
            if (is_placeholder(j))
              return refuse(j, "a here-document",
                            "the shell would run $(...) in the value there; pass the record on stdin instead");
          at = end + 1;
        }
      }
      heredocs.clear();
      at = std::min(at, cmd.size());
      literal(cmd.substr(i, at - i));
      i = at;
      continue;
    }
    if (c == '`' && state != kSingle) {
      backquote = !backquote;
      literal(cmd.substr(i, 1));
      ++i;
      continue;
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
    // Parameter expansions, outside quotes: `${` (not the `{` after `$$`, the shell's pid) opens
    // one, an unquoted `}` closes it; quotes and backslashes inside are read as above, as the
    // shell reads them. A word there (`${v:-WORD}`) is split and globbed: no placeholder in it.
    // (A `}` inside a `$(...)` in it is taken for the end: after that a placeholder in the rest
    // would be split and globbed too, never run.)
    if (c == '$') dollar = !after_dollar;  // `$$` is the pid: the `{` after it opens nothing
    else if (c == '{' && after_dollar) ++param_depth;
    else if (c == '}' && param_depth > 0) --param_depth;
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
          std::string why;
          auto key = quoted_key(cmd, i, &why);
          if (!key) return bad(why);
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
          std::string why;
          auto key = quoted_key(cmd, i, &why);
          if (!key) return bad(why);
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

// The value at p's path in a record read by the general engine's reader, in the words of the
// DOM walk below.
bool CommandTemplate::path_value(const expr::jq::J& record, const Piece& p, std::string& word, std::string* error) {
  const expr::jq::J* v = &record;
  std::string where;
  for (const Step& step : p.path) {
    if (const std::string* key = std::get_if<std::string>(&step)) {
      if (v->type() != expr::jq::T::kObject) {
        *error = fmt::format("--exec {}: {} is not an object", p.text, where.empty() ? "the record" : where);
        return false;
      }
      where += "." + *key;
      v = v->obj().find(*key);
      if (!v) {
        *error = fmt::format("--exec {}: the record has no {}", p.text, where);
        return false;
      }
    } else {
      std::int64_t n = std::get<std::int64_t>(step);
      if (v->type() != expr::jq::T::kArray) {
        *error = fmt::format("--exec {}: {} is not an array", p.text, where.empty() ? "the record" : where);
        return false;
      }
      where += fmt::format("[{}]", n);
      const auto& arr = v->arr();
      std::int64_t size = static_cast<std::int64_t>(arr.size());
      std::int64_t at = n < 0 ? n + size : n;
      if (at < 0 || at >= size) {
        *error = fmt::format("--exec {}: the record has no {}", p.text, where);
        return false;
      }
      v = &arr[static_cast<std::size_t>(at)];
    }
  }
  word.clear();
  if (v->type() == expr::jq::T::kString) word = v->str();
  else expr::jq::write(*v, word);
  return true;
}

bool CommandTemplate::expand(std::string_view record, simdjson::dom::parser& parser, std::string* out,
                             std::string* error) const {
  out->clear();
  simdjson::dom::element doc;
  bool parsed = false;
  bool big = false;  // the record has a number beyond 64 bits: read into `whole`
  expr::jq::J whole;
  std::string word;
  for (const Piece& p : pieces_) {
    if (p.kind == kLiteral) {
      out->append(p.text);
      continue;
    }
    if (p.kind == kWhole) {
      word.assign(record);
    } else {
      if (!parsed && !big) {
        if (auto err = parser.parse(record.data(), record.size(), true).get(doc)) {
          // In parse's words ("invalid JSON: ... at column N"). Valid JSON with a number beyond 64
          // bits, which the DOM cannot hold, is read by the general engine's reader instead (the
          // number keeps its text): the path reads any field of it.
          std::string perr;
          if (!refused_only_for_numbers(record, err) || !expr::jq::parse_json(record, whole, &perr)) {
            *error = fmt::format("--exec {}: the record is {}", p.text, describe_invalid_json(record, err));
            return false;
          }
          big = true;
        }
        parsed = true;
      }
      if (big) {
        if (!path_value(whole, p, word, error)) return false;
        if (word.find('\0') != std::string::npos) {
          *error = fmt::format("--exec {}: the value holds a NUL byte, which no command line can carry", p.text);
          return false;
        }
        out->append(shell_quote(word, true));
        continue;
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
          // The last of duplicate keys, as jq (and --map) read them; obj[key] gives the first.
          bool found = false;
          for (auto field : obj) {
            if (field.key == *key) {
              v = field.value;
              found = true;
            }
          }
          if (!found) {
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
      // A string's text; anything else as --map prints it (jq's numbers: `1e2` is 100, not
      // simdjson's 100.0).
      std::string_view s;
      if (v.get(s) == simdjson::SUCCESS) {
        word.assign(s);
      } else {
        word.clear();
        expr::append_json(expr::Value::from_dom(v), word);
      }
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
