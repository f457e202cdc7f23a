// The .atd image (layout in delta_package.h and docs/package.md): ParseAtd,
// VerifyAtdSignature, CheckAtdBase and the rebuild of the target, steps 1-4
// of the order of trust described in delta_package.cc, and the header
// encoder the writer uses.
//
// Concurrency: free functions without shared mutable state.
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "atrium/base/file_util.h"
#include "atrium/base/strict_json.h"
#include "delta.h"
#include "delta_package.h"

namespace atrium {

namespace internal {
namespace {

std::string Num(uint64_t n) { return std::to_string(n); }

const uint8_t* U8(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

Digest DigestAt(const uint8_t* p) {
  Digest d;
  std::memcpy(d.data(), p, d.size());
  return d;
}

std::string HexDigest(const Digest& d) { return HexOf(d.data(), d.size()); }

Error AtdError(ErrorCode code, const std::string& name, uint64_t offset, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.file = name;
  e.offset = offset;
  return e;
}

// Largest [0, data_offset) a package can have.
constexpr uint64_t kMaxPrefixBytes =
    kHeaderSize + kMaxAppsSectionBytes + kMaxIndexBytes + kMaxManifestBytes;
// Largest data section the parser accepts; keeps every sum below 2^63.
constexpr uint64_t kMaxDataBytes = uint64_t{1} << 40;

Status ParseTargetPrefix(AtdImage* atd, uint32_t op_count) {
  const std::string_view prefix = atd->prefix;
  const uint8_t* p = U8(prefix);
  const uint64_t size = prefix.size();  // kHeaderSize..kMaxPrefixBytes
  const uint64_t at = kAtdHeaderSize;   // where the target's byte 0 lies in the .atd
  auto corrupt = [&](uint64_t offset, std::string message) {
    return AtdError(ErrorCode::kCorrupt, atd->name, at + offset,
                    "embedded target: " + std::move(message));
  };
  if (std::memcmp(p, kPackageMagic, 4) != 0) {
    return corrupt(kHeaderMagic, "not an Atrium package (expected the magic 'ATB1')");
  }
  const uint16_t format_version = LoadU16(p + kHeaderFormatVersion);
  if (format_version < kOldestFormatVersion || format_version > kFormatVersion) {
    return AtdError(ErrorCode::kValidation, atd->name, at + kHeaderFormatVersion,
                    "embedded target: unsupported package format version " + Num(format_version));
  }
  // Format 2: the apps section lies between the header and the index.
  const uint64_t index_offset = LoadU64(p + kHeaderIndexOffset);
  if (format_version == 1 && index_offset != kHeaderSize) {
    return corrupt(kHeaderIndexOffset, "the index does not start right after the header");
  }
  if (format_version >= 2) {
    if (index_offset < kHeaderSize || index_offset - kHeaderSize > kMaxAppsSectionBytes ||
        index_offset > size) {
      return corrupt(kHeaderIndexOffset, "index offset " + Num(index_offset) +
                                             " does not leave an apps section of 1.." +
                                             Num(kMaxAppsSectionBytes) + " bytes after the header");
    }
    AppsSection apps = ParseAppsSection(prefix.substr(kHeaderSize, index_offset - kHeaderSize));
    if (!apps.problem.empty()) return corrupt(kHeaderSize + apps.problem_at, apps.problem);
  }
  const uint64_t index_size = LoadU64(p + kHeaderIndexSize);
  if (index_size > size - index_offset) {
    return corrupt(kHeaderIndexSize, "index of " + Num(index_size) +
                                         " bytes runs past the embedded header, index and "
                                         "manifest (" +
                                         Num(size) + " bytes)");
  }
  if (LoadU64(p + kHeaderDataOffset) != size) {
    return corrupt(kHeaderDataOffset, "data offset " + Num(LoadU64(p + kHeaderDataOffset)) +
                                          " differs from the " + Num(size) +
                                          " bytes of header, index and manifest the .atd holds");
  }
  const uint64_t data_size = LoadU64(p + kHeaderDataSize);
  if (data_size > kMaxDataBytes) {
    return corrupt(kHeaderDataSize, "data size " + Num(data_size) + " is beyond any package");
  }
  if (LoadU64(p + kHeaderSignatureOffset) != size + data_size ||
      LoadU64(p + kHeaderSignatureSize) != kSignatureBlockSize) {
    return corrupt(kHeaderSignatureOffset,
                   "the signature block is not the 80 bytes right after the data section");
  }
  if (atd->target_size != size + data_size + kSignatureBlockSize) {
    return AtdError(ErrorCode::kCorrupt, atd->name, kAtdTargetSizeAt,
                    "target size " + Num(atd->target_size) + " differs from the " +
                        Num(size + data_size + kSignatureBlockSize) +
                        " bytes its embedded header describes");
  }
  const uint32_t count = LoadU32(p + kHeaderEntryCount);
  if (count == 0 || count > kMaxEntries) {
    return AtdError(
        ErrorCode::kValidation, atd->name, at + kHeaderEntryCount,
        "embedded target: entry count " + Num(count) + " is not 1.." + Num(kMaxEntries));
  }
  if (count != op_count) {
    return AtdError(ErrorCode::kCorrupt, atd->name, kAtdOpCountAt,
                    Num(op_count) + " ops for a target of " + Num(count) + " entries");
  }
  const uint64_t end = index_offset + index_size;
  const uint64_t data_end = size + data_size;
  uint64_t pos = index_offset;
  uint64_t frame_at = size;
  atd->entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string what = "index entry #" + Num(i);
    if (end - pos < kRecordFixedSize) return corrupt(pos, what + ": record truncated");
    const uint8_t* r = p + pos;
    const uint16_t path_length = LoadU16(r + kRecordPathLength);
    if (path_length == 0 || path_length > kMaxPathBytes ||
        end - pos - kRecordFixedSize < path_length) {
      return corrupt(pos + kRecordPathLength,
                     what + ": path length " + Num(path_length) + " is out of range");
    }
    AtdTargetEntry e;
    e.path = prefix.substr(pos + kRecordPath, path_length);
    e.offset = LoadU64(r + kRecordOffset);
    e.compressed_size = LoadU64(r + kRecordCompressedSize);
    e.size = LoadU64(r + kRecordUncompressed);
    if (e.offset != frame_at) {
      return corrupt(pos + kRecordOffset,
                     what + ": frame offset " + Num(e.offset) + " is not " + Num(frame_at));
    }
    if (e.compressed_size == 0 || e.compressed_size > data_end - frame_at) {
      return corrupt(pos + kRecordCompressedSize, what + ": compressed size " +
                                                      Num(e.compressed_size) +
                                                      " is zero or runs past the data section");
    }
    if (e.size > kMaxEntryBytes) {
      return AtdError(
          ErrorCode::kValidation, atd->name, at + pos + kRecordUncompressed,
          "embedded target: " + what + ": size " + Num(e.size) + " exceeds the per-entry limit");
    }
    e.sha256 = DigestAt(r + kRecordSha256);
    e.frame_hash = DigestAt(r + kRecordFrameHash);
    frame_at += e.compressed_size;
    pos += kRecordFixedSize + path_length;
    atd->entries.push_back(e);
  }
  if (pos != end) return corrupt(pos, Num(end - pos) + " bytes in the index after its entries");
  if (frame_at != data_end) {
    return corrupt(kHeaderDataSize, "the frames fill " + Num(frame_at - size) +
                                        " bytes, the data section is " + Num(data_size));
  }
  return Status::Ok();
}

Status ParseOps(std::string_view bytes, uint64_t ops_offset, AtdImage* atd) {
  const uint64_t size = bytes.size();
  uint64_t pos = ops_offset;
  atd->ops.reserve(atd->entries.size());
  for (size_t i = 0; i < atd->entries.size(); ++i) {
    const AtdTargetEntry& t = atd->entries[i];
    const std::string what = "op #" + Num(i) + " (target entry " + Quote(t.path) + ")";
    auto corrupt = [&](uint64_t offset, const std::string& message) {
      return AtdError(ErrorCode::kCorrupt, atd->name, offset, what + ": " + message);
    };
    if (size - pos < kOpFixedSize) {
      return corrupt(pos, "record truncated (the file ends at " + Num(size) + ")");
    }
    const uint8_t* r = U8(bytes) + pos;
    AtdOp op;
    op.at = pos;
    const uint8_t kind = r[kOpKindAt];
    if (kind < 1 || kind > 3) {
      return corrupt(pos + kOpKindAt, "unknown op " + Num(kind) + " (1 same, 2 delta, 3 full)");
    }
    op.op = static_cast<DeltaOp>(kind);
    op.level = r[kOpLevelAt];
    if (op.op == DeltaOp::kDelta ? (op.level < 1 || op.level > kMaxZstdLevel) : op.level != 0) {
      return corrupt(pos + kOpLevelAt, "zstd level " + Num(op.level) + " is not " +
                                           (op.op == DeltaOp::kDelta ? "1..19" : "0"));
    }
    if (LoadU32(r + kOpReservedAt) != 0) {
      return corrupt(pos + kOpReservedAt, "reserved field is not zero");
    }
    const uint16_t path_length = LoadU16(r + kOpBasePathLengthAt);
    const bool needs_base = op.op != DeltaOp::kFull;
    if (needs_base ? path_length == 0 || path_length > kMaxPathBytes : path_length != 0) {
      return corrupt(pos + kOpBasePathLengthAt, "base path length " + Num(path_length) +
                                                    " is not " + (needs_base ? "1..1024" : "0"));
    }
    if (size - pos - kOpFixedSize < path_length) {
      return corrupt(pos + kOpBasePathLengthAt,
                     "base path runs past the end of the " + Num(size) + "-byte file");
    }
    op.base_path = bytes.substr(pos + kOpFixedSize, path_length);
    if (needs_base) {
      if (std::string problem = EntryPathProblem(op.base_path); !problem.empty()) {
        return corrupt(pos + kOpFixedSize, "invalid base path: " + problem);
      }
    }
    op.payload_at = pos + kOpFixedSize + path_length;
    const uint64_t payload_size = LoadU64(r + kOpPayloadSizeAt);
    if (payload_size > size - op.payload_at) {
      return corrupt(pos + kOpPayloadSizeAt, "payload of " + Num(payload_size) +
                                                 " bytes runs past the end of the " + Num(size) +
                                                 "-byte file");
    }
    switch (op.op) {
      case DeltaOp::kSame:
        if (payload_size != 0) return corrupt(pos + kOpPayloadSizeAt, "a copy has no payload");
        break;
      case DeltaOp::kFull:
        if (payload_size != t.compressed_size) {
          return corrupt(pos + kOpPayloadSizeAt, "stores a " + Num(payload_size) +
                                                     "-byte frame; the target's is " +
                                                     Num(t.compressed_size) + " bytes");
        }
        break;
      case DeltaOp::kDelta:
        if (payload_size < delta::kHeaderSize) {
          return corrupt(pos + kOpPayloadSizeAt,
                         "a " + Num(payload_size) + "-byte delta is shorter than a delta header");
        }
        break;
    }
    op.payload = bytes.substr(op.payload_at, payload_size);
    pos = op.payload_at + payload_size;
    atd->ops.push_back(op);
  }
  if (pos != size) {
    return AtdError(ErrorCode::kCorrupt, atd->name, pos,
                    Num(size - pos) + " unexpected bytes after the last op");
  }
  return Status::Ok();
}

}  // namespace

Result<AtdImage> ParseAtd(std::string_view bytes, std::string name) {
  AtdImage atd;
  atd.name = std::move(name);
  atd.size = bytes.size();
  const uint64_t size = bytes.size();
  const uint8_t* b = U8(bytes);
  auto corrupt = [&](uint64_t offset, std::string message) {
    return AtdError(ErrorCode::kCorrupt, atd.name, offset, std::move(message));
  };
  if (size < 4 || std::memcmp(b, kAtdMagic, 4) != 0) {
    return corrupt(0, "not an Atrium delta package: expected the magic 'ATD1'");
  }
  if (size < kAtdHeaderSize) {
    return corrupt(size, "truncated: the file is " + Num(size) + " bytes, shorter than the " +
                             Num(kAtdHeaderSize) + "-byte header");
  }
  if (LoadU16(b + kAtdVersionAt) != kAtdFormatVersion) {
    return AtdError(ErrorCode::kValidation, atd.name, kAtdVersionAt,
                    "unsupported delta format version " + Num(LoadU16(b + kAtdVersionAt)) +
                        " (this reader reads " + Num(kAtdFormatVersion) + ")");
  }
  if (LoadU16(b + kAtdHeaderSizeAt) != kAtdHeaderSize) {
    return corrupt(kAtdHeaderSizeAt, "header size " + Num(LoadU16(b + kAtdHeaderSizeAt)) +
                                         " is not " + Num(kAtdHeaderSize));
  }
  if (LoadU32(b + kAtdFlagsAt) != 0) {
    return corrupt(kAtdFlagsAt, "unknown flags (format version 1 defines none)");
  }
  if (LoadU64(b + kAtdReservedAt) != 0)
    return corrupt(kAtdReservedAt, "reserved field is not zero");
  const uint32_t op_count = LoadU32(b + kAtdOpCountAt);
  atd.base_size = LoadU64(b + kAtdBaseSizeAt);
  atd.target_size = LoadU64(b + kAtdTargetSizeAt);
  atd.base_sha256 = DigestAt(b + kAtdBaseSha256At);
  atd.target_sha256 = DigestAt(b + kAtdTargetSha256At);
  const uint64_t prefix_size = LoadU64(b + kAtdPrefixSizeAt);
  const uint64_t ops_offset = LoadU64(b + kAtdOpsOffsetAt);
  const uint64_t ops_size = LoadU64(b + kAtdOpsSizeAt);
  if (prefix_size < kHeaderSize || prefix_size > kMaxPrefixBytes) {
    return corrupt(kAtdPrefixSizeAt, "the target's header, index and manifest are declared " +
                                         Num(prefix_size) + " bytes, not " + Num(kHeaderSize) +
                                         ".." + Num(kMaxPrefixBytes));
  }
  const uint64_t expected_ops = kAtdHeaderSize + prefix_size + kSignatureBlockSize;
  if (ops_offset != expected_ops) {
    return corrupt(kAtdOpsOffsetAt, "ops offset " + Num(ops_offset) + " is not " +
                                        Num(expected_ops) + ", right after the signature block");
  }
  if (ops_offset > size) {
    return corrupt(kAtdPrefixSizeAt, "the target's header, index, manifest and signature (" +
                                         Num(prefix_size + kSignatureBlockSize) +
                                         " bytes at offset " + Num(kAtdHeaderSize) +
                                         ") run past the end of the " + Num(size) +
                                         "-byte file (truncated)");
  }
  if (ops_size != size - ops_offset) {
    return corrupt(kAtdOpsSizeAt, "the ops section is declared " + Num(ops_size) +
                                      " bytes; the file holds " + Num(size - ops_offset) +
                                      " after offset " + Num(ops_offset) +
                                      " (truncated or extended)");
  }
  atd.prefix = bytes.substr(kAtdHeaderSize, prefix_size);
  atd.signature_at = kAtdHeaderSize + prefix_size;
  atd.signature = bytes.substr(atd.signature_at, kSignatureBlockSize);
  const uint8_t* sig = U8(atd.signature);
  if (std::memcmp(sig + kSignatureMagicAt, kSignatureMagic, 4) != 0 ||
      LoadU16(sig + kSignatureAlgorithm) != kSignatureEd25519 ||
      LoadU16(sig + kSignatureReserved) != 0) {
    return corrupt(atd.signature_at,
                   "the target's signature block is not an Ed25519 block ('ATSG', algorithm 1)");
  }
  if (Status s = ParseTargetPrefix(&atd, op_count); !s.ok()) return s.error();
  if (Status s = ParseOps(bytes, ops_offset, &atd); !s.ok()) return s.error();
  return atd;
}

Status VerifyAtdSignature(const AtdImage& atd, std::span<const PublicKey> trusted_keys) {
  EnsureSodium();
  if (trusted_keys.empty()) {
    return AtdError(ErrorCode::kInvalidArgument, atd.name, atd.signature_at,
                    "no trusted keys to verify the target's signature with");
  }
  const uint8_t* sig = U8(atd.signature);
  KeyId claimed;
  std::memcpy(claimed.data(), sig + kSignatureKeyId, claimed.size());
  bool known = false;
  for (const PublicKey& key : trusted_keys) {
    if (KeyIdOf(key) != claimed) continue;
    known = true;
    if (crypto_sign_verify_detached(sig + kSignatureBytes, U8(atd.prefix), atd.prefix.size(),
                                    key.data()) == 0) {
      return Status::Ok();
    }
  }
  if (!known) {
    return AtdError(ErrorCode::kCorrupt, atd.name, atd.signature_at + kSignatureKeyId,
                    "the target package is signed by key " + KeyIdHex(claimed) +
                        ", which is not among the " + Num(trusted_keys.size()) + " trusted key(s)" +
                        kWhereKeysAre);
  }
  return AtdError(ErrorCode::kCorrupt, atd.name, atd.signature_at + kSignatureBytes,
                  "the target's Ed25519 signature (key " + KeyIdHex(claimed) +
                      ") does not verify over its header, index and manifest (bytes [" +
                      Num(kAtdHeaderSize) + ", " + Num(kAtdHeaderSize + atd.prefix.size()) +
                      ") here): damaged or forged");
}

Status CheckAtdBase(const AtdImage& atd, std::string_view base_bytes, std::string_view base_name) {
  const Digest actual = Sha256(base_bytes);
  if (base_bytes.size() == atd.base_size && actual == atd.base_sha256) return Status::Ok();
  return AtdError(ErrorCode::kInvalidArgument, atd.name, kAtdBaseSha256At,
                  "the base package " + Quote(base_name) +
                      " is not the one this delta was made from: it has SHA-256 " +
                      HexDigest(actual) + " (" + Num(base_bytes.size()) +
                      " bytes); the delta needs SHA-256 " + HexDigest(atd.base_sha256) + " (" +
                      Num(atd.base_size) + " bytes)");
}

Status RebuildTarget(const AtdImage& atd, std::string_view base_bytes, const PackageReader& base,
                     const std::function<Status(std::string_view)>& sink, ApplyStats* stats) {
  EnsureSodium();
  const std::vector<PackEntryInfo>& base_entries = base.info().entries;
  if (base.info().file_size != base_bytes.size()) {
    return FileError(ErrorCode::kIo, base.path(), "the base package changed while being read");
  }
  crypto_hash_sha256_state whole;
  crypto_hash_sha256_init(&whole);
  auto emit = [&](std::string_view piece) {
    crypto_hash_sha256_update(&whole, U8(piece), piece.size());
    return sink(piece);
  };
  if (Status s = emit(atd.prefix); !s.ok()) return s;
  for (size_t i = 0; i < atd.entries.size(); ++i) {
    const AtdTargetEntry& t = atd.entries[i];
    const AtdOp& op = atd.ops[i];
    const std::string what = "op #" + Num(i) + " (target entry " + Quote(t.path) + ")";
    auto corrupt = [&](uint64_t offset, const std::string& message) {
      return AtdError(ErrorCode::kCorrupt, atd.name, offset, what + ": " + message);
    };
    const PackEntryInfo* b = nullptr;
    if (op.op != DeltaOp::kFull) {
      auto it = std::lower_bound(
          base_entries.begin(), base_entries.end(), op.base_path,
          [](const PackEntryInfo& e, std::string_view path) { return e.path < path; });
      if (it == base_entries.end() || it->path != op.base_path) {
        return corrupt(op.at + kOpFixedSize, "names base entry " + Quote(op.base_path) +
                                                 ", which the base package does not have");
      }
      b = &*it;
    }
    std::string rebuilt;  // delta: the recompressed frame
    std::string_view frame;
    switch (op.op) {
      case DeltaOp::kSame:
        // Bounds: PackageReader::Open checked the frame lies inside the base.
        frame = base_bytes.substr(b->offset, b->compressed_size);
        if (frame.size() != t.compressed_size || FrameHash(frame) != t.frame_hash) {
          return corrupt(op.at, "the frame of base entry " + Quote(b->path) +
                                    " is not the target's frame (the .atd is damaged or was made "
                                    "for another base)");
        }
        break;
      case DeltaOp::kFull:
        frame = op.payload;
        if (FrameHash(frame) != t.frame_hash) {
          return corrupt(op.payload_at,
                         "the stored frame does not match the target's index "
                         "(damaged)");
        }
        break;
      case DeltaOp::kDelta: {
        auto shifted = [&](Error e) {
          e.message = what + ": delta: " + e.message;
          e.offset = op.payload_at + e.offset.value_or(0);
          e.file = atd.name;
          return e;
        };
        Result<delta::DeltaInfo> info = delta::ReadDeltaInfo(op.payload);
        if (!info.ok()) return shifted(std::move(info).take_error());
        if (info->old_size != b->size) {
          return corrupt(op.payload_at + 8, "the delta is for a " + Num(info->old_size) +
                                                "-byte base file; base entry " + Quote(b->path) +
                                                " has " + Num(b->size) + " bytes");
        }
        if (info->new_size != t.size) {
          return corrupt(op.payload_at + 16, "the delta makes " + Num(info->new_size) +
                                                 " bytes; the target entry has " + Num(t.size));
        }
        Result<std::string> old_bytes = base.ReadEntry(b->path);
        if (!old_bytes.ok()) return old_bytes.error();
        Result<std::string> content = delta::ApplyDelta(*old_bytes, op.payload);
        if (!content.ok()) return shifted(std::move(content).take_error());
        if (content->size() != t.size || Sha256(*content) != t.sha256) {
          return corrupt(op.payload_at,
                         "the delta rebuilds content whose SHA-256 is not the "
                         "target's (damaged delta)");
        }
        Result<std::string> compressed = CompressEntryFrame(*content, op.level);
        if (!compressed.ok()) return compressed.error();
        rebuilt = std::move(compressed).value();
        frame = rebuilt;
        if (frame.size() != t.compressed_size || FrameHash(frame) != t.frame_hash) {
          return corrupt(
              op.at + kOpLevelAt,
              "its content is right, but recompressing it at zstd level " + Num(op.level) +
                  " gives a " + Num(frame.size()) + "-byte frame that is not the target's (" +
                  Num(t.compressed_size) + " bytes): this zstd (" + ZSTD_versionString() +
                  ") compresses differently from the one that packed the target; fall back to "
                  "the full package");
        }
        break;
      }
    }
    if (Status s = emit(frame); !s.ok()) return s;
    if (stats != nullptr) {
      ++(op.op == DeltaOp::kSame    ? stats->same
         : op.op == DeltaOp::kDelta ? stats->delta
                                    : stats->full);
    }
  }
  if (Status s = emit(atd.signature); !s.ok()) return s;
  Digest digest;
  crypto_hash_sha256_final(&whole, digest.data());
  if (digest != atd.target_sha256) {
    return AtdError(ErrorCode::kCorrupt, atd.name, kAtdTargetSha256At,
                    "the rebuilt package has SHA-256 " + HexDigest(digest) +
                        "; the delta records " + HexDigest(atd.target_sha256) +
                        " (damaged .atd header)");
  }
  return Status::Ok();
}

std::string EncodeAtdOp(DeltaOp op, int level, std::string_view base_path,
                        std::string_view payload) {
  std::string out(kOpFixedSize, '\0');
  uint8_t* r = reinterpret_cast<uint8_t*>(out.data());
  r[kOpKindAt] = static_cast<uint8_t>(op);
  r[kOpLevelAt] = static_cast<uint8_t>(level);
  StoreU16(r + kOpBasePathLengthAt, static_cast<uint16_t>(base_path.size()));
  StoreU64(r + kOpPayloadSizeAt, payload.size());
  out.append(base_path);
  out.append(payload);
  return out;
}

std::string EncodeAtdHeader(const AtdHeaderFields& h) {
  std::string out(kAtdHeaderSize, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p + kAtdMagicAt, kAtdMagic, 4);
  StoreU16(p + kAtdVersionAt, kAtdFormatVersion);
  StoreU16(p + kAtdHeaderSizeAt, static_cast<uint16_t>(kAtdHeaderSize));
  StoreU32(p + kAtdOpCountAt, h.op_count);
  StoreU64(p + kAtdBaseSizeAt, h.base_size);
  StoreU64(p + kAtdTargetSizeAt, h.target_size);
  std::memcpy(p + kAtdBaseSha256At, h.base_sha256.data(), 32);
  std::memcpy(p + kAtdTargetSha256At, h.target_sha256.data(), 32);
  StoreU64(p + kAtdPrefixSizeAt, h.prefix_size);
  StoreU64(p + kAtdOpsOffsetAt, kAtdHeaderSize + h.prefix_size + kSignatureBlockSize);
  StoreU64(p + kAtdOpsSizeAt, h.ops_size);
  return out;
}

}  // namespace internal

}  // namespace atrium
