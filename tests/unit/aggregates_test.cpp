// The exact aggregates (stages/agg) against an oracle of exact integer arithmetic written here:
// every double is an integer multiple of 2^-1074 (its square of 2^-2148), so sums, products and
// quotients become big-integer comparisons. A double r is accepted as the correct rounding of an
// exact value X when X lies between the midpoints to r's neighbours (ties: r's mantissa even).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "src/util/json_string.h"
#include "stages/agg/aggregates.h"
#include "stages/agg/exact_sum.h"

namespace {

using ppipe::agg::Aggregate;
using ppipe::agg::AggregateKind;
using ppipe::agg::ExactSum;
using ppipe::agg::Position;
using ppipe::agg::Value;

// --- a small signed big integer (base 2^32, sign + magnitude), independent of agg::BigNat

struct Big {
  bool neg = false;
  std::vector<std::uint32_t> m;  // little-endian, no trailing zeros

  static Big from_u64(std::uint64_t v) {
    Big b;
    while (v) {
      b.m.push_back(static_cast<std::uint32_t>(v));
      v >>= 32;
    }
    return b;
  }
  bool zero() const { return m.empty(); }
};

void trim(std::vector<std::uint32_t>& m) {
  while (!m.empty() && m.back() == 0) m.pop_back();
}

int cmp_mag(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

std::vector<std::uint32_t> add_mag(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> r(std::max(a.size(), b.size()) + 1, 0);
  std::uint64_t c = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    c += (i < a.size() ? a[i] : 0ull) + (i < b.size() ? b[i] : 0ull);
    r[i] = static_cast<std::uint32_t>(c);
    c >>= 32;
  }
  trim(r);
  return r;
}

std::vector<std::uint32_t> sub_mag(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> r(a.size(), 0);
  std::int64_t br = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::int64_t t = static_cast<std::int64_t>(a[i]) - (i < b.size() ? b[i] : 0) - br;
    br = t < 0 ? 1 : 0;
    r[i] = static_cast<std::uint32_t>(t + (br << 32));
  }
  trim(r);
  return r;
}

Big operator+(const Big& a, const Big& b) {
  Big r;
  if (a.neg == b.neg) {
    r.m = add_mag(a.m, b.m);
    r.neg = a.neg;
  } else if (cmp_mag(a.m, b.m) >= 0) {
    r.m = sub_mag(a.m, b.m);
    r.neg = a.neg;
  } else {
    r.m = sub_mag(b.m, a.m);
    r.neg = b.neg;
  }
  if (r.m.empty()) r.neg = false;
  return r;
}

Big operator-(const Big& a) {
  Big r = a;
  if (!r.m.empty()) r.neg = !r.neg;
  return r;
}

Big operator-(const Big& a, const Big& b) { return a + (-b); }

Big operator*(const Big& a, const Big& b) {
  Big r;
  if (a.zero() || b.zero()) return r;
  r.m.assign(a.m.size() + b.m.size(), 0);
  for (std::size_t i = 0; i < a.m.size(); ++i) {
    std::uint64_t c = 0;
    for (std::size_t j = 0; j < b.m.size(); ++j) {
      c += static_cast<std::uint64_t>(a.m[i]) * b.m[j] + r.m[i + j];
      r.m[i + j] = static_cast<std::uint32_t>(c);
      c >>= 32;
    }
    r.m[i + b.m.size()] = static_cast<std::uint32_t>(c);
  }
  trim(r.m);
  r.neg = a.neg != b.neg;
  return r;
}

int cmp(const Big& a, const Big& b) {
  Big d = a - b;
  return d.zero() ? 0 : d.neg ? -1 : 1;
}

constexpr int kScale = 1150;  // >= 1074 + 53: subnormals are integers too  // doubles become integers times 2^-kScale

// x * 2^kScale exactly (x finite).
Big big_of(double x) {
  if (x == 0) return Big();
  int e;
  double fr = std::frexp(std::fabs(x), &e);                 // x = fr * 2^e, fr in [0.5, 1)
  auto mant = static_cast<std::uint64_t>(std::ldexp(fr, 53));  // exact: at most 53 bits
  Big b = Big::from_u64(mant);
  int shift = e - 53 + kScale;
  REQUIRE(shift >= 0);
  // Multiply by 2^shift in chunks of 31 bits.
  while (shift > 0) {
    int s = std::min(shift, 31);
    b = b * Big::from_u64(std::uint64_t{1} << s);
    shift -= s;
  }
  b.neg = x < 0;
  return b;
}

Big big_of_int(std::int64_t v) {
  Big b = Big::from_u64(v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v));
  b.neg = v < 0;
  return b * big_of(1.0);
}

bool mantissa_even(double r) {
  std::uint64_t b;
  std::memcpy(&b, &r, sizeof b);
  return (b & 1) == 0;
}

// r is the correct rounding of N / D (N, D scaled by the same power of two; D > 0).
bool rounds(double r, const Big& n, const Big& d) {
  if (!std::isfinite(r)) return false;
  double lo = std::nextafter(r, -INFINITY), hi = std::nextafter(r, INFINITY);
  Big two_n = n + n;
  Big lower = (big_of(r) + big_of(lo)) * d, upper = (big_of(r) + big_of(hi)) * d;
  int a = cmp(two_n, lower), b = cmp(two_n, upper);
  if (a < 0 || b > 0) return false;
  if (a == 0 || b == 0) return mantissa_even(r);
  return true;
}

// r is the correct rounding of sqrt(V) with V = n / d * 2^-kScale... expressed for squares:
// v_num / v_den is the value scaled by 2^(2 kScale).
bool rounds_sqrt(double r, const Big& v_num, const Big& v_den) {
  double lo = std::nextafter(r, -INFINITY), hi = std::nextafter(r, INFINITY);
  Big ml = big_of(r) + big_of(lo), mh = big_of(r) + big_of(hi);  // twice the midpoints
  Big four_v = v_num + v_num + v_num + v_num;
  return cmp(ml * ml * v_den, four_v) <= 0 && cmp(four_v, mh * mh * v_den) <= 0;
}

Big exact_sum(const std::vector<double>& xs) {
  Big s;
  for (double x : xs) s = s + big_of(x);
  return s;
}

ExactSum sum_of(const std::vector<double>& xs, std::size_t from = 0, std::size_t to = SIZE_MAX) {
  ExactSum s;
  for (std::size_t i = from; i < std::min(to, xs.size()); ++i) s.add(xs[i]);
  return s;
}

std::uint64_t bits_of(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// Doubles of every magnitude and sign, some subnormal, some exact cancellations.
std::vector<double> random_doubles(std::mt19937_64& rng, std::size_t n, int min_exp = -1074, int max_exp = 1000) {
  std::uniform_int_distribution<int> ex(min_exp, max_exp);
  std::uniform_real_distribution<double> fr(0.5, 1.0);
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i) {
    double x = std::ldexp(fr(rng), ex(rng));
    if (rng() & 1) x = -x;
    if (rng() % 17 == 0 && !v.empty()) x = -v[rng() % v.size()];
    v.push_back(x);
  }
  return v;
}

