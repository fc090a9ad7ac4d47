#include "src/io/decompress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <cstring>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace ppipe {

namespace {

constexpr std::size_t kInputChunk = 256 << 10;  // compressed bytes per read from the file
// Decompressed bytes per read() at most, though the reader offers the rest of its batch: the
// framer then scans each piece right after it was written, while it is still in the core's cache.
constexpr std::size_t kOutputChunk = 128 << 10;

constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

// How many of the first `size` bytes agree with a magic number of `n` bytes.
bool matches(const char* data, std::size_t size, const unsigned char* magic, std::size_t n) {
  for (std::size_t i = 0; i < std::min(size, n); ++i)
    if (static_cast<unsigned char>(data[i]) != magic[i]) return false;
  return true;
}

// A zstd skippable frame: 0x184D2A50..5F, little-endian.
bool skippable(const char* d, std::size_t size) {
  auto u = [&](std::size_t i) { return static_cast<unsigned char>(d[i]); };
  if (size >= 1 && (u(0) & 0xf0) != 0x50) return false;
  if (size >= 2 && u(1) != 0x2a) return false;
  if (size >= 3 && u(2) != 0x4d) return false;
  if (size >= 4 && u(3) != 0x18) return false;
  return true;
}

// The bytes read while looking at the magic number, then the source itself.
class PrefixSource final : public ByteSource {
 public:
  PrefixSource(std::unique_ptr<ByteSource> src, std::string prefix, Status pending)
      : src_(std::move(src)), prefix_(std::move(prefix)), pending_(pending) {}
  Result read(char* dst, std::size_t cap, int timeout_ms) override {
    if (pos_ < prefix_.size()) {
      std::size_t n = std::min(cap, prefix_.size() - pos_);
      std::memcpy(dst, prefix_.data() + pos_, n);
      pos_ += n;
      if (pos_ == prefix_.size()) std::string().swap(prefix_), pos_ = 0;
      return {Status::kOk, n};
    }
    if (pending_ != Status::kOk) return {pending_, 0};
    return src_->read(dst, cap, timeout_ms);
  }
  bool regular() const override { return src_->regular(); }
  const std::string& name() const override { return src_->name(); }
  std::uint64_t compressed_bytes() const override { return src_->compressed_bytes(); }
  bool decompresses() const override { return src_->decompresses(); }
  const std::string& error() const override { return src_->error(); }

 private:
  std::unique_ptr<ByteSource> src_;
  std::string prefix_;
  std::size_t pos_ = 0;
  Status pending_;  // what the source said after the prefix (kOk: nothing yet)
};

// The part shared by both decompressors: the wrapped source, its compressed bytes, the error.
class DecompressingSource : public ByteSource {
 public:
  DecompressingSource(std::unique_ptr<ByteSource> src, std::string prefix)
      : src_(std::move(src)), in_(std::move(prefix)), in_size_(in_.size()) {
    in_.resize(std::max(kInputChunk, in_.size()));
    fed_ = in_size_;
  }
  bool regular() const override { return src_->regular(); }
  const std::string& name() const override { return src_->name(); }
  std::uint64_t compressed_bytes() const override { return src_->compressed_bytes(); }
  bool decompresses() const override { return true; }
  const std::string& error() const override { return error_; }

 protected:
  // More compressed bytes after the `keep` bytes not consumed yet (moved to the front). kOk with
  // got == 0: the source stalled. kEof: the source ended (eof_ is set).
  Result refill(std::size_t keep_from, int timeout_ms) {
    std::size_t keep = in_size_ - keep_from;
    if (keep) std::memmove(in_.data(), in_.data() + keep_from, keep);
    in_size_ = keep;
    Result r = src_->read(in_.data() + keep, in_.size() - keep, timeout_ms);
    if (r.status == Status::kError) error_ = src_->error();
    if (r.status == Status::kEof) eof_ = true;
    if (r.status == Status::kOk) {
      in_size_ += r.got;
      fed_ += r.got;
    }
    return r;
  }
  // The input from `pos` on is used up: more of it (then pos is 0 and the result nothing), or what
  // read() returns now: the end, an error (the end inside a member or frame: `inside`), a stall.
  std::optional<Result> more_input(std::size_t& pos, bool inside, std::string_view truncated, int timeout_ms) {
    if (eof_) {
      if (inside) return fail(fmt::format("truncated {} (compressed byte {})", truncated, offset_of(in_size_)));
      return Result{Status::kEof, 0};
    }
    Result r = refill(pos, timeout_ms);
    pos = 0;
    if (r.status == Status::kError || r.status == Status::kStopped) return r;
    if (r.status == Status::kOk && r.got == 0) return r;  // stalled
    return std::nullopt;  // more input, or the end (seen on the next call)
  }
  // The compressed offset of a position in in_.
  std::uint64_t offset_of(std::size_t pos) const { return fed_ - (in_size_ - pos); }
  Result fail(std::string message) {
    error_ = std::move(message);
    return {Status::kError, 0};
  }

