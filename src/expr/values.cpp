// Value operations with jq 1.6 semantics: lookup, the total order, arithmetic, containment.
// Numbers compare exactly across int64 / uint64 / double (jq 1.6 compares through doubles).
#include <algorithm>
#include <cmath>
#include <span>
#include <unordered_map>

#include "src/expr/internal.h"
#include "src/expr/tape.h"

namespace ppipe::expr {

namespace {

// Iterates the elements of an array value, DOM or arena, with one interface.
class ItemCursor {
 public:
  explicit ItemCursor(const Value& v) : dom_(v.is_dom()) {
    if (dom_) {
      simdjson::dom::array a = v.dom().get_array().value_unsafe();
      it_ = a.begin();
      end_ = a.end();
    } else {
      p_ = v.items();
      pend_ = v.items() + v.size();
    }
  }
  bool next(Value& out) {
    if (dom_) {
      if (it_ == end_) return false;
      out = Value::from_dom(*it_);
      ++it_;
      return true;
    }
    if (p_ == pend_) return false;
    out = *p_++;
    return true;
  }

 private:
  bool dom_;
  simdjson::dom::array::iterator it_{}, end_{};
  const Value* p_ = nullptr;
  const Value* pend_ = nullptr;
};

int type_rank(Tag t) {
  switch (t) {
    case Tag::kNull: return 0;
    case Tag::kFalse: return 1;
    case Tag::kTrue: return 2;
    case Tag::kInt:
    case Tag::kUint:
    case Tag::kDouble: return 3;
    case Tag::kString: return 4;
    case Tag::kArray: return 5;
    case Tag::kObject: return 6;
  }
  return 0;
}

constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

// Exact comparison of an integer with a double. NaN compares as "greater" (jq: neither < nor ==).
int cmp_int_double(std::int64_t i, double d) {
  if (std::isnan(d)) return 1;
  if (d >= kTwo63) return -1;
  if (d < -kTwo63) return 1;
  double t = std::trunc(d);
  auto ti = static_cast<std::int64_t>(t);
  if (i < ti) return -1;
  if (i > ti) return 1;
  double frac = d - t;
  return frac > 0 ? -1 : (frac < 0 ? 1 : 0);
}

int cmp_uint_double(std::uint64_t u, double d) {
  if (std::isnan(d)) return 1;
  if (d >= kTwo64) return -1;
  if (d < kTwo63) return 1;
  double t = std::trunc(d);
  auto tu = static_cast<std::uint64_t>(t);
  if (u < tu) return -1;
  if (u > tu) return 1;
  return d > t ? -1 : 0;
}

int cmp_numbers(const Value& a, const Value& b) {
  Tag ta = a.tag(), tb = b.tag();
  if (ta == Tag::kInt && tb == Tag::kInt) {
    return a.int_value() < b.int_value() ? -1 : (a.int_value() > b.int_value() ? 1 : 0);
  }
  if (ta == Tag::kDouble && tb == Tag::kDouble) {
    // As jq 1.6: NaN on the left is below everything, NaN included (so nan < nan, nan != nan).
    double x = a.double_value(), y = b.double_value();
    if (std::isnan(x)) return -1;
    if (std::isnan(y)) return 1;
    return x < y ? -1 : (x == y ? 0 : 1);
  }
  if (ta == Tag::kUint && tb == Tag::kUint) {
    return a.uint_value() < b.uint_value() ? -1 : (a.uint_value() > b.uint_value() ? 1 : 0);
  }
  if (ta == Tag::kInt && tb == Tag::kUint) return -1;
  if (ta == Tag::kUint && tb == Tag::kInt) return 1;
  if (ta == Tag::kInt) return cmp_int_double(a.int_value(), b.double_value());
  if (ta == Tag::kUint) return cmp_uint_double(a.uint_value(), b.double_value());
  // a is a double, b an integer: mirror; NaN is below every number.
  if (std::isnan(a.double_value())) return -1;
  int r = tb == Tag::kInt ? cmp_int_double(b.int_value(), a.double_value())
                          : cmp_uint_double(b.uint_value(), a.double_value());
  return -r;
}

int cmp_strings(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size());
  int r = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (r != 0) return r < 0 ? -1 : 1;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

}  // namespace

const char* kind_name(const Value& v) {
  switch (v.tag()) {
    case Tag::kNull: return "null";
    case Tag::kFalse:
    case Tag::kTrue: return "boolean";
    case Tag::kInt:
    case Tag::kUint:
    case Tag::kDouble: return "number";
    case Tag::kString: return "string";
    case Tag::kArray: return "array";
    case Tag::kObject: return "object";
  }
  return "null";
}

void append_kind_and_value(const Value& v, std::string& out, std::string& tmp) {
  out.append(kind_name(v));
  out.append(" (");
  tmp.clear();
  write_json(v, tmp);
  // jq 1.8 dumps into a 30-byte buffer: at most 29 bytes, cut to 26 and "..." when longer (a
  // string loses one more character for its closing quote). Cut at a UTF-8 character boundary.
  if (tmp.size() > 29) {
    std::size_t cut = 26;
    while (cut > 0 && (static_cast<unsigned char>(tmp[cut]) & 0xC0) == 0x80) --cut;
    if (v.is_string() && cut > 1) {
      --cut;
      while (cut > 0 && (static_cast<unsigned char>(tmp[cut]) & 0xC0) == 0x80) --cut;
    }
    out.append(tmp.data(), cut);
    out.append(v.is_string() ? "...\"" : "...");
  } else {
    out.append(tmp);
  }
  out.push_back(')');
}

std::string_view make_string(Ctx& cx, std::string_view bytes) {
  char* p = cx.arena.alloc_chars(bytes.size());
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return {p, bytes.size()};
}

std::uint32_t codepoint_count(std::string_view s) {
  std::uint32_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool lookup(const Value& obj, std::string_view key, Value& out) {
  if (obj.is_dom()) return tape::lookup(tape::ref_of(obj.dom()), key, out);
  for (std::uint32_t i = 0; i < obj.size(); ++i) {
    if (obj.members()[i].key == key) {
      out = obj.members()[i].value;
      return true;
    }
  }
  return false;
}

std::uint32_t container_size(const Value& v) {
  if (!v.is_dom()) return v.size();
  if (v.is_array()) {
    simdjson::dom::array a = v.dom().get_array().value_unsafe();
    std::size_t n = a.size();
    if (n < 0xFFFFFF) return static_cast<std::uint32_t>(n);
    n = 0;  // simdjson saturates the stored count: count by walking
    for (auto it = a.begin(); it != a.end(); ++it) ++n;
    return static_cast<std::uint32_t>(n);
  }
  simdjson::dom::object o = v.dom().get_object().value_unsafe();
  std::size_t n = o.size();
  if (n < 0xFFFFFF) return static_cast<std::uint32_t>(n);
  n = 0;
  for (auto it = o.begin(); it != o.end(); ++it) ++n;
  return static_cast<std::uint32_t>(n);
}

bool array_at(const Value& arr, std::int64_t index, Value& out) {
  if (index < 0) return false;
  if (!arr.is_dom()) {
    if (index >= arr.size()) return false;
    out = arr.items()[index];
    return true;
  }
  std::int64_t i = 0;
  for (simdjson::dom::element e : simdjson::dom::array(arr.dom().get_array().value_unsafe())) {
    if (i++ == index) {
      out = Value::from_dom(e);
      return true;
    }
  }
  return false;
}

Value sorted_keys(const Value& obj, Arena& arena) {
  ArenaVec<Value> keys(arena, 8);
  for_each_member(obj, [&](std::string_view k, const Value&) {
    keys.push_back(Value::string(k));
    return true;
  });
  std::sort(keys.data(), keys.data() + keys.size(), [](const Value& a, const Value& b) {
    return cmp_strings(a.string_value(), b.string_value()) < 0;
  });
  // A DOM object may repeat a key; jq's object holds it once.
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < keys.size(); ++i) {
    if (n == 0 || keys[n - 1].string_value() != keys[i].string_value()) keys[n++] = keys[i];
  }
  return Value::array(keys.data(), n);
}


Value materialize_object(const Value& obj, Arena& arena) {
  if (!obj.is_dom()) return obj;
  MemberSet members(arena, 8);
  for_each_member(obj, [&](std::string_view k, const Value& v) {
    members.put(k, v);
    return true;
  });
  return members.object();
}

namespace {
// An object's members (duplicates resolved as jq: the last wins) sorted by key.
std::span<const Member> sorted_members(const Value& obj, Arena& arena) {
  const Value m = materialize_object(obj, arena);
  Member* sorted = arena.alloc_array<Member>(m.size());
  std::copy(m.members(), m.members() + m.size(), sorted);
  std::sort(sorted, sorted + m.size(),
            [](const Member& a, const Member& b) { return cmp_strings(a.key, b.key) < 0; });
  return {sorted, m.size()};
}
}  // namespace

int compare(const Value& a, const Value& b, Arena& arena) {
  int ra = type_rank(a.tag()), rb = type_rank(b.tag());
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 3: return cmp_numbers(a, b);
    case 4: return cmp_strings(a.string_value(), b.string_value());
    case 5: {
      ItemCursor ca(a), cb(b);
      Value x, y;
      for (;;) {
        bool hx = ca.next(x), hy = cb.next(y);
        if (!hx || !hy) return hx == hy ? 0 : (hx ? 1 : -1);
        int r = compare(x, y, arena);
        if (r != 0) return r;
      }
    }
    case 6: {
      // jq: compare the sorted key sets first, then the values key by key (each object's
      // members sorted once: a lookup per key made objects of 40,000 keys take seconds).
      const std::span<const Member> ma = sorted_members(a, arena), mb = sorted_members(b, arena);
      for (std::size_t i = 0; i < ma.size() && i < mb.size(); ++i)
        if (int c = cmp_strings(ma[i].key, mb[i].key)) return c < 0 ? -1 : 1;
      if (ma.size() != mb.size()) return ma.size() < mb.size() ? -1 : 1;
      for (std::size_t i = 0; i < ma.size(); ++i)
        if (int r = compare(ma[i].value, mb[i].value, arena)) return r;
      return 0;
    }
    default: return 0;  // null, false, true
  }
}

