#include "src/expr/jq/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>

#include "src/expr/internal.h"
#include "src/util/json_string.h"
#include "src/util/text_util.h"

namespace ppipe::expr::jq {

// Freeing a value without recursion. The first array or object freed on a thread moves the
// arrays and objects among its items into a list and frees them one by one; any freed meanwhile
// (theirs, when the list held the last reference) adds its own to the list instead of freeing
// them in its destructor's frame. Depth takes list room, not stack.
namespace {
thread_local std::vector<J>* t_freeing = nullptr;

bool is_container(const J& j) { return j.is_array() || j.is_object(); }

template <class Items, class Get>
void free_items(Items& items, Get get) {
  if (t_freeing) {
    for (auto& it : items)
      if (is_container(get(it))) t_freeing->push_back(std::move(get(it)));
    return;
  }
  // The first on this thread: each item freed in turn, its subtree through the list before the
  // next (the list holds one subtree's waiting nodes, not every item: moving all 3,000,000 items
  // of `[range(3000000) | [.]]` there first took 160 MB more).
  std::vector<J> list;
  t_freeing = &list;
  for (auto& it : items) {
    if (!is_container(get(it))) continue;
    { J item = std::move(get(it)); }  // (freed here: its own arrays and objects go to the list)
    while (!list.empty()) {
      J last = std::move(list.back());
      list.pop_back();
    }
  }
  t_freeing = nullptr;
}
}  // namespace

JArr::~JArr() {
  free_items(v, [](J& j) -> J& { return j; });
}

JObj::~JObj() {
  free_items(m, [](std::pair<std::string, J>& kv) -> J& { return kv.second; });
}

J J::number_text(double d, std::string_view text) {
  J j = number(d);
  j.p_ = std::make_shared<const std::string>(text);
  return j;
}

J J::string(std::string s) {
  J j(T::kString);
  j.p_ = std::make_shared<const std::string>(std::move(s));
  return j;
}

J J::array(std::vector<J> items) {
  J j(T::kArray);
  auto a = std::make_shared<JArr>();
  a->v = std::move(items);
  j.p_ = std::move(a);
  return j;
}

J J::object() {
  J j(T::kObject);
  j.p_ = std::make_shared<JObj>();
  return j;
}

std::string& J::mut_str() {
  if (p_.use_count() > 1) p_ = std::make_shared<const std::string>(str());
  return const_cast<std::string&>(str());
}

std::vector<J>& J::mut_arr() {
  if (p_.use_count() > 1) {
    auto a = std::make_shared<JArr>();
    a->v = arr();
    p_ = std::move(a);
  }
  return const_cast<JArr*>(static_cast<const JArr*>(p_.get()))->v;
}

JObj& J::mut_obj() {
  if (p_.use_count() > 1) {
    auto o = std::make_shared<JObj>();
    o->m = obj().m;
    p_ = std::move(o);
  }
  return const_cast<JObj&>(obj());
}

std::size_t J::size() const {
  if (t_ == T::kArray) return arr().size();
  if (t_ == T::kObject) return obj().m.size();
  return 0;
}

// ---------------------------------------------------------------- objects

namespace {
constexpr std::size_t kIndexFrom = 16;
std::size_t hash_key(std::string_view k) { return std::hash<std::string_view>{}(k); }
}  // namespace

void JObj::reindex() const {
  std::size_t cap = 32;
  while (cap < m.size() * 2) cap *= 2;
  index_.assign(cap, 0);
  for (std::size_t i = 0; i < m.size(); ++i) {
    std::size_t h = hash_key(m[i].first) & (cap - 1);
    while (index_[h] != 0) h = (h + 1) & (cap - 1);
    index_[h] = static_cast<std::uint32_t>(i + 1);
  }
  indexed_ = m.size();
}

const J* JObj::find(std::string_view key) const {
  if (m.size() < kIndexFrom) {
    for (const auto& kv : m)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  if (indexed_ != m.size() || index_.empty()) reindex();
  std::size_t mask = index_.size() - 1, h = hash_key(key) & mask;
  while (index_[h] != 0) {
    const auto& kv = m[index_[h] - 1];
    if (kv.first == key) return &kv.second;
    h = (h + 1) & mask;
  }
  return nullptr;
}

J* JObj::find_mut(std::string_view key) { return const_cast<J*>(find(key)); }

void JObj::set(std::string_view key, J value) {
  if (J* v = find_mut(key)) {
    *v = std::move(value);
    return;
  }
  m.emplace_back(std::string(key), std::move(value));
  if (!index_.empty() && indexed_ == m.size() - 1 && m.size() * 2 <= index_.size()) {
    std::size_t mask = index_.size() - 1, h = hash_key(m.back().first) & mask;
    while (index_[h] != 0) h = (h + 1) & mask;
    index_[h] = static_cast<std::uint32_t>(m.size());
    indexed_ = m.size();
  }
}

bool JObj::erase(std::string_view key) {
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it->first == key) {
      m.erase(it);
      index_.clear();
      indexed_ = 0;
      return true;
    }
  }
  return false;
}

