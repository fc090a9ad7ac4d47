#include "src/cli/options.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <iostream>
#include <iterator>
#include <thread>

#include <CLI/CLI.hpp>
#include <simdjson.h>
#include <fmt/format.h>

#include "src/cli/config_file.h"
#include "src/cli/docgen.h"
#include "src/cli/markdown.h"
#include "src/expr/expr.h"
#include "src/io/formats.h"
#include "src/io/output_format.h"
#include "src/io/reader.h"
#include "src/util/json_string.h"
#include "src/util/text_util.h"
#include "stages/expr_eval.h"
#include "stages/registry.h"

namespace ppipe {

extern const char* const kExprDoc;   // docs/expr.md, generated into the build
extern const char* const kGitCommit;  // cmake/git_commit.cmake: "" when not built from a checkout

namespace {

constexpr std::uint64_t kMaxBatchSize = 256ull << 20;
constexpr std::uint64_t kMaxRecordLimit = 1ull << 30;

// "parse, filter" -> {"parse", "filter"}: items split at commas, blanks around them dropped (not
// inside one: `p a r s e` ran parse).
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t first = item.find_first_not_of(" \t");
    item = first == std::string::npos ? std::string() : item.substr(first, item.find_last_not_of(" \t") - first + 1);
    out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::string stage_list_text() {
  std::string s = "Stages:\n";
  for (const StageInfo* st : stage_table()) s += fmt::format("  {:<8} {}\n", st->name, st->summary);
  return s;
}

std::string usage_footer() { return "Run 'ppipe --help' for usage, 'ppipe help STAGE' for a stage.\n"; }

}  // namespace

std::string chain_text() {
  return "The chain: without --stages, 'parse' followed by one stage per stage option, in\n"
         "command-line order: ppipe --filter A --map B --head 5 f  runs  parse,filter,map,head.\n"
         "An option that only configures a stage (a flag) adds its stage where it first appears,\n"
         "unless an option that runs that stage is given. With --stages too, the n-th occurrence\n"
         "of a stage option configures the n-th stage of its kind, and 'parse' is added before\n"
         "the first stage that reads JSON (filter, map) if none comes before. An option several\n"
         "stages declare with one meaning (--max-groups: uniq, agg, merge) is given once and configures\n"
         "each of them in the chain; it adds no stage. With --config FILE, the file's stage options\n"
         "come first, in the file's order, then the command line's; a key given on the command line\n"
         "replaces all of that key's values in the file. --print-config writes the chain as 'stages'.\n";
}

namespace {

int print_help_topic(int argc, char** argv) {
  const std::string first = argc >= 3 ? argv[2] : "";
  if (argc < 3 || first == "--help" || first == "-h") {  // (`help --help` said "no help for '--help'")
    std::cout << "Usage: ppipe help STAGE|expr\n\n" << stage_list_text()
              << "\nexpr     the expression language of filter and map\n";
    return kExitOk;
  }
  std::string topic = argv[2];
  // One topic: `help head extra` ignored `extra`. (--completion takes its shell after it.)
  if (argc > 3 && topic != "--completion") {
    std::cerr << "ppipe: help takes one topic, got '" << topic << "' and '" << argv[3] << "'\n"
              << "Usage: ppipe help STAGE|expr\n";
    return kExitUsage;
  }
  if (topic == "--markdown-stages") {
    // Not in --help: the README's stage tables are this output (tests/e2e/checks/55-readme-stages.sh).
    std::cout << stages_markdown();
    return kExitOk;
  }
  // Not in --help either: the build writes the man page and the shell completions with these
  // (CMakeLists.txt), from the same declarations as --help.
  if (topic == "--man") {
    std::cout << man_page();
    return kExitOk;
  }
  if (topic == "--completion") {
    std::string error;
    std::string script = argc >= 4 ? completion_script(argv[3], &error) : "";
    if (argc < 4) error = "ppipe help --completion needs a shell: bash, zsh or fish";
    if (!error.empty()) {
      std::cerr << "ppipe: " << error << "\n";
      return kExitUsage;
    }
    std::cout << script;
    return kExitOk;
  }
  if (topic == "expr") {
    std::cout << render_markdown_for_terminal(kExprDoc);
    return kExitOk;
  }
  if (const StageInfo* st = find_stage(topic)) {
    std::cout << stage_help(*st);
    return kExitOk;
  }
  std::vector<std::string> names{"expr"};
  for (const StageInfo* st : stage_table()) names.push_back(st->name);
  std::string near = nearest_name(topic, names);
  std::cerr << "ppipe: no help for '" << topic << "'"
            << (near.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", near)) << "\n\n"
            << stage_list_text();
  return kExitUsage;
}

// jq's flags, for jq users who reach for them: what ppipe does instead.
struct JqFlag {
  const char* short_name;  // "" if none
  const char* long_name;
  const char* why;
};
constexpr JqFlag kJqFlags[] = {
    {"-s", "--slurp",
     "ppipe streams records one by one; to aggregate over all records use an aggregation stage "
     "(e.g. --agg 'count, sum(.bytes)', optionally --group-by .host); --filter and --map need no -s"},
    {"-c", "--compact-output", "output is compact JSON Lines already; drop -c"},
    {"-n", "--null-input", "running without input is not supported; ppipe reads records from FILEs or stdin"},
    {"-e", "--exit-status",
     "an exit status from the output is not supported yet; ppipe exits 0, or 1 when records went to "
     "the error stream"},
    {"-f", "--from-file", "the expression of a stage comes from a file with --map-file FILE or --filter-file FILE"},
};

// The message for an argument CLI11 did not expect: a jq flag, a typo of an option, or neither.
std::string unknown_option_message(const std::string& arg, const std::vector<std::string>& long_names) {
  std::string name = arg.substr(0, arg.find('='));
  auto jq_flag = [](std::string_view n) -> const JqFlag* {
    for (const JqFlag& f : kJqFlags)
      if (n == f.short_name || n == f.long_name) return &f;
    return nullptr;
  };
  if (const JqFlag* f = jq_flag(name))
    return fmt::format("'{}' is a jq option, not a ppipe one: {}", name, f->why);
  // jq's bundled short flags: -rc, -cr, -sc, -cj (but -filter is a typo of --filter). Its -r and
  // -j may be in the bundle too (-cr, jq's most common spelling, had no hint).
  auto in_bundle = [&](char c) { return c == 'r' || c == 'j' || jq_flag(std::string("-") + c) != nullptr; };
  if (name.size() > 2 && name[0] == '-' && name[1] != '-' && std::all_of(name.begin() + 1, name.end(), in_bundle)) {
    for (std::size_t i = 1; i < name.size(); ++i)
      if (const JqFlag* f = jq_flag(std::string("-") + name[i]))
        return fmt::format("'{}' (in '{}') is a jq option, not a ppipe one: {}", f->short_name, name, f->why);
  }
  if (name.empty() || name[0] != '-') return fmt::format("unexpected argument '{}'", arg);
  // Compared without dashes, so that -filter and --filtr both find --filter.
  std::size_t letters = name.find_first_not_of('-');
  std::string bare = letters == std::string::npos ? std::string() : name.substr(letters);
  std::vector<std::string> bare_names;
  for (const auto& n : long_names) bare_names.push_back(n.substr(2));
  std::string near = bare.empty() ? std::string() : nearest_name(bare, bare_names);
  return fmt::format("unknown option '{}'{}", name, near.empty() ? "" : fmt::format(" (did you mean '--{}'?)", near));
}

// Option names in --help as "-j, --workers" and "--progress, --no-progress", without CLI11's
// "{false}" after a negated flag.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
    if (is_positional) return CLI::Formatter::make_option_name(opt, is_positional);
    std::string out;
    for (const auto& n : opt->get_snames()) out += (out.empty() ? "-" : ", -") + n;
    for (const auto& n : opt->get_lnames()) out += (out.empty() ? "--" : ", --") + n;
    return out;
  }
};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A name made of file-name characters ending in an extension data files have: `.data.jsonl` is a
// hidden file, not the path .data.jsonl.
bool looks_like_data_file_name(std::string_view w) {
  for (char c : w)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._-+@~").find(c) == std::string_view::npos)
      return false;
  std::size_t dot = w.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  std::string ext(w.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* const kExtensions[] = {"json", "jsonl", "ndjson", "jl",  "geojson", "log", "txt", "csv",
                                            "tsv",  "gz",    "zst",    "bz2", "xz",      "lz4", "zip", "tmp"};
  for (const char* e : kExtensions)
    if (ext == e) return true;
  return false;
}

bool compiles(std::string_view source) {
  return std::holds_alternative<std::shared_ptr<const expr::Program>>(expr::compile(source));
}

// A jq function name, known to ppipe or refused by it by name ("jq function 'sort_by' is not
// supported"): anything the compiler does not call an unknown function.
bool is_function_name(std::string_view name) {
  auto result = expr::compile(std::string(name) + "(.)");
  auto* err = std::get_if<expr::CompileError>(&result);
  return err == nullptr || err->message.rfind("unknown function", 0) != 0;
}

// The hint for an expression given as FILE: `select(E)` goes to --filter as E, a test to
// --filter, anything else to --map; the example keeps the other FILEs.
std::string expression_not_file_message(const std::string& word, const std::vector<std::string>& inputs) {
  std::string option = "--map";
  std::string expression = word;
  auto ends_select = [&] {
    if (word.rfind("select(", 0) != 0 || word.back() != ')') return false;
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 6; i < word.size(); ++i) {
      char c = word[i];
      if (in_string) {
        if (c == '\\') ++i;
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        return i + 1 == word.size();
      }
    }
    return false;
  };
  if (ends_select()) {
    option = "--filter";
    expression = word.substr(7, word.size() - 8);
  } else {
    for (const char* test : {"==", "!=", "<", ">", " and ", " or ", "test(", "startswith(", "endswith(", "has(",
                             "contains("}) {
      if (word.find(test) != std::string::npos) option = "--filter";
    }
  }
  std::string example = "ppipe " + option + " " + shell_quote(expression, true);
  for (std::size_t i = 1; i < inputs.size(); ++i) example += " " + shell_quote(inputs[i]);
  return fmt::format("'{}' is not a file; expressions go in --filter or --map (e.g. {})", word, example);
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// One stage option on the command line, with the stage it belongs to.
struct Occurrence {
  const StageInfo* stage;
  const StageOption* option;
  const std::string* value;  // "" for a flag
  bool used = false;         // taken by a stage of the chain
};

// The chain without --stages: 'parse', then a stage for each occurrence of an option that creates
// one, in command-line order. An option that does not create its stage (a flag) adds it at its
// first occurrence when nothing else would: `ppipe --uniq-all f` is parse,uniq.
std::vector<std::string> default_chain(const std::vector<Occurrence>& given, const StageTable& table) {
  std::vector<std::string> names{"parse"};
  std::vector<const StageInfo*> present;
  auto is_present = [&](const StageInfo* st) {
    return std::string_view(st->name) == "parse" || std::find(present.begin(), present.end(), st) != present.end();
  };
  for (const Occurrence& oc : given)
    if (oc.option->creates_stage && !is_present(oc.stage)) present.push_back(oc.stage);
  for (const Occurrence& oc : given) {
    if (oc.option->creates_stage) {
      names.push_back(oc.stage->name);
    } else if (!is_present(oc.stage) && !is_shared_option(oc.option->flag, table)) {
      names.push_back(oc.stage->name);
      present.push_back(oc.stage);
    }
  }
  return names;
}

std::string ordinal(std::size_t n) {
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  return fmt::format("{}{}", n, suffix);
}

// What --help says of a stage option.
std::string stage_option_description(const StageInfo& st, const StageOption& so) {
  std::string text = so.help;
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  if (so.kind == OptionKind::kValue && so.default_value && *so.default_value)
    text += fmt::format(" (default {})", so.default_value);
  if (is_shared_option(so.flag, stage_table()))
    return fmt::format("{}: configures every stage of the chain that declares it: {} (see 'The chain')", text,
                       shared_option_stages(so.flag, stage_table()));
  return fmt::format("{}: {} the '{}' stage (see 'The chain')", text, so.creates_stage ? "runs" : "configures", st.name);
}

}  // namespace

bool looks_like_expression(std::string_view w) {
  if (w.empty() || w == "-" || looks_like_data_file_name(w)) return false;
  // `.name`, `.["k"]`, `."k"`, `.`; not `./x`, `../x`, `.5` (a file named like a number).
  if (w[0] == '.') return w.size() == 1 || is_name_start(w[1]) || w[1] == '[' || w[1] == '"';
  // Object and array construction: `{host, status}`, `[.a, .b]`.
  if (w[0] == '{' || w[0] == '[') return compiles(w);
  // A call: `select(...)`, `map(...)`, `test("x")`; `logs(1).json` is no call (logs is no function).
  if (is_name_start(w[0])) {
    std::size_t i = 1;
    while (i < w.size() && is_name_char(w[i])) ++i;
    std::size_t j = i;
    while (j < w.size() && w[j] == ' ') ++j;
    if (j < w.size() && w[j] == '(') return is_function_name(w.substr(0, i));
  }
  // Anything else that compiles and has an operator or a string in it: `type == "object"`,
  // `length > 3`. A file name rarely compiles: `a|b` calls the unknown function `a`.
  return w.find_first_of("|=<>!\" ") != std::string_view::npos && compiles(w);
}

unsigned usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

namespace {
// An async stage after another one or after a finishing stage: refused, with what to do instead.
std::string async_after_message(std::string_view name, std::string_view before) {
  return fmt::format("'{}' cannot come after '{}' in one chain (one exec per run, before any agg, tail or merge): "
                     "pipe two runs instead, ppipe ... --stages ...,{} | ppipe --stages {},...",
                     name, before, before, name);
}
}  // namespace

std::unique_ptr<Plan> build_plan(const Options& o, std::string* error, std::string* help_stage,
                                 const StageTable& table) {
  // --arg/--argjson: every expression of the plan sees them (set before the stages compile)
  {
    std::vector<expr::NamedArg> named;
    // A name given again keeps its first value, as jq (main.c sets one only when not yet set).
    auto seen = [&named](const std::string& name) {
      return std::any_of(named.begin(), named.end(), [&name](const expr::NamedArg& a) { return a.name == name; });
    };
    for (const auto& [name, value] : o.args) {
      if (seen(name)) continue;
      std::string json;
      append_json_string(json, value);
      named.push_back({name, json});
    }
    // Checked here, as jq checks them at its start: an expression would refuse a bad text when
    // it compiles, but a run with none would take it silently.
    expr::Scratch scratch;
    expr::Value ignored;
    for (const auto& [name, value] : o.argjson) {
      std::string why;
      if (!expr::read_value(value, scratch, ignored, &why)) {
        *error = fmt::format("--argjson {}: {}", name, why);
        return nullptr;
      }
      if (seen(name)) continue;
      named.push_back({name, value});
    }
    set_named_args(std::move(named));
  }

  auto plan = std::make_unique<Plan>();
  EngineOptions& e = plan->engine;

  // `ppipe '.type' f`, `... | ppipe 'select(.a == 1)'`: jq's habit of a leading filter. Only a
  // first FILE that does not exist is asked, so a real file is never refused.
  if (!o.inputs.empty() && looks_like_expression(o.inputs[0]) && !path_exists(o.inputs[0])) {
    *error = expression_not_file_message(o.inputs[0], o.inputs);
    return nullptr;
  }

  // The stage options given, resolved to their stage and declaration.
  std::vector<Occurrence> given;
  for (const auto& [flag, value] : o.stage_args) {
    auto [stage, option] = find_stage_option(flag, table);
    if (!stage) {
      *error = fmt::format("unknown stage option '{}'", flag);
      return nullptr;
    }
    given.push_back({stage, option, &value});
    // An empty value (`--top ''`, `--timeout=`, an unset shell variable) is no value: some options
    // took it silently as "not given" (no limit, the default). --group-by '' is one group.
    if (value.empty() && option->arg_name && flag != "--group-by") {
      *error = fmt::format("{} needs a value, got an empty one", flag);
      *help_stage = stage->name;
      return nullptr;
    }
  }

  // The chain.
  std::vector<std::string> names = o.stages_given ? o.stages : default_chain(given, table);
  plan->chain = names;
  // A shared option (declared by several stages, with one meaning) is given at most once: it
  // configures every stage of the chain that declares it.
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (!is_shared_option(given[i].option->flag, table)) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (std::string_view(given[j].option->flag) == given[i].option->flag) {
        *error = fmt::format("{} is given twice: it configures every stage that declares it ({}), so give it once",
                             given[i].option->flag, shared_option_stages(given[i].option->flag, table));
        *help_stage = given[i].stage->name;
        return nullptr;
      }
    }
  }
  if (names.empty()) {
    *error = "--stages needs at least one stage";
    return nullptr;
  }
  std::vector<std::string> all_names;
  for (const StageInfo* st : table) all_names.push_back(st->name);
  bool seen_parse = false;
  for (const auto& name : names) {
    const StageInfo* info = find_stage(name, table);
    if (!info) {
      std::string near = nearest_name(name, all_names);
      *error = name.empty() ? "empty stage name in --stages"
                            : fmt::format("unknown stage '{}'{}", name,
                                          near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
      *help_stage = "*";
      return nullptr;
    }
    // The n-th stage of this kind takes the n-th occurrence of each of its options; the options
    // not given keep their defaults.
    StageArgs args(info->options);
    for (const StageOption& option : info->options) {
      const bool shared = is_shared_option(option.flag, table);
      for (Occurrence& oc : given) {
        if (shared && std::string_view(oc.option->flag) == option.flag) {
          oc.used = true;
          args.set(option.flag, *oc.value);
          break;
        }
        if (oc.option == &option && !oc.used) {
          oc.used = true;
          args.set(option.flag, *oc.value);
          break;
        }
      }
    }
    for (const StageOption& option : info->options) {
      // (--map and --filter may come from a file instead: --map-file, --filter-file)
      if (option.kind == OptionKind::kValue && !args.has(option.flag) &&
          !args.given(std::string(option.flag) + "-file")) {
        // A second async stage (parse,exec,exec with one --exec): not a missing option, which
        // said "one per 'exec' stage" as if a second were allowed.
        for (const auto& before : plan->stages)
          if (before->name() == name && before->mode() == StageMode::kAsync) {
            *error = async_after_message(name, before->name());
            *help_stage = name;
            return nullptr;
          }
        *error = fmt::format("stage '{}' needs its option {} (one per '{}' stage)", name, option.flag, name);
        *help_stage = name;
        return nullptr;
      }
    }
    for (const StageOption& option : info->options) {
      const std::string_view flag = option.flag;
      if (flag.size() > 5 && flag.substr(flag.size() - 5) == "-file" && args.given(option.flag))
        plan->read_files.push_back(args.value(option.flag));
    }
    std::string stage_error;
    auto stage = info->make(args, &stage_error);
    if (!stage) {
      *error = stage_error;
      // An expression's error already shows the expression and a caret; the stage's help would
      // bury it, so it points to the language reference instead.
      *help_stage = is_expression_error(stage_error) ? "expr" : name;
      return nullptr;
    }
    if (stage->needs_parsed() && !seen_parse) {
      // `--stages filter`: the stage cannot run on raw lines, and 'parse' is what it needs.
      if (const StageInfo* parse = find_stage("parse", table)) {
        std::string parse_error;
        plan->stages.push_back(parse->make(StageArgs(parse->options), &parse_error));
        plan->parse_added = true;
        seen_parse = true;
      }
    }
    if (name == "parse") seen_parse = true;
    if (stage->mode() == StageMode::kAsync) {
      // The engine runs one async stage, on the workers' records; after another one or after a
      // finishing stage every record would fail at run time. Said now, with what to do instead.
      for (const auto& before : plan->stages) {
        if (before->mode() == StageMode::kAsync || before->mode() == StageMode::kFinishing) {
          *error = async_after_message(name, before->name());
          *help_stage = name;
          return nullptr;
        }
      }
    }
    plan->stages.push_back(std::move(stage));
  }
  for (std::size_t i = 0; i < given.size(); ++i) {
    const Occurrence& oc = given[i];
    if (oc.used) continue;
    const char* stage = oc.stage->name;
    std::string option = oc.option->kind == OptionKind::kFlag ? oc.option->flag
                                                              : fmt::format("{} {}", oc.option->flag, *oc.value);
    if (is_shared_option(oc.option->flag, table)) {
      *error = fmt::format("{} has no stage to configure: it configures {}, and the chain has none",
                           option, shared_option_stages(oc.option->flag, table));
    } else if (o.stages_given) {
      *error = fmt::format("{} has no '{}' stage to configure in --stages", option, stage);
    } else {
      // Only an option that does not add a stage can be left over: given more often than the
      // options that add its stage.
      std::size_t nth = 0;
      for (std::size_t k = 0; k <= i; ++k) nth += given[k].option == oc.option;
      std::string adders;
      for (const StageOption& so : oc.stage->options)
        if (so.creates_stage) adders += fmt::format("{}{}", adders.empty() ? "" : " or ", so.flag);
      *error = fmt::format("{} has no {} '{}' stage to configure: the n-th {} configures the n-th '{}' stage{}",
                           option, ordinal(nth), stage, oc.option->flag, stage,
                           adders.empty() ? "" : fmt::format(", and each {} adds one", adders));
    }
    *help_stage = stage;
    return nullptr;
  }

  // Engine.
  e.inputs = o.inputs.empty() ? std::vector<std::string>{"-"} : o.inputs;
  for (const auto& p : e.inputs) plan->source_names.push_back(source_display_name(p));
  if (o.workers_given && (o.workers < 1 || o.workers > 1024)) {
    *error = "--workers must be between 1 and 1024";
    return nullptr;
  }
  e.workers = o.workers_given ? static_cast<unsigned>(o.workers) : usable_cores();
  if (o.queue_depth_given && (o.queue_depth < 1 || o.queue_depth > 4096)) {
    *error = "--queue-depth must be between 1 and 4096";
    return nullptr;
  }
  e.queue_depth = o.queue_depth_given ? static_cast<std::size_t>(o.queue_depth)
                                      : std::max<std::size_t>(4, 4 * e.workers);
  if (o.max_errors < 0) {
    *error = "--max-errors must be a positive number (omit it for no limit)";
    return nullptr;
  }
  auto batch = parse_size(o.batch_size);
  if (!batch || *batch > kMaxBatchSize) {
    *error = fmt::format("--batch-size '{}': expected a size from 1 to 256M, like 64K or 1M", o.batch_size);
    return nullptr;
  }
  auto max_record = parse_size(o.max_record_size);
  if (!max_record || *max_record > kMaxRecordLimit) {
    *error = fmt::format("--max-record-size '{}': expected a size from 1 to 1G, like 64M", o.max_record_size);
    return nullptr;
  }
  if (!o.format.empty()) {
    if (!parse_input_format(o.format, &e.reader.format)) {
      *error = fmt::format("--format '{}': expected jsonl, json, lines, tsv or csv", o.format);
      return nullptr;
    }
  } else {
    // Implied by the names when they all agree (x.tsv, x.tsv.gz); stdin implies nothing.
    InputFormat implied = format_from_name(e.inputs[0]);
    for (const auto& p : e.inputs) {
      if (format_from_name(p) != implied) {
        *error = fmt::format("the inputs' names imply different formats ('{}' is {}, '{}' is {}): give --format",
                             e.inputs[0], input_format_name(implied), p, input_format_name(format_from_name(p)));
        return nullptr;
      }
    }
    e.reader.format = implied;
  }
  // (Like --delimiter and --fill, the format options that do nothing elsewhere are refused there.)
  if (o.no_infer && e.reader.format != InputFormat::kCsv && e.reader.format != InputFormat::kTsv) {
    *error = "--no-infer is for --format tsv or csv";
    return nullptr;
  }
  plan->infer = !o.no_infer;
  if (!o.delimiter.empty() || o.delimiter_given) {
    std::string_view d = o.delimiter;
    char c = d == "tab" || d == "\\t" ? '\t' : d.size() == 1 ? d[0] : 0;
    if (e.reader.format != InputFormat::kCsv || c == 0 || c == '"' || c == '\n' || c == '\r') {
      *error = e.reader.format != InputFormat::kCsv
                   ? std::string("--delimiter is for --format csv")
                   : fmt::format("--delimiter '{}': expected one character (or 'tab'), not a quote or a line break",
                                 o.delimiter);
      return nullptr;
    }
    e.reader.delimiter = c;
  }
  if (o.no_header && e.reader.format != InputFormat::kCsv) {
    *error = "--no-header is for --format csv";
    return nullptr;
  }
  e.reader.header = !o.no_header;
  if (o.unwrap && e.reader.format != InputFormat::kJson) {
    *error = "--unwrap is for --format json";
    return nullptr;
  }
  e.reader.unwrap = o.unwrap;
  std::string output = o.output;
  if (o.raw_output || o.join_output) {
    // (-r with --output raw0, or --join-output with --output raw, wrote the flag's format.)
    if (output != "jsonl" && output != (o.join_output ? "raw0" : "raw")) {
      *error = fmt::format("{} and --output {} do not go together", o.join_output ? "--join-output" : "--raw-output", output);
      return nullptr;
    }
    output = o.join_output ? "raw0" : "raw";
  }
  if (!parse_output_format(output, &e.output.format)) {
    *error = fmt::format("--output '{}': expected jsonl, json, pretty, csv, tsv, table, raw or raw0", output);
    return nullptr;
  }
  const bool rows = e.output.format == OutputFormat::kCsv || e.output.format == OutputFormat::kTsv ||
                    e.output.format == OutputFormat::kTable;
  if (o.fill && !rows) {
    *error = "--fill is for --output csv, tsv or table";
    return nullptr;
  }
  e.output.fill = o.fill;
  if (o.table_rows < 1 || o.table_rows > 10'000'000) {
    *error = "--table-rows must be from 1 to 10000000";
    return nullptr;
  }
  if (o.table_rows_given && e.output.format != OutputFormat::kTable) {
    *error = "--table-rows is for --output table";
    return nullptr;
  }
  e.output.table_rows = static_cast<std::size_t>(o.table_rows);
  // An --output other than jsonl reads every record as JSON. Where the chain may hand the writer
  // text nobody checked (input lines with no parse, a command's output lines), it ends with a parse:
  // a record that is not JSON goes to the error stream instead of into the output.
  if (e.output.format != OutputFormat::kJsonLines) {
    bool checked = e.reader.format != InputFormat::kJsonLines;  // decoded records: JSON ppipe wrote
    for (const auto& s : plan->stages) {
      if (s->output() == Stage::Output::kJson) checked = true;
      else if (s->output() == Stage::Output::kForeign) checked = false;
    }
    if (const StageInfo* parse = checked ? nullptr : find_stage("parse", table)) {
      std::string parse_error;
      plan->stages.push_back(parse->make(StageArgs(parse->options), &parse_error));
      plan->parse_added = true;
    }
  }
  e.reader.batch_size = static_cast<std::size_t>(*batch);
  if (!o.batch_size_given) {
    for (const auto& s : plan->stages) {
      if (std::size_t p = s->preferred_batch_size()) e.reader.batch_size = std::min(e.reader.batch_size, p);
      if (std::size_t r = s->preferred_batch_records())
        e.reader.max_records = e.reader.max_records ? std::min(e.reader.max_records, r) : r;
    }
  }
  e.reader.max_record_size = *max_record;
  e.ordered = !o.unordered;
  e.max_errors = static_cast<std::uint64_t>(o.max_errors);
  // By default on a terminal, unless the output goes to that terminal too: records written
  // between two redraws would land after the progress text, on its line.
  e.progress = o.progress.value_or(isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) != 1);
  plan->errors_path = o.errors_path;
  if (!o.stats_interval.empty()) {
    auto d = parse_duration(o.stats_interval);
    if (!d || *d < 0.01 || *d > 86400) {
      *error = fmt::format("--stats-interval '{}': expected a duration from 10ms to 24h, like 5s or 500ms",
                           o.stats_interval);
      return nullptr;
    }
    e.stats_interval = *d;
  }
  if (o.stats_file.empty()) {
    *error = "--stats-file needs a file name ('-' for stderr)";
    return nullptr;
  }
  plan->stats_path = o.stats_file;
  plan->stats = o.stats || e.stats_interval > 0 || o.stats_file != "-";
  return plan;
}

