// agg: group-by aggregation (a finishing stage; issue 7, DESIGN.md "Aggregation").
//
// Workers evaluate the keys and the aggregates' arguments of each record into the batch's partial:
// a hash map from the group's key (the key values as a compact JSON array) to its aggregate states
// (stages/agg/aggregates.h: exact, mergeable, positions by (batch seq, line)). The writer merges
// partials in input order; at the end each group becomes one object, keys first, then aggregates
// in the order given, groups in jq's order of their keys (or of --sort EXPR, ties by key).
// Output is byte-identical for every --workers, --batch-size and --unordered.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <type_traits>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "src/util/json_string.h"
#include "stages/agg/agg_spec.h"
#include "stages/agg/aggregates.h"
#include "stages/agg/group_table.h"
#include "stages/expr_eval.h"

namespace ppipe {

namespace {

constexpr StageOption kAggOptions[] = {
    {"--group-by", OptionKind::kValue, "KEYS", "",
     "comma-separated key expressions, each optionally `as NAME` (none: one group)", true},
    {"--agg", OptionKind::kValue, "LIST", "count",
     "comma-separated aggregates, each optionally `as NAME`: count, or NAME(EXPR) with NAME one of count sum "
     "min max avg var stddev median pNN pNN.N count_distinct first last collect",
     false},
    {"--sort", OptionKind::kValue, "EXPR", "",
     "order the groups by EXPR on each output object (e.g. -.count), ties by key; default: by key", false},
    {"--top", OptionKind::kValue, "N", "", "write only the first N groups (after ordering)", false},
    {"--max-groups", OptionKind::kValue, "N", kMaxGroupsDefault,
     kMaxGroupsHelp, false},
    {"--max-values", OptionKind::kValue, "N", kMaxValuesDefault, kMaxValuesHelp, false},
    {"--collect-limit", OptionKind::kValue, "N", "1000",
     "at most N values per group in collect (past it the run stops, exit 3)", false},
    {"--partial", OptionKind::kFlag, nullptr, nullptr,
     "write each group's partial state (JSON Lines, with the spec and a format version) for `merge`", false},
};

constexpr int kPartialFormat = 1;

// A group's key text (compact JSON, numbers written as jq writes them) in a form simdjson's DOM
// reads: jq writes a double such as 1.8446744073709552e19 as the integer 18446744073709552000,
// which fits no 64-bit integer, and simdjson refuses such a number; with ".0" after it the same
// text is a double, the same double, and append_json writes it back as it was. (The finish reads
// all the keys back to order them, and merge reads the keys of partial lines.)
std::string readable_by_simdjson(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  bool in_string = false;
  for (std::size_t i = 0; i < json.size();) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) out.push_back(json[++i]);
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c != '-' && (c < '0' || c > '9')) {
      out.push_back(c);
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    bool integer = true;
    while (end < json.size() && (json[end] == '-' || json[end] == '+' || json[end] == '.' || json[end] == 'e' ||
                                 json[end] == 'E' || (json[end] >= '0' && json[end] <= '9'))) {
      if (json[end] < '0' || json[end] > '9') integer = false;
      ++end;
    }
    const std::string_view number = json.substr(i, end - i);
    out.append(number);
    if (integer) {
      std::int64_t si = 0;
      std::uint64_t ui = 0;
      const char* last = number.data() + number.size();
      const bool fits = c == '-' ? std::from_chars(number.data(), last, si).ec == std::errc()
                                 : std::from_chars(number.data(), last, ui).ec == std::errc();
      if (!fits) out += ".0";
    }
    i = end;
  }
  return out;
}

constexpr const char* kAggHelp =
    "  Groups the records by the values of the --group-by keys and writes, when the input ends,\n"
    "  one object per group: the keys, then the aggregates in the order given. Default names: a\n"
    "  key is named by the last component of its path (.user.country -> country), an aggregate\n"
    "  by its name and that component (avg(.latency_ms) -> avg_latency_ms); `as NAME` renames\n"
    "  (`as \"any name\"` for a name that is not a word).\n"
    "  Sums are exact (int64, or the correctly rounded double of the true sum, as math.fsum),\n"
    "  avg/var/stddev are rounded once, percentiles are exact with linear interpolation, first/\n"
    "  last/collect follow input order: the output is the same byte for byte for every --workers,\n"
    "  --batch-size and --unordered. Null and missing values are skipped (count counts records);\n"
    "  a value of the wrong type (a string to sum) sends the record to the error stream and none\n"
    "  of its aggregates is applied. Groups are ordered by key in jq's order.\n"
    "  Example: ppipe --stages parse,filter,agg --filter '.status >= 500' --group-by '.host'\n"
    "           --agg 'count, avg(.latency_ms) as lat, p99(.latency_ms)' logs.jsonl\n";

using agg::AggItemSpec;
using agg::KeySpec;

// A group: its key and its aggregates, in one block of its partial's arena (a group is made for
// every distinct key of every batch, so with many groups per-group allocations, their frees on
// another thread and their page faults were most of what the run spent):
// [Group][aggregate 0][aggregate 1]...[key bytes]
struct Group {
  std::uint64_t hash = 0;     // of key()
  std::uint32_t key_at = 0;   // where the key's bytes are in the block
  std::uint32_t key_size = 0;
  // "[k1,k2]": the key values as compact JSON.
  std::string_view key() const { return {reinterpret_cast<const char*>(this) + key_at, key_size}; }
};

// Where a group's aggregates live in its block; makes and destroys groups.
struct GroupLayout {
  std::vector<agg::AggregateSpec> specs;
  std::vector<std::size_t> offsets;  // of each aggregate from the start of the block
  std::vector<const agg::AggregateOps*> ops;  // of each aggregate (the same for every group)
  std::size_t size = 0;              // of the block without the key

  explicit GroupLayout(const std::vector<AggItemSpec>& items);

  agg::AggregateRef agg(const Group& g, std::size_t i) const {
    return agg::AggregateRef(ops[i], reinterpret_cast<char*>(const_cast<Group*>(&g)) + offsets[i]);
  }
  Group* make(agg::GroupArena& arena, std::string_view key, std::uint64_t hash) const {
    Group* g = make_block(arena, key, hash);
    char* block = reinterpret_cast<char*>(g);
    std::size_t i = 0;
    try {
      for (; i < specs.size(); ++i) agg::construct_aggregate(specs[i], block + offsets[i]);
    } catch (...) {
      while (i-- > 0) agg(*g, i).destroy();
      throw;
    }
    return g;
  }
  // A group like `from` in `arena`, its aggregates moved from `from`'s (left only to be
  // destroyed): what merging `from` into a new empty group gives, without making the aggregates
  // and merging them.
  Group* relocate(agg::GroupArena& arena, Group& from) const {
    Group* g = make_block(arena, from.key(), from.hash);
    char* block = reinterpret_cast<char*>(g);
    char* source = reinterpret_cast<char*>(&from);
    for (std::size_t i = 0; i < specs.size(); ++i) ops[i]->relocate(block + offsets[i], source + offsets[i]);
    return g;
  }
  // A block in `arena` with its header and key; the aggregates are the caller's to build.
  Group* make_block(agg::GroupArena& arena, std::string_view key, std::uint64_t hash) const {
    if (key.size() > UINT32_MAX) throw std::length_error("agg: a group key of 4 GiB or more");
    char* block = static_cast<char*>(arena.allocate(size + key.size()));
    Group* g = new (block) Group;
    g->hash = hash;
    if (!key.empty()) std::memcpy(block + size, key.data(), key.size());
    g->key_at = static_cast<std::uint32_t>(size);
    g->key_size = static_cast<std::uint32_t>(key.size());
    return g;
  }
  void destroy(Group& g) const {
    for (std::size_t i = 0; i < specs.size(); ++i) agg(g, i).destroy();
  }
};

