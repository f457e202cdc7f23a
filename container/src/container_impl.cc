// The Container implementation: bundle index, on-demand loader and
// lifecycle, micro-app router and per-bundle private stores.
//
// Concurrency contract (see also atrium/container.h):
//  1. lifecycle_mu_ (recursive) serializes loading, stopping, install and
//     index swaps. It is recursive because a bundle's Start runs under it
//     and may look up a lazy service, which loads another bundle.
//  2. Service lookups of active services never take lifecycle_mu_.
//  3. stores_mu_ guards the private store map; launchers_mu_ the launchers.
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
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "atrium/app_url.h"
#include "atrium/base/log.h"
#include "atrium/bundle.h"
#include "atrium/container.h"
#include "atrium/container/native_host.h"
#include "atrium/container_layer.h"
#include "atrium/crash_capture.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/guard/guarded_launch.h"
#include "atrium/guard/launch_policy.h"
#include "atrium/thread_activity.h"
#include "atrium/trace.h"
#include "bundle_index.h"
#include "service_registry_core.h"

namespace fs = std::filesystem;

namespace atrium {

const char* BundleStateName(BundleState state) {
  switch (state) {
    case BundleState::kInstalled:
      return "installed";
    case BundleState::kResolved:
      return "resolved";
    case BundleState::kUnresolved:
      return "unresolved";
    case BundleState::kLoading:
      return "loading";
    case BundleState::kActive:
      return "active";
    case BundleState::kStopping:
      return "stopping";
    case BundleState::kUnloaded:
      return "unloaded";
    case BundleState::kFailed:
      return "failed";
  }
  return "?";
}

std::string Container::DefaultDataDir(std::string_view app_id) {
  if (const char* d = std::getenv("ATRIUM_DATA_HOME"); d && *d) {
    return (fs::path(d) / std::string(app_id)).string();
  }
  if (const char* d = std::getenv("XDG_STATE_HOME"); d && *d) {
    return (fs::path(d) / "atrium" / std::string(app_id)).string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".local/state/atrium" / std::string(app_id))
      .string();
}

namespace internal {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
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
  std::function<std::string()> exporter_;                                         // guarded by mu_
  std::optional<std::string> handed_over_;                                        // guarded by mu_
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
  Status Launch(std::string_view app_id, LaunchParams params) override;
  Status OpenUrl(std::string_view url) override {
    auto parsed = ParseAppUrl(url);
    if (!parsed.ok()) return parsed.error();
    return Launch(parsed->app_id, std::move(parsed->params));
  }
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
      launchers_;                                                            // guarded by mu_
  std::vector<std::pair<uint64_t, std::shared_ptr<LaunchFilter>>> filters_;  // guarded by mu_
  uint64_t next_filter_ = 0;                                                 // guarded by mu_
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
      fs::remove_all(scratch_dir_, ec);
    }
  }

  Status Init(ContainerOptions options);

  const AppDescriptor& app() const override {
    // The fast open path leaves the baseline list in the index until asked;
    // app_ does not change after that.
    std::lock_guard lock(lifecycle_mu_);
    if (!baseline_loaded_) {
      if (auto full = index_->app(true); full.ok()) app_.baseline = std::move(full->baseline);
      baseline_loaded_ = true;
    }
    return app_;
  }
  const std::string& data_dir() const override { return data_dir_; }
  ServiceRegistry& services() override { return host_view_; }
  MicroAppRouter& router() override { return router_; }

  HostScheduler& scheduler() override { return *scheduler_; }
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
  Result<ArtifactRecord> InstallPackage(const std::string& package_path, InstallAs as) override;
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

  // Loads bundle `idx` of the current index (dependencies first).
  Status LoadIndexed(uint32_t idx, const std::string& why) {
    std::lock_guard lock(lifecycle_mu_);
    return LoadWithFallbackLocked(idx, why);
  }
  // Snapshot of what the router needs about a micro-app.
  Result<LaunchRequest> ResolveApp(std::string_view app_id, uint32_t* idx);

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
  BundleRuntime& RuntimeLocked(uint32_t idx);
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
  mutable AppDescriptor app_;            // baseline filled lazily, see app()
  mutable bool baseline_loaded_ = true;  // false after the fast open path; guarded by lifecycle_mu_

  mutable std::recursive_mutex lifecycle_mu_;
  std::unique_ptr<BundleIndex> index_;                    // guarded by lifecycle_mu_
  std::vector<std::unique_ptr<BundleRuntime>> runtimes_;  // parallel to index_; guarded
  std::vector<std::unique_ptr<BundleRuntime>> detached_;  // uninstalled while active; guarded
  std::vector<uint32_t> active_;  // active bundles, activation order; guarded by lifecycle_mu_
  uint64_t next_owner_ = 1;       // guarded by lifecycle_mu_
  uint64_t next_activation_ = 1;  // guarded by lifecycle_mu_

  std::mutex stores_mu_;
  std::map<std::string, std::unique_ptr<PrivateStore>, std::less<>>
      stores_;  // guarded by stores_mu_

  std::unique_ptr<ArtifactStore> store_;
  bool guard_enabled_ = false;
  std::string scratch_dir_;  // the safe mode's scratch artifact store, removed at close
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
  uint64_t next_stop_listener_ = 0;                      // guarded by lifecycle_mu_
  std::vector<ContainerLayer*> attached_;                // layers attached to this container
  std::atomic<NativeUpdates*> native_updates_{nullptr};  // the native layer's half
  void NotifyStoppedLocked(const std::string& bundle) {
    for (const auto& l : stop_listeners_) l.second(bundle);
  }
  // Declared last: destroyed first, after Shutdown stopped every bundle.
  std::unique_ptr<Scheduler> scheduler_;
  std::mutex pipeline_mu_;
  std::unique_ptr<StartupPipeline> pipeline_;  // guarded by pipeline_mu_ (the pointer)
};

