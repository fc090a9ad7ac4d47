#include "src/core/chain.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "src/io/csv.h"
#include "src/io/error_record.h"
#include "stages/json_diagnose.h"
#include "src/util/plain_lines.h"
#include "src/util/text_util.h"

namespace ppipe {

namespace {

// A stage that runs out of memory on one record (an expression that builds more than fits, as
// `[range(1e10)]`) fails that record with an error record, as jq's error would, instead of ending
// the process; the memory it took is freed as the stack unwinds, and the run goes on.
template <typename F>
Verdict guarded(WorkerScratch& scratch, F&& run) {
  try {
    return run();
  } catch (const std::bad_alloc&) {
    scratch.error = "out of memory: what this stage made of the record did not fit in memory";
    return Verdict::kError;
  }
}

const RecordStage& parallel(const Stage& s) { return static_cast<const RecordStage&>(s); }
const OrderedStage& ordered(const Stage& s) { return static_cast<const OrderedStage&>(s); }
const FinishingStage& finishing(const Stage& s) { return static_cast<const FinishingStage&>(s); }

}  // namespace

Chain::Chain(std::vector<std::unique_ptr<Stage>> stages, std::vector<std::string> source_names,
             std::uint64_t max_record_size)
    : stages_(std::move(stages)), source_names_(std::move(source_names)), max_record_size_(max_record_size) {
  worker_end_ = stages_.size();
  bool ordered_before = false;
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    StageMode m = stages_[i]->mode();
    modes_.push_back(m);
    may_fan_out_.push_back(m == StageMode::kParallel && static_cast<const RecordStage&>(*stages_[i]).may_fan_out());
    if (m != StageMode::kParallel) needs_order_ = true;
    if (worker_end_ != stages_.size()) continue;
    if (m == StageMode::kFinishing || m == StageMode::kAsync) {
      worker_end_ = i;
      speculate_finishing_ = m == StageMode::kFinishing && !ordered_before;
    }
    if (m == StageMode::kOrdered) ordered_before = true;
    // A stage that may turn a record into several ends the segment: what follows sees each of
    // them as its own record, on the writer's thread (forwarded records are split per line).
    if (worker_end_ == stages_.size() && m == StageMode::kParallel && i + 1 < stages_.size() &&
        static_cast<const RecordStage&>(*stages_[i]).may_fan_out()) {
      worker_end_ = i + 1;
      needs_order_ = true;
      fans_out_ = true;
    }
  }
  tracing_ = needs_order_;
}

const AsyncStage* Chain::async_stage() const {
  if (worker_end_ < stages_.size() && modes_[worker_end_] == StageMode::kAsync)
    return static_cast<const AsyncStage*>(stages_[worker_end_].get());
  return nullptr;
}

std::unique_ptr<Chain::WorkerState> Chain::make_worker_state() const {
  auto ws = std::make_unique<WorkerState>();
  for (const auto& s : stages_) ws->states.push_back(s->make_state());
  return ws;
}

void Chain::add_error(std::string& err, std::string_view source, std::string_view stage, std::string_view message,
                      std::string_view text, std::uint64_t line, std::uint64_t offset, std::uint64_t full_size) const {
  ErrorInfo e;
  e.source = source;
  e.line = line;
  e.offset = offset;
  e.stage = stage;
  e.message = message;
  e.record = text;
  e.record_size = full_size;
  append_error_record(err, e);
}

// A record longer than --max-record-size, whether the reader cut it short (an oversized batch) or
// the worker found it inside a batch: the error carries its first bytes, up to a UTF-8 boundary.
void Chain::add_oversized_error(Batch& b, std::string_view text, std::uint64_t size, std::uint64_t line,
                                std::uint64_t offset) const {
  std::string message =
      fmt::format("record of {} bytes is longer than --max-record-size ({} bytes)", size, max_record_size_);
  std::string_view head = text.substr(0, kOversizedKeep);
  add_error(b.err, source_names_[b.source], "read", message, head.substr(0, utf8_safe_prefix(head)), line, offset,
            size);
}

