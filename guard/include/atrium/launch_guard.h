// The launch guard's policy surface: what a launch record says, how the
// three-strike escalation is configured, and the decision taken at the start
// of a launch, before any bundle code runs.
//
// A launch is recorded (durably, before the pipeline starts) with its app
// version and the dynamic artifacts that were active. It ends as one of the
// LaunchOutcome values. Consecutive failed launches escalate:
//   level 1 (after `disable_recent` failures): disable the dynamic artifacts
//            activated since the last good launch, the blamed one first;
//   level 2 (after `rollback_all`): roll every dynamic artifact back to its
//            previous version, or to baseline where there is none;
//   level 3 (after `baseline_only`): disable every downloaded artifact of
//            every layer and clear the caches: the shipped baseline.
//            Per-bundle private storage is kept.
// A failure that started more than `window` before the next-newer failure
// breaks the streak; a good launch resets it.
//
// When the launch history cannot be read (the state database is missing,
// damaged, or locked beyond a short busy timeout) the guard answers level 3
// ("safe mode") and says why: LaunchPolicy::SafeMode.
//
// Concurrency: value types and pure functions; LaunchPolicy is immutable and
// may be used from any thread.
#ifndef ATRIUM_LAUNCH_GUARD_H_
#define ATRIUM_LAUNCH_GUARD_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

enum class LaunchOutcome {
  kRunning,             // recorded, not yet ended (or the process died)
  kGood,                // reached idle and stayed up the quiet period
  kCrashed,             // a fatal signal or uncaught exception (crash record exists)
  kHung,                // the watchdog found the main loop blocked
  kRequiredTaskFailed,  // a required startup task failed
  kKilledBeforeMark,    // the process ended before the launch was marked, no crash record
  // The app did not come up whole: the home micro-app failed to open, or
  // bundles that resolved at the last good launch no longer resolve.
  kIncomplete,
};

// "running", "good", "crashed", "hung", "required task failed",
// "killed before mark", "incomplete" (the text stored in state.db and shown by
// `atrium launches`).
ATRIUM_EXPORT const char* LaunchOutcomeName(LaunchOutcome outcome);
ATRIUM_EXPORT std::optional<LaunchOutcome> ParseLaunchOutcome(std::string_view name);
// True for the outcomes that count as a failed launch.
ATRIUM_EXPORT bool IsFailedLaunch(LaunchOutcome outcome);

struct LaunchRecord {
  int64_t id = 0;
  int64_t started_ms = 0;  // Unix ms
  int64_t ended_ms = 0;    // 0 while running
  std::string app_version;
  std::vector<ArtifactRef> active_artifacts;
  LaunchOutcome outcome = LaunchOutcome::kRunning;
  std::string reason;                 // "SIGSEGV in com.wallet.bill"; empty when good
  std::optional<ArtifactRef> blamed;  // what the failure points at, when known
  int level = 0;                      // the recovery level decided at its start
  // The launch was good, then the process crashed in the background (found
  // by the next launch): the crash's signature, blamed artifact and reason
  // are recorded on it, the outcome stays kGood.
  bool crashed_after_good = false;
  std::string crash_signature;  // of the crash or hang that ended it, if any
  // A bundle failed and was isolated (the launch went on, docs/startup.md):
  // its reason is in `reason`, the update it points at in `blamed`.
  bool bundle_failed = false;
  // The bundles resolved at this launch (recorded when it was marked good;
  // empty for other outcomes and for records older than schema version 4).
  std::vector<std::string> resolved;
};

// A crash or hang turned into a report (the launch after a crash, or the
// watchdog at the hang), for `atrium crashes <app>`.
struct StoredCrashReport {
  int64_t id = 0;
  int64_t launch_id = 0;  // the launch that crashed
  int64_t time_ms = 0;    // when it happened (Unix ms)
  std::string kind;  // "native", "lua", "hang", "exit" (exit()/quick_exit() while a bundle ran) or
  // "failure" (a bundle isolated, no crash)
  int signal = 0;                                         // 0 for a hang
  std::string signature;                                  // CrashSignature: stable across runs
  std::string thread, bundle, task, artifact, micro_app;  // artifact: "kind:id"
  bool foreground = false;
  bool persistent = false;  // the same signature ended the launch before
  std::string summary;      // "SIGSEGV at 0x0 in com.wallet.bill:register_routes"
  std::optional<ArtifactRef> blamed;
  std::vector<std::string> frames;  // "libwallet_bill.so+0x1234 Fault()" per frame
};

