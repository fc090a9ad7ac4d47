// ErrorSink: where the writer puts each batch's error records (already serialized as JSON Lines by
// the workers, in input order).
//
//  * JSON Lines (stderr is a file or a pipe, or --errors FILE): the bytes go out unchanged.
//  * Terminal (stderr is a TTY and no --errors FILE): one short line per record,
//        a.jsonl:17: parse: invalid JSON: leading zero at column 6 | {"a":01}
//    for the first kMaxShown records, then a count only; summary() is the closing line. Everything
//    shown is made safe for a terminal (control bytes and invalid UTF-8 as escapes).
//
// Either way it keeps a look at the first error record, for one hint at the end when the input is
// clearly not what ppipe was told it is (pretty-printed JSON read as JSON Lines, UTF-16 text).
#pragma once

#include "src/util/text_util.h"  // terminal_safe
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "src/io/output.h"

namespace ppipe {

class ErrorSink {
 public:
  static constexpr std::uint64_t kMaxShown = 20;

  ErrorSink(Output& out, bool human) : out_(out), human_(human) {}
  bool human() const { return human_; }
  // Whole error-record lines. Returns 0 or the errno of a failed write.
  int append(std::string_view records);
  std::uint64_t count() const { return count_; }
  // Terminal mode: the closing line ("12 records went to the error stream; ..."), "" if none.
  std::string summary() const;
  // One hint when the first record failed and most records did: "" when none applies.
  std::string hint(std::uint64_t records_out) const;

 private:
  enum class Look { kNone, kPrettyObject, kPrettyArray, kUtf16 };
  void look_at_first(std::string_view line);
  int show(std::string_view line);

  Output& out_;
  bool human_;
  std::uint64_t count_ = 0;
  Look first_look_ = Look::kNone;
  simdjson::dom::parser parser_;
  std::string scratch_;
};


}  // namespace ppipe
