// SQLite implementation of PatchStore (patch_store.h).
//
// Layout under data_dir:
//   hotpatch.db                 WAL, synchronous=FULL, schema below
//   patches/<id>-<version>/     installed copies (patch.json, source, patch.sig)
//   patches/.tmp-*/             an install in progress (or interrupted)
//
// Tables:
//   patches(id, version, dir, state, reason, faults, install_seq, current)
//     one row per installed id+version; `dir` is relative to data_dir.
//   history(seq, id, version, time_ms, state, reason)
//     one row per change, in the order the changes committed.
//
// Invariants:
//   1. Each id has at most one row with current = 1: the version List shows
//      and SetState/RecordFault/Rollback act on (a partial unique index
//      enforces it). Its state is enabled, disabled or failed.
//   2. A row with current = 0 is an older version that was superseded
//      (state superseded; Rollback may bring it back) or a newer one that
//      Rollback turned away from (state disabled; never picked again).
//   3. Every row's dir exists and holds a complete, fsync'ed copy: Install
//      renames the copy into place, fsyncs patches/, and only then commits
//      the row. A crash before the commit leaves a directory no row names;
//      Open removes those and every .tmp-* directory.
//   4. Install holds SQLite's write lock (BEGIN IMMEDIATE) from before it
//      creates the temp dir until it commits, and Open's sweep runs under the
//      same lock, so a sweep in one process never removes the directory of an
//      install still running in another.
//
// Concurrency: every public method may be called from any thread; mu_
// serializes all use of the connection (opened SQLITE_OPEN_NOMUTEX). Several
// processes may open the same data_dir; SQLite's locks (busy timeout 5 s)
// order their transactions. A store must not be used in a child after fork().
#include "patch_store.h"
#include "atrium/base/file_util.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace atrium::hotpatch::internal {

// Test hook: when set, Install calls it at each named stage ("files_written",
// "renamed", "rows_written", "committed") so a test can crash the process
// there. Set only while no store is in use on another thread.
void (*PatchStoreFailPointForTesting)(const char* stage) = nullptr;

namespace {

namespace fs = std::filesystem;
using ::atrium::internal::ErrnoError;
using ::atrium::internal::FileError;

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMaxFaultMessageBytes = 1024;
constexpr std::string_view kTempPrefix = ".tmp-";

void FailPoint(const char* stage) {
  if (PatchStoreFailPointForTesting != nullptr) PatchStoreFailPointForTesting(stage);
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<PatchState> StateFromName(std::string_view name) {
  for (PatchState s : {PatchState::kEnabled, PatchState::kDisabled, PatchState::kFailed,
                       PatchState::kSuperseded}) {
    if (name == PatchStateName(s)) return s;
  }
  return std::nullopt;
}

// Id and version become a directory name: only the characters their grammars
// allow (patch id [a-z0-9_.-], semver [0-9A-Za-z.+-]), never "." or "..".
bool IsSafeNamePart(std::string_view s) {
  if (s.empty() || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "cannot open to sync", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError(path, "cannot sync", err);
  return Status::Ok();
}

// Creates `path` (which must not exist) holding `data`, fsync'd.
Status WriteNewFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(path, "cannot create", errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(path, "cannot write", err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(path, "cannot sync", err);
  }
  if (::close(fd) != 0) return ErrnoError(path, "cannot close", errno);
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoError(path, "cannot open", errno);
  std::string data;
  char buffer[4096];
  while (data.size() <= limit) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(path, "cannot read", err);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (data.size() > limit) {
    return FileError(ErrorCode::kCorrupt, path,
                     "larger than " + std::to_string(limit) + " bytes; not a signature file");
  }
  return data;
}

// One prepared statement, finalized on every exit path.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  int prepare_rc() const { return rc_; }
  Statement& Bind(int index, std::string_view text) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_text(stmt_, index, text.data() != nullptr ? text.data() : "",
                              static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  Statement& Bind(int index, int64_t n) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index, n);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or the error of preparing, binding or stepping.
  int Step() {
    if (rc_ != SQLITE_OK) return rc_;
    int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) rc_ = rc;
    return rc;
  }
  std::string Text(int column) const {
    const unsigned char* p = sqlite3_column_text(stmt_, column);
    if (p == nullptr) return "";
    return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// The columns every patches query selects, in this order.
constexpr const char* kPatchColumns =
    "id, version, dir, state, reason, faults, install_seq, current";

struct Row {
  StoredPatch patch;
  std::string rel_dir;
  bool current = false;
};

}  // namespace

const char* PatchStateName(PatchState state) {
  switch (state) {
    case PatchState::kEnabled:
      return "enabled";
    case PatchState::kDisabled:
      return "disabled";
    case PatchState::kFailed:
      return "failed";
    case PatchState::kSuperseded:
      return "superseded";
  }
  return "unknown";
}

struct PatchStore::Impl {
  std::string data_dir;     // absolute
  std::string db_path;      // data_dir/hotpatch.db
  std::string patches_dir;  // data_dir/patches

  std::mutex mu;
  sqlite3* db = nullptr;  // guarded by mu

  ~Impl() {
    if (db != nullptr) {
      int rc = sqlite3_close(db);
      ATRIUM_CHECK(rc == SQLITE_OK, "sqlite3_close failed on the patch store");
    }
  }

  Error SqlError(int rc, std::string_view what) const {
    std::string message(what);
    message += ": ";
    message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    message += " (sqlite code " + std::to_string(rc) + ")";
    int primary = rc & 0xff;
    ErrorCode code = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? ErrorCode::kCorrupt
                                                                           : ErrorCode::kIo;
    return FileError(code, db_path, std::move(message));
  }

  // A write transaction (BEGIN IMMEDIATE) rolled back unless committed.
  // Requires mu for its whole life.
  class WriteTransaction {
   public:
    explicit WriteTransaction(Impl* impl) : impl_(impl) {}
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    ~WriteTransaction() {
      if (open_) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
    }

    Status Begin() {
      Status s = impl_->Exec("BEGIN IMMEDIATE", "starting a transaction");
      open_ = s.ok();
      return s;
    }
    Status Commit() {
      Status s = impl_->Exec("COMMIT", "committing");
      if (s.ok()) open_ = false;
      return s;
    }

   private:
    Impl* const impl_;
    bool open_ = false;
  };

  // Requires mu.
  Status Exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, what);
    return Status::Ok();
  }

