#include "stages/agg/aggregates.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <vector>
#include <utility>

#include <fmt/format.h>

#include "src/util/text_util.h"
// jq 1.6's number layout and JSON string escaping live in the expression library's writer; the
// aggregates print exactly as the rest of ppipe does.
#include "src/expr/internal.h"
#include "src/util/json_string.h"
#include "stages/agg/exact_sum.h"
#include "stages/json_diagnose.h"

namespace ppipe::agg {

namespace {

using Type = Value::Type;

bool is_number(const Value& v) {
  return v.type == Type::kInt || v.type == Type::kUint || v.type == Type::kDouble;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kNull: return "null";
    case Type::kInt:
    case Type::kUint:
    case Type::kDouble: return "number";
    case Type::kString: return "string";
    case Type::kJson: return "non-number";
  }
  return "value";
}

bool type_error(const char* agg, const Value& v, std::string* error) {
  if (v.type == Type::kJson) {
    *error = fmt::format("{}: {} is not a number", agg, v.text.substr(0, 40));
  } else {
    *error = fmt::format("{}: a {} is not a number", agg, type_name(v.type));
  }
  return false;
}

void write_uint(std::uint64_t u, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, u);
  out.append(buf, r.ptr);
}

void write_value(const Value& v, std::string& out) {
  switch (v.type) {
    case Type::kNull: out += "null"; return;
    case Type::kInt: expr::write_int(v.i, out); return;
    case Type::kUint: write_uint(v.u, out); return;
    case Type::kDouble: expr::write_double(v.d, out); return;
    case Type::kString: append_json_string_jq(out, v.text); return;
    case Type::kJson: out.append(v.text); return;
  }
}

