// exec --exec-mode record: the command template. `{}` stands for the whole record and `{.path}`
// (`.a.b`, `.a[0]`, `."key"`, `.["key"]`, `.` alone) for a field's value: a string as its text, any
// other value as compact JSON. Each is substituted as ONE single-quoted shell word, so no record
// value can add a command, a redirection or a word: `'` becomes `'\''`, and every other byte
// (`$(..)`, backticks, `;`, newlines) is literal inside single quotes.
//
// Refused when compiled: a placeholder inside quotes in the template (`"{}"` would put our quotes
// inside the user's and open the door to `$(..)`), and a path that is not a path. Refused per
// record: a missing path (an error record, not an empty word) and a value with a NUL byte (a
// command line cannot carry one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <simdjson.h>

namespace ppipe {

namespace expr::jq {
class J;
}

class CommandTemplate {
 public:
  // nullopt with *error (a one-line message) when the template is refused.
  static std::optional<CommandTemplate> compile(std::string_view command, std::string* error);

  // True when there is a {.path}: the record must be parsed.
  bool needs_document() const { return needs_document_; }
  bool has_placeholders() const { return pieces_.size() > 1 || (pieces_.size() == 1 && pieces_[0].kind != kLiteral); }

  // The command line for one record (its JSON text). False with *error when a path is missing or a
  // value cannot be a shell word.
  bool expand(std::string_view record, simdjson::dom::parser& parser, std::string* out, std::string* error) const;

 private:
  using Step = std::variant<std::string, std::int64_t>;  // a key, or an array index
  enum Kind { kLiteral, kWhole, kPath };
  struct Piece {
    Kind kind = kLiteral;
    std::string text;  // kLiteral: the text; kPath: how it was written, for messages
    std::vector<Step> path;
  };
  static bool path_value(const expr::jq::J& record, const Piece& p, std::string& word, std::string* error);
  std::vector<Piece> pieces_;
  bool needs_document_ = false;
};

}  // namespace ppipe