bool equal(const Value& a, const Value& b, Arena& arena) {
  if (a.tag() == Tag::kString) {
    return b.tag() == Tag::kString && a.string_value() == b.string_value();
  }
  if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) return a.int_value() == b.int_value();
  if (type_rank(a.tag()) != type_rank(b.tag())) return false;
  if (a.tag() == Tag::kArray && container_size(a) != container_size(b)) return false;
  return compare(a, b, arena) == 0;
}

Value split_string(std::string_view s, std::string_view sep, Arena& arena) {
  ArenaVec<Value> parts(arena, 8);
  if (s.empty()) return Value::array(parts.data(), 0);
  if (sep.empty()) {
    // jq 1.6 splits into characters.
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t j = i + 1;
      while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
      parts.push_back(Value::string(s.substr(i, j - i)));
      i = j;
    }
    return Value::array(parts.data(), parts.size());
  }
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(Value::string(s.substr(start)));
      break;
    }
    parts.push_back(Value::string(s.substr(start, pos - start)));
    start = pos + sep.size();
  }
  return Value::array(parts.data(), parts.size());
}

// -------------------------------------------------------------------------------------------
// Arithmetic.

St type_error2(Ctx& cx, const Value& a, const Value& b, std::string_view what) {
  std::string& m = cx.s.message;
  m.clear();
  append_kind_and_value(a, m, cx.s.buffer);
  m.append(" and ");
  append_kind_and_value(b, m, cx.s.buffer);
  m.push_back(' ');
  m.append(what);
  return message_error(cx.s);
}

