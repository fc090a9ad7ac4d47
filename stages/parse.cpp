// parse: each record must be exactly one valid JSON value in valid UTF-8. It passes through byte for
// byte; the parsed document stays available to later stages of the same worker.
//
// simdjson's DOM parser does the full validation (UTF-8, structure, strings, numbers, literals,
// trailing content). It refuses numbers it cannot represent (integers beyond 64 bits, 1e400) with
// NUMBER_ERROR although they are valid JSON; for those rare records numbers are checked against the
// JSON grammar here and the rest is validated again by the DOM parser (validate_big_numbers).
// A rejected record gets a message that names its first problem and column (json_diagnose.h).
#include <cstring>
#include <new>

#include "stages/json_diagnose.h"
#include "stages/registry.h"

namespace ppipe {

namespace {

constexpr const char* kParseHelp =
    "  Each non-blank line must be exactly one JSON value (RFC 8259) in valid UTF-8: objects,\n"
    "  arrays, strings, numbers, true/false/null at the top level are all accepted. The record is\n"
    "  passed through byte for byte. Anything else (invalid or truncated JSON, two values on one\n"
    "  line, invalid UTF-8, raw control characters in strings, unpaired surrogate escapes, nesting\n"
    "  deeper than 1024) goes to the error stream with its line and raw text. The message names\n"
    "  the first problem and its byte column, e.g. \"trailing comma before '}' at column 7\".\n"
    "  Integers of any size and out-of-range numbers like 1e400 are valid JSON and accepted.\n"
    "  Example: ppipe --stages parse --errors bad.jsonl data.jsonl > good.jsonl\n";

bool is_digit(char c) { return c >= '0' && c <= '9'; }


using simdjson::error_code;

// The DOM parser refused a number. Check every number token against the JSON grammar ourselves,
// blank the valid ones out to `0` (same length, so nothing else moves) in a copy, and let the DOM
// parser validate everything else in that copy: structure, strings, UTF-8, trailing content.
error_code validate_big_numbers(WorkerScratch& s, std::string_view text) {
  std::string& copy = s.number_copy;
  copy.assign(text.data(), text.size());
  copy.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  std::size_t i = 0, n = copy.size();
  while (i < n) {
    char c = copy[i];
    if (c == '"') {  // skip the string, escapes included
      for (++i; i < n && copy[i] != '"'; ++i)
        if (copy[i] == '\\') ++i;
      ++i;
    } else if (c == '-' || is_digit(c)) {
      std::size_t start = i;
      while (i < n && (is_digit(copy[i]) || copy[i] == '.' || copy[i] == 'e' || copy[i] == 'E' ||
                       copy[i] == '+' || copy[i] == '-'))
        ++i;
      if (is_json_number(std::string_view(copy).substr(start, i - start))) {
        copy[start] = '0';
        for (std::size_t k = start + 1; k < i; ++k) copy[k] = ' ';
      }
    } else {
      ++i;
    }
  }
  simdjson::dom::element ignored;
  return s.dom.parse(copy.data(), copy.size(), false).get(ignored);
}

// Keep a parser that met a huge record from holding its buffers for the rest of the run.
constexpr std::size_t kParserKeepCapacity = 16u << 20;

class ParseStage final : public RecordStage {
 public:
  std::string_view name() const override { return "parse"; }
  Output output() const override { return Output::kJson; }
  Verdict process(Record& rec, WorkerScratch& s, StageState*) const override {
    // Text ppipe made itself (a csv/tsv/lines record decoded to JSON, a map's output) is valid
    // JSON by construction: nothing to validate; a later stage parses it when it reads it. Text
    // from elsewhere is checked wherever parse stands (after exec: the command's output).
    if (rec.valid_json()) return Verdict::kPass;
    std::string_view text = rec.text();
    if (s.dom.capacity() > kParserKeepCapacity && text.size() < kParserKeepCapacity)
      s.dom = simdjson::dom::parser();
    simdjson::dom::element doc;
    error_code e = s.dom.parse(text.data(), text.size(), !rec.padded()).get(doc);
    if (e == simdjson::SUCCESS) {
      rec.set_doc(doc);
      return Verdict::kPass;
    }
    rec.set_no_doc();
    // No memory for the parse of a long record (about 13 times its size): the run's out-of-memory
    // path (the stage call's guard), not "invalid JSON: Error allocating memory" on a valid record.
    if (e == simdjson::MEMALLOC) throw std::bad_alloc();
    if (e == simdjson::NUMBER_ERROR) {
      e = validate_big_numbers(s, text);
      if (e == simdjson::SUCCESS) return Verdict::kPass;
    }
    // Rejected: only now say why, in words and with a column (json_diagnose.h).
    s.error = describe_invalid_json(text, e);
    return Verdict::kError;
  }
};

std::unique_ptr<Stage> make_parse_stage(const StageArgs&, std::string*) { return std::make_unique<ParseStage>(); }

}  // namespace

extern const StageInfo kParseStageInfo = {
    "parse", "validate each line as exactly one JSON value; pass it through byte for byte", kParseHelp, {},
    make_parse_stage,
};

}  // namespace ppipe
