#include "patch_store.h"

#include <algorithm>
#include <filesystem>

#include "atrium/base/sqlite_db.h"
#include "atrium/bundles/store_database.h"
#include "atrium/package.h"

namespace atrium::hotpatch::internal {
namespace {

using ::atrium::internal::SqliteDb;
using ::atrium::internal::Statement;
using ::atrium::internal::WithStoreDatabase;

constexpr ArtifactKind kKind = ArtifactKind::kLuaPatch;

std::optional<PatchState> StateOf(ArtifactState s) {
  switch (s) {
    case ArtifactState::kActive:
      return PatchState::kEnabled;
    case ArtifactState::kPrevious:
      return PatchState::kSuperseded;
    case ArtifactState::kDisabled:
      return PatchState::kDisabled;
    case ArtifactState::kFailed:
      return PatchState::kFailed;
    case ArtifactState::kBaseline:  // patches ship only as updates
    case ArtifactState::kStaged:    // installed for the next launch: not a patch state yet
      return std::nullopt;
  }
  return std::nullopt;
}

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
  return "?";
}

Result<std::unique_ptr<PatchStore>> PatchStore::Open(ArtifactStore* store) {
  if (store == nullptr) return MakeError(ErrorCode::kInvalidArgument, "no artifact store");
  std::unique_ptr<PatchStore> p(new PatchStore());
  p->store_ = store;
  // The faults table is made on first use: opening the store (a launch) does
  // not open state.db for it.
  return p;
}

PatchStore::~PatchStore() = default;

Status PatchStore::FaultsTable() {
  if (faults_table_.load(std::memory_order_acquire)) return Status::Ok();
  // The faults table lives in state.db, on the store's own connection.
  Status created = WithStoreDatabase(*store_, [](SqliteDb& db) -> Status {
    Statement present(db.handle(),
                      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                      "'hotpatch_faults'");
    const int rc = present.Step();
    if (rc == SQLITE_ROW) return Status::Ok();
    if (rc != SQLITE_DONE) return db.SqlError(rc, "reading the schema");
    return db.Exec(
        "CREATE TABLE IF NOT EXISTS hotpatch_faults("
        "  id TEXT NOT NULL, version TEXT NOT NULL, faults INTEGER NOT NULL,"
        "  last_error TEXT NOT NULL DEFAULT '', PRIMARY KEY(id, version))",
        "creating the hotpatch faults table");
  });
  if (created.ok()) faults_table_.store(true, std::memory_order_release);
  return created;
}

Result<uint32_t> PatchStore::Faults(const std::string& id, const std::string& version) {
  if (Status t = FaultsTable(); !t.ok()) return t.error();
  uint32_t faults = 0;
  Status read = WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    Statement s(db.handle(), "SELECT faults FROM hotpatch_faults WHERE id = ?1 AND version = ?2");
    s.Bind(1, id).Bind(2, version);
    int rc = s.Step();
    if (rc == SQLITE_ROW) faults = static_cast<uint32_t>(s.Int(0));
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
    return db.SqlError(rc, "reading a patch's faults");
  });
  if (!read.ok()) return read.error();
  return faults;
}

Status PatchStore::ResetFaults(const std::string& id, const std::string& version) {
  if (Status t = FaultsTable(); !t.ok()) return t;
  return WithStoreDatabase(*store_, [&](SqliteDb& db) {
    Statement s(db.handle(), "DELETE FROM hotpatch_faults WHERE id = ?1 AND version = ?2");
    s.Bind(1, id).Bind(2, version);
    return db.Run(s, "resetting a patch's faults");
  });
}

