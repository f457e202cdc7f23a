// SQLite implementation of ArtifactStore (atrium/artifact_store.h).
//
// Tables:
//   artifacts(kind, id, version, state, dir, package, package_sha256, signer,
//             reason, changed_ms, install_seq)   one row per held version;
//             dir and package are relative to the data dir
//   history(seq, time_ms, kind, id, version, from_state, to_state, reason)
//   meta(key, value)                             "generation"
#include "atrium/artifact_store.h"

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
#include <set>

#include "atrium/base/hex.h"
#include "atrium/base/sqlite_db.h"
#include "atrium/bundles/store_database.h"
#include "atrium/bundles/test_hooks.h"

namespace atrium {
namespace internal {
void (*ArtifactStoreFailPointForTesting)(const char* point) = nullptr;
}  // namespace internal

namespace {

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

void FailPoint(const char* point) {
  if (internal::ArtifactStoreFailPointForTesting != nullptr) {
    internal::ArtifactStoreFailPointForTesting(point);
  }
}

std::optional<ArtifactState> StateFromName(std::string_view name) {
  for (ArtifactState s :
       {ArtifactState::kBaseline, ArtifactState::kStaged, ArtifactState::kActive,
        ArtifactState::kPrevious, ArtifactState::kDisabled, ArtifactState::kFailed}) {
    if (name == ArtifactStateName(s)) return s;
  }
  return std::nullopt;
}

// Ids and versions become directory names: only their grammars' characters.
bool IsSafeNamePart(std::string_view s) {
  if (s.empty() || s.size() > 200 || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> Sha256OfFile(const std::string& path) {
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

// Copies `from` to a new file `to`, fsync'ed.
Status CopyFileDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec) return FileError(ErrorCode::kIo, to, "cannot copy the package: " + ec.message());
  return SyncPath(to, false);
}

}  // namespace

const char* ArtifactStateName(ArtifactState s) {
  switch (s) {
    case ArtifactState::kBaseline:
      return "baseline";
    case ArtifactState::kStaged:
      return "staged";
    case ArtifactState::kActive:
      return "active";
    case ArtifactState::kPrevious:
      return "previous";
    case ArtifactState::kDisabled:
      return "disabled";
    case ArtifactState::kFailed:
      return "failed";
  }
  return "unknown";
}

struct ArtifactStore::Impl {
  std::string data_dir;       // absolute
  std::string artifacts_dir;  // data_dir/artifacts
  mutable std::mutex mu;
  std::vector<PublicKey> trusted_keys;  // guarded by mu
  std::unique_ptr<SqliteDb> db;         // guarded by mu
  uint64_t generation = 0;              // guarded by mu

  std::string Abs(const std::string& rel) const { return data_dir + "/" + rel; }

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
    u.Bind(4, ArtifactStateName(to)).Bind(5, reason).Bind(6, internal::NowUnixMs());
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
    i.Bind(1, internal::NowUnixMs()).Bind(2, ArtifactKindName(kind)).Bind(3, id).Bind(4, version);
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

  void RemoveFiles(const std::vector<ArtifactRecord>& removed) {
    std::error_code ec;
    for (const auto& r : removed) {
      fs::remove_all(r.dir, ec);
      fs::remove(r.package, ec);
    }
  }

