// ArtifactStore: the on-device record of every artifact an app holds (native
// bundles, H5 packages, HCF templates, Lua patches, config sets), their
// extracted files, and why each is in the state it is in.
//
// Layout under the app's data dir:
//   state.db                                SQLite, WAL, synchronous=FULL
//   artifacts/<kind>/<id>/<version>/        extracted entries (fsync'ed)
//   artifacts/<kind>/<id>/<version>.atb     the signed package it came from
//   artifacts/.tmp-*                        an install in progress
//
// States: baseline (shipped with the app, read-only), staged (installed,
// active from the next Open), active, previous (the version before active,
// where a rollback goes), disabled, failed. Every change appends to the
// history with its reason and time.
//
// Invariants:
//  1. Per (kind, id): at most one active, one previous, one staged and one
//     baseline row (partial unique indexes enforce it).
//  2. Every row's directory and package exist, complete and fsync'ed:
//     Install extracts into a temp dir, fsyncs, renames into place, fsyncs
//     the parent, and only then commits the rows in one transaction. A kill
//     at any instant leaves the old or the new state, never a mix; Open
//     removes whatever no row names (temp dirs, orphan versions).
//  3. Installing checks the package's signature against the keys the app
//     descriptor pins, that the package names this app among the apps it is
//     for, and every entry's hash, before anything is written.
//  4. generation() changes with every committed change, so derived caches
//     (the bundle index) know when to rebuild.
//
// Concurrency: every method is thread-safe (one connection behind a
// mutex). Several processes may share a data dir: SQLite's locks (busy
// timeout 5 s) order their transactions; each install holds the write lock
// from before its temp dir exists until its commit, and Open's sweep runs
// under the same lock.
#ifndef ATRIUM_ARTIFACT_STORE_H_
#define ATRIUM_ARTIFACT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/package.h"
#include "atrium/result.h"

namespace atrium {

class ArtifactStore;
namespace internal {
class SqliteDb;
// atrium/bundles/store_database.h (internal).
Status WithStoreDatabase(const ArtifactStore& store, const std::function<Status(SqliteDb& db)>& fn);
// atrium/bundles/test_hooks.h (internal).
void SetArtifactStoreClockForTesting(ArtifactStore& store, std::function<int64_t()> now_ms);
}  // namespace internal

enum class ArtifactState : uint8_t { kBaseline, kStaged, kActive, kPrevious, kDisabled, kFailed };
ATRIUM_EXPORT const char* ArtifactStateName(ArtifactState s);

struct ArtifactRecord {
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  std::string id;
  std::string version;
  ArtifactState state = ArtifactState::kStaged;
  std::string dir;             // absolute path of the extracted files
  std::string package;         // absolute path of the .atb
  std::string package_sha256;  // hex, of the .atb file
  std::string signer;          // key id (hex) that signed it
  std::string reason;          // why it is in this state
  int64_t changed_ms = 0;      // unix ms of the last change
  int64_t install_seq = 0;     // 1-based install order
};

struct ArtifactEvent {
  int64_t seq = 0;
  int64_t time_ms = 0;  // unix ms
  ArtifactKind kind = ArtifactKind::kNativeBundle;
  std::string id;
  std::string version;
  std::string from;  // state name, "" for a new row, "removed" when deleted
  std::string to;
  std::string reason;
};

struct ArtifactStoreOptions {
  std::string data_dir;
  std::vector<PublicKey> trusted_keys;  // the app's pinned release keys
  // The app's id (app.json "id"): Install refuses a package whose signed app
  // list does not name it, and every package while this is empty.
  std::string app_id;
  // Open state.db on first need when the store's stamp (written when the
  // last session closed it) shows nothing staged: List/Current of a kind the
  // stamp says has no rows, generation() and PromoteStaged() are answered
  // from it without SQLite. An unreadable state.db is then reported by the
  // first call that needs it rather than by Open.
  bool lazy = false;
};

enum class InstallAs : uint8_t {
  kStaged,    // active from the next Open (PromoteStaged)
  kActive,    // active now; the active version becomes previous
  kBaseline,  // shipped with the app: read-only fallback
};

class ATRIUM_EXPORT ArtifactStore {
 public:
  static Result<std::unique_ptr<ArtifactStore>> Open(ArtifactStoreOptions options);
  ~ArtifactStore();
  ArtifactStore(const ArtifactStore&) = delete;
  ArtifactStore& operator=(const ArtifactStore&) = delete;

  const std::string& data_dir() const;
  uint64_t generation() const;
  // Replaces the keys Install trusts (the app descriptor may be read after
  // the store opened).
  void SetTrustedKeys(std::vector<PublicKey> keys);
  // Replaces the app id Install checks packages against.
  void SetAppId(std::string app_id);
  std::string app_id() const;

  // Verifies and installs `package_path`. Installing a (kind, id, version)
  // already held: a baseline with the same package bytes is a no-op that
  // returns the record; anything else is kAlreadyExists.
  Result<ArtifactRecord> Install(const std::string& package_path, InstallAs as,
                                 std::string_view reason);
  // Staged versions become active (the active ones previous). Returns them.
  Result<std::vector<ArtifactRecord>> PromoteStaged();
  // `version` of (kind, id) failed (e.g. its library did not load): it
  // becomes failed; if it was active, previous (if any) becomes active.
  // Returns the active record afterwards (nullopt: only baseline remains).
  Result<std::optional<ArtifactRecord>> MarkFailed(ArtifactKind kind, std::string_view id,
                                                   std::string_view version,
                                                   std::string_view reason);
  // Like MarkFailed with state disabled (an operator's or the launch
  // guard's decision rather than a failure).
  Result<std::optional<ArtifactRecord>> Disable(ArtifactKind kind, std::string_view id,
                                                std::string_view version, std::string_view reason);
  // The active version of (kind, id) becomes disabled and previous active.
  Result<std::optional<ArtifactRecord>> Rollback(ArtifactKind kind, std::string_view id,
                                                 std::string_view reason);
  // Makes a held non-baseline version active again (the active one becomes
  // previous).
  Result<ArtifactRecord> Activate(ArtifactKind kind, std::string_view id, std::string_view version,
                                  std::string_view reason);

  // Appends a line to the history of a held version without changing its
  // state (from == to): who staged it and from where ("staged from
  // https://cdn.example/wallet (targets v12)"). kNotFound when not held.
  Status AddNote(ArtifactKind kind, std::string_view id, std::string_view version,
                 std::string_view note);

  Result<std::vector<ArtifactRecord>> List() const;
  // The versions of one kind (what a dynamic layer asks: its rows only).
  Result<std::vector<ArtifactRecord>> List(ArtifactKind kind) const;
  // The version in use: active, else baseline; nullopt when neither exists.
  Result<std::optional<ArtifactRecord>> Current(ArtifactKind kind, std::string_view id) const;
  // History, oldest first; all artifacts when `id` is empty.
  Result<std::vector<ArtifactEvent>> History(std::string_view id = {}) const;
  // Re-hashes the extracted files of `record` against its package index:
  // kCorrupt naming the first file that is missing, changed or extra.
  Status VerifyFiles(const ArtifactRecord& record) const;

 private:
  friend Status internal::WithStoreDatabase(
      const ArtifactStore& store, const std::function<Status(internal::SqliteDb& db)>& fn);
  friend void internal::SetArtifactStoreClockForTesting(ArtifactStore& store,
                                                        std::function<int64_t()> now_ms);
  struct Impl;
  explicit ArtifactStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium

#endif  // ATRIUM_ARTIFACT_STORE_H_
