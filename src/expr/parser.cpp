// Parser and compiler: tokens -> node tree -> checks (single-valued, arity, regexes) -> constant
// folding. Precedence follows jq 1.6's parser.y, from loosest to tightest:
//
//   |  (right)   ,  (left)   //  (right)   or  (left)   and  (left)
//   == != < <= > >=  (non-associative)   + -  (left)   * / %  (left)
//   unary -  (its operand is a * / % chain: -7 % 3 == -(7 % 3))   postfix: .a [i] [a:b] ? try
//
// Parse errors are thrown as ParseFailure inside this file only and returned to the caller of
// compile() as a CompileError value.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "src/expr/internal.h"
#include "src/expr/lexer.h"
#include "src/util/text_util.h"

namespace ppipe::expr {

namespace {

struct ParseFailure {
  std::string message;
  std::size_t column;
};

struct BuiltinInfo {
  std::string_view name;
  int arity;
  Fn fn;
  std::string_view usage;
};

constexpr BuiltinInfo kBuiltins[] = {
    {"length", 0, Fn::kLength, "length"},
    {"utf8bytelength", 0, Fn::kUtf8ByteLength, "utf8bytelength"},
    {"startswith", 1, Fn::kStartsWith, "startswith(s)"},
    {"endswith", 1, Fn::kEndsWith, "endswith(s)"},
    {"contains", 1, Fn::kContains, "contains(x)"},
    {"test", 1, Fn::kTest, "test(re) or test(re; flags)"},
    {"test", 2, Fn::kTest, "test(re) or test(re; flags)"},
    {"ascii_downcase", 0, Fn::kAsciiDowncase, "ascii_downcase"},
    {"ascii_upcase", 0, Fn::kAsciiUpcase, "ascii_upcase"},
    {"ltrimstr", 1, Fn::kLtrimstr, "ltrimstr(s)"},
    {"rtrimstr", 1, Fn::kRtrimstr, "rtrimstr(s)"},
    {"split", 1, Fn::kSplit, "split(s)"},
    {"join", 1, Fn::kJoin, "join(s)"},
    {"has", 1, Fn::kHas, "has(key)"},
    {"type", 0, Fn::kType, "type"},
    {"tostring", 0, Fn::kTostring, "tostring"},
    {"tonumber", 0, Fn::kTonumber, "tonumber"},
    {"keys", 0, Fn::kKeys, "keys"},
    {"keys_unsorted", 0, Fn::kKeysUnsorted, "keys_unsorted"},
    {"select", 1, Fn::kSelect, "select(f)"},
    {"not", 0, Fn::kNot, "not"},
    {"map", 1, Fn::kMap, "map(f)"},
    {"any", 0, Fn::kAny, "any or any(f)"},
    {"any", 1, Fn::kAny, "any or any(f)"},
    {"all", 0, Fn::kAll, "all or all(f)"},
    {"all", 1, Fn::kAll, "all or all(f)"},
    {"add", 0, Fn::kAdd, "add"},
    {"abs", 0, Fn::kAbs, "abs"},
    {"floor", 0, Fn::kFloor, "floor"},
    {"ceil", 0, Fn::kCeil, "ceil"},
    {"round", 0, Fn::kRound, "round"},
    {"sqrt", 0, Fn::kSqrt, "sqrt"},
    {"min", 0, Fn::kMin, "min"},
    {"max", 0, Fn::kMax, "max"},
    {"tojson", 0, Fn::kTojson, "tojson"},
    {"fromjson", 0, Fn::kFromjson, "fromjson"},
    {"empty", 0, Fn::kEmpty, "empty"},
    {"error", 0, Fn::kError, "error or error(message)"},
    {"error", 1, Fn::kError, "error or error(message)"},
    {"sort", 0, Fn::kSort, "sort"},
    {"reverse", 0, Fn::kReverse, "reverse"},
    {"first", 0, Fn::kFirst, "first"},
    {"last", 0, Fn::kLast, "last"},
    {"values", 0, Fn::kValues, "values"},
    {"nulls", 0, Fn::kNulls, "nulls"},
    {"to_entries", 0, Fn::kToEntries, "to_entries"},
    {"isnan", 0, Fn::kIsNan, "isnan"},
};

// jq builtins that produce several outputs: outside our single-valued model.
constexpr std::string_view kGeneratorBuiltins[] = {
    "range", "recurse", "recurse_down", "paths", "leaf_paths", "splits", "inputs", "input", "limit",
    "while", "repeat", "scan", "match", "combinations", "path", "tostream", "nth", "until", "env",
    "getpath", "first", "last",
};

// Other jq builtins: known, not implemented (a clearer message than "unknown function"). Only names
// in neither list above: make_call looks there first.
constexpr std::string_view kUnsupportedBuiltins[] = {
    "sort_by", "group_by", "unique", "unique_by", "min_by", "max_by", "flatten", "indices", "index",
    "rindex", "inside", "walk", "transpose", "ascii", "implode", "explode", "capture", "sub", "gsub",
    "from_entries", "with_entries", "del", "delpaths", "setpath", "fromstream", "truncate_stream",
    "todate", "fromdate", "now", "mktime", "gmtime", "localtime", "strftime", "strptime", "dateadd",
    "datesub", "date", "fromdateiso8601", "todateiso8601", "halt", "halt_error", "input_filename",
    "input_line_number", "debug", "stderr", "builtins", "infinite", "nan", "isinfinite", "isnormal",
    "isvalid", "significand", "log", "log2", "log10", "exp", "exp2", "exp10", "pow", "fabs", "trunc",
    "objects", "iterables", "booleans", "numbers", "strings", "arrays", "scalars", "in", "trim",
    "ltrim", "rtrim", "modulemeta", "get_search_list", "pick", "toarray", "isempty", "IN", "INDEX",
    "finites", "normals",
};

bool is_keyword(std::string_view s) {
  static constexpr std::string_view kKeywords[] = {
      "and", "or", "if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach", "try",
      "catch", "label", "import", "include", "module", "__loc__"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), s) != std::end(kKeywords);
}

using NodeP = std::unique_ptr<Node>;

NodeP make(Op op, std::size_t column) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->column = static_cast<std::uint32_t>(column);
  return n;
}

