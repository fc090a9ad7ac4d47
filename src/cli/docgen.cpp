#include "src/cli/docgen.h"

#include <vector>

#include <fmt/format.h>

#include "src/cli/markdown.h"
#include "src/cli/options.h"
#include "src/io/error_record.h"
#include "src/util/text_util.h"
#include "src/util/exit_codes.h"
#include "stages/registry.h"

namespace ppipe {

extern const char* const kExprDoc;  // docs/expr.md, generated into the build

namespace {

struct Example {
  const char* command;
  const char* what;
};
constexpr Example kExamples[] = {
    {"ppipe --stages parse --workers 4 big.jsonl > out.jsonl 2> errors.jsonl",
     "Validate every line; valid records to out.jsonl in input order, failed ones with their line and reason to "
     "errors.jsonl."},
    {"zcat big.jsonl.gz | ppipe --head 10", "The first 10 valid records of a compressed file (parse,head)."},
    {"ppipe --filter '.status >= 500 and (.path | startswith(\"/api\"))' logs.jsonl",
     "Keep the records for which the expression is truthy."},
    {"ppipe --filter '.user != null' --map '{host, country: .user.country}' logs.jsonl",
     "Filter, then reshape each record (parse,filter,map)."},
    {"ppipe --group-by .host --agg 'count, p99(.latency_ms)' --sort -.count --top 5 logs.jsonl",
     "The five busiest hosts with their 99th latency percentile."},
    {"ppipe --filter '.status >= 500' --print-config > job.toml; ppipe --config job.toml logs.jsonl",
     "Save the options of a run as a config file, and run it again from the file."},
};

// --help's plain text (two-space indented paragraphs; "Example:" lines and what follows them
// up to a blank line keep their layout) as roff.
std::string plain_help_to_roff(std::string_view text) {
  std::string out;
  bool no_fill = false;
  for (std::string_view line : split_lines(text)) {
    if (line.substr(0, 2) == "  ") line.remove_prefix(2);
    if (line.find_first_not_of(' ') == std::string_view::npos) {
      if (no_fill) out += ".fi\n";
      no_fill = false;
      out += ".PP\n";
      continue;
    }
    if (!no_fill && (line.substr(0, 8) == "Example:" || line.substr(0, 9) == "Examples:")) {
      out += ".nf\n";
      no_fill = true;
    }
    out += roff_line(roff_escape(line));
  }
  if (no_fill) out += ".fi\n";
  return out;
}

std::string option_tag(const OptionDoc& d) {
  std::string tag;
  for (const auto& n : d.names) {
    if (!tag.empty()) tag += ", ";
    tag += fmt::format("\\fB{}\\fP", roff_escape(n));
  }
  if (!d.arg.empty()) tag += fmt::format(" \\fI{}\\fP", roff_escape(d.arg));
  return tag;
}

const char* const kConfigText =
    "--config FILE reads options from a file: one 'key = value' per line, the key being a long option\n"
    "without its dashes. Strings are TOML strings (\"...\" with backslash escapes, or '...' taken as\n"
    "written); numbers, sizes and words may be written bare (head = 10, batch-size = 4M); a flag is\n"
    "true or false; an option given several times is an array (filter = ['.a > 1', '.b']), which may\n"
    "span lines. Comments start with #. Every option can be set this way except --config,\n"
    "--print-config, --help and --version; input files stay on the command line. An unknown key, a\n"
    "key set twice or a syntax error is a usage error (exit 2) naming the file and the line.\n"
    "\n"
    "The command line overrides the file, option by option: a key given on the command line replaces\n"
    "all of that key's values in the file. Without 'stages', the chain comes from the stage options:\n"
    "the file's first, in the order of its lines, then the command line's (see THE CHAIN).\n"
    "\n"
    "--print-config prints the effective options of a command line (and its --config file) in this\n"
    "format and exits; the chain is written as 'stages', so that --config reads the file back to the\n"
    "same run.\n";

// Paragraphs of plain text (blank lines between them) as roff.
std::string paragraphs(std::string_view text) {
  std::string out;
  for (std::string_view line : split_lines(text))
    out += line.empty() ? std::string(".PP\n") : roff_line(roff_escape(line));
  return out;
}

// ---- shells ----

// Appends `word` to a `separator`-separated list.
void append_word(std::string& list, std::string_view word, char separator = ' ') {
  if (!list.empty()) list.push_back(separator);
  list.append(word);
}

std::string stage_names() {
  std::string out;
  for (const StageInfo* st : stage_table()) append_word(out, st->name);
  return out;
}

// The help of an option up to its first aside, for a completion menu.
// The help up to its first " (" from the 10th character on, or ": " or "; " from the 16th,
// outside parentheses: a ": " inside one cut "Stop (exit 3) once N records failed (default: no
// limit)" after "(default", and a short qualifier ("tsv, csv: ...") was all there was.
std::string short_help(const std::string& help) {
  int depth = 0;
  for (std::size_t i = 0; i < help.size(); ++i) {
    const char c = help[i];
    if (c == '(') {
      if (depth == 0 && i >= 9 && help[i - 1] == ' ') return help.substr(0, i - 1);
      ++depth;
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (depth == 0 && i >= 16 && (c == ':' || c == ';') && i + 1 < help.size() && help[i + 1] == ' ') {
      // (not after a short qualifier: "tsv, csv: every field stays a string", "Batch mode: ...")
      return help.substr(0, i);
    }
  }
  return help;
}

bool is_file_arg(const OptionDoc& d) { return d.arg == "FILE"; }
bool is_stage_list(const OptionDoc& d) {
  for (const auto& n : d.names)
    if (n == "--stages") return true;
  return false;
}

std::string bash_completion(const std::vector<OptionDoc>& docs) {
  std::string all, file_opts, list_opts, value_opts;
  for (const OptionDoc& d : docs) {
    for (const auto& n : d.names) {
      append_word(all, n);
      if (d.arg.empty()) continue;
      append_word(is_stage_list(d) ? list_opts : is_file_arg(d) ? file_opts : value_opts, n, '|');
    }
  }
  return fmt::format(
      R"(# bash completion for ppipe. Generated by `ppipe help --completion bash` from the options --help
# shows: edit those, not this file.
_ppipe() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
  (( COMP_CWORD > 0 )) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
  # --option=value: bash splits the word at '=' (COMP_WORDBREAKS).
  if [[ $cur == = ]]; then
    cur=
  elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then
    prev=${{COMP_WORDS[COMP_CWORD-2]}}
  fi
  local stages="{stages}"
  COMPREPLY=()
  if (( COMP_CWORD == 2 )) && [[ ${{COMP_WORDS[1]}} == help ]]; then
    COMPREPLY=($(compgen -W "$stages expr" -- "$cur"))
    return 0
  fi
  case $prev in
    {list_opts})
      # A comma-separated list: complete the name after the last comma, keep what is before it.
      local before= last=$cur
      if [[ $cur == *,* ]]; then before=${{cur%,*}},; last=${{cur##*,}}; fi
      COMPREPLY=($(compgen -P "$before" -W "$stages" -- "$last"))
      compopt -o nospace 2>/dev/null
      return 0 ;;
    {file_opts})
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      return 0 ;;
    {value_opts})
      return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "{all}" -- "$cur"))
    return 0
  fi
  compopt -o filenames 2>/dev/null
  COMPREPLY=($(compgen -f -- "$cur"))
  if (( COMP_CWORD == 1 )); then COMPREPLY+=($(compgen -W "help" -- "$cur")); fi
  return 0
}}
complete -F _ppipe ppipe
)",
      fmt::arg("stages", stage_names()), fmt::arg("list_opts", list_opts), fmt::arg("file_opts", file_opts),
      fmt::arg("value_opts", value_opts), fmt::arg("all", all));
}

