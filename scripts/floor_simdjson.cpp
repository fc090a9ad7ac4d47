// The floor ppipe measures itself against: a hand-written program that does only what `ppipe
// --stages parse` must do at minimum, full validation of each line with simdjson's DOM parser, on
// T threads over a file loaded in memory, no output. Used by scripts/bench, not by ppipe.
//
//   ppipe-floor FILE [THREADS]   -> prints valid/invalid line counts and MB/s (load time excluded)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ppipe-floor FILE [THREADS]\n");
    return 2;
  }
  unsigned threads = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 1;
  simdjson::padded_string data;
  if (simdjson::padded_string::load(argv[1]).get(data)) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const char* begin = data.data();
  const char* end = begin + data.size();
  std::vector<const char*> cuts{begin};
  for (unsigned t = 1; t < threads; ++t) {
    const char* p = begin + data.size() * t / threads;
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    cuts.push_back(nl ? nl + 1 : end);
  }
  cuts.push_back(end);
  std::vector<std::size_t> valid(threads), invalid(threads);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      for (const char* p = cuts[t]; p < cuts[t + 1];) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(cuts[t + 1] - p)));
        const char* line_end = nl ? nl : cuts[t + 1];
        if (parser.parse(p, static_cast<std::size_t>(line_end - p), false).get(doc)) ++invalid[t];
        else ++valid[t];
        p = line_end + 1;
      }
    });
  }
  for (auto& th : pool) th.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::size_t v = 0, inv = 0;
  for (unsigned t = 0; t < threads; ++t) v += valid[t], inv += invalid[t];
  std::printf("{\"threads\":%u,\"valid\":%zu,\"invalid\":%zu,\"seconds\":%.3f,\"mb_per_second\":%.1f}\n", threads, v,
              inv, s, data.size() / s / 1e6);
  return 0;
}
