#include <cmath>
#include <vector>

#include "src/expr/jq/interp.h"

namespace ppipe::expr::jq {

void fail(std::string message) { throw Error{J::string(std::move(message))}; }

namespace {

std::uint64_t next_owner() {
  thread_local std::uint64_t n = 0;
  return ++n;
}

Env push_var(const Env& env, const std::string& name, J value) {
  auto f = std::make_shared<Frame>();
  f->parent = env;
  f->kind = Frame::kVar;
  f->name = &name;
  f->value = std::move(value);
  return f;
}

const Frame* find_var(const Env& env, const std::string& name) {
  for (const Frame* f = env.get(); f; f = f->parent.get())
    if (f->kind == Frame::kVar && *f->name == name) return f;
  return nullptr;
}

}  // namespace

[[noreturn]] void invalid_path(const J& v) {
  std::string text = to_json(v);
  if (text.size() > 29) text = text.substr(0, 26) + "...";
  fail("Invalid path expression with result " + text);
}

namespace {

std::string trunc_json(const J& v) {
  std::string text = to_json(v);
  if (text.size() > 29) text = text.substr(0, 26) + "...";
  return text;
}

// A path-mode step on a value that is not a path (e.g. the result of map(...)): jq's error.
void check_path(const J& p, const J& v, const J* key) {
  if (!p.is_null()) return;
  if (key) fail("Invalid path expression near attempt to access element " + trunc_json(*key) + " of " + trunc_json(v));
  fail("Invalid path expression near attempt to iterate through " + trunc_json(v));
}

// One step (.a, .[k], .[a:b]) of `node`: v = step(). When the node is optional (`T.a?`), an error
// of the step itself gives false (no output) instead.
template <class F>
bool optional_step(const Node* node, J& v, F step) {
  if (!node->opt) {
    v = step();
    return true;
  }
  try {
    v = step();
    return true;
  } catch (Error&) {
    return false;
  }
}

J append_path(const J& p, J key) {
  J r = p;
  r.mut_arr().push_back(std::move(key));
  return r;
}

// Runs `body`, catching errors raised by it but not those raised in `out` (downstream).
template <class Body, class Handler>
void guarded(Body&& body, Handler&& on_error) {
  std::uint64_t owner = next_owner();
  try {
    body(owner);
  } catch (Error& e) {
    on_error(e);
  } catch (Passing& p) {
    if (p.owner != owner) throw;
    throw Error{std::move(p.value)};
  }
}

}  // namespace

bool Interp::first(const Node* n, const J& in, const Env& env, J& result) {
  std::uint64_t label = new_label();
  bool got = false;
  try {
    eval(n, in, env, [&](const J& v) {
      result = v;
      got = true;
      throw Stop{label};
    });
  } catch (Stop& s) {
    if (s.label != label) throw;
  }
  return got;
}

bool value_of(Interp& I, const Node* n, const J& in, const Env& env, J& result) {
  bool got = false;
  I.eval(n, in, env, [&](const J& v) {
    result = v;
    got = true;
  });
  return got;
}

namespace {
// `. + A + B ...`: a chain of single additions whose leftmost operand is `.`.
bool leftmost_is_identity(const Node* n) {
  while (n->kind == NK::kBinary && n->op == Bin::kAdd && n->kid(0)->single && n->kid(1)->single) n = n->kid(0);
  return n->kind == NK::kIdentity;
}
}  // namespace

void Interp::eval(const Node* n, const J& in, const Env& env, Out out) {
  // `in` may be taken (moved from) when it is reduce's state, given for this call only.
  const bool ours = given_ == &in;
  given_ = nullptr;
  check_stack();
  switch (n->kind) {
    case NK::kIdentity: out(in); return;
    case NK::kRecurseAll: {
      // def recurse: def r: ., (.[]? | r); r;
      struct Rec {
        Interp& self;
        Out out;
        void go(const J& v) {
          self.check_stack();
          out(v);
          if (v.is_array()) {
            J keep = v;
            for (const J& x : keep.arr()) go(x);
          } else if (v.is_object()) {
            J keep = v;
            for (const auto& kv : keep.obj().m) go(kv.second);
          }
        }
      } r{*this, out};
      r.go(in);
      return;
    }
    case NK::kField:
      eval(n->kid(0), in, env, [&](const J& t) {
        J v;
        if (!optional_step(n, v, [&] { return field(t, n->name); })) return;
        out(v);
      });
      return;
    case NK::kIndex:
      // the index is evaluated against the input (outer loop), then the target
      eval(n->kid(1), in, env, [&](const J& k) {
        eval(n->kid(0), in, env, [&](const J& t) {
          J v;
          if (!optional_step(n, v, [&] { return index_value(t, k); })) return;
          out(v);
        });
      });
      return;
    case NK::kSlice: {
      auto with_to = [&](const J& from) {
        auto go = [&](const J& to) {
          eval(n->kid(0), in, env, [&](const J& t) {
            J v;
            if (!optional_step(n, v, [&] { return slice_value(t, from, to); })) return;
            out(v);
          });
        };
        if (n->kid(2)) eval(n->kid(2), in, env, go);
        else go(J::null());
      };
      if (n->kid(1)) eval(n->kid(1), in, env, with_to);
      else with_to(J::null());
      return;
    }
    case NK::kIterate:
      eval(n->kid(0), in, env, [&](const J& t) {
        if (t.is_array()) {
          J keep = t;
          for (const J& x : keep.arr()) out(x);
        } else if (t.is_object()) {
          J keep = t;
          for (const auto& kv : keep.obj().m) out(kv.second);
        } else if (!n->opt) {
          fail("Cannot iterate over " + kind_and_value(t));  // jq 1.6: "null (null)", as the fast path
        }
      });
      return;
    case NK::kLiteral: out(n->value); return;
    case NK::kPipe:
      eval(n->kid(0), in, env, [&](const J& v) { eval(n->kid(1), v, env, out); });
      return;
    case NK::kComma:
      eval(n->kid(0), in, env, out);
      eval(n->kid(1), in, env, out);
      return;
    case NK::kNeg: eval(n->kid(0), in, env, [&](const J& v) { out(negate(v)); }); return;
    case NK::kBinary:
      if (n->kid(0)->single && n->kid(1)->single) {  // (jq's order: the right side first)
        J a, b;
        if (!value_of(*this, n->kid(1), in, env, b)) return;
        if (ours && n->op == Bin::kAdd && n->kid(0)->kind == NK::kIdentity) {
          out(add_in_place(std::move(const_cast<J&>(in)), b));  // `. + E` on reduce's state: in place
        } else if (ours && n->op == Bin::kAdd && leftmost_is_identity(n->kid(0))) {
          // `. + A + B` (`(. + A) + B`): the left side gets the state (in place), then B is added
          // to its result in place too (it copied the growing string at every step).
          given_ = &in;
          if (value_of(*this, n->kid(0), in, env, a)) out(add_in_place(std::move(a), b));
        } else if (value_of(*this, n->kid(0), in, env, a)) {
          out(binary(n->op, a, b));
        }
        return;
      }
      eval(n->kid(1), in, env, [&](const J& b) { eval(n->kid(0), in, env, [&](const J& a) { out(binary(n->op, a, b)); }); });
      return;
    case NK::kAnd:
    case NK::kOr: {
      bool is_and = n->kind == NK::kAnd;
      eval(n->kid(0), in, env, [&](const J& a) {
        if (is_and ? !a.truthy() : a.truthy()) {
          out(J::boolean(!is_and));
          return;
        }
        eval(n->kid(1), in, env, [&](const J& b) { out(J::boolean(b.truthy())); });
      });
      return;
    }
    case NK::kAlt: {
      // An error in the left side is an error (jq 1.6 and 1.7: `[[1]] | join(",")` fails although
      // join ends in `// ""`); `.a? // d` defaults over it with a `?`.
      bool any = false;
      eval(n->kid(0), in, env, [&](const J& v) {
        if (!v.truthy()) return;
        any = true;
        out(v);
      });
      if (!any) eval(n->kid(1), in, env, out);
      return;
    }
    case NK::kIf: {
      struct If {
        Interp& self;
        const Node* n;
        const Env& env;
        Out out;
        void at(std::size_t i, const J& in) {
          if (i + 1 >= n->kids.size()) {  // else branch, or identity
            if (i < n->kids.size()) self.eval(n->kid(i), in, env, out);
            else out(in);
            return;
          }
          self.eval(n->kid(i), in, env, [&](const J& c) {
            if (c.truthy()) self.eval(n->kid(i + 1), in, env, out);
            else at(i + 2, in);
          });
        }
      } f{*this, n, env, out};
      f.at(0, in);
      return;
    }
    case NK::kTry: {
      const Node* handler = n->kid(1);
      J caught;
      bool have = false;
      guarded(
          [&](std::uint64_t owner) {
            eval(n->kid(0), in, env, [&](const J& v) {
              try {
                out(v);
              } catch (Error& e) {
                throw Passing{owner, std::move(e.value)};
              }
            });
          },
          [&](Error& e) {
            // error(null) caught: jq 1.7 gives null to the handler
            caught = std::move(e.value);
            have = true;
          });
      if (have && handler) eval(handler, caught, env, out);
      return;
    }
    case NK::kReduce: {
      const Pattern& pat = n->patterns[0];
      eval(n->kid(1), in, env, [&](const J& init) {
        J acc = init;
        bool has = true;
        eval(n->kid(0), in, env, [&](const J& item) {
          bind(pat, item, in, env, [&](const Env& e2) {
            J cur = has ? std::move(acc) : J::null();
            acc = J::null();
            has = false;
            given_ = &cur;
            eval(n->kid(2), cur, e2, [&](const J& v) {
              acc = v;
              has = true;
            });
          });
        });
        out(has ? acc : J::null());
      });
      return;
    }
    case NK::kForeach: {
      const Pattern& pat = n->patterns[0];
      eval(n->kid(1), in, env, [&](const J& init) {
        J acc = init;
        eval(n->kid(0), in, env, [&](const J& item) {
          bind(pat, item, in, env, [&](const Env& e2) {
            // jq loads the state with LOADVN (taking it): an item whose update is empty leaves
            // null for the next one, as in reduce
            J cur = std::move(acc);
            acc = J::null();
            given_ = &cur;
            eval(n->kid(2), cur, e2, [&](const J& v) {
              acc = v;
              if (n->kid(3)) eval(n->kid(3), v, e2, out);
              else out(v);
            });
          });
        });
      });
      return;
    }
    case NK::kDef: {
      auto f = std::make_shared<Frame>();
      f->parent = env;
      f->kind = Frame::kFunc;
      f->name = &n->def->name;
      f->arity = n->def->params.size();
      f->def = n->def.get();
      eval(n->kid(0), in, Env(std::move(f)), out);
      return;
    }
    case NK::kCall: call(n, in, env, out); return;
    case NK::kVar: {
      if (const Frame* f = find_var(env, n->name)) {
        out(f->value);
        return;
      }
      if (n->name == "ENV") {
        out(env_object());
        return;
      }
      if (n->name == "ARGS") {
        J args = J::object();
        args.mut_obj().set("positional", J::array());
        args.mut_obj().set("named", ctx_.named_args);
        out(args);
        return;
      }
      if (const J* v = ctx_.named_args.obj().find(n->name)) {
        out(*v);
        return;
      }
      fail("$" + n->name + " is not defined");
    }
    case NK::kAs: {
      const std::size_t alts = n->patterns.size();
      eval(n->kid(0), in, env, [&](const J& v) {
        if (alts == 1) {
          bind(n->patterns[0], v, in, env, [&](const Env& e2) { eval(n->kid(1), in, e2, out); });
          return;
        }
        // ?// : every variable of every alternative is bound (null when not in this one); an
        // error in an alternative (its binding or its body) moves on to the next one.
        Env base = env;
        std::vector<const std::string*> names;
        struct Collect {
          static void go(const Pattern& p, std::vector<const std::string*>& out) {
            if (p.kind == Pattern::kVar) out.push_back(&p.var);
            for (const Pattern& e : p.elems) go(e, out);
            for (const auto& e : p.entries) {
              if (!e.var.empty()) out.push_back(&e.var);
              if (e.value) go(*e.value, out);
            }
          }
        };
        for (const Pattern& p : n->patterns) Collect::go(p, names);
        for (const std::string* name : names) base = push_var(base, *name, J::null());
        for (std::size_t i = 0; i < alts; ++i) {
          bool failed = false;
          J err;
          guarded(
              [&](std::uint64_t owner) {
                bind(n->patterns[i], v, in, base, [&](const Env& e2) {
                  eval(n->kid(1), in, e2, [&](const J& r) {
                    try {
                      out(r);
                    } catch (Error& e) {
                      throw Passing{owner, std::move(e.value)};
                    }
                  });
                });
              },
              [&](Error& e) {
                failed = true;
                err = std::move(e.value);
              });
          if (!failed) return;
          if (i + 1 == alts) throw Error{err};
        }
      });
      return;
    }
    case NK::kLabel: {
      auto f = std::make_shared<Frame>();
      f->parent = env;
      f->kind = Frame::kLabel;
      f->name = &n->name;
      f->label = new_label();
      std::uint64_t id = f->label;
      try {
        eval(n->kid(0), in, Env(std::move(f)), out);
      } catch (Stop& s) {
        if (s.label != id) throw;
      }
      return;
    }
    case NK::kBreak: {
      for (const Frame* f = env.get(); f; f = f->parent.get())
        if (f->kind == Frame::kLabel && *f->name == n->name) throw Stop{f->label};
      fail("$*label-" + n->name + " is not defined");
    }
    case NK::kArray: {
      std::vector<J> items;
      if (n->kid(0)) eval(n->kid(0), in, env, [&](const J& v) { items.push_back(v); });
      out(J::array(std::move(items)));
      return;
    }
    case NK::kObject: {
      struct Obj {
        Interp& self;
        const Node* n;
        const J& in;
        const Env& env;
        Out out;
        void at(std::size_t i, const J& acc) {
          if (i == n->entries.size()) {
            out(acc);
            return;
          }
          const ObjEntry& e = n->entries[i];
          self.eval(e.key.get(), in, env, [&](const J& k) {
            if (!k.is_string()) {
              if (k.is_object() || k.is_array() || k.is_null() || k.is_number() || k.type() <= T::kTrue)
                fail("Object keys must be strings");
            }
            self.eval(e.value.get(), in, env, [&](const J& v) {
              J next = acc;
              next.mut_obj().set(k.str(), v);
              at(i + 1, next);
            });
          });
        }
      } o{*this, n, in, env, out};
      o.at(0, J::object());
      return;
    }
    case NK::kFormat: out(J::string(format_value(n->name, in))); return;
    case NK::kString: {
      // jq runs the last interpolation outermost: "\(1,2)-\(3,4)" gives 1-3, 2-3, 1-4, 2-4, and
      // the last one's error is the one reported.
      struct Str {
        Interp& self;
        const Node* n;
        const J& in;
        const Env& env;
        Out out;
        std::vector<std::string> text;  // each part's text for the values chosen so far
        void at(std::size_t i) {  // parts [i, end) are chosen
          if (i == 0) {
            std::string acc;
            for (const std::string& t : text) acc += t;
            out(J::string(acc));
            return;
          }
          const StrPart& p = n->parts[i - 1];
          if (!p.expr) {
            at(i - 1);
            return;
          }
          self.eval(p.expr.get(), in, env, [&](const J& v) {
            text[i - 1] = n->name == "text" ? tostring(v) : format_value(n->name, v);
            at(i - 1);
          });
        }
      } s{*this, n, in, env, out, {}};
      check_format(n->name);  // an unknown format is an error, even with no part to format
      s.text.resize(n->parts.size());
      for (std::size_t i = 0; i < n->parts.size(); ++i)
        if (!n->parts[i].expr) s.text[i] = n->parts[i].text;
      s.at(n->parts.size());
      return;
    }
    case NK::kAssign: {
      const Node* lhs = n->kid(0);
      const Node* rhs = n->kid(1);
      auto collect_paths = [&](const J& root) {
        std::vector<J> ps;
        paths(lhs, J::array(), root, env, [&](const J& p, const J& v) {
          if (p.is_null()) invalid_path(v);
          ps.push_back(p);
        });
        return ps;
      };
      // The paths are found on `in` before it changes; the changes go to `acc`, which is `in`
      // itself when it is reduce's state (ours: taken, changed in place) and a copy otherwise
      // (copied on its first change, setpath's argument moved so that later ones are in place).
      auto start = [&]() -> J { return ours ? std::move(const_cast<J&>(in)) : in; };
      if (n->assign == '|') {
        // jq 1.7: the first output of the update; a path whose update is empty is deleted
        std::vector<J> ps = collect_paths(in);
        J acc = start();
        std::vector<J> dels;
        for (const J& p : ps) {
          J old = getpath(acc, p), nv;
          // On reduce's state, an array, object or string member is taken out of it and given
          // to the update (`.a |= . + [$x]` appends in place); the member is there, so setting
          // it again (or deleting it) ends as it would have.
          const bool take = ours && (old.is_array() || old.is_object() || old.is_string());
          if (take) {
            acc = setpath(std::move(acc), p, 0, J::null());
            given_ = &old;
          }
          if (first(rhs, old, env, nv)) acc = setpath(std::move(acc), p, 0, nv);
          else dels.push_back(p);
        }
        if (!dels.empty()) acc = delpaths(acc, J::array(std::move(dels)));
        out(acc);
        return;
      }
      auto apply = [&](const J& v, J acc, const std::vector<J>& ps) {
        for (const J& p : ps) {
          if (n->assign == '=') {
            acc = setpath(std::move(acc), p, 0, v);
          } else if (n->assign == 'a') {
            J old = getpath(acc, p);
            acc = setpath(std::move(acc), p, 0, old.truthy() ? old : v);
          } else {
            static const std::pair<char, Bin> kOps[] = {{'+', Bin::kAdd}, {'-', Bin::kSub}, {'*', Bin::kMul},
                                                        {'/', Bin::kDiv}, {'%', Bin::kMod}};
            Bin op = Bin::kAdd;
            for (auto [c, b] : kOps)
              if (c == n->assign) op = b;
            J old = getpath(acc, p);
            J updated;
            if (ours && op == Bin::kAdd && (old.is_array() || old.is_object() || old.is_string())) {
              // (as for |= above: `.a += [$x]` on reduce's state appends in place)
              acc = setpath(std::move(acc), p, 0, J::null());
              updated = add_in_place(std::move(old), v);
            } else {
              updated = binary(op, old, v);
            }
            acc = setpath(std::move(acc), p, 0, updated);
          }
        }
        out(acc);
      };
      if (ours && rhs->single) {
        // One value at most: found first, then `in` taken (nothing reads it after).
        J v;
        if (!value_of(*this, rhs, in, env, v)) return;
        std::vector<J> ps = collect_paths(in);
        apply(v, start(), ps);
        return;
      }
      eval(rhs, in, env, [&](const J& v) { apply(v, in, collect_paths(in)); });
      return;
    }
  }
}

void Interp::bind(const Pattern& p, const J& value, const J& in, const Env& env, FnRef<void(const Env&)> k) {
  switch (p.kind) {
    case Pattern::kVar: k(push_var(env, p.var, value)); return;
    case Pattern::kArray: {
      if (!value.is_array() && !value.is_null()) fail("Cannot index " + std::string(type_name(value)) + " with number");
      struct Arr {
        Interp& self;
        const Pattern& p;
        const J& value;
        const J& in;
        FnRef<void(const Env&)> k;
        void at(std::size_t i, const Env& e) {
          if (i == p.elems.size()) {
            k(e);
            return;
          }
          self.bind(p.elems[i], index_value(value, J::number(static_cast<double>(i))), in, e,
                    [&](const Env& e2) { at(i + 1, e2); });
        }
      } a{*this, p, value, in, k};
      a.at(0, env);
      return;
    }
    case Pattern::kObject: {
      struct Obj {
        Interp& self;
        const Pattern& p;
        const J& value;
        const J& in;
        FnRef<void(const Env&)> k;
        void at(std::size_t i, const Env& e) {
          if (i == p.entries.size()) {
            k(e);
            return;
          }
          const Pattern::Entry& en = p.entries[i];
          auto with_key = [&](const J& key) {
            if (!key.is_string()) fail("Cannot index " + std::string(type_name(value)) + " with " + type_name(key));
            if (!value.is_object() && !value.is_null())
              fail("Cannot index " + std::string(type_name(value)) + " with \"" + key.str() + "\"");
            J member = index_value(value, key);
            Env e1 = en.var.empty() ? e : push_var(e, en.var, member);
            if (en.value) self.bind(*en.value, member, in, e1, [&](const Env& e2) { at(i + 1, e2); });
            else at(i + 1, e1);
          };
          if (!en.key) {
            with_key(J::string(en.var));
          } else {
            self.eval(en.key.get(), value, e, with_key);  // jq: against the value matched (DUP; subexp)
          }
        }
      } o{*this, p, value, in, k};
      o.at(0, env);
      return;
    }
  }
}

namespace {

// The definition's environment with each parameter bound to its argument, a closure over the
// caller's environment.
Env with_closures(const FuncDef& def, const Env& def_env, const Node& call, const Env& env) {
  Env e = def_env;
  for (std::size_t i = 0; i < def.params.size(); ++i) {
    auto f = std::make_shared<Frame>();
    f->parent = e;
    f->kind = Frame::kClosure;
    f->name = &def.params[i];
    f->body = call.kid(i);
    f->env = env;
    e = std::move(f);
  }
  return e;
}

}  // namespace

// Binds the $params of `def` (each to every value of its argument, the first one the outer
// loop) on top of `e`, and calls k with each resulting environment.
void Interp::bind_params(const FuncDef& def, const Node& call, const J& in, const Env& env, const Env& e,
                         FnRef<void(const Env&)> k) {
  struct Vars {
    Interp& self;
    const FuncDef& def;
    const Node& call;
    const J& in;
    const Env& env;
    FnRef<void(const Env&)> k;
    void at(std::size_t i, const Env& e) {
      while (i < def.params.size() && !def.param_is_var[i]) ++i;
      if (i == def.params.size()) {
        k(e);
        return;
      }
      self.eval(call.kid(i), in, env, [&](const J& v) { at(i + 1, push_var(e, def.params[i], v)); });
    }
  } v{*this, def, call, in, env, k};
  v.at(0, e);
}

void Interp::call_def(const FuncDef& def, const Env& def_env, const Node& call, const J& in, const Env& env,
                      Out out) {
  bind_params(def, call, in, env, with_closures(def, def_env, call, env),
              [&](const Env& e) { eval(def.body.get(), in, e, out); });
}

void Interp::call_def_paths(const FuncDef& def, const Env& def_env, const Node& call, const J& p, const J& in,
                            const Env& env, PathOut out) {
  bind_params(def, call, in, env, with_closures(def, def_env, call, env),
              [&](const Env& e) { paths(def.body.get(), p, in, e, out); });
}

void Interp::call(const Node* n, const J& in, const Env& env, Out out) {
  switch (n->call) {
    case CallKind::kNative: n->native->fn(*this, *n, in, env, out); return;
    case CallKind::kPrelude: call_def(*n->target, nullptr, *n, in, env, out); return;
    case CallKind::kDynamic: break;
  }
  const std::size_t arity = n->kids.size();
  for (const Frame* f = env.get(); f; f = f->parent.get()) {
    if (f->kind == Frame::kClosure && arity == 0 && *f->name == n->name) {
      eval(f->body, in, f->env, out);
      return;
    }
    if (f->kind == Frame::kFunc && f->arity == arity && *f->name == n->name) {
      // the body sees the function itself (recursion) and what was defined before it
      Env def_env;
      // find the shared_ptr owning f: walk again from env (frames are immutable)
      for (Env g = env; g; g = g->parent)
        if (g.get() == f) {
          def_env = g;
          break;
        }
      call_def(*f->def, def_env, *n, in, env, out);
      return;
    }
  }
  fail(n->name + "/" + std::to_string(arity) + " is not defined");
}

// ---------------------------------------------------------------- path mode

void Interp::paths(const Node* n, const J& p, const J& in, const Env& env, PathOut out) {
  check_stack();
  switch (n->kind) {
    case NK::kIdentity: out(p, in); return;
    case NK::kRecurseAll: {
      if (p.is_null()) check_path(p, in, nullptr);
      struct Rec {
        Interp& self;
        PathOut out;
        void go(const J& path, const J& v) {
          self.check_stack();
          out(path, v);
          if (v.is_array()) {
            J keep = v;
            for (std::size_t i = 0; i < keep.arr().size(); ++i)
              go(append_path(path, J::number(static_cast<double>(i))), keep.arr()[i]);
          } else if (v.is_object()) {
            J keep = v;
            for (const auto& kv : keep.obj().m) go(append_path(path, J::string(kv.first)), kv.second);
          }
        }
      } r{*this, out};
      r.go(p, in);
      return;
    }
    case NK::kField:
      paths(n->kid(0), p, in, env, [&](const J& tp, const J& t) {
        J key = J::string(n->name);
        check_path(tp, t, &key);
        J v;
        if (!optional_step(n, v, [&] { return field(t, n->name); })) return;
        out(append_path(tp, key), v);
      });
      return;
    case NK::kIndex:
      eval(n->kid(1), in, env, [&](const J& k) {
        paths(n->kid(0), p, in, env, [&](const J& tp, const J& t) {
          check_path(tp, t, &k);
          J v;
          if (!optional_step(n, v, [&] { return index_value(t, k); })) return;
          out(append_path(tp, k), v);
        });
      });
      return;
    case NK::kSlice: {
      auto with_to = [&](const J& from) {
        auto go = [&](const J& to) {
          paths(n->kid(0), p, in, env, [&](const J& tp, const J& t) {
            J key = J::object();
            key.mut_obj().set("start", from);
            key.mut_obj().set("end", to);
            check_path(tp, t, &key);
            J v;
            if (!optional_step(n, v, [&] { return slice_value(t, from, to); })) return;
            out(append_path(tp, key), v);
          });
        };
        if (n->kid(2)) eval(n->kid(2), in, env, go);
        else go(J::null());
      };
      if (n->kid(1)) eval(n->kid(1), in, env, with_to);
      else with_to(J::null());
      return;
    }
    case NK::kIterate:
      paths(n->kid(0), p, in, env, [&](const J& tp, const J& t) {
        check_path(tp, t, nullptr);
        if (t.is_array()) {
          J keep = t;
          for (std::size_t i = 0; i < keep.arr().size(); ++i)
            out(append_path(tp, J::number(static_cast<double>(i))), keep.arr()[i]);
        } else if (t.is_object()) {
          J keep = t;
          for (const auto& kv : keep.obj().m) out(append_path(tp, J::string(kv.first)), kv.second);
        } else if (!n->opt) {  // (null too: `.tags[] |= f` on a null .tags is jq's error; it did nothing)
          fail("Cannot iterate over " + kind_and_value(t));
        }
      });
      return;
    case NK::kPipe:
      paths(n->kid(0), p, in, env, [&](const J& tp, const J& t) { paths(n->kid(1), tp, t, env, out); });
      return;
    case NK::kComma:
      paths(n->kid(0), p, in, env, out);
      paths(n->kid(1), p, in, env, out);
      return;
    case NK::kIf: {
      struct If {
        Interp& self;
        const Node* n;
        const Env& env;
        const J& p;
        PathOut out;
        void at(std::size_t i, const J& in) {
          if (i + 1 >= n->kids.size()) {
            if (i < n->kids.size()) self.paths(n->kid(i), p, in, env, out);
            else out(p, in);
            return;
          }
          self.eval(n->kid(i), in, env, [&](const J& c) {
            if (c.truthy()) self.paths(n->kid(i + 1), p, in, env, out);
            else at(i + 2, in);
          });
        }
      } f{*this, n, env, p, out};
      f.at(0, in);
      return;
    }
    case NK::kAlt: {
      bool any = false;  // (errors of the left side are errors, as in eval)
      paths(n->kid(0), p, in, env, [&](const J& tp, const J& v) {
        if (!v.truthy()) return;
        any = true;
        out(tp, v);
      });
      if (!any) paths(n->kid(1), p, in, env, out);
      return;
    }
    case NK::kTry: {
      J caught;
      bool have = false;
      guarded(
          [&](std::uint64_t owner) {
            paths(n->kid(0), p, in, env, [&](const J& tp, const J& v) {
              try {
                out(tp, v);
              } catch (Error& e) {
                throw Passing{owner, std::move(e.value)};
              }
            });
          },
          [&](Error& e) {
            caught = std::move(e.value);
            have = true;
          });
      if (have && n->kid(1)) eval(n->kid(1), caught, env, [](const J&) { fail("Invalid path expression in catch"); });
      return;
    }
    case NK::kReduce: {
      const Pattern& pat = n->patterns[0];
      paths(n->kid(1), p, in, env, [&](const J& ip, const J& init) {
        J accp = ip, acc = init;
        bool has = true;
        eval(n->kid(0), in, env, [&](const J& item) {
          bind(pat, item, in, env, [&](const Env& e2) {
            J curp = accp, cur = acc;
            has = false;
            paths(n->kid(2), curp, cur, e2, [&](const J& np, const J& v) {
              accp = np;
              acc = v;
              has = true;
            });
          });
        });
        if (has) out(accp, acc);
      });
      return;
    }
    case NK::kForeach: {
      const Pattern& pat = n->patterns[0];
      paths(n->kid(1), p, in, env, [&](const J& ip, const J& init) {
        J accp = ip, acc = init;
        eval(n->kid(0), in, env, [&](const J& item) {
          bind(pat, item, in, env, [&](const Env& e2) {
            J curp = accp, cur = acc;
            paths(n->kid(2), curp, cur, e2, [&](const J& np, const J& v) {
              accp = np;
              acc = v;
              if (n->kid(3)) paths(n->kid(3), np, v, e2, out);
              else out(np, v);
            });
          });
        });
      });
      return;
    }
    case NK::kDef: {
      auto f = std::make_shared<Frame>();
      f->parent = env;
      f->kind = Frame::kFunc;
      f->name = &n->def->name;
      f->arity = n->def->params.size();
      f->def = n->def.get();
      paths(n->kid(0), p, in, Env(std::move(f)), out);
      return;
    }
    case NK::kCall: {
      switch (n->call) {
        case CallKind::kNative:
          if (!n->native->path) {
            eval(n, in, env, [&](const J& v) { out(J::null(), v); });
            return;
          }
          n->native->path(*this, *n, p, in, env, out);
          return;
        case CallKind::kPrelude: call_def_paths(*n->target, nullptr, *n, p, in, env, out); return;
        case CallKind::kDynamic: break;
      }
      const std::size_t arity = n->kids.size();
      for (const Frame* f = env.get(); f; f = f->parent.get()) {
        if (f->kind == Frame::kClosure && arity == 0 && *f->name == n->name) {
          paths(f->body, p, in, f->env, out);
          return;
        }
        if (f->kind == Frame::kFunc && f->arity == arity && *f->name == n->name) {
          Env def_env;
          for (Env g = env; g; g = g->parent)
            if (g.get() == f) {
              def_env = g;
              break;
            }
          call_def_paths(*f->def, def_env, *n, p, in, env, out);
          return;
        }
      }
      fail(n->name + "/" + std::to_string(arity) + " is not defined");
    }
    case NK::kAs: {
      eval(n->kid(0), in, env, [&](const J& v) {
        bind(n->patterns[0], v, in, env, [&](const Env& e2) { paths(n->kid(1), p, in, e2, out); });
      });
      return;
    }
    case NK::kLabel: {
      auto f = std::make_shared<Frame>();
      f->parent = env;
      f->kind = Frame::kLabel;
      f->name = &n->name;
      f->label = new_label();
      std::uint64_t id = f->label;
      try {
        paths(n->kid(0), p, in, Env(std::move(f)), out);
      } catch (Stop& s) {
        if (s.label != id) throw;
      }
      return;
    }
    case NK::kBreak: eval(n, in, env, [](const J&) {}); return;
    case NK::kLiteral:
      if (n->value.is_null()) {  // path(null) is [] as in jq (getpath(p) | null)
        out(p, J::null());
        return;
      }
      [[fallthrough]];
    default:
      eval(n, in, env, [&](const J& v) { out(J::null(), v); });  // not a path: checked by its consumer
      return;
  }
}

}  // namespace ppipe::expr::jq
