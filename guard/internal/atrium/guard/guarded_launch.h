// GuardedLaunch: the launch guard at work inside one process (the container
// owns one when ContainerOptions::launch_guard is set).
//
// Begin, in Container::Open, after the artifact store opened and before any
// bundle code runs:
//   1. reads the crash file the previous process left (<data>/crash.rec),
//      turns it into a crash report, blames an artifact where it can;
//   2. closes the previous launch if it is still "running" (crashed, or
//      killed before it was marked), or records a crash that happened after
//      it was good;
//   3. decides the recovery level (LaunchPolicy) and acts on the artifact
//      store and the hotpatch store; after a failed launch, first re-hashes
//      every active native update (integrity check) and disables a damaged
//      one; every action is recorded with its reason;
//   4. records this launch as "running" (durably) and installs crash capture.
// The container then tells it when the first frame and the idle stage are
// reached (the launch becomes good after the quiet period), when a required
// task failed, and when it closes. A watchdog thread records a hang (main
// loop blocked, or first_frame too late) with the main thread's stack and
// then ends the process (ContainerOptions::on_hang).
//
// When the launch history cannot be read, the guard runs the safe mode:
// level 3, reason given (LaunchPolicy::SafeMode).
//
// Concurrency: Begin and Close on the thread that opens / destroys the
// container; the On* notifications from any thread. Internally a mutex
// guards the launch state; the log has its own.
#ifndef ATRIUM_GUARD_GUARDED_LAUNCH_H_
#define ATRIUM_GUARD_GUARDED_LAUNCH_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/base/clock.h"
#include "atrium/crash_capture.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/guard/watched_work.h"
#include "atrium/launch_guard.h"
#include "atrium/result.h"
#include "atrium/scheduler.h"

namespace atrium::internal {

class LaunchLog;
class Watchdog;
struct HangInfo;

// The exit status of a process the watchdog ended after recording a hang.
inline constexpr int kHangExitStatus = 70;

struct GuardedLaunchOptions {
  std::string data_dir;
  std::string app_version;
  LaunchGuardConfig config;
  // Why the artifact store could not be used as is (it was moved aside or a
  // scratch store is in use): forces the safe mode. Empty normally.
  std::string store_trouble;
  // Called on the watchdog thread after a hang was recorded; empty: the
  // process ends with kHangExitStatus.
  std::function<void()> on_hang;
  // Install the process-wide crash handlers (once per process; a second
  // guarded container in the same process shares the first one's file).
  bool install_crash_capture = true;
  // The app's dynamic layers (the container instantiated them from the
  // registry); the guard lists, disables and rolls back their artifacts.
  // They outlive Begin.
  std::vector<DynamicLayer*> layers;
  // Where time comes from: the launch records' times (and so the policy's
  // windows) and the quiet period. Null: the system clocks. A test that
  // steps a FakeClock calls ClockAdvanced() after each step.
  const Clock* clock = nullptr;
};

class GuardedLaunch {
 public:
  // Never fails: trouble with the history is the safe mode, trouble with an
  // action is logged and recorded, and the launch goes on.
  static std::unique_ptr<GuardedLaunch> Begin(GuardedLaunchOptions options, ArtifactStore& store);
  ~GuardedLaunch();
  GuardedLaunch(const GuardedLaunch&) = delete;
  GuardedLaunch& operator=(const GuardedLaunch&) = delete;

  const LaunchDecision& decision() const { return decision_; }
  // What Begin did, one line each ("disabled native:x@1 (blamed): ...").
  const std::vector<std::string>& actions() const { return actions_; }
  int64_t launch_id() const { return launch_id_; }

