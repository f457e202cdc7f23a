// The TUF client against repositories built and tampered with by TufSim:
// the attack scenarios of TUF's threat model (docs/update.md lists which
// test covers which scenario of the public conformance suite). Each refusal
// names the file and the reason, and leaves what was trusted unchanged.
#include "atrium/dynamic/tuf_client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tuf_sim.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::NewSigningKey;
using testing::TufSim;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class TufClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("atrium_tuf_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    sim_ = std::make_unique<TufSim>((dir_ / "repo").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Root v1 + everything, and the client initialised with that root.
  void Start() {
    sim_->PublishRoot();
    sim_->PublishAll();
    ASSERT_TRUE(TufClient::Init(Meta(), sim_->Path("1.root.json")).ok());
  }
  std::string Meta() const { return (dir_ / "meta").string(); }
  std::string Downloads() const { return (dir_ / "dl").string(); }
  std::unique_ptr<TufClient> Client(int64_t now = 0) {
    TufClientOptions o;
    o.metadata_dir = Meta();
    o.metadata_url = sim_->metadata_url();
    o.target_url = sim_->target_url();
    o.now_unix_s = now != 0 ? now : sim_->now;
    o.retries = 0;
    auto c = TufClient::Open(o);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return std::move(c).value();
  }
  Status Refresh(int64_t now = 0) { return Client(now)->Refresh(); }
  std::string Trusted(const std::string& name) const { return ReadAll(Meta() + "/" + name); }
  static std::string Message(const Status& s) { return s.ok() ? "ok" : s.error().ToString(); }

  fs::path dir_;
  std::unique_ptr<TufSim> sim_;
};

TEST_F(TufClientTest, RefreshStoresTheRepositoryBytesAndDownloadsVerifiedTargets) {
  sim_->AddTarget("native_bundle/com.a-1.0.0.atb", "package bytes");
  Start();
  auto c = Client();
  ASSERT_TRUE(c->Refresh().ok());
  const TufTrustedVersions v = c->trusted();
  EXPECT_EQ(v.root, 1);
  EXPECT_EQ(v.timestamp, 1);
  EXPECT_EQ(v.snapshot, 1);
  EXPECT_EQ(v.targets, 1);
  // Exactly the bytes served, under non-versioned names.
  EXPECT_EQ(Trusted("timestamp.json"), ReadAll(sim_->Path("timestamp.json")));
  EXPECT_EQ(Trusted("snapshot.json"), ReadAll(sim_->Path("1.snapshot.json")));
  EXPECT_EQ(Trusted("targets.json"), ReadAll(sim_->Path("1.targets.json")));
  auto t = c->FindTarget("native_bundle/com.a-1.0.0.atb");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->length, 13u);
  EXPECT_EQ(t->role, "targets");
  auto path = c->Download(*t, Downloads());
  ASSERT_TRUE(path.ok()) << path.error().ToString();
  EXPECT_EQ(*path, Downloads() + "/native_bundle%2Fcom.a-1.0.0.atb");
  EXPECT_EQ(ReadAll(*path), "package bytes");
  // A second download is served from the verified local copy.
  const uint64_t requests = c->requests();
  ASSERT_TRUE(c->Download(*t, Downloads()).ok());
  EXPECT_EQ(c->requests(), requests);
  // A check with nothing new: one root probe and the timestamp.
  auto again = Client();
  ASSERT_TRUE(again->Refresh().ok());
  EXPECT_EQ(again->requests(), 2u);
}

TEST_F(TufClientTest, InitRefusesAMalformedOrBadlySignedRoot) {
  sim_->PublishRoot();
  sim_->Write((dir_ / "garbage.json").string(), "{\"signed\": ");
  Status s = TufClient::Init(Meta(), (dir_ / "garbage.json").string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kParse);
  sim_->signers["root"] = {NewSigningKey()};
  sim_->version["root"] = 1;
  sim_->PublishRoot();
  s = TufClient::Init(Meta(), sim_->Path("1.root.json"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "root role: 1 signature, threshold 1, 0 valid");
}

TEST_F(TufClientTest, EachRoleUnderThresholdIsRefusedAndEarlierRolesKept) {
  for (const std::string role : {"timestamp", "snapshot", "targets"}) {
    SCOPED_TRACE(role);
    TearDown();
    SetUp();
    sim_->signers[role] = {NewSigningKey()};
    Start();
    Status s = Refresh();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, role + " role: 1 signature, threshold 1, 0 valid");
    EXPECT_EQ(fs::exists(Meta() + "/timestamp.json"), role != "timestamp");
    EXPECT_EQ(fs::exists(Meta() + "/snapshot.json"), role == "targets");
    EXPECT_FALSE(fs::exists(Meta() + "/targets.json"));
  }
}

