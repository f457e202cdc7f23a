#include "launch_log.h"

#include <sys/random.h>

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "atrium/base/sqlite_db.h"
#include "launch_artifacts.h"

namespace atrium::internal {

namespace json = boost::json;

namespace {

constexpr int64_t kGuardSchemaVersion = 5;

// Upgrading to version 5: each earlier row's lists move to launch_lists
// (a row at a time: an app's history may hold tens of MB of them).
Status MoveListsOutOfRows(SqliteDb& db) {
  std::vector<int64_t> ids;
  {
    Statement rows(db.handle(), "SELECT id FROM launches WHERE artifacts != '' OR resolved != ''");
    int rc;
    while ((rc = rows.Step()) == SQLITE_ROW) ids.push_back(rows.Int(0));
    if (rc != SQLITE_DONE) return db.SqlError(rc, "reading the launches to upgrade");
  }
  for (int64_t id : ids) {
    std::string artifacts, resolved;
    {
      Statement row(db.handle(), "SELECT artifacts, resolved FROM launches WHERE id = ?1");
      row.Bind(1, id);
      if (int rc = row.Step(); rc != SQLITE_ROW) return db.SqlError(rc, "reading a launch");
      artifacts = row.Text(0);
      resolved = row.Text(1);
    }
    int64_t lists[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      const std::string& text = i == 0 ? artifacts : resolved;
      if (text.empty()) continue;
      Result<int64_t> list = InternLaunchList(db, text);
      if (!list.ok()) return list.error();
      lists[i] = *list;
    }
    Statement update(db.handle(),
                     "UPDATE launches SET artifacts = '', resolved = '', artifact_list = ?1, "
                     "resolved_list = ?2 WHERE id = ?3");
    update.Bind(1, lists[0]).Bind(2, lists[1]).Bind(3, id);
    if (Status s = db.Run(update, "moving a launch's lists"); !s.ok()) return s;
  }
  return Status::Ok();
}

// PRAGMA quick_check: kCorrupt naming the first finding unless it answers "ok".
Status QuickCheck(SqliteDb& db) {
  Statement s(db.handle(), "PRAGMA quick_check");
  int rc = s.Step();
  if (rc != SQLITE_ROW) return db.SqlError(rc, "checking integrity");
  std::string report = s.Text(0);
  if (report == "ok") return Status::Ok();
  // The report is one or more rows of one or more lines, possibly headed
  // "*** in database main ***": keep the first finding and count the rest.
  while ((rc = s.Step()) == SQLITE_ROW) report += "\n" + s.Text(0);
  std::string first;
  size_t lines = 0;
  for (size_t start = 0; start <= report.size();) {
    size_t end = report.find('\n', start);
    if (end == std::string::npos) end = report.size();
    std::string line = report.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line.rfind("*** ", 0) == 0) continue;
    if (++lines == 1) first = line;
  }
  if (first.empty()) first = report;
  if (lines > 1) first += " (and " + std::to_string(lines - 1) + " more)";
  return FileError(ErrorCode::kCorrupt, db.path(), "integrity check failed: " + first);
}

}  // namespace

LaunchLog::LaunchLog(std::unique_ptr<SqliteDb> db, LaunchLogOptions options)
    : db_(std::move(db)), options_(std::move(options)) {}

LaunchLog::~LaunchLog() = default;

int64_t LaunchLog::Now() const { return options_.now_ms ? options_.now_ms() : NowUnixMs(); }

