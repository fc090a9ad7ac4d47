// ppipe-gen: seeded, deterministic generator of access-log JSON Lines.
//
// Writes one compact JSON object per line to stdout, keys in a stable order:
//   ts, host, method, path, status, latency_ms, bytes, user, upstream, tags, referrer, ua
// Some optional fields are null or missing. Names carry unicode and JSON escapes.
//
// Determinism: the same --seed and the same size options give byte-identical output on any
// machine. Only our own PRNG (splitmix64 + xoshiro256**) and integer arithmetic are used: no
// std::*_distribution (implementation-defined), no floating point, no locale, no clock.
//
// Line alignment: records come from one PRNG stream, and the decisions to damage a line
// (--bad-every), blank it or end it with CRLF (--crlf-every) come from a second one. A record is
// generated for every line even when it is then replaced. So line i of a run with --bad-every or
// --crlf-every is either line i of the clean run with the same seed (maybe with "\r\n"), a blank
// line, or a malformed line. Tests can diff against the clean output.
//
// Standard library only; C++17.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char* const kUsage =
    "usage: ppipe-gen [--seed N] [--size SIZE | --records N] [--bad-every K] [--crlf-every K]\n"
    "                 [--stats] [--help]\n"
    "\n"
    "Writes realistic access-log JSON Lines to stdout, deterministically.\n"
    "\n"
    "  --seed N        PRNG seed (default 1). Same seed and size: byte-identical output.\n"
    "  --size SIZE     stop at the first line end at or after SIZE bytes of output;\n"
    "                  SIZE accepts K, M, G suffixes (KiB, MiB, GiB), e.g. 100M, 1G.\n"
    "  --records N     write exactly N lines (default 1000 when neither is given).\n"
    "  --bad-every K   replace about every K-th line (chosen by the PRNG) with a malformed\n"
    "                  line: truncated JSON, trailing garbage, invalid UTF-8, a bare word, an\n"
    "                  unterminated string, a lone '}', a trailing comma, ...; also replace\n"
    "                  about every 2K-th line with a blank line. Default: all lines valid.\n"
    "  --crlf-every K  end about every K-th line with \\r\\n instead of \\n.\n"
    "  --stats         print a JSON summary to stderr at the end:\n"
    "                  {\"lines\",\"records\" (valid JSON),\"bad\",\"blank\",\"crlf\",\"bytes\"}.\n"
    "  --help          print this help.\n";