std::string version_text() {
  std::string commit = kGitCommit[0] ? fmt::format(" (commit {})", kGitCommit) : "";
  return fmt::format("ppipe {}{}\nsimdjson {}.{}.{}, kernel {} (chosen at run time for this CPU)", PPIPE_VERSION, commit,
                     int(simdjson::SIMDJSON_VERSION_MAJOR), int(simdjson::SIMDJSON_VERSION_MINOR),
                     int(simdjson::SIMDJSON_VERSION_REVISION), simdjson::get_active_implementation()->name());
}

namespace {

// CLI11's config reader for ppipe's format (src/cli/config_file.h). `check` returns "" for an entry that sets an option
// the file may set, with values it can take, else what is wrong with it ("unknown key 'x' (did you
// mean 'y'?)"); `path` gives the file's name for the messages. A syntax error or a bad entry
// throws CLI::ConfigError "FILE line N: ..." (a usage error).
class ConfigFileFormat : public CLI::Config {
 public:
  // is_flag: the key names a flag (a stage flag may have one value per occurrence: CLI11 is given
  // one, and stage_args() reads them all from entries()).
  ConfigFileFormat(std::function<std::string(const ConfigEntry&)> check, std::function<std::string()> path,
                   std::function<bool(const std::string&)> is_flag)
      : check_(std::move(check)), path_(std::move(path)), is_flag_(std::move(is_flag)) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
  // Not used: --print-config writes the file itself (CommandLine::config_text), in stage order.
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }

