// Stage interfaces. A stage is one of two kinds (see ../shared/STYLE.md, "Stage shape"):
//
//  * RecordStage (parallel): process() runs on any worker, one record at a time, and must not
//    mutate shared state; per-worker memory lives in the WorkerState it asks for.
//  * OrderedStage: sees, in input order, how many records reach it in each batch and admits a
//    prefix of them (head). It runs on the writer thread only, so it may keep plain state. Records
//    after the last admitted one are treated as never read, which keeps output, error stream and
//    stats identical for every --workers and --batch-size.
//
// Aggregate stages (agg, merge) will be a third kind with new_partial/accumulate/merge/finish.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace ppipe {

namespace expr {
class Value;
}

enum class Verdict { kPass, kDrop, kError };

// Per-worker memory shared by all stages of the chain.
struct WorkerScratch {
  simdjson::dom::parser dom;          // records parsed by `parse`; reused for every record
  std::string number_copy;             // parse's copy of a record with numbers the DOM refuses
  std::string error;                  // message of the current record's error
};

// One record moving through the chain. Views stay valid while the batch is being processed.
struct RecordCtx {
  std::string_view text;      // raw bytes of the line, without its terminator
  std::uint64_t line = 0;     // 1-based
  std::uint64_t offset = 0;   // byte offset in its source
  // Set by `parse`: the parsed document, valid until the worker parses the next record.
  // `has_doc` is false when parse accepted the record through its fallback (numbers simdjson's
  // DOM cannot hold), so later stages must not assume a document.
  bool has_doc = false;
  simdjson::dom::element doc;
  // Set by a stage that replaced the record (map): `text` then points at the new bytes, which live
  // in that stage's per-worker state with SIMDJSON_PADDING to spare, and the document is parsed
  // again only if a later stage asks for it (ensure_doc).
  bool replaced = false;
  // Set by map beside `text`: the value it produced (an expr::Value in the map stage's per-worker
  // state), so a later filter or map reads it directly instead of parsing the text again. Valid
  // while this record is processed, unless a later `parse` replaces it with a document.
  const expr::Value* value = nullptr;
};

// The parsed document of the record, parsing a replaced record's new text on first use. False
// (with scratch.error set) when there is none: parse accepted numbers the DOM cannot hold.
bool ensure_doc(RecordCtx& rec, WorkerScratch& scratch);

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
};

// Private per-worker state of one stage (e.g. an expression evaluator's arena).
class StageState {
 public:
  virtual ~StageState() = default;
};

class RecordStage : public Stage {
 public:
  // kError: the message is in scratch.error. Never throws.
  virtual Verdict process(RecordCtx& rec, WorkerScratch& scratch, StageState* state) const = 0;
  virtual std::unique_ptr<StageState> make_state() const { return nullptr; }
  // True when the stage reads the parsed document (so `parse` must come before it).
  virtual bool needs_parsed() const { return false; }
};

class OrderedStage : public Stage {
 public:
  // `arriving` records reached this stage in the next batch (in input order). Returns how many of
  // them are admitted; fewer than arriving, or satisfied() afterwards, ends the stream.
  virtual std::uint64_t admit(std::uint64_t arriving) = 0;
  virtual bool satisfied() const = 0;
};

}  // namespace ppipe