GroupLayout::GroupLayout(const std::vector<AggItemSpec>& items) {
  static_assert(alignof(Group) <= agg::GroupArena::kAlign);
  size = sizeof(Group);
  for (const auto& item : items) {
    agg::AggregateLayout l = agg::aggregate_layout(item.spec);
    if (l.align > agg::GroupArena::kAlign) std::abort();  // the arena aligns blocks to kAlign
    size = (size + l.align - 1) / l.align * l.align;
    specs.push_back(item.spec);
    offsets.push_back(size);
    size += l.size;
    // Its operations: from one built and destroyed aside.
    alignas(std::max_align_t) char probe[512];
    if (l.size > sizeof(probe)) std::abort();
    ops.push_back(agg::construct_aggregate(item.spec, probe));
    ops.back()->destroy(probe);
  }
}

// The groups of a partial and the arena they live in; a batch's store is used again for later
// batches (AggStage keeps the spare ones), so a batch costs no allocation once warm.
struct GroupStore {
  agg::GroupTable<Group> table;
  agg::GroupArena arena;
};

struct AggPartial final : Partial {
  std::uint64_t number = 0;             // unique in the process (new_partial), for AggState's cache
  const GroupLayout* layout = nullptr;  // of the stage that filled it (set with the first group)
  std::unique_ptr<GroupStore> store = std::make_unique<GroupStore>();
  bool overflow = false;  // a group past --max-groups was refused
  // The values the groups keep (percentiles, count_distinct, collect), counted where batches are
  // merged into the run's partial; past --max-values the merges stop (memory stays bounded) and
  // finish fails.
  std::uint64_t held = 0;
  bool values_overflow = false;
  // A group's collect past --collect-limit: the message finish() gives (the first seen), so that
  // the writer can end the run there (FinishingStage::failure).
  std::string collect_failure;
  // The records accumulated into this partial so far: the index of the next one's Position. Not
  // its line: the records a fanning-out map (or a --format json line of several values, or
  // exec's output) makes of one line share it, and `last` kept the first of them, `collect`
  // shuffled them.
  std::uint64_t accumulated = 0;
  // Without --group-by: the one group, once accumulate has found it (its key "[]" was written,
  // hashed and looked up for every record: 100 instructions a record of `--agg count`).
  Group* global = nullptr;

  AggPartial() = default;
  AggPartial(const AggPartial&) = delete;
  AggPartial& operator=(const AggPartial&) = delete;
  ~AggPartial() override { destroy_groups(); }

  const agg::HugeVector<Group*>& groups() const { return store->table.groups(); }
  std::size_t size() const { return store->table.size(); }
  Group* find(std::string_view key, std::uint64_t hash) const { return store->table.find(key, hash); }
  Group* add(const GroupLayout& l, std::string_view key, std::uint64_t hash) {
    layout = &l;
    return store->table.insert(l.make(store->arena, key, hash));
  }
  // A group of another partial's, its aggregates moved here (see GroupLayout::relocate).
  Group* adopt(const GroupLayout& l, Group& from) {
    layout = &l;
    return store->table.insert(l.relocate(store->arena, from));
  }
  // Destroys the groups; the store is empty, its table and arena kept for use again.
  void destroy_groups() {
    global = nullptr;
    if (!store) return;
    if (layout)
      for (Group* g : store->table.groups()) layout->destroy(*g);
    store->table.clear();
    store->arena.reset();
  }
};

struct AggState final : StageState {
  // The worker's recent groups of one-string keys (see accumulate).
  struct Cached {
    std::uint64_t partial = 0;  // AggPartial::number; 0: empty
    Group* group = nullptr;
  };
  // 256 slots (4 KiB): 20 hosts in 64 slots shared 3 slots, and a pair in one slot misses on
  // every other record.
  static constexpr std::size_t kCacheSlots = 256;
  static std::size_t cache_slot(std::string_view raw) {
    // The first and last 8 bytes (or 4, or 3 single bytes), with fixed-size loads: no call.
    const char* p = raw.data();
    const std::size_t n = raw.size();
    std::uint64_t head = 0, tail = 0;
    if (n >= 8) {
      std::memcpy(&head, p, 8);
      std::memcpy(&tail, p + n - 8, 8);
    } else if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      head = a | (std::uint64_t{b} << 32);
    } else if (n > 0) {
      head = static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[n / 2]) << 8) |
             (static_cast<unsigned char>(p[n - 1]) << 16);
    }
    return static_cast<std::size_t>(((head ^ (tail * 31) ^ n) * 0x9e3779b97f4a7c15ull) >> 56);
  }
  Cached cache[kCacheSlots];
  std::vector<std::unique_ptr<expr::Scratch>> scratches;  // one per expression: results live side by side
  std::vector<expr::Result> results;
  std::vector<const expr::Value*> vals;  // per expression: its value (see accumulate)
  std::vector<agg::Value> values;
  std::vector<std::string> texts;  // compact JSON of non-scalar argument values
  std::vector<expr::Value> members;  // the leading keys' members of the record
  std::string key;
  // A record the DOM refused for a number beyond 64 bits, read by the general engine's reader.
  expr::Scratch whole_scratch;
  expr::Value whole;
};

// The value's type with its article ("a string", "an array"), for messages.
const char* type_word(const expr::Value& v) {
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "a boolean";
}

bool needs_number(agg::AggregateKind k) {
  using K = agg::AggregateKind;
  return k == K::kSum || k == K::kMin || k == K::kMax || k == K::kAvg || k == K::kVar || k == K::kStddev ||
         k == K::kPercentile;
}

// The memory guards: groups (--max-groups) and the values groups keep (--max-values).
struct AggLimits {
  std::uint64_t max_groups;
  std::uint64_t max_values;
};

class AggStage final : public FinishingStage {
 public:
  AggStage(std::vector<KeySpec> keys, std::vector<std::shared_ptr<const expr::Program>> key_programs,
           std::vector<AggItemSpec> items, std::vector<std::shared_ptr<const expr::Program>> arg_programs,
           std::shared_ptr<const expr::Program> sort, bool sort_descending, std::optional<std::uint64_t> top,
           AggLimits limits, std::string spec, bool partial)
      : spec_(std::move(spec)),
        partial_(partial),
        keys_(std::move(keys)),
        key_programs_(std::move(key_programs)),
        items_(std::move(items)),
        arg_programs_(std::move(arg_programs)),
        sort_(std::move(sort)),
        sort_descending_(sort_descending),
        top_(top),
        max_groups_(limits.max_groups),
        max_values_(limits.max_values),
        layout_(items_) {
    plan_evaluation();
    for (std::size_t a = 0; a < items_.size(); ++a) {
      const agg::AggregateKind k = items_[a].spec.kind;
      if (k == agg::AggregateKind::kPercentile || k == agg::AggregateKind::kCountDistinct ||
          k == agg::AggregateKind::kCollect)
        holding_.push_back(a);
      if (k == agg::AggregateKind::kCollect) collects_.push_back(a);
    }
    for (std::size_t f = 0; f < keys_.size() + items_.size(); ++f) {
      std::string prefix = f ? "," : "";
      append_json_string_jq(prefix, f < keys_.size() ? keys_[f].name : items_[f - keys_.size()].name);
      prefix.push_back(':');
      field_prefix_.push_back(std::move(prefix));
    }
  }

  std::string_view name() const override { return "agg"; }
  Output output() const override { return Output::kJson; }
  bool needs_parsed() const override { return true; }
  std::unique_ptr<StageState> make_state() const override {
    auto st = std::make_unique<AggState>();
    for (std::size_t i = 0; i < exprs_.size(); ++i) st->scratches.push_back(std::make_unique<expr::Scratch>());
    st->results.resize(exprs_.size());
    st->vals.resize(exprs_.size());
    st->members.resize(lead_keys_.keys.size());
    st->values.resize(items_.size());
    st->texts.resize(items_.size());
    return st;
  }
  std::unique_ptr<Partial> new_partial() const override {
    static std::atomic<std::uint64_t> partials{0};
    auto p = std::make_unique<AggPartial>();
    p->number = partials.fetch_add(1, std::memory_order_relaxed) + 1;
    p->layout = &layout_;
    {
      std::lock_guard<std::mutex> lock(spare_mu_);
      if (!spare_.empty()) {
        p->store = std::move(spare_.back());
        spare_.pop_back();
        return p;
      }
    }
    // A batch has about as many groups as the batches before it (none to grow into, by default).
    p->store->table.reserve(std::min<std::size_t>(batch_groups_hint_.load(std::memory_order_relaxed), 1u << 16));
    return p;
  }