std::vector<std::size_t> JObj::sorted_order() const {
  std::vector<std::size_t> order(m.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return m[a].first < m[b].first; });
  return order;
}

// ---------------------------------------------------------------- order

const char* type_name(const J& v) {
  switch (v.type()) {
    case T::kNull: return "null";
    case T::kFalse:
    case T::kTrue: return "boolean";
    case T::kNumber: return "number";
    case T::kString: return "string";
    case T::kArray: return "array";
    case T::kObject: return "object";
  }
  return "null";
}

namespace {

// A number's literal text as sign, significant digits (no leading or trailing zeros: "" is zero)
// and the power of ten of the first digit's place: 1234.5 is ("12345", 4), 0.012 is ("12", -1).
struct Decimal {
  bool negative = false;
  std::string digits;
  std::int64_t lead = 0;
};

Decimal decimal_of(std::string_view t) {
  Decimal d;
  std::size_t i = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) d.negative = t[i++] == '-';
  std::int64_t int_digits = 0;
  bool in_fraction = false;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '.') {
      in_fraction = true;
    } else if (c >= '0' && c <= '9') {
      if (d.digits.empty() && c == '0') {
        if (in_fraction) --int_digits;  // a leading zero after the point moves the first digit down
        continue;
      }
      d.digits.push_back(c);
      if (!in_fraction) ++int_digits;
    } else {
      break;  // 'e' or 'E'
    }
  }
  std::int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) neg = t[i++] == '-';
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i)
      if (exp < (std::int64_t{1} << 50)) exp = exp * 10 + (t[i] - '0');  // (beyond: any huge exponent)
    if (neg) exp = -exp;
  }
  while (!d.digits.empty() && d.digits.back() == '0') d.digits.pop_back();
  d.lead = int_digits + exp;
  return d;
}

// Two decimals compared exactly: -1, 0, 1.
int compare_decimals(const Decimal& x, const Decimal& y) {
  const int sx = x.digits.empty() ? 0 : (x.negative ? -1 : 1), sy = y.digits.empty() ? 0 : (y.negative ? -1 : 1);
  if (sx != sy) return sx < sy ? -1 : 1;
  if (sx == 0) return 0;
  int mag;  // |x| against |y|
  if (x.lead != y.lead) mag = x.lead < y.lead ? -1 : 1;
  else mag = x.digits < y.digits ? -1 : (x.digits > y.digits ? 1 : 0);  // ("12" < "123": a prefix is less)
  return sx > 0 ? mag : -mag;
}

// The integer a number's literal text holds (no fraction once its exponent is applied: 42, 1E3,
// 505874924095815681), when it has one.
bool integer_literal(const J& v, Decimal* out) {
  const std::string* lit = v.literal();
  if (!lit) return false;
  *out = decimal_of(*lit);
  return out->digits.empty() || out->lead >= static_cast<std::int64_t>(out->digits.size());
}

// Two numbers whose doubles are equal: the same order as the fast path's, which holds integers
// exactly and other numbers as doubles. An integer literal is its exact integer (distinct ids
// beyond 2^53, as jq 1.7 with decNumber); any other number is its double, exactly (a decimal
// such as 0.1 is the double it reads as, in both engines). A total order: == stays transitive.
int compare_equal_doubles(const J& a, const J& b, double d) {
  Decimal x, y;
  const bool ia = integer_literal(a, &x), ib = integer_literal(b, &y);
  if (!ia && !ib) return 0;
  if (!std::isfinite(d)) return ia && ib ? compare_decimals(x, y) : 0;  // (1e1000: its double is infinite)
  // Below 2^53 an integer that reads as d is d exactly.
  if (std::fabs(d) < 9007199254740992.0) return 0;
  // The double's exact value, an integer here ("%.0f" prints every digit of it).
  if (!ia || !ib) {
    char buf[400];
    std::snprintf(buf, sizeof buf, "%.0f", d);
    (ia ? y : x) = decimal_of(buf);
  }
  return compare_decimals(x, y);
}
}  // namespace

