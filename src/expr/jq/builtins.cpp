// The general engine's builtins: natives in C++ and a prelude written in jq (as jq's own
// builtin.jq), plus the compile-time resolution of calls.
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "src/expr/internal.h"
#include "src/expr/jq/interp.h"
#include "src/util/fd_write.h"
#include "src/util/json_string.h"
#include "src/util/text_util.h"

namespace ppipe::expr {

// Oniguruma to RE2: named groups (?<n>...) -> (?P<n>...); \d \w \s (and their negations) outside
// brackets match Unicode as Oniguruma's do. Constructs RE2 lacks (look-around, backreferences,
// possessive and atomic groups) are refused with their name.
std::string translate_regex(const std::string& re, std::string& error) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      char e = re[i + 1];
      ++i;
      if (!in_class) {
        switch (e) {
          case 'd': out += "\\p{Nd}"; continue;
          case 'D': out += "\\P{Nd}"; continue;
          case 'w': out += "[\\p{L}\\p{N}\\p{M}\\p{Pc}]"; continue;
          case 'W': out += "[^\\p{L}\\p{N}\\p{M}\\p{Pc}]"; continue;
          case 's': out += "[\\s\\x{0B}\\p{Z}\\x{85}]"; continue;  // (with \v, as Oniguruma's)
          case 'S': out += "[^\\s\\x{0B}\\p{Z}\\x{85}]"; continue;
          case 'h': out += 'h'; continue;  // (a plain h in jq's Oniguruma syntax, not a hex digit)
          case 'H': out += 'H'; continue;
          default: break;
        }
      } else {
        // A '-' after a class escape is a plain '-' (RE2 takes [\s-z] so; after the expansion
        // below it would be a range from its last item).
        auto dash_after = [&] {
          if (i + 2 < re.size() && re[i + 1] == '-' && re[i + 2] != ']') {
            out += "\\-";
            ++i;
          }
        };
        switch (e) {
          case 'd': out += "\\p{Nd}"; dash_after(); continue;
          case 'D': out += "\\P{Nd}"; dash_after(); continue;  // (one negated property: fine in a class)
          case 'w': out += "\\p{L}\\p{N}\\p{M}\\p{Pc}"; dash_after(); continue;
          case 's': out += "\\s\\x{0B}\\p{Z}\\x{85}"; dash_after(); continue;
          case 'h': out += 'h'; continue;
          case 'H': out += 'H'; continue;
          default: break;
        }
      }
      if ((e == 'p' || e == 'P') && i + 1 < re.size() && re[i + 1] == '{') {  // \p{L}: copied whole
        std::size_t close = re.find('}', i + 1);
        if (close == std::string::npos) close = re.size() - 1;
        out += '\\';
        out.append(re, i, close - i + 1);
        i = close;
        continue;
      }
      if (e >= '1' && e <= '9' && !in_class) {
        error = "backreferences (\\" + std::string(1, e) + ") are not supported (RE2)";
        return "";
      }
      if (e == 'k' || e == 'g') {
        error = "\\" + std::string(1, e) + " (named backreference or subexpression call) is not supported (RE2)";
        return "";
      }
      out += '\\';
      out += e;
      continue;
    }
    if (in_class) {
      // A POSIX class ([:alpha:]) is copied whole: its ']' does not end the bracket (which then
      // took a \w after it out of the class and broke the pattern: [[:alpha:]\w]).
      if (const std::size_t end = posix_class_end(re, i); end != std::string_view::npos) {
        out.append(re, i, end + 1 - i);
        i = end;
        continue;
      }
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      // A bracket of one \W or \S alone (negated or not) is that class as outside one: Unicode.
      // (Their complements cannot join other items in an RE2 bracket; mixed with others they
      // stay ASCII: docs/expr.md.)
      const bool neg = i + 1 < re.size() && re[i + 1] == '^';
      const std::size_t at = i + 1 + (neg ? 1 : 0);
      if (at + 2 < re.size() && re[at] == '\\' && (re[at + 1] == 'W' || re[at + 1] == 'S') && re[at + 2] == ']') {
        const bool word = re[at + 1] == 'W';
        const char* set = word ? "\\p{L}\\p{N}\\p{M}\\p{Pc}" : "\\s\\x{0B}\\p{Z}\\x{85}";
        out += neg ? "[" : "[^";  // [\W] is "not a word character"; [^\W] is "a word character"
        out += set;
        out += ']';
        i = at + 2;
        continue;
      }
      in_class = true;
      out += c;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (c == '(' && i + 2 < re.size() && re[i + 1] == '?') {
      char k = re[i + 2];
      if (k == '<' && i + 3 < re.size() && re[i + 3] != '=' && re[i + 3] != '!') {
        out += "(?P<";
        i += 2;
        continue;
      }
      const char* what = nullptr;
      if (k == '=' ) what = "look-ahead (?=...)";
      else if (k == '!') what = "negative look-ahead (?!...)";
      else if (k == '<') what = "look-behind (?<=...)";
      else if (k == '>') what = "atomic group (?>...)";
      if (what) {
        error = std::string(what) + " is not supported (RE2)";
        return "";
      }
    }
    if ((c == '+' || c == '*' || c == '?' || c == '}') && i + 1 < re.size() && re[i + 1] == '+') {
      error = "possessive quantifiers (" + std::string(1, c) + "+) are not supported (RE2)";
      return "";
    }
    out += c;
  }
  return out;
}

}  // namespace ppipe::expr

