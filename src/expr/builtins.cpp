// Builtin functions, with jq 1.6's semantics and error wording unless docs/expr.md says otherwise.
// Arguments are evaluated against the function's input, as in jq; `select`, `map`, `any(f)` and
// `all(f)` take their argument as a closure instead.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "src/expr/internal.h"
#include "src/expr/jq/value.h"
#include "src/util/text_util.h"

namespace ppipe::expr {

bool decimal_text(std::string_view s) {
  std::size_t i = 0, n = s.size(), digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++e;
    if (e == 0) return false;
  }
  return i == n;
}

namespace {

St type_error(Ctx& cx, const Value& v, std::string_view what) {
  std::string& m = cx.s.message;
  m.clear();
  append_kind_and_value(v, m, cx.s.buffer);
  m.push_back(' ');
  m.append(what);
  return message_error(cx.s);
}


St cannot_iterate(Ctx& cx, const Value& v) {
  std::string& m = cx.s.message;
  m.assign("Cannot iterate over ");
  append_kind_and_value(v, m, cx.s.buffer);
  return message_error(cx.s);
}

bool iterable(const Value& v) { return v.is_array() || v.is_object(); }

bool same_kind(const Value& a, const Value& b) {
  return (a.is_number() && b.is_number()) || a.tag() == b.tag();
}

Value number_abs(const Value& v) {
  if (v.tag() == Tag::kInt) {
    if (v.int_value() >= 0) return v;
    if (v.int_value() != INT64_MIN) return Value::integer(-v.int_value());
    return Value::number(-static_cast<double>(v.int_value()));
  }
  if (v.tag() == Tag::kUint) return v;
  return Value::number(std::fabs(v.double_value()));
}

}  // namespace

Value tojson_value(const Value& v, Ctx& cx) {
  std::string& b = cx.s.buffer2;
  b.clear();
  write_json(v, b);
  return Value::string(make_string(cx, b));
}

