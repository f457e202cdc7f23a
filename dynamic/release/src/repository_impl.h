// ReleaseRepository's private state and the helpers its two files share:
// repository.cc (keys, roles, signing, publishing, status) and
// repository_targets.cc (adding packages with their deltas, withdrawing).
//
// The keys directory holds:
//   release.json            {"roles": {"<role>": {"threshold": N, "keys": ["<role>-1", ...]}}}
//   <role>-<n>.key / .pub   ed25519 keys (as `atrium keygen` writes them)
//   staged-targets.json     {"targets": {...}}: the next targets role's targets
//   lock                    flock'd while a command edits the repository
#ifndef ATRIUM_DYNAMIC_RELEASE_REPOSITORY_IMPL_H_
#define ATRIUM_DYNAMIC_RELEASE_REPOSITORY_IMPL_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/signing.h"

namespace atrium {

inline constexpr const char* kSpecVersion = "1.0.31";

// What the repository has published, read back from its own files.
struct PublishedState {
  int64_t root = 0, targets = 0, snapshot = 0, timestamp = 0;
  tuf::Root root_meta;
  tuf::Common targets_common, snapshot_common, timestamp_common;
  boost::json::object targets_json;  // the published targets role's "targets"
};

struct ReleaseRepository::Impl {
  std::string repo;
  std::string keys_dir;
  ReleaseOptions options;
  int lock_fd = -1;
  boost::json::object config;  // release.json
  boost::json::object staged;  // staged-targets.json

  ~Impl();
  int64_t Now() const;
  std::string Metadata(const std::string& name) const { return repo + "/metadata/" + name; }

  Status SaveConfig();
  Status SaveStaged();
  Result<std::vector<tuf::SigningKey>> SignersOf(const std::string& role) const;
  Result<boost::json::object> RootSigned(int64_t version) const;
  Result<PublishedState> LoadPublished() const;
  // Writes `name` (a metadata file) signed by `role`'s keys (+ `extra`).
  Result<std::string> WriteSigned(const std::string& name, const boost::json::object& signed_part,
                                  const std::vector<tuf::SigningKey>& signers);
  // Publishes targets (when `force_targets` or staged differs), snapshot and
  // timestamp on top of `published`.
  Result<ReleasePublishResult> PublishFrom(const PublishedState& published, bool force_targets);
};

// Lowercase hex SHA-256 of a file, read in chunks.
Result<std::string> Sha256OfFile(const std::string& path);
// Copies `from` to `to` atomically (temporary beside `to`, fsync, rename).
Status CopyFileAtomically(const std::string& from, const std::string& to);
// A new ed25519 key written as <dir>/<name>.key (0600) and <name>.pub.
Status GenerateKey(const std::string& dir, const std::string& name);

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_RELEASE_REPOSITORY_IMPL_H_