// Splits v at random points, sums each part, merges the parts in a random order (tree-shaped:
// random pairs), and returns the merged accumulator.
ExactSum split_merge(const std::vector<double>& v, std::mt19937_64& rng) {
  std::vector<std::size_t> cuts = {0, v.size()};
  std::size_t k = rng() % 8;
  for (std::size_t i = 0; i < k; ++i) cuts.push_back(v.empty() ? 0 : rng() % v.size());
  std::sort(cuts.begin(), cuts.end());
  std::vector<ExactSum> parts;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) parts.push_back(sum_of(v, cuts[i], cuts[i + 1]));
  while (parts.size() > 1) {
    std::size_t a = rng() % parts.size(), b = rng() % parts.size();
    if (a == b) continue;
    parts[a].merge(parts[b]);
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(b));
  }
  return parts[0];
}

// --- aggregate helpers

std::unique_ptr<Aggregate> make(const std::string& name, std::uint64_t collect_limit = 1000) {
  std::string err;
  auto spec = ppipe::agg::parse_aggregate_name(name, &err);
  REQUIRE(spec);
  spec->collect_limit = collect_limit;
  return ppipe::agg::make_aggregate(*spec);
}

std::string result_of(const Aggregate& a) {
  std::string out, err;
  REQUIRE(a.result(&out, &err));
  return out;
}

std::string partial_of(const Aggregate& a) {
  std::string out;
  a.write_partial(&out);
  return out;
}

std::string run(const std::string& name, const std::vector<Value>& vals) {
  auto a = make(name);
  std::string err;
  for (std::size_t i = 0; i < vals.size(); ++i) REQUIRE(a->add(vals[i], Position{0, 0, i}, &err));
  return result_of(*a);
}

// The same values through `parts` states (random split), each written as a partial and read
// back, then merged in a random order: the result and the partial must equal the single run's.
void check_split_and_partials(const std::string& name, const std::vector<Value>& vals, std::mt19937_64& rng,
                              std::uint64_t collect_limit = 1000) {
  auto single = make(name, collect_limit);
  std::string err;
  for (std::size_t i = 0; i < vals.size(); ++i) REQUIRE(single->add(vals[i], Position{0, i / 7, i % 7}, &err));
  std::vector<std::size_t> cuts = {0, vals.size()};
  for (int i = 0; i < 5; ++i) cuts.push_back(vals.empty() ? 0 : rng() % vals.size());
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::unique_ptr<Aggregate>> parts;
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
    auto p = make(name, collect_limit);
    for (std::size_t i = cuts[c]; i < cuts[c + 1]; ++i) REQUIRE(p->add(vals[i], Position{0, i / 7, i % 7}, &err));
    // Through the partial text and back.
    std::string text = partial_of(*p);
    auto q = make(name, collect_limit);
    INFO(text);
    // Each partial is read as a merge reads a partial line: with its own part number, in input
    // order (the text keeps only the order of positions within the state).
    REQUIRE(ppipe::agg::read_partial_text(*q, text, c + 1, &err));
    REQUIRE(partial_of(*q) == text);
    parts.push_back(std::move(q));
  }
  std::shuffle(parts.begin(), parts.end(), rng);
  while (parts.size() > 1) {
    std::size_t a = rng() % parts.size(), b = rng() % parts.size();
    if (a == b) continue;
    parts[a]->merge(*parts[b]);
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(b));
  }
  REQUIRE(partial_of(*parts[0]) == partial_of(*single));
  std::string r1, r2, e1, e2;
  bool ok1 = single->result(&r1, &e1), ok2 = parts[0]->result(&r2, &e2);
  REQUIRE(ok1 == ok2);
  REQUIRE(r1 == r2);
  REQUIRE(e1 == e2);
}

}  // namespace

// --- ExactSum

TEST_CASE("exact sum: cancellation, extremes, subnormals", "[agg]") {
  auto sum = [](std::vector<double> v) { return sum_of(v).to_double(); };
  CHECK(sum({1e100, 1.0, -1e100}) == 1.0);
  CHECK(sum({1e308, -1e308, 1e-308, 5e-324}) == 1e-308 + 5e-324);
  CHECK(sum({1e308, 1e308}) == INFINITY);  // the true sum is beyond the double range
  CHECK(sum({1e308, 1e308, -1e308}) == 1e308);
  CHECK(sum({5e-324, 5e-324}) == 1e-323);
  CHECK(sum({0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}) == 1.0);  // math.fsum: 1.0
  CHECK(sum({1.0, 1e-16, 1e-16}) == 1.0000000000000002);                  // naive: 1.0
  CHECK(sum({2.0, std::ldexp(1.0, -52), std::ldexp(1.0, -200)}) == std::nextafter(2.0, 3.0));  // sticky
  CHECK(sum({2.0, std::ldexp(1.0, -52)}) == 2.0);  // exact tie: to even
  CHECK(sum({-1e-320, 1e-320}) == 0.0);
  CHECK_FALSE(std::signbit(sum({-1.0, 1.0})));
  CHECK(std::signbit(sum({-0.0, -0.0})));
  CHECK_FALSE(std::signbit(sum({-0.0, 0.0})));
}

TEST_CASE("exact sum: NaN and Inf as IEEE addition", "[agg]") {
  CHECK(std::isnan(sum_of({1.0, NAN}).to_double()));
  CHECK(std::isnan(sum_of({INFINITY, -INFINITY}).to_double()));
  CHECK(sum_of({INFINITY, 1.0, 1e308}).to_double() == INFINITY);
  CHECK(sum_of({-INFINITY, 1.0}).to_double() == -INFINITY);
  ExactSum s = sum_of({INFINITY, 2.0});
  ExactSum t;
  REQUIRE(t.from_text(s.to_text()));
  CHECK(t.to_double() == INFINITY);
}

TEST_CASE("exact sum: random doubles are correctly rounded, and any split merges to the same state", "[agg]") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 60; ++round) {
    int min_exp = round % 3 == 0 ? -1074 : -60, max_exp = round % 3 == 0 ? 1000 : 60;
    std::vector<double> v = random_doubles(rng, 1 + rng() % 300, min_exp, max_exp);
    ExactSum one = sum_of(v);
    double r = one.to_double();
    INFO("round " << round);
    REQUIRE(rounds(r, exact_sum(v), Big::from_u64(1)));
    REQUIRE_FALSE(rounds(std::nextafter(r, INFINITY), exact_sum(v), Big::from_u64(1)));  // the oracle bites
    REQUIRE_FALSE(rounds(std::nextafter(r, -INFINITY), exact_sum(v), Big::from_u64(1)));
    for (int t = 0; t < 5; ++t) {
      std::vector<double> w = v;
      if (t % 2) std::shuffle(w.begin(), w.end(), rng);
      ExactSum m = split_merge(w, rng);
      REQUIRE(m.to_text() == one.to_text());
      REQUIRE(bits_of(m.to_double()) == bits_of(r));
    }
    ExactSum back;
    REQUIRE(back.from_text(one.to_text()));
    REQUIRE(back.to_text() == one.to_text());
    REQUIRE(bits_of(back.to_double()) == bits_of(r));
  }
}

