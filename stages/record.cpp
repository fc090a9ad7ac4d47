#include "stages/record.h"

#include "stages/stage.h"

namespace ppipe {

bool Record::doc(WorkerScratch& scratch, simdjson::dom::element* out) {
  if (!has_doc_) {
    if (!replaced_) {
      scratch.error = "the record holds a number outside the 64-bit range, which expressions cannot read";
      return false;
    }
    if (auto e = scratch.dom.parse(text_.data(), text_.size(), !padded_).get(doc_)) {
      scratch.error = std::string("cannot read the previous stage's output: ") + simdjson::error_message(e);
      return false;
    }
    has_doc_ = true;
  }
  *out = doc_;
  return true;
}

}  // namespace ppipe