// ---------------------------------------------------------------- PRNG

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {  // xoshiro256**
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n <= 2^32 (multiply-shift; bias is negligible for our n).
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(((next() >> 32) * n) >> 32); }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) {
    const uint64_t span = hi - lo + 1;
    if (span <= 0xFFFFFFFFULL) return lo + below(static_cast<uint32_t>(span));
    return lo + next() % span;
  }
  // True with probability num/den.
  bool chance(uint32_t num, uint32_t den) { return below(den) < num; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// ---------------------------------------------------------------- output buffer

class Out {
 public:
  static constexpr size_t kCap = 8u << 20;
  static constexpr size_t kFlushAt = kCap - (64u << 10);  // a line is far below 64 KiB

  Out() : buf_(static_cast<char*>(std::malloc(kCap))) {
    if (!buf_) {
      std::fputs("ppipe-gen: out of memory\n", stderr);
      std::exit(1);
    }
  }
  ~Out() { std::free(buf_); }
  Out(const Out&) = delete;
  Out& operator=(const Out&) = delete;

  size_t len() const { return len_; }
  char* data() { return buf_; }
  void truncate(size_t n) { len_ = n; }

  void put(char c) { buf_[len_++] = c; }
  void put(const char* s, size_t n) {
    std::memcpy(buf_ + len_, s, n);
    len_ += n;
  }
  template <size_t N>
  void lit(const char (&s)[N]) { put(s, N - 1); }
  void str(const char* s) { put(s, std::strlen(s)); }
  void str(const std::string& s) { put(s.data(), s.size()); }

  void u64(uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) buf_[len_++] = tmp[--n];
  }
  // v with exactly `width` digits, zero-padded.
  void fixed(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf_[len_ + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    len_ += width;
  }
  // A decimal from thousandths, printed with `decimals` (0..3) digits after the point (cut, not
  // rounded, so the printed value is the one we mean). decimals == 0 prints an integer.
  void milli(uint64_t thousandths, int decimals) {
    u64(thousandths / 1000);
    if (decimals == 0) return;
    put('.');
    uint64_t frac = thousandths % 1000;
    for (int i = decimals; i < 3; ++i) frac /= 10;
    fixed(frac, decimals);
  }

  bool flush_if_full(std::FILE* f) { return len_ < kFlushAt || flush(f); }
  bool flush(std::FILE* f) {
    if (len_ && std::fwrite(buf_, 1, len_, f) != len_) return false;
    total_ += len_;
    len_ = 0;
    return true;
  }
  uint64_t total() const { return total_ + len_; }

 private:
  char* buf_;
  size_t len_ = 0;
  uint64_t total_ = 0;
};

// ---------------------------------------------------------------- data tables

struct Weighted {
  const char* value;
  uint32_t weight;
};

template <size_t N>
const char* pick(Rng& r, const Weighted (&t)[N]) {
  uint32_t total = 0;
  for (const auto& w : t) total += w.weight;
  uint32_t x = r.below(total);
  for (const auto& w : t) {
    if (x < w.weight) return w.value;
    x -= w.weight;
  }
  return t[N - 1].value;
}

template <size_t N>
const char* pick(Rng& r, const char* const (&t)[N]) {
  return t[r.below(N)];
}

// 20 hosts, skewed so that group-by results are not flat.
const Weighted kHosts[] = {
    {"web-01", 120}, {"web-02", 110}, {"web-03", 100}, {"web-04", 90},  {"web-05", 80},
    {"web-06", 70},  {"web-07", 60},  {"web-08", 50},  {"api-01", 100}, {"api-02", 90},
    {"api-03", 60},  {"api-04", 30},  {"api-05", 20},  {"api-06", 10},  {"edge-fra-1", 40},
    {"edge-iad-1", 40}, {"edge-sin-1", 25}, {"edge-gru-1", 15}, {"batch-01", 5},
    {"canary-01", 2},
};

const Weighted kMethods[] = {
    {"GET", 750}, {"POST", 150}, {"PUT", 40}, {"DELETE", 30}, {"PATCH", 20}, {"HEAD", 8},
    {"OPTIONS", 2},
};

struct Status {
  uint32_t code;
  uint32_t weight;  // per 10000; 5xx sum to 500 (5%)
};
constexpr Status kStatus[] = {
    {200, 6790}, {201, 300}, {204, 250}, {206, 50}, {301, 150}, {302, 250}, {304, 400},
    {400, 280},  {401, 200}, {403, 150}, {404, 450}, {409, 50}, {429, 100}, {499, 80},
    {500, 250},  {502, 120}, {503, 100}, {504, 30},
};

constexpr uint32_t status_weight_sum(uint32_t min_code) {
  uint32_t sum = 0;
  for (const auto& s : kStatus) sum += s.code >= min_code ? s.weight : 0;
  return sum;
}
static_assert(status_weight_sum(0) == 10000, "status weights must sum to 10000");
static_assert(status_weight_sum(500) == 500, "5xx must be 5%");

// Countries: "DE" common enough for filters to select a meaningful share.
const Weighted kCountries[] = {
    {"US", 250}, {"DE", 150}, {"GB", 80}, {"FR", 70}, {"IN", 70}, {"BR", 50}, {"JP", 50},
    {"CN", 50},  {"CA", 40},  {"NL", 40}, {"PL", 40}, {"ES", 30}, {"IT", 30}, {"SE", 30},
    {"KR", 20},
};

const char* const kFirst[] = {
    "Alice", "Bob",    "Carol",   "Dave",  "Erin",   "Frank",  "Grace",   "Heidi",
    "Ivan",  "Judy",   "Mallory", "Niaj",  "Olivia", "Peggy",  "Rupert",  "Sybil",
    "Trent", "Victor", "Walter",  "Wendy", "Xavier", "Yolanda", "Zach",   "Quinn",
};
const char* const kLast[] = {
    "Smith", "Jones",   "Brown",  "Taylor", "Wilson", "Davies",  "Evans",  "Thomas",
    "Johnson", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Green", "Hall",
};

// Special names, already JSON-escaped (the text between the quotes). Raw UTF-8 and \u escapes,
// quotes, backslashes, control-character escapes, a surrogate pair, an empty name.
const char* const kSpecialNames[] = {
    "Zoë Martin",
    "Łukasz Nowak",
    "東京 太郎",
    "José García",
    "Renée Dubois",
    "Müller, Jörg",
    "Søren Ødegaard",
    "Дмитрий Иванов",
    "محمد علي",
    "김민준",
    "Ana 🚀",
    "😀",
    "Zoë",
    "Łukasz",
    "東京",
    "Dan \\\"The Man\\\" O'Neil",
    "C:\\\\Users\\\\bob",
    "multi\\nline",
    "tab\\tseparated",
    "\\u00e9milie Zola",
    "Zo\\u00eb \\u00c5berg",
    "rocket \\ud83d\\ude80 fan",
    "slash \\/ name",
    "bell\\u0007 \\\\ \\\"q\\\"",
    "",
    "  spaced  ",
};

const char* const kApiResources[] = {
    "users", "orders", "products", "sessions", "carts", "payments", "search", "inventory",
};

const char* const kSearchTerms[] = {
    "hello%20world", "caf%C3%A9", "%E6%9D%B1%E4%BA%AC", "a%2Bb%3Dc", "100%25", "shoes",
    "red+dress",     "z%C3%BCrich", "laptop%20stand", "%F0%9F%98%80",
};

const char* const kStatic[] = {
    "/static/js/app.3f9a2c.js", "/static/js/vendor.91bd0e.js", "/static/css/main.77aa1f.css",
    "/static/img/logo.svg",     "/static/img/hero%402x.png",   "/static/fonts/inter.woff2",
};

const char* const kPages[] = {
    "/", "/index.html", "/about", "/login", "/logout", "/pricing", "/blog/2024/03/hello-world",
    "/docs/getting-started", "/contact", "/careers",
};

const char* const kMisc[] = {
    "/health", "/metrics", "/favicon.ico", "/robots.txt", "/wp-login.php", "/.env",
    "/apiary/index.html", "/admin/../etc/passwd", "/cgi-bin/test.cgi", "/sitemap.xml",
};

const char* const kTags[] = {
    "cache-hit", "cache-miss", "mobile", "bot", "canary", "beta", "internal", "retry",
    "slow",      "gzip",       "tls13",  "ipv6", "h2",   "h3",
};

const char* const kReferrers[] = {
    "https://www.google.com/",
    "https://www.bing.com/search?q=widgets",
    "https://t.co/x8Jk2LmQ",
    "https://news.ycombinator.com/item?id=39012345",
    "https://example.com/products?id=42&ref=home",
    "https://example.com/",
    "android-app://com.google.android.gm/",
    "https://duckduckgo.com/?q=caf%C3%A9",
};

const char* const kUserAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.6261.90 Mobile Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.128",
    "okhttp/4.12.0",
    "PostmanRuntime/7.36.3",
};

