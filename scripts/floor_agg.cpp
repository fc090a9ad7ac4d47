// The group-by floor ppipe measures itself against: a hand-written program that does at least
// the work of `ppipe -j T --group-by KEYPATH --agg 'count, sum(.bytes), avg(.latency_ms),
// max(.latency_ms)' FILE`, the fast simple way, with no exactness guarantees (plain double sums).
// Used by scripts/bench, not by ppipe.
//
//   ppipe-floor-agg FILE KEYPATH [THREADS]   (KEYPATH: .host, .user.id, ...; THREADS default 2)
//
// - Reading: T threads take 1 MiB chunks of FILE in turn (an atomic counter) and pread each into
//   their own padded buffer; a thread handles the lines that start in its chunk, reading on past the
//   chunk's end for the last one. Nothing is loaded whole; reading is part of the timed run.
// - Each line is parsed in full (validated) with simdjson::dom::parser::parse; invalid lines are
//   counted (stderr) and skipped; empty lines are skipped.
// - Per thread, open-addressing hash maps written here (linear probing, the group's sums in the
//   slot): int64 keys (table from mmap with transparent huge pages; each record's slot is
//   prefetched and updated one record later, so the next parse hides the cache miss) and string
//   keys; non-integral numbers, booleans and other keys (arrays, objects, as minified text) in
//   std::maps, null in one slot. With std::unordered_map<int64_t, Agg> instead, .user.id on 1 GiB
//   (1.4 M groups) took about 1.6 times the wall time and twice the user CPU.
// - At the end each thread sorts its int groups in place; T threads then merge the T sorted lists
//   (adding up equal keys) and format key ranges in parallel, written in order: jq's order (null,
//   false, true, numbers by value, strings by bytes, then arrays/objects by their text).
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include "src/util/json_string.h"  // strings escaped as ppipe (and jq -c) escape them

namespace {

struct Agg {
  std::uint64_t count = 0;  // records; 0 marks an empty slot in the maps
  std::uint64_t n_bytes = 0;
  std::int64_t sum_bytes = 0;
  std::uint64_t n_lat = 0;
  double sum_lat = 0;
  double max_lat = 0;