// The newest `n` crash reports in `state_db`, newest first (errors as
// ReadLaunchHistory).
ATRIUM_EXPORT Result<std::vector<StoredCrashReport>> ReadCrashReports(const std::string& state_db,
                                                                      int n);

// What the guard did and why (shown by `atrium launches <app>`).
struct GuardAction {
  int64_t id = 0;
  int64_t time_ms = 0;
  int level = 0;
  std::string what;  // "disabled native:com.wallet.bill@1.2.0"
  std::string why;   // the LaunchDecision reason
};

// The launch history of an app, for `atrium launches <app>`.
struct LaunchHistory {
  std::vector<LaunchRecord> launches;  // newest first
  std::vector<GuardAction> actions;    // newest first
};

// Reads the newest `n` launches and guard actions from `state_db` (the app's
// state.db; its guard tables are created when missing). Errors name the file:
// kCorrupt when damaged, kIo when it cannot be opened or stays locked.
ATRIUM_EXPORT Result<LaunchHistory> ReadLaunchHistory(const std::string& state_db, int n);

enum class RecoveryLevel : int {
  kNone = 0,
  kDisableRecent = 1,
  kRollbackAll = 2,
  kBaselineOnly = 3,
};

// What a recovery level does, in the order listed for it ("actions" in
// app.json, by these names). The guard acts on artifacts only through the
// registered dynamic layers (atrium/dynamic/dynamic_layer.h); per-bundle
// private storage is never touched.
//   "disable_recent"      the blamed artifact when there is one, else every
//                         dynamic artifact activated since the last good launch
//   "disable_all_recent"  every artifact activated since the last good launch,
//                         blamed or not
//   "rollback_all"        every layer rolls each active artifact back to its
//                         previous version, or to the baseline
//   "rollback:<kind>"     the layer of that kind does ("rollback:lua_patch")
//   "disable_all"         every layer disables every downloaded artifact: the
//                         shipped baseline only
//   "disable:<kind>"      the layer of that kind does
//   "clear_caches"        <data>/cache, the derived bundle index and every
//                         layer's derived data
struct RecoveryAction {
  enum class Type {
    kDisableRecent,
    kDisableAllRecent,
    kRollbackAll,
    kRollbackKind,
    kDisableAll,
    kDisableKind,
    kClearCaches,
  };
  Type type = Type::kDisableRecent;
  std::string kind;  // the layer's kind, for kRollbackKind and kDisableKind

  friend bool operator==(const RecoveryAction&, const RecoveryAction&) = default;
};
// "disable_recent", "rollback:lua_patch", ...
ATRIUM_EXPORT std::string RecoveryActionName(const RecoveryAction& action);
// The inverse of RecoveryActionName; nullopt for any other text. Whether a
// kind names a registered layer is checked by ParseLaunchGuardConfig.
ATRIUM_EXPORT std::optional<RecoveryAction> ParseRecoveryAction(std::string_view name);
// The defaults: level 1 disable_recent; level 2 rollback_all; level 3
// disable_all, clear_caches. Empty for kNone.
ATRIUM_EXPORT std::vector<RecoveryAction> DefaultRecoveryActions(RecoveryLevel level);

