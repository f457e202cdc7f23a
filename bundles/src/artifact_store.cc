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

#include "artifact_store_impl.h"
#include "atrium/base/fs_faults.h"
#include "atrium/base/hex.h"
#include "atrium/base/sqlite_db.h"
#include "atrium/bundles/store_database.h"
#include "atrium/bundles/test_hooks.h"

namespace atrium {
namespace internal {
void (*ArtifactStoreFailPointForTesting)(const char* point) = nullptr;
}  // namespace internal

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
  impl->app_id = std::move(options.app_id);
  std::lock_guard lock(impl->mu);
  // Lazy: a valid stamp with nothing staged lets every launch-time question
  // be answered without SQLite (store_stamp.h).
  if (options.lazy) {
    auto stamp = impl->LazyStamp();
    if (stamp && stamp->staged == 0) {
      impl->generation = stamp->generation;
      return std::unique_ptr<ArtifactStore>(new ArtifactStore(std::move(impl)));
    }
  }
  if (Status s = impl->EnsureDb(); !s.ok()) return s.error();
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(std::move(impl)));
}

const std::string& ArtifactStore::data_dir() const { return impl_->data_dir; }

void ArtifactStore::SetTrustedKeys(std::vector<PublicKey> keys) {
  std::lock_guard lock(impl_->mu);
  impl_->trusted_keys = std::move(keys);
}

void ArtifactStore::SetAppId(std::string app_id) {
  std::lock_guard lock(impl_->mu);
  impl_->app_id = std::move(app_id);
}

std::string ArtifactStore::app_id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->app_id;
}

uint64_t ArtifactStore::generation() const {
  std::lock_guard lock(impl_->mu);
  // Another process may have changed the store.
  if (auto stamp = impl_->LazyStamp()) return stamp->generation;
  if (!impl_->EnsureDb().ok()) return impl_->generation;
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
  std::string app_id;
  {
    std::lock_guard lock(d.mu);
    keys = d.trusted_keys;
    app_id = d.app_id;
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
  if (Status s = (*reader)->CheckApp(app_id); !s.ok()) return s.error();
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
  if (Status s = d.EnsureDb(); !s.ok()) return s.error();
  auto hold = d.BeginChange();
  if (!hold.ok()) return hold.error();
  SqliteDb::WriteTransaction txn(d.db.get());
  if (Status s = txn.Begin(); !s.ok()) return s.error();
  auto existing = d.Find(info.kind, info.id, info.version);
  if (!existing.ok()) return existing.error();
  if (*existing) {
    if ((*existing)->state == ArtifactState::kBaseline && state == ArtifactState::kBaseline &&
        (*existing)->package_sha256 == *sha) {
      return **existing;  // the same shipped package: nothing to do
    }
    std::string message = kind + " " + info.id + " " + info.version + " is already installed (" +
                          ArtifactStateName((*existing)->state) + ")";
    if ((*existing)->state == ArtifactState::kDisabled) {
      message += "; `atrium artifacts enable <app> " + kind + ":" + info.id + "@" + info.version +
                 "` uses it again";
    }
    return FileError(ErrorCode::kAlreadyExists, package_path, message);
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
  if (internal::FsRename((temp + "/files").c_str(), final_dir.c_str()) != 0) {
    Error e = ErrnoError(final_dir, "cannot move the extracted files into place", errno);
    discard();
    return e;
  }
  placed.push_back(final_dir);
  if (internal::FsRename((temp + "/package.atb").c_str(), final_package.c_str()) != 0) {
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
  record.changed_ms = d.Now();
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
  bool committing = false;
  if (rows.ok()) {
    committing = true;
    rows = txn.Commit();
  }
  if (!rows.ok()) {
    // A COMMIT that failed on its sync may still be in the WAL (its frames
    // written): recovery after a crash could bring the rows back, so the
    // files they name stay. When the rows did not survive, no row names
    // them, and the next install of this version replaces them.
    if (committing) placed.clear();
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
  if (auto stamp = d.LazyStamp(); stamp && stamp->staged == 0) {
    return std::vector<ArtifactRecord>();
  }
  if (Status s = d.EnsureDb(); !s.ok()) return s.error();
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

Status ArtifactStore::AddNote(ArtifactKind kind, std::string_view id, std::string_view version,
                              std::string_view note) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  auto done = d.Write([&]() -> Result<bool> {
    auto row = d.Find(kind, id, version);
    if (!row.ok()) return row.error();
    if (!*row) return NotHeld(d.db->path(), kind, id, version);
    const char* state = ArtifactStateName((*row)->state);
    if (Status s = d.Event(kind, std::string(id), std::string(version), state, state, note);
        !s.ok()) {
      return s.error();
    }
    return true;
  });
  if (!done.ok()) return done.error();
  return Status::Ok();
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

}  // namespace atrium
