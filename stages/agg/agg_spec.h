// The text of agg's --group-by and --agg options, parsed (no expression compiled here).
//
//   --group-by '.host, .user.country as country'   keys: expression and output name
//   --agg 'count, avg(.latency_ms) as lat, p99(.latency_ms)'
//
// Lists are split at the commas outside parentheses, brackets, braces and strings. Each item may
// end in `as NAME`. Default names: a key is named by the last component of its path (`.user.country`
// -> country); an aggregate by its name, then `_` and that component (`avg_latency_ms`), `count` alone
// by `count`. An item without such a name needs `as`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/agg/aggregates.h"

namespace ppipe::agg {

struct KeySpec {
  std::string expr;  // the expression's source
  std::string name;  // output field
};

struct AggItemSpec {
  AggregateSpec spec;  // kind, p, name as written ("p99.9")
  std::string expr;    // the argument's source; empty for `count`
  std::string name;    // output field
  std::string text;    // as written, without `as NAME` ("sum(.bytes)"), for messages
};

// Splits at top-level commas; items are trimmed. An empty list ("" or spaces) gives no items; an
// empty item ("a,,b") is an error.
std::optional<std::vector<std::string>> split_top_level(std::string_view list, std::string* error);

// "expr as name" -> (expr, name), also `expr as "any name"` (a string literal: \" \\ \n \t
// escapes); without `as`, name is empty.
std::pair<std::string, std::string> split_as(std::string_view item);

// A name as `as` takes it back: bare when it is a word, else a string literal (a default name such
// as p99.9_v or "a b" from `."a b"`: partials write their spec so, and merge reads it back).
std::string spec_name(std::string_view name);

// The last name of a path expression (`.a.b` -> b, `.["x y"]` -> "x y"); empty when the expression
// is not a plain path.
std::string last_path_name(std::string_view expr);

// `check`, when given, vets each expression before it is named (a syntax error is then reported
// as such, not as a missing name): false with a message in *error rejects the list.
using ExpressionCheck = std::function<bool(std::string_view expr, std::string* error)>;

std::optional<std::vector<KeySpec>> parse_group_by(std::string_view list, std::string* error,
                                                   const ExpressionCheck& check = {});
// collect_limit goes into each collect's spec.
std::optional<std::vector<AggItemSpec>> parse_agg_list(std::string_view list, std::uint64_t collect_limit,
                                                       std::string* error, const ExpressionCheck& check = {});

}  // namespace ppipe::agg