// The variables in scope (innermost last) and their slots in the program's frame.
struct VarScope {
  std::vector<std::pair<std::string_view, std::uint16_t>> names;
  std::uint16_t slots = 0;
  // False when the frame is full (a frame of 65,535 slots: only a generated program gets there).
  bool bind(std::string_view name, std::uint16_t* slot) {
    if (slots == UINT16_MAX) return false;
    names.emplace_back(name, slots);
    *slot = slots++;
    return true;
  }
};

class Parser {
 public:
  // `source` is the whole expression (token positions are offsets into it); `depth` the nesting
  // of the string interpolation this parser reads, if any.
  Parser(std::vector<Token> tokens, std::string_view source, VarScope& scope, int depth = 0)
      : toks_(std::move(tokens)), source_(source), scope_(&scope), depth_(depth) {}

  NodeP parse_program() {
    NodeP n = parse_pipe();
    if (peek().kind != Tok::kEnd) unexpected(peek());
    return n;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    std::size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool at(Tok k) const { return peek().kind == k; }
  bool at_word(std::string_view w) const { return peek().kind == Tok::kIdent && peek().text == w; }

  [[noreturn]] void error(std::string message, std::size_t column) {
    throw ParseFailure{std::move(message), column};
  }

  [[noreturn]] void unexpected(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: error("unexpected end of expression", t.begin);
      case Tok::kAssign:
        if (t.text == "=") error("assignment operators ('=') are not supported (use == to compare)", t.begin);
        error("assignment operators ('" + std::string(t.text) + "') are not supported", t.begin);
      case Tok::kAltDestructure: error("the destructuring alternative '?//' is not supported", t.begin);
      case Tok::kComma:
        error("generators like ',' are not supported here; collect values in an array: [a, b]", t.begin);
      case Tok::kIdent:
        if (t.text == "as") error("variable bindings ('as $name') are not supported", t.begin);
        if (t.text == "AND" || t.text == "OR" || t.text == "And" || t.text == "Or") {
          std::string lower(t.text);
          for (char& c : lower) c = static_cast<char>(c | 0x20);
          error("unexpected '" + std::string(t.text) + "' (operators are lower case: '" + lower + "')", t.begin);
        }
        error("unexpected '" + std::string(t.text) + "'", t.begin);
      default: error("unexpected '" + std::string(t.text) + "'", t.begin);
    }
  }

  void expect(Tok k, std::string_view what) {
    if (!at(k)) {
      const Token& t = peek();
      if (t.kind == Tok::kEnd) error("unexpected end of expression, expected " + std::string(what), t.begin);
      if (t.kind == Tok::kAssign || t.kind == Tok::kAltDestructure) unexpected(t);
      error("expected " + std::string(what) + " but found '" + std::string(t.text) + "'", t.begin);
    }
    next();
  }

  void expect_word(std::string_view w) {
    if (!at_word(w)) {
      const Token& t = peek();
      if (t.kind == Tok::kEnd) error("unexpected end of expression, expected '" + std::string(w) + "'", t.begin);
      error("expected '" + std::string(w) + "' but found '" + std::string(t.text) + "'", t.begin);
    }
    next();
  }

  // Bounds recursion on hostile input like "((((...": a compile error instead of a stack overflow.
  struct DepthGuard {
    DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.error("expression nested too deeply", p_.peek().begin);
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };
  static constexpr int kMaxDepth = 200;

  // pipe := comma ('|' pipe)?
  NodeP parse_pipe() {
    DepthGuard guard(*this);
    NodeP lhs = parse_comma();
    if (at(Tok::kPipe)) {
      std::size_t col = next().begin;
      NodeP n = make(Op::kPipe, col);
      n->kids.push_back(std::move(lhs));
      n->kids.push_back(parse_pipe());
      return n;
    }
    return lhs;
  }

  // The value of an object entry: a pipe without top-level commas (they separate entries).
  NodeP parse_pipe_no_comma() {
    NodeP lhs = parse_alt();
    if (at(Tok::kPipe)) {
      DepthGuard guard(*this);
      std::size_t col = next().begin;
      NodeP n = make(Op::kPipe, col);
      n->kids.push_back(std::move(lhs));
      n->kids.push_back(parse_pipe_no_comma());
      return n;
    }
    return lhs;
  }

  NodeP parse_comma() {
    NodeP lhs = parse_alt();
    if (!at(Tok::kComma)) return lhs;
    NodeP n = make(Op::kComma, peek().begin);
    n->kids.push_back(std::move(lhs));
    while (at(Tok::kComma)) {
      next();
      n->kids.push_back(parse_alt());
    }
    return n;
  }

  NodeP parse_alt() {
    NodeP lhs = parse_or();
    if (at(Tok::kAlt)) {
      DepthGuard guard(*this);
      std::size_t col = next().begin;
      NodeP n = make(Op::kAlt, col);
      n->kids.push_back(std::move(lhs));
      n->kids.push_back(parse_alt());
      return n;
    }
    return lhs;
  }

  NodeP parse_or() {
    NodeP lhs = parse_and();
    while (at_word("or")) {
      std::size_t col = next().begin;
      NodeP n = make(Op::kOr, col);
      n->kids.push_back(std::move(lhs));
      n->kids.push_back(parse_and());
      lhs = std::move(n);
    }
    return lhs;
  }

  NodeP parse_and() {
    NodeP lhs = parse_compare();
    while (at_word("and")) {
      std::size_t col = next().begin;
      NodeP n = make(Op::kAnd, col);
      n->kids.push_back(std::move(lhs));
      n->kids.push_back(parse_compare());
      lhs = std::move(n);
    }
    return lhs;
  }

