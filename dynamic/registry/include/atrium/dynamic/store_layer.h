// StoreLayer: the DynamicLayer half of a layer whose artifacts live in the
// artifact store (state.db, one row per version: staged, active, previous,
// disabled, failed, baseline). It answers the launch guard from the store's
// rows of one kind: what is active, disable a version, roll every active one
// back (to previous, else the baseline), disable every downloaded version
// (the shipped baseline only). A layer built on it adds what is its own
// (its activation, its derived data).
//
// Concurrency: as DynamicLayer; the store is thread-safe.
#ifndef ATRIUM_DYNAMIC_STORE_LAYER_H_
#define ATRIUM_DYNAMIC_STORE_LAYER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/dynamic/dynamic_layer.h"

namespace atrium {

class ATRIUM_EXPORT StoreLayer : public DynamicLayer {
 public:
  // `store` outlives the layer.
  StoreLayer(ArtifactKind kind, ArtifactStore* store);

  std::string_view kind() const override { return name_; }
  Result<std::vector<ActiveArtifact>> ListActive() override;
  // kNotFound when that version is no longer staged, active or previous
  // (disabled or failed already, gone, or the baseline).
  Status Disable(const ArtifactRef& ref, std::string_view reason) override;
  Status Reenable(const ArtifactRef& ref, std::string_view reason) override;
  Status RollbackAll(std::string_view reason, std::vector<std::string>* done) override;
  Status DisableAll(std::string_view reason, std::vector<std::string>* done) override;
  Status ClearDerivedData(std::vector<std::string>* done) override;
  // ArtifactStore::Install of the package as `as`.
  Result<ArtifactRecord> Install(const std::string& package_path, InstallAs as) override;

 protected:
  ArtifactKind artifact_kind() const { return kind_; }
  ArtifactStore* store() const { return store_; }

 private:
  std::string Text(const ArtifactRecord& r) const;

  const ArtifactKind kind_;
  const std::string name_;
  ArtifactStore* const store_;
};

// The factory of a layer that is a plain StoreLayer of `kind` (for
// DynamicLayerSpec::create): needs the context's store.
ATRIUM_EXPORT std::function<Result<std::unique_ptr<DynamicLayer>>(const DynamicLayerContext&)>
StoreLayerFactory(ArtifactKind kind);

// The factory of a layer class built on StoreLayer, constructed from the
// context (`Layer(const DynamicLayerContext&)`): kState without a store.
template <typename Layer>
std::function<Result<std::unique_ptr<DynamicLayer>>(const DynamicLayerContext&)>
StoreLayerFactoryOf(ArtifactKind kind) {
  return [kind](const DynamicLayerContext& ctx) -> Result<std::unique_ptr<DynamicLayer>> {
    if (ctx.store == nullptr) {
      return MakeError(ErrorCode::kState, std::string("the ") + ArtifactKindName(kind) +
                                              " layer needs the artifact store");
    }
    return std::unique_ptr<DynamicLayer>(std::make_unique<Layer>(ctx));
  };
}

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_STORE_LAYER_H_