namespace ppipe::expr::jq {

namespace {

// ---------------------------------------------------------------- helpers

// Evaluates the arguments as values, every combination (the last argument the outer loop, as
// jq's C functions), and calls f(in, args).
template <std::size_t N, class F>
void with_args(Interp& I, const Node& call, const J& in, const Env& env, F&& f) {
  J args[N > 0 ? N : 1];
  struct Loop {
    Interp& I;
    const Node& call;
    const J& in;
    const Env& env;
    J* args;
    F& f;
    void at(std::size_t i) {
      if (i == 0) {
        f(args);
        return;
      }
      I.eval(call.kid(i - 1), in, env, [&](const J& v) {
        args[i - 1] = v;
        at(i - 1);
      });
    }
  } loop{I, call, in, env, args, f};
  loop.at(N);
}

#define VALUE_FN(NAME, N, BODY)                                                           \
  void NAME(Interp& I, const Node& call, const J& in, const Env& env, Out out) {          \
    with_args<N>(I, call, in, env, [&](const J* a) {                                      \
      (void)a;                                                                             \
      out(BODY);                                                                           \
    });                                                                                    \
  }

const std::string& need_string(const J& v, const char* what) {
  if (!v.is_string()) type_error(v, what);
  return v.str();
}

// ---------------------------------------------------------------- simple natives

J f_length(const J& in) {
  switch (in.type()) {
    case T::kNull: return J::number(0);
    case T::kTrue:
    case T::kFalse: type_error(in, "has no length");
    case T::kNumber: return J::number(std::fabs(in.num()));
    case T::kString: return J::number(static_cast<double>(codepoints(in.str())));
    default: return J::number(static_cast<double>(in.size()));
  }
}

J f_keys(const J& in, bool sorted) {
  std::vector<J> out;
  if (in.is_object()) {
    if (sorted) {
      for (std::size_t i : in.obj().sorted_order()) out.push_back(J::string(in.obj().m[i].first));
    } else {
      for (const auto& kv : in.obj().m) out.push_back(J::string(kv.first));
    }
  } else if (in.is_array()) {
    for (std::size_t i = 0; i < in.arr().size(); ++i) out.push_back(J::number(static_cast<double>(i)));
  } else {
    type_error(in, "has no keys");
  }
  return J::array(std::move(out));
}

J f_has(const J& in, const J& k) {
  if (in.is_null()) return J::boolean(false);  // as jq 1.6 and the fast path (jq 1.7: an error)
  if (in.is_object() && k.is_string()) return J::boolean(in.obj().find(k.str()) != nullptr);
  if (in.is_array() && k.is_number()) return J::boolean(k.num() >= 0 && k.num() < static_cast<double>(in.arr().size()));
  fail(std::string("Cannot check whether ") + type_name(in) + " has a " + (k.is_string() ? "string" : type_name(k)) + " key");
}

// jq's containment below the top level: values of different kinds do not contain each other.
bool contains(const J& a, const J& b, int depth = 0) {
  if (depth > 10000) fail("Containment check too deep");
  if (a.is_object() && b.is_object()) {
    for (const auto& kv : b.obj().m) {
      const J* x = a.obj().find(kv.first);
      if (!x || !contains(*x, kv.second, depth + 1)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    for (const J& y : b.arr()) {
      bool found = false;
      for (const J& x : a.arr())
        if (contains(x, y, depth + 1)) {
          found = true;
          break;
        }
      if (!found) return false;
    }
    return true;
  }
  if (a.is_string() && b.is_string()) return a.str().find(b.str()) != std::string::npos;
  bool ab = a.type() == T::kTrue || a.type() == T::kFalse, bb = b.type() == T::kTrue || b.type() == T::kFalse;
  if (a.type() != b.type() && !(ab && bb)) return false;
  return equal(a, b);
}

J f_contains(const J& in, const J& b) {
  // (true and false are two kinds, as in jq and the fast path: `true | contains(false)` is this
  // error, where an exemption for booleans said false)
  if (in.type() != b.type())
    fail(kind_and_value(in) + " and " + kind_and_value(b) + " cannot have their containment checked");
  return J::boolean(contains(in, b));
}

// jq 1.8: a decimal number with an optional sign, no surrounding space: "+5", ".5", "5.", "1e3"
// ("0x10", " 4", "nan" are errors); a number is itself.
J f_tonumber(const J& in) {
  if (in.is_number()) return in;
  if (!in.is_string()) type_error(in, "cannot be parsed as a number");
  const std::string& s = in.str();
  if (!decimal_text(s)) type_error(in, "cannot be parsed as a number");
  double d = std::strtod(s.c_str(), nullptr);
  if (std::isinf(d)) d = d > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
  // the text is kept when it is JSON (so "100000000000000000001" | tonumber prints as written)
  if (is_json_number(s)) return J::number_text(d, s);
  return J::number(d);
}

J f_toboolean(const J& in) {
  if (in.type() == T::kTrue || in.type() == T::kFalse) return in;
  if (in.is_string()) {
    if (in.str() == "true") return J::boolean(true);
    if (in.str() == "false") return J::boolean(false);
  }
  type_error(in, "cannot be parsed as a boolean");
}

J f_tostring(const J& in) { return in.is_string() ? in : J::string(to_json(in)); }

J f_fromjson(const J& in) {
  const std::string& s = need_string(in, "only strings can be parsed");
  J v;
  std::string err;
  if (!parse_json(s, v, &err)) fail(err + " (while parsing '" + s + "')");
  return v;
}

J f_ascii_case(const J& in, bool up) {
  if (!in.is_string()) fail("explode input must be a string");  // jq 1.6's wording, as the fast path's
  std::string s = in.str();
  for (char& c : s) {
    if (up && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    if (!up && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return J::string(std::move(s));
}

J f_explode(const J& in) {
  const std::string& s = need_string(in, "cannot be exploded");
  std::vector<J> out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int len;
    if (c < 0x80) cp = c, len = 1;
    else if (c < 0xE0) cp = c & 0x1F, len = 2;
    else if (c < 0xF0) cp = c & 0x0F, len = 3;
    else cp = c & 0x07, len = 4;
    for (int k = 1; k < len && i + static_cast<std::size_t>(k) < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
    out.push_back(J::number(cp));
    i += static_cast<std::size_t>(len);
  }
  return J::array(std::move(out));
}

J f_implode(const J& in) {
  if (!in.is_array()) fail("implode input must be an array");
  std::string s;
  for (const J& x : in.arr()) {
    if (!x.is_number() || std::isnan(x.num())) type_error(x, "can't be imploded, unicode codepoint needs to be numeric");
    double d = x.num();
    auto cp = static_cast<std::uint32_t>(d < 0 || d > 0x10FFFF || (d >= 0xD800 && d < 0xE000) ? 0xFFFD : d);
    append_utf8(s, cp);
  }
  return J::string(std::move(s));
}

J f_sort(const J& in) {
  if (!in.is_array()) type_error(in, "cannot be sorted, as it is not an array");
  std::vector<J> v = in.arr();
  std::stable_sort(v.begin(), v.end(), [](const J& a, const J& b) { return sort_compare(a, b) < 0; });
  return J::array(std::move(v));
}

J f_minmax(const J& in, bool max) {
  // jq 1.6's wording, as the fast path's
  if (!in.is_array()) fail(kind_and_value(in) + " and " + kind_and_value(in) + " cannot be iterated over");
  if (in.arr().empty()) return J::null();
  const J* best = &in.arr()[0];
  for (const J& x : in.arr()) {
    int c = sort_compare(x, *best);
    if (max ? c >= 0 : c < 0) best = &x;
  }
  return *best;
}

J f_reverse(const J& in) {
  if (in.is_string()) {
    // jq 1.7.1: strings reverse by code point
    std::string r(in.str().size(), '\0');
    reverse_utf8(in.str(), r.data());
    return J::string(std::move(r));
  }
  if (in.is_null()) return J::array();
  // jq's [.[length - 1 - range(0; length)]]: empty for anything of length 0 (as the fast path)
  if ((in.is_number() && in.num() == 0) || (in.is_object() && in.obj().m.empty())) return J::array();
  if (!in.is_array()) type_error(in, "cannot be reversed, as it is not an array");
  std::vector<J> v(in.arr().rbegin(), in.arr().rend());
  return J::array(std::move(v));
}

J f_startswith(const J& in, const J& s, bool ends) {
  if (!in.is_string() || !s.is_string())
    fail(ends ? "endswith() requires string inputs" : "startswith() requires string inputs");
  const std::string &a = in.str(), &b = s.str();
  if (b.size() > a.size()) return J::boolean(false);
  return J::boolean(ends ? a.compare(a.size() - b.size(), b.size(), b) == 0 : a.compare(0, b.size(), b) == 0);
}

J f_trimstr(const J& in, const J& s, bool right) {
  if (!in.is_string() || !s.is_string()) return in;
  const std::string &a = in.str(), &b = s.str();
  if (b.size() > a.size()) return in;
  if (right) return a.compare(a.size() - b.size(), b.size(), b) == 0 ? J::string(a.substr(0, a.size() - b.size())) : in;
  return a.compare(0, b.size(), b) == 0 ? J::string(a.substr(b.size())) : in;
}

// Unicode White_Space (as jq 1.8's trim).
std::size_t space_at(const std::string& s, std::size_t i) {  // its length in bytes, or 0
  static const std::uint32_t kSpaces[] = {0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
                                          0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
  if (c < 0x80) return 0;
  std::uint32_t cp;
  std::size_t len;
  if (c < 0xE0) cp = c & 0x1F, len = 2;
  else if (c < 0xF0) cp = c & 0x0F, len = 3;
  else cp = c & 0x07, len = 4;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  for (std::uint32_t sp : kSpaces)
    if (cp == sp) return len;
  return 0;
}

J f_trim(const J& in, bool left, bool right) {
  if (!in.is_string()) fail("trim input must be a string");
  const std::string& s = in.str();
  std::size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      std::size_t l = space_at(s, b);
      if (!l) break;
      b += l;
    }
  }
  if (right) {
    while (e > b) {
      std::size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      std::size_t l = space_at(s, start);
      if (!l || start + l != e) break;
      e = start;
    }
  }
  return J::string(s.substr(b, e - b));
}

J f_split1(const J& in, const J& sep) {
  if (!in.is_string() || !sep.is_string()) fail("split input and separator must be strings");
  return binary(Bin::kDiv, in, sep);
}

// Where t occurs in s, as code point offsets (jq 1.8).
J string_indices(const std::string& s, const std::string& t) {
  std::vector<J> out;
  std::size_t cp = 0, last = 0;
  for (std::size_t p = s.find(t); p != std::string::npos; p = s.find(t, p + 1)) {
    for (; last < p; ++last) cp += (static_cast<unsigned char>(s[last]) & 0xC0) != 0x80;
    out.push_back(J::number(static_cast<double>(cp)));
  }
  return J::array(std::move(out));
}

J f_strindices(const J& in, const J& x) {
  if (!in.is_string()) type_error(in, "cannot be searched, as it is not a string");
  if (!x.is_string()) type_error(x, "is not a string");
  if (x.str().empty()) return J::array();
  return string_indices(in.str(), x.str());
}

J f_indices(const J& in, const J& x) {
  if (in.is_null()) return J::null();
  if (in.is_string() && x.is_string()) {
    if (x.str().empty()) return J::array();  // jq 1.7's _strindices (index("") is then null)
    return string_indices(in.str(), x.str());
  }
  if (in.is_array() && x.is_array()) return index_value(in, x);
  if (in.is_array()) return index_value(in, J::array({x}));
  return index_value(in, x);
}

J f_utf8bytelength(const J& in) {
  return J::number(static_cast<double>(need_string(in, "only strings have UTF-8 byte length").size()));
}

J f_tojson(const J& in) { return J::string(to_json(in)); }

// flatten(depth), iterative (a 10,000-deep array flattens without deep recursion).
J f_flatten(const J& in, double depth) {  // depth -1: all the way
  if (depth < 0 && depth != -1) fail("flatten depth must not be negative");
  if (in.is_object()) {  // jq: _flatten is `reduce .[] as $i ...`, so an object's values are flattened
    std::vector<J> values;
    for (const auto& kv : in.obj().m) values.push_back(kv.second);
    return f_flatten(J::array(std::move(values)), depth);
  }
  if (!in.is_array()) fail("Cannot iterate over " + kind_and_value(in));
  std::vector<J> out;
  struct Item {
    const std::vector<J>* arr;
    std::size_t i;
    double depth;
  };
  std::vector<J> keep{in};
  std::vector<Item> stack{{&in.arr(), 0, depth}};
  while (!stack.empty()) {
    Item& top = stack.back();
    if (top.i == top.arr->size()) {
      stack.pop_back();
      continue;
    }
    const J& x = (*top.arr)[top.i++];
    if (x.is_array() && top.depth != 0) {
      double d = top.depth < 0 ? -1 : top.depth - 1;
      keep.push_back(x);
      stack.push_back({&x.arr(), 0, d});
    } else {
      out.push_back(x);
    }
  }
  return J::array(std::move(out));
}

J f_toarray(const J& in) { return in.is_array() ? in : J::array({in}); }

J f_abs(const J& in) {  // jq 1.8: non-numbers pass through
  if (!in.is_number()) return in;
  return in.num() < 0 ? negate(in) : in;
}

// bsearch(x) on a sorted array: the index of x, or (-1 - where it would be inserted).
J f_bsearch(const J& in, const J& x) {
  if (!in.is_array()) type_error(in, "cannot be searched from");
  const auto& a = in.arr();
  std::size_t lo = 0, hi = a.size();
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    int c = sort_compare(a[mid], x);
    if (c == 0) return J::number(static_cast<double>(mid));
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return J::number(-1.0 - static_cast<double>(lo));
}

// ---------------------------------------------------------------- math

using D1 = double (*)(double);
using D2 = double (*)(double, double);
using D3 = double (*)(double, double, double);

double significand(double x) {
  if (x == 0 || !std::isfinite(x)) return x;
  int e;
  double m = std::frexp(x, &e);
  return m * 2;
}
double drem_(double a, double b) { return std::remainder(a, b); }
double logb_(double x) { return std::logb(x); }
double gamma_(double x) { return std::lgamma(x); }
double exp10_(double x) { return std::pow(10.0, x); }
double pow10_(double x) { return std::pow(10.0, x); }
double trunc_(double x) { return std::trunc(x); }

struct Math1 {
  const char* name;
  D1 fn;
};
const Math1 kMath1[] = {
    {"floor", [](double x) { return std::floor(x); }}, {"sqrt", [](double x) { return std::sqrt(x); }},
    {"ceil", [](double x) { return std::ceil(x); }},   {"round", [](double x) { return std::round(x); }},
    {"fabs", [](double x) { return std::fabs(x); }},   {"exp", [](double x) { return std::exp(x); }},
    {"exp2", [](double x) { return std::exp2(x); }},   {"exp10", exp10_},
    {"pow10", pow10_},                                 {"log", [](double x) { return std::log(x); }},
    {"log2", [](double x) { return std::log2(x); }},   {"log10", [](double x) { return std::log10(x); }},
    {"log1p", [](double x) { return std::log1p(x); }}, {"expm1", [](double x) { return std::expm1(x); }},
    {"sin", [](double x) { return std::sin(x); }},     {"cos", [](double x) { return std::cos(x); }},
    {"tan", [](double x) { return std::tan(x); }},     {"asin", [](double x) { return std::asin(x); }},
    {"acos", [](double x) { return std::acos(x); }},   {"atan", [](double x) { return std::atan(x); }},
    {"sinh", [](double x) { return std::sinh(x); }},   {"cosh", [](double x) { return std::cosh(x); }},
    {"tanh", [](double x) { return std::tanh(x); }},   {"asinh", [](double x) { return std::asinh(x); }},
    {"acosh", [](double x) { return std::acosh(x); }}, {"atanh", [](double x) { return std::atanh(x); }},
    {"cbrt", [](double x) { return std::cbrt(x); }},   {"significand", significand},
    {"logb", logb_},                                   {"gamma", gamma_},
    {"lgamma", [](double x) { return std::lgamma(x); }}, {"tgamma", [](double x) { return std::tgamma(x); }},
    {"rint", [](double x) { return std::rint(x); }},
    {"erf", [](double x) { return std::erf(x); }},     {"erfc", [](double x) { return std::erfc(x); }},
    {"nearbyint", [](double x) { return std::nearbyint(x); }}, {"trunc", trunc_},
    {"j0", [](double x) { return ::j0(x); }},         {"j1", [](double x) { return ::j1(x); }},
    {"y0", [](double x) { return ::y0(x); }},         {"y1", [](double x) { return ::y1(x); }},
};

struct Math2 {
  const char* name;
  D2 fn;
};
const Math2 kMath2[] = {
    {"pow", [](double a, double b) { return std::pow(a, b); }},
    {"atan2", [](double a, double b) { return std::atan2(a, b); }},
    {"fmod", [](double a, double b) { return std::fmod(a, b); }},
    {"fmin", [](double a, double b) { return std::fmin(a, b); }},
    {"fmax", [](double a, double b) { return std::fmax(a, b); }},
    {"fdim", [](double a, double b) { return std::fdim(a, b); }},
    {"hypot", [](double a, double b) { return std::hypot(a, b); }},
    {"copysign", [](double a, double b) { return std::copysign(a, b); }},
    {"drem", drem_},
    {"remainder", [](double a, double b) { return std::remainder(a, b); }},
    {"jn", [](double a, double b) { return ::jn(static_cast<int>(a), b); }},  // (jq: the order is n; x)
    {"yn", [](double a, double b) { return ::yn(static_cast<int>(a), b); }},
    {"nextafter", [](double a, double b) { return std::nextafter(a, b); }},
    {"nexttoward", [](double a, double b) { return std::nexttoward(a, static_cast<long double>(b)); }},
    {"ldexp", [](double a, double b) { return std::ldexp(a, static_cast<int>(b)); }},
    {"scalb", [](double a, double b) { return a * std::pow(2.0, b); }},
    {"scalbln", [](double a, double b) { return std::scalbln(a, static_cast<long>(b)); }},
};

double need_number(const J& v, const char* fn) {
  if (!v.is_number()) type_error(v, std::string("number required"));
  (void)fn;
  return v.num();
}

// ---------------------------------------------------------------- dates

bool tm_from_array(const J& in, std::tm& tm, double& frac) {
  if (!in.is_array()) return false;
  // The six date fields each an int (a year of 1e20 was cast to int: undefined, a garbage
  // date), the year after its 1900 is taken off too; the day of the week and of the year, which
  // mktime does not read, 0 when no int holds them.
  constexpr double kIntMax = 2147483647.0, kIntMin = -2147483648.0;
  for (std::size_t i = 0; i < in.arr().size(); ++i) {
    if (!in.arr()[i].is_number()) return false;
    const double v = in.arr()[i].num();
    const double lo = i == 0 ? kIntMin + 1900 : kIntMin;
    if (i < 6 && (!std::isfinite(v) || v < lo || v >= kIntMax + 1)) return false;
  }
  const auto& a = in.arr();
  auto as_int = [](double v) { return std::isfinite(v) && v > -2147483649.0 && v < 2147483648.0 ? static_cast<int>(v) : 0; };
  auto at = [&](std::size_t i) { return i < a.size() ? a[i].num() : 0.0; };
  tm = std::tm{};
  tm.tm_year = static_cast<int>(at(0)) - 1900;
  tm.tm_mon = static_cast<int>(at(1));
  tm.tm_mday = static_cast<int>(at(2));
  tm.tm_hour = static_cast<int>(at(3));
  tm.tm_min = static_cast<int>(at(4));
  double sec = at(5);
  tm.tm_sec = static_cast<int>(sec);
  frac = sec - std::floor(sec);
  if (a.size() > 6) tm.tm_wday = as_int(a[6].num());
  if (a.size() > 7) tm.tm_yday = as_int(a[7].num());
  return true;
}

J tm_to_array(const std::tm& tm, double sec) {
  return J::array({J::number(tm.tm_year + 1900), J::number(tm.tm_mon), J::number(tm.tm_mday), J::number(tm.tm_hour),
                   J::number(tm.tm_min), J::number(sec), J::number(tm.tm_wday), J::number(tm.tm_yday)});
}

J f_gmtime(const J& in, bool local) {
  if (!in.is_number()) fail(local ? "localtime() requires a number" : "gmtime() requires a number");
  double t = in.num();
  // NaN, infinities and times whose year an int does not hold are jq 1.7's error (the cast
  // of 1e20 to time_t was undefined: "-219246529-01-00T08:29:52Z"); so is a time gmtime refuses.
  static const char* kRange = "error converting number of seconds since epoch to datetime";
  if (!std::isfinite(t) || std::fabs(t) > 6.7e16) fail(kRange);
  auto secs = static_cast<std::time_t>(std::floor(t));
  std::tm tm{};
  if ((local ? localtime_r(&secs, &tm) : gmtime_r(&secs, &tm)) == nullptr) fail(kRange);
  return tm_to_array(tm, tm.tm_sec + (t - std::floor(t)));
}

J f_mktime(const J& in) {
  if (!in.is_array()) fail("mktime requires array of 6 numbers");
  std::tm tm;
  double frac;
  if (!tm_from_array(in, tm, frac)) fail("mktime requires parsed datetime inputs");
  std::time_t t = timegm(&tm);
  return J::number(static_cast<double>(t) + 0 * frac);
}

J f_strftime(const J& in, const J& fmt, bool local) {
  J t = in;
  if (t.is_number()) t = f_gmtime(t, local);
  if (!t.is_array()) fail(local ? "strflocaltime/1 requires parsed datetime inputs" : "strftime/1 requires parsed datetime inputs");
  if (!fmt.is_string()) fail(local ? "strflocaltime/1 requires a string format" : "strftime/1 requires a string format");
  std::tm tm;
  double frac;
  if (!tm_from_array(t, tm, frac)) fail(local ? "strflocaltime/1 requires parsed datetime inputs" : "strftime/1 requires parsed datetime inputs");
  if (t.arr().size() < 8) {
    // No day of the week or of the year given (a date made by hand, [2015,2,5,23,51,47]): from
    // the date, as strptime's are (they were 0: "%a %j" gave "Sun 001" for a Thursday).
    std::tm copy = tm;
    const std::time_t secs = timegm(&copy);
    std::tm norm{};
    gmtime_r(&secs, &norm);
    tm.tm_wday = norm.tm_wday;
    tm.tm_yday = norm.tm_yday;
  }
  char buf[512];
  std::size_t n = std::strftime(buf, sizeof(buf), fmt.str().c_str(), &tm);
  if (n == 0 && !fmt.str().empty()) fail("strftime/1: unknown system failure");
  return J::string(std::string(buf, n));
}

J f_strptime(const J& in, const J& fmt) {
  if (!in.is_string()) type_error(in, "cannot be parsed as a date");  // jq: strptime/1 requires string inputs and arguments
  if (!fmt.is_string()) fail("strptime/1 requires string inputs and arguments");
  std::tm tm{};
  const char* end = strptime(in.str().c_str(), fmt.str().c_str(), &tm);
  // jq accepts what follows the date when it starts with white space ("...Z\n" | fromdate)
  if (!end || (*end != '\0' && !std::isspace(static_cast<unsigned char>(*end))))
    fail("date \"" + in.str() + "\" does not match format \"" + fmt.str() + "\"");
  // compute wday / yday as jq does (timegm normalizes)
  std::tm copy = tm;
  std::time_t t = timegm(&copy);
  std::tm norm{};
  gmtime_r(&t, &norm);
  tm.tm_wday = norm.tm_wday;
  tm.tm_yday = norm.tm_yday;
  return tm_to_array(tm, tm.tm_sec);
}

// ---------------------------------------------------------------- regexes (RE2)

struct Compiled {
  std::unique_ptr<RE2> re;
  std::unique_ptr<RE2> longest;  // skip_empty: the same, leftmost-longest (has_nonempty_match)
  bool global = false;
  bool skip_empty = false;
  std::string error;
};

const Compiled& regex_for(const J& re, const J& flags) {
  // jq 1.7's f_match: the input "cannot be matched", a regex that is no string "is not a string"
  // (it said the regex could not be matched, as if it were the input).
  if (!re.is_string()) type_error(re, "is not a string");
  if (!flags.is_null() && !flags.is_string()) type_error(flags, "is not a string");
  std::string key = re.str() + '\0' + (flags.is_null() ? std::string() : flags.str());
  thread_local std::unordered_map<std::string, Compiled> cache;
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() > 256) cache.clear();
    Compiled c;
    std::string fl = flags.is_null() ? "" : flags.str(), rest;
    for (char f : fl) {
      if (f == 'g') c.global = true;
      else if (f == 'n') c.skip_empty = true;
      else rest += f;
    }
    {
      c.re = build_regex(re.str(), rest, c.error);
      if (c.re && c.skip_empty) {
        std::string ignored;
        c.longest = build_regex(re.str(), rest, ignored, /*longest=*/true);
      }
      if (!c.re && c.error.find("modifier") != std::string::npos) c.error = fl + " is not a valid modifier string";
      else if (!c.re) c.error = re.str() + " (at offset 0) is not a valid regex: " + c.error.substr(c.error.find(": ") + 2);
    }
    it = cache.emplace(std::move(key), std::move(c)).first;
  }
  if (!it->second.re) fail(it->second.error);
  return it->second;
}

std::size_t cp_count(const std::string& s, std::size_t from, std::size_t to) {
  std::size_t n = 0;
  for (std::size_t i = from; i < to; ++i) n += (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
  return n;
}

// Calls f(match object, byte begin, byte end) for each match.
template <class F>
void each_match(const std::string& s, const Compiled& c, F&& f) {
  const RE2& re = *c.re;
  int groups = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> sub(static_cast<std::size_t>(groups + 1));
  std::vector<std::string> names(static_cast<std::size_t>(groups + 1));
  for (const auto& [idx, name] : re.CapturingGroupNames()) names[static_cast<std::size_t>(idx)] = name;
  std::size_t pos = 0;
  // Code points before byte `cp_at` (offsets are counted on from the last match, not from the
  // start each time: that made `match(re; "g")` quadratic in the matches).
  std::size_t cp_at = 0, cp_before = 0;
  auto cps_before = [&](std::size_t at) {
    if (at < cp_at) cp_at = 0, cp_before = 0;  // (a capture before the last match's start)
    cp_before += cp_count(s, cp_at, at);
    cp_at = at;
    return cp_before;
  };
  std::uint64_t steps = 0;
  while (pos <= s.size()) {
    poll_interrupt(steps);
    if (!re.Match(s, pos, s.size(), RE2::UNANCHORED, sub.data(), groups + 1)) break;
    std::size_t b = static_cast<std::size_t>(sub[0].data() - s.data());
    std::size_t e = b + sub[0].size();
    // With `n`, an empty match is no match: a longer one from the same start, if there is one
    // (the longest: where Oniguruma backtracks to the next alternative, RE2 cannot).
    if (c.skip_empty && b == e && c.longest && c.longest->Match(s, b, s.size(), RE2::ANCHOR_START, sub.data(), groups + 1)) {
      b = static_cast<std::size_t>(sub[0].data() - s.data());
      e = b + sub[0].size();
    }
    const bool skipped = c.skip_empty && b == e;
    if (!skipped) {
      J m = J::object();
      JObj& o = m.mut_obj();
      o.set("offset", J::number(static_cast<double>(cps_before(b))));
      o.set("length", J::number(static_cast<double>(cp_count(s, b, e))));
      o.set("string", J::string(s.substr(b, e - b)));
      std::vector<J> caps;
      for (int g = 1; g <= groups; ++g) {
        J cap = J::object();
        JObj& co = cap.mut_obj();
        const re2::StringPiece& p = sub[static_cast<std::size_t>(g)];
        if (p.data() == nullptr) {
          co.set("offset", J::number(-1));
          co.set("length", J::number(0));
          co.set("string", J::null());
        } else {
          std::size_t cb = static_cast<std::size_t>(p.data() - s.data());
          co.set("offset", J::number(static_cast<double>(cps_before(cb))));
          co.set("length", J::number(static_cast<double>(cp_count(s, cb, cb + p.size()))));
          co.set("string", J::string(std::string(p.data(), p.size())));
        }
        const std::string& nm = names[static_cast<std::size_t>(g)];
        co.set("name", nm.empty() ? J::null() : J::string(nm));
        caps.push_back(std::move(cap));
      }
      o.set("captures", J::array(std::move(caps)));
      f(m, b, e);
    }
    // Without `g`, the first match that counts: with `n`, past empty ones (`match("a*"; "n")` on
    // "bab" is the "a", as in jq; it found nothing).
    if (!c.global && !skipped) break;
    if (e == b) {
      if (b >= s.size()) break;
      // step one code point
      std::size_t n = b + 1;
      while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
      pos = n;
    } else {
      pos = e;
    }
  }
}

void n_match(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  // _match_impl(re; flags; test)
  with_args<3>(I, call, in, env, [&](const J* a) {
    if (!in.is_string()) type_error(in, "cannot be matched, as it is not a string");
    const Compiled& c = regex_for(a[0], a[1]);
    if (a[2].truthy()) {
      out(J::boolean(c.longest ? has_nonempty_match(*c.longest, in.str())
                                  : c.re->Match(in.str(), 0, in.str().size(), RE2::UNANCHORED, nullptr, 0)));
      return;
    }
    std::vector<J> ms;
    each_match(in.str(), c, [&](const J& m, std::size_t, std::size_t) { ms.push_back(m); });
    out(J::array(std::move(ms)));
  });
}

// sub/gsub(re; replacement; flags): the replacement is evaluated with the capture object as its
// input, and may yield several strings (each a result, jq 1.7).
void n_sub(Interp& I, const Node& call, const J& in, const Env& env, Out out, bool global) {
  auto run = [&](const J& re, const J& flags) {
    if (!in.is_string()) type_error(in, "cannot be matched, as it is not a string");
    J fl = flags;
    // jq's gsub is sub($re; str; $flags + "g"): flags not a string (nor null) are that `+`'s
    // error (str() of a boolean or number read a null payload: the process crashed)
    if (global && !flags.is_null() && !flags.is_string())
      fail(kind_and_value(flags) + " and " + kind_and_value(J::string("g")) + " cannot be added");
    if (global) fl = J::string((flags.is_null() ? std::string() : flags.str()) + "g");
    const Compiled& c = regex_for(re, fl);
    struct M {
      std::size_t b, e;
      J caps;
    };
    std::vector<M> ms;
    const std::string& s = in.str();
    each_match(s, c, [&](const J& m, std::size_t b, std::size_t e) {
      J caps = J::object();
      for (const J& cap : m.obj().find("captures")->arr()) {
        const J* name = cap.obj().find("name");
        if (name && name->is_string()) caps.mut_obj().set(name->str(), *cap.obj().find("string"));
      }
      ms.push_back({b, e, caps});
    });
    // jq 1.7's sub: a replacement that gives several values gives as many results, the k-th
    // made of every match's k-th value (`"pp" | [gsub("p"; "a", "b")]` is ["aa","bb"]; result k
    // gets a match's gap and value only from a match with a k-th value); none at all, or no
    // match, gives the input. (It branched per match: k^matches results, 65,536 for 16 matches
    // and two values.)
    std::vector<std::string> results;
    std::vector<J> inserts;
    std::size_t previous = 0;
    std::uint64_t steps = 0;
    for (const M& m : ms) {
      poll_interrupt(steps);
      const std::string_view gap(s.data() + previous, m.b - previous);
      // All of the match's values first, as jq's `[... | str] as $inserts` (an error the
      // replacement raises after a value that cannot be added is the one reported).
      inserts.clear();
      I.eval(call.kid(1), m.caps, env, [&](const J& r) { inserts.push_back(r); });
      for (std::size_t k = 0; k < inserts.size(); ++k) {
        const J& r = inserts[k];
        // jq adds `$gap + $insert`: null adds nothing; anything else but a string fails in its
        // words ("string (\"a\") and number (1) cannot be added").
        if (!r.is_string() && !r.is_null())
          fail(kind_and_value(J::string(std::string(gap))) + " and " + kind_and_value(r) + " cannot be added");
        if (k == results.size()) results.emplace_back();
        results[k].append(gap);
        if (r.is_string()) results[k].append(r.str());
      }
      previous = m.e;
    }
    if (results.empty()) {
      out(in);
      return;
    }
    for (std::string& r : results) {
      r.append(s, previous, std::string::npos);
      out(J::string(std::move(r)));
    }
  };
  if (call.kids.size() > 2) {
    I.eval(call.kid(2), in, env, [&](const J& flags) { I.eval(call.kid(0), in, env, [&](const J& re) { run(re, flags); }); });
  } else {
    I.eval(call.kid(0), in, env, [&](const J& re) { run(re, J::null()); });
  }
}

J f_split2(const J& in, const J& re, const J& flags) {
  if (!in.is_string()) type_error(in, "cannot be matched, as it is not a string");
  // jq's split/2 matches with "g" + flags: flags not a string (nor null) are that `+`'s error
  if (!flags.is_null() && !flags.is_string())
    fail(kind_and_value(J::string("g")) + " and " + kind_and_value(flags) + " cannot be added");
  J fl = J::string((flags.is_null() ? std::string() : flags.str()) + "g");
  const Compiled& c = regex_for(re, fl);
  std::vector<J> parts;
  std::size_t prev = 0;
  const std::string& s = in.str();
  each_match(s, c, [&](const J&, std::size_t b, std::size_t e) {
    parts.push_back(J::string(s.substr(prev, b - prev)));
    prev = e;
  });
  parts.push_back(J::string(s.substr(prev)));
  return J::array(std::move(parts));
}

// ---------------------------------------------------------------- generators and closures

void n_empty(Interp&, const Node&, const J&, const Env&, Out) {}
void n_empty_paths(Interp&, const Node&, const J&, const J&, const Env&, PathOut) {}

void n_error0(Interp&, const Node&, const J& in, const Env&, Out) { throw Error{in}; }
void n_error0_paths(Interp&, const Node&, const J&, const J& in, const Env&, PathOut) { throw Error{in}; }
void n_error1(Interp& I, const Node& call, const J& in, const Env& env, Out) {
  I.eval(call.kid(0), in, env, [&](const J& v) { throw Error{v}; });
}
void n_error1_paths(Interp& I, const Node& call, const J&, const J& in, const Env& env, PathOut) {
  I.eval(call.kid(0), in, env, [&](const J& v) { throw Error{v}; });
}

void range_out(double from, double upto, double by, Out out) {
  std::uint64_t steps = 0;
  if (by > 0) {
    for (double x = from; x < upto; x += by) {
      poll_interrupt(steps);
      out(J::number(x));
    }
  } else if (by < 0) {
    for (double x = from; x > upto; x += by) {
      poll_interrupt(steps);
      out(J::number(x));
    }
  }
  // by 0 or NaN: nothing, as jq's `$from | while(($by > 0 and . < $upto) or ($by < 0 and . >
  // $upto); . + $by)` (it was an endless stream of `from`: `[range(0; 3; 0)]` ran out of memory).
}

void n_range1(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.eval(call.kid(0), in, env, [&](const J& n) {
    if (!n.is_number()) fail("Range bounds must be numeric");
    range_out(0, n.num(), 1, out);
  });
}
void n_range2(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.eval(call.kid(0), in, env, [&](const J& f) {
    I.eval(call.kid(1), in, env, [&](const J& t) {
      if (!f.is_number() || !t.is_number()) fail("Range bounds must be numeric");
      range_out(f.num(), t.num(), 1, out);
    });
  });
}
void n_range3(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.eval(call.kid(0), in, env, [&](const J& f) {
    I.eval(call.kid(1), in, env, [&](const J& t) {
      I.eval(call.kid(2), in, env, [&](const J& b) {
        if (!f.is_number() || !t.is_number() || !b.is_number()) fail("Range bounds must be numeric");
        range_out(f.num(), t.num(), b.num(), out);
      });
    });
  });
}

void n_last(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  J last;
  bool got = false;
  I.eval(call.kid(0), in, env, [&](const J& v) {
    last = v;
    got = true;
  });
  if (got) out(last);
}

void n_skip(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.eval(call.kid(0), in, env, [&](const J& nv) {
    if (!nv.is_number()) fail("Invalid skip: must be a number");
    double n = nv.num();
    if (n < 0) fail("skip doesn't support negative count");
    double seen = 0;
    I.eval(call.kid(1), in, env, [&](const J& v) {
      if (seen++ >= n) out(v);
    });
  });
}

void n_limit(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.eval(call.kid(0), in, env, [&](const J& nv) {
    if (!nv.is_number()) fail("Invalid limit: must be a number");
    double n = nv.num();
    if (n < 0) fail("limit doesn't support negative count");
    if (n <= 0) return;
    std::uint64_t label = I.new_label();
    double seen = 0;
    try {
      I.eval(call.kid(1), in, env, [&](const J& v) {
        ++seen;
        out(v);
        if (seen >= n) throw Stop{label};
      });
    } catch (Stop& s) {
      if (s.label != label) throw;
    }
  });
}
void n_limit_paths(Interp& I, const Node& call, const J& p, const J& in, const Env& env, PathOut out) {
  I.eval(call.kid(0), in, env, [&](const J& nv) {
    if (!nv.is_number()) fail("Invalid limit: must be a number");
    double n = nv.num();
    if (n < 0) fail("limit doesn't support negative count");
    if (n <= 0) return;
    std::uint64_t label = I.new_label();
    double seen = 0;
    try {
      I.paths(call.kid(1), p, in, env, [&](const J& pp, const J& v) {
        ++seen;
        out(pp, v);
        if (seen >= n) throw Stop{label};
      });
    } catch (Stop& s) {
      if (s.label != label) throw;
    }
  });
}

// until, while, repeat and recurse, as jq defines them (the prelude's _NAME_def), recurse once
// per step: a few thousand steps were deeper than the stack ("recursion too deep"), where jq
// runs millions. When the functions given give at most one value (Node::single: `. + 1`,
// `.next`, `if . < 9 then . + 1 else empty end`) each step has at most one value to go on with,
// and a loop does what the recursion does, in the same order; otherwise the definitions run
// (their depth is then the data's, as recurse(.[]?)). Path mode always runs the definitions.
bool all_single(const Node& call) {
  for (const auto& k : call.kids)
    if (!k->single) return false;
  return true;
}
void as_defined(Interp& I, const char* def, const Node& call, const J& in, const Env& env, Out out) {
  I.call_def(*find_prelude(def, call.kids.size()), nullptr, call, in, env, out);
}
template <const char* kDef>
void as_defined_paths(Interp& I, const Node& call, const J& p, const J& in, const Env& env, PathOut out) {
  I.call_def_paths(*find_prelude(kDef, call.kids.size()), nullptr, call, p, in, env, out);
}
constexpr char kUntilDef[] = "_until_def";
constexpr char kWhileDef[] = "_while_def";
constexpr char kRepeatDef[] = "_repeat_def";
constexpr char kRecurseDef[] = "_recurse_def";

// def until(cond; update): def _until: if cond then . else (update | _until) end; _until;
void n_until(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  if (!all_single(call)) return as_defined(I, kUntilDef, call, in, env, out);
  J v = in, c, next;
  for (std::uint64_t steps = 0;; poll_interrupt(steps)) {
    if (!value_of(I, call.kid(0), v, env, c)) return;
    if (c.truthy()) return out(v);
    if (!value_of(I, call.kid(1), v, env, next)) return;
    v = std::move(next);
  }
}
// def while(cond; update): def _while: if cond then ., (update | _while) else empty end; _while;
void n_while(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  if (!all_single(call)) return as_defined(I, kWhileDef, call, in, env, out);
  J v = in, c, next;
  for (std::uint64_t steps = 0;; poll_interrupt(steps)) {
    if (!value_of(I, call.kid(0), v, env, c) || !c.truthy()) return;
    out(v);
    if (!value_of(I, call.kid(1), v, env, next)) return;
    v = std::move(next);
  }
}
// def repeat(f): def _repeat: f, _repeat; _repeat;  (f on the same input again and again)
void n_repeat(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  for (std::uint64_t steps = 0;; poll_interrupt(steps)) I.eval(call.kid(0), in, env, out);
}
// def recurse(f): def r: ., (f | r); r;
// def recurse(f; cond): def r: ., (f | select(cond) | r); r;
void n_recurse(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  if (!all_single(call)) return as_defined(I, kRecurseDef, call, in, env, out);
  J v = in, c, next;
  for (std::uint64_t steps = 0;; poll_interrupt(steps)) {
    out(v);
    if (!value_of(I, call.kid(0), v, env, next)) return;
    if (call.kid(1) && (!value_of(I, call.kid(1), next, env, c) || !c.truthy())) return;
    v = std::move(next);
  }
}

void n_first(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  J v;
  if (I.first(call.kid(0), in, env, v)) out(v);
}
void n_first_paths(Interp& I, const Node& call, const J& p, const J& in, const Env& env, PathOut out) {
  std::uint64_t label = I.new_label();
  J rp, rv;
  bool got = false;
  try {
    I.paths(call.kid(0), p, in, env, [&](const J& pp, const J& v) {
      rp = pp;
      rv = v;
      got = true;
      throw Stop{label};
    });
  } catch (Stop& s) {
    if (s.label != label) throw;
  }
  if (got) out(rp, rv);
}

void n_path(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  I.paths(call.kid(0), J::array(), in, env, [&](const J& p, const J& v) {
    if (p.is_null()) invalid_path(v);
    out(p);
  });
}

void n_getpath_paths(Interp& I, const Node& call, const J& p, const J& in, const Env& env, PathOut out) {
  I.eval(call.kid(0), in, env, [&](const J& path) {
    J v = getpath(in, path);
    if (p.is_null()) invalid_path(in);
    J full = p;
    for (const J& k : path.arr()) full.mut_arr().push_back(k);
    out(full, v);
  });
}

void n_delpaths(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  with_args<1>(I, call, in, env, [&](const J* a) { out(delpaths(in, a[0])); });
}

// sort_by(f) and friends: each element's key is [its outputs of f].
std::vector<std::pair<J, J>> keyed(Interp& I, const Node& call, const J& in, const Env& env, const char* what) {
  if (!in.is_array()) type_error(in, std::string("cannot be ") + what + ", as it is not an array");
  std::vector<std::pair<J, J>> v;
  for (const J& x : in.arr()) {
    std::vector<J> k;
    I.eval(call.kid(0), x, env, [&](const J& r) { k.push_back(r); });
    v.emplace_back(J::array(std::move(k)), x);
  }
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return sort_compare(a.first, b.first) < 0; });
  return v;
}

void n_sort_by(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  auto v = keyed(I, call, in, env, "sorted");
  std::vector<J> r;
  for (auto& kv : v) r.push_back(kv.second);
  out(J::array(std::move(r)));
}
void n_group_by(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  auto v = keyed(I, call, in, env, "grouped");
  std::vector<J> groups;
  for (std::size_t i = 0; i < v.size();) {
    // The first element always (a NaN key equals nothing, not even itself: it is a group of its
    // own, as in jq; comparing it with itself made an empty group, again and again, for ever).
    std::vector<J> g{v[i].second};
    std::size_t j = i + 1;
    while (j < v.size() && sort_compare(v[j].first, v[i].first) == 0) g.push_back(v[j++].second);
    groups.push_back(J::array(std::move(g)));
    i = j;
  }
  out(J::array(std::move(groups)));
}
void n_unique_by(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  auto v = keyed(I, call, in, env, "grouped");
  std::vector<J> r;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (i == 0 || sort_compare(v[i].first, v[i - 1].first) != 0) r.push_back(v[i].second);
  out(J::array(std::move(r)));
}
void n_minmax_by(Interp& I, const Node& call, const J& in, const Env& env, Out out, bool max) {
  if (!in.is_array()) type_error(in, "cannot be iterated over");
  if (in.arr().empty()) {
    out(J::null());
    return;
  }
  J best, best_key;
  bool have = false;
  for (const J& x : in.arr()) {
    std::vector<J> k;
    I.eval(call.kid(0), x, env, [&](const J& r) { k.push_back(r); });
    J key = J::array(std::move(k));
    int c = have ? sort_compare(key, best_key) : 0;
    if (!have || (max ? c >= 0 : c < 0)) {
      best = x;
      best_key = key;
      have = true;
    }
  }
  out(best);
}

// Both write one whole line under the lock every writer of stderr takes (src/util/fd_write.h):
// with their own lock, their lines broke error records longer than PIPE_BUF on a full pipe.
void n_debug(Interp&, const Node&, const J& in, const Env&, Out out) {
  (void)write_stderr("[\"DEBUG:\"," + to_json(in) + "]\n");
  out(in);
}
// jq writes the value with no newline; ppipe ends the line, as its stderr is JSON Lines (the
// error records and diagnostics share it: without the newline the next one was glued on).
void n_stderr(Interp&, const Node&, const J& in, const Env&, Out out) {
  (void)write_stderr(to_json(in) + "\n");
  out(in);
}

void n_input_filename(Interp& I, const Node&, const J&, const Env&, Out out) {
  const std::string* f = I.context().filename;
  out(f ? J::string(*f) : J::null());
}
void n_input_line_number(Interp& I, const Node&, const J&, const Env&, Out out) {
  out(J::number(static_cast<double>(I.context().line)));
}
void n_now(Interp&, const Node&, const J&, const Env&, Out out) {
  std::timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  out(J::number(static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9));
}
void n_env(Interp&, const Node&, const J&, const Env&, Out out) { out(env_object()); }
void n_builtins(Interp&, const Node&, const J&, const Env&, Out out) {
  std::vector<std::string> names;
  native_names(names);
  prelude_names(names);
  std::vector<J> v;
  for (auto& n : names)
    if (n[0] != '_') v.push_back(J::string(n));
  out(J::array(std::move(v)));
}
void n_halt_error(Interp& I, const Node& call, const J& in, const Env& env, Out) {
  // per record, halt_error is an error with the value (ppipe does not stop the whole run)
  if (call.kids.empty()) throw Error{in};
  I.eval(call.kid(0), in, env, [&](const J&) { throw Error{in}; });
}
// join($sep), as jq's `reduce .[] as $i (null; (if . == null then "" else . + $sep end) + ($i |
// if . == null then "" elif boolean or number then tojson else . end)) // ""`, in one string:
// the reduce copied the whole string at every element (100,000 strings: 3.1 s).
void n_join(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  with_args<1>(I, call, in, env, [&](const J* a) {
    const J& sep = a[0];
    if (!in.is_array() && !in.is_object()) fail("Cannot iterate over " + kind_and_value(in));
    std::string acc;
    bool first = true;
    auto add = [&](const J& v) {
      if (!first) {
        if (sep.is_string()) acc += sep.str();
        else if (!sep.is_null()) fail(kind_and_value(J::string(acc)) + " and " + kind_and_value(sep) + " cannot be added");
      }
      first = false;
      if (v.is_null()) return;
      if (v.is_string()) acc += v.str();
      else if (v.type() == T::kTrue || v.type() == T::kFalse || v.is_number()) acc += to_json(v);
      else fail(kind_and_value(J::string(acc)) + " and " + kind_and_value(v) + " cannot be added");
    };
    if (in.is_array()) {
      for (const J& v : in.arr()) add(v);
    } else {
      for (const auto& kv : in.obj().m) add(kv.second);
    }
    out(J::string(std::move(acc)));
  });
}

void n_ltrimstr(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  with_args<1>(I, call, in, env, [&](const J* a) { out(f_trimstr(in, a[0], false)); });
}
void n_getpath_value(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  with_args<1>(I, call, in, env, [&](const J* a) { out(getpath(in, a[0])); });
}

void n_sub(Interp& I, const Node& call, const J& in, const Env& env, Out out) { n_sub(I, call, in, env, out, false); }
void n_gsub(Interp& I, const Node& call, const J& in, const Env& env, Out out) { n_sub(I, call, in, env, out, true); }

void n_min_by(Interp& I, const Node& call, const J& in, const Env& env, Out out) { n_minmax_by(I, call, in, env, out, false); }
void n_max_by(Interp& I, const Node& call, const J& in, const Env& env, Out out) { n_minmax_by(I, call, in, env, out, true); }

void n_math1(Interp& I, const Node& call, const J& in, const Env& env, Out out);
void n_math2(Interp& I, const Node& call, const J& in, const Env& env, Out out);
void n_math3(Interp& I, const Node& call, const J& in, const Env& env, Out out);

VALUE_FN(n_length, 0, f_length(in))
VALUE_FN(n_utf8bytelength, 0, f_utf8bytelength(in))
VALUE_FN(n_not, 0, J::boolean(!in.truthy()))
VALUE_FN(n_keys, 0, f_keys(in, true))
VALUE_FN(n_keys_unsorted, 0, f_keys(in, false))
VALUE_FN(n_has, 1, f_has(in, a[0]))
VALUE_FN(n_contains, 1, f_contains(in, a[0]))
VALUE_FN(n_type, 0, J::string(type_name(in)))
VALUE_FN(n_tostring, 0, f_tostring(in))
VALUE_FN(n_tonumber, 0, f_tonumber(in))
VALUE_FN(n_tojson, 0, f_tojson(in))
VALUE_FN(n_fromjson, 0, f_fromjson(in))
VALUE_FN(n_ascii_downcase, 0, f_ascii_case(in, false))
VALUE_FN(n_ascii_upcase, 0, f_ascii_case(in, true))
VALUE_FN(n_explode, 0, f_explode(in))
VALUE_FN(n_implode, 0, f_implode(in))
VALUE_FN(n_sort, 0, f_sort(in))
VALUE_FN(n_min, 0, f_minmax(in, false))
VALUE_FN(n_max, 0, f_minmax(in, true))
VALUE_FN(n_reverse, 0, f_reverse(in))
VALUE_FN(n_startswith, 1, f_startswith(in, a[0], false))
VALUE_FN(n_endswith, 1, f_startswith(in, a[0], true))
VALUE_FN(n_rtrimstr, 1, f_trimstr(in, a[0], true))
VALUE_FN(n_trim, 0, f_trim(in, true, true))
VALUE_FN(n_ltrim, 0, f_trim(in, true, false))
VALUE_FN(n_rtrim, 0, f_trim(in, false, true))
VALUE_FN(n_split1, 1, f_split1(in, a[0]))
VALUE_FN(n_split2, 2, f_split2(in, a[0], a[1]))
VALUE_FN(n_indices, 1, f_indices(in, a[0]))
VALUE_FN(n_infinite, 0, J::number(std::numeric_limits<double>::infinity()))
VALUE_FN(n_nan, 0, J::number(std::nan("")))
VALUE_FN(n_isinfinite, 0, J::boolean(std::isinf(need_number(in, "isinfinite"))))
// jq: [lgamma, the sign of gamma] (it gave the number alone)
J f_lgamma_r(const J& in) {
  int sign = 0;
  const double v = ::lgamma_r(need_number(in, "lgamma_r"), &sign);
  return J::array({J::number(v), J::number(sign)});
}
VALUE_FN(n_lgamma_r, 0, f_lgamma_r(in))
// format("csv") is @csv (jq 1.5+)
J f_format(const J& in, const J& f) {
  if (!f.is_string()) type_error(f, "is not a valid format");
  check_format(f.str());
  return J::string(format_value(f.str(), in));
}
VALUE_FN(n_format, 1, f_format(in, a[0]))
// false for a non-number, as jq 1.6 and the fast path (jq 1.7 and gojq raise an error)
VALUE_FN(n_isnan, 0, J::boolean(in.is_number() && std::isnan(in.num())))
VALUE_FN(n_isnormal, 0, J::boolean(std::isnormal(need_number(in, "isnormal"))))
VALUE_FN(n_gmtime, 0, f_gmtime(in, false))
VALUE_FN(n_localtime, 0, f_gmtime(in, true))
VALUE_FN(n_mktime, 0, f_mktime(in))
VALUE_FN(n_strftime, 1, f_strftime(in, a[0], false))
VALUE_FN(n_strflocaltime, 1, f_strftime(in, a[0], true))
VALUE_FN(n_strptime, 1, f_strptime(in, a[0]))
VALUE_FN(n_setpath, 2, setpath(in, a[0], 0, a[1]))
VALUE_FN(n_toarray, 0, f_toarray(in))
VALUE_FN(n_abs, 0, f_abs(in))
VALUE_FN(n_have_literal_numbers, 0, J::boolean(true))
VALUE_FN(n_have_decnum, 0, J::boolean(true))  // literal numbers keep their text, as jq's decNumber build
VALUE_FN(n_toboolean, 0, f_toboolean(in))
VALUE_FN(n_strindices, 1, f_strindices(in, a[0]))
VALUE_FN(n_flatten0, 0, f_flatten(in, -1))
VALUE_FN(n_flatten1, 1, f_flatten(in, a[0].is_number() ? (a[0].num() < 0 ? -2 : a[0].num()) : -2))
VALUE_FN(n_bsearch, 1, f_bsearch(in, a[0]))
VALUE_FN(n_frexp, 0, [&] {
  int e = 0;
  double m = std::frexp(need_number(in, "frexp"), &e);
  return J::array({J::number(m), J::number(e)});
}())
VALUE_FN(n_modf, 0, [&] {
  double ip = 0;
  double f = std::modf(need_number(in, "modf"), &ip);
  return J::array({J::number(f), J::number(ip)});
}())

const Native kNatives[] = {
    {"empty", 0, n_empty, n_empty_paths},
    {"error", 0, n_error0, n_error0_paths},
    {"error", 1, n_error1, n_error1_paths},
    {"not", 0, n_not},
    {"length", 0, n_length},
    {"utf8bytelength", 0, n_utf8bytelength},
    {"keys", 0, n_keys},
    {"keys_unsorted", 0, n_keys_unsorted},
    {"has", 1, n_has},
    {"contains", 1, n_contains},
    {"type", 0, n_type},
    {"tostring", 0, n_tostring},
    {"tonumber", 0, n_tonumber},
    {"tojson", 0, n_tojson},
    {"fromjson", 0, n_fromjson},
    {"ascii_downcase", 0, n_ascii_downcase},
    {"ascii_upcase", 0, n_ascii_upcase},
    {"explode", 0, n_explode},
    {"implode", 0, n_implode},
    {"sort", 0, n_sort},
    {"min", 0, n_min},
    {"max", 0, n_max},
    {"reverse", 0, n_reverse},
    {"startswith", 1, n_startswith},
    {"endswith", 1, n_endswith},
    {"ltrimstr", 1, n_ltrimstr},
    {"join", 1, n_join},
    {"rtrimstr", 1, n_rtrimstr},
    {"trim", 0, n_trim},
    {"ltrim", 0, n_ltrim},
    {"rtrim", 0, n_rtrim},
    {"split", 1, n_split1},
    {"split", 2, n_split2},
    {"_indices", 1, n_indices},
    {"_strindices", 1, n_strindices},
    {"flatten", 0, n_flatten0},
    {"flatten", 1, n_flatten1},
    {"toboolean", 0, n_toboolean},
    {"bsearch", 1, n_bsearch},
    {"last", 1, n_last},
    {"skip", 2, n_skip},
    {"infinite", 0, n_infinite},
    {"nan", 0, n_nan},
    {"isinfinite", 0, n_isinfinite},
    {"lgamma_r", 0, n_lgamma_r},
    {"format", 1, n_format},
    {"isnan", 0, n_isnan},
    {"isnormal", 0, n_isnormal},
    {"gmtime", 0, n_gmtime},
    {"localtime", 0, n_localtime},
    {"mktime", 0, n_mktime},
    {"strftime", 1, n_strftime},
    {"strflocaltime", 1, n_strflocaltime},
    {"strptime", 1, n_strptime},
    {"now", 0, n_now},
    {"setpath", 2, n_setpath},
    {"delpaths", 1, n_delpaths},
    {"getpath", 1, n_getpath_value, n_getpath_paths},
    {"path", 1, n_path},
    {"range", 1, n_range1},
    {"range", 2, n_range2},
    {"range", 3, n_range3},
    {"limit", 2, n_limit, n_limit_paths},
    {"first", 1, n_first, n_first_paths},
    {"until", 2, n_until, as_defined_paths<kUntilDef>},
    {"while", 2, n_while, as_defined_paths<kWhileDef>},
    {"repeat", 1, n_repeat, as_defined_paths<kRepeatDef>},
    {"recurse", 1, n_recurse, as_defined_paths<kRecurseDef>},
    {"recurse", 2, n_recurse, as_defined_paths<kRecurseDef>},
    {"sort_by", 1, n_sort_by},
    {"group_by", 1, n_group_by},
    {"unique_by", 1, n_unique_by},
    {"min_by", 1, n_min_by},
    {"max_by", 1, n_max_by},
    {"_match_impl", 3, n_match},
    {"sub", 2, n_sub},
    {"sub", 3, n_sub},
    {"gsub", 2, n_gsub},
    {"gsub", 3, n_gsub},
    {"debug", 0, n_debug},
    {"stderr", 0, n_stderr},
    {"input_filename", 0, n_input_filename},
    {"input_line_number", 0, n_input_line_number},
    {"env", 0, n_env},
    {"builtins", 0, n_builtins},
    {"halt_error", 0, n_halt_error},
    {"halt_error", 1, n_halt_error},
    {"toarray", 0, n_toarray},
    {"abs", 0, n_abs},
    {"have_literal_numbers", 0, n_have_literal_numbers},
    {"have_decnum", 0, n_have_decnum},
    {"frexp", 0, n_frexp},
    {"modf", 0, n_modf},
    {"implode", 0, n_implode},
};

struct MathNative {
  std::vector<Native> natives;
  MathNative() {
    for (const auto& m : kMath1) natives.push_back(Native{m.name, 0, n_math1});
    for (const auto& m : kMath2) natives.push_back(Native{m.name, 2, n_math2});
    natives.push_back(Native{"fma", 3, n_math3});
  }
};
const MathNative& math_natives() {
  static const MathNative m;
  return m;
}

void n_math1(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  (void)I;
  (void)env;
  for (const auto& m : kMath1) {
    if (call.name == m.name) {
      if (!in.is_number()) type_error(in, "number required");
      out(J::number(m.fn(in.num())));
      return;
    }
  }
}
void n_math2(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  for (const auto& m : kMath2) {
    if (call.name == m.name) {
      with_args<2>(I, call, in, env, [&](const J* a) {
        if (!a[0].is_number()) type_error(a[0], "number required");
        if (!a[1].is_number()) type_error(a[1], "number required");
        out(J::number(m.fn(a[0].num(), a[1].num())));
      });
      return;
    }
  }
}
void n_math3(Interp& I, const Node& call, const J& in, const Env& env, Out out) {
  with_args<3>(I, call, in, env, [&](const J* a) {
    for (int i = 0; i < 3; ++i)
      if (!a[i].is_number()) type_error(a[i], "number required");
    out(J::number(std::fma(a[0].num(), a[1].num(), a[2].num())));
  });
}

// ---------------------------------------------------------------- the prelude (jq 1.7.1's builtin.jq, adapted)

const char kPrelude[] = R"JQ(
def values: select(. != null);
def nulls: select(. == null);
def booleans: select(type == "boolean");
def numbers: select(type == "number");
def strings: select(type == "string");
def arrays: select(type == "array");
def objects: select(type == "object");
def iterables: select(type|. == "array" or . == "object");
def scalars: select(type|. != "array" and . != "object");
def select(f): if f then . else empty end;
def _recurse_def(f): def r: ., (f | r); r;
def _recurse_def(f; cond): def r: ., (f | select(cond) | r); r;
def recurse: recurse(.[]?);
def map(f): [.[] | f];
def map_values(f): .[] |= f;
def add: reduce .[] as $x (null; . + $x);
def add(f): reduce f as $x (null; . + $x);
def isempty(g): first((g | false), true);
def any(generator; condition): isempty(first(generator | condition or empty)) | not;
def all(generator; condition): isempty(first(generator | condition and empty));
def any: any(.[]; .);
def all: all(.[]; .);
def any(f): any(.[]; f);
def all(f): all(.[]; f);
def in(xs): . as $x | xs | has($x);
def inside(xs): . as $x | xs | contains($x);
def unique: unique_by(.);
def finites: select(isinfinite or isnan | not);
def isfinite: type == "number" and (isinfinite | not);
def normals: select(isnormal);
def range($x): range(0; $x);
def fromdateiso8601: strptime("%Y-%m-%dT%H:%M:%SZ") | mktime;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def fromdate: fromdateiso8601;
def todate: todateiso8601;
def date: todate;
def dateadd(u; n): . + n;
def datesub(u; n): . - n;
def match(re; mode): _match_impl(re; mode; false) | .[];
def match($val): ($val | type) as $vt | if $vt == "string" then match($val; null)
   elif $vt == "array" and ($val | length) > 1 then match($val[0]; $val[1])
   elif $vt == "array" and ($val | length) > 0 then match($val[0]; null)
   else error($vt + " not a string or array") end;
def test(re; mode): _match_impl(re; mode; true);
def test($val): ($val | type) as $vt | if $vt == "string" then test($val; null)
   elif $vt == "array" and ($val | length) > 1 then test($val[0]; $val[1])
   elif $vt == "array" and ($val | length) > 0 then test($val[0]; null)
   else error($vt + " not a string or array") end;
def capture(re; mods): match(re; mods) | reduce (.captures | .[] | select(.name != null) | {key: .name, value: .string}) as $pair ({}; . + {($pair.key): $pair.value});
def capture($val): ($val | type) as $vt | if $vt == "string" then capture($val; null)
   elif $vt == "array" and ($val | length) > 1 then capture($val[0]; $val[1])
   elif $vt == "array" and ($val | length) > 0 then capture($val[0]; null)
   else error($vt + " not a string or array") end;
def scan($re; $flags): match($re; "g" + ($flags // "")) | if (.captures | length > 0) then [.captures | .[] | .string] else .string end;
def scan($re): scan($re; null);
def splits($re; flags): split($re; flags) | .[];
def splits($re): splits($re; null);
def todate(f): strftime(f);
def paths: path(..) | select(length > 0);
def paths(node_filter): . as $dot | paths | select(. as $p | $dot | getpath($p) | node_filter);
def leaf_paths: paths(scalars);
def del(f): delpaths([path(f)]);
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries: reduce .[] as $x ({};
    . + { ($x | if .key == null then .k // .name // .Name // .K // .Key else .key end
             | if type == "string" then . else tojson end):
          ($x | if has("value") then .value elif has("v") then .v else .Value end) });
def with_entries(f): to_entries | map(f) | from_entries;
def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));
def debug(msg): (msg | debug | empty), .;
def first: .[0];
def last: .[-1];
def nth($n): .[$n];
def nth($n; f): if $n < 0 then error("nth doesn't support negative indices") else first(skip($n; f)) end;
def _until_def(cond; update): def _until: if cond then . else (update | _until) end; _until;
def _while_def(cond; update): def _while: if cond then ., (update | _while) else empty end; _while;
def _repeat_def(f): def _repeat: f, _repeat; _repeat;
def combinations: if length == 0 then [] else .[0][] as $x | (.[1:] | combinations) as $w | [$x] + $w end;
def combinations(n): . as $dot | [range(n)] | map($dot) | combinations;
def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then map(w) else . end | f; w;
def transpose: if . == [] then [] else . as $in | (map(length) | max) as $max | [range(0; $max) as $j | [range(0; $in | length) as $i | $in[$i][$j]]] end;
def index($i): indices($i) | .[0];
def rindex($i): indices($i) | .[-1:][0];
def indices($i): if type == "array" and ($i | type) == "array" then .[$i]
  elif type == "array" then .[[$i]]
  elif ($i | type) == "array" then error("Cannot determine indices of an array in a string")
  else _indices($i) end;
def tostream: path(def r: (.[]? | r), .; r) as $p | getpath($p) | reduce path(.[]?) as $q ([$p, .]; [$p + $q]);
def fromstream(f): {x: null, e: false} as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then setpath(["e"]; $i[0] | length == 0) | setpath(["x"] + $i[0]; $i[1])
        else setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input | if (.[0] | length) > $n then setpath([0]; .[0][$n:]) else empty end;
def trimstr($x): ltrimstr($x) | rtrimstr($x);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | join_expr;
def ascii: [.] | implode;
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
)JQ";

// ---------------------------------------------------------------- registry and resolution

struct Registry {
  std::map<std::pair<std::string, std::size_t>, const Native*> natives;
  std::vector<std::unique_ptr<FuncDef>> prelude_defs;
  std::map<std::pair<std::string, std::size_t>, const FuncDef*> prelude;
  std::string error;
};

struct Scope {
  const Scope* parent = nullptr;
  enum Kind { kFunc, kParam, kVar, kLabel } kind = kFunc;
  const std::string* name = nullptr;
  std::size_t arity = 0;
  const FuncDef* prelude = nullptr;  // a prelude definition (no frame at run time: called directly)
};

bool resolve(Node* n, const Scope* scope, const Registry& reg, ParseError& err);

bool resolve_pattern(Pattern& p, const Scope* scope, const Registry& reg, ParseError& err,
                     std::vector<std::unique_ptr<Scope>>& added, const Scope*& top) {
  switch (p.kind) {
    case Pattern::kVar: {
      auto s = std::make_unique<Scope>();
      s->parent = top;
      s->kind = Scope::kVar;
      s->name = &p.var;
      top = s.get();
      added.push_back(std::move(s));
      return true;
    }
    case Pattern::kArray:
      for (Pattern& e : p.elems)
        if (!resolve_pattern(e, scope, reg, err, added, top)) return false;
      return true;
    case Pattern::kObject:
      for (auto& e : p.entries) {
        if (e.key && e.key->kind == NK::kLiteral && !e.key->value.is_string()) {
          err.message = "Cannot use " + kind_and_value(e.key->value) + " as object key";
          err.pos = e.key->pos;
          return false;
        }
        if (e.key && !resolve(e.key.get(), top, reg, err)) return false;
        if (!e.var.empty()) {
          auto s = std::make_unique<Scope>();
          s->parent = top;
          s->kind = Scope::kVar;
          s->name = &e.var;
          top = s.get();
          added.push_back(std::move(s));
        }
        if (e.value && !resolve_pattern(*e.value, scope, reg, err, added, top)) return false;
      }
      return true;
  }
  return true;
}

bool fail_at(ParseError& err, const Node* n, std::string msg) {
  err.message = std::move(msg);
  err.pos = n->pos;
  return false;
}

// A regex written as a literal (test("..."), sub("..."; ...)) is checked at compile time, so a
// typo is a usage error before any input is read, not an error on every record.
bool check_literal_regex(const Node& call, ParseError& err) {
  static const char* const kRegexFns[] = {"test", "match", "capture", "scan", "splits", "sub", "gsub", "split"};
  bool regex_fn = false;
  for (const char* f : kRegexFns) regex_fn = regex_fn || call.name == f;
  if (!regex_fn || call.kids.empty() || (call.name == "split" && call.kids.size() != 2)) return true;
  const Node* re = call.kid(0);
  if (re->kind != NK::kLiteral || !re->value.is_string()) return true;
  std::size_t flags_at = (call.name == "sub" || call.name == "gsub") ? 2 : 1;
  const Node* flags = call.kid(flags_at);
  J fl = J::null();
  if (flags) {
    if (flags->kind != NK::kLiteral || !(flags->value.is_string() || flags->value.is_null())) return true;
    fl = flags->value;
  }
  try {
    regex_for(re->value, fl);
  } catch (Error& e) {
    std::string msg = e.value.is_string() ? e.value.str() : "invalid regex";
    err.message = msg;
    err.pos = (flags && msg.find("modifier") != std::string::npos) ? flags->pos : re->pos;
    return false;
  }
  return true;
}

bool resolve_def(FuncDef& d, const Scope* scope, const Registry& reg, ParseError& err, bool prelude = false) {
  // the body sees the function itself and its parameters
  Scope self{scope, Scope::kFunc, &d.name, d.params.size(), prelude ? &d : nullptr};
  std::vector<std::unique_ptr<Scope>> params;
  const Scope* top = &self;
  for (std::size_t i = 0; i < d.params.size(); ++i) {
    auto s = std::make_unique<Scope>();
    s->parent = top;
    s->kind = Scope::kParam;
    s->name = &d.params[i];
    top = s.get();
    params.push_back(std::move(s));
    if (d.param_is_var[i]) {
      auto v = std::make_unique<Scope>();
      v->parent = top;
      v->kind = Scope::kVar;
      v->name = &d.params[i];
      top = v.get();
      params.push_back(std::move(v));
    }
  }
  return resolve(d.body.get(), top, reg, err);
}

bool resolve(Node* n, const Scope* scope, const Registry& reg, ParseError& err) {
  if (!n) return true;
  switch (n->kind) {
    case NK::kObject:
      for (auto& e : n->entries)
        if (e.key && e.key->kind == NK::kLiteral && !e.key->value.is_string())
          return fail_at(err, e.key.get(), "Cannot use " + kind_and_value(e.key->value) + " as object key");
      break;
    case NK::kDef: {
      if (!resolve_def(*n->def, scope, reg, err)) return false;
      Scope s{scope, Scope::kFunc, &n->def->name, n->def->params.size()};
      return resolve(n->kids[0].get(), &s, reg, err);
    }
    case NK::kAs: {
      if (!resolve(n->kids[0].get(), scope, reg, err)) return false;
      std::vector<std::unique_ptr<Scope>> added;
      const Scope* top = scope;
      for (Pattern& p : n->patterns)
        if (!resolve_pattern(p, scope, reg, err, added, top)) return false;
      return resolve(n->kids[1].get(), top, reg, err);
    }
    case NK::kReduce:
    case NK::kForeach: {
      if (!resolve(n->kids[0].get(), scope, reg, err) || !resolve(n->kids[1].get(), scope, reg, err)) return false;
      std::vector<std::unique_ptr<Scope>> added;
      const Scope* top = scope;
      if (!resolve_pattern(n->patterns[0], scope, reg, err, added, top)) return false;
      for (std::size_t i = 2; i < n->kids.size(); ++i)
        if (!resolve(n->kids[i].get(), top, reg, err)) return false;
      return true;
    }
    case NK::kLabel: {
      Scope s{scope, Scope::kLabel, &n->name, 0};
      return resolve(n->kids[0].get(), &s, reg, err);
    }
    case NK::kBreak: {
      for (const Scope* s = scope; s; s = s->parent)
        if (s->kind == Scope::kLabel && *s->name == n->name) return true;
      return fail_at(err, n, "$*label-" + n->name + " is not defined");
    }
    case NK::kVar: {
      for (const Scope* s = scope; s; s = s->parent)
        if (s->kind == Scope::kVar && *s->name == n->name) return true;
      if (n->name == "ENV" || n->name == "ARGS" || n->name == "__prog_args") return true;
      // --arg names are checked at compile (jq.cpp) against the named args; allow here
      return true;
    }
    case NK::kCall: {
      for (auto& k : n->kids)
        if (!resolve(k.get(), scope, reg, err)) return false;
      const std::size_t arity = n->kids.size();
      for (const Scope* s = scope; s; s = s->parent) {
        if ((s->kind == Scope::kFunc && s->arity == arity && *s->name == n->name) ||
            (s->kind == Scope::kParam && arity == 0 && *s->name == n->name)) {
          if (s->prelude) {
            n->call = CallKind::kPrelude;
            n->target = s->prelude;
          } else {
            n->call = CallKind::kDynamic;
          }
          return true;
        }
      }
      for (const char* refused : {"input", "inputs", "halt"}) {
        if (n->name == refused && arity == 0)
          return fail_at(err, n, n->name + " is not supported: ppipe gives each record to the expression as its one input");
      }
      if (!check_literal_regex(*n, err)) return false;
      auto p = reg.prelude.find({n->name, arity});
      if (p != reg.prelude.end()) {
        n->call = CallKind::kPrelude;
        n->target = p->second;
        return true;
      }
      auto nat = reg.natives.find({n->name, arity});
      if (nat != reg.natives.end()) {
        n->call = CallKind::kNative;
        n->native = nat->second;
        return true;
      }
      return fail_at(err, n, n->name + "/" + std::to_string(arity) + " is not defined");
    }
    default: break;
  }
  for (auto& k : n->kids)
    if (!resolve(k.get(), scope, reg, err)) return false;
  for (auto& e : n->entries)
    if (!resolve(e.key.get(), scope, reg, err) || !resolve(e.value.get(), scope, reg, err)) return false;
  for (auto& p : n->parts)
    if (!resolve(p.expr.get(), scope, reg, err)) return false;
  return true;
}

// Builtins that give one value (or none: empty, error) for each combination of their
// arguments' values: a call of one is single when its arguments are. kAlways: single whatever
// its arguments give (they are collected or cut: map(f) is [.[] | f], first(f) stops at one).
enum class Single { kNo, kIfArgs, kAlways };
Single single_builtin(const std::string& name) {
  static const std::set<std::string, std::less<>> kAlways = {
      "first", "last", "isempty", "map", "add", "any", "all", "min_by", "max_by", "sort_by", "group_by",
      "unique_by", "with_entries", "del", "to_entries", "from_entries"};
  static const std::set<std::string, std::less<>> kIfArgs = {
      "length", "utf8bytelength", "not", "keys", "keys_unsorted", "has", "contains", "inside", "in",
      "tostring", "tonumber", "tojson", "fromjson", "type", "ascii_downcase", "ascii_upcase", "explode",
      "implode", "ltrimstr", "rtrimstr", "startswith", "endswith", "split", "join", "map_values", "select",
      "values", "nulls", "booleans", "numbers", "strings", "arrays", "objects", "iterables", "scalars", "empty",
      "error", "min", "max", "sort", "unique", "reverse", "floor", "ceil", "round", "sqrt", "fabs", "abs", "pow",
      "log", "exp", "log10", "log2", "test", "getpath", "setpath", "delpaths", "index", "rindex", "indices",
      "trim", "ltrim", "rtrim", "flatten", "todate", "fromdate", "todateiso8601", "fromdateiso8601",
      "strftime", "strptime", "mktime", "gmtime", "isnan", "isinfinite", "isnormal", "infinite", "nan",
      "transpose", "env", "now", "toarray"};
  if (kAlways.count(name)) return Single::kAlways;
  return kIfArgs.count(name) ? Single::kIfArgs : Single::kNo;
}

// mark_single's walk. User functions are known single by their bodies, in lexical scope (the
// functions a call can name, innermost first): a recursive one is assumed single while its body
// is marked, and marked again without the assumption when the body is not single (the greatest
// fixpoint: a body that gives at most one value when each call it makes does, does). Parameters
// (closures) are not known single, so a function is single whatever it is given.
class SingleMarker {
 public:
  void mark(Node* n) {
    if (!n) return;
    ++work_;
    if (n->kind == NK::kDef) {
      mark_def(n);
      return;
    }
    for (auto& k : n->kids) mark(k.get());
    for (auto& e : n->entries) {
      mark(e.key.get());
      mark(e.value.get());
    }
    for (auto& p : n->parts) mark(p.expr.get());
    for (auto& p : n->patterns) mark_pattern(p);
    n->single = compute(n);
  }