// Inside a zsh '...' word and an _arguments [description].
std::string zsh_description(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else if (c == '[' || c == ']' || c == ':' || c == '\\') out += std::string("\\") + c;
    else out.push_back(c);
  }
  return out;
}

std::string zsh_completion(const std::vector<OptionDoc>& docs) {
  std::string specs;
  for (const OptionDoc& d : docs) {
    std::string exclusive;
    if (d.names.size() > 1) {
      for (const auto& n : d.names) append_word(exclusive, n);
      exclusive = fmt::format("({})", exclusive);
    }
    std::string action = d.arg.empty()     ? ""
                         : is_stage_list(d) ? ":stages:_ppipe_stage_list"
                         : is_file_arg(d)   ? ":file:_files"
                                            : fmt::format(":{}: ", zsh_description(d.arg));
    for (const auto& n : d.names) {
      // Stage options may repeat; a long option's value may follow '=' or be the next word.
      std::string name = n;
      if (!d.arg.empty()) name += n.size() == 2 ? "+" : "=";
      // (--print-config goes with the options it prints: not exclusive. --arg and --argjson repeat.)
      if (n == "--help" || n == "--version") exclusive = "(- *)";
      const bool repeats = d.stage_option || n == "--arg" || n == "--argjson";
      specs += fmt::format("    '{}{}[{}]{}'\n", repeats ? "*" : exclusive, name,
                           zsh_description(short_help(d.help)), action);
    }
  }
  return fmt::format(
      R"(#compdef ppipe
# zsh completion for ppipe. Generated by `ppipe help --completion zsh` from the options --help
# shows: edit those, not this file.

# A comma-separated list of stages; a name may repeat.
_ppipe_stage_list() {{
  _sequence -s , -d compadd - {stages}
}}

_ppipe() {{
  if (( CURRENT == 3 )) && [[ $words[2] == help ]]; then
    compadd - {stages} expr
    return
  fi
  local -a args
  args=(
{specs}    '*:input file:_files'
  )
  _arguments -S $args
  if (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then
    compadd - help
  fi
}}

_ppipe "$@"
)",
      fmt::arg("stages", stage_names()), fmt::arg("specs", specs));
}