TEST_CASE("exact sum: many additions, past the carry interval (2^20)", "[agg]") {
  // 3 * 2^20 additions of values whose low limbs carry often.
  ExactSum s;
  const double x = 1.0 + std::ldexp(1.0, -52);
  const std::uint64_t n = 3u << 20;
  for (std::uint64_t i = 0; i < n; ++i) s.add(x);
  Big expect = big_of(x) * Big::from_u64(n);
  CHECK(rounds(s.to_double(), expect, Big::from_u64(1)));
}

TEST_CASE("exact sum: integers, int64 overflow, mixed with doubles", "[agg]") {
  const std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  ExactSum a;
  a.add(std::int64_t{9007199254740992});
  a.add(std::int64_t{1});
  REQUIRE(a.to_int64());
  CHECK(*a.to_int64() == 9007199254740993);  // exact beyond 2^53

  ExactSum b;
  b.add(kMax);
  b.add(std::int64_t{1});
  CHECK_FALSE(b.to_int64());
  REQUIRE(b.to_uint64());
  CHECK(*b.to_uint64() == (std::uint64_t{1} << 63));

  ExactSum c;
  for (int i = 0; i < 3; ++i) c.add(kMax);
  CHECK_FALSE(c.to_int64());
  CHECK_FALSE(c.to_uint64());
  CHECK(rounds(c.to_double(), big_of_int(kMax) * Big::from_u64(3), Big::from_u64(1)));

  ExactSum d;
  d.add(kMin);
  d.add(std::int64_t{-1});
  CHECK_FALSE(d.to_int64());
  CHECK(d.to_double() == -9223372036854775808.0);  // -2^63 - 1 rounds to -2^63

  ExactSum e;
  e.add(kMin);
  REQUIRE(e.to_int64());
  CHECK(*e.to_int64() == kMin);
  e.add(kMax);
  CHECK(*e.to_int64() == -1);

  ExactSum f;
  f.add(std::int64_t{1});
  f.add(0.5);
  CHECK_FALSE(f.to_int64());
  CHECK(f.to_double() == 1.5);

  ExactSum g;  // int64 and doubles, mixed, big and small
  g.add(kMax);
  g.add(-9223372036854775808.0);
  g.add(std::ldexp(1.0, -60));
  CHECK(g.to_double() == -1.0);  // -1 + 2^-60 is within half an ulp of -1
  CHECK(rounds(g.to_double(), big_of_int(kMax) + big_of(-9223372036854775808.0) + big_of(std::ldexp(1.0, -60)),
               Big::from_u64(1)));

  ExactSum h;
  h.add(std::numeric_limits<std::uint64_t>::max());
  REQUIRE(h.to_uint64());
  CHECK(*h.to_uint64() == std::numeric_limits<std::uint64_t>::max());
  ExactSum back;
  REQUIRE(back.from_text(h.to_text()));
  CHECK(*back.to_uint64() == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("exact sum: text form", "[agg]") {
  ExactSum s;
  s.add(-1.5);
  CHECK(s.to_text() == "-3p-1;ad");
  ExactSum z;
  CHECK(z.to_text() == "0p0;");
  z.add(-0.0);
  CHECK(z.to_text() == "0p0;adz");
  ExactSum bad;
  CHECK_FALSE(bad.from_text("12"));
  CHECK_FALSE(bad.from_text("1gp0;"));
  CHECK_FALSE(bad.from_text("1p0;x"));
  CHECK_FALSE(bad.from_text("1p-99999;a"));
  // Flags that contradict the value: only doubles make a fraction, NaN or an infinity.
  CHECK_FALSE(bad.from_text("3p-1;a"));
  CHECK_FALSE(bad.from_text("0p0;aP"));
  CHECK_FALSE(bad.from_text("0p0;an"));
  CHECK(bad.from_text("3p-1;ad"));
  CHECK(bad.from_text("6p-1;a"));  // 3, written with an even mantissa: still an integer
  CHECK(bad.from_text("0p0;adP"));
}

TEST_CASE("exact quotient (avg) is rounded once", "[agg]") {
  ExactSum s = sum_of({0.1, 0.2, 0.3});
  CHECK(s.quotient(3) == 0.2);  // math.fsum(...)/3 gives 0.19999999999999998: double rounding
  std::mt19937_64 rng(11);
  for (int round = 0; round < 60; ++round) {
    std::vector<double> v = random_doubles(rng, 1 + rng() % 200, round % 2 ? -1074 : -40, round % 2 ? 1000 : 40);
    std::uint64_t n = v.size();
    double q = sum_of(v).quotient(n);
    INFO("round " << round);
    REQUIRE(rounds(q, exact_sum(v), Big::from_u64(n)));
  }
  // Subnormal results.
  CHECK(sum_of({5e-324}).quotient(2) == 0.0);          // tie between 0 and 5e-324: even
  CHECK(sum_of({1.5e-323}).quotient(2) == 1e-323);     // 1.5 ulp -> 2 ulp (even)
  CHECK(std::signbit(sum_of({-0.0}).quotient(3)));
}

// Most sums fit three limbs (96 bits: values of similar magnitudes, as latencies or byte counts);
// ExactSum reads those without big integers (a 128-bit way). The same oracle as above, on narrow
// windows placed anywhere in the range, positive and negative, with divisors up to 2^64 - 1; and
// integer sums near the int64 limits.
TEST_CASE("exact sum and quotient on narrow windows (the 128-bit way) round as the oracle", "[agg]") {
  std::mt19937_64 rng(23);
  for (int round = 0; round < 400; ++round) {
    const int base = static_cast<int>(rng() % 1900) - 1000;  // normal results only: subnormals go the other way
    const int width = 1 + static_cast<int>(rng() % 40);
    std::vector<double> v = random_doubles(rng, 1 + rng() % 8, base, base + width);
    const Big sum = exact_sum(v);
    ExactSum s = sum_of(v);
    INFO("round " << round << " base " << base << " width " << width);
    const double r = s.to_double();
    REQUIRE(rounds(r, sum, Big::from_u64(1)));
    REQUIRE_FALSE(rounds(std::nextafter(r, INFINITY), sum, Big::from_u64(1)));
    REQUIRE_FALSE(rounds(std::nextafter(r, -INFINITY), sum, Big::from_u64(1)));
    for (std::uint64_t n : {std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{v.size()}, rng() | 1,
                            ~std::uint64_t{0}}) {
      const double q = s.quotient(n);
      INFO("n " << n);
      REQUIRE(rounds(q, sum, Big::from_u64(n)));
      REQUIRE_FALSE(rounds(std::nextafter(q, INFINITY), sum, Big::from_u64(n)));
      REQUIRE_FALSE(rounds(std::nextafter(q, -INFINITY), sum, Big::from_u64(n)));
    }
  }
  // Integers: exact, and refused past int64 (uint64 for to_uint64), either sign.
  for (std::int64_t a : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, INT64_MAX, INT64_MIN, INT64_MAX / 2 + 1,
                         std::int64_t{1} << 40, -(std::int64_t{1} << 62)}) {
    for (std::int64_t b : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, INT64_MAX, INT64_MIN}) {
      ExactSum s;
      s.add(a);
      s.add(b);
      const __int128 want = static_cast<__int128>(a) + b;
      INFO(a << " + " << b);
      const bool fits = want >= INT64_MIN && want <= INT64_MAX;
      REQUIRE(s.to_int64().has_value() == fits);
      if (fits) CHECK(*s.to_int64() == static_cast<std::int64_t>(want));
      const bool fits_u = want >= 0 && want <= static_cast<__int128>(UINT64_MAX);
      REQUIRE(s.to_uint64().has_value() == fits_u);
      if (fits_u) CHECK(*s.to_uint64() == static_cast<std::uint64_t>(want));
    }
  }
}