TEST_F(TufClientTest, ThresholdCountsDistinctValidKeysOnly) {
  // 2 of 3 timestamp keys; one good signature plus a bad one is not enough,
  // two good ones and a bad extra one are.
  auto k1 = NewSigningKey(), k2 = NewSigningKey(), k3 = NewSigningKey();
  sim_->keys["timestamp"] = {k1, k2, k3};
  sim_->threshold["timestamp"] = 2;
  sim_->signers["timestamp"] = {k1, NewSigningKey()};
  Start();
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "timestamp role: 2 signatures, threshold 2, 1 valid");
  sim_->signers["timestamp"] = {k1, k3, NewSigningKey()};
  sim_->PublishTimestamp();
  EXPECT_TRUE(Refresh().ok());
}

TEST_F(TufClientTest, DuplicateSignaturesByOneKeyAreRefused) {
  auto k = sim_->keys["timestamp"][0];
  sim_->threshold["timestamp"] = 2;
  sim_->keys["timestamp"].push_back(NewSigningKey());
  sim_->signers["timestamp"] = {k, k};
  Start();
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "timestamp.json");
  EXPECT_EQ(s.error().pointer, "/signatures/1/keyid");
}

TEST_F(TufClientTest, RootRotationFollowsTheChainSignedByOldAndNew) {
  Start();
  ASSERT_TRUE(Refresh().ok());
  auto old_keys = sim_->keys["root"];
  sim_->keys["root"] = {NewSigningKey()};
  sim_->PublishRoot(old_keys);  // v2 by old and new
  auto v2_keys = sim_->keys["root"];
  sim_->keys["root"] = {NewSigningKey(), NewSigningKey(), NewSigningKey()};
  sim_->threshold["root"] = 2;
  sim_->PublishRoot(v2_keys);  // v3: 2 of 3 new keys, signed by v2's key
  sim_->PublishAll();
  auto c = Client();
  Status s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().root, 3);
  EXPECT_EQ(Trusted("root.json"), ReadAll(sim_->Path("3.root.json")));
}

TEST_F(TufClientTest, RootNotSignedByTheOldOrTheNewKeysIsRefused) {
  Start();
  auto old_keys = sim_->keys["root"];
  sim_->keys["root"] = {NewSigningKey()};
  sim_->PublishRoot();  // only the new key: not by the trusted root's
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "2.root.json");
  EXPECT_EQ(s.error().message, "root (trusted v1 keys) role: 1 signature, threshold 1, 0 valid");
  EXPECT_EQ(Trusted("root.json"), ReadAll(sim_->Path("1.root.json")));
  // Only the old key: the new root's own threshold is not met.
  sim_->version["root"] = 2;
  sim_->signers["root"] = old_keys;
  sim_->PublishRoot();
  s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "root (its own keys) role: 1 signature, threshold 1, 0 valid");
}

TEST_F(TufClientTest, AThresholdIncreaseMustBeMetByTheNewRoot) {
  auto a = NewSigningKey(), b = NewSigningKey(), c = NewSigningKey();
  sim_->keys["root"] = {a, b, c};
  Start();
  sim_->threshold["root"] = 2;
  sim_->signers["root"] = {a};
  sim_->PublishRoot();
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "root (its own keys) role: 1 signature, threshold 2, 1 valid");
}

TEST_F(TufClientTest, RootFileWhoseVersionIsNotItsNameIsRefused) {
  Start();
  sim_->version["root"] = 3;
  const std::string v3 = sim_->PublishRoot();
  sim_->Write(sim_->Path("2.root.json"), v3);
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "version 3, expected 2");
}

