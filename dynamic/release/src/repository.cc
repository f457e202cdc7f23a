#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <tuple>

#include "atrium/base/file_util.h"
#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/package.h"
#include "repository_impl.h"

namespace atrium {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr const char* kRoles[] = {"root", "targets", "snapshot", "timestamp"};

Error RepoError(ErrorCode code, const std::string& file, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.file = file;
  return e;
}

Result<json::object> ReadJsonObject(const std::string& path) {
  ATRIUM_ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(path, 64 << 20));
  internal::StrictJsonLimits limits;
  limits.max_bytes = 64 << 20;
  ATRIUM_ASSIGN_OR_RETURN(json::value v, internal::ParseStrictJson(text, path, limits));
  if (!v.is_object()) return RepoError(ErrorCode::kValidation, path, "not a JSON object");
  return v.get_object();
}

Status WriteJson(const std::string& path, const json::object& o) {
  return internal::AtomicWriteFile(path, json::serialize(o) + "\n");
}

Result<std::string> OpenLock(const std::string& keys_dir, int& fd) {
  const std::string path = keys_dir + "/lock";
  fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return internal::ErrnoError(path, "cannot open the lock", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return RepoError(ErrorCode::kState, keys_dir,
                     "another `atrium release` command is editing this repository");
  }
  return path;
}

}  // namespace

json::object MetaOf(int64_t version, const std::string& bytes) {
  json::object m;
  m["version"] = version;
  m["length"] = static_cast<int64_t>(bytes.size());
  json::object h;
  h["sha256"] = tuf::Sha256Hex(bytes);
  m["hashes"] = std::move(h);
  return m;
}

json::object CommonSigned(const char* type, int64_t version, int64_t expires) {
  json::object o;
  o["_type"] = type;
  o["spec_version"] = kSpecVersion;
  o["version"] = version;
  o["expires"] = tuf::FormatUtcTime(expires);
  return o;
}

Status CopyFileAtomically(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(fs::path(to).parent_path(), ec);
  const std::string tmp = to + ".tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) return RepoError(ErrorCode::kIo, to, "cannot copy " + from + ": " + ec.message());
  ATRIUM_RETURN_IF_ERROR(internal::SyncPath(tmp, false));
  if (std::rename(tmp.c_str(), to.c_str()) != 0) {
    return internal::ErrnoError(to, "cannot rename into place", errno);
  }
  return internal::SyncParentDir(to);
}

Status GenerateKey(const std::string& dir, const std::string& name) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  if (sodium_init() < 0 || crypto_sign_keypair(pk, sk) != 0) {
    return MakeError(ErrorCode::kInternal, "cannot generate an ed25519 key");
  }
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(dir + "/" + name + ".key",
                                                   internal::HexOf(sk, sizeof sk) + "\n", 0600));
  sodium_memzero(sk, sizeof sk);
  return internal::AtomicWriteFile(dir + "/" + name + ".pub",
                                   internal::HexOf(pk, sizeof pk) + "\n");
}

ReleaseRepository::Impl::~Impl() {
  if (lock_fd >= 0) ::close(lock_fd);
}

int64_t ReleaseRepository::Impl::Now() const {
  return options.now_unix_s != 0 ? options.now_unix_s : static_cast<int64_t>(std::time(nullptr));
}

Status ReleaseRepository::Impl::SaveConfig() {
  return WriteJson(keys_dir + "/release.json", config);
}
Status ReleaseRepository::Impl::SaveStaged() {
  return WriteJson(keys_dir + "/staged-targets.json", staged);
}

Result<std::vector<tuf::SigningKey>> ReleaseRepository::Impl::SignersOf(
    const std::string& role) const {
  std::vector<tuf::SigningKey> out;
  const json::value* r = config.at("roles").as_object().if_contains(role);
  if (r == nullptr) return RepoError(ErrorCode::kNotFound, keys_dir, "no role " + role);
  for (const json::value& name : r->as_object().at("keys").as_array()) {
    const std::string path = keys_dir + "/" + std::string(name.as_string()) + ".key";
    ATRIUM_ASSIGN_OR_RETURN(SecretKey sk, ReadSecretKeyFile(path));
    out.push_back(tuf::MakeSigningKey(sk));
  }
  return out;
}

