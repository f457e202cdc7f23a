// TufClient: a client of a TUF repository (The Update Framework,
// specification 1.0.x, section 5 "Detailed client workflow"). It keeps the
// metadata it trusts in a directory of its own, under non-versioned names
// (root.json, timestamp.json, snapshot.json, targets.json, <role>.json) as
// the exact bytes the repository served, each written atomically; a refresh
// that fails at any step leaves what was trusted before (or a consistent
// newer prefix of it: a newer root, a newer timestamp) and never anything
// unverified.
//
//   TufClient::Init("/data/tuf", "app/root.json");          // pin the root
//   auto c = TufClient::Open({.metadata_dir = "/data/tuf",
//                             .metadata_url = "https://cdn.example/metadata",
//                             .target_url = "https://cdn.example/targets"});
//   Status s = (*c)->Refresh();
//   auto t = (*c)->FindTarget("native_bundle/com.example.pay-1.2.0.atb");
//   auto path = (*c)->Download(*t, "/data/downloads");
//
// It refuses every attack of TUF's threat model: arbitrary or substituted
// files (length and hashes from the signed metadata), signatures under
// threshold, rollback of any role's version, freeze (expiry against a fixed
// start time, injectable), mix-and-match (snapshot and targets checked
// against what timestamp and snapshot say), endless data (every download is
// cut at a limit), and it recovers from a fast-forward attack when the keys
// of the role concerned rotate. Errors name the role, the file and the
// reason ("timestamp.json: version 3 < trusted 5: rollback refused").
//
// Concurrency: one thread uses a TufClient at a time; separate clients on
// separate metadata directories are independent.
#ifndef ATRIUM_DYNAMIC_TUF_CLIENT_H_
#define ATRIUM_DYNAMIC_TUF_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct TufClientOptions {
  std::string metadata_dir;
  std::string metadata_url;  // no trailing '/': URL + "/timestamp.json"
  std::string target_url;    // base of the target files
  // The fixed start time of a refresh, Unix seconds; 0: the real time when
  // Refresh starts.
  int64_t now_unix_s = 0;
  // Byte limits of the metadata files (the timestamp's is deliberately small).
  uint64_t max_root_bytes = 512 * 1024;
  uint64_t max_timestamp_bytes = 16 * 1024;
  uint64_t max_snapshot_bytes = 2 * 1024 * 1024;
  uint64_t max_targets_bytes = 5 * 1024 * 1024;
  int max_root_rotations = 256;
  int max_delegations = 32;  // roles visited in one target search
  long connect_timeout_ms = 10'000;
  long timeout_ms = 300'000;
  int retries = 2;
  // Called while a target downloads: (bytes so far, bytes expected).
  std::function<void(uint64_t, uint64_t)> progress;
  // When set and true, a transfer in flight stops with kState "cancelled".
  const std::atomic<bool>* cancel = nullptr;
};

// A target as the signed metadata describes it.
struct TufTarget {
  std::string path;
  uint64_t length = 0;
  std::map<std::string, std::string> hashes;  // algorithm -> hex
  std::string custom_json;                    // the `custom` object ("{}" when absent)
  std::string role;                           // the role that listed it
};

struct TufTrustedVersions {
  int64_t root = 0, timestamp = 0, snapshot = 0, targets = 0;
  int64_t timestamp_expires = 0, snapshot_expires = 0, targets_expires = 0, root_expires = 0;
};

class ATRIUM_EXPORT TufClient {
 public:
  // Verifies that `trusted_root_path` holds a root signed by a threshold of
  // its own keys and stores its bytes as `metadata_dir`/root.json (replacing
  // any trusted metadata there). No network.
  static Status Init(const std::string& metadata_dir, const std::string& trusted_root_path);
  // Opens the trusted metadata of `options.metadata_dir` (root.json must be
  // there). No network.
  static Result<std::unique_ptr<TufClient>> Open(TufClientOptions options);
  ~TufClient();
  TufClient(const TufClient&) = delete;
  TufClient& operator=(const TufClient&) = delete;

  // One refresh: root chain, timestamp, snapshot, top-level targets.
  Status Refresh();
  // Every target of the top-level targets role (delegated roles are read
  // per path by FindTarget). Needs a successful Refresh.
  Result<std::vector<TufTarget>> TopLevelTargets();
  // Every target any trusted role lists, each resolved as FindTarget would
  // (so a path a delegated role lists outside its delegation is left out),
  // sorted by path. Visits at most max_delegations roles.
  Result<std::vector<TufTarget>> AllTargets();
  // The target at `path`, searched through the delegations in pre-order
  // depth first (refreshes first if this client has not yet). kNotFound
  // when no trusted role lists it.
  Result<TufTarget> FindTarget(const std::string& path);
  // Downloads `target` into `dir` (as the path with every '/' and other
  // reserved character percent-encoded), unless a file there already has
  // the right length and hashes. Returns the file's path. The file is
  // written beside its final name and renamed into place only once its
  // length and hashes verified.
  Result<std::string> Download(const TufTarget& target, const std::string& dir);
  // Downloads a target to exactly `dest` (the same checks).
  Status DownloadTo(const TufTarget& target, const std::string& dest);

  TufTrustedVersions trusted() const;
  bool consistent_snapshot() const;
  // Bytes and requests that went over the wire since Open.
  uint64_t bytes_received() const;
  uint64_t requests() const;

  struct Impl;

 private:
  explicit TufClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes every byte except ALPHA / DIGIT / "-" / "." / "_" / "~"
// (how role names and target paths become URL parts and file names).
ATRIUM_EXPORT std::string TufEncodeComponent(std::string_view s);

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_TUF_CLIENT_H_
