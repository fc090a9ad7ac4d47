#include "stages/record.h"

#include "stages/json_diagnose.h"
#include "stages/stage.h"

namespace ppipe {

bool Record::doc(WorkerScratch& scratch, simdjson::dom::element* out) {
  if (!has_doc_) {
    if (!replaced_) {
      scratch.error = "the record holds a number outside the 64-bit range, which expressions cannot read";
      return false;
    }
    if (auto e = scratch.dom.parse(text_.data(), text_.size(), !padded_).get(doc_)) {
      // Text from elsewhere (a command's output) is checked here when no parse came after it:
      // the same words as parse's ("invalid JSON: ... at column N"). Valid JSON with a number
      // beyond 64 bits is marked (big_numbers): expressions then read it with the general engine.
      if (refused_only_for_numbers(text_, e)) {
        big_numbers_ = true;
        scratch.error = "the previous stage's output holds a number outside the 64-bit range";
      } else {
        scratch.error = "the previous stage's output is " + describe_invalid_json(text_, e);
      }
      return false;
    }
    has_doc_ = true;
  }
  *out = doc_;
  return true;
}

}  // namespace ppipe