Result<json::object> ReleaseRepository::Impl::RootSigned(int64_t version) const {
  json::object s =
      CommonSigned("root", version, Now() + int64_t{86400} * options.root_expires_days);
  s["consistent_snapshot"] = true;
  json::object keys, roles;
  for (const char* role : kRoles) {
    const json::object& r = config.at("roles").at(role).as_object();
    json::array ids;
    for (const json::value& name : r.at("keys").as_array()) {
      const std::string path = keys_dir + "/" + std::string(name.as_string()) + ".pub";
      ATRIUM_ASSIGN_OR_RETURN(PublicKey pk, ReadPublicKeyFile(path));
      const std::string id = tuf::TufKeyId(pk);
      keys[id] = tuf::KeyObject(pk);
      ids.push_back(json::string(id));
    }
    json::object entry;
    entry["keyids"] = std::move(ids);
    entry["threshold"] = r.at("threshold");
    roles[role] = std::move(entry);
  }
  s["keys"] = std::move(keys);
  s["roles"] = std::move(roles);
  return s;
}

Result<std::string> ReleaseRepository::Impl::WriteSigned(
    const std::string& name, const json::object& signed_part,
    const std::vector<tuf::SigningKey>& signers) {
  ATRIUM_ASSIGN_OR_RETURN(std::string bytes, tuf::SignMetadata(signed_part, signers));
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(Metadata(name), bytes));
  return bytes;
}

Result<PublishedState> ReleaseRepository::Impl::LoadPublished() const {
  PublishedState p;
  auto read = [&](const std::string& name) -> Result<tuf::Envelope> {
    ATRIUM_ASSIGN_OR_RETURN(std::string bytes, internal::ReadSmallFile(Metadata(name), 64 << 20));
    return tuf::ParseEnvelope(bytes, name, 64 << 20);
  };
  ATRIUM_ASSIGN_OR_RETURN(tuf::Envelope re, read("root.json"));
  ATRIUM_ASSIGN_OR_RETURN(p.root_meta, tuf::ReadRoot(re));
  p.root = p.root_meta.version;
  ATRIUM_ASSIGN_OR_RETURN(tuf::Envelope te, read("timestamp.json"));
  ATRIUM_ASSIGN_OR_RETURN(tuf::Timestamp ts, tuf::ReadTimestamp(te));
  p.timestamp = ts.version;
  p.timestamp_common = ts;
  ATRIUM_ASSIGN_OR_RETURN(tuf::Envelope se,
                          read(std::to_string(ts.snapshot.version) + ".snapshot.json"));
  ATRIUM_ASSIGN_OR_RETURN(tuf::Snapshot sn, tuf::ReadSnapshot(se));
  p.snapshot = sn.version;
  p.snapshot_common = sn;
  const int64_t tv = sn.meta.at("targets.json").version;
  ATRIUM_ASSIGN_OR_RETURN(tuf::Envelope ge, read(std::to_string(tv) + ".targets.json"));
  ATRIUM_ASSIGN_OR_RETURN(tuf::Targets tg, tuf::ReadTargets(ge));
  p.targets = tg.version;
  p.targets_common = tg;
  if (const json::value* t = ge.signed_part.if_contains("targets"); t && t->is_object()) {
    p.targets_json = t->as_object();
  }
  if (const json::value* d = ge.signed_part.if_contains("delegations")) p.delegations_json = *d;
  for (const auto& [name, meta] : sn.meta) {
    if (name == "targets.json" || name.size() <= 5) continue;
    const std::string role = name.substr(0, name.size() - 5);
    const std::string file = std::to_string(meta.version) + "." + name;
    PublishedRole r;
    r.version = meta.version;
    ATRIUM_ASSIGN_OR_RETURN(r.bytes, internal::ReadSmallFile(Metadata(file), 64 << 20));
    ATRIUM_ASSIGN_OR_RETURN(tuf::Envelope de, tuf::ParseEnvelope(r.bytes, file, 64 << 20));
    if (const json::value* t = de.signed_part.if_contains("targets"); t && t->is_object()) {
      r.targets_json = t->as_object();
    }
    p.roles.emplace(role, std::move(r));
  }
  return p;
}

