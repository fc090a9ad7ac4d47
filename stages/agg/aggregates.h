// Mergeable, exact aggregate states for the `agg` stage (issue 7). Values come in one at a time,
// tagged with their input position; states merge in any order and any grouping, and the result
// (and the partial text, for `--partial`) is the same byte for byte: map-reduce whose output does
// not depend on how the input was split among workers, batches or machines.
//
//   count            records (add() is called once per record, whatever the value)
//   count(E)         non-null values (kCountValues: the stage picks it when count has an argument)
//   sum              exact: an integer while every value is an integer and the sum fits int64;
//                    else the correctly rounded double of the true sum (as math.fsum)
//   min max          numbers only, compared exactly (int64 vs double too); equal values of
//                    different types tie-break -0.0 < int < uint < double, so any merge order
//                    agrees; NaN is below every number (jq's order)
//   avg              exact sum / count, rounded once (correctly rounded quotient)
//   var stddev       sample (n-1); from exact sums of x and x*x: (n*S2 - S1^2) / (n(n-1)) in big
//                    integers, rounded once; stddev is the correctly rounded root of that exact
//                    value (not sqrt of the rounded var). Null for fewer than 2 values
//   median pNN pNN.N all values kept as doubles (int64 beyond 2^53 rounds), sorted by IEEE total
//                    order (-0.0 < +0.0, NaN last); h = (n-1)*p, then
//                    x[floor(h)] + (h-floor(h))*(x[floor(h)+1]-x[floor(h)]) in that order; when
//                    h is integral the result is x[h] itself (no 0*Inf = NaN)
//   count_distinct   exact: a set of canonical texts (numbers by value: 1 == 1.0, -0.0 == 0;
//                    strings by bytes; other JSON by its compact text with object members sorted,
//                    as jq's == compares them: {"b":1,"a":2} == {"a":2,"b":1})
//   first last       by input position, never by merge order
//   collect          values in input order, at most `collect_limit`; past it the state fails
//                    (result() returns false with a message) and stops keeping values
//
// Null values are skipped by every aggregate but `count`; an aggregate that saw no values gives
// null, except the counts (count, count(E), count_distinct), which give 0. A value of the wrong type (a string given to sum) makes add() return false (a record
// error) and leaves the state unchanged.
//
// Numbers print as jq 1.6 does (3.0 -> 3, 1e+300, NaN -> null, +-Inf -> +-1.7976931348623157e+308),
// integers exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace ppipe::agg {

// One input value; `text` is a view valid for the call only.
struct Value {
  enum class Type : std::uint8_t {
    kNull,    // null or missing
    kInt,     // i
    kUint,    // u (above int64's range)
    kDouble,  // d
    kString,  // text: the string's raw bytes (not JSON-escaped)
    kJson,    // text: any other JSON value (true, [1,2], {"a":1}) as compact JSON text
  };
  Type type = Type::kNull;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string_view text;

  static Value null() { return {}; }
  static Value of(std::int64_t x) { Value v; v.type = Type::kInt; v.i = x; return v; }
  static Value of_uint(std::uint64_t x) { Value v; v.type = Type::kUint; v.u = x; return v; }
  static Value of(double x) { Value v; v.type = Type::kDouble; v.d = x; return v; }
  static Value string(std::string_view s) { Value v; v.type = Type::kString; v.text = s; return v; }
  static Value json(std::string_view t) { Value v; v.type = Type::kJson; v.text = t; return v; }
};

// Where a value came from, ordered lexicographically. `part` orders separate inputs merged from
// partial files (the merge stage numbers them); within a run, `seq` is the batch sequence number
// and `index` the record's index among those its partial took in (records of one input line,
// from a fanning-out map, each have their own).
struct Position {
  std::uint64_t part = 0;
  std::uint64_t seq = 0;
  std::uint64_t index = 0;
  friend bool operator<(const Position& a, const Position& b) {
    if (a.part != b.part) return a.part < b.part;
    if (a.seq != b.seq) return a.seq < b.seq;
    return a.index < b.index;
  }
};

enum class AggregateKind : std::uint8_t {
  kCount, kCountValues, kSum, kMin, kMax, kAvg, kVar, kStddev, kPercentile, kCountDistinct,
  kFirst, kLast, kCollect,
};

struct AggregateSpec {
  AggregateKind kind = AggregateKind::kCount;
  double p = 0;                        // kPercentile: in [0, 1] (median: 0.5, p99.9: 0.999)
  std::uint64_t collect_limit = 1000;  // kCollect
  std::string name;                    // as written: "p99.9", "median", "sum"
};

