// The one JSON string escaper, shared by expression output and the error stream. A leaf.
//
// Both escape '"', '\\', \b \f \n \r \t and other bytes < 0x20 as \u00XX (lower-case hex), and
// copy everything else (including '/', U+2028 and all non-ASCII) raw. They differ in DEL (0x7f)
// and in what they take:
//  * append_json_string_jq escapes it as \u007f, as `jq -c` does, so that filter/map output
//    matches jq byte for byte; s must be valid UTF-8 (parsed JSON is);
//  * append_json_string copies it raw (JSON does not require the escape). Error records, --stats
//    and diagnostics use it; their bytes are fixed by the goldens. s may be any bytes (a file
//    name): an invalid UTF-8 sequence is written as U+FFFD (utf8_replace_invalid).
#pragma once

#include <string>
#include <string_view>

namespace ppipe {

void append_json_string(std::string& out, std::string_view s);
void append_json_string_jq(std::string& out, std::string_view s);
// True when append_json_string_jq writes s unchanged between the quotes (nothing to escape).
bool json_string_is_plain_jq(std::string_view s);

// A JSON number token (RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), of any length.
bool is_json_number(std::string_view token);

}  // namespace ppipe
