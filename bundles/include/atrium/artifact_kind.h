// The artifact kinds the package format and the artifact store know: each is
// a header byte of `.atb` packages, one name (the only spelling: store,
// guard, CLI, docs), and the manifest file at the top of its packages.
//
// The format reserves five kinds (docs/package.md): native_bundle (1) is the
// format's own (bundle.json, checked by ParseManifest); h5_package (2),
// hcf_templates (3), lua_patch (4) and config_set (5) are reserved for their
// dynamic layers, which claim them with their manifest file and validator.
// Until claimed they take the generic manifest (artifact.json: an object with
// a string "id" and a semver "version"). A new dynamic layer registers a kind
// of its own: a byte from 16 to 255 and a name no other kind has. Dynamic
// layers normally do this through RegisterDynamicLayer.
//
// Concurrency: thread-safe (one mutex); validators must be pure.
#ifndef ATRIUM_ARTIFACT_KIND_H_
#define ATRIUM_ARTIFACT_KIND_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/package.h"
#include "atrium/result.h"

namespace atrium {

// Checks a package's manifest beyond "id" and "version" (which the format
// checks for every kind but native_bundle). Errors name `file` and a JSON
// pointer.
using ManifestValidator = std::function<Status(std::string_view text, std::string_view file)>;

struct ArtifactKindSpec {
  ArtifactKind kind{};                  // the header byte
  std::string name;                     // [a-z][a-z0-9_]*, at most 32 characters
  std::string manifest_name;            // the manifest entry ("patch.json"); empty: artifact.json
  ManifestValidator validate_manifest;  // may be empty
  std::string owner;                    // who registered or claimed it ("the format": reserved)
};

// The smallest header byte a new (not reserved) kind may take.
inline constexpr uint8_t kFirstRegisteredKind = 16;

// Registers a new kind, or claims a reserved one (same byte and name, once).
// kAlreadyExists for a byte or name taken; kInvalidArgument for a byte below
// kFirstRegisteredKind that is not a reserved kind's, or a malformed name.
ATRIUM_EXPORT Status RegisterArtifactKind(ArtifactKindSpec spec);
ATRIUM_EXPORT std::optional<ArtifactKindSpec> FindArtifactKind(ArtifactKind kind);
ATRIUM_EXPORT std::optional<ArtifactKindSpec> FindArtifactKind(std::string_view name);
// Every known kind, by header byte.
ATRIUM_EXPORT std::vector<ArtifactKindSpec> RegisteredArtifactKinds();

}  // namespace atrium

#endif  // ATRIUM_ARTIFACT_KIND_H_
