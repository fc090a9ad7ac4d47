// CSV input (RFC 4180): the framer that finds record ends outside quotes, and the decoder that
// turns a record into a JSON object.
//
// Records end at a '\n' outside double quotes (a CR before it is not part of the record); a quoted
// field may hold delimiters, "" for a quote, and line breaks, so one record may span several
// physical lines (its error record names the first). The quote state is found 64 bytes at a time
// (a quote mask and its prefix XOR, as simdjson finds strings), not byte by byte. Empty lines are
// no records. The first record of each source is the header unless --no-header (then the keys are
// the column numbers 1, 2, ...). A record with another number of fields than the header, a bare
// quote in an unquoted field, text after a closing quote, bytes that are not UTF-8, or a quote
// left open at the end of the input is an error record (stage `csv`); the run goes on.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/io/formats.h"
#include "src/io/framer.h"

namespace ppipe {

class CsvFramer final : public Framer {
 public:
  // max_record: --max-record-size; a longer header row leaves its source without keys (see
  // unusable_header), whether the reader skipped it or it fit in a batch.
  CsvFramer(char delimiter, bool header, std::uint64_t max_record = UINT64_MAX)
      : delimiter_(delimiter), header_row_(header), max_record_(max_record) {}
  void start_source() override;
  void start_batch(Batch& b) override;
  std::size_t scan(Batch& b) override;
  std::size_t cut() const override { return record_start_; }
  std::uint64_t cut_lines() const override { return record_line_; }
  void finish(Batch& b) override;
  void start_skip(const char* p, std::size_t n) override;
  std::size_t skip(const char* p, std::size_t n, bool* found) override;
  std::uint64_t skipped_size() const override { return skipped_ - (skipped_cr_ ? 1 : 0); }
  std::uint64_t skipped_lines() const override { return 1 + skipped_newlines_; }
  const std::shared_ptr<const InputHeader>& header() const override { return header_; }
  bool limit(Batch& b, std::size_t n) override;

 private:
  void add_record(Batch& b, std::size_t begin, std::size_t end);

  // The quote state of a record's bytes. A quote opens a quoted part only at a field's start (the
  // record's start, after a delimiter or a line end) or right after the quote that closed one (the
  // "" of a quote inside quotes); inside quotes each quote closes. A quote elsewhere (`x"y`) is a
  // bare quote: the decoder reports that record, and the state does not change (it did, and one
  // stray quote made the rest of the file one record; found by a bug hunt).
  struct Quotes {
    // Whether a quote after `prev` (outside quotes) opens a quoted part.
    static bool opens(char prev, bool prev_closed, char delimiter) {
      return prev == delimiter || prev == '\n' || (prev == '"' && prev_closed);
    }
    bool in = false;
    char prev = '\n';           // the byte before ('\n' at a record's start)
    bool prev_closed = false;   // ... was a quote that closed a quoted part
    void step(char c, char delimiter) {
      if (c == '"') {
        if (in) {
          in = false;
          prev_closed = true;
        } else {
          in = opens(prev, prev_closed, delimiter);
          prev_closed = false;
        }
      } else {
        prev_closed = false;
      }
      prev = c;
    }
  };

  char delimiter_;
  bool header_row_;
  std::uint64_t max_record_;
  bool header_pending_ = false;
  std::uint64_t skipped_newlines_ = 0;  // line ends inside a skipped record's quotes
  std::shared_ptr<const InputHeader> header_;
  bool bom_pending_ = false;
  bool in_quotes_ = false;          // at scanned_
  std::size_t closed_at_ = SIZE_MAX;  // where the last quote that closed a quoted part is
  std::size_t scanned_ = 0;
  std::size_t record_start_ = 0;    // the record not yet complete: the cut
  std::uint32_t lines_ = 0;         // '\n's in input[0, scanned_)
  std::uint32_t record_line_ = 0;   // '\n's in input[0, record_start_)
  std::uint64_t skipped_ = 0;
  bool skipped_cr_ = false;
  Quotes skip_quotes_;
};

// The header row's keys (repeats get _2, _3; an empty name is its column number; bytes that are not
// UTF-8 become U+FFFD; a malformed header keeps its text as the names).
std::shared_ptr<const InputHeader> csv_header(std::string_view record, char delimiter);

// The record as a JSON object in *out; false with *error. header null: keys are column numbers.
// header_row: the record is the source's malformed header row (Batch::header_row), and its error
// says so.
bool decode_csv(std::string_view record, const InputHeader* header, char delimiter, bool infer, std::string* out,
                std::string* error, bool header_row = false);

}  // namespace ppipe
