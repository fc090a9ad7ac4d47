#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "src/core/sequencer.h"

TEST_CASE("sequencer releases items strictly in sequence order", "[sequencer]") {
  ppipe::Sequencer<int> s;
  int v;
  s.push(2, 20);
  s.push(1, 10);
  REQUIRE_FALSE(s.pop(v));  // 0 has not arrived
  s.push(0, 0);
  std::vector<int> got;
  while (s.pop(v)) got.push_back(v);
  REQUIRE(got == std::vector<int>{0, 10, 20});
  REQUIRE(s.waiting() == 0);
  REQUIRE(s.next() == 3);
}

TEST_CASE("sequencer output is independent of arrival order", "[sequencer]") {
  std::vector<std::uint64_t> order(1000);
  for (std::uint64_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    ppipe::Sequencer<std::uint64_t> s;
    std::vector<std::uint64_t> got;
    std::uint64_t v;
    for (auto seq : order) {
      s.push(seq, seq * 3);
      while (s.pop(v)) got.push_back(v);
    }
    REQUIRE(got.size() == order.size());
    for (std::uint64_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == i * 3);
  }
}
