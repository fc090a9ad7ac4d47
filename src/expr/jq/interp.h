// The general engine's evaluator (src/expr/jq): generators as callbacks, errors as exceptions.
//
//   eval(n, in, env, out)      calls out(v) for every output of n on input `in`, in jq's order
//   paths(n, p, in, env, out)  the same in path mode (path(f), assignment, del): out(path, value)
//
// An error is a thrown Error (jq's error value); `break $label` and limit/first stop a generator
// with a thrown Stop. A try/?/`//` must not catch an error raised after its body has produced a
// value (in the consumer, downstream): those pass through it wrapped (see guard_out in eval.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "src/expr/jq/ast.h"
#include "src/expr/jq/value.h"

namespace ppipe::expr::jq {

// A non-owning reference to a callable (the callables are lambdas on the caller's stack).
template <class Sig>
class FnRef;
template <class R, class... A>
class FnRef<R(A...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FnRef>>>
  FnRef(F&& f) : obj_(const_cast<void*>(static_cast<const void*>(&f))),  // NOLINT: implicit on purpose
                 call_([](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...); }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

using Out = FnRef<void(const J&)>;
using PathOut = FnRef<void(const J& path, const J& value)>;

struct Stop {
  std::uint64_t label;
};
// The run is stopping while a loop of one record still runs (src/util/interrupt.h): not a jq
// error (try does not catch it); run() makes it the record's error.
struct Interrupted {};
// Every 4096 steps of such a loop: throws Interrupted when the run is stopping.
void poll_interrupt(std::uint64_t& steps);

// An error raised downstream of a try body, passing through it (eval.cpp: guard_out).
struct Passing {
  std::uint64_t owner;
  J value;
};

[[noreturn]] void fail(std::string message);

struct Frame;
using Env = std::shared_ptr<const Frame>;
struct Frame {
  enum Kind : std::uint8_t { kVar, kFunc, kClosure, kLabel };
  Env parent;
  Kind kind = kVar;
  const std::string* name = nullptr;
  std::size_t arity = 0;
  J value;                        // kVar
  const FuncDef* def = nullptr;   // kFunc
  const Node* body = nullptr;     // kClosure: body in env
  Env env;
  std::uint64_t label = 0;        // kLabel
};

class Interp;

// A builtin written in C++. `fn` gets the call node (its kids are the argument closures, to be
// evaluated in `env`); `path` (optional) is its path mode.
class Native {
 public:
  const char* name;
  std::size_t arity;
  void (*fn)(Interp&, const Node& call, const J& in, const Env& env, Out out);
  void (*path)(Interp&, const Node& call, const J& p, const J& in, const Env& env, PathOut out) = nullptr;
};

const Native* find_native(const std::string& name, std::size_t arity);
// The natives' names, as name/arity (for `builtins`).
void native_names(std::vector<std::string>& out);
// The prelude: builtins written in jq (builtins.cpp), parsed and resolved once.
const FuncDef* find_prelude(const std::string& name, std::size_t arity);
void prelude_names(std::vector<std::string>& out);

// What a run sees besides its input: --arg/--argjson variables, $ENV, the record's position.
struct RunContext {
  J named_args = J::object();  // $ARGS.named; each also a variable
  const std::string* filename = nullptr;
  std::uint64_t line = 0;
};

class Interp {
 public:
  explicit Interp(const RunContext& ctx) : ctx_(ctx) {}

  void eval(const Node* n, const J& in, const Env& env, Out out);
  void paths(const Node* n, const J& path, const J& in, const Env& env, PathOut out);
  // The first output of n, or false when there is none.
  bool first(const Node* n, const J& in, const Env& env, J& result);
  std::uint64_t new_label() { return ++labels_; }
  const RunContext& context() const { return ctx_; }

  // Calls a user or prelude function (body in a fresh env with the argument closures).
  void call_def(const FuncDef& def, const Env& def_env, const Node& call, const J& in, const Env& env, Out out);
  void call_def_paths(const FuncDef& def, const Env& def_env, const Node& call, const J& p, const J& in,
                      const Env& env, PathOut out);

  // Recursion guard: set at the start of a run.
  void set_stack_limit(const char* base, std::size_t bytes) {
    stack_base_ = base;
    stack_bytes_ = bytes;
  }
  void check_stack() const {
    char here;
    if (stack_base_ && static_cast<std::size_t>(stack_base_ - &here) > stack_bytes_)
      fail("expression recursion too deep (the stack limit was reached)");
  }

 private:
  void call(const Node* n, const J& in, const Env& env, Out out);
  void bind_params(const FuncDef& def, const Node& call, const J& in, const Env& env, const Env& e,
                   FnRef<void(const Env&)> k);
  void bind(const Pattern& p, const J& value, const J& in, const Env& env, FnRef<void(const Env&)> k);
  const RunContext& ctx_;
  // reduce's and foreach's state, given to their update: it may be taken (moved from), as
  // nothing reads it after. Only the node eval() is called with it sees it (eval clears it), and
  // only `. + E` and assignments take it, so that their change is in place when nothing else
  // shares the value (jq's reduce builds an array or an object in linear time; copying the state
  // at each step made it quadratic).
  const J* given_ = nullptr;
  std::uint64_t labels_ = 0;
  const char* stack_base_ = nullptr;
  std::size_t stack_bytes_ = 0;
};

// The value of an expression that gives at most one (Node::single); false when it gives none.
// Evaluating an operand to its value returns from it before the next one runs, where passing a
// callback runs the next one inside it: with a recursive function on both sides of `+`, the
// stack then grew with the calls made (fib 15 was too deep), not with the recursion's depth.
bool value_of(Interp& I, const Node* n, const J& in, const Env& env, J& result);

// Value operations shared by the evaluator and the builtins (ops.cpp).
J index_value(const J& t, const J& k);     // .[k], jq's rules (null for null targets)
J field(const J& t, const std::string& name);
J slice_value(const J& t, const J& from, const J& to);
J binary(Bin op, const J& a, const J& b);
// a + b where a is ours to change: arrays, objects and strings are appended to in place when
// nothing else shares them. The same value as binary(Bin::kAdd, a, b).
J add_in_place(J a, const J& b);
J negate(const J& a);
J getpath(const J& t, const J& path);
J setpath(J t, const J& path, std::size_t i, const J& v);
J delpaths(J t, const J& paths);
// jq's order for sorting: as compare(), with nan equal to nan (compare() puts nan below it).
int sort_compare(const J& a, const J& b);
std::string tostring(const J& v);
[[noreturn]] void type_error(const J& v, const std::string& what);  // "T (v) WHAT"
std::size_t codepoints(const std::string& s);
std::string format_value(const std::string& fmt, const J& v);  // @base64 etc.
void check_format(const std::string& fmt);                      // an unknown @name fails
J env_object();
// "Invalid path expression with result V": a path expression gave a value that is not a path.
[[noreturn]] void invalid_path(const J& v);

}  // namespace ppipe::expr::jq
