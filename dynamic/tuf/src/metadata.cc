#include "atrium/dynamic/tuf/metadata.h"

#include <sodium.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <set>

#include "atrium/base/field_reader.h"
#include "atrium/base/file_util.h"
#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/dynamic/tuf/canonical_json.h"

namespace atrium::tuf {
namespace json = boost::json;
using internal::Child;
using internal::FieldReader;
using internal::Quote;

const char* RoleTypeName(RoleType type) {
  switch (type) {
    case RoleType::kRoot:
      return "root";
    case RoleType::kTimestamp:
      return "timestamp";
    case RoleType::kSnapshot:
      return "snapshot";
    case RoleType::kTargets:
      return "targets";
  }
  return "unknown";
}

namespace {

void EnsureSodium() {
  static const bool ready = sodium_init() >= 0;
  ATRIUM_CHECK(ready, "libsodium failed to initialise");
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return !s.empty();
}

// An integer in [lo, kMaxMetadataNumber].
Result<int64_t> ReadNumber(const FieldReader& r, const json::object& o, const std::string& at,
                           std::string_view key, int64_t lo) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return r.Invalid(Child(at, key), "missing required field " + Quote(key));
  const std::string p = Child(at, key);
  if (v->is_uint64() || (v->is_int64() && v->get_int64() > kMaxMetadataNumber)) {
    return r.Invalid(p, "number too large (the limit is 2^53 - 1)");
  }
  if (!v->is_int64()) return r.WrongType(p, "an integer", *v);
  if (v->get_int64() < lo) {
    return r.Invalid(p,
                     "value " + std::to_string(v->get_int64()) + " is below " + std::to_string(lo));
  }
  return v->get_int64();
}

Result<std::map<std::string, std::string>> ReadHashes(const FieldReader& r, const json::object& o,
                                                      const std::string& at, bool required) {
  std::map<std::string, std::string> hashes;
  const json::value* v = o.if_contains("hashes");
  if (v == nullptr) {
    if (required) return r.Invalid(Child(at, "hashes"), "missing required field 'hashes'");
    return hashes;
  }
  const std::string p = Child(at, "hashes");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* h, r.AsObject(*v, p));
  if (h->empty()) return r.Invalid(p, "no hash");
  for (const auto& kv : *h) {
    ATRIUM_ASSIGN_OR_RETURN(std::string hex, r.AsString(kv.value(), Child(p, kv.key())));
    if (!IsHex(hex)) return r.Invalid(Child(p, kv.key()), "not a hex digest");
    const size_t want = kv.key() == "sha256" ? 64 : kv.key() == "sha512" ? 128 : hex.size();
    if (hex.size() != want) {
      return r.Invalid(Child(p, kv.key()), std::string(kv.key()) + " digest of " +
                                               std::to_string(hex.size()) +
                                               " hex digits, expected " + std::to_string(want));
    }
    hashes.emplace(std::string(kv.key()), std::move(hex));
  }
  return hashes;
}

Result<MetaFile> ReadMetaFile(const FieldReader& r, const json::value& v, const std::string& at) {
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, at));
  MetaFile m;
  ATRIUM_ASSIGN_OR_RETURN(m.version, ReadNumber(r, *o, at, "version", 1));
  if (o->contains("length")) {
    ATRIUM_ASSIGN_OR_RETURN(int64_t length, ReadNumber(r, *o, at, "length", 0));
    m.length = length;
  }
  ATRIUM_ASSIGN_OR_RETURN(m.hashes, ReadHashes(r, *o, at, false));
  return m;
}

