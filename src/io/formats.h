// Input formats other than JSON Lines: each record is turned into JSON text before the first stage,
// on the workers (so in parallel), from the raw line the framer found.
//
//   lines  each line, blank ones too, is one JSON string ("a\tb" for a line with a tab)
//   tsv    the first line of each source is the header: its fields, unescaped, are the keys; each
//          later line is one object with those keys in order. Fields are separated by tabs, with
//          the escapes \t \n \r \\ (a backslash before anything else stays as it is). A field that
//          is a canonical JSON number becomes a number (`00501`, `1e5x`, `+1`, `.5` stay strings,
//          as Miller infers), unless --no-infer; an empty field is an empty string. Empty lines
//          are no records (a line of spaces or tabs is one: "\t" is two empty fields). A line with another number of fields than the header, or a raw CR (classic Mac OS line ends), is a record error.
//   csv    RFC 4180, with its quote-aware framer: src/io/csv.h.
//   json   a stream of JSON values in any layout: src/io/json_stream.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ppipe {

enum class InputFormat { kJsonLines, kLines, kTsv, kCsv, kJson };

// "jsonl", "lines", "tsv", "csv", "json"; false for another name.
bool parse_input_format(std::string_view name, InputFormat* out);
std::string_view input_format_name(InputFormat f);
// The format a file name implies (`x.tsv`, `x.csv`, also under .gz/.zst), or jsonl.
InputFormat format_from_name(std::string_view path);

// A source's header row: the keys, each already written as a JSON string with its quotes.
// A repeated name gets a suffix (`a`, `a_2`, `a_3`); an empty one is its column number (`3`).
struct InputHeader {
  std::vector<std::string> keys_json;
  // csv: a header row that is not well-formed CSV (a quote left open, text after a closing quote),
  // as it is; tsv: a header row with a raw CR (classic Mac OS line ends). The framer hands it on as a record too, so that it is an error record (a quote left
  // open takes the rest of the input with it) instead of silently taking the rows' place. The
  // names are then the lenient reading of it.
  std::string malformed_row;
  // Non-empty: the source's header row could not be read (it was longer than --max-record-size);
  // every row of the source is an error record with this message (there are no keys to give it).
  std::string unusable;
  // Appends the key of column `column` (1-based) named `name` (raw field text), by the rules above.
  void add(std::string_view name, std::size_t column);

 private:
  std::unordered_set<std::string> seen_;
  std::unordered_map<std::string, std::size_t> next_suffix_;  // a repeated name's next suffix to try
};
std::shared_ptr<const InputHeader> tsv_header(std::string_view line);
// The header of a source whose header row is longer than --max-record-size (`max_record`): the
// row is an error record of its own, as any record that long, and the source's rows are error
// records too, whatever --batch-size (the next row does not become the header).
std::shared_ptr<const InputHeader> unusable_header(std::uint64_t max_record);

// The record as JSON text in *out (replaced). False with *error when it cannot be one: bytes that
// are not UTF-8, or (tsv) another number of fields than the header.
bool decode_line(std::string_view line, std::string* out, std::string* error);
bool decode_tsv(std::string_view line, const InputHeader& header, bool infer, std::string* out, std::string* error,
                bool header_row = false);

}  // namespace ppipe