// ---------------------------------------------------------------- time

// Days since 1970-01-01 to civil date (H. Hinnant's algorithm), integer only.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

class Clock {
 public:
  explicit Clock(uint64_t start_ms) : ms_(start_ms) {}
  void advance(uint64_t dms) { ms_ += dms; }
  // Writes e.g. 2024-03-01T12:34:56.789Z
  void write(Out& o) {
    const uint64_t sec = ms_ / 1000;
    if (sec != cached_sec_) {
      cached_sec_ = sec;
      int64_t y;
      unsigned m, d;
      civil_from_days(static_cast<int64_t>(sec / 86400), y, m, d);
      const uint64_t sod = sec % 86400;
      char* p = cached_;
      auto two = [&p](unsigned v) {
        *p++ = static_cast<char>('0' + v / 10);
        *p++ = static_cast<char>('0' + v % 10);
      };
      const unsigned yy = static_cast<unsigned>(y);
      two(yy / 100);
      two(yy % 100);
      *p++ = '-';
      two(m);
      *p++ = '-';
      two(d);
      *p++ = 'T';
      two(static_cast<unsigned>(sod / 3600));
      *p++ = ':';
      two(static_cast<unsigned>(sod / 60 % 60));
      *p++ = ':';
      two(static_cast<unsigned>(sod % 60));
      *p++ = '.';
    }
    o.put(cached_, 20);
    o.fixed(ms_ % 1000, 3);
    o.put('Z');
  }

