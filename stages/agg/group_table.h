// The groups of one agg partial: pointers to the groups in a vector (insertion order), found by
// their key text through an open-addressing index (linear probing, at most half full). Compared
// with a node-based std::unordered_map<std::string, ...>, a group costs no hash node, and a
// lookup touches one slot array: each slot holds the group's address and the top of its hash, so
// a mismatch rarely reads the group and a match goes straight to it. Merging or finishing walks
// a vector. The table does not own the groups (agg keeps them in an arena).
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>
#include <string_view>
#include <vector>

namespace ppipe::agg {

// Maps `bytes` of fresh memory, asking for transparent huge pages: on this kind of VM a first
// touch costs a page fault per 4 KiB page, which for the hundreds of MB of a million groups was
// more than the aggregation itself. Throws std::bad_alloc.
inline void* map_huge(std::size_t bytes) {
  void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  ::madvise(m, bytes, MADV_HUGEPAGE);
#endif
  return m;
}

// An allocator for big arrays (a table's slots, the rows a million groups are sorted by):
// arrays of 2 MiB and more are mapped by map_huge, smaller ones come from operator new.
template <class T>
struct HugeAllocator {
  using value_type = T;
  static constexpr std::size_t kHuge = 2u << 20;
  HugeAllocator() = default;
  template <class U>
  HugeAllocator(const HugeAllocator<U>&) {}  // NOLINT: converting, as allocators are
  T* allocate(std::size_t n) {
    if (n * sizeof(T) >= kHuge) return static_cast<T*>(map_huge(n * sizeof(T)));
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) {
    if (n * sizeof(T) >= kHuge) ::munmap(p, n * sizeof(T));
    else ::operator delete(p);
  }
  template <class U>
  bool operator==(const HugeAllocator<U>&) const { return true; }
};

template <class T>
using HugeVector = std::vector<T, HugeAllocator<T>>;

// G needs `std::uint64_t hash` and `std::string_view key() const`.
template <class G>
class GroupTable {
 public:
  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

  // The group with this key (hash = hash_of(key)), or nullptr.
  G* find(std::string_view key, std::uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t mask = slots_.size() - 1;
    const std::uint64_t tag = hash & kTagMask;
    for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s & kTagMask) == tag) {
        G* g = reinterpret_cast<G*>(s & ~kTagMask);
        if (g->hash == hash && g->key() == key) return g;
      }
    }
  }

  // Adds a group whose key is not in the table (g->hash must be set).
  G* insert(G* g) {
    if ((groups_.size() + 1) * 2 > slots_.size()) grow();
    if (reinterpret_cast<std::uintptr_t>(g) & kTagMask) std::abort();  // not a 48-bit user address
    groups_.push_back(g);
    place(g->hash, g);
    return g;
  }

  // Hints that find(.., hash) comes soon (a merge walks a batch's groups: in a big table their
  // slots and groups are cache misses one after another otherwise). prefetch() asks for the
  // slot; prefetch_group(), called later for the same hash, for the group its slot names.
  void prefetch(std::uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }
  void prefetch_group(std::uint64_t hash) const {
    if (slots_.empty()) return;
    const std::uint64_t s = slots_[hash & (slots_.size() - 1)];
    if (s != 0 && (s & kTagMask) == (hash & kTagMask)) __builtin_prefetch(reinterpret_cast<const void*>(s & ~kTagMask));
  }

  // Room for n groups without growing.
  void reserve(std::size_t n) {
    std::size_t want = 16;
    while (want < n * 2) want *= 2;
    groups_.reserve(n);
    if (want > slots_.size()) {
      slots_.assign(want, 0);
      for (G* g : groups_) place(g->hash, g);
    }
  }

  std::size_t size() const { return groups_.size(); }
  bool empty() const { return groups_.empty(); }
  // Its own memory: the slots and the insertion-order index (for --stats).
  std::size_t bytes() const { return slots_.capacity() * sizeof(std::uint64_t) + groups_.capacity() * sizeof(G*); }
  // In insertion order.
  const HugeVector<G*>& groups() const { return groups_; }
  // Its slot array, for a caller done with lookups (agg's finish sorts its rows in that memory:
  // a million groups' rows need no new pages). The table still lists its groups; finds none
  // until it grows again.
  HugeVector<std::uint64_t> take_slots() {
    HugeVector<std::uint64_t> s;
    s.swap(slots_);
    return s;
  }

  // Empty, keeping its slots (a table used again for the next batch does not grow again).
  void clear() {
    groups_.clear();
    std::fill(slots_.begin(), slots_.end(), 0);
  }

 private:
  // A slot holds the group's address (user addresses fit in 48 bits) and, in the top 16 bits,
  // the top of its hash: a mismatch rarely reads the group, a match reads no other array.
  static constexpr std::uint64_t kTagMask = 0xffffull << 48;

  void place(std::uint64_t hash, G* g) {
    const std::uint64_t mask = slots_.size() - 1;
    std::uint64_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = (hash & kTagMask) | reinterpret_cast<std::uintptr_t>(g);
  }
  void grow() {
    std::size_t n = slots_.empty() ? 16 : slots_.size() * 2;
    while (n < (groups_.size() + 1) * 2) n *= 2;  // (after take_slots(), the groups are still there)
    slots_.assign(n, 0);
    // The groups are read in insertion order, which is the order agg's arena gave them out.
    for (G* g : groups_) place(g->hash, g);
  }

  HugeVector<G*> groups_;
  HugeVector<std::uint64_t> slots_;  // 0: empty; else (hash & kTagMask) | the group's address
};

