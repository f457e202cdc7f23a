// ContainerImpl and what it is made of: the private declarations the
// container's rooms share. Each room defines its part:
//   container_impl.cc   the facade's wiring: Open, app.json, the artifact
//                       store, the dynamic layers, the guard, the scheduler
//   bundle_sources.cc   where bundles come from: the index (baseline folders
//                       and packages, store updates, development installs),
//                       installs and uninstalls
//   bundle_lifecycle.cc the C-boundary contract (dlopen, the entry, ABI
//                       checks, start/stop) and the lifecycle state machine
//   live_swap.cc        replacing a running bundle
//   launch_runner.cc    the launch: the startup pipeline <-> container seam
//   router.cc           micro-app resolution and the router
//   bundle_context.cc   what a bundle sees (context, executors, storage)
//
// Concurrency contract (see also atrium/container.h):
//  1. lifecycle_mu_ (recursive, LifecycleMutex) guards the index, the
//     runtimes and the lifecycle states; loading, stopping, install and
//     index swaps take it. No bundle code runs under it: a bundle's Start
//     and Stop run with it released (LifecycleUnlocked) while the bundle is
//     kLoading / kStopping, owned by the thread doing it (busy_thread).
//     Another thread that needs such a bundle waits for it (Wait, woken at
//     every change of state), unless waiting would close a cycle of threads
//     waiting for each other's bundles: that is an error (WaitForLocked).
//     Views into index_ (BundleView) do not survive a call that may release
//     the lock (a load, a stop): copy what is needed first.
//  2. Service lookups of active services never take lifecycle_mu_.
//  3. stores_mu_ guards the private store map; the router's mu_ its
//     launchers and launch filters.
#ifndef ATRIUM_CONTAINER_CONTAINER_IMPL_H_
#define ATRIUM_CONTAINER_CONTAINER_IMPL_H_

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "atrium/app_url.h"
#include "atrium/base/log.h"
#include "atrium/bundle.h"
#include "atrium/container.h"
#include "atrium/container/native_host.h"
#include "atrium/container_extension.h"
#include "atrium/container_layer.h"
#include "atrium/crash_capture.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/guard/guarded_launch.h"
#include "atrium/guard/launch_policy.h"
#include "atrium/thread_activity.h"
#include "atrium/trace.h"
#include "bundle_index.h"
#include "host_apis.h"
#include "lifecycle_mutex.h"
#include "service_registry_core.h"