TEST_F(TufClientTest, AMissingIntermediateRootStopsTheChain) {
  Start();
  auto old_keys = sim_->keys["root"];
  sim_->keys["root"] = {NewSigningKey()};
  sim_->version["root"] = 3;  // 2.root.json is never published
  sim_->PublishRoot(old_keys);
  auto c = Client();
  Status s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().root, 1);
  EXPECT_EQ(Trusted("root.json"), ReadAll(sim_->Path("1.root.json")));
}

TEST_F(TufClientTest, RollbackOfEveryRoleIsRefused) {
  Start();
  ASSERT_TRUE(Refresh().ok());
  const std::string ts1 = ReadAll(sim_->Path("timestamp.json"));
  sim_->PublishAll();  // targets 2, snapshot 2, timestamp 2
  ASSERT_TRUE(Refresh().ok());
  // The old timestamp again.
  sim_->Write(sim_->Path("timestamp.json"), ts1);
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "version 1 < trusted 2: rollback refused");
  // A newer timestamp naming an older snapshot.
  sim_->version["snapshot"] = 1;
  sim_->PublishSnapshot();
  sim_->version["timestamp"] = 3;
  sim_->PublishTimestamp();
  s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "snapshot version 1 < trusted 2: rollback refused");
  // A newer snapshot naming an older targets version.
  sim_->version["targets"] = 1;
  sim_->PublishTargets();
  sim_->version["snapshot"] = 3;
  sim_->PublishSnapshot();
  sim_->PublishTimestamp();
  s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "targets.json version 1 < trusted 2: rollback refused");
  EXPECT_EQ(Client()->trusted().targets, 0);
  auto c = Client();
  (void)c->Refresh();
  EXPECT_EQ(c->trusted().targets, 0);
  EXPECT_EQ(ReadAll(Meta() + "/targets.json"), ReadAll(sim_->Path("2.targets.json")));
}

TEST_F(TufClientTest, ExpiredMetadataIsRefusedAtEachRole) {
  for (const std::string role : {"timestamp", "snapshot", "targets"}) {
    SCOPED_TRACE(role);
    TearDown();
    SetUp();
    sim_->expires[role] = sim_->now - 1;
    Start();
    Status s = Refresh();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "expired at " + tuf::FormatUtcTime(sim_->now - 1) + " (now " +
                                     tuf::FormatUtcTime(sim_->now) + "): freeze refused");
  }
}

TEST_F(TufClientTest, AnExpiredRootStillUpdatesToAFreshOne) {
  sim_->expires["root"] = sim_->now - 10;
  Start();
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "root.json");
  sim_->expires["root"] = sim_->now + 86400;
  sim_->PublishRoot();
  auto c = Client();
  s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().root, 2);
}

TEST_F(TufClientTest, AnExpiredLocalTimestampDoesNotBlockAValidRemoteOne) {
  sim_->expires["timestamp"] = sim_->now + 3600;
  Start();
  ASSERT_TRUE(Refresh().ok());
  const int64_t later = sim_->now + 7200;
  sim_->expires["timestamp"] = later + 3600;
  sim_->PublishTimestamp();
  auto c = Client(later);
  Status s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().timestamp, 2);
}

TEST_F(TufClientTest, SnapshotNotMatchingTheTimestampIsRefused) {
  Start();
  // Same version, other content: the timestamp's hash no longer matches.
  sim_->version["snapshot"] = 1;
  sim_->expires["snapshot"] += 5;
  const std::string forged = sim_->PublishSnapshot();
  (void)forged;
  sim_->version["timestamp"] = 1;
  // Keep the timestamp that describes the first snapshot.
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "1.snapshot.json");
  EXPECT_NE(s.error().message.find("sha256 mismatch"), std::string::npos);
  EXPECT_NE(s.error().message.find("mix-and-match refused"), std::string::npos);
  EXPECT_FALSE(fs::exists(Meta() + "/snapshot.json"));
}

TEST_F(TufClientTest, SameTimestampVersionWithOtherContentKeepsTheTrustedOne) {
  Start();
  ASSERT_TRUE(Refresh().ok());
  const std::string trusted = Trusted("timestamp.json");
  sim_->version["timestamp"] = 1;
  sim_->expires["timestamp"] += 60;
  sim_->PublishTimestamp();
  ASSERT_NE(ReadAll(sim_->Path("timestamp.json")), trusted);
  ASSERT_TRUE(Refresh().ok());
  EXPECT_EQ(Trusted("timestamp.json"), trusted);
}

