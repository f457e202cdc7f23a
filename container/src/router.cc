// Micro-app resolution (which bundle declares an id) and the router's
// launch: filters, loading the bundle, the launcher of its type.
#include <unistd.h>

#include "container_impl.h"

namespace atrium::internal {

Result<LaunchRequest> ContainerImpl::ResolveApp(std::string_view app_id) {
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
  LaunchRequest req;
  req.app_id = std::string(app_id);
  req.bundle = std::string(b.name);
  req.bundle_dir = std::string(b.dir);
  req.type = std::string(app->type);
  req.entry = std::string(app->entry);
  return req;
}

Status RouterImpl::Launch(std::string_view app_id, LaunchParams params, std::string path) {
  const uint64_t watch = container_->BeginWatched("micro-app '" + std::string(app_id) + "' open");
  Status result = Open(app_id, std::move(params), std::move(path));
  container_->EndWatched(watch);
  container_->OnMicroAppOpened(app_id, result);
  return result;
}

uint64_t ContainerImpl::BeginWatched(std::string what) {
  if (guard_ == nullptr) return 0;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  std::lock_guard lock(watched_mu_);
  watched_.emplace(++next_watched_, WatchedWork{now, gettid(), std::move(what)});
  return next_watched_;
}

void ContainerImpl::EndWatched(uint64_t id) {
  if (id == 0) return;
  std::lock_guard lock(watched_mu_);
  watched_.erase(id);
}

std::optional<WatchedWork> ContainerImpl::OldestWatched() {
  std::lock_guard lock(watched_mu_);
  if (watched_.empty()) return std::nullopt;
  return watched_.begin()->second;  // ids grow with time
}

void ContainerImpl::OnMicroAppOpened(std::string_view app_id, const Status& result) {
  if (guard_ == nullptr || result.ok() || app_id != app_.home) return;
  guard_->OnHomeFailed(result.error().ToString(),
                       BundleAndRequirements(result.error().bundle.empty()
                                                 ? std::string_view(app_id)
                                                 : std::string_view(result.error().bundle)));
}

std::vector<DeclaredMicroApp> RouterImpl::SourcedMicroApps() {
  std::vector<DeclaredMicroApp> out;
  for (const auto& source : Sources()) {
    for (DeclaredMicroApp& app : source->List()) out.push_back(std::move(app));
  }
  return out;
}

Status RouterImpl::Open(std::string_view app_id, LaunchParams params, std::string path) {
  auto req = container_->ResolveApp(app_id);
  if (!req.ok() && req.error().code == ErrorCode::kNotFound) {
    for (const auto& source : Sources()) {
      std::optional<DeclaredMicroApp> declared = source->Find(app_id);
      if (!declared) continue;
      LaunchRequest sourced;
      sourced.app_id = std::string(app_id);
      sourced.type = std::move(declared->type);
      sourced.entry = std::move(declared->entry);
      req = std::move(sourced);
      break;
    }
  }
  if (!req.ok()) return req.error();
  req->path = std::move(path);
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
  // By name: the index may have been rebuilt since ResolveApp (filters
  // are host code). A sourced micro-app has no bundle.
  if (!req->bundle.empty()) {
    Status loaded = container_->LoadNamed(req->bundle, "micro-app " + req->app_id);
    if (!loaded.ok()) return loaded;
  }
  req->params = std::move(params);
  ActivityScope activity(ActivityField::kMicroApp, req->app_id);
  return launcher->Launch(*req);
}

}  // namespace atrium::internal
