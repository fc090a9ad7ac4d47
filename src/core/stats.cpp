#include "src/core/stats.h"

#include <fmt/format.h>

#include "src/util/json_string.h"

namespace ppipe {

void RunStats::add_batch(const Batch& b) {
  records_in += b.records;
  std::uint64_t dropped_here = 0, errors_here = 0;
  for (std::size_t i = 0; i < b.counts.size() && i < stages.size(); ++i) {
    const StageCounts& c = b.counts[i];
    StageCounts& s = stages[i].counts;
    s.in += c.in;
    s.out += c.out;
    s.dropped += c.dropped;
    s.errors += c.errors;
    dropped_here += c.dropped;
    errors_here += c.errors;
  }
  // Records that failed before the first stage (oversized lines) are errors of no stage.
  std::uint64_t reached_first = b.counts.empty() ? 0 : b.counts[0].in;
  std::uint64_t passed = b.counts.empty() ? b.records : b.counts.back().out;
  errors_here += b.records - reached_first;
  dropped += dropped_here;
  errors += errors_here;
  records_out += passed;
}

std::string RunStats::to_json() const {
  std::string out = fmt::format(
      "{{\"records_in\":{},\"records_out\":{},\"dropped\":{},\"errors\":{},\"bytes_in\":{},"
      "\"bytes_out\":{},\"seconds\":{:.3f},\"mb_per_second\":{:.1f},\"records_per_second\":{:.0f},"
      "\"workers\":{},\"max_rss_kib\":{},\"stopped_by\":",
      records_in, records_out, dropped, errors, bytes_in, bytes_out, seconds,
      seconds > 0 ? bytes_in / seconds / 1e6 : 0.0, seconds > 0 ? records_in / seconds : 0.0, workers, max_rss_kib);
  append_json_string(out, stopped_by);
  if (parse_added) out.append(",\"parse_added\":true");
  out.append(",\"stages\":[");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    if (i) out.push_back(',');
    out.append("{\"name\":");
    append_json_string(out, s.name);
    fmt::format_to(std::back_inserter(out), ",\"in\":{},\"out\":{},\"dropped\":{},\"errors\":{}}}", s.counts.in,
                   s.counts.out, s.counts.dropped, s.counts.errors);
  }
  out.append("]}");
  return out;
}

}  // namespace ppipe