Result<std::unique_ptr<LaunchLog>> LaunchLog::Open(const std::string& path,
                                                   LaunchLogOptions options) {
  Result<std::unique_ptr<SqliteDb>> opened = SqliteDb::Open(path);
  if (!opened.ok()) return opened.error();
  std::unique_ptr<SqliteDb> db = std::move(opened).value();
  int rc = sqlite3_busy_timeout(db->handle(), options.busy_timeout_ms);
  if (rc != SQLITE_OK) return db->SqlError(rc, "setting the busy timeout");
  if (Status s = QuickCheck(*db); !s.ok()) return s.error();
  {
    SqliteDb::WriteTransaction tx(db.get());
    if (Status s = tx.Begin(); !s.ok()) return s.error();
    if (Status s = db->Exec(
            "CREATE TABLE IF NOT EXISTS guard_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS launches("
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, started_ms INTEGER NOT NULL,"
            "  ended_ms INTEGER NOT NULL DEFAULT 0, app_version TEXT NOT NULL,"
            "  artifacts TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',"
            "  blamed_kind TEXT NOT NULL DEFAULT '', blamed_id TEXT NOT NULL DEFAULT '',"
            "  blamed_version TEXT NOT NULL DEFAULT '');"
            "CREATE INDEX IF NOT EXISTS launches_by_outcome ON launches(outcome);"
            "CREATE TABLE IF NOT EXISTS guard_actions("
            "  id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
            "  level INTEGER NOT NULL, what TEXT NOT NULL, why TEXT NOT NULL);",
            "creating the launch guard tables");
        !s.ok()) {
      return s.error();
    }
    int64_t have = 0;
    {
      Statement version(db->handle(), "SELECT value FROM guard_meta WHERE key = 'schema_version'");
      rc = version.Step();
      if (rc == SQLITE_ROW) {
        have = version.Int(0);
      } else if (rc != SQLITE_DONE) {
        return db->SqlError(rc, "reading the launch guard schema version");
      }
    }
    if (have > kGuardSchemaVersion || have < 0) {
      return FileError(ErrorCode::kCorrupt, path,
                       "launch guard schema version " + std::to_string(have) +
                           " is not a version this build knows (1 to " +
                           std::to_string(kGuardSchemaVersion) + ")");
    }
    if (have < 2) {
      // New databases (no version row yet) and version 1 both get here.
      if (Status s = db->Exec(
              "ALTER TABLE launches ADD COLUMN level INTEGER NOT NULL DEFAULT 0;"
              "ALTER TABLE launches ADD COLUMN crashed_after_good INTEGER NOT NULL DEFAULT 0;"
              "ALTER TABLE launches ADD COLUMN crash_signature TEXT NOT NULL DEFAULT '';"
              "CREATE TABLE crash_reports("
              "  id INTEGER PRIMARY KEY AUTOINCREMENT, launch_id INTEGER NOT NULL,"
              "  time_ms INTEGER NOT NULL, kind TEXT NOT NULL, signal INTEGER NOT NULL,"
              "  signature TEXT NOT NULL, thread TEXT NOT NULL, bundle TEXT NOT NULL,"
              "  task TEXT NOT NULL, patch TEXT NOT NULL, micro_app TEXT NOT NULL,"
              "  foreground INTEGER NOT NULL, persistent INTEGER NOT NULL, summary TEXT NOT NULL,"
              "  blamed_kind TEXT NOT NULL, blamed_id TEXT NOT NULL, blamed_version TEXT NOT NULL,"
              "  frames TEXT NOT NULL);"
              "INSERT OR REPLACE INTO guard_meta VALUES('schema_version', 2);",
              "upgrading the launch guard tables to version 2");
          !s.ok()) {
        return s.error();
      }
    }
    if (have < 3) {
      if (Status s =
              db->Exec("ALTER TABLE launches ADD COLUMN bundle_failed INTEGER NOT NULL DEFAULT 0;"
                       "CREATE TABLE guard_retries(kind TEXT NOT NULL, id TEXT NOT NULL,"
                       "  version TEXT NOT NULL, after_launch INTEGER NOT NULL,"
                       "  PRIMARY KEY(kind, id, version));"
                       "INSERT OR REPLACE INTO guard_meta VALUES('schema_version', 3);",
                       "upgrading the launch guard tables to version 3");
          !s.ok()) {
        return s.error();
      }
    }
    if (have < 4) {
      if (Status s = db->Exec("ALTER TABLE launches ADD COLUMN resolved TEXT NOT NULL DEFAULT '';"
                              "INSERT OR REPLACE INTO guard_meta VALUES('schema_version', 4);",
                              "upgrading the launch guard tables to version 4");
          !s.ok()) {
        return s.error();
      }
    }
    if (have < 5) {
      // Each distinct list once (launch_artifacts.h).
      if (Status s =
              db->Exec("CREATE TABLE launch_lists(id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  digest INTEGER NOT NULL, text TEXT NOT NULL);"
                       "CREATE INDEX launch_lists_by_digest ON launch_lists(digest);"
                       "ALTER TABLE launches ADD COLUMN artifact_list INTEGER NOT NULL DEFAULT 0;"
                       "ALTER TABLE launches ADD COLUMN resolved_list INTEGER NOT NULL DEFAULT 0;"
                       "INSERT OR REPLACE INTO guard_meta VALUES('schema_version', 5);",
                       "upgrading the launch guard tables to version 5");
          !s.ok()) {
        return s.error();
      }
      if (Status s = MoveListsOutOfRows(*db); !s.ok()) return s.error();
    }
    if (Status s = tx.Commit(); !s.ok()) return s.error();
  }
  return std::unique_ptr<LaunchLog>(new LaunchLog(std::move(db), std::move(options)));
}

