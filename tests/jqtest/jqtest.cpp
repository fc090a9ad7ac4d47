// Runs jq's own test files (tests/jqtest/jq.test, man.test: MIT, from jq at commit 579e6f7; see
// tests/data/SOURCES.md) against ppipe's expression language, in process.
//
//   ppipe-jqtest [--list FILE] [--min-accepted PCT] [--min-agree PCT] TESTFILE...
//
// A case is a program, an input and the outputs jq gives (compared as values, as jq's own runner
// does), or a %%FAIL program that must not compile. Prints, per file and in total, how many cases
// ppipe accepts (compiles) and how many of those agree with jq. --list writes every case that is
// refused or disagrees, with what ppipe said. Exits 1 when a threshold is missed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "src/expr/expr.h"
#include "src/expr/jq/value.h"

namespace {

struct Case {
  std::string file;
  int line = 0;
  bool fail = false;        // %%FAIL: must not compile
  std::string program;
  std::string input;
  std::vector<std::string> expected;
};

std::vector<Case> read_cases(const std::string& path) {
  std::ifstream in(path);
  std::vector<Case> cases;
  std::string line;
  int n = 0;
  auto next = [&](std::string& out) {
    while (std::getline(in, out)) {
      ++n;
      if (!out.empty() && out.back() == '\r') out.pop_back();
      return true;
    }
    return false;
  };
  std::string base = path.substr(path.find_last_of('/') + 1);
  while (next(line)) {
    if (line.empty() || line[0] == '#') continue;
    Case c;
    c.file = base;
    c.line = n;
    if (line.rfind("%%FAIL", 0) == 0) {
      c.fail = true;
      if (!next(c.program)) break;
      while (next(line) && !line.empty() && line[0] != '#') c.expected.push_back(line);
      cases.push_back(std::move(c));
      continue;
    }
    c.program = line;
    if (!next(c.input)) break;
    // as jq's runner: the expected outputs end at a blank or comment line (a program that
    // then raises an error still agrees, as in jq's runner)
    while (next(line) && !line.empty() && line[0] != '#') c.expected.push_back(line);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  std::string list_path;
  double min_accepted = 0, min_agree = 0;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--list" && i + 1 < argc) list_path = argv[++i];
    else if (a == "--min-accepted" && i + 1 < argc) min_accepted = std::atof(argv[++i]);
    else if (a == "--min-agree" && i + 1 < argc) min_agree = std::atof(argv[++i]);
    else files.push_back(a);
  }
  std::ostringstream list;
  std::size_t total = 0, accepted = 0, agree = 0;
  for (const std::string& f : files) {
    std::size_t t = 0, acc = 0, ok = 0;
    for (const Case& c : read_cases(f)) {
      ++t;
      std::string where = c.file + ":" + std::to_string(c.line);
      if (std::getenv("JQTEST_VERBOSE")) std::fprintf(stderr, "%s\n", where.c_str());
      ppipe::expr::CompileOptions opts;
      auto compiled = ppipe::expr::compile(c.program, opts);
      if (c.fail) {
        // jq refuses the program; so must ppipe (the message may differ)
        ++acc;
        if (std::holds_alternative<ppipe::expr::CompileError>(compiled)) ++ok;
        else list << where << "\tdisagrees\t" << c.program << "\texpected a compile error\n";
        continue;
      }
      if (auto* e = std::get_if<ppipe::expr::CompileError>(&compiled)) {
        list << where << "\trefused\t" << c.program << "\t" << e->message << "\n";
        continue;
      }
      ++acc;
      const auto& program = *std::get<std::shared_ptr<const ppipe::expr::Program>>(compiled);
      std::vector<std::string> outputs;
      std::string error;
      bool ran = ppipe::expr::run_text(program, c.input, outputs, &error);
      bool same = outputs.size() == c.expected.size();
      for (std::size_t i = 0; same && i < outputs.size(); ++i) {
        ppipe::expr::jq::J a, b;
        std::string perr;
        if (!ppipe::expr::jq::parse_json(outputs[i], a, &perr) || !ppipe::expr::jq::parse_json(c.expected[i], b, &perr)) {
          same = outputs[i] == c.expected[i];
        } else {
          same = ppipe::expr::jq::equal(a, b);
        }
      }
      if (same) {
        ++ok;
        continue;
      }
      list << where << "\tdisagrees\t" << c.program << "\tinput " << c.input << "\texpected";
      for (const auto& e : c.expected) list << " " << e;
      list << "\tgot";
      for (const auto& o : outputs) list << " " << o;
      if (!ran) list << " error: " << error;
      list << "\n";
    }
    std::printf("%s: %zu cases, %zu accepted (%.1f%%), %zu of those agree with jq (%.1f%%)\n", f.c_str(), t, acc,
                t ? 100.0 * static_cast<double>(acc) / static_cast<double>(t) : 0.0, ok,
                acc ? 100.0 * static_cast<double>(ok) / static_cast<double>(acc) : 0.0);
    total += t;
    accepted += acc;
    agree += ok;
  }
  double pa = total ? 100.0 * static_cast<double>(accepted) / static_cast<double>(total) : 0;
  double pg = accepted ? 100.0 * static_cast<double>(agree) / static_cast<double>(accepted) : 0;
  std::printf("total: %zu cases, %zu accepted (%.1f%%), %zu agree (%.1f%% of accepted)\n", total, accepted, pa, agree, pg);
  if (!list_path.empty()) {
    std::ofstream out(list_path);
    out << list.str();
  }
  if (pa < min_accepted || pg < min_agree) {
    std::printf("below the thresholds (accepted >= %.1f%%, agree >= %.1f%%)\n", min_accepted, min_agree);
    return 1;
  }
  return 0;
}
