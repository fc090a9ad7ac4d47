#include "stages/agg/exact_sum.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace ppipe::agg {

// --- BigNat

std::uint64_t BigNat::bit_length() const {
  if (d.empty()) return 0;
  return 32 * (d.size() - 1) + (32 - static_cast<unsigned>(__builtin_clz(d.back())));
}

void BigNat::trim() {
  while (!d.empty() && d.back() == 0) d.pop_back();
}

void BigNat::shift_left(std::uint64_t bits) {
  if (d.empty() || bits == 0) return;
  std::size_t digits = bits / 32;
  unsigned b = bits % 32;
  if (b != 0) {
    std::uint32_t carry = 0;
    for (auto& x : d) {
      std::uint32_t nx = (x << b) | carry;
      carry = x >> (32 - b);
      x = nx;
    }
    if (carry) d.push_back(carry);
  }
  d.insert(d.begin(), digits, 0u);
}

bool BigNat::shift_right(std::uint64_t bits) {
  if (d.empty() || bits == 0) return false;
  bool lost = any_below(bits);
  std::size_t digits = bits / 32;
  unsigned b = bits % 32;
  if (digits >= d.size()) {
    d.clear();
    return lost;
  }
  d.erase(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(digits));
  if (b != 0) {
    for (std::size_t i = 0; i < d.size(); ++i) {
      std::uint32_t hi = i + 1 < d.size() ? d[i + 1] : 0;
      d[i] = (d[i] >> b) | (hi << (32 - b));
    }
  }
  trim();
  return lost;
}

void BigNat::mul_small(std::uint64_t m) {
  if (m == 0) {
    d.clear();
    return;
  }
  BigNat b;
  b.d = {static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m >> 32)};
  b.trim();
  *this = mul(*this, b);
}

bool BigNat::div_small(std::uint64_t m) {
  unsigned __int128 r = 0;
  for (std::size_t i = d.size(); i-- > 0;) {
    unsigned __int128 cur = (r << 32) | d[i];
    d[i] = static_cast<std::uint32_t>(cur / m);
    r = cur % m;
  }
  trim();
  return r != 0;
}

BigNat BigNat::mul(const BigNat& a, const BigNat& b) {
  BigNat r;
  if (a.is_zero() || b.is_zero()) return r;
  r.d.assign(a.d.size() + b.d.size(), 0u);
  for (std::size_t i = 0; i < a.d.size(); ++i) {
    std::uint64_t carry = 0;
    for (std::size_t j = 0; j < b.d.size(); ++j) {
      std::uint64_t t = static_cast<std::uint64_t>(a.d[i]) * b.d[j] + r.d[i + j] + carry;
      r.d[i + j] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    r.d[i + b.d.size()] = static_cast<std::uint32_t>(carry);
  }
  r.trim();
  return r;
}

int BigNat::compare(const BigNat& a, const BigNat& b) {
  if (a.d.size() != b.d.size()) return a.d.size() < b.d.size() ? -1 : 1;
  for (std::size_t i = a.d.size(); i-- > 0;) {
    if (a.d[i] != b.d[i]) return a.d[i] < b.d[i] ? -1 : 1;
  }
  return 0;
}

void BigNat::sub(BigNat& a, const BigNat& b) {
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < a.d.size(); ++i) {
    std::int64_t t = static_cast<std::int64_t>(a.d[i]) - (i < b.d.size() ? b.d[i] : 0) - borrow;
    borrow = t < 0;
    a.d[i] = static_cast<std::uint32_t>(t + (borrow << 32));
  }
  a.trim();
}

void BigNat::add(BigNat& a, const BigNat& b) {
  if (a.d.size() < b.d.size()) a.d.resize(b.d.size(), 0u);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < a.d.size(); ++i) {
    std::uint64_t t = static_cast<std::uint64_t>(a.d[i]) + (i < b.d.size() ? b.d[i] : 0) + carry;
    a.d[i] = static_cast<std::uint32_t>(t);
    carry = t >> 32;
  }
  if (carry) a.d.push_back(static_cast<std::uint32_t>(carry));
}

