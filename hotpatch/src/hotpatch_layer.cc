// Hotpatch as a registered dynamic layer. Patches are lua_patch packages in
// the artifact store, so the launch guard's questions (what is enabled,
// disable one, roll all back, disable all) are the store's, answered by
// StoreLayer; the layer claims the reserved lua_patch kind with hotpatch's
// manifest (patch.json, checked by ParsePatchManifest when a patch is packed
// or read). A patch activates at the next call of its points.
#include <memory>

#include "atrium/dynamic/store_layer.h"
#include "patch_package.h"

namespace atrium::hotpatch::internal {
namespace {

DynamicLayerSpec HotpatchLayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = "lua_patch";
  spec.package_kind = ArtifactKind::kLuaPatch;
  spec.manifest_name = "patch.json";
  spec.validate_manifest = [](std::string_view text, std::string_view file) -> Status {
    Result<PatchManifest> m = ParsePatchManifest(text, file);
    return m.ok() ? Status::Ok() : Status(m.error());
  };
  spec.activation = ActivationPoint::kNextCall;
  spec.description = "Lua hotpatches of native patch points";
  spec.create = StoreLayerFactory(ArtifactKind::kLuaPatch);
  return spec;
}

}  // namespace
}  // namespace atrium::hotpatch::internal

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::hotpatch::internal::HotpatchLayerSpec());
