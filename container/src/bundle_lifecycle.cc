// The C-boundary contract (dlopen, the entry symbol, ABI checks, calling
// start and stop) and the bundle lifecycle state machine: load with
// dependencies first, the fallback after a failed update, stop with
// dependents first, status.
#include "atrium/scheduler/trace_schema.h"
#include "container_impl.h"

namespace fs = std::filesystem;

namespace atrium::internal {

std::shared_ptr<BundleRuntime> ContainerImpl::RuntimeLocked(uint32_t idx) {
  auto& rt = runtimes_[idx];
  if (!rt) {
    auto b = index_->bundle(idx);
    rt = std::make_shared<BundleRuntime>();
    rt->name = std::string(b.name);
    rt->version = std::string(b.version);
    rt->dir = std::string(b.dir);
  }
  return rt;
}

std::optional<uint32_t> ContainerImpl::SlotOfLocked(const BundleRuntime* rt) const {
  for (uint32_t i = 0; i < runtimes_.size(); ++i) {
    if (runtimes_[i].get() == rt) return i;
  }
  return std::nullopt;
}

void ContainerImpl::MarkActiveLocked(const std::shared_ptr<BundleRuntime>& rt) {
  rt->state = BundleState::kActive;
  rt->busy_thread = {};
  rt->activation_seq = next_activation_++;
  if (auto slot = SlotOfLocked(rt.get())) {
    active_.push_back(*slot);
  } else if (std::find(detached_.begin(), detached_.end(), rt) == detached_.end()) {
    detached_.push_back(rt);  // its version left the index while it started
  }
  lifecycle_mu_.NotifyAll();
}

Status ContainerImpl::WaitForLocked(const std::shared_ptr<BundleRuntime>& rt,
                                    const std::string& why) {
  const std::thread::id self = std::this_thread::get_id();
  // Follow who waits for whom from the thread busy with `rt`: reaching this
  // thread means each would wait for the other for ever.
  std::string chain = rt->name;
  std::shared_ptr<BundleRuntime> at = rt;
  for (size_t hops = 0; hops <= waiting_.size(); ++hops) {
    auto w = waiting_.find(at->busy_thread);
    if (w == waiting_.end()) break;
    at = w->second;
    chain += " -> " + at->name;
    if (at->busy_thread == self) {
      Error e = MakeError(ErrorCode::kState,
                          "waiting for bundle " + rt->name + " would deadlock: the thread " +
                              (rt->state == BundleState::kStopping ? "stopping" : "starting") +
                              " it waits for a bundle this thread is starting or stopping (" +
                              chain + "; " + why + ")");
      e.bundle = rt->name;
      return e;
    }
  }
  waiting_[self] = rt;
  ActivityScope activity(ActivityField::kWaitingFor, rt->name);
  TraceSlice trace_slice(std::string(trace_schema::kWaitPrefix) + rt->name,
                         trace_schema::kCatBundle);
  trace_slice.Arg(trace_schema::kArgBundle, rt->name);
  while (rt->state == BundleState::kLoading || rt->state == BundleState::kStopping) {
    lifecycle_mu_.Wait();
  }
  waiting_.erase(self);
  return Status::Ok();
}

void ContainerImpl::WaitForOthersLocked() {
  const std::thread::id self = std::this_thread::get_id();
  auto busy = [&] {
    auto other = [&](const std::shared_ptr<BundleRuntime>& rt) {
      return rt != nullptr &&
             (rt->state == BundleState::kLoading || rt->state == BundleState::kStopping) &&
             rt->busy_thread != self;
    };
    return std::any_of(runtimes_.begin(), runtimes_.end(), other) ||
           std::any_of(detached_.begin(), detached_.end(), other);
  };
  while (busy()) lifecycle_mu_.Wait();
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
  if (shutting_down_) {
    return MakeError(ErrorCode::kState,
                     "the container is shutting down; nothing loads (" + why + ")");
  }
  auto b = index_->bundle(idx);
  if (b.resolution != Resolution::kResolved) {
    Error e = MakeError(ErrorCode::kUnresolved,
                        "bundle " + std::string(b.name) + " cannot load: " + std::string(b.reason));
    e.bundle = std::string(b.name);
    return e;
  }
  std::shared_ptr<BundleRuntime> rt = RuntimeLocked(idx);
  switch (rt->state) {
    case BundleState::kActive:
      return Status::Ok();
    case BundleState::kFailed:
      return rt->error;
    case BundleState::kLoading:
    case BundleState::kStopping: {
      if (rt->busy_thread != std::this_thread::get_id()) {
        // Another thread is starting or stopping it: wait, then load what
        // the index says now (a fallback may have replaced the version).
        if (Status waited = WaitForLocked(rt, why); !waited.ok()) return waited;
        if (rt->state == BundleState::kActive) return Status::Ok();
        auto again = index_->FindBundle(rt->name);
        if (!again) return NotInstalled(rt->name);
        return LoadLocked(*again, why);
      }
      Error e = MakeError(ErrorCode::kState,
                          "bundle " + rt->name + " is " + BundleStateName(rt->state) +
                              (rt->state == BundleState::kLoading
                                   ? " (a bundle's Start looked up a service of a bundle that is "
                                     "still starting: "
                                   : " (its Stop, on this thread, asked for it: ") +
                              why + ")");
      e.bundle = rt->name;
      return e;
    }
    default:
      break;
  }
  rt->state = BundleState::kLoading;
  rt->busy_thread = std::this_thread::get_id();
  rt->loaded_by = why;
  // Whatever ends this load (an error, an exception from the container's
  // own code), the bundle does not stay loading: waiters would wait for ever.
  struct Settle {
    ContainerImpl* self;
    BundleRuntime* rt;
    ~Settle() {
      if (rt->state != BundleState::kLoading || rt->busy_thread != std::this_thread::get_id()) {
        return;
      }
      rt->state = BundleState::kFailed;
      rt->busy_thread = {};
      rt->error = MakeError(ErrorCode::kInternal, "bundle " + rt->name + " failed to load");
      rt->error.bundle = rt->name;
      self->lifecycle_mu_.NotifyAll();
    }
  } settle{this, rt.get()};
  // Copies: a dependency's Start runs without the lock, and the index may be
  // replaced meanwhile.
  const std::string library(b.library);
  const bool has_startup = b.has_startup;
  std::vector<std::string> deps;
  for (uint32_t d : b.deps) deps.emplace_back(index_->bundle(d).name);
  auto fail = [&](ErrorCode code, std::string message) {
    rt->state = BundleState::kFailed;
    rt->busy_thread = {};
    rt->error = MakeError(code, "bundle " + rt->name + " failed: " + std::move(message));
    rt->error.bundle = rt->name;
    rt->entry = nullptr;
    // The library's static destructors (dlclose) run without the lock.
    std::shared_ptr<BundleContextImpl> context = std::move(rt->context);
    std::shared_ptr<LoadedLibrary> library = std::move(rt->library);
    lifecycle_mu_.NotifyAll();
    Log(LogLevel::kError, rt->name, rt->error.message);
    Error e = rt->error;
    if (library != nullptr || context != nullptr) {
      LifecycleUnlocked unlocked(lifecycle_mu_);
      context.reset();
      library.reset();
    }
    return e;
  };
  // Dependencies first.
  for (const std::string& dep : deps) {
    auto d = index_->FindBundle(dep);
    Status s = d ? LoadLocked(*d, "dependency of " + rt->name) : Status(NotInstalled(dep));
    if (!s.ok() && s.error().code == ErrorCode::kState) {
      // Not the dependency's fault (a wait refused as a deadlock, the
      // container shutting down): this load did not happen, it did not fail.
      rt->state = BundleState::kUnloaded;
      rt->busy_thread = {};
      lifecycle_mu_.NotifyAll();
      Error e = s.error();
      e.message = "bundle " + rt->name + " did not load: dependency " + dep + ": " + e.message;
      return e;
    }
    if (!s.ok()) {
      return fail(ErrorCode::kLoad, "dependency " + dep + " did not load: " + s.error().message);
    }
  }
  auto t0 = SteadyClock::now();
  if (library.empty()) {  // resource-only bundle
    MarkActiveLocked(rt);
    return Status::Ok();
  }
  TraceSlice trace_slice(std::string(trace_schema::kLoadPrefix) + rt->name,
                         trace_schema::kCatBundle);
  trace_slice.Arg(trace_schema::kArgBundle, rt->name);
  trace_slice.Arg(trace_schema::kArgTrigger, why);
  ActivityScope activity(ActivityField::kBundle, rt->name);
  scheduler_->ReopenBundle(rt->name);
  std::string path = (fs::path(rt->dir) / library).string();
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
  rt->library = lib;
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
  rt->dlopen_ms = MsSince(t0);
  rt->entry = entry;
  rt->owner = next_owner_++;
  rt->context = std::make_shared<BundleContextImpl>(this, &registry_, rt->owner, rt->name,
                                                    rt->version, rt->dir, lib);
  if (has_startup) {
    // RegisterStartupTask accepts only the ids bundle.json declares: known
    // from the launch's task list, else (a load before Start) read here.
    if (auto known = declared_tasks_.find(rt->dir); known != declared_tasks_.end()) {
      rt->context->SetDeclaredStartupTasks(known->second);
    } else {
      auto manifest = LoadManifestFile((fs::path(rt->dir) / "bundle.json").string());
      if (!manifest.ok()) return fail(ErrorCode::kLoad, manifest.error().ToString());
      std::vector<std::string> ids;
      for (const StartupTaskDecl& decl : manifest->startup) ids.push_back(decl.id);
      rt->context->SetDeclaredStartupTasks(std::move(ids));
    }
  }
  if (auto h = handover_.find(rt->name); h != handover_.end()) {
    rt->context->SetHandedOverState(std::move(h->second));
    handover_.erase(h);
  }
  auto t1 = SteadyClock::now();
  char err[1024] = {0};
  int rc = 0;
  {
    // The activator runs without the lifecycle lock: what it waits for
    // (a pool task looking up a lazy service, another bundle's load) can
    // take it. The context it is given stays alive through the call.
    std::shared_ptr<BundleContextImpl> context = rt->context;
    LifecycleUnlocked unlocked(lifecycle_mu_);
    rc = entry->start(
        reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(context.get())), err,
        sizeof err);
  }
  rt->start_ms = MsSince(t1);
  if (rc != 0) {
    {
      // Its listeners and service objects go without the lock (their
      // destructors are bundle code); it is still loading, so others wait.
      const uint64_t owner = rt->owner;
      LifecycleUnlocked unlocked(lifecycle_mu_);
      registry_.UnregisterOwner(owner);
    }
    scheduler_->CancelBundle(rt->name, /*wait_for_running=*/false);
    return fail(ErrorCode::kActivation,
                std::string("activator Start failed: ") + (err[0] ? err : "no reason given"));
  }
  MarkActiveLocked(rt);
  if (LogEnabled(LogLevel::kInfo)) Log(LogLevel::kInfo, rt->name, "active (" + why + ")");
  return Status::Ok();
}

