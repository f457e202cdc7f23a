// The .atb byte layout (docs/package.md is the specification; this header is
// its single source in code): field offsets, limits, little-endian codecs,
// entry path rules, the manifest facts every kind must provide, and the
// writer hooks tests use to build packages the real writer would refuse.
//
// Layout, all integers little-endian:
//   [0, 288)                        header
//   [288, index_offset)             format 2: the apps the package is for
//   [index_offset, +index_size)     index: entry_count records, 96 bytes + path
//   [manifest_offset, +size)        the manifest bytes
//   [data_offset, +data_size)       one zstd frame per entry, in index order
//   [signature_offset, +80)         signature block; ends the file
// The sections are contiguous and in this order. The signature is Ed25519
// over bytes [0, data_offset).
//
// Concurrency: pure functions, except EnsureSodium's one-time initialisation
// (a function-local static).
#ifndef ATRIUM_BUNDLES_PACKAGE_FORMAT_H_
#define ATRIUM_BUNDLES_PACKAGE_FORMAT_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/base/hex.h"
#include "atrium/package.h"
#include "atrium/result.h"

struct ZSTD_CCtx_s;

namespace atrium::internal {

// --- Header -----------------------------------------------------------------
inline constexpr char kPackageMagic[4] = {'A', 'T', 'B', '1'};
inline constexpr uint16_t kFormatVersion = 2;        // what the writer writes
inline constexpr uint16_t kOldestFormatVersion = 1;  // format 1: no apps section
inline constexpr uint64_t kHeaderSize = 288;
inline constexpr size_t kHeaderMagic = 0;             // char[4] "ATB1"
inline constexpr size_t kHeaderFormatVersion = 4;     // u16
inline constexpr size_t kHeaderHeaderSize = 6;        // u16, 288
inline constexpr size_t kHeaderFlags = 8;             // u32, 0 (no flags defined in v1)
inline constexpr size_t kHeaderKind = 12;             // u8, ArtifactKind
inline constexpr size_t kHeaderIdLength = 13;         // u8, 1..128
inline constexpr size_t kHeaderVersionLength = 14;    // u8, 1..64
inline constexpr size_t kHeaderReserved = 15;         // u8, 0
inline constexpr size_t kHeaderIndexOffset = 16;      // u64
inline constexpr size_t kHeaderIndexSize = 24;        // u64
inline constexpr size_t kHeaderManifestOffset = 32;   // u64
inline constexpr size_t kHeaderManifestSize = 40;     // u64
inline constexpr size_t kHeaderDataOffset = 48;       // u64
inline constexpr size_t kHeaderDataSize = 56;         // u64
inline constexpr size_t kHeaderSignatureOffset = 64;  // u64
inline constexpr size_t kHeaderSignatureSize = 72;    // u64, 80
inline constexpr size_t kHeaderEntryCount = 80;       // u32
inline constexpr size_t kHeaderManifestEntry = 84;    // u32, index of the manifest's entry
inline constexpr size_t kHeaderTotalSize = 88;        // u64, sum of entry sizes
inline constexpr size_t kHeaderId = 96;               // char[128], NUL-padded
inline constexpr size_t kHeaderVersion = 224;         // char[64], NUL-padded
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxVersionBytes = 64;

// --- Apps section (format 2), at kHeaderSize, up to index_offset ------------
// u16 count (1..kMaxApps), u16 reserved (0), then `count` records of u8
// length (1..kMaxAppPatternBytes) and that many bytes: an app pattern
// (AppPatternProblem), sorted bytewise, unique.
inline constexpr size_t kAppsCount = 0;     // u16
inline constexpr size_t kAppsReserved = 2;  // u16, 0
inline constexpr size_t kAppsFixedSize = 4;
inline constexpr size_t kMaxApps = 64;
inline constexpr size_t kMaxAppPatternBytes = 128;
inline constexpr uint64_t kMaxAppsSectionBytes =
    kAppsFixedSize + kMaxApps * (1 + kMaxAppPatternBytes);

// --- Index record -----------------------------------------------------------
inline constexpr size_t kRecordOffset = 0;          // u64, file offset of the frame
inline constexpr size_t kRecordCompressedSize = 8;  // u64
inline constexpr size_t kRecordUncompressed = 16;   // u64, uncompressed size
inline constexpr size_t kRecordMode = 24;           // u32, kModeExecutable or 0
inline constexpr size_t kRecordPathLength = 28;     // u16
inline constexpr size_t kRecordReserved = 30;       // u16, 0
inline constexpr size_t kRecordSha256 = 32;         // [32] SHA-256 of the entry's bytes
inline constexpr size_t kRecordFrameHash = 64;      // [32] BLAKE2b-256 of the zstd frame
inline constexpr size_t kRecordPath = 96;           // path bytes, path_length of them
inline constexpr size_t kRecordFixedSize = 96;
inline constexpr uint32_t kModeExecutable = 1;

// --- Signature block --------------------------------------------------------
inline constexpr char kSignatureMagic[4] = {'A', 'T', 'S', 'G'};
inline constexpr uint16_t kSignatureEd25519 = 1;
inline constexpr uint64_t kSignatureBlockSize = 80;
inline constexpr size_t kSignatureMagicAt = 0;    // char[4] "ATSG"
inline constexpr size_t kSignatureAlgorithm = 4;  // u16, 1 = Ed25519
inline constexpr size_t kSignatureReserved = 6;   // u16, 0
inline constexpr size_t kSignatureKeyId = 8;      // [8] KeyIdOf(public key)
inline constexpr size_t kSignatureBytes = 16;     // [64] Ed25519 signature
// Appended to "not among the N trusted key(s)": where a user sets them.
inline constexpr const char* kWhereKeysAre =
    " (an app trusts the keys in its app.json \"release_keys\"; atrium verify, its --pubkey)";

// --- Limits -----------------------------------------------------------------
inline constexpr uint32_t kMaxEntries = 100'000;
inline constexpr uint64_t kMaxIndexBytes = uint64_t{32} << 20;
inline constexpr uint64_t kMaxManifestBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 30;   // one entry, uncompressed
inline constexpr uint64_t kMaxTotalBytes = uint64_t{16} << 30;  // all entries
// zstd cannot expand one byte of frame into more than this many bytes (a
// 128 KiB RLE block costs 4 bytes), so a larger declared size is a lie.
inline constexpr uint64_t kMaxExpansion = 32'768;
// Largest zstd window a frame may ask for (16 MiB; the writer's levels 1..19
// stay within it), so decoding an unverified frame cannot allocate more.
inline constexpr int kMaxWindowLog = 24;
inline constexpr int kMaxZstdLevel = 19;
inline constexpr size_t kMaxPathBytes = 1024;
inline constexpr size_t kMaxSegmentBytes = 255;

// --- Codecs -----------------------------------------------------------------
inline uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline uint64_t LoadU64(const uint8_t* p) {
  return uint64_t{LoadU32(p)} | (uint64_t{LoadU32(p + 4)} << 32);
}
inline void StoreU16(uint8_t* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void StoreU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

using Digest = std::array<uint8_t, 32>;

void EnsureSodium();
Digest Sha256(std::string_view bytes);
Digest FrameHash(std::string_view frame);  // BLAKE2b-256
// kInvalidArgument naming `source` unless the key's public half matches its seed.
Status CheckSecretKey(const SecretKey& key, std::string_view source);

// Why `path` may not name an entry, or "" when it may: non-empty, at most
// kMaxPathBytes, relative, '/'-separated segments that are non-empty, not "."
// or "..", at most kMaxSegmentBytes; no backslash, NUL or control character.
std::string EntryPathProblem(std::string_view path);

// What the reader and the writer need from an artifact's manifest.
struct ManifestFacts {
  std::string id;
  std::string version;                 // canonical semver text
  std::string library;                 // native_bundle: may be empty
  std::vector<std::string> resources;  // native_bundle
};
// native_bundle: ParseManifest. Other kinds: a strict JSON object with a
// string "id" ([A-Za-z0-9][A-Za-z0-9._-]*, at most 128 bytes) and a semver
// "version"; other members are the artifact's own business.
Result<ManifestFacts> ReadManifestFacts(ArtifactKind kind, std::string_view text,
                                        std::string_view file);
// Why `id` cannot be the header id of a `kind` package, or "".
std::string ArtifactIdProblem(ArtifactKind kind, std::string_view id);
// The manifest's library / resources must be entries (a resource may also be
// a directory holding entries). Empty when they are; else the problem.
std::string MissingManifestFile(const ManifestFacts& facts,
                                const std::vector<std::string_view>& sorted_paths);

// --- Apps section -------------------------------------------------------------
// The section's bytes for `apps` (already checked, sorted and unique).
std::string EncodeAppsSection(const std::vector<std::string>& apps);
// Reads the apps section: `section` is the package's bytes [kHeaderSize,
// index_offset). On success `problem` is empty; otherwise it says what is
// wrong and `problem_at` where, relative to the section's start.
struct AppsSection {
  std::vector<std::string> apps;
  std::string problem;
  uint64_t problem_at = 0;
};
AppsSection ParseAppsSection(std::string_view section);
// The writer's check of PackOptions::apps: each pattern valid, not empty,
// at most kMaxApps, "*" alone. Returns them sorted and unique.
Result<std::vector<std::string>> NormaliseApps(const std::vector<std::string>& apps);

// --- Serialisation shared by the writer and the test hooks -------------------
struct HeaderFields {
  uint16_t format_version = kFormatVersion;
  // Format 2: the size of the apps section, which lies between the header
  // and the index (so index_offset = kHeaderSize + apps_section_size).
  uint64_t apps_section_size = 0;
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  uint8_t kind_byte_override = 0;  // tests: a raw kind byte when non-zero
  std::string id;
  std::string version;
  uint64_t index_size = 0;
  uint64_t manifest_size = 0;
  uint64_t data_size = 0;
  uint32_t entry_count = 0;
  uint32_t manifest_entry = 0;
  uint64_t total_size = 0;
};
// The 288 header bytes for contiguous sections (offsets follow from sizes);
// the apps section, when there is one, is the caller's to append.
std::string EncodeHeader(const HeaderFields& h);

struct IndexRecord {
  uint64_t offset = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint32_t mode = 0;
  Digest sha256{};
  Digest frame_hash{};
  std::string path;
};
void AppendIndexRecord(std::string* out, const IndexRecord& r);
// Signs bytes [0, data_offset) of a package image and returns the 80-byte block.
std::string SignatureBlock(std::string_view signed_prefix, const SecretKey& key);

// --- Entry frames ---------------------------------------------------------------
// How PackDirectory compresses one entry, kept in one place so that delta
// packages (atd_image.cc) can rebuild a frame byte for byte: a fresh
// session at `level` (1..19), no zstd checksum, the content size pledged and
// recorded, the content fed in steps of kFrameInputStep bytes (the writer's
// read size) with ZSTD_e_continue, then an empty ZSTD_e_end. The frame then
// depends only on the content, the level and the zstd library's version.
inline constexpr size_t kFrameInputStep = size_t{1} << 20;
class EntryFrameCompressor {
 public:
  EntryFrameCompressor();
  ~EntryFrameCompressor();
  EntryFrameCompressor(const EntryFrameCompressor&) = delete;
  EntryFrameCompressor& operator=(const EntryFrameCompressor&) = delete;
  // Starts a frame of `size` content bytes.
  void Begin(int level, uint64_t size);
  // Compresses the next step of content (at most kFrameInputStep bytes) and
  // hands every piece of output to `sink`; `end` (with an empty `input`)
  // finishes the frame. kInternal ("zstd: ...") when zstd fails.
  Status Feed(std::string_view input, bool end,
              const std::function<Status(std::string_view)>& sink);

 private:
  ZSTD_CCtx_s* cctx_;
  std::string out_;
};
// `content` compressed exactly as PackDirectory compresses a file holding it.
Result<std::string> CompressEntryFrame(std::string_view content, int level);

// --- Test hooks ---------------------------------------------------------------
// A package built from raw parts without the writer's checks (paths, order,
// uniqueness, sizes), so tests and the fuzzer can make what the reader must
// refuse. Entries are written in the given order.
struct RawEntryForTesting {
  std::string path;
  std::string data;
  bool executable = false;
  std::optional<uint64_t> declared_size;  // index size instead of data.size()
  std::optional<std::string> frame;       // frame bytes instead of zstd(data)
};
struct RawPackageForTesting {
  uint16_t format_version = kFormatVersion;  // 1: no apps section
  std::vector<std::string> apps = {"*"};     // format 2, encoded as given
  std::optional<std::string> apps_section;   // raw section bytes instead
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  std::string id;
  std::string version;
  std::string manifest;
  uint32_t manifest_entry = 0;
  std::vector<RawEntryForTesting> entries;
  SecretKey key{};
};
std::string BuildPackageForTesting(const RawPackageForTesting& spec);
// After a test edits header, index or manifest bytes of `image`: re-signs
// bytes [0, data_offset) (as the header now says) into the last 80 bytes.
void ResignForTesting(std::string* image, const SecretKey& key);
// Recomputes every in-bounds frame hash in the index of `image` (fuzzing:
// lets mutated frames reach the decompressor).
void RehashFramesForTesting(std::string* image);
// Opens a package image held in memory; `name` stands for the file in errors.
Result<std::unique_ptr<PackageReader>> OpenPackageBytesForTesting(std::string image,
                                                                  std::string name);

}  // namespace atrium::internal

#endif  // ATRIUM_BUNDLES_PACKAGE_FORMAT_H_