  // Requires mu. Runs a statement that returns no rows.
  Status Run(Statement& s, std::string_view what) {
    int rc = s.Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(rc, what);
    return Status::Ok();
  }

  std::string AbsoluteDir(const std::string& rel) const { return data_dir + "/" + rel; }

  // Requires mu. Converts the row under `s` (selected with kPatchColumns).
  Result<Row> ReadRow(const Statement& s) const {
    Row row;
    row.patch.id = s.Text(0);
    row.patch.version = s.Text(1);
    row.rel_dir = s.Text(2);
    row.patch.dir = AbsoluteDir(row.rel_dir);
    std::string state = s.Text(3);
    std::optional<PatchState> parsed = StateFromName(state);
    if (!parsed) {
      return FileError(ErrorCode::kCorrupt, db_path,
                       "patch '" + row.patch.id + "' " + row.patch.version +
                           " has unknown state '" + state + "'");
    }
    row.patch.state = *parsed;
    row.patch.reason = s.Text(4);
    row.patch.faults = static_cast<uint32_t>(s.Int(5));
    row.patch.install_seq = static_cast<uint64_t>(s.Int(6));
    row.current = s.Int(7) != 0;
    return row;
  }

  // Requires mu. The current row of `id`, or nullopt.
  Result<std::optional<Row>> CurrentRow(const std::string& id) {
    std::string sql =
        std::string("SELECT ") + kPatchColumns + " FROM patches WHERE id = ?1 AND current = 1";
    Statement s(db, sql.c_str());
    s.Bind(1, id);
    int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<Row>();
    if (rc != SQLITE_ROW) return SqlError(rc, "reading patch '" + id + "'");
    Result<Row> row = ReadRow(s);
    if (!row.ok()) return row.error();
    return std::optional<Row>(std::move(row).value());
  }

  Error NotInstalled(const std::string& id) const {
    return FileError(ErrorCode::kNotFound, db_path, "no patch '" + id + "' is installed");
  }