std::uint64_t BigNat::bits(std::uint64_t from, unsigned n) const {
  std::uint64_t r = 0;
  for (unsigned i = 0; i < n; ++i) {
    std::uint64_t pos = from + i;
    std::size_t digit = pos / 32;
    if (digit >= d.size()) break;
    r |= static_cast<std::uint64_t>((d[digit] >> (pos % 32)) & 1u) << i;
  }
  return r;
}

bool BigNat::any_below(std::uint64_t pos) const {
  std::size_t full = pos / 32;
  for (std::size_t i = 0; i < full && i < d.size(); ++i) {
    if (d[i]) return true;
  }
  if (full < d.size() && pos % 32 != 0) return (d[full] & ((1u << (pos % 32)) - 1)) != 0;
  return false;
}

double round_to_double(const BigNat& q, std::int64_t exp2, bool sticky, bool negative) {
  const std::int64_t len = static_cast<std::int64_t>(q.bit_length());
  if (len == 0) return negative ? -0.0 : 0.0;
  // The exponent of the result's last mantissa bit (53 bits, or fewer for subnormals).
  std::int64_t ulp = std::max<std::int64_t>(exp2 + len - 53, -1074);
  std::int64_t drop = ulp - exp2;
  std::uint64_t m;
  if (drop <= 0) {
    m = q.bits(0, static_cast<unsigned>(len)) << (-drop);
  } else {
    auto d = static_cast<std::uint64_t>(drop);
    m = len > drop ? q.bits(d, static_cast<unsigned>(len - drop)) : 0;
    bool round_bit = q.bits(d - 1, 1) != 0;
    bool rest = sticky || q.any_below(d - 1);
    if (round_bit && (rest || (m & 1))) ++m;
  }
  double r = std::ldexp(static_cast<double>(m), static_cast<int>(std::min<std::int64_t>(ulp, 4000)));
  return negative ? -r : r;
}

// --- ExactSum

namespace {

struct Parts {
  std::uint64_t mant;
  int exp2;
  bool negative;
};

Parts decompose(double x) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int e = static_cast<int>((bits >> 52) & 0x7ff);
  std::uint64_t frac = bits & ((std::uint64_t{1} << 52) - 1);
  bool neg = (bits >> 63) != 0;
  if (e == 0) return {frac, -1074, neg};
  return {frac | (std::uint64_t{1} << 52), e - 1075, neg};
}

}  // namespace

void ExactSum::note_double(double x) {
  any_ = true;
  saw_double_ = true;
  if (!(x == 0 && std::signbit(x))) all_neg_zero_ = false;
}

void ExactSum::add(double x) {
  note_double(x);
  if (std::isnan(x)) {
    nan_ = true;
    return;
  }
  if (std::isinf(x)) {
    if (x > 0) pos_inf_ = true;  // (not `(c ? a : b) = true`: clang 14 cannot compile that for bit-fields)
    else neg_inf_ = true;
    return;
  }
  Parts p = decompose(x);
  add_mag64(p.mant, p.exp2, p.negative);
}

void ExactSum::add(std::int64_t x) {
  any_ = true;
  all_neg_zero_ = false;
  std::uint64_t mag = x < 0 ? 0 - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
  add_mag64(mag, 0, x < 0);
}

void ExactSum::add(std::uint64_t x) {
  any_ = true;
  all_neg_zero_ = false;
  add_mag64(x, 0, false);
}

void ExactSum::add_square(double x) {
  note_double(0.0);  // x*x is never -0.0
  if (std::isnan(x)) {
    nan_ = true;
    return;
  }
  if (std::isinf(x)) {
    pos_inf_ = true;
    return;
  }
  Parts p = decompose(x);
  add_mag(static_cast<unsigned __int128>(p.mant) * p.mant, 2 * p.exp2, false);
}

void ExactSum::add_square(std::int64_t x) {
  std::uint64_t mag = x < 0 ? 0 - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
  add_square(mag);
}

void ExactSum::add_square(std::uint64_t x) {
  any_ = true;
  all_neg_zero_ = false;
  add_mag(static_cast<unsigned __int128>(x) * x, 0, false);
}