  Verdict accumulate(Record& rec, WorkerScratch& s, StageState* state, Partial& into) const override {
    auto& st = static_cast<AggState&>(*state);
    auto& p = static_cast<AggPartial&>(into);
    if (p.values_overflow) return Verdict::kPass;  // the run fails at its end; nothing more is kept
    simdjson::dom::element doc;
    const expr::Value* input = !rec.has_doc() ? rec.value() : nullptr;
    if (!input && !rec.doc(s, &doc)) {
      // Valid JSON with a number beyond 64 bits, which the DOM cannot hold: read as jq 1.7 reads
      // it (1e400 as the largest double), as filter and map do; a field not read keeps nothing.
      if (!rec.big_numbers() || !expr::read_value(rec.text(), st.whole_scratch, st.whole, &s.error))
        return Verdict::kError;
      input = &st.whole;
    }
    const bool use_value = input != nullptr;
    // Every distinct expression, keys first: the first error is the record's. vals[e] is the
    // value of expression e (the record's member itself for `.KEY`, else its result), or nullptr
    // when it gave none.
    const bool members = !use_value && !lead_keys_.keys.empty() &&
                         expr::lookup_members(doc, lead_keys_, st.members.data());
    const expr::Value** vals = st.vals.data();
    for (std::size_t e = 0; e < exprs_.size(); ++e) {
      const Expression& x = exprs_[e];
      if (members && x.lead != kNoLead && x.single_field) {
        vals[e] = &st.members[x.lead];
        continue;
      }
      expr::Scratch& scratch = *st.scratches[e];
      expr::Result& r = st.results[e];
      if (members && x.lead != kNoLead) r = expr::evaluate_from_member(*x.program, st.members[x.lead], scratch);
      else if (use_value) r = expr::evaluate_value(*x.program, *input, scratch);
      else r = expr::evaluate(*x.program, doc, scratch);
      if (r.outcome == expr::Outcome::kError) {
        s.error = fmt::format("{}: {}", x.what, expr::error_message(scratch));
        return Verdict::kError;
      }
      vals[e] = r.outcome == expr::Outcome::kValue ? &r.value : nullptr;
    }
    // Arguments: all evaluated and checked before any is applied (a record counts whole or not at all).
    for (std::size_t a = 0; a < items_.size(); ++a) {
      agg::Value& v = st.values[a];
      const expr::Value* x = arg_expr_[a] == kNoLead ? nullptr : vals[arg_expr_[a]];  // kNoLead: `count`
      if (!x) {
        v = agg::Value::null();
        continue;
      }
      switch (x->tag()) {
        case expr::Tag::kNull: v = agg::Value::null(); break;
        case expr::Tag::kInt: v = agg::Value::of(x->int_value()); break;
        case expr::Tag::kUint: v = agg::Value::of_uint(x->uint_value()); break;
        case expr::Tag::kDouble: v = agg::Value::of(x->double_value()); break;
        case expr::Tag::kString: v = agg::Value::string(x->string_value()); break;
        default:
          st.texts[a].clear();
          // count_distinct counts values jq finds equal once: objects by their sorted members.
          if (items_[a].spec.kind == agg::AggregateKind::kCountDistinct) expr::append_json_sorted(*x, st.texts[a]);
          else expr::append_json(*x, st.texts[a]);
          v = agg::Value::json(st.texts[a]);
          break;
      }
      if (needs_number(items_[a].spec.kind) &&
          (v.type == agg::Value::Type::kString || v.type == agg::Value::Type::kJson)) {
        s.error = items_[a].spec.kind == agg::AggregateKind::kSum
                      ? fmt::format("{}: cannot sum {}", items_[a].text, type_word(*x))
                      : fmt::format("{}: {} needs numbers, got {}", items_[a].text, items_[a].spec.name,
                                    type_word(*x));
        return Verdict::kError;
      }
    }
    // The group. One string key (a host, a country) is looked up in the worker's small cache
    // first: with few groups it hits nearly always, and skips the key text, its hash and the
    // table. An entry is trusted only for the partial it was made in (by its number), and only
    // groups of strings with nothing to escape are cached: their key is ["string"], so equal
    // bytes between the quotes mean an equal string.
    Group* found = keys_.empty() ? p.global : nullptr;
    AggState::Cached* cached = nullptr;
    std::string_view raw;
    if (keys_.size() == 1 && p.number != 0) {
      const expr::Value* kv = vals[key_expr_[0]];
      if (kv && kv->tag() == expr::Tag::kString) {
        raw = kv->string_value();
        cached = &st.cache[AggState::cache_slot(raw)];
        if (cached->partial == p.number && cached->group->key_size == raw.size() + 4 &&
            std::memcmp(cached->group->key().data() + 2, raw.data(), raw.size()) == 0)
          found = cached->group;
      }
    }
    if (!found) {
      // Keys.
      st.key.clear();
      st.key.push_back('[');
      for (std::size_t k = 0; k < keys_.size(); ++k) {
        if (k) st.key.push_back(',');
        const expr::Value* kv = vals[key_expr_[k]];
        // Keys group by value, as jq's group_by: 1 and 1.0 print alike, -0.0 joins 0, and an
        // object is written with its members sorted ({"b":1,"a":2} joins {"a":2,"b":1}).
        if (!kv) st.key.append("null");
        else expr::append_json_sorted(*kv, st.key);
      }
      st.key.push_back(']');
      const std::uint64_t hash = agg::GroupTable<Group>::hash_of(st.key);
      found = p.find(st.key, hash);
      if (!found) {
        if (p.size() >= max_groups_) {
          p.overflow = true;
          return Verdict::kPass;
        }
        found = p.add(layout_, st.key, hash);
      }
      if (cached && json_string_is_plain_jq(raw)) *cached = AggState::Cached{p.number, found};
      if (keys_.empty()) p.global = found;
    }
    Group& g = *found;
    agg::Position pos{0, rec.seq(), p.accumulated++};
    std::string err;
    const std::uint64_t held_before = holding_.empty() ? 0 : held(g);
    for (std::size_t a = 0; a < items_.size(); ++a) {
      if (!layout_.agg(g, a).add(st.values[a], pos, &err)) {
        // Not expected after the checks above; the record is then only partly applied.
        s.error = fmt::format("{}: {}", items_[a].text, err);
        return Verdict::kError;
      }
    }
    if (!holding_.empty()) {
      p.held += held(g) - held_before;
      if (p.held > max_values_) p.values_overflow = true;  // (a worker's batch alone, or the writer's run)
    }
    if (!collects_.empty() && p.collect_failure.empty()) note_collect_failure(p, g);
    return Verdict::kPass;
  }

  // "agg: collect(.x): more than ..." from an aggregate's own message ("collect: more than ..."):
  // its name once.
  std::string aggregate_error(std::size_t a, std::string_view err) const {
    const std::string& own = items_[a].spec.name;
    if (err.size() > own.size() + 2 && err.substr(0, own.size()) == own && err.substr(own.size(), 2) == ": ")
      err.remove_prefix(own.size() + 2);
    return fmt::format("agg: {}: {}", items_[a].text, err);
  }

  // A collect of group g past --collect-limit, in finish()'s words, into p.collect_failure.
  void note_collect_failure(AggPartial& p, const Group& g) const {
    std::string err;
    for (std::size_t a : collects_)
      if (!layout_.agg(g, a).ok(&err)) {
        p.collect_failure = aggregate_error(a, err);
        return;
      }
  }

  // The memory guards, in the words finish() fails with; "" when none was passed.
  std::string guard_failure(const AggPartial& p) const {
    if (p.overflow)
      return fmt::format("agg: more than {} groups (--max-groups {}); raise --max-groups, or group by fewer keys",
                         max_groups_, max_groups_);
    if (p.values_overflow)
      return fmt::format(
          "agg: the percentiles, count_distinct and collect of the groups keep more than {} values (--max-values "
          "{}); raise --max-values, or keep fewer",
          max_values_, max_values_);
    return p.collect_failure;
  }

