// The artifact store's private parts, shared by its two files:
// artifact_store.cc (open, install and the state changes) and
// artifact_store_queries.cc (listing, history, re-hashing installed files).
//
// Concurrency: Impl::mu guards the connection and the trusted keys; every
// method that says "Requires mu" runs with it held.
#ifndef ATRIUM_BUNDLES_ARTIFACT_STORE_IMPL_H_
#define ATRIUM_BUNDLES_ARTIFACT_STORE_IMPL_H_

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "atrium/artifact_store.h"
#include "atrium/base/file_util.h"
#include "atrium/base/fs_faults.h"
#include "atrium/base/hex.h"
#include "atrium/base/sqlite_db.h"
#include "atrium/bundles/store_stamp.h"
#include "atrium/bundles/test_hooks.h"

namespace atrium {
namespace artifact_store_detail {

namespace fs = std::filesystem;
using internal::ErrnoError;
using internal::FileError;
using internal::SqliteDb;
using internal::Statement;
using internal::SyncPath;

constexpr int kSchemaVersion = 1;
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr const char* kColumns =
    "kind, id, version, state, dir, package, package_sha256, signer, reason, changed_ms, "
    "install_seq";

inline void FailPoint(const char* point) {
  if (internal::ArtifactStoreFailPointForTesting != nullptr) {
    internal::ArtifactStoreFailPointForTesting(point);
  }
}

inline std::optional<ArtifactState> StateFromName(std::string_view name) {
  for (ArtifactState s :
       {ArtifactState::kBaseline, ArtifactState::kStaged, ArtifactState::kActive,
        ArtifactState::kPrevious, ArtifactState::kDisabled, ArtifactState::kFailed}) {
    if (name == ArtifactStateName(s)) return s;
  }
  return std::nullopt;
}

// Ids and versions become directory names: only their grammars' characters.
inline bool IsSafeNamePart(std::string_view s) {
  if (s.empty() || s.size() > 200 || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

inline Result<std::string> Sha256OfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "cannot open", errno);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::string buffer(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(path, "cannot read", err);
    }
    if (n == 0) break;
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buffer.data()),
                              static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[32];
  crypto_hash_sha256_final(&st, digest);
  return internal::HexOf(digest, sizeof digest);
}

// Copies `from` to a new file `to`, fsync'ed. Written through FsWrite and
// FsSync, so a test can fail or shorten any write (fs_faults.h).
inline Status CopyFileDurably(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return internal::ErrnoError(from, "cannot open the package", errno);
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return internal::ErrnoError(to, "cannot create the package copy", err);
  }
  Status s = Status::Ok();
  char buffer[65536];
  while (s.ok()) {
    const ssize_t n = ::read(in, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = internal::ErrnoError(from, "cannot read the package", errno);
      break;
    }
    if (n == 0) break;
    for (size_t done = 0; done < static_cast<size_t>(n) && s.ok();) {
      const ssize_t w = internal::FsWrite(out, buffer + done, static_cast<size_t>(n) - done, to);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        s = internal::ErrnoError(to, "cannot write the package copy", errno);
      } else {
        done += static_cast<size_t>(w);
      }
    }
  }
  if (s.ok() && internal::FsSync(out, to) != 0) {
    s = internal::ErrnoError(to, "cannot sync the package copy", errno);
  }
  ::close(in);
  if (::close(out) != 0 && s.ok()) s = internal::ErrnoError(to, "cannot close", errno);
  return s;
}

}  // namespace artifact_store_detail

// This header is the store's own (included by its two files only).
using namespace artifact_store_detail;  // NOLINT

struct ArtifactStore::Impl {
  std::string data_dir;       // absolute
  std::string artifacts_dir;  // data_dir/artifacts
  mutable std::mutex mu;
  std::vector<PublicKey> trusted_keys;  // guarded by mu
  std::string app_id;                   // guarded by mu
  std::unique_ptr<SqliteDb> db;         // guarded by mu
  uint64_t generation = 0;              // guarded by mu
  std::function<int64_t()> now_ms;      // SetArtifactStoreClockForTesting; guarded by mu
  // A removal after a commit failed: the next Open sweeps (no stamp).
  bool files_left = false;  // guarded by mu
  // The stamp a lazy store answers from (until it opens state.db).
  mutable std::unique_ptr<internal::HeldStoreStamp> held_stamp;  // guarded by mu
  // state.db as this session opened it (EnsureDb); nullopt: unknown, no stamp.
  std::optional<internal::StampFileId> db_file;  // guarded by mu

