// Patches: a patch directory holds
//   patch.json   the manifest (below)
//   <source>     the Lua source named by the manifest (default patch.lua)
// and ships as a signed .atb package of kind lua_patch (`atrium pack <dir>
// --kind lua_patch`, or `atrium patch sign`), installed through the artifact
// store like every artifact: the store verifies its signature against the
// app's release keys and every entry's hash, and re-hashes the installed
// copy before it is loaded.
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

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/package.h"
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

// bundle.json "patch_points" (a section the hotpatch layer registers): the
// patch points a bundle's code declares, so an installer knows them and
// their signatures without loading the bundle.
//   "patch_points": [{"point": "transfer.fee.compute",
//                     "signature": "int(int,string)",
//                     "description": "..."}]                optional
struct BundlePatchPoint {
  std::string point;
  std::string signature;  // canonical
};
Result<std::vector<BundlePatchPoint>> ReadBundlePatchPoints(const boost::json::value& section,
                                                            std::string_view file,
                                                            std::string_view pointer);

struct PatchPackage {
  PatchManifest manifest;
  std::string manifest_json;
  std::string source;
  std::string dir;
};

// Reads the patch in `dir` (a patch directory, or the installed copy the
// artifact store extracted): patch.json and its source, size-capped, the
// manifest validated. kValidation/kParse for the manifest (kCorrupt when
// `installed_copy` and it no longer parses), kIo for unreadable files.
// Sources over 256 KiB are refused. No signature: a directory is trusted
// only as the store's verified copy, or by its author for packing.
Result<PatchPackage> ReadPatchDir(const std::string& dir, bool installed_copy);

// The patch a signed package holds (its signature is the caller's to verify
// first): the kind must be lua_patch, patch.json valid and the source an
// entry of at most 256 KiB. Errors name the package file.
Result<PatchPackage> ReadPatchPackage(const PackageReader& reader);

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_PATCH_PACKAGE_H_
