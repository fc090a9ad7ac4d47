// The whole engine (reader, workers, writer) on a file, as main runs it; also the target of the
// TSan build. Output and error stream must not depend on workers, batch size or queue depth.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "src/core/pipeline.h"
#include "stages/registry.h"
#include "tests/unit/run_to_files.h"

using namespace ppipe;

namespace {

std::string temp_path(const char* tag) {
  return std::string("/tmp/ppipe_pipeline_test_") + tag + "_" + std::to_string(getpid());
}


struct Run {
  std::string out, err;
  RunStats stats;
  StopReason stop;
  std::string fatal;
};

Run run(const std::string& input_path, unsigned workers, std::size_t batch, std::size_t depth, bool ordered,
        const char* head = nullptr, const char* agg = nullptr, const char* max_groups = kMaxGroupsDefault,
        const char* max_values = kMaxValuesDefault) {
  std::vector<std::unique_ptr<Stage>> stages;
  std::string e;
  stages.push_back(make_stage("parse", {}, &e));
  if (head) stages.push_back(make_stage("head", {{"--head", head}}, &e));
  if (agg)
    stages.push_back(make_stage(
        "agg", {{"--group-by", ".k"}, {"--agg", agg}, {"--max-groups", max_groups}, {"--max-values", max_values}}, &e));
  REQUIRE(e.empty());
  Chain chain(std::move(stages), {"in.jsonl"}, 1 << 20);
  EngineOptions opt;
  opt.inputs = {input_path};
  opt.workers = workers;
  opt.queue_depth = depth;
  opt.ordered = ordered;
  opt.reader.batch_size = batch;
  opt.reader.max_record_size = 1 << 20;
  StopToken stop;
  test::FileRun r = test::run_to_files(opt, chain, temp_path("run"), stop);
  return Run{std::move(r.out), std::move(r.err), r.result.stats, r.result.stop, r.result.fatal_error};
}

std::string make_input() {
  std::string s;
  for (int i = 0; i < 3000; ++i) {
    if (i % 97 == 13) s += "{\"broken\":" + std::to_string(i) + "\n";
    else if (i % 101 == 7) s += "\n";
    else if (i % 89 == 3) s += "{\"crlf\":" + std::to_string(i) + "}\r\n";
    else s += "{\"i\":" + std::to_string(i) + ",\"s\":\"" + std::string(i % 50, 'x') + "\"}\n";
  }
  return s;
}

}  // namespace

TEST_CASE("pipeline output and errors are identical for any workers, batch size and depth", "[pipeline]") {
  std::string in_path = temp_path("in");
  { std::ofstream(in_path, std::ios::binary) << make_input(); }
  Run ref = run(in_path, 1, 1 << 20, 4, true);
  REQUIRE(ref.stats.records_in == ref.stats.records_out + ref.stats.dropped + ref.stats.errors);
  REQUIRE(ref.stats.errors > 20);
  REQUIRE(ref.stats.records_out > 2800);
  for (unsigned w : {1u, 2u, 3u, 8u}) {
    for (std::size_t batch : {1ul, 100ul, 4096ul}) {
      for (std::size_t depth : {1ul, 2ul, 16ul}) {
        Run r = run(in_path, w, batch, depth, true);
        CAPTURE(w, batch, depth);
        REQUIRE(r.out == ref.out);
        REQUIRE(r.err == ref.err);
        REQUIRE(r.stats.records_in == ref.stats.records_in);
        REQUIRE(r.stats.errors == ref.stats.errors);
      }
    }
  }
  std::remove(in_path.c_str());
}

TEST_CASE("unordered output is the same multiset of lines", "[pipeline]") {
  std::string in_path = temp_path("in2");
  { std::ofstream(in_path, std::ios::binary) << make_input(); }
  Run ref = run(in_path, 1, 1 << 20, 4, true);
  Run r = run(in_path, 3, 512, 8, false);
  auto sorted_lines = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) v.push_back(line);
    std::sort(v.begin(), v.end());
    return v;
  };
  REQUIRE(sorted_lines(r.out) == sorted_lines(ref.out));
  REQUIRE(sorted_lines(r.err) == sorted_lines(ref.err));
  std::remove(in_path.c_str());
}