  static bool compare_op(Tok k, BinOp& op) {
    switch (k) {
      case Tok::kEq: op = BinOp::kEq; return true;
      case Tok::kNe: op = BinOp::kNe; return true;
      case Tok::kLt: op = BinOp::kLt; return true;
      case Tok::kLe: op = BinOp::kLe; return true;
      case Tok::kGt: op = BinOp::kGt; return true;
      case Tok::kGe: op = BinOp::kGe; return true;
      default: return false;
    }
  }

  NodeP binary(BinOp op, std::size_t col, NodeP a, NodeP b) {
    NodeP n = make(Op::kBinary, col);
    n->binop = op;
    n->kids.push_back(std::move(a));
    n->kids.push_back(std::move(b));
    return n;
  }

  NodeP parse_compare() {
    NodeP lhs = parse_additive();
    BinOp op;
    if (!compare_op(peek().kind, op)) return lhs;
    std::size_t col = next().begin;
    NodeP rhs = parse_additive();
    BinOp again;
    if (compare_op(peek().kind, again)) {
      error("comparison operators do not chain; add parentheses, e.g. (a < b) == true", peek().begin);
    }
    return binary(op, col, std::move(lhs), std::move(rhs));
  }

  NodeP parse_additive() {
    NodeP lhs = parse_multiplicative();
    while (at(Tok::kPlus) || at(Tok::kMinus)) {
      const Token& t = next();
      BinOp op = t.kind == Tok::kPlus ? BinOp::kAdd : BinOp::kSub;
      lhs = binary(op, t.begin, std::move(lhs), parse_multiplicative());
    }
    return lhs;
  }

  NodeP parse_multiplicative() {
    NodeP lhs = parse_unary();
    while (at(Tok::kStar) || at(Tok::kSlash) || at(Tok::kPercent)) {
      const Token& t = next();
      BinOp op = t.kind == Tok::kStar ? BinOp::kMul : t.kind == Tok::kSlash ? BinOp::kDiv : BinOp::kMod;
      lhs = binary(op, t.begin, std::move(lhs), parse_unary());
    }
    return lhs;
  }

  NodeP parse_unary() {
    DepthGuard guard(*this);
    if (at(Tok::kMinus)) {
      std::size_t col = next().begin;
      NodeP n = make(Op::kNeg, col);
      n->kids.push_back(parse_multiplicative());
      return n;
    }
    return parse_postfix();
  }

  // Appends a constant step to a path, creating the path node when needed.
  static NodeP add_step(NodeP base, PathStep step, std::size_t col) {
    if (base->op == Op::kPath) {
      base->steps.push_back(std::move(step));
      return base;
    }
    NodeP path = make(Op::kPath, col);
    if (base->op != Op::kIdentity) path->kids.push_back(std::move(base));
    path->steps.push_back(std::move(step));
    return path;
  }

  static NodeP key_step(NodeP base, std::string key, std::size_t col) {
    PathStep step;
    step.key = std::move(key);
    return add_step(std::move(base), std::move(step), col);
  }

  // After `[`: `]` (iterate), `:e]`, `e]`, `e:]`, `e:e]`.
  NodeP parse_bracket(NodeP term, std::size_t col, bool& iterated) {
    if (at(Tok::kRBracket)) {
      next();
      NodeP n = make(Op::kIterate, col);
      n->kids.push_back(std::move(term));
      if (at(Tok::kQuestion)) {
        next();
        n->arity = 1;  // .[]? : errors (non-iterable input) give no values
      }
      iterated = true;
      return n;
    }
    NodeP from, to;
    bool is_slice = false;
    if (at(Tok::kColon)) {
      next();
      is_slice = true;
      to = parse_pipe();
    } else {
      from = parse_pipe();
      if (at(Tok::kColon)) {
        next();
        is_slice = true;
        if (!at(Tok::kRBracket)) to = parse_pipe();
      }
    }
    expect(Tok::kRBracket, "']'");
    if (is_slice) {
      NodeP n = make(Op::kSlice, col);
      n->kids.push_back(std::move(term));
      n->kids.push_back(std::move(from));
      n->kids.push_back(std::move(to));
      return n;
    }
    if (from->op == Op::kConst && from->constant.is_string()) {
      return key_step(std::move(term), std::string(from->constant.string_value()), col);
    }
    if (from->op == Op::kConst && from->constant.tag() == Tag::kInt) {
      PathStep step;
      step.is_index = true;
      step.index = from->constant.int_value();
      return add_step(std::move(term), std::move(step), col);
    }
    NodeP n = make(Op::kIndex, col);
    n->kids.push_back(std::move(term));
    n->kids.push_back(std::move(from));
    return n;
  }

  NodeP parse_postfix() {
    NodeP term = parse_primary();
    return parse_suffixes(std::move(term), false);
  }

