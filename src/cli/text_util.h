// Small text helpers for the command line: sizes with K/M/G suffixes, "did you mean" hints, shell
// quoting for suggested commands, and Markdown rendered for a terminal (`ppipe help expr`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ppipe {

// "64M" -> 67108864. Suffixes K, M, G (powers of 1024), optional trailing 'B'/'iB', any case.
// Returns nullopt on anything else, on zero or on overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo; else "".
std::string nearest_name(std::string_view word, const std::vector<std::string>& candidates);

// Length of the longest prefix of s that does not end inside a UTF-8 multi-byte sequence.
std::size_t utf8_safe_prefix(std::string_view s);

// `word` as one shell word: unchanged when it is made of safe characters (unless `always`), else
// in single quotes.
std::string shell_quote(std::string_view word, bool always = false);

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
