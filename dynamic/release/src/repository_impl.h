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
#include <map>
#include <string>
#include <vector>

#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/signing.h"

namespace atrium {

inline constexpr const char* kSpecVersion = "1.0.31";

// A delegated role as published.
struct PublishedRole {
  int64_t version = 0;
  std::string bytes;
  boost::json::object targets_json;
};

// What the repository has published, read back from its own files.
struct PublishedState {
  int64_t root = 0, targets = 0, snapshot = 0, timestamp = 0;
  tuf::Root root_meta;
  tuf::Common targets_common, snapshot_common, timestamp_common;
  boost::json::object targets_json;            // the published targets role's "targets"
  boost::json::value delegations_json;         // its "delegations" (null when none)
  std::map<std::string, PublishedRole> roles;  // delegated roles, by name
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
  // Publishes the delegated roles and targets of `doc` (a staged document:
  // {"targets": {...}, "roles": {"<role>": {...}}}) where they differ from
  // `published` (targets also when `force_targets`), then snapshot and
  // timestamp.
  Result<ReleasePublishResult> PublishFrom(const PublishedState& published,
                                           const boost::json::object& doc, bool force_targets);
  // The published state as a staged document (what Refresh re-signs).
  static boost::json::object PublishedDoc(const PublishedState& published);
  // repository_roles.cc: the top-level role's "delegations" from
  // release.json (null without delegated roles), and publishing them.
  Result<boost::json::value> DelegationsJson() const;
  Result<boost::json::object> PublishRoles(const PublishedState& published,
                                           const boost::json::object& doc, int64_t now);
  // The targets map of `role` in the staged document ("targets": top level).
  boost::json::object& StagedTargets(const std::string& role);
};

// {"version", "length", "hashes": {"sha256"}} of a metadata file's bytes.
boost::json::object MetaOf(int64_t version, const std::string& bytes);
// The fields every role's signed part starts with.
boost::json::object CommonSigned(const char* type, int64_t version, int64_t expires);
// Copies `from` to `to` atomically (temporary beside `to`, fsync, rename).
Status CopyFileAtomically(const std::string& from, const std::string& to);
// A new ed25519 key written as <dir>/<name>.key (0600) and <name>.pub.
Status GenerateKey(const std::string& dir, const std::string& name);

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_RELEASE_REPOSITORY_IMPL_H_
