#include <catch2/catch.hpp>

#include <cstdio>
#include <unistd.h>

#include "src/io/diagnostics.h"
#include "src/io/error_record.h"
#include "src/io/error_sink.h"

using namespace ppipe;

namespace {

std::string error_line(std::string_view source, std::uint64_t line, std::string_view record,
                       std::string_view message = "invalid JSON: oops") {
  std::string out;
  append_error_record(out, {source, line, 0, "parse", message, record, 0});
  return out;
}

// Runs an ErrorSink over `records` (in the given chunks) into a temporary file; returns what it wrote.
struct SinkRun {
  std::string written;
  std::uint64_t count = 0;
  std::string summary, hint;
};

SinkRun run_sink(bool human, const std::vector<std::string>& chunks, std::uint64_t records_out = 0) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  SinkRun r;
  {
    Output out(fileno(f), "tmp");
    ErrorSink sink(out, human);
    for (const auto& c : chunks) REQUIRE(sink.append(c) == 0);
    REQUIRE(out.flush() == 0);
    r.count = sink.count();
    r.summary = sink.summary();
    r.hint = sink.hint(records_out);
  }
  std::rewind(f);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.written.append(buf, n);
  std::fclose(f);
  return r;
}

}  // namespace

TEST_CASE("base64 decodes what append_base64 encodes, and refuses the rest", "[errors]") {
  for (std::string_view s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\x00\x1f\x8b"}) {
    std::string enc, dec;
    append_base64(enc, s);
    REQUIRE(decode_base64(enc, dec));
    REQUIRE(dec == s);
  }
  std::string dec;
  REQUIRE_FALSE(decode_base64("Zm9", dec));
  REQUIRE_FALSE(decode_base64("Zm9v!A==", dec));
  REQUIRE_FALSE(decode_base64("Z=9v", dec));
}

