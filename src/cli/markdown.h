// Markdown rendered for a terminal (`ppipe help expr`) and for the man page.
#pragma once

#include <string>
#include <string_view>

namespace ppipe {

// Markdown (the subset docs/ uses) as plain text for a terminal, so that what it shows can be
// copied and run:
//  * headings lose their '#' (levels 1 and 2 are underlined); fenced code is indented 4 spaces;
//  * tables become aligned columns when they fit in 100 columns, else one block per row
//    (first cell, then "header: cell" lines); `\|` in a cell prints as `|`;
//  * outside `code`: **bold** and *emphasis* lose their stars, [text](url) becomes text (url)
//    (just text when both are the same), backslash escapes are resolved;
//  * from a line `<!-- contributors -->` to `<!-- /contributors -->` (or the end) nothing is shown:
//    those sections are for people working on ppipe; other HTML comment lines are dropped.
std::string render_markdown_for_terminal(std::string_view markdown);

// The same Markdown as roff (man(7) macros) for the man page: ## headings become .SS, ###
// headings bold lines, fenced code a no-fill block, table rows tagged paragraphs (.TP, the first
// cell as the tag, the others as "header: cell"), list items .IP bullets; `code` and **strong**
// are bold, *emphasis* italic. The contributors' sections are left out, as on the terminal.
std::string render_markdown_for_man(std::string_view markdown);

// Text for roff: backslashes and minus signs escaped.
std::string roff_escape(std::string_view text);
// A line of roff text, ending in '\n': one starting with '.' or '\'' (read as a request) gets '\&'
// before it.
std::string roff_line(std::string text);

}  // namespace ppipe
