// DynamicLayer: the seam every dynamic layer plugs into (native bundle swap,
// hotpatch, remote config, H5 packages, HCF templates). A layer lives in its
// own folder, implements this interface and registers a factory for it by
// name (ATRIUM_REGISTER_DYNAMIC_LAYER); the container instantiates every
// registered layer at Open, and the launch guard speaks to the layers only
// through this interface: what is active (recorded with each launch and
// blamed first after a crash), disable one artifact, roll all back, disable
// all, clear derived data. Private data is never a layer's to clear.
//
//   class BannerLayer : public atrium::DynamicLayer { ... };
//   ATRIUM_REGISTER_DYNAMIC_LAYER(([] {
//     atrium::DynamicLayerSpec spec;
//     spec.kind = "banner";
//     spec.activation = atrium::ActivationPoint::kNextOpen;
//     spec.create = [](const atrium::DynamicLayerContext& ctx) {
//       return std::make_unique<BannerLayer>(ctx);
//     };
//     return spec;
//   }()));
//
// Concurrency: the registry is thread-safe. A DynamicLayer instance is
// created and used by the thread that opens the container (the guard acts
// before any bundle code runs); a layer that serves other threads says so.
#ifndef ATRIUM_DYNAMIC_DYNAMIC_LAYER_H_
#define ATRIUM_DYNAMIC_DYNAMIC_LAYER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/artifact_kind.h"
#include "atrium/artifact_store.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

// One dynamic artifact: "kind:id@version" in launch records and guard
// actions. `kind` is the registered layer's kind.
struct ArtifactRef {
  std::string kind;
  std::string id;
  std::string version;

  friend bool operator==(const ArtifactRef&, const ArtifactRef&) = default;
};
// "kind:id@version".
ATRIUM_EXPORT std::string ArtifactRefText(const ArtifactRef& ref);

// When a staged artifact of the layer takes effect.
enum class ActivationPoint {
  kImmediately,  // as soon as it is installed (config: when the app activates it)
  kNextOpen,     // at the next open of the micro-app that uses it
  kNextCall,     // at the next call of what it patches
  kNextLaunch,   // at the next Container::Open
};
ATRIUM_EXPORT const char* ActivationPointName(ActivationPoint point);

// An active artifact and the directory its files are in (the guard blames
// the artifact whose files hold a crashing frame).
struct ActiveArtifact {
  ArtifactRef ref;
  std::string dir;
};

// What a layer is given when the container instantiates it.
struct DynamicLayerContext {
  std::string app_dir;
  std::string data_dir;
  ArtifactStore* store = nullptr;  // the app's artifact store; outlives the layer
};

class ATRIUM_EXPORT DynamicLayer {
 public:
  virtual ~DynamicLayer();
  virtual std::string_view kind() const = 0;

  // The layer's artifacts in use now.
  virtual Result<std::vector<ActiveArtifact>> ListActive() = 0;
  // Disables exactly `ref` (that version) with `reason`. kNotFound when that
  // version is not in use any more (already disabled, replaced, removed),
  // with the reason in the message.
  virtual Status Disable(const ArtifactRef& ref, std::string_view reason) = 0;
  // Makes `ref`, disabled earlier, the version in use again (the launch
  // guard retrying what it disabled without evidence). kState when it is
  // not disabled or a version newer than it is in use now (the retry is
  // stale); kNotFound when it is no longer held. The default refuses
  // (kInvalidArgument).
  virtual Status Reenable(const ArtifactRef& ref, std::string_view reason);
  // Rolls every artifact in use back to its previous version, or disables it
  // when it has none. One line per artifact on `done` ("rolled x back").
  virtual Status RollbackAll(std::string_view reason, std::vector<std::string>* done) = 0;
  // Disables every artifact of the layer; the app runs as shipped.
  virtual Status DisableAll(std::string_view reason, std::vector<std::string>* done) = 0;
  // Removes what the layer derives from its artifacts (caches, compiled
  // forms); never private data, never the artifacts themselves.
  virtual Status ClearDerivedData(std::vector<std::string>* done) = 0;
  // Installs a verified-on-install package of the layer's kind (what
  // Container::InstallPackage hands over). `as` is the caller's wish
  // (staged: at the layer's activation point; active: now); the layer may
  // refuse one it does not support (kInvalidArgument). The default refuses.
  virtual Result<ArtifactRecord> Install(const std::string& package_path, InstallAs as);
};

struct DynamicLayerSpec {
  // The one spelling of the layer's artifact kind ("lua_patch"): in the
  // store, the guard's records, the CLI and the docs. [a-z][a-z0-9_]*.
  std::string kind;
  // Its packages: the .atb header byte, the manifest file at the top of a
  // package and its validator (atrium/artifact_kind.h). A reserved kind
  // (h5_package, hcf_templates, lua_patch, config_set) is claimed with its
  // byte; a new layer takes a byte from 16 to 255. native_bundle is the
  // package format's own: its layer gives its byte and nothing more.
  ArtifactKind package_kind{};
  std::string manifest_name;
  ManifestValidator validate_manifest;
  ActivationPoint activation = ActivationPoint::kNextLaunch;
  std::string description;  // one line, for `atrium layers`
  std::function<Result<std::unique_ptr<DynamicLayer>>(const DynamicLayerContext&)> create;
};

// Registers a layer and its artifact kind with the package format.
// kAlreadyExists for a kind (name or byte) taken; kInvalidArgument for a
// malformed kind, a byte that does not fit the rules above, or a missing
// factory. Nothing is registered when it fails.
ATRIUM_EXPORT Status RegisterDynamicLayer(DynamicLayerSpec spec);
// The registered layers, sorted by kind.
ATRIUM_EXPORT std::vector<DynamicLayerSpec> RegisteredDynamicLayers();
// Instantiates every registered layer for one app. A layer whose factory
// fails is left out and its error appended to `errors`.
ATRIUM_EXPORT std::vector<std::unique_ptr<DynamicLayer>> CreateDynamicLayers(
    const DynamicLayerContext& context, std::vector<Error>* errors);

namespace internal {
[[noreturn]] ATRIUM_EXPORT void DieOnLayerRegistrationError(const Status& status);
}  // namespace internal

}  // namespace atrium

#define ATRIUM_DYNAMIC_LAYER_CONCAT_INNER(a, b) a##b
#define ATRIUM_DYNAMIC_LAYER_CONCAT(a, b) ATRIUM_DYNAMIC_LAYER_CONCAT_INNER(a, b)
// Registers a layer from a static initializer of its own folder; a
// duplicate kind aborts at start with the message (a build mistake).
#define ATRIUM_REGISTER_DYNAMIC_LAYER(spec_expr)                                                   \
  static const bool ATRIUM_DYNAMIC_LAYER_CONCAT(atrium_dynamic_layer_registered_, __LINE__) = [] { \
    ::atrium::Status s = ::atrium::RegisterDynamicLayer(spec_expr);                                \
    if (!s.ok()) ::atrium::internal::DieOnLayerRegistrationError(s);                               \
    return true;                                                                                   \
  }()

#endif  // ATRIUM_DYNAMIC_DYNAMIC_LAYER_H_