TEST_CASE("head gives the same prefix and stats for any workers and batch size", "[pipeline]") {
  std::string in_path = temp_path("in3");
  { std::ofstream(in_path, std::ios::binary) << make_input(); }
  Run ref = run(in_path, 1, 1 << 20, 4, true, "500");
  REQUIRE(ref.stop == StopReason::kHead);
  REQUIRE(std::count(ref.out.begin(), ref.out.end(), '\n') == 500);
  for (unsigned w : {2u, 4u}) {
    for (std::size_t batch : {1ul, 333ul, 8192ul}) {
      Run r = run(in_path, w, batch, 8, w == 2, "500");  // head orders even with --unordered
      CAPTURE(w, batch);
      REQUIRE(r.out == ref.out);
      REQUIRE(r.err == ref.err);
      REQUIRE(r.stats.records_in == ref.stats.records_in);
      REQUIRE(r.stats.records_in == r.stats.records_out + r.stats.errors);
    }
  }
  std::remove(in_path.c_str());
}

// agg with many groups: workers fill batch partials from stores the writer hands back, and
// finish makes the objects on as many threads as workers (chunks of 1,024 groups in turn).
// The output must not depend on any of it (and TSan watches the hand-overs).
TEST_CASE("agg over many groups gives the same output for any workers and batch size", "[pipeline]") {
  std::string in_path = temp_path("in4");
  const int kGroups = 9000;
  {
    std::ofstream f(in_path, std::ios::binary);
    for (int i = 0; i < 30000; ++i) {
      int k = (i * 7919) % kGroups;
      f << "{\"k\":" << k << ",\"x\":" << i % 13 << ",\"y\":" << (i % 17) * 0.25 << ",\"i\":" << i << "}\n";
    }
  }
  const char* aggs = "count, sum(.x), avg(.y), max(.y), first(.i)";
  Run ref = run(in_path, 1, 1 << 20, 4, true, nullptr, aggs);
  REQUIRE(ref.err.empty());
  REQUIRE(std::count(ref.out.begin(), ref.out.end(), '\n') == kGroups);
  // Group 0 holds the records i with i * 7919 % 9000 == 0: i = 0, 9000, 18000, 27000.
  REQUIRE(ref.out.substr(0, ref.out.find('\n')) ==
          "{\"k\":0,\"count\":4,\"sum_x\":" + std::to_string(0 + 9000 % 13 + 18000 % 13 + 27000 % 13) +
              ",\"avg_y\":" + [] {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.17g", (0 + (9000 % 17) * 0.25 + (18000 % 17) * 0.25 + (27000 % 17) * 0.25) / 4);
                return std::string(buf);
              }() + ",\"max_y\":" + [] {
                char buf[32];
                double m = 0;
                for (int i : {0, 9000, 18000, 27000}) m = std::max(m, (i % 17) * 0.25);
                std::snprintf(buf, sizeof buf, "%g", m);
                return std::string(buf);
              }() + ",\"first_i\":0}");
  for (unsigned w : {2u, 3u}) {
    for (std::size_t batch : {100ul, 4096ul, 1ul << 20}) {
      Run r = run(in_path, w, batch, 8, batch != 4096, nullptr, aggs);
      CAPTURE(w, batch);
      REQUIRE(r.out == ref.out);
      REQUIRE(r.err.empty());
      REQUIRE(r.stats.records_in == 30000);
    }
  }
  std::remove(in_path.c_str());
}