bool Chain::decode(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line, std::uint64_t offset) const {
  std::string& error = ws.scratch.error;
  bool ok = false;
  if (input_format_ == InputFormat::kLines) {
    ok = decode_line(text, &ws.decoded, &error);
  } else if (input_format_ == InputFormat::kJson) {
    // A value of the stream, maybe over several lines: validated, then written on one line.
    simdjson::dom::element doc;
    simdjson::error_code e = ws.scratch.dom.parse(text.data(), text.size(), false).get(doc);
    if (text.empty()) {
      // The framer's marks: --unwrap's array still open at the end of the input, or an element
      // with no ',' before it (the mark is where the element starts, before the end).
      if (b.array_left_open && text.data() == b.input.data() + b.input.size())
        error = "the input ended inside the top-level array: its closing ']' is missing (a truncated file?)";
      else
        error = "a ',' is missing between two elements of the top-level array";
    } else if (e && !refused_only_for_numbers(text, e)) {  // (numbers beyond 64 bits are valid JSON, as parse says)
      error = describe_invalid_json(text, e);
    } else {
      ws.decoded.resize(text.size());
      std::size_t n = 0;
      ok = simdjson::minify(text.data(), text.size(), ws.decoded.data(), n) == simdjson::SUCCESS;
      ws.decoded.resize(n);
      if (!ok) error = "invalid JSON";
    }
  } else if (input_format_ == InputFormat::kCsv) {
    ok = decode_csv(text, b.header.get(), delimiter_, infer_, &ws.decoded, &error,  // no header: --no-header
                    b.header_row != Batch::kNoHeaderRow && line - b.first_line == b.header_row);
  } else if (!b.header) {
    error = "no header row";  // (cannot happen: the framer takes the header before any record)
  } else {
    ok = decode_tsv(text, *b.header, infer_, &ws.decoded, &error,
                    b.header_row != Batch::kNoHeaderRow && line - b.first_line == b.header_row);
  }
  if (!ok) {
    add_error(b.err, source_names_[b.source], input_format_name(input_format_), error, text, line, offset, 0);
    return false;
  }
  ws.decoded.reserve(ws.decoded.size() + simdjson::SIMDJSON_PADDING);  // stages parse it in place
  return true;
}

void Chain::run_record(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line,
                       std::uint64_t offset, bool trace, bool timed) const {
  ++b.records;
  const std::size_t n = stages_.size(), end = worker_end_;
  std::size_t end_stage = end;
  Fate fate = end == n ? Fate::kPassed : Fate::kForwarded;
  if (text.size() > max_record_size_) {
    add_oversized_error(b, text, text.size(), line, offset);
    end_stage = 0;
    fate = Fate::kFailedBeforeChain;
  } else if (input_format_ != InputFormat::kJsonLines && !decode(b, ws, text, line, offset)) {
    end_stage = 0;
    fate = Fate::kFailedBeforeChain;
  } else {
    Record rec = input_format_ == InputFormat::kJsonLines ? Record(text, line, offset) : Record::made(ws.decoded, line, offset, true);
    rec.set_seq(b.seq);
    rec.set_source(source_names_[b.source]);
    std::uint64_t t = timed ? now_ns() : 0;
    for (std::size_t i = 0; i < end; ++i) {
      StageCounts& c = b.counts[i];
      ++c.in;
      Verdict v;
      if (modes_[i] == StageMode::kParallel) {
        v = guarded(ws.scratch, [&] { return parallel(*stages_[i]).process(rec, ws.scratch, ws.states[i].get()); });
      } else {  // ordered: its key now, its decision in the writer
        ws.key.clear();
        v = ordered(*stages_[i]).key(rec, ws.scratch, ws.states[i].get(), ws.key);
        if (v == Verdict::kDrop) v = Verdict::kPass;
        if (v == Verdict::kPass) {
          b.key_spans.push_back({static_cast<std::uint32_t>(b.trace.size()), static_cast<std::uint16_t>(i),
                                 static_cast<std::uint32_t>(b.keys.size()), static_cast<std::uint32_t>(ws.key.size())});
          b.keys.append(ws.key);
        }
      }
      if (timed) {
        std::uint64_t after = now_ns();
        b.sampled_ns[i] += after - t;
        t = after;
      }
      if (v == Verdict::kPass) {
        c.out += rec.outputs();
        continue;
      }
      end_stage = i;
      if (v == Verdict::kDrop) {
        ++c.dropped;
        fate = Fate::kDropped;
      } else {
        ++c.errors;
        fate = Fate::kFailed;
        add_error(b.err, source_names_[b.source], stages_[i]->name(), ws.scratch.error, text, line, offset, 0);
      }
      break;
    }
    if (end_stage == end && speculate_finishing_) {
      StageCounts& c = b.counts[end];
      ++c.in;
      Verdict v = guarded(ws.scratch, [&] {
        return finishing(*stages_[end]).accumulate(rec, ws.scratch, ws.states[end].get(), *b.partial);
      });
      if (timed) b.sampled_ns[end] += now_ns() - t;
      if (v == Verdict::kError) {
        ++c.errors;
        fate = Fate::kFailed;
        add_error(b.err, source_names_[b.source], stages_[end]->name(), ws.scratch.error, text, line, offset, 0);
      } else {
        fate = Fate::kConsumed;
      }
    } else if (end_stage == end && rec.replaced()) {
      b.emit_copy(rec.text());
    } else if (end_stage == end) {
      std::size_t begin = static_cast<std::size_t>(text.data() - b.input.data());
      std::size_t after = begin + text.size();
      if (after < b.input.size() && b.input.data()[after] == '\n')
        b.emit_input(begin, text.size() + 1);
      else
        b.emit_copy(text);  // its line ended in CRLF, or was the last one, without '\n'
    }
  }
  if (trace) {
    b.trace.push_back(RecordTrace{line, b.out_bytes, b.err.size(),
                                  static_cast<std::uint32_t>(text.data() - b.input.data()),
                                  static_cast<std::uint32_t>(text.size()), static_cast<std::uint16_t>(end_stage), fate});
  }
}