namespace {

Value concat_arrays(const Value& a, const Value& b, Arena& arena) {
  std::uint32_t n = container_size(a) + container_size(b);
  ArenaVec<Value> items(arena, n);
  auto push = [&](const Value& v) {
    items.push_back(v);
    return true;
  };
  for_each_item(a, push);
  for_each_item(b, push);
  return Value::array(items.data(), items.size());
}

Value merge_objects(const Value& a, const Value& b, Arena& arena) {
  MemberSet members(arena, container_size(a) + container_size(b));
  auto put = [&](std::string_view k, const Value& v) {
    members.put(k, v);
    return true;
  };
  for_each_member(a, put);
  for_each_member(b, put);
  return members.object();
}

Value deep_merge(const Value& a, const Value& b, Arena& arena) {
  MemberSet members(arena, container_size(a) + container_size(b));
  for_each_member(a, [&](std::string_view k, const Value& v) {
    members.put(k, v);
    return true;
  });
  for_each_member(b, [&](std::string_view k, const Value& v) {
    if (Member* m = members.find(k)) m->value = (m->value.is_object() && v.is_object()) ? deep_merge(m->value, v, arena) : v;
    else members.add(k, v);
    return true;
  });
  return members.object();
}

St add_numbers(const Value& a, const Value& b, Value& out) {
  if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) {
    std::int64_t r;
    if (!__builtin_add_overflow(a.int_value(), b.int_value(), &r)) {
      out = Value::integer(r);
      return St::kOk;
    }
  }
  out = Value::number(a.as_double() + b.as_double());
  return St::kOk;
}

