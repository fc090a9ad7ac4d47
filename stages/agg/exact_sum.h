// Exact sums for the `agg` stage: a superaccumulator that adds doubles, int64, uint64 and exact
// squares of them without any rounding, and rounds only when the result is read.
//
// Method: a sparse fixed-point superaccumulator. The value is an integer multiple of 2^-2176
// (the smallest bit of a product of two doubles is 2^-2148), held as signed 64-bit limbs of 32
// bits each (limb k weighs 2^(32k - 2176)) over only the window of limbs touched so far, so
// typical data costs a few limbs, not the ~550 bytes of a full-range array. A limb has 31 bits of
// headroom, so carries need propagating only every 2^30 additions; we do it every 2^20 (and
// before reading), which costs nothing measurable and keeps the bound far away.
// Why not Shewchuk's expansions (Python's msum)? They are exact too, but their representation
// depends on the order of additions, so two accumulators that saw the same values in different
// orders would serialise differently, and merging costs a re-summation of the partials. The
// fixed-point form is canonical after carry propagation: merge(a, b) is limb-wise addition, and
// the state (and its text) is the same whatever the split and the order. Products x*x are exact
// here too (53x53 -> 106 bits into the limbs), with no underflow, which two-product/FMA cannot
// promise below 2^-969.
//
// Special values follow IEEE addition: any NaN, or both +Inf and -Inf, gives NaN; else any +Inf
// gives +Inf, any -Inf gives -Inf. A finite true sum beyond the double range rounds to +-Inf
// (IEEE round-to-nearest overflow; math.fsum raises instead). Zero: the sum is -0.0 only when
// every addend was -0.0 (as IEEE's running sum gives), else +0.0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppipe::agg {

// A natural number, little-endian 32-bit digits, no trailing zero digits (zero is empty).
struct BigNat {
  std::vector<std::uint32_t> d;

  bool is_zero() const { return d.empty(); }
  std::uint64_t bit_length() const;
  void trim();
  void shift_left(std::uint64_t bits);
  // Shifts right; returns true when a 1 bit was shifted out.
  bool shift_right(std::uint64_t bits);
  void mul_small(std::uint64_t m);
  // floor(this / m), returns the remainder != 0.
  bool div_small(std::uint64_t m);
  static BigNat mul(const BigNat& a, const BigNat& b);
  static int compare(const BigNat& a, const BigNat& b);
  // a -= b; requires a >= b.
  static void sub(BigNat& a, const BigNat& b);
  static void add(BigNat& a, const BigNat& b);
  // Bits [from, from+n) as an integer (n <= 64).
  std::uint64_t bits(std::uint64_t from, unsigned n) const;
  // Any 1 bit below position `pos`.
  bool any_below(std::uint64_t pos) const;
};

// The double nearest to (q + delta) * 2^exp2, ties to even, with subnormals and overflow to Inf;
// delta is in [0, 1) and is nonzero exactly when `sticky`. Exact when q has at least 55 bits
// (or sticky is false): the caller scales q so.
double round_to_double(const BigNat& q, std::int64_t exp2, bool sticky, bool negative);