Result<uint64_t> LaunchLog::CrashNonce() {
  std::lock_guard<std::mutex> lock(mu_);
  auto read_nonce = [&]() -> Result<std::optional<uint64_t>> {
    Statement read(db_->handle(), "SELECT value FROM guard_meta WHERE key = 'crash_nonce'");
    const int rc = read.Step();
    if (rc == SQLITE_ROW) return std::optional<uint64_t>(static_cast<uint64_t>(read.Int(0)));
    if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading the crash nonce");
    return std::optional<uint64_t>();
  };
  // Every launch reads it; only the first one writes (no write lock taken
  // otherwise).
  if (auto have = read_nonce(); !have.ok() || *have) {
    return have.ok() ? Result<uint64_t>(**have) : Result<uint64_t>(have.error());
  }
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s.error();
  if (auto raced = read_nonce(); !raced.ok() || *raced) {
    return raced.ok() ? Result<uint64_t>(**raced) : Result<uint64_t>(raced.error());
  }
  uint64_t nonce = 0;
  while (nonce == 0) {
    if (getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce)) {
      return MakeError(ErrorCode::kIo, "no random bytes for the crash nonce");
    }
  }
  Statement insert(db_->handle(), "INSERT INTO guard_meta VALUES('crash_nonce', ?1)");
  insert.Bind(1, static_cast<int64_t>(nonce));
  if (Status s = db_->Run(insert, "storing the crash nonce"); !s.ok()) return s.error();
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return nonce;
}

Result<int64_t> LaunchLog::BeginLaunch(const std::string& app_version,
                                       const std::vector<ArtifactRef>& active_artifacts,
                                       int level) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s.error();
  Result<int64_t> set = InternLaunchList(*db_, ArtifactsToJson(active_artifacts));
  if (!set.ok()) return set.error();
  Statement insert(db_->handle(),
                   "INSERT INTO launches(started_ms, app_version, artifacts, artifact_list, "
                   "outcome, level) VALUES(?1, ?2, '', ?3, 'running', ?4)");
  insert.Bind(1, Now()).Bind(2, app_version).Bind(3, *set).Bind(4, static_cast<int64_t>(level));
  if (Status s = db_->Run(insert, "recording the launch"); !s.ok()) return s.error();
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return id;
}

