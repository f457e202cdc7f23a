// ConfigDb: what the config layer keeps in the app's state.db beside the
// artifact store's tables: the evaluated values of the active set for one
// device context (so a launch reads typed rows, not config.json), the
// custom signals, the fetch schedule, and the device id percent() buckets.
//
// The artifact store says which set is active; these tables are derived
// from it and keyed by the set's version and a fingerprint of the device
// context, so a cache row of another set or context is never used.
//
// Concurrency: thread-safe (each call runs under the store's lock).
#ifndef ATRIUM_DYNAMIC_CONFIG_CONFIG_DB_H_
#define ATRIUM_DYNAMIC_CONFIG_CONFIG_DB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/dynamic/config/config_set.h"

namespace atrium::config {

struct CachedValue {
  std::string key;  // "<namespace>/<key>"
  ConfigValue value;
  std::string source;
};

struct FetchSchedule {
  int64_t last_attempt_ms = 0;
  int64_t last_success_ms = 0;
  int64_t failures = 0;  // throttling answers in a row
  int64_t backoff_until_ms = 0;
};

class ConfigDb {
 public:
  // The tables live in the app's state.db, on the artifact store's own
  // connection (`store` outlives this).
  static Result<std::unique_ptr<ConfigDb>> Open(const ArtifactStore& store);

  // The cached values of (set, version) for `fingerprint`; nullopt when none.
  Result<std::optional<std::vector<CachedValue>>> LoadValues(const std::string& set_id,
                                                             const std::string& version,
                                                             uint64_t fingerprint);
  // Replaces the cache with these values (one transaction).
  Status SaveValues(const std::string& set_id, const std::string& version, uint64_t fingerprint,
                    const std::vector<CachedValue>& values);
  Status ClearValues();

  Result<std::map<std::string, std::string, std::less<>>> Signals();
  Status SetSignal(std::string_view name, std::string_view value);  // empty value: removes

  Result<FetchSchedule> Schedule();
  Status SaveSchedule(const FetchSchedule& schedule);

  // The device id, made (16 random bytes, hex) on first use.
  Result<std::string> DeviceId();

 private:
  explicit ConfigDb(const ArtifactStore* store) : store_(store) {}
  const ArtifactStore* store_;
};

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_CONFIG_DB_H_