  std::string failure(const Partial& all) const override { return guard_failure(static_cast<const AggPartial&>(all)); }

  // The values group g keeps (see AggPartial::held).
  std::uint64_t held(const Group& g) const {
    std::uint64_t n = 0;
    for (std::size_t a : holding_) n += layout_.agg(g, a).held();
    return n;
  }

  void merge(Partial& into, Partial& later) const override {
    auto& a = static_cast<AggPartial&>(into);
    auto& b = static_cast<AggPartial&>(later);
    batch_groups_hint_.store(b.size(), std::memory_order_relaxed);
    a.overflow |= b.overflow;
    a.values_overflow |= b.values_overflow;
    if (a.collect_failure.empty()) a.collect_failure = std::move(b.collect_failure);
    if (a.values_overflow) {  // past --max-values: nothing more is kept; finish fails
      b.destroy_groups();
      return;
    }
    const auto& later_groups = b.groups();
    // Each lookup in a big table is two cache misses (the slot, then the group it names): the
    // slot is asked for 16 groups ahead, the group 8 ahead, when the slot is there.
    constexpr std::size_t kAhead = 8;
    const agg::GroupTable<Group>& table = a.store->table;
    for (std::size_t j = 0; j < later_groups.size(); ++j) {
      if (j + 2 * kAhead < later_groups.size()) table.prefetch(later_groups[j + 2 * kAhead]->hash);
      if (j + kAhead < later_groups.size()) table.prefetch_group(later_groups[j + kAhead]->hash);
      Group& g = *later_groups[j];
      Group* have = a.find(g.key(), g.hash);
      if (!have) {
        if (a.size() >= max_groups_) {
          a.overflow = true;
          continue;
        }
        if (!holding_.empty()) a.held += held(g);
        // A new group of `into`'s own, its aggregates moved from `later`'s (whose arena is used
        // again): the same as an empty group merged into, with half the work.
        a.adopt(layout_, g);
        continue;
      }
      if (!holding_.empty()) a.held -= held(*have);
      for (std::size_t i = 0; i < items_.size(); ++i) layout_.agg(*have, i).merge(layout_.agg(g, i));
      if (!holding_.empty()) a.held += held(*have);
      if (!collects_.empty() && a.collect_failure.empty()) note_collect_failure(a, *have);
    }
    // (Checked after the batch: the total then is the same for every --workers and --batch-size
    // at the end, and it only grows, so whether it ever passes the limit does not depend on them.)
    if (a.held > max_values_) a.values_overflow = true;
    // `later` is spent: its store goes back for another batch (kept small: a batch of an
    // unusual size does not pin its memory).
    b.destroy_groups();
    std::lock_guard<std::mutex> lock(spare_mu_);
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(b.store));
    b.store = std::make_unique<GroupStore>();
  }

  bool finish(Partial& all, const Emit& emit, const FinishContext& context, std::string* error) const override {
    return finish_as(all, emit, error, partial_, context);
  }

  // finish, writing the groups' results, or their partial states when `partial` (agg --partial,
  // merge --partial).
  bool finish_as(Partial& all, const Emit& emit, std::string* error, bool partial, const FinishContext& context) const {
    auto& p = static_cast<AggPartial&>(all);
    const unsigned threads = context.threads;
    // --stats: the groups and the memory they hold, beside the run's peak RSS (the rest of which is
    // the engine's). Not the heap parts of percentiles, distinct counts and collect.
    if (context.stats_fields)
      *context.stats_fields = fmt::format("\"groups\":{},\"group_bytes\":{},\"group_table_bytes\":{}", p.size(),
                                          p.store->arena.bytes(), p.store->table.bytes());
    if (p.overflow || p.values_overflow) {
      *error = guard_failure(p);
      return false;
    }
    // Without --group-by there is one group, input or not: `--agg count` of nothing is
    // {"count":0} (as SQL's count(*) and jq's reduce), in partials too, so a merge of empty parts agrees.
    if (keys_.empty() && p.size() == 0) p.add(layout_, "[]", agg::GroupTable<Group>::hash_of("[]"));
    if (partial) return write_partials(p, emit);
    const auto& groups = p.groups();
    const std::size_t n = groups.size();
    const std::size_t nkeys = keys_.size();
    // A failed aggregate (collect past its limit) fails the run before anything is written.
    for (std::size_t a = 0; a < items_.size(); ++a) {
      if (items_[a].spec.kind != agg::AggregateKind::kCollect) continue;  // the only one that fails
      for (const auto& g : groups)
        if (!layout_.agg(*g, a).ok(error)) {
          *error = aggregate_error(a, *error);
          return false;
        }
    }
    std::size_t count = n;
    if (top_ && *top_ < count) count = static_cast<std::size_t>(*top_);
    // One key ordered by key, mostly integers (a user id: the case with millions of groups): the
    // integers' values from the key texts, sorted as 16-byte rows made in the table's slot array
    // (done with: 16 bytes a group at least), so sorting needs no new memory. Integer keys are
    // unique (1 and 1.0 group together): no tie to break. The few groups keyed by null, a boolean
    // (before the numbers in jq's order) or a plain string (after them) are sorted apart; any
    // other key (a fraction, an array, an escaped string) takes the general way below.
    if (nkeys == 1 && !sort_ && n > 0) {
      agg::HugeVector<std::uint64_t> room = p.store->table.take_slots();
      static_assert(std::is_trivially_copyable_v<IntRow> && alignof(IntRow) <= alignof(std::uint64_t));
      static_assert(sizeof(IntRow) == 16);
      if (room.size() * sizeof(std::uint64_t) >= n * sizeof(IntRow)) {
        auto* ints = reinterpret_cast<IntRow*>(room.data());
        std::vector<Row> before, after;
        std::size_t m = 0;
        bool plain = true;
        for (std::uint32_t i = 0; i < n && plain; ++i) {
          expr::Value v;
          plain = scalar_key(groups[i]->key(), &v);
          if (!plain) break;
          if (v.tag() == expr::Tag::kInt) new (&ints[m++]) IntRow{v.int_value(), groups[i]};
          else if (v.tag() == expr::Tag::kString) after.push_back(Row{v, groups[i], i});
          else before.push_back(Row{v, groups[i], i});  // null, false, true
        }
        if (plain) {
          ints = std::launder(ints);
          sort_int_rows(ints, m, threads);
          expr::Scratch order_scratch;
          auto by_value = [&](const Row& x, const Row& y) { return expr::compare(x.first, y.first, order_scratch) < 0; };
          std::sort(before.begin(), before.end(), by_value);
          std::sort(after.begin(), after.end(), by_value);
          return write_rows(
              [&](std::size_t i) -> const Group* {
                if (i < before.size()) return before[i].g;
                i -= before.size();
                return i < m ? ints[i].g : after[i - m].g;
              },
              count, emit, threads, error);
        }
      }
    }
    // The rows to sort. One scalar key ordered by key: each row's value is read from its
    // group's key text, viewing it.
    agg::HugeVector<Row> rows(n);
    bool rows_made = nkeys == 1 && !sort_;
    for (std::uint32_t i = 0; i < n && rows_made; ++i) {
      rows[i].g = groups[i];
      rows[i].group = i;
      rows_made = scalar_key(groups[i]->key(), &rows[i].first);
    }
    // Else every group's key values: from the key texts when scalar (one key, ordered by --sort:
    // without --sort, the loop above already found a key that is not), else by one parse of
    // them all.
    agg::HugeVector<expr::Value> comps;  // group i's key k: comps[i * nkeys + k]
    simdjson::dom::parser key_parser;
    if (!rows_made) {
      comps.reserve(n * nkeys);
      for (std::size_t i = 0; i < n && nkeys == 1 && sort_; ++i) {
        expr::Value v;
        if (!scalar_key(groups[i]->key(), &v)) break;
        comps.push_back(v);
      }
    }
    if (!rows_made && comps.size() != n * nkeys) {
      comps.clear();
      std::string all_keys = "[";
      for (std::size_t i = 0; i < n; ++i) {
        if (i) all_keys.push_back(',');
        all_keys += readable_by_simdjson(groups[i]->key());
      }
      all_keys.push_back(']');
      simdjson::dom::array key_arrays;
      if (key_parser.parse(all_keys).get_array().get(key_arrays) != simdjson::SUCCESS) {
        *error = "agg: internal error: group keys do not parse";
        return false;
      }
      for (simdjson::dom::element k : key_arrays) {
        simdjson::dom::array items;
        if (k.get_array().get(items) != simdjson::SUCCESS) break;
        for (simdjson::dom::element v : items) comps.push_back(expr::Value::from_dom(v));
      }
      if (comps.size() != n * nkeys) {
        *error = "agg: internal error: a group key has the wrong number of values";
        return false;
      }
    }
    // --sort: each group's object is made first, for its sort value; only the sort values are
    // kept, and the objects written made again (keeping every object's text took 3.5 times the
    // groups' memory, with --top 10 too: 834 MB for 3 M groups of a count).
    std::vector<expr::Value> sort_values;
    simdjson::dom::parser sort_parser;
    expr::Scratch scratch;
    if (sort_ && !sort_values_of(groups, &sort_values, &sort_parser, error)) return false;
    // jq's order, on the sort value, then the key values; ties (1 and 1.0) by the key text.
    auto cmp = [&](const expr::Value& x, const expr::Value& y) {
      if (x.tag() == expr::Tag::kInt && y.tag() == expr::Tag::kInt)
        return x.int_value() < y.int_value() ? -1 : (x.int_value() > y.int_value() ? 1 : 0);
      if (x.tag() == expr::Tag::kString && y.tag() == expr::Tag::kString) {
        int r = x.string_value().compare(y.string_value());
        return r < 0 ? -1 : (r > 0 ? 1 : 0);
      }
      return expr::compare(x, y, scratch);
    };
    if (!rows_made)
      for (std::uint32_t i = 0; i < n; ++i)
        rows[i] = Row{sort_ ? sort_values[i] : (nkeys ? comps[i * nkeys] : expr::Value::null()), groups[i], i};
    std::sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) {
      int r = cmp(x.first, y.first);
      if (sort_descending_) r = -r;
      if (r != 0) return r < 0;
      const std::uint32_t a = x.group, b = y.group;
      for (std::size_t k = sort_ ? 0 : 1; k < nkeys; ++k) {
        r = cmp(comps[a * nkeys + k], comps[b * nkeys + k]);
        if (r != 0) return r < 0;
      }
      return x.g->key() < y.g->key();
    });
    if (sort_) {
      std::string object;
      for (std::size_t i = 0; i < count; ++i) {
        object.clear();
        if (!append_object(*rows[i].g, object, nullptr, error)) return false;
        emit(object);
      }
      return true;
    }
    return write_rows([&rows](std::size_t i) { return rows[i].g; }, count, emit, threads, error);
  }

  // The spec as JSON text: what a partial line carries and `merge` compares.
  const std::string& spec() const { return spec_; }

  // merge: one partial line's group (its key array and states) into `into`. Positions get `part`.
  bool add_partial(AggPartial& into, simdjson::dom::element key, simdjson::dom::element states, std::uint64_t part,
                   std::string* error) const {
    simdjson::dom::array key_items, state_items;
    if (key.get_array().get(key_items) != simdjson::SUCCESS || key_items.size() != keys_.size() ||
        states.get_array().get(state_items) != simdjson::SUCCESS || state_items.size() != items_.size()) {
      *error = "malformed partial line: \"key\" or \"states\" does not match the spec";
      return false;
    }
    std::string key_text = "[";
    for (simdjson::dom::element e : key_items) {
      if (key_text.size() > 1) key_text.push_back(',');
      expr::append_json_sorted(expr::Value::from_dom(e), key_text);  // as accumulate writes keys
    }
    key_text.push_back(']');
    std::unique_ptr<Partial> one = new_partial();
    auto& p = static_cast<AggPartial&>(*one);
    Group* g = p.add(layout_, key_text, agg::GroupTable<Group>::hash_of(key_text));
    std::size_t a = 0;
    for (simdjson::dom::element e : state_items) {
      if (!layout_.agg(*g, a).read_partial(e, part, error)) return false;
      ++a;
    }
    merge(into, p);
    return true;
  }

 private:
  bool write_partials(AggPartial& p, const Emit& emit) const {
    // In key-text order, so that the partial text does not depend on the hash map.
    std::vector<const Group*> groups;
    for (const Group* g : p.groups()) groups.push_back(g);
    std::sort(groups.begin(), groups.end(), [](const Group* a, const Group* b) { return a->key() < b->key(); });
    std::string line;
    for (const Group* g : groups) {
      line = fmt::format("{{\"ppipe_agg_partial\":{},\"spec\":{},\"key\":{},\"states\":[", kPartialFormat, spec_,
                         readable_by_simdjson(g->key()));
      for (std::size_t a = 0; a < items_.size(); ++a) {
        if (a) line.push_back(',');
        layout_.agg(*g, a).write_partial(&line);
      }
      line += "]}";
      emit(line);
    }
    return true;
  }

  // A group's output object: the keys (their texts as in the group's key), then the aggregates.
  // `spans`, when given, receives where each field's value is in `out`.
  bool append_object(const Group& g, std::string& out, std::vector<std::pair<std::size_t, std::size_t>>* spans,
                     std::string* error) const {
    out.push_back('{');
    std::size_t begin = 1;  // past the key's '['
    for (std::size_t k = 0; k < keys_.size(); ++k) {
      out += field_prefix_[k];
      std::size_t end = value_end(g.key(), begin);
      if (spans) (*spans)[k].first = out.size();
      out.append(g.key().substr(begin, end - begin));
      if (spans) (*spans)[k].second = out.size();
      begin = end + 1;
    }
    for (std::size_t a = 0; a < items_.size(); ++a) {
      out += field_prefix_[keys_.size() + a];
      if (spans) (*spans)[keys_.size() + a].first = out.size();
      std::string err;
      if (!layout_.agg(g, a).result(&out, &err)) {
        *error = fmt::format("agg: {}: {}", items_[a].text, err);
        return false;
      }
      if (spans) (*spans)[keys_.size() + a].second = out.size();
    }
    out.push_back('}');
    return true;
  }

  // The value of a one-value key text ("[42]", "[\"web-01\"]", "[1.5]", "[null]") without a JSON
  // parser: numbers as the writer printed them (they read back to the same value), strings
  // without escapes as views into `key`. False for anything else (the caller then parses).
  static bool scalar_key(std::string_view key, expr::Value* out) {
    if (key.size() < 3) return false;
    std::string_view v(key.data() + 1, key.size() - 2);
    if (v == "null") *out = expr::Value::null();
    else if (v == "true" || v == "false") *out = expr::Value::boolean(v == "true");
    else if (v.size() >= 2 && v.front() == '"' && v.back() == '"' && v.find('\\') == std::string_view::npos)
      *out = expr::Value::string(v.substr(1, v.size() - 2));
    // (ec too: past int64, from_chars matches all the digits and leaves i at 0, so a key of
    // 18446744073709551615 was sorted as 0.)
    else if (std::int64_t i = 0; [&] {
               const auto r = std::from_chars(v.data(), v.data() + v.size(), i);
               return r.ec == std::errc() && r.ptr == v.data() + v.size();
             }() && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
      *out = expr::Value::integer(i);
    else
      return false;
    return true;
  }

  // The end of the compact JSON value that starts at `pos` in `text` (an array's item).
  static std::size_t value_end(std::string_view text, std::size_t pos) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = pos; i < text.size(); ++i) {
      char c = text[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (depth == 0) return i;
        --depth;
      } else if (c == ',' && depth == 0) {
        return i;
      }
    }
    return text.size();
  }

  // Rows carry the first value compared, so that most comparisons read only the row array.
  struct Row {
    expr::Value first;
    const Group* g;       // the group itself, not an index: one memory read less when writing
    std::uint32_t group;  // its index
  };

  // One integer key, in order: 16 bytes a group to sort instead of a Row's 40, made in the
  // table's slot array (at least 16 bytes a group), so a million groups' rows need no fresh memory.
  struct IntRow {
    std::int64_t key;
    const Group* g;  // not its index: writing in key order then reads no random entry of groups()
  };

  // Sorts rows by key. A million of them take 0.1 s on one core, when the workers are idle: with
  // two threads or more, split at the median (nth_element) and sort the halves side by side. Keys
  // are unique, so the order is the same either way.
  static void sort_int_rows(IntRow* rows, std::size_t n, unsigned threads) {
    auto by_key = [](const IntRow& x, const IntRow& y) { return x.key < y.key; };
    constexpr std::size_t kSplitFrom = 1u << 16;
    if (threads < 2 || n < kSplitFrom) {
      std::sort(rows, rows + n, by_key);
      return;
    }
    IntRow* mid = rows + n / 2;
    std::nth_element(rows, mid, rows + n, by_key);
    std::thread other([&] { std::sort(rows, mid, by_key); });
    std::sort(mid, rows + n, by_key);
    other.join();
  }

  // Makes the objects of the groups at(begin) .. at(end - 1) into `text`, each ending at its
  // entry of `ends`.
  template <class At>
  bool make_objects(const At& at, std::size_t begin, std::size_t end, std::string& text,
                    std::vector<std::size_t>& ends, std::string* error) const {
    constexpr std::size_t kAhead = 8;  // groups are read in key order, not memory order: prefetch
    text.clear();
    ends.clear();
    for (std::size_t i = begin; i < end; ++i) {
      if (i + kAhead < end) {
        const char* next = reinterpret_cast<const char*>(at(i + kAhead));
        for (std::size_t line = 0; line < layout_.size; line += 64) __builtin_prefetch(next + line);
      }
      if (!append_object(*at(i), text, nullptr, error)) return false;
      ends.push_back(text.size());
    }
    return true;
  }

  // Writes the objects of the groups rows(0) .. rows(count - 1), in that order. With more than one thread, a
  // helper makes every other chunk of objects while this thread makes the others and writes
  // them all: reading a million groups in key order is mostly waiting for memory, and the CPU
  // workers are idle by now.
  template <class At>
  bool write_rows(const At& rows, std::size_t count, const Emit& emit, unsigned threads,
                  std::string* error) const {
    constexpr std::size_t kChunk = 1024, kRing = 4;
    const std::size_t chunks = (count + kChunk - 1) / kChunk;
    std::string text;
    std::vector<std::size_t> ends;
    auto write = [&emit](const std::string& t, const std::vector<std::size_t>& e) {
      std::size_t at = 0;
      for (std::size_t end : e) {
        emit(std::string_view(t.data() + at, end - at));
        at = end;
      }
    };
    if (threads < 2 || chunks < 4) {
      for (std::size_t c = 0; c < chunks; ++c) {
        if (!make_objects(rows, c * kChunk, std::min(count, (c + 1) * kChunk), text, ends, error)) return false;
        write(text, ends);
      }
      return true;
    }
    struct Made {
      std::string text;
      std::vector<std::size_t> ends;
      bool ready = false;  // made, not yet written
    };
    std::array<Made, kRing> ring;
    std::mutex mu;
    std::condition_variable cv;
    bool quit = false, failed = false;
    std::string helper_error;
    std::thread helper([&] {
      for (std::size_t c = 1; c < chunks; c += 2) {
        Made& m = ring[(c / 2) % kRing];
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return !m.ready || quit; });
          if (quit) return;
        }
        std::string err;
        bool ok = make_objects(rows, c * kChunk, std::min(count, (c + 1) * kChunk), m.text, m.ends, &err);
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!ok) {
            failed = true;
            helper_error = std::move(err);
          }
          m.ready = true;
        }
        cv.notify_all();
        if (!ok) return;
      }
    });
    bool ok = true;
    for (std::size_t c = 0; c < chunks && ok; ++c) {
      if (c % 2 == 0) {
        ok = make_objects(rows, c * kChunk, std::min(count, (c + 1) * kChunk), text, ends, error);
        if (ok) write(text, ends);
        continue;
      }
      Made& m = ring[(c / 2) % kRing];
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return m.ready; });
        if (failed) {
          *error = helper_error;
          ok = false;
          break;
        }
      }
      write(m.text, m.ends);
      {
        std::lock_guard<std::mutex> lock(mu);
        m.ready = false;
      }
      cv.notify_all();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      quit = true;
    }
    cv.notify_all();
    helper.join();
    return ok;
  }

  // For --sort: every group's object, and the value of the sort expression on it.
  bool sort_values_of(const agg::HugeVector<Group*>& groups, std::vector<expr::Value>* sort_values,
                      simdjson::dom::parser* sort_parser, std::string* error) const {
    // Each field's value as an expression value. Parsed field by field, because an integer sum
    // beyond 64 bits prints as an integer the DOM parser refuses: it is then a double.
    const std::size_t nfields = keys_.size() + items_.size();
    std::vector<simdjson::dom::parser> field_parsers(nfields);
    std::vector<std::pair<std::size_t, std::size_t>> spans(nfields);
    std::vector<expr::Member> members(nfields);
    expr::Scratch scratch;
    std::string texts = "[";
    std::string obj;
    for (const auto& g : groups) {
      obj.clear();
      if (!append_object(*g, obj, &spans, error)) return false;
      for (std::size_t f = 0; f < nfields; ++f) {
        members[f].key = f < keys_.size() ? std::string_view(keys_[f].name)
                                           : std::string_view(items_[f - keys_.size()].name);
        std::string_view text(obj.data() + spans[f].first, spans[f].second - spans[f].first);
        simdjson::dom::element e;
        if (field_parsers[f].parse(text.data(), text.size(), true).get(e) == simdjson::SUCCESS) {
          members[f].value = expr::Value::from_dom(e);
        } else {
          members[f].value = expr::Value::number(std::strtod(std::string(text).c_str(), nullptr));
        }
      }
      expr::Value object = expr::Value::object(members.data(), static_cast<std::uint32_t>(nfields));
      expr::Result r = expr::evaluate_value(*sort_, object, scratch);
      if (r.outcome == expr::Outcome::kError) {
        *error = fmt::format("agg: --sort {}: {}", expr::source_text(*sort_), expr::error_message(scratch));
        return false;
      }
      if (texts.size() > 1) texts.push_back(',');
      if (r.outcome == expr::Outcome::kValue) expr::append_json(r.value, texts);
      else texts += "null";
    }
    texts.push_back(']');
    simdjson::dom::array arr;
    // (jq writes a double past 64 bits as its digits, 18446744073709552000, which simdjson refuses:
    // read as the same double; found by a bug hunt: "internal error" and no output.)
    texts = readable_by_simdjson(texts);
    if (sort_parser->parse(texts).get_array().get(arr) != simdjson::SUCCESS) {
      *error = "agg: internal error: --sort values do not parse";
      return false;
    }
    for (simdjson::dom::element e : arr) sort_values->push_back(expr::Value::from_dom(e));
    return sort_values->size() == groups.size();
  }

  // The distinct expressions of the keys and arguments (by source text), in order of first use,
  // and the leading keys of those that are paths, for one lookup_members scan per record.
  void plan_evaluation() {
    std::vector<std::string_view> leads;
    auto use = [&](const std::shared_ptr<const expr::Program>& program, std::string what) {
      for (std::size_t e = 0; e < exprs_.size(); ++e)
        if (expr::source_text(*exprs_[e].program) == expr::source_text(*program)) return e;
      Expression x{program, std::move(what), kNoLead, expr::is_single_field(*program)};
      std::string_view lead = expr::leading_key(*program);
      if (!lead.empty()) {
        auto it = std::find(leads.begin(), leads.end(), lead);
        if (it != leads.end()) x.lead = static_cast<std::size_t>(it - leads.begin());
        else if (leads.size() < expr::kMaxMembers) {
          x.lead = leads.size();
          leads.push_back(lead);
        }
      }
      exprs_.push_back(std::move(x));
      return exprs_.size() - 1;
    };
    for (std::size_t k = 0; k < keys_.size(); ++k) key_expr_.push_back(use(key_programs_[k], "--group-by " + keys_[k].expr));
    for (std::size_t a = 0; a < items_.size(); ++a)
      arg_expr_.push_back(arg_programs_[a] ? use(arg_programs_[a], items_[a].text) : kNoLead);
    lead_keys_ = expr::MemberKeys(std::move(leads));
  }

  std::string spec_;
  bool partial_;
  std::vector<KeySpec> keys_;
  std::vector<std::shared_ptr<const expr::Program>> key_programs_;
  std::vector<AggItemSpec> items_;
  std::vector<std::shared_ptr<const expr::Program>> arg_programs_;  // nullptr for `count`
  std::shared_ptr<const expr::Program> sort_;
  bool sort_descending_ = false;  // --sort -PATH: by PATH, largest first (ties by key, smallest first)
  std::optional<std::uint64_t> top_;
  std::uint64_t max_groups_;
  std::uint64_t max_values_;
  std::vector<std::size_t> holding_;  // the items that keep values (percentiles, count_distinct, collect)
  std::vector<std::size_t> collects_;  // the collect items (the only aggregates that can fail: --collect-limit)
  GroupLayout layout_;
  std::vector<std::string> field_prefix_;  // `"name":` of each key and aggregate, after a ',' but the first
  mutable std::atomic<std::size_t> batch_groups_hint_{0};  // groups in the last batch merged
  // Stores of merged batches, for new ones (new_partial on the workers, merge on the writer).
  static constexpr std::size_t kMaxSpare = 64;
  mutable std::mutex spare_mu_;
  mutable std::vector<std::unique_ptr<GroupStore>> spare_;
  // The evaluation plan (plan_evaluation).
  static constexpr std::size_t kNoLead = static_cast<std::size_t>(-1);
  struct Expression {
    std::shared_ptr<const expr::Program> program;
    std::string what;  // for messages: "--group-by .host", "avg(.latency_ms)"
    std::size_t lead;  // index in lead_keys_, or kNoLead
    bool single_field;  // the program is `.KEY`: its value is the member
  };
  std::vector<Expression> exprs_;
  expr::MemberKeys lead_keys_;  // views into the programs
  std::vector<std::size_t> key_expr_;        // key k -> exprs_ index
  std::vector<std::size_t> arg_expr_;        // argument a -> exprs_ index (kNoLead: `count`)
};


