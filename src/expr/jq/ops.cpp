// Value operations of the general engine, with jq 1.7's semantics and error messages.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "src/expr/internal.h"
#include "src/expr/jq/interp.h"
#include "src/util/text_util.h"

extern char** environ;

namespace ppipe::expr::jq {

void type_error(const J& v, const std::string& what) { fail(kind_and_value(v) + " " + what); }

int sort_compare(const J& a, const J& b) {
  if (a.is_number() && b.is_number() && std::isnan(a.num()) && std::isnan(b.num())) return 0;
  return compare(a, b, "Comparison too deep");
}

std::size_t codepoints(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {

// jq 1.8's wording: "Cannot index number with string (\"a\")"
[[noreturn]] void index_error(const J& t, const J& k) {
  std::string kv = k.is_object() ? "object" : kind_and_value(k);
  fail(std::string("Cannot index ") + type_name(t) + " with " + kv);
}

// Byte offset of code point `cp` in s (s.size() past the end).
std::size_t cp_offset(const std::string& s, std::size_t cp) {
  std::size_t i = 0, n = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == cp) return i;
      ++n;
    }
  }
  return s.size();
}

// jq 1.7's slice bounds: negative from the end, clamped, start floored, end ceiled.
void slice_bounds(const J& from, const J& to, std::size_t len, std::size_t& b, std::size_t& e) {
  if ((!from.is_null() && !from.is_number()) || (!to.is_null() && !to.is_number()))
    fail("Start and end indices of an array slice must be numbers");
  double n = static_cast<double>(len);
  double ds = from.is_null() ? 0 : from.num();
  double de = to.is_null() ? n : to.num();
  if (std::isnan(ds)) ds = 0;
  if (std::isnan(de)) de = n;
  if (ds < 0) ds += n;
  if (de < 0) de += n;
  ds = std::clamp(ds, 0.0, n);
  de = std::clamp(de, 0.0, n);
  ds = std::floor(ds);
  de = std::min(std::ceil(de), n);
  if (de < ds) de = ds;
  b = static_cast<std::size_t>(ds);
  e = static_cast<std::size_t>(de);
}

bool slice_key(const J& k) {
  return k.is_object() && k.obj().m.size() <= 2 && (k.obj().find("start") || k.obj().find("end"));
}

J array_indices(const J& a, const J& b) {
  std::vector<J> out;
  const auto &x = a.arr(), &y = b.arr();
  if (y.empty()) return J::null();
  for (std::size_t i = 0; i + y.size() <= x.size(); ++i) {
    bool m = true;
    for (std::size_t j = 0; j < y.size() && m; ++j) m = equal(x[i + j], y[j]);
    if (m) out.push_back(J::number(static_cast<double>(i)));
  }
  return J::array(std::move(out));
}

J deep_merge(const J& a, const J& b, int depth = 0) {
  if (depth > 10000) fail("Object merge too deep");
  J r = a;
  JObj& o = r.mut_obj();
  for (const auto& kv : b.obj().m) {
    const J* old = o.find(kv.first);
    if (old && old->is_object() && kv.second.is_object()) o.set(kv.first, deep_merge(*old, kv.second, depth + 1));
    else o.set(kv.first, kv.second);
  }
  return r;
}

[[noreturn]] void error2(const J& a, const J& b, const char* what) {
  fail(kind_and_value(a) + " and " + kind_and_value(b) + " " + what);
}

std::int64_t dtoi(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2233720368547758e18) return INT64_MAX;
  if (d <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<std::int64_t>(d);
}

}  // namespace

J field(const J& t, const std::string& name) {
  if (t.is_object()) {
    const J* v = t.obj().find(name);
    return v ? *v : J::null();
  }
  if (t.is_null()) return J::null();
  index_error(t, J::string(name));
}

