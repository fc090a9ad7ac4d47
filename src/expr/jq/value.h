// The general engine's values (src/expr/jq): jq's full language, with generators, variables,
// paths and assignment, for the expressions the single-valued fast path (src/expr/eval.cpp)
// does not take. Values here own their memory (reference-counted, immutable once shared,
// copy-on-write when not), as jq's jv does: simple, and fast enough for the general path.
//
// Numbers are doubles, as in jq 1.7; a number read from input or written as a literal keeps its
// text, so one passed through unchanged prints as written (`1.0`, `1E3`, `100000000000000000001`),
// and one beyond double range is read as jq 1.7 reads it (1e400 -> 1.7976931348623157e+308).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppipe::expr::jq {

// Ordered as jq's total order.
enum class T : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

class J;
// (Both free their items without recursion: a value built 2,000,000 arrays deep by `reduce
// range(N) as $i (0; [.])` crashed the process when it was freed, one stack frame per level.)
struct JArr {
  std::vector<J> v;
  JArr() = default;
  JArr(const JArr&) = default;
  JArr& operator=(const JArr&) = default;
  ~JArr();
};
struct JObj;

class J {
 public:
  J() = default;
  static J null() { return J(); }
  static J boolean(bool b) { return J(b ? T::kTrue : T::kFalse); }
  static J number(double d) {
    J j(T::kNumber);
    j.n_ = d;
    return j;
  }
  // A number with its literal text (kept for output while the number is unchanged).
  static J number_text(double d, std::string_view text);
  static J string(std::string s);
  static J array(std::vector<J> items);
  static J array() { return array({}); }
  static J object();

  T type() const { return t_; }
  bool is_null() const { return t_ == T::kNull; }
  bool is_number() const { return t_ == T::kNumber; }
  bool is_string() const { return t_ == T::kString; }
  bool is_array() const { return t_ == T::kArray; }
  bool is_object() const { return t_ == T::kObject; }
  bool truthy() const { return t_ > T::kFalse; }

  double num() const { return n_; }
  const std::string* literal() const { return t_ == T::kNumber ? static_cast<const std::string*>(p_.get()) : nullptr; }
  const std::string& str() const { return *static_cast<const std::string*>(p_.get()); }
  const std::vector<J>& arr() const { return static_cast<const JArr*>(p_.get())->v; }
  const JObj& obj() const { return *static_cast<const JObj*>(p_.get()); }

  // Copy-on-write access: copies the payload first when another value shares it.
  std::string& mut_str();
  std::vector<J>& mut_arr();
  JObj& mut_obj();

  std::size_t size() const;  // arrays, objects

 private:
  explicit J(T t) : t_(t) {}
  T t_ = T::kNull;
  double n_ = 0;
  std::shared_ptr<const void> p_;
};

// An object: members in insertion order (jq prints them so), with an index once it grows.
struct JObj {
  std::vector<std::pair<std::string, J>> m;
  JObj() = default;
  JObj(const JObj&) = default;
  JObj& operator=(const JObj&) = default;
  ~JObj();
  const J* find(std::string_view key) const;
  J* find_mut(std::string_view key);
  void set(std::string_view key, J value);  // replaces in place, or appends
  bool erase(std::string_view key);
  std::vector<std::size_t> sorted_order() const;  // member indices by key (code point order)

 private:
  friend class J;
  mutable std::vector<std::uint32_t> index_;  // hash table of member indices + 1; built lazily
  mutable std::size_t indexed_ = 0;           // members covered by index_
  void reindex() const;
};

// An error raised by an expression: jq's error value (a string for messages).
struct Error {
  J value;
};

const char* type_name(const J& v);
// jq's total order and equality (objects regardless of key order). Nesting deeper than 10,000
// raises Error{too_deep} (jq 1.8's limit).
int compare(const J& a, const J& b, const char* too_deep = "Comparison too deep", int depth = 0);
inline bool equal(const J& a, const J& b) { return compare(a, b, "Equality check too deep") == 0; }

// Compact JSON, as `jq -c`: insertion key order, numbers by their literal text when they have one.
void write(const J& v, std::string& out);
// Indented (`jq` without -c), `indent` spaces per level; sorted keys when sort_keys.
void write_pretty(const J& v, std::string& out, int indent, bool sort_keys = false);
std::string to_json(const J& v);
// jq's message form of a value in errors, cut to about 11 bytes: `number (1)`, `string ("abc...")`.
std::string kind_and_value(const J& v);

// Reads one JSON text (whitespace around it allowed). False with a message on invalid input.
// Numbers keep their literal text. Nesting deeper than 10,000 is an error.
// valid_utf8: the text is known to be valid UTF-8 (a record `parse` checked): no second scan.
bool parse_json(std::string_view text, J& out, std::string* error, bool valid_utf8 = false);
// Reads only the members named in `keys` of an object (the others are skipped unread, so the
// value is not the whole input): for a program that reads its input only as those fields
// (Program::fields). Anything else (not an object, unexpected text) is read as parse_json reads it.
bool parse_json_fields(std::string_view text, const std::vector<std::string>& keys, J& out, std::string* error,
                       bool valid_utf8 = false);
// Reads every JSON text of a sequence (fromjson is one; --argjson one): used by tests.
bool parse_json_seq(std::string_view text, std::vector<J>& out, std::string* error);

}  // namespace ppipe::expr::jq