Result<std::vector<StoredPatch>> PatchStore::List() {
  Result<std::vector<ArtifactRecord>> rows = store_->List(kKind);
  if (!rows.ok()) return rows.error();
  // Per id: the enabled version, else the most recently changed disabled or
  // failed one.
  std::vector<const ArtifactRecord*> current;
  for (const ArtifactRecord& r : *rows) {
    if (r.kind != kKind) continue;
    std::optional<PatchState> state = StateOf(r.state);
    if (!state || *state == PatchState::kSuperseded) continue;
    auto it = std::find_if(current.begin(), current.end(),
                           [&](const ArtifactRecord* c) { return c->id == r.id; });
    if (it == current.end()) {
      current.push_back(&r);
    } else if ((*it)->state != ArtifactState::kActive &&
               (r.state == ArtifactState::kActive ||
                std::tie(r.changed_ms, r.install_seq) >
                    std::tie((*it)->changed_ms, (*it)->install_seq))) {
      *it = &r;
    }
  }
  std::sort(current.begin(), current.end(), [](const ArtifactRecord* a, const ArtifactRecord* b) {
    return a->install_seq < b->install_seq;
  });
  std::vector<StoredPatch> out;
  for (const ArtifactRecord* r : current) {
    StoredPatch p;
    p.id = r->id;
    p.version = r->version;
    p.dir = r->dir;
    p.state = *StateOf(r->state);
    p.reason = r->reason;
    p.install_seq = static_cast<uint64_t>(r->install_seq);
    p.record = *r;
    Result<uint32_t> faults = Faults(r->id, r->version);
    if (!faults.ok()) return faults.error();
    p.faults = *faults;
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<StoredPatch>> PatchStore::Enabled() {
  Result<std::vector<StoredPatch>> all = List();
  if (!all.ok()) return all;
  std::erase_if(*all, [](const StoredPatch& p) { return p.state != PatchState::kEnabled; });
  return all;
}

Result<StoredPatch> PatchStore::Install(const std::string& package_path) {
  {
    auto reader = PackageReader::Open(package_path);
    if (!reader.ok()) return reader.error();
    if ((*reader)->info().kind != kKind) {
      Error e =
          MakeError(ErrorCode::kValidation, std::string("not a hotpatch: a package of kind ") +
                                                ArtifactKindName((*reader)->info().kind));
      e.file = package_path;
      return e;
    }
  }
  Result<ArtifactRecord> r = store_->Install(package_path, InstallAs::kActive, "installed");
  if (!r.ok()) return r.error();
  if (r->kind != kKind) {
    return MakeError(ErrorCode::kInternal,
                     "installed a " + std::string(ArtifactKindName(r->kind)) + " as a hotpatch");
  }
  if (Status s = ResetFaults(r->id, r->version); !s.ok()) return s.error();
  StoredPatch p;
  p.id = r->id;
  p.version = r->version;
  p.dir = r->dir;
  p.state = PatchState::kEnabled;
  p.reason = r->reason;
  p.install_seq = static_cast<uint64_t>(r->install_seq);
  p.record = *r;
  return p;
}

Status PatchStore::SetState(const std::string& id, PatchState state, const std::string& reason) {
  Result<std::vector<ArtifactRecord>> rows = store_->List(kKind);
  if (!rows.ok()) return rows.error();
  const ArtifactRecord* active = nullptr;
  const ArtifactRecord* previous = nullptr;
  const ArtifactRecord* newest_off = nullptr;  // newest disabled or failed version
  for (const ArtifactRecord& r : *rows) {
    if (r.kind != kKind || r.id != id) continue;
    if (r.state == ArtifactState::kActive) active = &r;
    if (r.state == ArtifactState::kPrevious) previous = &r;
    if ((r.state == ArtifactState::kDisabled || r.state == ArtifactState::kFailed) &&
        (newest_off == nullptr || std::tie(r.changed_ms, r.install_seq) >
                                      std::tie(newest_off->changed_ms, newest_off->install_seq))) {
      newest_off = &r;
    }
  }
  auto done = [](const auto& result) {
    return result.ok() ? Status::Ok() : Status(result.error());
  };
  switch (state) {
    case PatchState::kEnabled: {
      if (active != nullptr) return Status::Ok();
      if (newest_off == nullptr) return MakeError(ErrorCode::kNotFound, "no patch " + id);
      const std::string version = newest_off->version;
      if (Status s = ResetFaults(id, version); !s.ok()) return s;
      return done(store_->Activate(kKind, id, version, reason));
    }
    case PatchState::kDisabled: {
      if (active == nullptr && previous == nullptr) {
        return newest_off != nullptr ? Status::Ok()
                                     : MakeError(ErrorCode::kNotFound, "no patch " + id);
      }
      // The superseded one first, so disabling the enabled one leaves none.
      if (previous != nullptr) {
        if (Status s = done(store_->Disable(kKind, id, previous->version, reason)); !s.ok())
          return s;
      }
      if (active != nullptr) return done(store_->Disable(kKind, id, active->version, reason));
      return Status::Ok();
    }
    case PatchState::kFailed:
      if (active == nullptr) return MakeError(ErrorCode::kNotFound, "no enabled patch " + id);
      return done(store_->MarkFailed(kKind, id, active->version, reason));
    case PatchState::kSuperseded:
      return MakeError(ErrorCode::kInvalidArgument,
                       "a patch becomes superseded by installing a newer version");
  }
  return Status::Ok();
}

Result<uint32_t> PatchStore::RecordFault(const std::string& id, const std::string& message) {
  Result<std::optional<ArtifactRecord>> current = store_->Current(kKind, id);
  if (!current.ok()) return current.error();
  if (!current->has_value() || (*current)->state != ArtifactState::kActive) {
    return MakeError(ErrorCode::kNotFound, "no enabled patch " + id);
  }
  const std::string version = (*current)->version;
  if (Status t = FaultsTable(); !t.ok()) return t.error();
  uint32_t faults = 0;
  Status recorded = WithStoreDatabase(*store_, [&](SqliteDb& db) -> Status {
    Statement s(
        db.handle(),
        "INSERT INTO hotpatch_faults(id, version, faults, last_error) VALUES(?1, ?2, 1, ?3) "
        "ON CONFLICT(id, version) DO UPDATE SET faults = faults + 1, last_error = ?3 "
        "RETURNING faults");
    s.Bind(1, id).Bind(2, version).Bind(3, message);
    int rc = s.Step();
    if (rc != SQLITE_ROW) return db.SqlError(rc, "recording a patch fault");
    faults = static_cast<uint32_t>(s.Int(0));
    return Status::Ok();
  });
  if (!recorded.ok()) return recorded.error();
  return faults;
}

Status PatchStore::Rollback(const std::string& id, const std::string& reason) {
  Result<std::vector<ArtifactRecord>> rows = store_->List(kKind);
  if (!rows.ok()) return rows.error();
  bool has_previous = false;
  for (const ArtifactRecord& r : *rows) {
    has_previous =
        has_previous || (r.kind == kKind && r.id == id && r.state == ArtifactState::kPrevious);
  }
  if (!has_previous) {
    return MakeError(ErrorCode::kNotFound,
                     "patch " + id + " has no previous version to roll back to");
  }
  Result<std::optional<ArtifactRecord>> r = store_->Rollback(kKind, id, reason);
  if (!r.ok()) return r.error();
  if (r->has_value()) return ResetFaults(id, (*r)->version);
  return Status::Ok();
}

Status PatchStore::DisableAll(const std::string& reason) {
  for (ArtifactState pass : {ArtifactState::kPrevious, ArtifactState::kActive}) {
    Result<std::vector<ArtifactRecord>> rows = store_->List(kKind);
    if (!rows.ok()) return rows.error();
    for (const ArtifactRecord& r : *rows) {
      if (r.kind != kKind || r.state != pass) continue;
      Result<std::optional<ArtifactRecord>> d = store_->Disable(kKind, r.id, r.version, reason);
      if (!d.ok()) return d.error();
    }
  }
  return Status::Ok();
}

}  // namespace atrium::hotpatch::internal
