// Number printing (src/expr/json_writer.cpp): write_double's short-decimal way (n x 10^-k found by
// multiplication) must print exactly what Dragonbox's shortest digits print, for every double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "src/expr/internal.h"

namespace {

std::string fast(double d) {
  std::string s;
  ppipe::expr::write_double(d, s);
  return s;
}

std::string reference(double d) {
  std::string s;
  ppipe::expr::write_double_dragonbox(d, s);
  return s;
}

// A random decimal text: 1 to 17 significant digits, the point anywhere from 10^-12 to 10^17.
double random_decimal(std::mt19937_64& rng) {
  const int digits = 1 + static_cast<int>(rng() % 17);
  std::string text;
  for (int i = 0; i < digits; ++i) text.push_back(static_cast<char>('0' + (i == 0 ? 1 + rng() % 9 : rng() % 10)));
  text += "e" + std::to_string(static_cast<int>(rng() % 30) - 12 - digits);
  return std::strtod(text.c_str(), nullptr);
}

}  // namespace

TEST_CASE("write_double: the short-decimal way prints what Dragonbox prints", "[expr]") {
  std::mt19937_64 rng(41);
  // Short decimals (the way's own ground), long ones (it must give up), any bit pattern.
  for (int i = 0; i < 1500000; ++i) {
    double d;
    if (i % 3 == 2) {
      std::uint64_t bits = rng();
      std::memcpy(&d, &bits, sizeof d);
      if (!std::isfinite(d)) continue;
    } else {
      d = random_decimal(rng);
    }
    if (rng() & 1) d = -d;
    const std::string want = reference(d);
    const std::string got = fast(d);
    if (got != want) FAIL_CHECK(std::to_string(i) << ": " << got << " != " << want);
  }
  // Around the way's limits: 2^50 after scaling, ten decimals, the neighbours of short decimals.
  for (double d : {0.1, 0.2, 0.3, 1.1, 2.675, 43.385, 1e-4, 1.5e-5, 1.2345678901e-10, 123456.0000000001,
                   1125899906842.623, 112589990684.2624, 0.30000000000000004, 9007199254740.993, 5e-324}) {
    for (double x : {d, std::nextafter(d, 0.0), std::nextafter(d, 1e300)}) {
      INFO(x);
      CHECK(fast(x) == reference(x));
    }
  }
  CHECK(fast(43.385) == "43.385");
  CHECK(fast(-0.25) == "-0.25");
  CHECK(fast(1e-5) == "1e-05");
}
