#include "src/expr/jq/jq.h"

#include <pthread.h>

#include <algorithm>

#include "src/util/interrupt.h"

namespace ppipe::expr::jq {

bool resolve_program(Node* root, ParseError& err, std::string* internal_error);

namespace {

bool check_vars(const Node* n, std::vector<const std::string*>& scope, const J& named, CompileFailure* error);

}  // namespace

std::shared_ptr<const Program> compile(std::string_view source, const J& named_args, CompileFailure* error) {
  ParseError perr;
  NodeP root = parse_program(source, perr);
  if (!root) {
    error->message = perr.message;
    error->pos = perr.pos;
    return nullptr;
  }
  std::string internal;
  if (!resolve_program(root.get(), perr, &internal)) {
    error->message = internal.empty() ? perr.message : internal;
    error->pos = perr.pos;
    return nullptr;
  }
  auto p = std::make_shared<Program>();
  p->source = std::string(source);
  p->root = std::move(root);
  p->named_args = named_args;
  std::vector<const std::string*> scope;
  if (!check_vars(p->root.get(), scope, named_args, error)) return nullptr;
  p->reads_fields_only = input_fields(p->root.get(), p->fields);
  return p;
}

namespace {

bool literal_keys_only(const Pattern& p) {
  for (const Pattern& e : p.elems)
    if (!literal_keys_only(e)) return false;
  for (const auto& e : p.entries) {
    if (e.key && e.key->kind != NK::kLiteral) return false;
    if (e.value && !literal_keys_only(*e.value)) return false;
  }
  return true;
}

void add_field(std::vector<std::string>& fields, const std::string& name) {
  if (std::find(fields.begin(), fields.end(), name) == fields.end()) fields.push_back(name);
}

// n runs on the program's input (the record). Only nodes that do can see it: every other node's
// input is a value computed from it, and variables can hold the record only through `. as $x`,
// which is `.` on the input. Calls are refused whole (a function's body sees its caller's input).
bool record_fields(const Node* n, std::vector<std::string>& fields) {
  if (!n) return true;
  auto all = [&](std::size_t from) {
    for (std::size_t i = from; i < n->kids.size(); ++i)
      if (!record_fields(n->kid(i), fields)) return false;
    return true;
  };
  const Node* target = n->kid(0);
  const bool on_input = target && target->kind == NK::kIdentity;
  switch (n->kind) {
    case NK::kLiteral:
    case NK::kVar:
    case NK::kBreak: return true;
    case NK::kField:
      if (on_input) {
        add_field(fields, n->name);
        return true;
      }
      return record_fields(target, fields);
    case NK::kIndex:
      if (on_input) {
        const Node* k = n->kid(1);
        if (!k || k->kind != NK::kLiteral || !k->value.is_string()) return false;
        add_field(fields, k->value.str());
        return true;
      }
      return all(0);
    case NK::kSlice:
    case NK::kIterate: return !on_input && all(0);
    case NK::kPipe: return record_fields(n->kid(0), fields);  // the right side sees the left's outputs
    case NK::kTry: return record_fields(n->kid(0), fields);   // the catch sees the error
    case NK::kReduce:
    case NK::kForeach:  // source and init see the input; the update and extract see the state
      return literal_keys_only(n->patterns[0]) && record_fields(n->kid(0), fields) && record_fields(n->kid(1), fields);
    case NK::kAs:
      for (const Pattern& p : n->patterns)
        if (!literal_keys_only(p)) return false;
      return all(0);
    case NK::kIf: return n->kids.size() % 2 == 1 && all(0);  // without else, `.` is an output
    case NK::kDef: return record_fields(n->kid(0), fields);   // its body runs only where called
    case NK::kComma:
    case NK::kNeg:
    case NK::kBinary:
    case NK::kAnd:
    case NK::kOr:
    case NK::kAlt:
    case NK::kLabel:
    case NK::kArray: return all(0);
    case NK::kObject:
      for (const ObjEntry& e : n->entries)
        if (!e.key || !e.value || !record_fields(e.key.get(), fields) || !record_fields(e.value.get(), fields))
          return false;
      return true;
    case NK::kString:
      for (const StrPart& p : n->parts)
        if (p.expr && !record_fields(p.expr.get(), fields)) return false;
      return true;
    case NK::kIdentity:
    case NK::kRecurseAll:
    case NK::kFormat:
    case NK::kCall:
    case NK::kAssign: return false;
  }
  return false;
}

}  // namespace

bool input_fields(const Node* n, std::vector<std::string>& fields) {
  fields.clear();
  if (record_fields(n, fields)) return true;
  fields.clear();
  return false;
}

namespace {

void pattern_vars(const Pattern& p, std::vector<const std::string*>& out) {
  if (p.kind == Pattern::kVar) out.push_back(&p.var);
  for (const Pattern& e : p.elems) pattern_vars(e, out);
  for (const auto& e : p.entries) {
    if (!e.var.empty()) out.push_back(&e.var);
    if (e.value) pattern_vars(*e.value, out);
  }
}

bool check_pattern_keys(const Pattern& p, std::vector<const std::string*>& scope, const J& named, CompileFailure* error) {
  for (const Pattern& e : p.elems)
    if (!check_pattern_keys(e, scope, named, error)) return false;
  for (const auto& e : p.entries) {
    if (e.key && !check_vars(e.key.get(), scope, named, error)) return false;
    if (e.value && !check_pattern_keys(*e.value, scope, named, error)) return false;
  }
  return true;
}

// Every $name must be bound: by a pattern, a $param, --arg/--argjson, or $ENV / $ARGS.
bool check_vars(const Node* n, std::vector<const std::string*>& scope, const J& named, CompileFailure* error) {
  if (!n) return true;
  const std::size_t mark = scope.size();
  auto restore = [&] { scope.resize(mark); };
  switch (n->kind) {
    case NK::kVar: {
      for (const std::string* s : scope)
        if (*s == n->name) return true;
      if (n->name == "ENV" || n->name == "ARGS" || named.obj().find(n->name)) return true;
      error->message = "$" + n->name + " is not defined";
      error->pos = n->pos;
      return false;
    }
    case NK::kDef: {
      const FuncDef& d = *n->def;
      for (std::size_t i = 0; i < d.params.size(); ++i)
        if (d.param_is_var[i]) scope.push_back(&d.params[i]);
      bool ok = check_vars(d.body.get(), scope, named, error);
      restore();
      return ok && check_vars(n->kid(0), scope, named, error);
    }
    case NK::kAs: {
      if (!check_vars(n->kid(0), scope, named, error)) return false;
      for (const Pattern& p : n->patterns)
        if (!check_pattern_keys(p, scope, named, error)) return false;
      for (const Pattern& p : n->patterns) pattern_vars(p, scope);
      bool ok = check_vars(n->kid(1), scope, named, error);
      restore();
      return ok;
    }
    case NK::kReduce:
    case NK::kForeach: {
      if (!check_vars(n->kid(0), scope, named, error) || !check_vars(n->kid(1), scope, named, error)) return false;
      if (!check_pattern_keys(n->patterns[0], scope, named, error)) return false;
      pattern_vars(n->patterns[0], scope);
      bool ok = true;
      for (std::size_t i = 2; i < n->kids.size() && ok; ++i) ok = check_vars(n->kid(i), scope, named, error);
      restore();
      return ok;
    }
    default: break;
  }
  for (const auto& k : n->kids)
    if (!check_vars(k.get(), scope, named, error)) return false;
  for (const auto& e : n->entries)
    if (!check_vars(e.key.get(), scope, named, error) || !check_vars(e.value.get(), scope, named, error)) return false;
  for (const auto& p : n->parts)
    if (!check_vars(p.expr.get(), scope, named, error)) return false;
  return true;
}

// The lowest address of this thread's stack (null when unknown).
const char* stack_low() {
  thread_local const char* low = [] {
    pthread_attr_t attr;
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &addr, &size);
      pthread_attr_destroy(&attr);
    }
    return static_cast<const char*>(addr);
  }();
  return low;
}

}  // namespace

