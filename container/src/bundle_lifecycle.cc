// The C-boundary contract (dlopen, the entry symbol, ABI checks, calling
// start and stop) and the bundle lifecycle state machine: load with
// dependencies first, the fallback after a failed update, stop with
// dependents first, status.
#include "container_impl.h"

namespace fs = std::filesystem;

namespace atrium::internal {

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
  auto t0 = SteadyClock::now();
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
  if (b.has_startup) {
    // RegisterStartupTask accepts only the ids bundle.json declares: known
    // from the launch's task list, else (a load before Start) read here.
    if (auto known = declared_tasks_.find(rt.dir); known != declared_tasks_.end()) {
      rt.context->SetDeclaredStartupTasks(known->second);
    } else {
      auto manifest = LoadManifestFile((fs::path(rt.dir) / "bundle.json").string());
      if (!manifest.ok()) return fail(ErrorCode::kLoad, manifest.error().ToString());
      std::vector<std::string> ids;
      for (const StartupTaskDecl& decl : manifest->startup) ids.push_back(decl.id);
      rt.context->SetDeclaredStartupTasks(std::move(ids));
    }
  }
  if (auto h = handover_.find(rt.name); h != handover_.end()) {
    rt.context->SetHandedOverState(std::move(h->second));
    handover_.erase(h);
  }
  auto t1 = SteadyClock::now();
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
  // The launch record names what runs from now on.
  if (guard_ != nullptr) guard_->OnArtifactsChanged();
  auto again = index_->FindBundle(name);
  if (!again) return s;
  return LoadLocked(*again, why + " (after " + version + " failed)");
}

}  // namespace atrium::internal
