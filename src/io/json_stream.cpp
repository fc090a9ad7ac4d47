#include "src/io/json_stream.h"

#include <algorithm>

namespace ppipe {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool ends_scalar(char c) {
  return is_space(c) || c == ',' || c == ']' || c == '}' || c == '[' || c == '{' || c == '"' || c == ':';
}

}  // namespace

void JsonStreamFramer::start_source() {
  bom_pending_ = true;
  state_ = State::kBetween;
  depth_ = 0;
  open_.clear();
  array_depth_ = 0;
  cut_array_depth_ = 0;
  expect_ = cut_expect_ = Expect::kFirst;
  escape_ = false;
  missing_separator_ = false;
}

void JsonStreamFramer::start_batch(Batch& b) {
  // A batch starts at a cut: between values, inside the top-level array or not as it was there.
  batch_array_depth_ = cut_array_depth_;
  batch_expect_ = cut_expect_;
  restart_scan(b);
}

void JsonStreamFramer::restart_scan(Batch& b) {
  b.spans.clear();
  b.array_left_open = false;
  scanned_ = 0;
  cut_ = 0;
  cut_lines_ = 0;
  lines_ = 0;
  state_ = State::kBetween;
  depth_ = 0;
  open_.clear();
  escape_ = false;
  array_depth_ = batch_array_depth_;
  expect_ = batch_expect_;
  missing_separator_ = false;
}

bool JsonStreamFramer::step(char c, bool* end_before) {
  *end_before = false;
  switch (state_) {
    case State::kBetween:
      if (is_space(c)) return false;
      if (unwrap_ && array_depth_ == 0 && c == '[') {
        array_depth_ = 1;
        expect_ = Expect::kFirst;
        return false;
      }
      if (array_depth_ == 1 && c == ',') {
        if (expect_ != Expect::kSeparator) return true;  // `[,` or `,,`: a stray ','
        expect_ = Expect::kElement;
        return false;
      }
      if (array_depth_ == 1 && c == ']') {
        array_depth_ = 0;
        return expect_ == Expect::kElement;  // `,]`: a stray ']' (the array ends all the same)
      }
      if (array_depth_ == 1 && expect_ == Expect::kSeparator && c != '}' && c != ':') {
        // An element right after another, with no ',' between (`[1 2]`): an empty record ends
        // before it (scan() emits it; the decoder names the missing ','), then c is looked at again.
        expect_ = Expect::kElement;
        missing_separator_ = true;
        *end_before = true;
        return true;
      }
      if (array_depth_ == 1) expect_ = Expect::kSeparator;  // an element starts
      if (c == '{' || c == '[') {
        state_ = State::kContainer;
        depth_ = 1;
        open_.assign(1, c);
        return false;
      }
      if (c == '"') {
        state_ = State::kString;
        string_in_container_ = false;
        return false;
      }
      if (c == '}' || c == ']' || c == ',' || c == ':') return true;  // a stray character: a record of its own
      state_ = State::kScalar;
      return false;
    case State::kContainer:
      if (c == '"') {
        state_ = State::kString;
        string_in_container_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
        open_.push_back(c);
      } else if (c == '}' || c == ']') {
        // A bracket that closes another kind ({"a": [1}) ends the value there: it is bad, and the
        // next value starts after it (not the whole rest of the input in one error record).
        const bool mismatched = open_.empty() || open_.back() != (c == '}' ? '{' : '[');
        if (!open_.empty()) open_.pop_back();
        if (--depth_ == 0 || mismatched) {
          state_ = State::kBetween;
          depth_ = 0;
          open_.clear();
          return true;
        }
      }
      return false;
    case State::kString:
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        if (string_in_container_) {
          state_ = State::kContainer;
        } else {
          state_ = State::kBetween;
          return true;
        }
      }
      return false;
    case State::kScalar:
      if (!ends_scalar(c)) return false;
      state_ = State::kBetween;
      *end_before = true;
      return true;
  }
  return false;
}

void JsonStreamFramer::emit(Batch& b, std::size_t begin, std::size_t end) {
  b.spans.push_back(RecordSpan{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end - begin), value_line_});
}

