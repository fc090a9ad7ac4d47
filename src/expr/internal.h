// Internals shared by the parser, the evaluator and the builtins: the compiled node tree, the
// per-worker scratch state, and the value helpers (order, arithmetic, JSON writing).
// Not part of the public API; include src/expr/expr.h instead.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/expr/arena.h"
#include "src/expr/expr.h"
#include "src/expr/value.h"

namespace ppipe::expr {

// ---------------------------------------------------------------------------------------------
// Compiled form: a tree of nodes with everything that can be precomputed (keys, constants,
// regexes) resolved at compile time.

enum class Op : std::uint8_t {
  kIdentity,
  kConst,    // constant_
  kPath,     // base kids_[0] (or the input if absent), then steps_ (constant keys / indices)
  kIndex,    // kids_[0][kids_[1]]; the index is evaluated against the input, as jq does
  kSlice,    // kids_[0][kids_[1] : kids_[2]] (either bound may be absent: null)
  kIterate,  // kids_[0][] : a generator, only inside [...] and map(...)
  kTry,      // kids_[0] with errors caught; kids_[1] (optional) is the catch body
  kPipe,     // kids_[0] | kids_[1]
  kComma,    // kids_... : a generator, only inside [...] and map(...)
  kArray,    // [kids_[0]] or [] when no kid
  kObject,   // entries_
  kNeg,      // -kids_[0]
  kAnd,
  kOr,
  kAlt,      // kids_[0] // kids_[1]
  kIf,       // kids_: cond, then, cond, then, ..., else (else absent: identity)
  kBinary,   // binop_ on kids_[0], kids_[1]
  kCall,     // builtin fn_ with kids_ as arguments
  kInterp,   // "texts_[0]\(kids_[0])texts_[1]...\(kids_[n-1])texts_[n]"
  kVar,      // $name: the frame's slot
  kReduce,   // reduce kids_[0] as $slot (kids_[1]; kids_[2])
};

enum class BinOp : std::uint8_t { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe };

enum class Fn : std::uint8_t {
  kLength, kUtf8ByteLength, kStartsWith, kEndsWith, kContains, kTest, kAsciiDowncase,
  kAsciiUpcase, kLtrimstr, kRtrimstr, kSplit, kJoin, kHas, kType, kTostring, kTonumber, kKeys,
  kKeysUnsorted, kSelect, kNot, kMap, kAny, kAll, kAdd, kAbs, kFloor, kCeil, kRound, kSqrt,
  kMin, kMax, kTojson, kFromjson, kEmpty, kError, kSort, kReverse, kFirst, kLast, kValues,
  kNulls, kToEntries, kIsNan,
};

struct PathStep {
  bool is_index = false;
  std::string key;        // owned; is_index == false
  std::int64_t index = 0;  // is_index == true
};

struct Node;

struct ObjectEntry {
  std::string key;                 // constant key (when key_node is null)
  std::unique_ptr<Node> key_node;  // computed key `(expr): v`
  std::unique_ptr<Node> value;
};

struct Node {
  Op op = Op::kIdentity;
  BinOp binop = BinOp::kAdd;
  Fn fn = Fn::kLength;
  std::uint16_t arity = 0;
  std::uint16_t slot = 0;  // kVar, kReduce: the variable's slot in the frame (Ctx::vars)
  std::uint32_t column = 0;
  std::vector<std::unique_ptr<Node>> kids;
  Value constant;                       // kConst
  std::unique_ptr<std::string> owned;   // backing bytes of a constant string
  std::vector<PathStep> steps;          // kPath
  std::vector<ObjectEntry> entries;     // kObject
  std::vector<std::string> texts;       // kInterp: the text around the interpolations
  // kInterp, kObject: the input's fields its parts read as paths (`.host`, `.a.b`), found in one
  // scan of the input's members instead of a scan each; lead[i] is part i's key there, or -1
  // (parts: kids of kInterp, entry values of kObject). Null when fewer than two parts are such.
  std::unique_ptr<MemberKeys> leads;
  std::vector<std::int8_t> lead;
  bool keys_distinct_constant = false;  // kObject: no duplicate-key check needed at run time
  bool parenthesized = false;           // written `( ... )`, no suffix after: `?` covers all of it
  std::unique_ptr<RE2> regex;           // kCall test(): compiled when the pattern is a literal
  std::unique_ptr<RE2> regex_longest;   // flags with `n`: the same, leftmost-longest (has_nonempty_match)

