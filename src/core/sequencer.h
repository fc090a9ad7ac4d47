// Sequencer: turns items that arrive in any order into the order of their sequence numbers.
//
// The writer pushes each finished batch and pops every item that is next in line. What it holds is
// bounded by the token cap (at most --queue-depth batches exist), so no limit is needed here.
#pragma once

#include <cstdint>
#include <map>
#include <utility>

namespace ppipe {

template <typename T>
class Sequencer {
 public:
  explicit Sequencer(std::uint64_t first = 0) : next_(first) {}

  void push(std::uint64_t seq, T item) { waiting_.emplace(seq, std::move(item)); }

  // Moves the next item in sequence into `out`, if it has arrived.
  bool pop(T& out) {
    auto it = waiting_.begin();
    if (it == waiting_.end() || it->first != next_) return false;
    out = std::move(it->second);
    waiting_.erase(it);
    ++next_;
    return true;
  }

  std::size_t waiting() const { return waiting_.size(); }
  std::uint64_t next() const { return next_; }

 private:
  std::uint64_t next_;
  std::map<std::uint64_t, T> waiting_;
};

}  // namespace ppipe
