// Compact JSON output that matches `jq -c` byte for byte where it can:
// - strings: `"` and `\` escaped, \b \f \n \r \t, other bytes < 0x20 and DEL as \u00XX (lower-case
//   hex), everything else (including `/`, U+2028 and all non-ASCII) raw (src/util/json_string.h);
// - doubles: jq 1.6's format (shortest round-trip digits, exponent form when the decimal exponent
//   is < -4 or beyond 15 digits past the last significant digit, e.g. 1e+20, 1e-05), NaN as null,
//   +-Infinity as +-1.7976931348623157e+308;
// - int64 / uint64: exact decimal (jq 1.6 rounds them through a double: a deliberate difference).
#include <charconv>
#include <cmath>
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "src/expr/internal.h"
#include "src/util/json_string.h"

namespace ppipe::expr {

void write_int(std::int64_t i, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), i);
  out.append(buf, r.ptr);
}

static void write_uint(std::uint64_t u, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), u);
  out.append(buf, r.ptr);
}

namespace {

// A positive non-integral double that is a short decimal (43.385, 0.25, 1234.5: most numbers in
// data), as n x 10^-k with the fewest decimals k <= 10: Dragonbox's shortest digits, found with a
// multiplication per k. Exact while s = a*10^k < 2^50:
// - an n that reads back as a is within ulp(a)*10^k/2 <= s*2^-53 of the exact product, and the
//   product is rounded by at most s*2^-53: so |s - n| <= s*2^-52 (< 1/4), rounding s gives n,
//   and the filter below never skips it;
// - n / 10^k is one correctly rounded division of two exact doubles: what reading "n e-k" gives;
// - a's rounding interval, scaled, is narrower than s*2^-52 < 1/4: one n at most reads back,
//   so there is no closer one to prefer; with fewer decimals none did: no shorter digits exist.
// False: use Dragonbox.
bool short_decimal(double a, std::uint64_t* n, int* k) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
  constexpr double kLimit = 1125899906842624.0;  // 2^50
  for (int i = 1; i <= 10; ++i) {
    const double scaled = a * kPow10[i];
    if (scaled >= kLimit) return false;
    const auto m = static_cast<std::uint64_t>(scaled + 0.5);  // the nearest integer (0 < s < 2^50)
    const double r = static_cast<double>(m);
    // Farther from an integer than s*2^-52 (see above): no n at this k.
    if (std::fabs(scaled - r) > scaled * 0x1p-50) continue;
    if (r / kPow10[i] != a) continue;
    *n = m;
    *k = i;
    return true;
  }
  return false;
}

}  // namespace

// short_decimal: the fast way when it applies; Dragonbox for every other double, or for all of
// them when !short_ways (the reference the tests hold the fast way to).
static void write_double_as(double d, std::string& out, bool short_ways) {
  if (std::isnan(d)) {
    out.append("null");
    return;
  }
  if (std::isinf(d)) d = d > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
  // Integral values below 2^53 print as integers in jq's layout too: skip the digit search.
  if (d == std::trunc(d) && std::fabs(d) < 9007199254740992.0 && !(d == 0 && std::signbit(d))) {
    write_int(static_cast<std::int64_t>(d), out);
    return;
  }
  // Shortest round-trip digits from fmt's Dragonbox, as significand x 10^exponent, laid out as
  // jq's jvp_dtoa_fmt does. (fmt's own "{}" layout read back cost a third more; std::to_chars
  // more still.) to_decimal wants a nonzero finite magnitude: -0.0 is handled here.
  const bool negative = std::signbit(d);
  char digits[24];
  int nd = 1;
  int decpt = 1;  // the value is 0.DIGITS x 10^decpt
  std::uint64_t n = 0;  // short_decimal's n x 10^-k
  int k = 0;
  if (d == 0) {
    digits[0] = '0';
  } else if (short_ways && short_decimal(std::fabs(d), &n, &k)) {
    nd = static_cast<int>(std::to_chars(digits, digits + sizeof(digits), n).ptr - digits);
    decpt = nd - k;
  } else {
    const auto dec = fmt::detail::dragonbox::to_decimal(std::fabs(d));
    nd = static_cast<int>(std::to_chars(digits, digits + sizeof(digits), dec.significand).ptr - digits);
    decpt = dec.exponent + nd;
  }
  while (nd > 1 && digits[nd - 1] == '0') --nd;
  if (negative) out.push_back('-');
  if (nd == 1 && digits[0] == '0') {
    out.push_back('0');
    return;
  }
  if (decpt <= -4 || decpt > nd + 15) {
    out.push_back(digits[0]);
    if (nd > 1) {
      out.push_back('.');
      out.append(digits + 1, nd - 1);
    }
    out.push_back('e');
    int e = decpt - 1;
    if (e < 0) {
      out.push_back('-');
      e = -e;
    } else {
      out.push_back('+');
    }
    if (e < 10) out.push_back('0');
    char eb[8];
    auto er = std::to_chars(eb, eb + sizeof(eb), e);
    out.append(eb, er.ptr);
  } else if (decpt <= 0) {
    out.append("0.");
    out.append(static_cast<std::size_t>(-decpt), '0');
    out.append(digits, nd);
  } else {
    if (decpt >= nd) {
      out.append(digits, nd);
      out.append(static_cast<std::size_t>(decpt - nd), '0');
    } else {
      out.append(digits, decpt);
      out.push_back('.');
      out.append(digits + decpt, nd - decpt);
    }
  }
}

void write_double(double d, std::string& out) { write_double_as(d, out, true); }
void write_double_dragonbox(double d, std::string& out) { write_double_as(d, out, false); }

