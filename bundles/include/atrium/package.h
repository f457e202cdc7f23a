// Signed packages (.atb): how every artifact Atrium installs travels — a
// native bundle, an H5 package, HCF templates, a Lua patch or a config set.
// One file holds a fixed header, an index of entries, the artifact's manifest,
// one zstd frame per entry and an Ed25519 signature over header + index +
// manifest; the index carries each entry's SHA-256 (and a hash of its
// compressed frame), so the signature covers every byte of the package. The
// byte layout is specified in docs/package.md.
//
//   auto key = atrium::ReadSecretKeyFile("release.key");        // `atrium keygen`
//   atrium::PackOptions opts;  opts.secret_key = *key;  opts.apps = {"com.wallet.app"};
//   auto stats = atrium::PackDirectory("build/greeter", opts, "greeter.atb");
//
//   auto pkg = atrium::PackageReader::Open("greeter.atb");      // structure only
//   Status s = (*pkg)->Verify(trusted_keys);                     // signature
//   auto json = (*pkg)->ReadEntry("bundle.json");               // one entry
//   s = (*pkg)->ExtractTo("/data/bundles/greeter/1.2.0");       // all of them
//
// Trust: Open checks the structure (every offset and size against the file
// size, entry paths, limits) but nothing it reports is authentic until Verify
// succeeds. ReadEntry and VerifyAllEntries check each entry's hashes whether or
// not Verify ran; ExtractTo refuses to run before a successful Verify.
// Errors name the package file and the byte offset involved (and the entry
// path, in the message, when one is).
//
// Concurrency: the free functions are thread-safe. A PackageReader may be
// used from several threads at once once opened: info(), ReadEntry,
// VerifyAllEntries and ExtractTo (into different directories) are const and
// keep no shared mutable state; Verify only sets an atomic flag.
#ifndef ATRIUM_PACKAGE_H_
#define ATRIUM_PACKAGE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {
// What a package carries: the header's kind byte. The five below are the
// format's reserved kinds; dynamic layers register more (atrium/artifact_kind.h),
// so any byte value may name a registered kind.
enum class ArtifactKind : uint8_t {
  kNativeBundle = 1,  // a bundle directory: bundle.json, its library, resources
  kH5Package = 2,     // an offline H5 web package
  kHcfTemplates = 3,  // HCF templates and their Lua logic
  kLuaPatch = 4,      // a hotpatch (patch.json + Lua source)
  kConfigSet = 5,     // a remote-config set
};
// The kind's one spelling ("native_bundle", "lua_patch", a registered
// layer's name); "unknown" for a byte no kind has.
ATRIUM_EXPORT const char* ArtifactKindName(ArtifactKind kind);
// The inverse of ArtifactKindName; nullopt for any other text.
ATRIUM_EXPORT std::optional<ArtifactKind> ParseArtifactKind(std::string_view name);

// Release keys: Ed25519 as libsodium makes them (`atrium keygen` writes
// PREFIX.pub, 64 hex characters, and PREFIX.key, 128 hex characters).
using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 64>;  // seed || public key
// The first 8 bytes of SHA-256(public key): names the signing key in a
// package, so a verifier can say which key signed it.
using KeyId = std::array<uint8_t, 8>;

ATRIUM_EXPORT KeyId KeyIdOf(const PublicKey& key);
ATRIUM_EXPORT std::string KeyIdHex(const KeyId& id);  // 16 lowercase hex digits
ATRIUM_EXPORT PublicKey PublicKeyOf(const SecretKey& key);
// Hex text as the key files hold it; trailing whitespace is ignored. `source`
// names the text in errors (a file path, "--pubkey").
ATRIUM_EXPORT Result<PublicKey> ParsePublicKeyHex(std::string_view hex, std::string_view source);
// Also checks that the public half matches the seed (a damaged key file).
ATRIUM_EXPORT Result<SecretKey> ParseSecretKeyHex(std::string_view hex, std::string_view source);
ATRIUM_EXPORT Result<PublicKey> ReadPublicKeyFile(const std::string& path);
ATRIUM_EXPORT Result<SecretKey> ReadSecretKeyFile(const std::string& path);

// Which apps a package is for: a list of app patterns, signed with the rest
// of the package (format 2). A pattern is an app id ("com.wallet.app"), a
// family ("com.wallet.*": every app id that starts with "com.wallet."), or
// "*" (any app, said explicitly). An app installs a package only when one of
// its patterns matches the app's id (ArtifactStore::Install), so a package
// signed with a key two apps share cannot be moved from one to the other.
// Why `pattern` is not an app pattern, or "" when it is.
ATRIUM_EXPORT std::string AppPatternProblem(std::string_view pattern);
ATRIUM_EXPORT bool AppPatternMatches(std::string_view pattern, std::string_view app_id);
// "com.a.app, com.b.*" (the patterns, comma-separated), or "no app".
ATRIUM_EXPORT std::string AppListText(const std::vector<std::string>& apps);