namespace atrium::internal {

using SteadyClock = std::chrono::steady_clock;

inline double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// A dlopen'ed bundle library; dlclose when the last holder lets go (the
// runtime while active, and every service object the bundle registered).
struct LoadedLibrary {
  void* handle = nullptr;
  std::string path;
  ~LoadedLibrary() {
    if (handle != nullptr) dlclose(handle);
  }
};

class ContainerImpl;

class BundleContextImpl final : public BundleContext,
                                public std::enable_shared_from_this<BundleContextImpl> {
 public:
  BundleContextImpl(ContainerImpl* container, ServiceRegistryCore* core, uint64_t owner,
                    std::string name, std::string version, std::string dir,
                    std::shared_ptr<void> library)
      : container_(container),
        name_(std::move(name)),
        version_(std::move(version)),
        dir_(std::move(dir)),
        library_(library),
        view_(core, owner, name_, std::move(library)) {}

  std::string_view bundle_name() const override { return name_; }
  std::string_view bundle_version() const override { return version_; }
  std::string_view bundle_dir() const override { return dir_; }
  ServiceRegistry& services() override { return view_; }
  Result<PrivateStore*> storage() override;
  void Log(LogLevel level, std::string_view message) override {
    internal::Log(level, name_, message);
  }
  Status RegisterStartupTask(std::string_view id, std::function<Status()> run) override;
  // The startup task ids bundle.json declares (before Start runs).
  void SetDeclaredStartupTasks(std::vector<std::string> ids) { declared_tasks_ = std::move(ids); }
  Result<std::shared_ptr<Executor>> executor(std::string_view target) override;
  void SetStateExporter(std::function<std::string()> exporter) override {
    std::lock_guard lock(mu_);
    exporter_ = std::move(exporter);
  }
  std::optional<std::string> TakeHandedOverState() override {
    std::lock_guard lock(mu_);
    return std::exchange(handed_over_, std::nullopt);
  }
  // The running version's state for its successor ("" when it exports none).
  std::string ExportState() {
    std::function<std::string()> exporter;
    {
      std::lock_guard lock(mu_);
      exporter = exporter_;
    }
    return exporter ? exporter() : std::string();
  }
  void SetHandedOverState(std::string state) {
    std::lock_guard lock(mu_);
    handed_over_ = std::move(state);
  }

  // The handler registered for startup task `id` (empty when none).
  std::function<Status()> StartupHandler(std::string_view id) {
    std::lock_guard lock(mu_);
    auto it = startup_handlers_.find(id);
    return it == startup_handlers_.end() ? nullptr : it->second;
  }
  const std::shared_ptr<void>& library() const { return library_; }

 private:
  ContainerImpl* const container_;
  const std::string name_, version_, dir_;
  const std::shared_ptr<void> library_;
  RegistryView view_;
  std::mutex mu_;
  std::map<std::string, std::function<Status()>, std::less<>> startup_handlers_;  // guarded by mu_
  std::vector<std::string> declared_tasks_;  // set before Start, then read-only
  std::function<std::string()> exporter_;    // guarded by mu_
  std::optional<std::string> handed_over_;   // guarded by mu_
};

// A bundle's executor: tasks are accounted to the bundle and each keeps the
// bundle's library mapped and its context alive until it has been destroyed
// (run or dropped), so stopping a bundle never pulls code or its context
// from under a task.
class BundleExecutor final : public Executor {
 public:
  BundleExecutor(std::shared_ptr<Executor> inner, std::shared_ptr<void> keepalive)
      : inner_(std::move(inner)), keepalive_(std::move(keepalive)) {}
  std::string_view target() const override { return inner_->target(); }
  Status Post(Task task, TaskTraits traits) override {
    return inner_->Post(Wrap(std::move(task)), traits);
  }
  Status PostDelayed(Task task, std::chrono::milliseconds delay, TaskTraits traits) override {
    return inner_->PostDelayed(Wrap(std::move(task)), delay, traits);
  }
  Status PostOrdered(std::string_view key, Task task, TaskTraits traits) override {
    return inner_->PostOrdered(key, Wrap(std::move(task)), traits);
  }
  Status PostIdle(Task task) override { return inner_->PostIdle(Wrap(std::move(task))); }

 private:
  // Members are destroyed in reverse order: the task (code of the bundle)
  // before the keep-alive reference.
  struct Pinned {
    std::shared_ptr<void> keepalive;
    Task task;
    ~Pinned() { task = nullptr; }
  };
  Task Wrap(Task task) {
    auto pinned = std::make_shared<Pinned>();
    pinned->keepalive = keepalive_;
    pinned->task = std::move(task);
    return [pinned] { pinned->task(); };
  }

  const std::shared_ptr<Executor> inner_;
  const std::shared_ptr<void> keepalive_;
};

struct BundleRuntime {
  std::string name;  // copies: the index image may be replaced by Install
  std::string version;
  std::string dir;
  BundleState state = BundleState::kResolved;
  Error error;  // when failed
  std::string loaded_by;
  double dlopen_ms = 0, start_ms = 0;
  uint64_t activation_seq = 0;
  uint64_t owner = 0;  // registry owner id of the current activation
  // The thread loading (kLoading) or stopping (kStopping) it.
  std::thread::id busy_thread;
  std::shared_ptr<LoadedLibrary> library;
  const AtriumBundleEntry* entry = nullptr;
  // Shared: each task of the bundle (executor or startup task) holds it and
  // the library, so a task still running when the bundle stops finds both.
  std::shared_ptr<BundleContextImpl> context;
};

class NativeLauncher final : public MicroAppLauncher {
 public:
  explicit NativeLauncher(ServiceRegistryCore* core) : core_(core) {}
  Status Launch(const LaunchRequest& request) override {
    for (auto& e : core_->GetAll(MicroApp::kInterfaceId)) {
      auto it = e.info.properties.find("entry");
      if (e.info.bundle == request.bundle && it != e.info.properties.end() &&
          it->second == request.entry) {
        auto app = std::static_pointer_cast<MicroApp>(e.service);
        return app->Open(request);
      }
    }
    Error err = MakeError(ErrorCode::kNotFound,
                          "bundle " + request.bundle + " declares native micro-app '" +
                              request.app_id + "' with entry '" + request.entry +
                              "' but registered no MicroApp for that entry");
    err.bundle = request.bundle;
    return err;
  }