J index_value(const J& t, const J& k) {
  if (t.is_object() && k.is_string()) {
    const J* v = t.obj().find(k.str());
    return v ? *v : J::null();
  }
  if (t.is_array() && k.is_number()) {
    double d = k.num();
    if (std::isnan(d)) return J::null();
    double idx = std::trunc(d);  // jq 1.7: (int)didx, toward zero: .[-1.5] is .[-1]
    double n = static_cast<double>(t.arr().size());
    if (idx < 0) idx += n;
    if (idx < 0 || idx >= n) return J::null();
    return t.arr()[static_cast<std::size_t>(idx)];
  }
  if ((t.is_array() || t.is_string()) && slice_key(k)) {
    const J* s = k.obj().find("start");
    const J* e = k.obj().find("end");
    return slice_value(t, s ? *s : J::null(), e ? *e : J::null());
  }
  if (t.is_array() && k.is_array()) return array_indices(t, k);
  if (t.is_null() && (k.is_string() || k.is_number() || k.is_object())) return J::null();
  index_error(t, k);
}

J slice_value(const J& t, const J& from, const J& to) {
  if (t.is_null()) return J::null();
  if (t.is_array()) {
    std::size_t b, e;
    slice_bounds(from, to, t.arr().size(), b, e);
    return J::array(std::vector<J>(t.arr().begin() + static_cast<std::ptrdiff_t>(b),
                                   t.arr().begin() + static_cast<std::ptrdiff_t>(e)));
  }
  if (t.is_string()) {
    std::size_t b, e;
    slice_bounds(from, to, codepoints(t.str()), b, e);
    std::size_t bb = cp_offset(t.str(), b), eb = cp_offset(t.str(), e);
    return J::string(t.str().substr(bb, eb - bb));
  }
  fail(std::string("Cannot index ") + type_name(t) + " with object");
}

J negate(const J& a) {
  if (!a.is_number()) type_error(a, "cannot be negated");
  if (const std::string* lit = a.literal()) {  // -1E+1000 keeps its literal, as jq does
    if (!lit->empty() && (*lit)[0] == '-') return J::number_text(-a.num(), lit->substr(1));
    return J::number_text(-a.num(), "-" + *lit);
  }
  return J::number(-a.num());
}

J add_in_place(J a, const J& b) {
  // (a copy of a shared `a` is made by mut_*: binary() adds two strings, arrays or objects here)
  if (a.is_array() && b.is_array()) {
    const std::vector<J>& add = b.arr();
    if (add.empty()) return a;
    std::vector<J>& v = a.mut_arr();
    v.insert(v.end(), add.begin(), add.end());
    return a;
  }
  if (a.is_object() && b.is_object()) {
    JObj& o = a.mut_obj();
    for (const auto& kv : b.obj().m) o.set(kv.first, kv.second);
    return a;
  }
  if (a.is_string() && b.is_string()) {
    a.mut_str() += b.str();
    return a;
  }
  return binary(Bin::kAdd, a, b);
}

