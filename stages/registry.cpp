#include "stages/registry.h"

#include <charconv>

#include <fmt/format.h>

#include "src/util/text_util.h"

namespace ppipe {

// Each stage's declarations live in its own file.
extern const StageInfo kParseStageInfo;   // stages/parse.cpp
extern const StageInfo kFilterStageInfo;  // stages/expr_stages.cpp
extern const StageInfo kMapStageInfo;     // stages/expr_stages.cpp
extern const StageInfo kHeadStageInfo;    // stages/head.cpp
extern const StageInfo kTailStageInfo;    // stages/tail.cpp
extern const StageInfo kUniqStageInfo;    // stages/uniq.cpp
extern const StageInfo kAggStageInfo;     // stages/agg/agg_stage.cpp
extern const StageInfo kMergeStageInfo;   // stages/agg/agg_stage.cpp
extern const StageInfo kExecStageInfo;    // stages/exec/exec_stage.cpp

const StageTable& stage_table() {
  static const StageTable table = {
      &kParseStageInfo,
      &kFilterStageInfo,
      &kMapStageInfo,
      &kHeadStageInfo,
      &kTailStageInfo,
      &kUniqStageInfo,
      &kAggStageInfo,
      &kMergeStageInfo,
      &kExecStageInfo,
  };
  return table;
}

const StageInfo* find_stage(std::string_view name, const StageTable& table) {
  for (const StageInfo* s : table)
    if (name == s->name) return s;
  return nullptr;
}

std::pair<const StageInfo*, const StageOption*> find_stage_option(std::string_view flag, const StageTable& table) {
  for (const StageInfo* s : table)
    for (const StageOption& o : s->options)
      if (flag == o.flag) return {s, &o};
  return {nullptr, nullptr};
}

bool is_shared_option(std::string_view flag, const StageTable& table) {
  int n = 0;
  for (const StageInfo* s : table)
    for (const StageOption& o : s->options) n += flag == o.flag;
  return n > 1;
}

std::string shared_option_stages(std::string_view flag, const StageTable& table) {
  std::string out;
  for (const StageInfo* s : table)
    for (const StageOption& o : s->options)
      if (flag == o.flag) out += (out.empty() ? "" : ", ") + std::string(s->name);
  return out;
}

// ---- StageArgs ----

StageArgs::StageArgs(StageOptions options) {
  for (const StageOption& o : options)
    if (o.kind == OptionKind::kValue && o.default_value) entries_.push_back({o.flag, o.default_value, false});
}

const StageArgs::Entry* StageArgs::find(std::string_view flag) const {
  for (const Entry& e : entries_)
    if (e.flag == flag) return &e;
  return nullptr;
}

void StageArgs::set(std::string_view flag, std::string value) {
  for (Entry& e : entries_) {
    if (e.flag == flag) {
      e.value = std::move(value);
      e.given = true;
      return;
    }
  }
  entries_.push_back({std::string(flag), std::move(value), true});
}

bool StageArgs::has(std::string_view flag) const { return find(flag) != nullptr; }

bool StageArgs::given(std::string_view flag) const {
  const Entry* e = find(flag);
  return e && e->given;
}

const std::string& StageArgs::value(std::string_view flag) const {
  static const std::string kNone;
  const Entry* e = find(flag);
  return e ? e->value : kNone;
}

std::optional<std::uint64_t> StageArgs::count(std::string_view flag, std::string* error) const {
  const std::string& v = value(flag);
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range && p == v.data() + v.size()) {
    *error = fmt::format("{} {} is too large (at most {})", flag, v, UINT64_MAX);
    return std::nullopt;
  }
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    *error = fmt::format("{} needs a non-negative integer, got '{}'", flag, v);
    return std::nullopt;
  }
  return n;
}

std::optional<std::uint64_t> StageArgs::size(std::string_view flag, std::uint64_t max, std::string* error) const {
  const std::string& v = value(flag);
  auto n = parse_size(v);
  if (!n || *n > max) {
    std::string limit = std::to_string(max);
    for (auto [shift, suffix] : {std::pair{30, "G"}, {20, "M"}, {10, "K"}}) {
      if (max >= (1ull << shift) && max % (1ull << shift) == 0) {
        limit = fmt::format("{}{}", max >> shift, suffix);
        break;
      }
    }
    *error = fmt::format("{} '{}': expected a size from 1 to {}, like 64K or 1M", flag, v, limit);
    return std::nullopt;
  }
  return n;
}

