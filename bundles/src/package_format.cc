// The pieces of the .atb format the reader, the writer and the test hooks
// share (see package_format.h and docs/package.md): hashing, entry path
// rules, manifest facts per artifact kind, header / index / signature
// encoding, and the ForTesting builders.
//
// Concurrency: pure functions; libsodium is initialised once under a
// function-local static. Boost.JSON may throw only std::bad_alloc, which
// becomes kInternal.
#include "package_format.h"

#include <sodium.h>
#include <zstd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/base/hex.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"
#include "atrium/semver.h"

namespace atrium {

namespace internal {
namespace {

namespace json = boost::json;

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

bool IsArtifactIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Result<ManifestFacts> ReadArtifactManifest(std::string_view text, std::string_view file) {
  json::monotonic_resource arena;
  Result<json::value> doc =
      ParseStrictJson(text, file, {kMaxManifestBytes, 64, "manifest"}, &arena);
  if (!doc.ok()) return std::move(doc).take_error();
  const json::object* root = doc->if_object();
  if (root == nullptr) {
    return MakeLocated(ErrorCode::kValidation, file, "",
                       std::string("expected a JSON object, got ") + JsonKindName(*doc));
  }
  ManifestFacts facts;
  for (const char* key : {"id", "version"}) {
    const json::value* v = root->if_contains(key);
    if (v == nullptr) {
      return MakeLocated(ErrorCode::kValidation, file, "",
                         std::string("missing required field '") + key + "'");
    }
    if (!v->is_string()) {
      return MakeLocated(ErrorCode::kValidation, file, Child("", key),
                         std::string("expected a string, got ") + JsonKindName(*v));
    }
    std::string_view s(v->get_string());
    if (std::string_view(key) == "id") {
      facts.id = std::string(s);
    } else {
      Result<Version> version = Version::Parse(s);
      if (!version.ok()) {
        return MakeLocated(ErrorCode::kValidation, file, "/version",
                           "invalid version " + Quote(s) + ": " +
                               std::string(SemverDetail(version.error().message)));
      }
      facts.version = version->ToString();
    }
  }
  if (std::string problem = ArtifactIdProblem(ArtifactKind::kConfigSet, facts.id);
      !problem.empty()) {
    return MakeLocated(ErrorCode::kValidation, file, "/id",
                       "invalid id " + Quote(facts.id) + ": " + problem);
  }
  return facts;
}

}  // namespace

void EnsureSodium() {
  static const bool ready = sodium_init() >= 0;
  ATRIUM_CHECK(ready, "libsodium failed to initialise");
}

Digest Sha256(std::string_view bytes) {
  EnsureSodium();
  Digest d;
  crypto_hash_sha256(d.data(), Bytes(bytes), bytes.size());
  return d;
}

Digest FrameHash(std::string_view frame) {
  EnsureSodium();
  Digest d;
  crypto_generichash(d.data(), d.size(), Bytes(frame), frame.size(), nullptr, 0);
  return d;
}

std::string EntryPathProblem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.size() > kMaxPathBytes) {
    return "the path is " + std::to_string(path.size()) + " bytes; the limit is " +
           std::to_string(kMaxPathBytes);
  }
  if (path.front() == '/') return "absolute paths are not allowed";
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\\') return "backslashes are not allowed (use '/')";
    if (u == 0) return "NUL bytes are not allowed";
    if (u < 0x20 || u == 0x7F) return "control characters are not allowed";
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) return "empty path segment ('//' or a trailing '/')";
    if (segment == "..") return "'..' segments are not allowed";
    if (segment == ".") return "'.' segments are not allowed";
    if (segment.size() > kMaxSegmentBytes) {
      return "a segment is longer than " + std::to_string(kMaxSegmentBytes) + " bytes";
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return "";
}

