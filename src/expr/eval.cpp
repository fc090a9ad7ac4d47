// The evaluator: a recursive walk over the compiled node tree. Errors are values (St::kError with
// the message in the scratch state), never exceptions, so workers can evaluate concurrently.
#include <cmath>
#include <cstring>
#include <span>

#include "src/expr/internal.h"
#include "src/expr/tape.h"

namespace ppipe::expr {

St fail(Ctx& cx, std::string_view message) {
  cx.s.message.assign(message.data(), message.size());
  return message_error(cx.s);
}

St fail_value(Ctx& cx, const Value& v) {
  if (v.is_string()) return fail(cx, v.string_value());
  cx.s.error_value = v;
  cx.s.error_is_message = false;
  cx.s.message.clear();
  cx.s.message.append("(not a string): ");
  write_json(v, cx.s.message);
  return St::kError;
}

namespace {

// jq 1.8's wording: Cannot index number with string ("a")
St cannot_index_with(Ctx& cx, const Value& v, const Value& k) {
  std::string& m = cx.s.message;
  m.assign("Cannot index ");
  m.append(kind_name(v));
  m.append(" with ");
  if (k.is_object()) m.append("object");  // a slice
  else append_kind_and_value(k, m, cx.s.buffer);
  return message_error(cx.s);
}

St cannot_index_with_key(Ctx& cx, const Value& v, std::string_view key) {
  return cannot_index_with(cx, v, Value::string(key));
}

St index_key(const Value& v, std::string_view key, Value& out, Ctx& cx) {
  if (v.is_object()) {
    if (!lookup(v, key, out)) out = Value::null();
    return St::kOk;
  }
  if (v.is_null()) {
    out = Value::null();
    return St::kOk;
  }
  return cannot_index_with_key(cx, v, key);
}

St index_number(const Value& v, std::int64_t index, Value& out, Ctx& cx) {
  if (v.is_array()) {
    if (index < 0) index += container_size(v);
    if (!array_at(v, index, out)) out = Value::null();
    return St::kOk;
  }
  if (v.is_null()) {
    out = Value::null();
    return St::kOk;
  }
  return cannot_index_with(cx, v, Value::integer(index));
}

// `.[k]` for an array k on an array: where the run of k's elements starts in v (as indices/1 and
// the general engine's; k empty: null, as jq 1.7, where jq 1.6 gives []).
St index_subarray(const Value& v, const Value& k, Value& out, Ctx& cx) {
  ArenaVec<Value> hay(cx.arena), needle(cx.arena), hits(cx.arena);
  for_each_item(v, [&](const Value& e) { hay.push_back(e); return true; });
  for_each_item(k, [&](const Value& e) { needle.push_back(e); return true; });
  if (needle.size() == 0) {
    out = Value::null();
    return St::kOk;
  }
  for (std::uint32_t i = 0; i + needle.size() <= hay.size(); ++i) {
    bool match = true;
    for (std::uint32_t j = 0; j < needle.size() && match; ++j) match = equal(hay[i + j], needle[j], cx.arena);
    if (match) hits.push_back(Value::integer(i));
  }
  out = Value::array(hits.data(), hits.size());
  return St::kOk;
}

// `.[k]` with a computed k.
St index_dynamic(const Value& v, const Value& k, Value& out, Ctx& cx) {
  if (k.is_string()) return index_key(v, k.string_value(), out, cx);
  if (k.is_array() && v.is_array()) return index_subarray(v, k, out, cx);
  if (k.is_number() && (v.is_array() || v.is_null())) {
    double d = k.as_double();
    if (k.tag() == Tag::kInt) return index_number(v, k.int_value(), out, cx);
    // jq 1.7: a fractional index is cut toward zero (`.[1.7]` is `.[1]`, `.[-1.5]` is `.[-1]`:
    // its (int)didx; as the general engine does; jq 1.6 gave null); NaN gives null.
    d = std::trunc(d);
    if (std::isnan(d) || std::fabs(d) > 9e18) {
      out = Value::null();
      return St::kOk;
    }
    return index_number(v, static_cast<std::int64_t>(d), out, cx);
  }
  if (v.is_null() && k.is_object()) {
    out = Value::null();
    return St::kOk;
  }
  return cannot_index_with(cx, v, k);
}

// jq 1.6's parse_slice: bounds may be null, negative (from the end) or fractional
// (start rounds down, end rounds up).
St slice(const Value& v, const Value& from, const Value& to, Value& out, Ctx& cx) {
  if (v.is_null()) {
    out = Value::null();
    return St::kOk;
  }
  if (!v.is_array() && !v.is_string()) return cannot_index_with(cx, v, Value::object(nullptr, 0));
  if ((!from.is_null() && !from.is_number()) || (!to.is_null() && !to.is_number())) {
    return fail(cx, "Start and end indices of an array slice must be numbers");
  }
  double len = v.is_array() ? container_size(v) : codepoint_count(v.string_value());
  double start = from.is_null() ? 0 : from.as_double();
  double end = to.is_null() ? len : to.as_double();
  // A NaN bound (e.g. from sqrt(-1)) means the whole range, as in jq 1.7; converting NaN to an
  // integer below would be undefined.
  if (std::isnan(start)) start = 0;
  if (std::isnan(end)) end = len;
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (start > len) start = len;
  if (end > len) end = len;
  if (end < 0) end = 0;
  // Rounded first (start down, end up), then an end before the start is the start, as jq: on the
  // bounds themselves, .[1.5:1] was .[1.5:1.5], one element where jq gives none.
  auto s = static_cast<std::uint32_t>(start);
  auto e = static_cast<std::uint32_t>(end);
  if (end > e) ++e;
  if (e < s) e = s;
  if (v.is_string()) {
    std::string_view str = v.string_value();
    std::size_t i = 0;
    std::uint32_t cp = 0;
    std::size_t bs = str.size(), be = str.size();
    for (; i <= str.size(); ++i) {
      if (i == str.size() || (static_cast<unsigned char>(str[i]) & 0xC0) != 0x80) {
        if (cp == s) bs = i;
        if (cp == e) {
          be = i;
          break;
        }
        ++cp;
      }
    }
    out = Value::string(str.substr(bs, be - bs));
    return St::kOk;
  }
  if (!v.is_dom()) {
    out = Value::array(v.items() + s, e - s);
    return St::kOk;
  }
  ArenaVec<Value> items(cx.arena, e - s);
  std::uint32_t i = 0;
  for_each_item(v, [&](const Value& x) {
    if (i >= s && i < e) items.push_back(x);
    return ++i < e;
  });
  out = Value::array(items.data(), items.size());
  return St::kOk;
}

St error_as_value(Ctx& cx, Value& out) {
  if (cx.s.error_is_message) {
    out = Value::string(make_string(cx, cx.s.message));
  } else {
    out = cx.s.error_value;
  }
  return St::kOk;
}

// Comparisons of two int64s or two strings without the general total-order machinery.
inline bool fast_compare(BinOp op, const Value& a, const Value& b, Value& out) {
  if (op < BinOp::kEq) return false;
  int c;
  if (a.tag() == Tag::kInt && b.tag() == Tag::kInt) {
    c = a.int_value() < b.int_value() ? -1 : (a.int_value() > b.int_value() ? 1 : 0);
  } else if (a.tag() == Tag::kString && b.tag() == Tag::kString) {
    std::string_view x = a.string_value(), y = b.string_value();
    if (op == BinOp::kEq || op == BinOp::kNe) {
      out = Value::boolean((x == y) == (op == BinOp::kEq));
      return true;
    }
    c = x.compare(y);  // bytewise, as jq
  } else {
    return false;
  }
  bool r;
  switch (op) {
    case BinOp::kEq: r = c == 0; break;
    case BinOp::kNe: r = c != 0; break;
    case BinOp::kLt: r = c < 0; break;
    case BinOp::kLe: r = c <= 0; break;
    case BinOp::kGt: r = c > 0; break;
    default: r = c >= 0; break;
  }
  out = Value::boolean(r);
  return true;
}

bool is_generator(const Node* n) {
  return n->op == Op::kComma || n->op == Op::kIterate || n->op == Op::kPipe;
}

// A kPath's steps from `first` on, from `cur`.
St path_steps(const Node* n, std::size_t first, Value cur, Value& out, Ctx& cx) {
  for (std::size_t i = first; i < n->steps.size(); ++i) {
    const PathStep& step = n->steps[i];
    if (!step.is_index && cur.is_dom() && cur.is_object()) {  // the hot case: a field of the input
      if (!tape::lookup(tape::ref_of(cur.dom()), step.key, cur)) cur = Value::null();
      continue;
    }
    St s = step.is_index ? index_number(cur, step.index, cur, cx) : index_key(cur, step.key, cur, cx);
    if (s != St::kOk) return s;
  }
  out = cur;
  return St::kOk;
}

// The input's members that n's parts read (Node::leads), in the arena: null unless the input is
// a parsed object (then each part runs as it is, errors and all).
const Value* find_leads(const Node* n, const Value& in, Ctx& cx) {
  if (!n->leads || !in.is_dom() || !in.is_object()) return nullptr;
  Value* members = cx.arena.alloc_array<Value>(n->leads->keys.size());
  tape::lookup_many(tape::ref_of(in.dom()), *n->leads, members);
  return members;
}

St eval_part(const Node* n, std::size_t i, const Node* part, const Value* leads, const Value& in, Value& out,
             Ctx& cx) {
  if (leads && n->lead[i] >= 0) return path_steps(part, 1, leads[n->lead[i]], out, cx);
  return eval(part, in, out, cx);
}

}  // namespace

St eval(const Node* n, const Value& in, Value& out, Ctx& cx) {
  switch (n->op) {
    case Op::kIdentity:
      out = in;
      return St::kOk;
    case Op::kConst:
      out = n->constant;
      return St::kOk;
    case Op::kPath: {
      Value cur = in;
      if (!n->kids.empty()) {
        St s = eval(n->kids[0].get(), in, cur, cx);
        if (s != St::kOk) return s;
      }
      return path_steps(n, 0, cur, out, cx);
    }
    case Op::kIndex: {
      Value k, v;
      St s = eval(n->kids[1].get(), in, k, cx);
      if (s != St::kOk) return s;
      s = eval(n->kids[0].get(), in, v, cx);
      if (s != St::kOk) return s;
      s = index_dynamic(v, k, out, cx);
      // `T[e]?` covers the indexing only, as in jq: errors in T and e are errors.
      return s == St::kError && n->arity == 1 ? St::kEmpty : s;
    }
    case Op::kSlice: {
      Value v, from, to;
      St s;
      if (n->kids[2]) {
        s = eval(n->kids[2].get(), in, to, cx);
        if (s != St::kOk) return s;
      }
      if (n->kids[1]) {
        s = eval(n->kids[1].get(), in, from, cx);
        if (s != St::kOk) return s;
      }
      s = eval(n->kids[0].get(), in, v, cx);
      if (s != St::kOk) return s;
      s = slice(v, from, to, out, cx);
      return s == St::kError && n->arity == 1 ? St::kEmpty : s;  // `T[a:b]?`, as `T[e]?`
    }
    case Op::kTry: {
      St s = eval(n->kids[0].get(), in, out, cx);
      if (s != St::kError) return s;
      if (n->kids.size() < 2) return St::kEmpty;
      Value err;
      error_as_value(cx, err);
      return eval(n->kids[1].get(), err, out, cx);
    }
    case Op::kPipe: {
      Value mid;
      St s = eval(n->kids[0].get(), in, mid, cx);
      if (s != St::kOk) return s;
      return eval(n->kids[1].get(), mid, out, cx);
    }
    case Op::kArray: {
      if (n->kids.empty()) {
        out = Value::array(nullptr, 0);
        return St::kOk;
      }
      ArenaVec<Value> items(cx.arena);
      St s = collect(n->kids[0].get(), in, items, cx);
      if (s != St::kOk) return s;
      out = Value::array(items.data(), items.size());
      return St::kOk;
    }
    case Op::kObject: {
      auto count = static_cast<std::uint32_t>(n->entries.size());
      Member* members = cx.arena.alloc_array<Member>(count);
      std::uint32_t used = 0;
      const Value* leads = find_leads(n, in, cx);
      for (std::size_t i = 0; i < n->entries.size(); ++i) {
        const ObjectEntry& e = n->entries[i];
        std::string_view key = e.key;
        if (e.key_node) {
          Value k;
          St s = eval(e.key_node.get(), in, k, cx);
          if (s != St::kOk) return s;
          if (!k.is_string()) {
            std::string& m = cx.s.message;
            m.assign("Cannot use ");
            append_kind_and_value(k, m, cx.s.buffer);
            m.append(" as object key");
            return message_error(cx.s);
          }
          key = k.string_value();
        }
        Value v;
        St s = eval_part(n, i, e.value.get(), leads, in, v, cx);
        if (s != St::kOk) return s;
        bool replaced = false;
        if (!n->keys_distinct_constant) {
          for (std::uint32_t i = 0; i < used; ++i) {
            if (members[i].key == key) {
              members[i].value = v;
              replaced = true;
              break;
            }
          }
        }
        if (!replaced) members[used++] = Member{key, v};
      }
      out = Value::object(members, used);
      return St::kOk;
    }
    case Op::kNeg: {
      Value v;
      St s = eval(n->kids[0].get(), in, v, cx);
      if (s != St::kOk) return s;
      return negate(v, out, cx);
    }
    case Op::kAnd:
    case Op::kOr: {
      Value a;
      St s = eval(n->kids[0].get(), in, a, cx);
      if (s != St::kOk) return s;
      bool is_and = n->op == Op::kAnd;
      if (a.truthy() != is_and) {  // and: false short-circuits; or: true does
        out = Value::boolean(!is_and);
        return St::kOk;
      }
      Value b;
      s = eval(n->kids[1].get(), in, b, cx);
      if (s != St::kOk) return s;
      out = Value::boolean(b.truthy());
      return St::kOk;
    }
    case Op::kAlt: {
      // As jq 1.6: null, false and empty on the left fall through to the right; an error on the
      // left is an error (write `.a.b? // 2` to default over it).
      St s = eval(n->kids[0].get(), in, out, cx);
      if (s == St::kError) return s;
      if (s == St::kOk && out.truthy()) return St::kOk;
      return eval(n->kids[1].get(), in, out, cx);
    }
    case Op::kIf: {
      std::size_t i = 0;
      for (; i + 1 < n->kids.size(); i += 2) {
        Value c;
        St s = eval(n->kids[i].get(), in, c, cx);
        if (s != St::kOk) return s;
        if (c.truthy()) return eval(n->kids[i + 1].get(), in, out, cx);
      }
      if (i < n->kids.size()) return eval(n->kids[i].get(), in, out, cx);
      out = in;
      return St::kOk;
    }
    case Op::kBinary: {
      // jq evaluates the right operand first; that decides which error wins when both fail.
      const Node* right = n->kids[1].get();
      Value b;
      if (right->op == Op::kConst) {
        b = right->constant;
      } else {
        St s = eval(right, in, b, cx);
        if (s != St::kOk) return s;
      }
      Value a;
      St s = eval(n->kids[0].get(), in, a, cx);
      if (s != St::kOk) return s;
      if (fast_compare(n->binop, a, b, out)) return St::kOk;
      return binary_op(n->binop, a, b, out, cx);
    }
    case Op::kCall:
      return call_builtin(n, in, out, cx);
    case Op::kInterp: {
      // Each value as tostring gives it (a string as it is, anything else as JSON). jq runs
      // the last interpolation first: its error is the one reported.
      const std::size_t k = n->kids.size();
      Value* parts = cx.arena.alloc_array<Value>(k);
      std::size_t total = 0;
      for (const std::string& t : n->texts) total += t.size();
      const Value* leads = find_leads(n, in, cx);
      for (std::size_t i = k; i-- > 0;) {
        St s = eval_part(n, i, n->kids[i].get(), leads, in, parts[i], cx);
        if (s != St::kOk) return s;
        if (!parts[i].is_string()) parts[i] = tojson_value(parts[i], cx);
        total += parts[i].string_value().size();
      }
      char* text = cx.arena.alloc_chars(total);
      char* w = text;
      for (std::size_t i = 0; i <= k; ++i) {
        const std::string& t = n->texts[i];
        if (!t.empty()) std::memcpy(w, t.data(), t.size());
        w += t.size();
        if (i == k) break;
        std::string_view v = parts[i].string_value();
        if (!v.empty()) std::memcpy(w, v.data(), v.size());
        w += v.size();
      }
      out = Value::string({text, total});
      return St::kOk;
    }
    case Op::kVar:
      out = cx.vars[n->slot];
      return St::kOk;
    case Op::kReduce: {
      // jq: an UPDATE that gives no value makes the state null, and the reduction goes on.
      St s = eval(n->kids[1].get(), in, out, cx);
      if (s != St::kOk) return s;
      ArenaVec<Value> items(cx.arena);
      s = collect(n->kids[0].get(), in, items, cx);
      if (s != St::kOk) return s;
      const Node* update = n->kids[2].get();
      for (std::uint32_t i = 0; i < items.size(); ++i) {
        cx.vars[n->slot] = items[i];
        Value next;
        s = eval(update, out, next, cx);
        if (s == St::kError) return s;
        out = s == St::kOk ? next : Value::null();
      }
      return St::kOk;
    }
    case Op::kIterate:
    case Op::kComma:
      return fail(cx, "internal error: generator in a single-valued position");
  }
  return St::kOk;
}

St collect(const Node* n, const Value& in, ArenaVec<Value>& out, Ctx& cx) {
  switch (n->op) {
    case Op::kComma:
      for (const auto& kid : n->kids) {
        St s = collect(kid.get(), in, out, cx);
        if (s != St::kOk) return s;
      }
      return St::kOk;
    case Op::kIterate: {
      Value v;
      St s = eval(n->kids[0].get(), in, v, cx);
      bool optional = n->arity == 1;  // `[]?` covers the iteration only, as in jq
      if (s != St::kOk) return s == St::kEmpty ? St::kOk : s;
      if (!v.is_array() && !v.is_object()) {
        if (optional) return St::kOk;
        std::string& m = cx.s.message;
        m.assign("Cannot iterate over ");
        append_kind_and_value(v, m, cx.s.buffer);
        return message_error(cx.s);
      }
      for_each_item(v, [&](const Value& x) {
        out.push_back(x);
        return true;
      });
      return St::kOk;
    }
    case Op::kPipe: {
      const Node* left = n->kids[0].get();
      const Node* right = n->kids[1].get();
      if (is_generator(left)) {
        ArenaVec<Value> mids(cx.arena);
        St s = collect(left, in, mids, cx);
        if (s != St::kOk) return s;
        for (std::uint32_t i = 0; i < mids.size(); ++i) {
          s = collect(right, mids[i], out, cx);
          if (s != St::kOk) return s;
        }
        return St::kOk;
      }
      Value mid;
      St s = eval(left, in, mid, cx);
      if (s == St::kEmpty) return St::kOk;
      if (s != St::kOk) return s;
      return collect(right, mid, out, cx);
    }
    default: {
      Value v;
      St s = eval(n, in, v, cx);
      if (s == St::kOk) out.push_back(v);
      return s == St::kEmpty ? St::kOk : s;
    }
  }
}

// -------------------------------------------------------------------------------------------
// Public evaluation API.

Scratch::Scratch() : state_(std::make_unique<ScratchState>()) {}
Scratch::~Scratch() = default;

namespace {

// The evaluation context of a run of `program`, its variables' frame in the (reset) arena.
Ctx fresh_ctx(const Program& program, ScratchState& s) {
  s.arena.reset();
  return Ctx{s, s.arena, program.var_slots ? s.arena.alloc_array<Value>(program.var_slots) : nullptr};
}

// A fast generator's values, in the scratch arena (on an error, those before it).
St collect_all(const Program& program, const Value& input, ScratchState& s, std::span<const Value>& values) {
  Ctx cx = fresh_ctx(program, s);
  ArenaVec<Value> out(s.arena);
  St st = collect(program.root.get(), input, out, cx);
  values = std::span<const Value>(out.data(), out.size());
  return st;
}

}  // namespace

Result evaluate_value(const Program& program, const Value& input, Scratch& scratch) {
  ScratchState& s = scratch.state();
  Result r;
  if (program.multi) {
    // One value is expected here (agg keys, uniq keys): none is empty, several an error, as
    // evaluate_general() says.
    std::span<const Value> values;
    if (collect_all(program, input, s, values) == St::kError) {
      r.outcome = Outcome::kError;
    } else if (values.size() > 1) {
      r.outcome = several_values(s, values.size());
    } else if (values.size() == 1) {
      r.outcome = Outcome::kValue;
      r.value = values[0];
    }
    return r;
  }
  if (program.general) {
    s.arena.reset();
    return evaluate_general(program, input, s);
  }
  Ctx cx = fresh_ctx(program, s);
  St st = eval(program.root.get(), input, r.value, cx);
  r.outcome = st == St::kOk ? Outcome::kValue : (st == St::kEmpty ? Outcome::kEmpty : Outcome::kError);
  return r;
}

Outcome evaluate_all(const Program& program, simdjson::dom::element input, Scratch& scratch,
                     std::span<const Value>& values) {
  return evaluate_all_value(program, Value::from_dom(input), scratch, values);
}

Outcome evaluate_all_value(const Program& program, const Value& input, Scratch& scratch,
                           std::span<const Value>& values) {
  ScratchState& s = scratch.state();
  if (!program.multi) {
    // (the single-valued form as a list of at most one, kept in the scratch arena)
    Result r = evaluate_value(program, input, scratch);
    values = {};
    if (r.outcome == Outcome::kValue) {
      Value* one = s.arena.alloc_array<Value>(1);
      *one = r.value;
      values = std::span<const Value>(one, 1);
    }
    return r.outcome;
  }
  St st = collect_all(program, input, s, values);
  if (st == St::kError) return Outcome::kError;
  return values.empty() ? Outcome::kEmpty : Outcome::kValue;
}

Result evaluate(const Program& program, simdjson::dom::element input, Scratch& scratch) {
  return evaluate_value(program, Value::from_dom(input), scratch);
}

std::string_view error_message(const Scratch& scratch) { return scratch.state().message; }

int compare(const Value& a, const Value& b, Scratch& scratch) {
  Arena& arena = scratch.state().arena;
  arena.reset();
  return compare(a, b, arena);
}

std::string_view leading_key(const Program& program) {
  const Node* n = program.root.get();
  if (!n || n->op != Op::kPath || !n->kids.empty() || n->steps.empty() || n->steps[0].is_index) return {};
  return n->steps[0].key;
}

MemberKeys::MemberKeys(std::vector<std::string_view> k) : keys(std::move(k)) {
  if (keys.size() > kMaxMembers) keys.resize(kMaxMembers);
  for (std::size_t j = 0; j < keys.size(); ++j) {
    by_length[std::min(keys[j].size(), kLengths - 1)] |= static_cast<std::uint16_t>(1u << j);
    const std::size_t n = std::min<std::size_t>(keys[j].size(), 8);
    std::memcpy(&head[j], keys[j].data(), n);
    head_mask[j] = n == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;  // little-endian
    if (keys[j].size() > 8 && keys[j].size() <= 16) std::memcpy(&tail[j], keys[j].data() + keys[j].size() - 8, 8);
  }
}

bool lookup_members(simdjson::dom::element input, const MemberKeys& keys, Value* outs) {
  if (!input.is_object()) return false;
  tape::lookup_many(tape::ref_of(input), keys, outs);
  return true;
}

bool is_single_field(const Program& program) {
  const Node* n = program.root.get();
  return !leading_key(program).empty() && n->steps.size() == 1;
}

Result evaluate_from_member(const Program& program, const Value& member, Scratch& scratch) {
  ScratchState& s = scratch.state();
  if (program.general) {  // (never: leading_key() is empty for general programs)
    s.arena.reset();
    return evaluate_general(program, member, s);
  }
  Ctx cx = fresh_ctx(program, s);
  const Node* n = program.root.get();
  Result r;
  St st = path_steps(n, 1, member, r.value, cx);
  r.outcome = st == St::kOk ? Outcome::kValue : (st == St::kEmpty ? Outcome::kEmpty : Outcome::kError);
  return r;
}

bool is_multi(const Program& program) { return program.multi; }

bool is_identity(const Program& program) { return program.root && program.root->op == Op::kIdentity; }

std::string_view source_text(const Program& program) { return program.source; }

}  // namespace ppipe::expr
