// Output formats other than JSON Lines (--output): the writer's records, whole lines of compact
// JSON, turned into the format on the writer thread as they are written.
//
//   json   one JSON array, streamed: "[\n" rec ",\n" rec ... "\n]\n" ("[]\n" when empty)
//   csv    RFC 4180, as `mlr --ijsonl --ocsv cat` writes flat records: a header from the first
//          record's keys; a record with other keys starts a new header block after an empty line;
//          quotes only where a field holds the delimiter, a quote, CR or LF. Strings are written
//          unescaped, numbers as their JSON text, true/false/null as such, objects and arrays as
//          compact JSON text (Miller flattens them instead). A record that is not an object is one
//          field under the header `value`.
//   tsv    the same with tabs and the escapes \t \n \r \\ instead of quotes (as Miller's --otsv).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ppipe {

enum class OutputFormat { kJsonLines, kJson, kCsv, kTsv };

bool parse_output_format(std::string_view name, OutputFormat* out);

class RecordFormatter {
 public:
  virtual ~RecordFormatter() = default;
  // `lines`: whole records, each ending in '\n'; their formatted bytes are appended to out.
  virtual void records(std::string_view lines, std::string& out) = 0;
  // The end of the output (also when there was no record): closing bytes, if any.
  virtual void finish(std::string& out) = 0;
};

// Null for jsonl (records are written as they are).
std::unique_ptr<RecordFormatter> make_formatter(OutputFormat format);

}  // namespace ppipe