Status ContainerImpl::StopLocked(uint32_t idx) {
  std::shared_ptr<BundleRuntime> rt = runtimes_[idx];
  if (rt == nullptr) return Status::Ok();
  const std::thread::id self = std::this_thread::get_id();
  // Being started or stopped on another thread: wait for that first.
  while ((rt->state == BundleState::kLoading || rt->state == BundleState::kStopping) &&
         rt->busy_thread != self) {
    if (Status waited = WaitForLocked(rt, "stop of " + rt->name); !waited.ok()) return waited;
  }
  if (rt->state == BundleState::kLoading) {
    Error e = MakeError(ErrorCode::kState, "bundle " + rt->name +
                                               " is loading on this thread (its Start asked to "
                                               "stop it); it cannot stop before it started");
    e.bundle = rt->name;
    return e;
  }
  if (rt->state != BundleState::kActive) return Status::Ok();
  // Dependents first: any being started or stopped elsewhere is waited for,
  // then the active ones stop, newest first. Found again after each step
  // (the lock is released meanwhile).
  auto depends_on_rt = [&](uint32_t i) {
    for (uint32_t d : index_->bundle(i).deps) {
      if (runtimes_[d] == rt) return true;
    }
    return false;
  };
  while (true) {
    std::shared_ptr<BundleRuntime> busy;
    for (uint32_t i = 0; i < runtimes_.size() && busy == nullptr; ++i) {
      const auto& other = runtimes_[i];
      if (other != nullptr && other != rt && other->busy_thread != self &&
          (other->state == BundleState::kLoading || other->state == BundleState::kStopping) &&
          depends_on_rt(i)) {
        busy = other;
      }
    }
    if (busy != nullptr) {
      if (Status waited = WaitForLocked(busy, "stop of " + rt->name); !waited.ok()) return waited;
      continue;
    }
    auto dependent = std::find_if(active_.rbegin(), active_.rend(), depends_on_rt);
    if (dependent == active_.rend()) break;
    Status s = StopLocked(*dependent);
    if (!s.ok()) return s;
  }
  if (rt->state != BundleState::kActive) return Status::Ok();  // stopped meanwhile
  // Stopping: out of the active list at once (a dependents search elsewhere
  // must not find it again), owned by this thread until it is unloaded.
  rt->state = BundleState::kStopping;
  rt->busy_thread = self;
  if (auto slot = SlotOfLocked(rt.get())) {
    active_.erase(std::remove(active_.begin(), active_.end(), *slot), active_.end());
  }
  return StopAndUnloadLocked(rt);
}