// The stage from its options' texts (agg's command line, or the spec a partial line carries).
std::unique_ptr<AggStage> build_agg(const std::string& group_by, const std::string& agg_list, const std::string& sort_text,
                                    std::optional<std::uint64_t> top, std::uint64_t collect_limit,
                                    AggLimits limits, bool partial, std::string* error) {
  // A syntax error is reported as one, before any question of names.
  auto compiles = [](const char* option) {
    return [option](std::string_view expr, std::string* err) {
      return compile_expression(option, std::string(expr), err) != nullptr;
    };
  };
  auto keys = agg::parse_group_by(group_by, error, compiles("--group-by"));
  if (!keys) return nullptr;
  auto items = agg::parse_agg_list(agg_list, collect_limit, error, compiles("--agg"));
  if (!items) return nullptr;
  for (const auto& item : *items)
    for (const auto& k : *keys)
      if (k.name == item.name) {
        *error = fmt::format("--agg: '{}' has the name of a key ('{}'): rename one with 'as NAME'", item.text, k.name);
        return nullptr;
      }
  for (std::size_t i = 0; i < items->size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if ((*items)[i].name == (*items)[j].name) {
        *error = fmt::format("--agg: two aggregates named '{}': rename one with 'as NAME'", (*items)[i].name);
        return nullptr;
      }
  std::vector<std::shared_ptr<const expr::Program>> key_programs, arg_programs;
  for (const auto& k : *keys) {
    auto p = compile_expression("--group-by", k.expr, error);
    if (!p) return nullptr;
    key_programs.push_back(std::move(p));
  }
  for (const auto& item : *items) {
    if (item.expr.empty()) {
      arg_programs.push_back(nullptr);
      continue;
    }
    auto p = compile_expression("--agg", item.expr, error);
    if (!p) return nullptr;
    arg_programs.push_back(std::move(p));
  }
  std::shared_ptr<const expr::Program> sort;
  bool sort_descending = false;
  if (!sort_text.empty()) {
    // `-PATH` (-.count, -.p99_latency_ms): descending by the path's value in jq's order, so that a
    // group without a value (null) or a string sorts too (jq's `-null` is an error, which would
    // lose the whole result for one empty group). Any other expression sorts ascending.
    std::string_view t = sort_text;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (t.size() > 1 && t.front() == '-' && !agg::last_path_name(t.substr(1)).empty()) {
      sort_descending = true;
      t.remove_prefix(1);
    }
    sort = compile_expression("--sort", std::string(t), error);
    if (!sort) return nullptr;
  }
  // The spec, normalized: every item with its name.
  std::string gb, al;
  for (const auto& k : *keys) gb += (gb.empty() ? "" : ", ") + k.expr + " as " + agg::spec_name(k.name);
  for (const auto& i : *items) al += (al.empty() ? "" : ", ") + i.text + " as " + agg::spec_name(i.name);
  std::string spec = "{\"group_by\":";
  append_json_string_jq(spec, gb);
  spec += ",\"agg\":";
  append_json_string_jq(spec, al);
  spec += ",\"sort\":";
  append_json_string_jq(spec, sort_text);
  spec += top ? fmt::format(",\"top\":{}", *top) : std::string(",\"top\":null");
  spec += fmt::format(",\"collect_limit\":{}}}", collect_limit);
  return std::make_unique<AggStage>(std::move(*keys), std::move(key_programs), std::move(*items),
                                    std::move(arg_programs), std::move(sort), sort_descending, top, limits, std::move(spec),
                                    partial);
}

// --max-groups and --max-values (agg and merge declare both).
std::optional<AggLimits> agg_limits(const StageArgs& args, std::string* error) {
  auto max_groups = args.count("--max-groups", error);
  if (!max_groups) return std::nullopt;
  if (*max_groups == 0) {
    *error = "--max-groups must be at least 1";
    return std::nullopt;
  }
  auto max_values = args.count("--max-values", error);
  if (!max_values) return std::nullopt;
  return AggLimits{*max_groups, *max_values};
}

std::unique_ptr<Stage> make_agg_stage(const StageArgs& args, std::string* error) {
  auto collect_limit = args.count("--collect-limit", error);
  if (!collect_limit) return nullptr;
  auto limits = agg_limits(args, error);
  if (!limits) return nullptr;
  std::optional<std::uint64_t> top;
  if (!args.value("--top").empty()) {
    top = args.count("--top", error);
    if (!top) return nullptr;
  }
  return build_agg(args.value("--group-by"), args.value("--agg"), args.value("--sort"), top, *collect_limit,
                   *limits, args.has("--partial"), error);
}


// ---- merge: finishes the partial lines of `agg --partial` runs ----

constexpr StageOption kMergeOptions[] = {
    {"--max-groups", OptionKind::kValue, "N", kMaxGroupsDefault,
     kMaxGroupsHelp, false},
    {"--max-values", OptionKind::kValue, "N", kMaxValuesDefault, kMaxValuesHelp, false},
    {"--partial", OptionKind::kFlag, nullptr, nullptr,
     "write the merged partial states instead of the results, for a further merge (a merge of merges)", false},
};

constexpr const char* kMergeHelp =
    "  Reads the partial lines that `agg --partial` writes (each carries the spec and a format\n"
    "  version) and finishes them as the single run would have: merge(partial(part 1) ...\n"
    "  partial(part k)) is byte-identical to agg on the whole input, for any split at record\n"
    "  boundaries, when the parts are given in input order (first/last/collect follow it).\n"
    "  A line of another format version, or not a partial line, goes to the error stream (naming\n"
    "  the file and line) and the run then ends without a result (exit 3). So does a line of another\n"
    "  spec than the lines before it (when the two are in different batches, as in different files,\n"
    "  the run ends with a message naming the later one's file and line instead).\n"
    "  With --partial it writes the merged partial states instead, for a merge of merges\n"
    "  (tree-shaped reductions): merge(merge --partial of parts 1-2, of parts 3-5) is the same\n"
    "  as merge of parts 1-5.\n"
    "  Example: ppipe --stages merge part1.partial part2.partial\n";

struct MergePartial final : Partial {
  std::shared_ptr<const AggStage> stage;  // from the spec of the first line
  AggPartial inner;
  std::uint64_t refused = 0;              // lines refused (in this partial and the ones merged in)
  std::string conflict;                   // partials of two specs met in merge()
  std::string first_at;                   // "FILE line N" of its first line (for a conflict's message)
};

struct MergeState final : StageState {
  std::string spec;
  std::shared_ptr<const AggStage> stage;
};

class MergeStage final : public FinishingStage {
 public:
  MergeStage(AggLimits limits, bool partial) : limits_(limits), partial_(partial) {}
  std::string_view name() const override { return "merge"; }
  Output output() const override { return Output::kJson; }
  bool needs_parsed() const override { return true; }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<MergeState>(); }
  std::unique_ptr<Partial> new_partial() const override { return std::make_unique<MergePartial>(); }

  Verdict accumulate(Record& rec, WorkerScratch& s, StageState* state, Partial& into) const override {
    auto& p = static_cast<MergePartial&>(into);
    if (!accumulate_line(rec, s, static_cast<MergeState&>(*state), p)) {
      ++p.refused;
      return Verdict::kError;
    }
    return Verdict::kPass;
  }

  // The memory guards of the groups merged so far (--max-groups, --max-values, --collect-limit),
  // in merge's name (the agg inside it said "agg:").
  std::string failure(const Partial& all) const override {
    const auto& p = static_cast<const MergePartial&>(all);
    return p.stage ? as_merge(p.stage->failure(p.inner)) : std::string();
  }
  static std::string as_merge(std::string message) {
    if (message.rfind("agg: ", 0) == 0) message.replace(0, 3, "merge");
    // merge takes no --collect-limit: the limit came with the partials (found by a bug hunt).
    constexpr std::string_view kRaise = "(raise --collect-limit)";
    if (const std::size_t at = message.find(kRaise); at != std::string::npos)
      message.replace(at, kRaise.size(),
                      "(the limit came with the partial lines: run the parts' agg --partial again with a larger "
                      "--collect-limit)");
    return message;
  }

  void merge(Partial& into, Partial& later) const override {
    auto& a = static_cast<MergePartial&>(into);
    auto& b = static_cast<MergePartial&>(later);
    a.refused += b.refused;
    if (a.conflict.empty()) a.conflict = b.conflict;
    if (!b.stage) return;
    if (!a.stage) {
      a.stage = b.stage;
    } else if (a.stage->spec() != b.stage->spec()) {
      if (a.conflict.empty())
        a.conflict = fmt::format("{}: a partial of another spec: {} (the earlier lines have {})", b.first_at,
                                 b.stage->spec(), a.stage->spec());
      return;
    }
    a.stage->merge(a.inner, b.inner);
  }

  bool finish(Partial& all, const Emit& emit, const FinishContext& context, std::string* error) const override {
    auto& p = static_cast<MergePartial&>(all);
    if (!p.conflict.empty()) {
      *error = "merge: " + p.conflict;
      return false;
    }
    // A line refused here, or one that failed before (a partial cut short does not parse): the
    // result would lack it, so there is none (exit 3), rather than a smaller one.
    if (const std::uint64_t refused = std::max<std::uint64_t>(p.refused, context.errors)) {
      *error = fmt::format("merge: {} line{} refused (see the error stream); no result written", refused,
                           refused == 1 ? " was" : "s were");
      return false;
    }
    if (!p.stage) return true;
    if (p.stage->finish_as(p.inner, emit, error, partial_, context)) return true;
    *error = as_merge(std::move(*error));
    return false;
  }

 private:
  bool accumulate_line(Record& rec, WorkerScratch& s, MergeState& st, MergePartial& p) const {
    simdjson::dom::element doc, version, spec, key, states;
    if (!rec.doc(s, &doc)) return false;
    if (!doc.is_object() || doc["ppipe_agg_partial"].get(version) != simdjson::SUCCESS) {
      s.error = "not a partial line of agg --partial (no \"ppipe_agg_partial\" field)";
      return false;
    }
    if (!version.is_int64() || version.get_int64().value_unsafe() != kPartialFormat) {
      std::string v;
      expr::append_json(expr::Value::from_dom(version), v);
      s.error = fmt::format("partial format version {}; this ppipe reads version {}", v, kPartialFormat);
      return false;
    }
    if (doc["spec"].get(spec) != simdjson::SUCCESS || !spec.is_object() ||
        doc["key"].get(key) != simdjson::SUCCESS || doc["states"].get(states) != simdjson::SUCCESS) {
      s.error = "malformed partial line: it needs \"spec\", \"key\" and \"states\"";
      return false;
    }
    std::string spec_text;
    expr::append_json(expr::Value::from_dom(spec), spec_text);
    if (spec_text != st.spec || !st.stage) {
      auto stage = stage_of(spec, &s.error);
      if (!stage) return false;
      st.spec = spec_text;
      st.stage = std::move(stage);
    }
    if (!p.stage) {
      p.stage = st.stage;
      p.first_at = fmt::format("{} line {}", rec.source(), rec.line());
    } else if (p.stage->spec() != st.stage->spec()) {
      s.error = fmt::format("a partial of another spec: {} (the earlier lines have {})", st.stage->spec(),
                            p.stage->spec());
      return false;
    }
    // Parts in input order: the line's (batch seq, line) is monotone across the inputs.
    std::uint64_t part = (rec.seq() << 32) | (rec.line() & 0xffffffffu);
    return p.stage->add_partial(p.inner, key, states, part, &s.error);
  }

  std::shared_ptr<const AggStage> stage_of(simdjson::dom::element spec, std::string* error) const {
    std::string_view group_by, agg_list, sort;
    std::uint64_t collect_limit = 0;
    simdjson::dom::element top;
    if (spec["group_by"].get(group_by) != simdjson::SUCCESS || spec["agg"].get(agg_list) != simdjson::SUCCESS ||
        spec["sort"].get(sort) != simdjson::SUCCESS || spec["collect_limit"].get(collect_limit) != simdjson::SUCCESS ||
        spec["top"].get(top) != simdjson::SUCCESS) {
      *error = "malformed partial line: its spec needs group_by, agg, sort, top and collect_limit";
      return nullptr;
    }
    std::optional<std::uint64_t> top_n;
    if (!top.is_null()) {
      std::uint64_t n = 0;
      if (top.get(n) != simdjson::SUCCESS) {
        *error = "malformed partial line: spec.top";
        return nullptr;
      }
      top_n = n;
    }
    std::string err;
    auto stage = build_agg(std::string(group_by), std::string(agg_list), std::string(sort), top_n, collect_limit,
                           limits_, false, &err);
    if (!stage) {
      *error = "a partial line with a bad spec: " + err;
      return nullptr;
    }
    return std::shared_ptr<const AggStage>(std::move(stage));
  }

  AggLimits limits_;
  bool partial_;
};

std::unique_ptr<Stage> make_merge_stage(const StageArgs& args, std::string* error) {
  auto limits = agg_limits(args, error);
  if (!limits) return nullptr;
  return std::make_unique<MergeStage>(*limits, args.has("--partial"));
}

}  // namespace

extern const StageInfo kAggStageInfo = {
    "agg", "group records and compute exact aggregates (count, sum, avg, pNN, ...), written when the input ends",
    kAggHelp, kAggOptions, make_agg_stage};

}  // namespace ppipe

namespace ppipe {
extern const StageInfo kMergeStageInfo = {
    "merge", "finish the partial lines of agg --partial runs (as the single run would)", kMergeHelp, kMergeOptions,
    make_merge_stage};
}  // namespace ppipe
