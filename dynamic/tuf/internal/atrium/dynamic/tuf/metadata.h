// TUF metadata (specification 1.0.x, section 4): the signed envelope, the
// four top-level roles and delegated targets roles, read from the exact bytes
// a repository serves, and the ed25519 keys and signatures that vouch for
// them. What a device decides from a release is in these structures; the
// order in which they may be trusted is TrustedSet's (trusted_set.h).
//
// Reading is strict where the specification says MUST (types, required
// fields, unique key ids in `signatures`, key ids that are the SHA-256 of the
// canonical key, `_type`, spec major version 1, integer versions >= 1, UTC
// `expires`) and tolerant where it says to be: unknown fields are kept in
// `signed` and are part of what is verified. Errors name the file, the JSON
// pointer and what is wrong ("timestamp.json: /signed/version: expected an
// integer, got a string").
//
// Concurrency: value types and pure functions.
#ifndef ATRIUM_DYNAMIC_TUF_METADATA_H_
#define ATRIUM_DYNAMIC_TUF_METADATA_H_

#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/package.h"
#include "atrium/result.h"

namespace atrium::tuf {

// Largest number accepted for a version or a length: 2^53 - 1, so that every
// value is exact in every JSON implementation and version + 1 cannot overflow.
inline constexpr int64_t kMaxMetadataNumber = (int64_t{1} << 53) - 1;

// The byte limits for the metadata files a client downloads (the endless
// data attack: no file is read past its limit).
struct MetadataLimits {
  size_t root = 512 * 1024;
  size_t timestamp = 16 * 1024;
  size_t snapshot = 2 * 1024 * 1024;
  size_t targets = 5 * 1024 * 1024;
};

enum class RoleType { kRoot, kTimestamp, kSnapshot, kTargets };
const char* RoleTypeName(RoleType type);  // "root", "timestamp", ...

struct Signature {
  std::string keyid;
  std::string sig;  // hex, as in the file
};

// A signed file as read: `signed` kept whole (unknown fields included), its
// canonical bytes (what the signatures cover) and the signatures.
struct Envelope {
  std::string file;  // for messages: "timestamp.json", "3.targets.json"
  boost::json::object signed_part;
  std::string canonical_signed;
  std::vector<Signature> signatures;
};

struct Key {
  std::string keytype;  // "ed25519" (the only type Atrium verifies)
  std::string scheme;   // "ed25519"
  std::string public_hex;
  // Set for keytype and scheme "ed25519" with a 64-hex-digit public key;
  // a key of another type is kept but never counts towards a threshold.
  std::optional<PublicKey> ed25519;
};

struct RoleKeys {
  std::vector<std::string> keyids;  // unique
  int64_t threshold = 1;
};

// The fields every role has.
struct Common {
  RoleType type = RoleType::kRoot;
  std::string spec_version;
  int64_t version = 0;
  int64_t expires = 0;  // Unix seconds (UTC)
  std::string expires_text;
};

struct Root : Common {
  bool consistent_snapshot = false;
  std::map<std::string, Key> keys;
  std::map<std::string, RoleKeys> roles;  // root, timestamp, snapshot, targets (+ others)
};

// What a file says about another file: version, and optionally its length
// and hashes ("sha256", "sha512", ... hex).
struct MetaFile {
  int64_t version = 0;
  std::optional<int64_t> length;
  std::map<std::string, std::string> hashes;
};

struct Timestamp : Common {
  MetaFile snapshot;  // meta["snapshot.json"]
};

struct Snapshot : Common {
  std::map<std::string, MetaFile> meta;  // "targets.json", "<role>.json"
};

struct TargetFile {
  std::string path;
  int64_t length = 0;
  std::map<std::string, std::string> hashes;  // at least one
  boost::json::object custom;                 // empty when absent
};

struct DelegatedRole {
  std::string name;
  RoleKeys keys;
  std::vector<std::string> paths;               // glob patterns, or
  std::vector<std::string> path_hash_prefixes;  // hex prefixes of SHA-256(path)
  bool terminating = false;
};

struct Delegations {
  std::map<std::string, Key> keys;
  std::vector<DelegatedRole> roles;  // in priority order
};

struct Targets : Common {
  std::map<std::string, TargetFile> targets;
  std::optional<Delegations> delegations;
};

// Parses the envelope of `bytes` (at most `max_bytes`): strict JSON (no
// duplicate members), `signed` an object, `signatures` an array of
// {keyid, sig} with unique key ids.
Result<Envelope> ParseEnvelope(std::string_view bytes, std::string_view file, size_t max_bytes);

// The typed role in an envelope; `_type` must be the expected one.
Result<Root> ReadRoot(const Envelope& envelope);
Result<Timestamp> ReadTimestamp(const Envelope& envelope);
Result<Snapshot> ReadSnapshot(const Envelope& envelope);
Result<Targets> ReadTargets(const Envelope& envelope);

// Checks that at least `role.threshold` distinct keys among `role.keyids`
// (looked up in `keys`) signed `envelope`. An unknown or unsupported key, a
// key id listed twice, or a bad signature never counts twice or at all.
// kValidation: "<file>: <role> role: 3 signatures, threshold 2, 1 valid".
Status VerifyThreshold(const Envelope& envelope, std::string_view role_name, const RoleKeys& role,
                       const std::map<std::string, Key>& keys);

// "YYYY-MM-DDTHH:MM:SSZ" <-> Unix seconds.
std::optional<int64_t> ParseUtcTime(std::string_view text);
std::string FormatUtcTime(int64_t unix_seconds);

// The SHA-256 (lowercase hex) of `bytes`, and of the file at `path` (read
// in chunks; kIo naming the file).
std::string Sha256Hex(std::string_view bytes);
Result<std::string> Sha256OfFile(const std::string& path);

// Whether `path` is one a delegated role covers: a `paths` pattern matching
// it segment by segment ('*' and '?' never match '/'), or a hash prefix of
// SHA-256(path).
bool IsDelegatedPath(const DelegatedRole& role, std::string_view path);
bool MatchPathPattern(std::string_view pattern, std::string_view path);

// Checks `bytes` against a MetaFile's or a TargetFile's length and hashes.
// An unknown hash algorithm is an error (never silently skipped); sha256 and
// sha512 are known. kCorrupt: "<what>: sha256 mismatch (expected ab12…, got …)".
Status CheckLengthAndHashes(std::string_view bytes, std::string_view what,
                            std::optional<int64_t> length,
                            const std::map<std::string, std::string>& hashes);
// The same for the file at `path`, read in chunks (bounded memory).
Status CheckFileLengthAndHashes(const std::string& path, std::string_view what,
                                std::optional<int64_t> length,
                                const std::map<std::string, std::string>& hashes);

}  // namespace atrium::tuf

#endif  // ATRIUM_DYNAMIC_TUF_METADATA_H_