json::object ReleaseRepository::Impl::PublishedDoc(const PublishedState& published) {
  json::object doc;
  doc["targets"] = published.targets_json;
  json::object roles;
  for (const auto& [name, r] : published.roles) roles[name] = r.targets_json;
  doc["roles"] = std::move(roles);
  return doc;
}

Result<ReleasePublishResult> ReleaseRepository::Impl::PublishFrom(const PublishedState& published,
                                                                  const json::object& doc,
                                                                  bool force_targets) {
  ReleasePublishResult out;
  out.root = published.root;
  const int64_t now = Now();
  // Delegated roles first: the top-level role and the snapshot name them.
  ATRIUM_ASSIGN_OR_RETURN(json::object role_meta, PublishRoles(published, doc, now));
  ATRIUM_ASSIGN_OR_RETURN(json::value delegations, DelegationsJson());
  const json::object& staged_targets = doc.at("targets").as_object();
  out.targets_changed = force_targets || staged_targets != published.targets_json ||
                        delegations != published.delegations_json;
  int64_t targets_version = published.targets;
  std::string targets_bytes;
  if (out.targets_changed) {
    targets_version += 1;
    json::object s = CommonSigned("targets", targets_version,
                                  now + int64_t{86400} * options.targets_expires_days);
    s["targets"] = staged_targets;
    if (!delegations.is_null()) s["delegations"] = delegations;
    ATRIUM_ASSIGN_OR_RETURN(auto signers, SignersOf("targets"));
    ATRIUM_ASSIGN_OR_RETURN(
        targets_bytes, WriteSigned(std::to_string(targets_version) + ".targets.json", s, signers));
  } else {
    ATRIUM_ASSIGN_OR_RETURN(
        targets_bytes, internal::ReadSmallFile(
                           Metadata(std::to_string(targets_version) + ".targets.json"), 64 << 20));
  }
  out.targets = targets_version;
  const int64_t snapshot_version = published.snapshot + 1;
  json::object sn = CommonSigned("snapshot", snapshot_version,
                                 now + int64_t{86400} * options.snapshot_expires_days);
  json::object meta;
  meta["targets.json"] = MetaOf(targets_version, targets_bytes);
  for (const auto& kv : role_meta) meta[kv.key()] = kv.value();
  sn["meta"] = std::move(meta);
  ATRIUM_ASSIGN_OR_RETURN(auto snapshot_signers, SignersOf("snapshot"));
  ATRIUM_ASSIGN_OR_RETURN(
      std::string snapshot_bytes,
      WriteSigned(std::to_string(snapshot_version) + ".snapshot.json", sn, snapshot_signers));
  out.snapshot = snapshot_version;
  const int64_t timestamp_version = published.timestamp + 1;
  json::object ts = CommonSigned("timestamp", timestamp_version,
                                 now + int64_t{3600} * options.timestamp_expires_hours);
  json::object tmeta;
  tmeta["snapshot.json"] = MetaOf(snapshot_version, snapshot_bytes);
  ts["meta"] = std::move(tmeta);
  ATRIUM_ASSIGN_OR_RETURN(auto timestamp_signers, SignersOf("timestamp"));
  // The versioned copy first, then the file clients poll.
  ATRIUM_ASSIGN_OR_RETURN(
      std::string versioned,
      WriteSigned(std::to_string(timestamp_version) + ".timestamp.json", ts, timestamp_signers));
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(Metadata("timestamp.json"), versioned));
  out.timestamp = timestamp_version;
  return out;
}

