// The launch guard's recovery of an unusable state.db (store_recovery.h).
#include "atrium/guard/store_recovery.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "atrium/base/log.h"
#include "atrium/bundles/store_stamp.h"
#include "atrium/log_level.h"

namespace atrium::internal {

namespace fs = std::filesystem;

Result<StoreForLaunch> OpenStoreForLaunch(const std::string& data_dir, const std::string& app_id,
                                          bool guarded, int64_t now_unix_ms) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  StoreForLaunch out;
  // An unguarded launch opens state.db on first need; a guarded one now (its
  // recovery of an unusable database needs the failure here).
  auto store = ArtifactStore::Open({data_dir, {}, app_id, /*lazy=*/!guarded});
  if (!store.ok() && guarded) {
    const Error first = store.error();
    if (first.code == ErrorCode::kCorrupt) {
      const std::string aside =
          (fs::path(data_dir) / ("state.db.damaged-" + std::to_string(now_unix_ms))).string();
      {
        // The stamp describes the database moved aside: gone first, so no
        // store (this process's or another's) answers from it afterwards;
        // under the exclusive stamp lock, so no session opening state.db or
        // writing a stamp interleaves with the move (store_stamp.h).
        StampLock replacing(data_dir, StampLock::Mode::kReplace);
        if (Status s = RemoveStoreStamp(data_dir); !s.ok()) {
          Log(LogLevel::kWarning, "", "launch guard: " + s.error().ToString());
        }
        for (const char* suffix : {"", "-wal", "-shm"}) {
          fs::rename(fs::path(data_dir) / (std::string("state.db") + suffix), aside + suffix, ec);
        }
      }
      out.trouble = first.ToString() + "; moved aside to " + aside;
      store = ArtifactStore::Open({data_dir, {}, app_id});
    } else {
      const std::string scratch =
          (fs::path(data_dir) / ("safe-mode-" + std::to_string(::getpid()))).string();
      fs::remove_all(scratch, ec);
      out.trouble = first.ToString() + "; running from a scratch store (" + scratch + ")";
      out.scratch_dir = scratch;
      store = ArtifactStore::Open({scratch, {}, app_id});
    }
    Log(LogLevel::kError, "", "launch guard: state.db unusable: " + out.trouble);
  }
  if (!store.ok()) {
    if (!out.scratch_dir.empty()) fs::remove_all(out.scratch_dir, ec);  // what it began
    return store.error();
  }
  out.store = std::move(store).value();
  return out;
}

}  // namespace atrium::internal
