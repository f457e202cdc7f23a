// Container: the facade a host embeds to run a super-app.
//
//   auto c = atrium::Container::Open({.app_dir = "samples/wallet"});
//   if (!c.ok()) { print(c.error().ToString()); return 1; }
//   (*c)->Start();                        // loads eager bundles (the launch)
//   (*c)->router().Launch("home");        // opens the home micro-app
//
// Open reads app.json and the bundle index (one file, one read: the cost of
// opening grows with the bundles *needed*, not those installed), with
// dependency resolution already recorded in the index. The index is rebuilt
// from the manifests when it is missing, corrupt, out of date with app.json,
// or after Install/Uninstall.
//
// Bundles load on demand: a lookup of a service they provide, a launch of
// one of their micro-apps, an explicit Load, or Start for eager bundles.
// Dependencies load first; Stop stops dependents first; destruction stops
// everything in reverse activation order.
//
// Concurrency contract: all methods are thread-safe. Loading and stopping
// bundles are serialized by one lifecycle lock (a bundle's Start may look up
// services and so load further bundles on the same thread); service lookups
// of active services do not take it.
#ifndef ATRIUM_CONTAINER_H_
#define ATRIUM_CONTAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/export.h"
#include "atrium/host_api.h"
#include "atrium/launch_guard.h"
#include "atrium/manifest.h"
#include "atrium/micro_app.h"
#include "atrium/private_store.h"
#include "atrium/result.h"
#include "atrium/scheduler.h"
#include "atrium/service_registry.h"
#include "atrium/startup_pipeline.h"

namespace atrium {

enum class BundleState {
  kInstalled,   // in the index, not chosen (superseded) or not yet resolved
  kResolved,    // dependencies satisfied; library not loaded
  kUnresolved,  // dependencies cannot be satisfied (see reason)
  kLoading,
  kActive,
  kStopping,
  kUnloaded,  // was active, stopped
  kFailed,    // dlopen / ABI / activator failure (see reason)
};
ATRIUM_EXPORT const char* BundleStateName(BundleState state);

struct BundleStatus {
  std::string name;
  std::string version;
  std::string dir;
  bool eager = false;
  bool baseline = false;  // shipped in the app folder (vs installed in the data dir)
  BundleState state = BundleState::kInstalled;
  std::string reason;                     // why unresolved / failed / superseded
  std::vector<std::string> dependencies;  // resolved required bundles
  std::string loaded_by;        // what triggered the load: "eager", "service X", "micro-app Y",
                                // "explicit", "dependency of Z"
  double dlopen_ms = 0;         // dlopen + symbol + ABI checks
  double start_ms = 0;          // activator Start
  uint64_t activation_seq = 0;  // 1-based order of activation, 0 if never active
};

struct ContainerOptions {
  std::string app_dir;         // folder holding app.json (read-only)
  std::string data_dir;        // mutable state; empty = DefaultDataDir(app id)
  bool rebuild_index = false;  // force rebuilding the bundle index
  // The launch guard (docs/launch_guard.md): this Open is a launch. Before
  // any bundle code runs it records the launch, reads the crash the last
  // process left, decides the recovery level and acts on the stores; it
  // installs the crash handlers and the main-loop watchdog. Off for tools
  // that open an app to inspect it; a host's launch path turns it on
  // (`atrium run` does).
  bool launch_guard = false;
  // Called on the watchdog thread after it recorded a hang; empty: the
  // process ends with exit status 70.
  std::function<void()> on_hang{};
  // Open without launching (the CLI's bundles, artifacts, config show,
  // launches, crashes, install, rollback): updates staged for the next
  // launch stay staged, so looking at or installing into an app does not
  // start what is meant for its next launch. Only a launch promotes.
  bool inspect = false;
};

// What the launch guard decided and did at this Open.
struct LaunchGuardReport {
  LaunchDecision decision;
  std::vector<std::string> actions;  // "disabled native:com.wallet.bill@1.1.1 (blamed)"
  int64_t launch_id = 0;             // 0 when the history could not be written
};

class ATRIUM_EXPORT Container {
 public:
  static Result<std::unique_ptr<Container>> Open(ContainerOptions options);
  // $ATRIUM_DATA_HOME/<app_id>, else $XDG_STATE_HOME/atrium/<app_id>,
  // else $HOME/.local/state/atrium/<app_id>.
  static std::string DefaultDataDir(std::string_view app_id);

  virtual ~Container() = default;

  virtual const AppDescriptor& app() const = 0;
  virtual const std::string& data_dir() const = 0;
  virtual const std::string& app_dir() const = 0;
  virtual ServiceRegistry& services() = 0;
  virtual MicroAppRouter& router() = 0;

  // The app's scheduler (main loop and pools), configured from app.json
  // "startup". Created by Open; threads start on demand. The host runs the
  // main loop and reads figures through it; governance stays here.
  virtual HostScheduler& scheduler() = 0;

  // An executor of the app's scheduler for the host or a layer above the
  // container (a dynamic layer's server, its background work): `target` is
  // "main" or a pool name; tasks are accounted to `account` ("h5"; "" is
  // the host). kNotFound for an unknown pool.
  virtual Result<std::shared_ptr<Executor>> executor(std::string_view target,
                                                     std::string_view account = "") = 0;

  // The host APIs (atrium/host_api.h) H5 pages and HCF logic call, with the
  // grants of app.json "host_apis". Made on first use.
  virtual HostApis& host_apis() = 0;

  // The launch guard's decision and actions (nullptr when it is off).
  virtual const LaunchGuardReport* launch_guard() const = 0;

