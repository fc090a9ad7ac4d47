// Framer: finds where records begin and end in a batch's bytes, once, on the reader thread.
//
// The reader appends bytes to a batch as they are read and calls scan() after each read; the
// framer looks at each new byte once, writes the span of every record it completes into
// Batch::spans (workers iterate those spans and never look for record ends again) and keeps the
// cut: the end of the last complete record, where the reader cuts the batch and carries the rest
// into the next one. It also knows what ends a record while the reader skips an oversized one,
// and the source's leading byte-order mark.
//
// JsonLinesFramer: a record is a line; '\n' ends it and a CR before that '\n' is not part of it.
// Blank lines (empty, or only spaces, tabs and CRs) are no records but count in line numbers. The
// last line of a source needs no '\n'. A UTF-8 BOM at the very start of a source is removed.
// A CSV framer (quoted fields may hold newlines) keeps its quote state between scan() calls.
#pragma once

#include <cstddef>
#include <cstdint>

#include <memory>

#include "src/core/batch.h"
#include "src/io/formats.h"

namespace ppipe {

class Framer {
 public:
  virtual ~Framer() = default;
  // A new source begins: its line 1, and its first bytes may be a byte-order mark.
  virtual void start_source() = 0;
  // A new batch begins: clears b.spans; b.input holds only bytes carried over from the last cut,
  // none of them scanned yet.
  virtual void start_batch(Batch& b) = 0;
  // b.input grew: finds the records completed in the new bytes and appends their spans. At the
  // start of a source it removes a byte-order mark from b.input; returns how many bytes it removed
  // (the batch's offset in its source moves on by that many).
  virtual std::size_t scan(Batch& b) = 0;
  // b.input[0, cut()) holds whole records with their terminators (and blank lines); 0 while no
  // record is complete.
  virtual std::size_t cut() const = 0;
  // Lines in b.input[0, cut()): the next batch of this source starts at line first_line + this.
  virtual std::uint64_t cut_lines() const = 0;
  // End of input: what follows the cut is the source's last record, without a terminator.
  // Afterwards cut() == b.input.size().
  virtual void finish(Batch& b) = 0;

  // Skipping a record longer than --max-record-size: p[0, n) are its first bytes (the batch held no
  // complete record); the reader then reads the rest a block at a time and gives each to skip().
  virtual void start_skip(const char* p, std::size_t n) = 0;
  // How many bytes of p[0, n) still belong to the record, its terminator included; *found is set
  // when the terminator was among them.
  virtual std::size_t skip(const char* p, std::size_t n, bool* found) = 0;
  // The skipped record's size as a worker would see it (without its terminator).
  virtual std::uint64_t skipped_size() const = 0;
  // Lines the skipped record takes, its terminator's included: where the next record's line
  // numbers go on from (a quoted CSV field's line ends count too; a JSON value has no
  // terminator: only its own line ends).
  virtual std::uint64_t skipped_lines() const { return 1; }
  // The current source's header row (tsv, csv), once scanned; null before it and for other formats.
  virtual const std::shared_ptr<const InputHeader>& header() const = 0;
  // The batch (no whole record in it) holds only what comes between records: JSON Lines' blank
  // lines, a JSON stream's white space, and with --unwrap the top-level array's '[' ',' ']' where
  // they belong. True: its bytes are no record (the reader passes them over: a run of them longer
  // than --max-record-size is no oversized record) and the next batch starts after them, in the
  // state they leave. False for formats whose blank lines are records (lines, tsv, csv).
  virtual bool pass_over(Batch& b) {
    (void)b;
    return false;
  }
  // Moves the cut back to the end of the batch's n-th record (n > 0) when it holds more: the rest
  // is carried into the next batch and scanned again there. True when it did. (A cut is always
  // between records, where csv is outside quotes and a JSON stream between values.)
  virtual bool limit(Batch& b, std::size_t n) {
    (void)b;
    (void)n;
    return false;
  }
};

// At the start of a source (`pending`): removes a UTF-8 byte-order mark from b.input once its first
// 3 bytes are there (*removed = 3) and clears `pending`. False while undecided (fewer than 3 bytes,
// all a BOM's so far): scan() then returns and waits for more.
bool strip_bom(Batch& b, bool& pending, std::size_t* removed);
// Only JSON white space (space, tab, CR, LF): blanks between records, in JSON Lines or JSON.
bool only_json_space(const char* p, std::size_t n);

// The same framer serves the line-based input formats (src/io/formats.h): `lines` keeps blank
// lines as records; `tsv` takes the first non-empty line of each source as its header (no record),
// and skips only empty lines.
class JsonLinesFramer final : public Framer {
 public:
  JsonLinesFramer() = default;
  // max_record: --max-record-size; a longer tsv header line leaves its source without keys (see
  // unusable_header), whether the reader skipped it or it fit in a batch.
  explicit JsonLinesFramer(InputFormat format, std::uint64_t max_record = UINT64_MAX)
      : json_lines_(format == InputFormat::kJsonLines),
        keep_blank_(format == InputFormat::kLines),
        only_empty_blank_(format == InputFormat::kTsv),
        header_line_(format == InputFormat::kTsv),
        max_record_(max_record) {}
  const std::shared_ptr<const InputHeader>& header() const override { return header_; }
  void start_source() override;
  void start_batch(Batch& b) override;
  std::size_t scan(Batch& b) override;
  std::size_t cut() const override { return line_start_; }
  std::uint64_t cut_lines() const override { return line_; }
  void finish(Batch& b) override;
  void start_skip(const char* p, std::size_t n) override;
  std::size_t skip(const char* p, std::size_t n, bool* found) override;
  std::uint64_t skipped_size() const override { return skipped_ - (skipped_cr_ ? 1 : 0); }
  bool limit(Batch& b, std::size_t n) override;
  bool pass_over(Batch& b) override { return json_lines_ && only_json_space(b.input.data(), b.input.size()); }

 private:
  void add_line(Batch& b, std::size_t begin, std::size_t end);  // input[begin, end), terminator excluded

  bool json_lines_ = true;
  bool keep_blank_ = false;
  // tsv: only an empty line is blank. Spaces and tabs are fields there ("\t" is a row of two
  // empty strings), so such a line is a record, or an error record if its fields do not match.
  bool only_empty_blank_ = false;
  bool header_line_ = false;
  std::uint64_t max_record_ = UINT64_MAX;
  bool header_pending_ = false;  // the source's header line is still to come
  std::shared_ptr<const InputHeader> header_;
  bool bom_pending_ = false;   // at the start of a source, fewer than 3 bytes seen: may still be a BOM
  std::size_t scanned_ = 0;    // input[line_start_, scanned_) holds no '\n'
  std::size_t line_start_ = 0; // start of the line not yet complete: the cut
  std::uint32_t line_ = 0;     // lines in input[0, line_start_)
  std::uint64_t skipped_ = 0;  // an oversized record's bytes so far, without its '\n'
  bool skipped_cr_ = false;    // ... and they end in a CR
};

}  // namespace ppipe
