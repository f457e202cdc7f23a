#include "atrium/dynamic/tuf/trusted_set.h"

#include <set>

#include "atrium/base/result_macros.h"

namespace atrium::tuf {
namespace {

Error Refused(std::string_view file, std::string message, ErrorCode code = ErrorCode::kValidation) {
  Error e = MakeError(code, std::move(message));
  e.file = std::string(file);
  return e;
}

std::string V(int64_t v) { return std::to_string(v); }

}  // namespace

Result<TrustedSet> TrustedSet::Open(std::string_view root_bytes, int64_t reference_time,
                                    const MetadataLimits& limits) {
  TrustedSet set;
  set.reference_time_ = reference_time;
  set.limits_ = limits;
  ATRIUM_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(root_bytes, "root.json", limits.root));
  ATRIUM_ASSIGN_OR_RETURN(set.root_, ReadRoot(e));
  ATRIUM_RETURN_IF_ERROR(VerifyThreshold(e, "root", set.root_.roles.at("root"), set.root_.keys));
  return set;
}

Status TrustedSet::UpdateRoot(std::string_view bytes, std::string_view file) {
  if (timestamp_)
    return Refused(file, "root cannot change after the timestamp is loaded", ErrorCode::kState);
  ATRIUM_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(bytes, file, limits_.root));
  ATRIUM_ASSIGN_OR_RETURN(Root next, ReadRoot(e));
  // Signed by a threshold of the trusted root's keys and of its own (5.3.4).
  if (Status s = VerifyThreshold(e, "root (trusted v" + V(root_.version) + " keys)",
                                 root_.roles.at("root"), root_.keys);
      !s.ok()) {
    return s;
  }
  if (Status s = VerifyThreshold(e, "root (its own keys)", next.roles.at("root"), next.keys);
      !s.ok()) {
    return s;
  }
  if (next.version != root_.version + 1) {
    return Refused(file, "version " + V(next.version) + ", expected " + V(root_.version + 1) +
                             (next.version <= root_.version ? ": rollback refused" : ""));
  }
  root_ = std::move(next);
  return Status::Ok();
}

Error TrustedSet::Expired(std::string_view file, const Common& c) const {
  return Refused(file, "expired at " + c.expires_text + " (now " + FormatUtcTime(reference_time_) +
                           "): freeze refused");
}

Status TrustedSet::CheckRootFresh() const {
  if (root_.expires <= reference_time_) return Expired("root.json", root_);
  return Status::Ok();
}

Result<TrustedSet::TimestampOutcome> TrustedSet::UpdateTimestamp(std::string_view bytes) {
  static constexpr std::string_view kFile = "timestamp.json";
  if (snapshot_)
    return Refused(kFile, "timestamp cannot change after the snapshot is loaded",
                   ErrorCode::kState);
  ATRIUM_RETURN_IF_ERROR(CheckRootFresh());
  ATRIUM_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(bytes, kFile, limits_.timestamp));
  ATRIUM_ASSIGN_OR_RETURN(Timestamp next, ReadTimestamp(e));
  ATRIUM_RETURN_IF_ERROR(VerifyThreshold(e, "timestamp", root_.roles.at("timestamp"), root_.keys));
  if (timestamp_) {
    if (next.version < timestamp_->version) {
      return Refused(kFile, "version " + V(next.version) + " < trusted " + V(timestamp_->version) +
                                ": rollback refused");
    }
    if (next.version == timestamp_->version) return TimestampOutcome::kSameVersion;
    if (next.snapshot.version < timestamp_->snapshot.version) {
      return Refused(kFile, "snapshot version " + V(next.snapshot.version) + " < trusted " +
                                V(timestamp_->snapshot.version) + ": rollback refused");
    }
  }
  // Kept even when expired: its version guards against rollback.
  timestamp_ = std::move(next);
  ATRIUM_RETURN_IF_ERROR(CheckFinalTimestamp());
  return TimestampOutcome::kNew;
}

Status TrustedSet::CheckFinalTimestamp() const {
  if (timestamp_->expires <= reference_time_) return Expired("timestamp.json", *timestamp_);
  return Status::Ok();
}