struct PackEntryInfo {
  std::string path;                  // '/'-separated, relative, validated
  uint64_t size = 0;                 // uncompressed bytes
  uint64_t compressed_size = 0;      // bytes of its zstd frame
  uint64_t offset = 0;               // file offset of its zstd frame
  std::array<uint8_t, 32> sha256{};  // of the uncompressed bytes
  bool executable = false;           // extracted with mode 0755 (else 0644)
};

struct PackageInfo {
  uint16_t format_version = 0;  // 2; 1 for a package made before apps were named
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  uint32_t flags = 0;
  std::string id;                      // bundle name or artifact id
  std::string version;                 // semver
  std::vector<std::string> apps;       // app patterns, sorted; empty in format 1
  std::string manifest;                // the manifest's bytes (bundle.json, ...)
  std::string manifest_entry;          // the entry that holds the same bytes
  std::vector<PackEntryInfo> entries;  // sorted by path (bytewise), unique
  KeyId signer_key_id{};               // as the signature block claims; authentic after Verify
  uint64_t total_size = 0;             // sum of the entries' sizes
  // Layout (docs/package.md).
  uint64_t file_size = 0;
  uint64_t header_size = 0;
  uint64_t apps_offset = 0, apps_size = 0;  // apps_size 0 in format 1
  uint64_t index_offset = 0, index_size = 0;
  uint64_t manifest_offset = 0, manifest_size = 0;
  uint64_t data_offset = 0, data_size = 0;
  uint64_t signature_offset = 0, signature_size = 0;
};

struct PackProgress {
  uint64_t done_bytes = 0;        // uncompressed bytes packed so far
  uint64_t total_bytes = 0;       // uncompressed bytes to pack
  std::string_view current_path;  // entry being packed
};

struct PackOptions {
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  // Empty: taken from the manifest. Otherwise they must equal the manifest's.
  std::string id;
  std::string version;
  // The manifest file at the top of the directory. native_bundle: always
  // bundle.json (parsed by ParseManifest). Other kinds: this file (default
  // artifact.json), a JSON object with at least "id" and "version".
  std::string manifest_name;
  // The apps the package is for (app patterns, see AppPatternProblem): at
  // least one, at most 64; "*" only alone. Stored sorted and unique.
  std::vector<std::string> apps;
  SecretKey secret_key{};
  int zstd_level = 3;  // 1..19
  // Called on the packing thread after each chunk read; may be empty.
  std::function<void(const PackProgress&)> progress;
};

struct PackStats {
  std::string id;
  std::string version;
  size_t entries = 0;
  uint64_t total_size = 0;       // uncompressed bytes of all entries
  uint64_t compressed_size = 0;  // bytes of all frames
  uint64_t file_size = 0;        // the .atb
  KeyId key_id{};
  std::vector<std::string> apps;  // as stored: sorted, unique
};

// Packs every regular file under `dir` (symlinks, devices and entry paths the
// format refuses are errors naming the file) into a signed package at
// `out_path`, written atomically: a temporary file in the same directory,
// fsync'd, renamed over `out_path`, then the directory fsync'd.
ATRIUM_EXPORT Result<PackStats> PackDirectory(const std::string& dir, const PackOptions& opts,
                                              const std::string& out_path);

// A package opened for reading: the file is mmap'd read-only; reading one
// entry touches (and decompresses) only that entry's frame. The file must
// not be modified while it is open.
class ATRIUM_EXPORT PackageReader {
 public:
  // Maps `path` and checks its structure. kIo when it cannot be read,
  // kCorrupt / kValidation naming the offset when malformed.
  static Result<std::unique_ptr<PackageReader>> Open(const std::string& path);
  ~PackageReader();
  PackageReader(const PackageReader&) = delete;
  PackageReader& operator=(const PackageReader&) = delete;

  const PackageInfo& info() const;
  const std::string& path() const;

  // Checks the Ed25519 signature with the key among `trusted_keys` whose id
  // the signature block names. kInvalidArgument for no keys; kCorrupt when
  // no trusted key has that id, or the signature does not verify.
  Status Verify(std::span<const PublicKey> trusted_keys);
  bool verified() const;

  // Ok when the package names `app_id` (one of info().apps matches it);
  // otherwise kValidation, "refused: ..." with the apps it is for, naming the
  // package file. A format-1 package names no app and is refused. Meaningful
  // after Verify (the list is signed).
  Status CheckApp(std::string_view app_id) const;

  // The bytes of one entry, decompressed and checked against its hashes.
  // kNotFound for an unknown path; kCorrupt naming the entry and offset.
  Result<std::string> ReadEntry(std::string_view path) const;
  // Decompresses every entry (one at a time, in bounded memory) and checks
  // its size and hashes.
  Status VerifyAllEntries() const;
  // Writes every entry under `dir` (created if missing; it must otherwise be
  // empty), each checked against its hashes, fsync'd, mode 0755 or 0644;
  // never writes outside `dir` (no symlink is followed below it). On error
  // the partly written directory is left for the caller to remove. Needs a
  // successful Verify first (kState otherwise).
  Status ExtractTo(const std::string& dir) const;

  // Made by Open; Impl is defined inside the package layer only.
  struct Impl;
  explicit PackageReader(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium

#endif  // ATRIUM_PACKAGE_H_
