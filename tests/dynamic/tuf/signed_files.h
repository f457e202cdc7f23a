// Signed TUF files for the dynamic/tuf tests: ed25519 keys made by
// libsodium from fixed seeds (the same keys, ids and signatures on every
// run), the signed part of each role in its smallest valid form, and
// JSON-pointer edits to tamper with a part before (or without) signing it.
//
// Concurrency: helpers over values; no shared state.
#ifndef ATRIUM_TESTS_TUF_SIGNED_FILES_H_
#define ATRIUM_TESTS_TUF_SIGNED_FILES_H_

#include <sodium.h>

#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/tuf/signing.h"

namespace atrium::tuf::testing {

namespace json = boost::json;

// The fixed update start time; every role expires 30 days after it.
inline constexpr int64_t kNow = 1'800'000'000;
inline constexpr int64_t kExpires = kNow + 30 * 86400;

// The key libsodium derives from a seed of 32 bytes `seed`.
inline SigningKey NewKey(uint8_t seed) {
  if (sodium_init() < 0) std::abort();
  unsigned char seed_bytes[crypto_sign_SEEDBYTES];
  for (unsigned char& b : seed_bytes) b = seed;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  SecretKey sk{};
  crypto_sign_seed_keypair(pk, sk.data(), seed_bytes);
  return MakeSigningKey(sk);
}

struct RoleSigners {
  SigningKey root = NewKey(1);
  SigningKey timestamp = NewKey(2);
  SigningKey snapshot = NewKey(3);
  SigningKey targets = NewKey(4);
  SigningKey team = NewKey(5);  // the delegated role "team"
};

inline json::object CommonPart(const char* type, int64_t version = 1) {
  json::object o;
  o["_type"] = type;
  o["spec_version"] = "1.0.31";
  o["version"] = version;
  o["expires"] = FormatUtcTime(kExpires);
  return o;
}

inline json::object RoleKeysPart(const std::vector<SigningKey>& keys, int64_t threshold = 1) {
  json::object r;
  json::array ids;
  for (const SigningKey& k : keys) ids.push_back(json::string(k.keyid));
  r["keyids"] = std::move(ids);
  r["threshold"] = threshold;
  return r;
}

inline void AddKey(json::object& keys, const SigningKey& k) {
  keys[k.keyid] = KeyObject(PublicKeyOf(k.secret));
}

inline json::object RootPart(const RoleSigners& s, int64_t version = 1) {
  json::object o = CommonPart("root", version);
  o["consistent_snapshot"] = true;
  json::object keys, roles;
  const std::pair<const char*, const SigningKey*> by_role[] = {{"root", &s.root},
                                                               {"timestamp", &s.timestamp},
                                                               {"snapshot", &s.snapshot},
                                                               {"targets", &s.targets}};
  for (const auto& [role, key] : by_role) {
    AddKey(keys, *key);
    roles[role] = RoleKeysPart({*key});
  }
  o["keys"] = std::move(keys);
  o["roles"] = std::move(roles);
  return o;
}

// What a referring file says about `bytes`: version, length, sha256.
inline json::object MetaPart(int64_t version, std::string_view bytes) {
  json::object m;
  m["version"] = version;
  m["length"] = static_cast<int64_t>(bytes.size());
  json::object h;
  h["sha256"] = Sha256Hex(bytes);
  m["hashes"] = std::move(h);
  return m;
}

inline json::object TimestampPart(std::string_view snapshot_bytes, int64_t snapshot_version = 1) {
  json::object o = CommonPart("timestamp");
  json::object meta;
  meta["snapshot.json"] = MetaPart(snapshot_version, snapshot_bytes);
  o["meta"] = std::move(meta);
  return o;
}

// `files`: "<role>.json" -> (version, bytes).
inline json::object SnapshotPart(
    const std::map<std::string, std::pair<int64_t, std::string>>& files) {
  json::object o = CommonPart("snapshot");
  json::object meta;
  for (const auto& [name, vb] : files) meta[name] = MetaPart(vb.first, vb.second);
  o["meta"] = std::move(meta);
  return o;
}

inline json::object TargetFilePart(std::string_view bytes) {
  json::object t;
  t["length"] = static_cast<int64_t>(bytes.size());
  json::object h;
  h["sha256"] = Sha256Hex(bytes);
  t["hashes"] = std::move(h);
  return t;
}

// targets.json with one target and, when `team` is given, a delegation of
// "team/*" to the role "team" signed by that key.
inline json::object TargetsPart(const SigningKey* team = nullptr) {
  json::object o = CommonPart("targets");
  json::object targets;
  targets["app/main.lua"] = TargetFilePart("print('hi')\n");
  o["targets"] = std::move(targets);
  if (team != nullptr) {
    json::object d, keys;
    AddKey(keys, *team);
    json::object role = RoleKeysPart({*team});
    role["name"] = "team";
    role["terminating"] = true;
    role["paths"] = json::array{"team/*"};
    d["keys"] = std::move(keys);
    d["roles"] = json::array{std::move(role)};
    o["delegations"] = std::move(d);
  }
  return o;
}

inline std::string Sign(const json::object& signed_part, const std::vector<SigningKey>& by) {
  Result<std::string> bytes = SignMetadata(signed_part, by);
  if (!bytes.ok()) std::abort();
  return std::move(bytes).value();
}

// The envelope with no signatures: for parts SignMetadata refuses (floats).
inline std::string Unsigned(const json::value& signed_part) {
  json::object e;
  e["signatures"] = json::array();
  e["signed"] = signed_part;
  return json::serialize(e);
}

// RFC 6901: "~1" is '/', "~0" is '~'.
inline std::string UnescapeToken(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[++i] == '1' ? '/' : '~';
    } else {
      out += token[i];
    }
  }
  return out;
}

// The container holding `pointer`'s value and the value's last token.
inline std::pair<json::value*, std::string> ParentOf(json::value& doc, std::string_view pointer) {
  const size_t slash = pointer.rfind('/');
  json::error_code ec;
  json::value* parent = doc.find_pointer(pointer.substr(0, slash), ec);
  if (parent == nullptr) std::abort();
  return {parent, UnescapeToken(pointer.substr(slash + 1))};
}

// Sets (or adds) the member or element at `pointer`.
inline void SetAt(json::value& doc, std::string_view pointer, json::value v) {
  auto [parent, token] = ParentOf(doc, pointer);
  if (parent->is_object()) {
    parent->get_object()[token] = std::move(v);
  } else {
    parent->get_array().at(std::stoul(token)) = std::move(v);
  }
}

inline void EraseAt(json::value& doc, std::string_view pointer) {
  auto [parent, token] = ParentOf(doc, pointer);
  if (parent->is_object()) {
    parent->get_object().erase(token);
  } else {
    json::array& a = parent->get_array();
    a.erase(a.begin() + static_cast<std::ptrdiff_t>(std::stoul(token)));
  }
}

}  // namespace atrium::tuf::testing

#endif  // ATRIUM_TESTS_TUF_SIGNED_FILES_H_