J binary(Bin op, const J& a, const J& b) {
  switch (op) {
    case Bin::kAdd:
      if (a.is_null()) return b;
      if (b.is_null()) return a;
      if (a.is_number() && b.is_number()) return J::number(a.num() + b.num());
      if (a.type() == b.type() && (a.is_string() || a.is_array() || a.is_object())) return add_in_place(a, b);
      error2(a, b, "cannot be added");
    case Bin::kSub:
      if (a.is_number() && b.is_number()) return J::number(a.num() - b.num());
      if (a.is_array() && b.is_array()) {
        std::vector<J> out;
        for (const J& x : a.arr()) {
          bool found = false;
          for (const J& y : b.arr())
            if (equal(x, y)) {
              found = true;
              break;
            }
          if (!found) out.push_back(x);
        }
        return J::array(std::move(out));
      }
      error2(a, b, "cannot be subtracted");
    case Bin::kMul:
      if (a.is_number() && b.is_number()) return J::number(a.num() * b.num());
      if ((a.is_string() && b.is_number()) || (a.is_number() && b.is_string())) {
        // jq 1.8: floor(n) copies ("" for 0 <= n < 1); null when n < 0 or NaN
        const J& str = a.is_string() ? a : b;
        double d = (a.is_string() ? b : a).num();
        if (!(d >= 0)) return J::null();
        if (str.str().empty()) return str;
        double copies = std::floor(d);
        if (copies * static_cast<double>(str.str().size()) > static_cast<double>(1u << 30))
          fail("Repeat string result too long");
        std::string r;
        r.reserve(static_cast<std::size_t>(copies) * str.str().size());
        for (std::size_t i = 0; i < static_cast<std::size_t>(copies); ++i) r += str.str();
        return J::string(std::move(r));
      }
      if (a.is_object() && b.is_object()) return deep_merge(a, b);
      error2(a, b, "cannot be multiplied");
    case Bin::kDiv:
      if (a.is_number() && b.is_number()) {
        if (b.num() == 0) error2(a, b, "cannot be divided because the divisor is zero");
        return J::number(a.num() / b.num());
      }
      if (a.is_string() && b.is_string()) {
        std::vector<J> parts;
        const std::string &s = a.str(), &sep = b.str();
        if (s.empty()) return J::array();
        if (sep.empty()) {
          for (std::size_t i = 0; i < s.size();) {
            std::size_t j = i + 1;
            while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
            parts.push_back(J::string(s.substr(i, j - i)));
            i = j;
          }
          return J::array(std::move(parts));
        }
        std::size_t start = 0;
        for (;;) {
          std::size_t at = s.find(sep, start);
          if (at == std::string::npos) {
            parts.push_back(J::string(s.substr(start)));
            break;
          }
          parts.push_back(J::string(s.substr(start, at - start)));
          start = at + sep.size();
        }
        return J::array(std::move(parts));
      }
      error2(a, b, "cannot be divided");
    case Bin::kMod:
      if (a.is_number() && b.is_number()) {
        if (std::isnan(a.num()) || std::isnan(b.num())) return J::number(std::nan(""));
        std::int64_t y = dtoi(b.num());
        if (y == 0) error2(a, b, "cannot be divided (remainder) because the divisor is zero");
        std::int64_t x = dtoi(a.num());
        if (y == -1) return J::number(0);
        return J::number(static_cast<double>(x % y));
      }
      error2(a, b, "cannot be divided (remainder)");
    case Bin::kEq: return J::boolean(equal(a, b));
    case Bin::kNe: return J::boolean(!equal(a, b));
    case Bin::kLt: return J::boolean(compare(a, b) < 0);
    case Bin::kLe: return J::boolean(compare(a, b) <= 0);
    case Bin::kGt: return J::boolean(compare(a, b) > 0);
    case Bin::kGe: return J::boolean(compare(a, b) >= 0);
  }
  return J::null();
}

J getpath(const J& t, const J& path) {
  if (!path.is_array()) fail("Path must be specified as an array");
  if (path.arr().size() > 10000) fail("Path too deep");
  J cur = t;
  for (const J& k : path.arr()) {
    if (cur.is_null()) return J::null();
    cur = index_value(cur, k);
  }
  return cur;
}

J setpath(J t, const J& path, std::size_t i, const J& v) {
  if (!path.is_array()) fail("Path must be specified as an array");
  if (i == 0 && path.arr().size() > 10000) fail("Path too deep");
  if (i == path.arr().size()) return v;
  const J& k = path.arr()[i];
  if (t.is_null()) {
    if (k.is_string()) t = J::object();
    else if (k.is_number() || slice_key(k)) t = J::array();
    else index_error(t, k);
  }
  if (t.is_object() && k.is_string()) {
    JObj& o = t.mut_obj();
    J* slot = o.find_mut(k.str());
    if (slot) {
      J child = std::move(*slot);
      *slot = J::null();
      *o.find_mut(k.str()) = setpath(std::move(child), path, i + 1, v);
    } else {
      o.set(k.str(), setpath(J::null(), path, i + 1, v));
    }
    return t;
  }
  if (t.is_array() && k.is_number()) {
    if (std::isnan(k.num())) fail("Cannot set array element at NaN index");
    double d = std::trunc(k.num());
    auto& a = t.mut_arr();
    if (d < 0) d += static_cast<double>(a.size());
    if (d < 0) fail("Out of bounds negative array index");
    if (d > 536870912) fail("Array index too large");
    auto idx = static_cast<std::size_t>(d);
    if (idx >= a.size()) a.resize(idx + 1);
    J child = std::move(a[idx]);
    a[idx] = setpath(std::move(child), path, i + 1, v);
    return t;
  }
  if (t.is_array() && k.is_array()) fail("Cannot update field at array index of array");
  if (t.is_string() && slice_key(k)) fail("Cannot update string slices");
  if (t.is_array() && slice_key(k)) {
    const J* s = k.obj().find("start");
    const J* e = k.obj().find("end");
    std::size_t b, en;
    slice_bounds(s ? *s : J::null(), e ? *e : J::null(), t.arr().size(), b, en);
    J cur = J::array(std::vector<J>(t.arr().begin() + static_cast<std::ptrdiff_t>(b),
                                    t.arr().begin() + static_cast<std::ptrdiff_t>(en)));
    J repl = setpath(std::move(cur), path, i + 1, v);
    if (!repl.is_array()) fail("A slice of an array can only be assigned another array");
    auto& a = t.mut_arr();
    std::vector<J> out(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(b));
    out.insert(out.end(), repl.arr().begin(), repl.arr().end());
    out.insert(out.end(), a.begin() + static_cast<std::ptrdiff_t>(en), a.end());
    a = std::move(out);
    return t;
  }
  if (t.is_object() || t.is_array()) index_error(t, k);
  index_error(t, k);
}