TEST_CASE("terminal_safe escapes control bytes, C1 controls and invalid UTF-8, and cuts at N characters",
          "[errors]") {
  REQUIRE(terminal_safe("plain") == "plain");
  REQUIRE(terminal_safe("a\x1b[31mb") == "a\\x1b[31mb");
  REQUIRE(terminal_safe("t\tn\nr\r\x7f") == "t\\tn\\nr\\r\\x7f");
  REQUIRE(terminal_safe("caf\xC3\xA9") == "caf\xC3\xA9");
  REQUIRE(terminal_safe("\xC2\x85x") == "\\u0085x");      // NEL, a C1 control
  REQUIRE(terminal_safe("\xC2\xA0") == "\xC2\xA0");         // NBSP is printable
  REQUIRE(terminal_safe("a\xff" "b\xC3") == "a\\xffb\\xc3");  // invalid and truncated sequences
  REQUIRE(terminal_safe("\xED\xA0\x80") == "\\xed\\xa0\\x80");  // an encoded surrogate
  REQUIRE(terminal_safe("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 2) == "\xE6\x97\xA5\xE6\x9C\xAC…");
  REQUIRE(terminal_safe("abc", 3) == "abc");
  REQUIRE(terminal_safe("abcd", 3) == "abc…");
}

TEST_CASE("JSON mode passes error records through unchanged and counts them", "[errors]") {
  std::string a = error_line("a.jsonl", 1, "x") + error_line("a.jsonl", 2, "y");
  std::string b = error_line("a.jsonl", 5, "z");
  SinkRun r = run_sink(false, {a, b}, 10);
  REQUIRE(r.written == a + b);
  REQUIRE(r.count == 3);
  REQUIRE(r.summary.empty());
  REQUIRE(r.hint.empty());
}

TEST_CASE("terminal mode: one short line per record, cut after 20, a summary with the count", "[errors]") {
  SinkRun one = run_sink(true, {error_line("a.jsonl", 7, "{\"a\":01}", "invalid JSON: leading zero")});
  REQUIRE(one.written == "a.jsonl:7: parse: invalid JSON: leading zero | {\"a\":01}\n");
  REQUIRE(one.summary == "ppipe: 1 record went to the error stream; --errors FILE keeps them as JSON Lines\n");

  std::vector<std::string> chunks;
  for (int chunk = 0; chunk < 5; ++chunk) {
    std::string c;
    for (int i = 0; i < 7; ++i) c += error_line("b.jsonl", static_cast<std::uint64_t>(chunk * 7 + i + 1), "bad");
    chunks.push_back(c);
  }
  SinkRun many = run_sink(true, chunks);
  REQUIRE(many.count == 35);
  std::size_t lines = 0;
  for (char c : many.written) lines += c == '\n';
  REQUIRE(lines == 21);  // 20 records and the notice
  REQUIRE(many.written.find("b.jsonl:20: parse:") != std::string::npos);
  REQUIRE(many.written.find("b.jsonl:21:") == std::string::npos);
  REQUIRE(many.written.find("ppipe: more than 20 records failed; counting the rest\n") != std::string::npos);
  REQUIRE(many.summary ==
          "ppipe: 35 records went to the error stream (the first 20 shown); --errors FILE keeps them as JSON Lines\n");
}

TEST_CASE("terminal mode shows an invalid-UTF-8 record from its base64, escaped, cut at 80 characters",
          "[errors]") {
  SinkRun r = run_sink(true, {error_line("c.jsonl", 3, "\"caf\xe9\"")});
  REQUIRE(r.written == "c.jsonl:3: parse: invalid JSON: oops | \"caf\\xe9\"\n");
  SinkRun longer = run_sink(true, {error_line("c.jsonl", 3, std::string(200, 'x'))});
  REQUIRE(longer.written == "c.jsonl:3: parse: invalid JSON: oops | " + std::string(80, 'x') + "…\n");
}

TEST_CASE("a hint when the first record failed and looks pretty-printed", "[errors]") {
  auto hint_for = [](std::string_view first, std::uint64_t first_line, std::uint64_t errors,
                     std::uint64_t records_out) {
    std::vector<std::string> chunks{error_line("f", first_line, first)};
    for (std::uint64_t i = 1; i < errors; ++i) chunks.push_back(error_line("f", first_line + i, "x"));
    return run_sink(false, chunks, records_out).hint;
  };
  REQUIRE(hint_for("{", 1, 3, 1).find("pretty-printed JSON ('{'") != std::string::npos);
  REQUIRE(hint_for("{", 1, 3, 1).find("--format json (") != std::string::npos);
  REQUIRE(hint_for("[ ", 1, 3, 1).find("--format json --unwrap") != std::string::npos);
  REQUIRE(hint_for("{", 1, 2, 2).empty());   // most records passed: no hint
  REQUIRE(hint_for("{", 2, 3, 0).empty());   // the first failed record is not on line 1
  REQUIRE(hint_for("{\"a\":", 1, 3, 0).empty());  // an ordinary broken line
}

TEST_CASE("a hint when the first failed record looks like UTF-16 text", "[errors]") {
  auto hint_for = [](std::string_view first, std::uint64_t first_line) {
    std::vector<std::string> chunks{error_line("f", first_line, first), error_line("f", first_line + 1, "x")};
    return run_sink(false, chunks, 0).hint;
  };
  using namespace std::string_view_literals;
  const std::string_view le_bom = "\xff\xfe{\0\"\0a\0\"\0:\0" "1\0}\0"sv;
  const std::string_view be_bom = "\xfe\xff\0{\0\"\0a"sv;
  const std::string_view le_line2 = "\0{\0\"\0a\0\"\0:\0" "2\0}"sv;  // after a split at the 0A of "\n\0"
  for (auto r : {le_bom, be_bom, le_line2}) REQUIRE(hint_for(r, 2).find("UTF-16") != std::string::npos);
  REQUIRE(hint_for(le_bom, 1).find("iconv -f UTF-16 -t UTF-8") != std::string::npos);
  // Other NUL bytes are not UTF-16: all NULs, or a few of them anywhere.
  REQUIRE(hint_for("\0\0\0\0\0\0\0\0"sv, 1).empty());
  REQUIRE(hint_for("{\"a\":\0\0 1, \"bb\": 2}"sv, 1).empty());
  REQUIRE(hint_for("\xfe"sv, 1).empty());
}

TEST_CASE("diagnostics: plain on a terminal, one JSON object with key 'ppipe' elsewhere", "[errors]") {
  Diagnostics text(false), json(true);
  REQUIRE(text.format("stopped", "stopped after 1 record error", {{"after", "1"}}) ==
          "ppipe: stopped after 1 record error\n");
  REQUIRE(json.format("stopped", "stopped after 1 record error", {{"reason", json_quote("max-errors")}, {"after", "1"}}) ==
          "{\"ppipe\":\"stopped\",\"reason\":\"max-errors\",\"after\":1,\"message\":\"stopped after 1 record error\"}\n");
  REQUIRE(json.format("error", "cannot open 'a\"b'") ==
          "{\"ppipe\":\"error\",\"message\":\"cannot open 'a\\\"b'\"}\n");
}
