// TrustedSet: the metadata a TUF client trusts, and the only way metadata
// becomes trusted — the order and checks of the specification's detailed
// client workflow (section 5): the root chain (each new root signed by a
// threshold of the old root's keys and of its own, version exactly N + 1),
// then timestamp, snapshot, targets and delegated targets, each verified
// against the role above it, with rollback, freeze and mix-and-match checks.
// It does no I/O: the update client feeds it bytes (local copies first, for
// rollback protection, then downloads) and persists what it accepts.
//
// A refused file leaves the set as it was, with two deliberate exceptions
// that the specification implies: a timestamp or snapshot newer than the
// trusted one but already expired is kept (so that its version still guards
// against rollback) and the call reports it expired; nothing after it loads.
//
// Concurrency: not thread-safe; one update cycle owns a TrustedSet.
#ifndef ATRIUM_DYNAMIC_TUF_TRUSTED_SET_H_
#define ATRIUM_DYNAMIC_TUF_TRUSTED_SET_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/result.h"

namespace atrium::tuf {

class TrustedSet {
 public:
  // Starts from the trusted root (shipped with the app or persisted): it
  // must be signed by a threshold of its own root keys; its expiry is not
  // checked yet (a newer root may follow). `reference_time` (Unix seconds)
  // is the fixed start time every expiry is compared with.
  static Result<TrustedSet> Open(std::string_view root_bytes, int64_t reference_time,
                                 const MetadataLimits& limits = {});

  // The next root, N + 1. Refused after the timestamp is loaded.
  Status UpdateRoot(std::string_view bytes, std::string_view file = "root.json");
  // The trusted root must not be expired once the chain is done (5.3.10).
  Status CheckRootFresh() const;

  // kNew: accepted. kSameVersion: the same version as the trusted one — the
  // new bytes are ignored and the update stops here without an error.
  enum class TimestampOutcome { kNew, kSameVersion };
  Result<TimestampOutcome> UpdateTimestamp(std::string_view bytes);
  // `local`: a copy read from the client's own store (its hashes are not
  // checked against the timestamp and its version may be older: it serves
  // rollback protection only).
  Status UpdateSnapshot(std::string_view bytes, bool local = false,
                        std::string_view file = "snapshot.json");
  // Top-level targets (delegator "root") or a delegated role.
  Status UpdateTargets(std::string_view bytes, std::string_view file = "targets.json");
  Status UpdateDelegated(std::string_view bytes, std::string_view role, std::string_view delegator,
                         std::string_view file);

  const Root& root() const { return root_; }
  const Timestamp* timestamp() const { return timestamp_ ? &*timestamp_ : nullptr; }
  const Snapshot* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  // "targets" or a delegated role's name; nullptr when not loaded.
  const Targets* targets(std::string_view role) const;
  // The delegator whose keys verified a loaded role ("root" for "targets").
  std::string delegator_of(std::string_view role) const;
  int64_t reference_time() const { return reference_time_; }
  const MetadataLimits& limits() const { return limits_; }

  // Whether root `old_root` and the trusted root name different keys for
  // `role` (a rotation: the local copy of that role no longer verifies).
  static bool KeysRotated(const Root& old_root, const Root& new_root, std::string_view role);

 private:
  TrustedSet() = default;
  Status CheckFinalTimestamp() const;
  Status CheckFinalSnapshot() const;
  Error Expired(std::string_view file, const Common& c) const;

  int64_t reference_time_ = 0;
  MetadataLimits limits_;
  Root root_;
  std::optional<Timestamp> timestamp_;
  std::optional<Snapshot> snapshot_;
  struct LoadedTargets {
    Targets targets;
    std::string delegator;
  };
  std::map<std::string, LoadedTargets, std::less<>> targets_;
};

}  // namespace atrium::tuf

#endif  // ATRIUM_DYNAMIC_TUF_TRUSTED_SET_H_
