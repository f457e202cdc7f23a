// Hotpatch as a registered dynamic layer: what the launch guard may ask of
// the app's hotpatches (list the enabled ones, disable one, roll all back,
// disable all), on the hotpatch store (<data>/hotpatch.db). An app without
// hotpatch.db holds no hotpatch; it is never created here.
//
// Concurrency: used by the thread that opens the container; the store has
// its own mutex.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "atrium/dynamic/dynamic_layer.h"
#include "patch_package.h"
#include "patch_store.h"

namespace atrium::hotpatch::internal {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKind = "lua_patch";

class HotpatchLayer final : public DynamicLayer {
 public:
  explicit HotpatchLayer(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  std::string_view kind() const override { return kKind; }

  Result<std::vector<ActiveArtifact>> ListActive() override {
    std::vector<ActiveArtifact> out;
    Result<PatchStore*> opened = Store();
    if (!opened.ok()) return opened.error();
    PatchStore* store = *opened;
    if (store == nullptr) return out;
    Result<std::vector<StoredPatch>> list = store->List();
    if (!list.ok()) return list.error();
    for (const StoredPatch& p : *list) {
      if (p.state == PatchState::kEnabled) out.push_back({{std::string(kKind), p.id, p.version}, p.dir});
    }
    return out;
  }

  Status Disable(const ArtifactRef& ref, std::string_view reason) override {
    Result<PatchStore*> opened = Store();
    if (!opened.ok()) return opened.error();
    PatchStore* store = *opened;
    if (store == nullptr) return MakeError(ErrorCode::kNotFound, "the app has no hotpatch store");
    Result<std::vector<StoredPatch>> list = store->List();
    if (!list.ok()) return list.error();
    bool enabled = false;
    for (const StoredPatch& p : *list) {
      enabled = enabled ||
                (p.id == ref.id && p.version == ref.version && p.state == PatchState::kEnabled);
    }
    if (!enabled) return MakeError(ErrorCode::kNotFound, "that version is no longer enabled");
    return store->SetState(ref.id, PatchState::kDisabled, std::string(reason));
  }

  Status RollbackAll(std::string_view reason, std::vector<std::string>* done) override {
    Result<PatchStore*> opened = Store();
    if (!opened.ok()) return opened.error();
    PatchStore* store = *opened;
    if (store == nullptr) return Status::Ok();
    Result<std::vector<StoredPatch>> list = store->List();
    if (!list.ok()) return list.error();
    const std::string why(reason);
    for (const StoredPatch& p : *list) {
      if (p.state != PatchState::kEnabled) continue;
      const std::string name = std::string(kKind) + ":" + p.id + "@" + p.version;
      Status s = store->Rollback(p.id, why);
      if (!s.ok() && s.error().code == ErrorCode::kNotFound) {
        s = store->SetState(p.id, PatchState::kDisabled, why);
        done->push_back(s.ok() ? "disabled " + name + " (no previous version)"
                               : "could not disable hotpatch " + p.id + ": " + s.error().ToString());
        continue;
      }
      done->push_back(s.ok() ? "rolled " + name + " back"
                             : "could not roll hotpatch " + p.id + " back: " + s.error().ToString());
    }
    return Status::Ok();
  }

  Status DisableAll(std::string_view reason, std::vector<std::string>* done) override {
    Result<PatchStore*> opened = Store();
    if (!opened.ok()) return opened.error();
    PatchStore* store = *opened;
    if (store == nullptr) return Status::Ok();
    Status s = store->DisableAll(std::string(reason));
    if (s.ok()) done->push_back("disabled every lua_patch");
    return s;
  }

  Status ClearDerivedData(std::vector<std::string>*) override { return Status::Ok(); }

 private:
  // The store, opened on first use; nullptr when the app has none.
  Result<PatchStore*> Store() {
    if (store_ != nullptr) return store_.get();
    std::error_code ec;
    if (!fs::exists(fs::path(data_dir_) / "hotpatch.db", ec)) return static_cast<PatchStore*>(nullptr);
    Result<std::unique_ptr<PatchStore>> opened = PatchStore::Open(data_dir_);
    if (!opened.ok()) return opened.error();
    store_ = std::move(opened).value();
    return store_.get();
  }

  const std::string data_dir_;
  std::unique_ptr<PatchStore> store_;
};

DynamicLayerSpec HotpatchLayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = std::string(kKind);
  // The reserved kind, claimed with hotpatch's manifest: `atrium pack
  // --kind lua_patch` of a patch directory checks patch.json as a patch does.
  spec.package_kind = ArtifactKind::kLuaPatch;
  spec.manifest_name = "patch.json";
  spec.validate_manifest = [](std::string_view text, std::string_view file) -> Status {
    Result<PatchManifest> m = ParsePatchManifest(text, file);
    return m.ok() ? Status::Ok() : Status(m.error());
  };
  spec.activation = ActivationPoint::kNextCall;
  spec.description = "Lua hotpatches of native patch points";
  spec.create = [](const DynamicLayerContext& ctx) -> Result<std::unique_ptr<DynamicLayer>> {
    return std::unique_ptr<DynamicLayer>(std::make_unique<HotpatchLayer>(ctx.data_dir));
  };
  return spec;
}

}  // namespace
}  // namespace atrium::hotpatch::internal

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::hotpatch::internal::HotpatchLayerSpec());