void Chain::process(Batch& b, WorkerState& ws, bool trace_all) const {
  const bool trace = tracing_ || trace_all;
  b.reset_results(stages_.size());
  if (speculate_finishing_) b.partial = finishing(*stages_[worker_end_]).new_partial();
  const char* data = b.input.data();
  if (b.oversized) {
    ++b.records;
    add_oversized_error(b, std::string_view(data, b.input.size()), b.oversized_size, b.first_line, b.offset);
    if (trace)
      b.trace.push_back(RecordTrace{b.first_line, 0, b.err.size(), 0,
                                    static_cast<std::uint32_t>(b.input.size()), 0, Fate::kFailedBeforeChain});
    return;
  }
  // The reader's framer found the records (blank lines have no span).
  std::size_t until_timed = 0;
  for (const RecordSpan& r : b.spans) {
    bool timed = until_timed-- == 0;
    if (timed) until_timed = kTimedEvery - 1;
    run_record(b, ws, std::string_view(data + r.begin, r.len), b.first_line + r.line, b.offset + r.begin, trace,
               timed);
  }
}

std::unique_ptr<Chain::Run> Chain::start() const { return std::make_unique<Run>(*this); }

// ---------------------------------------------------------------- the writer's part

Chain::Run::Run(const Chain& chain) : chain_(chain), ws_(std::move(*chain.make_worker_state())) {
  const std::size_t n = chain.size();
  ordered_.resize(n);
  partials_.resize(n);
  counts_.assign(n, StageCounts{});
  busy_ns_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (chain.modes_[i] == StageMode::kOrdered) ordered_[i] = ordered(*chain.stages_[i]).start();
    if (chain.modes_[i] == StageMode::kFinishing) partials_[i] = finishing(*chain.stages_[i]).new_partial();
  }
}

Chain::Run::~Run() = default;

bool Chain::Run::ended_before_start() const {
  for (std::size_t k = 0; k < chain_.worker_end_; ++k)
    if (ordered_[k] && ordered_[k]->satisfied()) return true;
  return false;
}

bool Chain::Run::admit(Batch& b) {
  const std::size_t end = chain_.worker_end_;
  std::size_t n_ordered = 0;
  for (std::size_t k = 0; k < end; ++k) n_ordered += ordered_[k] != nullptr;
  if (n_ordered == 0) return false;
  // The decisions' time, shared evenly by the ordered stages (usually there is one).
  const std::uint64_t t0 = now_ns();
  bool stop = admit_records(b);
  const std::uint64_t share = (now_ns() - t0) / n_ordered;
  for (std::size_t k = 0; k < end; ++k)
    if (ordered_[k]) busy_ns_[k] += share;
  return stop;
}

bool Chain::Run::admit_records(Batch& b) {
  const std::size_t end = chain_.worker_end_;
  const std::size_t records = b.trace.size();
  std::vector<std::uint8_t> removed(records, 0);
  std::size_t keep = records, span = 0;
  bool changed = false, stop = false;
  for (std::size_t r = 0; r < records && !stop; ++r) {
    for (std::size_t k = 0; k < end && !stop; ++k) {
      if (ordered_[k] && ordered_[k]->satisfied()) {
        keep = r;
        stop = true;
      }
    }
    if (stop) break;
    RecordTrace& t = b.trace[r];
    for (std::size_t k = 0; k < end && t.end_stage > k; ++k) {
      if (!ordered_[k]) continue;
      while (span < b.key_spans.size() &&
             (b.key_spans[span].record < r || (b.key_spans[span].record == r && b.key_spans[span].stage < k)))
        ++span;
      std::string_view key;
      if (span < b.key_spans.size() && b.key_spans[span].record == r && b.key_spans[span].stage == k)
        key = std::string_view(b.keys).substr(b.key_spans[span].begin, b.key_spans[span].len);
      Admit a = ordered_[k]->admit(key);
      if (a == Admit::kKeep) continue;
      if (a == Admit::kFail && failure_.empty()) failure_ = ordered_[k]->failure();
      if (a == Admit::kStop || a == Admit::kFail) {
        keep = r;
        stop = true;
        break;
      }
      if (a == Admit::kKeepLast) {
        keep = r + 1;
        stop = true;
        continue;  // later ordered stages still see it
      }
      // kDrop: what later stages did with it never happened.
      t.end_stage = static_cast<std::uint16_t>(k);
      t.fate = Fate::kDropped;
      removed[r] = 1;
      changed = true;
      break;
    }
  }
  // Satisfied by the batch's last record: the run ends here, not at the next batch's first record
  // (this batch's bytes after that record were counted, or not, by --batch-size).
  for (std::size_t k = 0; k < end && !stop; ++k)
    if (ordered_[k] && ordered_[k]->satisfied()) stop = true;
  if (changed || keep < records) rebuild(b, removed, keep);
  // (A cut at the batch's end: rebuild counts the bytes of a cut inside it only. With a record
  // dropped in the batch too, the blanks after its last one were still counted, by batch size.)
  if (stop && keep == records) count_bytes_to(b, keep);
  return stop;
}

