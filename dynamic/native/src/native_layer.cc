// Native bundle updates as a registered dynamic layer. The launch guard
// lists, disables and rolls back native bundle updates through it (the
// artifact store's native_bundle rows, StoreLayer), and it owns the
// decisions of updating native bundles: installing a package (staged for the
// next launch, or active at once for bundles not yet loaded), falling back
// when an update fails to load or start, whether a package may replace a
// running bundle (live swap), rolling an update back. The container keeps
// what only it can do — its bundle index and the running bundles — behind
// internal::NativeBundleHost, which the layer finds when it attaches.
#include <memory>

#include "atrium/base/log.h"
#include "atrium/container.h"
#include "atrium/container/native_host.h"
#include "atrium/container_layer.h"
#include "atrium/dynamic/store_layer.h"
#include "atrium/manifest.h"
#include "atrium/package.h"

namespace atrium::native {
namespace {

using internal::Log;

class NativeLayer final : public StoreLayer, public ContainerLayer, public internal::NativeUpdates {
 public:
  explicit NativeLayer(const DynamicLayerContext& ctx)
      : StoreLayer(ArtifactKind::kNativeBundle, ctx.store) {}
  ~NativeLayer() override { DetachContainer(); }

  Status AttachContainer(Container& container) override {
    host_ = dynamic_cast<internal::NativeBundleHost*>(&container);
    if (host_ == nullptr) {
      return MakeError(ErrorCode::kState, "this container does not host native bundle updates");
    }
    host_->SetNativeUpdates(this);
    return Status::Ok();
  }
  void DetachContainer() override {
    if (host_ != nullptr) host_->SetNativeUpdates(nullptr);
    host_ = nullptr;
  }

  Result<ArtifactRecord> Install(const std::string& package_path, InstallAs as) override {
    auto record = store()->Install(
        package_path, as,
        as == InstallAs::kStaged ? "installed for the next launch" : "installed and activated");
    if (!record.ok()) return record;
    if (as != InstallAs::kStaged && host_ != nullptr) {
      if (Status s = host_->ReindexBundles("installed " + record->id + " " + record->version);
          !s.ok()) {
        return s.error();
      }
    }
    return record;
  }

  bool FallBack(const std::string& name, const std::string& version, const std::string& dir,
                const std::string& why) override {
    auto current = store()->Current(ArtifactKind::kNativeBundle, name);
    if (!current.ok() || !current->has_value() || (*current)->state != ArtifactState::kActive ||
        (*current)->dir != dir) {
      return false;  // not an update: nothing to fall back to
    }
    auto restored = store()->MarkFailed(ArtifactKind::kNativeBundle, name, version, why);
    if (!restored.ok()) return false;
    Log(LogLevel::kWarning, name,
        "update " + version + " failed (" + why + "); falling back to " +
            (restored->has_value() ? (*restored)->version : std::string("the baseline")));
    return true;
  }

  Result<ArtifactRecord> SwapLive(const std::string& package_path) override {
    auto reader = PackageReader::Open(package_path);
    if (!reader.ok()) return reader.error();
    const PackageInfo info = (*reader)->info();  // a copy: the reader closes below
    auto fail = [&](ErrorCode code, std::string message) {
      Error e = MakeError(code, std::move(message));
      e.file = package_path;
      e.bundle = info.id;
      return e;
    };
    if (info.kind != ArtifactKind::kNativeBundle) {
      return fail(ErrorCode::kInvalidArgument, std::string("not a native bundle package (kind ") +
                                                   ArtifactKindName(info.kind) + ")");
    }
    auto manifest = ParseManifest(info.manifest, package_path + ":bundle.json");
    if (!manifest.ok()) return manifest.error();
    if (!manifest->live_swap) {
      return fail(ErrorCode::kState, info.id + " " + info.version +
                                         " does not declare \"live_swap\": true; install it for "
                                         "the next launch instead");
    }
    reader->reset();
    if (host_ == nullptr) return fail(ErrorCode::kState, "the container is closed");
    auto swapped = host_->SwapRunning(
        info.id, info.version,
        [&] { return store()->Install(package_path, InstallAs::kActive, "live swap"); },
        [&](const std::string& reason) {
          (void)store()->MarkFailed(ArtifactKind::kNativeBundle, info.id, info.version, reason);
        });
    if (!swapped.ok() && swapped.error().file.empty()) {
      Error e = swapped.error();
      e.file = package_path;
      return e;
    }
    return swapped;
  }

  Result<std::optional<ArtifactRecord>> Rollback(std::string_view bundle,
                                                 std::string_view reason) override {
    return store()->Rollback(ArtifactKind::kNativeBundle, bundle, reason);
  }

 private:
  internal::NativeBundleHost* host_ = nullptr;
};

DynamicLayerSpec NativeLayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = "native_bundle";
  spec.package_kind = ArtifactKind::kNativeBundle;
  spec.activation = ActivationPoint::kNextLaunch;
  spec.description = "native bundle updates: next launch, or a live swap";
  spec.create = StoreLayerFactoryOf<NativeLayer>(ArtifactKind::kNativeBundle);
  return spec;
}

}  // namespace
}  // namespace atrium::native

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::native::NativeLayerSpec());
