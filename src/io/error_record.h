// Error-stream records: one JSON object per failed record, so the error file can be inspected with
// ppipe or jq, fixed and replayed. The raw record is kept whole; when it is not valid UTF-8 it is
// carried as `record_base64` instead of `record`, so no byte is lost.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ppipe {

void append_base64(std::string& out, std::string_view bytes);
// Decodes standard base64 (padding required); false on any other byte.
bool decode_base64(std::string_view text, std::string& out);

struct ErrorInfo {
  std::string_view source;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
  std::string_view stage;
  std::string_view message;
  std::string_view record;          // raw bytes (possibly only the first bytes, see record_size)
  std::uint64_t record_size = 0;    // set when `record` was truncated: the full size in bytes
};

// The fields of an error record, in the order written, for the man page (src/cli/docgen.cpp); a
// unit test checks them against append_error_record.
struct ErrorFieldDoc {
  const char* name;
  const char* meaning;
};
inline constexpr ErrorFieldDoc kErrorRecordFields[] = {
    {"source", "the input file's name as given (<stdin> for standard input); U+FFFD for bytes that are not UTF-8"},
    {"source_base64", "only when the file name is not valid UTF-8: its exact bytes"},
    {"line", "1-based line number of the record in its source (blank lines count)"},
    {"offset", "byte offset of the record in its source"},
    {"stage", "the stage that failed the record (read, parse, filter, ...)"},
    {"error", "what is wrong, in words"},
    {"record_size", "only when the record was cut (longer than --max-record-size): its full size in bytes"},
    {"truncated", "only with record_size: true, the record holds only the first 4 KiB"},
    {"record", "the raw record, so that it can be fixed and replayed"},
    {"record_base64", "replaces record when its bytes are not valid UTF-8"},
};

// Appends one line: {"source":...,"line":...,"offset":...,"stage":...,"error":...,"record":...}\n
void append_error_record(std::string& out, const ErrorInfo& e);

}  // namespace ppipe