  // The entries of the file read (empty before), in the file's order.
  const std::vector<ConfigEntry>& entries() const { return entries_; }
  std::string path() const { return path_(); }

 private:
  std::function<std::string(const ConfigEntry&)> check_;
  std::function<std::string()> path_;
  std::function<bool(const std::string&)> is_flag_;
  mutable std::vector<ConfigEntry> entries_;  // from_config is const in CLI11's interface
};

std::vector<CLI::ConfigItem> ConfigFileFormat::from_config(std::istream& input) const {
  std::string text{std::istreambuf_iterator<char>(input), std::istreambuf_iterator<char>()};
  std::string error;
  if (!parse_config_text(text, &entries_, &error)) throw CLI::ConfigError(fmt::format("{} {}", path_(), error));
  std::vector<CLI::ConfigItem> items;
  for (const ConfigEntry& e : entries_) {
    if (std::string bad = check_(e); !bad.empty())
      throw CLI::ConfigError(fmt::format("{} line {}: {}", path_(), e.line, bad));
    CLI::ConfigItem item;
    item.name = e.key;
    item.inputs = e.values;
    if (item.inputs.size() > 1 && is_flag_(e.key)) {
      const bool any = std::any_of(e.values.begin(), e.values.end(), [](const std::string& v) {
        return config_flag_value(v).value_or(false);
      });
      item.inputs = {any ? "true" : "false"};
    }
    items.push_back(std::move(item));
  }
  return items;
}