  void merge(const Agg& o) {
    if (o.n_lat && (!n_lat || o.max_lat > max_lat)) max_lat = o.max_lat;
    count += o.count, n_bytes += o.n_bytes, sum_bytes += o.sum_bytes, n_lat += o.n_lat, sum_lat += o.sum_lat;
  }
};

inline std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// Zeroed memory from mmap, with transparent huge pages asked for when large (fewer page faults
// and TLB misses on a table of a million groups).
void* zeroed(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  if (bytes >= (4 << 20)) ::madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

// Open addressing, linear probing, power-of-two capacity, grown at 70% load. Slot::second.count
// == 0 means empty (so zeroed memory is an empty table).
struct IntMap {
  struct Slot {  // named like a pair's members, for merge_runs
    std::int64_t first;
    Agg second;
  };
  Slot* slots = nullptr;
  std::size_t cap = 0, size = 0;

  IntMap() { alloc(1024); }
  ~IntMap() { release(); }
  IntMap(const IntMap&) = delete;
  IntMap& operator=(const IntMap&) = delete;
  void alloc(std::size_t n) {
    cap = n;
    slots = static_cast<Slot*>(zeroed(n * sizeof(Slot)));
  }
  void release() {
    if (slots) ::munmap(slots, cap * sizeof(Slot));
    slots = nullptr;
  }
  std::size_t home(std::int64_t key) const { return mix(static_cast<std::uint64_t>(key)) & (cap - 1); }
  void prefetch(std::int64_t key) const { __builtin_prefetch(&slots[home(key)], 1); }
  Agg& at(std::int64_t key) {
    std::size_t mask = cap - 1;
    for (std::size_t i = home(key);; i = (i + 1) & mask) {
      Slot& s = slots[i];
      if (s.second.count == 0) {
        if ((size + 1) * 10 > cap * 7) {
          grow();
          return at(key);
        }
        ++size;
        s.first = key;
        return s.second;
      }
      if (s.first == key) return s.second;
    }
  }
  void grow() {
    Slot* old = slots;
    std::size_t old_cap = cap;
    alloc(cap * 2);
    std::size_t mask = cap - 1;
    for (std::size_t j = 0; j < old_cap; ++j) {
      if (old[j].second.count == 0) continue;
      std::size_t i = home(old[j].first);
      while (slots[i].second.count) i = (i + 1) & mask;
      slots[i] = old[j];
    }
    ::munmap(old, old_cap * sizeof(Slot));
  }
};

struct StrMap {
  struct Slot {
    std::uint64_t hash;
    std::string key;
    Agg agg;
  };
  std::vector<Slot> slots = std::vector<Slot>(64);
  std::size_t size = 0;

  static std::uint64_t hash_of(std::string_view s) {  // FNV-1a over 8-byte words, then mixed
    std::uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
    return mix(h);
  }
  Agg& at(std::string_view key) {
    std::uint64_t h = hash_of(key);
    std::size_t mask = slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots[i];
      if (s.agg.count == 0) {
        if ((size + 1) * 10 > slots.size() * 7) {
          grow();
          return at(key);
        }
        ++size;
        s.hash = h;
        s.key.assign(key);
        return s.agg;
      }
      if (s.hash == h && s.key == key) return s.agg;
    }
  }
  void grow() {
    std::vector<Slot> old(slots.size() * 2);
    old.swap(slots);
    std::size_t mask = slots.size() - 1;
    for (Slot& s : old) {
      if (s.agg.count == 0) continue;
      std::size_t i = s.hash & mask;
      while (slots[i].agg.count) i = (i + 1) & mask;
      slots[i] = std::move(s);
    }
  }
};

// One thread's groups; after the input, sorted lists of them.
struct Groups {
  Agg null_key, false_key, true_key;
  IntMap ints;
  std::map<double, Agg> doubles;  // non-integral numbers and integers beyond int64
  StrMap strings;
  std::map<std::string, Agg> others;  // arrays and objects, as minified JSON

  std::span<const IntMap::Slot> int_list;  // the groups of `ints`, moved to its front and sorted
  std::vector<std::pair<std::string, Agg>> str_list;
  std::size_t valid = 0, invalid = 0;