// "count sum min max avg var stddev median pNN pNN.N count_distinct first last collect"; pNN.N is
// 0 <= NN.N <= 100 with any number of decimals, and p is the decimal NN.N/100 parsed once
// (p33.3 -> the double nearest 0.333). "count" gives kCount: the stage turns it into kCountValues
// when an argument is given. Unknown names get an error with a "did you mean" hint.
std::optional<AggregateSpec> parse_aggregate_name(std::string_view name, std::string* error);
// Every name parse_aggregate_name accepts, for help text ("pNN" stands for the percentiles).
const std::vector<std::string>& aggregate_names();

class Aggregate {
 public:
  virtual ~Aggregate() = default;
  virtual AggregateKind kind() const = 0;
  // One value. False: wrong type, message in *error, state unchanged.
  virtual bool add(const Value& v, const Position& pos, std::string* error) = 0;
  // Folds in `other` (made from the same spec), which is left valid but unspecified. Any order
  // and grouping of merges gives the same state.
  virtual void merge(Aggregate& other) = 0;
  // Appends the result as JSON text. False (message in *error): the aggregate failed (collect
  // past its limit); the run cannot give a correct result.
  virtual bool result(std::string* out, std::string* error) const = 0;
  // False (message in *error) when result() would fail (collect past its limit).
  virtual bool ok(std::string* error) const {
    (void)error;
    return true;
  }
  // How many values it keeps (percentiles, count_distinct, collect; 0 for the others): what
  // --max-values bounds, summed over the groups.
  virtual std::uint64_t held() const { return 0; }
  // Appends the state as one compact JSON value, lossless; equal states give equal texts.
  virtual void write_partial(std::string* out) const = 0;
  // Replaces the state by one written by write_partial (of the same spec). Positions read get
  // `part` (write_partial keeps only their order within the state, as ranks). False: malformed,
  // message in *error.
  virtual bool read_partial(simdjson::dom::element e, std::uint64_t part, std::string* error) = 0;
};

std::unique_ptr<Aggregate> make_aggregate(const AggregateSpec& spec);

// The same aggregate built in place, for a stage that keeps a group's aggregates in one block,
// without a vtable pointer (agg keeps millions of groups of several aggregates): the same class
// on an empty base, its operations in a table of functions per type (one per aggregate kind,
// shared by every group). `where` has aggregate_layout(spec).size bytes aligned to .align;
// construct_aggregate returns the table, AggregateRef calls through it (destroy() at the end).
struct AggregateLayout {
  std::size_t size;
  std::size_t align;
};
struct AggregateOps {
  void (*destroy)(void* self);
  bool (*add)(void* self, const Value& v, const Position& pos, std::string* error);
  void (*merge)(void* self, void* other);
  bool (*result)(const void* self, std::string* out, std::string* error);
  bool (*ok)(const void* self, std::string* error);
  void (*write_partial)(const void* self, std::string* out);
  bool (*read_partial)(void* self, simdjson::dom::element e, std::uint64_t part, std::string* error);
  // Builds the aggregate at `where` from `from` (same spec), moving its state: the same as an empty
  // one with `from` merged in, without the work. `from` is left only to be destroyed.
  void (*relocate)(void* where, void* from);
  std::uint64_t (*held)(const void* self);
};
AggregateLayout aggregate_layout(const AggregateSpec& spec);
const AggregateOps* construct_aggregate(const AggregateSpec& spec, void* where);

// An aggregate in place and its operations: Aggregate's calls (merge: one of the same spec).
class AggregateRef {
 public:
  AggregateRef(const AggregateOps* ops, void* self) : ops_(ops), self_(self) {}
  bool add(const Value& v, const Position& pos, std::string* error) const { return ops_->add(self_, v, pos, error); }
  void merge(const AggregateRef& other) const { ops_->merge(self_, other.self_); }
  bool result(std::string* out, std::string* error) const { return ops_->result(self_, out, error); }
  bool ok(std::string* error) const { return ops_->ok(self_, error); }
  void write_partial(std::string* out) const { ops_->write_partial(self_, out); }
  bool read_partial(simdjson::dom::element e, std::uint64_t part, std::string* error) const {
    return ops_->read_partial(self_, e, part, error);
  }
  void destroy() const { ops_->destroy(self_); }
  std::uint64_t held() const { return ops_->held(self_); }

 private:
  const AggregateOps* ops_;
  void* self_;
};

// read_partial from text (parses with a parser of its own: for tests and tools; the merge stage
// should hand elements of the records it already parsed).
bool read_partial_text(Aggregate& agg, std::string_view json, std::uint64_t part, std::string* error);

// The exact percentile of sorted values (ascending in IEEE total order), p in [0, 1], n >= 1.
double percentile_of_sorted(const std::vector<double>& sorted, double p);

}  // namespace ppipe::agg
