// LaunchLog: the launch records and guard actions in an app's state.db.
//
// The artifact store owns state.db and its schema (PRAGMA user_version and its
// tables); the launch log shares the file but only creates and touches its own
// tables, with its own schema version in guard_meta:
//   guard_meta(key TEXT PRIMARY KEY, value INTEGER)   -- 'schema_version' = 5,
//            'crash_nonce' (random, made on first use; CrashBinding)
//   launches(id, started_ms, ended_ms, app_version, artifacts JSON, outcome,
//            reason, blamed_kind, blamed_id, blamed_version,
//            level, crashed_after_good, crash_signature,          -- v2 added these 3
//            bundle_failed,                                       -- v3
//            resolved,       -- v4: bundle names resolved at a good launch, one per line
//            artifact_list, resolved_list)  -- v5: the launch_lists rows holding
//            the two lists ('artifacts' and 'resolved' are then ''; launch_artifacts.h)
//   launch_lists(id, digest, text)                                -- v5
//   guard_actions(id, time_ms, level, what, why)
//   guard_retries(kind, id, version, after_launch)                -- v3: disabled
//            without crash evidence, re-enabled after enough good launches
//   crash_reports(id, launch_id, time_ms, kind, signal, signature, thread,
//            bundle, task, patch, micro_app, foreground, persistent, summary,
//            blamed_kind, blamed_id, blamed_version, frames JSON)    -- v2
// Versions 1 to 4 are upgraded in place (columns and tables added).
//
// Order at the start of a launch:
//   OpenForLaunch -> CloseStaleLaunches -> Recent -> LaunchPolicy::Decide ->
//   (recovery actions, RecordAction) -> BeginLaunch -> pipeline ->
//   MarkGood / MarkFailed.
// Every write commits (WAL, synchronous=FULL) before returning, so a launch
// begun and then killed is found "running" by the next process.
//
// Safe mode: OpenForLaunch does not fail. When the database cannot be opened,
// is locked beyond the busy timeout (2 s by default) or fails PRAGMA
// quick_check, it returns no log and the reason; the caller then uses
// LaunchPolicy::SafeMode(reason) (level 3) and says so. Note: opening waits up
// to SqliteDb's own busy timeout (5 s) only if another connection holds a
// rollback-journal lock; state.db is always WAL, where readers are not blocked
// and the 2 s timeout applies to the first write.
//
// Concurrency: a LaunchLog may be used from any thread; a mutex (mu_)
// serializes its one connection. Do not carry one across fork().
#ifndef ATRIUM_GUARD_LAUNCH_LOG_H_
#define ATRIUM_GUARD_LAUNCH_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "atrium/launch_guard.h"
#include "atrium/result.h"

namespace atrium::internal {

class SqliteDb;

struct LaunchLogOptions {
  // Unix ms; the system clock when empty. Tests inject their own.
  std::function<int64_t()> now_ms;
  // How long a write waits for another connection's lock before failing.
  int busy_timeout_ms = 2000;
};

// What a stale "running" launch ended as, when a crash record for it exists.
struct StaleCrash {
  std::string reason;  // "SIGSEGV in com.wallet.bill"
  std::optional<ArtifactRef> blamed;
  std::string signature{};  // CrashSignature, "" when unknown
  int64_t time_ms = 0;      // when it crashed (Unix ms); 0: unknown, the close time is used
};

class LaunchLog {
 public:
  // Opens (creating) the database at `path`, checks it (PRAGMA quick_check)
  // and creates the guard tables. kCorrupt when damaged or when the guard
  // schema version is unknown; kIo otherwise (including SQLITE_BUSY).
  static Result<std::unique_ptr<LaunchLog>> Open(const std::string& path,
                                                 LaunchLogOptions options = {});
  ~LaunchLog();
  LaunchLog(const LaunchLog&) = delete;
  LaunchLog& operator=(const LaunchLog&) = delete;