Result<Key> ReadKey(const FieldReader& r, const json::value& v, const std::string& at,
                    std::string_view keyid) {
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, at));
  Key key;
  ATRIUM_ASSIGN_OR_RETURN(key.keytype, r.RequiredString(*o, at, "keytype"));
  ATRIUM_ASSIGN_OR_RETURN(key.scheme, r.RequiredString(*o, at, "scheme"));
  const json::value* keyval = o->if_contains("keyval");
  if (keyval == nullptr) return r.Invalid(Child(at, "keyval"), "missing required field 'keyval'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* kv, r.AsObject(*keyval, Child(at, "keyval")));
  ATRIUM_ASSIGN_OR_RETURN(key.public_hex, r.RequiredString(*kv, Child(at, "keyval"), "public"));
  // The key id is the SHA-256 of the key's canonical form (every member of
  // it, unknown ones included), so a file cannot name a key by another's id.
  ATRIUM_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(v));
  if (Sha256Hex(canonical) != keyid) {
    return r.Invalid(at, "key id " + Quote(keyid) +
                             " is not the SHA-256 of the key's canonical JSON (" +
                             Sha256Hex(canonical) + ")");
  }
  if (key.keytype == "ed25519" && key.scheme == "ed25519" && key.public_hex.size() == 64) {
    PublicKey pk{};
    if (internal::DecodeHex(key.public_hex, pk.data(), pk.size())) key.ed25519 = pk;
  }
  return key;
}

Result<std::map<std::string, Key>> ReadKeys(const FieldReader& r, const json::object& o,
                                            const std::string& at) {
  std::map<std::string, Key> keys;
  const json::value* v = o.if_contains("keys");
  if (v == nullptr) return r.Invalid(Child(at, "keys"), "missing required field 'keys'");
  const std::string p = Child(at, "keys");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* ko, r.AsObject(*v, p));
  for (const auto& kv : *ko) {
    std::string id(kv.key());
    ATRIUM_ASSIGN_OR_RETURN(Key key, ReadKey(r, kv.value(), Child(p, id), id));
    keys.emplace(std::move(id), std::move(key));
  }
  return keys;
}

Result<RoleKeys> ReadRoleKeys(const FieldReader& r, const json::object& o, const std::string& at) {
  RoleKeys role;
  ATRIUM_ASSIGN_OR_RETURN(const json::array* ids, r.RequiredArray(o, at, "keyids"));
  std::set<std::string> seen;
  for (size_t i = 0; i < ids->size(); ++i) {
    ATRIUM_ASSIGN_OR_RETURN(std::string id, r.AsString((*ids)[i], Child(Child(at, "keyids"), i)));
    if (!seen.insert(id).second) {
      return r.Invalid(Child(Child(at, "keyids"), i), "key id " + Quote(id) + " listed twice");
    }
    role.keyids.push_back(std::move(id));
  }
  ATRIUM_ASSIGN_OR_RETURN(role.threshold, ReadNumber(r, o, at, "threshold", 1));
  return role;
}

Status ReadCommon(const FieldReader& r, const json::object& s, RoleType expected, Common& c) {
  ATRIUM_ASSIGN_OR_RETURN(std::string type, r.RequiredString(s, "/signed", "_type"));
  if (type != RoleTypeName(expected)) {
    return r.Invalid("/signed/_type",
                     "expected " + Quote(RoleTypeName(expected)) + ", got " + Quote(type));
  }
  c.type = expected;
  ATRIUM_ASSIGN_OR_RETURN(c.spec_version, r.RequiredString(s, "/signed", "spec_version"));
  // "1.N" or "1.N.M", digits only (major version 1).
  bool numeric = c.spec_version.size() >= 3 && c.spec_version.substr(0, 2) == "1.";
  size_t dots = 0;
  for (size_t i = 2; numeric && i < c.spec_version.size(); ++i) {
    const char ch = c.spec_version[i];
    if (ch == '.') {
      numeric = ++dots <= 1 && c.spec_version[i - 1] != '.' && i + 1 < c.spec_version.size();
    } else {
      numeric = ch >= '0' && ch <= '9';
    }
  }
  if (!numeric) {
    return r.Invalid("/signed/spec_version", "unsupported specification version " +
                                                 Quote(c.spec_version) + " (major version 1)");
  }
  ATRIUM_ASSIGN_OR_RETURN(c.version, ReadNumber(r, s, "/signed", "version", 1));
  ATRIUM_ASSIGN_OR_RETURN(c.expires_text, r.RequiredString(s, "/signed", "expires"));
  std::optional<int64_t> t = ParseUtcTime(c.expires_text);
  if (!t) {
    return r.Invalid("/signed/expires",
                     "not a UTC time YYYY-MM-DDTHH:MM:SSZ: " + Quote(c.expires_text));
  }
  c.expires = *t;
  return Status::Ok();
}

}  // namespace

