// PatchStore: the durable record of installed hotpatches, in SQLite
// (<data_dir>/hotpatch.db, WAL, synchronous=FULL) with each installed
// package copied to <data_dir>/patches/<id>-<version>/.
//
// States: enabled, disabled, failed (auto-disabled after max_faults), and
// superseded (an older version of a patch id). Every change is one
// transaction and appends a history row (time, state, reason), so
// `atrium patch list` can say why a patch is in its state. DisableAll is one
// transaction: the launch guard calls it before any bundle code runs.
//
// Concurrency: all methods are thread-safe (one mutex around the
// connection).
#ifndef ATRIUM_HOTPATCH_PATCH_STORE_H_
#define ATRIUM_HOTPATCH_PATCH_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "atrium/result.h"
#include "patch_package.h"

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
};

struct PatchHistoryEntry {
  std::string id;
  std::string version;
  int64_t time_unix_ms = 0;
  PatchState state;
  std::string reason;
};

class PatchStore {
 public:
  static Result<std::unique_ptr<PatchStore>> Open(const std::string& data_dir);
  ~PatchStore();

  // Copies the package into the store (temp dir + fsync + rename), records
  // it enabled, and supersedes any other version of the same id — all or
  // nothing. kAlreadyExists when this id+version is installed.
  Result<StoredPatch> Install(const PatchPackage& package);
  Status SetState(const std::string& id, PatchState state, const std::string& reason);
  // Adds a fault; returns the new count.
  Result<uint32_t> RecordFault(const std::string& id, const std::string& message);
  // Re-enables the previous (superseded) version of `id`, disabling the
  // current one. kNotFound when there is none.
  Status Rollback(const std::string& id, const std::string& reason);
  Status DisableAll(const std::string& reason);
  // Current version of every id (not superseded ones), by install order.
  Result<std::vector<StoredPatch>> List();
  Result<std::vector<PatchHistoryEntry>> History(const std::string& id);

 private:
  PatchStore() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_PATCH_STORE_H_
