// The decompressing sources without the reader: detection by magic bytes, gzip members and zstd
// frames fed in pieces of every size (a header, a member boundary or a checksum split anywhere),
// stalls of a slow pipe passed through, and damaged streams as errors naming the offset.
#include <catch2/catch.hpp>

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <cstring>
#include <string>
#include <vector>

#include "src/io/decompress.h"

using namespace ppipe;

namespace {

// A source of given bytes, handed out `step` bytes at a time, with a stall (kOk, 0) after each
// piece when `stalls` is set, as a slow pipe gives them.
class PiecesSource final : public ByteSource {
 public:
  PiecesSource(std::string data, std::size_t step, bool stalls) : data_(std::move(data)), step_(step), stalls_(stalls) {}
  Result read(char* dst, std::size_t cap, int) override {
    if (stalls_ && stall_next_) {
      stall_next_ = false;
      return {Status::kOk, 0};
    }
    if (pos_ == data_.size()) return {Status::kEof, 0};
    std::size_t n = std::min({cap, step_, data_.size() - pos_});
    std::memcpy(dst, data_.data() + pos_, n);
    pos_ += n;
    stall_next_ = true;
    return {Status::kOk, n};
  }
  bool regular() const override { return false; }
  const std::string& name() const override { return name_; }
  std::uint64_t compressed_bytes() const override { return pos_; }
  const std::string& error() const override { return error_; }

 private:
  std::string data_;
  std::size_t step_, pos_ = 0;
  bool stalls_, stall_next_ = false;
  std::string name_ = "pieces", error_;
};

std::string gzip(const std::string& in) {
  isal_zstream s;
  isal_deflate_init(&s);
  s.gzip_flag = IGZIP_GZIP;
  s.end_of_stream = 1;
  s.flush = NO_FLUSH;
  std::string out(in.size() + 1024, '\0');
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<std::uint32_t>(in.size());
  s.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  s.avail_out = static_cast<std::uint32_t>(out.size());
  REQUIRE(isal_deflate_stateless(&s) == COMP_OK);
  out.resize(s.total_out);
  return out;
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

struct Drained {
  std::string out;
  ByteSource::Status end;
  std::string error;
};

Drained drain(std::string compressed, std::size_t step, bool stalls, std::size_t cap = 4096) {
  auto src = wrap_decompressing(std::make_unique<PiecesSource>(std::move(compressed), step, stalls));
  Drained d;
  std::vector<char> buf(cap);
  for (int guard = 0; guard < 10'000'000; ++guard) {
    auto r = src->read(buf.data(), buf.size(), -1);
    if (r.status != ByteSource::Status::kOk) {
      d.end = r.status;
      d.error = src->error();
      return d;
    }
    d.out.append(buf.data(), r.got);
  }
  FAIL("the source never ended");
  return d;
}

std::string lines(int n, int seed) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "{\"i\":" + std::to_string(i * seed) + ",\"pad\":\"" + std::string(i % 50, 'x') + "\"}\n";
  return s;
}

}  // namespace

TEST_CASE("decompress: detection by the first bytes, not the name", "[decompress]") {
  CHECK(detect_compression("\x1f\x8b\x08", 3) == Compression::kGzip);
  CHECK(detect_compression("\x28\xb5\x2f\xfd", 4) == Compression::kZstd);
  CHECK(detect_compression("\x5a\x2a\x4d\x18", 4) == Compression::kZstd);  // a skippable frame
  CHECK(detect_compression("{\"a\"", 4) == Compression::kNone);
  CHECK(detect_compression("\x1f", 1) == Compression::kNone);  // too few to tell
  CHECK(detect_compression("\x28\xb5", 2) == Compression::kNone);
}

