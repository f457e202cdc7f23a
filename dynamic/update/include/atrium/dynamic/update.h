// The update client: one cycle of check -> decide -> download -> verify ->
// stage for an app, against a release repository (atrium/dynamic/
// release_repository.h) through TUF (atrium/dynamic/tuf_client.h).
//
//   auto c = atrium::Container::Open({.app_dir = "wallet"});
//   auto report = atrium::RunUpdateCycle(**c, {.repo_url = "https://cdn.example/wallet"});
//   for (const auto& t : report->targets) print(t.path, UpdateActionName(t.action), t.reason);
//
// Decide, per target, in this order (the first rule that says no is the
// reason printed): an Atrium artifact (`custom.atrium`); this app id (when
// the target names one); this channel; a registered DynamicLayer for its
// kind (the client knows no layer by name); for native bundles and Lua
// patches, the native-compat fingerprint of this build and app
// (NativeCompatFingerprint); not withdrawn (a withdrawn version in use is
// disabled through its layer, with the release's reason); not already
// installed, failed or disabled here, nor older than the version in use;
// the rollout bucket (MicroPercentile of seed and device id below the
// target's micro-percent). Of several eligible versions of one artifact only
// the newest is taken.
//
// Download: the delta (.atd) when the version it starts from is installed
// here and the delta is smaller — rebuilt, then checked against the full
// package's signed length and hashes; any delta failure falls back to the
// full package. Files stream into the data directory (bounded memory).
// Stage: Container::InstallPackage, which verifies the package signature
// with the app's pinned keys and hands it to the layer of its kind; the
// layer activates it at its own safe point.
//
// Trust: the app ships its root.json (app.json "updates": {"root": ...});
// the client's trusted metadata lives in <data>/updates/tuf/. A failed or
// interrupted cycle changes nothing trusted or installed.
//
// Concurrency: one cycle at a time per data directory (a lock file); it
// blocks (network) and must not run on the main loop.
#ifndef ATRIUM_DYNAMIC_UPDATE_H_
#define ATRIUM_DYNAMIC_UPDATE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/container.h"
#include "atrium/dynamic/tuf_client.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct UpdateOptions {
  // The repository: metadata at <repo_url>/metadata, targets at
  // <repo_url>/targets. Empty: app.json "updates"."repository".
  std::string repo_url;
  std::string channel;       // empty: app.json's, else "stable"
  std::string device_id;     // empty: this data directory's own
  std::string trusted_root;  // empty: app.json's "root" (relative to the app)
  int64_t now_unix_s = 0;    // the TUF reference time; 0: now
  bool allow_deltas = true;
  // Progress of downloads: (target path, bytes so far, bytes expected).
  std::function<void(const std::string&, uint64_t, uint64_t)> progress;
  // When set and true, the cycle stops at the next transfer or target
  // (kState "cancelled"); what was staged before stays staged.
  const std::atomic<bool>* cancel = nullptr;
};

enum class UpdateAction {
  kStaged,     // downloaded, verified and handed to its layer
  kSkipped,    // not for this device now (reason says why)
  kWithdrawn,  // a withdrawn version in use here, disabled
  kFailed,     // eligible, but download, verification or install failed
};
ATRIUM_EXPORT const char* UpdateActionName(UpdateAction action);

struct UpdateTargetResult {
  std::string path;
  std::string kind, id, version;
  UpdateAction action = UpdateAction::kSkipped;
  std::string reason;
  bool via_delta = false;
  uint64_t bytes = 0;  // bytes downloaded for it
};

struct UpdateReport {
  std::string repo_url;
  std::string device_id;
  std::string channel;
  TufTrustedVersions trusted;
  std::vector<UpdateTargetResult> targets;  // sorted by path (deltas left out)
  uint64_t bytes_received = 0;              // every byte over the wire
  uint64_t requests = 0;
};

// One cycle for the app `container` runs. Errors: the repository could not
// be refreshed (TUF refusal, network), the app has no trusted root, or the
// lock is held; per-target failures are results, not errors.
ATRIUM_EXPORT Result<UpdateReport> RunUpdateCycle(Container& container,
                                                  const UpdateOptions& options);

// The sync after a launch. When app.json has an "updates" section with a
// repository, every launch (not an inspection) posts one update cycle as
// BEST_EFFORT work on the "net" pool — held by the startup fence until the
// idle stage, never on the main thread — when the last successful cycle is
// at least "interval_s" old (<data>/updates/last_sync). The container
// closing cancels a cycle in flight and waits for it.
class ATRIUM_EXPORT UpdateSync {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.update.UpdateSync";
  // The sync of the app `container` runs; nullptr without an "updates"
  // repository (or for an inspection).
  static std::shared_ptr<UpdateSync> Of(Container& container);
  virtual ~UpdateSync();
  // Blocks until this launch's cycle finished (true), or `timeout` passed.
  // True at once when no cycle was due.
  virtual bool WaitUntilDone(std::chrono::milliseconds timeout) = 0;
  // "not due until <time>", "waiting for the idle stage", "running",
  // "done: 2 staged, 5 skipped", "failed: <error>", "cancelled".
  virtual std::string status() const = 0;
  // The report of this launch's cycle, when one finished.
  virtual std::optional<UpdateReport> report() const = 0;
};

// The device id of a data directory: 32 hex digits (128 random bits),
// created once and kept in <data_dir>/device_id.
ATRIUM_EXPORT Result<std::string> DeviceIdOf(const std::string& data_dir);

// What a native bundle or Lua patch must have been built against to run in
// this app: "<arch>-linux/bundle-abi=<N>/<C++ ABI tag>/host-api=<H>"
// (docs/update.md). `host_api` is the app's ("updates"."host_api",
// default "1").
ATRIUM_EXPORT std::string NativeCompatFingerprint(std::string_view host_api = "1");

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_UPDATE_H_