Status BundleContextImpl::RegisterStartupTask(std::string_view id, std::function<Status()> run) {
  if (!run) return MakeError(ErrorCode::kInvalidArgument, "empty startup task handler");
  std::lock_guard lock(mu_);
  if (!startup_handlers_.emplace(std::string(id), std::move(run)).second) {
    Error e = MakeError(ErrorCode::kAlreadyExists,
                        "startup task '" + std::string(id) + "' already has a handler");
    e.bundle = name_;
    return e;
  }
  return Status::Ok();
}

Result<std::shared_ptr<Executor>> BundleContextImpl::executor(std::string_view target) {
  // The tasks pin the library and this context (see BundleExecutor).
  return container_->ExecutorFor(
      target, name_,
      std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
          library_, shared_from_this()));
}

Result<PrivateStore*> BundleContextImpl::storage() { return container_->PrivateStoreOf(name_); }

Result<LaunchRequest> ContainerImpl::ResolveApp(std::string_view app_id, uint32_t* idx) {
  std::lock_guard lock(lifecycle_mu_);
  auto app = index_->FindApp(app_id);
  if (!app) {
    return MakeError(ErrorCode::kNotFound,
                     "no installed bundle declares micro-app '" + std::string(app_id) + "'");
  }
  auto b = index_->bundle(app->bundle);
  if (b.resolution != Resolution::kResolved) {
    Error e =
        MakeError(ErrorCode::kUnresolved, "micro-app '" + std::string(app_id) +
                                              "' belongs to bundle " + std::string(b.name) +
                                              ", which is unresolved: " + std::string(b.reason));
    e.bundle = std::string(b.name);
    return e;
  }
  *idx = app->bundle;
  LaunchRequest req;
  req.app_id = std::string(app_id);
  req.bundle = std::string(b.name);
  req.bundle_dir = std::string(b.dir);
  req.type = std::string(app->type);
  req.entry = std::string(app->entry);
  return req;
}

Status RouterImpl::Launch(std::string_view app_id, LaunchParams params) {
  uint32_t idx = 0;
  auto req = container_->ResolveApp(app_id, &idx);
  if (!req.ok()) return req.error();
  std::shared_ptr<MicroAppLauncher> launcher;
  std::vector<std::shared_ptr<LaunchFilter>> filters;
  {
    std::lock_guard lock(mu_);
    auto it = launchers_.find(req->type);
    if (it != launchers_.end()) launcher = it->second;
    for (const auto& f : filters_) filters.push_back(f.second);
  }
  for (const auto& filter : filters) {
    if (Status allowed = (*filter)(*req); !allowed.ok()) return allowed;
  }
  if (!launcher) {
    Error e = MakeError(ErrorCode::kNotFound, "no launcher for micro-app type '" + req->type +
                                                  "' (micro-app '" + req->app_id + "')");
    e.bundle = req->bundle;
    return e;
  }
  Status loaded = container_->LoadIndexed(idx, "micro-app " + req->app_id);
  if (!loaded.ok()) return loaded;
  req->params = std::move(params);
  ActivityScope activity(ActivityField::kMicroApp, req->app_id);
  return launcher->Launch(*req);
}

uint64_t ContainerImpl::Fingerprint() const {
  uint64_t h = Hash64(app_json_, 1);
  h = Hash64(app_dir_, h);
  struct stat st;
  std::string app_json_path = (fs::path(app_dir_) / "app.json").string();
  if (::stat(app_json_path.c_str(), &st) == 0) {
    uint64_t mt = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                  static_cast<uint64_t>(st.st_mtim.tv_nsec);
    h = Hash64(std::string_view(reinterpret_cast<const char*>(&mt), sizeof mt), h);
  }
  if (store_ != nullptr) {
    uint64_t g = store_->generation();
    h = Hash64(std::string_view(reinterpret_cast<const char*>(&g), sizeof g), h);
  }
  return h ^ (uint64_t{BundleIndex::kFormatVersion} << 56);
}

// The app.json document without validating it (the descriptor is validated
// when the index is built); null when it is not a JSON object.
boost::json::value QuickAppJson(const std::string& json) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  return ec || !v.is_object() ? boost::json::value() : v;
}

// A top-level string member of QuickAppJson's result, "" when absent.
std::string QuickString(const boost::json::value& doc, const char* key) {
  const auto* field = doc.is_object() ? doc.as_object().if_contains(key) : nullptr;
  return field != nullptr && field->is_string() ? std::string(field->as_string()) : std::string();
}

// The app id from app.json without validating the rest (to find the default
// data dir before the index, which holds the validated descriptor, is read).
std::string QuickAppId(const std::string& json) {
  std::string id = QuickString(QuickAppJson(json), "id");
  return IsValidBundleName(id) ? id : std::string();
}

