#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
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

// Reads `path` (whose bytes are `content`) in batches of `opt`: every record's (line, text), with
// each batch's position checked and at most opt.max_records records a batch.
std::vector<std::pair<std::uint64_t, std::string>> records_with_lines(const std::string& path,
                                                                      const std::string& content, ReaderOptions opt) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  std::uint64_t line = 1, offset = 0;
  std::string joined;
  for (auto& b : read_all({path}, opt)) {
    REQUIRE(b->first_line == line);
    REQUIRE(b->offset == offset);
    if (opt.max_records) REQUIRE(b->spans.size() <= opt.max_records);
    for (const auto& sp : b->spans)
      out.emplace_back(b->first_line + sp.line, std::string(b->input.data() + sp.begin, sp.len));
    std::string s = input_of(*b);
    for (char c : s) line += c == '\n';
    offset += s.size();
    joined += s;
  }
  REQUIRE(joined == content);  // (a csv header row is in the first batch, not a record)
  return out;
}

// The records (with their lines) of one read in big batches, and the same for batches cut at
// every max_records in `maxes` and several batch sizes. Returns them.
std::vector<std::pair<std::uint64_t, std::string>> same_for_every_cut(const std::string& path, const std::string& content,
                                                                      ReaderOptions opt,
                                                                      std::initializer_list<std::size_t> maxes) {
  opt.max_records = 0;
  opt.batch_size = 1 << 20;
  const auto want = records_with_lines(path, content, opt);
  for (std::size_t max : maxes) {
    for (std::size_t batch : {16, 4096, 1 << 20}) {
      INFO("max_records " << max << ", batch_size " << batch);
      opt.max_records = max;
      opt.batch_size = batch;
      REQUIRE(records_with_lines(path, content, opt) == want);
    }
  }
  return want;
}

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

TEST_CASE("reader cuts csv batches at max_records: quoted newlines, CRLF, blank lines, the same records and lines", "[reader]") {
  std::string text = "a,b\r\n";
  for (int i = 0; i < 40; ++i) {
    if (i % 5 == 2) text += "\r\n\n";                          // blank lines: no records, but lines
    if (i % 3 == 0) text += std::to_string(i) + ",\"x\ny\r\nz\"\r\n";  // a record over three lines
    else text += std::to_string(i) + ",\"q\"\"\"\n";
  }
  text += "40,\"end\"";  // the last record, without its line end
  TempFile f(text);
  ReaderOptions opt;
  opt.format = InputFormat::kCsv;
  const auto want = same_for_every_cut(f.path, text, opt, {1, 2, 3, 7, 100});
  REQUIRE(want.size() == 41);
  REQUIRE(want[1] == std::make_pair(std::uint64_t{5}, std::string("1,\"q\"\"\"")));
}

TEST_CASE("reader cuts json-stream batches at max_records: the same values and lines, --unwrap too", "[reader]") {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    switch (i % 6) {
      case 0: text += "{\"a\": [1,\n 2], \"s\": \"x\\\"}\"}\n"; break;  // a string with an escaped quote
      case 1: text += std::to_string(i) + " "; break;                    // scalars ended by a space
      case 2: text += "true,"; break;                                     // a scalar, then a stray ','
      case 3: text += "\"str\ning\"\n\n"; break;
      case 4: text += "[[]]null"; break;                                  // a scalar right after a container
      default: text += "}\n"; break;                                      // a stray character
    }
  }
  text += "12";  // the last value, ended by the end of the input
  for (bool unwrap : {false, true}) {
    const std::string input = unwrap ? "[" + text + "]\n" : text;
    TempFile f(input);
    INFO("unwrap " << unwrap);
    ReaderOptions opt;
    opt.format = InputFormat::kJson;
    opt.unwrap = unwrap;
    REQUIRE(same_for_every_cut(f.path, input, opt, {1, 2, 3, 7, 1000}).size() > 35);
  }
}

TEST_CASE("by default a batch holds at most kMaxBatchRecords records, however short", "[reader]") {
  // 100,000 2-byte lines: at 1 MiB a batch they would be one batch of them all.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "x\n";
  TempFile f(text);
  ReaderOptions opt;
  REQUIRE(opt.max_records == kMaxBatchRecords);
  auto batches = read_all({f.path}, opt);
  std::uint64_t records = 0, line = 1;
  for (auto& b : batches) {
    REQUIRE(b->spans.size() <= kMaxBatchRecords);
    REQUIRE(b->first_line == line);
    records += b->spans.size();
    line += b->spans.size();
  }
  REQUIRE(records == 100000);
  REQUIRE(batches.size() == (100000 + kMaxBatchRecords - 1) / kMaxBatchRecords);
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
