// TufSim: a TUF repository the update tests build role by role and then
// tamper with — sign with the wrong keys, roll a version back, let a role
// expire, swap a target's bytes — so each attack of the threat model can be
// played against the real client over file:// or a real HTTP server. It
// writes plain files in the layout of an `atrium release` repository
// (metadata/, targets/, consistent snapshots by default).
#ifndef ATRIUM_TESTS_UPDATE_TUF_SIM_H_
#define ATRIUM_TESTS_UPDATE_TUF_SIM_H_

#include <sodium.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/signing.h"
#include "atrium/dynamic/tuf_client.h"

namespace atrium::testing {

namespace json = boost::json;

inline tuf::SigningKey NewSigningKey() {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  SecretKey sk{};
  if (sodium_init() < 0) std::abort();
  crypto_sign_keypair(pk, sk.data());
  return tuf::MakeSigningKey(sk);
}

struct SimDelegation {
  std::string name;
  std::vector<tuf::SigningKey> keys;
  int64_t threshold = 1;
  std::vector<std::string> paths;
  bool terminating = false;
};

class TufSim {
 public:
  explicit TufSim(std::string dir, int64_t start = 1'800'000'000)
      : now(start), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ + "/metadata");
    std::filesystem::create_directories(dir_ + "/targets");
    for (const char* role : {"root", "timestamp", "snapshot", "targets"}) {
      keys[role] = {NewSigningKey()};
      threshold[role] = 1;
      expires[role] = start + 30 * 86400;
      version[role] = 1;
    }
  }

  std::string dir() const { return dir_; }
  std::string metadata_url() const { return "file://" + dir_ + "/metadata"; }
  std::string target_url() const { return "file://" + dir_ + "/targets"; }
  std::string Path(const std::string& name) const { return dir_ + "/metadata/" + name; }

  // --- state the tests change before publishing ---
  int64_t now;
  bool consistent_snapshot = true;
  std::map<std::string, std::vector<tuf::SigningKey>> keys;
  std::map<std::string, int64_t> threshold;
  std::map<std::string, int64_t> expires;
  std::map<std::string, int64_t> version;  // next version each role publishes
  // Signers override: when set for a role, these sign instead of keys[role].
  std::map<std::string, std::vector<tuf::SigningKey>> signers;
  std::map<std::string, json::object> targets;  // per role ("targets" or delegated)
  std::map<std::string, std::vector<SimDelegation>> delegations;  // per delegating role
  bool snapshot_lists_hashes = true;
  std::set<std::string> omit_from_snapshot;  // "<role>.json" names
  json::object root_extra;                   // merged into root's signed part (custom fields)

  void AddTarget(const std::string& path, const std::string& bytes, json::object custom = {},
                 const std::string& role = "targets") {
    const std::string sha = tuf::Sha256Hex(bytes);
    json::object t;
    t["length"] = static_cast<int64_t>(bytes.size());
    json::object h;
    h["sha256"] = sha;
    t["hashes"] = std::move(h);
    if (!custom.empty()) t["custom"] = std::move(custom);
    targets[role][path] = std::move(t);
    const size_t slash = path.rfind('/');
    const std::string stored = consistent_snapshot
                                   ? path.substr(0, slash + 1) + sha + "." +
                                         path.substr(slash == std::string::npos ? 0 : slash + 1)
                                   : path;
    Write(dir_ + "/targets/" + stored, bytes);
  }

  json::object RootSigned() const {
    json::object s = Common("root", version.at("root"), expires.at("root"));
    s["consistent_snapshot"] = consistent_snapshot;
    json::object k, roles;
    for (const char* role : {"root", "timestamp", "snapshot", "targets"}) {
      json::array ids;
      for (const auto& key : keys.at(role)) {
        k[key.keyid] = tuf::KeyObject(PublicKeyOf(key.secret));
        ids.push_back(json::string(key.keyid));
      }
      json::object r;
      r["keyids"] = std::move(ids);
      r["threshold"] = threshold.at(role);
      roles[role] = std::move(r);
    }
    s["keys"] = std::move(k);
    s["roles"] = std::move(roles);
    for (const auto& kv : root_extra) s[kv.key()] = kv.value();
    return s;
  }

  // Writes N.root.json signed by `extra_signers` too (the previous root's
  // keys, for a rotation); returns its bytes.
  std::string PublishRoot(const std::vector<tuf::SigningKey>& extra_signers = {}) {
    std::vector<tuf::SigningKey> s = SignersOf("root");
    for (const auto& k : extra_signers) {
      bool dup = false;
      for (const auto& x : s) dup = dup || x.keyid == k.keyid;
      if (!dup) s.push_back(k);
    }
    const std::string bytes = Sign(RootSigned(), s);
    Write(Path(std::to_string(version["root"]) + ".root.json"), bytes);
    version["root"]++;
    return bytes;
  }