Status LaunchLog::MarkGood(int64_t id, const std::vector<std::string>& resolved) {
  std::string names;
  for (const std::string& n : resolved) names += (names.empty() ? "" : "\n") + n;
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s;
  Result<int64_t> list = InternLaunchList(*db_, names);
  if (!list.ok()) return list.error();
  Statement update(db_->handle(),
                   "UPDATE launches SET outcome = 'good', ended_ms = ?1, resolved = '', "
                   "resolved_list = ?3 WHERE id = ?2 AND outcome = 'running'");
  update.Bind(1, Now()).Bind(2, id).Bind(3, *list);
  if (Status s = db_->Run(update, "marking the launch good"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {  // rolled back: no list added for nothing
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is not running");
  }
  return tx.Commit();
}

Status LaunchLog::UpdateArtifacts(int64_t id, const std::vector<ArtifactRef>& active_artifacts) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s;
  Result<int64_t> set = InternLaunchList(*db_, ArtifactsToJson(active_artifacts));
  if (!set.ok()) return set.error();
  Statement update(db_->handle(),
                   "UPDATE launches SET artifacts = '', artifact_list = ?1 WHERE id = ?2");
  update.Bind(1, *set).Bind(2, id);
  if (Status s = db_->Run(update, "updating the launch's artifacts"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {  // rolled back: no set added for nothing
    return FileError(ErrorCode::kState, db_->path(), "no launch " + std::to_string(id));
  }
  return tx.Commit();
}

Status LaunchLog::MarkFailed(int64_t id, LaunchOutcome outcome, const std::string& reason,
                             const std::optional<ArtifactRef>& blamed,
                             const std::string& signature) {
  if (!IsFailedLaunch(outcome) || outcome == LaunchOutcome::kKilledBeforeMark) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("MarkFailed: '") + LaunchOutcomeName(outcome) +
                         "' is not an outcome a running launch can report");
  }
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_->handle(),
                   "UPDATE launches SET outcome = ?1, ended_ms = ?2, reason = ?3, "
                   "blamed_kind = ?4, blamed_id = ?5, blamed_version = ?6, crash_signature = ?8 "
                   "WHERE id = ?7 AND outcome = 'running'");
  const ArtifactRef none;
  const ArtifactRef& b = blamed ? *blamed : none;
  update.Bind(1, LaunchOutcomeName(outcome))
      .Bind(2, Now())
      .Bind(3, reason)
      .Bind(4, b.kind)
      .Bind(5, b.id)
      .Bind(6, b.version)
      .Bind(7, id)
      .Bind(8, signature);
  if (Status s = db_->Run(update, "marking the launch failed"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is not running");
  }
  return Status::Ok();
}

Result<int> LaunchLog::CloseStaleLaunches(const std::optional<StaleCrash>& crash) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s.error();
  std::vector<int64_t> stale;  // newest first
  {
    Statement s(db_->handle(),
                "SELECT id FROM launches WHERE outcome = 'running' ORDER BY id DESC");
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) stale.push_back(s.Int(0));
    if (rc != SQLITE_DONE) return db_->SqlError(rc, "finding stale launches");
  }
  const int64_t now = Now();
  for (size_t i = 0; i < stale.size(); ++i) {
    const bool crashed = i == 0 && crash.has_value();
    const ArtifactRef none;
    const ArtifactRef& b = crashed && crash->blamed ? *crash->blamed : none;
    Statement update(db_->handle(),
                     "UPDATE launches SET outcome = ?1, ended_ms = ?2, reason = ?3, "
                     "blamed_kind = ?4, blamed_id = ?5, blamed_version = ?6, "
                     "crash_signature = ?8 WHERE id = ?7");
    update
        .Bind(1, LaunchOutcomeName(crashed ? LaunchOutcome::kCrashed
                                           : LaunchOutcome::kKilledBeforeMark))
        .Bind(2, crashed && crash->time_ms > 0 ? crash->time_ms : now)
        .Bind(3, crashed ? crash->reason
                         : std::string("the process ended before the launch was marked"))
        .Bind(4, b.kind)
        .Bind(5, b.id)
        .Bind(6, b.version)
        .Bind(7, stale[i])
        .Bind(8, crashed ? crash->signature : std::string());
    if (Status s = db_->Run(update, "closing a stale launch"); !s.ok()) return s.error();
  }
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return static_cast<int>(stale.size());
}