bool Chain::Run::cut_after_errors(Batch& b, std::uint64_t n) {
  std::uint64_t seen = 0;
  for (std::size_t r = 0; r < b.trace.size(); ++r) {
    if (b.trace[r].failed() && ++seen == n) {
      if (r + 1 < b.trace.size()) rebuild(b, std::vector<std::uint8_t>(r + 1, 0), r + 1);
      else count_bytes_to(b, r + 1);  // (cut at the batch's end)
      return true;
    }
  }
  return false;
}

void Chain::Run::cut_after_line(Batch& b, std::uint64_t line) {
  std::size_t keep = 0;
  while (keep < b.trace.size() && b.trace[keep].line <= line) ++keep;
  if (keep < b.trace.size()) rebuild(b, std::vector<std::uint8_t>(keep, 0), keep);
}

// Keeps records [0, keep_records), and of those the output and errors of the ones not marked in
// `removed`; the trace follows, and the counts are made again from it.
void Chain::Run::rebuild(Batch& b, const std::vector<std::uint8_t>& removed, std::size_t keep_records) {
  std::vector<OutSegment> segments;
  std::string err;
  std::uint64_t prev_out = 0, prev_err = 0, out_bytes = 0;
  for (std::size_t r = 0; r < keep_records; ++r) {
    RecordTrace& t = b.trace[r];
    if (!removed[r]) {
      b.copy_output_range(prev_out, t.out_end, segments);
      out_bytes += t.out_end - prev_out;
      err.append(b.err, prev_err, t.err_end - prev_err);
    }
    prev_out = t.out_end;
    prev_err = t.err_end;
    t.out_end = out_bytes;
    t.err_end = err.size();
  }
  b.segments.swap(segments);
  b.err.swap(err);
  b.out_bytes = out_bytes;
  if (keep_records < b.trace.size()) count_bytes_to(b, keep_records);
  b.trace.resize(keep_records);
  b.records = keep_records;
  recount(b);
}

void Chain::Run::count_bytes_to(Batch& b, std::size_t keep_records) const {
  // The records cut away were never read: bytes_in ends after the last kept record's line (a
  // JSON value's end: other values may share its line), whatever the batch holds after it (blank
  // lines at its end counted, or not, by --batch-size; found by a fuzzer of batch sizes).
  std::size_t end = 0;
  if (keep_records > 0 && !b.oversized) {
    const RecordTrace& last = b.trace[keep_records - 1];
    end = last.raw_begin + last.raw_len;
    if (chain_.input_format_ != InputFormat::kJson) {
      const char* nl = static_cast<const char*>(std::memchr(b.input.data() + end, '\n', b.input.size() - end));
      end = nl ? static_cast<std::size_t>(nl - b.input.data()) + 1 : b.input.size();
    }
  } else if (keep_records > 0) {
    end = b.input.size();
  }
  // From what is counted so far: a second cut (head, then --max-errors) took the first one's
  // cut away twice, and bytes_in was 0.
  const std::size_t counted = std::min<std::size_t>(b.counted_end, b.input.size());
  if (end < counted) {
    b.bytes -= std::min<std::uint64_t>(b.bytes, counted - end);
    b.counted_end = end;
  }
}

