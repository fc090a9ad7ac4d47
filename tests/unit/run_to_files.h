// The engine's tests run a chain as main does, with stdout and the error stream in files, and
// read them back.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "src/core/pipeline.h"

namespace ppipe::test {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct FileRun {
  std::string out, err;  // what the run wrote to stdout and to the error stream
  RunResult result;
};

// Runs the chain on opt.inputs; stdout and the error stream go to stem + ".out" / ".err", which
// are read back and removed.
inline FileRun run_to_files(const EngineOptions& opt, const Chain& chain, const std::string& stem, StopToken& stop) {
  const std::string out_path = stem + ".out", err_path = stem + ".err";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  FileRun r;
  r.result = run_pipeline(opt, chain, stop, out_fd, err_fd, "err");
  close(out_fd);
  close(err_fd);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

}  // namespace ppipe::test