 private:
  ServiceRegistryCore* const core_;
};

class RouterImpl final : public MicroAppRouter {
 public:
  explicit RouterImpl(ContainerImpl* container) : container_(container) {}
  Status RegisterLauncher(std::string_view type,
                          std::shared_ptr<MicroAppLauncher> launcher) override {
    if (type.empty() || !launcher) {
      return MakeError(ErrorCode::kInvalidArgument, "launcher needs a type and an object");
    }
    std::lock_guard lock(mu_);
    auto [it, inserted] = launchers_.emplace(std::string(type), std::move(launcher));
    if (!inserted) {
      return MakeError(
          ErrorCode::kAlreadyExists,
          "a launcher for micro-app type '" + std::string(type) + "' is already registered");
    }
    return Status::Ok();
  }
  Status UnregisterLauncher(std::string_view type) override {
    std::lock_guard lock(mu_);
    auto it = launchers_.find(type);
    if (it == launchers_.end()) {
      return MakeError(ErrorCode::kNotFound,
                       "no launcher for micro-app type '" + std::string(type) + "'");
    }
    launchers_.erase(it);
    return Status::Ok();
  }
  Status Launch(std::string_view app_id, LaunchParams params) override {
    return Launch(app_id, std::move(params), "");
  }
  Status Launch(std::string_view app_id, LaunchParams params, std::string path);
  // Launch without telling the container the outcome.
  Status Open(std::string_view app_id, LaunchParams params, std::string path);
  Status OpenUrl(std::string_view url) override {
    auto parsed = ParseAppUrl(url);
    if (!parsed.ok()) return parsed.error();
    return Launch(parsed->app_id, std::move(parsed->params), std::move(parsed->path));
  }
  uint64_t AddMicroAppSource(std::shared_ptr<MicroAppSource> source) override {
    std::lock_guard lock(mu_);
    sources_.emplace_back(++next_source_, std::move(source));
    return next_source_;
  }
  void RemoveMicroAppSource(uint64_t id) override {
    std::lock_guard lock(mu_);
    std::erase_if(sources_, [&](const auto& s) { return s.first == id; });
  }
  std::vector<DeclaredMicroApp> SourcedMicroApps() override;
  uint64_t AddLaunchFilter(LaunchFilter filter) override {
    std::lock_guard lock(mu_);
    filters_.emplace_back(++next_filter_, std::make_shared<LaunchFilter>(std::move(filter)));
    return next_filter_;
  }
  void RemoveLaunchFilter(uint64_t id) override {
    std::lock_guard lock(mu_);
    std::erase_if(filters_, [&](const auto& f) { return f.first == id; });
  }

 private:
  ContainerImpl* const container_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MicroAppLauncher>, std::less<>>
      launchers_;                                                              // guarded by mu_
  std::vector<std::pair<uint64_t, std::shared_ptr<LaunchFilter>>> filters_;    // guarded by mu_
  uint64_t next_filter_ = 0;                                                   // guarded by mu_
  std::vector<std::pair<uint64_t, std::shared_ptr<MicroAppSource>>> sources_;  // guarded by mu_
  uint64_t next_source_ = 0;                                                   // guarded by mu_
  // The sources, copied out of mu_ (a source runs with no router lock held).
  std::vector<std::shared_ptr<MicroAppSource>> Sources() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<MicroAppSource>> out;
    for (const auto& s : sources_) out.push_back(s.second);
    return out;
  }
};