  // Starts the watchdog on `scheduler`'s main loop (call once the
  // scheduler exists) and on the work `oldest_watched` reports (the oldest
  // still running, if any). The first_frame limit counts from Begin.
  void StartWatchdog(Scheduler& scheduler,
                     std::function<std::optional<WatchedWork>()> oldest_watched = {});
  void OnStartCalled();
  void OnFirstFrame();
  // The idle stage began: the launch becomes good after the quiet period.
  void OnIdle();
  // A required startup task failed (`bundle` is the failing task's bundle).
  void OnLaunchFailed(const std::string& reason, const std::string& bundle);
  // `bundle` was isolated during the launch, which went on (`task`: the
  // failed task, "" when it failed because a bundle it requires did): the
  // launch record and a report of kind "failure" name it and blame its
  // update, which the next launch disables (LaunchPolicy).
  void OnBundleFailed(const std::string& bundle, const std::string& task,
                      const std::string& reason);
  // A bundle installed but not resolved at this launch: why, and the
  // bundles it requires (by name, resolved or not).
  struct UnresolvedBundle {
    std::string name;
    std::string reason;
    std::vector<std::string> required;
  };
  // The container read its index, before any startup task: `resolved` is
  // recorded when the launch is marked good. A bundle that resolved at the
  // last good launch and is installed but unresolved now fails the launch
  // (kIncomplete), blaming an update among the bundle and what it requires
  // that the last good launch did not run.
  void OnResolution(std::vector<std::string> resolved,
                    const std::vector<UnresolvedBundle>& unresolved);
  // The home micro-app did not open (before the launch was marked): the
  // launch failed (kIncomplete). `suspects`: the home bundle and what it
  // requires, blamed as in OnResolution.
  void OnHomeFailed(const std::string& reason, const std::vector<std::string>& suspects);
  // The active artifacts changed during the launch (a same-launch fallback
  // to an earlier version): the record names what runs now.
  void OnArtifactsChanged();
  // The container is closing cleanly: a launch that reached idle is good; one
  // never started is discarded (not a launch).
  void Close();

  bool good() const { return good_.load(); }
  // The injected clock moved: the quiet period is looked at again.
  void ClockAdvanced();

 private:
  GuardedLaunch() = default;
  void Decide();
  void ReadPreviousCrash(ArtifactStore& store);
  void CheckIntegrity(ArtifactStore& store);
  void Act();
  // Re-enables what was disabled without crash evidence, once enough good
  // launches followed (LaunchGuardConfig::retry_after_good_launches).
  void RetryDisabled();
  void Record(int level, const std::string& what, const std::string& why);
  // The layers' active artifacts and their directories (parallel).
  std::vector<ArtifactRef> ActiveArtifacts(std::vector<std::string>* dirs);
  std::optional<ArtifactRef> BlameBundle(const std::string& bundle) const;
  // The update of the first of `bundles` that is new since the last good
  // launch, else of the first that is an update at all.
  std::optional<ArtifactRef> BlameNewest(const std::vector<std::string>& bundles) const;
  // Marks the launch good once the clock reaches `deadline_ns` (steady).
  void MarkerLoop(int64_t deadline_ns);
  void RecordHang(const HangInfo& hang);

  GuardedLaunchOptions options_;
  std::unique_ptr<LaunchLog> log_;  // null in safe mode (history unreadable)
  LaunchDecision decision_;
  std::vector<std::string> actions_;
  int64_t newest_launch_ = 0;  // the newest launch record when Begin decided
  // This launch's dynamic artifacts and their directories (parallel); set by
  // Begin, replaced under mu_ by OnArtifactsChanged.
  std::vector<ArtifactRef> active_;
  std::vector<std::string> artifact_dirs_;
  // The newest good launch when Begin decided: what it ran and resolved.
  std::vector<ArtifactRef> last_good_artifacts_;
  std::vector<std::string> last_good_resolved_;
  std::vector<std::string> resolved_;  // guarded by mu_: OnResolution's list
  int64_t launch_id_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;  // guarded by mu_
  bool idle_ = false;     // guarded by mu_
  bool ended_ = false;    // guarded by mu_: marked good / failed / discarded
  bool closing_ = false;  // guarded by mu_
  std::atomic<bool> good_{false};
  std::atomic<bool> first_frame_{false};
  std::thread marker_;  // marks the launch good after the quiet period
  std::unique_ptr<Watchdog> watchdog_;
};

// "SIGSEGV", "SIGABRT", ... ("signal 42" otherwise).
std::string SignalName(int signo);

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_GUARDED_LAUNCH_H_