// The command line, declared once: parse_command_line parses with it, and --help, --print-config,
// the man page and the completions (option_docs) are written from it. CLI11 keeps pointers to the
// members it fills, so a CommandLine stays where it was made.
struct CommandLine {
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  Options o;
  std::string stages;
  bool progress_flag = false;
  bool print_config = false;
  CLI::App app{"ppipe: a parallel, order-preserving stream processor for JSON Lines.\n"
               "Reads FILEs (or stdin) and runs each record through a chain of stages.\n",
               "ppipe"};
  CLI::Option* stages_opt = nullptr;
  CLI::Option* workers_opt = nullptr;
  CLI::Option* depth_opt = nullptr;
  CLI::Option* batch_opt = nullptr;
  CLI::Option* progress_opt = nullptr;
  CLI::Option* config_opt = nullptr;
  CLI::Option* delimiter_opt = nullptr;
  CLI::Option* table_rows_opt = nullptr;
  std::vector<std::pair<CLI::Option*, const StageOption*>> stage_options;
  std::shared_ptr<ConfigFileFormat> config_format;

  // Whether a config file entry names an option the file may set, with values it takes: "" when
  // it does, else the message.
  std::string check_config_entry(const ConfigEntry& entry) const;
  // The stage options given, in order: the config file's (in the file's order) that the command
  // line does not give, then the command line's (in its order). "" for a flag.
  std::vector<std::pair<std::string, std::string>> stage_args() const;
  // The effective configuration, for --config.
  std::string config_text(const std::vector<std::string>& chain) const;
};

