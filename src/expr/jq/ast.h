// The general engine's syntax tree: jq 1.7's grammar, whole (docs/expr.md, "The general engine").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/expr/jq/value.h"

namespace ppipe::expr::jq {

enum class NK : std::uint8_t {
  kIdentity,
  kRecurseAll,  // ..
  kField,       // kids[0] (target) . name
  kIndex,       // kids[0] [ kids[1] ]   (the index is evaluated against the input, as jq)
  kSlice,       // kids[0] [ kids[1] : kids[2] ]  (null kid: open bound)
  kIterate,     // kids[0] []
  kLiteral,     // value
  kPipe,
  kComma,
  kNeg,
  kBinary,      // op, kids[0], kids[1]
  kAnd,
  kOr,
  kAlt,         // //
  kIf,          // kids: cond, then, (cond, then)*, else (absent: identity)
  kTry,         // kids[0] body, kids[1] catch (may be null)
  kReduce,      // kids[0] source, pattern, kids[1] init, kids[2] update
  kForeach,     // kids[0] source, pattern, kids[1] init, kids[2] update, kids[3] extract (may be null)
  kDef,         // def, kids[0] the rest
  kCall,        // name/arity with kids as arguments
  kVar,         // $name
  kAs,          // kids[0] source, patterns (several: ?//), kids[1] body
  kLabel,       // name, kids[0] body
  kBreak,       // name
  kArray,       // [kids[0]] ([] when none)
  kObject,      // entries
  kFormat,      // @name applied to the input
  kString,      // interpolation: parts (literal strings and kids), format name (or "text")
  kAssign,      // op ('=' '|' '+' '-' '*' '/' '%' 'a' for //=), kids[0] lhs, kids[1] rhs
};

enum class Bin : std::uint8_t { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe };

struct Node;
struct FuncDef;
class Native;

struct Pattern {
  enum Kind : std::uint8_t { kVar, kArray, kObject } kind = kVar;
  std::string var;                   // kVar
  std::vector<Pattern> elems;        // kArray
  struct Entry {
    std::string var;                 // `$name` or `$name: pattern` (binds $name to the member)
    std::unique_ptr<Node> key;       // the key expression otherwise (a literal for `name:` / "s":)
    std::unique_ptr<Pattern> value;  // may be null for `$name`
  };
  std::vector<Entry> entries;        // kObject
};

struct ObjEntry {
  std::unique_ptr<Node> key;
  std::unique_ptr<Node> value;
};

struct StrPart {
  std::string text;            // literal part
  std::unique_ptr<Node> expr;  // or an interpolation
};

struct FuncDef {
  std::string name;
  std::vector<std::string> params;  // without '$'
  std::vector<bool> param_is_var;   // def f($x): ...
  std::unique_ptr<Node> body;
};

enum class CallKind : std::uint8_t { kDynamic, kNative, kPrelude };

struct Node {
  NK kind = NK::kIdentity;
  Bin op = Bin::kAdd;
  char assign = '=';
  // kField, kIndex, kSlice, kIterate directly followed by `?` (`T.a?`, `T[e]?`, `T[]?`): the `?`
  // covers only this step, not T (jq's INDEX_OPT / EACH_OPT): errors of T itself pass.
  bool opt = false;
  std::uint32_t pos = 0;  // byte offset in the source
  std::string name;       // field, call, var, label, format
  J value;                // literal
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<Pattern> patterns;  // kAs (alternatives), kReduce / kForeach (one)
  std::vector<ObjEntry> entries;
  std::vector<StrPart> parts;
  std::unique_ptr<FuncDef> def;
  // kCall, resolved at compile time when lexical scope allows
  CallKind call = CallKind::kDynamic;
  const Native* native = nullptr;
  const FuncDef* target = nullptr;
  // Gives at most one value for any input (mark_single, once the calls are resolved): reduce,
  // foreach, until, while and recurse then loop instead of recursing, and reduce's state is
  // updated in place (eval.cpp). Conservative: false when unsure.
  bool single = false;

  const Node* kid(std::size_t i) const { return i < kids.size() ? kids[i].get() : nullptr; }

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the subtree without recursion (a hostile `.+.+.+...` is deeper than the stack).
  ~Node();
};

using NodeP = std::unique_ptr<Node>;

struct ParseError {
  std::string message;
  std::size_t pos = 0;
};

// Sets Node::single over the tree (calls must be resolved). Recursive: trees are at most 1000 high.
void mark_single(Node* root);

// The height of a tree (without recursion).
std::size_t tree_height(const Node* root);

// Parses a whole program. Null with `err` set on a syntax error.
NodeP parse_program(std::string_view source, ParseError& err);
// The prelude's definitions (jq's builtins written in jq), in order.
std::vector<std::unique_ptr<FuncDef>> parse_definitions(std::string_view source, ParseError& err);

}  // namespace ppipe::expr::jq
