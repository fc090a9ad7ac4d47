// exec's clock arithmetic, free of clocks so that tests drive it with numbers: durations ("500ms",
// "5s", "2m"), rates ("20/s", "100/m", "3600/h"), --backoff MIN[:MAX], the retry delay (exponential
// backoff with full jitter) and the token bucket behind --rate.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "src/util/text_util.h"  // parse_duration

namespace ppipe {

// "20/s", "100/m", "3600/h", "2.5/s" -> events per second (> 0). nullopt on anything else.
std::optional<double> parse_rate(std::string_view text);

struct Backoff {
  double min_s = 0.1;
  double max_s = 10;
};
// "100ms" (max = the default 10 s, or min if larger) or "100ms:10s"; min <= max. nullopt otherwise.
std::optional<Backoff> parse_backoff(std::string_view text);

// The delay before retry number `retry` (1 for the first retry): full jitter (AWS's "exponential
// backoff and jitter"), uniformly drawn from [0, min(max, min * 2^(retry-1))]. `uniform01` is a
// draw from [0, 1).
double backoff_delay(const Backoff& b, unsigned retry, double uniform01);

// A token bucket: `rate` tokens a second, at most `burst` kept; it starts full. Times are seconds
// on any monotonic clock, never decreasing from call to call.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  // Takes one token if there is one at time `now`.
  bool try_take(double now);
  // Seconds from `now` until a token will be there (0 if there is one).
  double wait(double now);

 private:
  void refill(double now);
  double rate_;
  double burst_;
  double tokens_;
  double last_ = 0;
  bool started_ = false;
};

}  // namespace ppipe
