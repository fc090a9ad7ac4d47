#include "src/io/error_record.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "src/util/json_string.h"

namespace ppipe {

void append_base64(std::string& out, std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size(), i = 0;
  out.reserve(out.size() + (n + 2) / 3 * 4);
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i + 1 == n) {
    std::uint32_t v = p[i] << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (i + 2 == n) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
}

bool decode_base64(std::string_view text, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4) return false;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad || (v[k] = value(c)) < 0) {
        return false;
      }
    }
    std::uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 255));
    if (pad < 1) out.push_back(static_cast<char>(n & 255));
  }
  return true;
}

void append_error_record(std::string& out, const ErrorInfo& e) {
  out.append("{\"source\":");
  append_json_string(out, e.source);
  if (!simdjson::validate_utf8(e.source.data(), e.source.size())) {
    // A file name that is not UTF-8 is in "source" with U+FFFD for its bad bytes, so that the
    // line is JSON; its exact bytes here, as "record_base64" keeps a record's.
    out.append(",\"source_base64\":\"");
    append_base64(out, e.source);
    out.push_back('"');
  }
  fmt::format_to(std::back_inserter(out), ",\"line\":{},\"offset\":{},\"stage\":", e.line, e.offset);
  append_json_string(out, e.stage);
  out.append(",\"error\":");
  append_json_string(out, e.message);
  if (e.record_size) fmt::format_to(std::back_inserter(out), ",\"record_size\":{},\"truncated\":true", e.record_size);
  if (simdjson::validate_utf8(e.record.data(), e.record.size())) {
    out.append(",\"record\":");
    append_json_string(out, e.record);
  } else {
    out.append(",\"record_base64\":\"");
    append_base64(out, e.record);
    out.push_back('"');
  }
  out.append("}\n");
}

}  // namespace ppipe