 private:
  uint64_t ms_;
  uint64_t cached_sec_ = ~0ULL;
  char cached_[20];
};

// ---------------------------------------------------------------- record

// Latency in thousandths of a millisecond, log-ish distribution, slower for errors.
uint64_t latency_milli(Rng& r, uint32_t status) {
  uint32_t bucket = r.below(1000);
  if (status >= 500) bucket = bucket / 2 + 500;  // errors: shifted to the slow half
  if (bucket < 600) return r.range(200, 50000);            // 0.2 .. 50 ms
  if (bucket < 900) return r.range(50000, 500000);         // 50 .. 500 ms
  if (bucket < 985) return r.range(500000, 5000000);       // 0.5 .. 5 s
  if (bucket < 998) return r.range(5000000, 30000000);     // 5 .. 30 s
  return 30000000;                                         // timeout
}

// Number of digits after the point: 10% integers, otherwise 1..3.
int latency_decimals(Rng& r) {
  const uint32_t x = r.below(10);
  return x == 0 ? 0 : x < 3 ? 1 : x < 6 ? 2 : 3;
}

void write_path(Rng& r, Out& o) {
  const uint32_t kind = r.below(100);
  if (kind < 58) {  // API
    o.lit("/api/v");
    o.put(r.chance(3, 4) ? '1' : '2');
    o.put('/');
    o.str(pick(r, kApiResources));
    const uint32_t shape = r.below(10);
    if (shape < 5) {
      o.put('/');
      o.u64(r.range(1, 999999));
      if (shape == 0) o.lit("/items");
    }
    const uint32_t q = r.below(10);
    if (q == 0) {
      o.lit("?limit=");
      o.u64(r.range(1, 10) * 10);
      o.lit("&offset=");
      o.u64(r.below(50) * 50);
    } else if (q == 1) {
      o.lit("?q=");
      o.str(pick(r, kSearchTerms));
    } else if (q == 2) {
      o.lit("?fields=id%2Cname&sort=-created_at");
    }
  } else if (kind < 73) {
    o.str(pick(r, kStatic));
  } else if (kind < 85) {
    o.str(pick(r, kPages));
    if (r.chance(1, 5)) {
      o.lit("?utm_source=newsletter&utm_campaign=spring%202024");
    }
  } else if (kind < 92) {
    o.lit("/search?q=");
    o.str(pick(r, kSearchTerms));
    if (r.chance(1, 3)) {
      o.lit("&page=");
      o.u64(r.range(2, 20));
    }
  } else if (kind < 96) {
    o.lit("/products/widget-");
    o.u64(r.range(1, 5000));
  } else {
    o.str(pick(r, kMisc));
  }
}

