// The structure checks PackageReader::Open runs (step 1 of the order of
// trust in package_reader.cc): every header field, every section bound
// against the file size (overflow-safe), the index, the signature block's
// fixed fields, and the manifest against the header and its own entry.
//
// Concurrency: runs once, in Open, before the reader is shared.
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/file_util.h"
#include "atrium/base/strict_json.h"
#include "atrium/package.h"
#include "atrium/semver.h"
#include "package_format.h"
#include "package_reader_impl.h"

namespace atrium {
using internal::FileError;
using internal::Quote;

namespace {

using internal::AllZero;
using internal::LoadU16;
using internal::LoadU32;
using internal::LoadU64;
using internal::Num;

}  // namespace

// --- Structure ----------------------------------------------------------------

Status PackageReader::Impl::Parse() {
  if (Status s = ParseHeader(); !s.ok()) return s;
  if (Status s = ParseSections(); !s.ok()) return s;
  if (Status s = ParseIndex(); !s.ok()) return s;
  return ParseManifest();
}

Status PackageReader::Impl::ParseHeader() {
  using namespace internal;
  info.file_size = size;
  if (size < 4 || std::memcmp(base, kPackageMagic, 4) != 0) {
    return Corrupt(0, "not an Atrium package: expected the magic 'ATB1'");
  }
  if (size < kHeaderSize) {
    return Corrupt(size, "truncated: the file is " + Num(size) + " bytes, shorter than the " +
                             Num(kHeaderSize) + "-byte header");
  }
  info.format_version = LoadU16(base + kHeaderFormatVersion);
  if (info.format_version < kOldestFormatVersion || info.format_version > kFormatVersion) {
    return Fail(ErrorCode::kValidation, kHeaderFormatVersion,
                "unsupported format version " + Num(info.format_version) + " (this reader reads " +
                    Num(kOldestFormatVersion) + ".." + Num(kFormatVersion) + ")");
  }
  info.header_size = LoadU16(base + kHeaderHeaderSize);
  if (info.header_size != kHeaderSize) {
    return Corrupt(kHeaderHeaderSize, "header size " + Num(info.header_size) +
                                          " is not the format's " + Num(kHeaderSize));
  }
  info.flags = LoadU32(base + kHeaderFlags);
  if (info.flags != 0) {
    return Corrupt(kHeaderFlags, "unknown flags 0x" + HexOf(base + kHeaderFlags, 4) +
                                     " (the format defines none)");
  }
  const uint8_t kind = base[kHeaderKind];
  if (!FindArtifactKind(static_cast<ArtifactKind>(kind))) {
    return Corrupt(kHeaderKind, "unknown artifact kind " + Num(kind));
  }
  info.kind = static_cast<ArtifactKind>(kind);
  if (base[kHeaderReserved] != 0) return Corrupt(kHeaderReserved, "reserved byte is not zero");

  const size_t id_len = base[kHeaderIdLength];
  if (id_len == 0 || id_len > kMaxIdBytes) {
    return Corrupt(kHeaderIdLength, "id length " + Num(id_len) + " is not 1.." + Num(kMaxIdBytes));
  }
  const size_t version_len = base[kHeaderVersionLength];
  if (version_len == 0 || version_len > kMaxVersionBytes) {
    return Corrupt(kHeaderVersionLength,
                   "version length " + Num(version_len) + " is not 1.." + Num(kMaxVersionBytes));
  }
  if (!AllZero(base + kHeaderId + id_len, kMaxIdBytes - id_len)) {
    return Corrupt(kHeaderId + id_len, "padding after the id is not zero");
  }
  if (!AllZero(base + kHeaderVersion + version_len, kMaxVersionBytes - version_len)) {
    return Corrupt(kHeaderVersion + version_len, "padding after the version is not zero");
  }
  info.id = std::string(Slice(kHeaderId, id_len));
  info.version = std::string(Slice(kHeaderVersion, version_len));
  if (std::string problem = ArtifactIdProblem(info.kind, info.id); !problem.empty()) {
    return Corrupt(kHeaderId, "invalid id " + Quote(info.id) + ": " + problem);
  }
  Result<Version> version = Version::Parse(info.version);
  if (!version.ok() || version->ToString() != info.version) {
    return Corrupt(kHeaderVersion,
                   "invalid version " + Quote(info.version) + " (expected canonical semver text)");
  }
  return Status::Ok();
}

Status PackageReader::Impl::ParseSections() {
  using namespace internal;
  const uint8_t* h = base;
  info.index_offset = LoadU64(h + kHeaderIndexOffset);
  info.index_size = LoadU64(h + kHeaderIndexSize);
  info.manifest_offset = LoadU64(h + kHeaderManifestOffset);
  info.manifest_size = LoadU64(h + kHeaderManifestSize);
  info.data_offset = LoadU64(h + kHeaderDataOffset);
  info.data_size = LoadU64(h + kHeaderDataSize);
  info.signature_offset = LoadU64(h + kHeaderSignatureOffset);
  info.signature_size = LoadU64(h + kHeaderSignatureSize);

  struct Section {
    const char* name;
    uint64_t offset, length;
    size_t offset_field, length_field;
    uint64_t expected_offset;
  };
  // Each section must start where the previous one ends (the header first).
  // Checked one at a time, so `expected_offset` of the next one cannot overflow.
  // Format 2: the apps section fills [kHeaderSize, index_offset).
  info.apps_offset = kHeaderSize;
  if (info.format_version >= 2) {
    if (info.index_offset < kHeaderSize || info.index_offset - kHeaderSize > kMaxAppsSectionBytes) {
      return Corrupt(kHeaderIndexOffset, "the index section starts at " + Num(info.index_offset) +
                                             "; the apps section before it must take 1.." +
                                             Num(kMaxAppsSectionBytes) + " bytes after the " +
                                             Num(kHeaderSize) + "-byte header");
    }
    info.apps_size = info.index_offset - kHeaderSize;
    if (info.apps_size > size - kHeaderSize) {
      return Corrupt(kHeaderIndexOffset, "the apps section (" + Num(info.apps_size) +
                                             " bytes at offset " + Num(kHeaderSize) +
                                             ") extends past the end of the " + Num(size) +
                                             "-byte file (truncated or damaged)");
    }
    AppsSection apps = ParseAppsSection(Slice(kHeaderSize, info.apps_size));
    if (!apps.problem.empty()) return Corrupt(kHeaderSize + apps.problem_at, apps.problem);
    info.apps = std::move(apps.apps);
  }
  const Section sections[] = {
      {"index", info.index_offset, info.index_size, kHeaderIndexOffset, kHeaderIndexSize, 0},
      {"manifest", info.manifest_offset, info.manifest_size, kHeaderManifestOffset,
       kHeaderManifestSize, 0},
      {"data", info.data_offset, info.data_size, kHeaderDataOffset, kHeaderDataSize, 0},
      {"signature block", info.signature_offset, info.signature_size, kHeaderSignatureOffset,
       kHeaderSignatureSize, 0},
  };
  uint64_t expected = kHeaderSize + info.apps_size;
  for (const Section& s : sections) {
    if (s.offset != expected) {
      return Corrupt(s.offset_field, std::string("the ") + s.name + " section starts at " +
                                         Num(s.offset) + "; the format puts it at " +
                                         Num(expected) + ", right after the previous section");
    }
    if (s.offset > size || s.length > size - s.offset) {
      return Corrupt(s.length_field, std::string("the ") + s.name + " section (" + Num(s.length) +
                                         " bytes at offset " + Num(s.offset) +
                                         ") extends past the end of the " + Num(size) +
                                         "-byte file (truncated or damaged)");
    }
    expected = s.offset + s.length;
  }
  if (info.signature_size != kSignatureBlockSize) {
    return Corrupt(kHeaderSignatureSize, "signature block size " + Num(info.signature_size) +
                                             " is not " + Num(kSignatureBlockSize));
  }
  if (expected != size) {
    return Corrupt(expected, Num(size - expected) + " unexpected bytes after the signature block");
  }
  if (info.index_size > kMaxIndexBytes) {
    return Fail(
        ErrorCode::kValidation, kHeaderIndexSize,
        "index of " + Num(info.index_size) + " bytes exceeds the limit of " + Num(kMaxIndexBytes));
  }
  if (info.manifest_size == 0 || info.manifest_size > kMaxManifestBytes) {
    return Fail(
        ErrorCode::kValidation, kHeaderManifestSize,
        "manifest size " + Num(info.manifest_size) + " is not 1.." + Num(kMaxManifestBytes));
  }
  const uint8_t* sig = base + info.signature_offset;
  if (std::memcmp(sig + kSignatureMagicAt, kSignatureMagic, 4) != 0) {
    return Corrupt(info.signature_offset, "signature block lacks its magic 'ATSG'");
  }
  if (LoadU16(sig + kSignatureAlgorithm) != kSignatureEd25519) {
    return Corrupt(info.signature_offset + kSignatureAlgorithm,
                   "unknown signature algorithm " + Num(LoadU16(sig + kSignatureAlgorithm)) +
                       " (1 = Ed25519)");
  }
  if (LoadU16(sig + kSignatureReserved) != 0) {
    return Corrupt(info.signature_offset + kSignatureReserved,
                   "signature block reserved field is not zero");
  }
  std::memcpy(info.signer_key_id.data(), sig + kSignatureKeyId, info.signer_key_id.size());
  return Status::Ok();
}

Status PackageReader::Impl::ParseIndex() {
  using namespace internal;
  const uint32_t count = LoadU32(base + kHeaderEntryCount);
  if (count == 0 || count > kMaxEntries) {
    return Fail(ErrorCode::kValidation, kHeaderEntryCount,
                "entry count " + Num(count) + " is not 1.." + Num(kMaxEntries));
  }
  if (uint64_t{count} * kRecordFixedSize > info.index_size) {
    return Corrupt(kHeaderEntryCount, "entry count " + Num(count) + " needs at least " +
                                          Num(uint64_t{count} * kRecordFixedSize) +
                                          " index bytes; the index has " + Num(info.index_size));
  }
  info.entries.reserve(count);
  record_offsets.reserve(count);
  frame_hashes.reserve(count);
  const uint64_t end = info.index_offset + info.index_size;
  const uint64_t data_end = info.data_offset + info.data_size;
  uint64_t pos = info.index_offset;
  uint64_t frame_at = info.data_offset;
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string what = "index entry #" + Num(i);
    if (end - pos < kRecordFixedSize) {
      return Corrupt(pos, what + ": record truncated (the index ends at " + Num(end) + ")");
    }
    const uint8_t* r = base + pos;
    const uint16_t path_len = LoadU16(r + kRecordPathLength);
    if (path_len == 0 || path_len > kMaxPathBytes) {
      return Corrupt(pos + kRecordPathLength,
                     what + ": path length " + Num(path_len) + " is not 1.." + Num(kMaxPathBytes));
    }
    if (end - pos - kRecordFixedSize < path_len) {
      return Corrupt(pos + kRecordPathLength,
                     what + ": path runs past the end of the index at " + Num(end));
    }
    PackEntryInfo e;
    e.path = std::string(Slice(pos + kRecordPath, path_len));
    const std::string name = "entry " + Quote(e.path) + " (#" + Num(i) + ")";
    if (std::string problem = EntryPathProblem(e.path); !problem.empty()) {
      return Fail(ErrorCode::kValidation, pos + kRecordPath, name + ": invalid path: " + problem);
    }
    if (i > 0) {
      const std::string& prev = info.entries.back().path;
      if (e.path == prev) {
        return Fail(ErrorCode::kValidation, pos + kRecordPath,
                    name + ": duplicate entry path (also entry #" + Num(i - 1) + ")");
      }
      if (e.path < prev) {
        return Corrupt(pos + kRecordPath,
                       name + ": entries are not sorted by path (it follows " + Quote(prev) + ")");
      }
    }
    const uint32_t mode = LoadU32(r + kRecordMode);
    if ((mode & ~kModeExecutable) != 0) {
      return Corrupt(pos + kRecordMode,
                     name + ": unknown mode bits 0x" + HexOf(r + kRecordMode, 4));
    }
    e.executable = (mode & kModeExecutable) != 0;
    if (LoadU16(r + kRecordReserved) != 0) {
      return Corrupt(pos + kRecordReserved, name + ": reserved field is not zero");
    }
    e.offset = LoadU64(r + kRecordOffset);
    e.compressed_size = LoadU64(r + kRecordCompressedSize);
    e.size = LoadU64(r + kRecordUncompressed);
    if (e.offset != frame_at) {
      return Corrupt(pos + kRecordOffset, name + ": frame offset " + Num(e.offset) + " is not " +
                                              Num(frame_at) +
                                              " (frames are stored back to back in index order)");
    }
    if (e.compressed_size == 0 || e.compressed_size > data_end - frame_at) {
      return Corrupt(pos + kRecordCompressedSize,
                     name + ": compressed size " + Num(e.compressed_size) +
                         (e.compressed_size == 0
                              ? " is zero"
                              : " runs past the end of the data section at " + Num(data_end)));
    }
    if (e.size > kMaxEntryBytes) {
      return Fail(ErrorCode::kValidation, pos + kRecordUncompressed,
                  name + ": declared size " + Num(e.size) + " exceeds the limit of " +
                      Num(kMaxEntryBytes) + " bytes per entry");
    }
    if ((e.size + kMaxExpansion - 1) / kMaxExpansion > e.compressed_size) {  // e.size <= 1 GiB
      return Corrupt(pos + kRecordUncompressed, name + ": declared size " + Num(e.size) +
                                                    " is more than a " + Num(e.compressed_size) +
                                                    "-byte zstd frame can hold");
    }
    total += e.size;
    if (total > kMaxTotalBytes) {
      return Fail(ErrorCode::kValidation, pos + kRecordUncompressed,
                  name + ": the entries' sizes add up to more than the limit of " +
                      Num(kMaxTotalBytes) + " bytes");
    }
    std::memcpy(e.sha256.data(), r + kRecordSha256, e.sha256.size());
    Digest frame_hash;
    std::memcpy(frame_hash.data(), r + kRecordFrameHash, frame_hash.size());
    frame_at += e.compressed_size;
    record_offsets.push_back(pos);
    frame_hashes.push_back(frame_hash);
    info.entries.push_back(std::move(e));
    pos += kRecordFixedSize + path_len;
  }
  if (pos != end) {
    return Corrupt(pos,
                   Num(end - pos) + " bytes in the index after its " + Num(count) + " entries");
  }
  if (frame_at != data_end) {
    return Corrupt(frame_at, Num(data_end - frame_at) +
                                 " bytes at the end of the data section belong to no entry");
  }
  info.total_size = LoadU64(base + kHeaderTotalSize);
  if (info.total_size != total) {
    return Corrupt(kHeaderTotalSize, "total size " + Num(info.total_size) +
                                         " differs from the entries' sum " + Num(total));
  }
  // A path cannot be a file and also the directory of another entry.
  std::unordered_set<std::string_view> dirs;
  for (const PackEntryInfo& e : info.entries) {
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1)) {
      dirs.insert(std::string_view(e.path).substr(0, slash));
    }
  }
  for (size_t i = 0; i < info.entries.size(); ++i) {
    if (dirs.count(info.entries[i].path) != 0) {
      return Fail(ErrorCode::kValidation, record_offsets[i] + kRecordPath,
                  EntryName(i) + ": also the directory of other entries");
    }
  }
  return Status::Ok();
}

