#include "stages/exec/rate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "src/util/text_util.h"

namespace ppipe {

namespace {

// Waiting exactly wait() seconds must be enough, whatever the rounding of the refill.
constexpr double kEpsilon = 1e-9;

}  // namespace

std::optional<double> parse_rate(std::string_view text) {
  auto num = leading_number(text);
  if (!num || num->first <= 0) return std::nullopt;
  std::string_view unit = text.substr(num->second);
  if (unit == "/s") return num->first;
  if (unit == "/m") return num->first / 60;
  if (unit == "/h") return num->first / 3600;
  return std::nullopt;
}

std::optional<Backoff> parse_backoff(std::string_view text) {
  std::size_t colon = text.find(':');
  auto min = parse_duration(text.substr(0, colon));
  if (!min) return std::nullopt;
  Backoff b;
  b.min_s = *min;
  if (colon == std::string_view::npos) {
    b.max_s = std::max(b.max_s, b.min_s);
    return b;
  }
  auto max = parse_duration(text.substr(colon + 1));
  if (!max || *max < *min) return std::nullopt;
  b.max_s = *max;
  return b;
}

double backoff_delay(const Backoff& b, unsigned retry, double uniform01) {
  double cap = b.min_s * std::ldexp(1.0, static_cast<int>(std::min(retry, 64u)) - 1);
  return std::min(b.max_s, cap) * uniform01;
}

void TokenBucket::refill(double now) {
  if (!started_) {
    started_ = true;
    last_ = now;
    return;
  }
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_);
    last_ = now;
  }
}

bool TokenBucket::try_take(double now) {
  refill(now);
  if (tokens_ < 1 - kEpsilon) return false;
  tokens_ -= 1;
  return true;
}

double TokenBucket::wait(double now) {
  refill(now);
  return tokens_ >= 1 - kEpsilon ? 0 : (1 - tokens_) / rate_;
}

}  // namespace ppipe
