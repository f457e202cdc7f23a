// ReleaseRepository: the release platform's side of an update — a TUF
// repository (The Update Framework 1.0.x) of plain static files that any web
// server or CDN can serve:
//
//   <repo>/metadata/N.root.json, root.json   every root version, and the latest
//   <repo>/metadata/N.targets.json           consistent snapshots
//   <repo>/metadata/N.snapshot.json
//   <repo>/metadata/timestamp.json           (and N.timestamp.json)
//   <repo>/targets/<kind>/<sha256>.<id>-<version>.atb     packages
//   <repo>/targets/<kind>/<sha256>.<id>-<from>-to-<version>.atd   deltas
//
// The signing keys (ed25519, one file per key) and the staged, not yet
// published targets live in a keys directory kept outside the repository
// (default: <repo>.keys beside it), never served. Every target's `custom`
// carries what a device needs to decide without downloading, under
// "atrium": kind, id, version, channel, app id, native-compat fingerprint,
// rollout (micro-percent and seed), the deltas from earlier versions, and
// the reason of a withdrawn release. Only integers and strings: canonical
// JSON has no floats.
//
//   ReleaseRepository::Init("repo", {});                   // keys + version 1
//   auto r = ReleaseRepository::Open("repo", {});
//   (*r)->Add("wallet-1.1.0.atb", {.channel = "stable", .rollout_micro_percent = 10'000'000});
//   (*r)->Publish();                                        // targets, snapshot, timestamp
//
// Every file is written atomically and metadata versions only go up; a
// failed command leaves the published repository as it was.
//
// Concurrency: one process edits a repository at a time (the commands take
// an exclusive lock on the keys directory); readers (servers, devices) may
// read it at any time: a new version's files are written before the
// timestamp that names them.
#ifndef ATRIUM_DYNAMIC_RELEASE_REPOSITORY_H_
#define ATRIUM_DYNAMIC_RELEASE_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct ReleaseRoleSetup {
  int keys = 1;
  int threshold = 1;
};

struct ReleaseOptions {
  std::string keys_dir;    // empty: "<repo>.keys" beside the repository
  int64_t now_unix_s = 0;  // 0: the real time (tests inject it)
  // Lifetimes of each role's metadata, in days (timestamp: hours).
  int root_expires_days = 365;
  int targets_expires_days = 90;
  int snapshot_expires_days = 7;
  int timestamp_expires_hours = 24;
};

struct ReleaseInitOptions {
  ReleaseRoleSetup root{1, 1};
  ReleaseRoleSetup targets{1, 1};
  ReleaseRoleSetup snapshot{1, 1};
  ReleaseRoleSetup timestamp{1, 1};
};

// A delegated targets role: an app team signs the packages under `paths`
// with its own keys while the platform keeps root and the top-level targets
// role. Delegated from the top-level targets role, in the order created.
struct ReleaseDelegation {
  std::string name;                // [a-z0-9._-], not a top-level role's name
  std::vector<std::string> paths;  // TUF path patterns ('*' never matches '/')
  bool terminating = false;        // a match here ends the search
  ReleaseRoleSetup keys{1, 1};
};

struct ReleaseAddOptions {
  std::string role;  // empty: the top-level targets role; else a delegated role
  std::string channel = "stable";
  int64_t rollout_micro_percent = 100'000'000;  // 100%
  std::string rollout_seed;                     // empty: "<kind>/<id>@<version>"
  std::string app_id;                           // empty: any app
  // Native bundles and Lua patches: the ABI/toolchain/host API they were
  // built against (docs/update.md); empty for other kinds.
  std::string compat;
  int max_deltas = 3;  // from the newest earlier versions still in the repo
  // Called during delta generation: (from version, entry, done, total).
  std::function<void(const std::string&, const std::string&, size_t, size_t)> progress;
};

struct ReleaseDelta {
  std::string from_version;
  std::string path;  // target path of the .atd
  uint64_t length = 0;
  bool kept = false;  // false: not smaller than the full package, dropped
};

struct ReleaseAddResult {
  std::string target_path;
  std::string kind, id, version;
  uint64_t length = 0;
  std::string sha256;
  std::vector<ReleaseDelta> deltas;
  bool unchanged = false;  // the same bytes were already staged
};

struct ReleaseRoleStatus {
  std::string role;
  int64_t version = 0;
  int64_t expires = 0;
  std::string expires_text;
};

struct ReleaseTargetStatus {
  std::string path;
  std::string role;  // "targets" or the delegated role that lists it
  std::string kind, id, version, channel, app_id;
  int64_t rollout_micro_percent = 0;
  uint64_t length = 0;
  std::vector<std::string> delta_from;
  std::string withdrawn_reason;  // empty: not withdrawn
  bool published = false;        // in the published targets (else staged only)
};

struct ReleaseStatus {
  std::vector<ReleaseRoleStatus> roles;  // root, targets, snapshot, timestamp
  std::vector<ReleaseTargetStatus> targets;
  bool unpublished_changes = false;
};

struct ReleasePublishResult {
  int64_t root = 0, targets = 0, snapshot = 0, timestamp = 0;
  bool targets_changed = false;
};

class ATRIUM_EXPORT ReleaseRepository {
 public:
  // Creates the keys of every role and version 1 of every role's metadata.
  // kAlreadyExists when the repository or its keys directory already has
  // metadata or keys.
  static Status Init(const std::string& repo, const ReleaseInitOptions& init,
                     const ReleaseOptions& options);
  static Result<std::unique_ptr<ReleaseRepository>> Open(const std::string& repo,
                                                         const ReleaseOptions& options);
  ~ReleaseRepository();
  ReleaseRepository(const ReleaseRepository&) = delete;
  ReleaseRepository& operator=(const ReleaseRepository&) = delete;

  // Stages a package (.atb) as a target, with deltas from earlier versions.
  Result<ReleaseAddResult> Add(const std::string& atb_path, const ReleaseAddOptions& options);
  // Creates a delegated role (its keys in the keys directory), staged: the
  // next Publish signs it. kAlreadyExists for a role of that name.
  Status Delegate(const ReleaseDelegation& delegation);
  // Marks `<kind>/<id>@<version>` withdrawn with `reason` (staged).
  Status Remove(const std::string& kind, const std::string& id, const std::string& version,
                const std::string& reason);
  // Signs new targets (when staged changes exist), snapshot and timestamp.
  Result<ReleasePublishResult> Publish();
  // Re-signs snapshot and timestamp with fresh expiry dates.
  Result<ReleasePublishResult> Refresh();
  // Replaces the key(s) of `role` with new ones: a new root version signed by
  // the old and the new root keys; the role's metadata (and what depends on
  // it) re-signed and published.
  Result<ReleasePublishResult> RotateKey(const std::string& role);
  Result<ReleaseStatus> GetStatus();

  const std::string& repo() const;
  const std::string& keys_dir() const;

  struct Impl;

 private:
  explicit ReleaseRepository(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_RELEASE_REPOSITORY_H_
