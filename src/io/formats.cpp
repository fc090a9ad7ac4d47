#include "src/io/formats.h"

#include <simdjson.h>

#include <cctype>
#include <string>

#include <fmt/format.h>

#include "src/util/json_string.h"
#include "src/util/text_util.h"

namespace ppipe {

namespace {

// Without regard to ASCII case (file names: `x.CSV`, `y.csv.GZ` from another system).
bool ends_with(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s = s.substr(s.size() - suffix.size());
  for (std::size_t i = 0; i < s.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(suffix[i]))) return false;
  return true;
}

// TSV's escapes \t \n \r \\ undone; a backslash before anything else stays.
void unescape_tsv(std::string_view field, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c == '\\' && i + 1 < field.size()) {
      char n = field[i + 1];
      char r = n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n == '\\' ? '\\' : 0;
      if (r) {
        out.push_back(r);
        ++i;
        continue;
      }
    }
    out.push_back(c);
  }
}

}  // namespace

bool parse_input_format(std::string_view name, InputFormat* out) {
  if (name == "jsonl") *out = InputFormat::kJsonLines;
  else if (name == "lines") *out = InputFormat::kLines;
  else if (name == "tsv") *out = InputFormat::kTsv;
  else if (name == "csv") *out = InputFormat::kCsv;
  else if (name == "json") *out = InputFormat::kJson;
  else return false;
  return true;
}

std::string_view input_format_name(InputFormat f) {
  switch (f) {
    case InputFormat::kJsonLines: return "jsonl";
    case InputFormat::kLines: return "lines";
    case InputFormat::kTsv: return "tsv";
    case InputFormat::kCsv: return "csv";
    case InputFormat::kJson: return "json";
  }
  return "jsonl";
}

InputFormat format_from_name(std::string_view path) {
  for (std::string_view z : {".gz", ".zst"})
    if (ends_with(path, z)) path.remove_suffix(z.size());
  if (ends_with(path, ".tsv")) return InputFormat::kTsv;
  if (ends_with(path, ".csv")) return InputFormat::kCsv;
  return InputFormat::kJsonLines;
}

void InputHeader::add(std::string_view name, std::size_t column) {
  std::string base = name.empty() ? std::to_string(column) : utf8_replace_invalid(name);
  // A repeated name gets the first free suffix: a, a_2, a_3 (and a_2 given later gets a_2_2).
  // (Each base's next suffix to try is kept: those below it are taken. From 2 each time, a header
  // of 20,000 equal names took 14 s.)
  std::string key = base;
  if (seen_.count(key)) {
    std::size_t& n = next_suffix_.try_emplace(base, 2).first->second;
    for (key = fmt::format("{}_{}", base, n); seen_.count(key); key = fmt::format("{}_{}", base, ++n)) {
    }
    ++n;
  }
  seen_.insert(key);
  std::string json;
  append_json_string(json, key);
  keys_json.push_back(std::move(json));
}

namespace {

// A raw CR in a line (the framer took a CRLF's CR off) is a line end of classic Mac OS: read as
// text, a whole file of them would be one header row and no records, silently. TSV writes a CR in
// a field as \r. The message, or empty.
std::string raw_cr_error(std::string_view line) {
  const std::size_t cr = line.find('\r');
  if (cr == std::string_view::npos) return {};
  std::size_t field = 1;
  for (std::size_t i = 0; i < cr; ++i) field += line[i] == '\t';
  return fmt::format(
      "a carriage return (CR) in field {}: line ends of classic Mac OS? (write it as \\r, or convert them: "
      "tr '\\r' '\\n')",
      field);
}

}  // namespace

std::shared_ptr<const InputHeader> tsv_header(std::string_view line) {
  auto h = std::make_shared<InputHeader>();
  // Malformed: the framer hands the row on as a record too, which decode_tsv reports.
  if (line.find('\r') != std::string_view::npos) h->malformed_row.assign(line);
  std::string field;
  std::size_t column = 0, start = 0;
  for (;;) {
    std::size_t tab = line.find('\t', start);
    unescape_tsv(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start), field);
    h->add(field, ++column);
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return h;
}

bool decode_line(std::string_view line, std::string* out, std::string* error) {
  if (!simdjson::validate_utf8(line.data(), line.size())) {
    *error = "invalid UTF-8 (a lines record must be text)";
    return false;
  }
  out->clear();
  append_json_string_jq(*out, line);
  return true;
}

std::shared_ptr<const InputHeader> unusable_header(std::uint64_t max_record) {
  auto h = std::make_shared<InputHeader>();
  h->unusable = fmt::format(
      "no keys: the header row of this source is longer than --max-record-size ({} bytes); raise --max-record-size",
      max_record);
  return h;
}

bool decode_tsv(std::string_view line, const InputHeader& header, bool infer, std::string* out, std::string* error,
                bool header_row) {
  if (!header.unusable.empty()) {
    *error = header.unusable;
    return false;
  }
  if (std::string cr = raw_cr_error(line); !cr.empty()) {
    *error = header_row ? "the header row: " + cr + " (the keys are its text as it is)" : std::move(cr);
    return false;
  }
  const std::size_t want = header.keys_json.size();
  std::size_t fields = 1;
  for (char c : line) fields += c == '\t';
  if (fields != want) {
    *error = fmt::format("the row has {} field{}, the header {}", fields, fields == 1 ? "" : "s", want);
    return false;
  }
  if (!simdjson::validate_utf8(line.data(), line.size())) {
    *error = "invalid UTF-8 in a field";
    return false;
  }
  out->clear();
  out->push_back('{');
  std::string value;
  std::size_t start = 0;
  for (std::size_t i = 0; i < want; ++i) {
    std::size_t tab = line.find('\t', start);
    std::string_view raw = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (i) out->push_back(',');
    out->append(header.keys_json[i]);
    out->push_back(':');
    if (raw.find('\\') == std::string_view::npos) {
      if (infer && is_json_number(raw)) out->append(raw);
      else append_json_string_jq(*out, raw);
    } else {
      unescape_tsv(raw, value);
      if (infer && is_json_number(value)) out->append(value);
      else append_json_string_jq(*out, value);
    }
    start = tab + 1;
  }
  out->push_back('}');
  return true;
}

}  // namespace ppipe
