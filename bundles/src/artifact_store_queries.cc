// The artifact store's queries: listing the held versions, their history,
// and re-hashing the files of an installed one (the integrity check).
#include "artifact_store_impl.h"
#include "atrium/bundles/store_database.h"

namespace atrium {

Result<std::vector<ArtifactRecord>> ArtifactStore::List() const {
  std::lock_guard lock(impl_->mu);
  if (auto stamp = impl_->LazyStamp(); stamp && stamp->kinds.empty()) {
    return std::vector<ArtifactRecord>();
  }
  if (Status s = impl_->EnsureDb(); !s.ok()) return s.error();
  return impl_->Select("", {});
}

Result<std::vector<ArtifactRecord>> ArtifactStore::List(ArtifactKind kind) const {
  std::lock_guard lock(impl_->mu);
  if (auto stamp = impl_->LazyStamp(); stamp && stamp->RowsOf(ArtifactKindName(kind)) == 0) {
    return std::vector<ArtifactRecord>();
  }
  if (Status s = impl_->EnsureDb(); !s.ok()) return s.error();
  return impl_->Select("WHERE kind = ?1", {ArtifactKindName(kind)});
}

Result<std::optional<ArtifactRecord>> ArtifactStore::Current(ArtifactKind kind,
                                                             std::string_view id) const {
  std::lock_guard lock(impl_->mu);
  if (auto stamp = impl_->LazyStamp(); stamp && stamp->RowsOf(ArtifactKindName(kind)) == 0) {
    return std::optional<ArtifactRecord>();
  }
  if (Status s = impl_->EnsureDb(); !s.ok()) return s.error();
  auto active = impl_->InState(kind, id, ArtifactState::kActive);
  if (!active.ok() || *active) return active;
  return impl_->InState(kind, id, ArtifactState::kBaseline);
}

Result<std::vector<ArtifactEvent>> ArtifactStore::History(std::string_view id) const {
  Impl& d = *impl_;
  std::lock_guard lock(d.mu);
  if (Status st = d.EnsureDb(); !st.ok()) return st.error();
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

void SetArtifactStoreClockForTesting(ArtifactStore& store, std::function<int64_t()> now_ms) {
  std::lock_guard lock(store.impl_->mu);
  store.impl_->now_ms = std::move(now_ms);
}

Status WithStoreDatabase(const ArtifactStore& store,
                         const std::function<Status(SqliteDb& db)>& fn) {
  std::lock_guard lock(store.impl_->mu);
  if (Status s = store.impl_->EnsureDb(); !s.ok()) return s;
  return fn(*store.impl_->db);
}

}  // namespace internal

}  // namespace atrium
