// Binary deltas between two versions of one file (a package entry): what
// `atrium diff` stores for a changed entry and `atrium apply` turns back into
// the new file given the old one. The engine works on byte buffers only; the
// package format decides where a delta lives.
//
// EncodeDelta tries two methods and keeps the smaller delta (it is meant to
// run offline: a suffix array costs 4 bytes per old byte, and zstd level 19
// takes seconds on a multi-megabyte library; applying takes milliseconds):
//  1. patch-from: the new file compressed by zstd with the old file as a
//     prefix (content-only dictionary), long-distance matching on and a window
//     covering both; best where text moved or was edited (assets, scripts).
//  2. suffix-array diff (bsdiff's approach, our own code): a suffix array of
//     the old file (libdivsufsort) finds long exact matches; each is extended
//     into an approximate match; the new file becomes a list of control
//     records (add, copy, seek), a "diff" stream (new minus old, byte-wise,
//     over the approximate matches: mostly zeros on executables, where code
//     that moved changes only its relative addresses) and an "extra" stream
//     (bytes with no match). Each stream is a separate zstd frame; the extra
//     stream uses the old file as prefix; the diff stream is stored either
//     as is or run-length split (zero runs, non-zero runs, non-zero bytes),
//     whichever is smaller for this file.
//
// Delta layout (integers little-endian; "varint" is unsigned LEB128):
//   0   4  magic "ATDL"
//   4   1  format version (1)
//   5   1  method: 1 patch-from, 2 suffix-array, 3 suffix-array with a
//          run-length split diff stream
//   6   2  reserved, zero
//   8   8  old size
//   16  8  new size
//   24  8  XXH64 (seed 0) of the old file
//   32  8  XXH64 (seed 0) of the new file
//   40     body, a sequence of streams, each a varint compressed size and
//          then that many bytes of one zstd frame that records its content
//          size (a size of 0 is an empty stream, no frame):
//          method 1: new file (old as prefix)
//          method 2: control, diff, extra (old as prefix)
//          method 3: control, zero runs, non-zero runs, non-zero bytes,
//                    extra (old as prefix)
//   The body ends exactly at the end of the delta.
// Control stream: records of three varints (add length, copy length,
// zigzag-coded seek). Starting with the old cursor at 0, each record makes
// new[i] = old[cursor + i] + diff[i] for its add length (mod 256; cursor and
// diff advance), then appends the next copy-length bytes of extra, then moves
// the cursor by seek. The cursor must stay within [0, old size]; every
// record but the first adds or copies at least one byte. The run
// streams of method 3 are varints; zero runs and non-zero runs alternate
// (zero run first) and are as many; together they are the diff stream.
//
// The two hashes catch a wrong base and a corrupt delta; they authenticate
// nothing (whoever writes a delta writes its hashes too: the package
// signature is what authenticates). So they are XXH64, at several GB/s,
// rather than a cryptographic hash: libsodium's BLAKE2b (about 1 GB/s here)
// or SHA-256 (about 0.2 GB/s) on both files would be most of the time an
// apply takes on a multi-megabyte library.
//
// ApplyDelta trusts nothing in the delta: every size and control value is
// checked against the old and new sizes before memory is touched, frames are
// sized before decompression, and the result must hash to the recorded new
// hash. Errors carry the delta offset they concern in Error::offset.
//
// Concurrency: free functions without shared mutable state; any thread may
// call them at once.
#ifndef ATRIUM_BUNDLES_DELTA_H_
#define ATRIUM_BUNDLES_DELTA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace atrium::delta {

// The method byte of a delta.
enum class Method : uint8_t {
  kPatchFrom = 1,
  kSuffixArray = 2,
  kSuffixArrayRuns = 3,  // suffix array, run-length split diff stream
};

const char* MethodName(Method method);

// Largest old or new file a delta may describe (and ApplyDelta allocates).
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 30;

inline constexpr size_t kHeaderSize = 40;

struct DeltaOptions {
  // Unset: encode with every method and keep the smallest delta.
  std::optional<Method> method;
  // zstd level of every stream, 1..22 (20 and up need more memory to encode).
  int level = 19;
};

using Digest = uint64_t;  // XXH64, seed 0

// What the header of a delta says.
struct DeltaInfo {
  Method method = Method::kPatchFrom;
  uint64_t old_size = 0;
  uint64_t new_size = 0;
  Digest old_hash = 0;
  Digest new_hash = 0;
};

// A delta that turns `old_bytes` into `new_bytes`. Fails only on inputs
// larger than kMaxFileSize or a level outside 1..22.
Result<std::string> EncodeDelta(std::string_view old_bytes, std::string_view new_bytes,
                                const DeltaOptions& options = {});

// The new file `delta` describes, given the old file it was made from.
Result<std::string> ApplyDelta(std::string_view old_bytes, std::string_view delta);

// The header of `delta`, validated (magic, version, method, sizes); the body
// is not read.
Result<DeltaInfo> ReadDeltaInfo(std::string_view delta);

// XXH64 (seed 0) of `bytes`, the hash a delta records.
Digest HashOf(std::string_view bytes);

}  // namespace atrium::delta

#endif  // ATRIUM_BUNDLES_DELTA_H_
