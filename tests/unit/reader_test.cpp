#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "src/io/reader.h"

using namespace ppipe;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/ppipe_reader_test_XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    close(fd);
    path = tmpl;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::vector<BatchPtr> read_all(const std::vector<std::string>& paths, ReaderOptions opt, std::string* error = nullptr) {
  StopToken stop;
  Reader reader(opt, paths, stop);
  std::vector<BatchPtr> out;
  std::string err = reader.run([] { return std::make_unique<Batch>(); },
                               [&](BatchPtr b) { out.push_back(std::move(b)); }, [](BatchPtr) {});
  if (error) *error = err;
  return out;
}

std::string input_of(const Batch& b) { return std::string(b.input.data(), b.input.size()); }

}  // namespace

TEST_CASE("reader splits at line ends for every batch size, with exact positions", "[reader]") {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 17, 'x') + "\"}\n";
  text += "last-without-newline";
  TempFile f(text);
  for (std::size_t batch : {1, 7, 64, 100, 4096, 1 << 20}) {
    ReaderOptions opt;
    opt.batch_size = batch;
    auto batches = read_all({f.path}, opt);
    std::string joined;
    std::uint64_t line = 1, offset = 0, seq = 0;
    for (auto& b : batches) {
      REQUIRE(b->seq == seq++);
      REQUIRE(b->first_line == line);
      REQUIRE(b->offset == offset);
      REQUIRE_FALSE(b->oversized);
      std::string s = input_of(*b);
      // Every batch but the last ends at a line end.
      if (b.get() != batches.back().get()) REQUIRE(s.back() == '\n');
      for (char c : s) line += c == '\n';
      offset += s.size();
      joined += s;
    }
    REQUIRE(joined == text);
  }
}

TEST_CASE("reader cuts batches at max_records, with exact positions, blank lines and a last line without '\\n'", "[reader]") {
  std::string text;
  for (int i = 0; i < 57; ++i) text += (i % 9 == 4 ? "\n  \r\n" : "") + std::string("{\"i\":") + std::to_string(i) + "}\r\n";
  text += "{\"i\":57}";  // the last record, without its line end
  TempFile f(text);
  for (std::size_t max : {1, 2, 4, 10, 100}) {
    for (std::size_t batch : {16, 4096, 1 << 20}) {
      INFO("max_records " << max << ", batch_size " << batch);
      ReaderOptions opt;
      opt.batch_size = batch;
      opt.max_records = max;
      auto batches = read_all({f.path}, opt);
      std::string joined;
      std::uint64_t line = 1, offset = 0, seq = 0, records = 0;
      for (auto& b : batches) {
        REQUIRE(b->seq == seq++);
        REQUIRE(b->first_line == line);
        REQUIRE(b->offset == offset);
        REQUIRE(b->spans.size() <= max);
        REQUIRE(b->spans.size() >= 1);
        for (const auto& sp : b->spans) {
          const std::string rec(b->input.data() + sp.begin, sp.len);
          REQUIRE(rec == "{\"i\":" + std::to_string(records) + "}");  // in order, none lost, no CR
          ++records;
        }
        std::string s = input_of(*b);
        for (char c : s) line += c == '\n';
        offset += s.size();
        joined += s;
      }
      REQUIRE(records == 58);
      REQUIRE(joined == text);
      if (max < 58) REQUIRE(batches.size() >= (58 + max - 1) / max);
    }
  }
}

TEST_CASE("reader strips a UTF-8 BOM at the start of each file only", "[reader]") {
  TempFile a("\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"b\":2}\n");
  TempFile b("\xEF\xBB\xBF[1]\n");
  auto batches = read_all({a.path, b.path}, ReaderOptions{});
  REQUIRE(batches.size() == 2);
  REQUIRE(input_of(*batches[0]) == "{\"a\":1}\n\xEF\xBB\xBF{\"b\":2}\n");
  REQUIRE(batches[0]->offset == 3);
  REQUIRE(batches[0]->source == 0);
  REQUIRE(input_of(*batches[1]) == "[1]\n");
  REQUIRE(batches[1]->source == 1);
  REQUIRE(batches[1]->first_line == 1);  // line numbers restart per source
}

TEST_CASE("a line longer than max_record_size becomes an oversized batch and reading goes on", "[reader]") {
  std::string big(10000, 'a');
  TempFile f("{\"ok\":1}\n\"" + big + "\"\n{\"ok\":2}\n");
  ReaderOptions opt;
  opt.batch_size = 64;
  opt.max_record_size = 1000;
  opt.oversized_keep = 100;
  auto batches = read_all({f.path}, opt);
  std::string normal;
  int oversized = 0;
  for (auto& b : batches) {
    if (b->oversized) {
      ++oversized;
      REQUIRE(b->oversized_size == big.size() + 2);
      REQUIRE(b->first_line == 2);
      REQUIRE(b->offset == 9);
      REQUIRE(b->input.size() == 100);
    } else {
      normal += input_of(*b);
    }
  }
  REQUIRE(oversized == 1);
  REQUIRE(normal == "{\"ok\":1}\n{\"ok\":2}\n");
}

TEST_CASE("reader reports a missing file and a directory as fatal errors", "[reader]") {
  std::string error;
  read_all({"/nonexistent/x.jsonl"}, ReaderOptions{}, &error);
  REQUIRE(error == "cannot open '/nonexistent/x.jsonl': No such file or directory");
  read_all({"/tmp"}, ReaderOptions{}, &error);
  REQUIRE(error == "cannot read '/tmp': Is a directory");
}

TEST_CASE("reader on an empty file emits nothing", "[reader]") {
  TempFile f("");
  REQUIRE(read_all({f.path}, ReaderOptions{}).empty());
}
