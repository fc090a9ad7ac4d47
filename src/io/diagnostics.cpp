#include "src/io/diagnostics.h"

#include <unistd.h>


#include "src/io/error_sink.h"
#include "src/util/fd_write.h"
#include "src/util/json_string.h"

namespace ppipe {

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string Diagnostics::format(std::string_view kind, std::string_view message,
                                std::initializer_list<DiagField> fields) const {
  std::string out;
  if (!json_) {
    // (On the terminal: a file name's control bytes, `ESC ]0;...`, would be its commands.)
    out.append("ppipe: ");
    out.append(terminal_safe(message, std::string_view::npos, true));
    out.push_back('\n');
    return out;
  }
  out.append("{\"ppipe\":");
  append_json_string(out, kind);
  for (const auto& [key, value] : fields) {
    out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
    out.append(value);
  }
  out.append(",\"message\":");
  append_json_string(out, message);
  out.append("}\n");
  return out;
}

void Diagnostics::print(std::string_view kind, std::string_view message, std::initializer_list<DiagField> fields) const {
  std::string line = format(kind, message, fields);
  (void)write_stderr(line);  // (stderr gone: nothing left to tell anyone)
}

}  // namespace ppipe
