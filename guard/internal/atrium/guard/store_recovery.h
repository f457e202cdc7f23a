// Opening the artifact store (state.db) for a launch, with the launch
// guard's recovery when it cannot be opened: a guarded app still starts, in
// the safest mode, and says why. A damaged state.db (kCorrupt) is moved
// aside with its -wal and -shm files (kept for inspection) and a fresh one
// made; one that stays locked or unreadable is left alone and the launch
// runs from a scratch store in the data folder (baseline only), which the
// caller removes when the launch ends.
//
// Concurrency: a free function; one launch of an app opens its store at a
// time (the container's open lock).
#ifndef ATRIUM_GUARD_STORE_RECOVERY_H_
#define ATRIUM_GUARD_STORE_RECOVERY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "atrium/artifact_store.h"
#include "atrium/result.h"

namespace atrium::internal {

struct StoreForLaunch {
  std::unique_ptr<ArtifactStore> store;
  // Why state.db was not used as it was ("" when it was): the open error and
  // what was done ("; moved aside to <path>", "; running from a scratch
  // store (<path>)"). The guard records it with the launch.
  std::string trouble;
  std::string scratch_dir;  // the scratch store to remove after the launch; "" for none
};

// Opens `data_dir`/state.db for `app_id`. Without `guarded`, an open error
// is returned as it is. `now_unix_ms` names a damaged file moved aside.
Result<StoreForLaunch> OpenStoreForLaunch(const std::string& data_dir, const std::string& app_id,
                                          bool guarded, int64_t now_unix_ms);

}  // namespace atrium::internal

#endif  // ATRIUM_GUARD_STORE_RECOVERY_H_
