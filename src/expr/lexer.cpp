#include "src/expr/lexer.h"

#include "src/util/text_util.h"

namespace ppipe::expr {

namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr std::size_t kNpos = std::string_view::npos;
std::size_t string_end(std::string_view s, std::size_t i, int depth);

// From just after `\(`: the index of its closing ')', or kNpos. Strings inside may hold
// parentheses and interpolations of their own; comments run to the end of the line.
std::size_t interpolation_end(std::string_view s, std::size_t i, int depth) {
  if (depth > 64) return kNpos;  // (the parser would refuse such nesting anyway)
  int parens = 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      i = string_end(s, i + 1, depth + 1);
      if (i == kNpos) return kNpos;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '(') ++parens;
    if (c == ')' && --parens == 0) return i;
    ++i;
  }
  return kNpos;
}

// From just after an opening quote: the index after the closing one, or kNpos.
std::size_t string_end(std::string_view s, std::size_t i, int depth) {
  while (i < s.size()) {
    if (s[i] == '"') return i + 1;
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '(') {
      i = interpolation_end(s, i + 2, depth);
      if (i == kNpos) return kNpos;
      ++i;
      continue;
    }
    i += s[i] == '\\' ? 2 : 1;
  }
  return kNpos;
}

bool read_hex4(std::string_view s, std::size_t i, std::uint32_t& out) {
  if (i + 4 > s.size()) return false;
  out = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    out <<= 4;
    if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
    else return false;
  }
  return true;
}

// Raw bytes of a string literal that are not UTF-8 become U+FFFD, as jq does for its program
// text: a constant must not put invalid UTF-8 into the JSON output. Escapes always give valid
// sequences, so checking the decoded string only ever replaces raw bytes.
void replace_invalid_utf8(std::string& s) {
  auto cont = [&](std::size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  std::string out;
  std::size_t i = 0;
  bool changed = false;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    std::size_t good = 1;  // bytes of a valid prefix seen, to skip on error
    bool ok = n != 0;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; ok && k < n; ++k) {
      if (!cont(i + k)) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      good = k + 1;
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      append_utf8(out, 0xFFFD);
      i += good;
      changed = true;
    }
  }
  if (changed) s = std::move(out);
}

}  // namespace

std::string_view token_name(Tok t) {
  switch (t) {
    case Tok::kEnd: return "end of expression";
    case Tok::kDot: return "'.'";
    case Tok::kField: return "field";
    case Tok::kDotDot: return "'..'";
    case Tok::kIdent: return "name";
    case Tok::kNumber: return "number";
    case Tok::kString: return "string";
    case Tok::kFormat: return "format";
    case Tok::kVar: return "variable";
    case Tok::kLParen: return "'('";
    case Tok::kRParen: return "')'";
    case Tok::kLBracket: return "'['";
    case Tok::kRBracket: return "']'";
    case Tok::kLBrace: return "'{'";
    case Tok::kRBrace: return "'}'";
    case Tok::kPipe: return "'|'";
    case Tok::kComma: return "','";
    case Tok::kColon: return "':'";
    case Tok::kSemicolon: return "';'";
    case Tok::kQuestion: return "'?'";
    case Tok::kAlt: return "'//'";
    case Tok::kAltDestructure: return "'?//'";
    case Tok::kPlus: return "'+'";
    case Tok::kMinus: return "'-'";
    case Tok::kStar: return "'*'";
    case Tok::kSlash: return "'/'";
    case Tok::kPercent: return "'%'";
    case Tok::kEq: return "'=='";
    case Tok::kNe: return "'!='";
    case Tok::kLt: return "'<'";
    case Tok::kLe: return "'<='";
    case Tok::kGt: return "'>'";
    case Tok::kGe: return "'>='";
    case Tok::kAssign: return "assignment";
  }
  return "token";
}