void Chain::Run::recount(Batch& b) const {
  const std::size_t n = chain_.size();
  b.counts.assign(n, StageCounts{});
  std::uint64_t prev_out = 0;
  for (const RecordTrace& t : b.trace) {
    const std::uint64_t out_begin = prev_out;
    prev_out = t.out_end;
    if (t.fate == Fate::kFailedBeforeChain) continue;  // no stage saw it
    for (std::size_t i = 0; i < t.end_stage && i < n; ++i) {
      ++b.counts[i].in;
      ++b.counts[i].out;
    }
    // A map that fans out is the last stage of the workers' segment: its out is the lines it left.
    if ((t.fate == Fate::kPassed || t.fate == Fate::kForwarded) && t.end_stage > 0 && t.end_stage <= n &&
        chain_.may_fan_out_[t.end_stage - 1]) {
      // After take_over the forwarded lines are the async job's input (same offsets), no longer
      // the batch's output.
      std::uint64_t lines = 0;
      if (b.job && b.segments.empty() && t.out_end <= b.job->input.size()) {
        const char* p = b.job->input.data();
        lines = static_cast<std::uint64_t>(std::count(p + out_begin, p + t.out_end, '\n'));
      } else {
        lines = b.count_output_lines(out_begin, t.out_end);
      }
      if (lines > 1) b.counts[t.end_stage - 1].out += lines - 1;
    }
    if (t.fate == Fate::kPassed || t.fate == Fate::kForwarded) continue;
    StageCounts& c = b.counts[t.end_stage];
    ++c.in;
    if (t.fate == Fate::kDropped) ++c.dropped;
    if (t.fate == Fate::kFailed) ++c.errors;
  }
}

Chain::Run::Untaken Chain::Run::take_over(Batch& b, std::uint64_t max_failures) {
  Untaken untaken;
  const std::size_t k = chain_.worker_end_;
  if (k == chain_.size()) return untaken;
  if (chain_.speculate_finishing_) {
    const std::uint64_t t0 = now_ns();
    if (b.partial) finishing(*chain_.stages_[k]).merge(*partials_[k], *b.partial);
    if (failure_.empty()) failure_ = finishing(*chain_.stages_[k]).failure(*partials_[k]);
    busy_ns_[k] += now_ns() - t0;
    b.partial.reset();
    return untaken;
  }
  // The forwarded records, as the worker segment left them.
  std::unique_ptr<AsyncJob> job;
  if (chain_.modes_[k] == StageMode::kAsync) job = b.spare_job ? std::move(b.spare_job) : std::make_unique<AsyncJob>();
  std::string_view output = b.output_view(job ? job->own_input : output_);
  std::string_view source = chain_.source_names_[b.source];
  err_marks_.clear();
  err_marks_base_ = err_.size();
  std::uint64_t failures = 0;
  std::size_t keep = b.trace.size();  // records kept: all, unless the budget or a head cuts
  std::uint64_t prev_out = 0;
  for (std::size_t r = 0; r < b.trace.size() && keep == b.trace.size(); ++r) {
    const RecordTrace& t = b.trace[r];
    if (!job && t.failed() && ++failures == max_failures) {
      keep = r + 1;  // the budget is spent at its own failure
      untaken.budget_spent = true;
    }
    if (t.fate == Fate::kForwarded && keep == b.trace.size()) {
      std::string_view text(output.data() + prev_out, t.out_end - prev_out - 1);  // without its '\n'
      std::string_view raw(b.input.data() + t.raw_begin, t.raw_len);
      std::uint64_t offset = b.offset + t.raw_begin;
      // One line per record: a map that fanned out left several (Record::set_outputs). Without
      // such a map a record is one line, and is not scanned (exec's batch mode: every byte).
      std::size_t begin = 0;
      std::uint64_t lines = 0, taken = 0;
      bool cut_here = false;  // the stream ends or the budget is spent at this record
      while (begin <= text.size()) {
        std::size_t nl = chain_.fans_out_ ? text.find('\n', begin) : std::string_view::npos;
        if (nl == std::string_view::npos) nl = text.size();
        if (job) {
          job->ends.push_back(prev_out + nl);
          job->lines.push_back(t.line);
          job->offsets.push_back(offset);
        } else {
          ++lines;
          if (!stopped_ && !cut_here) {
            Record rec = Record::made(text.substr(begin, nl - begin), t.line, offset, false);
            rec.set_seq(b.seq);
            const std::uint64_t errors_before = feed_errors_;
            if (feed(k, rec, raw, source)) ++taken;
            failures += feed_errors_ - errors_before;
            if (failures >= max_failures) {
              cut_here = true;
              untaken.budget_spent = true;
            }
            cut_here |= stopped_;
          }
        }
        begin = nl + 1;
      }
      if (!job) {
        if (err_.size() > (err_marks_.empty() ? err_marks_base_ : err_marks_.back().second))
          err_marks_.push_back({t.line, err_.size()});
        if (cut_here) keep = taken > 0 || untaken.budget_spent ? r + 1 : r;  // (not taken at all: as if never read)
        if (taken == 0 && lines > 0 && keep > r) ++untaken.records;
        untaken.lines += keep > r ? lines - taken : 0;
      }
    }
    prev_out = t.out_end;
  }
  // The records after the cut were never read: their errors and counts go (before the output is
  // handed on: the counts of a map that fanned out are read from it). A cut at the batch's last
  // record ends its bytes there too.
  if (keep < b.trace.size()) rebuild(b, std::vector<std::uint8_t>(keep, 0), keep);
  else if (!job && (stopped_ || untaken.budget_spent) && keep > 0) count_bytes_to(b, keep);
  b.segments.clear();
  b.out_bytes = 0;
  if (job) {
    job->seq = b.seq;
    job->pause = b.pause;
    job->input = output;  // kept: the batch waits for its job
    b.job = std::move(job);
  }
  return untaken;
}

