// Proves that evaluating the common expressions does not touch the heap once warm.
//
// This file replaces the global operator new/delete for the whole test binary. The replacement
// only counts while the current thread has switched counting on, so other tests are unaffected.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "src/expr/expr.h"

namespace {

thread_local bool g_counting = false;
thread_local long g_allocations = 0;

void* counted_alloc(std::size_t size) {
  if (g_counting) ++g_allocations;
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* counted_alloc_aligned(std::size_t size, std::size_t align) {
  if (g_counting) ++g_allocations;
  std::size_t rounded = (size + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded == 0 ? align : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

struct CountScope {
  CountScope() {
    g_allocations = 0;
    g_counting = true;
  }
  ~CountScope() { g_counting = false; }
};

}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size); }
void* operator new[](std::size_t size) { return counted_alloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_alloc_aligned(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_alloc_aligned(size, static_cast<std::size_t>(align));
}
// GCC cannot see that these replace the global allocation functions together with the operator
// new above (both malloc based), and warns about free() on memory "from" new[].
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

TEST_CASE("expr alloc: the counter sees allocations", "[expr][alloc]") {
  long seen;
  {
    CountScope scope;
    auto* v = new std::vector<int>(100);
    delete v;
    seen = g_allocations;
  }
  CHECK(seen >= 2);
}

TEST_CASE("expr alloc: no heap allocation per record on the common path", "[expr][alloc]") {
  const char* exprs[] = {
      ".status >= 500",
      "(.path|startswith(\"/api\")) and .user.country == \"DE\"",
      "{host, status, latency_ms}",
      // A few more that only use the arena.
      "select(.status >= 500 and (.user.agent | test(\"linux\"; \"i\")))",
      "{url: (.host + .path), slow: (.latency_ms > 100), tags: (.tags | join(\",\"))}",
      ".user.country // \"??\" | ascii_downcase",
      "[.tags[] | ascii_upcase]",
      ".msg | tostring | length",
      ".",
      // String interpolation, and generators at the top (several values per record).
      "\"\\(.host) \\(.status) \\(.path) \\(.latency_ms) \\(.user)\"",
      ".tags[]?",
      ".host, .status, (.tags[] | ascii_upcase)",
      "reduce .tags[]? as $t (0; . + ($t | length))",
  };
  // Records of varying shapes; all parsed once up front into padded strings.
  std::vector<std::string> records;
  for (int i = 0; i < 200; ++i) {
    std::string r = "{\"ts\":\"2024-05-01T12:00:" + std::to_string(i % 60) + "Z\",\"host\":\"h" +
                    std::to_string(i % 7) + ".example.com\",\"path\":\"" +
                    (i % 3 == 0 ? "/api/v1/users" : "/index.html") + "\",\"status\":" +
                    std::to_string(i % 10 == 0 ? 503 : 200) + ",\"latency_ms\":" + std::to_string(i * 1.5) +
                    ",\"user\":{\"id\":" + std::to_string(i) + ",\"country\":\"" + (i % 4 == 0 ? "DE" : "US") +
                    "\",\"agent\":\"Mozilla/5.0 (X11; Linux x86_64)\"},\"tags\":[\"a\",\"b" +
                    std::to_string(i % 5) + "\"],\"msg\":\"caf\\u00e9 " + std::to_string(i) + "\"}";
    records.push_back(r);
  }
  std::vector<simdjson::padded_string> padded;
  for (const std::string& r : records) padded.emplace_back(r);

  for (const char* expr : exprs) {
    INFO(expr);
    auto program = std::get<0>(ppipe::expr::compile(expr));
    simdjson::dom::parser parser;
    ppipe::expr::Scratch scratch;
    std::string out;
    out.reserve(1 << 20);
    // Warm-up: parser capacity, arena blocks, regex DFA states.
    for (int round = 0; round < 2; ++round) {
      for (const auto& p : padded) {
        simdjson::dom::element doc = parser.parse(p).value();
        std::span<const ppipe::expr::Value> values;
        REQUIRE(ppipe::expr::evaluate_all(*program, doc, scratch, values) != ppipe::expr::Outcome::kError);
        for (const auto& v : values) ppipe::expr::append_json(v, out);
      }
      out.clear();
    }
    long allocations;
    long truthy = 0;
    {
      CountScope scope;
      for (int round = 0; round < 20; ++round) {
        for (const auto& p : padded) {
          simdjson::dom::element doc = parser.parse(p).value();
          if (ppipe::expr::is_multi(*program)) {
            std::span<const ppipe::expr::Value> values;
            truthy += ppipe::expr::evaluate_all(*program, doc, scratch, values) == ppipe::expr::Outcome::kValue;
            for (const auto& v : values) ppipe::expr::append_json(v, out);
            continue;
          }
          ppipe::expr::Result r = ppipe::expr::evaluate(*program, doc, scratch);
          truthy += ppipe::expr::is_truthy(r);
          ppipe::expr::append_json(r, out);
        }
        out.clear();
      }
      allocations = g_allocations;
    }
    CHECK(allocations == 0);
    CHECK(truthy > 0);
  }
}
