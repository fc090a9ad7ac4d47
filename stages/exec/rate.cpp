#include "stages/exec/rate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace ppipe {

namespace {

// Waiting exactly wait() seconds must be enough, whatever the rounding of the refill.
constexpr double kEpsilon = 1e-9;

// A non-negative decimal number at the start of `text`: its value and length.
std::optional<std::pair<double, std::size_t>> leading_number(std::string_view text) {
  std::size_t n = 0;
  while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.')) ++n;
  if (n == 0) return std::nullopt;
  std::string digits(text.substr(0, n));
  if (digits.front() == '.' || digits.back() == '.' || std::count(digits.begin(), digits.end(), '.') > 1)
    return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || !std::isfinite(v)) return std::nullopt;
  return std::pair{v, n};
}

}  // namespace

std::optional<double> parse_duration(std::string_view text) {
  auto num = leading_number(text);
  if (!num) return std::nullopt;
  std::string_view unit = text.substr(num->second);
  double scale = 0;
  if (unit == "ms") scale = 1e-3;
  else if (unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else return std::nullopt;
  return num->first * scale;
}

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