TEST_CASE("exact variance and standard deviation", "[agg]") {
  auto var = [](const std::vector<double>& v) {
    ExactSum s1, s2;
    for (double x : v) s1.add(x), s2.add_square(x);
    return std::make_pair(ppipe::agg::exact_variance(s1, s2, v.size()), ppipe::agg::exact_stddev(s1, s2, v.size()));
  };
  CHECK(var({1, 2, 3, 4}).first == 1.6666666666666667);
  CHECK(var({1, 2, 3, 4}).second == 1.2909944487358056);
  CHECK(var({0.1, 0.2, 0.3, 1e-3, 12345.678}).first == 30482411.0976292);  // Python Fractions
  CHECK(var({0.1, 0.2, 0.3, 1e-3, 12345.678}).second == 5521.087854547254);
  CHECK(var({5, 5, 5}).first == 0.0);
  CHECK(var({1e308, -1e308}).first == INFINITY);
  CHECK(std::isnan(var({1.0, INFINITY}).first));

  std::mt19937_64 rng(13);
  for (int round = 0; round < 40; ++round) {
    int lo = round % 4 == 0 ? -1074 : round % 4 == 1 ? -500 : -30, hi = round % 4 == 0 ? -1000 : round % 4 == 1 ? 500 : 30;
    std::vector<double> v = random_doubles(rng, 2 + rng() % 60, lo, hi);
    if (round % 5 == 0) {  // nearly constant data: heavy cancellation in n*S2 - S1^2
      for (auto& x : v) x = 1e9 + static_cast<double>(rng() % 4);
    }
    auto [vr, sd] = var(v);
    Big n = Big::from_u64(v.size());
    Big s1, s2;
    for (double x : v) s1 = s1 + big_of(x), s2 = s2 + big_of(x) * big_of(x);
    Big num = n * s2 - s1 * s1;                    // scaled by 2^(2 kScale)
    Big den = n * Big::from_u64(v.size() - 1);
    INFO("round " << round);
    // rounds() compares against values scaled by 2^kScale: scale the denominator up to match.
    Big den_scaled = den;
    Big unit = big_of(1.0);
    den_scaled = den * unit;
    REQUIRE(rounds(vr, num, den_scaled));
    REQUIRE(rounds_sqrt(sd, num, den));
  }
}

// --- aggregates

