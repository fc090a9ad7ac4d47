// Compressed input, detected by its first bytes whatever the file is called (also on stdin):
// gzip (RFC 1952, any number of members one after the other, as `cat a.gz b.gz` makes), inflated
// with ISA-L's igzip, and zstd (any number of frames, skippable ones too) with libzstd.
//
//   FdSource ──► open_input() peeks at the first bytes ──► GzipSource / ZstdSource / PrefixSource
//
// The decompressing sources run in the reader's thread, ahead of the workers, so decompression
// overlaps with parsing. A truncated or corrupt stream is a read error naming the file and the
// compressed byte offset; the reader writes every whole record decompressed before it first.
#pragma once

#include <memory>
#include <string>

#include "src/io/byte_source.h"

namespace ppipe {

enum class Compression { kNone, kGzip, kZstd };

// What the first bytes of a stream say (kNone also when there are too few to tell).
Compression detect_compression(const char* data, std::size_t size);

// Opens `path` ("-": standard input) and wraps it in a decompressor when its content is compressed.
// nullptr with *error set when it cannot be opened.
std::unique_ptr<ByteSource> open_input(const std::string& path, StopToken& stop, std::string* error);

// Wraps an opened source (exposed for tests: a source of any bytes).
std::unique_ptr<ByteSource> wrap_decompressing(std::unique_ptr<ByteSource> src);

}  // namespace ppipe