namespace {

// ---- regular expressions (RE2) ----

// jq's "x" flag (extended): drop unescaped whitespace and #-comments outside classes; RE2 has no
// such mode.
std::string strip_extended(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      out.push_back(c);
      out.push_back(re[++i]);
      continue;
    }
    if (in_class) {
      if (const std::size_t end = posix_class_end(re, i); end != std::string_view::npos) {
        out.append(re.substr(i, end + 1 - i));  // (its ']' does not end the bracket)
        i = end;
        continue;
      }
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // a ']' first (after a '^') is a literal, not the bracket's end: []#] is ']' or '#'
      if (i + 1 < re.size() && re[i + 1] == '^') out.push_back(re[++i]);
      if (i + 1 < re.size() && re[i + 1] == ']') out.push_back(re[++i]);
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
    if (c == '#') {
      while (i < re.size() && re[i] != '\n') ++i;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

bool has_nonempty_match(const RE2& re, std::string_view text) {  // (re: leftmost-longest)
  re2::StringPiece whole(text.data(), text.size()), m;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    if (!re.Match(whole, pos, text.size(), RE2::UNANCHORED, &m, 1)) return false;
    if (!m.empty()) return true;
    // an empty match: the next one starts a code point later
    std::size_t b = static_cast<std::size_t>(m.data() - text.data());
    if (b >= text.size()) return false;
    pos = b + 1;
    while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
  }
  return false;
}

// Shared with the parser, which compiles literal patterns once.
std::unique_ptr<RE2> build_regex(std::string_view pattern, std::string_view flags, std::string& error,
                                 bool longest) {
  RE2::Options options;
  options.set_log_errors(false);
  if (longest) options.set_longest_match(true);
  bool extended = false;
  for (char f : flags) {
    switch (f) {
      case 'i': options.set_case_sensitive(false); break;
      case 'x': extended = true; break;
      case 'g':  // global: no effect on test()
      case 'n':  // ignore empty matches: the callers look at the matches (has_nonempty_match)
        break;   // (both fell through to 'p' here: `test("a.b"; "g")` matched "a\nb", unlike jq)
      case 'p':  // Oniguruma's s and m: '.' also matches a newline
        options.set_dot_nl(true);
        break;
      case 's':  // single-line (^ = \A, $ = \z): RE2's default already
      case 'l':  // longest match: no effect on test()
        break;
      default:
        error.assign(flags);
        error.append(" is not a valid modifier string");
        return nullptr;
    }
  }
  std::string stripped;
  if (extended) stripped = strip_extended(pattern);
  // Oniguruma's syntax and Unicode classes for RE2 (\w matches 日本語, as in jq)
  std::string terr;
  std::string translated = translate_regex(extended ? stripped : std::string(pattern), terr);
  if (!terr.empty()) {
    error.assign(pattern);
    error.append(" (at offset 0) is not a valid regex: ");
    error.append(terr);
    return nullptr;
  }
  auto re = std::make_unique<RE2>(re2::StringPiece(translated), options);
  if (!re->ok()) {
    error.assign(pattern);
    error.append(" (at offset 0) is not a valid regex: ");
    error.append(re->error());
    return nullptr;
  }
  return re;
}

namespace {

constexpr std::size_t kRegexCacheSize = 32;

// Patterns computed per record: compiled once per worker and kept in a small cache.
St cached_regex(Ctx& cx, std::string_view pattern, std::string_view flags, const RE2*& out, const RE2*& longest) {
  auto& cache = cx.s.regex_cache;
  for (auto& e : cache) {
    if (e.pattern == pattern && e.flags == flags) {
      if (!e.regex) return fail(cx, e.error);
      out = e.regex.get();
      longest = e.longest.get();
      return St::kOk;
    }
  }
  RegexCacheEntry entry;
  entry.pattern.assign(pattern);
  entry.flags.assign(flags);
  entry.regex = build_regex(pattern, flags, entry.error);
  if (entry.regex && flags.find('n') != std::string_view::npos) {
    std::string ignored;
    entry.longest = build_regex(pattern, flags, ignored, /*longest=*/true);
  }
  RegexCacheEntry* slot;
  if (cache.size() < kRegexCacheSize) {
    cache.push_back(std::move(entry));
    slot = &cache.back();
  } else {
    slot = &cache[cx.s.regex_next];
    cx.s.regex_next = (cx.s.regex_next + 1) % kRegexCacheSize;
    *slot = std::move(entry);
  }
  if (!slot->regex) return fail(cx, slot->error);
  out = slot->regex.get();
  longest = slot->longest.get();
  return St::kOk;
}

St fn_test(const Node* n, const Value& in, Value& out, Ctx& cx) {
  const RE2* re = n->regex.get();
  const RE2* longest = n->regex_longest.get();
  if (re == nullptr) {
    Value pattern, flags;
    St s;
    if (n->kids.size() > 1) {
      s = eval(n->kids[1].get(), in, flags, cx);
      if (s != St::kOk) return s;
    }
    s = eval(n->kids[0].get(), in, pattern, cx);
    if (s != St::kOk) return s;
    if (!in.is_string()) return type_error(cx, in, "cannot be matched, as it is not a string");
    if (pattern.is_array() && n->kids.size() == 1) {
      // test([RE, FLAGS]) and test([RE]), as jq's `def test($val)` (an empty array: the error below).
      Value items[2];
      std::uint32_t k = 0;
      for_each_item(pattern, [&](const Value& x) {
        items[k++] = x;
        return k < 2;
      });
      if (k > 0) pattern = items[0];
      if (k > 1) flags = items[1];
    }
    if (!pattern.is_string()) {
      std::string& m = cx.s.message;
      m.assign(kind_name(pattern));
      m.append(" not a string or array");
      return message_error(cx.s);
    }
    if (!flags.is_null() && !flags.is_string()) return type_error(cx, flags, "is not a string");
    s = cached_regex(cx, pattern.string_value(), flags.is_null() ? std::string_view() : flags.string_value(), re,
                     longest);
    if (s != St::kOk) return s;
  } else if (!in.is_string()) {
    return type_error(cx, in, "cannot be matched, as it is not a string");
  }
  std::string_view text = in.string_value();
  out = Value::boolean(longest ? has_nonempty_match(*longest, text)
                               : RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re));
  return St::kOk;
}

// ---- numbers from text ----

bool parse_number(std::string_view s, Value& out) {
  if (!decimal_text(s)) return false;
  if (s.front() == '+') s.remove_prefix(1);
  std::int64_t i;
  auto ri = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ri.ec == std::errc() && ri.ptr == s.data() + s.size()) {
    if (!(i == 0 && s.front() == '-')) {  // keep -0 a double, as jq
      out = Value::integer(i);
      return true;
    }
  }
  double d;
  auto rd = std::from_chars(s.data(), s.data() + s.size(), d);
  if (rd.ptr != s.data() + s.size()) return false;
  if (rd.ec == std::errc::result_out_of_range) {
    // Overflow saturates (printed as 1.7976931348623157e+308 like jq); underflow is 0.
    bool neg = s.front() == '-';
    bool tiny = false;
    for (std::size_t k = 0; k < s.size(); ++k) {
      if ((s[k] == 'e' || s[k] == 'E') && k + 1 < s.size() && s[k + 1] == '-') tiny = true;
    }
    d = tiny ? 0.0 : HUGE_VAL;
    if (neg) d = -d;
  } else if (rd.ec != std::errc()) {
    return false;
  }
  out = Value::number(d);
  return true;
}

// ---- fromjson ----

St fn_fromjson(const Value& in, Value& out, Ctx& cx) {
  if (!in.is_string()) return type_error(cx, in, "only strings can be parsed");
  std::string_view text = in.string_value();
  ScratchState& s = cx.s;
  if (!s.parser) s.parser = std::make_unique<simdjson::dom::parser>();
  s.padded.assign(text.data(), text.size());
  s.padded.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element e;
  auto err = s.parser->parse(s.padded.data(), text.size(), false).get(e);
  if (err) {
    // what jq reads but simdjson does not (NaN, nan, Infinity, numbers beyond 64 bits)
    jq::J j;
    if (jq::parse_json(text, j, nullptr)) {
      out = from_j(j, cx.arena);
      return St::kOk;
    }
    // jq: "<reason> (while parsing '<text>')"
    std::string& m = s.message;
    m.assign(simdjson::error_message(err));
    m.append(" (while parsing '");
    m.append(text);
    m.append("')");
    return message_error(s);
  }
  out = copy_dom(e, cx.arena);  // the parser is reused by the next fromjson
  return St::kOk;
}

// ---- join ----

St fn_join(const Value& in, const Value& sep, Value& out, Ctx& cx) {
  if (!iterable(in)) return cannot_iterate(cx, in);
  std::string& acc = cx.s.buffer2;
  acc.clear();
  bool first = true;
  St status = St::kOk;
  for_each_item(in, [&](const Value& x) {
    if (!first) {
      if (sep.is_string()) {
        acc.append(sep.string_value());
      } else if (!sep.is_null()) {
        status = type_error2(cx, Value::string(make_string(cx, acc)), sep, "cannot be added");
        return false;
      }
    }
    first = false;
    switch (x.tag()) {
      case Tag::kNull: break;
      case Tag::kString: acc.append(x.string_value()); break;
      case Tag::kArray:
      case Tag::kObject:
        status = type_error2(cx, Value::string(make_string(cx, acc)), x, "cannot be added");
        return false;
      default: write_json(x, acc);
    }
    return true;
  });
  if (status != St::kOk) return status;
  out = Value::string(make_string(cx, acc));
  return St::kOk;
}

// ---- add ----

St fn_add(const Value& in, Value& out, Ctx& cx) {
  if (!iterable(in)) return cannot_iterate(cx, in);
  // All strings (or nulls): one concatenation instead of n.
  bool strings = true;
  bool any = false;
  std::size_t total = 0;
  for_each_item(in, [&](const Value& x) {
    if (x.is_string()) {
      total += x.string_value().size();
      any = true;
    } else if (!x.is_null()) {
      strings = false;
    }
    return strings;
  });
  if (strings && any) {
    char* p = cx.arena.alloc_chars(total);
    std::size_t at = 0;
    for_each_item(in, [&](const Value& x) {
      if (x.is_string()) {
        std::memcpy(p + at, x.string_value().data(), x.string_value().size());
        at += x.string_value().size();
      }
      return true;
    });
    out = Value::string({p, total});
    return St::kOk;
  }
  Value acc;
  St status = St::kOk;
  for_each_item(in, [&](const Value& x) {
    status = binary_op(BinOp::kAdd, acc, x, acc, cx);
    return status == St::kOk;
  });
  if (status != St::kOk) return status;
  out = acc;
  return St::kOk;
}

St fn_any_all(const Node* n, const Value& in, Value& out, Ctx& cx, bool is_any) {
  if (!iterable(in)) return cannot_iterate(cx, in);
  bool result = !is_any;
  St status = St::kOk;
  const Node* f = n->kid(0);
  for_each_item(in, [&](const Value& x) {
    Value v = x;
    if (f != nullptr) {
      St s = eval(f, x, v, cx);
      if (s == St::kEmpty) return true;
      if (s != St::kOk) {
        status = s;
        return false;
      }
    }
    if (v.truthy() == is_any) {  // decided: stop early
      result = is_any;
      return false;
    }
    return true;
  });
  if (status != St::kOk) return status;
  out = Value::boolean(result);
  return St::kOk;
}

St fn_minmax(const Value& in, Value& out, Ctx& cx, bool is_min) {
  if (!in.is_array()) return type_error2(cx, in, in, "cannot be iterated over");
  bool have = false;
  Value best;
  for_each_item(in, [&](const Value& x) {
    if (!have) {
      best = x;
      have = true;
      return true;
    }
    int c = compare(x, best, cx.arena);
    // jq: min keeps the first of equal minima, max the last of equal maxima.
    if (is_min ? c < 0 : c >= 0) best = x;
    return true;
  });
  out = have ? best : Value::null();
  return St::kOk;
}

St fn_keys(const Value& in, Value& out, Ctx& cx, bool sorted) {
  if (in.is_object()) {
    if (sorted) {
      out = sorted_keys(in, cx.arena);
      return St::kOk;
    }
    Value obj = materialize_object(in, cx.arena);
    Value* keys = cx.arena.alloc_array<Value>(obj.size());
    for (std::uint32_t i = 0; i < obj.size(); ++i) keys[i] = Value::string(obj.members()[i].key);
    out = Value::array(keys, obj.size());
    return St::kOk;
  }
  if (in.is_array()) {
    std::uint32_t n = container_size(in);
    Value* keys = cx.arena.alloc_array<Value>(n);
    for (std::uint32_t i = 0; i < n; ++i) keys[i] = Value::integer(i);
    out = Value::array(keys, n);
    return St::kOk;
  }
  return type_error(cx, in, "has no keys");
}

St fn_ascii_case(const Value& in, Value& out, Ctx& cx, bool upper) {
  if (!in.is_string()) return fail(cx, "explode input must be a string");
  std::string_view s = in.string_value();
  char lo = upper ? 'a' : 'A';
  char hi = upper ? 'z' : 'Z';
  std::size_t first = 0;
  while (first < s.size() && !(s[first] >= lo && s[first] <= hi)) ++first;
  if (first == s.size()) {  // nothing to change: keep the view
    out = in;
    return St::kOk;
  }
  char* p = cx.arena.alloc_chars(s.size());
  std::memcpy(p, s.data(), s.size());
  for (std::size_t i = first; i < s.size(); ++i) {
    if (p[i] >= lo && p[i] <= hi) p[i] = static_cast<char>(p[i] ^ 0x20);
  }
  out = Value::string({p, s.size()});
  return St::kOk;
}

St fn_has(const Value& in, const Value& k, Value& out, Ctx& cx) {
  if (in.is_null()) {
    out = Value::boolean(false);
    return St::kOk;
  }
  if (in.is_object() && k.is_string()) {
    Value ignored;
    out = Value::boolean(lookup(in, k.string_value(), ignored));
    return St::kOk;
  }
  if (in.is_array() && k.is_number()) {
    double d = k.as_double();
    out = Value::boolean(d >= 0 && d < container_size(in));
    return St::kOk;
  }
  std::string& m = cx.s.message;
  m.assign("Cannot check whether ");
  m.append(kind_name(in));
  m.append(" has a ");
  m.append(kind_name(k));
  m.append(" key");
  return message_error(cx.s);
}

St fn_math(Fn fn, const Value& in, Value& out, Ctx& cx) {
  if (!in.is_number()) return type_error(cx, in, "number required");
  if (fn == Fn::kSqrt) {
    out = Value::number(std::sqrt(in.as_double()));
    return St::kOk;
  }
  if (in.tag() != Tag::kDouble) {  // integers are their own floor, ceil and round
    out = in;
    return St::kOk;
  }
  double d = in.double_value();
  switch (fn) {
    case Fn::kFloor: d = std::floor(d); break;
    case Fn::kCeil: d = std::ceil(d); break;
    default: d = std::round(d); break;  // half away from zero, as C round()
  }
  out = Value::number(d);
  return St::kOk;
}

St fn_sort(const Value& in, Value& out, Ctx& cx) {
  if (!in.is_array()) return type_error(cx, in, "cannot be sorted, as it is not an array");
  std::uint32_t n = container_size(in);
  Value* items = cx.arena.alloc_array<Value>(n);
  std::uint32_t i = 0;
  for_each_item(in, [&](const Value& x) {
    items[i++] = x;
    return true;
  });
  Arena& arena = cx.arena;
  // compare() puts NaN below every number, NaN included (nan < nan, as jq's `<`), which is not the
  // strict weak ordering std::stable_sort requires (undefined behaviour; _GLIBCXX_DEBUG aborts).
  // Asking both ways makes two NaNs (and values differing only by them) equivalent.
  std::stable_sort(items, items + i, [&](const Value& a, const Value& b) {
    return compare(a, b, arena) < 0 && compare(b, a, arena) >= 0;
  });
  out = Value::array(items, i);
  return St::kOk;
}

bool number_is_zero(const Value& v) {
  switch (v.tag()) {
    case Tag::kInt: return v.int_value() == 0;
    case Tag::kUint: return v.uint_value() == 0;
    default: return v.double_value() == 0;
  }
}

St fn_reverse(const Value& in, Value& out, Ctx& cx) {
  if (in.is_null()) {
    out = Value::array(nullptr, 0);
    return St::kOk;
  }
  if (in.is_string()) {
    // jq 1.7.1: a string reverses by code point (jq 1.6 raised an error), as the general engine.
    std::string_view s = in.string_value();
    char* p = cx.arena.alloc_chars(s.size());
    reverse_utf8(s, p);
    out = Value::string({p, s.size()});
    return St::kOk;
  }
  if (!in.is_array()) {
    // jq defines reverse as [.[length - 1 - range(0; length)]]: empty for anything of length 0.
    bool empty = (in.is_number() && number_is_zero(in)) || (in.is_object() && container_size(in) == 0);
    if (!empty) return type_error(cx, in, "cannot be reversed, as it is not an array");
    out = Value::array(nullptr, 0);
    return St::kOk;
  }
  std::uint32_t n = container_size(in);
  Value* items = cx.arena.alloc_array<Value>(n);
  std::uint32_t i = n;
  for_each_item(in, [&](const Value& x) {
    items[--i] = x;
    return true;
  });
  out = Value::array(items, n);
  return St::kOk;
}

St fn_to_entries(const Value& in, Value& out, Ctx& cx) {
  if (in.is_array()) {  // jq 1.6: the keys of an array are its indices
    std::uint32_t n = container_size(in);
    Value* items = cx.arena.alloc_array<Value>(n);
    std::uint32_t i = 0;
    for_each_item(in, [&](const Value& x) {
      Member* pair = cx.arena.alloc_array<Member>(2);
      pair[0] = Member{"key", Value::integer(i)};
      pair[1] = Member{"value", x};
      items[i++] = Value::object(pair, 2);
      return true;
    });
    out = Value::array(items, n);
    return St::kOk;
  }
  if (!in.is_object()) return type_error(cx, in, "has no keys");
  Value obj = materialize_object(in, cx.arena);
  Value* items = cx.arena.alloc_array<Value>(obj.size());
  static constexpr std::string_view kKey = "key";
  static constexpr std::string_view kValue = "value";
  for (std::uint32_t i = 0; i < obj.size(); ++i) {
    Member* pair = cx.arena.alloc_array<Member>(2);
    pair[0] = Member{kKey, Value::string(obj.members()[i].key)};
    pair[1] = Member{kValue, obj.members()[i].value};
    items[i] = Value::object(pair, 2);
  }
  out = Value::array(items, obj.size());
  return St::kOk;
}

}  // namespace

