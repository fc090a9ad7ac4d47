// The --stats figures that are computed rather than counted: busy seconds per stage, the
// bottleneck, the --stats-interval line's rates.
#include <catch2/catch.hpp>

#include <string>

#include "src/core/stats.h"

using namespace ppipe;

namespace {

RunStats three_stages() {
  RunStats s;
  s.workers = 2;
  s.stages.push_back({"parse", StageMode::kParallel, {}, {}});
  s.stages.push_back({"filter", StageMode::kParallel, {}, {}});
  s.stages.push_back({"tail", StageMode::kFinishing, {}, {}});
  s.worker_stages = 2;
  return s;
}

}  // namespace

TEST_CASE("busy seconds: the workers' time split by the timed records, plus the writer's", "[stats]") {
  RunStats s = three_stages();
  Batch b;
  b.reset_results(3);
  b.busy_ns = 4'000'000'000;  // 4 s on the workers
  b.sampled_ns = {300, 100, 0};
  s.add_worker_time(b);
  s.stages[2].writer_ns = 500'000'000;
  CHECK(s.busy_seconds(0) == Approx(3.0));
  CHECK(s.busy_seconds(1) == Approx(1.0));
  CHECK(s.busy_seconds(2) == Approx(0.5));
  // A second batch adds to both.
  s.add_worker_time(b);
  CHECK(s.busy_seconds(0) == Approx(6.0));
}

TEST_CASE("the bottleneck is the part of the engine with the highest utilization", "[stats]") {
  RunStats before = three_stages(), now = three_stages();
  now.seconds = 10;
  Batch b;
  b.reset_results(3);
  b.sampled_ns = {900, 100, 0};

  SECTION("workers busy, named by their busiest stage") {
    b.busy_ns = 18'000'000'000;  // 2 workers, 90% each
    now.add_worker_time(b);
    now.engine.reader_ns = 3'000'000'000;
    now.engine.write_ns = 1'000'000'000;
    CHECK(bottleneck(before, now) == "parse");
    CHECK(bottleneck(RunStats{}, now) == "parse");  // from the start: no stages before
  }
  SECTION("the reader, waiting on its input") {
    b.busy_ns = 2'000'000'000;
    now.add_worker_time(b);
    now.engine.reader_ns = 9'500'000'000;
    CHECK(bottleneck(before, now) == "input");
  }
  SECTION("the writer inside write(): the output") {
    now.engine.write_ns = 8'000'000'000;
    now.stages[2].writer_ns = 1'000'000'000;
    CHECK(bottleneck(before, now) == "output");
  }
  SECTION("the writer's segment") {
    now.engine.write_ns = 1'000'000'000;
    now.stages[2].writer_ns = 7'000'000'000;
    CHECK(bottleneck(before, now) == "tail");
  }
  SECTION("only what happened between the two snapshots counts") {
    b.busy_ns = 18'000'000'000;
    before.seconds = 5;
    before.add_worker_time(b);  // all the workers' time was before
    now.add_worker_time(b);
    now.engine.reader_ns = 4'000'000'000;
    CHECK(bottleneck(before, now) == "input");
  }
  SECTION("nothing measured") { CHECK(bottleneck(before, now).empty()); }
}

TEST_CASE("an interval line: totals, rates over the interval, the queue", "[stats]") {
  RunStats before = three_stages(), now = three_stages();
  before.seconds = 1;
  before.records_in = 100;
  before.bytes_in = 1'000'000;
  now.seconds = 3;
  now.records_in = 300;
  now.records_out = 250;
  now.dropped = 50;
  now.bytes_in = 5'000'000;
  now.bytes_read = 6'000'000;
  now.bytes_out = 2'000'000;
  QueueState q{8, 5, 2};
  std::string line = interval_json(before, now, q);
  CHECK(line.rfind("{\"ppipe\":\"stats\",\"seconds\":3.000,\"records_in\":300,\"records_out\":250,\"dropped\":50,", 0) == 0);
  CHECK(line.find("\"bytes_in\":5000000,\"bytes_read\":6000000,\"bytes_out\":2000000,") != std::string::npos);
  CHECK(line.find("\"interval_seconds\":2.000,\"records_per_second\":100,\"mb_per_second\":2.0,") != std::string::npos);
  CHECK(line.find("\"queue\":{\"depth\":8,\"in_use\":5,\"to_workers\":2}") != std::string::npos);
  CHECK(line.find("{\"name\":\"filter\",\"in\":0,") != std::string::npos);
  CHECK(line.back() == '}');
}

TEST_CASE("the final line: bytes of the records read, busy seconds per stage, the engine", "[stats]") {
  RunStats s = three_stages();
  Batch b;
  b.reset_results(3);
  b.records = 2;
  b.bytes = 40;
  b.counts[0] = {2, 2, 0, 0};
  b.counts[1] = {2, 1, 1, 0};
  b.counts[2] = {1, 0, 0, 0};
  s.add_batch(b, false);
  s.bytes_read = 4096;
  s.engine.queue_full_waits = 3;
  s.queue_depth = 8;
  std::string j = s.to_json();
  CHECK(j.find("\"bytes_in\":40,") != std::string::npos);
  CHECK(j.find("\"bytes_read\":4096,") != std::string::npos);
  CHECK(j.find("\"busy_seconds\":0.000}") != std::string::npos);
  CHECK(j.find("\"queue_full_waits\":3,") != std::string::npos);
  CHECK(j.find("\"queue_depth\":8}}") != std::string::npos);
  s.remove_batch(b, false);
  CHECK(s.bytes_in == 0);
}