  void finish() {
    std::size_t n = 0;
    for (std::size_t i = 0; i < ints.cap; ++i)
      if (ints.slots[i].second.count) ints.slots[n++] = ints.slots[i];
    std::sort(ints.slots, ints.slots + n, [](const auto& a, const auto& b) { return a.first < b.first; });
    int_list = {ints.slots, n};
    str_list.reserve(strings.size);
    for (auto& s : strings.slots)
      if (s.agg.count) str_list.emplace_back(std::move(s.key), s.agg);
    strings = StrMap{};
    std::sort(str_list.begin(), str_list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
};

// A record's values: .bytes (as int64) and .latency_ms, each when a number.
struct Values {
  std::int64_t bytes = 0;
  double lat = 0;
  bool has_bytes = false, has_lat = false;
};

inline void add(Agg& g, const Values& v) {
  ++g.count;
  if (v.has_bytes) ++g.n_bytes, g.sum_bytes += v.bytes;
  if (v.has_lat) {
    if (!g.n_lat || v.lat > g.max_lat) g.max_lat = v.lat;
    ++g.n_lat;
    g.sum_lat += v.lat;
  }
}

// Adds a record to its group. An int64 key's group is added to one record later, after a prefetch
// of its slot (the next line's parse hides the cache miss of a table of a million groups).
struct Aggregator {
  Groups& gs;
  const std::vector<std::string>& path;
  bool pending = false;
  std::int64_t pending_key = 0;
  Values pending_values;

  Aggregator(Groups& g, const std::vector<std::string>& p) : gs(g), path(p) {}
  void flush() {
    if (pending) add(gs.ints.at(pending_key), pending_values);
    pending = false;
  }

  void record(simdjson::dom::element doc) {
    using T = simdjson::dom::element_type;
    simdjson::dom::element key;
    bool has_key = false;
    Values v;
    simdjson::dom::object obj;
    if (!doc.get_object().get(obj)) {
      // One pass over the top-level members for the key's first component, .bytes, .latency_ms.
      for (auto field : obj) {
        if (field.key == path[0]) key = field.value, has_key = true;
        if (field.key == "bytes") {
          simdjson::dom::element e = field.value;
          switch (e.type()) {
            case T::INT64: v.has_bytes = true, v.bytes = e.get_int64().value_unsafe(); break;
            case T::UINT64: v.has_bytes = true, v.bytes = static_cast<std::int64_t>(e.get_uint64().value_unsafe()); break;
            case T::DOUBLE: v.has_bytes = true, v.bytes = static_cast<std::int64_t>(e.get_double().value_unsafe()); break;
            default: break;  // null (skipped); other types: ppipe fails, the floor ignores them
          }
        } else if (field.key == "latency_ms" && field.value.is_number()) {
          v.has_lat = true, v.lat = field.value.get_double().value_unsafe();
        }
      }
      for (std::size_t i = 1; i < path.size() && has_key; ++i) {
        simdjson::dom::object o;
        has_key = !key.get_object().get(o) && !o.at_key(path[i]).get(key);
      }
    }
    std::int64_t ikey;
    if (!has_key) {
      add(gs.null_key, v);
      return;
    }
    switch (key.type()) {
      case T::NULL_VALUE: add(gs.null_key, v); return;
      case T::BOOL: add(key.get_bool().value_unsafe() ? gs.true_key : gs.false_key, v); return;
      case T::STRING: add(gs.strings.at(key.get_string().value_unsafe()), v); return;
      case T::INT64: ikey = key.get_int64().value_unsafe(); break;
      case T::UINT64:
      case T::DOUBLE: {
        double d = key.get_double().value_unsafe();
        if (d == std::trunc(d) && std::fabs(d) < 9.2e18) {
          ikey = static_cast<std::int64_t>(d);
          break;
        }
        add(gs.doubles[d], v);
        return;
      }
      default: add(gs.others[simdjson::minify(key)], v); return;
    }
    gs.ints.prefetch(ikey);
    flush();
    pending = true, pending_key = ikey, pending_values = v;
  }
};

constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kMore = 16 << 10;

// Reads [from, to) of fd (clipped to size) onto the end of buf, keeping SIMDJSON_PADDING spare.
void read_into(int fd, std::vector<char>& buf, std::size_t& len, std::size_t from, std::size_t to) {
  std::size_t want = to - from;
  if (buf.size() < len + want + simdjson::SIMDJSON_PADDING) buf.resize(len + want + simdjson::SIMDJSON_PADDING);
  while (want) {
    ssize_t r = ::pread(fd, buf.data() + len, want, static_cast<off_t>(from));
    if (r <= 0) {
      std::perror("pread");
      std::exit(1);
    }
    len += static_cast<std::size_t>(r), from += static_cast<std::size_t>(r), want -= static_cast<std::size_t>(r);
  }
}

void worker(int fd, std::size_t file_size, std::atomic<std::size_t>& next, const std::vector<std::string>& path,
            Groups& gs) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  Aggregator agg{gs, path};
  std::vector<char> buf(kChunk + kMore + simdjson::SIMDJSON_PADDING);
  for (;;) {
    std::size_t s = next.fetch_add(1) * kChunk;
    if (s >= file_size) break;
    std::size_t e = std::min(s + kChunk, file_size);
    std::size_t base = s ? s - 1 : 0;  // buf[0] is file byte `base`
    std::size_t len = 0;
    read_into(fd, buf, len, base, e);
    std::size_t p = 0;
    if (s) {  // the first line starting at or after s: after the first '\n' at or after s - 1
      const char* nl = static_cast<const char*>(std::memchr(buf.data(), '\n', len));
      if (!nl) continue;
      p = static_cast<std::size_t>(nl - buf.data()) + 1;
    }
    while (base + p < e) {  // lines that start in [s, e)
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + p, '\n', len - p));
      while (!nl && base + len < file_size) {  // the last line runs past e: read on
        std::size_t old = len;
        read_into(fd, buf, len, base + len, std::min(base + len + kMore, file_size));
        nl = static_cast<const char*>(std::memchr(buf.data() + old, '\n', len - old));
      }
      std::size_t line_end = nl ? static_cast<std::size_t>(nl - buf.data()) : len;
      std::size_t n = line_end - p;
      if (n && buf[p + n - 1] == '\r') --n;
      if (n) {
        if (parser.parse(buf.data() + p, n, false).get(doc)) ++gs.invalid;
        else ++gs.valid, agg.record(doc);
      }
      p = line_end + 1;
    }
  }
  agg.flush();
  gs.finish();
}