Result<Envelope> ParseEnvelope(std::string_view bytes, std::string_view file, size_t max_bytes) {
  internal::StrictJsonLimits limits;
  limits.max_bytes = max_bytes;
  limits.noun = "metadata file";
  ATRIUM_ASSIGN_OR_RETURN(json::value doc, internal::ParseStrictJson(bytes, file, limits));
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* top, r.AsObject(doc, ""));
  Envelope e;
  e.file = std::string(file);
  const json::value* s = top->if_contains("signed");
  if (s == nullptr) return r.Invalid("/signed", "missing required field 'signed'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* so, r.AsObject(*s, "/signed"));
  e.signed_part = *so;
  Result<std::string> canonical = CanonicalJson(*s);
  if (!canonical.ok()) {
    return r.Invalid("/signed" + canonical.error().pointer, canonical.error().message);
  }
  e.canonical_signed = std::move(canonical).value();
  ATRIUM_ASSIGN_OR_RETURN(const json::array* sigs, r.RequiredArray(*top, "", "signatures"));
  std::set<std::string> seen;
  for (size_t i = 0; i < sigs->size(); ++i) {
    const std::string at = Child("/signatures", i);
    ATRIUM_ASSIGN_OR_RETURN(const json::object* so2, r.AsObject((*sigs)[i], at));
    Signature sig;
    ATRIUM_ASSIGN_OR_RETURN(sig.keyid, r.RequiredString(*so2, at, "keyid"));
    ATRIUM_ASSIGN_OR_RETURN(sig.sig, r.RequiredString(*so2, at, "sig"));
    if (!seen.insert(sig.keyid).second) {
      return r.Invalid(Child(at, "keyid"), "a second signature by key " + Quote(sig.keyid));
    }
    e.signatures.push_back(std::move(sig));
  }
  return e;
}

Result<Root> ReadRoot(const Envelope& e) {
  FieldReader r(e.file);
  Root root;
  ATRIUM_RETURN_IF_ERROR(ReadCommon(r, e.signed_part, RoleType::kRoot, root));
  ATRIUM_ASSIGN_OR_RETURN(root.consistent_snapshot,
                          r.OptionalBool(e.signed_part, "/signed", "consistent_snapshot", false));
  ATRIUM_ASSIGN_OR_RETURN(root.keys, ReadKeys(r, e.signed_part, "/signed"));
  const json::value* roles = e.signed_part.if_contains("roles");
  if (roles == nullptr) return r.Invalid("/signed/roles", "missing required field 'roles'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* ro, r.AsObject(*roles, "/signed/roles"));
  for (const auto& kv : *ro) {
    const std::string at = Child("/signed/roles", kv.key());
    ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(kv.value(), at));
    ATRIUM_ASSIGN_OR_RETURN(RoleKeys role, ReadRoleKeys(r, *o, at));
    root.roles.emplace(std::string(kv.key()), std::move(role));
  }
  for (const char* name : {"root", "timestamp", "snapshot", "targets"}) {
    if (!root.roles.count(name)) {
      return r.Invalid("/signed/roles", std::string("missing required role '") + name + "'");
    }
  }
  return root;
}

