// Tokens of the expression language, lexed as jq's lexer.l does (FIELD `.name` is one token,
// `#` starts a comment, numbers have no sign).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/expr/expr.h"

namespace ppipe::expr {

enum class Tok : std::uint8_t {
  kEnd,
  kDot,         // .
  kField,       // .name   (text = name)
  kDotDot,      // ..
  kIdent,       // name, keywords included (text)
  kNumber,      // text = literal
  kString,      // decoded into `str`; has_interpolation when it contained \( ... )
  kFormat,      // @name
  kVar,         // $name
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace,
  kPipe, kComma, kColon, kSemicolon, kQuestion,
  kAlt,         // //
  kAltDestructure,  // ?//
  kPlus, kMinus, kStar, kSlash, kPercent,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kAssign,      // = |= += -= *= /= %= //=
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view text;
  std::string str;  // kString (after the last interpolation, when it has any)
  bool has_interpolation = false;
  // kString with interpolations: the text before each `\(...)` (decoded) and the source range
  // [first, second) of the expression inside it; `str` is the text after the last one.
  std::vector<std::string> pieces;
  std::vector<std::pair<std::size_t, std::size_t>> holes;
};

// Lexes the whole source. On failure returns false and fills `error`.
bool lex(std::string_view source, std::vector<Token>& tokens, CompileError& error);

std::string_view token_name(Tok t);

}  // namespace ppipe::expr
