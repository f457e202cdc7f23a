// SQLite implementation of PrivateStore: one database file per bundle holding
// one table, kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID.
//
// Each Put/Erase is one autocommit statement, so it is atomic, and with
// journal_mode=WAL plus synchronous=FULL the WAL is fsync'ed before the call
// returns. Keys are compared bytewise (SQLite's BINARY collation is memcmp),
// which is also std::string's order, so Keys(prefix) is a range scan
// [prefix, successor(prefix)) rather than a LIKE pattern that would treat '%'
// and '_' as wildcards.
//
// Concurrency: every public method may be called from any thread. mu_
// serializes all use of the connection and its cached statements; the
// connection itself is opened SQLITE_OPEN_NOMUTEX because mu_ already does
// SQLite's job. Several stores (in this or another process) may open the same
// file; SQLite's file locks and busy_timeout arbitrate between them. A store
// must not be used in a child after fork(); the child opens its own.
#include "atrium/private_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "atrium/base/sqlite_db.h"
#include "atrium/result.h"

namespace atrium {
namespace {

constexpr size_t kMaxKeyBytes = 4 * 1024;
constexpr size_t kMaxValueBytes = 16 * 1024 * 1024;
Error StoreError(ErrorCode code, const std::string& path, std::string message) {
  Error error = MakeError(code, std::move(message));
  error.file = path;
  return error;
}

// sqlite3_bind_{text,blob} treat a null pointer as SQL NULL; an empty
// string_view may have one, and must still bind as an empty string.
const char* NonNullData(std::string_view s) { return s.data() != nullptr ? s.data() : ""; }

// The smallest string greater than every string that starts with `prefix`,
// or nullopt when there is none (prefix is empty or all 0xFF bytes).
std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty() && static_cast<unsigned char>(successor.back()) == 0xFF) {
    successor.pop_back();
  }
  if (successor.empty()) return std::nullopt;
  successor.back() = static_cast<char>(static_cast<unsigned char>(successor.back()) + 1);
  return successor;
}

// Holds a cached statement for one call and resets it on every exit path, so
// no read transaction stays open (it would block WAL checkpoints) and no
// SQLITE_STATIC binding outlives the caller's buffer.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  ~StatementUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* const stmt_;
};

class SqlitePrivateStore final : public PrivateStore {
 public:
  // `conn` is the opened connection (WAL, synchronous=FULL, busy timeout).
  SqlitePrivateStore(std::string path, std::unique_ptr<internal::SqliteDb> conn)
      : path_(std::move(path)), conn_(std::move(conn)), db_(conn_->handle()) {}
  SqlitePrivateStore(const SqlitePrivateStore&) = delete;
  SqlitePrivateStore& operator=(const SqlitePrivateStore&) = delete;