// Lossless double text for partials: shortest round-trip digits, "nan", "inf", "-inf", "-0".
std::string double_text(double d) {
  if (std::isnan(d)) return "nan";
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

bool parse_double_text(std::string_view s, double* d) {
  if (s == "nan") {
    *d = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  auto r = std::from_chars(s.data(), s.data() + s.size(), *d);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool bad_partial(const char* what, std::string* error) {
  *error = fmt::format("malformed partial state: {}", what);
  return false;
}

// One JSON value in compact form, as first/last and collect keep their values (their partials
// carry that text, and the result writes it out as it is): anything else in a partial would make
// the output invalid JSON.
bool is_compact_json_value(std::string_view text) {
  thread_local simdjson::dom::parser parser;  // not the caller's: its document stays valid
  simdjson::dom::element ignored;
  const simdjson::error_code e = parser.parse(text.data(), text.size(), true).get(ignored);
  // Numbers simdjson cannot hold (integers beyond 64 bits, as jq writes 1e25) are valid JSON:
  // then the grammar is checked as parse does for such records.
  if (e != simdjson::SUCCESS && !refused_only_for_numbers(text, e)) return false;
  std::string min(text.size() + 1, '\0');
  std::size_t n = 0;
  return simdjson::minify(text.data(), text.size(), min.data(), n) == simdjson::SUCCESS &&
         std::string_view(min.data(), n) == text;
}

// A tagged number for min/max and their partials: "i-5", "u18446744073709551615", "d1.5".
struct Number {
  Type type = Type::kNull;
  union {  // the one of `type`
    std::int64_t i = 0;
    std::uint64_t u;
    double d;
  };

  static Number of(const Value& v) {
    Number n;
    n.type = v.type;
    if (v.type == Type::kInt) n.i = v.i;
    else if (v.type == Type::kUint) n.u = v.u;
    else n.d = v.d;
    return n;
  }

  long double exact() const {  // int64, uint64 and double all convert exactly to x87 long double
    return type == Type::kInt ? static_cast<long double>(i)
         : type == Type::kUint ? static_cast<long double>(u) : static_cast<long double>(d);
  }
  int rank() const {
    if (type == Type::kDouble) return d == 0 && std::signbit(d) ? 0 : 3;
    return type == Type::kInt ? 1 : 2;
  }
  bool is_nan() const { return type == Type::kDouble && std::isnan(d); }
  std::string text() const {
    if (type == Type::kInt) return "i" + std::to_string(i);
    if (type == Type::kUint) return "u" + std::to_string(u);
    return "d" + double_text(d);
  }
  bool parse(std::string_view s) {
    if (s.empty()) return false;
    std::string_view rest = s.substr(1);
    const char* end = rest.data() + rest.size();
    switch (s[0]) {
      // (ec too: a number out of range leaves i or u as it was, with ptr at the end)
      case 'i': {
        type = Type::kInt;
        auto r = std::from_chars(rest.data(), end, i);
        return r.ec == std::errc() && r.ptr == end && !rest.empty();
      }
      case 'u': {
        type = Type::kUint;
        auto r = std::from_chars(rest.data(), end, u);
        return r.ec == std::errc() && r.ptr == end && !rest.empty();
      }
      case 'd': type = Type::kDouble; return parse_double_text(rest, &d);
      default: return false;
    }
  }
};

// Total order: NaN lowest, then by exact value, ties by rank.
bool number_less(const Number& a, const Number& b) {
  if (a.is_nan() || b.is_nan()) return a.is_nan() && !b.is_nan();
  long double x = a.exact(), y = b.exact();
  if (x != y) return x < y;
  return a.rank() < b.rank();
}

void write_number(const Number& n, std::string& out) {
  Value v;
  v.type = n.type;
  if (n.type == Type::kInt) v.i = n.i;
  else if (n.type == Type::kUint) v.u = n.u;
  else v.d = n.d;
  write_value(v, out);
}

// IEEE total order as an unsigned key (NaNs are canonicalised to +qNaN on input: last).
std::uint64_t order_key(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return (b >> 63) ? ~b : b | (std::uint64_t{1} << 63);
}

void add_sum_value(ExactSum& s, const Value& v) {
  switch (v.type) {
    case Type::kInt: s.add(v.i); break;
    case Type::kUint: s.add(v.u); break;
    default: s.add(v.d); break;
  }
}

void add_square_value(ExactSum& s, const Value& v) {
  switch (v.type) {
    case Type::kInt: s.add_square(v.i); break;
    case Type::kUint: s.add_square(v.u); break;
    default: s.add_square(v.d); break;
  }
}

bool get_sum(simdjson::dom::element e, const char* key, ExactSum* s) {
  std::string_view text;
  if (e[key].get(text)) return false;
  return s->from_text(text);
}

bool get_position(simdjson::dom::element e, std::uint64_t part, Position* pos) {
  simdjson::dom::array a;
  if (e.get(a) || a.size() != 2) return false;
  pos->part = part;
  return !a.at(0).get(pos->seq) && !a.at(1).get(pos->index);
}

// A partial carries, for first/last/collect, only the order of its positions: `[0,RANK]`, the
// rank among the state's own values. Positions are compared only between states of different
// partial lines, which the merge tells apart by `part` (the line's input position), so the
// ranks keep what matters, and the text of a partial does not depend on --batch-size or
// --workers; a merge's own partial (a merge of merges) needs no deeper positions either.
void write_rank(std::uint64_t rank, std::string& out) {
  out += "[0,";
  write_uint(rank, out);
  out += ']';
}

// --- the aggregates
//
// Each is a class template on its base: Aggregate for make_aggregate (virtual calls), or
// InlineBase, empty, for the groups' blocks, where a table of functions per type stands for the
// vtable (AggregateOps): no pointer in each aggregate of each group.

struct InlineBase {
  bool ok(std::string*) const { return true; }
  std::uint64_t held() const { return 0; }
};

// count (records) and count(E) (non-null values): a template, so that the state is the count
// alone (agg keeps one per group, and a million groups).
template <bool kValuesOnly, class Base>
class CountT final : public Base {
 public:
  AggregateKind kind() const { return kValuesOnly ? AggregateKind::kCountValues : AggregateKind::kCount; }
  bool add(const Value& v, const Position&, std::string*) {
    if (!kValuesOnly || v.type != Type::kNull) ++n_;
    return true;
  }
  void merge(Base& other) { n_ += static_cast<CountT&>(other).n_; }  // the same kValuesOnly
  bool result(std::string* out, std::string*) const {
    write_uint(n_, *out);
    return true;
  }
  void write_partial(std::string* out) const { write_uint(n_, *out); }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    if (e.get(n_)) return bad_partial("count", error);
    return true;
  }

 private:
  std::uint64_t n_ = 0;
};

template <class Base>
class SumT final : public Base {
 public:
  AggregateKind kind() const { return AggregateKind::kSum; }
  bool add(const Value& v, const Position&, std::string* error) {
    if (v.type == Type::kNull) return true;
    if (!is_number(v)) return type_error("sum", v, error);
    add_sum_value(s_, v);
    return true;
  }
  void merge(Base& other) { s_.merge(static_cast<SumT&>(other).s_); }
  bool result(std::string* out, std::string*) const {
    if (s_.empty()) {
      *out += "null";
    } else if (auto i = s_.to_int64()) {
      expr::write_int(*i, *out);
    } else {  // past int64 (uint64's range too): the correctly rounded double, as jq's add gives
      expr::write_double(s_.to_double(), *out);
    }
    return true;
  }
  void write_partial(std::string* out) const {
    *out += "{\"s\":\"" + s_.to_text() + "\"}";
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    if (!get_sum(e, "s", &s_)) return bad_partial("sum", error);
    return true;
  }

 private:
  ExactSum s_;
};

template <class Base>
class MinMaxT final : public Base {
 public:
  explicit MinMaxT(bool max) : max_(max) {}
  AggregateKind kind() const { return max_ ? AggregateKind::kMax : AggregateKind::kMin; }
  bool add(const Value& v, const Position&, std::string* error) {
    if (v.type == Type::kNull) return true;
    if (!is_number(v)) return type_error(max_ ? "max" : "min", v, error);
    offer(Number::of(v));
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<MinMaxT&>(other);
    if (o.has_) offer(o.best());
  }
  bool result(std::string* out, std::string*) const {
    if (!has_) *out += "null";
    else write_number(best(), *out);
    return true;
  }
  void write_partial(std::string* out) const {
    if (!has_) *out += "null";
    else *out += "\"" + best().text() + "\"";
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    has_ = false;
    if (e.is_null()) return true;
    std::string_view s;
    Number n;
    if (e.get(s) || !n.parse(s)) return bad_partial(max_ ? "max" : "min", error);
    set(n);
    return true;
  }

 private:
  void offer(const Number& n) {
    if (!has_ || (max_ ? number_less(best(), n) : number_less(n, best()))) set(n);
  }
  // The best number, kept as its payload and type beside the flags: 16 bytes in a group (24 with
  // make_aggregate's vtable pointer), not 40 (a million groups keep one per min or max).
  Number best() const {
    Number n;
    n.type = type_;
    if (type_ == Type::kInt) n.i = std::bit_cast<std::int64_t>(bits_);
    else if (type_ == Type::kUint) n.u = bits_;
    else n.d = std::bit_cast<double>(bits_);
    return n;
  }
  void set(const Number& n) {
    bits_ = n.type == Type::kInt ? std::bit_cast<std::uint64_t>(n.i)
          : n.type == Type::kUint ? n.u : std::bit_cast<std::uint64_t>(n.d);
    type_ = n.type;
    has_ = true;
  }
  std::uint64_t bits_ = 0;  // best's i, u or d (by type_), as bits
  Type type_ = Type::kNull;
  bool max_;
  bool has_ = false;
};

template <class Base>
class AvgT final : public Base {
 public:
  AggregateKind kind() const { return AggregateKind::kAvg; }
  bool add(const Value& v, const Position&, std::string* error) {
    if (v.type == Type::kNull) return true;
    if (!is_number(v)) return type_error("avg", v, error);
    add_sum_value(s_, v);
    ++n_;
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<AvgT&>(other);
    s_.merge(o.s_);
    n_ += o.n_;
  }
  bool result(std::string* out, std::string*) const {
    if (n_ == 0) *out += "null";
    else expr::write_double(s_.quotient(n_), *out);
    return true;
  }
  void write_partial(std::string* out) const {
    *out += "{\"n\":";
    write_uint(n_, *out);
    *out += ",\"s\":\"" + s_.to_text() + "\"}";
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    if (e["n"].get(n_) || !get_sum(e, "s", &s_)) return bad_partial("avg", error);
    // A value counted is a value summed: no count without a sum, nor a sum without a count.
    if ((n_ == 0) != s_.empty()) return bad_partial("avg (its count and its sum disagree)", error);
    return true;
  }

 private:
  ExactSum s_;
  std::uint64_t n_ = 0;
};

template <class Base>
class VarianceT final : public Base {
 public:
  explicit VarianceT(bool stddev) : stddev_(stddev) {}
  AggregateKind kind() const { return stddev_ ? AggregateKind::kStddev : AggregateKind::kVar; }
  bool add(const Value& v, const Position&, std::string* error) {
    if (v.type == Type::kNull) return true;
    if (!is_number(v)) return type_error(stddev_ ? "stddev" : "var", v, error);
    add_sum_value(s1_, v);
    add_square_value(s2_, v);
    ++n_;
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<VarianceT&>(other);
    s1_.merge(o.s1_);
    s2_.merge(o.s2_);
    n_ += o.n_;
  }
  bool result(std::string* out, std::string*) const {
    if (n_ < 2) *out += "null";
    else expr::write_double(stddev_ ? exact_stddev(s1_, s2_, n_) : exact_variance(s1_, s2_, n_), *out);
    return true;
  }
  void write_partial(std::string* out) const {
    *out += "{\"n\":";
    write_uint(n_, *out);
    *out += ",\"s\":\"" + s1_.to_text() + "\",\"q\":\"" + s2_.to_text() + "\"}";
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    if (e["n"].get(n_) || !get_sum(e, "s", &s1_) || !get_sum(e, "q", &s2_)) {
      return bad_partial(stddev_ ? "stddev" : "var", error);
    }
    if ((n_ == 0) != s1_.empty() || s1_.empty() != s2_.empty()) {
      return bad_partial(stddev_ ? "stddev (its count and its sums disagree)" : "var (its count and its sums disagree)",
                         error);
    }
    // A sum of squares is never negative.
    if (!s2_.empty() && s2_.finite()) {
      BigNat mag;
      bool negative = false;
      std::int64_t exp2 = 0;
      s2_.exact(&mag, &negative, &exp2);
      if (negative) return bad_partial(stddev_ ? "stddev (a negative sum of squares)" : "var (a negative sum of squares)", error);
    }
    return true;
  }

 private:
  bool stddev_;
  ExactSum s1_, s2_;
  std::uint64_t n_ = 0;
};

template <class Base>
class PercentileT final : public Base {
 public:
  PercentileT(double p, std::string name) : p_(p), name_(std::move(name)) {}
  AggregateKind kind() const { return AggregateKind::kPercentile; }
  std::uint64_t held() const { return values_.size(); }
  bool add(const Value& v, const Position&, std::string* error) {
    if (v.type == Type::kNull) return true;
    if (!is_number(v)) return type_error(name_.c_str(), v, error);
    double d = v.type == Type::kInt ? static_cast<double>(v.i)
             : v.type == Type::kUint ? static_cast<double>(v.u) : v.d;
    if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
    values_.push_back(d);
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<PercentileT&>(other);
    if (values_.empty()) {
      values_.swap(o.values_);
    } else {
      values_.insert(values_.end(), o.values_.begin(), o.values_.end());
      o.values_.clear();
    }
  }
  bool result(std::string* out, std::string*) const {
    if (values_.empty()) {
      *out += "null";
      return true;
    }
    std::vector<double> v = sorted();
    expr::write_double(percentile_of_sorted(v, p_), *out);
    return true;
  }
  void write_partial(std::string* out) const {
    *out += '[';
    bool comma = false;
    for (double d : sorted()) {
      if (comma) *out += ',';
      comma = true;
      *out += '"';
      *out += double_text(d);
      *out += '"';
    }
    *out += ']';
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    values_.clear();
    simdjson::dom::array a;
    if (e.get(a)) return bad_partial(name_.c_str(), error);
    for (auto x : a) {
      std::string_view s;
      double d;
      if (x.get(s) || !parse_double_text(s, &d)) return bad_partial(name_.c_str(), error);
      values_.push_back(d);
    }
    return true;
  }

 private:
  std::vector<double> sorted() const {
    std::vector<double> v = values_;
    std::sort(v.begin(), v.end(), [](double a, double b) { return order_key(a) < order_key(b); });
    return v;
  }
  double p_;
  std::string name_;
  std::vector<double> values_;
};

// count_distinct's set of canonical keys: open addressing over one array of (hash, key), linear
// probing, at most 3/4 full. std::unordered_set made a node per key: growing it visited every node
// (a cache miss each), a merge moved nodes one by one into buckets, and freeing millions of nodes
// took as long again (perf, 3 M distinct values: those three were 60% of the run).
class DistinctSet {
 public:
  std::size_t size() const { return size_; }
  void insert(std::string key) {
    const std::uint64_t h = hash_of(key);
    insert_hashed(std::move(key), h);
  }
  // Moves `other`'s keys in (the smaller into the larger); `other` is left empty.
  void merge(DistinctSet& other) {
    if (size_ < other.size_) swap(other);
    if (other.size_ == 0) return;
    reserve(size_ + other.size_);
    for (Slot& slot : other.slots_)
      if (slot.hash) insert_hashed(std::move(slot.key), slot.hash);
    other.clear();
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_)
      if (slot.hash) f(std::string_view(slot.key));
  }
  void clear() {
    slots_.clear();
    size_ = 0;
    shift_ = 64;
  }
  void swap(DistinctSet& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(size_, other.size_);
    std::swap(shift_, other.shift_);
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;  // 0: empty (hash_of is never 0)
    std::string key;
  };
  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key) | 1; }
  std::size_t index_of(std::uint64_t hash) const { return (hash * 0x9E3779B97F4A7C15ull) >> shift_; }
  void insert_hashed(std::string&& key, std::uint64_t hash) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow((size_ + 1) * 2);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = index_of(hash);; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.hash == 0) {
        slot.hash = hash;
        slot.key = std::move(key);
        ++size_;
        return;
      }
      if (slot.hash == hash && slot.key == key) return;
    }
  }
  void reserve(std::size_t n) {
    if (n * 4 > slots_.size() * 3) grow(n * 2);
  }
  // To a power of two of at least `want` slots (and 4: most groups keep few), every key moved by
  // its stored hash.
  void grow(std::size_t want) {
    std::size_t n = 4;
    while (n < want) n *= 2;
    std::vector<Slot> old(n);
    old.swap(slots_);
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    const std::size_t mask = n - 1;
    for (Slot& slot : old) {
      if (!slot.hash) continue;
      std::size_t i = index_of(slot.hash);
      while (slots_[i].hash) i = (i + 1) & mask;
      slots_[i].hash = slot.hash;
      slots_[i].key = std::move(slot.key);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

template <class Base>
class CountDistinctT final : public Base {
 public:
  AggregateKind kind() const { return AggregateKind::kCountDistinct; }
  std::uint64_t held() const { return keys_.size(); }
  bool add(const Value& v, const Position&, std::string*) {
    if (v.type == Type::kNull) return true;
    keys_.insert(canonical(v));
    return true;
  }
  void merge(Base& other) { keys_.merge(static_cast<CountDistinctT&>(other).keys_); }
  bool result(std::string* out, std::string*) const {
    write_uint(keys_.size(), *out);  // a count, as count(E): 0, not null
    return true;
  }
  void write_partial(std::string* out) const {
    std::vector<std::string_view> sorted;
    sorted.reserve(keys_.size());
    keys_.for_each([&](std::string_view k) { sorted.push_back(k); });
    std::sort(sorted.begin(), sorted.end());
    *out += '[';
    for (std::size_t k = 0; k < sorted.size(); ++k) {
      if (k) *out += ',';
      append_json_string_jq(*out, sorted[k]);
    }
    *out += ']';
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t, std::string* error) {
    keys_.clear();
    simdjson::dom::array a;
    if (e.get(a)) return bad_partial("count_distinct", error);
    for (auto x : a) {
      std::string_view s;
      if (x.get(s) || !is_canonical(s)) return bad_partial("count_distinct", error);
      keys_.insert(std::string(s));
    }
    return true;
  }

 private:
  // A type letter, then: numbers by value (integral values in int64/uint64 range as integers, so
  // 1 == 1.0 and -0.0 == 0; others the shortest round-trip text), strings by bytes, JSON as given.
  static std::string canonical(const Value& v) {
    std::string k;
    switch (v.type) {
      case Type::kInt: k = "n" + std::to_string(v.i); break;
      case Type::kUint: k = "n" + std::to_string(v.u); break;
      case Type::kDouble:
        if (v.d == std::trunc(v.d) && v.d >= -9223372036854775808.0 && v.d < 9223372036854775808.0) {
          k = "n" + std::to_string(static_cast<std::int64_t>(v.d));
        } else if (v.d == std::trunc(v.d) && v.d >= 0 && v.d < 18446744073709551616.0) {
          k = "n" + std::to_string(static_cast<std::uint64_t>(v.d));
        } else {
          k = "n" + double_text(v.d);
        }
        break;
      case Type::kString: k = "s"; k.append(v.text); break;
      case Type::kJson: k = "j"; k.append(v.text); break;
      case Type::kNull: break;
    }
    return k;
  }
  // A key canonical() can give: one written otherwise ("n1.0" for "n1") would count twice.
  static bool is_canonical(std::string_view k) {
    if (k.empty()) return false;
    const std::string_view rest = k.substr(1);
    if (k[0] == 's') return true;
    if (k[0] == 'j') return is_canonical_json(rest);
    if (k[0] != 'n' || rest.empty()) return false;
    const char* end = rest.data() + rest.size();
    std::int64_t i;
    std::uint64_t u;
    double d;
    if (auto r = std::from_chars(rest.data(), end, i); r.ec == std::errc() && r.ptr == end) {
      return canonical(Value::of(i)) == k;
    }
    if (auto r = std::from_chars(rest.data(), end, u); r.ec == std::errc() && r.ptr == end) {
      return canonical(Value::of_uint(u)) == k;
    }
    return parse_double_text(rest, &d) && canonical(Value::of(d)) == k;
  }
  // A boolean, array or object as accumulate writes it (expr::append_json_sorted: members sorted,
  // integral doubles as integers, shortest numbers): `{"b":1,"a":2}` or `[1.0]` would count twice.
  static bool is_canonical_json(std::string_view text) {
    if (text.empty()) return false;
    expr::Scratch scratch;
    expr::Value v;
    std::string error, again;
    if (!expr::read_value(text, scratch, v, &error)) return false;
    if (!v.is_array() && !v.is_object() && v.tag() != expr::Tag::kTrue && v.tag() != expr::Tag::kFalse) return false;
    expr::append_json_sorted(v, again);
    return again == text;
  }
  DistinctSet keys_;
};

template <class Base>
class FirstLastT final : public Base {
 public:
  explicit FirstLastT(bool last) : last_(last) {}
  AggregateKind kind() const { return last_ ? AggregateKind::kLast : AggregateKind::kFirst; }
  bool add(const Value& v, const Position& pos, std::string*) {
    if (v.type == Type::kNull) return true;
    if (wins(pos)) {
      pos_ = pos;
      has_ = true;
      json_.clear();
      write_value(v, json_);
    }
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<FirstLastT&>(other);
    if (o.has_ && wins(o.pos_)) {
      pos_ = o.pos_;
      has_ = true;
      json_.swap(o.json_);
    }
  }
  bool result(std::string* out, std::string*) const {
    *out += has_ ? json_ : std::string("null");
    return true;
  }
  void write_partial(std::string* out) const {
    if (!has_) {
      *out += "null";
      return;
    }
    *out += "{\"p\":";
    write_rank(0, *out);
    *out += ",\"v\":";
    append_json_string_jq(*out, json_);
    *out += '}';
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t part, std::string* error) {
    has_ = false;
    if (e.is_null()) return true;
    std::string_view v;
    simdjson::dom::element p;
    if (e["p"].get(p) || !get_position(p, part, &pos_) || e["v"].get(v) || !is_compact_json_value(v)) {
      return bad_partial(last_ ? "last" : "first", error);
    }
    json_.assign(v);
    has_ = true;
    return true;
  }

 private:
  bool wins(const Position& p) const { return !has_ || (last_ ? pos_ < p : p < pos_); }
  bool last_;
  bool has_ = false;
  Position pos_;
  std::string json_;
};

template <class Base>
class CollectT final : public Base {
 public:
  explicit CollectT(std::uint64_t limit) : limit_(limit) {}
  AggregateKind kind() const { return AggregateKind::kCollect; }
  std::uint64_t held() const { return items_.size(); }
  bool add(const Value& v, const Position& pos, std::string*) {
    if (v.type == Type::kNull || over_) return true;
    items_.emplace_back(pos, std::string());
    write_value(v, items_.back().second);
    check_limit();
    return true;
  }
  void merge(Base& other) {
    auto& o = static_cast<CollectT&>(other);
    over_ = over_ || o.over_;
    if (!over_) {
      for (auto& it : o.items_) items_.push_back(std::move(it));
    }
    o.items_.clear();
    check_limit();
  }
  bool ok(std::string* error) const {
    if (over_)
      *error = fmt::format("collect: more than {} value{} in a group (raise --collect-limit)", limit_,
                           limit_ == 1 ? "" : "s");
    return !over_;
  }
  bool result(std::string* out, std::string* error) const {
    if (!ok(error)) return false;
    if (items_.empty()) {
      *out += "null";
      return true;
    }
    *out += '[';
    bool comma = false;
    for (const auto* it : sorted()) {
      if (comma) *out += ',';
      comma = true;
      *out += it->second;
    }
    *out += ']';
    return true;
  }
  void write_partial(std::string* out) const {
    if (over_) {
      *out += "{\"over\":true}";
      return;
    }
    *out += "{\"v\":[";
    std::uint64_t rank = 0;
    for (const auto* it : sorted()) {
      if (rank) *out += ',';
      *out += '[';
      write_rank(rank++, *out);
      *out += ',';
      append_json_string_jq(*out, it->second);
      *out += ']';
    }
    *out += "]}";
  }
  bool read_partial(simdjson::dom::element e, std::uint64_t part, std::string* error) {
    items_.clear();
    over_ = false;
    bool over = false;
    if (!e["over"].get(over) && over) {
      over_ = true;
      return true;
    }
    simdjson::dom::array a;
    if (e["v"].get(a)) return bad_partial("collect", error);
    for (auto x : a) {
      simdjson::dom::array pair;
      simdjson::dom::element p;
      std::string_view v;
      Position pos;
      if (x.get(pair) || pair.size() != 2 || pair.at(0).get(p) || !get_position(p, part, &pos) ||
          pair.at(1).get(v) || !is_compact_json_value(v)) {
        return bad_partial("collect", error);
      }
      items_.emplace_back(pos, std::string(v));
    }
    check_limit();
    return true;
  }

 private:
  void check_limit() {
    if (items_.size() > limit_) {
      over_ = true;
      items_.clear();
      items_.shrink_to_fit();
    }
  }
  std::vector<const std::pair<Position, std::string>*> sorted() const {
    std::vector<const std::pair<Position, std::string>*> v;
    v.reserve(items_.size());
    for (const auto& it : items_) v.push_back(&it);
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->first < b->first; });
    return v;
  }
  std::uint64_t limit_;
  bool over_ = false;
  std::vector<std::pair<Position, std::string>> items_;
};

