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
//   pretty jq's default layout: two spaces of indent, `"key": value`, [] and {} when empty. Strings
//          and numbers keep their text (jq prints them its own way: "\u00e9" as "é", 1e5 as 100000).
//   table  aligned columns for people, as Miller's --opprint: values padded to the widest in their
//          column (in characters), one space between, `-` for an empty value, a new block when the
//          keys change; at most `table_rows` rows are held to size the columns, then they are
//          written and the next rows start a new block.
//   raw    as `jq -r`: a record that is a JSON string is written as its text (unquoted, escapes
//          decoded); other records as they are. raw0: the same with nothing after each record
//          (`jq -j`).
//   fill   (csv, tsv, table) a record whose keys are all in the current header is written under it
//          in the header's order, empty where it has no value, instead of starting a new block.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ppipe {

enum class OutputFormat { kJsonLines, kJson, kPretty, kCsv, kTsv, kTable, kRaw, kRawJoined };

bool parse_output_format(std::string_view name, OutputFormat* out);

class RecordFormatter {
 public:
  virtual ~RecordFormatter() = default;
  // `lines`: whole records, each ending in '\n'; their formatted bytes are appended to out.
  virtual void records(std::string_view lines, std::string& out) = 0;
  // The end of the output (also when there was no record): closing bytes, if any.
  virtual void finish(std::string& out) = 0;
};

struct OutputOptions {
  OutputFormat format = OutputFormat::kJsonLines;
  bool fill = false;
  std::size_t table_rows = 1000;
};

// Null for jsonl (records are written as they are).
std::unique_ptr<RecordFormatter> make_formatter(const OutputOptions& options);

}  // namespace ppipe
