// `--format json`: a stream of JSON values in any layout (pretty-printed, concatenated, one per
// line), each value a record, as jq reads its input; with --unwrap the elements of a top-level
// array are the records, streamed (a 1 GiB array in bounded memory).
//
// The framer finds where each value ends without parsing it: it follows strings (with their
// escapes) and the nesting of {} and [] byte by byte; a scalar (number, true, false, null) ends at
// whitespace or a structural character. A record's line is the physical line where its value
// starts. Values are validated and made compact (one line) on the workers before the first stage;
// one that is not valid JSON is an error record of stage `json` with its text, and the next value
// starts the next record. A value still open at the end of the input is one error record.
#pragma once

#include <memory>
#include <string>

#include "src/io/framer.h"

namespace ppipe {

class JsonStreamFramer final : public Framer {
 public:
  // max_records (0: none): scan() stops at the end of a batch's max_records-th value, so that
  // what it would carry over is not scanned value by value only to be scanned again (the
  // reader's batches of at most that many records).
  explicit JsonStreamFramer(bool unwrap, std::size_t max_records = 0)
      : unwrap_(unwrap), record_limit_(max_records ? max_records : static_cast<std::size_t>(-1)) {}
  void start_source() override;
  void start_batch(Batch& b) override;
  std::size_t scan(Batch& b) override;
  std::size_t cut() const override { return cut_; }
  std::uint64_t cut_lines() const override { return cut_lines_; }
  void finish(Batch& b) override;
  // An oversized value: the rest of it is skipped by the same rules.
  void start_skip(const char* p, std::size_t n) override;
  std::size_t skip(const char* p, std::size_t n, bool* found) override;
  std::uint64_t skipped_size() const override { return skipped_; }
  std::uint64_t skipped_lines() const override { return skipped_newlines_; }
  const std::shared_ptr<const InputHeader>& header() const override { return no_header_; }
  // Scans the batch again from its start, up to the end of its n-th value: the cut goes there,
  // with the state a cut has (between values, in the top-level array or not).
  bool limit(Batch& b, std::size_t n) override;
  bool pass_over(Batch& b) override;

 private:
  enum class State { kBetween, kContainer, kString, kScalar };
  // Feeds one byte; true when a value ended with it (inclusive) or just before it (a scalar:
  // *end_before), or when it is a stray character (a record of one byte).
  bool step(char c, bool* end_before);
  void emit(Batch& b, std::size_t begin, std::size_t end);
  // The scanning state at the batch's start (start_batch, and limit's scan again): between values,
  // with the top-level array state the batch began with (batch_array_depth_, batch_expect_).
  void restart_scan(Batch& b);

  bool unwrap_;
  bool bom_pending_ = false;
  std::shared_ptr<const InputHeader> no_header_;
  // Scanning state (also carried through a skip).
  State state_ = State::kBetween;
  bool escape_ = false;
  bool string_in_container_ = false;
  int depth_ = 0;
  std::string open_;  // the brackets open in the current value, innermost last
  int array_depth_ = 0;  // --unwrap: 1 inside a top-level array (its elements are the records)
  int cut_array_depth_ = 0;  // ... at the cut, where the next batch starts
  // --unwrap, inside the top-level array: what may come next. A ',' where an element must come
  // (`[,`, `,,`) and a ']' right after a ',' are stray characters: error records of their own; an
  // element where a ',' must come (`[1 2]`) is preceded by an empty record, which the decoder
  // reports as the missing ','.
  enum class Expect : unsigned char { kFirst, kSeparator, kElement };  // after '[', an element, ','
  Expect expect_ = Expect::kFirst, cut_expect_ = Expect::kFirst, batch_expect_ = Expect::kFirst;
  // step() found an element with no ',' before it (`[1 2]`): the record it ended is the empty mark.
  bool missing_separator_ = false;
  std::size_t scanned_ = 0;
  std::size_t value_start_ = 0;
  std::uint32_t value_line_ = 0;
  std::uint32_t lines_ = 0;
  std::size_t cut_ = 0;
  std::uint32_t cut_lines_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t skipped_newlines_ = 0;  // line ends inside the skipped value
  int batch_array_depth_ = 0;               // array_depth_ at the start of the batch
  std::size_t record_limit_;
  std::size_t stop_after_ = record_limit_;  // scan() stops once the batch has this many values
};

}  // namespace ppipe