void poll_interrupt(std::uint64_t& steps) {
  if ((++steps & 4095) == 0 && run_stopping().load(std::memory_order_relaxed)) throw Interrupted{};
}

std::string error_text(const J& value) {
  if (value.is_string()) return value.str();
  return "(not a string): " + to_json(value);  // jq's wording, as the fast path's
}

bool run(const Program& program, const J& input, const RunContext& ctx, Out out, std::string* error, J* error_value) {
  RunContext c = ctx;
  c.named_args = program.named_args;
  Interp interp(c);
  // recursion may use this thread's stack but a margin (for what runs below the checks)
  char here;
  const char* low = stack_low();
  constexpr std::size_t kMargin = 256 << 10;
  std::size_t room = low && &here > low ? static_cast<std::size_t>(&here - low) : (1 << 20);
  interp.set_stack_limit(&here, room > 2 * kMargin ? room - kMargin : room / 2);
  try {
    interp.eval(program.root.get(), input, nullptr, out);
    return true;
  } catch (Error& e) {
    if (error) *error = error_text(e.value);
    if (error_value) *error_value = e.value;
    return false;
  } catch (Stop& s) {
    if (s.label == ~std::uint64_t{0}) throw;  // the caller's own early stop (run_general)
    if (error) *error = "break without a label";
    return false;
  } catch (Passing& p) {
    if (error) *error = error_text(p.value);
    return false;
  } catch (Interrupted&) {
    if (error) *error = "interrupted: the expression was still running when ppipe stopped";
    return false;
  }
}

}  // namespace ppipe::expr::jq