CommandLine::CommandLine() {
  app.set_version_flag("--version", std::function<std::string()>(version_text),
                       "Print the version, the git commit and the simdjson kernel in use");
  app.formatter(std::make_shared<HelpFormatter>());
  // Unknown options are collected, not thrown, so that they get a hint (unknown_option_message).
  app.allow_extras();
  app.get_help_ptr()->configurable(false);
  stages_opt =
      app.add_option("--stages", stages, "Comma-separated stages, run in that order (default: see 'The chain')")
          ->type_name("LIST");
  // The engine's counts in decimal digits only: CLI11 took 0x10 (16) and ' 2', and said "Could not
  // convert: --workers = 1.5" for the rest.
  const CLI::Validator whole_number(
      [](std::string& v) -> std::string {
        if (v.empty()) return "needs a value, got an empty one";
        const bool digits = std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        return digits ? "" : fmt::format("expected a whole number like 4, not '{}'", v);
      },
      "", "whole number");
  workers_opt = app.add_option("-j,--workers", o.workers, "Worker threads (default: the number of cores)")
                    ->type_name("N")
                    ->check(whole_number);
  app.add_flag("--unordered", o.unordered, "Write batches as they finish instead of in input order");
  batch_opt = app.add_option("--batch-size", o.batch_size,
                             fmt::format("Bytes of input per batch, at most {} records (default 1M; 4K with exec --exec-mode "
                                         "record; K/M suffixes; at most 256M)",
                                         kMaxBatchRecords))
                  ->type_name("SIZE");
  depth_opt = app.add_option("--queue-depth", o.queue_depth, "Batches in flight at once (default 4 x workers)")
                  ->type_name("N")
                  ->check(whole_number);
  app.add_option("--max-record-size", o.max_record_size,
                 "Longer records go to the error stream (default 64M)")
      ->type_name("SIZE");
  app.add_option("--format", o.format,
                 "Input format: jsonl (default), json (values in any layout), lines (each line a string), tsv, csv (header "
                 "row; a .tsv/.csv name, also .gz/.zst, implies it)")
      ->type_name("FMT");
  app.add_flag("--no-infer", o.no_infer, "tsv, csv: every field stays a string (default: JSON numbers become numbers)");
  app.add_option("--output", o.output,
                 "Output format: jsonl (default), json (one array), pretty (jq's layout), csv, tsv (a header from the first "
                 "record's keys), table (aligned columns), raw (strings without quotes: -r), raw0 (raw, nothing after "
                 "each record: --join-output)")
      ->type_name("FMT");
  app.add_flag("-r,--raw-output", o.raw_output, "Write string records without quotes, as jq -r (= --output raw)");
  app.add_flag("--join-output", o.join_output, "As --raw-output, with nothing after each record (jq -j; = --output raw0)");
  // Two words each time, never more: CLI11 lets a vector option take the words after it, which
  // made `--arg x 1 FILE` a second pair (FILE, "") and read stdin instead of FILE.
  app.add_option("--arg", o.args, "Set $NAME to the string VALUE in every expression (as jq --arg; repeatable)")
      ->type_name("NAME VALUE")
      ->allow_extra_args(false);
  app.add_option("--argjson", o.argjson, "Set $NAME to the JSON value in every expression (as jq --argjson; repeatable)")
      ->type_name("NAME JSON")
      ->allow_extra_args(false);
  app.add_flag("--fill", o.fill, "csv, tsv, table: a record with some of the header's keys is written under it, empty where it has none");
  table_rows_opt = app.add_option("--table-rows", o.table_rows, "table: rows held to size the columns (default 1000)")->type_name("N")->check(whole_number);
  delimiter_opt = app.add_option("--delimiter", o.delimiter, "csv: the field separator (default ','; 'tab' for a tab)")
                      ->type_name("C");
  app.add_flag("--unwrap", o.unwrap, "json: the elements of a top-level array are the records (streamed)");
  app.add_flag("--no-header", o.no_header, "csv: no header row; the keys are the column numbers 1, 2, ...");
  app.add_option("--errors", o.errors_path, "Error stream destination (default '-': stderr)")->type_name("FILE");
  app.add_option("--max-errors", o.max_errors, "Stop (exit 3) once N records failed (default: no limit)")
      ->type_name("N")
      ->check(whole_number);
  app.add_flag("--stats", o.stats, "Print a JSON summary as the last line of stderr");
  app.add_option("--stats-interval", o.stats_interval,
                 "Also a JSON stats line every D while running (e.g. 5s, 500ms); implies --stats")
      ->type_name("D");
  app.add_option("--stats-file", o.stats_file, "Write stats there instead of stderr; implies --stats")
      ->type_name("FILE");
  progress_opt = app.add_flag("--progress,!--no-progress", progress_flag,
                              "Progress line on stderr, or none (default: when stderr is a terminal and stdout is not)");
  config_opt = app.set_config("--config", "",
                              "Read options from FILE ('key = value' lines; key: a long option without --); "
                              "the command line wins")
                   ->type_name("FILE");
  app.add_flag("--print-config", print_config,
               "Print the effective options as a --config file (stages explicit) and exit")
      ->configurable(false);
  config_format = std::make_shared<ConfigFileFormat>(
      [this](const ConfigEntry& entry) { return check_config_entry(entry); },
      [this] { return config_opt->count() ? config_opt->results().back() : std::string("config file"); },
      [this](const std::string& key) {
        const CLI::Option* opt = app.get_option_no_throw("--" + key);
        return opt && opt->get_expected_min() == 0;
      });
  app.config_formatter(config_format);
  app.allow_config_extras(CLI::config_extras_mode::error);
  // Stage options, from the stages' declarations: each occurrence of a value option takes one
  // value; the n-th occurrence configures the n-th stage that declares the option.
  std::vector<std::string_view> registered;
  for (const StageInfo* st : stage_table()) {
    for (const StageOption& so : st->options) {
      if (std::find(registered.begin(), registered.end(), so.flag) != registered.end()) continue;
      registered.push_back(so.flag);
      CLI::Option* opt = nullptr;
      if (so.kind == OptionKind::kFlag) {
        opt = app.add_flag(so.flag)->description(stage_option_description(*st, so));
        opt->check(
            [](const std::string& v) -> std::string {
              return v.empty() || config_flag_value(v) ? "" : "a flag: true or false, not '" + v + "'";
            },
            "");
      } else {
        opt = app.add_option(so.flag)
                  ->description(stage_option_description(*st, so))
                  ->expected(1)
                  ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                  ->type_name(so.arg_name);
      }
      opt->group("Stage options");
      stage_options.emplace_back(opt, &so);
    }
  }
  app.add_option("FILE", o.inputs, "Input files ('-' or none: stdin)")->type_name("")->configurable(false);
  app.footer(stage_list_text() + "\n" + chain_text() +
             "\nExit codes: 0 ok, 1 some records went to the error stream, 2 usage error,\n"
             "3 I/O error or --max-errors reached, 130/143 interrupted.\n"
             "'ppipe help STAGE' describes a stage, 'ppipe help expr' the expressions.");
}

