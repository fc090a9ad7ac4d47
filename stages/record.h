// Record: one record moving through the chain, and the rules between its forms, in one place.
//
//   raw text ──parse──► text + document        (parse validated it; the document is simdjson's)
//      │                   │
//      │                 replace(text, value)    (map: new bytes, and the value they print)
//      │                   ▼
//      └────────────► new text + value          (the document is parsed again only on demand)
//
// Forms:
//  * text(): the current bytes, without line terminator. The reader's raw bytes until a stage
//    replaces them; replaced bytes live in that stage's per-worker state, with SIMDJSON_PADDING
//    readable bytes after them, and stay valid while this record is processed.
//  * doc(): the parsed document. Set by parse; after replace() it is parsed from the new text on
//    first use. Absent when parse accepted the record through its fallback (a number beyond what
//    simdjson's DOM holds): doc() then fails with a message.
//  * value(): the expression value a map produced beside its text, so a following filter or map
//    reads it without parsing the text again. Cleared when the text changes in any other way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace ppipe {

namespace expr {
class Value;
}

struct WorkerScratch;

class Record {
 public:
  Record() = default;
  // Raw bytes from a batch's input buffer (padded at its end, so any record in it is).
  Record(std::string_view raw, std::uint64_t line, std::uint64_t offset) : text_(raw), line_(line), offset_(offset) {}

  std::string_view text() const { return text_; }
  std::uint64_t line() const { return line_; }      // 1-based line in its source
  std::uint64_t offset() const { return offset_; }  // byte offset in its source
  // The sequence number of the batch it came in (set by the engine; 0 outside a run). With
  // line(), a position that is monotone in input order across sources: finishing stages that
  // keep input order (agg's first/last/collect) use the pair.
  std::uint64_t seq() const { return seq_; }
  void set_seq(std::uint64_t seq) { seq_ = seq; }
  // The name its error records give as their source (a file, "-", or the stage that made it, as
  // "agg"); set by the engine, and valid for the run. A stage that keeps records for later (tail)
  // keeps it with them, so an error of a later stage still names the record's input line.
  std::string_view source() const { return source_; }
  void set_source(std::string_view source) { source_ = source; }
  bool replaced() const { return replaced_; }
  // The text is JSON ppipe wrote itself (a map's output, a CSV/TSV/lines record decoded to JSON):
  // parse has nothing to check. Not so for text handed on from elsewhere (a command's output,
  // records a finishing stage such as tail kept as they came).
  bool valid_json() const { return valid_json_; }
  // SIMDJSON_PADDING readable bytes follow text() (the DOM parser may read in place).
  bool padded() const { return padded_; }

  // parse: the text is valid JSON and this is its document (valid until the worker parses again).
  void set_doc(simdjson::dom::element doc) {
    doc_ = doc;
    has_doc_ = true;
    big_numbers_ = false;
    value_ = nullptr;  // a map's value may point into a document parsed here before
  }
  // parse accepted the text without a document (numbers simdjson's DOM cannot hold).
  void set_no_doc() {
    has_doc_ = false;
    value_ = nullptr;
    big_numbers_ = true;
  }
  // parse accepted it so (set_no_doc): expressions read it with the general engine, also when the
  // text is not the reader's (a command's output).
  bool big_numbers() const { return big_numbers_; }
  bool has_doc() const { return has_doc_; }
  // The document, parsed from replaced text on first use. False (message in scratch.error) when
  // there is none.
  bool doc(WorkerScratch& scratch, simdjson::dom::element* out);

  // A map whose expression gave several values: text() is all of them, one per line (compact JSON
  // has no raw line break), and the record stands for `n` output records. Only the last stage of
  // the workers' segment fans out (Chain cuts the segment after a stage that may).
  void set_outputs(std::uint32_t n) { outputs_ = n; }
  std::uint32_t outputs() const { return outputs_; }

  // map: new bytes (with SIMDJSON_PADDING readable after them) and, optionally, the value they print.
  void replace(std::string_view text, const expr::Value* value) {
    outputs_ = 1;
    text_ = text;
    replaced_ = true;
    valid_json_ = true;
    padded_ = true;
    has_doc_ = false;
    big_numbers_ = false;
    value_ = value;
  }
  // A record handed on by the engine (forwarded to the writer's segment, emitted by a finishing
  // stage, a line of an async stage's output, a decoded CSV line), parsed again on first use.
  // valid_json: ppipe wrote the text as JSON (see valid_json()); else a later parse checks it.
  static Record made(std::string_view text, std::uint64_t line, std::uint64_t offset, bool valid_json) {
    Record r(text, line, offset);
    r.replaced_ = true;
    r.valid_json_ = valid_json;
    r.padded_ = false;
    return r;
  }
  const expr::Value* value() const { return value_; }

 private:
  std::string_view text_;
  std::uint64_t line_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t seq_ = 0;
  std::string_view source_;
  bool replaced_ = false;
  bool valid_json_ = false;
  bool big_numbers_ = false;
  std::uint32_t outputs_ = 1;
  bool padded_ = true;  // SIMDJSON_PADDING readable bytes after text_ (parse may read in place)
  bool has_doc_ = false;
  simdjson::dom::element doc_;
  const expr::Value* value_ = nullptr;
};

}  // namespace ppipe