TEST_CASE("aggregate names and the did-you-mean error", "[agg]") {
  std::string err;
  auto p = ppipe::agg::parse_aggregate_name("p99.9", &err);
  REQUIRE(p);
  CHECK(p->kind == AggregateKind::kPercentile);
  CHECK(p->p == 0.999);
  CHECK(ppipe::agg::parse_aggregate_name("p33.3", &err)->p == 0.333);
  CHECK(ppipe::agg::parse_aggregate_name("p5", &err)->p == 0.05);
  CHECK(ppipe::agg::parse_aggregate_name("p100", &err)->p == 1.0);
  CHECK(ppipe::agg::parse_aggregate_name("median", &err)->p == 0.5);
  CHECK(ppipe::agg::parse_aggregate_name("count_distinct", &err)->kind == AggregateKind::kCountDistinct);
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("p101", &err));
  CHECK(err.find("bad percentile") != std::string::npos);
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("p9.", &err));
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("sun", &err));
  CHECK(err == "unknown aggregate 'sun' (did you mean 'sum'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("stdev", &err));
  CHECK(err == "unknown aggregate 'stdev' (did you mean 'stddev'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("xyzzy", &err));
  CHECK(err == "unknown aggregate 'xyzzy'");
  // Another case, and other tools' names (Miller's and pandas' mean) point at ours.
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("SUM", &err));
  CHECK(err == "unknown aggregate 'SUM' (did you mean 'sum'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("Median", &err));
  CHECK(err == "unknown aggregate 'Median' (did you mean 'median'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("P5", &err));
  CHECK(err == "unknown aggregate 'P5' (did you mean 'p5'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("P99.9", &err));
  CHECK(err == "unknown aggregate 'P99.9' (did you mean 'p99.9'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("mean", &err));
  CHECK(err == "unknown aggregate 'mean' (did you mean 'avg'?)");
  CHECK_FALSE(ppipe::agg::parse_aggregate_name("nunique", &err));
  CHECK(err == "unknown aggregate 'nunique' (did you mean 'count_distinct'?)");
}

TEST_CASE("results print as jq does, nulls are skipped, no values is null", "[agg]") {
  const Value n = Value::null();
  CHECK(run("sum", {Value::of(std::int64_t{1}), n, Value::of(std::int64_t{2})}) == "3");
  CHECK(run("sum", {Value::of(1.0), Value::of(2.0)}) == "3");
  CHECK(run("sum", {Value::of(1e300)}) == "1e+300");
  CHECK(run("sum", {Value::of(0.1), Value::of(0.2)}) == "0.30000000000000004");
  CHECK(run("sum", {Value::of(std::numeric_limits<std::int64_t>::max()), Value::of(std::int64_t{1})}) ==
        "9223372036854776000");  // 2^63: past int64, a double, printed as jq prints it
  CHECK(run("sum", {Value::of(1e308), Value::of(1e308)}) == "1.7976931348623157e+308");
  // Past int64 the sum is the rounded double, also in uint64's range (2^64 - 2 is no double).
  CHECK(run("sum", {Value::of(std::numeric_limits<std::int64_t>::max()),
                    Value::of(std::numeric_limits<std::int64_t>::max())}) == "18446744073709552000");
  CHECK(run("sum", {Value::of_uint(18446744073709551615u)}) == "18446744073709552000");
  CHECK(run("sum", {}) == "null");
  CHECK(run("sum", {n, n}) == "null");
  CHECK(run("count", {n, n, Value::of(1.0)}) == "3");
  CHECK(run("count_distinct", {}) == "0");
  CHECK(run("avg", {Value::of(std::int64_t{1}), Value::of(std::int64_t{2})}) == "1.5");
  CHECK(run("avg", {}) == "null");
  CHECK(run("var", {Value::of(1.0)}) == "null");
  CHECK(run("stddev", {Value::of(std::int64_t{2}), Value::of(std::int64_t{4})}) == "1.4142135623730951");
  CHECK(run("min", {Value::of(3.5), Value::of(std::int64_t{-2}), n}) == "-2");
  CHECK(run("max", {Value::of(3.5), Value::of(std::int64_t{-2})}) == "3.5");
  CHECK(run("median", {Value::of(std::int64_t{3}), Value::of(std::int64_t{1}), Value::of(std::int64_t{2})}) == "2");
  CHECK(run("first", {n, Value::string("a\"b"), Value::of(std::int64_t{1})}) == "\"a\\\"b\"");
  CHECK(run("last", {Value::json("[1,2]"), Value::json("{\"a\":true}"), n}) == "{\"a\":true}");
  CHECK(run("collect", {Value::of(1.0), n, Value::string("x"), Value::json("false")}) == "[1,\"x\",false]");
  CHECK(run("count_distinct", {Value::of(1.0), Value::of(std::int64_t{1}), Value::of(-0.0), Value::of(0.0),
                               Value::string("1"), Value::json("true"), n}) == "4");
}

TEST_CASE("count(E) counts non-null values", "[agg]") {
  ppipe::agg::AggregateSpec spec;
  spec.kind = AggregateKind::kCountValues;
  auto a = ppipe::agg::make_aggregate(spec);
  std::string err;
  a->add(Value::null(), {}, &err);
  a->add(Value::string(""), {}, &err);
  a->add(Value::json("false"), {}, &err);
  CHECK(result_of(*a) == "2");
}

TEST_CASE("a value of the wrong type is a record error and leaves the state alone", "[agg]") {
  for (std::string name : {"sum", "avg", "min", "max", "var", "stddev", "p90"}) {
    auto a = make(name);
    std::string err;
    REQUIRE(a->add(Value::of(std::int64_t{4}), {}, &err));
    REQUIRE(a->add(Value::of(std::int64_t{6}), {}, &err));
    std::string before = partial_of(*a);
    CHECK_FALSE(a->add(Value::string("12"), {}, &err));
    CHECK(err.find("string is not a number") != std::string::npos);
    CHECK_FALSE(a->add(Value::json("true"), {}, &err));
    CHECK(err.find("true is not a number") != std::string::npos);
    CHECK(partial_of(*a) == before);
  }
}

TEST_CASE("min and max: exact comparison across types, order-independent ties", "[agg]") {
  const std::int64_t big = (std::int64_t{1} << 53) + 1;
  CHECK(run("max", {Value::of(big), Value::of(9007199254740992.0)}) == "9007199254740993");
  CHECK(run("min", {Value::of(big), Value::of(9007199254740992.0)}) == "9007199254740992");
  CHECK(run("min", {Value::of(0.0), Value::of(-0.0)}) == "-0");
  CHECK(run("min", {Value::of(-0.0), Value::of(0.0)}) == "-0");
  CHECK(run("max", {Value::of(-0.0), Value::of(0.0)}) == "0");
  CHECK(run("max", {Value::of_uint(18446744073709551615u), Value::of(1.8446744073709552e19)}) == "18446744073709552000");
  CHECK(run("min", {Value::of(1.0), Value::of(NAN)}) == "null");  // NaN sorts first, prints null
  CHECK(run("max", {Value::of(1.0), Value::of(NAN)}) == "1");
}

TEST_CASE("percentiles follow the interpolation formula exactly", "[agg]") {
  std::mt19937_64 rng(17);
  for (std::size_t n : {1, 2, 3, 10, 1001}) {
    std::vector<double> xs = random_doubles(rng, n, -20, 20);
    std::vector<double> sorted = xs;
    std::sort(sorted.begin(), sorted.end());
    for (auto [name, p] : std::vector<std::pair<std::string, double>>{
             {"p0", 0.0}, {"median", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p100", 1.0}, {"p99.9", 0.999}}) {
      double h = static_cast<double>(n - 1) * p;
      auto k = static_cast<std::size_t>(std::floor(h));
      double expect = k + 1 < n ? sorted[k] + (h - std::floor(h)) * (sorted[k + 1] - sorted[k]) : sorted[n - 1];
      auto agg = make(name);
      std::string err;
      for (double x : xs) agg->add(Value::of(x), {}, &err);
      INFO(name << " n=" << n);
      CHECK(ppipe::agg::percentile_of_sorted(sorted, p) == expect);
      auto ref = make("sum");  // prints `expect` the way the aggregates print doubles
      ref->add(Value::of(expect), {}, &err);
      CHECK(result_of(*agg) == result_of(*ref));
    }
  }
  CHECK(run("p25", {Value::of(std::int64_t{1}), Value::of(std::int64_t{2}), Value::of(std::int64_t{3}),
                    Value::of(std::int64_t{4})}) == "1.75");
  CHECK(run("p0", {Value::of(1.0), Value::of(INFINITY)}) == "1");  // integral h: no 0 * Inf
  // Neighbours more than DBL_MAX apart: the formula's value (exact: -1e308 + p * 2e308), not Inf.
  CHECK(run("median", {Value::of(-1e308), Value::of(1e308)}) == "0");
  CHECK(run("p25", {Value::of(-1e308), Value::of(1e308)}) == "-5e+307");
  CHECK(run("p90", {Value::of(-1.7976931348623157e308), Value::of(1.7976931348623157e308)}) ==
        "1.4381545078898526e+308");
  CHECK(run("median", {Value::of(0.0), Value::of(-0.0), Value::of(-0.0)}) == "-0");
}

TEST_CASE("first, last and collect go by input position, whatever the merge order", "[agg]") {
  std::mt19937_64 rng(19);
  std::vector<Value> vals;
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back("v" + std::to_string(i));
  for (int i = 0; i < 200; ++i) vals.push_back(i % 13 == 0 ? Value::null() : Value::string(texts[i]));
  for (int t = 0; t < 20; ++t) {
    check_split_and_partials("first", vals, rng);
    check_split_and_partials("last", vals, rng);
    check_split_and_partials("collect", vals, rng);
  }
  CHECK(run("first", vals) == "\"v1\"");
  CHECK(run("last", vals) == "\"v199\"");
}

TEST_CASE("collect fails past its limit, however the input is split", "[agg]") {
  std::mt19937_64 rng(23);
  std::vector<Value> vals(11, Value::of(std::int64_t{1}));
  auto a = make("collect", 10);
  std::string err, out;
  for (std::size_t i = 0; i < vals.size(); ++i) a->add(vals[i], Position{0, 0, i}, &err);
  CHECK_FALSE(a->result(&out, &err));
  CHECK(err == "collect: more than 10 values in a group (raise --collect-limit)");
  for (int t = 0; t < 10; ++t) check_split_and_partials("collect", vals, rng, 10);
  vals.pop_back();
  auto b = make("collect", 10);
  for (std::size_t i = 0; i < vals.size(); ++i) b->add(vals[i], Position{0, 0, i}, &err);
  CHECK(result_of(*b) == "[1,1,1,1,1,1,1,1,1,1]");
  auto one = make("collect", 1);
  one->add(vals[0], Position{0, 0, 0}, &err);
  one->add(vals[1], Position{0, 0, 1}, &err);
  CHECK_FALSE(one->result(&out, &err));
  CHECK(err == "collect: more than 1 value in a group (raise --collect-limit)");
}

TEST_CASE("partial text round-trips and merges to the single run for every aggregate", "[agg]") {
  std::mt19937_64 rng(29);
  std::vector<double> xs = random_doubles(rng, 300, -30, 30);
  xs.push_back(-0.0);
  xs.push_back(5e-324);
  xs.push_back(1e300);
  std::vector<std::string> strs;
  for (int i = 0; i < 50; ++i) strs.push_back("s" + std::to_string(rng() % 20));
  std::vector<Value> nums, mixed;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i % 3 == 0) nums.push_back(Value::of(static_cast<std::int64_t>(rng() % 1000) - 500));
    else if (i % 11 == 0) nums.push_back(Value::null());
    else nums.push_back(Value::of(xs[i]));
  }
  for (std::size_t i = 0; i < strs.size(); ++i) {
    mixed.push_back(Value::string(strs[i]));
    mixed.push_back(nums[i]);
  }
  mixed.push_back(Value::json("{\"a\":[1,\"\\n\"]}"));
  for (std::string name : {"count", "sum", "min", "max", "avg", "var", "stddev", "median", "p90", "p99.9"}) {
    INFO(name);
    for (int t = 0; t < 8; ++t) check_split_and_partials(name, nums, rng);
    check_split_and_partials(name, {}, rng);
  }
  for (std::string name : {"count", "count_distinct", "first", "last", "collect"}) {
    INFO(name);
    for (int t = 0; t < 8; ++t) check_split_and_partials(name, mixed, rng);
    check_split_and_partials(name, {}, rng);
  }
  // Integer sums stay integers through partials; NaN/Inf survive them.
  std::vector<Value> ints = {Value::of(std::numeric_limits<std::int64_t>::max()), Value::of(std::int64_t{5}),
                             Value::of(std::int64_t{-7})};
  check_split_and_partials("sum", ints, rng);
  check_split_and_partials("sum", {Value::of(INFINITY), Value::of(1.0), Value::of(NAN)}, rng);
  check_split_and_partials("min", {Value::of(NAN), Value::of_uint(18446744073709551615u)}, rng);
  // Positions read from a partial take the part they are given.
  auto first = make("first");
  std::string err;
  REQUIRE(ppipe::agg::read_partial_text(*first, "{\"p\":[0,0],\"v\":\"\\\"b\\\"\"}", 1, &err));
  auto other = make("first");
  REQUIRE(ppipe::agg::read_partial_text(*other, "{\"p\":[9,9],\"v\":\"\\\"a\\\"\"}", 0, &err));
  first->merge(*other);
  CHECK(result_of(*first) == "\"a\"");
  CHECK_FALSE(ppipe::agg::read_partial_text(*first, "{\"p\":[0],\"v\":\"1\"}", 0, &err));
  CHECK(err.find("malformed partial state") == 0);
  CHECK_FALSE(ppipe::agg::read_partial_text(*first, "[1,", 0, &err));
}

TEST_CASE("partial states no aggregate can write are refused", "[agg]") {
  using ppipe::agg::read_partial_text;
  std::string err;
  auto accepts = [&](const char* name, const char* json) {
    auto a = make(name);
    err.clear();
    return read_partial_text(*a, json, 0, &err);
  };
  // What the aggregates write: all-null groups, one value, -0.0 alone, integers, a NaN.
  CHECK(accepts("avg", R"({"n":0,"s":"0p0;"})"));
  CHECK(accepts("avg", R"({"n":2,"s":"7p-1;ad"})"));
  CHECK(accepts("sum", R"({"s":"0p0;adz"})"));
  CHECK(accepts("sum", R"({"s":"0p0;adn"})"));
  CHECK(accepts("var", R"({"n":0,"s":"0p0;","q":"0p0;"})"));
  CHECK(accepts("var", R"({"n":2,"s":"7p-1;ad","q":"19p-2;ad"})"));
  CHECK(accepts("count_distinct", R"(["n1","n-3","n1.5","n18446744073709551615","nnan","s","sx","j[1]"])"));
  // A count without a sum, or a sum without a count.
  CHECK_FALSE(accepts("avg", R"({"n":0,"s":"7p-1;ad"})"));
  CHECK(err == "malformed partial state: avg (its count and its sum disagree)");
  CHECK_FALSE(accepts("avg", R"({"n":3,"s":"0p0;"})"));
  CHECK_FALSE(accepts("var", R"({"n":0,"s":"7p-1;ad","q":"19p-2;ad"})"));
  CHECK(err == "malformed partial state: var (its count and its sums disagree)");
  CHECK_FALSE(accepts("stddev", R"({"n":2,"s":"7p-1;ad","q":"0p0;"})"));
  // Sums whose flags contradict their value: nothing added yet a value or a mark; "every
  // addend was -0.0" with a value, a NaN, or no double.
  CHECK_FALSE(accepts("sum", R"({"s":"7p-1;"})"));
  CHECK(err == "malformed partial state: sum");
  CHECK_FALSE(accepts("sum", R"({"s":"0p0;d"})"));
  CHECK_FALSE(accepts("sum", R"({"s":"0p0;n"})"));
  CHECK_FALSE(accepts("sum", R"({"s":"7p-1;adz"})"));
  CHECK_FALSE(accepts("sum", R"({"s":"0p0;az"})"));
  CHECK_FALSE(accepts("sum", R"({"s":"0p0;adzn"})"));
  // first/last and collect write their values' text out as it is: it must be one compact JSON value.
  CHECK(accepts("first", R"({"p":[0,0],"v":"{\"a\":[1,\"x y\"]}"})"));
  CHECK(accepts("collect", R"({"v":[[[0,0],"1.5"],[[0,1],"\"\u00e9\""]]})"));
  CHECK(accepts("last", R"({"p":[0,0],"v":"-5754486901365635000000000"})"));  // jq's text of -5.75e24
  CHECK(accepts("last", R"({"p":[0,0],"v":"[1e400,123456789012345678901234567890]"})"));
  CHECK_FALSE(accepts("last", R"({"p":[0,0],"v":"[1e400,01]"})"));
  CHECK_FALSE(accepts("first", R"({"p":[0,0],"v":"{"})"));
  CHECK(err == "malformed partial state: first");
  CHECK_FALSE(accepts("last", R"({"p":[0,0],"v":"1 2"})"));
  CHECK_FALSE(accepts("last", R"({"p":[0,0],"v":"[1, 2]"})"));
  CHECK_FALSE(accepts("last", R"({"p":[0,0],"v":""})"));
  CHECK_FALSE(accepts("collect", R"({"v":[[[0,0],"1.5,]"]]})"));
  CHECK(err == "malformed partial state: collect");
  // Numbers min/max keep, out of their type's range (from_chars leaves the value unset: was 0).
  CHECK(accepts("min", R"("i5")"));
  CHECK(accepts("max", R"("u18446744073709551615")"));
  CHECK_FALSE(accepts("min", R"("i99999999999999999999999")"));
  CHECK(err == "malformed partial state: min");
  CHECK_FALSE(accepts("max", R"("u18446744073709551616")"));
  CHECK_FALSE(accepts("min", R"("i-9223372036854775809")"));
  // A negative sum of squares (var's q) no run can write.
  CHECK_FALSE(accepts("var", R"({"n":2,"s":"7p-1;ad","q":"-1p0;ad"})"));
  CHECK(err == "malformed partial state: var (a negative sum of squares)");
  // Distinct keys written another way than canonical() writes them would count twice.
  for (const char* key : {"n1.0", "n01", "n-0", "n1e0", "n+1", "n", "x1", "", "j", "n2.0", "n9223372036854775808.5"}) {
    INFO(key);
    CHECK_FALSE(accepts("count_distinct", ("[\"" + std::string(key) + "\"]").c_str()));
  }
  // ... also arrays and objects (members sorted, numbers canonical), and nothing but JSON there.
  for (const char* key : {R"(j{\"b\":1,\"a\":2})", "j[1.0]", "j[01]", "jnot json", "j[1] ", "j\\\"s\\\"", "j1", "jnull"}) {
    INFO(key);
    CHECK_FALSE(accepts("count_distinct", ("[\"" + std::string(key) + "\"]").c_str()));
  }
  for (const char* key : {R"(j{\"a\":2,\"b\":1})", "j[1,2.5]", "jtrue", "j[]", "j{}"}) {
    INFO(key);
    CHECK(accepts("count_distinct", ("[\"" + std::string(key) + "\"]").c_str()));
  }
}

TEST_CASE("LimbVec: inline then heap, front insertion and erasure, copies and moves", "[agg]") {
  using ppipe::agg::LimbVec;
  std::vector<std::int64_t> model;
  LimbVec v;
  std::mt19937_64 rng(42);
  auto same = [&](const LimbVec& x) {
    REQUIRE(x.size() == model.size());
    for (std::size_t i = 0; i < model.size(); ++i) REQUIRE(x[i] == model[i]);
  };
  for (int step = 0; step < 2000; ++step) {
    switch (rng() % 6) {
      case 0: {
        auto x = static_cast<std::int64_t>(rng());
        v.push_back(x);
        model.push_back(x);
        break;
      }
      case 1:
        if (!model.empty()) {
          v.pop_back();
          model.pop_back();
        }
        break;
      case 2: {
        std::size_t n = rng() % 5;
        v.insert_front(n);
        model.insert(model.begin(), n, 0);
        break;
      }
      case 3: {
        std::size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
        v.erase_front(n);
        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
      case 4: {
        std::size_t n = rng() % 9;
        v.resize(n);
        model.resize(n, 0);
        break;
      }
      default: {
        LimbVec copy(v);
        same(copy);
        LimbVec moved(std::move(copy));
        same(moved);
        v = moved;
        LimbVec other;
        other = std::move(moved);
        same(other);
        break;
      }
    }
    same(v);
  }
}

// One name of each aggregate kind.
const std::vector<std::string>& every_aggregate() {
  static const std::vector<std::string> names = {"count", "sum", "min", "max", "avg", "var", "stddev", "median",
                                                 "p99", "count_distinct", "first", "last", "collect"};
  return names;
}

// n values: nulls, small integers and doubles (the doubles scaled by 2^(spread * (i % 5))).
std::vector<Value> mixed_values(int n, int spread) {
  std::vector<Value> vals;
  for (int i = 0; i < n; ++i) {
    if (i % 7 == 3) vals.push_back(Value::null());
    else if (i % 3 == 0) vals.push_back(Value::of(static_cast<std::int64_t>(i * 37 % 23) - 11));
    else vals.push_back(Value::of(std::ldexp(i * 0.37 - 5.5, (i % 5) * spread)));
  }
  return vals;
}

// Reads a partial's text into an inline aggregate.
void read_partial_into(const ppipe::agg::AggregateRef& agg, const std::string& partial) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  REQUIRE_FALSE(parser.parse(partial).get(e));
  std::string err;
  REQUIRE(agg.read_partial(e, 0, &err));
}

// Inside a group's block an aggregate has no vtable pointer and its calls go through a table of
// functions (AggregateOps): for every aggregate, the same values through an inline pair and a
// make_aggregate pair, merged, give the same result, partial and ok(); read_partial and destroy
// go through the table too.
TEST_CASE("inline aggregates (no vtable pointer) behave as make_aggregate's", "[agg]") {
  const std::vector<std::string>& names = every_aggregate();
  const std::vector<Value> vals = mixed_values(40, 0);
  for (const auto& name : names) {
    INFO(name);
    std::string err;
    auto spec = ppipe::agg::parse_aggregate_name(name, &err);
    REQUIRE(spec);
    spec->collect_limit = name == "collect" ? 20 : 1000;  // collect goes past its limit: ok() is false
    const auto layout = ppipe::agg::aggregate_layout(*spec);
    auto virt = make(name, spec->collect_limit);
    alignas(16) unsigned char a_mem[512], b_mem[512], c_mem[512];
    REQUIRE(layout.size <= sizeof(a_mem));
    const ppipe::agg::AggregateOps* ops = ppipe::agg::construct_aggregate(*spec, a_mem);
    REQUIRE(ppipe::agg::construct_aggregate(*spec, b_mem) == ops);  // one table per type
    ppipe::agg::AggregateRef a(ops, a_mem), b(ops, b_mem);
    auto virt_b = make(name, spec->collect_limit);
    for (std::size_t i = 0; i < vals.size(); ++i) {
      const bool first_half = i < vals.size() / 2;
      REQUIRE((first_half ? a : b).add(vals[i], Position{0, 0, i}, &err));
      REQUIRE((first_half ? *virt : *virt_b).add(vals[i], Position{0, 0, i}, &err));
    }
    a.merge(b);
    virt->merge(*virt_b);
    std::string want_err, got_err;
    const bool want_ok = virt->ok(&want_err);
    CHECK(a.ok(&got_err) == want_ok);
    CHECK(got_err == want_err);
    CHECK(want_ok == (name != "collect"));
    std::string want, got;
    CHECK(virt->result(&want, &want_err) == a.result(&got, &got_err));
    CHECK(got == want);
    std::string want_partial, got_partial;
    virt->write_partial(&want_partial);
    a.write_partial(&got_partial);
    CHECK(got_partial == want_partial);
    // A partial read back into a fresh inline one.
    ppipe::agg::construct_aggregate(*spec, c_mem);
    ppipe::agg::AggregateRef c(ops, c_mem);
    read_partial_into(c, got_partial);
    std::string again;
    c.write_partial(&again);
    CHECK(again == got_partial);
    a.destroy();
    b.destroy();
    c.destroy();
  }
}

// count_distinct's set grows through many sizes and merges in any split: the count and the
// partial equal a std::set's of the same canonical keys (ints, doubles equal to ints, strings).
TEST_CASE("count_distinct: 200,000 values with repeats, any split, equals a std::set", "[agg]") {
  std::mt19937_64 rng(12345);
  std::vector<Value> vals;
  std::vector<std::string> texts;
  texts.reserve(200000);
  std::set<std::string> oracle;
  for (int i = 0; i < 200000; ++i) {
    const std::int64_t x = static_cast<std::int64_t>(rng() % 60000);
    switch (rng() % 3) {
      case 0: vals.push_back(Value::of(x)); oracle.insert("n" + std::to_string(x)); break;
      case 1: vals.push_back(Value::of(static_cast<double>(x))); oracle.insert("n" + std::to_string(x)); break;
      default:
        texts.push_back("k" + std::to_string(x));
        vals.push_back(Value::string(texts.back()));
        oracle.insert("s" + texts.back());
        break;
    }
  }
  std::string want = "[";
  for (const auto& k : oracle) {
    if (want.size() > 1) want += ',';
    ppipe::append_json_string_jq(want, k);
  }
  want += ']';
  for (std::size_t parts : {1, 2, 7, 64}) {
    CAPTURE(parts);
    std::vector<std::unique_ptr<Aggregate>> aggs;
    for (std::size_t p = 0; p < parts; ++p) aggs.push_back(make("count_distinct"));
    std::string err;
    for (std::size_t i = 0; i < vals.size(); ++i)
      REQUIRE(aggs[i * parts / vals.size()]->add(vals[i], Position{0, 0, i}, &err));
    for (std::size_t p = parts; p-- > 1;) aggs[p - 1]->merge(*aggs[p]);  // from the end: small into large and back
    CHECK(result_of(*aggs[0]) == std::to_string(oracle.size()));
    CHECK(aggs[0]->held() == oracle.size());
    std::string partial;
    aggs[0]->write_partial(&partial);
    CHECK(partial == want);
  }
}

// held(): what --max-values counts. The values a percentile, count_distinct and collect keep
// (distinct ones for count_distinct, also across a merge), none for the others; the same through
// the inline table.
TEST_CASE("held() counts the values an aggregate keeps", "[agg]") {
  auto add_all = [](ppipe::agg::Aggregate& a, const std::vector<Value>& vs) {
    std::string err;
    for (std::size_t i = 0; i < vs.size(); ++i) REQUIRE(a.add(vs[i], Position{0, 0, i}, &err));
  };
  const std::vector<Value> ints = {Value::of(std::int64_t{1}), Value::of(2.0), Value::of(std::int64_t{2}),
                                   Value::null(), Value::of(std::int64_t{5})};
  for (const std::string name : {"median", "p99.9", "count_distinct", "collect"}) {
    INFO(name);
    auto a = make(name), b = make(name);
    add_all(*a, ints);
    add_all(*b, {Value::of(std::int64_t{5}), Value::of(std::int64_t{7})});
    const bool distinct = name == "count_distinct";
    CHECK(a->held() == (distinct ? 3u : 4u));  // 1, 2 (= 2.0), 5; or all four non-null values
    a->merge(*b);
    CHECK(a->held() == (distinct ? 4u : 6u));
    std::string err;
    auto spec = ppipe::agg::parse_aggregate_name(name, &err);
    alignas(16) unsigned char mem[512];
    ppipe::agg::AggregateRef inline_ref(ppipe::agg::construct_aggregate(*spec, mem), mem);
    for (std::size_t i = 0; i < ints.size(); ++i) REQUIRE(inline_ref.add(ints[i], Position{0, 0, i}, &err));
    CHECK(inline_ref.held() == (distinct ? 3u : 4u));
    inline_ref.destroy();
  }
  for (const std::string name : {"count", "sum", "min", "max", "avg", "var", "stddev", "first", "last"}) {
    INFO(name);
    auto a = make(name);
    add_all(*a, ints);
    CHECK(a->held() == 0);
  }
}

// agg's writer moves a batch's group into the run's table when the key is new there (relocate)
// instead of merging it into an empty group: for every aggregate, the two give the same result and
// partial.
TEST_CASE("relocate = merge into an empty aggregate", "[agg]") {
  const std::vector<std::string>& names = every_aggregate();
  const std::vector<Value> vals = mixed_values(30, 40);  // doubles over a window of many limbs
  for (const auto& name : names) {
    INFO(name);
    std::string err;
    auto spec = ppipe::agg::parse_aggregate_name(name, &err);
    REQUIRE(spec);
    alignas(16) unsigned char src_mem[512], merged_mem[512], moved_mem[512];
    const ppipe::agg::AggregateOps* ops = ppipe::agg::construct_aggregate(*spec, src_mem);
    ppipe::agg::construct_aggregate(*spec, merged_mem);
    ppipe::agg::AggregateRef src(ops, src_mem), merged(ops, merged_mem);
    for (std::size_t i = 0; i < vals.size(); ++i) REQUIRE(src.add(vals[i], Position{0, 3, i}, &err));
    // The reference: a copy of the state (through its partial) merged into an empty one.
    std::string src_partial;
    src.write_partial(&src_partial);
    alignas(16) unsigned char copy_mem[512];
    ppipe::agg::construct_aggregate(*spec, copy_mem);
    ppipe::agg::AggregateRef copy(ops, copy_mem);
    read_partial_into(copy, src_partial);
    merged.merge(copy);
    ops->relocate(moved_mem, src_mem);
    ppipe::agg::AggregateRef moved(ops, moved_mem);
    std::string want, got, want_partial, got_partial;
    CHECK(merged.result(&want, &err) == moved.result(&got, &err));
    CHECK(got == want);
    CHECK(got != "null");
    merged.write_partial(&want_partial);
    moved.write_partial(&got_partial);
    CHECK(got_partial == want_partial);
    for (auto* r : {&src, &merged, &moved, &copy}) r->destroy();
  }
}