Status ContainerImpl::Init(ContainerOptions options) {
  std::error_code ec;
  fs::path app_dir = fs::absolute(options.app_dir, ec).lexically_normal();
  if (app_dir.has_filename() == false) app_dir = app_dir.parent_path();
  app_dir_ = app_dir.string();
  std::string app_json_path = (app_dir / "app.json").string();
  {
    std::ifstream in(app_json_path, std::ios::binary);
    if (!in) {
      Error e = MakeError(ErrorCode::kIo, "cannot read app descriptor");
      e.file = app_json_path;
      return e;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    app_json_ = ss.str();
  }
  // Fast path: a valid index for these exact app.json bytes carries the
  // validated descriptor. Otherwise parse and validate app.json, then rebuild.
  data_dir_ = options.data_dir;
  guard_enabled_ = options.launch_guard;
  on_hang_ = std::move(options.on_hang);
  std::string app_id = data_dir_.empty() ? QuickAppId(app_json_) : std::string();
  if (data_dir_.empty() && !app_id.empty()) data_dir_ = DefaultDataDir(app_id);
  registry_.SetLazyHook([this](std::string_view iface) { return LoadProvider(iface); });
  Status s = router_.RegisterLauncher("native", std::make_shared<NativeLauncher>(&registry_));
  if (!s.ok()) return s;

  std::lock_guard lock(lifecycle_mu_);
  std::string why = "rebuild requested";
  if (!data_dir_.empty()) {
    if (Status st = OpenArtifactStore(); !st.ok()) return st;
  }
  if (!options.rebuild_index && !data_dir_.empty()) {
    auto idx =
        BundleIndex::Read((fs::path(data_dir_) / "bundle_index.bin").string(), Fingerprint());
    if (idx.ok()) {
      auto app = idx->app(/*with_baseline=*/false);
      if (app.ok() && (app_id.empty() || app->id == app_id)) {
        app_ = std::move(app).value();
        baseline_loaded_ = false;
        index_ = std::make_unique<BundleIndex>(std::move(idx).value());
        runtimes_.resize(index_->size());
        if (Status st = TrustReleaseKeys(); !st.ok()) return st;
        if (Status st = CreateScheduler(); !st.ok()) return st;
        if (guard_ != nullptr) guard_->StartWatchdog(*scheduler_);
        return Status::Ok();
      }
      why = "app descriptor changed";
    } else {
      if (idx.error().code == ErrorCode::kCorrupt) {
        Log(LogLevel::kWarning, "", "rebuilding bundle index: " + idx.error().ToString());
      }
      why = idx.error().message;
    }
  }
  auto app = ParseAppDescriptor(app_json_, app_json_path);
  if (!app.ok()) return app.error();
  app_ = std::move(app).value();
  if (data_dir_.empty()) data_dir_ = DefaultDataDir(app_.id);
  fs::create_directories(data_dir_, ec);
  if (ec) {
    Error e = MakeError(ErrorCode::kIo, "cannot create data directory: " + ec.message());
    e.file = data_dir_;
    return e;
  }
  if (store_ == nullptr) {
    if (Status st = OpenArtifactStore(); !st.ok()) return st;
  }
  if (Status st = TrustReleaseKeys(); !st.ok()) return st;
  if (Status st = CreateScheduler(); !st.ok()) return st;
  if (guard_ != nullptr) guard_->StartWatchdog(*scheduler_);
  return RebuildIndexLocked(why);
}

Status ContainerImpl::OpenArtifactStore() {
  std::error_code ec;
  fs::create_directories(data_dir_, ec);
  auto store = ArtifactStore::Open({data_dir_, {}});
  std::string store_trouble;
  if (!store.ok() && guard_enabled_) {
    // The guard still starts the app, in the safest mode, and says why: a
    // damaged state.db is moved aside (kept for inspection) and a fresh one
    // made; one that stays locked or unreadable is left alone and this
    // launch runs from a scratch store (baseline only) that it removes.
    const Error first = store.error();
    if (first.code == ErrorCode::kCorrupt) {
      const std::string aside =
          (fs::path(data_dir_) /
           ("state.db.damaged-" +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count())))
              .string();
      for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::rename(fs::path(data_dir_) / (std::string("state.db") + suffix), aside + suffix, ec);
      }
      store_trouble = first.ToString() + "; moved aside to " + aside;
      store = ArtifactStore::Open({data_dir_, {}});
    } else {
      const std::string scratch =
          (fs::path(data_dir_) / ("safe-mode-" + std::to_string(::getpid()))).string();
      fs::remove_all(scratch, ec);
      store_trouble = first.ToString() + "; running from a scratch store (" + scratch + ")";
      scratch_dir_ = scratch;
      store = ArtifactStore::Open({scratch, {}});
    }
    Log(LogLevel::kError, "", "launch guard: state.db unusable: " + store_trouble);
  }
  if (!store.ok()) return store.error();
  store_ = std::move(store).value();
  // Updates installed for the next launch become active now, before the
  // index (keyed on the store's generation) is checked.
  auto promoted = store_->PromoteStaged();
  if (!promoted.ok()) return promoted.error();
  for (const auto& r : *promoted) {
    Log(LogLevel::kInfo, r.id, "update " + r.version + " activated (installed for this launch)");
  }
  CreateLayers();
  if (guard_enabled_) BeginGuardedLaunch(std::move(store_trouble));
  return Status::Ok();
}

void ContainerImpl::CreateLayers() {
  std::vector<Error> errors;
  layers_ = CreateDynamicLayers({app_dir_, data_dir_, store_.get()}, &errors);
  for (const Error& e : errors) Log(LogLevel::kError, "", e.ToString());
}

void ContainerImpl::AttachLayers() {
  for (const auto& layer : layers_) {
    auto* attachable = dynamic_cast<ContainerLayer*>(layer.get());
    if (attachable == nullptr) continue;
    if (Status s = attachable->AttachContainer(*this); !s.ok()) {
      Log(LogLevel::kError, "",
          "dynamic layer " + std::string(layer->kind()) + " not attached: " + s.error().ToString());
      continue;
    }
    attached_.push_back(attachable);
  }
}

void ContainerImpl::DetachLayers() {
  for (auto it = attached_.rbegin(); it != attached_.rend(); ++it) (*it)->DetachContainer();
  attached_.clear();
}

void ContainerImpl::BeginGuardedLaunch(std::string store_trouble) {
  GuardedLaunchOptions options;
  options.data_dir = data_dir_;
  const boost::json::value doc = QuickAppJson(app_json_);  // one parse for both reads
  options.app_version = QuickString(doc, "version");
  options.store_trouble = std::move(store_trouble);
  options.on_hang = on_hang_;
  for (const auto& layer : layers_) options.layers.push_back(layer.get());
  if (doc.is_object()) {
    if (const auto* config = doc.as_object().if_contains("launch_guard")) {
      auto parsed = ReadLaunchGuardConfig(*config, (fs::path(app_dir_) / "app.json").string(),
                                          "/launch_guard");
      if (parsed.ok()) {
        options.config = *parsed;
      } else {
        Log(LogLevel::kError, "", "launch guard: using defaults: " + parsed.error().ToString());
      }
    }
  }
  guard_ = GuardedLaunch::Begin(std::move(options), *store_);
  guard_report_.decision = guard_->decision();
  guard_report_.actions = guard_->actions();
  guard_report_.launch_id = guard_->launch_id();
}

Status ContainerImpl::TrustReleaseKeys() {
  std::vector<PublicKey> keys;
  for (const auto& hex : app_.release_keys) {
    auto key = ParsePublicKeyHex(hex, "app.json /release_keys");
    if (!key.ok()) return key.error();
    keys.push_back(*key);
  }
  store_->SetTrustedKeys(std::move(keys));
  return Status::Ok();
}

