#include "atrium/base/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "atrium/base/fs_faults.h"

namespace atrium::internal {

namespace {
constexpr int kBusyTimeoutMs = 5000;
}  // namespace

Statement::Statement(sqlite3* db, const char* sql) {
  rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, std::string_view text) {
  if (rc_ == SQLITE_OK) {
    rc_ = sqlite3_bind_text(stmt_, index, text.data() != nullptr ? text.data() : "",
                            static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t n) {
  if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index, n);
  return *this;
}

int Statement::Step() {
  if (rc_ != SQLITE_OK) return rc_;
  int rc = sqlite3_step(stmt_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) rc_ = rc;
  return rc;
}

std::string Statement::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, const std::string& name) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           FsFaultVfsName());
  const std::string& shown = name.empty() ? path : name;
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, shown));
  if (rc != SQLITE_OK) return db->SqlError(rc, "opening the database");
  sqlite3_extended_result_codes(raw, 1);
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return FileError(ErrorCode::kIo, shown, "the database file is not writable");
  }
  rc = sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return db->SqlError(rc, "setting the busy timeout");
  {
    Statement mode(raw, "PRAGMA journal_mode=WAL");
    rc = mode.Step();
    if (rc != SQLITE_ROW) return db->SqlError(rc, "enabling the WAL journal");
    if (mode.Text(0) != "wal") {
      return FileError(ErrorCode::kIo, shown,
                       "enabling the WAL journal: SQLite kept journal_mode '" + mode.Text(0) + "'");
    }
  }
  if (Status s = db->Exec("PRAGMA synchronous=FULL", "setting synchronous=FULL"); !s.ok()) {
    return s.error();
  }
  return db;
}

SqliteDb::~SqliteDb() {
  if (db_ != nullptr) sqlite3_close(db_);
}

Error SqliteDb::SqlError(int rc, std::string_view what) const {
  std::string message(what);
  message += ": ";
  message += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  message += " (sqlite code " + std::to_string(rc) + ")";
  int primary = rc & 0xff;
  ErrorCode code =
      primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? ErrorCode::kCorrupt : ErrorCode::kIo;
  return FileError(code, path_, std::move(message));
}

Status SqliteDb::Exec(const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, what);
  return Status::Ok();
}

Status SqliteDb::Run(Statement& s, std::string_view what) {
  int rc = s.Step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(rc, what);
  return Status::Ok();
}

SqliteDb::WriteTransaction::~WriteTransaction() {
  if (open_) sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status SqliteDb::WriteTransaction::Begin() {
  Status s = db_->Exec("BEGIN IMMEDIATE", "starting a transaction");
  open_ = s.ok();
  return s;
}

Status SqliteDb::WriteTransaction::Commit() {
  Status s = db_->Exec("COMMIT", "committing");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace atrium::internal
