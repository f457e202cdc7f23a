// Patch packages: a directory holding
//   patch.json   the manifest (below)
//   <source>     the Lua source named by the manifest (default patch.lua)
//   patch.sig    Ed25519 detached signature, hex, over the signed message:
//                "atrium-patch-v1\n" + u64le(len(patch.json)) + patch.json
//                + u64le(len(source)) + source
// A package is only used after its signature verifies against one of the
// app's trusted release keys and its manifest validates. Until the signed
// package format and artifact store land, this is the verification the store
// will apply.
//
// patch.json:
//   { "id": "fix-fee-rounding",            [a-z][a-z0-9_.-]{0,63}
//     "version": "1.0.1",                  semver
//     "description": "...",                optional
//     "targets": { "app": "com.example.wallet", "app_versions": ">=1.0.0 <2.0.0",
//                  "bundles": [{"name": "com.wallet.transfer", "version": "^1.2.0"}] },
//     "points": [{"point": "transfer.fee.compute", "mode": "replace",
//                 "function": "compute_fee", "signature": "int(int,string)",
//                 "order": 0}],
//     "limits": {"memory_kb": 512, "instructions": 1000000, "time_ms": 50,
//                "max_faults": 3},                      all optional
//     "source": "patch.lua" }                           optional
// Strict: unknown fields are errors; every error names file and JSON pointer.
//
// Concurrency: pure functions.
#ifndef ATRIUM_HOTPATCH_PATCH_PACKAGE_H_
#define ATRIUM_HOTPATCH_PATCH_PACKAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::hotpatch::internal {

enum class PatchMode { kReplace, kBefore, kAfter };
const char* PatchModeName(PatchMode mode);

struct PatchPointDecl {
  std::string point;  // patch point id, dotted
  PatchMode mode = PatchMode::kReplace;
  std::string function;   // Lua function defined by the source
  std::string signature;  // canonical: "int(int,string)", see SignatureString
  int order = 0;          // composition order among patches on one point
};

struct PatchManifest {
  std::string id;
  Version version;
  std::string description;
  std::string app_id;
  VersionRange app_versions = VersionRange::Any();
  struct BundleTarget {
    std::string name;
    VersionRange range;
  };
  std::vector<BundleTarget> bundles;
  std::vector<PatchPointDecl> points;  // at least one
  uint32_t memory_kb = 512;
  uint64_t instructions = 1000000;
  uint32_t time_ms = 50;
  uint32_t max_faults = 3;
  std::string source = "patch.lua";
};

Result<PatchManifest> ParsePatchManifest(std::string_view json, std::string_view file);

struct PatchPackage {
  PatchManifest manifest;
  std::string manifest_json;
  std::string source;
  std::string dir;
};

// Reads `dir`, checks the signature against `trusted_keys` (64-hex-char
// Ed25519 public keys), then the manifest. kCorrupt for a bad/missing
// signature or a tampered file (naming it), kValidation/kParse for the
// manifest, kIo for unreadable files. Sources over 256 KiB are refused.
Result<PatchPackage> LoadPatchPackage(const std::string& dir,
                                      const std::vector<std::string>& trusted_keys);

// Key handling for the release side (`atrium keygen`, `atrium patch sign`).
struct KeyPair {
  std::string public_hex;  // 64 hex chars
  std::string secret_hex;  // 128 hex chars
};
KeyPair GenerateKeyPair();
// Writes <dir>/patch.sig for the manifest and source in `dir`.
Status SignPatchDir(const std::string& dir, const std::string& secret_hex);

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_PATCH_PACKAGE_H_