Status ContainerImpl::CreateScheduler() {
  SchedulerOptions options;
  const StartupConfig& config = app_.startup;
  if (!config.pools.empty()) {
    options.pools = DefaultPools(UsableCores());
    for (const PoolDecl& decl : config.pools) {
      auto it = std::find_if(options.pools.begin(), options.pools.end(),
                             [&](const PoolConfig& p) { return p.name == decl.name; });
      if (it == options.pools.end()) {
        options.pools.push_back(PoolConfig{.name = decl.name});
        it = options.pools.end() - 1;
      }
      if (decl.threads > 0) it->threads = decl.threads;
      if (decl.priority == "high") it->cpu = CpuPriority::kHigh;
      if (decl.priority == "normal") it->cpu = CpuPriority::kNormal;
      if (decl.priority == "low") it->cpu = CpuPriority::kLow;
      if (decl.priority == "idle") it->cpu = CpuPriority::kIdle;
      if (decl.queue_limit > 0) it->queue_limit = decl.queue_limit;
      if (decl.held_until_idle >= 0) it->held_until_idle = decl.held_until_idle == 1;
    }
  }
  options.max_threads = config.max_threads;
  options.bundle_quota = config.bundle_task_quota;
  // Crash capture records a stack overflow on a pool thread too.
  if (guard_ != nullptr) options.on_thread_start = [] { CrashCapture::PrepareThread(); };
  auto scheduler = Scheduler::Create(std::move(options));
  if (!scheduler.ok()) {
    Error e = scheduler.error();
    e.message = "app.json /startup: " + e.message;
    return e;
  }
  scheduler_ = std::move(scheduler).value();
  return Status::Ok();
}

Status ContainerImpl::RebuildIndexLocked(const std::string& why) {
  Log(LogLevel::kInfo, "", "building bundle index (" + why + ")");
  std::vector<IndexInput> inputs;
  auto add = [&](const fs::path& dir, bool baseline) {
    IndexInput in;
    in.dir = fs::absolute(dir).lexically_normal().string();
    in.baseline = baseline;
    std::string manifest_path = (dir / "bundle.json").string();
    std::ifstream f(manifest_path, std::ios::binary);
    if (!f) {
      in.error = manifest_path + ": cannot read bundle.json";
    } else {
      std::ostringstream ss;
      ss << f.rdbuf();
      auto m = ParseManifest(ss.str(), manifest_path);
      if (m.ok()) {
        in.manifest = std::move(m).value();
      } else {
        in.error = m.error().ToString();
      }
    }
    in.fallback_name = "(invalid) " + in.dir;
    if (!in.error.empty()) Log(LogLevel::kWarning, "", in.error);
    inputs.push_back(std::move(in));
  };
  for (const auto& rel : app().baseline) {
    if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".atb") == 0) {
      // A signed baseline package: installed once into the artifact store
      // (a no-op when the same package is already there), run from there.
      const std::string package = (fs::path(app_dir_) / rel).string();
      auto record = store_->Install(package, InstallAs::kBaseline,
                                    "shipped with " + app_.id + " " + app_.version.ToString());
      if (!record.ok()) {
        IndexInput in;
        in.dir = package;
        in.baseline = true;
        in.error = record.error().ToString();
        in.fallback_name = "(invalid) " + package;
        Log(LogLevel::kError, "", in.error);
        inputs.push_back(std::move(in));
        continue;
      }
      add(record->dir, true);
    } else {
      add(fs::path(app_dir_) / rel, true);
    }
  }
  // Updates: the active version of each native bundle in the store (the
  // resolver prefers the higher version, so a rollback below the baseline
  // version is not expressible; see docs/artifacts.md).
  if (auto records = store_->List(); records.ok()) {
    for (const auto& r : *records) {
      if (r.kind == ArtifactKind::kNativeBundle && r.state == ArtifactState::kActive) {
        add(r.dir, false);
      }
    }
  } else {
    return records.error();
  }
  std::error_code ec;
  fs::path installed = fs::path(data_dir_) / "bundles";
  if (fs::is_directory(installed, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(installed, ec)) {
      if (entry.is_directory()) dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) add(d, false);
  }
  const std::string index_path = (fs::path(data_dir_) / "bundle_index.bin").string();
  Status s = BundleIndex::Write(index_path, Fingerprint(), app_, inputs);
  if (!s.ok()) return s;
  auto idx = BundleIndex::Read(index_path, Fingerprint());
  if (!idx.ok()) return idx.error();

  // Carry runtime state over to the new index by (name, version, dir); a
  // detached runtime (its version left the index while running) comes back
  // when its version does.
  auto fresh = std::make_unique<BundleIndex>(std::move(idx).value());
  std::vector<std::unique_ptr<BundleRuntime>> runtimes(fresh->size());
  for (auto& rt : detached_) runtimes_.push_back(std::move(rt));
  detached_.clear();
  for (auto& rt : runtimes_) {
    if (!rt) continue;
    bool placed = false;
    for (uint32_t i = 0; i < fresh->size(); ++i) {
      auto b = fresh->bundle(i);
      if (!runtimes[i] && b.name == rt->name && b.version == rt->version && b.dir == rt->dir) {
        runtimes[i] = std::move(rt);
        placed = true;
        break;
      }
    }
    if (!placed && rt && rt->state == BundleState::kActive) detached_.push_back(std::move(rt));
  }
  index_ = std::move(fresh);
  runtimes_ = std::move(runtimes);
  active_.clear();
  for (uint32_t i = 0; i < runtimes_.size(); ++i) {
    if (runtimes_[i] && runtimes_[i]->state == BundleState::kActive) active_.push_back(i);
  }
  std::sort(active_.begin(), active_.end(), [&](uint32_t a, uint32_t b) {
    return runtimes_[a]->activation_seq < runtimes_[b]->activation_seq;
  });
  return Status::Ok();
}

BundleRuntime& ContainerImpl::RuntimeLocked(uint32_t idx) {
  auto& rt = runtimes_[idx];
  if (!rt) {
    auto b = index_->bundle(idx);
    rt = std::make_unique<BundleRuntime>();
    rt->name = std::string(b.name);
    rt->version = std::string(b.version);
    rt->dir = std::string(b.dir);
  }
  return *rt;
}