  // Requires mu. Updates the row of id+version and appends a history row.
  Status Change(const std::string& id, const std::string& version, PatchState state,
                const std::string& reason, int64_t faults, bool current) {
    Statement update(db,
                     "UPDATE patches SET state = ?3, reason = ?4, faults = ?5, current = ?6 "
                     "WHERE id = ?1 AND version = ?2");
    update.Bind(1, id).Bind(2, version).Bind(3, PatchStateName(state)).Bind(4, reason);
    update.Bind(5, faults).Bind(6, int64_t{current ? 1 : 0});
    if (Status s = Run(update, "updating patch '" + id + "'"); !s.ok()) return s;
    return AppendHistory(id, version, state, reason);
  }

  // Requires mu.
  Status AppendHistory(const std::string& id, const std::string& version, PatchState state,
                       const std::string& reason) {
    Statement insert(db,
                     "INSERT INTO history(id, version, time_ms, state, reason) "
                     "VALUES(?1, ?2, ?3, ?4, ?5)");
    insert.Bind(1, id).Bind(2, version).Bind(3, NowUnixMs()).Bind(4, PatchStateName(state));
    insert.Bind(5, reason);
    return Run(insert, "recording history of patch '" + id + "'");
  }

  // Requires mu. Removes every .tmp-* directory and every directory under
  // patches/ that no row names (an install that died before its commit).
  Status Sweep() {
    std::set<std::string> owned;
    {
      Statement s(db, "SELECT dir FROM patches");
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) owned.insert(s.Text(0));
      if (rc != SQLITE_DONE) return SqlError(rc, "listing installed directories");
    }
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (fs::directory_iterator it(patches_dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.rfind(kTempPrefix, 0) == 0 || owned.count("patches/" + name) == 0) {
        doomed.push_back(it->path());
      }
    }
    if (ec) return FileError(ErrorCode::kIo, patches_dir, "cannot list: " + ec.message());
    for (const fs::path& p : doomed) {
      fs::remove_all(p, ec);
      if (ec) return FileError(ErrorCode::kIo, p.string(), "cannot remove: " + ec.message());
    }
    if (!doomed.empty()) return SyncPath(patches_dir, true);
    return Status::Ok();
  }

  // Requires mu.
  Status Configure() {
    sqlite3_extended_result_codes(db, 1);
    int rc = sqlite3_busy_timeout(db, kBusyTimeoutMs);
    if (rc != SQLITE_OK) return SqlError(rc, "setting the busy timeout");
    {
      Statement mode(db, "PRAGMA journal_mode=WAL");
      rc = mode.Step();
      if (rc != SQLITE_ROW) return SqlError(rc, "enabling the WAL journal");
      if (mode.Text(0) != "wal") {
        return FileError(
            ErrorCode::kIo, db_path,
            "enabling the WAL journal: SQLite kept journal_mode '" + mode.Text(0) + "'");
      }
    }
    if (Status s = Exec("PRAGMA synchronous=FULL", "setting synchronous=FULL"); !s.ok()) return s;

    if (Status s = Exec("BEGIN IMMEDIATE", "starting the schema transaction"); !s.ok()) return s;
    Status s = CreateSchemaLocked();
    if (s.ok()) s = Sweep();
    if (s.ok()) s = Exec("COMMIT", "committing the schema");
    if (!s.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }

  // Requires mu, inside a write transaction.
  Status CreateSchemaLocked() {
    Statement version(db, "PRAGMA user_version");
    int rc = version.Step();
    if (rc != SQLITE_ROW) return SqlError(rc, "reading the schema version");
    int64_t found = version.Int(0);
    if (found == kSchemaVersion) return Status::Ok();
    if (found != 0) {
      return FileError(ErrorCode::kCorrupt, db_path,
                       "schema version " + std::to_string(found) + " is not the version " +
                           std::to_string(kSchemaVersion) + " this build knows");
    }
    return Exec(
        "CREATE TABLE patches("
        "  id TEXT NOT NULL, version TEXT NOT NULL, dir TEXT NOT NULL UNIQUE,"
        "  state TEXT NOT NULL, reason TEXT NOT NULL, faults INTEGER NOT NULL,"
        "  install_seq INTEGER NOT NULL UNIQUE, current INTEGER NOT NULL,"
        "  PRIMARY KEY(id, version));"
        "CREATE UNIQUE INDEX patches_current ON patches(id) WHERE current = 1;"
        "CREATE TABLE history("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, version TEXT NOT NULL,"
        "  time_ms INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL);"
        "CREATE INDEX history_by_id ON history(id, seq);"
        "PRAGMA user_version = 1;",
        "creating the schema");
  }
};