Chain::Run::Cut Chain::Run::complete(AsyncJob& job, std::uint32_t source_index, std::uint64_t max_failures,
                                     const std::vector<std::uint64_t>& worker_error_lines) {
  const std::size_t k = chain_.worker_end_;
  std::string_view source = chain_.source_names_[source_index];
  StageCounts& c = counts_[k];
  c.dropped += job.dropped;
  const std::size_t n = job.size();
  const std::size_t failures = job.failures.size();
  const bool limited = max_failures != UINT64_MAX;
  err_marks_.clear();
  err_marks_base_ = err_.size();
  Cut cut;
  if (limited && max_failures == 0) {  // the budget was spent before this batch: none of it
    cut.cut = true;
    cut.records = n;
    cut.line = 0;
    return cut;
  }
  if (k + 1 == chain_.size() && failures == 0 && out_.empty() && passed_.empty() && !job.out.empty() && !stopped_) {
    // Nothing after the async stage and no failure: the output is written as it came, from the
    // job's buffer (exec's batch mode: the bulk of the bytes), if every line is a record (no blank
    // line, no CR). Not swapped into out_: the stage gets its buffer back once it is written, and
    // the writer holds none (exec's span buffers are megabytes of fresh pages each).
    if (auto lines = job.out_plain_lines ? job.out_plain_lines : plain_lines(job.out)) {
      c.in += n;
      c.out += *lines;
      out_records_ += *lines;
      async_lines_ += *lines;
      async_bytes_ += job.out.size();
      if (job.out.back() != '\n') job.out.push_back('\n');
      passed_ = job.out;
      return cut;
    }
  }
  // The job's records in input order, each a failure (one error) or its output lines through the
  // rest of the chain (a later stage may fail some). Errors are counted with the batch's own
  // (worker_error_lines, before the async stage) by line, and the job ends right after the one
  // that spends max_failures: the rest as if never read (its output consumed, never emitted).
  // Without out_ends (batch mode) the output cannot be told apart by record: it comes after the
  // job's last record.
  const bool per_record = !job.out_ends.empty();
  std::size_t worker_before = 0;  // the batch's own failures on lines before the current record
  std::uint64_t errors = 0;       // the job's failures and the later stages' errors so far
  std::size_t f = 0, out_pos = 0;
  const std::uint64_t last_line = n ? job.lines[n - 1] : 0;  // where output no record owns goes
  auto spent = [&] { return limited && worker_before + errors >= max_failures; };
  auto mark = [&](std::uint64_t line) {
    if (err_.size() > (err_marks_.empty() ? err_marks_base_ : err_marks_.back().second))
      err_marks_.push_back({line, err_.size()});
  };
  // Feeds the output lines in job.out[from, to), record `record`'s (or, without per_record, no
  // record's: then `record` is unused); false once the budget is spent.
  auto feed_lines = [&](std::size_t from, std::size_t to, std::size_t record) {
    std::string_view rest = std::string_view(job.out).substr(from, to - from);
    while (!rest.empty()) {
      std::size_t nl = rest.find('\n');
      std::string_view text = rest.substr(0, nl);
      const std::size_t taken = nl == std::string_view::npos ? rest.size() : nl + 1;
      rest.remove_prefix(taken);
      const std::uint64_t out_line = ++async_lines_, out_offset = async_bytes_;
      async_bytes_ += taken;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank: no record
      if (stopped_) continue;  // after the stream ended: never emitted
      ++c.out;
      // The command's output: unchecked. Whose it is, when the job says (record mode): an error
      // of a later stage names the input record's source, line and offset; else the stage and
      // the output line.
      Record rec = per_record ? Record::made(text, job.lines[record], job.offsets[record], false)
                              : Record::made(text, out_line, out_offset, false);
      rec.set_seq(job.seq);
      const std::uint64_t before = feed_errors_;
      if (!feed(k + 1, rec, text, per_record ? source : chain_.stages_[k]->name())) --c.out;
      errors += feed_errors_ - before;
      mark(per_record ? job.lines[record] : last_line);
      if (spent()) return false;
    }
    return true;
  };
  std::size_t i = 0;
  bool done = false;  // the budget is spent: cut after cut.line
  for (; i < n && !done; ++i) {
    const std::uint64_t line = job.lines[i];
    while (worker_before < worker_error_lines.size() && worker_error_lines[worker_before] < line) {
      ++worker_before;
      if (spent()) {
        cut.line = worker_error_lines[worker_before - 1];
        done = true;
        break;
      }
    }
    if (done) break;  // record i is after the cut
    ++c.in;
    if (f < failures && job.failures[f].index == i) {
      const auto& fl = job.failures[f++];
      ++c.errors;
      ++errors;
      chain_.add_error(err_, source, chain_.stages_[k]->name(), fl.message, job.record(i), line, job.offsets[i], 0);
      mark(line);
    } else if (per_record) {
      const std::size_t end = std::max(out_pos, i < job.out_ends.size() ? job.out_ends[i] : job.out.size());
      feed_lines(out_pos, end, i);
      out_pos = end;
    }
    // The budget is spent, or a stage after exec (head) ended the stream at this record: the
    // records after it are as if never read (their failures before exec are not reported).
    if (spent() || stopped_) {
      cut.line = line;
      done = true;
    }
  }
  if (!done) {
    // The output that is no record's, then the batch's own failures after the job's last record.
    if (!per_record && !job.out.empty() && !feed_lines(0, job.out.size(), 0)) {
      cut.line = last_line;
      done = true;
    }
    while (!done && worker_before < worker_error_lines.size()) {
      ++worker_before;
      if (spent()) {
        cut.line = worker_error_lines[worker_before - 1];
        done = true;
      }
    }
  }
  if (done) {
    cut.cut = true;
    cut.records = n - i;
  }
  return cut;
}