 private:
  struct Fn {
    const std::string* name;
    std::size_t arity;
    bool single;
    // A function's: whether every call marked so far passed each parameter a single argument.
    std::vector<bool> args_single = std::vector<bool>(arity, true);
  };

  void mark_pattern(Pattern& p) {
    for (auto& e : p.elems) mark_pattern(e);
    for (auto& e : p.entries) {
      mark(e.key.get());
      if (e.value) mark_pattern(*e.value);
    }
  }

  void mark_def(Node* n) {
    FuncDef& d = *n->def;
    // Deeply nested definitions are marked once, not single (each retry marks what is inside again).
    const bool retry = nesting_ < 4;
    ++nesting_;
    std::vector<bool> params(d.params.size(), false);
    scope_.push_back(Fn{&d.name, d.params.size(), retry});
    const std::size_t self = scope_.size() - 1;
    auto mark_body = [&] {
      for (std::size_t i = 0; i < d.params.size(); ++i) scope_.push_back(Fn{&d.params[i], 0, params[i]});
      scope_[self].args_single.assign(d.params.size(), true);
      mark(d.body.get());
      scope_.resize(self + 1);
    };
    // 1. The function's own value, with its parameters not known single (as its callers see it).
    mark_body();
    if (scope_[self].single && !(d.body && d.body->single)) {
      scope_[self].single = false;  // the assumption did not hold: mark the body again without it
      mark_body();
    }
    --nesting_;
    // 2. The rest, which sees the function: its calls say what the parameters are given.
    scope_[self].args_single.assign(d.params.size(), true);
    mark(n->kids.empty() ? nullptr : n->kids[0].get());
    // 3. A parameter that every call gives a single argument is single inside the body (`def
    // f(n): ... f(n - 1)` called as f(.n)): its uses there are evaluated to their value, not
    // through a continuation each, which nested every level's closure chain on the stack (285
    // levels). Checked again against the body's own calls until it holds (a greatest fixpoint).
    if (retry && !d.params.empty() && work_ < kWorkBudget) {
      std::vector<bool> given = scope_[self].args_single;
      for (std::size_t i = 0; i < params.size(); ++i) params[i] = given[i] && !d.param_is_var[i];
      const bool all = std::find(params.begin(), params.end(), false) == params.end();
      // With every parameter single, every call is given single arguments, so the function is
      // single when its body is under that assumption (`ack(m - 1; ack(m; n - 1))`: the inner
      // call is an argument, single only if ack is).
      const bool was_single = scope_[self].single;
      if (all && !was_single) scope_[self].single = true;
      ++nesting_;
      while (std::find(params.begin(), params.end(), true) != params.end()) {
        mark_body();
        bool changed = false;
        if (scope_[self].single && !was_single && !(d.body && d.body->single)) {
          scope_[self].single = false;  // not single after all
          changed = true;
        }
        for (std::size_t i = 0; i < params.size(); ++i)
          if (params[i] && !scope_[self].args_single[i]) {
            params[i] = false;
            changed = true;
          }
        if (scope_[self].single && !was_single && std::find(params.begin(), params.end(), false) != params.end()) {
          scope_[self].single = false;  // (only with all of them single)
          changed = true;
        }
        if (!changed) break;
      }
      if (std::find(params.begin(), params.end(), true) == params.end()) mark_body();  // (none held)
      --nesting_;
      // Single now: the rest's calls are single too (its arguments only become more so).
      if (scope_[self].single && !was_single) mark(n->kids.empty() ? nullptr : n->kids[0].get());
    }
    scope_.pop_back();
    n->single = n->kid(0) && n->kid(0)->single;
  }

