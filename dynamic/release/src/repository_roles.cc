// Delegated targets roles: created by Delegate, described in the top-level
// targets role's "delegations", published as N.<role>.json.
#include <filesystem>

#include "atrium/base/result_macros.h"
#include "repository_impl.h"

namespace atrium {
namespace json = boost::json;

namespace {

bool SafeRoleName(std::string_view s) {
  if (s.empty() || s.size() > 64 || s == "root" || s == "targets" || s == "snapshot" ||
      s == "timestamp" || s == "." || s == "..") {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

json::object& ReleaseRepository::Impl::StagedTargets(const std::string& role) {
  if (role == "targets") return staged["targets"].as_object();
  json::value& roles = staged["roles"];
  if (!roles.is_object()) roles = json::object();
  json::value& t = roles.as_object()[role];
  if (!t.is_object()) t = json::object();
  return t.as_object();
}

Result<json::value> ReleaseRepository::Impl::DelegationsJson() const {
  const json::value* list = config.if_contains("delegations");
  if (list == nullptr || !list->is_array() || list->as_array().empty()) return json::value();
  json::object keys;
  json::array roles;
  for (const json::value& d : list->as_array()) {
    const json::object& o = d.as_object();
    json::array ids;
    for (const json::value& name : o.at("keys").as_array()) {
      const std::string path = keys_dir + "/" + std::string(name.as_string()) + ".pub";
      ATRIUM_ASSIGN_OR_RETURN(PublicKey pk, ReadPublicKeyFile(path));
      const std::string id = tuf::TufKeyId(pk);
      keys[id] = tuf::KeyObject(pk);
      ids.push_back(json::string(id));
    }
    json::object role;
    role["name"] = o.at("name");
    role["keyids"] = std::move(ids);
    role["threshold"] = o.at("threshold");
    role["paths"] = o.at("paths");
    role["terminating"] = o.at("terminating");
    roles.push_back(std::move(role));
  }
  json::object out;
  out["keys"] = std::move(keys);
  out["roles"] = std::move(roles);
  return json::value(std::move(out));
}

Result<json::object> ReleaseRepository::Impl::PublishRoles(const PublishedState& published,
                                                           const json::object& doc, int64_t now) {
  json::object meta;
  const json::value* list = config.if_contains("delegations");
  if (list == nullptr || !list->is_array()) return meta;
  const json::value* roles = doc.if_contains("roles");
  for (const json::value& d : list->as_array()) {
    const std::string name(d.as_object().at("name").as_string());
    json::object targets;
    if (roles && roles->is_object()) {
      if (const json::value* t = roles->as_object().if_contains(name); t && t->is_object()) {
        targets = t->as_object();
      }
    }
    auto it = published.roles.find(name);
    if (it != published.roles.end() && it->second.targets_json == targets) {
      meta[name + ".json"] = MetaOf(it->second.version, it->second.bytes);
      continue;
    }
    const int64_t version = it == published.roles.end() ? 1 : it->second.version + 1;
    json::object s =
        CommonSigned("targets", version, now + int64_t{86400} * options.targets_expires_days);
    s["targets"] = std::move(targets);
    ATRIUM_ASSIGN_OR_RETURN(auto signers, SignersOf(name));
    ATRIUM_ASSIGN_OR_RETURN(
        std::string bytes, WriteSigned(std::to_string(version) + "." + name + ".json", s, signers));
    meta[name + ".json"] = MetaOf(version, bytes);
  }
  return meta;
}

Status ReleaseRepository::Delegate(const ReleaseDelegation& delegation) {
  Impl& d = *impl_;
  if (!SafeRoleName(delegation.name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "role name '" + delegation.name +
                         "': 1-64 of [a-z0-9._-], not root, targets, snapshot or timestamp");
  }
  if (delegation.paths.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "role " + delegation.name + ": at least one path pattern");
  }
  for (const std::string& p : delegation.paths) {
    if (p.empty() || p[0] == '/') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "role " + delegation.name + ": path pattern '" + p +
                           "' must be relative, like native_bundle/com.team.*");
    }
  }
  const ReleaseRoleSetup& k = delegation.keys;
  if (k.keys < 1 || k.keys > 16 || k.threshold < 1 || k.threshold > k.keys) {
    return MakeError(ErrorCode::kInvalidArgument,
                     delegation.name + ": threshold " + std::to_string(k.threshold) + " of " +
                         std::to_string(k.keys) + " keys (needs 1 <= threshold <= keys <= 16)");
  }
  json::value& list = d.config["delegations"];
  if (!list.is_array()) list = json::array();
  for (const json::value& existing : list.as_array()) {
    if (existing.as_object().at("name").as_string() == delegation.name) {
      return MakeError(ErrorCode::kAlreadyExists, "role " + delegation.name + " already exists");
    }
  }
  json::array names;
  for (int i = 1; i <= k.keys; ++i) {
    const std::string name = delegation.name + "-" + std::to_string(i);
    ATRIUM_RETURN_IF_ERROR(GenerateKey(d.keys_dir, name));
    names.push_back(json::string(name));
  }
  json::object role;
  role["name"] = delegation.name;
  role["threshold"] = k.threshold;
  role["keys"] = std::move(names);
  json::array paths;
  for (const std::string& p : delegation.paths) paths.push_back(json::string(p));
  role["paths"] = std::move(paths);
  role["terminating"] = delegation.terminating;
  list.as_array().push_back(std::move(role));
  // The keys of a delegated role are looked up like a top-level role's.
  d.config["roles"].as_object()[delegation.name] = json::object{
      {"threshold", k.threshold}, {"keys", list.as_array().back().as_object().at("keys")}};
  (void)d.StagedTargets(delegation.name);
  ATRIUM_RETURN_IF_ERROR(d.SaveConfig());
  return d.SaveStaged();
}

}  // namespace atrium
