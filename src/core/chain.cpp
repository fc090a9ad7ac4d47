#include "src/core/chain.h"

#include <cstring>

#include <fmt/format.h>

#include "src/io/error_record.h"
#include "src/util/text_util.h"

namespace ppipe {

namespace {

// Blank lines (empty or only spaces, tabs and CRs) are skipped, not records.
bool is_blank(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
  return true;
}

constexpr std::size_t kKeepOfOversized = 4096;
// RecordTrace::failed values.
constexpr std::uint8_t kFailedInStage = 1;
constexpr std::uint8_t kFailedBeforeChain = 2;

}  // namespace

Chain::Chain(std::vector<std::unique_ptr<Stage>> stages, std::vector<std::string> source_names,
             std::uint64_t max_record_size)
    : stages_(std::move(stages)), source_names_(std::move(source_names)), max_record_size_(max_record_size) {
  for (auto& s : stages_) {
    auto* rs = dynamic_cast<const RecordStage*>(s.get());
    auto* os = dynamic_cast<OrderedStage*>(s.get());
    record_stages_.push_back(rs);
    ordered_stages_.push_back(os);
    if (os) has_ordered_ = true;
  }
  tracing_ = has_ordered_;
}

std::unique_ptr<Chain::WorkerState> Chain::make_worker_state() const {
  auto ws = std::make_unique<WorkerState>();
  for (auto* rs : record_stages_) ws->states.push_back(rs ? rs->make_state() : nullptr);
  return ws;
}

void Chain::add_error(Batch& b, std::string_view stage, std::string_view message, std::string_view text,
                      std::uint64_t line, std::uint64_t offset, std::uint64_t full_size) const {
  ErrorInfo e;
  e.source = source_names_[b.source];
  e.line = line;
  e.offset = offset;
  e.stage = stage;
  e.message = message;
  e.record = text;
  e.record_size = full_size;
  append_error_record(b.err, e);
}

// A record longer than --max-record-size, whether the reader cut it short (an oversized batch) or
// the worker found it inside a batch: the error carries its first bytes, up to a UTF-8 boundary.
void Chain::add_oversized_error(Batch& b, std::string_view text, std::uint64_t size, std::uint64_t line,
                                std::uint64_t offset) const {
  std::string message =
      fmt::format("record of {} bytes is longer than --max-record-size ({} bytes)", size, max_record_size_);
  std::string_view head = text.substr(0, kKeepOfOversized);
  add_error(b, "read", message, head.substr(0, utf8_safe_prefix(head)), line, offset, size);
}

void Chain::run_record(Batch& b, WorkerState& ws, std::string_view text, std::uint64_t line,
                       std::uint64_t offset) const {
  ++b.records;
  const std::size_t n = stages_.size();
  std::size_t end_stage = n;
  std::uint8_t failed = 0;
  if (text.size() > max_record_size_) {
    add_oversized_error(b, text, text.size(), line, offset);
    end_stage = 0;
    failed = kFailedBeforeChain;
  } else {
    RecordCtx rec;
    rec.text = text;
    rec.line = line;
    rec.offset = offset;
    for (std::size_t i = 0; i < n; ++i) {
      StageCounts& c = b.counts[i];
      ++c.in;
      const RecordStage* rs = record_stages_[i];
      if (!rs) {  // ordered stage: decided later by admit()
        ++c.out;
        continue;
      }
      Verdict v = rs->process(rec, ws.scratch, ws.states[i].get());
      if (v == Verdict::kPass) {
        ++c.out;
        continue;
      }
      end_stage = i;
      if (v == Verdict::kDrop) {
        ++c.dropped;
      } else {
        ++c.errors;
        failed = kFailedInStage;
        add_error(b, rs->name(), ws.scratch.error, text, line, offset, 0);
      }
      break;
    }
    if (end_stage == n && rec.replaced) {
      b.emit_copy(rec.text);
    } else if (end_stage == n) {
      std::size_t begin = static_cast<std::size_t>(text.data() - b.input.data());
      std::size_t after = begin + text.size();
      if (after < b.input.size() && b.input.data()[after] == '\n')
        b.emit_input(begin, text.size() + 1);
      else
        b.emit_copy(text);  // its line ended in CRLF, or was the last one, without '\n'
    }
  }
  if (tracing_) {
    b.trace.push_back(RecordTrace{line, static_cast<std::uint32_t>(b.out_bytes),
                                  static_cast<std::uint32_t>(b.err.size()), static_cast<std::uint16_t>(end_stage), failed});
  }
}

void Chain::process(Batch& b, WorkerState& ws) const {
  b.reset_results(stages_.size());
  const char* data = b.input.data();
  if (b.oversized) {
    ++b.records;
    add_oversized_error(b, std::string_view(data, b.input.size()), b.oversized_size, b.first_line, b.offset);
    if (tracing_)
      b.trace.push_back(
          RecordTrace{b.first_line, 0, static_cast<std::uint32_t>(b.err.size()), 0, kFailedBeforeChain});
    return;
  }
  const char* p = data;
  const char* end = data + b.input.size();
  std::uint64_t line = b.first_line;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    std::size_t len = static_cast<std::size_t>(line_end - p);
    if (len && p[len - 1] == '\r') --len;
    if (!is_blank(p, len))
      run_record(b, ws, std::string_view(p, len), line, b.offset + static_cast<std::uint64_t>(p - data));
    ++line;
    p = line_end + 1;
  }
}

void Chain::recount(Batch& b, std::size_t keep) const {
  const std::size_t n = stages_.size();
  b.counts.assign(n, StageCounts{});
  for (std::size_t r = 0; r < keep; ++r) {
    const RecordTrace& t = b.trace[r];
    if (t.failed == kFailedBeforeChain) continue;  // no stage saw it
    for (std::size_t i = 0; i < n && i <= t.end_stage; ++i) {
      StageCounts& c = b.counts[i];
      ++c.in;
      if (i < t.end_stage) ++c.out;
      else if (t.failed) ++c.errors;
      else ++c.dropped;
    }
  }
  b.records = keep;
}

bool Chain::admit(Batch& b) {
  std::size_t keep = b.trace.size();
  bool stop = false;
  for (std::size_t k = 0; k < stages_.size(); ++k) {
    OrderedStage* os = ordered_stages_[k];
    if (!os) continue;
    std::uint64_t arriving = 0;
    for (std::size_t r = 0; r < keep; ++r) arriving += b.trace[r].end_stage > k;
    std::uint64_t admitted = os->admit(arriving);
    if (!os->satisfied()) continue;
    stop = true;
    if (admitted == 0) {
      keep = 0;
      continue;
    }
    // Cut right after the admitted-th record that reached this stage.
    std::uint64_t seen = 0;
    for (std::size_t r = 0; r < keep; ++r) {
      if (b.trace[r].end_stage > k && ++seen == admitted) {
        keep = r + 1;
        break;
      }
    }
  }
  cut(b, keep);
  return stop;
}

bool Chain::cut_after_errors(Batch& b, std::uint64_t n) {
  std::uint64_t seen = 0;
  for (std::size_t r = 0; r < b.trace.size(); ++r) {
    if (b.trace[r].failed && ++seen == n) {
      cut(b, r + 1);
      return true;
    }
  }
  return false;
}

void Chain::cut(Batch& b, std::size_t keep) const {
  if (keep >= b.trace.size()) return;
  b.truncate_output(keep ? b.trace[keep - 1].out_end : 0);
  b.err.resize(keep ? b.trace[keep - 1].err_end : 0);
  recount(b, keep);
}

}  // namespace ppipe