// ---- text built from the declarations ----

std::string stage_usage(const StageInfo& stage) {
  std::string out = stage.name;
  for (const StageOption& o : stage.options) {
    std::string word = o.kind == OptionKind::kFlag ? std::string(o.flag) : fmt::format("{} {}", o.flag, o.arg_name);
    bool optional = o.kind == OptionKind::kFlag || o.default_value;
    out += optional ? fmt::format(" [{}]", word) : " " + word;
  }
  return out;
}

namespace {

std::string option_words(const StageOption& o) {
  return o.kind == OptionKind::kFlag ? std::string(o.flag) : fmt::format("{} {}", o.flag, o.arg_name);
}

std::string option_meaning(const StageOption& o) {
  std::string s = o.help;
  if (o.kind == OptionKind::kValue && o.default_value && *o.default_value)
    s += fmt::format(" (default {})", o.default_value);
  return s;
}

}  // namespace

std::string stage_help(const StageInfo& stage) {
  std::string out = stage_usage(stage) + "\n" + stage.help;
  if (stage.options.size() > 1) {
    std::size_t width = 0;
    for (const StageOption& o : stage.options) width = std::max(width, option_words(o).size());
    out += "  Options:\n";
    for (const StageOption& o : stage.options)
      out += fmt::format("    {:<{}}  {}\n", option_words(o), width, option_meaning(o));
  }
  return out;
}

std::string stages_markdown(const StageTable& table) {
  // Inside a Markdown table cell a '|' must be escaped.
  auto cell = [](std::string s) {
    std::string out;
    for (char c : s) {
      if (c == '|') out += '\\';
      out += c;
    }
    return out;
  };
  std::string out =
      "| stage option | stage | meaning |\n"
      "|---|---|---|\n";
  for (const StageInfo* s : table) {
    for (const StageOption& o : s->options) {
      std::string meaning = option_meaning(o);
      if (is_shared_option(o.flag, table)) {
        meaning += fmt::format(" (shared by {}: given once, it configures each of them; does not add a stage)",
                               shared_option_stages(o.flag, table));
      } else if (!o.creates_stage) {
        meaning += o.kind == OptionKind::kValue && !o.default_value ? " (required; does not add a stage)"
                                                                    : " (does not add a stage)";
      }
      out += fmt::format("| `{}` | `{}` | {} |\n", cell(option_words(o)), s->name, cell(meaning));
    }
  }
  out +=
      "\n"
      "### Stages\n"
      "\n"
      "| stage | what it does |\n"
      "|---|---|\n";
  for (const StageInfo* s : table) out += fmt::format("| `{}` | {} |\n", s->name, cell(s->summary));
  return out;
}

bool is_expression_error(std::string_view message) {
  // "error in --filter expression: ...": a flag, then " expression"; "error in --map-file F
  // expression: ..." too (a file name between: it got the stage's help, not the expression's).
  static constexpr std::string_view kPrefix = "error in --";
  if (message.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::size_t colon = message.find(": ");
  static constexpr std::string_view kEnd = " expression";
  return colon != std::string_view::npos && colon >= kEnd.size() &&
         message.substr(colon - kEnd.size(), kEnd.size()) == kEnd;
}

std::unique_ptr<Stage> make_stage(std::string_view name,
                                  std::initializer_list<std::pair<std::string_view, std::string_view>> values,
                                  std::string* error) {
  const StageInfo* info = find_stage(name);
  if (!info) {
    *error = fmt::format("unknown stage '{}'", name);
    return nullptr;
  }
  StageArgs args(info->options);
  for (auto [flag, value] : values) {
    bool declared = false;
    for (const StageOption& o : info->options) declared = declared || flag == o.flag;
    if (!declared) {
      *error = fmt::format("stage '{}' has no option {}", name, flag);
      return nullptr;
    }
    args.set(flag, std::string(value));
  }
  for (const StageOption& o : info->options) {
    if (o.kind == OptionKind::kValue && !args.has(o.flag)) {
      *error = fmt::format("stage '{}' needs its option {}", name, o.flag);
      return nullptr;
    }
  }
  return info->make(args, error);
}

}  // namespace ppipe
