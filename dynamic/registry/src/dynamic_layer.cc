#include "atrium/dynamic/dynamic_layer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace atrium {
namespace {

struct LayerRegistry {
  std::mutex mu;
  std::vector<DynamicLayerSpec> specs;  // guarded by mu, sorted by kind
};

LayerRegistry& Registry() {
  static LayerRegistry* registry = new LayerRegistry();  // leaked: used by static initializers
  return *registry;
}

bool IsKindName(std::string_view kind) {
  if (kind.empty() || kind.size() > 32 || kind[0] < 'a' || kind[0] > 'z') return false;
  return std::all_of(kind.begin(), kind.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

DynamicLayer::~DynamicLayer() = default;

Result<ArtifactRecord> DynamicLayer::Install(const std::string& package_path, InstallAs) {
  Error e = MakeError(ErrorCode::kInvalidArgument,
                      "the " + std::string(kind()) + " layer does not install packages");
  e.file = package_path;
  return e;
}

Status DynamicLayer::Reenable(const ArtifactRef& ref, std::string_view) {
  return MakeError(
      ErrorCode::kInvalidArgument,
      "the " + std::string(kind()) + " layer cannot re-enable " + ArtifactRefText(ref));
}

std::string ArtifactRefText(const ArtifactRef& ref) {
  return ref.kind + ":" + ref.id + "@" + ref.version;
}

const char* ActivationPointName(ActivationPoint point) {
  switch (point) {
    case ActivationPoint::kImmediately:
      return "immediately";
    case ActivationPoint::kNextOpen:
      return "next open";
    case ActivationPoint::kNextCall:
      return "next call";
    case ActivationPoint::kNextLaunch:
      return "next launch";
  }
  return "?";
}

Status RegisterDynamicLayer(DynamicLayerSpec spec) {
  if (!IsKindName(spec.kind)) {
    return MakeError(ErrorCode::kInvalidArgument, "dynamic layer kind \"" + spec.kind +
                                                      "\" is not [a-z][a-z0-9_]*, 1-32 characters");
  }
  if (!spec.create) {
    return MakeError(ErrorCode::kInvalidArgument, "dynamic layer " + spec.kind + " has no factory");
  }
  LayerRegistry& r = Registry();
  std::lock_guard lock(r.mu);
  auto it =
      std::lower_bound(r.specs.begin(), r.specs.end(), spec.kind,
                       [](const DynamicLayerSpec& s, const std::string& k) { return s.kind < k; });
  if (it != r.specs.end() && it->kind == spec.kind) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "dynamic layer kind \"" + spec.kind + "\" is already registered");
  }
  // The artifact kind: the format's own native_bundle is used as it is;
  // any other is registered (or a reserved one claimed) for this layer.
  std::optional<ArtifactKindSpec> existing = FindArtifactKind(spec.kind);
  const bool formats_own = existing && existing->kind == ArtifactKind::kNativeBundle;
  if (formats_own) {
    if (spec.package_kind != existing->kind || !spec.manifest_name.empty() ||
        spec.validate_manifest) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "dynamic layer " + spec.kind +
              ": native_bundle is the package format's own kind (byte 1, bundle.json)");
    }
  } else {
    Status s = RegisterArtifactKind({spec.package_kind, spec.kind, spec.manifest_name,
                                     spec.validate_manifest, "the " + spec.kind + " layer"});
    if (!s.ok()) {
      Error e = s.error();
      e.message = "dynamic layer " + spec.kind + ": " + e.message;
      return e;
    }
  }
  r.specs.insert(it, std::move(spec));
  return Status::Ok();
}

std::vector<DynamicLayerSpec> RegisteredDynamicLayers() {
  LayerRegistry& r = Registry();
  std::lock_guard lock(r.mu);
  return r.specs;
}

std::vector<std::unique_ptr<DynamicLayer>> CreateDynamicLayers(const DynamicLayerContext& context,
                                                               std::vector<Error>* errors) {
  std::vector<std::unique_ptr<DynamicLayer>> layers;
  for (const DynamicLayerSpec& spec : RegisteredDynamicLayers()) {
    Result<std::unique_ptr<DynamicLayer>> layer = spec.create(context);
    if (layer.ok() && *layer != nullptr) {
      layers.push_back(std::move(layer).value());
    } else if (errors != nullptr) {
      Error e =
          layer.ok() ? MakeError(ErrorCode::kInternal, "factory returned no layer") : layer.error();
      e.message = "dynamic layer " + spec.kind + ": " + e.message;
      errors->push_back(std::move(e));
    }
  }
  return layers;
}

namespace internal {
void DieOnLayerRegistrationError(const Status& status) {
  std::fprintf(stderr, "atrium: %s\n", status.error().ToString().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace atrium