std::string fish_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string fish_completion(const std::vector<OptionDoc>& docs) {
  std::string lines;
  for (const OptionDoc& d : docs) {
    std::string line = "complete -c ppipe";
    for (const auto& n : d.names) {
      if (n.size() == 2) line += " -s " + n.substr(1);
      else line += " -l " + n.substr(2);
    }
    if (is_stage_list(d)) line += " -x -a '(__ppipe_stage_list)'";
    else if (is_file_arg(d)) line += " -r -F";
    else if (!d.arg.empty()) line += " -x";
    line += " -d " + fish_quote(short_help(d.help));
    lines += line + "\n";
  }
  return fmt::format(
      R"(# fish completion for ppipe. Generated by `ppipe help --completion fish` from the options --help
# shows: edit those, not this file.

# The stages, after what is already typed up to the last comma of the list.
function __ppipe_stage_list
    set -l token (string replace -r -- '^--stages=' '' (commandline -ct))
    set -l before (string match -r -- '^.*,' $token)
    for stage in {stages}
        printf '%s%s\n' "$before" $stage
    end
end

complete -c ppipe -n __fish_use_subcommand -a help -d 'Help on a stage, or on expr'
complete -c ppipe -n '__fish_seen_subcommand_from help' -x -a '{stages} expr'
{lines})",
      fmt::arg("stages", stage_names()), fmt::arg("lines", lines));
}

}  // namespace

