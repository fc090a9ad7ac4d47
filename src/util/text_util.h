// Small text helpers shared by the layers: sizes with K/M/G suffixes, durations, "did you mean" hints, UTF-8
// safe cuts and shell quoting for suggested commands. A leaf: includes nothing else of ppipe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ppipe {

// "64M" -> 67108864. Suffixes K, M, G (powers of 1024), optional trailing 'B'/'iB', any case.
// Returns nullopt on anything else, on zero or on overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

// A non-negative decimal number ("5", "1.5") at the start of `text`: its value and its length.
std::optional<std::pair<double, std::size_t>> leading_number(std::string_view text);

// "500ms", "5s", "2m", "1h", "1.5s" -> seconds. A unit is required. nullopt on anything else, on a
// negative or a non-finite value. (exec's --timeout, --stats-interval)
std::optional<double> parse_duration(std::string_view text);

std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo; else "".
std::string nearest_name(std::string_view word, const std::vector<std::string>& candidates);

// Renders bytes for a terminal: valid UTF-8 is copied except control characters (C0, DEL, C1),
// which become escapes (\t, \n, \x1b, \u0085); invalid bytes become \xNN. At most max_chars
// characters, then "…". keep_newlines: '\n' stays (a message of several lines).
std::string terminal_safe(std::string_view bytes, std::size_t max_chars = std::string_view::npos,
                          bool keep_newlines = false);

// Appends code point `cp` (at most 0x10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp);

// The lines of `text`, without their '\n' (a final line without one counts; no empty last line
// after a final '\n').
std::vector<std::string_view> split_lines(std::string_view text);

// Writes s to out[0, s.size()) with its code points in reverse order (a lead byte and the
// continuation bytes after it stay together; jq 1.7.1's string `reverse`).
void reverse_utf8(std::string_view s, char* out);

// Length of the longest prefix of s that does not end inside a UTF-8 multi-byte sequence.
std::size_t utf8_safe_prefix(std::string_view s);

// s with the bytes that do not belong to a valid UTF-8 sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF) replaced by U+FFFD, one for each maximal subpart (a
// valid sequence's start cut short: F0 9F 98 is one U+FFFD); s itself when it is valid.
std::string utf8_replace_invalid(std::string_view s);

// `word` as one shell word: unchanged when it is made of safe characters (unless `always`), else
// in single quotes.
std::string shell_quote(std::string_view word, bool always = false);

}  // namespace ppipe