bool Chain::Run::feed(std::size_t from, Record& rec, std::string_view raw, std::string_view source) {
  const std::size_t n = chain_.size();
  bool stop_after = false;  // an ordered stage (stop_stage) took the record as its last
  std::size_t stop_stage = 0;
  rec.set_source(source);
  // Every record here is timed: the writer's segment sees few records (tail's, agg's groups) or
  // records paced by the outside world (exec's), so two clock reads a stage are noise.
  std::uint64_t t = now_ns();
  auto charge = [&](std::size_t i) {
    std::uint64_t after = now_ns();
    busy_ns_[i] += after - t;
    feed_ns_ += after - t;
    t = after;
  };
  for (std::size_t i = from; i < n; ++i) {
    const Stage& stage = *chain_.stages_[i];
    StageCounts& c = counts_[i];
    ++c.in;
    Verdict v = Verdict::kError;
    switch (chain_.modes_[i]) {
      case StageMode::kParallel:
        v = guarded(ws_.scratch, [&] { return parallel(stage).process(rec, ws_.scratch, ws_.states[i].get()); });
        break;
      case StageMode::kOrdered:
        key_.clear();
        v = ordered(stage).key(rec, ws_.scratch, ws_.states[i].get(), key_);
        if (v != Verdict::kError) {
          Admit a = ordered_[i]->admit(key_);
          if (a == Admit::kFail && failure_.empty()) failure_ = ordered_[i]->failure();
          if (a == Admit::kStop || a == Admit::kFail) {
            // As if never read, here and by the stages it passed on the way (the caller takes
            // back what brought it: an emit, a forwarded line).
            for (std::size_t j = from; j <= i; ++j) --counts_[j].in;
            for (std::size_t j = from; j < i; ++j) --counts_[j].out;
            stop_at(i);
            charge(i);
            return false;
          }
          v = a == Admit::kDrop ? Verdict::kDrop : Verdict::kPass;
          if (a == Admit::kKeepLast) {
            stop_after = true;
            stop_stage = i;
          }
        }
        break;
      case StageMode::kFinishing:
        v = finishing(stage).accumulate(rec, ws_.scratch, ws_.states[i].get(), *partials_[i]);
        if (v == Verdict::kPass && failure_.empty()) {
          failure_ = finishing(stage).failure(*partials_[i]);
          if (!failure_.empty()) {  // a memory guard: the stream ends after this record
            stop_after = true;
            stop_stage = i;
          }
        }
        if (v == Verdict::kPass) {
          if (stop_after) stop_at(stop_stage);
          charge(i);
          return true;  // consumed
        }
        break;
      case StageMode::kAsync:
        ws_.scratch.error = "an async stage after a finishing or async stage is not supported yet";
        v = Verdict::kError;
        break;
    }
    charge(i);
    if (v == Verdict::kPass && chain_.modes_[i] == StageMode::kParallel && rec.outputs() > 1) {
      // A map that fanned out (here, after a finishing or async stage): each of its outputs is a
      // record of its own for the stages after it, as on the workers' side.
      const std::string lines(rec.text());  // (the stage's buffer serves its next record)
      std::string_view rest = lines;
      bool taken = false;
      while (!stopped_) {
        const std::size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        ++c.out;
        if (i + 1 == n) {
          write_line(line);
          taken = true;
        } else {
          Record one = Record::made(line, rec.line(), rec.offset(), true);
          one.set_seq(rec.seq());
          if (feed(i + 1, one, raw, source)) taken = true;
          else --c.out;  // not taken: the stream ended before it
        }
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
      }
      if (!taken) {  // none taken: as if never read, here and by the stages it passed
        for (std::size_t j = from; j <= i; ++j) --counts_[j].in;
        for (std::size_t j = from; j < i; ++j) --counts_[j].out;
        return false;
      }
      if (stop_after) stop_at(stop_stage);
      return true;
    }
    if (v == Verdict::kPass) {
      ++c.out;
      continue;
    }
    if (v == Verdict::kDrop) {
      ++c.dropped;
    } else {
      ++c.errors;
      ++feed_errors_;
      chain_.add_error(err_, source, stage.name(), ws_.scratch.error, raw, rec.line(), rec.offset(), 0);
    }
    if (stop_after) stop_at(stop_stage);
    return true;
  }
  write_line(rec.text());
  if (stop_after) stop_at(stop_stage);
  return true;
}