void write_user(Rng& r, Out& o) {
  o.lit("{\"id\":");
  o.u64(r.range(1, 2000000));
  o.lit(",\"name\":\"");
  if (r.chance(1, 8)) {
    o.str(pick(r, kSpecialNames));
  } else {
    o.str(pick(r, kFirst));
    o.put(' ');
    o.str(pick(r, kLast));
  }
  o.lit("\",\"country\":\"");
  o.str(pick(r, kCountries));
  o.lit("\"}");
}

struct RecordInfo {
  size_t path_value;  // offset (from line start) of the first byte of the path string's content
};

// Writes one record (no line end) to o; returns where the path's content starts.
RecordInfo write_record(Rng& r, Clock& clock, Out& o) {
  const size_t start = o.len();
  RecordInfo info{};
  clock.advance(r.below(40));

  o.lit("{\"ts\":\"");
  clock.write(o);
  o.lit("\",\"host\":\"");
  o.str(pick(r, kHosts));
  o.lit("\",\"method\":\"");
  o.str(pick(r, kMethods));
  o.lit("\",\"path\":\"");
  info.path_value = o.len() - start;
  write_path(r, o);
  o.put('"');

  uint32_t status = kStatus[0].code;
  {
    uint32_t x = r.below(10000);
    for (const auto& s : kStatus) {
      if (x < s.weight) {
        status = s.code;
        break;
      }
      x -= s.weight;
    }
  }
  o.lit(",\"status\":");
  o.u64(status);

  const uint64_t lat = latency_milli(r, status);
  if (r.below(200) != 0) {  // 0.5% miss latency_ms
    o.lit(",\"latency_ms\":");
    o.milli(lat, latency_decimals(r));
  }

  const uint32_t bsel = r.below(1000);
  if (bsel >= 10) {  // 1% miss bytes
    o.lit(",\"bytes\":");
    if (status == 204 || status == 304 || bsel < 40) {
      o.put('0');
    } else if (bsel < 980) {
      o.u64(r.range(120, 60000));
    } else if (bsel < 998) {
      o.u64(r.range(1000000, 500000000));
    } else {
      o.u64(r.range(4294967296ULL, 68719476736ULL));  // beyond 32 bits
    }
  }

  const uint32_t usel = r.below(100);
  if (usel < 5) {
    // missing
  } else if (usel < 15) {
    o.lit(",\"user\":null");
  } else {
    o.lit(",\"user\":");
    write_user(r, o);
  }

  const uint32_t upsel = r.below(100);
  if (upsel < 4) {
    // missing
  } else if (upsel < 18) {
    o.lit(",\"upstream\":null");
  } else {
    o.lit(",\"upstream\":{\"addr\":\"10.");
    o.u64(r.below(4));
    o.put('.');
    o.u64(r.below(256));
    o.put('.');
    o.u64(r.range(1, 254));
    o.put(':');
    o.u64(r.chance(3, 4) ? 8080 : 9000);
    o.lit("\",\"latency_ms\":");
    const uint64_t up_lat = lat * r.range(40, 98) / 100;  // draws in sequence: argument
    const int up_decimals = r.chance(1, 10) ? 0 : 3;       // evaluation order is unspecified
    o.milli(up_lat, up_decimals);
    o.put('}');
  }

  if (r.below(100) >= 3) {  // 3% miss tags
    o.lit(",\"tags\":[");
    const uint32_t n = r.below(5);
    for (uint32_t i = 0; i < n; ++i) {
      if (i) o.put(',');
      o.put('"');
      o.str(pick(r, kTags));
      o.put('"');
    }
    o.put(']');
  }

  const uint32_t rsel = r.below(100);
  if (rsel < 5) {
    // missing
  } else if (rsel < 40) {
    o.lit(",\"referrer\":null");
  } else if (rsel < 45) {
    o.lit(",\"referrer\":\"\"");
  } else {
    o.lit(",\"referrer\":\"");
    o.str(pick(r, kReferrers));
    o.put('"');
  }

  if (r.below(100) >= 2) {  // 2% miss ua
    o.lit(",\"ua\":\"");
    o.str(pick(r, kUserAgents));
    o.put('"');
  }
  o.put('}');
  return info;
}