Result<std::vector<LaunchRecord>> LaunchLog::Recent(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_->handle(),
              "SELECT id, started_ms, ended_ms, app_version, artifacts, outcome, reason, "
              "blamed_kind, blamed_id, blamed_version, level, crashed_after_good, crash_signature, "
              "bundle_failed, resolved, artifact_list, resolved_list FROM launches ORDER BY id "
              "DESC LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(n));
  std::vector<LaunchRecord> out;
  LaunchListCache lists(*db_);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    LaunchRecord r;
    r.id = s.Int(0);
    r.started_ms = s.Int(1);
    r.ended_ms = s.Int(2);
    r.app_version = s.Text(3);
    const int64_t artifact_list = s.Int(15);
    Result<std::vector<ArtifactRef>> artifacts =
        artifact_list != 0 ? lists.Artifacts(artifact_list, r.id)
                           : ArtifactsFromJson(s.Text(4), db_->path(), r.id);
    if (!artifacts.ok()) return artifacts.error();
    r.active_artifacts = std::move(artifacts).value();
    std::optional<LaunchOutcome> outcome = ParseLaunchOutcome(s.Text(5));
    if (!outcome) {
      return FileError(ErrorCode::kCorrupt, db_->path(),
                       "launch " + std::to_string(r.id) + ": unknown outcome '" + s.Text(5) + "'");
    }
    r.outcome = *outcome;
    r.reason = s.Text(6);
    if (!s.Text(7).empty())
      r.blamed = ArtifactRef{CurrentKindName(s.Text(7)), s.Text(8), s.Text(9)};
    r.level = static_cast<int>(s.Int(10));
    r.crashed_after_good = s.Int(11) != 0;
    r.crash_signature = s.Text(12);
    r.bundle_failed = s.Int(13) != 0;
    const int64_t resolved_list = s.Int(16);
    Result<std::string> resolved_text =
        resolved_list != 0 ? lists.Text(resolved_list, r.id) : Result<std::string>(s.Text(14));
    if (!resolved_text.ok()) return resolved_text.error();
    const std::string& resolved = *resolved_text;
    for (size_t at = 0; at < resolved.size();) {
      size_t nl = resolved.find('\n', at);
      if (nl == std::string::npos) nl = resolved.size();
      if (nl > at) r.resolved.push_back(resolved.substr(at, nl - at));
      at = nl + 1;
    }
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading launches");
  return out;
}

Status LaunchLog::Discard(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement del(db_->handle(), "DELETE FROM launches WHERE id = ?1 AND outcome = 'running'");
  del.Bind(1, id);
  if (Status s = db_->Run(del, "discarding the launch"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is not running");
  }
  return Status::Ok();
}

Status LaunchLog::AttachCrashAfterGood(int64_t id, const std::string& reason,
                                       const std::optional<ArtifactRef>& blamed,
                                       const std::string& signature) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_->handle(),
                   "UPDATE launches SET crashed_after_good = 1, reason = ?1, blamed_kind = ?2, "
                   "blamed_id = ?3, blamed_version = ?4, crash_signature = ?5 "
                   "WHERE id = ?6 AND outcome = 'good'");
  const ArtifactRef none;
  const ArtifactRef& b = blamed ? *blamed : none;
  update.Bind(1, reason)
      .Bind(2, b.kind)
      .Bind(3, b.id)
      .Bind(4, b.version)
      .Bind(5, signature)
      .Bind(6, id);
  if (Status s = db_->Run(update, "recording a crash after a good launch"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is not a good launch");
  }
  return Status::Ok();
}