class ContainerImpl final : public Container, public NativeBundleHost {
 public:
  ContainerImpl() : host_view_(&registry_, 0, ""), router_(this) {}
  ~ContainerImpl() override {
    DetachLayers();
    Shutdown();
    // Pipeline tasks still queued are dropped (the pipeline records them as
    // failed) before the pipeline, which waits for its tasks, goes away.
    if (scheduler_ != nullptr) scheduler_->Shutdown();
    pipeline_.reset();
    // A clean close: a launch that reached idle is good (docs/launch_guard.md).
    if (guard_ != nullptr) guard_->Close();
    if (!scratch_dir_.empty()) {
      store_.reset();
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir_, ec);
    }
    if (log_file_ != nullptr) RemoveLogFile(log_file_.get());  // last: Shutdown logs
  }

  Status Init(ContainerOptions options);

  const AppDescriptor& app() const override {
    // The fast open path leaves the baseline list in the index until asked;
    // app_ does not change after that.
    std::lock_guard lock(lifecycle_mu_);
    if (!baseline_loaded_) {
      if (auto dirs = index_->baseline(); dirs.ok()) app_.baseline = std::move(dirs).value();
      baseline_loaded_ = true;
    }
    return app_;
  }
  const std::string& data_dir() const override { return data_dir_; }
  const std::string& app_dir() const override { return app_dir_; }
  ServiceRegistry& services() override { return host_view_; }
  MicroAppRouter& router() override { return router_; }

  HostScheduler& scheduler() override { return *scheduler_; }
  Result<std::shared_ptr<Executor>> executor(std::string_view target,
                                             std::string_view account) override {
    return scheduler_->GetExecutor(target, account);
  }
  HostApis& host_apis() override;
  Status Start() override;
  StartupPipeline* pipeline() override {
    std::lock_guard lock(pipeline_mu_);
    return pipeline_.get();
  }
  Status Load(std::string_view bundle) override {
    std::lock_guard lock(lifecycle_mu_);
    auto idx = index_->FindBundle(bundle);
    if (!idx) return NotInstalled(bundle);
    return LoadWithFallbackLocked(*idx, "explicit");
  }
  Status Stop(std::string_view bundle) override;
  void Shutdown() override;
  std::vector<BundleStatus> Bundles() const override;
  Result<BundleStatus> Bundle(std::string_view name) const override;
  Result<Manifest> BundleManifest(std::string_view name) const override;
  Status Install(const std::string& bundle_dir) override;
  const ArtifactStore& artifacts() const override { return *store_; }
  Result<std::optional<ArtifactRecord>> RollbackUpdate(std::string_view bundle,
                                                       std::string_view reason) override {
    NativeUpdates* native = native_updates_.load();
    if (native == nullptr) return NoNativeLayer();
    return native->Rollback(bundle, reason);
  }
  // NativeBundleHost.
  Status ReindexBundles(const std::string& why) override {
    std::lock_guard lock(lifecycle_mu_);
    return RebuildIndexLocked(why);
  }
  Result<ArtifactRecord> SwapRunning(
      const std::string& bundle, const std::string& version,
      const std::function<Result<ArtifactRecord>()>& install,
      const std::function<void(const std::string& reason)>& failed) override;
  void SetNativeUpdates(NativeUpdates* updates) override { native_updates_.store(updates); }
  const LaunchGuardReport* launch_guard() const override {
    return guard_ != nullptr ? &guard_report_ : nullptr;
  }
  Result<ArtifactRecord> InstallPackage(const std::string& package_path, InstallAs as,
                                        bool force) override;
  // The bundles resolved now that `candidate` would leave unresolved, each
  // with the reason ("com.x: requires com.y ^1.2.0, but ...").
  std::vector<std::string> BrokenBy(const Manifest& candidate);
  Status DisableArtifact(std::string_view kind, std::string_view id, std::string_view version,
                         std::string_view reason) override;
  Status EnableArtifact(std::string_view kind, std::string_view id, std::string_view version,
                        std::string_view reason) override;
  Status NoteArtifact(std::string_view kind, std::string_view id, std::string_view version,
                      std::string_view note) override;
  Result<ArtifactRecord> SwapLive(const std::string& package_path) override;
  Status Uninstall(std::string_view bundle) override;
  Result<PrivateStore*> PrivateStoreOf(std::string_view bundle) override;
  uint64_t AddBundleStopListener(std::function<void(std::string_view)> fn) override {
    std::lock_guard lock(lifecycle_mu_);
    stop_listeners_.emplace_back(++next_stop_listener_, std::move(fn));
    return next_stop_listener_;
  }
  void RemoveBundleStopListener(uint64_t id) override {
    std::lock_guard lock(lifecycle_mu_);
    std::erase_if(stop_listeners_, [&](const auto& l) { return l.first == id; });
  }
  // After a successful Init: hands the container to the layers that ask.
  void AttachLayers();
  // Before anything stops: the layers let go of the container.
  void DetachLayers();

  // Loads the bundle named `bundle` in the current index (dependencies
  // first).
  Status LoadNamed(std::string_view bundle, const std::string& why) {
    std::lock_guard lock(lifecycle_mu_);
    auto idx = index_->FindBundle(bundle);
    if (!idx) return NotInstalled(bundle);
    return LoadWithFallbackLocked(*idx, why);
  }
  // Snapshot of what the router needs about a micro-app.
  Result<LaunchRequest> ResolveApp(std::string_view app_id);
  // The router opened (or failed to open) micro-app `app_id`: a home that
  // did not open fails the guarded launch.
  void OnMicroAppOpened(std::string_view app_id, const Status& result);
  // Work the guard's watchdog watches while it runs (a micro-app open on
  // the calling thread): BeginWatched's id (0 without a guard) goes to
  // EndWatched.
  uint64_t BeginWatched(std::string what);
  void EndWatched(uint64_t id);
  std::optional<WatchedWork> OldestWatched();

  Result<std::shared_ptr<Executor>> ExecutorFor(std::string_view target, const std::string& bundle,
                                                std::shared_ptr<void> library) {
    auto inner = scheduler_->GetExecutor(target, bundle);
    if (!inner.ok()) return inner.error();
    return std::shared_ptr<Executor>(
        std::make_shared<BundleExecutor>(std::move(inner).value(), std::move(library)));
  }

 private:
  Status LoadLocked(uint32_t idx, const std::string& why);
  Status StopLocked(uint32_t idx);
  Status LoadProvider(std::string_view interface_id);
  std::shared_ptr<BundleRuntime> RuntimeLocked(uint32_t idx);
  // Waits until `rt`, loading or stopping on another thread, is neither;
  // kState instead when that thread waits (directly or through others) for
  // a bundle this thread is loading or stopping.
  Status WaitForLocked(const std::shared_ptr<BundleRuntime>& rt, const std::string& why);
  // Until no other thread is loading or stopping a bundle.
  void WaitForOthersLocked();
  // `rt` became active: recorded in active_ (or kept detached when its
  // version left the index meanwhile); waiters wake.
  void MarkActiveLocked(const std::shared_ptr<BundleRuntime>& rt);
  // `rt`, stopping and owned by this thread: its Stop, the removal of its
  // services and tasks, then unloaded (waiters wake, stop listeners run) and
  // its library released, all bundle code without the lock. Stop's error.
  Status StopAndUnloadLocked(const std::shared_ptr<BundleRuntime>& rt);
  // The position of `rt` in runtimes_, if it is there.
  std::optional<uint32_t> SlotOfLocked(const BundleRuntime* rt) const;
  BundleStatus StatusLocked(uint32_t idx) const;
  Status RebuildIndexLocked(const std::string& why);
  uint64_t Fingerprint() const;
  Status CreateScheduler();
  Status OpenArtifactStore();
  // The launch guard's start (options_.launch_guard): after the store opened,
  // before the index is read and any bundle code runs.
  void CreateLayers();
  void BeginGuardedLaunch(std::string store_trouble);
  Status TrustReleaseKeys();
  // LoadLocked, and when an updated bundle (an active artifact) fails to
  // load or start: mark it failed, bring the previous version back, load
  // that instead.
  Status LoadWithFallbackLocked(uint32_t idx, const std::string& why);
  Result<std::vector<StartupTaskSpec>> StartupTasks();
  // Tells the guard what resolved at this launch and what did not (with the
  // bundles each unresolved one requires).
  void ReportResolution();
  // `bundle` and the bundles its manifest requires (names).
  std::vector<std::string> BundleAndRequirements(std::string_view bundle);
  // Bundle isolation for the launch: the app's critical list and who
  // requires whom (startup_pipeline.h).
  StartupFailurePolicy FailurePolicy();
  // Startup task ids per bundle directory (one version), from the manifests
  // StartupTasks read: a bundle loaded by the launch gets them without
  // reading bundle.json again; a fallback version reads its own. Guarded by
  // lifecycle_mu_.
  std::map<std::string, std::vector<std::string>, std::less<>> declared_tasks_;
  Status RunStartupTask(const StartupTaskSpec& task);
  static Error NoNativeLayer() {
    return MakeError(ErrorCode::kNotFound,
                     "native bundle updates need the native_bundle dynamic layer, which is not in "
                     "this build");
  }
  static Error NotInstalled(std::string_view bundle) {
    Error e = MakeError(ErrorCode::kNotFound,
                        "no bundle named '" + std::string(bundle) + "' is installed");
    e.bundle = std::string(bundle);
    return e;
  }

  ServiceRegistryCore registry_;
  RegistryView host_view_;
  RouterImpl router_;
  std::string app_dir_;
  std::string data_dir_;
  std::string app_json_;
  // app_json_ parsed once per Open, without validation (QuickAppJson): the
  // sections layers own and the guard's settings read from it.
  std::optional<boost::json::value> app_doc_;
  const boost::json::value& AppDoc();
  mutable AppDescriptor app_;            // baseline filled lazily, see app()
  uint64_t app_json_mtime_ns_ = 0;       // of the app.json Open read (Fingerprint)
  mutable bool baseline_loaded_ = true;  // false after the fast open path; guarded by lifecycle_mu_

  mutable LifecycleMutex lifecycle_mu_;
  // What each thread waiting in WaitForLocked waits for; guarded by
  // lifecycle_mu_.
  std::map<std::thread::id, std::shared_ptr<BundleRuntime>> waiting_;
  bool shutting_down_ = false;                            // guarded by lifecycle_mu_: refuses loads
  std::unique_ptr<BundleIndex> index_;                    // guarded by lifecycle_mu_
  std::vector<std::shared_ptr<BundleRuntime>> runtimes_;  // parallel to index_; guarded
  std::vector<std::shared_ptr<BundleRuntime>> detached_;  // uninstalled while active; guarded
  std::vector<uint32_t> active_;  // active bundles, activation order; guarded by lifecycle_mu_
  uint64_t next_owner_ = 1;       // guarded by lifecycle_mu_
  uint64_t next_activation_ = 1;  // guarded by lifecycle_mu_

  std::mutex watched_mu_;
  std::map<uint64_t, WatchedWork> watched_;  // guarded by watched_mu_, by BeginWatched id
  uint64_t next_watched_ = 0;                // guarded by watched_mu_

  std::mutex stores_mu_;
  std::map<std::string, std::unique_ptr<PrivateStore>, std::less<>>
      stores_;  // guarded by stores_mu_

  std::unique_ptr<ArtifactStore> store_;
  bool guard_enabled_ = false;
  bool inspect_ = false;     // ContainerOptions::inspect: staged updates stay staged
  std::string scratch_dir_;  // the safe mode's scratch artifact store, removed at close
  // <data-dir>/logs/atrium.log while a launch (not an inspection) is open.
  std::shared_ptr<LogFile> log_file_;
  std::function<void()> on_hang_;
  // Every registered dynamic layer, instantiated at Open (before the guard,
  // which acts on them, and destroyed after it).
  std::vector<std::unique_ptr<DynamicLayer>> layers_;
  std::unique_ptr<GuardedLaunch> guard_;  // set by Init when the guard is on
  LaunchGuardReport guard_report_;
  // State exported by a version being swapped out, for its successor's
  // context; guarded by lifecycle_mu_.
  std::map<std::string, std::string, std::less<>> handover_;
  // Bundle-stop listeners; guarded by lifecycle_mu_.
  std::vector<std::pair<uint64_t, std::function<void(std::string_view)>>> stop_listeners_;
  uint64_t next_stop_listener_ = 0;                              // guarded by lifecycle_mu_
  std::vector<std::unique_ptr<ContainerExtension>> extensions_;  // attached at Open
  std::vector<ContainerLayer*> attached_;                // layers attached to this container
  std::atomic<NativeUpdates*> native_updates_{nullptr};  // the native layer's half
  void NotifyStoppedLocked(const std::string& bundle) {
    for (const auto& l : stop_listeners_) l.second(bundle);
  }
  std::once_flag host_apis_once_;
  std::unique_ptr<HostApisImpl> host_apis_;  // made by the first host_apis()
  // Declared last: destroyed first, after Shutdown stopped every bundle.
  std::unique_ptr<Scheduler> scheduler_;
  std::mutex pipeline_mu_;
  std::unique_ptr<StartupPipeline> pipeline_;  // guarded by pipeline_mu_ (the pointer)
};

// The app.json document without validating it (the descriptor is validated
// when the index is built); null when it is not a JSON object.
boost::json::value QuickAppJson(const std::string& json);
// A top-level string member of QuickAppJson's result, "" when absent.
std::string QuickString(const boost::json::value& doc, const char* key);
// The app id from app.json without validating the rest (to find the default
// data dir before the index, which holds the validated descriptor, is read).
std::string QuickAppId(const std::string& json);

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_CONTAINER_IMPL_H_