Result<std::unique_ptr<PatchStore>> PatchStore::Open(const std::string& data_dir) {
  if (data_dir.empty()) return MakeError(ErrorCode::kInvalidArgument, "data dir is empty");
  if (data_dir.find('\0') != std::string::npos) {
    return FileError(ErrorCode::kInvalidArgument, data_dir, "path contains a NUL byte");
  }
  std::error_code ec;
  fs::path root = fs::absolute(data_dir, ec);
  if (ec) return FileError(ErrorCode::kIo, data_dir, "cannot resolve path: " + ec.message());
  root = root.lexically_normal();
  std::string root_text = root.string();
  while (root_text.size() > 1 && root_text.back() == '/') root_text.pop_back();

  auto impl = std::make_unique<Impl>();
  impl->data_dir = root_text;
  impl->db_path = root_text + "/hotpatch.db";
  impl->patches_dir = root_text + "/patches";
  fs::create_directories(impl->patches_dir, ec);
  if (ec) {
    return FileError(ErrorCode::kIo, impl->patches_dir, "cannot create directory: " + ec.message());
  }

  std::lock_guard<std::mutex> lock(impl->mu);
  int rc =
      sqlite3_open_v2(impl->db_path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return impl->SqlError(rc, "opening the database");
  if (Status s = impl->Configure(); !s.ok()) return s.error();

  std::unique_ptr<PatchStore> store(new PatchStore());
  store->impl_ = std::move(impl);
  return store;
}

PatchStore::~PatchStore() = default;

Result<StoredPatch> PatchStore::Install(const PatchPackage& package) {
  Impl& d = *impl_;
  const PatchManifest& m = package.manifest;
  const std::string id = m.id;
  const std::string version = m.version.ToString();
  if (!IsSafeNamePart(id) || !IsSafeNamePart(version)) {
    return FileError(ErrorCode::kInvalidArgument, package.dir,
                     "patch id '" + id + "' or version '" + version + "' cannot name a directory");
  }
  // Read before taking the lock: the one file not held in `package`.
  Result<std::string> signature = ReadSmallFile(package.dir + "/patch.sig", 1024);
  if (!signature.ok()) return signature.error();

  std::lock_guard<std::mutex> lock(d.mu);
  Impl::WriteTransaction txn(&d);
  if (Status s = txn.Begin(); !s.ok()) return s.error();

  const std::string rel_dir = "patches/" + id + "-" + version;
  {
    Statement s(d.db,
                "SELECT id, version, state FROM patches "
                "WHERE (id = ?1 AND version = ?2) OR dir = ?3");
    s.Bind(1, id).Bind(2, version).Bind(3, rel_dir);
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      if (s.Text(0) == id && s.Text(1) == version) {
        return FileError(
            ErrorCode::kAlreadyExists, d.db_path,
            "patch '" + id + "' " + version + " is already installed (" + s.Text(2) + ")");
      }
      return FileError(
          ErrorCode::kAlreadyExists, d.db_path,
          "directory " + rel_dir + " already holds patch '" + s.Text(0) + "' " + s.Text(1));
    }
    if (rc != SQLITE_DONE) return d.SqlError(rc, "looking up patch '" + id + "'");
  }

  // Files: a complete, fsync'ed copy under a temp name, renamed into place.
  const std::string final_dir = d.AbsoluteDir(rel_dir);
  std::error_code ec;
  fs::remove_all(final_dir, ec);  // no row names it: left by a crashed install
  if (ec) return FileError(ErrorCode::kIo, final_dir, "cannot remove stale copy: " + ec.message());
  std::string temp_dir = d.patches_dir + "/" + std::string(kTempPrefix) + "XXXXXX";
  if (::mkdtemp(temp_dir.data()) == nullptr) {
    return ErrnoError(temp_dir, "cannot create a temporary directory", errno);
  }
  bool renamed = false;
  auto discard = [&] {
    std::error_code ignored;
    fs::remove_all(renamed ? final_dir : temp_dir, ignored);
  };
  Status written = WriteNewFile(temp_dir + "/patch.json", package.manifest_json);
  if (written.ok()) written = WriteNewFile(temp_dir + "/" + m.source, package.source);
  if (written.ok()) written = WriteNewFile(temp_dir + "/patch.sig", *signature);
  if (written.ok()) written = SyncPath(temp_dir, true);
  if (!written.ok()) {
    discard();
    return written.error();
  }
  FailPoint("files_written");
  if (::rename(temp_dir.c_str(), final_dir.c_str()) != 0) {
    Error e = ErrnoError(final_dir, "cannot move the installed copy into place", errno);
    discard();
    return e;
  }
  renamed = true;
  if (Status s = SyncPath(d.patches_dir, true); !s.ok()) {
    discard();
    return s.error();
  }
  FailPoint("renamed");

  // Rows: supersede the current version, add this one.
  Status rows = Status::Ok();
  Result<std::optional<Row>> previous = d.CurrentRow(id);
  if (!previous.ok()) rows = previous.error();
  if (rows.ok() && *previous) {
    const Row& p = **previous;
    rows = d.Change(p.patch.id, p.patch.version, PatchState::kSuperseded,
                    "superseded by " + version, p.patch.faults, false);
  }
  int64_t seq = 0;
  if (rows.ok()) {
    Statement s(d.db, "SELECT COALESCE(MAX(install_seq), 0) + 1 FROM patches");
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      seq = s.Int(0);
    } else {
      rows = d.SqlError(rc, "numbering the install");
    }
  }
  const std::string reason = "installed";
  if (rows.ok()) {
    Statement insert(d.db,
                     "INSERT INTO patches(id, version, dir, state, reason, faults, install_seq, "
                     "current) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6, 1)");
    insert.Bind(1, id).Bind(2, version).Bind(3, rel_dir).Bind(4, "enabled").Bind(5, reason);
    insert.Bind(6, seq);
    rows = d.Run(insert, "recording patch '" + id + "'");
  }
  if (rows.ok()) rows = d.AppendHistory(id, version, PatchState::kEnabled, reason);
  if (rows.ok()) FailPoint("rows_written");
  if (rows.ok()) rows = txn.Commit();
  if (!rows.ok()) {
    discard();
    return rows.error();
  }
  FailPoint("committed");

  StoredPatch stored;
  stored.id = id;
  stored.version = version;
  stored.dir = final_dir;
  stored.state = PatchState::kEnabled;
  stored.reason = reason;
  stored.faults = 0;
  stored.install_seq = static_cast<uint64_t>(seq);
  return stored;
}

