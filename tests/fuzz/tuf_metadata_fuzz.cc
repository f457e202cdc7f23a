// libFuzzer target for reading TUF metadata (dynamic/tuf: ParseEnvelope,
// ReadRoot, ReadTimestamp, ReadSnapshot, ReadTargets) and for opening a
// TrustedSet on the same bytes. Each must return a value or an Error and
// never crash, hang or throw. Invariants checked on every input:
// 1. An error names the file, has a message, and is kParse (with an offset
//    inside the input when one is given), kValidation (with a JSON pointer;
//    "" is the document itself) or kInternal.
// 2. An envelope's canonical bytes are those of its `signed` part; its
//    signatures have distinct key ids.
// 3. A role read has `_type` of its kind, a version in [1, 2^53 - 1] and a
//    spec version of major 1; a root has the four top-level roles, each with
//    distinct key ids and a threshold >= 1.
// 4. A TrustedSet that opens trusts a root of version >= 1, and refuses
//    the same bytes as the next root (the version is not N + 1).
// Seeds: tests/fuzz/corpus/tuf_metadata/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "atrium/dynamic/tuf/canonical_json.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/trusted_set.h"

namespace {

namespace tuf = atrium::tuf;

constexpr std::string_view kFile = "fuzz/root.json";
constexpr int64_t kNow = 1'800'000'000;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "tuf_metadata_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckError(const atrium::Error& e, size_t size) {
  Require(e.file == kFile, "error names the file");
  Require(!e.message.empty(), "error has a message");
  Require(e.code == atrium::ErrorCode::kParse || e.code == atrium::ErrorCode::kValidation ||
              e.code == atrium::ErrorCode::kInternal,
          "error code is parse, validation or internal");
  if (e.offset) Require(*e.offset <= size, "error offset lies inside the input");
  if (e.code == atrium::ErrorCode::kValidation) {
    Require(e.pointer.empty() || e.pointer[0] == '/', "pointer is a JSON pointer");
  }
}

void CheckCommon(const tuf::Common& c, tuf::RoleType type) {
  Require(c.type == type, "role of the kind read");
  Require(c.version >= 1 && c.version <= tuf::kMaxMetadataNumber, "version in range");
  Require(c.spec_version.size() >= 3 && c.spec_version.compare(0, 2, "1.") == 0, "spec major 1");
  Require(tuf::ParseUtcTime(tuf::FormatUtcTime(c.expires)) == c.expires, "expires round-trips");
}

void CheckRoleKeys(const tuf::RoleKeys& role) {
  Require(role.threshold >= 1 && role.threshold <= tuf::kMaxMetadataNumber, "threshold in range");
  std::set<std::string> ids(role.keyids.begin(), role.keyids.end());
  Require(ids.size() == role.keyids.size(), "key ids of a role are distinct");
}

template <typename T>
void CheckRead(const atrium::Result<T>& r, tuf::RoleType type, size_t size) {
  if (!r.ok()) {
    CheckError(r.error(), size);
    return;
  }
  CheckCommon(*r, type);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  atrium::Result<tuf::Envelope> e = tuf::ParseEnvelope(text, kFile, 1 << 20);
  if (!e.ok()) {
    CheckError(e.error(), size);
  } else {
    atrium::Result<std::string> canonical = tuf::CanonicalJson(boost::json::value(e->signed_part));
    Require(canonical.ok() && *canonical == e->canonical_signed, "canonical bytes of `signed`");
    std::set<std::string> ids;
    for (const tuf::Signature& s : e->signatures) ids.insert(s.keyid);
    Require(ids.size() == e->signatures.size(), "signature key ids are distinct");

    atrium::Result<tuf::Root> root = tuf::ReadRoot(*e);
    CheckRead(root, tuf::RoleType::kRoot, size);
    if (root.ok()) {
      for (const char* name : {"root", "timestamp", "snapshot", "targets"}) {
        Require(root->roles.count(name) == 1, "the four top-level roles");
      }
      for (const auto& [name, role] : root->roles) CheckRoleKeys(role);
    }
    CheckRead(tuf::ReadTimestamp(*e), tuf::RoleType::kTimestamp, size);
    atrium::Result<tuf::Snapshot> snapshot = tuf::ReadSnapshot(*e);
    CheckRead(snapshot, tuf::RoleType::kSnapshot, size);
    if (snapshot.ok()) Require(snapshot->meta.count("targets.json") == 1, "lists targets.json");
    atrium::Result<tuf::Targets> targets = tuf::ReadTargets(*e);
    CheckRead(targets, tuf::RoleType::kTargets, size);
    if (targets.ok() && targets->delegations) {
      for (const tuf::DelegatedRole& d : targets->delegations->roles) {
        CheckRoleKeys(d.keys);
        Require(d.paths.empty() || d.path_hash_prefixes.empty(), "paths or hash prefixes");
        tuf::IsDelegatedPath(d, "app/main.lua");
      }
    }
  }

  // TrustedSet::Open names its file "root.json".
  atrium::Result<tuf::TrustedSet> set = tuf::TrustedSet::Open(text, kNow);
  if (set.ok()) {
    Require(set->root().version >= 1, "trusted root has a version");
    atrium::Status again = set->UpdateRoot(text);
    Require(!again.ok(), "the same root is not its own successor");
    Require(set->root().version >= 1, "a refused root changes nothing");
  } else {
    Require(!set.error().message.empty(), "open error has a message");
  }
  return 0;
}
