// PatchStore: the app's hotpatches as the artifact store holds them (kind
// lua_patch rows of state.db, each version extracted under
// artifacts/lua_patch/<id>/<version>/), plus what only hotpatch keeps: the
// fault count of each version (table hotpatch_faults in the same state.db).
//
// States, as hotpatch names the store's: enabled = active, superseded =
// previous (the version a rollback returns to), disabled, failed
// (auto-disabled after max_faults). Like every artifact, when the enabled
// version is disabled or fails, its previous version (if any) becomes
// enabled; Disable of a patch id disables both. Every change is the store's
// transaction and appears in its history with the reason.
//
// Concurrency: thread-safe (the store is; the faults table has its own
// connection behind a mutex).
#ifndef ATRIUM_HOTPATCH_PATCH_STORE_H_
#define ATRIUM_HOTPATCH_PATCH_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/result.h"

namespace atrium::internal {
class SqliteDb;
}  // namespace atrium::internal

namespace atrium::hotpatch::internal {

enum class PatchState { kEnabled, kDisabled, kFailed, kSuperseded };
const char* PatchStateName(PatchState state);

struct StoredPatch {
  std::string id;
  std::string version;
  std::string dir;  // the installed copy
  PatchState state = PatchState::kEnabled;
  std::string reason;        // of the last state change
  uint32_t faults = 0;       // since it was last enabled
  uint64_t install_seq = 0;  // order of installation (composition tie-break)
  ArtifactRecord record;     // the store's row
};

class PatchStore {
 public:
  // Uses `store` (it outlives the PatchStore) for the patches and opens the
  // faults table in its state.db.
  static Result<std::unique_ptr<PatchStore>> Open(ArtifactStore* store);
  ~PatchStore();

  ArtifactStore& artifacts() const { return *store_; }

  // Installs a signed lua_patch package as the enabled version of its id
  // (the enabled one becomes superseded). The store verifies it.
  Result<StoredPatch> Install(const std::string& package_path);
  // kEnabled: the newest disabled or failed version of `id` becomes enabled
  // (faults reset). kDisabled: every version of `id` in use is disabled.
  // kFailed: the enabled version failed (its previous, if any, takes over).
  Status SetState(const std::string& id, PatchState state, const std::string& reason);
  // Adds a fault to the enabled version of `id`; returns the new count.
  Result<uint32_t> RecordFault(const std::string& id, const std::string& message);
  // The superseded version of `id` becomes enabled again, the enabled one
  // disabled. kNotFound when there is none.
  Status Rollback(const std::string& id, const std::string& reason);
  Status DisableAll(const std::string& reason);
  // The current version of every id (enabled, else the newest disabled or
  // failed one), by install order.
  Result<std::vector<StoredPatch>> List();
  // Every enabled version, by install order.
  Result<std::vector<StoredPatch>> Enabled();

 private:
  PatchStore() = default;
  Result<uint32_t> Faults(const std::string& id, const std::string& version);
  Status ResetFaults(const std::string& id, const std::string& version);

  // Creates the faults table when missing (first use).
  Status FaultsTable();

  ArtifactStore* store_ = nullptr;  // its connection also holds the faults table
  std::atomic<bool> faults_table_{false};
};

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_PATCH_STORE_H_
