// The .atd byte layout (docs/package.md, "Delta packages", is the
// specification; this header is its single source in code) and the pieces of
// apply that work on bytes in memory, so tests and the fuzzer can drive them
// without files.
//
// Layout, all integers little-endian:
//   [0, 128)                      header
//   [128, +prefix_size)           the target's bytes [0, data_offset):
//                                 header, index, manifest (what it signs)
//   [.., +80)                     the target's signature block
//   [ops_offset, +ops_size)       one op per target entry, in index order;
//                                 ends the file
// Op: 16 bytes (op, level, base path length, reserved, payload size), the
// base entry path, the payload (a delta.h delta or a zstd frame).
//
// Concurrency: pure functions of their arguments.
#ifndef ATRIUM_BUNDLES_DELTA_PACKAGE_H_
#define ATRIUM_BUNDLES_DELTA_PACKAGE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/delta_package.h"
#include "atrium/package.h"
#include "atrium/result.h"
#include "package_format.h"

namespace atrium::internal {

// --- Header ---------------------------------------------------------------------
inline constexpr char kAtdMagic[4] = {'A', 'T', 'D', '1'};
inline constexpr uint16_t kAtdFormatVersion = 1;
inline constexpr uint64_t kAtdHeaderSize = 128;
inline constexpr size_t kAtdMagicAt = 0;          // char[4] "ATD1"
inline constexpr size_t kAtdVersionAt = 4;        // u16, 1
inline constexpr size_t kAtdHeaderSizeAt = 6;     // u16, 128
inline constexpr size_t kAtdFlagsAt = 8;          // u32, 0
inline constexpr size_t kAtdOpCountAt = 12;       // u32, the target's entry count
inline constexpr size_t kAtdBaseSizeAt = 16;      // u64, bytes of the base .atb
inline constexpr size_t kAtdTargetSizeAt = 24;    // u64, bytes of the target .atb
inline constexpr size_t kAtdBaseSha256At = 32;    // [32] SHA-256 of the base .atb
inline constexpr size_t kAtdTargetSha256At = 64;  // [32] SHA-256 of the target .atb
inline constexpr size_t kAtdPrefixSizeAt = 96;    // u64, the target's data_offset
inline constexpr size_t kAtdOpsOffsetAt = 104;    // u64, 128 + prefix_size + 80
inline constexpr size_t kAtdOpsSizeAt = 112;      // u64, ops_offset + ops_size = file size
inline constexpr size_t kAtdReservedAt = 120;     // u64, 0

// --- Op record ------------------------------------------------------------------
inline constexpr size_t kOpKindAt = 0;            // u8, DeltaOp
inline constexpr size_t kOpLevelAt = 1;           // u8, delta: 1..19, else 0
inline constexpr size_t kOpBasePathLengthAt = 2;  // u16, same/delta: 1..1024, full: 0
inline constexpr size_t kOpReservedAt = 4;        // u32, 0
inline constexpr size_t kOpPayloadSizeAt = 8;     // u64
inline constexpr size_t kOpFixedSize = 16;        // then the base path, then the payload

// A target entry as the embedded index describes it.
struct AtdTargetEntry {
  std::string_view path;
  uint64_t offset = 0;  // in the target
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  Digest sha256{};
  Digest frame_hash{};
};

struct AtdOp {
  DeltaOp op = DeltaOp::kFull;
  int level = 0;
  std::string_view base_path;  // same, delta
  std::string_view payload;    // delta: a delta.h delta; full: the frame
  uint64_t at = 0;             // offset of the record in the .atd
  uint64_t payload_at = 0;     // offset of the payload in the .atd
};

// A .atd whose structure has been checked; views point into the bytes given
// to ParseAtd, which must outlive it.
struct AtdImage {
  std::string name;  // the .atd in errors
  uint64_t size = 0;
  uint64_t base_size = 0;
  uint64_t target_size = 0;
  Digest base_sha256{};
  Digest target_sha256{};
  std::string_view prefix;     // target bytes [0, data_offset)
  std::string_view signature;  // the target's 80-byte signature block
  uint64_t signature_at = 0;   // its offset in the .atd
  std::vector<AtdTargetEntry> entries;
  std::vector<AtdOp> ops;  // parallel to entries
};

// Checks every field, every length against the bytes (overflow-safe), the
// embedded target header and index as far as rebuilding needs them (the
// rebuilt package is checked in full by PackageReader), and every op record.
// kCorrupt / kValidation naming `name` and the offset in the .atd.
Result<AtdImage> ParseAtd(std::string_view bytes, std::string name);

// Checks the embedded target signature with the trusted key it names.
Status VerifyAtdSignature(const AtdImage& atd, std::span<const PublicKey> trusted_keys);

// Checks that `base_bytes` is the base `atd` was made from (size and SHA-256).
Status CheckAtdBase(const AtdImage& atd, std::string_view base_bytes, std::string_view base_name);

// Rebuilds the target package: hands its bytes to `sink` in file order,
// after checking each frame against the target index (frame BLAKE2b and
// size; a delta's content SHA-256 too) and at the end the whole file against
// the .atd's target SHA-256. `base` is `base_bytes` opened by PackageReader
// (its frames are copied from `base_bytes`, its entries read through it);
// CheckAtdBase should have passed. Counts the ops in `stats` when non-null.
Status RebuildTarget(const AtdImage& atd, std::string_view base_bytes, const PackageReader& base,
                     const std::function<Status(std::string_view)>& sink, ApplyStats* stats);

// The serialised op record (header, base path, payload), for the diff and
// for tests that build hostile .atd files.
std::string EncodeAtdOp(DeltaOp op, int level, std::string_view base_path,
                        std::string_view payload);
// The 128-byte header for the given fields (ops_offset follows from
// prefix_size).
struct AtdHeaderFields {
  uint32_t op_count = 0;
  uint64_t base_size = 0;
  uint64_t target_size = 0;
  Digest base_sha256{};
  Digest target_sha256{};
  uint64_t prefix_size = 0;
  uint64_t ops_size = 0;
};
std::string EncodeAtdHeader(const AtdHeaderFields& h);

}  // namespace atrium::internal

#endif  // ATRIUM_BUNDLES_DELTA_PACKAGE_H_