St call_builtin(const Node* n, const Value& in, Value& out, Ctx& cx) {
  // Closures and argument-free functions first.
  switch (n->fn) {
    case Fn::kSelect: {
      Value c;
      St s = eval(n->kids[0].get(), in, c, cx);
      if (s != St::kOk) return s;
      if (!c.truthy()) return St::kEmpty;
      out = in;
      return St::kOk;
    }
    case Fn::kMap: {
      if (!iterable(in)) return cannot_iterate(cx, in);
      ArenaVec<Value> items(cx.arena, container_size(in));
      St status = St::kOk;
      const Node* f = n->kids[0].get();
      for_each_item(in, [&](const Value& x) {
        status = collect(f, x, items, cx);
        return status == St::kOk;
      });
      if (status != St::kOk) return status;
      out = Value::array(items.data(), items.size());
      return St::kOk;
    }
    case Fn::kAny: return fn_any_all(n, in, out, cx, true);
    case Fn::kAll: return fn_any_all(n, in, out, cx, false);
    case Fn::kTest: return fn_test(n, in, out, cx);
    case Fn::kEmpty: return St::kEmpty;
    default: break;
  }

  // Other functions: arguments are evaluated against the input, last argument first as jq.
  Value args[2];
  for (std::size_t i = n->kids.size(); i-- > 0;) {
    St s = eval(n->kids[i].get(), in, args[i], cx);
    if (s != St::kOk) return s;
  }
  const Value& a = args[0];

  switch (n->fn) {
    case Fn::kLength:
      switch (in.tag()) {
        case Tag::kNull: out = Value::integer(0); return St::kOk;
        case Tag::kFalse:
        case Tag::kTrue: return type_error(cx, in, "has no length");
        case Tag::kInt:
        case Tag::kUint:
        case Tag::kDouble: out = number_abs(in); return St::kOk;
        case Tag::kString: out = Value::integer(codepoint_count(in.string_value())); return St::kOk;
        default: out = Value::integer(container_size(in)); return St::kOk;
      }
    case Fn::kUtf8ByteLength:
      if (!in.is_string()) return type_error(cx, in, "only strings have UTF-8 byte length");
      out = Value::integer(static_cast<std::int64_t>(in.string_value().size()));
      return St::kOk;
    case Fn::kStartsWith:
    case Fn::kEndsWith: {
      bool starts = n->fn == Fn::kStartsWith;
      if (!in.is_string() || !a.is_string()) {
        return fail(cx, starts ? "startswith() requires string inputs" : "endswith() requires string inputs");
      }
      std::string_view s = in.string_value(), p = a.string_value();
      bool r = p.size() <= s.size() &&
               (p.empty() || std::memcmp(starts ? s.data() : s.data() + s.size() - p.size(), p.data(), p.size()) == 0);
      out = Value::boolean(r);
      return St::kOk;
    }
    case Fn::kContains:
      if (!same_kind(in, a)) return type_error2(cx, in, a, "cannot have their containment checked");
      out = Value::boolean(contains(in, a));
      return St::kOk;
    case Fn::kAsciiDowncase: return fn_ascii_case(in, out, cx, false);
    case Fn::kAsciiUpcase: return fn_ascii_case(in, out, cx, true);
    case Fn::kLtrimstr:
    case Fn::kRtrimstr: {
      out = in;
      if (!in.is_string() || !a.is_string()) return St::kOk;
      std::string_view s = in.string_value(), p = a.string_value();
      if (p.size() > s.size()) return St::kOk;
      if (n->fn == Fn::kLtrimstr && s.substr(0, p.size()) == p) out = Value::string(s.substr(p.size()));
      if (n->fn == Fn::kRtrimstr && s.substr(s.size() - p.size()) == p) {
        out = Value::string(s.substr(0, s.size() - p.size()));
      }
      return St::kOk;
    }
    case Fn::kSplit:
      if (!in.is_string() || !a.is_string()) return fail(cx, "split input and separator must be strings");
      out = split_string(in.string_value(), a.string_value(), cx.arena);
      return St::kOk;
    case Fn::kJoin: return fn_join(in, a, out, cx);
    case Fn::kHas: return fn_has(in, a, out, cx);
    case Fn::kType: {
      const char* name = kind_name(in);
      out = Value::string(name);
      return St::kOk;
    }
    case Fn::kTostring:
      out = in.is_string() ? in : tojson_value(in, cx);
      return St::kOk;
    case Fn::kTojson: out = tojson_value(in, cx); return St::kOk;
    case Fn::kFromjson: return fn_fromjson(in, out, cx);
    case Fn::kTonumber: {
      if (in.is_number()) {
        out = in;
        return St::kOk;
      }
      if (!in.is_string()) return type_error(cx, in, "cannot be parsed as a number");
      if (parse_number(in.string_value(), out)) return St::kOk;
      return type_error(cx, in, "cannot be parsed as a number");
    }
    case Fn::kKeys: return fn_keys(in, out, cx, true);
    case Fn::kKeysUnsorted: return fn_keys(in, out, cx, false);
    case Fn::kNot: out = Value::boolean(!in.truthy()); return St::kOk;
    case Fn::kAdd: return fn_add(in, out, cx);
    case Fn::kAbs:  // jq 1.8: anything but a number passes through
      out = in.is_number() ? number_abs(in) : in;
      return St::kOk;
    case Fn::kFloor:
    case Fn::kCeil:
    case Fn::kRound:
    case Fn::kSqrt: return fn_math(n->fn, in, out, cx);
    case Fn::kIsNan:  // false for non-numbers, as jq 1.6
      out = Value::boolean(in.tag() == Tag::kDouble && std::isnan(in.double_value()));
      return St::kOk;
    case Fn::kMin: return fn_minmax(in, out, cx, true);
    case Fn::kMax: return fn_minmax(in, out, cx, false);
    case Fn::kError: return fail_value(cx, n->kids.empty() ? in : a);
    case Fn::kSort: return fn_sort(in, out, cx);
    case Fn::kReverse: return fn_reverse(in, out, cx);
    case Fn::kFirst:
    case Fn::kLast: {
      if (in.is_null()) {
        out = Value::null();
        return St::kOk;
      }
      if (!in.is_array()) {
        std::string& m = cx.s.message;
        m.assign("Cannot index ");
        m.append(kind_name(in));
        m.append(n->fn == Fn::kFirst ? " with number (0)" : " with number (-1)");
        return message_error(cx.s);
      }
      std::int64_t index = n->fn == Fn::kFirst ? 0 : static_cast<std::int64_t>(container_size(in)) - 1;
      if (!array_at(in, index, out)) out = Value::null();
      return St::kOk;
    }
    case Fn::kValues:
      if (in.is_null()) return St::kEmpty;
      out = in;
      return St::kOk;
    case Fn::kNulls:
      if (!in.is_null()) return St::kEmpty;
      out = in;
      return St::kOk;
    case Fn::kToEntries: return fn_to_entries(in, out, cx);
    default: return fail(cx, "internal error: unknown builtin");
  }
}

}  // namespace ppipe::expr