std::string CommandLine::check_config_entry(const ConfigEntry& entry) const {
  const std::string& key = entry.key;
  // A key is a long option's name. CLI11 would also take a one-letter key as the short option
  // (`j = 1`), which then escaped the check for a key set twice (`j = 1` and `workers = 3`: the
  // first won, silently).
  const CLI::Option* opt = app.get_option_no_throw("--" + key);
  if (!opt && key.size() == 1) {
    if (const CLI::Option* s = app.get_option_no_throw("-" + key); s && !s->get_lnames().empty() && s->get_configurable())
      return fmt::format("unknown key '{}': a key is a long option's name, '{}'", key, s->get_lnames().front());
  }
  if (opt && opt->get_configurable()) {
    // A stage flag may repeat too: one value per occurrence, as on the command line.
    const bool stage_flag = std::any_of(stage_options.begin(), stage_options.end(),
                                        [&](const auto& p) { return p.first == opt && p.second->kind == OptionKind::kFlag; });
    const bool repeats = opt->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll || stage_flag;
    if (stage_flag && entry.values.size() != 1) {
      // One `true` per occurrence, as the command line repeats the flag: a `false` would hold no
      // place (the n-th true configures the n-th stage), and a shared flag is given once.
      if (entry.values.empty()) return fmt::format("'{}' has an empty array: true, or [true, true, ...]", key);
      if (is_shared_option("--" + key))
        return fmt::format("'{}' is shared by its stages and given once: true or false, not an array", key);
      for (const auto& v : entry.values)
        if (!config_flag_value(v).value_or(false))
          return fmt::format("'{}' = [...] lists the occurrences of the flag, one true each (the n-th configures the "
                             "n-th stage of its kind), not '{}'",
                             key, v);
    }
    if (opt->get_type_size_max() == 2) {  // --arg/--argjson: NAME VALUE pairs, one after the other
      if (entry.values.empty() || entry.values.size() % 2 != 0)
        return fmt::format("'{}' takes names and values in pairs: {} = [\"NAME\", \"VALUE\", ...]", key, key);
      return "";
    }
    if (!repeats && entry.values.size() != 1)
      return fmt::format("'{}' takes one value, not an array of {}", key, entry.values.size());
    if (opt->get_expected_min() == 0)
      for (const auto& v : entry.values)
        if (!config_flag_value(v)) return fmt::format("'{}' is a flag: true or false, not '{}'", key, v);
    return "";
  }
  if (opt && opt == config_opt) return "'config' cannot be set in a config file (one file per run)";
  if (opt) return fmt::format("'{}' cannot be set in a config file (give it on the command line)", key);
  if (key == "FILE" || key == "files" || key == "inputs")
    return fmt::format("unknown key '{}': input files are given on the command line, after the options", key);
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options())
    if (o->get_configurable())
      for (const auto& n : o->get_lnames()) names.push_back(n);
  std::string bare = key.substr(key.find_first_not_of('-') == std::string::npos ? 0 : key.find_first_not_of('-'));
  std::string near = nearest_name(bare, names);
  if (bare != key && std::find(names.begin(), names.end(), bare) != names.end())
    return fmt::format("unknown key '{}': write it without the dashes, '{}'", key, bare);
  return fmt::format("unknown key '{}'{}", key, near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
}