Status ContainerImpl::LoadProvider(std::string_view interface_id) {
  std::lock_guard lock(lifecycle_mu_);
  auto idx = index_->FindProvider(interface_id);
  if (!idx) {
    return MakeError(ErrorCode::kNotFound, "no service registered for '" +
                                               std::string(interface_id) +
                                               "' and no installed bundle provides it");
  }
  return LoadWithFallbackLocked(*idx, "service " + std::string(interface_id));
}

Status ContainerImpl::LoadLocked(uint32_t idx, const std::string& why) {
  auto b = index_->bundle(idx);
  if (b.resolution != Resolution::kResolved) {
    Error e = MakeError(ErrorCode::kUnresolved,
                        "bundle " + std::string(b.name) + " cannot load: " + std::string(b.reason));
    e.bundle = std::string(b.name);
    return e;
  }
  BundleRuntime& rt = RuntimeLocked(idx);
  switch (rt.state) {
    case BundleState::kActive:
      return Status::Ok();
    case BundleState::kFailed:
      return rt.error;
    case BundleState::kLoading:
    case BundleState::kStopping: {
      Error e = MakeError(ErrorCode::kState,
                          "bundle " + rt.name + " is " + BundleStateName(rt.state) +
                              " (a bundle's Start looked up a service of a bundle that is "
                              "still starting: " +
                              why + ")");
      e.bundle = rt.name;
      return e;
    }
    default:
      break;
  }
  rt.state = BundleState::kLoading;
  rt.loaded_by = why;
  auto fail = [&](ErrorCode code, std::string message) {
    rt.state = BundleState::kFailed;
    rt.error = MakeError(code, "bundle " + rt.name + " failed: " + std::move(message));
    rt.error.bundle = rt.name;
    rt.entry = nullptr;
    rt.context.reset();
    rt.library.reset();
    Log(LogLevel::kError, rt.name, rt.error.message);
    return rt.error;
  };
  // Dependencies first.
  for (uint32_t d : b.deps) {
    Status s = LoadLocked(d, "dependency of " + rt.name);
    if (!s.ok()) {
      return fail(ErrorCode::kLoad, "dependency " + std::string(index_->bundle(d).name) +
                                        " did not load: " + s.error().message);
    }
  }
  auto t0 = Clock::now();
  if (b.library.empty()) {  // resource-only bundle
    rt.state = BundleState::kActive;
    rt.activation_seq = next_activation_++;
    active_.push_back(idx);
    return Status::Ok();
  }
  TraceSlice trace_slice("load " + rt.name, "bundle");
  trace_slice.Arg("bundle", rt.name);
  trace_slice.Arg("trigger", why);
  ActivityScope activity(ActivityField::kBundle, rt.name);
  scheduler_->ReopenBundle(rt.name);
  std::string path = (fs::path(rt.dir) / std::string(b.library)).string();
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return fail(ErrorCode::kLoad, std::string("dlopen failed: ") + (err ? err : path));
  }
  // Crash frames in this library map to it from now on.
  if (guard_ != nullptr) CrashCapture::RefreshModules();
  auto lib = std::make_shared<LoadedLibrary>();
  lib->handle = handle;
  lib->path = path;
  rt.library = lib;
  auto entry_fn = reinterpret_cast<AtriumBundleEntryFn>(dlsym(handle, ATRIUM_BUNDLE_ENTRY_SYMBOL));
  if (entry_fn == nullptr) {
    return fail(ErrorCode::kLoad, path + " has no '" ATRIUM_BUNDLE_ENTRY_SYMBOL
                                         "' symbol (was it built with ATRIUM_BUNDLE?)");
  }
  const AtriumBundleEntry* entry = entry_fn();
  if (entry == nullptr) return fail(ErrorCode::kLoad, "entry point returned null");
  if (entry->abi_version != ATRIUM_BUNDLE_ABI_VERSION) {
    return fail(ErrorCode::kLoad, "bundle ABI version " + std::to_string(entry->abi_version) +
                                      ", this container speaks " +
                                      std::to_string(ATRIUM_BUNDLE_ABI_VERSION));
  }
  if (entry->struct_size < sizeof(AtriumBundleEntry)) {
    return fail(ErrorCode::kLoad, "entry struct is " + std::to_string(entry->struct_size) +
                                      " bytes, expected at least " +
                                      std::to_string(sizeof(AtriumBundleEntry)));
  }
  if (entry->cxx_abi == nullptr || std::strcmp(entry->cxx_abi, ATRIUM_CXX_ABI_TAG) != 0) {
    return fail(ErrorCode::kLoad, std::string("C++ toolchain ABI '") +
                                      (entry->cxx_abi ? entry->cxx_abi : "(null)") +
                                      "' differs from the container's '" ATRIUM_CXX_ABI_TAG "'");
  }
  if (entry->start == nullptr || entry->stop == nullptr) {
    return fail(ErrorCode::kLoad, "entry has no start/stop function");
  }
  rt.dlopen_ms = MsSince(t0);
  rt.entry = entry;
  rt.owner = next_owner_++;
  rt.context = std::make_shared<BundleContextImpl>(this, &registry_, rt.owner, rt.name, rt.version,
                                                   rt.dir, lib);
  if (auto h = handover_.find(rt.name); h != handover_.end()) {
    rt.context->SetHandedOverState(std::move(h->second));
    handover_.erase(h);
  }
  auto t1 = Clock::now();
  char err[1024] = {0};
  int rc = entry->start(
      reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(rt.context.get())), err,
      sizeof err);
  rt.start_ms = MsSince(t1);
  if (rc != 0) {
    registry_.UnregisterOwner(rt.owner);
    scheduler_->CancelBundle(rt.name, /*wait_for_running=*/false);
    return fail(ErrorCode::kActivation,
                std::string("activator Start failed: ") + (err[0] ? err : "no reason given"));
  }
  rt.state = BundleState::kActive;
  rt.activation_seq = next_activation_++;
  active_.push_back(idx);
  if (LogEnabled(LogLevel::kInfo)) Log(LogLevel::kInfo, rt.name, "active (" + why + ")");
  return Status::Ok();
}

