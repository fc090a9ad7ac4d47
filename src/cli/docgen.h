// The man page and the shell completions, written from the declarations --help and
// `ppipe help STAGE` use (option_docs(), the stage table, docs/expr.md compiled in, the exit code
// and error field tables), so that they cannot drift from them. The build runs
// `ppipe help --man` and `ppipe help --completion SHELL` (CMakeLists.txt) and installs the output.
#pragma once

#include <string>
#include <string_view>

namespace ppipe {

// ppipe(1) in roff (man(7) macros): options, the chain, config files, every stage's help, the
// expression reference, the error record's fields, exit codes and examples.
std::string man_page();

// The completion script for `shell` (bash, zsh or fish): options, stage names inside
// `--stages a,b,...` (after each comma), `help TOPIC`, and file names for FILE arguments. An
// unknown shell returns "" and sets *error.
std::string completion_script(std::string_view shell, std::string* error);

}  // namespace ppipe