int compare(const J& a, const J& b, const char* too_deep, int depth) {
  if (depth > 10000) throw Error{J::string(too_deep)};
  if (a.type() != b.type()) return a.type() < b.type() ? -1 : 1;
  switch (a.type()) {
    case T::kNull:
    case T::kFalse:
    case T::kTrue: return 0;
    case T::kNumber: {
      double x = a.num(), y = b.num();
      // jq 1.7: nan compares below every number, itself included (so nan == nan is false)
      if (std::isnan(x)) return -1;
      if (std::isnan(y)) return 1;
      if (x != y) return x < y ? -1 : 1;
      // Equal as doubles: integers beyond 2^53 written in the input or the program are compared
      // exactly, so distinct ids stay distinct in sort, unique, group_by and == (the doubles'
      // order is theirs when the doubles differ: rounding keeps it).
      return compare_equal_doubles(a, b, x);
    }
    case T::kString: {
      int c = a.str().compare(b.str());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case T::kArray: {
      const auto &x = a.arr(), &y = b.arr();
      for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (int c = compare(x[i], y[i], too_deep, depth + 1)) return c;
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    case T::kObject: {
      const JObj &x = a.obj(), &y = b.obj();
      auto ox = x.sorted_order(), oy = y.sorted_order();
      // first the sorted key lists
      for (std::size_t i = 0; i < ox.size() && i < oy.size(); ++i) {
        int c = x.m[ox[i]].first.compare(y.m[oy[i]].first);
        if (c) return c < 0 ? -1 : 1;
      }
      if (ox.size() != oy.size()) return ox.size() < oy.size() ? -1 : 1;
      for (std::size_t i = 0; i < ox.size(); ++i)
        if (int c = compare(x.m[ox[i]].second, y.m[oy[i]].second, too_deep, depth + 1)) return c;
      return 0;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- writing

namespace {

void write_number(const J& v, std::string& out) {
  if (const std::string* lit = v.literal()) {
    // The literal of a number beyond double range prints as the double jq 1.7 gives, except
    // that big integers keep their digits (jq 1.7 keeps literal precision).
    if (std::isfinite(v.num())) {
      out.append(*lit);
      return;
    }
  }
  write_double(v.num(), out);
}

void write_compact(const J& v, std::string& out, int depth = 0) {
  if (depth > 10000) {  // jq 1.8
    out.append("<skipped: too deep>");
    return;
  }
  switch (v.type()) {
    case T::kNull: out.append("null"); return;
    case T::kFalse: out.append("false"); return;
    case T::kTrue: out.append("true"); return;
    case T::kNumber: write_number(v, out); return;
    case T::kString: append_json_string_jq(out, v.str()); return;
    case T::kArray: {
      out.push_back('[');
      bool first = true;
      for (const J& x : v.arr()) {
        if (!first) out.push_back(',');
        first = false;
        write_compact(x, out, depth + 1);
      }
      out.push_back(']');
      return;
    }
    case T::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.obj().m) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string_jq(out, kv.first);
        out.push_back(':');
        write_compact(kv.second, out, depth + 1);
      }
      out.push_back('}');
      return;
    }
  }
}

void newline(std::string& out, int indent, int depth) {
  out.push_back('\n');
  out.append(static_cast<std::size_t>(indent * depth), ' ');
}

void write_indented(const J& v, std::string& out, int indent, int depth, bool sort_keys) {
  if (v.type() == T::kArray && !v.arr().empty()) {
    out.push_back('[');
    bool first = true;
    for (const J& x : v.arr()) {
      if (!first) out.push_back(',');
      first = false;
      newline(out, indent, depth + 1);
      write_indented(x, out, indent, depth + 1, sort_keys);
    }
    newline(out, indent, depth);
    out.push_back(']');
  } else if (v.type() == T::kObject && !v.obj().m.empty()) {
    out.push_back('{');
    const JObj& o = v.obj();
    std::vector<std::size_t> order;
    if (sort_keys) {
      order = o.sorted_order();
    } else {
      for (std::size_t i = 0; i < o.m.size(); ++i) order.push_back(i);
    }
    bool first = true;
    for (std::size_t i : order) {
      if (!first) out.push_back(',');
      first = false;
      newline(out, indent, depth + 1);
      append_json_string_jq(out, o.m[i].first);
      out.append(": ");
      write_indented(o.m[i].second, out, indent, depth + 1, sort_keys);
    }
    newline(out, indent, depth);
    out.push_back('}');
  } else {
    write_compact(v, out);
  }
}

}  // namespace

void write(const J& v, std::string& out) { write_compact(v, out); }

void write_pretty(const J& v, std::string& out, int indent, bool sort_keys) {
  write_indented(v, out, indent, 0, sort_keys);
}

std::string to_json(const J& v) {
  std::string s;
  write_compact(v, s);
  return s;
}

std::string kind_and_value(const J& v) {
  // jq 1.8: the value's JSON cut to fit 29 bytes with "...", on a character boundary
  std::string text = to_json(v);
  if (text.size() > 29) {  // as append_kind_and_value (values.cpp)
    std::size_t cut = 26;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    if (v.is_string() && cut > 1) {
      --cut;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    text = text.substr(0, cut) + (v.is_string() ? "...\"" : "...");
  }
  return std::string(type_name(v)) + " (" + text + ")";
}

// ---------------------------------------------------------------- reading

namespace {

// Bytes skip() stops at: bit 1 quotes and brackets (in a container), bit 2 what ends a scalar.
struct SkipClass {
  std::uint8_t c[256];
  constexpr SkipClass() : c() {
    for (unsigned char x : {'"', '{', '}', '[', ']'}) c[x] = 1;
    for (unsigned char x : {',', ' ', '\t', '\n', '\r'}) c[x] = 2;
    c[static_cast<unsigned char>('}')] = 3;  // both
    c[static_cast<unsigned char>(']')] = 3;
  }
};
constexpr SkipClass kSkipClass{};

class Reader {
 public:
  Reader(std::string_view s, bool trusted) : s_(s), trusted_(trusted) {}

  bool value(J& out, int depth) {
    ws();
    if (p_ >= s_.size()) return fail("unexpected end of input");
    if (depth >= 10000) return fail("Exceeds depth limit for parsing");
    char c = s_[p_];
    switch (c) {
      case '{': return object(out, depth, nullptr);
      case '[': {
        ++p_;
        std::vector<J> items;
        ws();
        if (peek(']')) {
          ++p_;
          out = J::array(std::move(items));
          return true;
        }
        for (bool end = false; !end;) {
          J v;
          if (!value(v, depth + 1)) return false;
          items.push_back(std::move(v));
          if (!after_item(']', "',' or ']' expected in an array", end)) return false;
        }
        out = J::array(std::move(items));
        return true;
      }
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = J::string(std::move(s));
        return true;
      }
      case 't': return word("true", J::boolean(true), out);
      case 'f': return word("false", J::boolean(false), out);
      case 'n':
        if (s_.substr(p_, 3) == "nan") {  // jq reads nan (and prints it as null)
          p_ += 3;
          out = J::number(std::numeric_limits<double>::quiet_NaN());
          return true;
        }
        return word("null", J::null(), out);
      default:
        if (special(out)) return true;
        return number(out);
    }
  }

  bool done() {
    ws();
    return p_ >= s_.size();
  }

  // An object; with `only`, just the members named there are read (the others are stepped over
  // unread: for a program that reads its input only through those fields, and text the parse
  // stage has validated).
  // After an item of an array or object: ',' (another comes) or `close` (end set); anything
  // else is the error `expected`.
  bool after_item(char close, const char* expected, bool& end) {
    ws();
    if (peek(',') || peek(close)) {
      end = peek(close);
      ++p_;
      return true;
    }
    return fail(expected);
  }

  bool object(J& out, int depth, const std::vector<std::string>* only) {
    ++p_;  // '{'
    J o = J::object();
    JObj& m = o.mut_obj();
    std::string key;
    ws();
    if (peek('}')) {
      ++p_;
      out = std::move(o);
      return true;
    }
    for (bool end = false; !end;) {
      ws();
      if (!peek('"')) return fail("object keys must be strings");
      // A key without escapes or control characters is taken as it stands; others are decoded.
      std::string_view name;
      const void* q = std::memchr(s_.data() + p_ + 1, '"', s_.size() - p_ - 1);
      std::string_view raw = q ? std::string_view(s_.data() + p_ + 1, static_cast<const char*>(q) - (s_.data() + p_ + 1))
                               : std::string_view();
      if (q && plain_key(raw)) {
        name = raw;
        p_ += raw.size() + 2;
      } else {
        key.clear();
        if (!string(key)) return false;
        name = key;
      }
      ws();
      if (!peek(':')) return fail("':' expected after an object key");
      ++p_;
      bool wanted = !only;
      if (only)
        for (const std::string& k : *only) wanted |= k == name;
      if (wanted) {
        J v;
        if (!value(v, depth + 1)) return false;
        m.set(name, std::move(v));
      } else if (!skip()) {
        return fail("unreadable value");
      }
      if (!after_item('}', "',' or '}' expected in an object", end)) return false;
    }
    out = std::move(o);
    return true;
  }
  // The record's top-level object with only `keys` read (see object()); false when the text is
  // not an object or anything about it is unexpected (the caller then reads it whole).
  bool fields(J& out, const std::vector<std::string>& keys) {
    ws();
    return peek('{') && object(out, 0, &keys) && done();
  }
  std::size_t pos() const { return p_; }
  const std::string& error() const { return error_; }
  bool fail(std::string_view what) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(p_);
    return false;
  }

 private:
  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool peek(char c) const { return p_ < s_.size() && s_[p_] == c; }

  bool word(std::string_view w, J v, J& out) {
    if (s_.substr(p_, w.size()) != w) return fail("invalid literal");
    p_ += w.size();
    out = std::move(v);
    return true;
  }

  // jq's extensions: NaN, -NaN, Infinity, -Infinity
  bool special(J& out) {
    std::size_t b = p_;
    bool neg = peek('-');
    std::size_t q = p_ + (neg ? 1 : 0);
    if (s_.substr(q, 3) == "NaN" || s_.substr(q, 3) == "nan") {
      p_ = q + 3;
      out = J::number(std::numeric_limits<double>::quiet_NaN());
      return true;
    }
    if (s_.substr(q, 8) == "Infinity") {
      p_ = q + 8;
      double m = std::numeric_limits<double>::max();
      out = J::number(neg ? -m : m);
      return true;
    }
    p_ = b;
    return false;
  }

  bool number(J& out) {
    std::size_t b = p_;
    if (peek('-')) ++p_;
    while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || s_[p_] == '.' || s_[p_] == 'e' ||
                              s_[p_] == 'E' || ((s_[p_] == '+' || s_[p_] == '-') && p_ > b && (s_[p_ - 1] == 'e' || s_[p_ - 1] == 'E'))))
      ++p_;
    std::string_view tok = s_.substr(b, p_ - b);
    if (!is_json_number(tok)) {
      p_ = b;
      return fail("invalid numeric literal");
    }
    double d = 0;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (r.ec == std::errc::result_out_of_range) {  // jq 1.7 reads 1e400 as DBL_MAX, 1e-400 as 0
      bool tiny = tok.find("e-") != std::string_view::npos || tok.find("E-") != std::string_view::npos;
      d = tiny ? 0.0 : std::numeric_limits<double>::max();
      if (tok[0] == '-') d = -d;
    }
    // The text is kept only where printing the double would not give it back (an exponent, a
    // trailing zero, more digits than a double holds, -0): most numbers need no copy.
    bool plain = tok.size() <= 15 && tok.find_first_of("eE") == std::string_view::npos && tok != "-0";
    if (plain) {
      std::size_t dot = tok.find('.');
      if (dot != std::string_view::npos && tok.back() == '0') plain = false;
      // Below 1e-4 a double prints with an exponent (0.00001 as 1e-05): that text is kept too.
      std::string_view mag = tok[0] == '-' ? tok.substr(1) : tok;
      if (mag.size() > 6 && mag.substr(0, 6) == "0.0000") plain = false;
    }
    out = plain ? J::number(d) : J::number_text(d, tok);
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool u4(std::uint32_t& cp) {
    if (p_ + 4 > s_.size()) return fail("invalid \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(s_[p_ + i]);
      if (h < 0) return fail("invalid \\u escape");
      cp = cp * 16 + static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  bool string(std::string& out) {
    ++p_;  // '"'
    for (;;) {
      std::size_t b = p_;
      while (p_ < s_.size() && s_[p_] != '"' && s_[p_] != '\\' && static_cast<unsigned char>(s_[p_]) >= 0x20) ++p_;
      out.append(s_.data() + b, p_ - b);
      if (p_ >= s_.size()) return fail("unfinished string");
      char c = s_[p_];
      if (c == '"') {
        ++p_;
        break;
      }
      if (c != '\\') return fail("control character in a string");
      ++p_;
      if (p_ >= s_.size()) return fail("unfinished string");
      char e = s_[p_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!u4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(p_, 2) == "\\u") {
            std::size_t save = p_;
            p_ += 2;
            std::uint32_t lo = 0;
            if (u4(lo) && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              p_ = save;
              error_.clear();
              cp = 0xFFFD;
            }
          } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
          }
          append_utf8(out, cp);
          break;
        }
        default: return fail("invalid escape");
      }
    }
    // invalid UTF-8 becomes U+FFFD, as jq does
    if (!trusted_) {
      for (unsigned char ch : out) {
        if (ch >= 0x80) {
          out = utf8_replace_invalid(out);
          break;
        }
      }
    }
    return true;
  }

  // A key's bytes that string() would return unchanged: no escape, no control character, and
  // valid UTF-8 (trusted text) or ASCII.
  bool plain_key(std::string_view raw) const {
    for (unsigned char ch : raw)
      if (ch == '\\' || ch < 0x20 || (!trusted_ && ch >= 0x80)) return false;
    return true;
  }

  // Steps over one value without reading it (fields()): strings to their closing quote,
  // containers to their matching bracket, anything else to the next delimiter. It checks only
  // what it needs to find the end; fields() is for text the parse stage has validated.
  bool skip() {
    ws();
    if (p_ >= s_.size()) return false;
    char c = s_[p_];
    if (c == '"') return skip_string();
    const auto* u = reinterpret_cast<const unsigned char*>(s_.data());
    const std::size_t n = s_.size();
    if (c == '{' || c == '[') {
      std::size_t depth = 0;
      while (p_ < n) {
        while (p_ < n && !(kSkipClass.c[u[p_]] & 1)) ++p_;  // to the next quote or bracket
        if (p_ >= n) return false;
        c = s_[p_];
        if (c == '"') {
          if (!skip_string()) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        else if (--depth == 0) {
          ++p_;
          return true;
        }
        ++p_;
      }
      return false;
    }
    std::size_t b = p_;
    while (p_ < n && !(kSkipClass.c[u[p_]] & 2)) ++p_;  // a scalar: to the next delimiter
    return p_ > b;
  }
  bool skip_string() {
    ++p_;  // '"'
    for (;;) {
      const void* q = std::memchr(s_.data() + p_, '"', s_.size() - p_);
      if (!q) return false;
      std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(q) - s_.data());
      std::size_t backslashes = 0;
      while (quote - backslashes > p_ && s_[quote - backslashes - 1] == '\\') ++backslashes;
      p_ = quote + 1;
      if (backslashes % 2 == 0) return true;
    }
  }

  std::string_view s_;
  bool trusted_;  // valid UTF-8 already (a record the parse stage checked)
  std::size_t p_ = 0;
  std::string error_;
};

}  // namespace

bool parse_json(std::string_view text, J& out, std::string* error, bool valid_utf8) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a byte order mark
  Reader r(text, valid_utf8);
  if (!r.value(out, 0)) {
    if (error) *error = r.error();
    return false;
  }
  if (!r.done()) {
    r.fail("unexpected text after a JSON value");
    if (error) *error = r.error();
    return false;
  }
  return true;
}

bool parse_json_fields(std::string_view text, const std::vector<std::string>& keys, J& out, std::string* error,
                       bool valid_utf8) {
  Reader r(text, valid_utf8);
  if (r.fields(out, keys)) return true;
  return parse_json(text, out, error, valid_utf8);
}

bool parse_json_seq(std::string_view text, std::vector<J>& out, std::string* error) {
  Reader r(text, false);
  while (!r.done()) {
    J v;
    if (!r.value(v, 0)) {
      if (error) *error = r.error();
      return false;
    }
    out.push_back(std::move(v));
  }
  return true;
}

}  // namespace ppipe::expr::jq