Result<Timestamp> ReadTimestamp(const Envelope& e) {
  FieldReader r(e.file);
  Timestamp ts;
  ATRIUM_RETURN_IF_ERROR(ReadCommon(r, e.signed_part, RoleType::kTimestamp, ts));
  const json::value* meta = e.signed_part.if_contains("meta");
  if (meta == nullptr) return r.Invalid("/signed/meta", "missing required field 'meta'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* mo, r.AsObject(*meta, "/signed/meta"));
  const json::value* snap = mo->if_contains("snapshot.json");
  if (snap == nullptr || mo->size() != 1) {
    return r.Invalid("/signed/meta", "must describe exactly 'snapshot.json'");
  }
  ATRIUM_ASSIGN_OR_RETURN(ts.snapshot, ReadMetaFile(r, *snap, "/signed/meta/snapshot.json"));
  return ts;
}

Result<Snapshot> ReadSnapshot(const Envelope& e) {
  FieldReader r(e.file);
  Snapshot sn;
  ATRIUM_RETURN_IF_ERROR(ReadCommon(r, e.signed_part, RoleType::kSnapshot, sn));
  const json::value* meta = e.signed_part.if_contains("meta");
  if (meta == nullptr) return r.Invalid("/signed/meta", "missing required field 'meta'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* mo, r.AsObject(*meta, "/signed/meta"));
  for (const auto& kv : *mo) {
    ATRIUM_ASSIGN_OR_RETURN(MetaFile m,
                            ReadMetaFile(r, kv.value(), Child("/signed/meta", kv.key())));
    sn.meta.emplace(std::string(kv.key()), std::move(m));
  }
  if (!sn.meta.count("targets.json")) {
    return r.Invalid("/signed/meta", "does not describe 'targets.json'");
  }
  return sn;
}

Result<Targets> ReadTargets(const Envelope& e) {
  FieldReader r(e.file);
  Targets t;
  ATRIUM_RETURN_IF_ERROR(ReadCommon(r, e.signed_part, RoleType::kTargets, t));
  const json::value* targets = e.signed_part.if_contains("targets");
  if (targets == nullptr) return r.Invalid("/signed/targets", "missing required field 'targets'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* to, r.AsObject(*targets, "/signed/targets"));
  for (const auto& kv : *to) {
    const std::string at = Child("/signed/targets", kv.key());
    ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(kv.value(), at));
    TargetFile f;
    f.path = std::string(kv.key());
    ATRIUM_ASSIGN_OR_RETURN(f.length, ReadNumber(r, *o, at, "length", 0));
    ATRIUM_ASSIGN_OR_RETURN(f.hashes, ReadHashes(r, *o, at, true));
    ATRIUM_ASSIGN_OR_RETURN(const json::object* custom, r.OptionalObject(*o, at, "custom"));
    if (custom != nullptr) f.custom = *custom;
    t.targets.emplace(f.path, std::move(f));
  }
  ATRIUM_ASSIGN_OR_RETURN(const json::object* del,
                          r.OptionalObject(e.signed_part, "/signed", "delegations"));
  if (del != nullptr) {
    Delegations d;
    const std::string at = "/signed/delegations";
    ATRIUM_ASSIGN_OR_RETURN(d.keys, ReadKeys(r, *del, at));
    ATRIUM_ASSIGN_OR_RETURN(const json::array* roles, r.RequiredArray(*del, at, "roles"));
    std::set<std::string> names;
    for (size_t i = 0; i < roles->size(); ++i) {
      const std::string rp = Child(Child(at, "roles"), i);
      ATRIUM_ASSIGN_OR_RETURN(const json::object* ro, r.AsObject((*roles)[i], rp));
      DelegatedRole role;
      ATRIUM_ASSIGN_OR_RETURN(role.name, r.RequiredString(*ro, rp, "name"));
      if (role.name.empty()) return r.Invalid(Child(rp, "name"), "role name is empty");
      if (role.name == "root" || role.name == "timestamp" || role.name == "snapshot" ||
          role.name == "targets") {
        return r.Invalid(Child(rp, "name"),
                         "role name " + Quote(role.name) + " is the name of a top-level role");
      }
      if (!names.insert(role.name).second) {
        return r.Invalid(Child(rp, "name"), "role name " + Quote(role.name) + " listed twice");
      }
      ATRIUM_ASSIGN_OR_RETURN(role.keys, ReadRoleKeys(r, *ro, rp));
      ATRIUM_ASSIGN_OR_RETURN(role.terminating, r.OptionalBool(*ro, rp, "terminating", false));
      ATRIUM_ASSIGN_OR_RETURN(const json::array* paths, r.OptionalArray(*ro, rp, "paths"));
      ATRIUM_ASSIGN_OR_RETURN(const json::array* prefixes,
                              r.OptionalArray(*ro, rp, "path_hash_prefixes"));
      if ((paths == nullptr) == (prefixes == nullptr)) {
        return r.Invalid(rp, "needs exactly one of 'paths' and 'path_hash_prefixes'");
      }
      const json::array* list = paths ? paths : prefixes;
      const std::string lp = Child(rp, paths ? "paths" : "path_hash_prefixes");
      for (size_t j = 0; j < list->size(); ++j) {
        ATRIUM_ASSIGN_OR_RETURN(std::string s, r.AsString((*list)[j], Child(lp, j)));
        if (prefixes != nullptr && (s.empty() || !IsHex(s))) {
          return r.Invalid(Child(lp, j), "a hash prefix is 1 or more hex digits, got " + Quote(s));
        }
        if (prefixes != nullptr) {
          for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        (paths ? role.paths : role.path_hash_prefixes).push_back(std::move(s));
      }
      d.roles.push_back(std::move(role));
    }
    t.delegations = std::move(d);
  }
  return t;
}

Status VerifyThreshold(const Envelope& e, std::string_view role_name, const RoleKeys& role,
                       const std::map<std::string, Key>& keys) {
  EnsureSodium();
  // Distinct public keys, not key ids: two key objects that differ only in
  // an unknown member have two ids but are one key, and count once.
  std::set<PublicKey> valid;
  for (const Signature& sig : e.signatures) {
    bool listed = false;
    for (const std::string& id : role.keyids) listed = listed || id == sig.keyid;
    if (!listed) continue;
    auto it = keys.find(sig.keyid);
    if (it == keys.end() || !it->second.ed25519) continue;
    unsigned char raw[crypto_sign_BYTES];
    if (sig.sig.size() != 2 * sizeof raw || !internal::DecodeHex(sig.sig, raw, sizeof raw)) {
      continue;
    }
    if (crypto_sign_verify_detached(
            raw, reinterpret_cast<const unsigned char*>(e.canonical_signed.data()),
            e.canonical_signed.size(), it->second.ed25519->data()) == 0) {
      valid.insert(*it->second.ed25519);
    }
  }
  if (static_cast<int64_t>(valid.size()) >= role.threshold) return Status::Ok();
  Error err = MakeError(ErrorCode::kValidation,
                        std::string(role_name) + " role: " + std::to_string(e.signatures.size()) +
                            (e.signatures.size() == 1 ? " signature" : " signatures") +
                            ", threshold " + std::to_string(role.threshold) + ", " +
                            std::to_string(valid.size()) + " valid");
  err.file = e.file;
  return err;
}

std::optional<int64_t> ParseUtcTime(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SSZ, exactly.
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t[19] != 'Z') {
    return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) -> int {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  int year = num(0, 4), mon = num(5, 2), day = num(8, 2), h = num(11, 2), m = num(14, 2),
      s = num(17, 2);
  if (year < 1970 || mon < 1 || mon > 12 || day < 1 || h < 0 || h > 23 || m < 0 || m > 59 ||
      s < 0 || s > 60) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[mon - 1] + (mon == 2 && leap ? 1 : 0)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatUtcTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return internal::HexOf(d, sizeof d);
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return internal::ErrnoError(path, "cannot open", errno);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  unsigned char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return internal::ErrnoError(path, "cannot read", EIO);
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, d);
  return internal::HexOf(d, sizeof d);
}

bool MatchPathPattern(std::string_view pattern, std::string_view path) {
  // Segment by segment: the same number of '/'-separated segments, each
  // matched with '*' (any run of characters) and '?' (one character).
  auto match_segment = [](std::string_view p, std::string_view s) {
    size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
    while (si < s.size()) {
      if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
        ++pi;
        ++si;
      } else if (pi < p.size() && p[pi] == '*') {
        star = pi++;
        mark = si;
      } else if (star != std::string_view::npos) {
        pi = star + 1;
        si = ++mark;
      } else {
        return false;
      }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
  };
  while (true) {
    size_t ps = pattern.find('/'), ss = path.find('/');
    if ((ps == std::string_view::npos) != (ss == std::string_view::npos)) return false;
    if (!match_segment(pattern.substr(0, ps), path.substr(0, ss))) return false;
    if (ps == std::string_view::npos) return true;
    pattern.remove_prefix(ps + 1);
    path.remove_prefix(ss + 1);
  }
}

bool IsDelegatedPath(const DelegatedRole& role, std::string_view path) {
  for (const std::string& p : role.paths) {
    if (MatchPathPattern(p, path)) return true;
  }
  if (!role.path_hash_prefixes.empty()) {
    const std::string h = Sha256Hex(path);
    for (const std::string& prefix : role.path_hash_prefixes) {
      if (h.compare(0, prefix.size(), prefix) == 0) return true;
    }
  }
  return false;
}

namespace {

// SHA-256 and SHA-512 over a stream of chunks.
class Hashers {
 public:
  Status Init(const std::map<std::string, std::string>& hashes, std::string_view what) {
    for (const auto& [algo, _] : hashes) {
      if (algo == "sha256") {
        sha256_ = true;
      } else if (algo == "sha512") {
        sha512_ = true;
      } else {
        return MakeError(ErrorCode::kValidation,
                         std::string(what) + ": unknown hash algorithm " + Quote(algo));
      }
    }
    crypto_hash_sha256_init(&s256_);
    crypto_hash_sha512_init(&s512_);
    return Status::Ok();
  }
  void Update(std::string_view chunk) {
    auto* p = reinterpret_cast<const unsigned char*>(chunk.data());
    if (sha256_) crypto_hash_sha256_update(&s256_, p, chunk.size());
    if (sha512_) crypto_hash_sha512_update(&s512_, p, chunk.size());
  }
  Status Check(const std::map<std::string, std::string>& hashes, std::string_view what) {
    for (const auto& [algo, expected] : hashes) {
      std::string got;
      if (algo == "sha256") {
        unsigned char d[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_final(&s256_, d);
        got = internal::HexOf(d, sizeof d);
      } else {
        unsigned char d[crypto_hash_sha512_BYTES];
        crypto_hash_sha512_final(&s512_, d);
        got = internal::HexOf(d, sizeof d);
      }
      std::string want = expected;
      for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (got != want) {
        return MakeError(ErrorCode::kCorrupt, std::string(what) + ": " + algo +
                                                  " mismatch (expected " + want.substr(0, 16) +
                                                  "…, got " + got.substr(0, 16) + "…)");
      }
    }
    return Status::Ok();
  }

 private:
  bool sha256_ = false, sha512_ = false;
  crypto_hash_sha256_state s256_{};
  crypto_hash_sha512_state s512_{};
};

Status LengthError(std::string_view what, int64_t expected, uint64_t got) {
  return MakeError(ErrorCode::kCorrupt, std::string(what) + ": length " + std::to_string(got) +
                                            ", expected " + std::to_string(expected));
}

}  // namespace

Status CheckLengthAndHashes(std::string_view bytes, std::string_view what,
                            std::optional<int64_t> length,
                            const std::map<std::string, std::string>& hashes) {
  if (length && static_cast<uint64_t>(*length) != bytes.size()) {
    return LengthError(what, *length, bytes.size());
  }
  Hashers h;
  ATRIUM_RETURN_IF_ERROR(h.Init(hashes, what));
  h.Update(bytes);
  return h.Check(hashes, what);
}

Status CheckFileLengthAndHashes(const std::string& path, std::string_view what,
                                std::optional<int64_t> length,
                                const std::map<std::string, std::string>& hashes) {
  Hashers h;
  ATRIUM_RETURN_IF_ERROR(h.Init(hashes, what));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return MakeError(ErrorCode::kIo, std::string(what) + ": cannot open " + path);
  uint64_t total = 0;
  char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    h.Update(std::string_view(buf, n));
    total += n;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return MakeError(ErrorCode::kIo, std::string(what) + ": cannot read " + path);
  if (length && static_cast<uint64_t>(*length) != total) return LengthError(what, *length, total);
  return h.Check(hashes, what);
}

}  // namespace atrium::tuf
