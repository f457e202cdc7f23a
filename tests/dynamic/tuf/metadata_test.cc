// Tests for reading TUF metadata (atrium/dynamic/tuf/metadata.h:
// ParseEnvelope, ReadRoot, ReadTimestamp, ReadSnapshot, ReadTargets) on bad
// input of every file kind: broken and truncated JSON, duplicate members,
// wrong types, missing fields, bad versions, times and key ids, and the
// rules of each role. Files are signed with SignMetadata and then tampered
// with as text or JSON; every refusal is pinned by its code, file, JSON
// pointer and message.
//
// Concurrency: single-threaded.
#include "atrium/dynamic/tuf/metadata.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "atrium/dynamic/tuf/canonical_json.h"
#include "signed_files.h"

namespace atrium::tuf {
namespace {

namespace json = boost::json;
using namespace testing;  // NOLINT: the signed-file helpers

enum class Kind { kRoot, kTimestamp, kSnapshot, kTargets };
constexpr Kind kKinds[] = {Kind::kRoot, Kind::kTimestamp, Kind::kSnapshot, Kind::kTargets};

std::string FileOf(Kind kind) {
  return std::string(RoleTypeName(static_cast<RoleType>(kind))) + ".json";
}

const std::string kFloat =
    "a floating-point number or an integer beyond 64 bits (canonical JSON allows only 64-bit "
    "integers)";
constexpr int64_t kTwoTo53 = int64_t{1} << 53;

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? Status::Ok() : Status(r.error());
}

// Parses `bytes` as the file of `kind` and reads that role.
Status Read(Kind kind, std::string_view bytes) {
  Result<Envelope> e = ParseEnvelope(bytes, FileOf(kind), 1 << 20);
  if (!e.ok()) return e.error();
  switch (kind) {
    case Kind::kRoot:
      return StatusOf(ReadRoot(*e));
    case Kind::kTimestamp:
      return StatusOf(ReadTimestamp(*e));
    case Kind::kSnapshot:
      return StatusOf(ReadSnapshot(*e));
    case Kind::kTargets:
      return StatusOf(ReadTargets(*e));
  }
  return Status::Ok();
}

void ExpectRefused(Kind kind, std::string_view bytes, const std::string& pointer,
                   const std::string& message, ErrorCode code = ErrorCode::kValidation) {
  Status s = Read(kind, bytes);
  ASSERT_FALSE(s.ok()) << "accepted: " << bytes;
  EXPECT_EQ(s.error().code, code) << s.error().ToString();
  EXPECT_EQ(s.error().file, FileOf(kind));
  EXPECT_EQ(s.error().pointer, pointer);
  EXPECT_EQ(s.error().message, message);
}

// One change to a valid file: `value` set at `pointer` (erased when
// nullopt); the refusal names `at` (`pointer` when empty) with `message`
// ("" when the file must still be accepted).
struct Edit {
  Edit(std::string pointer, std::optional<json::value> value, std::string message,
       std::string at = "")
      : pointer(std::move(pointer)),
        value(std::move(value)),
        message(std::move(message)),
        at(std::move(at)) {}
  std::string pointer;
  std::optional<json::value> value;
  std::string message;
  std::string at;
};

class MetadataTest : public ::testing::Test {
 protected:
  json::object& Part(Kind kind) {
    switch (kind) {
      case Kind::kRoot:
        return root_;
      case Kind::kTimestamp:
        return timestamp_;
      case Kind::kSnapshot:
        return snapshot_;
      case Kind::kTargets:
        break;
    }
    return targets_;
  }
  const SigningKey& Signer(Kind kind) const {
    const SigningKey* k[] = {&keys_.root, &keys_.timestamp, &keys_.snapshot, &keys_.targets};
    return *k[static_cast<int>(kind)];
  }
  std::string File(Kind kind) { return Sign(Part(kind), {Signer(kind)}); }
  // The signed file with `edit` made to it afterwards (its signature no
  // longer matches, which reading does not check).
  std::string Tampered(Kind kind, const Edit& edit) {
    json::value doc = json::parse(File(kind));
    if (edit.value) {
      SetAt(doc, edit.pointer, *edit.value);
    } else {
      EraseAt(doc, edit.pointer);
    }
    return json::serialize(doc);
  }
  // `from` replaced by `to` in the signed file's text (first occurrence).
  std::string Replaced(Kind kind, std::string_view from, std::string_view to) {
    std::string text = File(kind);
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }
  void Check(Kind kind, const std::vector<Edit>& edits) {
    for (const Edit& edit : edits) {
      SCOPED_TRACE(FileOf(kind) + " " + edit.pointer +
                   (edit.value ? " = " + json::serialize(*edit.value) : " erased"));
      const std::string bytes = Tampered(kind, edit);
      if (edit.message.empty()) {
        Status s = Read(kind, bytes);
        EXPECT_TRUE(s.ok()) << s.error().ToString();
      } else {
        ExpectRefused(kind, bytes, edit.at.empty() ? edit.pointer : edit.at, edit.message);
      }
    }
  }
  std::string RootKey() const { return "/signed/keys/" + keys_.root.keyid; }