const std::vector<std::string> kNames = {
    "count", "sum", "min", "max", "avg", "var", "stddev", "median", "p50", "p90", "p95", "p99",
    "count_distinct", "first", "last", "collect",
};

// "NN" or "NN.N..." in [0, 100] -> the double nearest NN.N / 100.
std::optional<double> parse_percent(std::string_view s) {
  std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 3) return std::nullopt;
  if (dot != std::string_view::npos && frac.empty()) return std::nullopt;
  for (char c : whole) if (c < '0' || c > '9') return std::nullopt;
  for (char c : frac) if (c < '0' || c > '9') return std::nullopt;
  if (whole.size() > 1 && whole[0] == '0') return std::nullopt;
  // The decimal NN.N * 10^-2, rounded once by from_chars.
  std::string text = std::string(s) + "e-2";
  double p;
  auto r = std::from_chars(text.data(), text.data() + text.size(), p);
  if (r.ec != std::errc() || p < 0 || p > 1) return std::nullopt;
  return p;
}

}  // namespace

double percentile_of_sorted(const std::vector<double>& x, double p) {
  const std::size_t n = x.size();
  double h = static_cast<double>(n - 1) * p;
  double fl = std::floor(h);
  auto k = static_cast<std::size_t>(fl);
  if (k >= n - 1) return x[n - 1];
  double frac = h - fl;
  if (frac == 0) return x[k];
  const double d = x[k + 1] - x[k];
  if (std::isinf(d)) {
    // Two neighbours more than DBL_MAX apart (-1e308 and 1e308): the same formula on halves, which
    // are exact at that size, and the result doubled; the same roundings, without the overflow.
    const double a = x[k] / 2, b = x[k + 1] / 2;
    return (a + frac * (b - a)) * 2;
  }
  return x[k] + frac * d;
}