TEST_F(TufClientTest, FastForwardRecoveryAfterTimestampKeyRotation) {
  Start();
  // An attacker with the timestamp key pushed version 1000.
  sim_->version["timestamp"] = 1000;
  sim_->PublishTimestamp();
  ASSERT_TRUE(Refresh().ok());
  // The repository rotates the timestamp key and goes on from version 2.
  sim_->keys["timestamp"] = {NewSigningKey()};
  sim_->PublishRoot();
  sim_->version["timestamp"] = 2;
  sim_->PublishTimestamp();
  auto c = Client();
  Status s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().timestamp, 2);
}

TEST_F(TufClientTest, FastForwardRecoveryAfterSnapshotKeyRotation) {
  Start();
  sim_->version["snapshot"] = 500;
  sim_->PublishSnapshot();
  sim_->PublishTimestamp();
  ASSERT_TRUE(Refresh().ok());
  sim_->keys["snapshot"] = {NewSigningKey()};
  sim_->keys["timestamp"] = {NewSigningKey()};
  sim_->PublishRoot();
  sim_->version["snapshot"] = 2;
  sim_->version["timestamp"] = 2;
  sim_->PublishSnapshot();
  sim_->PublishTimestamp();
  auto c = Client();
  Status s = c->Refresh();
  ASSERT_TRUE(s.ok()) << Message(s);
  EXPECT_EQ(c->trusted().snapshot, 2);
}

TEST_F(TufClientTest, TargetWhoseBytesLieIsRefusedAndNotKept) {
  sim_->AddTarget("lua_patch/fee-1.0.0.atb", "good bytes");
  Start();
  auto c = Client();
  auto t = c->FindTarget("lua_patch/fee-1.0.0.atb");
  ASSERT_TRUE(t.ok());
  const std::string stored =
      sim_->dir() + "/targets/lua_patch/" + tuf::Sha256Hex("good bytes") + ".fee-1.0.0.atb";
  sim_->Write(stored, "evil bytes");  // same length
  auto got = c->Download(*t, Downloads());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(got.error().message.rfind("lua_patch/fee-1.0.0.atb: sha256 mismatch", 0), 0u)
      << got.error().message;
  EXPECT_FALSE(fs::exists(Downloads() + "/lua_patch%2Ffee-1.0.0.atb"));
  sim_->Write(stored, "good bytes and then some more");  // longer than signed
  got = c->Download(*t, Downloads());
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("endless data refused"), std::string::npos);
  auto missing = c->FindTarget("lua_patch/none-1.0.0.atb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(TufClientTest, UnknownHashAlgorithmRejectsTheTarget) {
  sim_->AddTarget("a.txt", "x");
  sim_->targets["targets"]["a.txt"].as_object()["hashes"].as_object()["blake9"] = "00";
  Start();
  auto c = Client();
  auto t = c->FindTarget("a.txt");
  ASSERT_TRUE(t.ok());
  auto got = c->Download(*t, Downloads());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().message, "a.txt: unknown hash algorithm 'blake9'");
}

TEST_F(TufClientTest, WithoutConsistentSnapshotsFilesHaveTheirPlainNames) {
  sim_->consistent_snapshot = false;
  sim_->AddTarget("h5_package/docs-1.0.0.atb", "h5");
  Start();
  auto c = Client();
  auto t = c->FindTarget("h5_package/docs-1.0.0.atb");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  auto got = c->Download(*t, Downloads());
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_FALSE(c->consistent_snapshot());
}

TEST_F(TufClientTest, ARepositoryThatVanishesMidUpdateChangesNothingTrusted) {
  Start();
  ASSERT_TRUE(Refresh().ok());
  const std::string snapshot = Trusted("snapshot.json");
  sim_->PublishAll();
  fs::remove(sim_->Path("2.snapshot.json"));
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Trusted("snapshot.json"), snapshot);
}

