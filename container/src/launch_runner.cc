// The launch: the startup pipeline built from the resolved bundles' tasks,
// run on the calling thread, which becomes the main thread.
#include <sched.h>

#include "atrium/scheduler/trace_schema.h"
#include "container_impl.h"

namespace fs = std::filesystem;

namespace atrium::internal {

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
    std::vector<std::string>& ids = declared_tasks_[std::string(b.dir)];
    ids.clear();
    for (StartupTaskDecl& decl : manifest->startup) {
      ids.push_back(decl.id);
      tasks.push_back(StartupTaskSpec{std::string(b.name), std::move(decl)});
    }
  }
  return tasks;
}

std::vector<std::string> ContainerImpl::BundleAndRequirements(std::string_view bundle) {
  std::vector<std::string> out{std::string(bundle)};
  std::string dir;
  {
    std::lock_guard lock(lifecycle_mu_);
    auto idx = index_->FindBundle(bundle);
    if (!idx) return out;
    auto b = index_->bundle(*idx);
    if (b.broken) return out;
    dir = std::string(b.dir);
  }
  auto manifest = LoadManifestFile((fs::path(dir) / "bundle.json").string());
  if (manifest.ok()) {
    for (const Requirement& r : manifest->requires_) out.push_back(r.name);
  }
  return out;
}

void ContainerImpl::ReportResolution() {
  std::vector<std::string> resolved;
  std::vector<GuardedLaunch::UnresolvedBundle> unresolved;
  {
    std::lock_guard lock(lifecycle_mu_);
    for (uint32_t i = 0; i < index_->size(); ++i) {
      auto b = index_->bundle(i);
      if (b.resolution == Resolution::kResolved) {
        resolved.emplace_back(b.name);
      } else if (b.resolution == Resolution::kUnresolved) {
        unresolved.push_back({std::string(b.name), std::string(b.reason), {}});
      }
    }
  }
  // Unresolved bundles are rare: their manifests are read only then.
  for (auto& u : unresolved) {
    std::vector<std::string> all = BundleAndRequirements(u.name);
    u.required.assign(all.begin() + 1, all.end());
  }
  std::sort(resolved.begin(), resolved.end());
  resolved.erase(std::unique(resolved.begin(), resolved.end()), resolved.end());
  // A name resolved in another version is not lost.
  std::erase_if(unresolved, [&](const GuardedLaunch::UnresolvedBundle& u) {
    return std::binary_search(resolved.begin(), resolved.end(), u.name);
  });
  guard_->OnResolution(std::move(resolved), unresolved);
}

StartupFailurePolicy ContainerImpl::FailurePolicy() {
  std::lock_guard lock(lifecycle_mu_);
  StartupFailurePolicy policy;
  policy.isolate_bundles = true;
  policy.critical = app_.startup.critical;
  // Only bundles with tasks in the launch can be skipped: for each, every
  // bundle it requires, directly or not, lists it as a dependent. The cost
  // follows the bundles with startup work, not the bundles installed.
  std::vector<uint32_t> stack, seen;
  for (uint32_t i : index_->load_order()) {
    auto b = index_->bundle(i);
    if (b.resolution != Resolution::kResolved || !(b.has_startup || b.eager)) continue;
    stack.assign(b.deps.begin(), b.deps.end());
    seen.clear();
    while (!stack.empty()) {
      const uint32_t d = stack.back();
      stack.pop_back();
      if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
      seen.push_back(d);
      auto dep = index_->bundle(d);
      policy.dependents[std::string(dep.name)].emplace_back(b.name);
      stack.insert(stack.end(), dep.deps.begin(), dep.deps.end());
    }
  }
  return policy;
}

Status ContainerImpl::RunStartupTask(const StartupTaskSpec& task) {
  ActivityScope activity(ActivityField::kBundle, task.bundle);
  // Destroyed in reverse order: the handler (the bundle's code, its closure
  // too) before the context it captured, before the library that holds its
  // code. A handler outliving the library (its bundle stopped while it ran,
  // the container closing) was destroyed by code already unmapped.
  std::shared_ptr<void> library;               // keeps the handler's code mapped while it runs
  std::shared_ptr<BundleContextImpl> context;  // and the context it captured
  std::function<Status()> handler;
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
    std::shared_ptr<BundleRuntime> rt = RuntimeLocked(*idx);
    if (rt->context != nullptr) {
      handler = rt->context->StartupHandler(task.decl.id);
      library = rt->context->library();
      context = rt->context;
    }
  }
  if (!handler) {
    Error e = MakeError(ErrorCode::kNotFound,
                        "bundle " + task.bundle + " registered no handler for its startup task '" +
                            task.decl.id + "' (BundleContext::RegisterStartupTask in Start)");
    e.bundle = task.bundle;
    return e;
  }
  // An exception is turned into an error here, while the pins hold: its
  // what() and destructor may be code of the bundle.
  try {
    return handler();
  } catch (const std::exception& e) {
    Error err = MakeError(ErrorCode::kActivation, std::string("threw: ") + e.what());
    err.bundle = task.bundle;
    return err;
  } catch (...) {
    Error err = MakeError(ErrorCode::kActivation, "threw a non-std exception");
    err.bundle = task.bundle;
    return err;
  }
}

Status ContainerImpl::Start() {
  auto tasks = StartupTasks();
  if (!tasks.ok()) return tasks.error();
  if (guard_ != nullptr) ReportResolution();
  std::vector<std::string> threads{"main"};
  std::vector<std::string> held;
  for (const PoolStats& p : scheduler_->Stats().pools) {
    if (p.name == "main") continue;
    threads.push_back(p.name);
    if (p.held_until_idle) held.push_back(p.name);
  }
  auto built = StartupPipeline::Build(app_.startup.stages, std::move(tasks).value(),
                                      std::move(threads), std::move(held), FailurePolicy());
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
    trace->SetMetadata(trace_schema::kMetaApp, app_.id);
    trace->SetMetadata(trace_schema::kMetaAppVersion, app_.version.ToString());
    std::string stages;
    for (const auto& st : pipeline->stages()) stages += (stages.empty() ? "" : ",") + st;
    trace->SetMetadata(trace_schema::kMetaStages, stages);
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
      for (const FailedBundle& f : pipeline->FailedBundles()) {
        guard_->OnBundleFailed(f.bundle, f.task, f.reason);
      }
      guard_->OnIdle();
    } else {
      guard_->OnLaunchFailed(result.error().ToString(), result.error().bundle);
    }
  }
  if (Trace* trace = Trace::Active()) {
    trace->SetMetadata(trace_schema::kMetaLaunchMs, std::to_string(MsSince(t0)));
    // The CPUs it could use: `atrium profile` judges the launch's
    // efficiency against the work they could have done.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
      trace->SetMetadata(trace_schema::kMetaCpus, std::to_string(CPU_COUNT(&set)));
    trace->SetMetadata(trace_schema::kMetaResult,
                       result.ok() ? "ok" : "failed: " + result.error().ToString());
  }
  return result;
}

}  // namespace atrium::internal
