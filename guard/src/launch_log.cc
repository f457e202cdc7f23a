#include "launch_log.h"

#include <boost/json.hpp>
#include <utility>

#include "sqlite_db.h"

namespace atrium::internal {

namespace json = boost::json;

namespace {

constexpr int64_t kGuardSchemaVersion = 1;

std::string ArtifactsToJson(const std::vector<ArtifactRef>& artifacts) {
  json::array out;
  for (const ArtifactRef& a : artifacts) {
    out.push_back(json::object{{"kind", a.kind}, {"id", a.id}, {"version", a.version}});
  }
  return json::serialize(out);
}

Result<std::vector<ArtifactRef>> ArtifactsFromJson(const std::string& text, const std::string& path,
                                                   int64_t launch_id) {
  auto bad = [&] {
    return FileError(ErrorCode::kCorrupt, path,
                     "launch " + std::to_string(launch_id) + ": unreadable artifact list");
  };
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return bad();
  std::vector<ArtifactRef> out;
  for (const json::value& e : v.get_array()) {
    const json::object* o = e.if_object();
    if (o == nullptr) return bad();
    const json::value* kind = o->if_contains("kind");
    const json::value* id = o->if_contains("id");
    const json::value* version = o->if_contains("version");
    if (kind == nullptr || id == nullptr || version == nullptr || !kind->is_string() ||
        !id->is_string() || !version->is_string()) {
      return bad();
    }
    out.push_back({std::string(kind->get_string()), std::string(id->get_string()),
                   std::string(version->get_string())});
  }
  return out;
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
            "INSERT OR IGNORE INTO guard_meta VALUES('schema_version', 1);"
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
    Statement version(db->handle(), "SELECT value FROM guard_meta WHERE key = 'schema_version'");
    rc = version.Step();
    if (rc != SQLITE_ROW) return db->SqlError(rc, "reading the launch guard schema version");
    if (version.Int(0) != kGuardSchemaVersion) {
      return FileError(ErrorCode::kCorrupt, path,
                       "launch guard schema version " + std::to_string(version.Int(0)) +
                           " is not the version " + std::to_string(kGuardSchemaVersion) +
                           " this build knows");
    }
    if (Status s = tx.Commit(); !s.ok()) return s.error();
  }
  return std::unique_ptr<LaunchLog>(new LaunchLog(std::move(db), std::move(options)));
}

Result<int64_t> LaunchLog::BeginLaunch(const std::string& app_version,
                                       const std::vector<ArtifactRef>& active_artifacts) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteDb::WriteTransaction tx(db_.get());
  if (Status s = tx.Begin(); !s.ok()) return s.error();
  Statement insert(db_->handle(),
                   "INSERT INTO launches(started_ms, app_version, artifacts, outcome) "
                   "VALUES(?1, ?2, ?3, 'running')");
  insert.Bind(1, Now()).Bind(2, app_version).Bind(3, ArtifactsToJson(active_artifacts));
  if (Status s = db_->Run(insert, "recording the launch"); !s.ok()) return s.error();
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return id;
}

Status LaunchLog::MarkGood(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_->handle(),
                   "UPDATE launches SET outcome = 'good', ended_ms = ?1 "
                   "WHERE id = ?2 AND outcome = 'running'");
  update.Bind(1, Now()).Bind(2, id);
  if (Status s = db_->Run(update, "marking the launch good"); !s.ok()) return s;
  if (sqlite3_changes(db_->handle()) != 1) {
    return FileError(ErrorCode::kState, db_->path(),
                     "launch " + std::to_string(id) + " is not running");
  }
  return Status::Ok();
}

Status LaunchLog::MarkFailed(int64_t id, LaunchOutcome outcome, const std::string& reason,
                             const std::optional<ArtifactRef>& blamed) {
  if (!IsFailedLaunch(outcome) || outcome == LaunchOutcome::kKilledBeforeMark) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("MarkFailed: '") + LaunchOutcomeName(outcome) +
                         "' is not an outcome a running launch can report");
  }
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_->handle(),
                   "UPDATE launches SET outcome = ?1, ended_ms = ?2, reason = ?3, "
                   "blamed_kind = ?4, blamed_id = ?5, blamed_version = ?6 "
                   "WHERE id = ?7 AND outcome = 'running'");
  const ArtifactRef none;
  const ArtifactRef& b = blamed ? *blamed : none;
  update.Bind(1, LaunchOutcomeName(outcome))
      .Bind(2, Now())
      .Bind(3, reason)
      .Bind(4, b.kind)
      .Bind(5, b.id)
      .Bind(6, b.version)
      .Bind(7, id);
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
                     "blamed_kind = ?4, blamed_id = ?5, blamed_version = ?6 WHERE id = ?7");
    update
        .Bind(1, LaunchOutcomeName(crashed ? LaunchOutcome::kCrashed
                                           : LaunchOutcome::kKilledBeforeMark))
        .Bind(2, now)
        .Bind(3, crashed ? crash->reason
                         : std::string("the process ended before the launch was marked"))
        .Bind(4, b.kind)
        .Bind(5, b.id)
        .Bind(6, b.version)
        .Bind(7, stale[i]);
    if (Status s = db_->Run(update, "closing a stale launch"); !s.ok()) return s.error();
  }
  if (Status s = tx.Commit(); !s.ok()) return s.error();
  return static_cast<int>(stale.size());
}

Result<std::vector<LaunchRecord>> LaunchLog::Recent(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_->handle(),
              "SELECT id, started_ms, ended_ms, app_version, artifacts, outcome, reason, "
              "blamed_kind, blamed_id, blamed_version FROM launches ORDER BY id DESC LIMIT ?1");
  s.Bind(1, static_cast<int64_t>(n));
  std::vector<LaunchRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    LaunchRecord r;
    r.id = s.Int(0);
    r.started_ms = s.Int(1);
    r.ended_ms = s.Int(2);
    r.app_version = s.Text(3);
    Result<std::vector<ArtifactRef>> artifacts = ArtifactsFromJson(s.Text(4), db_->path(), r.id);
    if (!artifacts.ok()) return artifacts.error();
    r.active_artifacts = std::move(artifacts).value();
    std::optional<LaunchOutcome> outcome = ParseLaunchOutcome(s.Text(5));
    if (!outcome) {
      return FileError(ErrorCode::kCorrupt, db_->path(),
                       "launch " + std::to_string(r.id) + ": unknown outcome '" + s.Text(5) + "'");
    }
    r.outcome = *outcome;
    r.reason = s.Text(6);
    if (!s.Text(7).empty()) r.blamed = ArtifactRef{s.Text(7), s.Text(8), s.Text(9)};
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_->SqlError(rc, "reading launches");
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