ReleaseRepository::ReleaseRepository(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReleaseRepository::~ReleaseRepository() = default;
const std::string& ReleaseRepository::repo() const { return impl_->repo; }
const std::string& ReleaseRepository::keys_dir() const { return impl_->keys_dir; }

namespace {

std::string DefaultKeysDir(const std::string& repo) {
  fs::path p = fs::absolute(repo).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.string() + ".keys";
}

}  // namespace

Status ReleaseRepository::Init(const std::string& repo, const ReleaseInitOptions& init,
                               const ReleaseOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->repo = repo;
  impl->keys_dir = options.keys_dir.empty() ? DefaultKeysDir(repo) : options.keys_dir;
  impl->options = options;
  std::error_code ec;
  if (fs::exists(impl->Metadata("1.root.json"), ec)) {
    return RepoError(ErrorCode::kAlreadyExists, impl->Metadata("1.root.json"),
                     "the repository is already initialised");
  }
  if (fs::exists(impl->keys_dir + "/release.json", ec)) {
    return RepoError(ErrorCode::kAlreadyExists, impl->keys_dir + "/release.json",
                     "the keys directory already holds a repository's keys");
  }
  const std::pair<const char*, ReleaseRoleSetup> setups[] = {{"root", init.root},
                                                             {"targets", init.targets},
                                                             {"snapshot", init.snapshot},
                                                             {"timestamp", init.timestamp}};
  for (const auto& [role, setup] : setups) {
    if (setup.keys < 1 || setup.keys > 16 || setup.threshold < 1 || setup.threshold > setup.keys) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(role) + ": threshold " + std::to_string(setup.threshold) +
                           " of " + std::to_string(setup.keys) +
                           " keys (needs 1 <= threshold <= keys <= 16)");
    }
  }
  fs::create_directories(impl->keys_dir, ec);
  ::chmod(impl->keys_dir.c_str(), 0700);
  fs::create_directories(repo + "/metadata", ec);
  fs::create_directories(repo + "/targets", ec);
  if (ec) return RepoError(ErrorCode::kIo, repo, "cannot create: " + ec.message());
  ATRIUM_ASSIGN_OR_RETURN(std::string lock, OpenLock(impl->keys_dir, impl->lock_fd));
  (void)lock;
  json::object roles;
  for (const auto& [role, setup] : setups) {
    json::array names;
    for (int i = 1; i <= setup.keys; ++i) {
      const std::string name = std::string(role) + "-" + std::to_string(i);
      ATRIUM_RETURN_IF_ERROR(GenerateKey(impl->keys_dir, name));
      names.push_back(json::string(name));
    }
    json::object r;
    r["threshold"] = setup.threshold;
    r["keys"] = std::move(names);
    roles[role] = std::move(r);
  }
  impl->config["roles"] = std::move(roles);
  impl->config["next_key"] = 1;
  ATRIUM_RETURN_IF_ERROR(impl->SaveConfig());
  impl->staged["targets"] = json::object();
  impl->staged["roles"] = json::object();
  ATRIUM_RETURN_IF_ERROR(impl->SaveStaged());
  // Version 1 of every role; targets starts empty.
  ATRIUM_ASSIGN_OR_RETURN(json::object root, impl->RootSigned(1));
  ATRIUM_ASSIGN_OR_RETURN(auto root_signers, impl->SignersOf("root"));
  ATRIUM_ASSIGN_OR_RETURN(std::string root_bytes,
                          impl->WriteSigned("1.root.json", root, root_signers));
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(impl->Metadata("root.json"), root_bytes));
  PublishedState zero;
  zero.root = 1;
  auto published = impl->PublishFrom(zero, impl->staged, true);
  if (!published.ok()) return published.error();
  return Status::Ok();
}