// The limbs of an ExactSum: a vector with room for kInline limbs inside the object and the heap
// beyond. Sums of values of similar magnitudes need a window of 2 to 4 limbs, so a group's sums
// usually cost no allocation of their own (agg makes a group for every key of every batch).
class LimbVec {
 public:
  static constexpr std::size_t kInline = 4;
  LimbVec() = default;
  LimbVec(const LimbVec& o) { copy_from(o); }
  LimbVec(LimbVec&& o) noexcept { take(o); }
  LimbVec& operator=(const LimbVec& o) {
    if (this != &o) {
      size_ = 0;
      copy_from(o);
    }
    return *this;
  }
  LimbVec& operator=(LimbVec&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~LimbVec() { release(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t* data() { return cap_ ? u_.heap : u_.limbs; }
  const std::int64_t* data() const { return cap_ ? u_.heap : u_.limbs; }
  std::int64_t& operator[](std::size_t i) { return data()[i]; }
  std::int64_t operator[](std::size_t i) const { return data()[i]; }
  std::int64_t* begin() { return data(); }
  std::int64_t* end() { return data() + size_; }
  const std::int64_t* begin() const { return data(); }
  const std::int64_t* end() const { return data() + size_; }
  std::int64_t& front() { return data()[0]; }
  std::int64_t front() const { return data()[0]; }
  std::int64_t& back() { return data()[size_ - 1]; }
  std::int64_t back() const { return data()[size_ - 1]; }

  // Size n; limbs past the old size are 0.
  void resize(std::size_t n) {
    reserve(n);
    for (std::size_t i = size_; i < n; ++i) data()[i] = 0;
    size_ = static_cast<std::uint32_t>(n);
  }
  void push_back(std::int64_t v) {
    reserve(size_ + 1);
    data()[size_++] = v;
  }
  void pop_back() { --size_; }
  // n zero limbs before the first.
  void insert_front(std::size_t n) {
    reserve(size_ + n);
    std::int64_t* d = data();
    for (std::size_t i = size_; i-- > 0;) d[i + n] = d[i];
    for (std::size_t i = 0; i < n; ++i) d[i] = 0;
    size_ += static_cast<std::uint32_t>(n);
  }
  // Drops the first n limbs.
  void erase_front(std::size_t n) {
    std::int64_t* d = data();
    for (std::size_t i = n; i < size_; ++i) d[i - n] = d[i];
    size_ -= static_cast<std::uint32_t>(n);
  }

 private:
  void reserve(std::size_t n) {
    std::size_t cap = cap_ ? cap_ : kInline;
    if (n <= cap) return;
    std::size_t grown = cap * 2 > n ? cap * 2 : n;
    auto* p = new std::int64_t[grown];
    for (std::size_t i = 0; i < size_; ++i) p[i] = data()[i];
    release();
    u_.heap = p;
    cap_ = static_cast<std::uint32_t>(grown);
  }
  void release() {
    if (cap_) delete[] u_.heap;
    cap_ = 0;
  }
  void copy_from(const LimbVec& o) {
    reserve(o.size_);
    for (std::size_t i = 0; i < o.size_; ++i) data()[i] = o.data()[i];
    size_ = o.size_;
  }
  void take(LimbVec& o) {
    size_ = o.size_;
    if (o.cap_) {
      u_.heap = o.u_.heap;
      cap_ = o.cap_;
      o.cap_ = 0;
    } else {
      for (std::size_t i = 0; i < size_; ++i) u_.limbs[i] = o.u_.limbs[i];
    }
    o.size_ = 0;
  }

  // The limbs inline, or on the heap when more than kInline were needed (agg keeps a million
  // groups with two sums each: every byte here is two MB there).
  union {
    std::int64_t limbs[kInline] = {};
    std::int64_t* heap;
  } u_;
  std::uint32_t cap_ = 0;  // of u_.heap; 0: the limbs are inline
  std::uint32_t size_ = 0;
};

class ExactSum {
 public:
  void add(double x);
  void add(std::int64_t x);
  void add(std::uint64_t x);
  // x*x, exactly (for variances).
  void add_square(double x);
  void add_square(std::int64_t x);
  void add_square(std::uint64_t x);

  // `other` may come from any split of the same input: the result is as if one accumulator had
  // added everything.
  void merge(const ExactSum& other);

  // Nothing added yet.
  bool empty() const { return !any_; }
  // Only integers were added (add(int64/uint64), no double, no square of a double).
  bool all_integers() const { return !saw_double_; }
  // True when no NaN or Inf was added.
  bool finite() const { return !nan_ && !pos_inf_ && !neg_inf_; }
  // The correctly rounded double of the true sum (round half to even).
  double to_double() const;
  // The exact sum, when all added values were integers and it fits in int64 / uint64.
  std::optional<std::int64_t> to_int64() const;
  std::optional<std::uint64_t> to_uint64() const;
  // The correctly rounded quotient sum / n (n > 0), rounded once.
  double quotient(std::uint64_t n) const;

  // The finite part exactly: +-mag * 2^exp2 (mag odd unless zero; zero has exp2 0).
  void exact(BigNat* mag, bool* negative, std::int64_t* exp2) const;

  // Compact exact text: "<hex integer>p<exponent>" (the finite part, e.g. "-3p-1" is -1.5, "0p0"),
  // then ";" and flags: a (something added), d (a double was added), z (every addend was -0.0),
  // n (NaN), P (+Inf), M (-Inf). Canonical: equal states give equal texts.
  std::string to_text() const;
  // False on malformed text (the state is then unspecified).
  bool from_text(std::string_view text);

  bool operator==(const ExactSum& o) const { return to_text() == o.to_text(); }

 private:
  bool integer_magnitude(std::uint64_t* magnitude, bool* negative) const;
  // The finite part as +-mag * 2^exp2 when it fits in 96 bits (three limbs: typical sums), with
  // no big-integer work; mag may be even. False: use exact().
  bool small(unsigned __int128* mag, bool* negative, std::int64_t* exp2) const;
  static BigNat& scratch_nat();
  static constexpr int kBias = 2176;        // bit 0 of limb 0 weighs 2^-kBias
  static constexpr int kLimbBits = 32;
  static constexpr std::uint32_t kMaxPending = 1u << 20;

  // Adds +-mag * 2^exp2 (mag < 2^128, exp2 >= -kBias).
  void add_mag(unsigned __int128 mag, int exp2, bool negative);
  // The same for mag < 2^64 (a double's mantissa, an integer): the per-value path.
  void add_mag64(std::uint64_t mag, int exp2, bool negative);
  void ensure(int lo, int hi);  // limbs [lo, hi) are in the window
  void normalize() const;       // carries: every limb in [0, 2^32) but the top, which is 0 or -1
  void note_double(double x);

  // 48 bytes (agg keeps a million groups with two of these each): the counter and the flags share
  // one 32-bit word.
  mutable LimbVec limbs_;
  mutable int lo_ = 0;                    // absolute index of limbs_[0]
  mutable std::uint32_t pending_ : 24 = 0;  // additions since the last normalize() (< kMaxPending)
  std::uint32_t any_ : 1 = false;
  std::uint32_t saw_double_ : 1 = false;
  std::uint32_t all_neg_zero_ : 1 = true;  // every addend so far was -0.0 (vacuous when !any_)
  std::uint32_t nan_ : 1 = false, pos_inf_ : 1 = false, neg_inf_ : 1 = false;
};
static_assert(sizeof(ExactSum) == 48);

// Sample variance sum((x - mean)^2) / (n - 1) from n, S1 = sum(x) and S2 = sum(x*x), all exact:
// (n*S2 - S1^2) / (n*(n-1)), computed exactly in big integers and rounded once. n >= 2.
// NaN when any value was NaN or Inf.
double exact_variance(const ExactSum& s1, const ExactSum& s2, std::uint64_t n);
// The correctly rounded square root of that exact variance (rounded once, not sqrt(var)).
double exact_stddev(const ExactSum& s1, const ExactSum& s2, std::uint64_t n);

}  // namespace ppipe::agg