  // Inserts a "running" row and commits; returns its id.
  Result<int64_t> BeginLaunch(const std::string& app_version,
                              const std::vector<ArtifactRef>& active_artifacts, int level = 0);
  // Removes launch `id` while still running (a guarded container closed
  // without ever starting: not a launch). kState when it is not running.
  Status Discard(int64_t id);
  // kState when launch `id` is not running (unknown or already ended).
  // `resolved`: the bundles resolved at this launch, which the next launches
  // compare theirs with (in the same write).
  Status MarkGood(int64_t id, const std::vector<std::string>& resolved = {});
  // The artifacts launch `id` runs, replaced (a same-launch fallback brought
  // an earlier version back). kState when it is unknown.
  Status UpdateArtifacts(int64_t id, const std::vector<ArtifactRef>& active_artifacts);
  // `outcome` must be a failure other than kKilledBeforeMark
  // (kInvalidArgument otherwise).
  Status MarkFailed(int64_t id, LaunchOutcome outcome, const std::string& reason,
                    const std::optional<ArtifactRef>& blamed = std::nullopt,
                    const std::string& signature = {});
  // A launch already good that then crashed or hung (found by the next
  // launch, or by the watchdog): records the crash on it; the outcome stays
  // good. kState when launch `id` is not good.
  Status AttachCrashAfterGood(int64_t id, const std::string& reason,
                              const std::optional<ArtifactRef>& blamed,
                              const std::string& signature);
  // A bundle was isolated during launch `id` (running or good; the launch
  // goes on): sets bundle_failed, appends `reason`, and blames `blamed`
  // unless an artifact is blamed already. kState otherwise.
  Status NoteBundleFailure(int64_t id, const std::string& reason,
                           const std::optional<ArtifactRef>& blamed);
  // Artifacts disabled without crash evidence, to retry after good launches.
  struct Retry {
    ArtifactRef artifact;
    int64_t after_launch = 0;  // the newest launch when it was disabled
    int good_since = 0;        // good launches with a larger id
  };
  Status AddRetry(const ArtifactRef& artifact, int64_t after_launch);
  Status RemoveRetry(const ArtifactRef& artifact);
  Result<std::vector<Retry>> Retries();
  // Ends every row still "running" (left by a process that died): the newest
  // becomes "crashed" with `crash`'s reason when a crash record exists, the
  // rest "killed before mark". Returns how many rows were closed. Call before
  // BeginLaunch of the current process.
  Result<int> CloseStaleLaunches(const std::optional<StaleCrash>& crash = std::nullopt);
  // The newest `n` launches, newest first.
  Result<std::vector<LaunchRecord>> Recent(int n);

  // Stores a crash report (its id is assigned). `persistent` is computed
  // here: true when the launch before report.launch_id ended with a crash of
  // the same signature.
  Result<StoredCrashReport> AddCrashReport(StoredCrashReport report);
  // The newest `n` crash reports, newest first.
  Result<std::vector<StoredCrashReport>> RecentCrashReports(int n);

  // This data directory's random crash-record nonce (guard_meta
  // 'crash_nonce'), made on first use; see CrashBinding.
  Result<uint64_t> CrashNonce();

  Status RecordAction(int level, const std::string& what, const std::string& why);
  // The newest `n` actions, newest first.
  Result<std::vector<GuardAction>> RecentActions(int n);

 private:
  LaunchLog(std::unique_ptr<SqliteDb> db, LaunchLogOptions options);
  int64_t Now() const;

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  const LaunchLogOptions options_;
};

// LaunchLog::Open that never fails: `log` is null in safe mode and
// `safe_mode_reason` says why ("state.db: opening the database: ...").
struct LaunchLogOpen {
  std::unique_ptr<LaunchLog> log;
  std::string safe_mode_reason;
  bool safe_mode() const { return log == nullptr; }
};
LaunchLogOpen OpenForLaunch(const std::string& path, LaunchLogOptions options = {});

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_LAUNCH_LOG_H_