  NodeP parse_suffixes(NodeP term, bool after_iterate) {
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::kField) {
        next();
        term = key_step(std::move(term), std::string(t.text), t.begin);
        term->parenthesized = false;
      } else if (t.kind == Tok::kDot && peek(1).kind == Tok::kString) {
        next();
        const Token& s = next();
        if (s.has_interpolation) error("string interpolation \\(...) is not supported", s.begin);
        term = key_step(std::move(term), s.str, t.begin);
        term->parenthesized = false;
      } else if (t.kind == Tok::kLBracket || (t.kind == Tok::kDot && peek(1).kind == Tok::kLBracket)) {
        if (t.kind == Tok::kDot) next();
        std::size_t col = next().begin;
        bool iterated = false;
        NodeP indexed = parse_bracket(std::move(term), col, iterated);
        if (after_iterate && indexed->op == Op::kIndex) {
          error("a computed index after .[] is not supported", col);
        }
        if (iterated) {
          // `X[]??`: a `?` right after `[]?` covers all of X[] (jq's Term '?').
          while (at(Tok::kQuestion)) {
            NodeP n = make(Op::kTry, next().begin);
            n->kids.push_back(std::move(indexed));
            indexed = std::move(n);
          }
          // `.a[] .b [0]` : the steps after [] apply to each element.
          DepthGuard guard(*this);
          NodeP rest = parse_suffixes(make(Op::kIdentity, col), true);
          if (rest->op == Op::kIdentity) return indexed;
          NodeP pipe = make(Op::kPipe, col);
          pipe->kids.push_back(std::move(indexed));
          pipe->kids.push_back(std::move(rest));
          return pipe;
        }
        term = std::move(indexed);
        term->parenthesized = false;
      } else if (t.kind == Tok::kQuestion) {
        next();
        if (term->parenthesized) {
          // `(.a.b)?`, `(.a[1:])?`: the whole term, as jq
        } else if (term->op == Op::kPath && (term->steps.size() > 1 || !term->kids.empty())) {
          // As jq: `?` after a path step covers that step only, `.a.b?` is `.a | .b?`: an error
          // in `.a` is still an error.
          PathStep last = std::move(term->steps.back());
          term->steps.pop_back();
          NodeP inner = term->steps.empty() ? std::move(term->kids[0]) : std::move(term);
          NodeP n = make(Op::kTry, t.begin);
          n->kids.push_back(add_step(make(Op::kIdentity, t.begin), std::move(last), t.begin));
          NodeP pipe = make(Op::kPipe, t.begin);
          pipe->kids.push_back(std::move(inner));
          pipe->kids.push_back(std::move(n));
          term = std::move(pipe);
          continue;
        } else if ((term->op == Op::kIndex || term->op == Op::kSlice) && term->arity == 0) {
          term->arity = 1;  // `T[e]?`, `T[a:b]?`: the indexing only (eval), as jq
          continue;
        }
        NodeP n = make(Op::kTry, t.begin);
        n->kids.push_back(std::move(term));
        term = std::move(n);
      } else if (t.kind == Tok::kIdent && t.text == "as") {
        if (reduce_source_ > 0) return term;  // `reduce TERM as $x (...)`
        error("variable bindings ('as $name') are not supported", t.begin);
      } else {
        return term;
      }
    }
  }

  NodeP constant(Value v, std::size_t col) {
    NodeP n = make(Op::kConst, col);
    n->constant = v;
    return n;
  }

  NodeP string_constant(std::string s, std::size_t col) {
    NodeP n = make(Op::kConst, col);
    n->owned = std::make_unique<std::string>(std::move(s));
    n->constant = Value::string(*n->owned);
    return n;
  }

  NodeP number_literal(const Token& t) {
    std::string_view s = t.text;
    bool integral = s.find_first_of(".eE") == std::string_view::npos;
    if (integral) {
      std::uint64_t u;
      auto r = std::from_chars(s.data(), s.data() + s.size(), u);
      if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return constant(Value::uinteger(u), t.begin);
    }
    double d;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
      d = s.find("e-") != std::string_view::npos || s.find("E-") != std::string_view::npos ? 0.0 : HUGE_VAL;
    } else if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
      error("invalid number '" + std::string(s) + "'", t.begin);
    }
    return constant(Value::number(d), t.begin);
  }

  NodeP parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kDot: {
        next();
        if (at(Tok::kString)) {
          const Token& s = next();
          if (s.has_interpolation) error("string interpolation \\(...) is not supported", s.begin);
          return key_step(make(Op::kIdentity, t.begin), s.str, t.begin);
        }
        if (at(Tok::kLBracket)) {
          std::size_t col = next().begin;
          bool iterated = false;
          NodeP indexed = parse_bracket(make(Op::kIdentity, t.begin), col, iterated);
          if (!iterated) return indexed;
          DepthGuard guard(*this);
          NodeP rest = parse_suffixes(make(Op::kIdentity, col), true);
          if (rest->op == Op::kIdentity) return indexed;
          NodeP pipe = make(Op::kPipe, col);
          pipe->kids.push_back(std::move(indexed));
          pipe->kids.push_back(std::move(rest));
          return pipe;
        }
        return make(Op::kIdentity, t.begin);
      }
      case Tok::kField:
        next();
        return key_step(make(Op::kIdentity, t.begin), std::string(t.text), t.begin);
      case Tok::kDotDot:
        error("recursive descent '..' is a generator and is not supported", t.begin);
      case Tok::kNumber:
        next();
        return number_literal(t);
      case Tok::kString:
        next();
        if (t.has_interpolation) return interpolation(t);
        return string_constant(t.str, t.begin);
      case Tok::kFormat:
        error("format strings (" + std::string(t.text) + ") are not supported", t.begin);
      case Tok::kVar: {
        // bound by an enclosing reduce; others ($ENV, $__loc__, undefined): the general engine
        for (auto it = scope_->names.rbegin(); it != scope_->names.rend(); ++it) {
          if (it->first != t.text) continue;
          next();
          NodeP n = make(Op::kVar, t.begin);
          n->slot = it->second;
          return n;
        }
        error("variables (" + std::string(t.text) + ") are not supported", t.begin);
      }
      case Tok::kLParen: {
        next();
        NodeP n = parse_pipe();
        expect(Tok::kRParen, "')'");
        n->parenthesized = true;
        return n;
      }
      case Tok::kLBracket: {
        next();
        NodeP n = make(Op::kArray, t.begin);
        if (!at(Tok::kRBracket)) n->kids.push_back(parse_pipe());
        expect(Tok::kRBracket, "']'");
        return n;
      }
      case Tok::kLBrace:
        return parse_object();
      case Tok::kIdent:
        return parse_word();
      default:
        unexpected(t);
    }
  }

  // "a\(E)b": the pieces of text, and each E parsed from its own range of the source (its
  // tokens keep their columns in the whole expression, for error carets).
  NodeP interpolation(const Token& t) {
    NodeP n = make(Op::kInterp, t.begin);
    for (std::size_t i = 0; i < t.holes.size(); ++i) {
      const auto [begin, end] = t.holes[i];
      std::vector<Token> tokens;
      CompileError lex_error;
      if (!lex(source_.substr(begin, end - begin), tokens, lex_error)) error(lex_error.message, begin + lex_error.column);
      for (Token& k : tokens) {
        k.begin += begin;
        k.end += begin;
        for (auto& h : k.holes) {
          h.first += begin;
          h.second += begin;
        }
      }
      Parser inner(std::move(tokens), source_, *scope_, depth_ + 1);
      n->texts.push_back(t.pieces[i]);
      n->kids.push_back(inner.parse_program());
    }
    n->texts.push_back(t.str);
    return n;
  }

  // reduce SOURCE as $name (INIT; UPDATE): SOURCE may be a generator; INIT and UPDATE are
  // single-valued (else the general engine takes it), $name is seen by UPDATE only.
  NodeP parse_reduce(std::size_t col) {
    DepthGuard guard(*this);
    NodeP n = make(Op::kReduce, col);
    ++reduce_source_;
    NodeP source = parse_postfix();
    --reduce_source_;
    expect_word("as");
    const Token& var = peek();
    if (var.kind != Tok::kVar) error("destructuring patterns are not supported", var.begin);
    next();
    expect(Tok::kLParen, "'('");
    n->kids.push_back(std::move(source));
    n->kids.push_back(parse_pipe());
    expect(Tok::kSemicolon, "';'");
    if (!scope_->bind(var.text, &n->slot)) error("too many variables", var.begin);
    n->kids.push_back(parse_pipe());
    scope_->names.pop_back();
    expect(Tok::kRParen, "')'");
    return n;
  }

  NodeP parse_object() {
    std::size_t col = next().begin;
    NodeP n = make(Op::kObject, col);
    if (at(Tok::kRBrace)) {
      next();
      return n;
    }
    for (;;) {
      ObjectEntry e;
      const Token& k = peek();
      bool shorthand_ok = false;
      if (k.kind == Tok::kIdent) {
        next();
        e.key = std::string(k.text);
        shorthand_ok = true;
      } else if (k.kind == Tok::kString) {
        next();
        if (k.has_interpolation) error("string interpolation \\(...) is not supported", k.begin);
        e.key = k.str;
        shorthand_ok = true;
      } else if (k.kind == Tok::kLParen) {
        next();
        e.key_node = parse_pipe();
        expect(Tok::kRParen, "')'");
      } else if (k.kind == Tok::kVar) {
        error("variables (" + std::string(k.text) + ") are not supported", k.begin);
      } else if (k.kind == Tok::kFormat) {
        error("format strings (" + std::string(k.text) + ") are not supported", k.begin);
      } else {
        if (k.kind == Tok::kEnd) unexpected(k);
        error("expected an object key (name, \"string\" or (expression)) but found '" + std::string(k.text) + "'",
              k.begin);
      }
      if (at(Tok::kColon)) {
        next();
        e.value = parse_pipe_no_comma();
      } else if (shorthand_ok) {
        // {a} means {a: .a}
        e.value = key_step(make(Op::kIdentity, k.begin), e.key, k.begin);
      } else {
        expect(Tok::kColon, "':'");
      }
      n->entries.push_back(std::move(e));
      if (at(Tok::kComma)) {
        next();
        continue;
      }
      expect(Tok::kRBrace, "',' or '}'");
      break;
    }
    return n;
  }

  NodeP parse_if(std::size_t col) {
    NodeP n = make(Op::kIf, col);
    n->kids.push_back(parse_pipe());
    expect_word("then");
    n->kids.push_back(parse_pipe());
    for (;;) {
      if (at_word("elif")) {
        next();
        n->kids.push_back(parse_pipe());
        expect_word("then");
        n->kids.push_back(parse_pipe());
        continue;
      }
      if (at_word("else")) {
        next();
        n->kids.push_back(parse_pipe());
      }
      expect_word("end");
      return n;
    }
  }

  NodeP parse_word() {
    const Token& t = next();
    std::string_view w = t.text;
    if (w == "null") return constant(Value::null(), t.begin);
    if (w == "true") return constant(Value::boolean(true), t.begin);
    if (w == "false") return constant(Value::boolean(false), t.begin);
    if (w == "if") return parse_if(t.begin);
    if (w == "try") {
      DepthGuard guard(*this);
      NodeP n = make(Op::kTry, t.begin);
      n->kids.push_back(parse_postfix());
      if (at_word("catch")) {
        next();
        n->kids.push_back(parse_postfix());
      }
      return n;
    }
    if (w == "reduce") return parse_reduce(t.begin);
    if (w == "foreach") error("'foreach' is not supported (expressions are single-valued)", t.begin);
    if (w == "def") error("function definitions (def) are not supported", t.begin);
    if (w == "label" || w == "import" || w == "include" || w == "module" || w == "__loc__") {
      error("'" + std::string(w) + "' is not supported", t.begin);
    }
    if (is_keyword(w)) error("unexpected '" + std::string(w) + "'", t.begin);

    std::vector<NodeP> args;
    if (at(Tok::kLParen)) {
      next();
      args.push_back(parse_pipe());
      while (at(Tok::kSemicolon)) {
        next();
        args.push_back(parse_pipe());
      }
      expect(Tok::kRParen, "')' or ';'");
    }
    return make_call(t, std::move(args));
  }

  NodeP make_call(const Token& t, std::vector<NodeP> args) {
    std::string_view name = t.text;
    int arity = static_cast<int>(args.size());
    const BuiltinInfo* same_name = nullptr;
    for (const BuiltinInfo& b : kBuiltins) {
      if (b.name != name) continue;
      same_name = &b;
      if (b.arity == arity) {
        NodeP n = make(Op::kCall, t.begin);
        n->fn = b.fn;
        n->arity = static_cast<std::uint16_t>(arity);
        n->kids = std::move(args);
        return n;
      }
    }
    if (same_name != nullptr) {
      if (std::find(std::begin(kGeneratorBuiltins), std::end(kGeneratorBuiltins), name) !=
          std::end(kGeneratorBuiltins)) {
        error("'" + std::string(name) + "/" + std::to_string(arity) +
                  "' is a generator and is not supported (expressions are single-valued)",
              t.begin);
      }
      error("function '" + std::string(name) + "' takes " + arity_text(name) + ", got " + std::to_string(arity) +
                " (usage: " + std::string(same_name->usage) + ")",
            t.begin);
    }
    if (std::find(std::begin(kGeneratorBuiltins), std::end(kGeneratorBuiltins), name) !=
        std::end(kGeneratorBuiltins)) {
      error("'" + std::string(name) + "' is a generator and is not supported (expressions are single-valued)",
            t.begin);
    }
    if (std::find(std::begin(kUnsupportedBuiltins), std::end(kUnsupportedBuiltins), name) !=
        std::end(kUnsupportedBuiltins)) {
      error("jq function '" + std::string(name) + "' is not supported by ppipe", t.begin);
    }
    std::string message = "unknown function '" + std::string(name) + "'";
    // Not nearest_name: here the limit follows the builtin's length (one typo per three letters),
    // and is at most two; edit_distance is the same (src/util).
    std::string_view best;
    std::size_t best_d = 3;
    for (const BuiltinInfo& b : kBuiltins) {
      std::size_t d = edit_distance(name, b.name);
      if (d < best_d && d <= std::max<std::size_t>(1, b.name.size() / 3)) {
        best_d = d;
        best = b.name;
      }
    }
    if (!best.empty()) message += " (did you mean '" + std::string(best) + "'?)";
    error(message, t.begin);
  }

  static std::string arity_text(std::string_view name) {
    std::string out;
    for (const BuiltinInfo& b : kBuiltins) {
      if (b.name != name) continue;
      if (!out.empty()) out += " or ";
      out += std::to_string(b.arity);
    }
    bool one = out == "1";
    return out + (one ? " argument" : " arguments");
  }

  std::vector<Token> toks_;
  std::string_view source_;
  VarScope* scope_;
  int reduce_source_ = 0;  // > 0 while a reduce's SOURCE is read: `as` ends it
  std::size_t pos_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Checks after parsing.