std::vector<std::pair<std::string, std::string>> CommandLine::stage_args() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto stage_option = [&](const CLI::Option* opt) -> const StageOption* {
    for (const auto& [o, so] : stage_options)
      if (o == opt) return so;
    return nullptr;
  };
  const auto& order = app.parse_order();
  auto on_command_line = [&](const CLI::Option* opt) { return std::find(order.begin(), order.end(), opt) != order.end(); };
  for (const ConfigEntry& e : config_format->entries()) {
    const CLI::Option* opt = app.get_option_no_throw("--" + e.key);
    const StageOption* so = opt ? stage_option(opt) : nullptr;
    if (!so || on_command_line(opt)) continue;
    for (const auto& v : e.values) {
      if (so->kind == OptionKind::kValue) {
        out.emplace_back(so->flag, v);
      } else if (config_flag_value(v).value_or(false)) {  // checked by check_config_entry
        out.emplace_back(so->flag, "");
      }
    }
  }
  std::vector<std::size_t> taken(stage_options.size(), 0);
  for (const CLI::Option* opt : order) {
    for (std::size_t i = 0; i < stage_options.size(); ++i) {
      if (stage_options[i].first != opt) continue;
      const StageOption& so = *stage_options[i].second;
      const auto& values = opt->results();
      if (so.kind == OptionKind::kFlag) {
        // `--uniq-all=false` (a script's `--flag=$VAR`) is not the flag: CLI11 counts it all the
        // same, with its value in the results.
        const bool on = taken[i] < values.size() ? config_flag_value(values[taken[i]++]).value_or(true) : true;
        if (on) out.emplace_back(so.flag, "");
        continue;
      }
      if (taken[i] < values.size()) out.emplace_back(so.flag, values[taken[i]++]);
    }
  }
  return out;
}

std::string CommandLine::config_text(const std::vector<std::string>& chain) const {
  auto value = [](const std::string& v) {
    // Numbers and sizes bare, as a person writes them; everything else quoted.
    bool bare = !v.empty() && v.size() < 20 &&
                std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }) &&
                std::isdigit(static_cast<unsigned char>(v[0]));
    return bare ? v : config_quote(v);
  };
  std::string chain_list;
  for (const auto& n : chain) chain_list += (chain_list.empty() ? "" : ",") + n;
  std::string out = fmt::format(
      "# ppipe {}: the effective options (ppipe --print-config); run with: ppipe --config FILE [FILE...]\n"
      "# Keys are the long options without --; the command line overrides this file.\n"
      "stages = {}\n",
      PPIPE_VERSION, config_quote(chain_list));
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->get_configurable() || opt->get_positional() || opt == stages_opt || opt->get_lnames().empty()) continue;
    const std::string key = opt->get_lnames().front();
    const StageOption* so = nullptr;
    for (const auto& [o2, s2] : stage_options)
      if (o2 == opt) so = s2;
    if (so) {
      std::vector<std::string> values;
      for (const auto& [flag, v] : o.stage_args)
        if (flag == so->flag) values.push_back(v);
      if (values.empty()) continue;
      if (so->kind == OptionKind::kFlag) {
        // One `true` per occurrence: the n-th configures the n-th stage of its kind (written once,
        // `--uniq .a --uniq-all --uniq .s --uniq-all` read back with the second uniq without it).
        out += key + " = ";
        if (values.size() > 1) out += "[";
        for (std::size_t i = 0; i < values.size(); ++i) out += i ? ", true" : "true";
        out += values.size() > 1 ? "]\n" : "\n";
      } else if (values.size() == 1) {
        out += key + " = " + value(values[0]) + "\n";
      } else {
        out += key + " = [";
        for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + config_quote(values[i]);
        out += "]\n";
      }
      continue;
    }
    if (opt->count() == 0) continue;
    if (opt->get_type_size_max() == 2) {  // --arg/--argjson: every NAME VALUE pair, in order
      const auto& words = opt->results();
      out += key + " = [";
      for (std::size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + config_quote(words[i]);
      out += "]\n";
    } else if (opt->get_expected_min() == 0) {
      out += key + " = " + (opt->as<bool>() ? "true" : "false") + "\n";
    } else {
      out += key + " = " + value(opt->results().back()) + "\n";
    }
  }
  return out;
}

}  // namespace

namespace {

// Where a usage error's option came from when the config file set it and the command line did
// not: " (FILE line N)", for the message (README: a bad value in a config file names the file and
// the line). The option is the first `--name` in the message.
std::string config_origin(const CommandLine& cl, std::string_view message, int argc, char** argv) {
  if (!cl.config_format) return "";
  std::string name;
  if (message.rfind("unknown stage", 0) == 0) {
    name = "stages";
  } else {
    const std::size_t at = message.find("--");
    if (at == std::string_view::npos) return "";
    std::size_t end = at + 2;
    while (end < message.size() && (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '-')) ++end;
    name = std::string(message.substr(at + 2, end - at - 2));
  }
  const CLI::Option* opt = cl.app.get_option_no_throw("--" + name);
  if (name.empty() || !opt) return "";
  std::vector<std::string> spellings;
  for (const auto& n : opt->get_lnames()) spellings.push_back("--" + n);
  for (const auto& n : opt->get_snames()) spellings.push_back("-" + n);
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    for (const auto& sp : spellings)
      if (a == sp || (a.size() > sp.size() && a.substr(0, sp.size()) == sp && (a[sp.size()] == '=' || sp.size() == 2)))
        return "";  // (given on the command line: the message is about that one)
  }
  for (const ConfigEntry& e : cl.config_format->entries())
    for (const auto& sp : spellings)
      if (sp.substr(sp.find_first_not_of('-')) == e.key) return fmt::format(" ({} line {})", cl.config_format->path(), e.line);
  return "";
}

}  // namespace

