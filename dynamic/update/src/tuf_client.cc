#include "atrium/dynamic/tuf_client.h"

#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <set>

#include "atrium/base/file_util.h"
#include "atrium/base/result_macros.h"
#include "atrium/dynamic/tuf/trusted_set.h"
#include "fetcher.h"

namespace atrium {
namespace fs = std::filesystem;
using tuf::TrustedSet;

std::string TufEncodeComponent(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

// Each '/'-separated segment encoded, the separators kept.
std::string EncodePath(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += TufEncodeComponent(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

std::string LocalRoleFile(std::string_view role) {
  return role == "targets" ? "targets.json" : TufEncodeComponent(role) + ".json";
}

}  // namespace

struct TufClient::Impl {
  TufClientOptions options;
  update::Fetcher fetcher;
  std::optional<TrustedSet> set;
  bool refreshed = false;

  explicit Impl(TufClientOptions o)
      : options(std::move(o)), fetcher([&] {
          update::FetchOptions f;
          f.connect_timeout_ms = options.connect_timeout_ms;
          f.timeout_ms = options.timeout_ms;
          f.retries = options.retries;
          f.cancel = options.cancel;
          if (options.progress) {
            auto p = options.progress;
            f.progress = [p](uint64_t done, int64_t total) {
              p(done, total < 0 ? 0 : static_cast<uint64_t>(total));
            };
          }
          return f;
        }()) {}

  tuf::MetadataLimits Limits() const {
    tuf::MetadataLimits l;
    l.root = options.max_root_bytes;
    l.timestamp = options.max_timestamp_bytes;
    l.snapshot = options.max_snapshot_bytes;
    l.targets = options.max_targets_bytes;
    return l;
  }

  std::string Local(std::string_view name) const {
    return options.metadata_dir + "/" + std::string(name);
  }

  std::optional<std::string> ReadLocal(std::string_view name, size_t max) const {
    auto r = internal::ReadSmallFile(Local(name), max);
    if (!r.ok()) return std::nullopt;
    return std::move(r).value();
  }

  Status Persist(std::string_view name, std::string_view bytes) {
    return internal::AtomicWriteFile(Local(name), bytes);
  }

  Result<std::string> FetchMetadata(const std::string& name, uint64_t max) {
    return fetcher.Get(options.metadata_url + "/" + name, max, name);
  }

  Status UpdateRoot() {
    const tuf::Root initial = set->root();
    for (int i = 0; i < options.max_root_rotations; ++i) {
      const std::string name = std::to_string(set->root().version + 1) + ".root.json";
      auto bytes = FetchMetadata(name, options.max_root_bytes);
      if (!bytes.ok()) {
        if (bytes.error().code == ErrorCode::kNotFound) break;
        return bytes.error();
      }
      ATRIUM_RETURN_IF_ERROR(set->UpdateRoot(*bytes, name));
      ATRIUM_RETURN_IF_ERROR(Persist("root.json", *bytes));
    }
    ATRIUM_RETURN_IF_ERROR(set->CheckRootFresh());
    // Fast-forward recovery (5.3.11): local copies signed by rotated-out
    // keys are dropped (they would not verify any more either).
    std::error_code ec;
    if (TrustedSet::KeysRotated(initial, set->root(), "timestamp")) {
      fs::remove(Local("timestamp.json"), ec);
    }
    if (TrustedSet::KeysRotated(initial, set->root(), "snapshot")) {
      fs::remove(Local("snapshot.json"), ec);
    }
    return Status::Ok();
  }

  Status UpdateTimestamp() {
    if (auto local = ReadLocal("timestamp.json", options.max_timestamp_bytes)) {
      (void)set->UpdateTimestamp(*local);  // rollback protection only
    }
    ATRIUM_ASSIGN_OR_RETURN(std::string bytes,
                            FetchMetadata("timestamp.json", options.max_timestamp_bytes));
    ATRIUM_ASSIGN_OR_RETURN(TrustedSet::TimestampOutcome outcome, set->UpdateTimestamp(bytes));
    if (outcome == TrustedSet::TimestampOutcome::kSameVersion) return Status::Ok();
    return Persist("timestamp.json", bytes);
  }

  Status UpdateSnapshot() {
    if (auto local = ReadLocal("snapshot.json", options.max_snapshot_bytes)) {
      if (set->UpdateSnapshot(*local, /*local=*/true).ok()) return Status::Ok();
    }
    const tuf::MetaFile& meta = set->timestamp()->snapshot;
    const std::string name = set->root().consistent_snapshot
                                 ? std::to_string(meta.version) + ".snapshot.json"
                                 : "snapshot.json";
    const uint64_t max =
        meta.length ? static_cast<uint64_t>(*meta.length) : options.max_snapshot_bytes;
    ATRIUM_ASSIGN_OR_RETURN(std::string bytes, FetchMetadata(name, max));
    ATRIUM_RETURN_IF_ERROR(set->UpdateSnapshot(bytes, false, name));
    return Persist("snapshot.json", bytes);
  }

  Status LoadTargets(const std::string& role, const std::string& delegator) {
    if (set->targets(role) != nullptr && set->delegator_of(role) == delegator) return Status::Ok();
    const std::string local_name = LocalRoleFile(role);
    if (auto local = ReadLocal(local_name, options.max_targets_bytes)) {
      if (set->UpdateDelegated(*local, role, delegator, local_name).ok()) return Status::Ok();
    }
    auto it = set->snapshot()->meta.find(role + ".json");
    if (it == set->snapshot()->meta.end()) {
      Error e = MakeError(ErrorCode::kValidation, "snapshot.json does not list " + role + ".json");
      e.file = local_name;
      return e;
    }
    const std::string encoded = role == "targets" ? role : TufEncodeComponent(role);
    const std::string name = set->root().consistent_snapshot
                                 ? std::to_string(it->second.version) + "." + encoded + ".json"
                                 : encoded + ".json";
    const uint64_t max =
        it->second.length ? static_cast<uint64_t>(*it->second.length) : options.max_targets_bytes;
    ATRIUM_ASSIGN_OR_RETURN(std::string bytes, FetchMetadata(name, max));
    ATRIUM_RETURN_IF_ERROR(set->UpdateDelegated(bytes, role, delegator, name));
    return Persist(local_name, bytes);
  }

  Status Refresh() {
    refreshed = false;
    const int64_t now =
        options.now_unix_s != 0 ? options.now_unix_s : static_cast<int64_t>(std::time(nullptr));
    auto root = internal::ReadSmallFile(Local("root.json"), options.max_root_bytes);
    if (!root.ok()) return root.error();
    auto opened = TrustedSet::Open(*root, now, Limits());
    if (!opened.ok()) return opened.error();
    set.emplace(std::move(opened).value());
    ATRIUM_RETURN_IF_ERROR(UpdateRoot());
    ATRIUM_RETURN_IF_ERROR(UpdateTimestamp());
    ATRIUM_RETURN_IF_ERROR(UpdateSnapshot());
    ATRIUM_RETURN_IF_ERROR(LoadTargets("targets", "root"));
    refreshed = true;
    return Status::Ok();
  }

  static TufTarget ToPublic(const tuf::TargetFile& f, const std::string& role) {
    TufTarget t;
    t.path = f.path;
    t.length = static_cast<uint64_t>(f.length);
    t.hashes = f.hashes;
    t.custom_json = boost::json::serialize(f.custom);
    t.role = role;
    return t;
  }

  // Pre-order depth-first search of the delegation graph (5.6.7).
  Result<TufTarget> Find(const std::string& path) {
    std::vector<std::pair<std::string, std::string>> stack{{"targets", "root"}};
    std::set<std::pair<std::string, std::string>> visited;
    int visits = 0;
    while (!stack.empty() && visits < options.max_delegations) {
      auto [role, delegator] = stack.back();
      stack.pop_back();
      if (!visited.insert({role, delegator}).second) continue;
      ++visits;
      ATRIUM_RETURN_IF_ERROR(LoadTargets(role, delegator));
      const tuf::Targets* t = set->targets(role);
      if (auto it = t->targets.find(path); it != t->targets.end()) {
        return ToPublic(it->second, role);
      }
      if (!t->delegations) continue;
      std::vector<std::pair<std::string, std::string>> children;
      for (const tuf::DelegatedRole& d : t->delegations->roles) {
        if (!tuf::IsDelegatedPath(d, path)) continue;
        children.emplace_back(d.name, role);
        if (d.terminating) {
          stack.clear();
          break;
        }
      }
      stack.insert(stack.end(), children.rbegin(), children.rend());
    }
    return MakeError(ErrorCode::kNotFound, path + ": no trusted role lists this target");
  }

  std::string TargetUrl(const TufTarget& target) const {
    std::string rel = target.path;
    if (set->root().consistent_snapshot && !target.hashes.empty()) {
      auto it = target.hashes.find("sha256");
      const std::string& hash =
          it != target.hashes.end() ? it->second : target.hashes.begin()->second;
      const size_t slash = rel.rfind('/');
      rel = slash == std::string::npos
                ? hash + "." + rel
                : rel.substr(0, slash + 1) + hash + "." + rel.substr(slash + 1);
    }
    return options.target_url + "/" + EncodePath(rel);
  }

  Status DownloadTo(const TufTarget& target, const std::string& dest) {
    const std::string what = target.path;
    if (tuf::CheckFileLengthAndHashes(dest, what, static_cast<int64_t>(target.length),
                                      target.hashes)
            .ok()) {
      return Status::Ok();  // already there and verified
    }
    std::error_code ec;
    fs::create_directories(fs::path(dest).parent_path(), ec);
    const std::string part = dest + ".part";
    Status s = fetcher.GetToFile(TargetUrl(target), part, target.length, what);
    if (s.ok()) {
      s = tuf::CheckFileLengthAndHashes(part, what, static_cast<int64_t>(target.length),
                                        target.hashes);
    }
    if (!s.ok()) {
      fs::remove(part, ec);
      return s;
    }
    if (std::rename(part.c_str(), dest.c_str()) != 0) {
      return internal::ErrnoError(dest, "cannot rename the download into place", errno);
    }
    return internal::SyncParentDir(dest);
  }
};

TufClient::TufClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TufClient::~TufClient() = default;

Status TufClient::Init(const std::string& metadata_dir, const std::string& trusted_root_path) {
  ATRIUM_ASSIGN_OR_RETURN(std::string bytes,
                          internal::ReadSmallFile(trusted_root_path, 512 * 1024));
  // Self-signed by its own threshold; its expiry is checked at refresh.
  ATRIUM_ASSIGN_OR_RETURN(TrustedSet set, TrustedSet::Open(bytes, 0));
  (void)set;
  std::error_code ec;
  fs::create_directories(metadata_dir, ec);
  for (const char* name : {"timestamp.json", "snapshot.json", "targets.json"}) {
    fs::remove(metadata_dir + "/" + name, ec);
  }
  return internal::AtomicWriteFile(metadata_dir + "/root.json", bytes);
}

Result<std::unique_ptr<TufClient>> TufClient::Open(TufClientOptions options) {
  if (options.metadata_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "TufClient: no metadata directory");
  }
  while (!options.metadata_url.empty() && options.metadata_url.back() == '/') {
    options.metadata_url.pop_back();
  }
  while (!options.target_url.empty() && options.target_url.back() == '/') {
    options.target_url.pop_back();
  }
  struct stat st {};
  const std::string root = options.metadata_dir + "/root.json";
  if (::stat(root.c_str(), &st) != 0) {
    return internal::FileError(ErrorCode::kNotFound, root,
                               "no trusted root (run init with the app's pinned root first)");
  }
  return std::unique_ptr<TufClient>(new TufClient(std::make_unique<Impl>(std::move(options))));
}

Status TufClient::Refresh() { return impl_->Refresh(); }

Result<std::vector<TufTarget>> TufClient::TopLevelTargets() {
  if (!impl_->refreshed) ATRIUM_RETURN_IF_ERROR(impl_->Refresh());
  std::vector<TufTarget> out;
  for (const auto& [path, f] : impl_->set->targets("targets")->targets) {
    out.push_back(Impl::ToPublic(f, "targets"));
  }
  return out;
}

Result<std::vector<TufTarget>> TufClient::AllTargets() {
  if (!impl_->refreshed) ATRIUM_RETURN_IF_ERROR(impl_->Refresh());
  std::set<std::string> paths;
  std::vector<std::pair<std::string, std::string>> stack{{"targets", "root"}};
  std::set<std::string> visited;
  while (!stack.empty() && static_cast<int>(visited.size()) < impl_->options.max_delegations) {
    auto [role, delegator] = stack.back();
    stack.pop_back();
    if (!visited.insert(role).second) continue;
    ATRIUM_RETURN_IF_ERROR(impl_->LoadTargets(role, delegator));
    const tuf::Targets* t = impl_->set->targets(role);
    for (const auto& [path, _] : t->targets) paths.insert(path);
    if (!t->delegations) continue;
    for (auto it = t->delegations->roles.rbegin(); it != t->delegations->roles.rend(); ++it) {
      stack.emplace_back(it->name, role);
    }
  }
  std::vector<TufTarget> out;
  for (const std::string& path : paths) {
    auto found = impl_->Find(path);
    if (found.ok()) {
      out.push_back(std::move(found).value());
    } else if (found.error().code != ErrorCode::kNotFound) {
      return found.error();
    }
  }
  return out;
}

Result<TufTarget> TufClient::FindTarget(const std::string& path) {
  if (!impl_->refreshed) ATRIUM_RETURN_IF_ERROR(impl_->Refresh());
  return impl_->Find(path);
}

Result<std::string> TufClient::Download(const TufTarget& target, const std::string& dir) {
  if (!impl_->refreshed) ATRIUM_RETURN_IF_ERROR(impl_->Refresh());
  const std::string dest = dir + "/" + TufEncodeComponent(target.path);
  ATRIUM_RETURN_IF_ERROR(impl_->DownloadTo(target, dest));
  return dest;
}

Status TufClient::DownloadTo(const TufTarget& target, const std::string& dest) {
  if (!impl_->refreshed) ATRIUM_RETURN_IF_ERROR(impl_->Refresh());
  return impl_->DownloadTo(target, dest);
}

TufTrustedVersions TufClient::trusted() const {
  TufTrustedVersions v;
  if (!impl_->set) return v;
  const TrustedSet& s = *impl_->set;
  v.root = s.root().version;
  v.root_expires = s.root().expires;
  if (s.timestamp()) {
    v.timestamp = s.timestamp()->version;
    v.timestamp_expires = s.timestamp()->expires;
  }
  if (s.snapshot()) {
    v.snapshot = s.snapshot()->version;
    v.snapshot_expires = s.snapshot()->expires;
  }
  if (const tuf::Targets* t = s.targets("targets")) {
    v.targets = t->version;
    v.targets_expires = t->expires;
  }
  return v;
}

bool TufClient::consistent_snapshot() const {
  return impl_->set && impl_->set->root().consistent_snapshot;
}
uint64_t TufClient::bytes_received() const { return impl_->fetcher.bytes_received(); }
uint64_t TufClient::requests() const { return impl_->fetcher.requests(); }

}  // namespace atrium