// Output ---------------------------------------------------------------------------------------

void put_int(std::string& out, std::int64_t i) {
  char b[24];
  out.append(b, std::to_chars(b, b + sizeof b, i).ptr);
}

void put_double(std::string& out, double d) {  // jq's way: integral values within 1e17 as integers
  if (std::isnan(d)) {
    out += "null";
    return;
  }
  if (d == std::trunc(d) && std::fabs(d) < 1e17) {
    put_int(out, static_cast<std::int64_t>(d));
    return;
  }
  char b[40];
  out.append(b, std::to_chars(b, b + sizeof b, d).ptr);
}

// One output line after the key's text ({"NAME":KEY).
void put_rest(std::string& out, const Agg& g) {
  out += ",\"count\":";
  put_int(out, static_cast<std::int64_t>(g.count));
  out += ",\"sum_bytes\":";
  if (g.n_bytes) put_int(out, g.sum_bytes);
  else out += "null";
  out += ",\"avg_latency_ms\":";
  if (g.n_lat) put_double(out, g.sum_lat / static_cast<double>(g.n_lat));
  else out += "null";
  out += ",\"max_latency_ms\":";
  if (g.n_lat) put_double(out, g.max_lat);
  else out += "null";
  out += "}\n";
}

void write_out(std::string& out) {
  if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) {
    std::perror("write");
    std::exit(1);
  }
  out.clear();
}