  ~Impl() { WriteStampAtClose(); }

  int64_t Now() const { return now_ms ? now_ms() : internal::NowUnixMs(); }

  std::string Abs(const std::string& rel) const { return data_dir + "/" + rel; }

  // Requires mu: state.db open (now, when Open was lazy).
  Status EnsureDb() {
    if (db != nullptr) return Status::Ok();
    std::error_code ec;
    fs::create_directories(artifacts_dir, ec);
    if (ec)
      return FileError(ErrorCode::kIo, artifacts_dir, "cannot create directory: " + ec.message());
    // Opened under the shared stamp lock, so the guard's recovery (which
    // replaces state.db under the exclusive one) cannot move the file between
    // the open and the identity recorded for this session's stamp.
    internal::StampLock opening(data_dir, internal::StampLock::Mode::kChange);
    const std::string path = data_dir + "/state.db";
    auto opened = SqliteDb::Open(path);
    if (!opened.ok()) return opened.error();
    db = std::move(opened).value();
    held_stamp.reset();
    {
      SqliteDb::WriteTransaction txn(db.get());
      Status s = txn.Begin();
      if (s.ok()) s = CreateSchema();
      if (s.ok()) s = Sweep();
      if (s.ok()) s = txn.Commit();
      if (!s.ok()) {
        db.reset();
        return s;
      }
    }
    auto g = ReadGeneration();
    if (!g.ok()) {
      db.reset();
      return g.error();
    }
    generation = *g;
    db_file = opening.held() ? internal::StampFileIdOf(path) : std::nullopt;
    return Status::Ok();
  }

  // Requires mu: the stamp, when state.db is not open (lazy) and the stamp
  // is valid now.
  std::optional<internal::StoreStamp> LazyStamp() const {
    if (db != nullptr) return std::nullopt;
    if (held_stamp == nullptr) held_stamp = std::make_unique<internal::HeldStoreStamp>(data_dir);
    return held_stamp->Read();
  }

  // Requires mu: before a change that bumps the generation; the returned
  // hold is kept until after its commit (store_stamp.h).
  Result<std::unique_ptr<internal::StampLock>> BeginChange() {
    auto hold = std::make_unique<internal::StampLock>(data_dir, internal::StampLock::Mode::kChange);
    if (!hold->held()) {
      return ErrnoError(data_dir + "/store.stamp.lock", "cannot lock the store for a change",
                        errno);
    }
    if (Status s = internal::RemoveStoreStamp(data_dir); !s.ok()) return s.error();
    return hold;
  }