namespace {

// jq's dels: the keys of one level deleted at once, each index against the array as it was
// (repeats and overlaps count once: `del(.[1], .[1])` deletes one element, and a slice with
// other indices does not shift them), in one pass (deleting one element at a time was
// quadratic: `del(.[] | select(. % 2 == 0))` on 300,000 took 12 s).
J delete_keys(J t, const std::vector<const J*>& keys) {
  if (keys.empty() || t.is_null()) return t;
  if (t.is_object()) {
    JObj& o = t.mut_obj();
    for (const J* k : keys) {
      if (!k->is_string()) fail(std::string("Cannot delete ") + type_name(*k) + " field of object");
      o.erase(k->str());
    }
    return t;
  }
  if (!t.is_array()) fail(std::string("Cannot delete fields from ") + type_name(t));  // (jq's words)
  const std::size_t len = t.arr().size();
  std::vector<bool> gone(len, false);
  for (const J* k : keys) {
    if (k->is_number()) {
      // against the array as it is now (after the deletions inside its elements), as jq
      if (std::isnan(k->num())) continue;
      double d = std::trunc(k->num());
      if (d < 0) d += static_cast<double>(len);
      if (d >= 0 && d < static_cast<double>(len)) gone[static_cast<std::size_t>(d)] = true;
    } else if (slice_key(*k)) {
      const J* s = k->obj().find("start");
      const J* e = k->obj().find("end");
      std::size_t b, en;
      slice_bounds(s ? *s : J::null(), e ? *e : J::null(), len, b, en);
      for (std::size_t i = b; i < en; ++i) gone[i] = true;
    } else {
      fail(std::string("Cannot delete ") + type_name(*k) + " element of array");
    }
  }
  std::vector<J>& a = t.mut_arr();
  std::size_t w = 0;
  for (std::size_t i = 0; i < len; ++i)
    if (!gone[i]) {
      if (w != i) a[w] = std::move(a[i]);
      ++w;
    }
  a.resize(w);
  return t;
}

// jq's delpaths_sorted: paths sorted, grouped by their key at `depth`; a group whose first path
// ends there deletes that key (deeper paths under it do not matter); the others delete inside
// the key's value first. This level's keys go last, all at once.
J delete_sorted(J t, const std::vector<const J*>& ps, std::size_t depth) {
  std::vector<const J*> keys;
  for (std::size_t i = 0; i < ps.size();) {
    const J& key = ps[i]->arr()[depth];
    std::size_t j = i + 1;
    while (j < ps.size() && compare(ps[j]->arr()[depth], key) == 0) ++j;
    if (ps[i]->arr().size() == depth + 1) {
      keys.push_back(&key);
    } else if (!t.is_null()) {
      J sub = index_value(t, key);
      if (!sub.is_null()) {
        std::vector<const J*> under(ps.begin() + static_cast<std::ptrdiff_t>(i), ps.begin() + static_cast<std::ptrdiff_t>(j));
        J changed = delete_sorted(std::move(sub), under, depth + 1);
        if (t.is_array() && slice_key(key)) {
          if (!changed.is_array()) fail("A slice of an array can only be assigned another array");
          const J* s = key.obj().find("start");
          const J* e = key.obj().find("end");
          std::size_t b, en;
          slice_bounds(s ? *s : J::null(), e ? *e : J::null(), t.arr().size(), b, en);
          auto& a = t.mut_arr();
          std::vector<J> out(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(b));
          out.insert(out.end(), changed.arr().begin(), changed.arr().end());
          out.insert(out.end(), a.begin() + static_cast<std::ptrdiff_t>(en), a.end());
          a = std::move(out);
        } else if (t.is_object() && key.is_string()) {
          *t.mut_obj().find_mut(key.str()) = std::move(changed);
        } else if (t.is_array() && key.is_number()) {
          double d = std::trunc(key.num());  // (index_value found it: in range)
          if (d < 0) d += static_cast<double>(t.arr().size());
          t.mut_arr()[static_cast<std::size_t>(d)] = std::move(changed);
        }
      }
    }
    i = j;
  }
  return delete_keys(std::move(t), keys);
}

}  // namespace