TEST_F(TufClientTest, AFileOfAnotherTypeIsRefused) {
  Start();
  sim_->Write(sim_->Path("timestamp.json"), ReadAll(sim_->Path("1.snapshot.json")));
  Status s = Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().pointer, "/signed/_type");
}

TEST_F(TufClientTest, UnknownFieldsAreSignedAndKept) {
  json::object extra;
  extra["x-atrium-note"] = "kept";
  sim_->root_extra = extra;
  Start();
  EXPECT_TRUE(Refresh().ok());
}

TEST_F(TufClientTest, DelegationsAreSearchedDepthFirstWithinTheirPaths) {
  auto team = NewSigningKey(), sub = NewSigningKey(), other = NewSigningKey();
  sim_->delegations["targets"] = {
      {"team", {team}, 1, {"native_bundle/com.team.*"}, false},
      {"other", {other}, 1, {"native_bundle/*"}, false},
  };
  sim_->delegations["team"] = {{"sub", {sub}, 1, {"native_bundle/com.team.pay-*"}, true}};
  sim_->AddTarget("native_bundle/com.team.pay-1.0.0.atb", "pay", {}, "sub");
  sim_->AddTarget("native_bundle/com.team.map-1.0.0.atb", "map", {}, "other");
  sim_->AddTarget("native_bundle/com.team.map-1.0.0.atb", "map-from-team", {}, "team");
  // Outside "team"'s paths: "sub" may not list it even if it tries.
  sim_->AddTarget("native_bundle/com.evil.x-1.0.0.atb", "evil", {}, "sub");
  Start();
  auto c = Client();
  auto pay = c->FindTarget("native_bundle/com.team.pay-1.0.0.atb");
  ASSERT_TRUE(pay.ok()) << pay.error().ToString();
  EXPECT_EQ(pay->role, "sub");
  auto map = c->FindTarget("native_bundle/com.team.map-1.0.0.atb");
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->role, "team");  // team comes before other
  auto evil = c->FindTarget("native_bundle/com.evil.x-1.0.0.atb");
  ASSERT_FALSE(evil.ok());
  EXPECT_EQ(evil.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(fs::exists(Meta() + "/sub.json"));
}

TEST_F(TufClientTest, ATerminatingDelegationEndsTheSearch) {
  auto a = NewSigningKey(), b = NewSigningKey();
  sim_->delegations["targets"] = {{"a", {a}, 1, {"x/*"}, true}, {"b", {b}, 1, {"x/*"}, false}};
  sim_->AddTarget("x/f", "from b", {}, "b");
  sim_->targets["a"] = json::object();
  Start();
  auto f = Client()->FindTarget("x/f");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kNotFound);
}

TEST_F(TufClientTest, ADelegatedRoleMissingFromTheSnapshotIsNotUsed) {
  auto a = NewSigningKey();
  sim_->delegations["targets"] = {{"a", {a}, 1, {"*"}, false}};
  sim_->AddTarget("f", "f", {}, "a");
  sim_->omit_from_snapshot = {"a.json"};
  Start();
  auto found = Client()->FindTarget("f");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().ToString(), "a.json: snapshot.json does not list a.json");
}

TEST_F(TufClientTest, UnusualRoleNamesStaySafeInUrlsAndFileNames) {
  for (const std::string name : {"../delegatedrole", "?", "#", "/delegatedrole"}) {
    SCOPED_TRACE(name);
    TearDown();
    SetUp();
    auto k = NewSigningKey();
    sim_->delegations["targets"] = {{name, {k}, 1, {"*"}, false}};
    sim_->AddTarget("f", "f", {}, name);
    Start();
    const std::string encoded = TufEncodeComponent(name);
    auto found = Client()->FindTarget("f");
    ASSERT_TRUE(found.ok()) << found.error().ToString();
    // The client's own copy has the encoded name, inside its directory.
    EXPECT_TRUE(fs::exists(Meta() + "/" + encoded + ".json"));
    size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(Meta())) {
      EXPECT_TRUE(e.is_regular_file()) << e.path();
      ++files;
    }
    EXPECT_EQ(files, 5u);  // root, timestamp, snapshot, targets, the role
    EXPECT_FALSE(fs::exists(dir_ / "delegatedrole.json"));
  }
}

}  // namespace
}  // namespace atrium
