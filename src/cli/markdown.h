// Markdown rendered for a terminal (`ppipe help expr`).
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

}  // namespace ppipe
