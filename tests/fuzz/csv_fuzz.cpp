// libFuzzer target for the CSV splitter (src/io/csv.h): for any input, framing it with a batch cut
// at any position (the cut the reader makes, the rest carried into the next batch; the first input
// byte chooses where) finds exactly the records and line numbers one scan finds; and decoding each
// record (with its header, with none, any delimiter) never crashes and gives valid JSON.
#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "src/io/csv.h"

using namespace ppipe;

namespace {

struct Found {
  std::vector<std::string> records;
  std::vector<std::uint64_t> lines;
  bool operator==(const Found& o) const { return records == o.records && lines == o.lines; }
};

void append(Batch& b, std::string_view s) {
  if (s.empty()) return;  // (an empty buffer's data() may be null: no pointer arithmetic on it)
  std::size_t n = b.input.size();
  b.input.resize(n + s.size());
  std::memcpy(b.input.data() + n, s.data(), s.size());
}

Found frame(std::string_view text, std::size_t cut_at) {
  CsvFramer framer(',', true);
  framer.start_source();
  Found f;
  std::string carry;
  std::size_t pos = 0;
  std::uint64_t line = 1;
  for (;;) {
    Batch b;
    framer.start_batch(b);
    append(b, carry);
    carry.clear();
    framer.scan(b);
    std::size_t limit = std::max<std::size_t>(b.input.size(), std::min(text.size(), pos + cut_at));
    if (pos < limit) {
      append(b, text.substr(pos, limit - pos));
      pos = limit;
      framer.scan(b);
    }
    bool eof = pos == text.size();
    if (eof) framer.finish(b);
    for (const RecordSpan& r : b.spans) {
      f.records.emplace_back(b.input.data() + r.begin, r.len);
      f.lines.push_back(line + r.line);
    }
    std::size_t cut = framer.cut();
    carry.assign(b.input.data() + cut, b.input.size() - cut);
    line += framer.cut_lines();
    if (eof) return f;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Found whole = frame(text, text.size() + 1);
  const std::size_t cut = 1 + data[0] % (text.size() + 1);
  if (!(frame(text, cut) == whole)) __builtin_trap();
  auto header = csv_header(whole.records.empty() ? std::string_view("a,b") : std::string_view(whole.records[0]), ',');
  simdjson::dom::parser parser;
  std::string out, error;
  for (const std::string& rec : whole.records) {
    for (const InputHeader* h : {header.get(), static_cast<const InputHeader*>(nullptr)}) {
      if (decode_csv(rec, h, data[0] & 1 ? ';' : ',', true, &out, &error)) {
        simdjson::dom::element doc;
        // Always valid JSON (simdjson's DOM refuses numbers beyond 64 bits, which JSON allows).
        simdjson::error_code e = parser.parse(out).get(doc);
        if (e != simdjson::SUCCESS && e != simdjson::NUMBER_ERROR) __builtin_trap();
      }
    }
  }
  return 0;
}
