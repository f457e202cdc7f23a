// The app.json "updates" section (registered by this layer):
//
//   "updates": {
//     "repository": "https://cdn.example/wallet",  // metadata/ and targets/ below it
//     "root": "updates/root.json",                 // the pinned root, in the app folder
//     "channel": "stable",                          // default "stable"
//     "interval_s": 21600,                          // background sync at most this often
//     "host_api": "1"                               // part of the native-compat fingerprint
//   }
//
// Concurrency: pure functions.
#ifndef ATRIUM_DYNAMIC_UPDATE_SETTINGS_H_
#define ATRIUM_DYNAMIC_UPDATE_SETTINGS_H_

#include <cstdint>
#include <string>

#include "atrium/manifest.h"
#include "atrium/result.h"

namespace atrium::internal {

struct UpdateSettings {
  bool present = false;
  std::string repository;
  std::string root;
  std::string channel = "stable";
  int64_t interval_s = 6 * 3600;
  std::string host_api = "1";
};

// The section of `app` (defaults when it has none).
Result<UpdateSettings> ReadUpdateSettings(const AppDescriptor& app);

}  // namespace atrium::internal

#endif  // ATRIUM_DYNAMIC_UPDATE_SETTINGS_H_