bool Chain::Run::finish(std::string* error, const std::function<bool()>& flush, const FinishContext& context) {
  stats_fields_.assign(chain_.size(), std::string());
  // The record errors --max-errors still allows: the stages after a finishing stage fail records
  // as it emits (`--tail 50 --map .x.y --max-errors 3`): the stream ends right after the last
  // allowed one, as during the run (it was checked once a MiB of output: 7,506 errors for 3).
  const std::uint64_t errors_room =
      context.max_errors == 0 ? UINT64_MAX : (context.max_errors > context.errors ? context.max_errors - context.errors : 0);
  const std::uint64_t errors0 = feed_errors_;
  for (std::size_t k = 0; k < chain_.size(); ++k) {
    // Every finishing stage emits what it holds, also after a head before it ended the stream;
    // not once the output is gone.
    if (!partials_[k] || (stopped_ && stop_stage_ == kEverything)) continue;
    const Stage& stage = *chain_.stages_[k];
    std::uint64_t made = 0;
    std::string text;
    std::uint64_t elsewhere = 0;  // writing, while the stage emits
    const bool last = k + 1 == chain_.size();
    Emit emit([&](std::string_view record, const Origin* origin) {
      if (stopped_ && stop_stage_ > k) return;  // a stage after this one ended the stream
      ++counts_[k].out;
      ++made;
      if (last) {
        // Nothing after the stage: the record is output as it is (what feed() would do, without
        // a copy, a Record and two clock reads for each of a million groups).
        write_line(record);
      } else {
        text.assign(record);
        // An input record kept as it came (tail's) is named by its source and line; a record the
        // stage made (agg's group) by the stage and its position among the stage's records.
        Record rec = origin ? Record::made(text, origin->line, origin->offset, false) : Record::made(text, made, 0, false);
        rec.set_seq(UINT64_MAX);  // after every input record
        if (!feed(k + 1, rec, text, origin ? origin->source : stage.name())) --counts_[k].out;  // not taken: never emitted
        if (feed_errors_ - errors0 >= errors_room && !errors_cut_) {
          errors_cut_ = true;
          stop_at(kEverything);
        }
      }
      if (flush && out_.size() + err_.size() >= kFinishFlushBytes) {
        std::uint64_t w0 = now_ns();
        if (!flush()) stop_at(kEverything);
        elsewhere += now_ns() - w0;
      }
    });
    // The stage's own time: finish() less what the stages after it and the writing took.
    const std::uint64_t t0 = now_ns(), fed0 = feed_ns_;
    FinishContext own = context;
    own.stats_fields = &stats_fields_[k];
    bool ok = finishing(stage).finish(*partials_[k], emit, own, error);
    std::uint64_t spent = now_ns() - t0, other = elsewhere + (feed_ns_ - fed0);
    busy_ns_[k] += spent > other ? spent - other : 0;
    if (!ok) return false;
  }
  return true;
}

}  // namespace ppipe
