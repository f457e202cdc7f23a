// UpdateSync: the update cycle after a launch, as a container extension.
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "atrium/base/clock.h"
#include "atrium/base/file_util.h"
#include "atrium/base/log.h"
#include "atrium/container_extension.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/update.h"
#include "atrium/dynamic/update/testing.h"
#include "update_settings.h"

namespace atrium {

UpdateSync::~UpdateSync() = default;

std::shared_ptr<UpdateSync> UpdateSync::Of(Container& container) {
  return std::static_pointer_cast<UpdateSync>(container.services().Get(kInterfaceId));
}

namespace update {
namespace {

std::atomic<const internal::Clock*> test_clock{nullptr};

const internal::Clock& Now() {
  const internal::Clock* c = test_clock.load();
  return c != nullptr ? *c : internal::RealClock();
}

// Shared by the extension and its task, so a task that runs after the
// container closed finds `detached` and touches nothing.
class SyncState final : public UpdateSync {
 public:
  bool WaitUntilDone(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  std::string status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  std::optional<UpdateReport> report() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return report_;
  }

  void SetStatus(std::string s, bool done) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(s);
    if (done) done_ = true;
    cv_.notify_all();
  }
  void Finish(Result<UpdateReport> r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (r.ok()) {
      size_t staged = 0, failed = 0, skipped = 0;
      for (const auto& t : r->targets) {
        staged += t.action == UpdateAction::kStaged;
        failed += t.action == UpdateAction::kFailed;
        skipped += t.action == UpdateAction::kSkipped;
      }
      status_ = "done: " + std::to_string(staged) + " staged, " + std::to_string(skipped) +
                " skipped, " + std::to_string(failed) + " failed";
      report_ = std::move(r).value();
    } else {
      status_ = (cancel.load() ? "cancelled: " : "failed: ") + r.error().ToString();
    }
    done_ = true;
    cv_.notify_all();
  }

  // Runs the cycle unless detached; returns false when it did not run.
  bool Enter() {
    std::lock_guard<std::mutex> lock(mu_);
    if (detached_) return false;
    running_ = true;
    return true;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    cv_.notify_all();
  }
  // Cancels a running cycle and waits for it to leave; later tasks do nothing.
  void Detach() {
    cancel = true;
    std::unique_lock<std::mutex> lock(mu_);
    detached_ = true;
    cv_.wait(lock, [&] { return !running_; });
    if (!done_) {
      status_ = "cancelled: the container closed";
      done_ = true;
      cv_.notify_all();
    }
  }

  std::atomic<bool> cancel{false};

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string status_ = "waiting for the idle stage";  // guarded by mu_
  std::optional<UpdateReport> report_;                 // guarded by mu_
  bool done_ = false;                                  // guarded by mu_
  bool running_ = false;                               // guarded by mu_
  bool detached_ = false;                              // guarded by mu_
};

class UpdateSyncExtension final : public ContainerExtension {
 public:
  ~UpdateSyncExtension() override { Detach(); }

  Status Attach(Container& container, std::shared_ptr<Executor> background) override {
    auto settings = internal::ReadUpdateSettings(container.app());
    if (!settings.ok()) return settings.error();
    if (!settings->present || settings->repository.empty()) return Status::Ok();
    state_ = std::make_shared<SyncState>();
    auto id = container.services().Register(
        UpdateSync::kInterfaceId,
        std::static_pointer_cast<void>(std::static_pointer_cast<UpdateSync>(state_)));
    if (!id.ok()) return id.error();
    container_ = &container;
    registration_ = *id;
    // Due? The last successful cycle's time, in Unix seconds.
    const int64_t now_s = Now().NowUnixMs() / 1000;
    const std::string last_path = container.data_dir() + "/updates/last_sync";
    auto last = internal::ReadSmallFile(last_path, 64);
    if (last.ok()) {
      const int64_t last_s = std::atoll(last->c_str());
      if (last_s > 0 && now_s - last_s < settings->interval_s && now_s >= last_s) {
        state_->SetStatus("not due until " + tuf::FormatUtcTime(last_s + settings->interval_s),
                          true);
        return Status::Ok();
      }
    }
    std::shared_ptr<SyncState> state = state_;
    Container* c = &container;
    return background->Post(
        [state, c, last_path] {
          if (!state->Enter()) return;
          state->SetStatus("running", false);
          UpdateOptions options;
          options.cancel = &state->cancel;
          options.now_unix_s = Now().NowUnixMs() / 1000;
          Result<UpdateReport> r = MakeError(ErrorCode::kInternal, "not run");
          try {
            r = RunUpdateCycle(*c, options);
          } catch (const std::exception& e) {
            r = MakeError(ErrorCode::kInternal, std::string("update cycle threw: ") + e.what());
          }
          if (r.ok()) {
            (void)internal::AtomicWriteFile(last_path,
                                            std::to_string(Now().NowUnixMs() / 1000) + "\n");
          } else {
            internal::Log(LogLevel::kWarning, "", "update sync: " + r.error().ToString());
          }
          state->Finish(std::move(r));
          state->Leave();
        },
        TaskTraits{}.Priority(TaskPriority::kBestEffort).MayBlock());
  }

  void Detach() override {
    if (state_) state_->Detach();
    if (container_ != nullptr) (void)container_->services().Unregister(registration_);
    container_ = nullptr;
  }

 private:
  std::shared_ptr<SyncState> state_;
  Container* container_ = nullptr;
  uint64_t registration_ = 0;
};

ContainerExtensionSpec SyncSpec() {
  ContainerExtensionSpec spec;
  spec.name = "atrium.update";
  spec.create = [] { return std::make_unique<UpdateSyncExtension>(); };
  return spec;
}
ATRIUM_REGISTER_CONTAINER_EXTENSION(SyncSpec());

}  // namespace

void SetUpdateClockForTesting(const internal::Clock* clock) { test_clock = clock; }

}  // namespace update
}  // namespace atrium