Result<std::vector<StartupTaskSpec>> ContainerImpl::StartupTasks() {
  std::lock_guard lock(lifecycle_mu_);
  std::vector<StartupTaskSpec> tasks;
  const std::string first_stage =
      app_.startup.stages.empty() ? DefaultStartupStages().front() : app_.startup.stages.front();
  for (uint32_t idx : index_->load_order()) {
    auto b = index_->bundle(idx);
    if (b.resolution != Resolution::kResolved) continue;
    if (b.eager) {
      StartupTaskSpec load;
      load.bundle = std::string(b.name);
      load.decl.id = "@load";
      load.decl.stage = first_stage;
      load.decl.priority = "user_blocking";
      tasks.push_back(std::move(load));
    }
    if (!b.has_startup) continue;
    auto manifest = LoadManifestFile((fs::path(std::string(b.dir)) / "bundle.json").string());
    if (!manifest.ok()) return manifest.error();
    for (StartupTaskDecl& decl : manifest->startup) {
      tasks.push_back(StartupTaskSpec{std::string(b.name), std::move(decl)});
    }
  }
  return tasks;
}

Status ContainerImpl::RunStartupTask(const StartupTaskSpec& task) {
  ActivityScope activity(ActivityField::kBundle, task.bundle);
  std::function<Status()> handler;
  std::shared_ptr<void> library;               // keeps the handler's code mapped while it runs
  std::shared_ptr<BundleContextImpl> context;  // and the context it captured
  {
    std::lock_guard lock(lifecycle_mu_);
    auto idx = index_->FindBundle(task.bundle);
    if (!idx) return NotInstalled(task.bundle);
    if (Status s = LoadWithFallbackLocked(*idx, "startup task " + task.bundle + ":" + task.decl.id);
        !s.ok()) {
      return s;
    }
    if (task.decl.id == "@load") return Status::Ok();
    idx = index_->FindBundle(task.bundle);  // a fallback may have rebuilt the index
    if (!idx) return NotInstalled(task.bundle);
    BundleRuntime& rt = RuntimeLocked(*idx);
    if (rt.context != nullptr) {
      handler = rt.context->StartupHandler(task.decl.id);
      library = rt.context->library();
      context = rt.context;
    }
  }
  if (!handler) {
    Error e = MakeError(ErrorCode::kNotFound,
                        "bundle " + task.bundle + " registered no handler for its startup task '" +
                            task.decl.id + "' (BundleContext::RegisterStartupTask in Start)");
    e.bundle = task.bundle;
    return e;
  }
  return handler();
}

Status ContainerImpl::Start() {
  auto tasks = StartupTasks();
  if (!tasks.ok()) return tasks.error();
  std::vector<std::string> threads{"main"};
  std::vector<std::string> held;
  for (const PoolStats& p : scheduler_->Stats().pools) {
    if (p.name == "main") continue;
    threads.push_back(p.name);
    if (p.held_until_idle) held.push_back(p.name);
  }
  auto built = StartupPipeline::Build(app_.startup.stages, std::move(tasks).value(),
                                      std::move(threads), std::move(held));
  if (!built.ok()) return built.error();
  StartupPipeline* pipeline = built->get();
  {
    std::lock_guard lock(pipeline_mu_);
    if (pipeline_ != nullptr && !pipeline_->finished()) {
      return MakeError(ErrorCode::kState, "a launch is already running");
    }
    pipeline_ = std::move(built).value();
  }
  if (Trace* trace = Trace::Active()) {
    trace->SetMetadata("app", app_.id);
    trace->SetMetadata("app_version", app_.version.ToString());
    std::string stages;
    for (const auto& st : pipeline->stages()) stages += (stages.empty() ? "" : ",") + st;
    trace->SetMetadata("stages", stages);
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (guard_ != nullptr) {
    guard_->OnStartCalled();
    const auto& stages = pipeline->stages();
    if (std::find(stages.begin(), stages.end(), "first_frame") != stages.end()) {
      pipeline->OnStageEnd("first_frame",
                           [guard = guard_.get()](std::string_view) { guard->OnFirstFrame(); });
    }
  }
  Status started =
      pipeline->Start(*scheduler_, [this](const StartupTaskSpec& t) { return RunStartupTask(t); });
  if (!started.ok()) {
    if (guard_ != nullptr)
      guard_->OnLaunchFailed(started.error().ToString(), started.error().bundle);
    return started;
  }
  scheduler_->RunMainLoopUntil([pipeline] { return pipeline->idle_reached(); },
                               std::chrono::hours(24));
  // The launch failed (the pipeline finished early) or reached the idle
  // stage with every required task done; idle-stage work goes on.
  Status result = pipeline->finished() ? pipeline->result() : Status::Ok();
  if (guard_ != nullptr) {
    if (result.ok()) {
      guard_->OnIdle();
    } else {
      guard_->OnLaunchFailed(result.error().ToString(), result.error().bundle);
    }
  }
  if (Trace* trace = Trace::Active()) {
    trace->SetMetadata("launch_ms", std::to_string(MsSince(t0)));
    trace->SetMetadata("result", result.ok() ? "ok" : "failed: " + result.error().ToString());
  }
  return result;
}

Status ContainerImpl::StopLocked(uint32_t idx) {
  BundleRuntime* rt = runtimes_[idx].get();
  if (rt == nullptr || rt->state != BundleState::kActive) return Status::Ok();
  // Dependents first, newest first, found among the active bundles only.
  while (true) {
    auto dependent = std::find_if(active_.rbegin(), active_.rend(), [&](uint32_t i) {
      auto deps = index_->bundle(i).deps;
      return std::find(deps.begin(), deps.end(), idx) != deps.end();
    });
    if (dependent == active_.rend()) break;
    Status s = StopLocked(*dependent);
    if (!s.ok()) return s;
  }
  rt->state = BundleState::kStopping;
  Status result;
  if (rt->entry != nullptr) {
    char err[1024] = {0};
    int rc = rt->entry->stop(
        reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(rt->context.get())), err,
        sizeof err);
    if (rc != 0) {
      Error e = MakeError(ErrorCode::kActivation, "bundle " + rt->name + " Stop failed: " + err);
      e.bundle = rt->name;
      Log(LogLevel::kWarning, rt->name, e.message);
      result = e;
    }
  }
  registry_.UnregisterOwner(rt->owner);
  // Pending tasks are dropped; running ones keep the library mapped (see
  // BundleExecutor) and are not waited for under the lifecycle lock.
  scheduler_->CancelBundle(rt->name, /*wait_for_running=*/false);
  rt->entry = nullptr;
  rt->context.reset();
  rt->library.reset();  // dlclose once no service object or task of the bundle is alive
  rt->state = BundleState::kUnloaded;
  active_.erase(std::remove(active_.begin(), active_.end(), idx), active_.end());
  NotifyStoppedLocked(rt->name);
  return result;
}