// Left-associative chains (`.+.+.+...`, `.a or .b or ...`, `.a???...`, `.[.][.]...`) are built
// by loops, not by recursion, so the parser's depth guard does not see them; every later pass
// (checks, folding, evaluation) is recursive. Refuse trees taller than this, measured without
// recursion, before any of them runs.
constexpr std::size_t kMaxTreeHeight = 1000;

void check_height(const Node* root) {
  std::vector<std::pair<const Node*, std::size_t>> pending{{root, 1}};
  while (!pending.empty()) {
    auto [n, height] = pending.back();
    pending.pop_back();
    if (height > kMaxTreeHeight) throw ParseFailure{"expression nested too deeply", n->column};
    for (const auto& k : n->kids) {
      if (k) pending.emplace_back(k.get(), height + 1);
    }
    for (const ObjectEntry& e : n->entries) {
      if (e.key_node) pending.emplace_back(e.key_node.get(), height + 1);
      if (e.value) pending.emplace_back(e.value.get(), height + 1);
    }
  }
}

void check_single(const Node* n, std::string_view src, const Node* compare = nullptr);

void check_multi(const Node* n, std::string_view src) {
  switch (n->op) {
    case Op::kComma:
      for (const auto& k : n->kids) check_multi(k.get(), src);
      return;
    case Op::kIterate:
      check_single(n->kids[0].get(), src);
      return;
    case Op::kPipe:
      check_multi(n->kids[0].get(), src);
      check_multi(n->kids[1].get(), src);
      return;
    default:
      check_single(n, src);
  }
}

