// Bump allocator for values computed while evaluating one record.
//
// reset() rewinds to the first block but keeps every block, so after a short warm-up a worker
// evaluates record after record without calling operator new. Blocks never move, so pointers
// handed out stay valid until reset().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace ppipe::expr {

class Arena {
 public:
  explicit Arena(std::size_t first_block = 16 * 1024) : first_block_(first_block) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* allocate(std::size_t bytes, std::size_t align = alignof(std::max_align_t)) {
    std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(ptr_) + align - 1) & ~(align - 1);
    if (ptr_ != nullptr && p + bytes <= reinterpret_cast<std::uintptr_t>(end_)) {
      ptr_ = reinterpret_cast<char*>(p + bytes);
      return reinterpret_cast<void*>(p);
    }
    return allocate_slow(bytes, align);
  }

  template <class T>
  T* alloc_array(std::size_t n) {
    static_assert(std::is_trivially_copyable_v<T>);
    return static_cast<T*>(allocate(n * sizeof(T) + (n == 0 ? 1 : 0), alignof(T)));
  }

  char* alloc_chars(std::size_t n) { return static_cast<char*>(allocate(n == 0 ? 1 : n, 1)); }

  // Rewind. Blocks beyond kKeepBytes (left behind by one huge record) are released, so a
  // single outlier does not pin memory for the rest of the run.
  void reset() {
    if (current_ == 0) {  // the common case: one block was enough
      ptr_ = begin_;
      return;
    }
    reset_slow();
  }

 private:
  static constexpr std::size_t kKeepBytes = 8u << 20;

  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size;
  };

  void reset_slow() {
    std::size_t kept = 0;
    std::size_t keep_blocks = 0;
    for (; keep_blocks < blocks_.size(); ++keep_blocks) {
      kept += blocks_[keep_blocks].size;
      if (kept > kKeepBytes && keep_blocks > 0) break;
    }
    blocks_.resize(keep_blocks);
    current_ = 0;
    ptr_ = begin_;
    end_ = blocks_.empty() ? nullptr : begin_ + blocks_[0].size;
  }

  void* allocate_slow(std::size_t bytes, std::size_t align) {
    // Try the blocks kept from earlier records first.
    while (current_ + 1 < blocks_.size()) {
      ++current_;
      ptr_ = blocks_[current_].data.get();
      end_ = ptr_ + blocks_[current_].size;
      std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(ptr_) + align - 1) & ~(align - 1);
      if (p + bytes <= reinterpret_cast<std::uintptr_t>(end_)) {
        ptr_ = reinterpret_cast<char*>(p + bytes);
        return reinterpret_cast<void*>(p);
      }
    }
    std::size_t size = blocks_.empty() ? first_block_ : blocks_.back().size * 2;
    while (size < bytes + align) size *= 2;
    blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
    current_ = blocks_.size() - 1;
    if (current_ == 0) begin_ = blocks_[0].data.get();
    ptr_ = blocks_.back().data.get();
    end_ = ptr_ + size;
    std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(ptr_) + align - 1) & ~(align - 1);
    ptr_ = reinterpret_cast<char*>(p + bytes);
    return reinterpret_cast<void*>(p);
  }

  std::size_t first_block_;
  std::vector<Block> blocks_;
  std::size_t current_ = 0;
  char* begin_ = nullptr;  // first block
  char* ptr_ = nullptr;
  char* end_ = nullptr;
};

// A growable array in the arena (old storage is abandoned on growth; reclaimed at reset).
template <class T>
class ArenaVec {
 public:
  explicit ArenaVec(Arena& arena, std::uint32_t reserve = 0) : arena_(&arena) {
    if (reserve > 0) grow(reserve);
  }
  void push_back(const T& v) {
    if (size_ == cap_) grow(cap_ < 4 ? 8 : cap_ * 2);
    data_[size_++] = v;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::uint32_t size() const { return size_; }
  T& operator[](std::uint32_t i) { return data_[i]; }
  const T& operator[](std::uint32_t i) const { return data_[i]; }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }

 private:
  void grow(std::uint32_t cap) {
    T* fresh = arena_->alloc_array<T>(cap);
    if (size_ > 0) std::memcpy(static_cast<void*>(fresh), data_, size_ * sizeof(T));
    data_ = fresh;
    cap_ = cap;
  }

  Arena* arena_;
  T* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = 0;
};

}  // namespace ppipe::expr