std::size_t JsonStreamFramer::scan(Batch& b) {
  std::size_t removed = 0;
  if (!strip_bom(b, bom_pending_, &removed)) return 0;
  const std::size_t size = b.input.size();
  const char* data = b.input.data();
  auto ended = [&](std::size_t begin, std::size_t end) {
    emit(b, begin, end);
    cut_ = end;
    cut_lines_ = lines_;
    cut_array_depth_ = array_depth_;
    cut_expect_ = expect_;
  };
  const std::size_t stop = stop_after_;
  for (std::size_t i = scanned_; i < size; ++i) {
    const char c = data[i];
    const State before = state_;
    const Expect expect_before = expect_;
    const int depth_before = array_depth_;
    bool end_before = false;
    if (step(c, &end_before)) {
      if (end_before) {
        if (missing_separator_) {  // the mark of a missing ',': an empty record where c is
          missing_separator_ = false;
          value_start_ = i;
          value_line_ = lines_;
        }
        ended(value_start_, i);  // a scalar, ended by c (or the mark); c is looked at again
        if (b.spans.size() >= stop) {
          scanned_ = i;
          return removed;
        }
        bool again = false;
        bool ends = step(c, &again);
        if (ends && again) {  // a scalar ended by c, which starts an element with no ',' before it
          missing_separator_ = false;
          value_line_ = lines_;
          ended(i, i);
          if (b.spans.size() >= stop) {
            scanned_ = i;
            return removed;
          }
          ends = step(c, &again);  // (the element starts: false)
        }
        if (ends) {
          value_line_ = lines_;
          ended(i, i + 1);  // a stray character right after it
        } else if (state_ != State::kBetween) {
          value_start_ = i;
          value_line_ = lines_;
        }
      } else {
        if (before == State::kBetween) {  // a stray character: a record of its own
          value_start_ = i;
          value_line_ = lines_;
        }
        ended(value_start_, i + 1);
      }
    } else if (before == State::kBetween && state_ != State::kBetween) {
      value_start_ = i;
      value_line_ = lines_;
      // Since the cut every byte was one between values (a value or a stray character that
      // ended moved the cut): blanks, and with --unwrap the array's '[' ',' ']'. The cut moves to
      // the value's start, with the framer's state there, so a value carried into the next batch
      // starts it. An oversized one was reported from the bytes before it: its line, offset, size
      // and text by --batch-size (also after a '[': found by a fuzzer of batch sizes).
      if (i > cut_) {
        cut_ = i;
        cut_lines_ = lines_;
        cut_array_depth_ = depth_before;
        cut_expect_ = expect_before;
      }
    }
    if (c == '\n') ++lines_;
    if (b.spans.size() >= stop) {
      scanned_ = i + 1;
      return removed;
    }
  }
  scanned_ = size;
  return removed;
}

bool JsonStreamFramer::limit(Batch& b, std::size_t n) {
  if (n == 0 || b.spans.size() <= n) return false;
  // The state at the batch's start (a cut: between values), then the same scan, stopped at n.
  // (A BOM was removed by the first scan.)
  restart_scan(b);
  stop_after_ = n;
  scan(b);
  stop_after_ = record_limit_;
  return b.spans.size() == n;
}

bool JsonStreamFramer::pass_over(Batch& b) {
  // Scanned to its end with no value begun or ended: blanks, and the array's '[' ',' ']' in their
  // places (a stray one is a record, and a missing ',' the mark of one).
  if (scanned_ != b.input.size() || state_ != State::kBetween || !b.spans.empty() || missing_separator_) return false;
  cut_array_depth_ = array_depth_;
  cut_expect_ = expect_;
  return true;
}

void JsonStreamFramer::finish(Batch& b) {
  bom_pending_ = false;
  const std::size_t size = b.input.size();
  const bool open_value = state_ == State::kContainer || state_ == State::kString;
  if (state_ != State::kBetween) {
    // A scalar ends with the input; a container or string still open is one (bad) record.
    emit(b, value_start_, size);
    state_ = State::kBetween;
  }
  if (array_depth_ == 1 && !open_value) {
    // The input ended inside the top-level array (a truncated file): an empty record, which the
    // decoder reports as such, on the last line.
    value_line_ = lines_;
    emit(b, size, size);
    b.array_left_open = true;
  }
  array_depth_ = 0;
  cut_ = size;
  cut_lines_ = lines_;
  cut_array_depth_ = 0;
  cut_expect_ = Expect::kFirst;
}

void JsonStreamFramer::start_skip(const char* p, std::size_t n) {
  bom_pending_ = false;
  skipped_ = n;
  skipped_newlines_ = static_cast<std::uint64_t>(std::count(p, p + n, '\n'));
}

std::size_t JsonStreamFramer::skip(const char* p, std::size_t n, bool* found) {
  *found = false;
  for (std::size_t i = 0; i < n; ++i) {
    bool end_before = false;
    if (step(p[i], &end_before)) {
      if (missing_separator_) {
        // The skipped value ended before p[i], which lacks its ',': left for scan() to report.
        missing_separator_ = false;
        expect_ = Expect::kSeparator;
      }
      *found = true;
      std::size_t used = end_before ? i : i + 1;
      skipped_ += used;
      skipped_newlines_ += static_cast<std::uint64_t>(std::count(p, p + used, '\n'));
      cut_array_depth_ = array_depth_;
      cut_expect_ = expect_;
      return used;
    }
  }
  skipped_ += n;
  skipped_newlines_ += static_cast<std::uint64_t>(std::count(p, p + n, '\n'));
  return n;
}

}  // namespace ppipe