bool contains_generator(const Node* n) {
  if (n->op == Op::kComma || n->op == Op::kIterate) return true;
  if (n->op == Op::kPipe) return contains_generator(n->kids[0].get()) || contains_generator(n->kids[1].get());
  return false;
}

std::string_view compare_text(BinOp op) {
  switch (op) {
    case BinOp::kEq: return "==";
    case BinOp::kNe: return "!=";
    case BinOp::kLt: return "<";
    case BinOp::kLe: return "<=";
    case BinOp::kGt: return ">";
    case BinOp::kGe: return ">=";
    default: return "";
  }
}

// `.tags[]` where one value is needed. The hint names the path when it is a plain one (`.tags`,
// `.a.b[0]`): compared, its elements want any/all; otherwise map(...) collects them.
[[noreturn]] void iterate_error(const Node* n, std::string_view src, const Node* compare) {
  std::string path;
  const Node* term = n->kids[0].get();
  if (term->op == Op::kPath && term->kids.empty() && term->column < n->column && n->column <= src.size()) {
    path.assign(src.substr(term->column, n->column - term->column));
    while (!path.empty() && (path.back() == ' ' || path.back() == '.')) path.pop_back();
  }
  std::string prefix = path.empty() ? "" : path + " | ";
  std::string message = "generators like .[] are not supported; ";
  if (compare != nullptr) {
    message += "to compare elements use any or all: " + prefix + "any(. " +
               std::string(compare_text(compare->binop)) + " ...)";
  } else {
    message += "use map(...)" + (path.empty() ? std::string() : ": " + prefix + "map(...)");
  }
  throw ParseFailure{message, n->column};
}