  // Runs `body` in a write transaction that bumps the generation.
  template <typename F>
  auto Write(F body) -> decltype(body()) {
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

ArtifactStore::ArtifactStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArtifactStore::~ArtifactStore() = default;

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(ArtifactStoreOptions options) {
  if (options.data_dir.empty()) return MakeError(ErrorCode::kInvalidArgument, "data dir is empty");
  std::error_code ec;
  fs::path root = fs::absolute(options.data_dir, ec).lexically_normal();
  std::string root_text = root.string();
  while (root_text.size() > 1 && root_text.back() == '/') root_text.pop_back();
  auto impl = std::make_unique<Impl>();
  impl->data_dir = root_text;
  impl->artifacts_dir = root_text + "/artifacts";
  impl->trusted_keys = std::move(options.trusted_keys);
  fs::create_directories(impl->artifacts_dir, ec);
  if (ec) {
    return FileError(ErrorCode::kIo, impl->artifacts_dir,
                     "cannot create directory: " + ec.message());
  }
  std::lock_guard lock(impl->mu);
  auto db = SqliteDb::Open(root_text + "/state.db");
  if (!db.ok()) return db.error();
  impl->db = std::move(db).value();
  {
    SqliteDb::WriteTransaction txn(impl->db.get());
    if (Status s = txn.Begin(); !s.ok()) return s.error();
    if (Status s = impl->CreateSchema(); !s.ok()) return s.error();
    if (Status s = impl->Sweep(); !s.ok()) return s.error();
    if (Status s = txn.Commit(); !s.ok()) return s.error();
  }
  auto generation = impl->ReadGeneration();
  if (!generation.ok()) return generation.error();
  impl->generation = *generation;
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(std::move(impl)));
}

const std::string& ArtifactStore::data_dir() const { return impl_->data_dir; }

void ArtifactStore::SetTrustedKeys(std::vector<PublicKey> keys) {
  std::lock_guard lock(impl_->mu);
  impl_->trusted_keys = std::move(keys);
}

uint64_t ArtifactStore::generation() const {
  std::lock_guard lock(impl_->mu);
  // Another process may have changed the store.
  auto g = impl_->ReadGeneration();
  return g.ok() ? *g : impl_->generation;
}

Result<ArtifactRecord> ArtifactStore::Install(const std::string& package_path, InstallAs as,
                                              std::string_view reason) {
  Impl& d = *impl_;
  // Everything that can be checked before touching the store.
  auto reader = PackageReader::Open(package_path);
  if (!reader.ok()) return reader.error();
  std::vector<PublicKey> keys;
  {
    std::lock_guard lock(d.mu);
    keys = d.trusted_keys;
  }
  if (keys.empty()) {
    return FileError(ErrorCode::kState, package_path,
                     "refused: the app pins no release key (app.json \"release_keys\")");
  }
  if (Status s = (*reader)->Verify(keys); !s.ok()) {
    Error e = s.error();
    if (e.file.empty()) e.file = package_path;
    e.message = "refused: " + e.message;
    return e;
  }
  if (Status s = (*reader)->VerifyAllEntries(); !s.ok()) return s.error();
  const PackageInfo& info = (*reader)->info();
  if (!IsSafeNamePart(info.id) || !IsSafeNamePart(info.version)) {
    return FileError(
        ErrorCode::kValidation, package_path,
        "artifact id '" + info.id + "' or version '" + info.version + "' cannot name a directory");
  }
  auto sha = Sha256OfFile(package_path);
  if (!sha.ok()) return sha.error();
  const std::string kind = ArtifactKindName(info.kind);
  const std::string rel_dir = "artifacts/" + kind + "/" + info.id + "/" + info.version;
  const std::string rel_package = rel_dir + ".atb";
  const ArtifactState state = as == InstallAs::kBaseline ? ArtifactState::kBaseline
                              : as == InstallAs::kActive ? ArtifactState::kActive
                                                         : ArtifactState::kStaged;

  std::lock_guard lock(d.mu);
  SqliteDb::WriteTransaction txn(d.db.get());
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  auto existing = d.Find(info.kind, info.id, info.version);
  if (!existing.ok()) return existing.error();
  if (*existing) {
    if ((*existing)->state == ArtifactState::kBaseline && state == ArtifactState::kBaseline &&
        (*existing)->package_sha256 == *sha) {
      return **existing;  // the same shipped package: nothing to do
    }
    return FileError(ErrorCode::kAlreadyExists, package_path,
                     kind + " " + info.id + " " + info.version + " is already installed (" +
                         ArtifactStateName((*existing)->state) + ")");
  }
  if (state == ArtifactState::kBaseline) {
    // A new app release ships another baseline version: it replaces the old.
    auto old = d.InState(info.kind, info.id, ArtifactState::kBaseline);
    if (!old.ok()) return old.error();
    if (*old) {
      if (Status s = d.Remove(**old, "baseline replaced by " + info.version); !s.ok()) {
        return s.error();
      }
    }
  }

  // Files: complete and fsync'ed under a temp name, then renamed into place.
  const std::string final_dir = d.Abs(rel_dir);
  const std::string final_package = d.Abs(rel_package);
  std::error_code ec;
  fs::remove_all(final_dir, ec);  // no row names them: left by a crashed install
  fs::remove(final_package, ec);
  fs::create_directories(fs::path(final_dir).parent_path(), ec);
  if (ec) return FileError(ErrorCode::kIo, final_dir, "cannot create directory: " + ec.message());
  std::string temp = d.artifacts_dir + "/" + std::string(kTempPrefix) + "XXXXXX";
  if (::mkdtemp(temp.data()) == nullptr) {
    return ErrnoError(temp, "cannot create a temporary directory", errno);
  }
  std::vector<std::string> placed;
  auto discard = [&] {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
    for (const auto& p : placed) fs::remove_all(p, ignored);
  };
  Status files = (*reader)->ExtractTo(temp + "/files");
  if (files.ok()) files = SyncPath(temp + "/files", true);
  if (files.ok()) files = CopyFileDurably(package_path, temp + "/package.atb");
  if (files.ok()) files = SyncPath(temp, true);
  if (!files.ok()) {
    discard();
    return files.error();
  }
  FailPoint("extracted");
  const std::string parent = fs::path(final_dir).parent_path().string();
  if (::rename((temp + "/files").c_str(), final_dir.c_str()) != 0) {
    Error e = ErrnoError(final_dir, "cannot move the extracted files into place", errno);
    discard();
    return e;
  }
  placed.push_back(final_dir);
  if (::rename((temp + "/package.atb").c_str(), final_package.c_str()) != 0) {
    Error e = ErrnoError(final_package, "cannot move the package into place", errno);
    discard();
    return e;
  }
  placed.push_back(final_package);
  Status synced = SyncPath(parent, true);
  if (synced.ok()) synced = SyncPath(d.artifacts_dir, true);
  if (!synced.ok()) {
    discard();
    return synced.error();
  }
  FailPoint("renamed");

  // Rows, in the same transaction that has held the write lock throughout.
  std::vector<ArtifactRecord> removed;
  Status rows = Status::Ok();
  int64_t seq = 0;
  {
    Statement s(d.db->handle(), "SELECT COALESCE(MAX(install_seq), 0) + 1 FROM artifacts");
    if (s.Step() == SQLITE_ROW) {
      seq = s.Int(0);
    } else {
      rows = d.db->SqlError(SQLITE_ERROR, "numbering the install");
    }
  }
  if (rows.ok() && state == ArtifactState::kStaged) {
    auto staged = d.InState(info.kind, info.id, ArtifactState::kStaged);
    if (!staged.ok()) rows = staged.error();
    if (rows.ok() && *staged) {
      rows = d.Remove(**staged, "replaced by staged " + info.version);
      removed.push_back(**staged);
    }
  }
  ArtifactRecord record;
  record.kind = info.kind;
  record.id = info.id;
  record.version = info.version;
  record.state = state;
  record.dir = final_dir;
  record.package = final_package;
  record.package_sha256 = *sha;
  record.signer = KeyIdHex(info.signer_key_id);
  record.reason = std::string(reason);
  record.changed_ms = internal::NowUnixMs();
  record.install_seq = seq;
  if (rows.ok() && state == ArtifactState::kActive) {
    rows = d.MakeRoomForActive(info.kind, info.id, info.version, &removed);
  }
  if (rows.ok()) {
    Statement i(d.db->handle(),
                "INSERT INTO artifacts(kind, id, version, state, dir, package, package_sha256, "
                "signer, reason, changed_ms, install_seq) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    i.Bind(1, kind).Bind(2, info.id).Bind(3, info.version);
    i.Bind(4, ArtifactStateName(record.state)).Bind(5, rel_dir).Bind(6, rel_package);
    i.Bind(7, *sha).Bind(8, record.signer).Bind(9, reason).Bind(10, record.changed_ms);
    i.Bind(11, seq);
    rows = d.db->Run(i, "recording " + info.id + " " + info.version);
  }
  if (rows.ok()) {
    rows = d.Event(info.kind, info.id, info.version, "", ArtifactStateName(record.state), reason);
  }
  if (rows.ok()) rows = d.BumpGeneration();
  if (rows.ok()) FailPoint("rows_written");
  if (rows.ok()) rows = txn.Commit();
  if (!rows.ok()) {
    discard();
    return rows.error();
  }
  ++d.generation;
  FailPoint("committed");
  {
    std::error_code ignored;
    fs::remove_all(temp, ignored);
  }
  d.RemoveFiles(removed);
  FailPoint("cleaned");
  return record;
}

Result<std::vector<ArtifactRecord>> ArtifactStore::PromoteStaged() {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  auto staged = d.Select("WHERE state = 'staged'", {});
  if (!staged.ok()) return staged.error();
  if (staged->empty()) return std::vector<ArtifactRecord>();
  std::vector<ArtifactRecord> removed;
  auto result = d.Write([&]() -> Result<std::vector<ArtifactRecord>> {
    std::vector<ArtifactRecord> promoted;
    for (ArtifactRecord r : *staged) {
      if (Status s = d.MakeActive(r, "activated at launch (was staged)", &removed); !s.ok()) {
        return s.error();
      }
      r.state = ArtifactState::kActive;
      promoted.push_back(std::move(r));
    }
    return promoted;
  });
  if (result.ok()) d.RemoveFiles(removed);
  return result;
}

namespace {
Error NotHeld(const std::string& db, ArtifactKind kind, std::string_view id,
              std::string_view version) {
  return FileError(ErrorCode::kNotFound, db,
                   std::string(ArtifactKindName(kind)) + " " + std::string(id) + " " +
                       std::string(version) + " is not installed");
}
}  // namespace

Result<std::optional<ArtifactRecord>> ArtifactStore::MarkFailed(ArtifactKind kind,
                                                                std::string_view id,
                                                                std::string_view version,
                                                                std::string_view reason) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  return d.Write([&]() -> Result<std::optional<ArtifactRecord>> {
    auto row = d.Find(kind, id, version);
    if (!row.ok()) return row.error();
    if (!*row) return NotHeld(d.db->path(), kind, id, version);
    return d.Demote(**row, ArtifactState::kFailed, reason);
  });
}

Result<std::optional<ArtifactRecord>> ArtifactStore::Disable(ArtifactKind kind, std::string_view id,
                                                             std::string_view version,
                                                             std::string_view reason) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  return d.Write([&]() -> Result<std::optional<ArtifactRecord>> {
    auto row = d.Find(kind, id, version);
    if (!row.ok()) return row.error();
    if (!*row) return NotHeld(d.db->path(), kind, id, version);
    return d.Demote(**row, ArtifactState::kDisabled, reason);
  });
}

Result<std::optional<ArtifactRecord>> ArtifactStore::Rollback(ArtifactKind kind,
                                                              std::string_view id,
                                                              std::string_view reason) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  return d.Write([&]() -> Result<std::optional<ArtifactRecord>> {
    auto active = d.InState(kind, id, ArtifactState::kActive);
    if (!active.ok()) return active.error();
    if (!*active) {
      return FileError(ErrorCode::kState, d.db->path(),
                       std::string(ArtifactKindName(kind)) + " " + std::string(id) +
                           " has no active update to roll back");
    }
    return d.Demote(**active, ArtifactState::kDisabled, reason);
  });
}

Result<ArtifactRecord> ArtifactStore::Activate(ArtifactKind kind, std::string_view id,
                                               std::string_view version, std::string_view reason) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  std::vector<ArtifactRecord> removed;
  auto result = d.Write([&]() -> Result<ArtifactRecord> {
    auto row = d.Find(kind, id, version);
    if (!row.ok()) return row.error();
    if (!*row) return NotHeld(d.db->path(), kind, id, version);
    if ((*row)->state == ArtifactState::kBaseline) {
      return FileError(ErrorCode::kState, d.db->path(),
                       std::string(id) + " " + std::string(version) +
                           " is the baseline: roll back the active update instead");
    }
    if (Status s = d.MakeActive(**row, reason, &removed); !s.ok()) return s.error();
    ArtifactRecord r = **row;
    r.state = ArtifactState::kActive;
    return r;
  });
  if (result.ok()) d.RemoveFiles(removed);
  return result;
}

