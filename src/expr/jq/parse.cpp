// Lexer and recursive-descent parser for jq 1.7's grammar (precedence as jq's parser.y, loosest
// first: '|', ',', '//' (right), assignments (non-assoc), 'or', 'and', comparisons (non-assoc),
// '+' '-', '*' '/' '%', unary '-', postfix). `Term as $x | body`, `label $x | body` and
// `def f: ...; body` take everything to their right.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "src/expr/jq/ast.h"
#include "src/util/json_string.h"
#include "src/util/text_util.h"

namespace ppipe::expr::jq {

namespace {

enum class Tk : std::uint8_t {
  kEnd, kIdent, kField, kVar, kFormat, kNumber, kString, kKeyword, kOp, kDot, kRec,
};

struct StrTok {
  std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> parts;  // text, or (begin,end) of \( )
};

struct Token {
  Tk kind = Tk::kEnd;
  std::string text;       // ident, field name, var name, format, keyword, operator
  std::size_t pos = 0;
  double number = 0;
  std::string literal;    // number text
  // strings: literal pieces and interpolation ranges (into the source)
  std::vector<std::string> pieces;
  std::vector<std::pair<std::size_t, std::size_t>> interps;  // interps[i] follows pieces[i]
};

const char* const kKeywords[] = {"def", "if", "then", "elif", "else", "end", "as", "reduce", "foreach", "try",
                                 "catch", "label", "import", "include", "and", "or", "__loc__"};

bool is_keyword(const std::string& s) {
  for (const char* k : kKeywords)
    if (s == k) return true;
  return false;
}

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  Lexer(std::string_view s, std::size_t base) : s_(s), base_(base) {}