void check_single(const Node* n, std::string_view src, const Node* compare) {
  switch (n->op) {
    case Op::kComma:
      throw ParseFailure{"generators like ',' are not supported here; collect values in an array: [a, b]",
                         n->column};
    case Op::kIterate:
      iterate_error(n, src, compare);
    case Op::kArray:
      if (!n->kids.empty()) check_multi(n->kids[0].get(), src);
      return;
    case Op::kReduce:
      check_multi(n->kids[0].get(), src);
      check_single(n->kids[1].get(), src);
      check_single(n->kids[2].get(), src);
      return;
    case Op::kCall:
      if (n->fn == Fn::kMap) {
        check_multi(n->kids[0].get(), src);
        return;
      }
      break;
    case Op::kPipe:
      // A generator on either side of a single-valued pipe: report the generator itself.
      if (contains_generator(n)) {
        for (const auto& k : n->kids) check_single(k.get(), src);
      }
      break;
    case Op::kBinary:
      if (!compare_text(n->binop).empty()) {
        for (const auto& k : n->kids) check_single(k.get(), src, n);
        return;
      }
      break;
    default:
      break;
  }
  for (const auto& k : n->kids) {
    if (k) check_single(k.get(), src);
  }
  for (const ObjectEntry& e : n->entries) {
    if (e.key_node) check_single(e.key_node.get(), src);
    check_single(e.value.get(), src);
  }
}

// ---------------------------------------------------------------------------------------------
// Constant folding: a subtree that does not read its input is evaluated once, at compile time,
// into the program's own arena. A constant division by zero is a compile error, as in jq.

bool reads_input(const Node* n) {
  switch (n->op) {
    case Op::kConst: return false;
    case Op::kIdentity:
    case Op::kCall:
    case Op::kIterate:
    case Op::kVar:     // (no frame at compile time)
    case Op::kReduce:
    case Op::kTry: return true;
    case Op::kPath: return n->kids.empty() || reads_input(n->kids[0].get());
    case Op::kPipe: return reads_input(n->kids[0].get());
    default: break;
  }
  for (const auto& k : n->kids) {
    if (k && reads_input(k.get())) return true;
  }
  for (const ObjectEntry& e : n->entries) {
    if ((e.key_node && reads_input(e.key_node.get())) || reads_input(e.value.get())) return true;
  }
  if (n->op == Op::kIf && n->kids.size() % 2 == 0) return true;  // no else: identity
  return false;
}

// Nodes whose evaluation must be left to run time even when constant. A variable has no value
// at compile time, wherever it is (`1 | $x` does not read its input, and is not constant).
bool has_effects(const Node* n) {
  if (n->op == Op::kCall && (n->fn == Fn::kError || n->fn == Fn::kEmpty)) return true;
  if (n->op == Op::kTry || n->op == Op::kIterate || n->op == Op::kComma || n->op == Op::kVar) return true;
  for (const auto& k : n->kids) {
    if (k && has_effects(k.get())) return true;
  }
  for (const ObjectEntry& e : n->entries) {
    if ((e.key_node && has_effects(e.key_node.get())) || has_effects(e.value.get())) return true;
  }
  return false;
}

// Folded values must not point into nodes that folding frees: copy them into the program arena.
Value deep_copy(const Value& v, Arena& arena) {
  switch (v.tag()) {
    case Tag::kString: {
      std::string_view s = v.string_value();
      char* p = arena.alloc_chars(s.size());
      if (!s.empty()) std::memcpy(p, s.data(), s.size());
      return Value::string({p, s.size()});
    }
    case Tag::kArray: {
      Value* items = arena.alloc_array<Value>(v.size());
      for (std::uint32_t i = 0; i < v.size(); ++i) items[i] = deep_copy(v.items()[i], arena);
      return Value::array(items, v.size());
    }
    case Tag::kObject: {
      Member* members = arena.alloc_array<Member>(v.size());
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        Value key = deep_copy(Value::string(v.members()[i].key), arena);
        members[i] = Member{key.string_value(), deep_copy(v.members()[i].value, arena)};
      }
      return Value::object(members, v.size());
    }
    default: return v;
  }
}

void fold(NodeP& n, Program& program, ScratchState& scratch) {
  for (auto& k : n->kids) {
    if (k) fold(k, program, scratch);
  }
  for (ObjectEntry& e : n->entries) {
    if (e.key_node) fold(e.key_node, program, scratch);
    fold(e.value, program, scratch);
  }
  if (n->op == Op::kObject) {
    // Constant keys: turn computed constant keys into plain ones; note whether all differ.
    bool all_constant = true;
    for (ObjectEntry& e : n->entries) {
      if (e.key_node && e.key_node->op == Op::kConst && !e.key_node->constant.is_string()) {
        std::string m = "Cannot use ";
        append_kind_and_value(e.key_node->constant, m, scratch.buffer);
        throw ParseFailure{m + " as object key", e.key_node->column};
      }
      if (e.key_node && e.key_node->op == Op::kConst && e.key_node->constant.is_string()) {
        e.key = std::string(e.key_node->constant.string_value());
        e.key_node.reset();
      }
      if (e.key_node) all_constant = false;
    }
    bool distinct = all_constant;
    for (std::size_t i = 0; distinct && i < n->entries.size(); ++i) {
      for (std::size_t j = i + 1; j < n->entries.size(); ++j) {
        if (n->entries[i].key == n->entries[j].key) distinct = false;
      }
    }
    n->keys_distinct_constant = distinct;
  }
  if (n->op == Op::kConst || n->op == Op::kIdentity || reads_input(n.get()) || has_effects(n.get())) return;
  Ctx cx{scratch, program.constants};
  Value out;
  St s = eval(n.get(), Value::null(), out, cx);
  if (s == St::kError) {
    // Like jq ("Division by zero?"), a constant division by zero is a compile error. Other
    // constant errors stay run-time errors: the branch holding them may never run.
    bool by_zero = n->op == Op::kBinary && (n->binop == BinOp::kDiv || n->binop == BinOp::kMod) &&
                   scratch.message.find("divisor is zero") != std::string::npos;
    if (by_zero) throw ParseFailure{scratch.message, n->column};
    return;
  }
  if (s != St::kOk) return;
  // Strings in `out` may point into node-owned storage about to be freed: keep them in the arena.
  NodeP c = make(Op::kConst, n->column);
  c->constant = deep_copy(out, program.constants);
  n = std::move(c);
}