  // At close: a stamp of what this session's database holds, when this
  // session opened it, no change is under way anywhere, and after closing
  // the connection state.db is still the file it opened, with no WAL left.
  void WriteStampAtClose() {
    if (db == nullptr || files_left || !db_file) return;
    internal::StampLock hold(data_dir, internal::StampLock::Mode::kWriteStamp);
    if (!hold.held()) return;
    internal::StoreStamp stamp;
    {
      Statement s(db->handle(), "SELECT value FROM meta WHERE key = 'generation'");
      if (s.Step() != SQLITE_ROW) return;
      stamp.generation = static_cast<uint64_t>(s.Int(0));
    }
    {
      Statement s(db->handle(),
                  "SELECT kind, state = 'staged', COUNT(*) FROM artifacts "
                  "GROUP BY kind, state = 'staged'");
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        const auto rows = static_cast<uint64_t>(s.Int(2));
        stamp.kinds[s.Text(0)] += rows;
        if (s.Int(1) != 0) stamp.staged += rows;
      }
      if (rc != SQLITE_DONE) return;
    }
    db.reset();  // the last connection checkpoints and removes the WAL
    (void)internal::WriteStoreStamp(data_dir, stamp, *db_file);
  }

  // Requires mu.
  Status CreateSchema() {
    Statement version(db->handle(), "PRAGMA user_version");
    int rc = version.Step();
    if (rc != SQLITE_ROW) return db->SqlError(rc, "reading the schema version");
    int64_t found = version.Int(0);
    if (found == kSchemaVersion) return Status::Ok();
    if (found != 0) {
      return FileError(ErrorCode::kCorrupt, db->path(),
                       "schema version " + std::to_string(found) + " is not the version " +
                           std::to_string(kSchemaVersion) + " this build knows");
    }
    return db->Exec(
        "CREATE TABLE artifacts("
        "  kind TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,"
        "  dir TEXT NOT NULL UNIQUE, package TEXT NOT NULL UNIQUE,"
        "  package_sha256 TEXT NOT NULL, signer TEXT NOT NULL, reason TEXT NOT NULL,"
        "  changed_ms INTEGER NOT NULL, install_seq INTEGER NOT NULL UNIQUE,"
        "  PRIMARY KEY(kind, id, version));"
        "CREATE UNIQUE INDEX one_active ON artifacts(kind, id) WHERE state = 'active';"
        "CREATE UNIQUE INDEX one_previous ON artifacts(kind, id) WHERE state = 'previous';"
        "CREATE UNIQUE INDEX one_staged ON artifacts(kind, id) WHERE state = 'staged';"
        "CREATE UNIQUE INDEX one_baseline ON artifacts(kind, id) WHERE state = 'baseline';"
        "CREATE TABLE history("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
        "  id TEXT NOT NULL, version TEXT NOT NULL, from_state TEXT NOT NULL,"
        "  to_state TEXT NOT NULL, reason TEXT NOT NULL);"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO meta VALUES('generation', 0);"
        "PRAGMA user_version = 1;",
        "creating the schema");
  }

  // Requires mu.
  Result<uint64_t> ReadGeneration() const {
    Statement s(db->handle(), "SELECT value FROM meta WHERE key = 'generation'");
    int rc = s.Step();
    if (rc != SQLITE_ROW) return db->SqlError(rc, "reading the generation");
    return static_cast<uint64_t>(s.Int(0));
  }

  // Requires mu, inside a write transaction.
  Status BumpGeneration() {
    Statement s(db->handle(), "UPDATE meta SET value = value + 1 WHERE key = 'generation'");
    return db->Run(s, "advancing the generation");
  }

  // Requires mu, inside a write transaction: removes .tmp-* and every
  // version directory or package that no row names.
  Status Sweep() {
    std::set<std::string> owned;
    {
      Statement s(db->handle(), "SELECT dir, package FROM artifacts");
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        owned.insert(s.Text(0));
        owned.insert(s.Text(1));
      }
      if (rc != SQLITE_DONE) return db->SqlError(rc, "listing installed artifacts");
    }
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (fs::directory_iterator kinds(artifacts_dir, ec), end; !ec && kinds != end;
         kinds.increment(ec)) {
      const std::string kind = kinds->path().filename().string();
      if (kind.rfind(kTempPrefix, 0) == 0) {
        doomed.push_back(kinds->path());
        continue;
      }
      std::error_code ec2;
      for (fs::directory_iterator ids(kinds->path(), ec2); !ec2 && ids != end; ids.increment(ec2)) {
        std::error_code ec3;
        for (fs::directory_iterator v(ids->path(), ec3); !ec3 && v != end; v.increment(ec3)) {
          std::string rel = "artifacts/" + kind + "/" + ids->path().filename().string() + "/" +
                            v->path().filename().string();
          if (owned.count(rel) == 0) doomed.push_back(v->path());
        }
      }
    }
    for (const fs::path& p : doomed) {
      fs::remove_all(p, ec);
      if (ec) return FileError(ErrorCode::kIo, p.string(), "cannot remove: " + ec.message());
    }
    return Status::Ok();
  }

  Result<ArtifactRecord> ReadRow(const Statement& s) const {
    ArtifactRecord r;
    auto kind = ParseArtifactKind(s.Text(0));
    if (!kind) {
      return FileError(ErrorCode::kCorrupt, db->path(),
                       "unknown artifact kind '" + s.Text(0) + "'");
    }
    r.kind = *kind;
    r.id = s.Text(1);
    r.version = s.Text(2);
    auto state = StateFromName(s.Text(3));
    if (!state) {
      return FileError(ErrorCode::kCorrupt, db->path(),
                       r.id + " " + r.version + " has unknown state '" + s.Text(3) + "'");
    }
    r.state = *state;
    r.dir = Abs(s.Text(4));
    r.package = Abs(s.Text(5));
    r.package_sha256 = s.Text(6);
    r.signer = s.Text(7);
    r.reason = s.Text(8);
    r.changed_ms = s.Int(9);
    r.install_seq = s.Int(10);
    return r;
  }

  // Requires mu.
  Result<std::vector<ArtifactRecord>> Select(const std::string& where,
                                             std::vector<std::string> args) const {
    std::string sql = std::string("SELECT ") + kColumns + " FROM artifacts " + where +
                      " ORDER BY kind, id, install_seq";
    Statement s(db->handle(), sql.c_str());
    for (size_t i = 0; i < args.size(); ++i) s.Bind(static_cast<int>(i + 1), args[i]);
    std::vector<ArtifactRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto r = ReadRow(s);
      if (!r.ok()) return r.error();
      out.push_back(std::move(r).value());
    }
    if (rc != SQLITE_DONE) return db->SqlError(rc, "reading artifacts");
    return out;
  }

  // Requires mu.
  Result<std::optional<ArtifactRecord>> InState(ArtifactKind kind, std::string_view id,
                                                ArtifactState state) const {
    auto rows = Select("WHERE kind = ?1 AND id = ?2 AND state = ?3",
                       {ArtifactKindName(kind), std::string(id), ArtifactStateName(state)});
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return std::optional<ArtifactRecord>();
    return std::optional<ArtifactRecord>(rows->front());
  }

  // Requires mu.
  Result<std::optional<ArtifactRecord>> Find(ArtifactKind kind, std::string_view id,
                                             std::string_view version) const {
    auto rows = Select("WHERE kind = ?1 AND id = ?2 AND version = ?3",
                       {ArtifactKindName(kind), std::string(id), std::string(version)});
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return std::optional<ArtifactRecord>();
    return std::optional<ArtifactRecord>(rows->front());
  }

  // Requires mu, inside a write transaction.
  Status Change(const ArtifactRecord& r, ArtifactState to, std::string_view reason) {
    Statement u(db->handle(),
                "UPDATE artifacts SET state = ?4, reason = ?5, changed_ms = ?6 "
                "WHERE kind = ?1 AND id = ?2 AND version = ?3");
    u.Bind(1, ArtifactKindName(r.kind)).Bind(2, r.id).Bind(3, r.version);
    u.Bind(4, ArtifactStateName(to)).Bind(5, reason).Bind(6, Now());
    if (Status s = db->Run(u, "updating " + r.id + " " + r.version); !s.ok()) return s;
    return Event(r.kind, r.id, r.version, ArtifactStateName(r.state), ArtifactStateName(to),
                 reason);
  }

  // Requires mu, inside a write transaction. Deletes the row; the caller
  // removes its files after the commit (or the next sweep does).
  Status Remove(const ArtifactRecord& r, std::string_view reason) {
    Statement d(db->handle(), "DELETE FROM artifacts WHERE kind = ?1 AND id = ?2 AND version = ?3");
    d.Bind(1, ArtifactKindName(r.kind)).Bind(2, r.id).Bind(3, r.version);
    if (Status s = db->Run(d, "removing " + r.id + " " + r.version); !s.ok()) return s;
    return Event(r.kind, r.id, r.version, ArtifactStateName(r.state), "removed", reason);
  }

  // Requires mu, inside a write transaction.
  Status Event(ArtifactKind kind, const std::string& id, const std::string& version,
               std::string_view from, std::string_view to, std::string_view reason) {
    Statement i(db->handle(),
                "INSERT INTO history(time_ms, kind, id, version, from_state, to_state, reason) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    i.Bind(1, Now()).Bind(2, ArtifactKindName(kind)).Bind(3, id).Bind(4, version);
    i.Bind(5, from).Bind(6, to).Bind(7, reason);
    return db->Run(i, "recording history of " + id);
  }

  // Requires mu, inside a write transaction: `r` becomes active; the active
  // version becomes previous, the former previous is removed (returned in
  // `removed` for deletion after the commit).
  Status MakeActive(const ArtifactRecord& r, std::string_view reason,
                    std::vector<ArtifactRecord>* removed) {
    auto active = InState(r.kind, r.id, ArtifactState::kActive);
    if (!active.ok()) return active.error();
    if (*active && (*active)->version == r.version) return Status::Ok();
    if (Status s = MakeRoomForActive(r.kind, r.id, r.version, removed); !s.ok()) return s;
    return Change(r, ArtifactState::kActive, reason);
  }

  // Requires mu, inside a write transaction: the active version of (kind,
  // id) becomes previous (the former previous is removed), so `version` can
  // take the active slot.
  Status MakeRoomForActive(ArtifactKind kind, std::string_view id, const std::string& version,
                           std::vector<ArtifactRecord>* removed) {
    auto active = InState(kind, id, ArtifactState::kActive);
    if (!active.ok()) return active.error();
    if (*active) {
      ArtifactRecord r;
      r.kind = kind;
      r.id = std::string(id);
      r.version = version;
      auto previous = InState(r.kind, r.id, ArtifactState::kPrevious);
      if (!previous.ok()) return previous.error();
      if (*previous && (*previous)->version != r.version) {
        if (Status s = Remove(**previous, "replaced as previous by " + (*active)->version);
            !s.ok()) {
          return s;
        }
        removed->push_back(**previous);
      }
      if (Status s = Change(**active, ArtifactState::kPrevious, "superseded by " + r.version);
          !s.ok()) {
        return s;
      }
    }
    return Status::Ok();
  }

  // Requires mu, inside a write transaction: `r` leaves the active slot for
  // `to`; previous (if any) comes back.
  Result<std::optional<ArtifactRecord>> Demote(const ArtifactRecord& r, ArtifactState to,
                                               std::string_view reason) {
    if (r.state == ArtifactState::kBaseline) {
      return FileError(ErrorCode::kState, db->path(),
                       r.id + " " + r.version + " ships with the app (baseline) and cannot be " +
                           ArtifactStateName(to));
    }
    const bool was_active = r.state == ArtifactState::kActive;
    if (Status s = Change(r, to, reason); !s.ok()) return s.error();
    if (!was_active) return InState(r.kind, r.id, ArtifactState::kActive);
    auto previous = InState(r.kind, r.id, ArtifactState::kPrevious);
    if (!previous.ok()) return previous.error();
    if (!*previous) return std::optional<ArtifactRecord>();
    if (Status s = Change(**previous, ArtifactState::kActive,
                          "restored: " + r.version + " " + ArtifactStateName(to));
        !s.ok()) {
      return s.error();
    }
    ArtifactRecord restored = **previous;
    restored.state = ArtifactState::kActive;
    return std::optional<ArtifactRecord>(restored);
  }

  // Requires mu.
  void RemoveFiles(const std::vector<ArtifactRecord>& removed) {
    for (const auto& r : removed) {
      std::error_code ec;
      fs::remove_all(r.dir, ec);
      if (ec) files_left = true;
      fs::remove(r.package, ec);
      if (ec) files_left = true;
    }
  }

  // Runs `body` in a write transaction that bumps the generation.
  template <typename F>
  auto Write(F body) -> decltype(body()) {
    if (Status s = EnsureDb(); !s.ok()) return s.error();
    auto hold = BeginChange();
    if (!hold.ok()) return hold.error();
    SqliteDb::WriteTransaction txn(db.get());
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    auto result = body();
    if (!result.ok()) return result;
    if (Status s = BumpGeneration(); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
    ++generation;
    return result;
  }
};

}  // namespace atrium

#endif  // ATRIUM_BUNDLES_ARTIFACT_STORE_IMPL_H_