Result<std::unique_ptr<ReleaseRepository>> ReleaseRepository::Open(const std::string& repo,
                                                                   const ReleaseOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->repo = repo;
  impl->keys_dir = options.keys_dir.empty() ? DefaultKeysDir(repo) : options.keys_dir;
  impl->options = options;
  std::error_code ec;
  if (!fs::exists(impl->Metadata("root.json"), ec)) {
    return RepoError(ErrorCode::kNotFound, impl->Metadata("root.json"),
                     "not a release repository (run `atrium release init` first)");
  }
  ATRIUM_ASSIGN_OR_RETURN(std::string lock, OpenLock(impl->keys_dir, impl->lock_fd));
  (void)lock;
  ATRIUM_ASSIGN_OR_RETURN(impl->config, ReadJsonObject(impl->keys_dir + "/release.json"));
  ATRIUM_ASSIGN_OR_RETURN(impl->staged, ReadJsonObject(impl->keys_dir + "/staged-targets.json"));
  if (!impl->config.contains("roles") || !impl->config.at("roles").is_object() ||
      !impl->staged.contains("targets") || !impl->staged.at("targets").is_object()) {
    return RepoError(ErrorCode::kCorrupt, impl->keys_dir,
                     "release.json or staged-targets.json is damaged");
  }
  return std::unique_ptr<ReleaseRepository>(new ReleaseRepository(std::move(impl)));
}

Result<ReleasePublishResult> ReleaseRepository::Publish() {
  ATRIUM_ASSIGN_OR_RETURN(PublishedState p, impl_->LoadPublished());
  return impl_->PublishFrom(p, impl_->staged, false);
}

Result<ReleasePublishResult> ReleaseRepository::Refresh() {
  ATRIUM_ASSIGN_OR_RETURN(PublishedState p, impl_->LoadPublished());
  // Staged changes are not published by a refresh: only new snapshot and
  // timestamp versions over what is published.
  return impl_->PublishFrom(p, Impl::PublishedDoc(p), false);
}

Result<ReleasePublishResult> ReleaseRepository::RotateKey(const std::string& role) {
  bool known = false;
  for (const char* r : kRoles) known = known || role == r;
  if (!known) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown role '" + role + "' (root, targets, snapshot, timestamp)");
  }
  ATRIUM_ASSIGN_OR_RETURN(PublishedState p, impl_->LoadPublished());
  ATRIUM_ASSIGN_OR_RETURN(auto old_root_signers, impl_->SignersOf("root"));
  json::object& entry = impl_->config["roles"].as_object()[role].as_object();
  const size_t count = entry.at("keys").as_array().size();
  int64_t next = impl_->config.contains("next_key") ? impl_->config.at("next_key").as_int64() : 1;
  json::array names;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = role + "-r" + std::to_string(++next);
    ATRIUM_RETURN_IF_ERROR(GenerateKey(impl_->keys_dir, name));
    names.push_back(json::string(name));
  }
  const json::array old_names = entry.at("keys").as_array();
  entry["keys"] = std::move(names);
  impl_->config["next_key"] = next;
  // The new root, signed by the old root keys and (for a root rotation) the new.
  ATRIUM_ASSIGN_OR_RETURN(json::object root, impl_->RootSigned(p.root + 1));
  std::vector<tuf::SigningKey> signers = old_root_signers;
  if (role == "root") {
    ATRIUM_ASSIGN_OR_RETURN(auto fresh, impl_->SignersOf("root"));
    signers.insert(signers.end(), fresh.begin(), fresh.end());
  }
  ATRIUM_ASSIGN_OR_RETURN(
      std::string bytes,
      impl_->WriteSigned(std::to_string(p.root + 1) + ".root.json", root, signers));
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(impl_->Metadata("root.json"), bytes));
  ATRIUM_RETURN_IF_ERROR(impl_->SaveConfig());
  // Old keys stay, renamed, for the record; they sign nothing new.
  for (const json::value& n : old_names) {
    const std::string base = impl_->keys_dir + "/" + std::string(n.as_string());
    std::rename((base + ".key").c_str(), (base + ".key.retired").c_str());
  }
  p.root += 1;
  ReleasePublishResult out;
  out.root = p.root;
  if (role == "root") {
    out.targets = p.targets;
    out.snapshot = p.snapshot;
    out.timestamp = p.timestamp;
    return out;
  }
  auto r = impl_->PublishFrom(p, Impl::PublishedDoc(p), role == "targets");
  if (r.ok()) r->root = p.root;
  return r;
}

