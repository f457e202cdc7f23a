// Tests for the checks of atrium/dynamic/tuf/metadata.h that decide what is
// trusted once a file is read: VerifyThreshold (which signatures count),
// CheckLengthAndHashes, the UTC times of `expires`, and the path patterns
// and hash prefixes of delegations.
//
// Concurrency: single-threaded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "atrium/base/hex.h"
#include "atrium/dynamic/tuf/canonical_json.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "signed_files.h"

namespace atrium::tuf {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::CommonPart;
using testing::NewKey;
using testing::Sign;

// --- VerifyThreshold -----------------------------------------------------

Key KeyOf(const SigningKey& k) {
  Key key;
  key.keytype = "ed25519";
  key.scheme = "ed25519";
  const PublicKey pk = PublicKeyOf(k.secret);
  key.public_hex = internal::HexOf(pk.data(), pk.size());
  key.ed25519 = pk;
  return key;
}

class VerifyThresholdTest : public ::testing::Test {
 protected:
  Envelope SignedBy(const std::vector<SigningKey>& signers) {
    json::object part = CommonPart("targets");
    part["targets"] = json::object();
    Result<Envelope> e = ParseEnvelope(Sign(part, signers), "targets.json", 1 << 20);
    EXPECT_TRUE(e.ok());
    return std::move(e).value();
  }
  void ExpectRefused(const Envelope& e, const RoleKeys& role, const std::string& message) {
    Status s = VerifyThreshold(e, "targets", role, keys_);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
    EXPECT_EQ(s.error().file, "targets.json");
    EXPECT_EQ(s.error().message, message);
  }

  SigningKey a_ = NewKey(11), b_ = NewKey(12), c_ = NewKey(13);
  std::map<std::string, Key> keys_ = {
      {a_.keyid, KeyOf(a_)}, {b_.keyid, KeyOf(b_)}, {c_.keyid, KeyOf(c_)}};
};

TEST_F(VerifyThresholdTest, CountsValidSignaturesOfListedKeys) {
  const Envelope e = SignedBy({a_, b_});
  EXPECT_TRUE(VerifyThreshold(e, "targets", {{a_.keyid, b_.keyid}, 2}, keys_).ok());
  EXPECT_TRUE(VerifyThreshold(e, "targets", {{b_.keyid, c_.keyid}, 1}, keys_).ok());
  ExpectRefused(e, {{a_.keyid, b_.keyid, c_.keyid}, 3},
                "targets role: 2 signatures, threshold 3, 2 valid");
  // A signature by a key the role does not list never counts.
  ExpectRefused(e, {{c_.keyid}, 1}, "targets role: 2 signatures, threshold 1, 0 valid");
  ExpectRefused(SignedBy({c_}), {{a_.keyid}, 1}, "targets role: 1 signature, threshold 1, 0 valid");
  ExpectRefused(SignedBy({}), {{a_.keyid}, 1}, "targets role: 0 signatures, threshold 1, 0 valid");
}

TEST_F(VerifyThresholdTest, UnknownAndUnsupportedKeysNeverCount) {
  const Envelope e = SignedBy({a_, b_});
  keys_.erase(b_.keyid);  // listed by the role, not among the keys
  ExpectRefused(e, {{a_.keyid, b_.keyid}, 2}, "targets role: 2 signatures, threshold 2, 1 valid");
  keys_[b_.keyid] = KeyOf(b_);
  keys_[b_.keyid].keytype = "rsa";
  keys_[b_.keyid].ed25519.reset();
  ExpectRefused(e, {{a_.keyid, b_.keyid}, 2}, "targets role: 2 signatures, threshold 2, 1 valid");
}

TEST_F(VerifyThresholdTest, MalformedAndForeignSignaturesNeverCount) {
  const RoleKeys role{{a_.keyid}, 1};
  const Envelope good = SignedBy({a_});
  const std::string sig = good.signatures[0].sig;
  ASSERT_EQ(sig.size(), 128u);
  for (const std::string& bad : {std::string(128, 'z'), sig.substr(2), sig + "00", std::string(),
                                 std::string(128, '0'), "0x" + sig.substr(2)}) {
    SCOPED_TRACE(bad);
    Envelope e = good;
    e.signatures[0].sig = bad;
    ExpectRefused(e, role, "targets role: 1 signature, threshold 1, 0 valid");
  }
  // Hex digits in capitals are the same signature.
  Envelope upper = good;
  for (char& ch : upper.signatures[0].sig)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_TRUE(VerifyThreshold(upper, "targets", role, keys_).ok());
  // A's real signature over other bytes.
  Envelope other = good;
  json::object part = CommonPart("targets", 2);
  part["targets"] = json::object();
  other.signatures[0].sig = ParseEnvelope(Sign(part, {a_}), "x", 1 << 20)->signatures[0].sig;
  ExpectRefused(other, role, "targets role: 1 signature, threshold 1, 0 valid");
  // The bytes signed are the canonical ones: changing them breaks it.
  Envelope changed = good;
  changed.canonical_signed += " ";
  ExpectRefused(changed, role, "targets role: 1 signature, threshold 1, 0 valid");
  // B's signature filed under A's key id.
  Envelope swapped = SignedBy({b_});
  swapped.signatures[0].keyid = a_.keyid;
  ExpectRefused(swapped, role, "targets role: 1 signature, threshold 1, 0 valid");
}

TEST_F(VerifyThresholdTest, AKeyCountsOnceHoweverOftenItAppears) {
  const Envelope e = SignedBy({a_});
  // Listed twice by the role.
  ExpectRefused(e, {{a_.keyid, a_.keyid}, 2}, "targets role: 1 signature, threshold 2, 1 valid");
  // Signed twice (ParseEnvelope refuses this; VerifyThreshold holds anyway).
  Envelope twice = e;
  twice.signatures.push_back(twice.signatures[0]);
  ExpectRefused(twice, {{a_.keyid, b_.keyid}, 2},
                "targets role: 2 signatures, threshold 2, 1 valid");
  // Named by two key ids: the key object with an unknown member has an id
  // of its own, but it is the same public key.
  json::object alias = KeyObject(PublicKeyOf(a_.secret));
  alias["x-comment"] = "same key";
  const std::string alias_id = Sha256Hex(*CanonicalJson(json::value(alias)));
  json::object root = CommonPart("root");
  json::object keys;
  keys[a_.keyid] = KeyObject(PublicKeyOf(a_.secret));
  keys[alias_id] = alias;
  root["keys"] = keys;
  json::object roles;
  for (const char* name : {"root", "timestamp", "snapshot", "targets"}) {
    roles[name] = testing::RoleKeysPart({a_, SigningKey{a_.secret, alias_id}}, 2);
  }
  root["roles"] = roles;
  Result<Envelope> re =
      ParseEnvelope(Sign(root, {a_, SigningKey{a_.secret, alias_id}}), "root.json", 1 << 20);
  ASSERT_TRUE(re.ok()) << re.error().ToString();
  Result<Root> r = ReadRoot(*re);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  Status s = VerifyThreshold(*re, "root", r->roles.at("root"), r->keys);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "root role: 2 signatures, threshold 2, 1 valid");
  EXPECT_TRUE(VerifyThreshold(*re, "root", {{a_.keyid, alias_id}, 1}, r->keys).ok());
}