// ---------------------------------------------------------------- malformed lines

const char* const kTrailingGarbage[] = {"x", "}", ",", " garbage", "]", "{}", "\"", " 1"};
const char* const kBareWords[] = {
    "hello", "undefined", "nil", "True", "ERROR: connection reset by peer", "-", "nan", "GET /",
};
const char* const kBrokenJson[] = {
    "[1,]", "{\"a\":1,}", "{\"a\":}", "{'a':1}", "{a:1}", "{\"a\" 1}", "{\"a\":01}",
    "{\"a\":1 \"b\":2}", "{\"a\":[1,2}",
};
const char* const kUnterminated[] = {
    "{\"msg\":\"unterminated", "\"just a string", "{\"a\":\"b\\\"}", "{\"ts\":\"2024-03-01T00:00",
};
// Invalid UTF-8 sequences put at the start of the path's content.
const char* const kBadUtf8[] = {
    "\xFF", "\xFF", "\xFF\xFE", "\xC3(", "\xC0\xAF", "\xED\xA0\x80", "\xF8\x88\x80\x80\x80",
};

// Replaces the record at [start, o.len()) (no line end yet) with a malformed line.
void damage(Rng& ir, Out& o, size_t start, const RecordInfo& info) {
  const size_t rec_len = o.len() - start;
  switch (ir.below(7)) {
    case 0: {  // truncated JSON: any strict prefix of an object is invalid
      o.truncate(start + 1 + ir.below(static_cast<uint32_t>(rec_len - 1)));
      break;
    }
    case 1: {  // trailing garbage
      if (ir.chance(1, 4)) {
        o.truncate(start);
        o.lit("{\"a\":1}x");
      } else {
        o.str(pick(ir, kTrailingGarbage));
      }
      break;
    }
    case 2: {  // invalid UTF-8 inside a string
      const char* bad = pick(ir, kBadUtf8);
      const size_t n = std::strlen(bad);
      char* at = o.data() + start + info.path_value;
      std::memmove(at + n, at, rec_len - info.path_value);
      std::memcpy(at, bad, n);
      o.truncate(o.len() + n);
      break;
    }
    case 3:
      o.truncate(start);
      o.str(pick(ir, kBareWords));
      break;
    case 4:
      o.truncate(start);
      o.str(pick(ir, kUnterminated));
      break;
    case 5:
      o.truncate(start);
      o.put('}');
      break;
    default:
      o.truncate(start);
      o.str(pick(ir, kBrokenJson));
      break;
  }
}

// ---------------------------------------------------------------- options

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "ppipe-gen: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

