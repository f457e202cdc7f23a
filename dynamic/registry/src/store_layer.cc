#include "atrium/dynamic/store_layer.h"

#include "atrium/semver.h"

namespace atrium {

StoreLayer::StoreLayer(ArtifactKind kind, ArtifactStore* store)
    : kind_(kind), name_(ArtifactKindName(kind)), store_(store) {}

std::string StoreLayer::Text(const ArtifactRecord& r) const {
  return ArtifactRefText({name_, r.id, r.version});
}

Result<std::vector<ActiveArtifact>> StoreLayer::ListActive() {
  Result<std::vector<ArtifactRecord>> records = store_->List(kind_);
  if (!records.ok()) return records.error();
  std::vector<ActiveArtifact> out;
  for (const ArtifactRecord& r : *records) {
    if (r.kind == kind_ && r.state == ArtifactState::kActive) {
      out.push_back({{name_, r.id, r.version}, r.dir});
    }
  }
  return out;
}

Status StoreLayer::Disable(const ArtifactRef& ref, std::string_view reason) {
  Result<std::vector<ArtifactRecord>> records = store_->List(kind_);
  if (!records.ok()) return records.error();
  const ArtifactRecord* found = nullptr;
  for (const ArtifactRecord& r : *records) {
    if (r.kind == kind_ && r.id == ref.id && r.version == ref.version) found = &r;
  }
  if (found == nullptr) return MakeError(ErrorCode::kNotFound, "the store holds no such version");
  if (found->state != ArtifactState::kActive && found->state != ArtifactState::kStaged &&
      found->state != ArtifactState::kPrevious) {
    return MakeError(ErrorCode::kNotFound,
                     std::string("it is ") + ArtifactStateName(found->state) + " already");
  }
  Result<std::optional<ArtifactRecord>> r = store_->Disable(kind_, ref.id, ref.version, reason);
  return r.ok() ? Status::Ok() : Status(r.error());
}

Status StoreLayer::Reenable(const ArtifactRef& ref, std::string_view reason) {
  Result<std::vector<ArtifactRecord>> records = store_->List(kind_);
  if (!records.ok()) return records.error();
  const ArtifactRecord* found = nullptr;
  const ArtifactRecord* active = nullptr;
  for (const ArtifactRecord& r : *records) {
    if (r.kind != kind_ || r.id != ref.id) continue;
    if (r.version == ref.version) found = &r;
    if (r.state == ArtifactState::kActive) active = &r;
  }
  if (found == nullptr) return MakeError(ErrorCode::kNotFound, "the store holds no such version");
  if (found->state != ArtifactState::kDisabled) {
    return MakeError(ErrorCode::kState,
                     std::string("it is ") + ArtifactStateName(found->state) + ", not disabled");
  }
  if (active != nullptr) {
    auto mine = Version::Parse(ref.version);
    auto now = Version::Parse(active->version);
    if (mine.ok() && now.ok() && !(*now < *mine)) {
      return MakeError(ErrorCode::kState,
                       "version " + active->version + " is in use now, not older than it");
    }
  }
  Result<ArtifactRecord> r = store_->Activate(kind_, ref.id, ref.version, reason);
  return r.ok() ? Status::Ok() : Status(r.error());
}

Status StoreLayer::RollbackAll(std::string_view reason, std::vector<std::string>* done) {
  Result<std::vector<ArtifactRecord>> records = store_->List(kind_);
  if (!records.ok()) return records.error();
  for (const ArtifactRecord& r : *records) {
    if (r.kind != kind_ || r.state != ArtifactState::kActive) continue;
    auto back = store_->Rollback(kind_, r.id, reason);
    if (back.ok()) {
      done->push_back("rolled " + Text(r) + " back to " +
                      (back->has_value()
                           ? (*back)->version + " (" + ArtifactStateName((*back)->state) + ")"
                           : std::string("the baseline")));
    } else {
      done->push_back("could not roll " + Text(r) + " back: " + back.error().ToString());
    }
  }
  return Status::Ok();
}

Status StoreLayer::DisableAll(std::string_view reason, std::vector<std::string>* done) {
  // Staged and previous first, so disabling the active one falls back to the
  // baseline, not to them.
  for (ArtifactState pass :
       {ArtifactState::kStaged, ArtifactState::kPrevious, ArtifactState::kActive}) {
    Result<std::vector<ArtifactRecord>> records = store_->List(kind_);
    if (!records.ok()) return records.error();
    for (const ArtifactRecord& r : *records) {
      if (r.kind != kind_ || r.state != pass) continue;
      auto disabled = store_->Disable(kind_, r.id, r.version, reason);
      done->push_back(disabled.ok()
                          ? "disabled " + Text(r)
                          : "could not disable " + Text(r) + ": " + disabled.error().ToString());
    }
  }
  return Status::Ok();
}

Status StoreLayer::ClearDerivedData(std::vector<std::string>*) { return Status::Ok(); }

Result<ArtifactRecord> StoreLayer::Install(const std::string& package_path, InstallAs as) {
  return store_->Install(
      package_path, as,
      as == InstallAs::kStaged ? "installed for the next launch" : "installed and activated");
}

namespace {
// A plain StoreLayer made from the context.
class PlainStoreLayer final : public StoreLayer {
 public:
  PlainStoreLayer(ArtifactKind kind, const DynamicLayerContext& ctx)
      : StoreLayer(kind, ctx.store) {}
};
}  // namespace

std::function<Result<std::unique_ptr<DynamicLayer>>(const DynamicLayerContext&)> StoreLayerFactory(
    ArtifactKind kind) {
  return [kind](const DynamicLayerContext& ctx) -> Result<std::unique_ptr<DynamicLayer>> {
    if (ctx.store == nullptr) {
      return MakeError(ErrorCode::kState, std::string("the ") + ArtifactKindName(kind) +
                                              " layer needs the artifact store");
    }
    return std::unique_ptr<DynamicLayer>(std::make_unique<PlainStoreLayer>(kind, ctx));
  };
}

}  // namespace atrium