std::string ArtifactIdProblem(ArtifactKind kind, std::string_view id) {
  if (kind == ArtifactKind::kNativeBundle) {
    return IsValidBundleName(id) ? "" : "not a reverse-DNS bundle name";
  }
  if (id.empty() || id.size() > kMaxIdBytes) {
    return "must be 1 to " + std::to_string(kMaxIdBytes) + " bytes";
  }
  if (id.front() == '.' || id.front() == '_' || id.front() == '-') {
    return "must start with a letter or digit";
  }
  for (char c : id) {
    if (!IsArtifactIdChar(c)) return "allowed characters are A-Z a-z 0-9 . _ -";
  }
  return "";
}

Result<ManifestFacts> ReadManifestFacts(ArtifactKind kind, std::string_view text,
                                        std::string_view file) {
  if (kind != ArtifactKind::kNativeBundle) {
    std::optional<ArtifactKindSpec> spec = FindArtifactKind(kind);
    if (!spec) {
      return MakeLocated(ErrorCode::kValidation, file, "",
                         "unknown artifact kind " + std::to_string(static_cast<unsigned>(kind)));
    }
    Result<ManifestFacts> facts = MakeLocated(ErrorCode::kInternal, file, "", "not read");
    try {
      facts = ReadArtifactManifest(text, file);
    } catch (const std::exception& e) {
      return MakeLocated(ErrorCode::kInternal, file, "",
                         std::string("out of memory reading the manifest: ") + e.what());
    }
    if (!facts.ok() || !spec->validate_manifest) return facts;
    // The layer that owns the kind checks the rest of its manifest.
    if (Status s = spec->validate_manifest(text, file); !s.ok()) return s.error();
    return facts;
  }
  Result<Manifest> m = ParseManifest(text, file);
  if (!m.ok()) return std::move(m).take_error();
  ManifestFacts facts;
  facts.id = m->name;
  facts.version = m->version.ToString();
  facts.library = m->library;
  facts.resources = m->resources;
  return facts;
}

std::string MissingManifestFile(const ManifestFacts& facts,
                                const std::vector<std::string_view>& sorted_paths) {
  auto is_entry = [&](std::string_view p) {
    return std::binary_search(sorted_paths.begin(), sorted_paths.end(), p);
  };
  if (!facts.library.empty() && !is_entry(facts.library)) {
    return "the library " + Quote(facts.library) + " the manifest names is not in the package";
  }
  for (const std::string& r : facts.resources) {
    if (is_entry(r)) continue;
    // A directory: some entry starts with "r/" (the first path >= "r/").
    std::string prefix = r;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    prefix += '/';
    auto it = std::lower_bound(sorted_paths.begin(), sorted_paths.end(), prefix);
    if (it == sorted_paths.end() || it->substr(0, prefix.size()) != prefix) {
      return "the resource " + Quote(r) + " the manifest names is not in the package";
    }
  }
  return "";
}

std::string EncodeHeader(const HeaderFields& h) {
  std::string out(kHeaderSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p + kHeaderMagic, kPackageMagic, 4);
  StoreU16(p + kHeaderFormatVersion, h.format_version);
  StoreU16(p + kHeaderHeaderSize, static_cast<uint16_t>(kHeaderSize));
  p[kHeaderKind] = h.kind_byte_override != 0 ? h.kind_byte_override : static_cast<uint8_t>(h.kind);
  const size_t id_len = std::min(h.id.size(), kMaxIdBytes);
  const size_t version_len = std::min(h.version.size(), kMaxVersionBytes);
  p[kHeaderIdLength] = static_cast<uint8_t>(id_len);
  p[kHeaderVersionLength] = static_cast<uint8_t>(version_len);
  const uint64_t index_offset = kHeaderSize + h.apps_section_size;
  const uint64_t manifest_offset = index_offset + h.index_size;
  const uint64_t data_offset = manifest_offset + h.manifest_size;
  const uint64_t signature_offset = data_offset + h.data_size;
  StoreU64(p + kHeaderIndexOffset, index_offset);
  StoreU64(p + kHeaderIndexSize, h.index_size);
  StoreU64(p + kHeaderManifestOffset, manifest_offset);
  StoreU64(p + kHeaderManifestSize, h.manifest_size);
  StoreU64(p + kHeaderDataOffset, data_offset);
  StoreU64(p + kHeaderDataSize, h.data_size);
  StoreU64(p + kHeaderSignatureOffset, signature_offset);
  StoreU64(p + kHeaderSignatureSize, kSignatureBlockSize);
  StoreU32(p + kHeaderEntryCount, h.entry_count);
  StoreU32(p + kHeaderManifestEntry, h.manifest_entry);
  StoreU64(p + kHeaderTotalSize, h.total_size);
  std::memcpy(p + kHeaderId, h.id.data(), id_len);
  std::memcpy(p + kHeaderVersion, h.version.data(), version_len);
  return out;
}

