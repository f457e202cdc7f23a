// Delta packages (.atd; atrium/delta_package.h, layout in delta_package.h and
// docs/package.md): the diff, the parser, the rebuild, and the file handling
// around them.
//
// Order of trust in apply:
//  1. ParseAtd checks every length in the .atd against its size before any
//     view is made (overflow-safe), and the embedded target index as far as
//     rebuilding reads it (frames back to back, sizes within limits).
//  2. VerifyAtdSignature checks the target's Ed25519 signature over the
//     embedded header, index and manifest: from here on every target size,
//     path and hash is the signer's. The ops stay untrusted hints.
//  3. CheckAtdBase: the base file is the one the delta was made from.
//  4. RebuildTarget checks each rebuilt frame against the signed index
//     before writing it, and the whole file against the recorded SHA-256.
//  5. The rebuilt file is opened by PackageReader, verified, and every entry
//     decoded and hash-checked before it is renamed into place.
//
// Concurrency: free functions without shared mutable state; each call has
// its own files, mappings and zstd contexts.
#include "delta_package.h"

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

namespace atrium {

const char* DeltaOpName(DeltaOp op) {
  switch (op) {
    case DeltaOp::kSame:
      return "same";
    case DeltaOp::kDelta:
      return "delta";
    case DeltaOp::kFull:
      return "full";
  }
  return "unknown";
}

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
constexpr uint64_t kMaxPrefixBytes = kHeaderSize + kMaxIndexBytes + kMaxManifestBytes;
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
  if (LoadU16(p + kHeaderFormatVersion) != kFormatVersion) {
    return AtdError(ErrorCode::kValidation, atd->name, at + kHeaderFormatVersion,
                    "embedded target: unsupported package format version " +
                        Num(LoadU16(p + kHeaderFormatVersion)));
  }
  if (LoadU64(p + kHeaderIndexOffset) != kHeaderSize) {
    return corrupt(kHeaderIndexOffset, "the index does not start right after the header");
  }
  const uint64_t index_size = LoadU64(p + kHeaderIndexSize);
  if (index_size > size - kHeaderSize) {
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
  const uint64_t end = kHeaderSize + index_size;
  const uint64_t data_end = size + data_size;
  uint64_t pos = kHeaderSize;
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

namespace {

using internal::Digest;
using internal::FileError;
using internal::Num;
using internal::Quote;

// A file mapped read-only for the duration of a call.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (map_ != nullptr) ::munmap(map_, size_);
  }

  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return FileError(ErrorCode::kIo, path, "cannot open", errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return FileError(ErrorCode::kIo, path, "cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return FileError(ErrorCode::kIo, path, "not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {
      void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      int err = errno;
      if (map == MAP_FAILED) {
        ::close(fd);
        return FileError(ErrorCode::kIo, path, "cannot mmap", err);
      }
      map_ = map;
    }
    ::close(fd);
    return Status::Ok();
  }

  std::string_view bytes() const {
    return map_ == nullptr ? std::string_view()
                           : std::string_view(static_cast<const char*>(map_), size_);
  }

 private:
  void* map_ = nullptr;
  uint64_t size_ = 0;
};

// `<target>.tmp`, written sequentially, then synced, and renamed over
// `<target>` by Commit; removed by the destructor unless committed.
class TempOutput {
 public:
  TempOutput() = default;
  TempOutput(const TempOutput&) = delete;
  TempOutput& operator=(const TempOutput&) = delete;
  ~TempOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  static std::string TempPathFor(const std::string& target) { return target + ".tmp"; }

  Status Create(const std::string& target) {
    target_ = target;
    const std::string temp = TempPathFor(target);
    ::unlink(temp.c_str());  // a stale one from a crash (a symlink is removed, not followed)
    fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) return FileError(ErrorCode::kIo, temp, "cannot create", errno);
    temp_ = temp;
    return Status::Ok();
  }

  const std::string& temp_path() const { return temp_; }
  uint64_t size() const { return size_; }

  Status WriteAt(uint64_t offset, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FileError(ErrorCode::kIo, temp_, "cannot write", errno);
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status Append(std::string_view data) {
    if (Status s = WriteAt(size_, data); !s.ok()) return s;
    size_ += data.size();
    return Status::Ok();
  }

  // fsync and close; the file stays at temp_path() until Commit.
  Status Sync() {
    if (::fchmod(fd_, 0644) != 0) return FileError(ErrorCode::kIo, temp_, "cannot chmod", errno);
    if (::fsync(fd_) != 0) return FileError(ErrorCode::kIo, temp_, "cannot sync", errno);
    if (::close(std::exchange(fd_, -1)) != 0) {
      return FileError(ErrorCode::kIo, temp_, "cannot close", errno);
    }
    return Status::Ok();
  }

  Status Commit() {
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      return FileError(ErrorCode::kIo, target_, "cannot rename into place", errno);
    }
    temp_.clear();
    const size_t slash = target_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : target_.substr(0, slash);
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return Status::Ok();
  }

 private:
  std::string target_;
  std::string temp_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// kInvalidArgument when writing `out` (or its temporary file) would replace
// one of `inputs`.
Status CheckOutputIsNotInput(const std::string& out, std::initializer_list<std::string> inputs) {
  for (const std::string& in : inputs) {
    for (const std::string& written : {out, TempOutput::TempPathFor(out)}) {
      if (written == in || SameFile(written, in)) {
        return FileError(ErrorCode::kInvalidArgument, out,
                         "the output would replace the input " + Quote(in));
      }
    }
  }
  return Status::Ok();
}

// An opened package whose bytes are also mapped here (frames are copied
// from the mapping; entries are read through the reader).
struct OpenedPackage {
  MappedFile map;
  std::unique_ptr<PackageReader> reader;

  Status Open(const std::string& path) {
    if (Status s = map.Open(path); !s.ok()) return s;
    return OpenReader(path);
  }
  // After map.Open(path).
  Status OpenReader(const std::string& path) {
    Result<std::unique_ptr<PackageReader>> opened = PackageReader::Open(path);
    if (!opened.ok()) return opened.error();
    reader = std::move(opened).value();
    if (reader->info().file_size != map.bytes().size()) {
      return FileError(ErrorCode::kIo, path, "the file changed while being opened");
    }
    return Status::Ok();
  }
  std::string_view Frame(const PackEntryInfo& e) const {
    return map.bytes().substr(e.offset, e.compressed_size);
  }
};

// The level at which `content` compresses to exactly `frame`, trying
// `preferred` levels first; nullopt when none does.
Result<std::optional<int>> FindLevel(std::string_view content, std::string_view frame,
                                     std::initializer_list<int> preferred) {
  std::vector<int> order;
  auto add = [&order](int level) {
    if (level >= 1 && level <= internal::kMaxZstdLevel &&
        std::find(order.begin(), order.end(), level) == order.end()) {
      order.push_back(level);
    }
  };
  for (int level : preferred) add(level);
  for (int level = 1; level <= internal::kMaxZstdLevel; ++level) add(level);
  for (int level : order) {
    Result<std::string> attempt = internal::CompressEntryFrame(content, level);
    if (!attempt.ok()) return std::move(attempt).take_error();
    if (*attempt == frame) return std::optional<int>(level);
  }
  return std::optional<int>();
}

}  // namespace

Result<DeltaStats> DiffPackages(const std::string& base_atb, const std::string& target_atb,
                                const std::string& out_atd, const DiffOptions& options) {
  internal::EnsureSodium();
  if (options.target_level < 0 || options.target_level > internal::kMaxZstdLevel) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "target zstd level " + Num(options.target_level) + " is not 0 (unknown)..19");
  }
  if (Status s = CheckOutputIsNotInput(out_atd, {base_atb, target_atb}); !s.ok()) return s.error();
  OpenedPackage base, target;
  if (Status s = base.Open(base_atb); !s.ok()) return s.error();
  if (Status s = target.Open(target_atb); !s.ok()) return s.error();
  const PackageInfo& bi = base.reader->info();
  const PackageInfo& ti = target.reader->info();

  DeltaStats stats;
  stats.id = ti.id;
  stats.base_version = bi.version;
  stats.target_version = ti.version;
  stats.base_size = bi.file_size;
  stats.target_size = ti.file_size;

  // Base entries by path (sorted) and by content.
  std::unordered_multimap<std::string, size_t> by_content;
  for (size_t j = 0; j < bi.entries.size(); ++j) {
    const auto& sha = bi.entries[j].sha256;
    by_content.emplace(std::string(reinterpret_cast<const char*>(sha.data()), sha.size()), j);
  }
  auto by_path = [&bi](std::string_view path) -> std::optional<size_t> {
    auto it =
        std::lower_bound(bi.entries.begin(), bi.entries.end(), path,
                         [](const PackEntryInfo& e, std::string_view p) { return e.path < p; });
    if (it == bi.entries.end() || it->path != path) return std::nullopt;
    return static_cast<size_t>(it - bi.entries.begin());
  };
  std::vector<bool> used(bi.entries.size(), false);

  TempOutput out;
  if (Status s = out.Create(out_atd); !s.ok()) return s.error();
  const std::string_view target_bytes = target.map.bytes();
  if (Status s = out.Append(std::string(internal::kAtdHeaderSize, '\0')); !s.ok()) return s.error();
  if (Status s = out.Append(target_bytes.substr(0, ti.data_offset)); !s.ok()) return s.error();
  if (Status s = out.Append(target_bytes.substr(ti.signature_offset, ti.signature_size)); !s.ok()) {
    return s.error();
  }
  const uint64_t ops_offset = out.size();

  int level_hint = options.target_level;
  for (size_t i = 0; i < ti.entries.size(); ++i) {
    const PackEntryInfo& t = ti.entries[i];
    if (options.progress) options.progress(DiffProgress{i, ti.entries.size(), t.path});
    const std::string_view new_frame = target.Frame(t);
    DeltaEntryStats entry;
    entry.path = t.path;
    entry.size = t.size;
    entry.frame_size = t.compressed_size;
    std::string op;

    // Candidates: the base entry at the same path, then any with the same content.
    std::vector<size_t> candidates;
    if (std::optional<size_t> j = by_path(t.path)) candidates.push_back(*j);
    auto range = by_content.equal_range(
        std::string(reinterpret_cast<const char*>(t.sha256.data()), t.sha256.size()));
    for (auto it = range.first; it != range.second; ++it) {
      if (candidates.empty() || candidates.front() != it->second) candidates.push_back(it->second);
    }
    for (size_t j : candidates) {
      if (base.Frame(bi.entries[j]) == new_frame) {
        entry.op = DeltaOp::kSame;
        entry.base_path = bi.entries[j].path;
        op = internal::EncodeAtdOp(DeltaOp::kSame, 0, entry.base_path, {});
        used[j] = true;
        break;
      }
    }
    if (op.empty() && !candidates.empty()) {
      const PackEntryInfo& b = bi.entries[candidates.front()];
      Result<std::string> old_bytes = base.reader->ReadEntry(b.path);
      if (!old_bytes.ok()) return old_bytes.error();
      Result<std::string> new_bytes = target.reader->ReadEntry(t.path);
      if (!new_bytes.ok()) return new_bytes.error();
      Result<std::string> d = delta::EncodeDelta(*old_bytes, *new_bytes);
      if (!d.ok()) {
        Error e = std::move(d).take_error();
        e.message = "entry " + Quote(t.path) + ": " + e.message;
        return e;
      }
      if (d->size() < new_frame.size()) {
        Result<std::optional<int>> level =
            FindLevel(*new_bytes, new_frame, {level_hint, options.target_level, 3});
        if (!level.ok()) return std::move(level).take_error();
        if (level->has_value()) {
          level_hint = **level;
          entry.op = DeltaOp::kDelta;
          entry.base_path = b.path;
          entry.level = level_hint;
          op = internal::EncodeAtdOp(DeltaOp::kDelta, level_hint, b.path, *d);
          used[candidates.front()] = true;
        }
      }
    }
    if (op.empty()) {
      entry.op = DeltaOp::kFull;
      op = internal::EncodeAtdOp(DeltaOp::kFull, 0, {}, new_frame);
    }
    entry.stored_size = op.size() - internal::kOpFixedSize - entry.base_path.size();
    ++(entry.op == DeltaOp::kSame    ? stats.same
       : entry.op == DeltaOp::kDelta ? stats.delta
                                     : stats.full);
    if (Status s = out.Append(op); !s.ok()) return s.error();
    stats.entries.push_back(std::move(entry));
  }
  if (options.progress) {
    options.progress(DiffProgress{ti.entries.size(), ti.entries.size(), std::string_view()});
  }
  stats.dropped = static_cast<size_t>(std::count(used.begin(), used.end(), false));

  internal::AtdHeaderFields h;
  h.op_count = static_cast<uint32_t>(ti.entries.size());
  h.base_size = bi.file_size;
  h.target_size = ti.file_size;
  h.base_sha256 = internal::Sha256(base.map.bytes());
  h.target_sha256 = internal::Sha256(target_bytes);
  h.prefix_size = ti.data_offset;
  h.ops_size = out.size() - ops_offset;
  if (Status s = out.WriteAt(0, internal::EncodeAtdHeader(h)); !s.ok()) return s.error();
  stats.delta_size = out.size();
  if (Status s = out.Sync(); !s.ok()) return s.error();
  if (Status s = out.Commit(); !s.ok()) return s.error();
  return stats;
}

