// BoundedQueue: a blocking multi-producer multi-consumer FIFO with a capacity and a close().
//
// Batches are ~1 MiB, so a mutex and two condition variables cost nothing measurable here and are
// easy to reason about (and to check with TSan). close() wakes everyone: pop() then drains what is
// left and returns false once empty; push() after close() is refused.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace ppipe {

template <typename T>
class BoundedQueue {
 public:
  // newest_first: pops give the item pushed last (a free list: the buffer used last is still in
  // the cache and mapped; a FIFO would cycle through every one, touching fresh memory).
  explicit BoundedQueue(std::size_t capacity, bool newest_first = false)
      : capacity_(capacity ? capacity : 1), newest_first_(newest_first) {}

  // Blocks while full. Returns false (and leaves `item` untouched) if the queue is closed.
  bool push(T& item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open. Returns false when closed and drained.
  bool pop(T& out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    take(out);
    not_full_.notify_one();
    return true;
  }

  // Never blocks: false when nothing is there.
  bool try_pop(T& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (items_.empty()) return false;
    take(out);
    not_full_.notify_one();
    return true;
  }

  enum class PopResult { kItem, kTimeout, kClosed };
  // Like pop(), but gives up after `timeout`.
  template <typename Rep, typename Period>
  PopResult pop_for(T& out, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); }))
      return PopResult::kTimeout;
    if (items_.empty()) return PopResult::kClosed;
    take(out);
    not_full_.notify_one();
    return PopResult::kItem;
  }

  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

 private:
  void take(T& out) {
    if (newest_first_) {
      out = std::move(items_.back());
      items_.pop_back();
    } else {
      out = std::move(items_.front());
      items_.pop_front();
    }
  }

  const std::size_t capacity_;
  const bool newest_first_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace ppipe