void AppendIndexRecord(std::string* out, const IndexRecord& r) {
  const size_t at = out->size();
  out->resize(at + kRecordFixedSize + r.path.size());
  auto* p = reinterpret_cast<uint8_t*>(out->data() + at);
  StoreU64(p + kRecordOffset, r.offset);
  StoreU64(p + kRecordCompressedSize, r.compressed_size);
  StoreU64(p + kRecordUncompressed, r.size);
  StoreU32(p + kRecordMode, r.mode);
  StoreU16(p + kRecordPathLength, static_cast<uint16_t>(r.path.size()));
  StoreU16(p + kRecordReserved, 0);
  std::memcpy(p + kRecordSha256, r.sha256.data(), r.sha256.size());
  std::memcpy(p + kRecordFrameHash, r.frame_hash.data(), r.frame_hash.size());
  std::memcpy(p + kRecordPath, r.path.data(), r.path.size());
}

std::string SignatureBlock(std::string_view signed_prefix, const SecretKey& key) {
  EnsureSodium();
  std::string out(kSignatureBlockSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p + kSignatureMagicAt, kSignatureMagic, 4);
  StoreU16(p + kSignatureAlgorithm, kSignatureEd25519);
  const KeyId id = KeyIdOf(PublicKeyOf(key));
  std::memcpy(p + kSignatureKeyId, id.data(), id.size());
  crypto_sign_detached(p + kSignatureBytes, nullptr, Bytes(signed_prefix), signed_prefix.size(),
                       key.data());
  return out;
}

EntryFrameCompressor::EntryFrameCompressor() : cctx_(ZSTD_createCCtx()) {
  ATRIUM_CHECK(cctx_ != nullptr, "ZSTD_createCCtx failed");
  out_.resize(ZSTD_CStreamOutSize() * 4);
}

EntryFrameCompressor::~EntryFrameCompressor() { ZSTD_freeCCtx(cctx_); }

void EntryFrameCompressor::Begin(int level, uint64_t size) {
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);  // the index has hashes
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setPledgedSrcSize(cctx_, size);
}

Status EntryFrameCompressor::Feed(std::string_view input, bool end,
                                  const std::function<Status(std::string_view)>& sink) {
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  const ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
  while (true) {
    ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
    const size_t remaining = ZSTD_compressStream2(cctx_, &ob, &in, mode);
    if (ZSTD_isError(remaining)) {
      return MakeError(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(remaining));
    }
    if (ob.pos > 0) {
      if (Status s = sink(std::string_view(out_.data(), ob.pos)); !s.ok()) return s;
    }
    if (mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size) return Status::Ok();
  }
}

Result<std::string> CompressEntryFrame(std::string_view content, int level) {
  EntryFrameCompressor compressor;
  compressor.Begin(level, content.size());
  std::string frame;
  auto sink = [&frame](std::string_view piece) {
    frame.append(piece);
    return Status::Ok();
  };
  for (size_t at = 0; at < content.size(); at += kFrameInputStep) {
    Status s = compressor.Feed(content.substr(at, kFrameInputStep), false, sink);
    if (!s.ok()) return s.error();
  }
  if (Status s = compressor.Feed({}, true, sink); !s.ok()) return s.error();
  return frame;
}