// --max-groups is checked where groups are added: in each batch's partial on the workers, and
// where the writer merges them. How many get in must not depend on how the input was cut into
// batches or spread over workers: 9,000 groups pass at --max-groups 9000 and fail the run at
// 8999, whatever the workers and batch size (a merge that let one group too many in failed it).
TEST_CASE("agg's --max-groups decides the same for any workers and batch size", "[pipeline]") {
  std::string in_path = temp_path("in6");
  {
    std::ofstream f(in_path, std::ios::binary);
    for (int i = 0; i < 20000; ++i) f << "{\"k\":" << (i * 7919) % 9000 << ",\"x\":" << i << "}\n";
  }
  Run ref = run(in_path, 1, 1 << 20, 4, true, nullptr, "count, sum(.x)");
  REQUIRE(std::count(ref.out.begin(), ref.out.end(), '\n') == 9000);
  for (unsigned w : {1u, 2u, 3u}) {
    for (std::size_t batch : {64ul, 4096ul}) {
      CAPTURE(w, batch);
      Run fits = run(in_path, w, batch, 8, true, nullptr, "count, sum(.x)", "9000");
      REQUIRE(fits.fatal.empty());
      REQUIRE(fits.out == ref.out);
      Run over = run(in_path, w, batch, 8, true, nullptr, "count, sum(.x)", "8999");
      REQUIRE(over.fatal.find("more than 8999 groups") != std::string::npos);
      REQUIRE(over.out.empty());
    }
  }
  std::remove(in_path.c_str());
}

TEST_CASE("agg's --max-values decides the same for any workers and batch size", "[pipeline]") {
  std::string in_path = temp_path("in7");
  // 9,000 groups; per group the distinct values of x % 50 and every x for the median. The values
  // kept, counted here: the distinct (group, x % 50) pairs and the 20,000 medians' values.
  std::set<std::pair<int, int>> distinct;
  {
    std::ofstream f(in_path, std::ios::binary);
    for (int i = 0; i < 20000; ++i) {
      const int k = (i * 7919) % 9000;
      f << "{\"k\":" << k << ",\"x\":" << i << "}\n";
      distinct.emplace(k, i % 50);
    }
  }
  const std::string held = std::to_string(distinct.size() + 20000);
  const std::string one_less = std::to_string(distinct.size() + 20000 - 1);
  const char* aggs = "count_distinct(.x % 50) as d, median(.x) as m";
  Run ref = run(in_path, 1, 1 << 20, 4, true, nullptr, aggs);
  REQUIRE(ref.fatal.empty());
  REQUIRE(std::count(ref.out.begin(), ref.out.end(), '\n') == 9000);
  for (unsigned w : {1u, 2u, 3u}) {
    for (std::size_t batch : {64ul, 4096ul}) {
      CAPTURE(w, batch);
      Run fits = run(in_path, w, batch, 8, true, nullptr, aggs, kMaxGroupsDefault, held.c_str());
      REQUIRE(fits.fatal.empty());
      REQUIRE(fits.out == ref.out);
      Run over = run(in_path, w, batch, 8, true, nullptr, aggs, kMaxGroupsDefault, one_less.c_str());
      REQUIRE(over.fatal.find("keep more than " + one_less + " values") != std::string::npos);
      REQUIRE(over.out.empty());
    }
  }
  std::remove(in_path.c_str());
}