CliResult parse_command_line(int argc, char** argv) {
  CliResult result;
  if (argc >= 2 && std::string(argv[1]) == "help") {
    result.exit_code = print_help_topic(argc, argv);
    return result;
  }

  auto cl = std::make_unique<CommandLine>();
  CLI::App& app = cl->app;
  Options& o = cl->o;
  // `--name=` (an empty value attached) of an option that takes a value is `--name ''`: CLI11
  // took the next argument as its value (`--group-by= .x` grouped by .x, `--group-by= FILE` read
  // the file's name as an expression).
  std::vector<std::string> arg_text(argv, argv + argc);
  for (std::size_t i = 1; i < arg_text.size(); ++i) {
    const std::string& a = arg_text[i];
    if (a == "--") break;
    if (a.size() > 3 && a.compare(0, 2, "--") == 0 && a.back() == '=' && a.find('=') == a.size() - 1) {
      const CLI::Option* opt = app.get_option_no_throw(a.substr(0, a.size() - 1));
      if (opt && opt->get_items_expected_min() == 0) {
        // A flag: `--uniq-all=$UNSET` turned it on.
        const bool plain = opt == app.get_help_ptr() || opt == app.get_version_ptr();  // (no =false there)
        std::cerr << "ppipe: " << a << " is empty: a flag is given alone"
                  << (plain ? std::string() : ", or as " + a + "true / " + a + "false") << "\n"
                  << usage_footer();
        result.exit_code = kExitUsage;
        return result;
      }
      if (opt && opt->get_items_expected_min() > 0) {
        arg_text[i].pop_back();
        arg_text.insert(arg_text.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::string());
        ++i;
      }
    }
  }
  std::vector<char*> arg_ptrs;
  for (std::string& a : arg_text) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  argc = static_cast<int>(arg_text.size());
  argv = arg_ptrs.data();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::CallForVersion& e) {
    result.exit_code = app.exit(e);
    return result;
  } catch (const CLI::ParseError& e) {
    std::cerr << "ppipe: " << e.what() << config_origin(*cl, e.what(), argc, argv) << "\n" << usage_footer();
    result.exit_code = kExitUsage;
    return result;
  }

  auto extras = app.remaining();
  // With extras allowed, CLI11 also lists the '--' that ends the options; it is no mistake.
  extras.erase(std::remove(extras.begin(), extras.end(), "--"), extras.end());
  if (!extras.empty()) {
    // Report the first one on the command line (CLI11 does not keep their order).
    std::size_t first = extras.size();
    for (int i = 1; i < argc && first == extras.size(); ++i)
      for (std::size_t k = 0; k < extras.size(); ++k)
        if (extras[k] == argv[i]) first = k;
    std::vector<std::string> long_names;
    for (const CLI::Option* opt : app.get_options())
      for (const auto& n : opt->get_lnames()) long_names.push_back("--" + n);
    std::cerr << "ppipe: " << unknown_option_message(extras[first == extras.size() ? 0 : first], long_names) << "\n"
              << usage_footer();
    result.exit_code = kExitUsage;
    return result;
  }

  o.stages_given = cl->stages_opt->count() > 0;
  o.workers_given = cl->workers_opt->count() > 0;
  o.queue_depth_given = cl->depth_opt->count() > 0;
  o.batch_size_given = cl->batch_opt->count() > 0;
  o.delimiter_given = cl->delimiter_opt->count() > 0;
  o.table_rows_given = cl->table_rows_opt->count() > 0;
  if (o.stages_given) o.stages = split_list(cl->stages);
  if (cl->progress_opt->count() > 0) o.progress = cl->progress_flag;
  o.stage_args = cl->stage_args();
  // `--filter --head 3`: the option's value is the next word, here another option (the filter
  // forgotten). Said so, instead of "unknown function 'head'" under a caret.
  for (const auto& [flag, value] : o.stage_args) {
    if (value.size() < 3 || value.compare(0, 2, "--") != 0) continue;
    const std::string word = value.substr(0, value.find('='));
    if (!app.get_option_no_throw(word)) continue;
    std::cerr << "ppipe: " << flag << " needs a value, but the word after it is the option " << word
              << " (give " << flag << " its value first)\n"
              << usage_footer();
    result.exit_code = kExitUsage;
    return result;
  }

  // The engine's options: an empty value is no value either (`--errors ''` failed only once the
  // run started; `--max-errors ''`, `--stats-interval ''`, `--format ''` were taken as not given).
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0 || opt->get_items_expected_min() == 0 || opt->get_lnames().empty()) continue;
    const std::string flag = "--" + opt->get_lnames().front();
    // (--delimiter and --stages say more: "expected one character", the list of stages.)
    if (flag == "--arg" || flag == "--argjson" || flag == "--delimiter" || flag == "--stages" ||
        find_stage_option(flag, stage_table()).first)
      continue;
    const auto& values = opt->results();
    if (std::find(values.begin(), values.end(), std::string()) == values.end()) continue;
    const std::string message = fmt::format("{} needs a value, got an empty one", flag);
    std::cerr << "ppipe: " << message << config_origin(*cl, message, argc, argv) << "\n" << usage_footer();
    result.exit_code = kExitUsage;
    return result;
  }

  std::string error, help_stage;
  result.plan = build_plan(o, &error, &help_stage);
  if (!result.plan) {
    // The file and line a config entry came from, after the message's first line (an expression's
    // error goes on with the expression and a caret: it was put after the caret).
    const std::string origin = config_origin(*cl, error, argc, argv);
    const std::size_t first_end = std::min(error.find('\n'), error.size());
    error.insert(first_end, origin);
    std::cerr << "ppipe: " << error << "\n";
    if (help_stage == "expr") {
      std::cerr << "Run 'ppipe help expr' for the expression language, 'ppipe --help' for usage.\n";
    } else {
      if (help_stage == "*") {
        std::cerr << "\n" << stage_list_text();
      } else if (const StageInfo* st = find_stage(help_stage)) {
        std::cerr << "\n" << stage_help(*st);
      }
      std::cerr << usage_footer();
    }
    result.exit_code = kExitUsage;
    return result;
  }
  if (cl->config_opt->count() > 0) result.plan->read_files.push_back(cl->config_opt->results().back());
  if (cl->print_config) {
    result.config_text = cl->config_text(result.plan->chain);
    result.read_files = result.plan->read_files;
    for (const auto& path : result.plan->engine.inputs) result.read_files.push_back(path);  // (`f >> f`)
    result.plan.reset();
    result.exit_code = kExitOk;
  }
  return result;
}

std::vector<OptionDoc> option_docs() {
  CommandLine cl;
  std::vector<OptionDoc> docs;
  for (const CLI::Option* opt : cl.app.get_options()) {
    if (opt->get_positional()) continue;
    OptionDoc d;
    for (const auto& n : opt->get_snames()) d.names.push_back("-" + n);
    for (const auto& n : opt->get_lnames()) d.names.push_back("--" + n);
    d.arg = opt->get_expected_min() == 0 ? "" : opt->get_type_name();
    d.help = opt->get_description();
    d.stage_option = opt->get_group() == "Stage options";
    docs.push_back(std::move(d));
  }
  return docs;
}

std::string cli_description() { return CommandLine().app.get_description(); }

}  // namespace ppipe