Result<std::vector<ArtifactRecord>> ArtifactStore::List() const {
  std::lock_guard lock(impl_->mu);
  return impl_->Select("", {});
}

Result<std::vector<ArtifactRecord>> ArtifactStore::List(ArtifactKind kind) const {
  std::lock_guard lock(impl_->mu);
  return impl_->Select("WHERE kind = ?1", {ArtifactKindName(kind)});
}

Result<std::optional<ArtifactRecord>> ArtifactStore::Current(ArtifactKind kind,
                                                             std::string_view id) const {
  std::lock_guard lock(impl_->mu);
  auto active = impl_->InState(kind, id, ArtifactState::kActive);
  if (!active.ok() || *active) return active;
  return impl_->InState(kind, id, ArtifactState::kBaseline);
}

Result<std::vector<ArtifactEvent>> ArtifactStore::History(std::string_view id) const {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  Statement s(d.db->handle(),
              id.empty() ? "SELECT seq, time_ms, kind, id, version, from_state, to_state, reason "
                           "FROM history ORDER BY seq"
                         : "SELECT seq, time_ms, kind, id, version, from_state, to_state, reason "
                           "FROM history WHERE id = ?1 ORDER BY seq");
  if (!id.empty()) s.Bind(1, id);
  std::vector<ArtifactEvent> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    ArtifactEvent e;
    e.seq = s.Int(0);
    e.time_ms = s.Int(1);
    e.kind = ParseArtifactKind(s.Text(2)).value_or(ArtifactKind::kNativeBundle);
    e.id = s.Text(3);
    e.version = s.Text(4);
    e.from = s.Text(5);
    e.to = s.Text(6);
    e.reason = s.Text(7);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return d.db->SqlError(rc, "reading history");
  return out;
}