std::string man_page() {
  const std::vector<OptionDoc> docs = option_docs();
  std::string out;
  out += ".\\\" ppipe(1). Generated by `ppipe help --man` from the declarations --help uses: edit those.\n";
  out += fmt::format(".TH PPIPE 1 \"\" \"ppipe {}\" \"User Commands\"\n", PPIPE_VERSION);
  out += ".SH NAME\nppipe \\- a parallel, order\\-preserving stream processor for JSON Lines\n";
  out += ".SH SYNOPSIS\n.B ppipe\n[\\fIOPTIONS\\fP] [\\fIFILE\\fP...]\n.br\n.B ppipe help\n\\fISTAGE\\fP|\\fBexpr\\fP\n";
  out += ".SH DESCRIPTION\n" + paragraphs(cli_description());
  out += ".PP\nFILEs are read in order; no FILE, or '\\-', means standard input. The output is compact JSON "
         "Lines on standard output, in input order; failed records go to the error stream (see ERROR RECORDS).\n";
  out += ".SH OPTIONS\n";
  bool stage_group = false;
  for (const OptionDoc& d : docs) {
    if (d.stage_option && !stage_group) {
      out += ".SS Stage options\nEach stage declares its own options (see STAGES and THE CHAIN).\n";
      stage_group = true;
    }
    out += ".TP\n" + option_tag(d) + "\n" + roff_line(roff_escape(d.help));
  }
  out += ".SH THE CHAIN\n" + paragraphs(chain_text());
  out += ".SH CONFIGURATION FILES\n" + paragraphs(kConfigText);
  out += ".SH STAGES\n";
  for (const StageInfo* st : stage_table()) {
    out += fmt::format(".SS {}\n", st->name);
    out += roff_line(roff_escape(st->summary)) + ".PP\n";
    out += ".B " + roff_escape(stage_usage(*st)) + "\n.PP\n";
    out += plain_help_to_roff(st->help);
    for (const StageOption& so : st->options) {
      OptionDoc d{{so.flag}, so.arg_name ? so.arg_name : "", so.help, true};
      std::string help = so.help;
      if (so.kind == OptionKind::kValue && so.default_value && *so.default_value)
        help += fmt::format(" (default {})", so.default_value);
      out += ".TP\n" + option_tag(d) + "\n" + roff_line(roff_escape(help));
    }
  }
  out += ".SH EXPRESSIONS\n" + render_markdown_for_man(kExprDoc);
  out += ".SH ERROR RECORDS\nEach failed record is one JSON object on a line of the error stream (standard "
         "error, or \\-\\-errors FILE), in input order with the output; the fields, in this order:\n";
  for (const ErrorFieldDoc& f : kErrorRecordFields)
    out += fmt::format(".TP\n\\fB{}\\fP\n", roff_escape(f.name)) + roff_line(roff_escape(f.meaning));
  out += ".PP\nppipe's own messages on a non\\-terminal standard error are JSON objects too, with the key "
         "\\fBppipe\\fP (error, hint, stopped, progress); the \\-\\-stats object is the last line.\n";
  out += ".SH EXIT STATUS\n";
  for (const ExitCodeDoc& c : kExitCodeDocs) out += fmt::format(".TP\n\\fB{}\\fP\n", c.code) + roff_line(roff_escape(c.meaning));
  out += ".SH EXAMPLES\n";
  for (const Example& e : kExamples)
    out += ".PP\n" + roff_line(roff_escape(e.what)) + ".RS 4\n.nf\n" + roff_line(roff_escape(e.command)) + ".fi\n.RE\n";
  out += ".SH SEE ALSO\n\\fBjq\\fP(1), \\fBmlr\\fP(1), \\fBparallel\\fP(1)\n";
  return out;
}

std::string completion_script(std::string_view shell, std::string* error) {
  const std::vector<OptionDoc> docs = option_docs();
  if (shell == "bash") return bash_completion(docs);
  if (shell == "zsh") return zsh_completion(docs);
  if (shell == "fish") return fish_completion(docs);
  *error = fmt::format("no completion for shell '{}': bash, zsh or fish", shell);
  return "";
}

}  // namespace ppipe
