#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "src/core/bounded_queue.h"

using ppipe::BoundedQueue;

TEST_CASE("queue keeps FIFO order and drains after close", "[queue]") {
  BoundedQueue<int> q(4);
  for (int i = 0; i < 3; ++i) REQUIRE(q.push(i));
  q.close();
  int v = -1;
  int x = 9;
  REQUIRE_FALSE(q.push(x));  // closed: refused
  for (int i = 0; i < 3; ++i) {
    REQUIRE(q.pop(v));
    REQUIRE(v == i);
  }
  REQUIRE_FALSE(q.pop(v));
}

TEST_CASE("a newest-first queue (the free batches) gives back the item pushed last", "[queue]") {
  BoundedQueue<int> q(4, true);
  for (int i = 0; i < 3; ++i) REQUIRE(q.push(i));
  int v = -1;
  REQUIRE(q.try_pop(v));
  REQUIRE(v == 2);
  int x = 7;
  REQUIRE(q.push(x));
  REQUIRE(q.pop(v));
  REQUIRE(v == 7);
  REQUIRE(q.pop_for(v, std::chrono::milliseconds(1)) == BoundedQueue<int>::PopResult::kItem);
  REQUIRE(v == 1);
}

TEST_CASE("queue blocks producers at capacity (backpressure)", "[queue]") {
  BoundedQueue<int> q(2);
  int a = 1, b = 2, c = 3;
  q.push(a);
  q.push(b);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(c);
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE_FALSE(pushed.load());
  int v;
  REQUIRE(q.pop(v));
  producer.join();
  REQUIRE(pushed.load());
  REQUIRE(q.size() == 2);
}

TEST_CASE("queue pop_for times out, then sees close", "[queue]") {
  BoundedQueue<int> q(1);
  int v;
  REQUIRE(q.pop_for(v, std::chrono::milliseconds(10)) == BoundedQueue<int>::PopResult::kTimeout);
  q.close();
  REQUIRE(q.pop_for(v, std::chrono::milliseconds(10)) == BoundedQueue<int>::PopResult::kClosed);
}

TEST_CASE("queue moves every item exactly once between many threads", "[queue]") {
  BoundedQueue<int> q(8);
  constexpr int kProducers = 4, kPer = 5000;
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c)
    consumers.emplace_back([&] {
      int v;
      while (q.pop(v)) {
        sum += v;
        ++count;
      }
    });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPer; ++i) {
        int v = p * kPer + i;
        q.push(v);
      }
    });
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  long n = kProducers * kPer;
  REQUIRE(count == n);
  REQUIRE(sum == n * (n - 1) / 2);
}