// app.json "launch_guard":
//   {"levels": {"disable_recent": 1, "rollback_all": 2, "baseline_only": 3},
//    "window_hours": 24, "quiet_period_ms": 5000,
//    "watchdog": {"first_frame_ms": 20000, "main_loop_blocked_ms": 5000},
//    "actions": {"disable_recent": ["disable_recent"],
//                "rollback_all": ["rollback_all"],
//                "baseline_only": ["disable_all", "clear_caches"]}}
// Every field is optional; these are the defaults.
struct LaunchGuardConfig {
  int disable_recent = 1;  // consecutive failures that trigger level 1
  int rollback_all = 2;    // ... level 2
  int baseline_only = 3;   // ... level 3
  std::chrono::milliseconds window = std::chrono::hours(24);
  std::chrono::milliseconds quiet_period = std::chrono::milliseconds(5000);
  // The watchdog: a launch whose first_frame stage has not been reached
  // within `first_frame_limit` of the launch start, or whose main loop is
  // blocked in one task longer than `main_loop_blocked_limit`, is recorded
  // as hung (with the main thread's stack) and the process ends. 0 = off.
  std::chrono::milliseconds first_frame_limit = std::chrono::milliseconds(20000);
  std::chrono::milliseconds main_loop_blocked_limit = std::chrono::milliseconds(5000);
  // An artifact disabled without crash evidence (every failure of the
  // streak was a launch killed before its mark: a force-quit, an OOM kill)
  // is re-enabled after this many good launches; 0 = never.
  int retry_after_good_launches = 3;
  // What each level does, in order (index 0 = level 1).
  std::vector<RecoveryAction> level_actions[3] = {
      DefaultRecoveryActions(RecoveryLevel::kDisableRecent),
      DefaultRecoveryActions(RecoveryLevel::kRollbackAll),
      DefaultRecoveryActions(RecoveryLevel::kBaselineOnly)};
};

// Strict parse of the "launch_guard" object (the whole document is that
// object): unknown fields, wrong types and out-of-range values are
// kValidation errors naming `file` and the JSON pointer ("/levels/rollback_all");
// syntax errors are kParse errors with the byte offset. Thresholds are in
// [1, 100] and must not decrease from level 1 to level 3; window_hours is a
// number in (0, 8760]; quiet_period_ms an integer in [0, 600000]; the
// watchdog limits integers in [0, 600000] (0 turns that check off); each
// "actions" list holds distinct action names (an empty list records the
// decision and does nothing); the kind of "rollback:<kind>" and
// "disable:<kind>" must be a registered dynamic layer's.
ATRIUM_EXPORT Result<LaunchGuardConfig> ParseLaunchGuardConfig(std::string_view json,
                                                               std::string_view file);

struct LaunchDecision {
  RecoveryLevel level = RecoveryLevel::kNone;
  int consecutive_failures = 0;
  // Artifacts active in the failed launches of the streak but not in the
  // last good launch (all of them when there was none), newest launch first,
  // in each launch's order. When the newest failure blames an artifact it is
  // first, even if it was also active in the last good launch (the crash
  // points at it).
  std::vector<ArtifactRef> suspects;
  // Level 1 disables exactly the blamed artifact when there is one, else
  // every suspect. A crash after a good launch with the same signature on
  // two consecutive launches (persistent, attributable) also gives level 1
  // with `blamed` set and consecutive_failures 0.
  std::optional<ArtifactRef> blamed;
  // Readable: "2 consecutive failed launches (crashed: SIGSEGV in
  // com.wallet.bill; hung: main loop blocked 8.0 s) within 24 h: rolling
  // every dynamic artifact back".
  std::string reason;
  // What this launch does: the configured actions of `level`.
  std::vector<RecoveryAction> actions;
  // The launch history could not be read: level is kBaselineOnly.
  bool safe_mode = false;
  // Every failure of the streak was a launch killed before its mark, with no
  // crash or hang record: no evidence against any artifact. Such a streak
  // goes no further than level 1, and what level 1 disables is retried
  // after LaunchGuardConfig::retry_after_good_launches good launches.
  bool without_evidence = false;
};

// The escalation decision. Pure and deterministic: time enters only through
// the records' timestamps.
class ATRIUM_EXPORT LaunchPolicy {
 public:
  explicit LaunchPolicy(LaunchGuardConfig config = {}) : config_(config) {}

  const LaunchGuardConfig& config() const { return config_; }

  // `history` is newest first (LaunchLog::Recent). Rows still "running" are
  // skipped: the caller closes stale launches before deciding.
  LaunchDecision Decide(const std::vector<LaunchRecord>& history) const;

  // The answer when the history cannot be read: level 3 with reason
  // "cannot read launch history: <why>; starting from the shipped baseline".
  static LaunchDecision SafeMode(std::string_view why);

 private:
  LaunchGuardConfig config_;
};

}  // namespace atrium

#endif  // ATRIUM_LAUNCH_GUARD_H_
