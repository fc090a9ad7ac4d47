// ppipe's expression language: a single-valued, jq-compatible subset (see docs/expr.md).
//
//   compile(source)            once, at plan time: syntax and name errors come back as a value
//   evaluate(program, doc, s)  per record, on any worker, with that worker's own Scratch
//   append_json(result, out)   compact output, byte-compatible with `jq -c` where documented
//
// A Program is immutable and may be shared by all workers. A Scratch is per worker: it holds the
// arena that computed values live in, so a Result is valid until the next evaluate() with the
// same Scratch, and (for values taken from the input) until the worker's parser parses again.
// On the common path (paths, comparisons, string tests, object construction) evaluate() does not
// allocate after a warm-up.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "src/expr/value.h"

namespace ppipe::expr {

class Program;
class ScratchState;

struct CompileError {
  std::string message;
  std::size_t column = 0;  // 0-based byte offset into the source
};

using CompileResult = std::variant<std::shared_ptr<const Program>, CompileError>;

// Never throws on bad input.
CompileResult compile(std::string_view source);

// --arg NAME VALUE / --argjson NAME JSON: visible as $NAME (and in $ARGS.named) everywhere.
struct NamedArg {
  std::string name;
  std::string json;  // the value as JSON text (--arg: a JSON string)
};
struct CompileOptions {
  std::vector<NamedArg> named;
};
// The whole jq language: single-valued expressions compile to the allocation-free fast path;
// anything else (generators, variables, reduce, def, assignment, ...) to the general engine
// (src/expr/jq), which is_general() reports. A bad --argjson value is a CompileError.
CompileResult compile(std::string_view source, const CompileOptions& options);
bool is_general(const Program& program);
namespace jq {
class Program;
}
// The general engine's program: the program itself when is_general(), else its general twin
// (the same source compiled for the general engine, for records the fast path cannot read:
// numbers beyond 64 bits), or null.
const jq::Program* general_program(const Program& program);

// Every output of `program` on one JSON text (e.g. a record), as compact JSON (`jq -c`), in
// order. False when it raised an error, after the outputs before it; the message in *error.
// For tests and tools: stages run programs through evaluate() / the general engine directly.
bool run_text(const Program& program, std::string_view input, std::vector<std::string>& outputs, std::string* error);

// "error in expression: MESSAGE\n  SOURCE-LINE\n  ^\n" with the caret under the column. No program
// name: the caller prefixes its own.
std::string format_compile_error(std::string_view source, const CompileError& e);

// Per-worker reusable memory. Not thread-safe; one per thread.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  ScratchState& state() { return *state_; }
  const ScratchState& state() const { return *state_; }

 private:
  std::unique_ptr<ScratchState> state_;
};

enum class Outcome : unsigned char {
  kValue,  // one value
  kEmpty,  // no value: select(f) with a falsy f, `empty`, or an error suppressed by `?`
  kError,  // a runtime error; error_message(scratch) says which
};

struct Result {
  Outcome outcome = Outcome::kEmpty;
  Value value;  // for kValue
};

Result evaluate(const Program& program, simdjson::dom::element input, Scratch& scratch);
// Same, for an input that is already a Value (e.g. a constant or a value from another program).
Result evaluate_value(const Program& program, const Value& input, Scratch& scratch);

// JSON text as a Value in `scratch`'s arena (valid until the next use of the scratch), read as the
// general engine reads it: for a record simdjson's DOM refuses for a number beyond 64 bits (jq
// 1.7 reads 1e400 as 1.7976931348623157e+308, 100000000000000000000 as 1e20). An integer whose
// text fits 64 bits stays exact. False with *error when the text is not JSON.
bool read_value(std::string_view text, Scratch& scratch, Value& out, std::string* error);

// Every value of the program, in order: a fast program may be a generator at its top
// (`.tags[]?`, `.a, .b`, `.items[] | .id`: is_multi()); a single-valued one gives at most one.
// kValue when it gave at least one (in `values`, valid as a Result's value), kEmpty for none,
// kError on an error (then `values` are those before it: a stage drops them, as the record
// goes to the error stream; run_text() keeps them, as jq writes them).
// Not for general programs (their stages run them through the general engine).
Outcome evaluate_all(const Program& program, simdjson::dom::element input, Scratch& scratch,
                     std::span<const Value>& values);