std::int64_t to_intmax(const Value& v) {
  if (v.tag() == Tag::kInt) return v.int_value();
  if (v.tag() == Tag::kUint) return INT64_MAX;
  double d = v.double_value();
  if (std::isnan(d)) return 0;
  if (d >= kTwo63) return INT64_MAX;
  if (d <= -kTwo63) return INT64_MIN;
  return static_cast<std::int64_t>(d);
}

}  // namespace

St negate(const Value& a, Value& out, Ctx& cx) {
  if (a.tag() == Tag::kInt && a.int_value() != INT64_MIN) {
    out = Value::integer(-a.int_value());
    return St::kOk;
  }
  if (a.is_number()) {
    out = Value::number(-a.as_double());
    return St::kOk;
  }
  std::string& m = cx.s.message;
  m.clear();
  append_kind_and_value(a, m, cx.s.buffer);
  m.append(" cannot be negated");
  return message_error(cx.s);
}

St binary_op(BinOp op, const Value& a, const Value& b, Value& out, Ctx& cx) {
  Arena& arena = cx.arena;
  switch (op) {
    case BinOp::kEq: out = Value::boolean(equal(a, b, arena)); return St::kOk;
    case BinOp::kNe: out = Value::boolean(!equal(a, b, arena)); return St::kOk;
    case BinOp::kLt: out = Value::boolean(compare(a, b, arena) < 0); return St::kOk;
    case BinOp::kLe: out = Value::boolean(compare(a, b, arena) <= 0); return St::kOk;
    case BinOp::kGt: out = Value::boolean(compare(a, b, arena) > 0); return St::kOk;
    case BinOp::kGe: out = Value::boolean(compare(a, b, arena) >= 0); return St::kOk;
    case BinOp::kAdd: {
      if (a.is_null()) {
        out = b;
        return St::kOk;
      }
      if (b.is_null()) {
        out = a;
        return St::kOk;
      }
      if (a.is_number() && b.is_number()) return add_numbers(a, b, out);
      if (a.is_string() && b.is_string()) {
        std::string_view x = a.string_value(), y = b.string_value();
        char* p = arena.alloc_chars(x.size() + y.size());
        if (!x.empty()) std::memcpy(p, x.data(), x.size());
        if (!y.empty()) std::memcpy(p + x.size(), y.data(), y.size());
        out = Value::string({p, x.size() + y.size()});
        return St::kOk;
      }
      if (a.is_array() && b.is_array()) {
        out = concat_arrays(a, b, arena);
        return St::kOk;
      }
      if (a.is_object() && b.is_object()) {
        out = merge_objects(a, b, arena);
        return St::kOk;
      }
      return type_error2(cx, a, b, "cannot be added");
    }
    case BinOp::kSub: {
      if (a.is_number() && b.is_number()) {
        if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) {
          std::int64_t r;
          if (!__builtin_sub_overflow(a.int_value(), b.int_value(), &r)) {
            out = Value::integer(r);
            return St::kOk;
          }
        }
        out = Value::number(a.as_double() - b.as_double());
        return St::kOk;
      }
      if (a.is_array() && b.is_array()) {
        ArenaVec<Value> items(arena, container_size(a));
        for_each_item(a, [&](const Value& x) {
          bool drop = false;
          for_each_item(b, [&](const Value& y) {
            drop = equal(x, y, arena);
            return !drop;
          });
          if (!drop) items.push_back(x);
          return true;
        });
        out = Value::array(items.data(), items.size());
        return St::kOk;
      }
      return type_error2(cx, a, b, "cannot be subtracted");
    }
    case BinOp::kMul: {
      if (a.is_number() && b.is_number()) {
        if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) {
          std::int64_t r;
          if (!__builtin_mul_overflow(a.int_value(), b.int_value(), &r)) {
            out = Value::integer(r);
            return St::kOk;
          }
        }
        out = Value::number(a.as_double() * b.as_double());
        return St::kOk;
      }
      if ((a.is_string() && b.is_number()) || (a.is_number() && b.is_string())) {
        const Value& str = a.is_string() ? a : b;
        const Value& num = a.is_string() ? b : a;
        // jq 1.8: floor(n) copies ("" for 0 <= n < 1); null when n < 0 or NaN.
        double d = num.as_double();
        if (!(d >= 0)) {
          out = Value::null();
          return St::kOk;
        }
        std::string_view s = str.string_value();
        // Any number of copies of "" is "" (a huge count would otherwise overflow the size_t
        // conversion below and loop for ever).
        if (s.empty()) {
          out = str;
          return St::kOk;
        }
        double copies = std::floor(d);
        if (copies * static_cast<double>(s.size()) > static_cast<double>(1u << 30)) {
          return fail(cx, "Repeat string result too long");
        }
        auto n = static_cast<std::size_t>(copies);
        char* p = arena.alloc_chars(n * s.size());
        for (std::size_t i = 0; i < n; ++i) std::memcpy(p + i * s.size(), s.data(), s.size());
        out = Value::string({p, n * s.size()});
        return St::kOk;
      }
      if (a.is_object() && b.is_object()) {
        out = deep_merge(a, b, arena);
        return St::kOk;
      }
      return type_error2(cx, a, b, "cannot be multiplied");
    }
    case BinOp::kDiv: {
      if (a.is_number() && b.is_number()) {
        if (b.as_double() == 0.0) return type_error2(cx, a, b, "cannot be divided because the divisor is zero");
        if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) {
          std::int64_t x = a.int_value(), y = b.int_value();
          if (!(x == INT64_MIN && y == -1) && x % y == 0) {
            out = Value::integer(x / y);
            return St::kOk;
          }
        }
        out = Value::number(a.as_double() / b.as_double());
        return St::kOk;
      }
      if (a.is_string() && b.is_string()) {
        out = split_string(a.string_value(), b.string_value(), arena);
        return St::kOk;
      }
      return type_error2(cx, a, b, "cannot be divided");
    }
    case BinOp::kMod: {
      if (a.is_number() && b.is_number()) {
        std::int64_t y = to_intmax(b);
        if (y == 0) return type_error2(cx, a, b, "cannot be divided (remainder) because the divisor is zero");
        std::int64_t x = to_intmax(a);
        out = Value::integer(y == -1 ? 0 : x % y);
        return St::kOk;
      }
      return type_error2(cx, a, b, "cannot be divided (remainder)");
    }
  }
  return St::kOk;
}

// jq's jv_contains: objects by key (recursive), arrays by "every b element is contained in some
// a element", strings by substring, everything else by equality.
bool contains(const Value& a, const Value& b) {
  if (a.tag() != b.tag() && !(a.is_number() && b.is_number())) return false;
  if (a.is_object()) {
    bool all = true;
    for_each_member(b, [&](std::string_view k, const Value& bv) {
      Value av;
      all = lookup(a, k, av) && contains(av, bv);
      return all;
    });
    return all;
  }
  if (a.is_array()) {
    bool all = true;
    for_each_item(b, [&](const Value& bv) {
      bool any = false;
      for_each_item(a, [&](const Value& av) {
        any = contains(av, bv);
        return !any;
      });
      all = any;
      return all;
    });
    return all;
  }
  if (a.is_string()) return a.string_value().find(b.string_value()) != std::string_view::npos;
  if (a.is_number()) return cmp_numbers(a, b) == 0;
  return true;  // same tag: null, false, true
}

}  // namespace ppipe::expr