  std::string PublishTargets(const std::string& role = "targets") {
    json::object s =
        Common("targets", version[role], expires.count(role) ? expires[role] : now + 30 * 86400);
    s["targets"] = targets[role];
    if (delegations.count(role)) {
      json::object d, k;
      json::array roles;
      for (const SimDelegation& del : delegations[role]) {
        json::array ids;
        for (const auto& key : del.keys) {
          k[key.keyid] = tuf::KeyObject(PublicKeyOf(key.secret));
          ids.push_back(json::string(key.keyid));
        }
        json::object r;
        r["name"] = del.name;
        r["keyids"] = std::move(ids);
        r["threshold"] = del.threshold;
        r["terminating"] = del.terminating;
        json::array paths;
        for (const auto& p : del.paths) paths.push_back(json::string(p));
        r["paths"] = std::move(paths);
        roles.push_back(std::move(r));
      }
      d["keys"] = std::move(k);
      d["roles"] = std::move(roles);
      s["delegations"] = std::move(d);
    }
    const std::string bytes = Sign(s, SignersOf(role));
    const std::string name = RoleFile(role);
    Write(Path(consistent_snapshot ? std::to_string(version[role]) + "." + name : name), bytes);
    published_[role + ".json"] = {version[role], bytes};
    version[role]++;
    return bytes;
  }

  std::string PublishSnapshot() {
    json::object s = Common("snapshot", version["snapshot"], expires["snapshot"]);
    json::object meta;
    for (const auto& [name, vb] : published_) {
      if (!omit_from_snapshot.count(name)) meta[name] = Meta(vb.first, vb.second);
    }
    s["meta"] = std::move(meta);
    const std::string bytes = Sign(s, SignersOf("snapshot"));
    Write(Path(consistent_snapshot ? std::to_string(version["snapshot"]) + ".snapshot.json"
                                   : "snapshot.json"),
          bytes);
    snapshot_ = {version["snapshot"], bytes};
    version["snapshot"]++;
    return bytes;
  }

  std::string PublishTimestamp() {
    json::object s = Common("timestamp", version["timestamp"], expires["timestamp"]);
    json::object meta;
    meta["snapshot.json"] = Meta(snapshot_.first, snapshot_.second, true);
    s["meta"] = std::move(meta);
    const std::string bytes = Sign(s, SignersOf("timestamp"));
    Write(Path("timestamp.json"), bytes);
    version["timestamp"]++;
    return bytes;
  }

  // Targets (and every delegated role), snapshot, timestamp.
  void PublishAll() {
    for (const auto& [role, _] : delegations) {
      for (const SimDelegation& d : delegations[role]) {
        if (!keys.count(d.name)) keys[d.name] = d.keys;
        if (!version.count(d.name)) version[d.name] = 1;
      }
    }
    for (const auto& [role, v] : version) {
      if (role != "root" && role != "timestamp" && role != "snapshot") PublishTargets(role);
    }
    PublishSnapshot();
    PublishTimestamp();
  }

  void Write(const std::string& path, const std::string& bytes) const {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  // The client asks for N.<percent-encoded role>.json; over file:// that
  // decodes back to the role's own name, so the file is stored under it.
  static std::string RoleFile(const std::string& role) {
    return role == "targets" ? "targets.json" : role + ".json";
  }

  std::string Sign(const json::object& s, const std::vector<tuf::SigningKey>& by) const {
    return *tuf::SignMetadata(s, by);
  }

 private:
  std::vector<tuf::SigningKey> SignersOf(const std::string& role) const {
    auto it = signers.find(role);
    if (it != signers.end()) return it->second;
    return keys.at(role);
  }
  json::object Common(const char* type, int64_t v, int64_t exp) const {
    json::object o;
    o["_type"] = type;
    o["spec_version"] = "1.0.31";
    o["version"] = v;
    o["expires"] = tuf::FormatUtcTime(exp);
    return o;
  }
  json::object Meta(int64_t v, const std::string& bytes, bool always_hash = false) const {
    json::object m;
    m["version"] = v;
    if (snapshot_lists_hashes || always_hash) {
      m["length"] = static_cast<int64_t>(bytes.size());
      json::object h;
      h["sha256"] = tuf::Sha256Hex(bytes);
      m["hashes"] = std::move(h);
    }
    return m;
  }

  std::string dir_;
  std::map<std::string, std::pair<int64_t, std::string>> published_;
  std::pair<int64_t, std::string> snapshot_;
};

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_UPDATE_TUF_SIM_H_