Status ArtifactStore::VerifyFiles(const ArtifactRecord& record) const {
  auto reader = PackageReader::Open(record.package);
  if (!reader.ok()) return reader.error();
  std::set<std::string> expected;
  for (const PackEntryInfo& e : (*reader)->info().entries) {
    expected.insert(e.path);
    const std::string path = record.dir + "/" + e.path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(path, "installed file of " + record.id + " is missing", errno);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    std::string buffer(1 << 16, '\0');
    uint64_t size = 0;
    for (;;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      size += static_cast<uint64_t>(n);
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buffer.data()),
                                static_cast<size_t>(n));
    }
    ::close(fd);
    unsigned char digest[32];
    crypto_hash_sha256_final(&st, digest);
    if (size != e.size || std::memcmp(digest, e.sha256.data(), 32) != 0) {
      return FileError(ErrorCode::kCorrupt, path,
                       "installed file of " + record.id + " " + record.version +
                           " does not match its package (size " + std::to_string(size) +
                           ", expected " + std::to_string(e.size) + ")");
    }
  }
  std::error_code ec;
  for (fs::recursive_directory_iterator it(record.dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), record.dir).generic_string();
    if (expected.count(rel) == 0) {
      return FileError(ErrorCode::kCorrupt, it->path().string(),
                       "file not in the package of " + record.id + " " + record.version);
    }
  }
  return Status::Ok();
}

namespace internal {

Status WithStoreDatabase(const ArtifactStore& store,
                         const std::function<Status(SqliteDb& db)>& fn) {
  std::lock_guard lock(store.impl_->mu);
  return fn(*store.impl_->db);
}

}  // namespace internal

}  // namespace atrium