bool lex(std::string_view s, std::vector<Token>& tokens, CompileError& error) {
  std::size_t i = 0;
  auto fail = [&](std::string message, std::size_t column) {
    error.message = std::move(message);
    error.column = column;
    return false;
  };
  auto push = [&](Tok kind, std::size_t begin, std::size_t end) {
    Token t;
    t.kind = kind;
    t.begin = begin;
    t.end = end;
    t.text = s.substr(begin, end - begin);
    tokens.push_back(std::move(t));
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    std::size_t b = i;
    if (c == '.') {
      if (i + 1 < s.size() && s[i + 1] == '.') {
        push(Tok::kDotDot, b, i + 2);
        i += 2;
      } else if (i + 1 < s.size() && is_ident_start(s[i + 1])) {
        i += 1;
        while (i < s.size() && is_ident_char(s[i])) ++i;
        push(Tok::kField, b, i);
        tokens.back().text = s.substr(b + 1, i - b - 1);
      } else if (i + 1 < s.size() && is_digit(s[i + 1])) {
        goto number;
      } else {
        push(Tok::kDot, b, i + 1);
        ++i;
      }
      continue;
    }
    if (is_digit(c)) {
    number:
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t save = i;
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (i < s.size() && is_digit(s[i])) {
          while (i < s.size() && is_digit(s[i])) ++i;
        } else {
          i = save;
        }
      }
      push(Tok::kNumber, b, i);
      continue;
    }
    if (is_ident_start(c)) {
      while (i < s.size() && (is_ident_char(s[i]) ||
                              (s[i] == ':' && i + 2 < s.size() && s[i + 1] == ':' && is_ident_start(s[i + 2])))) {
        i += s[i] == ':' ? 2 : 1;
      }
      push(Tok::kIdent, b, i);
      continue;
    }
    if (c == '$' || c == '@') {
      ++i;
      while (i < s.size() && is_ident_char(s[i])) ++i;
      push(c == '$' ? Tok::kVar : Tok::kFormat, b, i);
      continue;
    }
    if (c == '"') {
      Token t;
      t.kind = Tok::kString;
      t.begin = b;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char d = s[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d != '\\') {
          t.str.push_back(d);
          ++i;
          continue;
        }
        if (i + 1 >= s.size()) break;
        char e = s[i + 1];
        switch (e) {
          case '"': t.str.push_back('"'); break;
          case '\\': t.str.push_back('\\'); break;
          case '/': t.str.push_back('/'); break;
          case 'b': t.str.push_back('\b'); break;
          case 'f': t.str.push_back('\f'); break;
          case 'n': t.str.push_back('\n'); break;
          case 'r': t.str.push_back('\r'); break;
          case 't': t.str.push_back('\t'); break;
          case '(': {
            // An interpolation: its expression is parsed by the parser from its source range.
            const std::size_t end = interpolation_end(s, i + 2, 0);
            if (end == kNpos) return fail("unterminated string interpolation \\(...)", i);
            t.has_interpolation = true;
            replace_invalid_utf8(t.str);
            t.pieces.push_back(std::move(t.str));
            t.str.clear();
            t.holes.emplace_back(i + 2, end);
            i = end + 1;
            continue;
          }
          case 'u': {
            std::uint32_t cp;
            if (!read_hex4(s, i + 2, cp)) return fail("invalid \\u escape in string (need 4 hex digits)", i);
            std::size_t next = i + 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              std::uint32_t lo;
              if (next + 1 < s.size() && s[next] == '\\' && s[next + 1] == 'u' && read_hex4(s, next + 2, lo) &&
                  lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                next += 6;
              } else {
                cp = 0xFFFD;  // lone surrogate: replaced, as jq does
              }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              cp = 0xFFFD;
            }
            append_utf8(t.str, cp);
            i = next;
            continue;
          }
          default:
            return fail(std::string("invalid escape '\\") + e + "' in string", i);
        }
        i += 2;
      }
      if (!closed) return fail("unterminated string", b);
      replace_invalid_utf8(t.str);
      t.end = i;
      t.text = s.substr(b, i - b);
      tokens.push_back(std::move(t));
      continue;
    }
    auto two = [&](char next) { return i + 1 < s.size() && s[i + 1] == next; };
    switch (c) {
      case '(': push(Tok::kLParen, b, ++i); continue;
      case ')': push(Tok::kRParen, b, ++i); continue;
      case '[': push(Tok::kLBracket, b, ++i); continue;
      case ']': push(Tok::kRBracket, b, ++i); continue;
      case '{': push(Tok::kLBrace, b, ++i); continue;
      case '}': push(Tok::kRBrace, b, ++i); continue;
      case ',': push(Tok::kComma, b, ++i); continue;
      case ':': push(Tok::kColon, b, ++i); continue;
      case ';': push(Tok::kSemicolon, b, ++i); continue;
      case '|':
        if (two('=')) { push(Tok::kAssign, b, i += 2); continue; }
        if (two('|')) return fail("'||' is not an operator (use 'or'; '//' gives a default)", b);
        push(Tok::kPipe, b, ++i);
        continue;
      case '?':
        if (i + 2 < s.size() && s[i + 1] == '/' && s[i + 2] == '/') { push(Tok::kAltDestructure, b, i += 3); continue; }
        push(Tok::kQuestion, b, ++i);
        continue;
      case '/':
        if (two('/')) {
          if (i + 2 < s.size() && s[i + 2] == '=') { push(Tok::kAssign, b, i += 3); continue; }
          push(Tok::kAlt, b, i += 2);
          continue;
        }
        if (two('=')) { push(Tok::kAssign, b, i += 2); continue; }
        push(Tok::kSlash, b, ++i);
        continue;
      case '+':
      case '-':
      case '*':
      case '%':
        if (two('=')) { push(Tok::kAssign, b, i += 2); continue; }
        push(c == '+' ? Tok::kPlus : c == '-' ? Tok::kMinus : c == '*' ? Tok::kStar : Tok::kPercent, b, ++i);
        continue;
      case '=':
        // Other languages' spellings of comparisons get a hint; a lone '=' is jq's assignment,
        // which the parser refuses with its own hint.
        if (i + 2 < s.size() && s[i + 1] == '=' && s[i + 2] == '=') return fail("'===' is not an operator (use ==)", b);
        if (two('=')) { push(Tok::kEq, b, i += 2); continue; }
        if (two('>')) return fail("'=>' is not an operator (use >= to compare)", b);
        if (two('<')) return fail("'=<' is not an operator (use <= to compare)", b);
        if (two('~')) return fail("'=~' is not an operator (use test(\"regex\") to match)", b);
        push(Tok::kAssign, b, ++i);
        continue;
      case '!':
        if (i + 2 < s.size() && s[i + 1] == '=' && s[i + 2] == '=') return fail("'!==' is not an operator (use !=)", b);
        if (two('=')) { push(Tok::kNe, b, i += 2); continue; }
        return fail("unexpected '!' (use 'not' or '!=')", b);
      case '&':
        if (two('&')) return fail("'&&' is not an operator (use 'and')", b);
        return fail("unexpected character '&' (use 'and')", b);
      case '\'': {
        // 'text': a string in another language (or a shell quote inside double quotes).
        std::size_t close = s.find('\'', i + 1);
        std::string_view body = close == std::string_view::npos ? std::string_view() : s.substr(i + 1, close - i - 1);
        if (close != std::string_view::npos && body.find_first_of("\"\\\n") == std::string_view::npos)
          return fail("strings use double quotes: \"" + std::string(body) + "\", not '" + std::string(body) + "'", b);
        return fail("unexpected character ''' (strings use double quotes: \"...\")", b);
      }
      case '<':
        if (two('=')) { push(Tok::kLe, b, i += 2); continue; }
        if (two('>')) return fail("'<>' is not an operator (use != for not equal)", b);
        push(Tok::kLt, b, ++i);
        continue;
      case '>':
        if (two('=')) { push(Tok::kGe, b, i += 2); continue; }
        push(Tok::kGt, b, ++i);
        continue;
      default: {
        // Show the whole UTF-8 character.
        std::size_t n = 1;
        while (b + n < s.size() && (static_cast<unsigned char>(s[b + n]) & 0xC0) == 0x80) ++n;
        return fail("unexpected character '" + std::string(s.substr(b, n)) + "'", b);
      }
    }
  }
  push(Tok::kEnd, s.size(), s.size());
  return true;
}

}  // namespace ppipe::expr