Status PackageReader::Impl::ParseManifest() {
  using namespace internal;
  const uint32_t m = LoadU32(base + kHeaderManifestEntry);
  if (m >= info.entries.size()) {
    return Corrupt(kHeaderManifestEntry, "manifest entry #" + Num(m) + " does not exist (" +
                                             Num(info.entries.size()) + " entries)");
  }
  info.manifest = std::string(Slice(info.manifest_offset, info.manifest_size));
  const PackEntryInfo& entry = info.entries[m];
  info.manifest_entry = entry.path;
  // A kind that names its manifest file (bundle.json, a layer's own) holds it there.
  if (std::optional<ArtifactKindSpec> spec = FindArtifactKind(info.kind);
      spec && !spec->manifest_name.empty() && entry.path != spec->manifest_name) {
    return Corrupt(kHeaderManifestEntry, "the manifest of a " + spec->name + " must be entry " +
                                             Quote(spec->manifest_name) + ", not " +
                                             Quote(entry.path));
  }
  if (entry.size != info.manifest_size || entry.sha256 != Sha256(info.manifest)) {
    return Corrupt(info.manifest_offset,
                   "the manifest section differs from " + EntryName(m) + " (size or SHA-256)");
  }
  Result<ManifestFacts> facts = ReadManifestFacts(info.kind, info.manifest, path);
  if (!facts.ok()) {
    Error e = std::move(facts).take_error();
    e.message = "manifest " + Quote(entry.path) + ": " + e.message;
    e.offset = info.manifest_offset + e.offset.value_or(0);
    return e;
  }
  if (facts->id != info.id) {
    return Corrupt(kHeaderId, "header id " + Quote(info.id) + " differs from the manifest's " +
                                  Quote(facts->id));
  }
  if (facts->version != info.version) {
    return Corrupt(kHeaderVersion, "header version " + Quote(info.version) +
                                       " differs from the manifest's " + Quote(facts->version));
  }
  std::vector<std::string_view> paths;
  paths.reserve(info.entries.size());
  for (const PackEntryInfo& e : info.entries) paths.push_back(e.path);
  if (std::string missing = MissingManifestFile(*facts, paths); !missing.empty()) {
    return Fail(ErrorCode::kValidation, info.manifest_offset, "manifest: " + missing);
  }
  return Status::Ok();
}

}  // namespace atrium