std::string BuildPackageForTesting(const RawPackageForTesting& spec) {
  std::vector<std::string> frames;
  std::string index;
  uint64_t index_size = 0;
  for (const RawEntryForTesting& e : spec.entries) index_size += kRecordFixedSize + e.path.size();
  std::string apps;
  if (spec.format_version >= 2) apps = spec.apps_section.value_or(EncodeAppsSection(spec.apps));
  const uint64_t data_offset = kHeaderSize + apps.size() + index_size + spec.manifest.size();
  uint64_t offset = data_offset;
  uint64_t total = 0;
  for (const RawEntryForTesting& e : spec.entries) {
    std::string frame;
    if (e.frame) {
      frame = *e.frame;
    } else {
      frame.resize(ZSTD_compressBound(e.data.size()));
      size_t n = ZSTD_compress(frame.data(), frame.size(), e.data.data(), e.data.size(), 3);
      ATRIUM_CHECK(!ZSTD_isError(n), "ZSTD_compress failed");
      frame.resize(n);
    }
    IndexRecord r;
    r.offset = offset;
    r.compressed_size = frame.size();
    r.size = e.declared_size.value_or(e.data.size());
    r.mode = e.executable ? kModeExecutable : 0;
    r.sha256 = Sha256(e.data);
    r.frame_hash = FrameHash(frame);
    r.path = e.path;
    AppendIndexRecord(&index, r);
    offset += frame.size();
    total += r.size;
    frames.push_back(std::move(frame));
  }
  HeaderFields h;
  h.format_version = spec.format_version;
  h.apps_section_size = apps.size();
  h.kind = spec.kind;
  h.id = spec.id;
  h.version = spec.version;
  h.index_size = index.size();
  h.manifest_size = spec.manifest.size();
  h.data_size = offset - data_offset;
  h.entry_count = static_cast<uint32_t>(spec.entries.size());
  h.manifest_entry = spec.manifest_entry;
  h.total_size = total;
  std::string image = EncodeHeader(h) + apps + index + spec.manifest;
  for (const std::string& f : frames) image += f;
  image += SignatureBlock(std::string_view(image).substr(0, data_offset), spec.key);
  return image;
}

void ResignForTesting(std::string* image, const SecretKey& key) {
  ATRIUM_CHECK(image->size() >= kHeaderSize + kSignatureBlockSize, "image too small to re-sign");
  uint64_t data_offset = LoadU64(Bytes(*image) + kHeaderDataOffset);
  data_offset = std::min<uint64_t>(data_offset, image->size() - kSignatureBlockSize);
  std::string block = SignatureBlock(std::string_view(*image).substr(0, data_offset), key);
  image->replace(image->size() - kSignatureBlockSize, kSignatureBlockSize, block);
}

void RehashFramesForTesting(std::string* image) {
  const uint64_t size = image->size();
  if (size < kHeaderSize) return;
  auto* p = reinterpret_cast<uint8_t*>(image->data());
  const uint64_t index_offset = LoadU64(p + kHeaderIndexOffset);
  const uint64_t index_size = LoadU64(p + kHeaderIndexSize);
  if (index_offset > size || index_size > size - index_offset) return;
  uint64_t pos = index_offset;
  const uint64_t end = index_offset + index_size;
  while (end - pos >= kRecordFixedSize) {
    const uint64_t offset = LoadU64(p + pos + kRecordOffset);
    const uint64_t length = LoadU64(p + pos + kRecordCompressedSize);
    if (offset <= size && length <= size - offset) {
      Digest d = FrameHash(std::string_view(*image).substr(offset, length));
      std::memcpy(p + pos + kRecordFrameHash, d.data(), d.size());
    }
    pos += kRecordFixedSize + LoadU16(p + pos + kRecordPathLength);
    if (pos > end) break;
  }
}

}  // namespace internal
}  // namespace atrium