  std::unique_ptr<ByteSource> src_;
  std::string in_;
  std::size_t in_size_;      // bytes of in_ holding input
  std::uint64_t fed_ = 0;    // compressed bytes read from src_ so far
  bool eof_ = false;
  std::string error_;
};

class GzipSource final : public DecompressingSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> src, std::string prefix)
      : DecompressingSource(std::move(src), std::move(prefix)), state_(std::make_unique<inflate_state>()) {
    isal_inflate_init(state_.get());
  }

  Result read(char* dst, std::size_t cap, int timeout_ms) override {
    inflate_state& s = *state_;
    if (!pending_error_.empty()) return fail(std::move(pending_error_));
    for (;;) {
      // All input taken, but the inflater may still hold output (it stopped because the output
      // was full): that first, then more input (or the end, or "truncated").
      if ((pos_ == in_size_ && !flush_) || stuck_) {
        if (auto r = more_input(pos_, in_member_, "gzip data: the stream ends inside a member", timeout_ms)) return *r;
        stuck_ = false;
        continue;
      }
      if (!in_member_) {
        if (pos_ == in_size_) {
          // The member ended as its last output filled the buffer (flush_): nothing waits in the
          // inflater. Its end was taken for the start of another member, which then "ended
          // inside" at the end of the input (exit 3 on a valid file, by --batch-size).
          flush_ = false;
          continue;
        }
        // Zero bytes after a member (tape and block writers pad files so) end the stream, as for
        // gzip and Python's gzip module; anything but zeros after them is not gzip data.
        std::size_t z = pos_;
        while (z < in_size_ && in_[z] == 0) ++z;
        if (z > pos_ || zero_padding_) {
          if (z < in_size_)
            return fail(fmt::format("not gzip data after the end of a gzip member (compressed byte {})", offset_of(z)));
          zero_padding_ = true;
          pos_ = z;
          flush_ = false;  // (the member is finished: nothing waits in the inflater)
          continue;
        }
        // Between members: the next bytes must start another one.
        if (!matches(in_.data() + pos_, in_size_ - pos_, kGzipMagic, 2))
          return fail(fmt::format("not gzip data after the end of a gzip member (compressed byte {})", offset_of(pos_)));
        isal_inflate_reset(&s);
        s.crc_flag = ISAL_GZIP;
        in_member_ = true;
      }
      const std::size_t avail = in_size_ - pos_;
      const std::size_t room = std::min<std::size_t>(cap, UINT32_MAX);
      s.next_in = reinterpret_cast<std::uint8_t*>(in_.data() + pos_);
      s.avail_in = static_cast<std::uint32_t>(avail);
      s.next_out = reinterpret_cast<std::uint8_t*>(dst);
      s.avail_out = static_cast<std::uint32_t>(room);
      int rc = isal_inflate(&s);
      pos_ = in_size_ - s.avail_in;
      const std::size_t produced = room - s.avail_out;
      flush_ = produced == room;
      if (rc < 0) {
        // What it wrote before the damage (all of a member whose trailer's checksum is wrong)
        // is read first; the error on the next call.
        std::string message =
            fmt::format("corrupt gzip data near compressed byte {}: {}", offset_of(pos_), describe(rc));
        if (produced == 0) return fail(std::move(message));
        pending_error_ = std::move(message);
        return {Status::kOk, produced};
      }
      if (s.block_state == ISAL_BLOCK_FINISH) in_member_ = false;
      if (produced) return {Status::kOk, produced};
      // Nothing out and nothing taken: it needs more input than the rest of the buffer.
      if (in_member_ && s.avail_in == avail) stuck_ = true;
    }
  }

 private:
  static const char* describe(int rc) {
    switch (rc) {
      case ISAL_INVALID_BLOCK: return "invalid deflate block";
      case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK: return "invalid lookback distance";
      case ISAL_INVALID_WRAPPER: return "invalid gzip header";
      case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
      case ISAL_INCORRECT_CHECKSUM: return "checksum mismatch";
      default: return "inflate error";
    }
  }

  std::unique_ptr<inflate_state> state_;
  std::size_t pos_ = 0;  // the first byte of in_ not consumed yet
  bool in_member_ = false;
  bool stuck_ = false;  // the inflater wants more input before it can go on
  bool flush_ = false;  // the last call filled the output: the inflater may hold more
  bool zero_padding_ = false;  // zeros after the last member: only zeros may follow
  std::string pending_error_;  // an error after output that was returned first
};

class ZstdSource final : public DecompressingSource {
 public:
  ZstdSource(std::unique_ptr<ByteSource> src, std::string prefix)
      : DecompressingSource(std::move(src), std::move(prefix)), ds_(ZSTD_createDStream()) {
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }

  Result read(char* dst, std::size_t cap, int timeout_ms) override {
    if (!pending_error_.empty()) return fail(std::move(pending_error_));
    for (;;) {
      if (pos_ == in_size_ && !flush_) {
        if (auto r = more_input(pos_, hint_ != 0, "zstd data: the stream ends inside a frame", timeout_ms)) return *r;
        continue;
      }
      // At most the input zstd asks for next (its hint; byte by byte through a frame's header):
      // when a frame's checksum is wrong, the call that reads it fails without saying what it
      // wrote into `out` in that call, so that call must have nothing left to write. Given the
      // checksum with the rest of the last block, the block's output was lost, as much of it as
      // the call flushed (all of a small frame). And none while output of a block may still be
      // waiting inside (the last call filled `out`): the next input is the frame's checksum,
      // and a call given it flushed the rest of the last block and failed on the checksum in
      // one go, losing that output (how much depended on the size of `out`: --batch-size).
      const std::size_t want = flush_ ? 0 : (hint_ ? hint_ : 1);
      ZSTD_inBuffer in{in_.data(), std::min(in_size_, pos_ + want), pos_};
      ZSTD_outBuffer out{dst, std::min(cap, kOutputChunk), 0};
      std::size_t ret = ZSTD_decompressStream(ds_, &out, &in);
      if (ZSTD_isError(ret)) {
        // What it wrote before the damage is read first; the error on the next call.
        std::string message =
            ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge
                // A valid frame written with `zstd --long=28` or more: not "corrupt" (it was said
                // so), and the way around named (found by a bug hunt).
                ? std::string("a zstd frame that declares a window of more than 128 MiB (written with zstd --long=28 "
                              "or more, or a damaged frame header), which ppipe does not decode, to keep its memory "
                              "bounded: decompress it first (zstd -dc --long=31 FILE | ppipe ...)")
                : fmt::format("corrupt zstd data near compressed byte {}: {}", offset_of(in.pos), ZSTD_getErrorName(ret));
        if (out.pos == 0) return fail(std::move(message));
        pending_error_ = std::move(message);
        return {Status::kOk, out.pos};
      }
      pos_ = in.pos;
      hint_ = ret;
      flush_ = out.pos == out.size;  // maybe more is waiting inside, with no more input
      if (out.pos) return {Status::kOk, out.pos};
    }
  }

 private:
  ZSTD_DStream* ds_;
  std::size_t pos_ = 0;
  std::size_t hint_ = 0;  // 0: at the end of a frame
  bool flush_ = false;
  std::string pending_error_;  // an error after output that was returned first
};

}  // namespace

Compression detect_compression(const char* data, std::size_t size) {
  if (size >= 2 && matches(data, size, kGzipMagic, 2)) return Compression::kGzip;
  if (size >= 4 && (matches(data, size, kZstdMagic, 4) || skippable(data, size))) return Compression::kZstd;
  return Compression::kNone;
}

std::unique_ptr<ByteSource> wrap_decompressing(std::unique_ptr<ByteSource> src) {
  // Read until the first bytes decide: a JSON text never starts like a magic number, so a plain
  // stream is decided by its first byte and a slow pipe is never held waiting for more.
  std::string prefix;
  ByteSource::Status pending = ByteSource::Status::kOk;
  char buf[4096];
  for (;;) {
    bool maybe = prefix.empty() || (prefix.size() < 2 && matches(prefix.data(), prefix.size(), kGzipMagic, 2)) ||
                 (prefix.size() < 4 &&
                  (matches(prefix.data(), prefix.size(), kZstdMagic, 4) || skippable(prefix.data(), prefix.size())));
    if (!maybe) break;
    ByteSource::Result r = src->read(buf, sizeof buf, -1);
    if (r.status != ByteSource::Status::kOk) {
      pending = r.status;
      break;
    }
    prefix.append(buf, r.got);
  }
  // (A stream that ended may be compressed still: a gzip of nothing is 20 bytes.)
  if (pending == ByteSource::Status::kOk || pending == ByteSource::Status::kEof) {
    switch (detect_compression(prefix.data(), prefix.size())) {
      case Compression::kGzip: return std::make_unique<GzipSource>(std::move(src), std::move(prefix));
      case Compression::kZstd: return std::make_unique<ZstdSource>(std::move(src), std::move(prefix));
      case Compression::kNone: break;
    }
  }
  return std::make_unique<PrefixSource>(std::move(src), std::move(prefix), pending);
}

std::unique_ptr<ByteSource> open_input(const std::string& path, StopToken& stop, std::string* error) {
  std::unique_ptr<ByteSource> src = FdSource::open(path, stop, error);
  if (!src) return nullptr;
  return wrap_decompressing(std::move(src));
}

}  // namespace ppipe