  // The launch, run on the calling thread, which becomes the main thread:
  // builds the startup pipeline from every resolved bundle's startup tasks
  // (eager bundles get an implicit "@load" task in the first stage), runs
  // the main loop until the idle stage begins (every required task done),
  // and returns the result so far: ok, or the required task that failed. A
  // graph that does not validate fails before anything runs. Bundles load
  // just before their first task runs. Idle-stage tasks go on: the host
  // keeps running the main loop (scheduler().RunMainLoop*) for those that
  // run on "main"; pipeline()->finished() tells when all are done.
  virtual Status Start() = 0;
  // The pipeline of the last Start (nullptr before).
  virtual StartupPipeline* pipeline() = 0;
  // Loads a bundle and its dependencies (no-op when active).
  virtual Status Load(std::string_view bundle) = 0;
  // Stops a bundle and, first, every active bundle depending on it.
  virtual Status Stop(std::string_view bundle) = 0;
  // Stops every active bundle in reverse activation order, after loads and
  // stops other threads began; from its start nothing loads again.
  virtual void Shutdown() = 0;

  virtual std::vector<BundleStatus> Bundles() const = 0;
  virtual Result<BundleStatus> Bundle(std::string_view name) const = 0;
  // Manifest of an indexed bundle.
  virtual Result<Manifest> BundleManifest(std::string_view name) const = 0;

  // Copies an unsigned bundle directory into the data dir and rebuilds the
  // index (development installs; releases go through InstallPackage). Takes
  // effect for bundles not yet loaded; an active bundle keeps its version
  // until the next Open.
  virtual Status Install(const std::string& bundle_dir) = 0;

  // The app's artifact store (state.db): baseline packages, updates and why
  // each is in its state. Read-only here: changes go through the container
  // (InstallPackage, SwapLive, RollbackUpdate) or the dynamic layers.
  virtual const ArtifactStore& artifacts() const = 0;
  // Rolls the active update of native bundle `bundle` back (to its previous
  // version, else the baseline) from the next launch. Returns the version
  // in use then (nullopt: the baseline).
  virtual Result<std::optional<ArtifactRecord>> RollbackUpdate(std::string_view bundle,
                                                               std::string_view reason) = 0;
  // Verifies (signature by a key app.json pins, every entry's hash) and
  // installs a package. A package of another kind than native_bundle goes
  // to the dynamic layer registered for its kind (kNotFound when none is),
  // which stages or activates it by its own rules. A native bundle: kStaged (the default for
  // updates): active from the next Open. kActive: the index is rebuilt now, so a bundle not yet
  // loaded loads the new version; a loaded one keeps running its version until the next Open (or
  // SwapLive). A native bundle that would leave bundles unresolved that
  // resolve now (an incompatible major version their ranges exclude, or a
  // candidate whose own dependencies are missing) is refused with
  // kValidation naming each and why, unless `force` (for testing).
  virtual Result<ArtifactRecord> InstallPackage(const std::string& package_path,
                                                InstallAs as = InstallAs::kStaged,
                                                bool force = false) = 0;
  // Disables exactly `kind`:`id`@`version` through the dynamic layer
  // registered for `kind` (DynamicLayer::Disable: at the layer's safe
  // point), recording `reason` — how a withdrawn release leaves a device.
  // kNotFound when no layer has that kind or that version is not in use.
  virtual Status DisableArtifact(std::string_view kind, std::string_view id,
                                 std::string_view version, std::string_view reason) = 0;
  // Makes `kind`:`id`@`version`, disabled earlier, the version in use again
  // through its layer (DynamicLayer::Reenable), recording `reason`: an
  // operator undoing a rollback or a guard decision. kState when it is not
  // disabled or a newer version is in use; kNotFound when it is not held or
  // no layer has that kind.
  virtual Status EnableArtifact(std::string_view kind, std::string_view id,
                                std::string_view version, std::string_view reason) = 0;
  // A line in a held version's history (ArtifactStore::AddNote): where an
  // update came from.
  virtual Status NoteArtifact(std::string_view kind, std::string_view id, std::string_view version,
                              std::string_view note) = 0;
  // Live swap of a running native bundle whose new manifest says
  // "live_swap": true. Installs the package as active, exports the running
  // version's state, loads and starts the new version (it takes the state),
  // switches every service of the bundle to the new version's registrations
  // at once, then stops the old version. Calls in flight finish on the
  // version they started on (their handles keep it mapped); ServiceRef
  // handles reach the new version on their next call; raw handles from
  // GetService keep the old object until released. When the new version
  // fails to load or start, the old one keeps running untouched, the
  // package is recorded failed with the reason, and the error is returned.
  // A bundle that is not loaded simply gets the new version at its next load.
  virtual Result<ArtifactRecord> SwapLive(const std::string& package_path) = 0;
  virtual Status Uninstall(std::string_view bundle) = 0;

  // Called after a bundle stopped (its Stop returned, its services are gone),
  // also when a live swap retires the old version, with the bundle's name.
  // Runs on the stopping thread with the lifecycle lock held: it must not
  // call back into the container. Returns the listener's id.
  virtual uint64_t AddBundleStopListener(std::function<void(std::string_view bundle)> fn) = 0;
  virtual void RemoveBundleStopListener(uint64_t id) = 0;

  // The private store of a bundle (also reachable from its BundleContext).
  virtual Result<PrivateStore*> PrivateStoreOf(std::string_view bundle) = 0;
};

}  // namespace atrium

#endif  // ATRIUM_CONTAINER_H_
