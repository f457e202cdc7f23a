// The SQLite wrapper every store uses (the artifact store, launch records,
// private stores): one connection, prepared statements, write transactions.
//
// Concurrency: a SqliteDb is one connection opened SQLITE_OPEN_NOMUTEX; its
// owner serializes every use (each store holds a mutex around it).
#ifndef ATRIUM_BASE_SQLITE_DB_H_
#define ATRIUM_BASE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "atrium/base/clock.h"
#include "atrium/base/file_util.h"
#include "atrium/result.h"

namespace atrium::internal {

// One prepared statement, finalized on every exit path.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t n);
  // SQLITE_ROW, SQLITE_DONE, or the error of preparing, binding or stepping.
  int Step();
  std::string Text(int column) const;
  int64_t Int(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

class SqliteDb {
 public:
  // Opens (creating) `path` with WAL, synchronous=FULL and a busy timeout;
  // kIo when the file cannot be written, kCorrupt when it is not a SQLite
  // database. Errors name `name` (default: `path`).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                const std::string& name = "");
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  Error SqlError(int rc, std::string_view what) const;
  Status Exec(const char* sql, std::string_view what);
  // Runs a statement that returns no rows (or ignores them).
  Status Run(Statement& s, std::string_view what);

  // A write transaction (BEGIN IMMEDIATE), rolled back unless committed.
  class WriteTransaction {
   public:
    explicit WriteTransaction(SqliteDb* db) : db_(db) {}
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    ~WriteTransaction();
    Status Begin();
    Status Commit();

   private:
    SqliteDb* const db_;
    bool open_ = false;
  };

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_SQLITE_DB_H_
