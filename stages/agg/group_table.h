// The groups of one agg partial: the groups in a vector (insertion order), found by their key text
// through an open-addressing index (linear probing, at most half full). Compared with a node-based
// std::unordered_map<std::string, ...>, a group costs no hash node, a lookup touches one slot array
// (each slot holds the top half of the hash, so a mismatch rarely reads the group), and merging
// or finishing walks a vector.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace ppipe::agg {

// G needs `std::uint64_t hash` and `std::string key` (or anything comparable to a string_view).
template <class G>
class GroupTable {
 public:
  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

  // The group with this key (hash = hash_of(key)), or nullptr.
  G* find(std::string_view key, std::uint64_t hash) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t mask = slots_.size() - 1;
    const std::uint32_t tag = static_cast<std::uint32_t>(hash >> 32);
    for (std::uint64_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if (static_cast<std::uint32_t>(s >> 32) == tag) {
        G* g = groups_[static_cast<std::uint32_t>(s) - 1].get();
        if (g->hash == hash && std::string_view(g->key) == key) return g;
      }
    }
  }

  // Adds a group whose key is not in the table (g->hash must be set).
  G* insert(std::unique_ptr<G> g) {
    if ((groups_.size() + 1) * 2 > slots_.size()) grow();
    G* raw = g.get();
    hashes_.push_back(raw->hash);
    groups_.push_back(std::move(g));
    place(raw->hash, static_cast<std::uint32_t>(groups_.size()));
    return raw;
  }

  // A hint that find(.., hash) comes soon (a merge walks a batch's groups: their slots in a
  // big table are cache misses one after another otherwise).
  void prefetch(std::uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }

  // Room for n groups without growing.
  void reserve(std::size_t n) {
    std::size_t want = 16;
    while (want < n * 2) want *= 2;
    groups_.reserve(n);
    hashes_.reserve(n);
    if (want > slots_.size()) {
      slots_.assign(want, 0);
      for (std::uint32_t k = 0; k < hashes_.size(); ++k) place(hashes_[k], k + 1);
    }
  }

  std::size_t size() const { return groups_.size(); }
  bool empty() const { return groups_.empty(); }
  // In insertion order. Moving groups out leaves the table to be cleared.
  std::vector<std::unique_ptr<G>>& groups() { return groups_; }
  const std::vector<std::unique_ptr<G>>& groups() const { return groups_; }
  void clear() {
    groups_.clear();
    hashes_.clear();
    slots_.clear();
  }

 private:
  void place(std::uint64_t hash, std::uint32_t index1) {
    const std::uint64_t mask = slots_.size() - 1;
    std::uint64_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = (hash >> 32 << 32) | index1;
  }
  void grow() {
    std::size_t n = slots_.empty() ? 16 : slots_.size() * 2;
    slots_.assign(n, 0);
    for (std::uint32_t k = 0; k < hashes_.size(); ++k) place(hashes_[k], k + 1);
  }

  std::vector<std::unique_ptr<G>> groups_;
  std::vector<std::uint64_t> hashes_;  // groups_[k]->hash, so that growing reads no group
  std::vector<std::uint64_t> slots_;  // 0: empty; else (hash >> 32) << 32 | (index into groups_ + 1)
};

}  // namespace ppipe::agg