Status ContainerImpl::StopAndUnloadLocked(const std::shared_ptr<BundleRuntime>& rt) {
  Status result;
  {
    // Its Stop, its listeners' and service objects' removal and the drop of
    // its pending tasks run without the lock.
    std::shared_ptr<BundleContextImpl> context = rt->context;
    const AtriumBundleEntry* entry = rt->entry;
    const uint64_t owner = rt->owner;
    LifecycleUnlocked unlocked(lifecycle_mu_);
    if (entry != nullptr) {
      char err[1024] = {0};
      const int rc = entry->stop(
          reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(context.get())), err,
          sizeof err);
      if (rc != 0) {
        Error e = MakeError(ErrorCode::kActivation, "bundle " + rt->name + " Stop failed: " + err);
        e.bundle = rt->name;
        Log(LogLevel::kWarning, rt->name, e.message);
        result = e;
      }
    }
    registry_.UnregisterOwner(owner);
    // Pending tasks are dropped; running ones keep the library mapped (see
    // BundleExecutor) and are not waited for.
    scheduler_->CancelBundle(rt->name, /*wait_for_running=*/false);
  }
  rt->entry = nullptr;
  std::shared_ptr<BundleContextImpl> context = std::move(rt->context);
  std::shared_ptr<LoadedLibrary> library = std::move(rt->library);
  rt->state = BundleState::kUnloaded;
  rt->busy_thread = {};
  std::erase(detached_, rt);
  lifecycle_mu_.NotifyAll();
  NotifyStoppedLocked(rt->name);
  {
    // dlclose (static destructors) once no service object or task of the
    // bundle is alive, without the lock.
    LifecycleUnlocked unlocked(lifecycle_mu_);
    context.reset();
    library.reset();
  }
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
  // From here on nothing loads (the container is closing); loads and stops
  // other threads began finish first.
  shutting_down_ = true;
  WaitForOthersLocked();
  // active_ is in activation order: stop from the newest.
  while (!active_.empty()) {
    const uint32_t newest = active_.back();
    if (Status s = StopLocked(newest); !s.ok() && !active_.empty() && active_.back() == newest) {
      // Refused (its stop would wait for a thread waiting for this one):
      // left running rather than waited for for ever.
      Log(LogLevel::kError, runtimes_[newest]->name, "not stopped: " + s.error().message);
      active_.pop_back();
    }
  }
  // Bundles whose version left the index while they ran: each stays in
  // detached_ (so waiters see it) until it is unloaded.
  const std::thread::id self = std::this_thread::get_id();
  for (;;) {
    auto it = std::find_if(detached_.begin(), detached_.end(),
                           [](const auto& rt) { return rt->state == BundleState::kActive; });
    if (it == detached_.end()) break;
    std::shared_ptr<BundleRuntime> rt = *it;
    rt->state = BundleState::kStopping;
    rt->busy_thread = self;
    (void)StopAndUnloadLocked(rt);
  }
  WaitForOthersLocked();  // stops other threads began meanwhile
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
  // What is being loaded, copied: the load may release the lock.
  auto b = index_->bundle(idx);
  const std::string name(b.name), version(b.version), dir(b.dir);
  Status s = LoadLocked(idx, why);
  if (s.ok() || (s.error().code != ErrorCode::kLoad && s.error().code != ErrorCode::kActivation)) {
    return s;
  }
  // The native layer decides whether it was an update to fall back from.
  NativeUpdates* native = native_updates_.load();
  if (native == nullptr || !native->FallBack(name, version, dir, s.error().message)) return s;
  if (Status r = RebuildIndexLocked("update " + name + " " + version + " failed"); !r.ok()) {
    return s;
  }
  // The launch record names what runs from now on.
  if (guard_ != nullptr) guard_->OnArtifactsChanged();
  auto again = index_->FindBundle(name);
  if (!again) return s;
  return LoadLocked(*again, why + " (after " + version + " failed)");
}

}  // namespace atrium::internal