  bool next(Token& t, ParseError& err) {
    skip();
    t = Token();
    t.pos = base_ + p_;
    if (p_ >= s_.size()) return true;
    char c = s_[p_];
    if (ident_start(c)) {
      std::size_t b = p_;
      while (p_ < s_.size() && (ident_char(s_[p_]) || (s_[p_] == ':' && p_ + 1 < s_.size() && s_[p_ + 1] == ':'))) {
        if (s_[p_] == ':') ++p_;
        ++p_;
      }
      t.text = std::string(s_.substr(b, p_ - b));
      t.kind = is_keyword(t.text) ? Tk::kKeyword : Tk::kIdent;
      return true;
    }
    if (c == '$') {
      ++p_;
      skip();
      std::size_t b = p_;
      if (p_ >= s_.size() || !ident_start(s_[p_])) return fail(err, "a variable name after '$'");
      while (p_ < s_.size() && (ident_char(s_[p_]) || (s_[p_] == ':' && p_ + 1 < s_.size() && s_[p_ + 1] == ':'))) {
        if (s_[p_] == ':') ++p_;
        ++p_;
      }
      t.kind = Tk::kVar;
      t.text = std::string(s_.substr(b, p_ - b));
      return true;
    }
    if (c == '@') {
      ++p_;
      std::size_t b = p_;
      while (p_ < s_.size() && ident_char(s_[p_])) ++p_;
      if (p_ == b) return fail(err, "a format name after '@'");
      t.kind = Tk::kFormat;
      t.text = std::string(s_.substr(b, p_ - b));
      return true;
    }
    if (c == '.') {
      if (p_ + 1 < s_.size() && s_[p_ + 1] == '.') {
        p_ += 2;
        t.kind = Tk::kRec;
        return true;
      }
      if (p_ + 1 < s_.size() && ident_start(s_[p_ + 1])) {
        std::size_t b = ++p_;
        while (p_ < s_.size() && ident_char(s_[p_])) ++p_;
        t.kind = Tk::kField;
        t.text = std::string(s_.substr(b, p_ - b));
        return true;
      }
      if (p_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_ + 1]))) return number(t, err);
      ++p_;
      t.kind = Tk::kDot;
      return true;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return number(t, err);
    if (c == '"') return string(t, err);
    static const char* const kOps[] = {"?//=", "?//", "|=", "+=", "-=", "*=", "/=", "%=", "//=", "==", "!=", "<=",
                                       ">=", "//", "|", ",", "+", "-", "*", "/", "%", "=", "<", ">", "(", ")",
                                       "[", "]", "{", "}", ":", ";", "?"};
    for (const char* op : kOps) {
      std::string_view o(op);
      if (s_.substr(p_, o.size()) == o) {
        if (o == "?//=") continue;
        p_ += o.size();
        t.kind = Tk::kOp;
        t.text = std::string(o);
        return true;
      }
    }
    return fail(err, std::string("unexpected character '") + c + "'");
  }

  std::size_t pos() const { return p_; }

 private:
  bool fail(ParseError& err, std::string msg) { return fail_at(err, p_, std::move(msg)); }
  bool fail_at(ParseError& err, std::size_t at, std::string msg) {
    err.message = std::move(msg);
    err.pos = base_ + at;
    return false;
  }

  void skip() {
    for (;;) {
      while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
      if (p_ < s_.size() && s_[p_] == '#') {
        while (p_ < s_.size() && s_[p_] != '\n') ++p_;
        continue;
      }
      break;
    }
  }

  bool number(Token& t, ParseError& err) {
    std::size_t b = p_;
    while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || s_[p_] == '.')) ++p_;
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      std::size_t save = p_++;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) {
        while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
      } else {
        p_ = save;
      }
    }
    std::string text(s_.substr(b, p_ - b));
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return fail(err, "invalid numeric literal '" + text + "'");
    if (std::isinf(d)) d = d > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
    t.kind = Tk::kNumber;
    t.number = d;
    t.literal = text;
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool string(Token& t, ParseError& err) {
    t.kind = Tk::kString;
    const std::size_t open = p_;
    ++p_;
    std::string cur;
    for (;;) {
      if (p_ >= s_.size()) return fail_at(err, open, "unterminated string");
      char c = s_[p_];
      if (c == '"') {
        ++p_;
        break;
      }
      if (c != '\\') {
        cur.push_back(c);
        ++p_;
        continue;
      }
      const std::size_t escape = p_;
      ++p_;
      if (p_ >= s_.size()) return fail_at(err, open, "unterminated string");
      char e = s_[p_++];
      switch (e) {
        case '"': cur.push_back('"'); break;
        case '\\': cur.push_back('\\'); break;
        case '/': cur.push_back('/'); break;
        case 'b': cur.push_back('\b'); break;
        case 'f': cur.push_back('\f'); break;
        case 'n': cur.push_back('\n'); break;
        case 'r': cur.push_back('\r'); break;
        case 't': cur.push_back('\t'); break;
        case 'u': {
          auto u4 = [&](std::uint32_t& cp) {
            if (p_ + 4 > s_.size()) return false;
            cp = 0;
            for (int i = 0; i < 4; ++i) {
              int h = hex(s_[p_ + i]);
              if (h < 0) return false;
              cp = cp * 16 + static_cast<std::uint32_t>(h);
            }
            p_ += 4;
            return true;
          };
          std::uint32_t cp;
          if (!u4(cp)) return fail_at(err, escape, "invalid \\u escape in string (need 4 hex digits)");
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(p_, 2) == "\\u") {
            std::size_t save = p_;
            p_ += 2;
            std::uint32_t lo;
            if (u4(lo) && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              p_ = save;
              cp = 0xFFFD;
            }
          } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
          }
          append_utf8(cur, cp);
          break;
        }
        case '(': {
          // an interpolation: find the matching ')' (strings inside may hold parentheses)
          std::size_t b = p_;
          int depth = 1;
          while (p_ < s_.size() && depth > 0) {
            char d = s_[p_];
            if (d == '"') {
              if (!skip_string(err)) return false;
              continue;
            }
            if (d == '(') ++depth;
            if (d == ')') --depth;
            ++p_;
          }
          if (depth != 0) return fail(err, "unterminated string interpolation");
          t.pieces.push_back(utf8_replace_invalid(cur));  // raw invalid UTF-8 as U+FFFD, as jq
          cur.clear();
          t.interps.emplace_back(base_ + b, base_ + p_ - 1);
          break;
        }
        default: return fail_at(err, escape, std::string("invalid escape '\\") + e + "' in string");
      }
    }
    t.pieces.push_back(utf8_replace_invalid(cur));
    return true;
  }

  bool skip_string(ParseError& err) {  // at '"' inside an interpolation
    ++p_;
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (p_ + 1 < s_.size() && s_[p_ + 1] == '(') {
          p_ += 2;
          int depth = 1;
          while (p_ < s_.size() && depth > 0) {
            if (s_[p_] == '"') {
              if (!skip_string(err)) return false;
              continue;
            }
            if (s_[p_] == '(') ++depth;
            if (s_[p_] == ')') --depth;
            ++p_;
          }
          continue;
        }
        p_ += 2;
        continue;
      }
      ++p_;
    }
    return fail(err, "unterminated string");
  }

  std::string_view s_;
  std::size_t base_;
  std::size_t p_ = 0;
};

class Parser {
 public:
  Parser(std::string_view full, std::size_t begin, std::size_t end, ParseError& err, int depth)
      : full_(full), lex_(full.substr(begin, end - begin), begin), err_(err), depth_(depth) {}

  bool start() { return advance(); }

  NodeP program() {
    NodeP n = pipe();
    if (!n) return nullptr;
    if (tok_.kind != Tk::kEnd) return fail_tok("unexpected");
    return n;
  }

  std::vector<std::unique_ptr<FuncDef>> definitions() {
    std::vector<std::unique_ptr<FuncDef>> out;
    while (tok_.kind != Tk::kEnd) {
      auto d = funcdef();
      if (!d) return {};
      out.push_back(std::move(d));
    }
    return out;
  }