Status ContainerImpl::Stop(std::string_view bundle) {
  std::lock_guard lock(lifecycle_mu_);
  auto idx = index_->FindBundle(bundle);
  if (!idx) return NotInstalled(bundle);
  return StopLocked(*idx);
}

void ContainerImpl::Shutdown() {
  std::lock_guard lock(lifecycle_mu_);
  if (!index_) return;
  // active_ is in activation order: stop from the newest.
  while (!active_.empty()) (void)StopLocked(active_.back());
  for (auto& rt : detached_) {
    if (rt->entry != nullptr) {
      char err[1024] = {0};
      rt->entry->stop(
          reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(rt->context.get())),
          err, sizeof err);
    }
    registry_.UnregisterOwner(rt->owner);
    rt->context.reset();
    rt->library.reset();
  }
  detached_.clear();
}

BundleStatus ContainerImpl::StatusLocked(uint32_t idx) const {
  auto b = index_->bundle(idx);
  BundleStatus s;
  s.name = std::string(b.name);
  s.version = std::string(b.version);
  s.dir = std::string(b.dir);
  s.eager = b.eager;
  s.baseline = b.baseline;
  s.reason = std::string(b.reason);
  switch (b.resolution) {
    case Resolution::kResolved:
      s.state = BundleState::kResolved;
      break;
    case Resolution::kUnresolved:
      s.state = BundleState::kUnresolved;
      break;
    case Resolution::kSuperseded:
      s.state = BundleState::kInstalled;
      break;
  }
  for (uint32_t d : b.deps) s.dependencies.emplace_back(index_->bundle(d).name);
  if (const auto& rt = runtimes_[idx]) {
    s.state = rt->state;
    s.loaded_by = rt->loaded_by;
    s.dlopen_ms = rt->dlopen_ms;
    s.start_ms = rt->start_ms;
    s.activation_seq = rt->activation_seq;
    if (rt->state == BundleState::kFailed) s.reason = rt->error.message;
  }
  return s;
}

std::vector<BundleStatus> ContainerImpl::Bundles() const {
  std::lock_guard lock(lifecycle_mu_);
  std::vector<BundleStatus> out;
  out.reserve(index_->size());
  for (uint32_t i = 0; i < index_->size(); ++i) out.push_back(StatusLocked(i));
  std::sort(out.begin(), out.end(),
            [](const BundleStatus& a, const BundleStatus& b) { return a.name < b.name; });
  return out;
}

Result<BundleStatus> ContainerImpl::Bundle(std::string_view name) const {
  std::lock_guard lock(lifecycle_mu_);
  auto idx = index_->FindBundle(name);
  if (!idx) return NotInstalled(name);
  return StatusLocked(*idx);
}

Result<Manifest> ContainerImpl::BundleManifest(std::string_view name) const {
  std::lock_guard lock(lifecycle_mu_);
  auto idx = index_->FindBundle(name);
  if (!idx) return NotInstalled(name);
  auto b = index_->bundle(*idx);
  if (b.broken) {
    Error e = MakeError(ErrorCode::kValidation, std::string(b.reason));
    e.bundle = std::string(name);
    return e;
  }
  return LoadManifestFile((fs::path(std::string(b.dir)) / "bundle.json").string());
}

Status ContainerImpl::LoadWithFallbackLocked(uint32_t idx, const std::string& why) {
  Status s = LoadLocked(idx, why);
  if (s.ok() || (s.error().code != ErrorCode::kLoad && s.error().code != ErrorCode::kActivation)) {
    return s;
  }
  auto b = index_->bundle(idx);
  const std::string name(b.name), version(b.version), dir(b.dir);
  // The native layer decides whether it was an update to fall back from.
  NativeUpdates* native = native_updates_.load();
  if (native == nullptr || !native->FallBack(name, version, dir, s.error().message)) return s;
  if (Status r = RebuildIndexLocked("update " + name + " " + version + " failed"); !r.ok()) {
    return s;
  }
  auto again = index_->FindBundle(name);
  if (!again) return s;
  return LoadLocked(*again, why + " (after " + version + " failed)");
}

Result<ArtifactRecord> ContainerImpl::SwapLive(const std::string& package_path) {
  NativeUpdates* native = native_updates_.load();
  if (native == nullptr) return NoNativeLayer();
  return native->SwapLive(package_path);
}