// Memory for groups: a bump allocator over blocks that never move (pointers stay valid until
// reset()). Blocks double from 64 KiB; those of 2 MiB and more are mapped with a hint for
// transparent huge pages, because a table of a million groups touches hundreds of MB for the
// first time, and one fault per 4 KiB page cost more than the aggregation itself.
class GroupArena {
 public:
  GroupArena() = default;
  GroupArena(const GroupArena&) = delete;
  GroupArena& operator=(const GroupArena&) = delete;
  ~GroupArena() {
    for (const Block& b : blocks_) release(b);
  }

  // Blocks and allocations are aligned to kAlign (what the aggregates need; not max_align_t, to
  // keep a million groups 8 bytes smaller each).
  static constexpr std::size_t kAlign = 8;

  void* allocate(std::size_t bytes) {
    bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (static_cast<std::size_t>(end_ - ptr_) < bytes) next_block(bytes);
    void* p = ptr_;
    ptr_ += bytes;
    used_ += bytes;
    return p;
  }

  // The bytes handed out since the last reset() (for --stats: a block's pages are touched as it
  // is used, so this, not the blocks' size, is what the groups hold).
  std::size_t bytes() const { return used_; }

  // Forgets every allocation; keeps the first blocks (up to kKeepBytes) for use again.
  void reset() {
    std::size_t kept = 0, keep = 0;
    for (; keep < blocks_.size(); ++keep) {
      if (keep > 0 && kept + blocks_[keep].size > kKeepBytes) break;
      kept += blocks_[keep].size;
    }
    for (std::size_t i = keep; i < blocks_.size(); ++i) release(blocks_[i]);
    blocks_.resize(keep);
    current_ = 0;
    used_ = 0;
    ptr_ = blocks_.empty() ? nullptr : blocks_[0].data;
    end_ = blocks_.empty() ? nullptr : blocks_[0].data + blocks_[0].size;
  }

 private:
  static constexpr std::size_t kFirst = 64u << 10;
  static constexpr std::size_t kLargest = 64u << 20;
  static constexpr std::size_t kHuge = 2u << 20;
  static constexpr std::size_t kKeepBytes = 8u << 20;
  struct Block {
    char* data;
    std::size_t size;
    bool mapped;
  };

  void next_block(std::size_t bytes) {
    // A block kept by reset() first.
    while (current_ + 1 < blocks_.size()) {
      ++current_;
      ptr_ = blocks_[current_].data;
      end_ = ptr_ + blocks_[current_].size;
      if (static_cast<std::size_t>(end_ - ptr_) >= bytes) return;
    }
    std::size_t size = blocks_.empty() ? kFirst : std::min(blocks_.back().size * 2, kLargest);
    while (size < bytes) size *= 2;
    Block b{nullptr, size, size >= kHuge};
    if (b.mapped) {
      b.data = static_cast<char*>(map_huge(size));
    } else {
      b.data = static_cast<char*>(::operator new(size, std::align_val_t{kAlign}));
    }
    blocks_.push_back(b);
    current_ = blocks_.size() - 1;
    ptr_ = b.data;
    end_ = b.data + size;
  }
  static void release(const Block& b) {
    if (b.mapped) ::munmap(b.data, b.size);
    else ::operator delete(b.data, std::align_val_t{kAlign});
  }

  std::vector<Block> blocks_;
  std::size_t current_ = 0;
  char* ptr_ = nullptr;
  char* end_ = nullptr;
  std::size_t used_ = 0;  // bytes handed out since reset()
};

}  // namespace ppipe::agg
