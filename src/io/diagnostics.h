// ppipe's own messages on stderr (not error records): why a run stopped, a fatal I/O error, a hint.
//
// stderr is also the default error stream, which holds only JSON objects. So when stderr is not a
// terminal a diagnostic is one JSON object per line, told apart from error records by its key
// "ppipe" (error records have "source"):
//   {"ppipe":"stopped","reason":"max-errors","after":2,"message":"stopped after 2 record errors (--max-errors 2)"}
// On a terminal it is the plain line "ppipe: <message>". Usage errors (exit 2) are printed before
// any error stream exists and stay plain text, with the relevant help.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ppipe {

// A field of a JSON diagnostic: key and its value, already JSON (a number or a quoted string).
using DiagField = std::pair<std::string_view, std::string>;

class Diagnostics {
 public:
  explicit Diagnostics(bool json) : json_(json) {}
  bool json() const { return json_; }

  // The text of one diagnostic line, newline included. kind: "error", "stopped", "hint", ...
  std::string format(std::string_view kind, std::string_view message,
                     std::initializer_list<DiagField> fields = {}) const;
  // Writes it to stderr in one write().
  void print(std::string_view kind, std::string_view message, std::initializer_list<DiagField> fields = {}) const;

 private:
  bool json_;
};

// A string as a JSON value, for DiagField.
std::string json_quote(std::string_view s);

}  // namespace ppipe