 private:
  bool advance() {
    if (tok_.kind == Tk::kString) last_string_ = tok_;
    if (!lex_.next(tok_, err_)) {
      failed_ = true;
      return false;
    }
    return true;
  }
  bool is_op(const char* op) const { return tok_.kind == Tk::kOp && tok_.text == op; }
  bool is_kw(const char* kw) const { return tok_.kind == Tk::kKeyword && tok_.text == kw; }

  NodeP fail_tok(const std::string& what) {
    if (!failed_) {
      failed_ = true;
      std::string shown = tok_.kind == Tk::kEnd ? "end of expression" : "'" + token_text() + "'";
      err_.message = what + " " + shown;
      err_.pos = tok_.pos;
    }
    return nullptr;
  }
  NodeP fail_at(std::size_t pos, const std::string& msg) {
    if (!failed_) {
      failed_ = true;
      err_.message = msg;
      err_.pos = pos;
    }
    return nullptr;
  }
  std::string token_text() const {
    switch (tok_.kind) {
      case Tk::kField: return "." + tok_.text;
      case Tk::kVar: return "$" + tok_.text;
      case Tk::kFormat: return "@" + tok_.text;
      case Tk::kNumber: return tok_.literal;
      case Tk::kString: return "\"...\"";
      case Tk::kDot: return ".";
      case Tk::kRec: return "..";
      default: return tok_.text;
    }
  }
  bool expect_op(const char* op) {
    if (!is_op(op)) {
      fail_tok(std::string("expected '") + op + "', found");
      return false;
    }
    return advance();
  }
  bool expect_kw(const char* kw) {
    if (!is_kw(kw)) {
      fail_tok(std::string("expected '") + kw + "', found");
      return false;
    }
    return advance();
  }