Outcome evaluate_all_value(const Program& program, const Value& input, Scratch& scratch,
                           std::span<const Value>& values);
// The fast program may give several values (evaluate_all()); evaluate() of it expects one.
bool is_multi(const Program& program);

// Valid until the next evaluate() with this scratch. Matches jq 1.6's wording where practical,
// without jq's "jq: error (at ...)" prefix.
std::string_view error_message(const Scratch& scratch);

// jq truthiness of a kValue result; false for kEmpty and kError.
inline bool is_truthy(const Result& r) {
  return r.outcome == Outcome::kValue && r.value.truthy();
}

// Compact JSON (jq -c): key order preserved, jq's string escaping and number formatting.
// Appends nothing unless r.outcome == kValue.
void append_json(const Result& r, std::string& out);
void append_json(const Value& v, std::string& out);
// The same with every object's members sorted by key (the last of duplicate keys kept) and zeros
// written 0: one text for values jq finds equal, as a grouping key ({"a":1,"b":2} and
// {"b":2,"a":1} are one group in jq's group_by and unique).
void append_json_sorted(const Value& v, std::string& out);
// As jq -r: a string is written raw (no quotes, no escaping); anything else as append_json.
void append_raw(const Value& v, std::string& out);

// jq's total order (as `sort` and `<`): <0, 0 or >0; numbers by value (1 == 1.0). Resets the
// scratch's temporary memory (object comparisons use it): a and b must not live there.
int compare(const Value& a, const Value& b, Scratch& scratch);

// Several fields at once. A field lookup scans every member of an object (the last of duplicate
// keys wins), so a stage that evaluates several paths of the same record (agg's keys and
// arguments) looks their first keys up in one scan, then finishes each path from its member.
//
// The first key of a program that is a path starting with a constant key (`.a`, `.a.b`,
// `."k k"[0]`), or empty.
std::string_view leading_key(const Program& program);
// One scan of an object's members for up to kMaxMembers distinct keys: outs[j] is the value of
// keys[j], or null when absent. False (outs untouched) when `input` is not an object.
inline constexpr std::size_t kMaxMembers = 16;
// The keys of one lookup_members scan, made once: indexed by length, so that a member whose
// key has no wanted length costs one table read.
struct MemberKeys {
  static constexpr std::size_t kLengths = 64;  // lengths 0..62 each; 63: 63 and longer
  std::vector<std::string_view> keys;          // at most kMaxMembers
  std::uint16_t by_length[kLengths] = {};      // bit j: keys[j] has this length
  std::uint64_t head[kMaxMembers] = {};        // keys[j]'s first 8 bytes (zeros past its end)
  std::uint64_t head_mask[kMaxMembers] = {};   // which bytes of head[j] are the key's
  std::uint64_t tail[kMaxMembers] = {};        // keys of 9 to 16 bytes: their last 8 bytes
  explicit MemberKeys(std::vector<std::string_view> k = {});
};
bool lookup_members(simdjson::dom::element input, const MemberKeys& keys, Value* outs);
// The program is one constant-key step (`.a`, `."k k"`): evaluate_from_member() is the member.
bool is_single_field(const Program& program);
// evaluate() of a program with a leading key, given the input object's member for that key (from
// lookup_members): the same result as evaluate() on the object.
Result evaluate_from_member(const Program& program, const Value& member, Scratch& scratch);

// Properties of a compiled program that stages may use to pick a faster plan.
bool is_identity(const Program& program);
// The program's value is always a plain `=` assignment of one value to a path into its input
// (`.status = 500`, `.x | .a = .b`): it
// gives its input changed, an object or array (truthy), or an error. The byte offset of the
// assignment's `=` in the source; none otherwise. (filter refuses such an expression: it
// would keep every record, and is nearly always `==` mistyped.)
std::optional<std::size_t> plain_assignment_at_top(const Program& program);
std::string_view source_text(const Program& program);

}  // namespace ppipe::expr