// A worker remembers recent groups of one-string keys (agg's key cache): strings that differ
// only where one is escaped, strings that share a cache slot, and the same strings in later
// batches must still land in their own groups.
TEST_CASE("agg by a string key counts every key apart, escapes and cache slots alike", "[pipeline]") {
  std::string in_path = temp_path("in5");
  // 60 plain keys (enough to share some of the 256 cache slots), and pairs that are equal
  // between the quotes only once escaped: a newline and a backslash-n, quotes.
  std::vector<std::string> keys_json;  // as written in the input (JSON string bodies)
  for (int i = 0; i < 60; ++i) keys_json.push_back("host-" + std::to_string(i));
  keys_json.push_back("a\\nb");    // a, newline, b
  keys_json.push_back("a\\\\nb");  // a, backslash, n, b
  keys_json.push_back("q\\\"");    // q, quote
  keys_json.push_back("q\\\\\\\"");  // q, backslash, quote
  // These two share a cache slot (found by trying numbers with AggState::cache_slot's hash):
  // "k<newline>860" is k\n860 once escaped, the bytes of the other.
  keys_json.push_back("k\\n860");    // k, newline, 8, 6, 0
  keys_json.push_back("k\\\\n860");  // k, backslash, n, 8, 6, 0
  std::vector<int> counts(keys_json.size(), 0);
  {
    std::ofstream f(in_path, std::ios::binary);
    for (int i = 0; i < 20000; ++i) {
      std::size_t k = static_cast<std::size_t>((i * 31 + i / 7) % static_cast<int>(keys_json.size()));
      ++counts[k];
      f << "{\"k\":\"" << keys_json[k] << "\"}\n";
    }
  }
  for (unsigned w : {1u, 2u}) {
    for (std::size_t batch : {64ul, 1ul << 20}) {
      Run r = run(in_path, w, batch, 8, true, nullptr, "count");
      const std::string& out = r.out;
      CAPTURE(w, batch, out.substr(0, 400));
      REQUIRE(r.err.empty());
      REQUIRE(std::count(out.begin(), out.end(), '\n') == static_cast<long>(keys_json.size()));
      for (std::size_t k = 0; k < keys_json.size(); ++k) {
        std::string line = "{\"k\":\"" + keys_json[k] + "\",\"count\":" + std::to_string(counts[k]) + "}\n";
        CAPTURE(line);
        REQUIRE(out.find(line) != std::string::npos);
      }
    }
  }
  std::remove(in_path.c_str());
}

namespace {

// A finishing stage that runs out of memory where the writer calls it: in accumulate (the writer
// accumulates when the stage cannot speculate, as after head) or at the end of the stream.
class OutOfMemoryStage final : public FinishingStage {
 public:
  explicit OutOfMemoryStage(bool in_finish) : in_finish_(in_finish) {}
  std::string_view name() const override { return "oom"; }
  std::unique_ptr<Partial> new_partial() const override { return std::make_unique<Partial>(); }
  Verdict accumulate(Record&, WorkerScratch&, StageState*, Partial&) const override {
    if (!in_finish_) throw std::bad_alloc();
    return Verdict::kPass;
  }
  void merge(Partial&, Partial&) const override {}
  bool finish(Partial&, const Emit& emit, const FinishContext&, std::string*) const override {
    if (in_finish_) throw std::bad_alloc();
    emit("{}");
    return true;
  }

 private:
  bool in_finish_;
};

}  // namespace

TEST_CASE("the writer running out of memory stops the run with a message, not std::terminate", "[pipeline]") {
  std::string in_path = temp_path("in8");
  {
    std::ofstream f(in_path, std::ios::binary);
    for (int i = 0; i < 500; ++i) f << "{\"i\":" << i << "}\n";
  }
  for (bool in_finish : {true, false}) {
    CAPTURE(in_finish);
    std::vector<std::unique_ptr<Stage>> stages;
    std::string e;
    stages.push_back(make_stage("parse", {}, &e));
    stages.push_back(make_stage("head", {{"--head", "400"}}, &e));  // the writer accumulates after head
    REQUIRE(e.empty());
    stages.push_back(std::make_unique<OutOfMemoryStage>(in_finish));
    Chain chain(std::move(stages), {"in.jsonl"}, 1 << 20);
    EngineOptions opt;
    opt.inputs = {in_path};
    opt.workers = 2;
    opt.queue_depth = 4;
    opt.reader.batch_size = 256;
    StopToken stop;
    test::FileRun r = test::run_to_files(opt, chain, temp_path("run8"), stop);
    // (main exits 3 on a fatal error, whatever stopped the reading: here head may have, first.)
    CHECK(r.result.fatal_error.rfind("out of memory in the writer", 0) == 0);
    CHECK(r.out.empty());
  }
  std::remove(in_path.c_str());
}