const std::vector<std::string>& aggregate_names() { return kNames; }

std::optional<AggregateSpec> parse_aggregate_name(std::string_view name, std::string* error) {
  AggregateSpec s;
  s.name = std::string(name);
  static const std::pair<const char*, AggregateKind> kTable[] = {
      {"count", AggregateKind::kCount}, {"sum", AggregateKind::kSum},
      {"min", AggregateKind::kMin},     {"max", AggregateKind::kMax},
      {"avg", AggregateKind::kAvg},     {"var", AggregateKind::kVar},
      {"stddev", AggregateKind::kStddev}, {"count_distinct", AggregateKind::kCountDistinct},
      {"first", AggregateKind::kFirst}, {"last", AggregateKind::kLast},
      {"collect", AggregateKind::kCollect},
  };
  for (const auto& [n, k] : kTable) {
    if (name == n) {
      s.kind = k;
      return s;
    }
  }
  if (name == "median") {
    s.kind = AggregateKind::kPercentile;
    s.p = 0.5;
    return s;
  }
  if (name.size() >= 2 && name[0] == 'p' && name[1] >= '0' && name[1] <= '9') {
    if (auto p = parse_percent(name.substr(1))) {
      s.kind = AggregateKind::kPercentile;
      s.p = *p;
      return s;
    }
    *error = fmt::format("bad percentile '{}': want pNN or pNN.N with 0 <= NN.N <= 100 (p50, p99.9)", name);
    return std::nullopt;
  }
  // Names are lower case (SUM had no suggestion); other tools' names for ours (Miller's and
  // pandas' mean, SQL's average, ...) are pointed at them.
  static const std::pair<const char*, const char*> kOthers[] = {
      {"mean", "avg"},           {"average", "avg"},    {"variance", "var"},     {"stdev", "stddev"},
      {"std", "stddev"},         {"nunique", "count_distinct"}, {"distinct_count", "count_distinct"},
      {"list", "collect"},       {"values", "collect"},
  };
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string near;
  for (const auto& [other, ours] : kOthers)
    if (lower == other) near = ours;
  const bool percentile = lower.size() >= 2 && lower[0] == 'p' && lower[1] >= '0' && lower[1] <= '9' &&
                          parse_percent(lower.substr(1));  // (P5 suggested p50)
  if (near.empty() && lower != name &&
      (std::find(kNames.begin(), kNames.end(), lower) != kNames.end() || lower == "median" || percentile))
    near = lower;
  if (near.empty()) near = nearest_name(lower, kNames);
  *error = fmt::format("unknown aggregate '{}'{}", name,
                       near.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", near));
  return std::nullopt;
}

namespace {

// Calls f.template operator()<T>(constructor arguments...) for the aggregate class of `spec`,
// built on Base: Aggregate (make_aggregate's, with a vtable) or InlineBase (in a group's block).
template <class Base, class F>
auto with_aggregate_type(const AggregateSpec& spec, F&& f) {
  switch (spec.kind) {
    case AggregateKind::kCount: return f.template operator()<CountT<false, Base>>();
    case AggregateKind::kCountValues: return f.template operator()<CountT<true, Base>>();
    case AggregateKind::kSum: return f.template operator()<SumT<Base>>();
    case AggregateKind::kMin: return f.template operator()<MinMaxT<Base>>(false);
    case AggregateKind::kMax: return f.template operator()<MinMaxT<Base>>(true);
    case AggregateKind::kAvg: return f.template operator()<AvgT<Base>>();
    case AggregateKind::kVar: return f.template operator()<VarianceT<Base>>(false);
    case AggregateKind::kStddev: return f.template operator()<VarianceT<Base>>(true);
    case AggregateKind::kPercentile:
      return f.template operator()<PercentileT<Base>>(spec.p, spec.name.empty() ? std::string("percentile") : spec.name);
    case AggregateKind::kCountDistinct: return f.template operator()<CountDistinctT<Base>>();
    case AggregateKind::kFirst: return f.template operator()<FirstLastT<Base>>(false);
    case AggregateKind::kLast: return f.template operator()<FirstLastT<Base>>(true);
    case AggregateKind::kCollect: break;
  }
  return f.template operator()<CollectT<Base>>(spec.collect_limit);
}

// The operations of an inline aggregate of type T.
template <class T>
constexpr AggregateOps kInlineOps = {
    [](void* self) { static_cast<T*>(self)->~T(); },
    [](void* self, const Value& v, const Position& pos, std::string* error) {
      return static_cast<T*>(self)->add(v, pos, error);
    },
    [](void* self, void* other) { static_cast<T*>(self)->merge(*static_cast<T*>(other)); },
    [](const void* self, std::string* out, std::string* error) { return static_cast<const T*>(self)->result(out, error); },
    [](const void* self, std::string* error) { return static_cast<const T*>(self)->ok(error); },
    [](const void* self, std::string* out) { static_cast<const T*>(self)->write_partial(out); },
    [](void* self, simdjson::dom::element e, std::uint64_t part, std::string* error) {
      return static_cast<T*>(self)->read_partial(e, part, error);
    },
    [](void* where, void* from) { new (where) T(std::move(*static_cast<T*>(from))); },
    [](const void* self) { return static_cast<const T*>(self)->held(); },
};

}  // namespace

std::unique_ptr<Aggregate> make_aggregate(const AggregateSpec& spec) {
  return with_aggregate_type<Aggregate>(spec, []<class T>(auto&&... args) -> std::unique_ptr<Aggregate> {
    return std::make_unique<T>(std::forward<decltype(args)>(args)...);
  });
}

AggregateLayout aggregate_layout(const AggregateSpec& spec) {
  return with_aggregate_type<InlineBase>(spec, []<class T>(auto&&...) { return AggregateLayout{sizeof(T), alignof(T)}; });
}

const AggregateOps* construct_aggregate(const AggregateSpec& spec, void* where) {
  return with_aggregate_type<InlineBase>(spec, [where]<class T>(auto&&... args) -> const AggregateOps* {
    new (where) T(std::forward<decltype(args)>(args)...);
    return &kInlineOps<T>;
  });
}

namespace {
// The inline aggregates are the same classes as make_aggregate's, less the vtable pointer.
static_assert(sizeof(SumT<InlineBase>) + sizeof(void*) == sizeof(SumT<Aggregate>));
static_assert(sizeof(CountT<false, InlineBase>) == sizeof(std::uint64_t));
static_assert(sizeof(MinMaxT<InlineBase>) == 16);
}  // namespace

bool read_partial_text(Aggregate& agg, std::string_view json, std::uint64_t part, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(json.data(), json.size()).get(e)) return bad_partial("not JSON", error);
  return agg.read_partial(e, part, error);
}

}  // namespace ppipe::agg
