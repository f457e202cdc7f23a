// Replacing a running bundle: the mechanics of a live swap (state handover,
// the switch of services, the old version's stop).
#include "atrium/scheduler/trace_schema.h"
#include "container_impl.h"

namespace atrium::internal {

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
  TraceSlice trace(std::string(trace_schema::kSwapPrefix) + bundle, trace_schema::kCatBundle);
  trace.Arg(trace_schema::kArgBundle, bundle);
  std::lock_guard lock(lifecycle_mu_);
  if (shutting_down_) {
    return fail(ErrorCode::kState, "the container is shutting down; no live swap of " + bundle);
  }
  auto old_idx = index_->FindBundle(bundle);
  std::shared_ptr<BundleRuntime> old = old_idx ? runtimes_[*old_idx] : nullptr;
  // Being started or stopped elsewhere: the swap waits for that to end.
  while (old != nullptr &&
         (old->state == BundleState::kLoading || old->state == BundleState::kStopping) &&
         old->busy_thread != std::this_thread::get_id()) {
    if (Status waited = WaitForLocked(old, "live swap of " + bundle); !waited.ok()) {
      return waited.error();
    }
  }
  const bool running = old != nullptr && old->state == BundleState::kActive;
  if (running) {
    if (old->version == version) {
      return fail(ErrorCode::kAlreadyExists, bundle + " " + version + " is already running");
    }
    // The one call into bundle code under the lifecycle lock: the running
    // version must not stop or change while it hands its state over.
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
  std::shared_ptr<BundleRuntime> gone;
  if (auto it = std::find_if(detached_.begin(), detached_.end(),
                             [&](const std::shared_ptr<BundleRuntime>& rt) { return rt == old; });
      it != detached_.end()) {
    gone = std::move(*it);
    detached_.erase(it);
  } else {
    for (uint32_t i = 0; i < runtimes_.size(); ++i) {
      if (runtimes_[i] != old) continue;
      gone = std::move(runtimes_[i]);
      active_.erase(std::remove(active_.begin(), active_.end(), i), active_.end());
    }
  }
  if (gone != nullptr) {
    // Stopping, detached and owned by this thread until it is unloaded, so a
    // Shutdown meanwhile waits for it. Its registrations go first (lookups
    // find only the new version), then its Stop runs; both unlocked.
    gone->state = BundleState::kStopping;
    gone->busy_thread = std::this_thread::get_id();
    detached_.push_back(gone);
    {
      std::shared_ptr<BundleContextImpl> context = gone->context;
      const AtriumBundleEntry* entry = gone->entry;
      const uint64_t owner = gone->owner;
      LifecycleUnlocked unlocked(lifecycle_mu_);
      registry_.UnregisterOwner(owner);
      if (entry != nullptr) {
        char err[1024] = {0};
        const int rc = entry->stop(
            reinterpret_cast<AtriumBundleContext*>(static_cast<BundleContext*>(context.get())), err,
            sizeof err);
        if (rc != 0) Log(LogLevel::kWarning, gone->name, std::string("Stop failed: ") + err);
      }
    }
    gone->entry = nullptr;
    std::shared_ptr<BundleContextImpl> context = std::move(gone->context);
    std::shared_ptr<LoadedLibrary> library = std::move(gone->library);
    gone->state = BundleState::kUnloaded;
    gone->busy_thread = {};
    std::erase(detached_, gone);
    lifecycle_mu_.NotifyAll();
    NotifyStoppedLocked(gone->name);
    // dlclose (the old version's static destructors) without the lock, as
    // every other unload does.
    LifecycleUnlocked unlocked(lifecycle_mu_);
    context.reset();
    library.reset();
  }
  // The launch record names the version that runs now.
  if (guard_ != nullptr) guard_->OnArtifactsChanged();
  Log(LogLevel::kInfo, bundle, "live swapped to " + version);
  return record;
}

}  // namespace atrium::internal
