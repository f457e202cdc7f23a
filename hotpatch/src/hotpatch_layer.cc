// Hotpatch as a registered dynamic layer. Patches are lua_patch packages in
// the artifact store, so the launch guard's questions (what is enabled,
// disable one, roll all back, disable all) are the store's, answered by
// StoreLayer; the layer claims the reserved lua_patch kind with hotpatch's
// manifest (patch.json, checked by ParsePatchManifest when a patch is packed
// or read). A patch activates at the next call of its points. When the
// container opens, the layer opens the hotpatch runtime on the container's
// artifact store and registers it as the PatchPointRegistry bundles look up
// (Runtime::Of), so an embedding host gets hotpatches without wiring.
#include <boost/json.hpp>
#include <memory>

#include "atrium/base/log.h"
#include "atrium/container.h"
#include "atrium/container_layer.h"
#include "atrium/dynamic/store_layer.h"
#include "atrium/hotpatch.h"
#include "atrium/manifest/app_sections.h"
#include "patch_package.h"

namespace atrium::hotpatch::internal {

Result<std::shared_ptr<Runtime>> OpenForContainer(Container& container, ArtifactStore* store);

namespace {

class HotpatchLayer final : public StoreLayer, public ContainerLayer {
 public:
  explicit HotpatchLayer(const DynamicLayerContext& ctx)
      : StoreLayer(ArtifactKind::kLuaPatch, ctx.store) {}
  ~HotpatchLayer() override { DetachContainer(); }

  Status AttachContainer(Container& container) override {
    auto runtime = OpenForContainer(container, store());
    if (!runtime.ok()) return runtime.error();
    auto id = container.services().Register<PatchPointRegistry>(
        std::static_pointer_cast<PatchPointRegistry>(*runtime));
    if (!id.ok()) return id.error();
    container_ = &container;
    registration_ = *id;
    runtime_ = std::move(runtime).value();
    return Status::Ok();
  }
  void DetachContainer() override {
    if (container_ == nullptr) return;
    (void)container_->services().Unregister(registration_);
    container_ = nullptr;
    runtime_.reset();
  }

 private:
  Container* container_ = nullptr;
  uint64_t registration_ = 0;
  std::shared_ptr<Runtime> runtime_;
};

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
  spec.create = StoreLayerFactoryOf<HotpatchLayer>(ArtifactKind::kLuaPatch);
  return spec;
}

Status ValidateBundlePatchPoints(const boost::json::value& v, std::string_view file,
                                 std::string_view pointer) {
  auto points = ReadBundlePatchPoints(v, file, pointer);
  return points.ok() ? Status::Ok() : Status(points.error());
}
ATRIUM_REGISTER_BUNDLE_SECTION("patch_points", "hotpatch", ValidateBundlePatchPoints);

}  // namespace
}  // namespace atrium::hotpatch::internal

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::hotpatch::internal::HotpatchLayerSpec());