Status PatchStore::SetState(const std::string& id, PatchState state, const std::string& reason) {
  Impl& d = *impl_;
  if (state == PatchState::kSuperseded) {
    return FileError(ErrorCode::kInvalidArgument, d.db_path,
                     "only installing a newer version supersedes a patch");
  }
  std::lock_guard<std::mutex> lock(d.mu);
  Impl::WriteTransaction txn(&d);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<std::optional<Row>> row = d.CurrentRow(id);
  if (!row.ok()) return row.error();
  if (!*row) return d.NotInstalled(id);
  const StoredPatch& p = (*row)->patch;
  // Faults count since the patch was last enabled.
  int64_t faults = state == PatchState::kEnabled ? 0 : p.faults;
  if (Status s = d.Change(id, p.version, state, reason, faults, true); !s.ok()) return s;
  return txn.Commit();
}

Result<uint32_t> PatchStore::RecordFault(const std::string& id, const std::string& message) {
  Impl& d = *impl_;
  std::string text = message.substr(0, kMaxFaultMessageBytes);
  std::lock_guard<std::mutex> lock(d.mu);
  Impl::WriteTransaction txn(&d);
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  Result<std::optional<Row>> row = d.CurrentRow(id);
  if (!row.ok()) return row.error();
  if (!*row) return d.NotInstalled(id);
  const StoredPatch& p = (*row)->patch;
  const uint32_t faults = p.faults + 1;
  {
    Statement update(d.db, "UPDATE patches SET faults = ?3 WHERE id = ?1 AND version = ?2");
    update.Bind(1, id).Bind(2, p.version).Bind(3, int64_t{faults});
    if (Status s = d.Run(update, "counting a fault of patch '" + id + "'"); !s.ok()) {
      return s.error();
    }
  }
  if (Status s =
          d.AppendHistory(id, p.version, p.state, "fault " + std::to_string(faults) + ": " + text);
      !s.ok()) {
    return s.error();
  }
  if (Status s = txn.Commit(); !s.ok()) return s.error();
  return faults;
}

