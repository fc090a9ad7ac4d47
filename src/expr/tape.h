// Direct reads of simdjson's DOM tape, for the hot path (field lookup, scalar decode).
//
// Why: a field lookup must scan the whole object (jq keeps the last of duplicate keys), and
// going through dom::object::iterator costs about three times as many instructions per field as
// reading the tape words directly. The tape layout is documented in simdjson's
// doc/tape.md and is stable across the 3.x series; the static_asserts below catch a layout change
// at compile time, and the unit tests compare against the public DOM API.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "src/expr/expr.h"  // MemberKeys
#include "src/expr/value.h"

namespace ppipe::expr::tape {

static_assert(simdjson::SIMDJSON_VERSION_MAJOR == 3, "tape.h reads simdjson 3.x DOM internals");
static_assert(sizeof(simdjson::dom::element) == sizeof(simdjson::internal::tape_ref));
static_assert(std::is_trivially_copyable_v<simdjson::internal::tape_ref>);

struct Ref {
  const std::uint64_t* tape;
  const std::uint8_t* strings;
  std::size_t index;
  const simdjson::dom::document* doc;
};

inline Ref ref_of(simdjson::dom::element e) {
  simdjson::internal::tape_ref t;
  std::memcpy(static_cast<void*>(&t), static_cast<const void*>(&e), sizeof(t));
  return Ref{t.doc->tape.get(), t.doc->string_buf.get(), t.json_index, t.doc};
}

inline simdjson::dom::element element_at(const Ref& r, std::size_t index) {
  simdjson::internal::tape_ref t(r.doc, index);
  simdjson::dom::element e;
  std::memcpy(static_cast<void*>(&e), static_cast<const void*>(&t), sizeof(t));
  return e;
}

inline char type_at(const Ref& r, std::size_t i) { return static_cast<char>(r.tape[i] >> 56); }

inline std::string_view string_at(const Ref& r, std::size_t i) {
  const std::uint8_t* p = r.strings + (r.tape[i] & simdjson::internal::JSON_VALUE_MASK);
  std::uint32_t len;
  std::memcpy(&len, p, sizeof(len));
  return {reinterpret_cast<const char*>(p + sizeof(len)), len};
}

// Index of the word after the value that starts at i. On a member scan's critical path (each
// step needs the last), so it branches on the type: in JSON Lines of one schema the types come in
// the same pattern in every record, the branches are predicted, and the next member's index is
// known before the value's tape word has loaded; only objects and arrays wait for their end
// index. (Computing it with compares and no branch made every step wait for that load: 4% of an
// agg run by `.host`, `-j 1`.)
inline std::size_t skip(const Ref& r, std::size_t i) {
  const std::uint64_t v = r.tape[i];
  const std::uint64_t t = v >> 56;
  if (t == 'l' || t == 'd' || t == 'u') return i + 2;
  if (t == '{' || t == '[') return static_cast<std::uint32_t>(v);
  return i + 1;
}

// The value whose word is at i, into `out` (null for i == 0). Each case stores its own Value: one
// built in a common temporary and then copied stalled store forwarding, once per value.
inline void decode_into(const Ref& r, std::size_t i, Value& out) {
  if (i == 0) {
    out = Value::null();
    return;
  }
  switch (type_at(r, i)) {
    case 'n': out = Value::null(); return;
    case 't': out = Value::boolean(true); return;
    case 'f': out = Value::boolean(false); return;
    case 'l': out = Value::integer(static_cast<std::int64_t>(r.tape[i + 1])); return;
    case 'u': out = Value::uinteger(r.tape[i + 1]); return;
    case 'd': {
      double d;
      std::memcpy(&d, &r.tape[i + 1], sizeof(d));
      out = Value::number(d);
      return;
    }
    case '"': out = Value::string(string_at(r, i)); return;
    default: out = Value::from_dom(element_at(r, i)); return;  // arrays, objects
  }
}

// Member lookup in the object that starts at r.index; the last of duplicate keys wins, so the
// whole object is scanned. Per member: one tape word for the key, the key's length, and one tape
// word to step over the value.
inline bool lookup(const Ref& r, std::string_view key, Value& out) {
  const std::uint64_t* tape = r.tape;
  std::size_t end = static_cast<std::uint32_t>(tape[r.index]) - 1;  // the '}' word
  std::size_t found = 0;
  const auto klen = static_cast<std::uint32_t>(key.size());
  const char k0 = klen > 0 ? key[0] : 0;
  for (std::size_t i = r.index + 1; i < end;) {
    const std::uint8_t* p = r.strings + (tape[i] & simdjson::internal::JSON_VALUE_MASK);
    std::uint32_t len;
    std::memcpy(&len, p, sizeof(len));
    // The first byte check is always in bounds (a string is followed by its NUL terminator).
    if (len == klen && static_cast<char>(p[sizeof(len)]) == k0 &&
        std::memcmp(p + sizeof(len), key.data(), len) == 0) {
      found = i + 1;
    }
    i = skip(r, i + 1);  // past the member's value
  }
  if (found == 0) return false;
  decode_into(r, found, out);
  return true;
}

// Several lookups in one scan of the object's members (the last of duplicate keys wins):
// outs[j] is the value of keys[j], or null when absent. Keys should be distinct.
inline void lookup_many(const Ref& r, const MemberKeys& keys, Value* outs) {
  const std::uint64_t* tape = r.tape;
  std::size_t end = static_cast<std::uint32_t>(tape[r.index]) - 1;  // the '}' word
  const std::size_t n = keys.keys.size();
  std::size_t found[kMaxMembers];
  for (std::size_t j = 0; j < n; ++j) found[j] = 0;
  for (std::size_t i = r.index + 1; i < end;) {
    const std::uint8_t* p = r.strings + (tape[i] & simdjson::internal::JSON_VALUE_MASK);
    std::uint32_t len;
    std::memcpy(&len, p, sizeof(len));
    for (std::uint32_t mask = keys.by_length[std::min<std::size_t>(len, MemberKeys::kLengths - 1)]; mask;
         mask &= mask - 1) {
      const std::size_t j = static_cast<std::size_t>(__builtin_ctz(mask));
      // The first 8 bytes in one load (the string buffer is padded: reading past a short key's
      // end stays inside it); up to 16, the last 8 in another; the rest of a longer key with memcmp.
      std::uint64_t head, tail;
      std::memcpy(&head, p + sizeof(len), sizeof(head));
      if (len == keys.keys[j].size() && (head & keys.head_mask[j]) == keys.head[j] &&
          (len <= 8 || (len <= 16 ? (std::memcpy(&tail, p + sizeof(len) + len - 8, 8), tail == keys.tail[j])
                                  : std::memcmp(p + sizeof(len) + 8, keys.keys[j].data() + 8, len - 8) == 0)))
        found[j] = i + 1;
    }
    i = skip(r, i + 1);  // past the member's value
  }
  for (std::size_t j = 0; j < n; ++j) decode_into(r, found[j], outs[j]);
}

}  // namespace ppipe::expr::tape