  bool kids_single(const Node* n) const {
    for (auto& k : n->kids)
      if (k && !k->single) return false;
    return true;
  }

  bool compute(const Node* n) {
    switch (n->kind) {
      case NK::kIdentity:
      case NK::kLiteral:
      case NK::kVar:
      case NK::kFormat:
      case NK::kBreak:
      case NK::kArray:  // [E] is one value whatever E gives
        return true;
      case NK::kField:
      case NK::kIndex:
      case NK::kSlice:
      case NK::kPipe:
      case NK::kNeg:
      case NK::kBinary:
      case NK::kAnd:
      case NK::kOr:
      case NK::kAlt:
      case NK::kIf:
      case NK::kTry:
      case NK::kLabel:
        return kids_single(n);
      case NK::kReduce: return n->kid(1) && n->kid(1)->single;  // one value per init value
      case NK::kAs: return n->patterns.size() == 1 && kids_single(n);
      case NK::kObject:
        for (auto& e : n->entries)
          if ((e.key && !e.key->single) || (e.value && !e.value->single)) return false;
        return true;
      case NK::kString:
        for (auto& p : n->parts)
          if (p.expr && !p.expr->single) return false;
        return true;
      case NK::kAssign: return n->assign == '|' || (n->kid(1) && n->kid(1)->single);
      case NK::kCall: {
        if (n->call == CallKind::kDynamic) {
          for (auto it = scope_.rbegin(); it != scope_.rend(); ++it)
            if (it->arity == n->kids.size() && *it->name == n->name) {
              for (std::size_t i = 0; i < n->kids.size(); ++i)
                if (!n->kids[i] || !n->kids[i]->single) it->args_single[i] = false;
              return it->single;
            }
          return false;
        }
        const Single kind = single_builtin(n->name);
        return kind == Single::kAlways || (kind == Single::kIfArgs && kids_single(n));
      }
      default: return false;
    }
  }

