// What a bundle sees: its context (startup tasks, executors pinned to its
// library, its private store).
#include "container_impl.h"

namespace fs = std::filesystem;

namespace atrium::internal {

Status BundleContextImpl::RegisterStartupTask(std::string_view id, std::function<Status()> run) {
  if (!run) return MakeError(ErrorCode::kInvalidArgument, "empty startup task handler");
  if (std::find(declared_tasks_.begin(), declared_tasks_.end(), id) == declared_tasks_.end()) {
    // It would never run: the pipeline runs only the tasks bundle.json declares.
    std::string declared;
    for (const std::string& d : declared_tasks_) declared += (declared.empty() ? "" : ", ") + d;
    Error e = MakeError(ErrorCode::kNotFound,
                        "startup task '" + std::string(id) + "' is not declared in " + name_ +
                            "'s bundle.json (declared: " +
                            (declared.empty() ? std::string("none") : declared) + ")");
    e.bundle = name_;
    return e;
  }
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

}  // namespace atrium::internal