Result<ReleaseStatus> ReleaseRepository::GetStatus() {
  ATRIUM_ASSIGN_OR_RETURN(PublishedState p, impl_->LoadPublished());
  ReleaseStatus st;
  auto role = [](const char* name, const tuf::Common& c) {
    return ReleaseRoleStatus{name, c.version, c.expires, c.expires_text};
  };
  st.roles.push_back(role("root", p.root_meta));
  st.roles.push_back(role("targets", p.targets_common));
  st.roles.push_back(role("snapshot", p.snapshot_common));
  st.roles.push_back(role("timestamp", p.timestamp_common));
  auto delegations = impl_->DelegationsJson();
  st.unpublished_changes = impl_->StagedTargets("targets") != p.targets_json ||
                           (delegations.ok() && *delegations != p.delegations_json);
  // (role, staged targets, published targets or nullptr)
  std::vector<std::tuple<std::string, json::object, const json::object*>> maps;
  maps.emplace_back("targets", impl_->StagedTargets("targets"), &p.targets_json);
  if (const json::value* roles = impl_->staged.if_contains("roles"); roles && roles->is_object()) {
    for (const auto& kv : roles->as_object()) {
      auto it = p.roles.find(std::string(kv.key()));
      const json::object* pub = it == p.roles.end() ? nullptr : &it->second.targets_json;
      if (pub == nullptr || *pub != kv.value()) st.unpublished_changes = true;
      maps.emplace_back(std::string(kv.key()), kv.value().as_object(), pub);
    }
  }
  for (const auto& [role_name, staged, pub] : maps)
    for (const auto& kv : staged) {
      ReleaseTargetStatus t;
      t.path = std::string(kv.key());
      t.role = role_name;
      const json::object& o = kv.value().as_object();
      t.length = static_cast<uint64_t>(o.at("length").to_number<int64_t>());
      t.published = pub != nullptr && pub->contains(kv.key()) && pub->at(kv.key()) == kv.value();
      const json::value* custom = o.if_contains("custom");
      const json::value* a =
          custom && custom->is_object() ? custom->as_object().if_contains("atrium") : nullptr;
      if (a != nullptr && a->is_object()) {
        const json::object& ao = a->as_object();
        auto str = [&](const char* k) {
          const json::value* v = ao.if_contains(k);
          return v && v->is_string() ? std::string(v->as_string()) : std::string();
        };
        t.kind = str("kind");
        t.id = str("id");
        t.version = str("version");
        t.channel = str("channel");
        t.app_id = str("app_id");
        if (const json::value* r = ao.if_contains("rollout"); r && r->is_object()) {
          if (const json::value* mp = r->as_object().if_contains("micro_percent");
              mp && mp->is_int64()) {
            t.rollout_micro_percent = mp->as_int64();
          }
        }
        if (const json::value* d = ao.if_contains("deltas"); d && d->is_array()) {
          for (const json::value& x : d->as_array()) {
            if (x.is_object() && x.as_object().contains("from")) {
              t.delta_from.emplace_back(x.as_object().at("from").as_string());
            }
          }
        }
        if (const json::value* w = ao.if_contains("withdrawn"); w && w->is_object()) {
          if (const json::value* r = w->as_object().if_contains("reason"); r && r->is_string()) {
            t.withdrawn_reason = std::string(r->as_string());
          }
        }
      }
      st.targets.push_back(std::move(t));
    }
  return st;
}

}  // namespace atrium