  const Node* kid(std::size_t i) const { return i < kids.size() ? kids[i].get() : nullptr; }

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the subtree without recursion: a hostile expression (`.+.+.+...`, `.a????...`) builds a
  // chain far deeper than the stack before the compiler refuses it (parser.cpp).
  ~Node();
};

// ---------------------------------------------------------------------------------------------
// Per-worker state.

struct RegexCacheEntry {
  std::string pattern;
  std::string flags;
  std::unique_ptr<RE2> regex;  // null when the pattern is invalid (error kept in `error`)
  std::unique_ptr<RE2> longest;  // flags with `n`: the same, leftmost-longest
  std::string error;
};

class ScratchState {
 public:
  Arena arena;
  std::string message;    // the current error's text
  Value error_value;      // the current error's value (error(v)); string => message
  bool error_is_message = true;
  std::string buffer;     // temporary text (tojson, messages)
  std::string buffer2;
  std::string padded;     // fromjson input copy with simdjson padding
  std::unique_ptr<simdjson::dom::parser> parser;  // fromjson, created on first use
  std::vector<RegexCacheEntry> regex_cache;        // regexes computed at run time
  std::size_t regex_next = 0;
};

enum class St : std::uint8_t { kOk, kEmpty, kError };

// The error whose text was just written to s.message (not an error(v) value): returns St::kError.
inline St message_error(ScratchState& s) {
  s.error_is_message = true;
  return St::kError;
}

struct Ctx {
  ScratchState& s;
  Arena& arena;
  Value* vars = nullptr;  // the frame: one slot per variable of the program (Program::var_slots)
};

// ---------------------------------------------------------------------------------------------
// Evaluation (eval.cpp).

St eval(const Node* n, const Value& in, Value& out, Ctx& cx);
// Appends every output of a generator-capable node (comma, .[], pipes of them).
St collect(const Node* n, const Value& in, ArenaVec<Value>& out, Ctx& cx);
// Sets the current error to a formatted message.
St fail(Ctx& cx, std::string_view message);
St fail_value(Ctx& cx, const Value& v);
// tojson of v, a string in the arena (builtins.cpp).
Value tojson_value(const Value& v, Ctx& cx);

// Builtins (builtins.cpp).
// jq 1.8's tonumber grammar: [+-]digits[.digits][e[+-]digits] (or .digits), nothing around it.
bool decimal_text(std::string_view s);
St call_builtin(const Node* n, const Value& in, Value& out, Ctx& cx);
// An Oniguruma pattern (jq's) as RE2's: (?<name>...) -> (?P<name>...); \d \w \s and their
// negations match Unicode as Oniguruma's do. Constructs RE2 lacks (look-around, backreferences,
// possessive quantifiers, atomic groups) set `error` naming them (jq/builtins.cpp).
std::string translate_regex(const std::string& re, std::string& error);
// Inside a bracket, a POSIX class `[:name:]` starting at re[i]: the index of its closing ']', or
// npos. (Its ']' does not end the bracket.)
inline std::size_t posix_class_end(std::string_view re, std::size_t i) {
  if (i + 1 >= re.size() || re[i] != '[' || re[i + 1] != ':') return std::string_view::npos;
  const std::size_t close = re.find(":]", i + 2);
  return close == std::string_view::npos ? close : close + 1;
}
// RE2 for jq's test(re; flags). Null with `error` set when the flags or the pattern are invalid.
// longest: leftmost-longest matching (RE2's longest_match), for the `n` flag's checks.
std::unique_ptr<RE2> build_regex(std::string_view pattern, std::string_view flags, std::string& error,
                                 bool longest = false);
// Whether `text` has a match that is not empty (test() with the `n` flag), given the pattern
// compiled leftmost-longest: where the longest match at the leftmost start is empty, no match
// starting there is not (Oniguruma would find one by backtracking: `test("|a"; "n")` on "a").
bool has_nonempty_match(const RE2& longest, std::string_view text);

// ---------------------------------------------------------------------------------------------
// Value helpers (values.cpp).

// Object member lookup. For a DOM object with duplicate keys, the last one wins (as jq).
bool lookup(const Value& obj, std::string_view key, Value& out);
std::uint32_t container_size(const Value& v);  // arrays and objects
bool array_at(const Value& arr, std::int64_t index, Value& out);  // no negative wrap

// Calls f(const Value&) for each element of an array or each value of an object; stops early
// when f returns false.
template <class F>
void for_each_item(const Value& v, F&& f) {
  if (v.is_dom()) {
    if (v.is_array()) {
      for (simdjson::dom::element e : simdjson::dom::array(v.dom().get_array().value_unsafe())) {
        if (!f(Value::from_dom(e))) return;
      }
    } else {
      for (auto field : simdjson::dom::object(v.dom().get_object().value_unsafe())) {
        if (!f(Value::from_dom(field.value))) return;
      }
    }
  } else if (v.is_array()) {
    for (std::uint32_t i = 0; i < v.size(); ++i) {
      if (!f(v.items()[i])) return;
    }
  } else {
    for (std::uint32_t i = 0; i < v.size(); ++i) {
      if (!f(v.members()[i].value)) return;
    }
  }
}

// Calls f(std::string_view key, const Value&) for each member of an object.
template <class F>
void for_each_member(const Value& v, F&& f) {
  if (v.is_dom()) {
    for (auto field : simdjson::dom::object(v.dom().get_object().value_unsafe())) {
      if (!f(field.key, Value::from_dom(field.value))) return;
    }
  } else {
    for (std::uint32_t i = 0; i < v.size(); ++i) {
      if (!f(v.members()[i].key, v.members()[i].value)) return;
    }
  }
}

// jq's total order: <0, 0, >0. Equal numbers of different representations compare equal.
int compare(const Value& a, const Value& b, Arena& arena);
bool equal(const Value& a, const Value& b, Arena& arena);
// Sorted keys of an object (arena), as jq's `keys`.
Value sorted_keys(const Value& obj, Arena& arena);
// An arena copy of an object with duplicate keys (last wins) folded, in first-seen order.
// The members of an object being made, where a key put again keeps its first place and takes
// the new value (jq's rule for duplicates, `+` and `*`). Past a few members a key is found by a
// hash of the keys: a scan of those kept so far for each member made a record of 40,000 keys
// take 1.8 s in to_entries (80,000: 9.4 s) and seconds in `. + {}` and fromjson.
class MemberSet {
 public:
  MemberSet(Arena& arena, std::size_t reserve) : members_(arena, reserve) {}
  // The member of key k, or null.
  Member* find(std::string_view k) {
    if (members_.size() <= kScan) {
      for (std::uint32_t i = 0; i < members_.size(); ++i)
        if (members_[i].key == k) return &members_[i];
      return nullptr;
    }
    if (index_.empty())
      for (std::uint32_t i = 0; i < members_.size(); ++i) index_.emplace(members_[i].key, i);
    const auto it = index_.find(k);
    return it == index_.end() ? nullptr : &members_[it->second];
  }
  void add(std::string_view k, const Value& v) {  // (k is not there)
    if (!index_.empty()) index_.emplace(k, members_.size());
    members_.push_back(Member{k, v});
  }
  void put(std::string_view k, const Value& v) {
    if (Member* m = find(k)) m->value = v;
    else add(k, v);
  }
  Value object() { return Value::object(members_.data(), members_.size()); }