// The paths as given (jq's delpaths: sorted, grouped by key; each key, a negative index or a
// slice's bounds, read against the array as it is when its level is reached, after the slices
// sorted before it were changed). Made absolute against the original value first, they pointed
// past what a changed slice had left: del(.[0:2][0], .[3:][0]) on [1,2,3,4,5] deleted the 5.
J delpaths(J t, const J& paths) {
  if (!paths.is_array()) fail("Paths must be specified as an array");
  std::vector<J> ps;
  for (const J& p : paths.arr()) {
    if (!p.is_array()) fail("Path must be specified as an array");
    if (p.arr().size() > 10000) fail("Path too deep");
    ps.push_back(p);
  }
  if (ps.empty()) return t;
  std::stable_sort(ps.begin(), ps.end(), [](const J& a, const J& b) { return sort_compare(a, b) < 0; });
  if (ps[0].arr().empty()) return J::null();  // (the empty path sorts first: the whole value)
  std::vector<const J*> refs;
  refs.reserve(ps.size());
  for (const J& p : ps) refs.push_back(&p);
  return delete_sorted(std::move(t), refs, 0);
}

std::string tostring(const J& v) { return v.is_string() ? v.str() : to_json(v); }

// ---------------------------------------------------------------- @formats

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const char kB32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string base64(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8) |
                 static_cast<unsigned char>(s[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i + 1 == s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    unsigned n = (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string base64d(const std::string& s) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  std::size_t valid = 0;
  for (char c : s) {
    const char* p = c ? std::strchr(kB64, c) : nullptr;
    if (c == '=') break;
    if (!p) fail(kind_and_value(J::string(s)) + " is not valid base64 data");
    ++valid;
    acc = (acc << 6) | static_cast<unsigned>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (valid % 4 == 1) fail(kind_and_value(J::string(s)) + " trailing base64 byte found");
  return utf8_replace_invalid(out);
}

std::string base32(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 5) {
    std::uint64_t n = 0;
    std::size_t len = std::min<std::size_t>(5, s.size() - i);
    for (std::size_t j = 0; j < 5; ++j) n = (n << 8) | (j < len ? static_cast<unsigned char>(s[i + j]) : 0);
    static const int kChars[] = {0, 2, 4, 5, 7, 8};
    int chars = kChars[len];
    for (int j = 0; j < 8; ++j) out += j < chars ? kB32[(n >> (35 - 5 * j)) & 31] : '=';
  }
  return out;
}

std::string base32d(const std::string& s) {
  std::string out;
  std::uint64_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const char* p = c ? std::strchr(kB32, c) : nullptr;
    if (!p) fail(kind_and_value(J::string(s)) + " is not valid base32 data");
    acc = (acc << 5) | static_cast<unsigned>(p - kB32);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return utf8_replace_invalid(out);
}

std::string number_text(const J& v) { return to_json(v); }

}  // namespace

// Fails as format_value does for a name that is no format. (Checked before a format string's
// parts are evaluated: formatting a probe value instead made @base64d "..." decode "[]" and fail.)
void check_format(const std::string& fmt) {
  static const char* const kFormats[] = {"text", "json", "html",    "uri",    "urid",    "csv",
                                         "tsv",  "sh",   "base64", "base64d", "base32", "base32d"};
  for (const char* f : kFormats)
    if (fmt == f) return;
  fail(fmt + " is not a valid format");
}

std::string format_value(const std::string& fmt, const J& v) {
  if (fmt == "text") return tostring(v);
  if (fmt == "json") return to_json(v);
  if (fmt == "html") {
    std::string s = tostring(v), out;
    for (char c : s) {
      switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '\'': out += "&apos;"; break;  // jq 1.8 (1.7: &#39;)
        case '"': out += "&quot;"; break;
        case '\0': out += "\\0"; break;  // jq's escape_string: NUL as \0 in every format
        default: out += c;
      }
    }
    return out;
  }
  if (fmt == "uri") {
    std::string s = tostring(v), out;
    static const char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  }
  if (fmt == "urid") {  // jq 1.8: URI decoding
    std::string s = tostring(v), out;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      } else if (s[i] == '%') {
        fail(kind_and_value(J::string(s)) + " is not a valid uri encoding");
      } else {
        out += s[i];
      }
    }
    return utf8_replace_invalid(out);
  }
  if (fmt == "csv" || fmt == "tsv") {
    bool csv = fmt == "csv";
    if (!v.is_array()) type_error(v, std::string("cannot be ") + fmt + "-formatted, only an array can be");
    std::string out;
    bool first = true;
    for (const J& x : v.arr()) {
      if (!first) out += csv ? ',' : '\t';
      first = false;
      switch (x.type()) {
        case T::kNull: break;
        case T::kTrue: out += "true"; break;
        case T::kFalse: out += "false"; break;
        case T::kNumber:
          if (!std::isnan(x.num())) out += number_text(x);  // NaN: an empty field, as jq
          break;
        case T::kString:
          if (csv) {
            out += '"';
            for (char c : x.str()) {
              if (c == '"') out += "\"\"";
              else if (c == '\0') out += "\\0";
              else out += c;
            }
            out += '"';
          } else {
            for (char c : x.str()) {
              switch (c) {
                case '\\': out += "\\\\"; break;
                case '\t': out += "\\t"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\0': out += "\\0"; break;
                default: out += c;
              }
            }
          }
          break;
        default: type_error(x, std::string("is not valid in a ") + (csv ? "csv" : "tsv") + " row");
      }
    }
    return out;
  }
  if (fmt == "sh") {
    auto quote = [](const J& x, std::string& out) {
      switch (x.type()) {
        case T::kString: {
          out += '\'';
          for (char c : x.str()) {
            if (c == '\'') out += "'\\''";
            else if (c == '\0') out += "\\0";
            else out += c;
          }
          out += '\'';
          return;
        }
        case T::kArray:
        case T::kObject: type_error(x, "can not be escaped for shell");
        default: out += to_json(x);
      }
    };
    std::string out;
    if (v.is_array()) {
      bool first = true;
      for (const J& x : v.arr()) {
        if (!first) out += ' ';
        first = false;
        quote(x, out);
      }
    } else {
      quote(v, out);
    }
    return out;
  }
  if (fmt == "base64") return base64(tostring(v));
  if (fmt == "base64d") return base64d(tostring(v));
  if (fmt == "base32") return base32(tostring(v));
  if (fmt == "base32d") return base32d(tostring(v));
  fail(fmt + " is not a valid format");
}

J env_object() {
  static const J env = [] {
    J o = J::object();
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv(*e);
      std::size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      o.mut_obj().set(kv.substr(0, eq), J::string(utf8_replace_invalid(kv.substr(eq + 1))));
    }
    return o;
  }();
  return env;
}

}  // namespace ppipe::expr::jq
