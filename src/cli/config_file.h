// `--config FILE`: the file format (parse_config_text) and how --print-config quotes values.
//
// A config file is TOML (the part of it a flat list of options needs), read leniently as INI:
//
//   # comment                          (also '; comment' on its own line)
//   stages = "parse,filter,head"       key = the long option name without "--"
//   filter = ['.status >= 500', '.path | startswith("/api")']   repeated option: an array
//   head = 10                          bare values (10, 1M, 5s) are taken as written
//   unordered = true                   a flag: true or false
//
// Strings are "basic" (escapes \" \\ \n \t \r \b \f \uXXXX \UXXXXXXXX) or 'literal' (no
// escapes); an array may span lines and end with a comma. A key may appear once: its values are
// one array. Sections other than [default] are refused: ppipe's options are one flat list.
//
// CLI11 applies the entries (App::set_config with ConfigFileFormat in options.cpp, a reader of
// this format): the command line wins over the file, option by option. What CLI11 does not keep,
// the entries do: each one's line, for the messages, and the file's order, which decides the order
// of the stages the file's stage options add (CommandLine::stage_args in options.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppipe {

struct ConfigEntry {
  std::string key;
  std::vector<std::string> values;  // one for a scalar, any number for an array
  std::size_t line = 0;             // 1-based, of the key
};

// Parses the text of a config file. On a syntax error returns false and sets *error to
// "line N: what is wrong".
bool parse_config_text(std::string_view text, std::vector<ConfigEntry>* entries, std::string* error);

// A value as a TOML basic string ("..." with escapes), which parse_config_text reads back to
// exactly `value` (any bytes).
std::string config_quote(std::string_view value);

// The word of a flag's value: true/false (also yes/no, on/off, 1/0, any case), else nullopt.
std::optional<bool> config_flag_value(std::string_view word);

}  // namespace ppipe