void write_json_dom(simdjson::dom::element e, std::string& out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE: out.append("null"); return;
    case element_type::BOOL: out.append(e.get_bool().value_unsafe() ? "true" : "false"); return;
    case element_type::INT64: write_int(e.get_int64().value_unsafe(), out); return;
    case element_type::UINT64: write_uint(e.get_uint64().value_unsafe(), out); return;
    case element_type::DOUBLE: write_double(e.get_double().value_unsafe(), out); return;
    case element_type::STRING: append_json_string_jq(out, e.get_string().value_unsafe()); return;
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (simdjson::dom::element item : simdjson::dom::array(e.get_array().value_unsafe())) {
        if (!first) out.push_back(',');
        first = false;
        write_json_dom(item, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      for (auto field : simdjson::dom::object(e.get_object().value_unsafe())) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string_jq(out, field.key);
        out.push_back(':');
        write_json_dom(field.value, out);
      }
      out.push_back('}');
      return;
    }
  }
}

void write_json(const Value& v, std::string& out) {
  switch (v.tag()) {
    case Tag::kNull: out.append("null"); return;
    case Tag::kFalse: out.append("false"); return;
    case Tag::kTrue: out.append("true"); return;
    case Tag::kInt: write_int(v.int_value(), out); return;
    case Tag::kUint: write_uint(v.uint_value(), out); return;
    case Tag::kDouble: write_double(v.double_value(), out); return;
    case Tag::kString: append_json_string_jq(out, v.string_value()); return;
    case Tag::kArray:
      if (v.is_dom()) {
        write_json_dom(v.dom(), out);
        return;
      }
      out.push_back('[');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i > 0) out.push_back(',');
        write_json(v.items()[i], out);
      }
      out.push_back(']');
      return;
    case Tag::kObject:
      if (v.is_dom()) {
        write_json_dom(v.dom(), out);
        return;
      }
      out.push_back('{');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json_string_jq(out, v.members()[i].key);
        out.push_back(':');
        write_json(v.members()[i].value, out);
      }
      out.push_back('}');
      return;
  }
}

Value copy_dom(simdjson::dom::element e, Arena& arena) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      char* p = arena.alloc_chars(s.size());
      std::memcpy(p, s.data(), s.size());
      return Value::string({p, s.size()});
    }
    case element_type::ARRAY: {
      simdjson::dom::array a = e.get_array().value_unsafe();
      ArenaVec<Value> items(arena, 8);
      for (simdjson::dom::element item : a) items.push_back(copy_dom(item, arena));
      return Value::array(items.data(), items.size());
    }
    case element_type::OBJECT: {
      simdjson::dom::object o = e.get_object().value_unsafe();
      MemberSet members(arena, 8);  // (a duplicate key: the last value wins, in the first place)
      for (auto field : o) {
        char* p = arena.alloc_chars(field.key.size());
        std::memcpy(p, field.key.data(), field.key.size());
        members.put(std::string_view(p, field.key.size()), copy_dom(field.value, arena));
      }
      return members.object();
    }
    default: return Value::from_dom(e);
  }
}

// append_json_sorted: members gathered (a DOM object's too), sorted by key, written.
static void write_json_sorted(const Value& v, std::string& out) {
  switch (v.tag()) {
    case Tag::kDouble: {
      const double d = v.double_value();
      if (d == 0) {
        out.push_back('0');  // -0.0 == 0
        return;
      }
      // An integral double that a 64-bit integer holds exactly is written as that integer: ppipe
      // compares numbers by exact value, so 1e18 == 1000000000000000000 and 2^62 ==
      // 4611686018427387904.0, and they are one key (written 1e+18 and 4611686018427388000, they
      // were two groups, two uniq keys).
      if (d == std::trunc(d)) {
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
          fmt::format_to(std::back_inserter(out), "{}", static_cast<std::int64_t>(d));
          return;
        }
        if (d > 0 && d < 18446744073709551616.0) {
          fmt::format_to(std::back_inserter(out), "{}", static_cast<std::uint64_t>(d));
          return;
        }
      }
      write_double(d, out);
      return;
    }
    case Tag::kArray: {
      out.push_back('[');
      bool first = true;
      for_each_item(v, [&](const Value& x) {
        if (!first) out.push_back(',');
        first = false;
        write_json_sorted(x, out);
        return true;
      });
      out.push_back(']');
      return;
    }
    case Tag::kObject: {
      std::vector<std::pair<std::string_view, Value>> members;
      for_each_member(v, [&](std::string_view k, const Value& x) {
        members.emplace_back(k, x);
        return true;
      });
      std::stable_sort(members.begin(), members.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i + 1 < members.size() && members[i + 1].first == members[i].first) continue;  // the last wins
        if (!first) out.push_back(',');
        first = false;
        append_json_string_jq(out, members[i].first);
        out.push_back(':');
        write_json_sorted(members[i].second, out);
      }
      out.push_back('}');
      return;
    }
    default: write_json(v, out); return;
  }
}

// -------------------------------------------------------------------------------------------
// Public output API.

void append_json_sorted(const Value& v, std::string& out) { write_json_sorted(v, out); }

void append_json(const Value& v, std::string& out) { write_json(v, out); }

void append_json(const Result& r, std::string& out) {
  if (r.outcome == Outcome::kValue) write_json(r.value, out);
}

void append_raw(const Value& v, std::string& out) {
  if (v.is_string()) {
    out.append(v.string_value());
  } else {
    write_json(v, out);
  }
}

}  // namespace ppipe::expr