Status PatchStore::Rollback(const std::string& id, const std::string& reason) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  Impl::WriteTransaction txn(&d);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<std::optional<Row>> current = d.CurrentRow(id);
  if (!current.ok()) return current.error();
  if (!*current) return d.NotInstalled(id);
  std::optional<Row> previous;
  {
    std::string sql = std::string("SELECT ") + kPatchColumns +
                      " FROM patches WHERE id = ?1 AND current = 0 AND state = 'superseded' "
                      "ORDER BY install_seq DESC LIMIT 1";
    Statement s(d.db, sql.c_str());
    s.Bind(1, id);
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      Result<Row> row = d.ReadRow(s);
      if (!row.ok()) return row.error();
      previous = std::move(row).value();
    } else if (rc != SQLITE_DONE) {
      return d.SqlError(rc, "looking up earlier versions of patch '" + id + "'");
    }
  }
  const StoredPatch& from = (*current)->patch;
  if (!previous) {
    return FileError(ErrorCode::kNotFound, d.db_path,
                     "patch '" + id + "' has no earlier version to roll back to (current is " +
                         from.version + ")");
  }
  if (Status s = d.Change(id, from.version, PatchState::kDisabled, reason, from.faults, false);
      !s.ok()) {
    return s;
  }
  if (Status s = d.Change(id, previous->patch.version, PatchState::kEnabled,
                          "rolled back from " + from.version + ": " + reason, 0, true);
      !s.ok()) {
    return s;
  }
  return txn.Commit();
}

Status PatchStore::DisableAll(const std::string& reason) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  Impl::WriteTransaction txn(&d);
  if (Status s = txn.Begin(); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> enabled;  // id, version
  {
    Statement s(d.db,
                "SELECT id, version FROM patches WHERE current = 1 AND state = 'enabled' "
                "ORDER BY install_seq");
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) enabled.emplace_back(s.Text(0), s.Text(1));
    if (rc != SQLITE_DONE) return d.SqlError(rc, "listing enabled patches");
  }
  for (const auto& [id, version] : enabled) {
    Statement update(d.db,
                     "UPDATE patches SET state = 'disabled', reason = ?3 "
                     "WHERE id = ?1 AND version = ?2");
    update.Bind(1, id).Bind(2, version).Bind(3, reason);
    if (Status s = d.Run(update, "disabling patch '" + id + "'"); !s.ok()) return s;
    if (Status s = d.AppendHistory(id, version, PatchState::kDisabled, reason); !s.ok()) return s;
  }
  return txn.Commit();
}

Result<std::vector<StoredPatch>> PatchStore::List() {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  std::string sql = std::string("SELECT ") + kPatchColumns +
                    " FROM patches WHERE current = 1 ORDER BY install_seq";
  Statement s(d.db, sql.c_str());
  std::vector<StoredPatch> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    Result<Row> row = d.ReadRow(s);
    if (!row.ok()) return row.error();
    out.push_back(std::move(row->patch));
  }
  if (rc != SQLITE_DONE) return d.SqlError(rc, "listing patches");
  return out;
}

Result<std::vector<PatchHistoryEntry>> PatchStore::History(const std::string& id) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  Statement s(d.db,
              "SELECT id, version, time_ms, state, reason FROM history WHERE id = ?1 "
              "ORDER BY seq");
  s.Bind(1, id);
  std::vector<PatchHistoryEntry> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    PatchHistoryEntry e;
    e.id = s.Text(0);
    e.version = s.Text(1);
    e.time_unix_ms = s.Int(2);
    std::string state = s.Text(3);
    std::optional<PatchState> parsed = StateFromName(state);
    if (!parsed) {
      return FileError(ErrorCode::kCorrupt, d.db_path,
                       "history of patch '" + id + "' has unknown state '" + state + "'");
    }
    e.state = *parsed;
    e.reason = s.Text(4);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return d.SqlError(rc, "reading history of patch '" + id + "'");
  return out;
}

}  // namespace atrium::hotpatch::internal