void ExactSum::ensure(int lo, int hi) {
  if (limbs_.empty()) {
    lo_ = lo;
    limbs_.resize(static_cast<std::size_t>(hi - lo));
    return;
  }
  if (lo < lo_) {
    limbs_.insert_front(static_cast<std::size_t>(lo_ - lo));
    lo_ = lo;
  }
  int cur_hi = lo_ + static_cast<int>(limbs_.size());
  if (hi > cur_hi) limbs_.resize(static_cast<std::size_t>(hi - lo_));
}

void ExactSum::add_mag64(std::uint64_t mag, int exp2, bool negative) {
  if (mag == 0) return;
  const auto pos = static_cast<unsigned>(exp2 + kBias);
  const int k = static_cast<int>(pos / kLimbBits);
  // The same chunks as add_mag(): the low 32 bits of mag << shift, then the rest while nonzero.
  const unsigned __int128 m = static_cast<unsigned __int128>(mag) << (pos % kLimbBits);
  const auto c0 = static_cast<std::int64_t>(static_cast<std::uint32_t>(m));
  const auto c1 = static_cast<std::int64_t>(static_cast<std::uint32_t>(m >> 32));
  const auto c2 = static_cast<std::int64_t>(static_cast<std::uint32_t>(m >> 64));  // m < 2^96
  const int n = c2 != 0 ? 3 : (c1 != 0 ? 2 : 1);
  if (limbs_.empty() || k < lo_ || k + n > lo_ + static_cast<int>(limbs_.size())) ensure(k, k + n);
  std::int64_t* l = limbs_.data() + (k - lo_);
  const std::int64_t sign = negative ? -1 : 1;
  l[0] += sign * c0;
  if (n > 1) l[1] += sign * c1;
  if (n > 2) l[2] += sign * c2;
  if (++pending_ >= kMaxPending) normalize();
}

void ExactSum::add_mag(unsigned __int128 mag, int exp2, bool negative) {
  if (mag == 0) return;
  int pos = exp2 + kBias;
  int k = pos / kLimbBits;
  int shift = pos % kLimbBits;
  // Chunks of 32 bits: the first takes the low 32 - shift bits of mag.
  std::uint64_t chunks[5];
  int n = 0;
  chunks[n++] = (static_cast<std::uint64_t>(mag) & ((std::uint64_t{1} << (32 - shift)) - 1)) << shift;
  unsigned __int128 rest = mag >> (32 - shift);
  while (rest != 0) {
    chunks[n++] = static_cast<std::uint64_t>(rest) & 0xffffffffu;
    rest >>= 32;
  }
  ensure(k, k + n);
  std::int64_t* l = limbs_.data() + (k - lo_);
  for (int i = 0; i < n; ++i) {
    auto c = static_cast<std::int64_t>(chunks[i]);
    l[i] += negative ? -c : c;
  }
  if (++pending_ >= kMaxPending) normalize();
}

void ExactSum::normalize() const {
  if (pending_ == 0 && (limbs_.empty() || limbs_.front() != 0)) return;
  std::int64_t carry = 0;
  for (auto& limb : limbs_) {
    std::int64_t v = limb + carry;
    carry = v >> 32;  // arithmetic shift: floor division
    limb = v & 0xffffffff;
  }
  while (carry != 0 && carry != -1) {
    limbs_.push_back(carry & 0xffffffff);
    carry >>= 32;
  }
  if (carry == -1) limbs_.push_back(-1);
  // Drop redundant top limbs (0 above a non-negative number, 0xffffffff under the sign limb).
  while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  while (limbs_.size() >= 2 && limbs_.back() == -1 && limbs_[limbs_.size() - 2] == 0xffffffff) {
    limbs_.pop_back();
    limbs_.back() = -1;
  }
  std::size_t zeros = 0;
  while (zeros < limbs_.size() && limbs_[zeros] == 0) ++zeros;
  if (zeros) {
    limbs_.erase_front(zeros);
    lo_ += static_cast<int>(zeros);
  }
  if (limbs_.empty()) lo_ = 0;
  pending_ = 0;
}