  RoleSigners keys_;
  json::object root_ = RootPart(keys_);
  json::object timestamp_ = TimestampPart("snapshot bytes");
  json::object snapshot_ =
      SnapshotPart({{"targets.json", {1, "targets bytes"}}, {"team.json", {1, "team bytes"}}});
  json::object targets_ = TargetsPart(&keys_.team);
};

TEST_F(MetadataTest, ValidFilesOfEveryKindAreRead) {
  for (Kind kind : kKinds) {
    Status s = Read(kind, File(kind));
    EXPECT_TRUE(s.ok()) << s.error().ToString();
  }
  Result<Envelope> e = ParseEnvelope(File(Kind::kTargets), "targets.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->canonical_signed, *CanonicalJson(json::value(targets_)));
  ASSERT_EQ(e->signatures.size(), 1u);
  EXPECT_EQ(e->signatures[0].keyid, keys_.targets.keyid);
  Result<Targets> t = ReadTargets(*e);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->delegations.has_value());
  ASSERT_EQ(t->delegations->roles.size(), 1u);
  EXPECT_EQ(t->delegations->roles[0].name, "team");
  EXPECT_EQ(t->delegations->roles[0].paths, std::vector<std::string>{"team/*"});
  EXPECT_TRUE(t->delegations->roles[0].terminating);
  EXPECT_EQ(t->targets.at("app/main.lua").length, 12);
}

TEST_F(MetadataTest, MalformedJsonIsAParseErrorWithItsOffset) {
  for (Kind kind : kKinds) {
    SCOPED_TRACE(FileOf(kind));
    const std::string file = File(kind);
    Result<Envelope> e = ParseEnvelope(file + "x", FileOf(kind), 1 << 20);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kParse);
    EXPECT_EQ(e.error().file, FileOf(kind));
    EXPECT_EQ(e.error().offset, file.size());
    EXPECT_EQ(e.error().message,
              "invalid JSON at line 2, column 1: unexpected 'x' after the JSON document");
    // "signed" followed by ';' instead of ':'.
    const std::string broken = Replaced(kind, "\"signed\":", "\"signed\";");
    e = ParseEnvelope(broken, FileOf(kind), 1 << 20);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kParse);
    const size_t at = broken.find(';');
    EXPECT_EQ(e.error().offset, at);
    EXPECT_EQ(e.error().message,
              "invalid JSON at line 1, column " + std::to_string(at + 1) + ": syntax error at ';'");
  }
  ExpectRefused(Kind::kRoot, "", "", "metadata file is empty; expected a JSON object",
                ErrorCode::kParse);
  ExpectRefused(Kind::kRoot, "[]", "", "expected an object, got an array");
  ExpectRefused(Kind::kRoot, "\"root\"", "", "expected an object, got a string");
  Result<Envelope> big = ParseEnvelope(File(Kind::kRoot), "root.json", 100);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kParse);
  EXPECT_EQ(big.error().message, "metadata file is " + std::to_string(File(Kind::kRoot).size()) +
                                     " bytes; the limit is 100 (100 bytes)");
}

TEST_F(MetadataTest, EveryTruncationFailsCleanly) {
  for (Kind kind : kKinds) {
    const std::string file = File(kind);
    ASSERT_EQ(file.back(), '\n');
    // Without its final newline the file is still whole; shorter, never.
    for (size_t n = 0; n + 1 < file.size(); n += 7) {
      SCOPED_TRACE(FileOf(kind) + " cut at " + std::to_string(n));
      Result<Envelope> e = ParseEnvelope(file.substr(0, n), FileOf(kind), 1 << 20);
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(e.error().code, ErrorCode::kParse);
      EXPECT_EQ(e.error().file, FileOf(kind));
      EXPECT_EQ(e.error().offset, n);
      EXPECT_EQ(e.error().message,
                n == 0 ? "metadata file is empty; expected a JSON object"
                       : "invalid JSON at line 1, column " + std::to_string(n + 1) +
                             ": unexpected end of input (truncated metadata file?)");
    }
  }
}

