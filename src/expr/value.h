// The value model of the expression language.
//
// A Value is 24 bytes, trivially copyable, and never owns memory. It points either into the
// input document (a simdjson DOM element: string bytes, arrays and objects are not copied), into
// the per-worker Scratch arena (computed strings, arrays, objects; valid until the next
// evaluate() with the same Scratch), or into the compiled Program (constants). That is what lets
// `.status >= 500` or `{host, status}` run without touching the heap.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace ppipe::expr {

// Ordered as jq's total order: null < false < true < numbers < strings < arrays < objects.
enum class Tag : std::uint8_t {
  kNull,
  kFalse,
  kTrue,
  kInt,     // int64
  kUint,    // uint64 above INT64_MAX (only from input or literals); kept exact
  kDouble,
  kString,
  kArray,
  kObject,
};

struct Member;

class Value {
 public:
  Value() noexcept : head_(head(Tag::kNull, false, 0)) { u_.i = 0; }

  static Value null() noexcept { return Value(); }
  static Value boolean(bool b) noexcept { return tagged(b ? Tag::kTrue : Tag::kFalse); }
  static Value integer(std::int64_t i) noexcept {
    Value v = tagged(Tag::kInt);
    v.u_.i = i;
    return v;
  }
  static Value uinteger(std::uint64_t u) noexcept {
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return integer(static_cast<std::int64_t>(u));
    Value v = tagged(Tag::kUint);
    v.u_.u = u;
    return v;
  }
  static Value number(double d) noexcept {
    Value v = tagged(Tag::kDouble);
    v.u_.d = d;
    return v;
  }
  // The bytes must outlive the value (input document, arena or program).
  static Value string(std::string_view s) noexcept {
    Value v = tagged(Tag::kString, static_cast<std::uint32_t>(s.size()));
    v.u_.s = s.data();
    return v;
  }
  static Value array(const Value* items, std::uint32_t n) noexcept {
    Value v = tagged(Tag::kArray, n);
    v.u_.items = items;
    return v;
  }
  static Value object(const Member* members, std::uint32_t n) noexcept {
    Value v = tagged(Tag::kObject, n);
    v.u_.members = members;
    return v;
  }
  // Scalars are decoded at once; arrays and objects stay references into the document.
  static Value from_dom(simdjson::dom::element e) noexcept;

  Tag tag() const noexcept { return static_cast<Tag>(head_ & 0xff); }
  bool is_null() const noexcept { return tag() == Tag::kNull; }
  bool is_number() const noexcept { return tag() >= Tag::kInt && tag() <= Tag::kDouble; }
  bool is_string() const noexcept { return tag() == Tag::kString; }
  bool is_array() const noexcept { return tag() == Tag::kArray; }
  bool is_object() const noexcept { return tag() == Tag::kObject; }
  // jq truthiness: only null and false are false.
  bool truthy() const noexcept { return tag() > Tag::kFalse; }
  // For kArray / kObject: true when the value is a view of an input DOM element.
  bool is_dom() const noexcept { return ((head_ >> 8) & 1) != 0; }

  std::int64_t int_value() const noexcept { return u_.i; }
  std::uint64_t uint_value() const noexcept { return u_.u; }
  double double_value() const noexcept { return u_.d; }
  // Any number as a double (int64 and uint64 beyond 2^53 round).
  double as_double() const noexcept {
    switch (tag()) {
      case Tag::kInt: return static_cast<double>(u_.i);
      case Tag::kUint: return static_cast<double>(u_.u);
      default: return u_.d;
    }
  }
  std::string_view string_value() const noexcept { return {u_.s, size()}; }
  // Arena / constant arrays and objects (is_dom() == false).
  const Value* items() const noexcept { return u_.items; }
  const Member* members() const noexcept { return u_.members; }
  std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(head_ >> 32); }
  // DOM arrays and objects (is_dom() == true).
  simdjson::dom::element dom() const noexcept {
    simdjson::dom::element e;
    std::memcpy(static_cast<void*>(&e), u_.elem, sizeof(e));
    return e;
  }

 private:
  // The tag, the DOM flag and the size share one word, written at once: a value written field by
  // field and then copied (a 16-byte load over three smaller stores) stalls store forwarding,
  // which cost agg's member lookup a fifth of its time.
  static constexpr std::uint64_t head(Tag t, bool dom, std::uint32_t size) noexcept {
    return static_cast<std::uint64_t>(t) | (static_cast<std::uint64_t>(dom) << 8) | (static_cast<std::uint64_t>(size) << 32);
  }
  static Value tagged(Tag t, std::uint32_t size = 0, bool dom = false) noexcept {
    Value v;
    v.head_ = head(t, dom, size);
    return v;
  }

  std::uint64_t head_;  // tag (bits 0-7), DOM flag (bit 8), size (bits 32-63)
  union {
    std::int64_t i;
    std::uint64_t u;
    double d;
    const char* s;
    const Value* items;
    const Member* members;
    alignas(8) unsigned char elem[16];
  } u_;

  static_assert(std::is_trivially_copyable_v<simdjson::dom::element>);
  static_assert(sizeof(simdjson::dom::element) <= 16);
};

struct Member {
  std::string_view key;
  Value value;
};

static_assert(sizeof(Value) == 24);
static_assert(std::is_trivially_copyable_v<Value>);

inline Value Value::from_dom(simdjson::dom::element e) noexcept {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE: return null();
    case element_type::BOOL: return boolean(e.get_bool().value_unsafe());
    case element_type::INT64: return integer(e.get_int64().value_unsafe());
    case element_type::UINT64: return uinteger(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: return number(e.get_double().value_unsafe());
    case element_type::STRING: return string(e.get_string().value_unsafe());
    case element_type::ARRAY:
    case element_type::OBJECT: {
      Value v = tagged(e.type() == element_type::ARRAY ? Tag::kArray : Tag::kObject, 0, true);
      std::memcpy(v.u_.elem, static_cast<const void*>(&e), sizeof(e));
      return v;
    }
  }
  return null();
}

}  // namespace ppipe::expr