Status TrustedSet::UpdateSnapshot(std::string_view bytes, bool local, std::string_view file) {
  if (!timestamp_) return Refused(file, "no trusted timestamp", ErrorCode::kState);
  if (!targets_.empty())
    return Refused(file, "snapshot cannot change after targets are loaded", ErrorCode::kState);
  ATRIUM_RETURN_IF_ERROR(CheckFinalTimestamp());
  const MetaFile& meta = timestamp_->snapshot;
  // Hashes before signatures (5.5.2): a mismatched file is not even parsed.
  if (!local) {
    if (meta.length && bytes.size() > static_cast<uint64_t>(*meta.length)) {
      return Refused(
          file,
          "length " + V(static_cast<int64_t>(bytes.size())) + ", timestamp says " + V(*meta.length),
          ErrorCode::kCorrupt);
    }
    if (Status s = CheckLengthAndHashes(bytes, file, meta.length, meta.hashes); !s.ok()) {
      return Refused(file, s.error().message + " (against timestamp.json): mix-and-match refused",
                     s.error().code);
    }
  }
  ATRIUM_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(bytes, file, limits_.snapshot));
  ATRIUM_ASSIGN_OR_RETURN(Snapshot next, ReadSnapshot(e));
  ATRIUM_RETURN_IF_ERROR(VerifyThreshold(e, "snapshot", root_.roles.at("snapshot"), root_.keys));
  if (snapshot_) {
    for (const auto& [name, old_meta] : snapshot_->meta) {
      auto it = next.meta.find(name);
      if (it == next.meta.end()) {
        return Refused(file, "no longer lists " + name + ": rollback refused");
      }
      if (it->second.version < old_meta.version) {
        return Refused(file, name + " version " + V(it->second.version) + " < trusted " +
                                 V(old_meta.version) + ": rollback refused");
      }
    }
  }
  // Kept even when expired or older than the timestamp says (a local copy):
  // its versions guard against rollback.
  snapshot_ = std::move(next);
  return CheckFinalSnapshot();
}

Status TrustedSet::CheckFinalSnapshot() const {
  if (snapshot_->expires <= reference_time_) return Expired("snapshot.json", *snapshot_);
  if (snapshot_->version != timestamp_->snapshot.version) {
    return Refused("snapshot.json", "version " + V(snapshot_->version) + ", timestamp.json says " +
                                        V(timestamp_->snapshot.version) +
                                        ": mix-and-match refused");
  }
  return Status::Ok();
}

Status TrustedSet::UpdateTargets(std::string_view bytes, std::string_view file) {
  return UpdateDelegated(bytes, "targets", "root", file);
}

Status TrustedSet::UpdateDelegated(std::string_view bytes, std::string_view role,
                                   std::string_view delegator, std::string_view file) {
  if (!snapshot_) return Refused(file, "no trusted snapshot", ErrorCode::kState);
  ATRIUM_RETURN_IF_ERROR(CheckFinalSnapshot());
  const RoleKeys* keys = nullptr;
  const std::map<std::string, Key>* key_map = nullptr;
  if (delegator == "root") {
    if (role != "targets") return Refused(file, "root delegates only 'targets'", ErrorCode::kState);
    keys = &root_.roles.at("targets");
    key_map = &root_.keys;
  } else {
    const Targets* parent = targets(delegator);
    if (parent == nullptr) {
      return Refused(file, "delegator " + std::string(delegator) + " is not loaded",
                     ErrorCode::kState);
    }
    if (parent->delegations) {
      for (const DelegatedRole& d : parent->delegations->roles) {
        if (d.name == role) keys = &d.keys;
      }
      key_map = &parent->delegations->keys;
    }
    if (keys == nullptr) {
      return Refused(file, std::string(delegator) + " does not delegate to " + std::string(role));
    }
  }
  const std::string meta_name = std::string(role) + ".json";
  auto it = snapshot_->meta.find(meta_name);
  if (it == snapshot_->meta.end()) {
    return Refused(file, "snapshot.json does not list " + meta_name);
  }
  const MetaFile& meta = it->second;
  if (Status s = CheckLengthAndHashes(bytes, file, meta.length, meta.hashes); !s.ok()) {
    return Refused(file, s.error().message + " (against snapshot.json): mix-and-match refused",
                   s.error().code);
  }
  ATRIUM_ASSIGN_OR_RETURN(Envelope e, ParseEnvelope(bytes, file, limits_.targets));
  ATRIUM_ASSIGN_OR_RETURN(Targets next, ReadTargets(e));
  ATRIUM_RETURN_IF_ERROR(VerifyThreshold(e, role, *keys, *key_map));
  if (next.version != meta.version) {
    return Refused(
        file, "version " + V(next.version) + ", snapshot.json says " + V(meta.version) +
                  (next.version < meta.version ? ": rollback refused" : ": mix-and-match refused"));
  }
  if (next.expires <= reference_time_) return Expired(file, next);
  targets_[std::string(role)] = LoadedTargets{std::move(next), std::string(delegator)};
  return Status::Ok();
}

const Targets* TrustedSet::targets(std::string_view role) const {
  auto it = targets_.find(role);
  return it == targets_.end() ? nullptr : &it->second.targets;
}

std::string TrustedSet::delegator_of(std::string_view role) const {
  auto it = targets_.find(role);
  return it == targets_.end() ? std::string() : it->second.delegator;
}

bool TrustedSet::KeysRotated(const Root& old_root, const Root& new_root, std::string_view role) {
  auto a = old_root.roles.find(std::string(role));
  auto b = new_root.roles.find(std::string(role));
  if (a == old_root.roles.end() || b == new_root.roles.end()) return true;
  std::set<std::string> x(a->second.keyids.begin(), a->second.keyids.end());
  std::set<std::string> y(b->second.keyids.begin(), b->second.keyids.end());
  return x != y;
}

}  // namespace atrium::tuf
