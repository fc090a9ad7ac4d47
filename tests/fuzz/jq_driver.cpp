// Driver for the differential run against jq (jq_differential.py): ppipe's side.
//
// Reads requests from stdin, one per line: a JSON array [PROGRAM, INPUT-JSON-TEXT]. Answers each
// with one line: {"compile_error":MESSAGE} or {"outputs":[OUTPUT,...],"error":MESSAGE-or-null,
// "stopped":BOOL}, each output a JSON string holding the text ppipe writes (compact, as `jq -c`). A program is compiled
// as `ppipe` compiles it (expr::compile: the fast path, else the general engine); a general one
// runs until its end or its 100th output ("stopped"), a fast-path one through expr::run_text.
// Built with the fuzz targets (ASan + UBSan), so the run is also a sanitizer run.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "src/expr/expr.h"
#include "src/expr/jq/jq.h"

namespace jq = ppipe::expr::jq;

namespace {

std::string quote(const std::string& s) { return jq::to_json(jq::J::string(s)); }

std::string answer(const std::string& program, const std::string& input) {
  auto compiled = ppipe::expr::compile(program);
  if (auto* e = std::get_if<ppipe::expr::CompileError>(&compiled)) return "{\"compile_error\":" + quote(e->message) + "}";
  const auto& p = *std::get<std::shared_ptr<const ppipe::expr::Program>>(compiled);
  std::vector<std::string> outputs;
  std::string error;
  bool ok = true, stopped = false;
  if (ppipe::expr::is_general(p)) {
    jq::J in;
    if (!jq::parse_json(input, in, &error)) return "{\"bad_input\":" + quote(error) + "}";
    try {
      ok = jq::run(*ppipe::expr::general_program(p), in, jq::RunContext{},
                   [&](const jq::J& v) {
                     outputs.push_back(jq::to_json(v));
                     if (outputs.size() == 100) throw jq::Stop{~std::uint64_t{0}};
                   },
                   &error);
    } catch (jq::Stop&) {
      stopped = true;
    }
  } else {
    ok = ppipe::expr::run_text(p, input, outputs, &error);
  }
  std::string out = "{\"fast\":" + std::string(ppipe::expr::is_general(p) ? "false" : "true") + ",\"outputs\":[";
  for (std::size_t i = 0; i < outputs.size(); ++i) out += (i ? "," : "") + quote(outputs[i]);
  out += "],\"error\":" + (ok ? std::string("null") : quote(error));
  out += ",\"stopped\":" + std::string(stopped ? "true" : "false") + "}";
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    jq::J req;
    std::string err;
    if (!jq::parse_json(line, req, &err) || !req.is_array() || req.size() != 2 || !req.arr()[0].is_string() ||
        !req.arr()[1].is_string()) {
      std::cout << "{\"bad_request\":" << quote(err) << "}\n" << std::flush;
      continue;
    }
    std::cout << answer(req.arr()[0].str(), req.arr()[1].str()) << "\n" << std::flush;
  }
}