TEST_F(MetadataTest, DuplicateMembersAreRefusedByTheStrictParser) {
  struct Dup {
    Kind kind;
    std::string find;    // `insert` goes before its first occurrence
    std::string insert;  // a member of the same object, so its key is there twice
    std::string pointer;
    std::string key;
  };
  const Dup dups[] = {
      {Kind::kRoot, "\"threshold\":1", "\"threshold\":1,", "/signed/roles/root/threshold",
       "threshold"},
      {Kind::kRoot, "\"_type\"", "\"_type\":\"root\",", "/signed/_type", "_type"},
      {Kind::kTimestamp, "\"length\"", "\"length\":14,", "/signed/meta/snapshot.json/length",
       "length"},
      {Kind::kSnapshot, "\"targets.json\"", "\"targets.json\":{},", "/signed/meta/targets.json",
       "targets.json"},
      {Kind::kTargets, "\"name\"", "\"name\":\"team\",", "/signed/delegations/roles/0/name",
       "name"},
  };
  for (const Dup& d : dups) {
    SCOPED_TRACE(d.insert);
    std::string text = File(d.kind);
    const size_t at = text.find(d.find);
    ASSERT_NE(at, std::string::npos);
    text.insert(at, d.insert);
    // Stopped at the closing quote of the key's second occurrence.
    const size_t second = at + d.insert.size() + 1 + d.key.size();
    Result<Envelope> e = ParseEnvelope(text, FileOf(d.kind), 1 << 20);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kParse);
    EXPECT_EQ(e.error().file, FileOf(d.kind));
    EXPECT_EQ(e.error().pointer, d.pointer);
    EXPECT_EQ(e.error().offset, second);
    EXPECT_EQ(e.error().message, "invalid JSON at line 1, column " + std::to_string(second + 1) +
                                     ": duplicate key '" + d.key + "'");
  }
}

TEST_F(MetadataTest, EnvelopeShapeAndSignatures) {
  const std::string id = keys_.root.keyid;
  Check(Kind::kRoot, {
                         {"/signed", std::nullopt, "missing required field 'signed'"},
                         {"/signed", json::array(), "expected an object, got an array"},
                         {"/signatures", std::nullopt, "missing required field 'signatures'"},
                         {"/signatures", json::object(), "expected an array, got an object"},
                         {"/signatures/0", "sig", "expected an object, got a string"},
                         {"/signatures/0/keyid", std::nullopt, "missing required field 'keyid'"},
                         {"/signatures/0/keyid", 7, "expected a string, got a number"},
                         {"/signatures/0/sig", std::nullopt, "missing required field 'sig'"},
                         {"/signatures/0/sig", nullptr, "expected a string, got null"},
                         {"/signatures/0", std::nullopt, ""},  // no signature: read, not trusted
                         {"/extra", "kept", ""},               // unknown envelope member
                     });
  // The same key twice in `signatures`.
  json::value doc = json::parse(File(Kind::kRoot));
  json::array& sigs = doc.at("signatures").as_array();
  sigs.push_back(sigs[0]);
  ExpectRefused(Kind::kRoot, json::serialize(doc), "/signatures/1/keyid",
                "a second signature by key '" + id + "'");
  sigs[1].as_object()["sig"] = "00";
  ExpectRefused(Kind::kRoot, json::serialize(doc), "/signatures/1/keyid",
                "a second signature by key '" + id + "'");
}