  static NodeP make(NK k, std::size_t pos) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->pos = static_cast<std::uint32_t>(pos);
    return n;
  }
  static NodeP make2(NK k, std::size_t pos, NodeP a, NodeP b) {
    NodeP n = make(k, pos);
    n->kids.push_back(std::move(a));
    n->kids.push_back(std::move(b));
    return n;
  }

  struct Depth {
    Parser& p;
    explicit Depth(Parser& q) : p(q) { ++p.depth_; }
    ~Depth() { --p.depth_; }
  };

  // pipe := 'def' ... pipe | comma ('|' pipe)?
  NodeP pipe() {
    Depth guard(*this);
    if (depth_ > 400) return fail_at(tok_.pos, "expression nested too deeply");
    if (is_kw("def")) {
      std::size_t pos = tok_.pos;
      auto d = funcdef();
      if (!d) return nullptr;
      NodeP rest = pipe();
      if (!rest) return nullptr;
      NodeP n = make(NK::kDef, pos);
      n->def = std::move(d);
      n->kids.push_back(std::move(rest));
      return n;
    }
    return pipe_tail(comma(), &Parser::pipe);
  }

  // lhs, then `| rest` when a pipe follows (rest parsed by `more`).
  NodeP pipe_tail(NodeP lhs, NodeP (Parser::*more)()) {
    if (!lhs || !is_op("|")) return lhs;
    std::size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodeP rhs = (this->*more)();
    if (!rhs) return nullptr;
    return make2(NK::kPipe, pos, std::move(lhs), std::move(rhs));
  }

  // comma := operand (',' operand)*, where an operand may bind variables: `E as $x | body`
  // (jq 1.8: the source is the whole operand, so `1 + 2 as $x | $x` binds 3).
  NodeP comma() {
    NodeP lhs = operand_as();
    while (lhs && is_op(",")) {
      std::size_t pos = tok_.pos;
      if (!advance()) return nullptr;
      NodeP rhs = operand_as();
      if (!rhs) return nullptr;
      lhs = make2(NK::kComma, pos, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  NodeP operand_as() {
    NodeP e = binary(2);
    if (!e || !is_kw("as")) return e;
    std::size_t pos = tok_.pos;
    if (!advance()) return nullptr;
    NodeP n = make(NK::kAs, pos);
    n->kids.push_back(std::move(e));
    for (;;) {
      Pattern p;
      if (!pattern(p)) return nullptr;
      n->patterns.push_back(std::move(p));
      if (is_op("?//")) {
        if (!advance()) return nullptr;
        continue;
      }
      break;
    }
    if (!expect_op("|")) return nullptr;
    NodeP body = pipe();
    if (!body) return nullptr;
    n->kids.push_back(std::move(body));
    return n;  // the body took everything to the right
  }

  std::unique_ptr<FuncDef> funcdef() {
    if (!expect_kw("def")) return nullptr;
    if (tok_.kind != Tk::kIdent && tok_.kind != Tk::kKeyword) {
      fail_tok("expected a function name, found");
      return nullptr;
    }
    auto d = std::make_unique<FuncDef>();
    d->name = tok_.text;
    if (!advance()) return nullptr;
    if (is_op("(")) {
      if (!advance()) return nullptr;
      for (;;) {
        if (tok_.kind == Tk::kVar) {
          d->params.push_back(tok_.text);
          d->param_is_var.push_back(true);
        } else if (tok_.kind == Tk::kIdent || tok_.kind == Tk::kKeyword) {
          d->params.push_back(tok_.text);
          d->param_is_var.push_back(false);
        } else {
          fail_tok("expected a parameter name, found");
          return nullptr;
        }
        if (!advance()) return nullptr;
        if (is_op(";")) {
          if (!advance()) return nullptr;
          continue;
        }
        if (!expect_op(")")) return nullptr;
        break;
      }
    }
    if (!expect_op(":")) return nullptr;
    d->body = pipe();
    if (!d->body) return nullptr;
    if (!expect_op(";")) return nullptr;
    return d;
  }

  // levels: 1 ',' left; 2 '//' right; 3 assignments nonassoc; 4 or; 5 and; 6 comparisons
  // nonassoc; 7 + -; 8 * / %
  int level_of(const Token& t) const {
    if (t.kind == Tk::kKeyword) {
      if (t.text == "or") return 4;
      if (t.text == "and") return 5;
      return 0;
    }
    if (t.kind != Tk::kOp) return 0;
    const std::string& o = t.text;
    if (o == ",") return 1;
    if (o == "//") return 2;
    if (o == "=" || o == "|=" || o == "+=" || o == "-=" || o == "*=" || o == "/=" || o == "%=" || o == "//=") return 3;
    if (o == "==" || o == "!=" || o == "<" || o == "<=" || o == ">" || o == ">=") return 6;
    if (o == "+" || o == "-") return 7;
    if (o == "*" || o == "/" || o == "%") return 8;
    return 0;
  }

  NodeP binary(int min_level) {
    Depth guard(*this);
    if (depth_ > 400) return fail_at(tok_.pos, "expression nested too deeply");
    NodeP lhs;
    if (min_level <= 8 && is_op("-")) {
      std::size_t pos = tok_.pos;
      if (!advance()) return nullptr;
      NodeP operand = binary(8);
      if (!operand) return nullptr;
      lhs = make(NK::kNeg, pos);
      lhs->kids.push_back(std::move(operand));
    } else {
      lhs = postfix();
    }
    if (!lhs) return nullptr;
    for (;;) {
      int lv = level_of(tok_);
      if (lv == 0 || lv < min_level) return lhs;
      std::string op = tok_.text;
      std::size_t pos = tok_.pos;
      if (!advance()) return nullptr;
      bool right = lv == 2;
      bool nonassoc = lv == 3 || lv == 6;
      NodeP rhs = binary(right ? lv : lv + 1);
      if (!rhs) return nullptr;
      NodeP n;
      if (op == ",") {
        n = make2(NK::kComma, pos, std::move(lhs), std::move(rhs));
      } else if (op == "//") {
        n = make2(NK::kAlt, pos, std::move(lhs), std::move(rhs));
      } else if (op == "or") {
        n = make2(NK::kOr, pos, std::move(lhs), std::move(rhs));
      } else if (op == "and") {
        n = make2(NK::kAnd, pos, std::move(lhs), std::move(rhs));
      } else if (lv == 3) {
        n = make2(NK::kAssign, pos, std::move(lhs), std::move(rhs));
        n->assign = op == "=" ? '=' : op == "//=" ? 'a' : op[0];
      } else {
        n = make2(NK::kBinary, pos, std::move(lhs), std::move(rhs));
        static const std::pair<const char*, Bin> kBins[] = {
            {"+", Bin::kAdd}, {"-", Bin::kSub}, {"*", Bin::kMul}, {"/", Bin::kDiv}, {"%", Bin::kMod},
            {"==", Bin::kEq}, {"!=", Bin::kNe}, {"<", Bin::kLt}, {"<=", Bin::kLe}, {">", Bin::kGt}, {">=", Bin::kGe}};
        for (const auto& [s, b] : kBins)
          if (op == s) n->op = b;
      }
      lhs = std::move(n);
      if (nonassoc && level_of(tok_) == lv) return fail_tok("operator does not chain: parenthesize before");
    }
  }

  NodeP postfix() {
    NodeP t = term();
    if (!t) return nullptr;
    return steps(std::move(t));
  }

  NodeP index_node(NodeP target, NodeP index, std::size_t pos) {
    NodeP n = make(NK::kIndex, pos);
    n->kids.push_back(std::move(target));
    n->kids.push_back(std::move(index));
    return n;
  }
  NodeP slice_node(NodeP target, NodeP from, NodeP to, std::size_t pos) {
    NodeP n = make(NK::kSlice, pos);
    n->kids.push_back(std::move(target));
    n->kids.push_back(std::move(from));
    n->kids.push_back(std::move(to));
    return n;
  }

  bool pattern(Pattern& p) {
    if (tok_.kind == Tk::kVar) {
      p.kind = Pattern::kVar;
      p.var = tok_.text;
      return advance();
    }
    if (is_op("[")) {
      p.kind = Pattern::kArray;
      if (!advance()) return false;
      for (;;) {
        Pattern e;
        if (!pattern(e)) return false;
        p.elems.push_back(std::move(e));
        if (is_op(",")) {
          if (!advance()) return false;
          continue;
        }
        return expect_op("]");
      }
    }
    if (is_op("{")) {
      p.kind = Pattern::kObject;
      if (!advance()) return false;
      for (;;) {
        Pattern::Entry e;
        if (tok_.kind == Tk::kVar) {
          e.var = tok_.text;
          if (!advance()) return false;
          if (is_op(":")) {
            if (!advance()) return false;
            e.value = std::make_unique<Pattern>();
            if (!pattern(*e.value)) return false;
          }
        } else {
          if (tok_.kind == Tk::kIdent || tok_.kind == Tk::kKeyword) {
            e.key = make(NK::kLiteral, tok_.pos);
            e.key->value = J::string(tok_.text);
            if (!advance()) return false;
          } else if (tok_.kind == Tk::kString) {
            e.key = string_node(tok_, "text");
            if (!e.key || !advance()) return false;
          } else if (is_op("(")) {
            if (!advance()) return false;
            e.key = pipe();
            if (!e.key || !expect_op(")")) return false;
          } else {
            fail_tok("expected an object pattern entry, found");
            return false;
          }
          if (!expect_op(":")) return false;
          e.value = std::make_unique<Pattern>();
          if (!pattern(*e.value)) return false;
        }
        p.entries.push_back(std::move(e));
        if (is_op(",")) {
          if (!advance()) return false;
          continue;
        }
        return expect_op("}");
      }
    }
    fail_tok("expected a pattern ($name, [...] or {...}), found");
    return false;
  }

  // A string token as a node: a literal, or an interpolation under format `fmt`.
  NodeP string_node(const Token& t, const std::string& fmt) {
    if (t.interps.empty()) {
      NodeP n = make(NK::kLiteral, t.pos);
      n->value = J::string(t.pieces[0]);
      if (fmt != "text") {
        // @fmt "literal": the format applies to interpolations only
        n->value = J::string(t.pieces[0]);
      }
      return n;
    }
    NodeP n = make(NK::kString, t.pos);
    n->name = fmt;
    for (std::size_t i = 0; i < t.pieces.size(); ++i) {
      StrPart lit;
      lit.text = t.pieces[i];
      n->parts.push_back(std::move(lit));
      if (i < t.interps.size()) {
        Parser sub(full_, t.interps[i].first, t.interps[i].second, err_, depth_ + 1);
        if (!sub.start()) return nullptr;
        NodeP e = sub.program();
        if (!e) {
          failed_ = true;
          return nullptr;
        }
        StrPart part;
        part.expr = std::move(e);
        n->parts.push_back(std::move(part));
      }
    }
    return n;
  }

  NodeP term() {
    Depth guard(*this);
    if (depth_ > 400) return fail_at(tok_.pos, "expression nested too deeply");
    std::size_t pos = tok_.pos;
    switch (tok_.kind) {
      case Tk::kEnd: return fail_tok("expected a term, found");
      case Tk::kDot: {
        if (!advance()) return nullptr;
        if (tok_.kind == Tk::kString) {
          NodeP key = string_node(tok_, "text");
          if (!key || !advance()) return nullptr;
          return index_node(make(NK::kIdentity, pos), std::move(key), pos);
        }
        return make(NK::kIdentity, pos);
      }
      case Tk::kRec: {
        if (!advance()) return nullptr;
        return make(NK::kRecurseAll, pos);
      }
      case Tk::kField: {
        NodeP n = make(NK::kField, pos);
        n->name = tok_.text;
        n->kids.push_back(make(NK::kIdentity, pos));
        if (!advance()) return nullptr;
        return n;
      }
      case Tk::kVar: {
        NodeP n;
        if (tok_.text == "__loc__") {
          n = make(NK::kLiteral, pos);
          J loc = J::object();
          loc.mut_obj().set("file", J::string("<top-level>"));
          loc.mut_obj().set("line", J::number(static_cast<double>(line_of(pos))));
          n->value = loc;
        } else {
          n = make(NK::kVar, pos);
          n->name = tok_.text;
        }
        if (!advance()) return nullptr;
        return n;
      }
      case Tk::kNumber: {
        NodeP n = make(NK::kLiteral, pos);
        // the text is kept for output only when it is JSON (not `.5`, `1.`, `007`: jq 1.7 prints
        // those canonically)
        n->value = is_json_number(tok_.literal) ? J::number_text(tok_.number, tok_.literal) : J::number(tok_.number);
        if (!advance()) return nullptr;
        return n;
      }
      case Tk::kString: {
        NodeP n = string_node(tok_, "text");
        if (!n || !advance()) return nullptr;
        return n;
      }
      case Tk::kFormat: {
        std::string fmt = tok_.text;
        if (!advance()) return nullptr;
        if (tok_.kind == Tk::kString) {
          NodeP n = string_node(tok_, fmt);
          if (!n || !advance()) return nullptr;
          if (n->kind == NK::kLiteral) {  // no interpolation: still checks the format name at run time
            NodeP s = make(NK::kString, pos);
            s->name = fmt;
            StrPart lit;
            lit.text = n->value.str();
            s->parts.push_back(std::move(lit));
            return s;
          }
          return n;
        }
        NodeP n = make(NK::kFormat, pos);
        n->name = fmt;
        return n;
      }
      case Tk::kKeyword: return keyword_term();
      case Tk::kIdent: {
        std::string name = tok_.text;
        if (!advance()) return nullptr;
        if (name == "true" || name == "false" || name == "null") {
          NodeP n = make(NK::kLiteral, pos);
          n->value = name == "null" ? J::null() : J::boolean(name == "true");
          return n;
        }
        if (name == "break") {
          if (tok_.kind != Tk::kVar) return fail_tok("expected a label ($name) after break, found");
          NodeP n = make(NK::kBreak, pos);
          n->name = tok_.text;
          if (!advance()) return nullptr;
          return n;
        }
        NodeP n = make(NK::kCall, pos);
        n->name = name;
        if (is_op("(")) {
          if (!advance()) return nullptr;
          for (;;) {
            NodeP a = pipe();
            if (!a) return nullptr;
            n->kids.push_back(std::move(a));
            if (is_op(";")) {
              if (!advance()) return nullptr;
              continue;
            }
            if (!expect_op(")")) return nullptr;
            break;
          }
        }
        return n;
      }
      case Tk::kOp: break;
    }
    if (is_op("(")) {
      if (!advance()) return nullptr;
      NodeP n = pipe();
      if (!n || !expect_op(")")) return nullptr;
      return n;
    }
    if (is_op("[")) {
      if (!advance()) return nullptr;
      NodeP n = make(NK::kArray, pos);
      if (is_op("]")) {
        if (!advance()) return nullptr;
        return n;
      }
      NodeP body = pipe();
      if (!body || !expect_op("]")) return nullptr;
      n->kids.push_back(std::move(body));
      return n;
    }
    if (is_op("{")) return object();
    if (is_op("-")) {  // unary minus in a term position, e.g. {a: -1}
      if (!advance()) return nullptr;
      NodeP operand = postfix();
      if (!operand) return nullptr;
      NodeP n = make(NK::kNeg, pos);
      n->kids.push_back(std::move(operand));
      return n;
    }
    return fail_tok("unexpected");
  }

  std::size_t line_of(std::size_t pos) const {
    std::size_t line = 1;
    for (std::size_t i = 0; i < pos && i < full_.size(); ++i) line += full_[i] == '\n';
    return line;
  }

  NodeP keyword_term() {
    std::size_t pos = tok_.pos;
    std::string kw = tok_.text;
    if (kw == "if") {
      if (!advance()) return nullptr;
      NodeP n = make(NK::kIf, pos);
      for (;;) {
        NodeP cond = pipe();
        if (!cond || !expect_kw("then")) return nullptr;
        NodeP then = pipe();
        if (!then) return nullptr;
        n->kids.push_back(std::move(cond));
        n->kids.push_back(std::move(then));
        if (is_kw("elif")) {
          if (!advance()) return nullptr;
          continue;
        }
        if (is_kw("else")) {
          if (!advance()) return nullptr;
          NodeP e = pipe();
          if (!e) return nullptr;
          n->kids.push_back(std::move(e));
        }
        if (!expect_kw("end")) return nullptr;
        return n;
      }
    }
    if (kw == "try") {
      if (!advance()) return nullptr;
      NodeP body = post_term();
      if (!body) return nullptr;
      NodeP n = make(NK::kTry, pos);
      n->kids.push_back(std::move(body));
      if (is_kw("catch")) {
        if (!advance()) return nullptr;
        NodeP c = post_term();
        if (!c) return nullptr;
        n->kids.push_back(std::move(c));
      } else {
        n->kids.push_back(nullptr);
      }
      return n;
    }
    if (kw == "reduce" || kw == "foreach") {
      if (!advance()) return nullptr;
      NodeP source = binary(2);
      if (!source || !expect_kw("as")) return nullptr;
      Pattern p;
      if (!pattern(p)) return nullptr;
      if (!expect_op("(")) return nullptr;
      NodeP init = pipe();
      if (!init || !expect_op(";")) return nullptr;
      NodeP update = pipe();
      if (!update) return nullptr;
      NodeP extract;
      if (kw == "foreach" && is_op(";")) {
        if (!advance()) return nullptr;
        extract = pipe();
        if (!extract) return nullptr;
      }
      if (!expect_op(")")) return nullptr;
      NodeP n = make(kw == "reduce" ? NK::kReduce : NK::kForeach, pos);
      n->kids.push_back(std::move(source));
      n->kids.push_back(std::move(init));
      n->kids.push_back(std::move(update));
      if (kw == "foreach") n->kids.push_back(std::move(extract));
      n->patterns.push_back(std::move(p));
      return n;
    }
    if (kw == "label") {
      if (!advance()) return nullptr;
      if (tok_.kind != Tk::kVar) return fail_tok("expected a label ($name) after label, found");
      NodeP n = make(NK::kLabel, pos);
      n->name = tok_.text;
      if (!advance() || !expect_op("|")) return nullptr;
      NodeP body = pipe();
      if (!body) return nullptr;
      n->kids.push_back(std::move(body));
      return n;
    }
    if (kw == "def") {
      auto d = funcdef();
      if (!d) return nullptr;
      NodeP rest = pipe();
      if (!rest) return nullptr;
      NodeP n = make(NK::kDef, pos);
      n->def = std::move(d);
      n->kids.push_back(std::move(rest));
      return n;
    }
    if (kw == "import" || kw == "include") return fail_tok("modules are not supported:");
    return fail_tok("unexpected keyword");
  }

  // A term with its postfix operators but without `as` (try bodies, reduce sources).
  NodeP post_term() {
    NodeP t = term();
    if (!t) return nullptr;
    return steps(std::move(t));
  }

  // Postfix steps after a term: .name ."s" [e] [] [a:b] ?
  NodeP steps(NodeP t) {
    bool step = false;  // t is the step just parsed (not a term in parentheses, not a `?`)
    for (;;) {
      if (tok_.kind == Tk::kField) {
        NodeP n = make(NK::kField, tok_.pos);
        n->name = tok_.text;
        n->kids.push_back(std::move(t));
        t = std::move(n);
        step = true;
        if (!advance()) return nullptr;
        continue;
      }
      if (tok_.kind == Tk::kDot) {
        std::size_t pos = tok_.pos;
        if (!advance()) return nullptr;
        if (tok_.kind == Tk::kString) {
          NodeP key = string_node(tok_, "text");
          if (!key || !advance()) return nullptr;
          t = index_node(std::move(t), std::move(key), pos);
          step = true;
          continue;
        }
        if (!is_op("[")) return fail_tok("expected a name, a string or '[' after '.', found");
        continue;
      }
      if (is_op("[")) {
        std::size_t pos = tok_.pos;
        if (!advance()) return nullptr;
        if (is_op("]")) {
          if (!advance()) return nullptr;
          NodeP n = make(NK::kIterate, pos);
          n->kids.push_back(std::move(t));
          t = std::move(n);
          step = true;
          continue;
        }
        NodeP from, to;
        if (is_op(":")) {
          if (!advance()) return nullptr;
          to = pipe();
          if (!to || !expect_op("]")) return nullptr;
          t = slice_node(std::move(t), nullptr, std::move(to), pos);
          step = true;
          continue;
        }
        from = pipe();
        if (!from) return nullptr;
        if (is_op(":")) {
          if (!advance()) return nullptr;
          if (!is_op("]")) {
            to = pipe();
            if (!to) return nullptr;
          }
          if (!expect_op("]")) return nullptr;
          t = slice_node(std::move(t), std::move(from), std::move(to), pos);
          step = true;
          continue;
        }
        if (!expect_op("]")) return nullptr;
        t = index_node(std::move(t), std::move(from), pos);
        step = true;
        continue;
      }
      if (is_op("?")) {
        if (step && !t->opt &&
            (t->kind == NK::kField || t->kind == NK::kIndex || t->kind == NK::kSlice || t->kind == NK::kIterate)) {
          t->opt = true;  // only this step's own error (jq: INDEX_OPT, EACH_OPT)
          step = false;
          if (!advance()) return nullptr;
          continue;
        }
        step = false;
        NodeP n = make(NK::kTry, tok_.pos);
        n->kids.push_back(std::move(t));
        n->kids.push_back(nullptr);
        t = std::move(n);
        if (!advance()) return nullptr;
        continue;
      }
      return t;
    }
  }

  NodeP object() {
    std::size_t pos = tok_.pos;
    if (!advance()) return nullptr;  // '{'
    NodeP n = make(NK::kObject, pos);
    if (is_op("}")) {
      if (!advance()) return nullptr;
      return n;
    }
    for (;;) {
      ObjEntry e;
      std::size_t epos = tok_.pos;
      if (tok_.kind == Tk::kVar) {
        std::string var = tok_.text;
        if (!advance()) return nullptr;
        if (var == "__loc__") {
          e.key = make(NK::kLiteral, epos);
          e.key->value = J::string("__loc__");
          e.value = make(NK::kLiteral, epos);
          J loc = J::object();
          loc.mut_obj().set("file", J::string("<top-level>"));
          loc.mut_obj().set("line", J::number(static_cast<double>(line_of(epos))));
          e.value->value = loc;
        } else {
          e.key = make(NK::kLiteral, epos);
          e.key->value = J::string(var);
          e.value = make(NK::kVar, epos);
          e.value->name = var;
        }
        if (is_op(":") && var != "__loc__") {
          // {$k: v}: the key is the value of $k
          e.key = make(NK::kVar, epos);
          e.key->name = var;
          e.value = nullptr;
        }
      } else if (tok_.kind == Tk::kIdent || tok_.kind == Tk::kKeyword) {
        std::string name = tok_.text;
        if (!advance()) return nullptr;
        e.key = make(NK::kLiteral, epos);
        e.key->value = J::string(name);
        if (!is_op(":")) {
          e.value = make(NK::kField, epos);
          e.value->name = name;
          e.value->kids.push_back(make(NK::kIdentity, epos));
        }
      } else if (tok_.kind == Tk::kString || tok_.kind == Tk::kFormat) {
        std::string fmt = "text";
        if (tok_.kind == Tk::kFormat) {
          fmt = tok_.text;
          if (!advance()) return nullptr;
          if (tok_.kind != Tk::kString) return fail_tok("expected a string after the format, found");
        }
        e.key = string_node(tok_, fmt);
        if (!e.key) return nullptr;
        if (!advance()) return nullptr;
        if (!is_op(":")) {
          // {"a b"} is {"a b": ."a b"}; {"a\(x)"} the same with the computed key
          Token again = last_string_;
          NodeP key_copy = string_node(again, fmt);
          if (!key_copy) return nullptr;
          e.value = index_node(make(NK::kIdentity, epos), std::move(key_copy), epos);
        }
      } else if (tok_.kind == Tk::kNumber) {
        return fail_tok("object keys must be strings, found");
      } else if (is_op("(")) {
        if (!advance()) return nullptr;
        e.key = pipe();
        if (!e.key || !expect_op(")")) return nullptr;
        if (!is_op(":")) return fail_tok("expected ':' after a computed key, found");
      } else {
        return fail_tok("expected an object key, found");
      }
      if (!e.value) {
        if (!expect_op(":")) return nullptr;
        e.value = object_value();
        if (!e.value) return nullptr;
      }
      n->entries.push_back(std::move(e));
      if (is_op(",")) {
        if (!advance()) return nullptr;
        if (is_op("}")) return fail_tok("expected an object key, found");
        continue;
      }
      if (!expect_op("}")) return nullptr;
      return n;
    }
  }

  // An object value: a pipe without top-level commas (ppipe also takes operators: {a: .x + 1}).
  NodeP object_value() { return pipe_tail(binary(2), &Parser::object_value); }

  std::string_view full_;
  Lexer lex_;
  ParseError& err_;
  int depth_;
  Token tok_;
  Token last_string_;  // the string token before the current one
  bool failed_ = false;
};

}  // namespace

namespace {

// The direct subtrees of a node (kids, entries, interpolations, a def's body, pattern keys).
template <class F>
void each_child(Node& n, F&& f) {
  for (auto& k : n.kids) f(k);
  for (auto& e : n.entries) {
    f(e.key);
    f(e.value);
  }
  for (auto& p : n.parts) f(p.expr);
  if (n.def) f(n.def->body);
  std::vector<Pattern*> pats;
  for (auto& p : n.patterns) pats.push_back(&p);
  while (!pats.empty()) {
    Pattern* p = pats.back();
    pats.pop_back();
    for (auto& e : p->elems) pats.push_back(&e);
    for (auto& e : p->entries) {
      f(e.key);
      if (e.value) pats.push_back(e.value.get());
    }
  }
}

}  // namespace

Node::~Node() {
  std::vector<NodeP> work;
  each_child(*this, [&](NodeP& c) {
    if (c) work.push_back(std::move(c));
  });
  while (!work.empty()) {
    NodeP n = std::move(work.back());
    work.pop_back();
    each_child(*n, [&](NodeP& c) {
      if (c) work.push_back(std::move(c));
    });
  }  // each node is destroyed with no children left
}

std::size_t tree_height(const Node* root) {
  std::size_t best = 0;
  std::vector<std::pair<Node*, std::size_t>> work;
  if (root) work.emplace_back(const_cast<Node*>(root), 1);
  while (!work.empty()) {
    Node* n = work.back().first;
    const std::size_t h = work.back().second;  // (clang 14 cannot capture a structured binding)
    work.pop_back();
    best = std::max(best, h);
    each_child(*n, [&](NodeP& c) {
      if (c) work.emplace_back(c.get(), h + 1);
    });
  }
  return best;
}

NodeP parse_program(std::string_view source, ParseError& err) {
  Parser p(source, 0, source.size(), err, 0);
  if (!p.start()) return nullptr;
  NodeP root = p.program();
  if (root && tree_height(root.get()) > 1000) {
    err.message = "expression nested too deeply";
    err.pos = 0;
    return nullptr;
  }
  return root;
}

std::vector<std::unique_ptr<FuncDef>> parse_definitions(std::string_view source, ParseError& err) {
  Parser p(source, 0, source.size(), err, 0);
  if (!p.start()) return {};
  return p.definitions();
}

}  // namespace ppipe::expr::jq