bool parse_u64(const char* s, uint64_t& out) {
  if (!*s) return false;
  uint64_t v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    const uint64_t d = static_cast<uint64_t>(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// "123", "64K", "100M", "1G", also "1GiB", "1gb", "1.5G" is not accepted.
bool parse_size(const char* s, uint64_t& out) {
  std::string num, suffix;
  while (*s >= '0' && *s <= '9') num += *s++;
  suffix = s;
  uint64_t v;
  if (!parse_u64(num.c_str(), v)) return false;
  uint64_t mult = 1;
  if (!suffix.empty()) {
    const char c = suffix[0];
    if (c == 'k' || c == 'K') mult = 1ULL << 10;
    else if (c == 'm' || c == 'M') mult = 1ULL << 20;
    else if (c == 'g' || c == 'G') mult = 1ULL << 30;
    else if (c == 't' || c == 'T') mult = 1ULL << 40;
    else if (!(suffix == "b" || suffix == "B")) return false;
    const std::string rest = suffix.substr(1);
    if (mult != 1 && !(rest.empty() || rest == "B" || rest == "iB" || rest == "b" || rest == "ib"))
      return false;
  }
  if (mult != 1 && v > UINT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

struct Options {
  uint64_t seed = 1;
  uint64_t size = 0;     // 0: not given
  uint64_t records = 0;  // 0 with have_records false: not given
  bool have_size = false;
  bool have_records = false;
  uint64_t bad_every = 0;
  uint64_t crlf_every = 0;
  bool stats = false;
};

Options parse_args(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string val;
    bool has_inline = false;
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto value = [&]() -> std::string {
      if (has_inline) return val;
      if (i + 1 >= argc) usage_error("option " + a + " needs a value");
      return argv[++i];
    };
    auto number = [&](uint64_t& out, bool allow_zero) {
      const std::string v = value();
      if (!parse_u64(v.c_str(), out) || (!allow_zero && out == 0))
        usage_error("bad value for " + a + ": '" + v + "'");
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--seed") {
      number(opt.seed, true);
    } else if (a == "--size") {
      const std::string v = value();
      if (!parse_size(v.c_str(), opt.size)) usage_error("bad size: '" + v + "'");
      opt.have_size = true;
    } else if (a == "--records") {
      number(opt.records, true);
      opt.have_records = true;
    } else if (a == "--bad-every") {
      number(opt.bad_every, false);
    } else if (a == "--crlf-every") {
      number(opt.crlf_every, false);
    } else if (a == "--stats" && !has_inline) {
      opt.stats = true;
    } else {
      usage_error("unknown argument: " + std::string(argv[i]));
    }
  }
  if (opt.have_size && opt.have_records) usage_error("--size and --records are exclusive");
  if (!opt.have_size && !opt.have_records) {
    opt.have_records = true;
    opt.records = 1000;
  }
  if (opt.bad_every > 0xFFFFFFFFULL / 2 || opt.crlf_every > 0xFFFFFFFFULL)
    usage_error("--bad-every / --crlf-every too large");
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);

  Rng rec_rng(opt.seed);
  Rng inj_rng(opt.seed ^ 0xA5A5F00DC0FFEE11ULL);
  // 2024-03-01T00:00:00Z plus up to a day, by seed.
  Clock clock(1709251200000ULL + rec_rng.below(86400) * 1000ULL);
  Out out;

  const uint32_t bad_every = static_cast<uint32_t>(opt.bad_every);
  const uint32_t crlf_every = static_cast<uint32_t>(opt.crlf_every);
  uint64_t lines = 0, valid = 0, bad = 0, blank = 0, crlf = 0;

  while (opt.have_records ? lines < opt.records : out.total() < opt.size) {
    const size_t start = out.len();
    const RecordInfo info = write_record(rec_rng, clock, out);

    // Injection decisions: one draw each per line, always, so the stream stays aligned.
    const uint32_t bad_draw = bad_every ? inj_rng.below(2 * bad_every) : 1;
    const bool crlf_line = crlf_every && inj_rng.below(crlf_every) == 0;
    if (bad_every && bad_draw < 2) {
      damage(inj_rng, out, start, info);
      ++bad;
    } else if (bad_every && bad_draw == 2) {
      out.truncate(start);  // blank line
      ++blank;
    } else {
      ++valid;
    }
    if (crlf_line && out.len() != start) {  // blank lines stay plain "\n"
      out.put('\r');
      ++crlf;
    }
    out.put('\n');
    ++lines;
    if (!out.flush_if_full(stdout)) break;
  }
  const bool ok = out.flush(stdout) && std::fflush(stdout) == 0;
  if (!ok) {
    std::fputs("ppipe-gen: write error on standard output\n", stderr);
    return 1;
  }
  if (opt.stats) {
    std::fprintf(stderr,
                 "{\"lines\":%llu,\"records\":%llu,\"bad\":%llu,\"blank\":%llu,\"crlf\":%llu,"
                 "\"bytes\":%llu}\n",
                 static_cast<unsigned long long>(lines), static_cast<unsigned long long>(valid),
                 static_cast<unsigned long long>(bad), static_cast<unsigned long long>(blank),
                 static_cast<unsigned long long>(crlf),
                 static_cast<unsigned long long>(out.total()));
  }
  return 0;
}
