#include "src/core/stats.h"

#include <algorithm>

#include <fmt/format.h>

#include "src/util/json_string.h"

namespace ppipe {

void RunStats::add_batch(const Batch& b, bool to_output) { tally(b, to_output, true); }

void RunStats::remove_batch(const Batch& b, bool to_output) { tally(b, to_output, false); }

void RunStats::forget_forwarded(std::uint64_t n, std::size_t n_stages) {
  records_in -= n;
  for (std::size_t i = 0; i < n_stages && i < batch_counts_.size(); ++i) {
    batch_counts_[i].in -= n;
    batch_counts_[i].out -= n;
  }
  update();
}

void RunStats::tally(const Batch& b, bool to_output, bool add) {
  // Unsigned arithmetic: taking back is adding the two's complement.
  auto v = [add](std::uint64_t x) { return add ? x : ~x + 1; };
  records_in += v(b.records);
  batch_counts_.resize(stages.size());
  for (std::size_t i = 0; i < b.counts.size() && i < stages.size(); ++i) {
    const StageCounts& c = b.counts[i];
    StageCounts& s = batch_counts_[i];
    s.in += v(c.in);
    s.out += v(c.out);
    s.dropped += v(c.dropped);
    s.errors += v(c.errors);
  }
  // Records that failed before the first stage (oversized lines) are errors of no stage. An async
  // first stage counts on the writer, when its job comes back: the batch's trace (always kept with
  // an async stage) says which records reached it.
  std::uint64_t reached_first = b.counts.empty() ? 0 : b.counts[0].in;
  if (!stages.empty() && stages[0].mode == StageMode::kAsync)
    reached_first = static_cast<std::uint64_t>(std::count_if(
        b.trace.begin(), b.trace.end(), [](const RecordTrace& t) { return t.fate != Fate::kFailedBeforeChain; }));
  read_errors_ += v(b.records - reached_first);
  if (to_output) batch_out_ += v(b.counts.empty() ? b.records : b.counts.back().out);
  update();
}

void RunStats::set_writer_counts(const std::vector<StageCounts>& counts, std::uint64_t records_out) {
  writer_counts_ = counts;
  writer_out_ = records_out;
  update();
}

void RunStats::update() {
  records_out = batch_out_ + writer_out_;
  dropped = 0;
  errors = read_errors_;
  consumed = emitted = 0;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    StageCounts c;
    for (const auto* part : {&batch_counts_, &writer_counts_}) {
      if (i >= part->size()) continue;
      c.in += (*part)[i].in;
      c.out += (*part)[i].out;
      c.dropped += (*part)[i].dropped;
      c.errors += (*part)[i].errors;
    }
    stages[i].counts = c;
    dropped += c.dropped;
    errors += c.errors;
    if (stages[i].mode == StageMode::kFinishing || stages[i].mode == StageMode::kAsync) {
      consumed += c.in - c.errors - (stages[i].mode == StageMode::kAsync ? c.dropped : 0);
      emitted += c.out;
    }
  }
}

std::string RunStats::to_json() const {
  std::string out = fmt::format(
      "{{\"records_in\":{},\"records_out\":{},\"dropped\":{},\"errors\":{},", records_in, records_out, dropped, errors);
  if (consumed || emitted) fmt::format_to(std::back_inserter(out), "\"consumed\":{},\"emitted\":{},", consumed, emitted);
  fmt::format_to(std::back_inserter(out),
                 "\"bytes_in\":{},\"bytes_out\":{},\"seconds\":{:.3f},\"mb_per_second\":{:.1f},\"records_per_second\":{:.0f},"
                 "\"workers\":{},\"max_rss_kib\":{},\"stopped_by\":",
                 bytes_in, bytes_out, seconds, seconds > 0 ? bytes_in / seconds / 1e6 : 0.0,
                 seconds > 0 ? records_in / seconds : 0.0, workers, max_rss_kib);
  append_json_string(out, stopped_by);
  if (compressed_bytes_in && compressed_bytes_in != bytes_in)
    fmt::format_to(std::back_inserter(out), ",\"compressed_bytes_in\":{}", compressed_bytes_in);
  if (parse_added) out.append(",\"parse_added\":true");
  out.append(",\"stages\":[");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    if (i) out.push_back(',');
    out.append("{\"name\":");
    append_json_string(out, s.name);
    fmt::format_to(std::back_inserter(out), ",\"in\":{},\"out\":{},\"dropped\":{},\"errors\":{}", s.counts.in,
                   s.counts.out, s.counts.dropped, s.counts.errors);
    if (!s.extra.empty()) out.append(",").append(s.extra);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

}  // namespace ppipe