TEST_CASE("decompress: gzip members and zstd frames in pieces of any size, with stalls", "[decompress]") {
  const std::string a = lines(3000, 7), b = lines(500, 3);
  const std::string gz = gzip(a) + gzip(b) + gzip("");  // three members, the last one empty
  const std::string zs = zstd(a) + std::string("\x50\x2a\x4d\x18\x03\x00\x00\x00" "abc", 11) + zstd(b);
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{4096}, std::size_t{1} << 20}) {
    for (bool stalls : {false, true}) {
      CAPTURE(step, stalls);
      // A stall is passed on as (kOk, 0), never as the end.
      Drained g = drain(gz, step, stalls, step == 1 ? 3 : 4096);
      CHECK(g.end == ByteSource::Status::kEof);
      CHECK(g.out == a + b);
      Drained z = drain(zs, step, stalls);
      CHECK(z.end == ByteSource::Status::kEof);
      CHECK(z.out == a + b);
    }
  }
  // Plain bytes pass through unchanged, also a stream shorter than a magic number.
  CHECK(drain(a, 3, true).out == a);
  CHECK(drain("\x1f", 1, false).out == "\x1f");
  CHECK(drain("", 1, false).out.empty());
}

TEST_CASE("decompress: zstd into a destination larger than one output chunk", "[decompress]") {
  // ZstdSource hands out at most one chunk per read() (so the reader frames it while it is in
  // cache); what stays inside the decoder after a full chunk must come out with no more input.
  const std::string a = lines(20000, 11), b = lines(9000, 13);  // about 1 MiB and 0.4 MiB
  const std::string zs = zstd(a) + zstd(b);
  for (std::size_t step : {std::size_t{4096}, std::size_t{1} << 22}) {
    CAPTURE(step);
    Drained z = drain(zs, step, false, std::size_t{1} << 21);
    CHECK(z.end == ByteSource::Status::kEof);
    CHECK(z.out == a + b);
  }
  // Cut inside the second frame: all of the first comes out, then the error with its offset.
  const std::string cut = zs.substr(0, zs.size() - 100);
  Drained t = drain(cut, 4096, false, std::size_t{1} << 21);
  CHECK(t.end == ByteSource::Status::kError);
  CHECK(t.error == "truncated zstd data: the stream ends inside a frame (compressed byte " + std::to_string(cut.size()) + ")");
  REQUIRE(t.out.size() >= a.size());
  CHECK(t.out.compare(0, a.size(), a) == 0);
  CHECK(b.compare(0, t.out.size() - a.size(), t.out, a.size()) == 0);
}

TEST_CASE("decompress: truncated and corrupt streams are errors with the offset", "[decompress]") {
  const std::string a = lines(2000, 5);
  const std::string gz = gzip(a), zs = zstd(a);
  for (std::size_t cut : {gz.size() - 1, gz.size() - 8, gz.size() / 2, std::size_t{12}}) {
    CAPTURE(cut);
    Drained d = drain(gz.substr(0, cut), 1000, false);
    CHECK(d.end == ByteSource::Status::kError);
    CHECK(d.error == "truncated gzip data: the stream ends inside a member (compressed byte " + std::to_string(cut) + ")");
    CHECK(a.compare(0, d.out.size(), d.out) == 0);  // what came out is the start of the data
  }
  Drained z = drain(zs.substr(0, zs.size() / 2), 1000, false);
  CHECK(z.end == ByteSource::Status::kError);
  CHECK(z.error == "truncated zstd data: the stream ends inside a frame (compressed byte " + std::to_string(zs.size() / 2) + ")");

  std::string bad = gz;
  bad[bad.size() - 6] ^= 0x01;  // the CRC-32 in the trailer
  Drained c = drain(bad, 4096, false);
  CHECK(c.end == ByteSource::Status::kError);
  CHECK(c.error.rfind("corrupt gzip data near compressed byte ", 0) == 0);
  CHECK(c.error.find("checksum mismatch") != std::string::npos);

  Drained t = drain(gz + "{}\n", 4096, false);
  CHECK(t.end == ByteSource::Status::kError);
  CHECK(t.error == "not gzip data after the end of a gzip member (compressed byte " + std::to_string(gz.size()) + ")");
  CHECK(t.out == a);
}
