// Readable parse errors. simdjson validates every record; when it rejects one, its error codes are
// too coarse to act on ("bad structure"). Only then, diagnose_json() walks the line again with a
// small hand-written scanner and names the first problem and its column, the way jq does:
//
//   invalid JSON: trailing comma before '}' at column 7
//   invalid JSON: unterminated object (missing '}') at column 12 (opened at column 1)
//
// Valid records never reach this code, so the hot path pays nothing for it.
//
// Columns are 1-based byte columns. They point at the first byte that is wrong: the comma of a
// trailing comma, the start of a bad number or word, the backslash of a bad escape, the first byte
// of a bad UTF-8 sequence, the value that needs a ',' or ':' before it. When the line ends too
// early (unterminated string, object or array), the column is one past the last byte, where the
// missing character belongs, and the hint names the column where the unterminated thing opened.
//
// The grammar is RFC 8259 plus the one limit of simdjson's DOM parser that `parse` keeps: nesting.
// Levels count values, and an empty container is a value: a scalar or `[]` inside 1024 arrays is
// at level 1025, which is too deep; 1024 nested `[` around nothing are fine. That is exactly
// where simdjson stops (it counts non-empty containers, at most 1023).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "src/util/json_string.h"

namespace ppipe {

inline constexpr std::size_t kMaxJsonLevels = 1024;

struct JsonProblem {
  std::uint64_t column = 0;  // 1-based byte column (on `line`); 0: no problem found
  std::uint64_t line = 1;    // 1-based line within the text (a --format json value on several lines)
  std::string reason;        // "trailing comma before '}'"
  std::string hint;          // optional: "JSON strings use double quotes"

  bool found() const { return column != 0; }
  // "<reason> at column <N>", then " (<hint>)" when there is one.
  std::string message() const;
};

// The first problem of `line` as one JSON value, or none (column 0) if the line is valid JSON
// within the nesting limit. Numbers of any size and range are valid. Linear time; explicit stack.
JsonProblem diagnose_json(std::string_view line);

// The error message of a record simdjson rejected with `e`: "invalid JSON: " and the diagnosis,
// or, if the diagnosis finds nothing (the two disagree), the coarse message for `e`.
std::string describe_invalid_json(std::string_view line, simdjson::error_code e);

// The coarse message for a simdjson error code, without a column ("invalid JSON: bad number").
std::string coarse_json_error(simdjson::error_code e);

// simdjson's DOM refused `text` with `e` only for a number it cannot hold (an integer beyond 64
// bits, 1e400): the text is valid JSON all the same, as parse accepts it.
bool refused_only_for_numbers(std::string_view text, simdjson::error_code e);

// is_json_number (RFC 8259's number grammar, parse checks the numbers simdjson's DOM cannot hold
// with it) is in src/util/json_string.h.

}  // namespace ppipe
