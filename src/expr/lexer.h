// Tokens of the expression language, lexed as jq's lexer.l does (FIELD `.name` is one token,
// `#` starts a comment, numbers have no sign).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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
  std::string str;  // kString
  bool has_interpolation = false;
};

// Lexes the whole source. On failure returns false and fills `error`.
bool lex(std::string_view source, std::vector<Token>& tokens, CompileError& error);

std::string_view token_name(Tok t);

}  // namespace ppipe::expr
