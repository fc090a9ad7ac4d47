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
#include "tests/unit/csv_frame.h"

using namespace ppipe;
using csv_frame_test::Found;
using csv_frame_test::frame;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Found whole = frame(text, text.size() + 1, text.size() + 1);
  const std::size_t cut = 1 + data[0] % (text.size() + 1);
  if (!(frame(text, cut, text.size() + 1) == whole)) __builtin_trap();
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