// f(child) for every child node of n (kids, computed keys, entry values).
template <class F>
void for_each_child(Node* n, F f) {
  for (auto& k : n->kids) {
    if (k) f(k.get());
  }
  for (ObjectEntry& e : n->entries) {
    if (e.key_node) f(e.key_node.get());
    f(e.value.get());
  }
}

// Node::leads for the string interpolations and object constructions of the tree.
void prepare_leads(Node* n) {
  for_each_child(n, prepare_leads);
  std::vector<const Node*> parts;
  if (n->op == Op::kInterp) {
    for (const auto& k : n->kids) parts.push_back(k.get());
  } else if (n->op == Op::kObject) {
    for (const ObjectEntry& e : n->entries) parts.push_back(e.value.get());
  } else {
    return;
  }
  std::vector<std::string_view> keys;
  std::vector<std::int8_t> lead(parts.size(), -1);
  std::size_t found = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Node* p = parts[i];
    if (p->op != Op::kPath || !p->kids.empty() || p->steps.empty() || p->steps[0].is_index) continue;
    std::string_view key = p->steps[0].key;  // (the node outlives the program's use of it)
    auto at = std::find(keys.begin(), keys.end(), key);
    if (at == keys.end()) {
      if (keys.size() == kMaxMembers) continue;
      at = keys.insert(keys.end(), key);
    }
    lead[i] = static_cast<std::int8_t>(at - keys.begin());
    ++found;
  }
  if (found < 2) return;
  n->leads = std::make_unique<MemberKeys>(std::move(keys));
  n->lead = std::move(lead);
}

// Literal regexes are compiled once here; a bad one is a compile error.
void prepare_regexes(Node* n) {
  for_each_child(n, prepare_regexes);
  if (n->op != Op::kCall || n->fn != Fn::kTest) return;
  const Node* pattern = n->kids[0].get();
  const Node* flags = n->kid(1);
  if (pattern->op != Op::kConst) return;
  if (flags != nullptr && flags->op != Op::kConst) return;
  if (!pattern->constant.is_string()) {
    throw ParseFailure{std::string(kind_name(pattern->constant)) + " not a string or array", pattern->column};
  }
  std::string_view flag_text;
  if (flags != nullptr) {
    if (flags->constant.is_string()) {
      flag_text = flags->constant.string_value();
    } else if (!flags->constant.is_null()) {
      throw ParseFailure{std::string(kind_name(flags->constant)) + " is not a string", flags->column};
    }
  }
  std::string error;
  n->regex = build_regex(pattern->constant.string_value(), flag_text, error);
  if (n->regex && flag_text.find('n') != std::string_view::npos)  // `n`: an empty match does not count
    n->regex_longest = build_regex(pattern->constant.string_value(), flag_text, error, /*longest=*/true);
  if (!n->regex) throw ParseFailure{error, flags != nullptr && error.find("modifier") != std::string::npos
                                               ? flags->column
                                               : pattern->column};
}

}  // namespace

Node::~Node() {
  std::vector<std::unique_ptr<Node>> pending;
  auto detach = [&pending](Node& n) {
    for (auto& k : n.kids) {
      if (k) pending.push_back(std::move(k));
    }
    for (ObjectEntry& e : n.entries) {
      if (e.key_node) pending.push_back(std::move(e.key_node));
      if (e.value) pending.push_back(std::move(e.value));
    }
  };
  detach(*this);
  while (!pending.empty()) {
    std::unique_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    detach(*n);
  }  // each node is destroyed with no children left: no recursion
}

CompileResult compile_fast(std::string_view source) {
  std::vector<Token> tokens;
  CompileError lex_error;
  if (!lex(source, tokens, lex_error)) return lex_error;
  auto program = std::make_shared<Program>();
  program->source.assign(source);
  try {
    VarScope scope;
    Parser parser(std::move(tokens), source, scope);
    NodeP root = parser.parse_program();
    program->var_slots = scope.slots;
    check_height(root.get());
    program->multi = contains_generator(root.get());
    if (program->multi) check_multi(root.get(), source);
    else check_single(root.get(), source);
    ScratchState scratch;
    fold(root, *program, scratch);
    prepare_regexes(root.get());
    prepare_leads(root.get());
    program->root = std::move(root);
  } catch (const ParseFailure& f) {
    return CompileError{f.message, f.column};
  }
  return std::shared_ptr<const Program>(std::move(program));
}

std::string format_compile_error(std::string_view source, const CompileError& e) {
  std::size_t column = std::min(e.column, source.size());
  std::size_t line_start = source.rfind('\n', column == 0 ? 0 : column - 1);
  line_start = (line_start == std::string_view::npos || line_start >= column) ? 0 : line_start + 1;
  if (column > 0 && column <= source.size() && source[column - 1] == '\n' && line_start != column) {
    line_start = column;
  }
  std::size_t line_end = source.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = source.size();
  std::string_view line = source.substr(line_start, line_end - line_start);
  // The caret goes under the character: count code points, not bytes.
  std::size_t pad = 0;
  for (std::size_t i = line_start; i < column; ++i) {
    if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) ++pad;
  }
  std::string out = "error in expression: " + e.message;
  // An expression of several lines (--map-file): which one is shown.
  if (source.find('\n') != std::string_view::npos) {
    const auto number = 1 + std::count(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(line_start), '\n');
    out += " (line " + std::to_string(number) + ")";
  }
  out += "\n  ";
  out.append(line);
  out.append("\n  ");
  out.append(pad, ' ');
  out.append("^\n");
  return out;
}

}  // namespace ppipe::expr