// Merges sorted runs [begin, end) (one per thread; equal keys added up) in key order, calling
// emit(key, agg).
template <class P, class F>
void merge_runs(std::vector<std::pair<const P*, const P*>> runs, F emit) {
  for (;;) {
    const P* best = nullptr;
    for (auto& [b, e] : runs)
      if (b != e && (!best || b->first < best->first)) best = b;
    if (!best) return;
    Agg sum;
    const auto key = best->first;
    for (auto& [b, e] : runs)
      if (b != e && b->first == key) sum.merge((b++)->second);
    emit(key, sum);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argv[2][0] != '.') {
    std::fprintf(stderr, "usage: ppipe-floor-agg FILE KEYPATH [THREADS]   (KEYPATH like .host or .user.id)\n");
    return 2;
  }
  std::vector<std::string> path;
  for (std::string_view rest(argv[2] + 1);;) {
    auto dot = rest.find('.');
    path.emplace_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  unsigned threads = argc > 3 ? static_cast<unsigned>(std::stoul(argv[3])) : 2;
  if (threads == 0) threads = 1;
  int fd = ::open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  auto file_size = static_cast<std::size_t>(st.st_size);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  std::atomic<std::size_t> next{0};
  std::vector<Groups> groups(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { worker(fd, file_size, next, path, groups[t]); });
  for (auto& th : pool) th.join();
  ::close(fd);

  // Merge and write in jq's order: null, false, true, numbers, strings, the rest.
  Agg null_key, false_key, true_key;
  std::map<double, Agg> doubles;
  std::map<std::string, Agg> others;
  std::size_t valid = 0, invalid = 0;
  std::vector<std::span<const IntMap::Slot>> int_lists;
  std::vector<std::vector<std::pair<std::string, Agg>>*> str_lists;
  for (auto& g : groups) {
    if (g.null_key.count) null_key.merge(g.null_key);
    if (g.false_key.count) false_key.merge(g.false_key);
    if (g.true_key.count) true_key.merge(g.true_key);
    for (auto& [k, a] : g.doubles) doubles[k].merge(a);
    for (auto& [k, a] : g.others) others[k].merge(a);
    int_lists.push_back(g.int_list);
    str_lists.push_back(&g.str_list);
    valid += g.valid, invalid += g.invalid;
  }
  std::string prefix = "{";  // {"NAME":
  ppipe::append_json_string_jq(prefix, path.back());
  prefix += ':';
  std::string out;
  out.reserve(8 << 20);
  auto plain = [&](const Agg& a, const char* text) {
    if (!a.count) return;
    out += prefix;
    out += text;
    put_rest(out, a);
  };
  plain(null_key, "null");
  plain(false_key, "false");
  plain(true_key, "true");
  write_out(out);

  // Numbers (int64 keys, with the rare non-integral ones between them), formatted on T threads:
  // key ranges cut at quantiles of the longest list, taken in turns; written in order as they
  // come.
  using IntPair = IntMap::Slot;
  std::span<const IntPair> longest = int_lists[0];
  for (auto l : int_lists)
    if (l.size() > longest.size()) longest = l;
  std::vector<std::int64_t> cuts;  // piece i: keys in [cuts[i - 1], cuts[i]), open at both ends
  std::size_t pieces = std::min<std::size_t>(64, longest.size() / 4096 + 1);
  for (std::size_t i = 1; i < pieces; ++i) cuts.push_back(longest[longest.size() * i / pieces].first);
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  pieces = cuts.size() + 1;
  std::vector<std::string> texts(pieces);
  std::vector<std::atomic<bool>> done(pieces);
  std::atomic<std::size_t> next_piece{0};
  auto format = [&] {
    for (std::size_t i; (i = next_piece.fetch_add(1)) < pieces;) {
      std::string& o = texts[i];
      double lo = i ? static_cast<double>(cuts[i - 1]) : -INFINITY;
      double hi = i + 1 < pieces ? static_cast<double>(cuts[i]) : INFINITY;
      auto d = doubles.lower_bound(lo);
      auto doubles_below = [&](double limit) {
        for (; d != doubles.end() && d->first < limit; ++d) {
          o += prefix;
          put_double(o, d->first);
          put_rest(o, d->second);
        }
      };
      std::vector<std::pair<const IntPair*, const IntPair*>> runs;
      auto below = [](const IntPair& x, std::int64_t k) { return x.first < k; };
      for (auto l : int_lists) {
        const IntPair* b = l.data();
        const IntPair* e = l.data() + l.size();
        if (i) b = std::lower_bound(b, e, cuts[i - 1], below);
        if (i + 1 < pieces) e = std::lower_bound(b, e, cuts[i], below);
        runs.emplace_back(b, e);
      }
      merge_runs(runs, [&](std::int64_t k, const Agg& a) {
        doubles_below(static_cast<double>(k));
        o += prefix;
        put_int(o, k);
        put_rest(o, a);
      });
      doubles_below(hi);
      done[i].store(true, std::memory_order_release);
      done[i].notify_one();
    }
  };
  pool.clear();
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(format);
  for (std::size_t i = 0; i < pieces; ++i) {
    done[i].wait(false, std::memory_order_acquire);
    write_out(texts[i]);
    std::string().swap(texts[i]);
  }
  for (auto& th : pool) th.join();

  // Strings (on this thread), then arrays and objects (by their text, not in jq's order).
  std::vector<std::pair<const std::pair<std::string, Agg>*, const std::pair<std::string, Agg>*>> str_runs;
  for (auto* l : str_lists) str_runs.emplace_back(l->data(), l->data() + l->size());
  merge_runs(str_runs, [&](const std::string& k, const Agg& a) {
    out += prefix;
    ppipe::append_json_string_jq(out, k);
    put_rest(out, a);
    if (out.size() >= (4 << 20)) write_out(out);
  });
  for (auto& [k, a] : others) {
    out += prefix;
    out += k;
    put_rest(out, a);
  }
  write_out(out);
  std::fprintf(stderr, "ppipe-floor-agg: %zu valid lines, %zu invalid\n", valid, invalid);
  return 0;
}