TEST_F(MetadataTest, CommonFieldsOfEveryKind) {
  for (Kind kind : kKinds) {
    const std::string other = kind == Kind::kRoot ? "timestamp" : "root";
    const std::string self = RoleTypeName(static_cast<RoleType>(kind));
    Check(kind, {
                    {"/signed/_type", std::nullopt, "missing required field '_type'"},
                    {"/signed/_type", 5, "expected a string, got a number"},
                    {"/signed/_type", json::string(other),
                     "expected '" + self + "', got '" + other + "'"},
                    {"/signed/_type", "Root", "expected '" + self + "', got 'Root'"},
                    {"/signed/spec_version", std::nullopt, "missing required field 'spec_version'"},
                    {"/signed/spec_version", 1, "expected a string, got a number"},
                    {"/signed/version", std::nullopt, "missing required field 'version'"},
                    {"/signed/version", "1", "expected an integer, got a string"},
                    {"/signed/version", true, "expected an integer, got a boolean"},
                    {"/signed/expires", std::nullopt, "missing required field 'expires'"},
                    {"/signed/expires", kExpires, "expected a string, got a number"},
                    {"/signed/x-custom", json::object{{"any", json::array{1, "two"}}}, ""},
                });
  }
  // A file of one kind read as another.
  Result<Envelope> e = ParseEnvelope(File(Kind::kTimestamp), "root.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  Result<Root> r = ReadRoot(*e);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().pointer, "/signed/_type");
  EXPECT_EQ(r.error().message, "expected 'root', got 'timestamp'");
}

TEST_F(MetadataTest, SpecVersionMajorMustBeOne) {
  for (Kind kind : kKinds) {
    for (const char* ok : {"1.0.31", "1.0", "1.0.0", "1.20.3"}) {
      Check(kind, {{"/signed/spec_version", ok, ""}});
    }
    for (const char* bad : {"2.0.0", "0.9", "1", "1.", "", "10.0.0", "v1.0.31", " 1.0.31", "1.x",
                            "1.0.31-rc", "1.0.", "1..0", "1.0.0.0"}) {
      Check(kind,
            {{"/signed/spec_version", bad,
              "unsupported specification version '" + std::string(bad) + "' (major version 1)"}});
    }
  }
}

TEST_F(MetadataTest, VersionsAreIntegersFromOneTo2To53Minus1) {
  const std::string too_large = "number too large (the limit is 2^53 - 1)";
  for (Kind kind : kKinds) {
    Check(kind, {
                    {"/signed/version", 0, "value 0 is below 1"},
                    {"/signed/version", -1, "value -1 is below 1"},
                    {"/signed/version", INT64_MIN, "value -9223372036854775808 is below 1"},
                    {"/signed/version", kTwoTo53, too_large},
                    {"/signed/version", INT64_MAX, too_large},
                    {"/signed/version", uint64_t{1} << 63, too_large},
                    {"/signed/version", kTwoTo53 - 1, ""},
                });
    // 2^64 and 1.0 are doubles to Boost.JSON: no canonical form, located.
    for (const char* v : {"18446744073709551616", "1.0", "1e0", "-0.0"}) {
      SCOPED_TRACE(v);
      ExpectRefused(kind, Replaced(kind, "\"version\":1,", "\"version\":" + std::string(v) + ","),
                    "/signed/version", kFloat);
    }
  }
  // Versions and lengths of described files, and target lengths.
  const std::string snap = "/signed/meta/snapshot.json";
  Check(Kind::kTimestamp, {{snap + "/version", 0, "value 0 is below 1"},
                           {snap + "/version", kTwoTo53, too_large},
                           {snap + "/length", -1, "value -1 is below 0"},
                           {snap + "/length", kTwoTo53, too_large},
                           {snap + "/length", 0, ""}});
  Check(Kind::kSnapshot, {{"/signed/meta/team.json/version", -5, "value -5 is below 1"}});
  const std::string target = "/signed/targets/app~1main.lua";
  Check(Kind::kTargets, {{target + "/length", uint64_t{1} << 63, too_large},
                         {target + "/length", -1, "value -1 is below 0"},
                         {target + "/length", 0, ""}});
  ExpectRefused(Kind::kTargets, Replaced(Kind::kTargets, "\"length\":12", "\"length\":12.5"),
                target + "/length", kFloat);
}

TEST_F(MetadataTest, ExpiresMustBeUtcInTheOneFormat) {
  for (const char* bad :
       {"2030-01-01T00:00:00+01:00", "2030-02-30T00:00:00Z", "2030-01-01T00:00:00", "2030-01-01",
        "2030-01-01 00:00:00Z", "2030-01-01T00:00:00.5Z", "2030-01-01t00:00:00z",
        "2030-1-01T00:00:00Z", "2030-13-01T00:00:00Z", "2030-01-01T24:00:00Z",
        "1969-12-31T23:59:59Z", ""}) {
    for (Kind kind : kKinds) {
      Check(kind, {{"/signed/expires", bad,
                    "not a UTC time YYYY-MM-DDTHH:MM:SSZ: '" + std::string(bad) + "'"}});
    }
  }
  Result<Envelope> e = ParseEnvelope(File(Kind::kSnapshot), "snapshot.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(ReadSnapshot(*e)->expires, kExpires);
}

TEST_F(MetadataTest, RootFieldsAndRoles) {
  const std::string k = RootKey();
  Check(Kind::kRoot,
        {
            {"/signed/consistent_snapshot", "yes", "expected a boolean, got a string"},
            {"/signed/consistent_snapshot", std::nullopt, ""},
            {"/signed/keys", std::nullopt, "missing required field 'keys'"},
            {"/signed/keys", json::array(), "expected an object, got an array"},
            {k, "key", "expected an object, got a string"},
            {k + "/keytype", std::nullopt, "missing required field 'keytype'"},
            {k + "/keytype", 1, "expected a string, got a number"},
            {k + "/scheme", std::nullopt, "missing required field 'scheme'"},
            {k + "/scheme", nullptr, "expected a string, got null"},
            {k + "/keyval", std::nullopt, "missing required field 'keyval'"},
            {k + "/keyval", "hex", "expected an object, got a string"},
            {k + "/keyval/public", std::nullopt, "missing required field 'public'"},
            {k + "/keyval/public", json::array(), "expected a string, got an array"},
            {"/signed/roles", std::nullopt, "missing required field 'roles'"},
            {"/signed/roles", json::array(), "expected an object, got an array"},
            {"/signed/roles/root", 1, "expected an object, got a number"},
            {"/signed/roles/root/keyids", std::nullopt, "missing required field 'keyids'"},
            {"/signed/roles/root/keyids", "id", "expected an array, got a string"},
            {"/signed/roles/root/keyids/0", 1, "expected a string, got a number"},
            {"/signed/roles/root/keyids", json::array(), ""},  // valid, never trusted
            {"/signed/roles/root/threshold", std::nullopt, "missing required field 'threshold'"},
            {"/signed/roles/root/threshold", "1", "expected an integer, got a string"},
            {"/signed/roles/root/threshold", 0, "value 0 is below 1"},
            {"/signed/roles/root/threshold", 7, ""},  // more than its keys: never met
        });
  for (const char* role : {"root", "timestamp", "snapshot", "targets"}) {
    Check(Kind::kRoot, {{"/signed/roles/" + std::string(role), std::nullopt,
                         "missing required role '" + std::string(role) + "'", "/signed/roles"}});
  }
  // The same key id twice in a role.
  const std::string id = keys_.timestamp.keyid;
  Check(Kind::kRoot,
        {{"/signed/roles/timestamp/keyids", json::array{json::string(id), json::string(id)},
          "key id '" + id + "' listed twice", "/signed/roles/timestamp/keyids/1"}});
  // Roles beyond the four are kept; so are unknown fields.
  json::object root = root_;
  root["roles"].as_object()["mirror"] = RoleKeysPart({keys_.root}, 2);
  root["x-atrium"] = "kept";
  Result<Envelope> e = ParseEnvelope(Sign(root, {keys_.root}), "root.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  Result<Root> r = ReadRoot(*e);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->roles.size(), 5u);
  EXPECT_EQ(r->roles.at("mirror").threshold, 2);
  EXPECT_TRUE(r->consistent_snapshot);
  EXPECT_EQ(e->signed_part.at("x-atrium"), "kept");
  EXPECT_NE(e->canonical_signed.find("\"x-atrium\":\"kept\""), std::string::npos);
}

TEST_F(MetadataTest, KeyIdsMustBeTheSha256OfTheCanonicalKey) {
  const json::value key = root_.at("keys").at(keys_.root.keyid);
  const auto expect_key_refused = [&](Kind kind, const std::string& keys_at, const std::string& id,
                                      const json::value& k) {
    json::value doc = json::parse(File(kind));
    SetAt(doc, keys_at + "/" + id, k);
    ExpectRefused(kind, json::serialize(doc), keys_at + "/" + id,
                  "key id '" + id + "' is not the SHA-256 of the key's canonical JSON (" +
                      Sha256Hex(*CanonicalJson(k)) + ")");
  };
  // Another id for the same key; the id in capitals; an extra member.
  expect_key_refused(Kind::kRoot, "/signed/keys", std::string(64, '0'), key);
  std::string upper = keys_.root.keyid;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  expect_key_refused(Kind::kRoot, "/signed/keys", upper, key);
  json::value extra = key;
  extra.as_object()["keyid_hash_algorithms"] = json::array{"sha256", "sha512"};
  expect_key_refused(Kind::kRoot, "/signed/keys", keys_.root.keyid, extra);
  expect_key_refused(Kind::kTargets, "/signed/delegations/keys", keys_.targets.keyid,
                     json::value(KeyObject(PublicKeyOf(keys_.team.secret))));
  // A key of another type, its id right: kept, never usable.
  json::object rsa;
  rsa["keytype"] = "rsa";
  rsa["scheme"] = "rsassa-pss-sha256";
  rsa["keyval"] = json::object{{"public", "-----BEGIN PUBLIC KEY-----"}};
  const std::string rsa_id = Sha256Hex(*CanonicalJson(rsa));
  json::object root = root_;
  root["keys"].as_object()[rsa_id] = rsa;
  Result<Envelope> e = ParseEnvelope(Sign(root, {keys_.root}), "root.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  Result<Root> r = ReadRoot(*e);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->keys.at(rsa_id).ed25519.has_value());
  EXPECT_TRUE(r->keys.at(keys_.root.keyid).ed25519.has_value());
}

TEST_F(MetadataTest, TimestampDescribesExactlyTheSnapshot) {
  const std::string s = "/signed/meta/snapshot.json";
  const json::value meta = timestamp_.at("meta").at("snapshot.json");
  const std::string exactly = "must describe exactly 'snapshot.json'";
  Check(
      Kind::kTimestamp,
      {
          {"/signed/meta", std::nullopt, "missing required field 'meta'"},
          {"/signed/meta", "x", "expected an object, got a string"},
          {"/signed/meta", json::object(), exactly},
          {"/signed/meta", json::object{{"targets.json", meta}}, exactly},
          {"/signed/meta", json::object{{"snapshot.json", meta}, {"targets.json", meta}}, exactly},
          {s, 1, "expected an object, got a number"},
          {s + "/version", std::nullopt, "missing required field 'version'"},
          {s + "/version", "1", "expected an integer, got a string"},
          {s + "/length", "14", "expected an integer, got a string"},
          {s + "/length", std::nullopt, ""},
          {s + "/hashes", std::nullopt, ""},
          {s + "/hashes", json::array(), "expected an object, got an array"},
          {s + "/hashes", json::object(), "no hash"},
          {s + "/hashes/sha256", 5, "expected a string, got a number"},
          {s + "/hashes/sha256", "xyz", "not a hex digest"},
          {s + "/hashes/sha256", "", "not a hex digest"},
          {s + "/hashes/sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
           ""},  // uppercase hex is hex
          {s + "/hashes/sha256", "abcdef0123", "sha256 digest of 10 hex digits, expected 64"},
          {s + "/hashes/sha512", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           "sha512 digest of 64 hex digits, expected 128"},
          {s + "/hashes/md5", "00", ""},  // unknown algorithms: refused on use
      });
}

TEST_F(MetadataTest, SnapshotMustDescribeTheTopLevelTargets) {
  Check(Kind::kSnapshot,
        {
            {"/signed/meta", std::nullopt, "missing required field 'meta'"},
            {"/signed/meta", json::array(), "expected an object, got an array"},
            {"/signed/meta/targets.json", std::nullopt, "does not describe 'targets.json'",
             "/signed/meta"},
            {"/signed/meta", json::object(), "does not describe 'targets.json'"},
            {"/signed/meta/targets.json/version", std::nullopt, "missing required field 'version'"},
            {"/signed/meta/team.json", "x", "expected an object, got a string"},
            {"/signed/meta/team.json/hashes/sha512", "zz", "not a hex digest"},
            {"/signed/meta/root.json", json::object{{"version", 1}}, ""},  // older repositories
        });
}

TEST_F(MetadataTest, TargetsAndTheirFiles) {
  const std::string t = "/signed/targets/app~1main.lua";
  Check(Kind::kTargets, {
                            {"/signed/targets", std::nullopt, "missing required field 'targets'"},
                            {"/signed/targets", json::array(), "expected an object, got an array"},
                            {"/signed/targets", json::object(), ""},
                            {t, "x", "expected an object, got a string"},
                            {t + "/length", std::nullopt, "missing required field 'length'"},
                            {t + "/length", "12", "expected an integer, got a string"},
                            {t + "/hashes", std::nullopt, "missing required field 'hashes'"},
                            {t + "/hashes", json::object(), "no hash"},
                            {t + "/hashes/sha256", "g0", "not a hex digest"},
                            {t + "/custom", "x", "expected an object, got a string"},
                            {t + "/custom", json::object{{"kind", "lua_patch"}}, ""},
                        });
}

TEST_F(MetadataTest, Delegations) {
  const std::string d = "/signed/delegations";
  const std::string r = d + "/roles/0";
  const std::string one_of = "needs exactly one of 'paths' and 'path_hash_prefixes'";
  Check(Kind::kTargets, {
                            {d, std::nullopt, ""},
                            {d, json::array(), "expected an object, got an array"},
                            {d + "/keys", std::nullopt, "missing required field 'keys'"},
                            {d + "/keys", json::array(), "expected an object, got an array"},
                            {d + "/roles", std::nullopt, "missing required field 'roles'"},
                            {d + "/roles", json::object(), "expected an array, got an object"},
                            {d + "/roles", json::array(), ""},
                            {r, "team", "expected an object, got a string"},
                            {r + "/name", std::nullopt, "missing required field 'name'"},
                            {r + "/name", 1, "expected a string, got a number"},
                            {r + "/name", "", "role name is empty"},
                            {r + "/keyids", std::nullopt, "missing required field 'keyids'"},
                            {r + "/keyids", "x", "expected an array, got a string"},
                            {r + "/threshold", std::nullopt, "missing required field 'threshold'"},
                            {r + "/threshold", 0, "value 0 is below 1"},
                            {r + "/terminating", "yes", "expected a boolean, got a string"},
                            {r + "/terminating", std::nullopt, ""},
                            {r + "/paths", std::nullopt, one_of, r},
                            {r + "/path_hash_prefixes", json::array{"ab"}, one_of, r},
                            {r + "/paths", "team/*", "expected an array, got a string"},
                            {r + "/paths/0", 1, "expected a string, got a number"},
                            {r + "/paths", json::array(), ""},  // delegates nothing
                        });
  // path_hash_prefixes alone.
  json::object targets = targets_;
  json::object& role = targets["delegations"].as_object()["roles"].as_array()[0].as_object();
  role.erase("paths");
  role["path_hash_prefixes"] = json::array{"ab", 7};
  ExpectRefused(Kind::kTargets, Sign(targets, {keys_.targets}), r + "/path_hash_prefixes/1",
                "expected a string, got a number");
  role["path_hash_prefixes"] = json::array{"ab", ""};
  ExpectRefused(Kind::kTargets, Sign(targets, {keys_.targets}), r + "/path_hash_prefixes/1",
                "a hash prefix is 1 or more hex digits, got ''");
  role["path_hash_prefixes"] = json::array{"ab", "xy"};
  ExpectRefused(Kind::kTargets, Sign(targets, {keys_.targets}), r + "/path_hash_prefixes/1",
                "a hash prefix is 1 or more hex digits, got 'xy'");
  role["path_hash_prefixes"] = json::array{"ab", "0F"};
  EXPECT_TRUE(Read(Kind::kTargets, Sign(targets, {keys_.targets})).ok());
  // Top-level names, and a name used twice.
  for (const char* top : {"targets", "root", "snapshot", "timestamp"}) {
    Check(Kind::kTargets,
          {{r + "/name", top,
            "role name '" + std::string(top) + "' is the name of a top-level role"}});
  }
  json::value doc = json::parse(File(Kind::kTargets));
  json::array& roles = doc.at("signed").at("delegations").at("roles").as_array();
  roles.push_back(roles[0]);
  ExpectRefused(Kind::kTargets, json::serialize(doc), d + "/roles/1/name",
                "role name 'team' listed twice");
  // The same key id twice in a delegated role.
  const std::string id = keys_.team.keyid;
  Check(Kind::kTargets, {{r + "/keyids", json::array{json::string(id), json::string(id)},
                          "key id '" + id + "' listed twice", r + "/keyids/1"}});
}

}  // namespace
}  // namespace atrium::tuf
