#include "src/core/stats.h"

#include <algorithm>

#include <fmt/format.h>

#include "src/util/json_string.h"

namespace ppipe {

void RunStats::add_batch(const Batch& b, bool to_output) { tally(b, to_output, true); }

void RunStats::remove_batch(const Batch& b, bool to_output) { tally(b, to_output, false); }

void RunStats::forget_forwarded(std::uint64_t n, std::uint64_t lines, std::size_t n_stages) {
  records_in -= n;
  for (std::size_t i = 0; i < n_stages && i < batch_counts_.size(); ++i) {
    batch_counts_[i].in -= n;
    batch_counts_[i].out -= i + 1 == n_stages ? lines : n;  // only the last can fan out
  }
  update();
}

void RunStats::tally(const Batch& b, bool to_output, bool add) {
  // Unsigned arithmetic: taking back is adding the two's complement.
  auto v = [add](std::uint64_t x) { return add ? x : ~x + 1; };
  records_in += v(b.records);
  bytes_in += v(b.bytes);
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

void RunStats::add_worker_time(const Batch& b) {
  engine.workers_busy_ns += b.busy_ns;
  for (std::size_t i = 0; i < b.sampled_ns.size() && i < stages.size(); ++i) stages[i].sampled_ns += b.sampled_ns[i];
}

double RunStats::busy_seconds(std::size_t stage) const {
  std::uint64_t sampled = 0;
  for (const auto& s : stages) sampled += s.sampled_ns;
  double on_workers = 0;
  if (sampled > 0)
    on_workers = static_cast<double>(engine.workers_busy_ns) * static_cast<double>(stages[stage].sampled_ns) /
                 static_cast<double>(sampled);
  else if (stage == 0)
    on_workers = static_cast<double>(engine.workers_busy_ns);  // no record was timed (only oversized ones)
  return (on_workers + static_cast<double>(stages[stage].writer_ns)) / 1e9;
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
    } else if (c.out + c.dropped + c.errors > c.in) {
      // a map with a generator: the records beyond one per input are emitted
      emitted += c.out + c.dropped + c.errors - c.in;
    }
  }
}

namespace {

double seconds_of(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

void append_stage_counts(std::string& out, const RunStats& r, std::size_t i) {
  const StageStats& s = r.stages[i];
  out.append("{\"name\":");
  append_json_string(out, s.name);
  fmt::format_to(std::back_inserter(out), ",\"in\":{},\"out\":{},\"dropped\":{},\"errors\":{},\"busy_seconds\":{:.3f}",
                 s.counts.in, s.counts.out, s.counts.dropped, s.counts.errors, r.busy_seconds(i));
}

}  // namespace

std::string bottleneck(const RunStats& before, const RunStats& now) {
  const double wall = now.seconds - before.seconds;
  if (wall <= 0) return "";
  const bool from_start = before.stages.size() != now.stages.size();  // before: nothing yet
  const EngineTimes &a = before.engine, &b = now.engine;
  std::string best;
  double best_use = 0;
  auto consider = [&](std::string_view name, double use) {
    if (use > best_use) {
      best_use = use;
      best = name;
    }
  };
  consider("input", seconds_of(b.reader_ns - a.reader_ns) / wall);
  // The workers: the pool's utilization, named by the stage that took most of it.
  // The writer thread: its stages and its writing, named by whichever took most.
  double pool = 0, pool_top = 0, writer = seconds_of(b.write_ns - a.write_ns), writer_top = writer;
  std::string pool_name, writer_name = "output";
  for (std::size_t i = 0; i < now.stages.size(); ++i) {
    const StageStats& s = now.stages[i];
    double on_writer = seconds_of(s.writer_ns - (from_start ? 0 : before.stages[i].writer_ns));
    double on_workers = now.busy_seconds(i) - (from_start ? 0 : before.busy_seconds(i)) - on_writer;
    pool += on_workers;
    if (on_workers > pool_top) {
      pool_top = on_workers;
      pool_name = s.name;
    }
    if (s.mode == StageMode::kAsync) {
      // Its jobs run side by side: their time out over the most that were ever out at once.
      consider(s.name, on_writer / wall / static_cast<double>(std::max<std::uint64_t>(1, b.async_max_in_flight)));
      continue;
    }
    writer += on_writer;
    if (on_writer > writer_top) {
      writer_top = on_writer;
      writer_name = s.name;
    }
  }
  if (!pool_name.empty()) consider(pool_name, pool / wall / std::max(1u, now.workers));
  consider(writer_name, writer / wall);
  return best;
}

std::string interval_json(const RunStats& before, const RunStats& now, const QueueState& queue) {
  const double dt = now.seconds - before.seconds;
  auto rate = [dt](std::uint64_t from, std::uint64_t to) { return dt > 0 ? static_cast<double>(to - from) / dt : 0.0; };
  std::string out = fmt::format(
      "{{\"ppipe\":\"stats\",\"seconds\":{:.3f},\"records_in\":{},\"records_out\":{},\"dropped\":{},\"errors\":{},"
      "\"bytes_in\":{},\"bytes_read\":{},\"bytes_out\":{},\"interval_seconds\":{:.3f},\"records_per_second\":{:.0f},"
      "\"mb_per_second\":{:.1f},\"mb_out_per_second\":{:.1f},\"queue\":{{\"depth\":{},\"in_use\":{},\"to_workers\":{}}},"
      "\"bottleneck\":",
      now.seconds, now.records_in, now.records_out, now.dropped, now.errors, now.bytes_in, now.bytes_read,
      now.bytes_out, dt, rate(before.records_in, now.records_in), rate(before.bytes_in, now.bytes_in) / 1e6,
      rate(before.bytes_out, now.bytes_out) / 1e6, queue.depth, queue.in_use, queue.to_workers);
  append_json_string(out, bottleneck(before, now));
  out.append(",\"stages\":[");
  for (std::size_t i = 0; i < now.stages.size(); ++i) {
    if (i) out.push_back(',');
    append_stage_counts(out, now, i);
    out.push_back('}');
  }
  out.append("]}");
  return out;
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
  if (compressed_bytes_in && compressed_bytes_in != bytes_read)
    fmt::format_to(std::back_inserter(out), ",\"compressed_bytes_in\":{}", compressed_bytes_in);
  if (parse_added) out.append(",\"parse_added\":true");
  fmt::format_to(std::back_inserter(out), ",\"bytes_read\":{},\"bottleneck\":", bytes_read);
  append_json_string(out, bottleneck(RunStats{}, *this));
  out.append(",\"stages\":[");
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    if (i) out.push_back(',');
    append_stage_counts(out, *this, i);
    if (!s.extra.empty()) out.append(",").append(s.extra);
    out.push_back('}');
  }
  const EngineTimes& e = engine;
  fmt::format_to(std::back_inserter(out),
                 "],\"engine\":{{\"reader_seconds\":{:.3f},\"reader_input_seconds\":{:.3f},\"reader_wait_seconds\":{:.3f},"
                 "\"queue_full_waits\":{},\"workers_busy_seconds\":{:.3f},\"workers_idle_seconds\":{:.3f},"
                 "\"writer_wait_seconds\":{:.3f},\"write_seconds\":{:.3f},\"queue_depth\":{}}}}}",
                 seconds_of(e.reader_ns), seconds_of(e.reader_input_ns), seconds_of(e.reader_wait_ns),
                 e.queue_full_waits, seconds_of(e.workers_busy_ns), seconds_of(e.workers_idle_ns),
                 seconds_of(e.writer_wait_ns), seconds_of(e.write_ns), queue_depth);
  return out;
}

}  // namespace ppipe
