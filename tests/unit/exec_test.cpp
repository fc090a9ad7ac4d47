// exec's pieces without the engine: the record-mode command template (quoting, injection,
// refusals), durations, rates, backoff and the token bucket (driven by numbers, no sleeping).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "src/core/pipeline.h"
#include "stages/exec/process.h"
#include "stages/exec/rate.h"
#include "stages/exec/template.h"
#include "stages/registry.h"
#include "tests/unit/run_to_files.h"

using namespace ppipe;

namespace {

std::string expand(std::string_view cmd, std::string_view record, std::string* error = nullptr) {
  std::string e;
  auto t = CommandTemplate::compile(cmd, &e);
  REQUIRE(t);
  simdjson::dom::parser parser;
  std::string out;
  bool ok = t->expand(record, parser, &out, error ? error : &e);
  if (!ok) return "<error>";
  return out;
}

std::string refused(std::string_view cmd) {
  std::string e;
  auto t = CommandTemplate::compile(cmd, &e);
  return t ? "<accepted>" : e;
}

// Runs `sh -c CMD` and returns its stdout.
std::string run_shell(const std::string& cmd) {
  std::string full = cmd;
  FILE* p = popen(full.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace

TEST_CASE("template: {} is the whole record and {.path} a value, each one single-quoted word", "[exec]") {
  CHECK(expand("echo {}", R"({"a":1})") == R"(echo '{"a":1}')");
  CHECK(expand("echo {.a}", R"({"a":"x y"})") == "echo 'x y'");
  CHECK(expand("echo {.a.b}", R"({"a":{"b":42}})") == "echo '42'");
  CHECK(expand("echo {.a[1]} {.a[-1]}", R"({"a":[1,2,3]})") == "echo '2' '3'");
  CHECK(expand("echo {.\"k k\"} {.[\"q\"]}", R"({"k k":"v","q":true})") == "echo 'v' 'true'");
  CHECK(expand("echo {.o}", R"({"o":{"x":[1, 2]}})") == R"(echo '{"x":[1,2]}')");
  CHECK(expand("echo {.}", R"("just a string")") == "echo 'just a string'");
  CHECK(expand("echo {.n}", R"({"n":null})") == "echo 'null'");
  CHECK(expand("f{.id}.txt", R"({"id":7})") == "f'7'.txt");
  // Numbers, and numbers inside arrays and objects, as --map prints them (jq's way), not as
  // simdjson writes doubles: `1e2` is 100, `-0.0` is -0.
  CHECK(expand("echo {.n} {.f} {.e} {.z}", R"({"n":1e2,"f":1.50,"e":2.5e-7,"z":-0.0})") ==
        "echo '100' '1.5' '2.5e-07' '-0'");
  CHECK(expand("echo {.o}", R"({"o":{"a":1e2,"b":[1.0,18446744073709551615]}})") ==
        R"(echo '{"a":100,"b":[1,18446744073709551615]}')");
  // Braces that are no placeholder stay as they are.
  CHECK(expand("echo ${HOME} {x} {", R"({})") == "echo ${HOME} {x} {");
  CHECK(expand("echo \\{}", R"({})") == "echo \\{}");
}

TEST_CASE("template: a missing path or a NUL byte fails the record", "[exec]") {
  std::string e;
  CHECK(expand("echo {.a}", R"({"b":1})", &e) == "<error>");
  CHECK(e.find("no .a") != std::string::npos);
  CHECK(expand("echo {.a.b}", R"({"a":"s"})", &e) == "<error>");
  CHECK(e.find(".a is not an object") != std::string::npos);
  CHECK(expand("echo {.a[5]}", R"({"a":[1]})", &e) == "<error>");
  CHECK(expand("echo {.a}", R"({"a":"x\u0000y"})", &e) == "<error>");
  CHECK(e.find("NUL") != std::string::npos);
  CHECK(expand("echo {}", std::string("{\"a\":\"x\0\"}", 10), &e) == "<error>");
  CHECK(expand("echo {.a}", "not json", &e) == "<error>");
  CHECK(e == "--exec {.a}: the record is invalid JSON: invalid literal 'not' at column 1 (strings need double quotes)");
  // A number beyond 64 bits is valid JSON: any path reads the record (the number keeps its text),
  // and the path's errors are the same words.
  CHECK(expand("echo {.a}", R"({"a":1,"b":123456789012345678901234567890})", &e) == "echo '1'");
  // Duplicate keys: the last, as jq and --map read them (with a big number too).
  CHECK(expand("echo {.a}", R"({"a":1,"a":{"b":2}})", &e) == "echo '{\"b\":2}'");
  CHECK(expand("echo {.a.b}", R"({"a":{"b":1},"a":{"b":2},"n":1e400})", &e) == "echo '2'");
  CHECK(expand("echo {.b} {.c[-1]} {.c} {.d.e}", R"({"b":1e400,"c":[-1e999,"x y"],"d":{"e":"it's"}})", &e) ==
        "echo '1e400' 'x y' '[-1e999,\"x y\"]' 'it'\\''s'");
  CHECK(expand("echo {.a.b}", R"({"a":"s","n":1e400})", &e) == "<error>");
  CHECK(e == "--exec {.a.b}: .a is not an object");
  CHECK(expand("echo {.c[5]}", R"({"c":[1e400]})", &e) == "<error>");
  CHECK(e == "--exec {.c[5]}: the record has no .c[5]");
  CHECK(expand("echo {.a}", R"({"a":"x\u0000y","n":1e400})", &e) == "<error>");
  CHECK(e.find("NUL") != std::string::npos);
}

TEST_CASE("template: placeholders inside quotes or after $ are refused, bad paths too", "[exec]") {
  CHECK(refused("echo '{}'").find("inside quotes") != std::string::npos);
  CHECK(refused("echo \"{.a}\"").find("inside quotes") != std::string::npos);
  CHECK(refused("echo \"$(cat {})\"").find("inside quotes") != std::string::npos);
  CHECK(refused("echo ${}").find("after '$'") != std::string::npos);
  CHECK(refused("echo {.a.}").find("bad placeholder") != std::string::npos);
  CHECK(refused("echo {.a").find("no closing") != std::string::npos);
  CHECK(refused("echo {.a[x]}").find("bad placeholder") != std::string::npos);
  CHECK(refused("echo {.a b}").find("bad placeholder") != std::string::npos);
  // Quotes closed before the placeholder are fine, and so is a quoted '{' that is no placeholder.
  CHECK(refused("echo 'a' {} \"b\" '{x}'") == "<accepted>");
}

TEST_CASE("template: placeholders in comments, here-documents and backquotes are refused", "[exec][injection]") {
  // Where the shell reads our quoted word as something else: a newline in the value ends a
  // comment; a here-document runs $(...) inside our quotes; a backquote in the value ends `...`.
  CHECK(refused("echo hi # {.s}").find("inside a comment") != std::string::npos);
  CHECK(refused("echo hi #{}").find("inside a comment") != std::string::npos);
  CHECK(refused("cat <<EOF\n{.s}\nEOF").find("inside a here-document") != std::string::npos);
  CHECK(refused("cat <<-'EOF'\n\tx {}\n\tEOF").find("inside a here-document") != std::string::npos);
  CHECK(refused("cat <<A <<B\na\nA\n{}\nB").find("inside a here-document") != std::string::npos);
  CHECK(refused("echo `echo {.s}`").find("inside `...`") != std::string::npos);
  // An apostrophe in a comment opens no quote: the quoted placeholder on the next line is seen.
  CHECK(refused("true # don't\necho '{.s}'").find("inside quotes") != std::string::npos);
  // Not comments, not here-documents: # inside a word, ${#x}, an escaped #, <<< and text after the
  // here-document's end; quotes and backquotes that close before the placeholder.
  CHECK(refused("echo a#{} ${#HOME} \\# {}") == "<accepted>");
  CHECK(refused("cat <<EOF\nit's $(date)\nEOF\necho {} # done") == "<accepted>");
  CHECK(refused("cat <<< x; echo `date` {}") == "<accepted>");
  // `<<` in arithmetic is a shift, on the placeholder's line or before it.
  CHECK(refused("echo $((1<<2))\necho {.a}") == "<accepted>");
  CHECK(refused("x=$(( (1 << 2) + 1 )); echo $x {}") == "<accepted>");
  CHECK(refused("echo $(( {.n} + 1 ))").find("inside $((...))") != std::string::npos);
  CHECK(expand("true # don't\necho {.s}", R"J({"s":"$(touch x)"})J") == "true # don't\necho '$(touch x)'");
  // In a parameter expansion's word the shell splits and globs: `${v:={.a}}` with "x *" gave
  // x and the directory's files. A ${...} that ends before the placeholder is no matter.
  CHECK(refused("printf '%s' ${v:={.a}}").find("inside ${...}") != std::string::npos);
  CHECK(refused("echo ${v:-${w:-{}}}").find("inside ${...}") != std::string::npos);
  CHECK(refused("echo ${HOME} ${#v} {.a}") == "<accepted>");
  // Quotes and backslashes inside ${...} are read as the shell reads them: a quoted or escaped
  // '}' does not end it (taken for its end, the quote after it was read the wrong way round, and
  // the value landed outside our quotes: `echo ${v:-'}'}' {.a} '` ran $(...) in a value; found
  // by a review). Braces in quotes inside it, and `$${` (the pid, then a brace), are no matter.
  CHECK(refused("echo ${v:-'}'}' {.a} '").find("inside quotes") != std::string::npos);
  CHECK(refused("echo ${v:-\"}\"}\" {.a} \"").find("inside quotes") != std::string::npos);
  CHECK(refused("printf '<%s>' ${v:=\\}{.a}}").find("inside ${...}") != std::string::npos);
  CHECK(refused("echo ${v:-\"{\"} {.a}") == "<accepted>");
  CHECK(refused("echo ${v:-'{'} {.a}") == "<accepted>");
  CHECK(refused("echo $${ {.a} }") == "<accepted>");
  CHECK(expand("echo ${v:-'}'} {.a}", R"J({"a":"$(touch x)"})J") == "echo ${v:-'}'} '$(touch x)'");
}

TEST_CASE("template: record values run nothing, whatever they hold", "[exec][injection]") {
  char dir_template[] = "/tmp/ppipe_exec_inj_XXXXXX";
  REQUIRE(mkdtemp(dir_template));
  std::string dir = dir_template;
  std::string marker = dir + "/marker";
  // Each value tries another way out of its word; the command prints the word back.
  const std::vector<std::string> values = {
      "'; touch " + marker + "; echo '",
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "a; touch " + marker,
      "a\ntouch " + marker,
      "a' \"$(touch " + marker + ")\" '",
      "\\'; touch " + marker + " #",
      "a && touch " + marker + " || touch " + marker,
      "$((1+1)) ${HOME} * ?",
      "> " + marker,
  };
  for (const std::string& v : values) {
    std::string json = "{\"v\":\"";
    for (char c : v) {
      if (c == '"' || c == '\\') json.push_back('\\');
      if (c == '\n') {
        json += "\\n";
        continue;
      }
      json.push_back(c);
    }
    json += "\"}";
    std::string cmd = expand("printf '%s|' {.v} {.v}", json);
    INFO("value: " << v << "\ncommand: " << cmd);
    std::string out = run_shell(cmd);
    CHECK(out == v + "|" + v + "|");  // exactly two words, each the value
    struct stat st;
    CHECK(stat(marker.c_str(), &st) != 0);
    // The whole record as one word too.
    std::string whole = expand("printf '%s|' {}", json);
    CHECK(run_shell(whole) == json + "|");
    CHECK(stat(marker.c_str(), &st) != 0);
  }
  rmdir(dir.c_str());
}

TEST_CASE("durations, rates and backoff", "[exec]") {
  CHECK(parse_duration("500ms") == Approx(0.5));
  CHECK(parse_duration("5s") == Approx(5));
  CHECK(parse_duration("2m") == Approx(120));
  CHECK(parse_duration("1h") == Approx(3600));
  CHECK(parse_duration("1.5s") == Approx(1.5));
  for (const char* bad : {"", "5", "s", "-1s", "1.s", ".5s", "1..2s", "5 s", "5sec", "1e3s", "nan s"})
    CHECK_FALSE(parse_duration(bad));
  CHECK(parse_rate("20/s") == Approx(20));
  CHECK(parse_rate("120/m") == Approx(2));
  CHECK(parse_rate("3600/h") == Approx(1));
  CHECK(parse_rate("2.5/s") == Approx(2.5));
  for (const char* bad : {"", "20", "0/s", "20/d", "/s", "20/ s", "-1/s"}) CHECK_FALSE(parse_rate(bad));

  auto b = parse_backoff("100ms:10s");
  REQUIRE(b);
  CHECK(b->min_s == Approx(0.1));
  CHECK(b->max_s == Approx(10));
  auto only_min = parse_backoff("20s");
  REQUIRE(only_min);
  CHECK(only_min->max_s == Approx(20));
  CHECK_FALSE(parse_backoff("2s:1s"));
  CHECK_FALSE(parse_backoff("1s:"));
  CHECK_FALSE(parse_backoff("x"));

  // Full jitter: uniform in [0, min(max, min * 2^(retry-1))].
  Backoff d{0.1, 1.0};
  CHECK(backoff_delay(d, 1, 0.999) == Approx(0.0999));
  CHECK(backoff_delay(d, 2, 0.5) == Approx(0.1));
  CHECK(backoff_delay(d, 3, 1.0) == Approx(0.4));
  CHECK(backoff_delay(d, 4, 1.0) == Approx(0.8));
  CHECK(backoff_delay(d, 5, 1.0) == Approx(1.0));  // capped
  CHECK(backoff_delay(d, 1000, 0.5) == Approx(0.5));
  CHECK(backoff_delay(d, 3, 0.0) == 0);
}

TEST_CASE("token bucket: starts full, refills at the rate, never above the burst", "[exec]") {
  TokenBucket b(10, 3);  // 10 a second, 3 at once
  double t = 100;
  CHECK(b.try_take(t));
  CHECK(b.try_take(t));
  CHECK(b.try_take(t));
  CHECK_FALSE(b.try_take(t));
  CHECK(b.wait(t) == Approx(0.1));
  CHECK_FALSE(b.try_take(t + 0.05));
  CHECK(b.wait(t + 0.05) == Approx(0.05));
  CHECK(b.try_take(t + 0.1));  // exactly when wait() said
  CHECK_FALSE(b.try_take(t + 0.1));
  // A long pause refills to the burst only.
  t += 100;
  int taken = 0;
  while (b.try_take(t)) ++taken;
  CHECK(taken == 3);
  // Over 10 s of steady demand: 10 a second, plus the burst that was there at the start.
  TokenBucket s(10, 1);
  int starts = 0;
  for (double now = 0; now < 10.0 - 1e-9; now += 0.001)
    while (s.try_take(now)) ++starts;
  CHECK(starts == 100);
  // Waiting exactly wait() seconds each time gives exactly the rate.
  TokenBucket w(7, 1);
  double now = 0;
  REQUIRE(w.try_take(now));
  for (int i = 0; i < 70; ++i) {
    now += w.wait(now);
    REQUIRE(w.try_take(now));
  }
  CHECK(now == Approx(10.0));
}

namespace {

// A child's non-blocking pipe, read until its end.
std::string read_to_end(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EAGAIN) break;
    else usleep(1000);
  }
  return out;
}

}  // namespace

TEST_CASE("process: exit status and signals in words; a spawned shell in its own group", "[exec]") {
  CHECK(describe_wait_status(3 << 8) == "exit status 3");
  CHECK(describe_wait_status(9) == "killed by signal 9 (KILL)");
  ChildProcess c;
  std::string error;
  REQUIRE(spawn_shell("cut -d' ' -f5 /proc/$$/stat; exit 4", &c, &error));
  ::close(c.stdin_fd);
  std::string out = read_to_end(c.stdout_fd);
  int status = 0;
  REQUIRE(waitpid(c.pid, &status, 0) == c.pid);
  CHECK(describe_wait_status(status) == "exit status 4");
  CHECK(std::stol(out) == c.pid);  // its process group is its own
  for (int fd : {c.stdout_fd, c.stderr_fd, c.pid_fd})
    if (fd >= 0) ::close(fd);
}

TEST_CASE("process: a plain command starts without the shell; anything else through sh -c", "[exec]") {
  using Words = std::vector<std::string>;
  CHECK(plain_command_words("cat") == Words{"cat"});
  CHECK(plain_command_words("  gzip -c\t-9 ") == Words{"gzip", "-c", "-9"});
  CHECK(plain_command_words("./resize.sh --size=10 a,b:c@d%e+f") == Words{"./resize.sh", "--size=10", "a,b:c@d%e+f"});
  // The shell's business: quotes, expansions, redirections, pipes, globs, comments, tilde,
  // assignments, keywords and builtins, newlines.
  for (const char* cmd : {"cut -d' ' -f1", "echo $HOME", "wc -l < x", "sort | uniq", "ls *.json", "ls ?",
                          "cat # c", "cat ~/x", "X=1 cat", "if true", "true", "exit 3", "cd /tmp", "echo hi",
                          "cat\ncat", "cat; ls", "cat &", "a\\b", "cat \"x\"", "(cat)", "{ cat; }", "!", "",
                          "   ", "[ -f x ]", "printf x", "kill 1", "cat `x`", "cat x=$(y)"})
    CHECK_FALSE(plain_command_words(cmd));

  SpawnPlan cat = plan_command("cat -u");
  CHECK_FALSE(cat.shell);
  CHECK(cat.path.find('/') != std::string::npos);  // resolved on PATH once, not per call
  CHECK(cat.argv == Words{"cat", "-u"});
  SpawnPlan sh = plan_command("cat | wc -l");
  CHECK(sh.shell);
  CHECK(sh.argv == Words{"sh", "-c", "cat | wc -l"});
  // Not on PATH: the shell runs it, so that the failure is the shell's own (status 127, "not found").
  CHECK(plan_command("no-such-program-ppipe").shell);

  // A file without a #! line cannot be exec'd; sh runs it as a script, and so does a direct plan.
  std::string script = "/tmp/ppipe_exec_plain_" + std::to_string(getpid());
  {
    std::ofstream f(script);
    f << "echo from-script; exit 5\n";
  }
  ::chmod(script.c_str(), 0755);
  SpawnPlan plan = plan_command(script);
  CHECK_FALSE(plan.shell);
  ChildProcess c;
  std::string error;
  REQUIRE(spawn_command(plan, &c, &error));
  ::close(c.stdin_fd);
  std::string out = read_to_end(c.stdout_fd);
  int status = 0;
  REQUIRE(waitpid(c.pid, &status, 0) == c.pid);
  CHECK(out == "from-script\n");
  CHECK(describe_wait_status(status) == "exit status 5");
  for (int fd : {c.stdout_fd, c.stderr_fd, c.pid_fd})
    if (fd >= 0) ::close(fd);
  ::unlink(script.c_str());
}

// The exec stage inside the engine (also what the TSan build runs for exec): its I/O thread, the
// engine's drain and the workers together; and an interrupt while commands run.
namespace {

struct ExecRunResult {
  std::string out, err;
  RunStats stats;
  double seconds = 0;
};

ExecRunResult run_exec(const std::string& input, std::initializer_list<std::pair<std::string_view, std::string_view>> exec,
                       StopToken& stop) {
  std::string base = "/tmp/ppipe_exec_test_" + std::to_string(getpid());
  {
    std::ofstream f(base + ".in", std::ios::binary);
    f << input;
  }
  std::vector<std::unique_ptr<Stage>> stages;
  std::string e;
  stages.push_back(make_stage("parse", {}, &e));
  stages.push_back(make_stage("exec", exec, &e));
  REQUIRE(stages.back() != nullptr);
  Chain chain(std::move(stages), {"in.jsonl"}, 1 << 20);
  EngineOptions opt;
  opt.inputs = {base + ".in"};
  opt.workers = 2;
  opt.queue_depth = 8;
  opt.reader.batch_size = 256;
  opt.reader.max_record_size = 1 << 20;
  auto t0 = std::chrono::steady_clock::now();
  test::FileRun r = test::run_to_files(opt, chain, base, stop);
  ExecRunResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::remove((base + ".in").c_str());
  result.out = std::move(r.out);
  result.err = std::move(r.err);
  result.stats = r.result.stats;
  return result;
}

std::string numbered(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += "{\"i\":" + std::to_string(i) + "}\n";
  return s;
}

}  // namespace

TEST_CASE("exec in the engine: batch and record mode give the input back in order", "[exec][pipeline]") {
  const std::string input = numbered(300);
  StopToken stop;
  ExecRunResult batch = run_exec(input, {{"--exec", "cat"}}, stop);
  CHECK(batch.out == input);
  CHECK(batch.err.empty());
  CHECK(batch.stats.records_in == 300);
  CHECK(batch.stats.records_out == 300);
  CHECK(batch.stats.stages[1].extra.find("\"failures\":0") != std::string::npos);

  StopToken stop2;
  ExecRunResult record =
      run_exec(numbered(40), {{"--exec", "cat; echo {.i}"}, {"--exec-mode", "record"}, {"--concurrency", "8"}}, stop2);
  std::string want;
  for (int i = 1; i <= 40; ++i) want += "{\"i\":" + std::to_string(i) + "}\n" + std::to_string(i) + "\n";
  CHECK(record.out == want);
  CHECK(record.stats.records_out == 80);
  CHECK(record.stats.emitted == 80);
  CHECK(record.stats.consumed == 40);
  CHECK(record.stats.stages[1].extra.find("\"calls\":40,") != std::string::npos);
}

TEST_CASE("exec in the engine: a stop while commands run ends them, every record accounted for", "[exec][pipeline]") {
  StopToken stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.raise(StopReason::kSigint);
  });
  ExecRunResult r = run_exec(numbered(50), {{"--exec", "sleep 5; cat"}, {"--exec-mode", "record"}, {"--concurrency", "4"}},
                             stop);
  stopper.join();
  CHECK(r.seconds < 3);  // TERM ended the sleeps: no 5 s wait, nor 50 x 5 s
  CHECK(r.out.empty());
  CHECK(r.stats.records_in == 50);
  CHECK(r.stats.errors == 50);
  CHECK(r.stats.records_in == r.stats.records_out + r.stats.dropped + r.stats.errors);
  CHECK(r.err.find("interrupted: the run was stopped while the command ran") != std::string::npos);
  CHECK(r.err.find("not run: the run was interrupted") != std::string::npos);
}