Status LaunchLog::NoteBundleFailure(int64_t id, const std::string& reason,
                                    const std::optional<ArtifactRef>& blamed) {
  std::lock_guard<std::mutex> lock(mu_);
  // The first blamed artifact stays; reasons accumulate.
  Statement update(db_->handle(),
                   "UPDATE launches SET bundle_failed = 1, "
                   "reason = CASE WHEN reason = '' THEN ?1 ELSE reason || '; ' || ?1 END, "
                   "blamed_kind = CASE WHEN blamed_id = '' THEN ?2 ELSE blamed_kind END, "
                   "blamed_version = CASE WHEN blamed_id = '' THEN ?4 ELSE blamed_version END, "
                   "blamed_id = CASE WHEN blamed_id = '' THEN ?3 ELSE blamed_id END "
                   "WHERE id = ?5 AND outcome IN ('running', 'good')");
  const ArtifactRef none;
  const ArtifactRef& b = blamed ? *blamed : none;
  update.Bind(1, reason).Bind(2, b.kind).Bind(3, b.id).Bind(4, b.version).Bind(5, id);
  if (Status s = db_->Run(update, "recording a failed bundle"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is neither running nor good");
  }
  return Status::Ok();
}

Status LaunchLog::AddRetry(const ArtifactRef& artifact, int64_t after_launch) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement insert(db_->handle(), "INSERT OR REPLACE INTO guard_retries VALUES(?1, ?2, ?3, ?4)");
  insert.Bind(1, artifact.kind)
      .Bind(2, artifact.id)
      .Bind(3, artifact.version)
      .Bind(4, after_launch);
  return db_->Run(insert, "recording an artifact to retry");
}

Status LaunchLog::RemoveRetry(const ArtifactRef& artifact) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement del(db_->handle(),
                "DELETE FROM guard_retries WHERE kind = ?1 AND id = ?2 AND version = ?3");
  del.Bind(1, artifact.kind).Bind(2, artifact.id).Bind(3, artifact.version);
  return db_->Run(del, "removing an artifact to retry");
}

Result<std::vector<LaunchLog::Retry>> LaunchLog::Retries() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_->handle(),
              "SELECT r.kind, r.id, r.version, r.after_launch, "
              "(SELECT COUNT(*) FROM launches l WHERE l.id > r.after_launch AND "
              "l.outcome = 'good') FROM guard_retries r ORDER BY r.after_launch");
  std::vector<Retry> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({{s.Text(0), s.Text(1), s.Text(2)}, s.Int(3), static_cast<int>(s.Int(4))});
  }
  if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading the artifacts to retry");
  return out;
}

Result<StoredCrashReport> LaunchLog::AddCrashReport(StoredCrashReport report) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s.error();
  report.persistent = false;
  if (!report.signature.empty()) {
    // The launch before this one (by id) ended with the same signature.
    Statement prev(db_->handle(),
                   "SELECT crash_signature FROM launches WHERE id < ?1 ORDER BY id DESC LIMIT 1");
    prev.Bind(1, report.launch_id);
    int rc = prev.Step();
    if (rc == SQLITE_ROW) {
      report.persistent = prev.Text(0) == report.signature;
    } else if (rc != SQLITE_DONE) {
      return db_->SqlError(rc, "reading the previous launch's crash");
    }
  }
  json::array frames;
  for (const std::string& f : report.frames) frames.emplace_back(f);
  const ArtifactRef none;
  const ArtifactRef& b = report.blamed ? *report.blamed : none;
  Statement insert(db_->handle(),
                   "INSERT INTO crash_reports(launch_id, time_ms, kind, signal, signature, thread, "
                   "bundle, task, patch, micro_app, foreground, persistent, summary, blamed_kind, "
                   "blamed_id, blamed_version, frames) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                   "?17)");
  insert.Bind(1, report.launch_id)
      .Bind(2, report.time_ms != 0 ? report.time_ms : Now())
      .Bind(3, report.kind)
      .Bind(4, static_cast<int64_t>(report.signal))
      .Bind(5, report.signature)
      .Bind(6, report.thread)
      .Bind(7, report.bundle)
      .Bind(8, report.task)
      .Bind(9, report.artifact)
      .Bind(10, report.micro_app)
      .Bind(11, static_cast<int64_t>(report.foreground))
      .Bind(12, static_cast<int64_t>(report.persistent))
      .Bind(13, report.summary)
      .Bind(14, b.kind)
      .Bind(15, b.id)
      .Bind(16, b.version)
      .Bind(17, json::serialize(frames));
  if (Status s = db_->Run(insert, "recording a crash report"); !s.ok()) return s.error();
  report.id = sqlite3_last_insert_rowid(db_->handle());
  if (report.time_ms == 0) report.time_ms = Now();
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return report;
}