 private:
  static constexpr std::uint32_t kScan = 128;  // (an index for 40 keys cost more than the scans)
  ArenaVec<Member> members_;
  std::unordered_map<std::string_view, std::uint32_t> index_;  // built once past kScan members
};

Value materialize_object(const Value& obj, Arena& arena);

St binary_op(BinOp op, const Value& a, const Value& b, Value& out, Ctx& cx);
St negate(const Value& a, Value& out, Ctx& cx);
bool contains(const Value& a, const Value& b);

const char* kind_name(const Value& v);  // "null", "boolean", "number", ...

// "number (1)" / "string (\"abcdefghij...)": jq's type_error rendering (value cut at 11 bytes).
// `tmp` is a reusable buffer.
void append_kind_and_value(const Value& v, std::string& out, std::string& tmp);
// Sets jq's two-operand type error, "number (1) and string (\"a\") WHAT", and returns kError.
St type_error2(Ctx& cx, const Value& a, const Value& b, std::string_view what);
// Splits s at every occurrence of sep (jq's `split/1` and string `/`); views into s.
Value split_string(std::string_view s, std::string_view sep, Arena& arena);

std::string_view make_string(Ctx& cx, std::string_view bytes);  // copy into the arena
std::uint32_t codepoint_count(std::string_view s);

// ---------------------------------------------------------------------------------------------
// JSON text (json_writer.cpp).

void write_json(const Value& v, std::string& out);
void write_json_dom(simdjson::dom::element e, std::string& out);
void write_double(double d, std::string& out);
// The same with Dragonbox for every double: the reference write_double's short-decimal way is
// tested against.
void write_double_dragonbox(double d, std::string& out);
void write_int(std::int64_t i, std::string& out);

// Deep copy of a parsed DOM element into the arena (for fromjson, whose parser is reused).
Value copy_dom(simdjson::dom::element e, Arena& arena);

}  // namespace ppipe::expr

namespace ppipe::expr {

namespace jq {
class Program;
class J;
}

// The single-valued fast path's compiler (parser.cpp); compile() tries it first.
CompileResult compile_fast(std::string_view source);
// evaluate() of a general program (general.cpp). Declared after Result.

Result evaluate_general(const Program& program, const Value& input, ScratchState& s);
// The error where one value is expected and a program gave n > 1 (general.cpp): kError.
Outcome several_values(ScratchState& s, std::size_t n);
// A general-engine value in the arena (general.cpp).
Value from_j(const jq::J& j, Arena& arena);

class Program {
 public:
  std::string source;
  std::unique_ptr<Node> root;                  // the fast path's tree; null for a general program
  // The fast tree is a generator at its top (`.tags[]?`, `.a, .b`, `.items[] | .id`): its values
  // come from collect(), not eval(). Generators inside other forms go to the general engine.
  bool multi = false;
  std::uint16_t var_slots = 0;  // variables bound by reduce: the frame's size
  std::shared_ptr<const jq::Program> general;  // the general engine's program (general.cpp)
  // A fast program's general twin, compiled when first asked for (general_program()): only a
  // record the fast path cannot read (numbers beyond 64 bits) needs it, and compiling it reads
  // the general engine's prelude, which a run of fast programs would otherwise pay at start.
  mutable std::once_flag twin_once;
  mutable std::shared_ptr<const jq::Program> twin;
  Arena constants{1024};  // folded constant strings, arrays and objects; never reset
};

}  // namespace ppipe::expr