// --- CheckLengthAndHashes ------------------------------------------------

constexpr std::string_view kHello = "hello";
constexpr std::string_view kHelloSha256 =
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
constexpr std::string_view kHelloSha512 =
    "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"
    "2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";

using Hashes = std::map<std::string, std::string>;

void ExpectCheck(std::string_view bytes, std::optional<int64_t> length, const Hashes& hashes,
                 std::optional<ErrorCode> code = std::nullopt, const std::string& message = "") {
  Status s = CheckLengthAndHashes(bytes, "app.lua", length, hashes);
  if (!code) {
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return;
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, *code);
  EXPECT_EQ(s.error().message, message);
}

TEST(CheckLengthAndHashesTest, LengthAndEveryListedHash) {
  const std::string s256(kHelloSha256), s512(kHelloSha512);
  ExpectCheck(kHello, 5, {{"sha256", s256}});
  ExpectCheck(kHello, std::nullopt, {{"sha512", s512}});
  ExpectCheck(kHello, 5, {{"sha256", s256}, {"sha512", s512}});
  ExpectCheck(kHello, std::nullopt, {});
  ExpectCheck("", 0,
              {{"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}});
  std::string upper = s256;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectCheck(kHello, 5, {{"sha256", upper}});

  ExpectCheck(kHello, 6, {{"sha256", s256}}, ErrorCode::kCorrupt, "app.lua: length 5, expected 6");
  ExpectCheck(kHello, 0, {}, ErrorCode::kCorrupt, "app.lua: length 5, expected 0");
  ExpectCheck(kHello, 5, {{"sha256", std::string(64, '0')}}, ErrorCode::kCorrupt,
              "app.lua: sha256 mismatch (expected 0000000000000000…, got 2cf24dba5fb0a30e…)");
  // One right hash does not excuse a wrong one.
  ExpectCheck(kHello, 5, {{"sha256", s256}, {"sha512", std::string(128, 'a')}}, ErrorCode::kCorrupt,
              "app.lua: sha512 mismatch (expected aaaaaaaaaaaaaaaa…, got 9b71d224bd62f378…)");
  ExpectCheck(kHello, 5, {{"sha256", s256.substr(0, 63)}}, ErrorCode::kCorrupt,
              "app.lua: sha256 mismatch (expected 2cf24dba5fb0a30e…, got 2cf24dba5fb0a30e…)");
  // An unknown algorithm is an error, never skipped.
  ExpectCheck(kHello, 5, {{"md5", "5d41402abc4b2a76b9719d911017c592"}}, ErrorCode::kValidation,
              "app.lua: unknown hash algorithm 'md5'");
  ExpectCheck(kHello, 5, {{"sha256", s256}, {"blake2b", "00"}}, ErrorCode::kValidation,
              "app.lua: unknown hash algorithm 'blake2b'");
  ExpectCheck(kHello, 5, {{"SHA256", s256}}, ErrorCode::kValidation,
              "app.lua: unknown hash algorithm 'SHA256'");
}

TEST(CheckLengthAndHashesTest, FilesAreReadInChunks) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("atrium_tuf_hashes_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "big.bin").string();
  std::string big;
  for (int i = 0; i < 200'000; ++i) big.push_back(static_cast<char>(i * 7));
  std::ofstream(path, std::ios::binary) << big;
  const Hashes hashes = {{"sha256", Sha256Hex(big)}};
  EXPECT_TRUE(CheckFileLengthAndHashes(path, "big.bin", 200'000, hashes).ok());
  Status s = CheckFileLengthAndHashes(path, "big.bin", 199'999, hashes);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(s.error().message, "big.bin: length 200000, expected 199999");
  s = CheckFileLengthAndHashes(path, "big.bin", std::nullopt, {{"sha256", Sha256Hex(kHello)}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kCorrupt);
  s = CheckFileLengthAndHashes(path, "big.bin", std::nullopt, {{"md5", "00"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kValidation);
  s = CheckFileLengthAndHashes((dir / "absent").string(), "absent.bin", 1, hashes);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_EQ(s.error().message, "absent.bin: cannot open " + (dir / "absent").string());
  fs::remove_all(dir);
}

// --- ParseUtcTime / FormatUtcTime -----------------------------------------

TEST(UtcTimeTest, KnownInstantsAndLeapYears) {
  const std::pair<const char*, int64_t> known[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2000-02-29T00:00:00Z", 951782400},  // divisible by 400: leap
      {"2000-03-01T00:00:00Z", 951868800},
      {"2024-02-29T12:34:56Z", 1709210096},
      {"2038-01-19T03:14:08Z", int64_t{1} << 31},
      {"2400-02-29T00:00:00Z", 13574563200},
      {"9999-12-31T23:59:59Z", 253402300799},
  };
  for (const auto& [text, t] : known) {
    EXPECT_EQ(ParseUtcTime(text), t) << text;
    EXPECT_EQ(FormatUtcTime(t), text);
  }
  for (const char* no_such_day :
       {"2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2030-04-31T00:00:00Z", "2030-02-30T00:00:00Z", "2030-01-32T00:00:00Z",
        "2030-01-00T00:00:00Z", "2030-00-01T00:00:00Z"}) {
    EXPECT_EQ(ParseUtcTime(no_such_day), std::nullopt) << no_such_day;
  }
  // A leap second is the first second of the next minute.
  EXPECT_EQ(ParseUtcTime("2016-12-31T23:59:60Z"), ParseUtcTime("2017-01-01T00:00:00Z"));
  EXPECT_EQ(ParseUtcTime("2030-01-01T00:00:61Z"), std::nullopt);
}

TEST(UtcTimeTest, OnlyTheOneFormatIsRead) {
  for (const char* bad :
       {"", "2030-01-01T00:00:00", "2030-01-01T00:00:00Z ", " 2030-01-01T00:00:00Z",
        "2030-01-01T00:00:00+00:00", "2030-01-01T00:00:00.000Z", "2030-01-01t00:00:00Z",
        "2030-01-01T00:00:00z", "2030/01/01T00:00:00Z", "2030-01-01T00-00-00Z",
        "+030-01-01T00:00:00Z", "2030-0a-01T00:00:00Z", "2030-01-01T0 :00:00Z",
        "2030-01-01T24:00:00Z", "2030-01-01T00:60:00Z", "1969-12-31T23:59:59Z"}) {
    EXPECT_EQ(ParseUtcTime(bad), std::nullopt) << bad;
  }
}

TEST(UtcTimeTest, RoundTrips) {
  for (int64_t t = 0; t < 4'102'444'800; t += 37 * 86400 + 3601) {
    const std::string text = FormatUtcTime(t);
    ASSERT_EQ(ParseUtcTime(text), t) << text;
  }
  for (int year = 1972; year < 2100; year += 4) {
    const std::string feb29 = std::to_string(year) + "-02-29T23:59:59Z";
    std::optional<int64_t> t = ParseUtcTime(feb29);
    ASSERT_TRUE(t.has_value()) << feb29;
    EXPECT_EQ(FormatUtcTime(*t), feb29);
    EXPECT_EQ(FormatUtcTime(*t + 1), std::to_string(year) + "-03-01T00:00:00Z");
  }
}

// --- Delegated paths -------------------------------------------------------

TEST(MatchPathPatternTest, SegmentBySegment) {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  const Case cases[] = {
      {"*", "a", true},
      {"*", "", true},
      {"*", "a/b", false},  // '*' never matches '/'
      {"*/*", "a/b", true},
      {"*/*", "a", false},
      {"a/*", "a/b/c", false},  // segment counts differ
      {"a/*/c", "a/b/c", true},
      {"a/*/*", "a/b/c", true},
      {"**", "a/b", false},  // no recursive wildcard
      {"*.txt", "x.txt", true},
      {"*.txt", "dir/x.txt", false},
      {"dir/*.txt", "dir/x.txt", true},
      {"dir/*.txt", "dir/x.txt.bak", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"a?c", "abc", true},
      {"a?c", "a/c", false},     // '?' never matches '/'
      {"??", "\xC3\xA9", true},  // one byte each
      {"*ab", "aab", true},
      {"*a*b*", "xaybz", true},
      {"a*", "a", true},
      {"*?", "", false},
      {"a*b*c", "abcbc", true},
      {"a*b*c", "acb", false},
      {"", "", true},
      {"", "a", false},
      {"a//b", "a//b", true},  // empty segments are segments
      {"a/*/b", "a//b", true},
      {"a/?/b", "a//b", false},
      {"a/", "a/", true},
      {"a/*", "a/", true},
      {"a/", "a", false},
      {"/a", "a", false},
      {"A", "a", false},     // case matters
      {"[ab]", "a", false},  // no character classes
      {"[ab]", "[ab]", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MatchPathPattern(c.pattern, c.path), c.match)
        << "pattern '" << c.pattern << "', path '" << c.path << "'";
  }
}

TEST(IsDelegatedPathTest, PathsOrHashPrefixes) {
  DelegatedRole role;
  role.name = "team";
  EXPECT_FALSE(IsDelegatedPath(role, "team/app.lua"));  // delegates nothing
  role.paths = {"other/*", "team/*.lua"};
  EXPECT_TRUE(IsDelegatedPath(role, "team/app.lua"));
  EXPECT_FALSE(IsDelegatedPath(role, "team/sub/app.lua"));
  EXPECT_FALSE(IsDelegatedPath(role, "team/app.js"));

  // SHA-256("team/app.lua") = c555ca89...
  DelegatedRole bins;
  bins.name = "bin-c";
  bins.path_hash_prefixes = {"00", "c5"};
  EXPECT_TRUE(IsDelegatedPath(bins, "team/app.lua"));
  bins.path_hash_prefixes = {"c555ca892178b5c2"};
  EXPECT_TRUE(IsDelegatedPath(bins, "team/app.lua"));
  bins.path_hash_prefixes = {"c556", "d"};
  EXPECT_FALSE(IsDelegatedPath(bins, "team/app.lua"));
  bins.path_hash_prefixes = {"C5"};  // hashes are lowercase hex
  EXPECT_FALSE(IsDelegatedPath(bins, "team/app.lua"));
  bins.path_hash_prefixes = {"c555ca892178b5c207498bca81aa77094f8d1c95e0c6b8b6b24f4904d3cc1a72"};
  EXPECT_TRUE(IsDelegatedPath(bins, "team/app.lua"));
  bins.path_hash_prefixes = {"c555ca892178b5c207498bca81aa77094f8d1c95e0c6b8b6b24f4904d3cc1a7200"};
  EXPECT_FALSE(IsDelegatedPath(bins, "team/app.lua"));
}

}  // namespace
}  // namespace atrium::tuf