Result<std::vector<StoredCrashReport>> LaunchLog::RecentCrashReports(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(
      db_->handle(),
      "SELECT id, launch_id, time_ms, kind, signal, signature, thread, bundle, task, patch, "
      "micro_app, foreground, persistent, summary, blamed_kind, blamed_id, blamed_version, "
      "frames FROM crash_reports ORDER BY id DESC LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(n));
  std::vector<StoredCrashReport> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    StoredCrashReport r;
    r.id = s.Int(0);
    r.launch_id = s.Int(1);
    r.time_ms = s.Int(2);
    r.kind = s.Text(3);
    r.signal = static_cast<int>(s.Int(4));
    r.signature = s.Text(5);
    r.thread = s.Text(6);
    r.bundle = s.Text(7);
    r.task = s.Text(8);
    r.artifact = s.Text(9);
    r.micro_app = s.Text(10);
    r.foreground = s.Int(11) != 0;
    r.persistent = s.Int(12) != 0;
    r.summary = s.Text(13);
    if (!s.Text(14).empty())
      r.blamed = ArtifactRef{CurrentKindName(s.Text(14)), s.Text(15), s.Text(16)};
    json::error_code ec;
    json::value frames = json::parse(s.Text(17), ec);
    if (ec || !frames.is_array()) {
      return FileError(ErrorCode::kCorrupt, db_->path(),
                       "crash report " + std::to_string(r.id) + ": unreadable frame list");
    }
    for (const json::value& f : frames.get_array()) {
      if (!f.is_string()) {
        return FileError(ErrorCode::kCorrupt, db_->path(),
                         "crash report " + std::to_string(r.id) + ": unreadable frame list");
      }
      r.frames.emplace_back(f.get_string());
    }
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading crash reports");
  return out;
}

Status LaunchLog::RecordAction(int level, const std::string& what, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement insert(db_->handle(),
                   "INSERT INTO guard_actions(time_ms, level, what, why) VALUES(?1, ?2, ?3, ?4)");
  insert.Bind(1, Now()).Bind(2, static_cast<int64_t>(level)).Bind(3, what).Bind(4, why);
  return db_->Run(insert, "recording a guard action");
}

Result<std::vector<GuardAction>> LaunchLog::RecentActions(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_->handle(),
              "SELECT id, time_ms, level, what, why FROM guard_actions ORDER BY id DESC LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(n));
  std::vector<GuardAction> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Int(0), s.Int(1), static_cast<int>(s.Int(2)), s.Text(3), s.Text(4)});
  }
  if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading guard actions");
  return out;
}

}  // namespace atrium::internal

namespace atrium {

Result<LaunchHistory> ReadLaunchHistory(const std::string& state_db, int n) {
  Result<std::unique_ptr<internal::LaunchLog>> log = internal::LaunchLog::Open(state_db);
  if (!log.ok()) return log.error();
  LaunchHistory history;
  Result<std::vector<LaunchRecord>> launches = (*log)->Recent(n);
  if (!launches.ok()) return launches.error();
  history.launches = std::move(launches).value();
  Result<std::vector<GuardAction>> actions = (*log)->RecentActions(n);
  if (!actions.ok()) return actions.error();
  history.actions = std::move(actions).value();
  return history;
}

Result<std::vector<StoredCrashReport>> ReadCrashReports(const std::string& state_db, int n) {
  Result<std::unique_ptr<internal::LaunchLog>> log = internal::LaunchLog::Open(state_db);
  if (!log.ok()) return log.error();
  return (*log)->RecentCrashReports(n);
}

}  // namespace atrium

namespace atrium::internal {

LaunchLogOpen OpenForLaunch(const std::string& path, LaunchLogOptions options) {
  LaunchLogOpen out;
  Result<std::unique_ptr<LaunchLog>> log = LaunchLog::Open(path, std::move(options));
  if (log.ok()) {
    out.log = std::move(log).value();
  } else {
    out.safe_mode_reason = log.error().ToString();
  }
  return out;
}

}  // namespace atrium::internal