void ExactSum::merge(const ExactSum& other) {
  any_ = any_ || other.any_;
  saw_double_ = saw_double_ || other.saw_double_;
  all_neg_zero_ = all_neg_zero_ && other.all_neg_zero_;
  nan_ = nan_ || other.nan_;
  pos_inf_ = pos_inf_ || other.pos_inf_;
  neg_inf_ = neg_inf_ || other.neg_inf_;
  other.normalize();
  if (other.limbs_.empty()) return;
  ensure(other.lo_, other.lo_ + static_cast<int>(other.limbs_.size()));
  std::int64_t* l = limbs_.data() + (other.lo_ - lo_);
  for (std::size_t i = 0; i < other.limbs_.size(); ++i) l[i] += other.limbs_[i];
  if (++pending_ >= kMaxPending) normalize();
}

// The digits a result is read through: one per thread, so that reading the results of a million
// groups costs no allocation each (exact() clears it; nothing else keeps it between calls).
BigNat& ExactSum::scratch_nat() {
  thread_local BigNat nat;
  return nat;
}

void ExactSum::exact(BigNat* mag, bool* negative, std::int64_t* exp2) const {
  normalize();
  mag->d.clear();
  *negative = false;
  *exp2 = 0;
  if (limbs_.empty()) return;
  bool neg = limbs_.back() == -1;
  std::size_t n = limbs_.size() - (neg ? 1 : 0);
  mag->d.resize(n);
  for (std::size_t i = 0; i < n; ++i) mag->d[i] = static_cast<std::uint32_t>(limbs_[i]);
  if (neg) {
    // Two's complement with an infinite run of ones above: magnitude = 2^(32n) - digits.
    std::uint64_t carry = 1;
    for (auto& x : mag->d) {
      std::uint64_t t = static_cast<std::uint64_t>(static_cast<std::uint32_t>(~x)) + carry;
      x = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    if (carry) mag->d.push_back(1);
  }
  mag->trim();
  if (mag->is_zero()) return;
  std::uint64_t tz = 0;
  std::size_t k = 0;
  while (mag->d[k] == 0) ++k;  // not zero, so some digit is not
  tz = 32 * static_cast<std::uint64_t>(k) + static_cast<std::uint64_t>(std::countr_zero(mag->d[k]));
  mag->shift_right(tz);
  *negative = neg;
  *exp2 = static_cast<std::int64_t>(lo_) * kLimbBits - kBias + static_cast<std::int64_t>(tz);
}

namespace {

int bit_length128(unsigned __int128 x) {
  const auto hi = static_cast<std::uint64_t>(x >> 64);
  return hi ? 128 - std::countl_zero(hi) : 64 - std::countl_zero(static_cast<std::uint64_t>(x));
}

// round_to_double for a magnitude of at most 127 bits, when the result is a normal double far from
// overflow (the last mantissa bit weighs 2^-1000 .. 2^900); false otherwise (the caller then takes
// the big-integer way, which handles subnormals and overflow).
bool round128(unsigned __int128 q, std::int64_t exp2, bool sticky, bool negative, double* out) {
  const int len = bit_length128(q);
  const std::int64_t ulp = exp2 + len - 53;
  if (ulp < -1000 || ulp > 900) return false;
  std::uint64_t m;
  if (len <= 53) {
    m = static_cast<std::uint64_t>(q) << (53 - len);  // exact; sticky is below the last bit
    if (sticky) {
      // Bits were dropped below q itself: q has at least 55 bits whenever sticky is set (callers
      // scale so), so this does not happen; be safe.
      return false;
    }
  } else {
    const int drop = len - 53;
    m = static_cast<std::uint64_t>(q >> drop);
    const bool round_bit = ((q >> (drop - 1)) & 1) != 0;
    const unsigned __int128 below = q & ((static_cast<unsigned __int128>(1) << (drop - 1)) - 1);
    if (round_bit && (sticky || below != 0 || (m & 1))) ++m;
  }
  const double r = std::ldexp(static_cast<double>(m), static_cast<int>(ulp));
  *out = negative ? -r : r;
  return true;
}

}  // namespace

bool ExactSum::small(unsigned __int128* mag, bool* negative, std::int64_t* exp2) const {
  normalize();
  const std::size_t n = limbs_.size();
  if (n == 0 || n > 3) return false;
  // Limbs below the top are in [0, 2^32); the top one carries the sign (-1: negative).
  __int128 v = static_cast<__int128>(limbs_[n - 1]);
  for (std::size_t i = n - 1; i-- > 0;) v = v * (static_cast<__int128>(1) << 32) + limbs_[i];
  *negative = v < 0;
  *mag = static_cast<unsigned __int128>(v < 0 ? -v : v);
  *exp2 = static_cast<std::int64_t>(lo_) * kLimbBits - kBias;
  return true;
}

double ExactSum::to_double() const {
  if (nan_ || (pos_inf_ && neg_inf_)) return std::numeric_limits<double>::quiet_NaN();
  if (pos_inf_) return std::numeric_limits<double>::infinity();
  if (neg_inf_) return -std::numeric_limits<double>::infinity();
  {
    unsigned __int128 m;
    bool negative;
    std::int64_t e;
    double r;
    if (small(&m, &negative, &e) && round128(m, e, false, negative, &r)) return r;
  }
  BigNat& mag = scratch_nat();
  bool neg;
  std::int64_t e;
  exact(&mag, &neg, &e);
  if (mag.is_zero()) return any_ && all_neg_zero_ ? -0.0 : 0.0;
  return round_to_double(mag, e, false, neg);
}

// The sum as a sign and a 64-bit magnitude, when it is an integer of all-integer inputs whose
// magnitude fits in 64 bits (zero has no sign).
bool ExactSum::integer_magnitude(std::uint64_t* magnitude, bool* negative) const {
  if (saw_double_ || !finite()) return false;
  unsigned __int128 m;
  if (std::int64_t e; small(&m, negative, &e)) {
    // An integer: every bit below 2^0 is zero.
    if (e < 0) {
      if (e <= -128 || (m & ((static_cast<unsigned __int128>(1) << -e) - 1)) != 0) return false;
      m >>= -e;
      e = 0;
    }
    if (m == 0) {
      *magnitude = 0;
      *negative = false;
      return true;
    }
    if (bit_length128(m) + e > 64) return false;
    *magnitude = static_cast<std::uint64_t>(m) << e;
    return true;
  }
  BigNat& mag = scratch_nat();
  std::int64_t e;
  exact(&mag, negative, &e);
  if (mag.is_zero()) {
    *magnitude = 0;
    *negative = false;
    return true;
  }
  if (e < 0 || static_cast<std::int64_t>(mag.bit_length()) + e > 64) return false;
  *magnitude = mag.bits(0, 64) << e;
  return true;
}

std::optional<std::uint64_t> ExactSum::to_uint64() const {
  std::uint64_t u;
  bool neg;
  if (!integer_magnitude(&u, &neg) || neg) return std::nullopt;
  return u;
}

std::optional<std::int64_t> ExactSum::to_int64() const {
  std::uint64_t u;
  bool neg;
  if (!integer_magnitude(&u, &neg)) return std::nullopt;
  if (!neg) {
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (u > (std::uint64_t{1} << 63)) return std::nullopt;
  return static_cast<std::int64_t>(0 - u);
}

double ExactSum::quotient(std::uint64_t n) const {
  if (!finite()) return to_double() / static_cast<double>(n);  // NaN or +-Inf
  {
    unsigned __int128 m;
    bool negative;
    std::int64_t e;
    if (small(&m, &negative, &e) && m != 0) {
      // m < 2^96 scaled to 127 bits; divided by n < 2^64 that leaves at least 63 quotient bits, so
      // the remainder only decides the sticky bit (as below).
      const int s = 127 - bit_length128(m);
      const unsigned __int128 scaled = m << s;
      const unsigned __int128 q = scaled / n;
      double r;
      if (round128(q, e - s, scaled % n != 0, negative, &r)) return r;
    }
  }
  BigNat& mag = scratch_nat();
  bool neg;
  std::int64_t e;
  exact(&mag, &neg, &e);
  if (mag.is_zero()) return to_double();  // a signed zero divided by n keeps its sign
  // At least 56 quotient bits, so the remainder only decides the sticky bit.
  std::int64_t len = static_cast<std::int64_t>(mag.bit_length());
  std::int64_t s = std::max<std::int64_t>(0, 64 + 56 - len);
  mag.shift_left(static_cast<std::uint64_t>(s));
  bool sticky = mag.div_small(n);
  return round_to_double(mag, e - s, sticky, neg);
}

std::string ExactSum::to_text() const {
  BigNat mag;
  bool neg;
  std::int64_t e;
  exact(&mag, &neg, &e);
  std::string out;
  if (neg) out.push_back('-');
  if (mag.is_zero()) {
    out.push_back('0');
  } else {
    static const char kHex[] = "0123456789abcdef";
    bool started = false;
    for (std::size_t i = mag.d.size(); i-- > 0;) {
      for (int nib = 7; nib >= 0; --nib) {
        unsigned v = (mag.d[i] >> (4 * nib)) & 0xf;
        if (!started && v == 0) continue;
        started = true;
        out.push_back(kHex[v]);
      }
    }
  }
  out.push_back('p');
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, e);
  out.append(buf, r.ptr);
  out.push_back(';');
  if (any_) out.push_back('a');
  if (saw_double_) out.push_back('d');
  if (any_ && all_neg_zero_) out.push_back('z');
  if (nan_) out.push_back('n');
  if (pos_inf_) out.push_back('P');
  if (neg_inf_) out.push_back('M');
  return out;
}

bool ExactSum::from_text(std::string_view text) {
  *this = ExactSum();
  std::size_t i = 0;
  bool neg = false;
  if (i < text.size() && text[i] == '-') {
    neg = true;
    ++i;
  }
  BigNat mag;
  std::size_t digits_start = i;
  for (; i < text.size() && text[i] != 'p'; ++i) {
    char c = text[i];
    unsigned v;
    if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
    else return false;
    mag.shift_left(4);
    if (mag.is_zero() && v != 0) mag.d.push_back(v);
    else if (!mag.is_zero()) mag.d[0] |= v;
  }
  if (i == digits_start || i == text.size()) return false;
  ++i;  // 'p'
  std::size_t semi = text.find(';', i);
  if (semi == std::string_view::npos) return false;
  std::int64_t e = 0;
  auto r = std::from_chars(text.data() + i, text.data() + semi, e);
  if (r.ec != std::errc() || r.ptr != text.data() + semi) return false;
  for (char f : text.substr(semi + 1)) {
    switch (f) {
      case 'a': any_ = true; break;
      case 'd': saw_double_ = true; break;
      case 'z': break;
      case 'n': nan_ = true; break;
      case 'P': pos_inf_ = true; break;
      case 'M': neg_inf_ = true; break;
      default: return false;
    }
  }
  const bool neg_zeros = text.substr(semi + 1).find('z') != std::string_view::npos;
  all_neg_zero_ = !any_ || neg_zeros;
  // Flags that no sum can have: anything but zero with nothing added; "every addend was -0.0"
  // with a value, or without the mark of a double (to_text never writes these).
  if (!any_ && (!mag.is_zero() || saw_double_ || nan_ || pos_inf_ || neg_inf_ || neg_zeros)) return false;
  if (neg_zeros && (!mag.is_zero() || !saw_double_ || nan_ || pos_inf_ || neg_inf_)) return false;
  // Only doubles make NaN, an infinity or a fraction: a sum of integers has none (a partial
  // line saying otherwise merged into "sum":1.5 where only integers were added; found by a hunt).
  if (!saw_double_ && (nan_ || pos_inf_ || neg_inf_)) return false;
  if (mag.is_zero()) return true;
  if (!saw_double_ && e < 0 && (e < -4096 || mag.any_below(static_cast<std::uint64_t>(-e)))) return false;
  std::int64_t len = static_cast<std::int64_t>(mag.bit_length());
  if (e < -kBias || e + len > 2400) return false;
  std::int64_t pos = e + kBias;
  mag.shift_left(static_cast<std::uint64_t>(pos % kLimbBits));
  lo_ = static_cast<int>(pos / kLimbBits);
  limbs_.resize(mag.d.size());
  for (std::size_t k = 0; k < mag.d.size(); ++k) {
    auto v = static_cast<std::int64_t>(mag.d[k]);
    limbs_[k] = neg ? -v : v;
  }
  pending_ = 1;
  normalize();
  return true;
}

// --- variance

namespace {

// N = n*S2 - S1^2 exactly, as mag * 2^exp2; false when an input was not finite.
bool variance_numerator(const ExactSum& s1, const ExactSum& s2, std::uint64_t n, BigNat* num,
                        std::int64_t* exp2) {
  if (!s1.finite() || !s2.finite()) return false;
  BigNat m1, m2;
  bool neg1, neg2;
  std::int64_t e1, e2;
  s1.exact(&m1, &neg1, &e1);
  s2.exact(&m2, &neg2, &e2);
  m2.mul_small(n);
  BigNat sq = BigNat::mul(m1, m1);
  e1 *= 2;
  if (sq.is_zero()) e1 = e2;
  if (m2.is_zero()) e2 = e1;
  std::int64_t e = std::min(e1, e2);
  m2.shift_left(static_cast<std::uint64_t>(e2 - e));
  sq.shift_left(static_cast<std::uint64_t>(e1 - e));
  // Never negative in exact arithmetic (Cauchy-Schwarz); the guard is for bad partial input.
  if (BigNat::compare(m2, sq) < 0) {
    num->d.clear();
  } else {
    BigNat::sub(m2, sq);
    *num = std::move(m2);
  }
  *exp2 = e;
  return true;
}

unsigned bit_length_u128(unsigned __int128 v) {
  unsigned n = 0;
  while (v) {
    ++n;
    v >>= 1;
  }
  return n;
}

}  // namespace

double exact_variance(const ExactSum& s1, const ExactSum& s2, std::uint64_t n) {
  BigNat num;
  std::int64_t e;
  if (!variance_numerator(s1, s2, n, &num, &e)) return std::numeric_limits<double>::quiet_NaN();
  if (num.is_zero()) return 0.0;
  std::int64_t len = static_cast<std::int64_t>(num.bit_length());
  std::int64_t s = std::max<std::int64_t>(0, 128 + 56 - len);
  num.shift_left(static_cast<std::uint64_t>(s));
  // floor(floor(N / n) / (n-1)) == floor(N / (n(n-1))), exact iff both divisions are.
  bool sticky = num.div_small(n);
  sticky = num.div_small(n - 1) || sticky;
  return round_to_double(num, e - s, sticky, false);
}

double exact_stddev(const ExactSum& s1, const ExactSum& s2, std::uint64_t n) {
  BigNat num;
  std::int64_t e;
  if (!variance_numerator(s1, s2, n, &num, &e)) return std::numeric_limits<double>::quiet_NaN();
  if (num.is_zero()) return 0.0;
  if (e % 2 != 0) {  // an even exponent halves exactly under the root
    num.shift_left(1);
    e -= 1;
  }
  // Scale by an even 2^s so that Q = floor(N * 2^s / D) has 112..114 bits: its integer root has
  // 56..57 bits, enough for rounding with a sticky bit; floor(sqrt(Q + f)) == isqrt(Q) for f < 1.
  unsigned __int128 den = static_cast<unsigned __int128>(n) * (n - 1);
  std::int64_t len = static_cast<std::int64_t>(num.bit_length());
  std::int64_t s = 113 - len + bit_length_u128(den);
  if (s % 2 != 0) s += 1;
  bool sticky = false;
  if (s >= 0) num.shift_left(static_cast<std::uint64_t>(s));
  else sticky = num.shift_right(static_cast<std::uint64_t>(-s));
  sticky = num.div_small(n) || sticky;
  sticky = num.div_small(n - 1) || sticky;
  unsigned __int128 q = 0;
  for (std::size_t i = num.d.size(); i-- > 0;) q = (q << 32) | num.d[i];
  auto root = static_cast<std::uint64_t>(std::sqrt(static_cast<long double>(q)));
  while (static_cast<unsigned __int128>(root) * root > q) --root;
  while (static_cast<unsigned __int128>(root + 1) * (root + 1) <= q) ++root;
  sticky = sticky || static_cast<unsigned __int128>(root) * root != q;
  BigNat r;
  r.d = {static_cast<std::uint32_t>(root), static_cast<std::uint32_t>(root >> 32)};
  r.trim();
  return round_to_double(r, (e - s) / 2, sticky, false);
}

}  // namespace ppipe::agg