  std::vector<Fn> scope_;
  int nesting_ = 0;
  // Nodes marked: past the budget no parameter or function is marked again to find it single
  // (each such pass marks a body, or the rest of the program, once more).
  static constexpr std::uint64_t kWorkBudget = 2'000'000;
  std::uint64_t work_ = 0;
};

}  // namespace

void mark_single(Node* root) { SingleMarker().mark(root); }

namespace {

const Registry& registry() {
  static const Registry reg = [] {
    Registry r;
    for (const Native& n : kNatives) r.natives[{n.name, n.arity}] = &n;
    for (const Native& n : math_natives().natives) r.natives[{n.name, n.arity}] = &n;
    ParseError err;
    r.prelude_defs = parse_definitions(kPrelude, err);
    if (!err.message.empty()) {
      r.error = "prelude: " + err.message + " at " + std::to_string(err.pos);
      return r;
    }
    for (auto& d : r.prelude_defs) r.prelude[{d->name, d->params.size()}] = d.get();
    for (auto& d : r.prelude_defs) {
      if (!resolve_def(*d, nullptr, r, err, true)) {
        r.error = "prelude: " + d->name + ": " + err.message;
        return r;
      }
    }
    for (auto& d : r.prelude_defs) mark_single(d->body.get());
    return r;
  }();
  return reg;
}

}  // namespace

const Native* find_native(const std::string& name, std::size_t arity) {
  auto it = registry().natives.find({name, arity});
  return it == registry().natives.end() ? nullptr : it->second;
}

void native_names(std::vector<std::string>& out) {
  for (const auto& [k, v] : registry().natives) out.push_back(k.first + "/" + std::to_string(k.second));
}

const FuncDef* find_prelude(const std::string& name, std::size_t arity) {
  auto it = registry().prelude.find({name, arity});
  return it == registry().prelude.end() ? nullptr : it->second;
}

void prelude_names(std::vector<std::string>& out) {
  for (const auto& [k, v] : registry().prelude) out.push_back(k.first + "/" + std::to_string(k.second));
}

// Resolves a parsed program's calls (jq.cpp). False with err set on an undefined name.
bool resolve_program(Node* root, ParseError& err, std::string* internal_error) {
  const Registry& reg = registry();
  if (!reg.error.empty()) {
    *internal_error = reg.error;
    return false;
  }
  if (!resolve(root, nullptr, reg, err)) return false;
  mark_single(root);
  return true;
}

}  // namespace ppipe::expr::jq