  ~SqlitePrivateStore() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (sqlite3_stmt* stmt : {get_, put_, erase_, keys_all_, keys_range_, keys_from_}) {
      sqlite3_finalize(stmt);
    }
    // conn_ closes the connection now that no statement is left.
  }

  // Sets up the opened connection: the schema and the statements.
  Status Configure() {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = conn_->Exec("CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB) "
                               "WITHOUT ROWID",
                               "creating table kv");
        !s.ok()) {
      return s;
    }

    struct Wanted {
      sqlite3_stmt** slot;
      const char* sql;
    };
    const Wanted wanted[] = {
        {&get_, "SELECT value FROM kv WHERE key = ?1"},
        {&put_, "INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)"},
        {&erase_, "DELETE FROM kv WHERE key = ?1"},
        {&keys_all_, "SELECT key FROM kv ORDER BY key"},
        {&keys_range_, "SELECT key FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key"},
        {&keys_from_, "SELECT key FROM kv WHERE key >= ?1 ORDER BY key"},
    };
    for (const Wanted& w : wanted) {
      int rc = sqlite3_prepare_v3(db_, w.sql, -1, SQLITE_PREPARE_PERSISTENT, w.slot, nullptr);
      if (rc != SQLITE_OK) {
        // A database whose kv table has other columns is not a private store.
        Error error = conn_->SqlError(rc, std::string("preparing '") + w.sql + "'");
        if ((rc & 0xff) == SQLITE_ERROR) error.code = ErrorCode::kCorrupt;
        return error;
      }
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> Get(std::string_view key) override {
    if (Status s = CheckKey(key); !s.ok()) return s.error();
    std::lock_guard<std::mutex> lock(mu_);
    StatementUse use(get_);
    if (Status s = BindText(get_, 1, key); !s.ok()) return s.error();
    int rc = sqlite3_step(get_);
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return conn_->SqlError(rc, "reading key");
    // sqlite3_column_blob before sqlite3_column_bytes, as SQLite documents.
    const void* data = sqlite3_column_blob(get_, 0);
    const int size = sqlite3_column_bytes(get_, 0);
    if (size == 0) return std::optional<std::string>(std::string());
    if (data == nullptr) {
      return conn_->SqlError(sqlite3_errcode(db_), "reading value");
    }
    return std::optional<std::string>(std::string(static_cast<const char*>(data), size));
  }

  Status Put(std::string_view key, std::string_view value) override {
    if (Status s = CheckKey(key); !s.ok()) return s;
    if (value.size() > kMaxValueBytes) {
      return StoreError(ErrorCode::kInvalidArgument, path_,
                        "value is " + std::to_string(value.size()) + " bytes; the limit is " +
                            std::to_string(kMaxValueBytes));
    }
    std::lock_guard<std::mutex> lock(mu_);
    StatementUse use(put_);
    if (Status s = BindText(put_, 1, key); !s.ok()) return s;
    int rc = sqlite3_bind_blob(put_, 2, NonNullData(value), static_cast<int>(value.size()),
                               SQLITE_STATIC);
    if (rc != SQLITE_OK) return conn_->SqlError(rc, "binding value");
    rc = sqlite3_step(put_);
    if (rc != SQLITE_DONE) return conn_->SqlError(rc, "writing key");
    return Status::Ok();
  }

  Status Erase(std::string_view key) override {
    if (Status s = CheckKey(key); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    StatementUse use(erase_);
    if (Status s = BindText(erase_, 1, key); !s.ok()) return s;
    int rc = sqlite3_step(erase_);
    if (rc != SQLITE_DONE) return conn_->SqlError(rc, "erasing key");
    return Status::Ok();
  }

  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    // No stored key is longer than kMaxKeyBytes or contains NUL (CheckKey), so
    // such a prefix matches nothing; binding it would be undefined in SQLite.
    if (prefix.size() > kMaxKeyBytes || prefix.find('\0') != std::string_view::npos) {
      return std::vector<std::string>();
    }
    const std::optional<std::string> successor = PrefixSuccessor(prefix);
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* stmt = prefix.empty() ? keys_all_ : successor ? keys_range_ : keys_from_;
    StatementUse use(stmt);
    if (!prefix.empty()) {
      if (Status s = BindText(stmt, 1, prefix); !s.ok()) return s.error();
      if (successor) {
        if (Status s = BindText(stmt, 2, *successor); !s.ok()) return s.error();
      }
    }
    std::vector<std::string> keys;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      const int size = sqlite3_column_bytes(stmt, 0);
      if (text == nullptr && size > 0) {
        return conn_->SqlError(sqlite3_errcode(db_), "reading key");
      }
      keys.emplace_back(reinterpret_cast<const char*>(text), size);
    }
    if (rc != SQLITE_DONE) return conn_->SqlError(rc, "listing keys");
    return keys;
  }

  const std::string& path() const override { return path_; }

 private:
  // Keys are names: at most kMaxKeyBytes and no NUL (SQLite leaves TEXT with
  // embedded NUL undefined). Any other bytes, UTF-8 or not, are allowed.
  Status CheckKey(std::string_view key) const {
    if (key.size() > kMaxKeyBytes) {
      return StoreError(ErrorCode::kInvalidArgument, path_,
                        "key is " + std::to_string(key.size()) + " bytes; the limit is " +
                            std::to_string(kMaxKeyBytes));
    }
    if (key.find('\0') != std::string_view::npos) {
      return StoreError(ErrorCode::kInvalidArgument, path_, "key contains a NUL byte");
    }
    return Status::Ok();
  }

  // Requires mu_. Binds `text` without copying; StatementUse clears it.
  Status BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
    int rc = sqlite3_bind_text(stmt, index, NonNullData(text), static_cast<int>(text.size()),
                               SQLITE_STATIC);
    if (rc != SQLITE_OK) return conn_->SqlError(rc, "binding key");
    return Status::Ok();
  }

  const std::string path_;
  std::mutex mu_;
  std::unique_ptr<internal::SqliteDb> conn_;  // Guarded by mu_.
  sqlite3* const db_;                         // conn_'s handle; guarded by mu_.
  // Prepared once in Configure, reset after each use. All guarded by mu_.
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  sqlite3_stmt* keys_all_ = nullptr;
  sqlite3_stmt* keys_range_ = nullptr;
  sqlite3_stmt* keys_from_ = nullptr;
};

// Creates `path` with mode 0600 if it does not exist, so the user's private
// data (and the -wal/-shm files, which SQLite gives the database's mode) is
// not readable by other users. An existing file is left alone.
Status CreatePrivateFile(const std::string& path, const std::filesystem::path& open_path) {
  int fd = ::open(open_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return StoreError(ErrorCode::kIo, path,
                    std::string("creating database file: ") + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<PrivateStore>> PrivateStore::Open(const std::string& path) {
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "private store path is empty");
  if (path.find('\0') != std::string::npos) {
    return StoreError(ErrorCode::kInvalidArgument, path, "path contains a NUL byte");
  }
  if (sqlite3_threadsafe() == 0) {
    return StoreError(ErrorCode::kInternal, path, "SQLite was built without thread support");
  }

  // An absolute path can never be read as ":memory:" or a "file:" URI.
  std::error_code ec;
  const std::filesystem::path open_path = std::filesystem::absolute(path, ec);
  if (ec) return StoreError(ErrorCode::kIo, path, "resolving path: " + ec.message());
  if (open_path.has_parent_path()) {
    std::filesystem::create_directories(open_path.parent_path(), ec);
    if (ec) return StoreError(ErrorCode::kIo, path, "creating parent directories: " + ec.message());
  }
  if (Status s = CreatePrivateFile(path, open_path); !s.ok()) return s.error();

  Result<std::unique_ptr<internal::SqliteDb>> conn =
      internal::SqliteDb::Open(open_path.string(), path);
  if (!conn.ok()) return conn.error();
  auto store = std::make_unique<SqlitePrivateStore>(path, std::move(conn).value());
  if (Status s = store->Configure(); !s.ok()) return s.error();
  return std::unique_ptr<PrivateStore>(std::move(store));
}

}  // namespace atrium