Result<ArtifactRecord> ContainerImpl::SwapRunning(
    const std::string& bundle, const std::string& version,
    const std::function<Result<ArtifactRecord>()>& install,
    const std::function<void(const std::string& reason)>& failed) {
  auto fail = [&](ErrorCode code, std::string message) {
    Error e = MakeError(code, std::move(message));
    e.bundle = bundle;
    return e;
  };
  TraceSlice trace("live swap " + bundle, "bundle");
  std::lock_guard lock(lifecycle_mu_);
  auto old_idx = index_->FindBundle(bundle);
  BundleRuntime* old = old_idx ? runtimes_[*old_idx].get() : nullptr;
  const bool running = old != nullptr && old->state == BundleState::kActive;
  if (running) {
    if (old->version == version) {
      return fail(ErrorCode::kAlreadyExists, bundle + " " + version + " is already running");
    }
    handover_[bundle] = old->context != nullptr ? old->context->ExportState() : std::string();
  }
  auto record = install();
  if (!record.ok()) {
    handover_.erase(bundle);
    return record;
  }
  if (Status s = RebuildIndexLocked("live swap of " + bundle + " to " + version); !s.ok()) {
    handover_.erase(bundle);
    return s.error();
  }
  if (!running) return record;  // loads the new version when first needed
  auto fresh = index_->FindBundle(bundle);
  Status started =
      fresh && index_->bundle(*fresh).dir == record->dir
          ? LoadLocked(*fresh, "live swap from " + old->version)
          : Status(fail(ErrorCode::kUnresolved,
                        bundle + " " + version + " did not resolve in place of " + old->version));
  handover_.erase(bundle);
  if (!started.ok()) {
    // The old version never stopped: put it back in the index and carry on.
    failed(started.error().message);
    (void)RebuildIndexLocked("live swap of " + bundle + " to " + version + " failed");
    return started.error();
  }
  // Switch: the old version's registrations go at once (lookups now find
  // only the new ones), then its activator stops. Its library stays mapped
  // while any call or handle still holds one of its objects.
  // The old runtime is detached, or kept at its (now superseded) version's
  // slot of the new index.
  std::unique_ptr<BundleRuntime> gone;
  if (auto it =
          std::find_if(detached_.begin(), detached_.end(),
                       [&](const std::unique_ptr<BundleRuntime>& rt) { return rt.get() == old; });
      it != detached_.end()) {
    gone = std::move(*it);
    detached_.erase(it);
  } else {
    for (uint32_t i = 0; i < runtimes_.size(); ++i) {
      if (runtimes_[i].get() != old) continue;
      gone = std::move(runtimes_[i]);
      active_.erase(std::remove(active_.begin(), active_.end(), i), active_.end());
    }
  }
  if (gone != nullptr) {
    registry_.UnregisterOwner(gone->owner);
    if (gone->entry != nullptr) {
      char err[1024] = {0};
      int rc = gone->entry->stop(
          reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(gone->context.get())),
          err, sizeof err);
      if (rc != 0) Log(LogLevel::kWarning, gone->name, std::string("Stop failed: ") + err);
    }
    gone->context.reset();
    gone->library.reset();
    NotifyStoppedLocked(gone->name);
  }
  Log(LogLevel::kInfo, bundle, "live swapped to " + version);
  return record;
}

Result<ArtifactRecord> ContainerImpl::InstallPackage(const std::string& package_path,
                                                     InstallAs as) {
  auto reader = PackageReader::Open(package_path);
  if (!reader.ok()) return reader.error();
  const ArtifactKind kind = (*reader)->info().kind;
  reader->reset();
  // The layer registered for the package's kind installs it (native bundle
  // updates: dynamic/native).
  const std::string name = ArtifactKindName(kind);
  for (const auto& layer : layers_) {
    if (layer->kind() == name) return layer->Install(package_path, as);
  }
  Error e = MakeError(ErrorCode::kNotFound,
                      "no dynamic layer for packages of kind " + name + " is registered");
  e.file = package_path;
  return e;
}

Status ContainerImpl::Install(const std::string& bundle_dir) {
  std::string manifest_path = (fs::path(bundle_dir) / "bundle.json").string();
  auto m = LoadManifestFile(manifest_path);
  if (!m.ok()) return m.error();
  std::lock_guard lock(lifecycle_mu_);
  fs::path target = fs::path(data_dir_) / "bundles" / (m->name + "-" + m->version.ToString());
  fs::path staging = target;
  staging += ".installing";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging.parent_path(), ec);
  fs::copy(bundle_dir, staging, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    Error e = MakeError(ErrorCode::kIo, "cannot copy bundle: " + ec.message());
    e.file = bundle_dir;
    return e;
  }
  if (fs::exists(target)) {
    Error e = MakeError(ErrorCode::kAlreadyExists,
                        m->name + " " + m->version.ToString() + " is already installed");
    e.bundle = m->name;
    fs::remove_all(staging, ec);
    return e;
  }
  fs::rename(staging, target, ec);
  if (ec) {
    Error e = MakeError(ErrorCode::kIo, "cannot move bundle into place: " + ec.message());
    e.file = target.string();
    return e;
  }
  return RebuildIndexLocked("installed " + m->name + " " + m->version.ToString());
}

Status ContainerImpl::Uninstall(std::string_view bundle) {
  std::lock_guard lock(lifecycle_mu_);
  bool removed = false;
  for (uint32_t i = 0; i < index_->size(); ++i) {
    auto b = index_->bundle(i);
    if (b.name != bundle) continue;
    if (b.baseline) {
      Error e = MakeError(ErrorCode::kState, "bundle " + std::string(bundle) +
                                                 " ships with the app (baseline); it cannot be "
                                                 "uninstalled");
      e.bundle = std::string(bundle);
      return e;
    }
    (void)StopLocked(i);
    std::error_code ec;
    fs::remove_all(std::string(b.dir), ec);
    removed = true;
  }
  if (!removed) return NotInstalled(bundle);
  return RebuildIndexLocked("uninstalled " + std::string(bundle));
}

Result<PrivateStore*> ContainerImpl::PrivateStoreOf(std::string_view bundle) {
  if (!IsValidBundleName(bundle)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(bundle) + "' is not a bundle name");
  }
  std::lock_guard lock(stores_mu_);
  auto it = stores_.find(bundle);
  if (it != stores_.end()) return it->second.get();
  auto store = PrivateStore::Open(
      (fs::path(data_dir_) / "private" / (std::string(bundle) + ".db")).string());
  if (!store.ok()) return store.error();
  PrivateStore* raw = store->get();
  stores_.emplace(std::string(bundle), std::move(store).value());
  return raw;
}

}  // namespace
}  // namespace internal

Result<std::unique_ptr<Container>> Container::Open(ContainerOptions options) {
  auto c = std::make_unique<internal::ContainerImpl>();
  Status s = c->Init(std::move(options));
  if (!s.ok()) return s.error();
  c->AttachLayers();
  return std::unique_ptr<Container>(std::move(c));
}

}  // namespace atrium