Result<ApplyStats> ApplyDeltaPackage(const std::string& base_atb, const std::string& atd,
                                     std::span<const PublicKey> trusted_keys,
                                     const std::string& out_atb) {
  internal::EnsureSodium();
  if (trusted_keys.empty()) {
    return FileError(ErrorCode::kInvalidArgument, atd,
                     "no trusted keys to verify the target package with");
  }
  if (Status s = CheckOutputIsNotInput(out_atb, {base_atb, atd}); !s.ok()) return s.error();
  MappedFile atd_map;
  if (Status s = atd_map.Open(atd); !s.ok()) return s.error();
  Result<internal::AtdImage> image = internal::ParseAtd(atd_map.bytes(), atd);
  if (!image.ok()) return std::move(image).take_error();
  if (Status s = internal::VerifyAtdSignature(*image, trusted_keys); !s.ok()) return s.error();
  OpenedPackage base;
  if (Status s = base.map.Open(base_atb); !s.ok()) return s.error();
  if (Status s = internal::CheckAtdBase(*image, base.map.bytes(), base_atb); !s.ok()) {
    return s.error();
  }
  if (Status s = base.OpenReader(base_atb); !s.ok()) return s.error();

  ApplyStats stats;
  TempOutput out;
  if (Status s = out.Create(out_atb); !s.ok()) return s.error();
  Status rebuilt = internal::RebuildTarget(
      *image, base.map.bytes(), *base.reader,
      [&out](std::string_view piece) { return out.Append(piece); }, &stats);
  if (!rebuilt.ok()) return rebuilt.error();
  if (Status s = out.Sync(); !s.ok()) return s.error();
  {
    auto failed = [&](Error e) {
      e.message = "the package rebuilt from " + Quote(atd) + " fails its check: " + e.message;
      return e;
    };
    Result<std::unique_ptr<PackageReader>> check = PackageReader::Open(out.temp_path());
    if (!check.ok()) return failed(check.error());
    if (Status s = (*check)->Verify(trusted_keys); !s.ok()) return failed(s.error());
    if (Status s = (*check)->VerifyAllEntries(); !s.ok()) return failed(s.error());
    const PackageInfo& info = (*check)->info();
    stats.id = info.id;
    stats.version = info.version;
    stats.key_id = info.signer_key_id;
  }
  if (Status s = out.Commit(); !s.ok()) return s.error();
  stats.delta_size = image->size;
  stats.target_size = out.size();
  return stats;
}

}  // namespace atrium
