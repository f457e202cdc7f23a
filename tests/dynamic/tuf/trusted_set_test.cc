// Unit tests for atrium/dynamic/tuf/trusted_set.h, the client's state
// machine, fed bytes directly (tests/dynamic/update/tuf_client_test.cc drives it
// through the client over a repository): steps out of order are kState and
// change nothing, a delegated role is only loaded through a delegator that
// delegates it, and KeysRotated compares the key ids of a role.
//
// Concurrency: single-threaded.
#include "atrium/dynamic/tuf/trusted_set.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "signed_files.h"

namespace atrium::tuf {
namespace {

namespace json = boost::json;
using namespace testing;  // NOLINT: the signed-file helpers

void ExpectRefused(const Status& s, ErrorCode code, const std::string& file,
                   const std::string& message) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, code);
  EXPECT_EQ(s.error().file, file);
  EXPECT_EQ(s.error().message, message);
}

template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? Status::Ok() : Status(r.error());
}

json::object TeamPart() {
  json::object o = CommonPart("targets");
  json::object targets;
  targets["team/app.lua"] = TargetFilePart("team\n");
  o["targets"] = std::move(targets);
  return o;
}

class TrustedSetTest : public ::testing::Test {
 protected:
  TrustedSet Open() {
    Result<TrustedSet> set = TrustedSet::Open(root_, kNow);
    EXPECT_TRUE(set.ok()) << set.error().ToString();
    return std::move(set).value();
  }
  // The set with every top-level role loaded.
  TrustedSet Loaded() {
    TrustedSet set = Open();
    EXPECT_EQ(*set.UpdateTimestamp(timestamp_), TrustedSet::TimestampOutcome::kNew);
    EXPECT_TRUE(set.UpdateSnapshot(snapshot_).ok());
    EXPECT_TRUE(set.UpdateTargets(targets_).ok());
    return set;
  }

  RoleSigners keys_;
  std::string root_ = Sign(RootPart(keys_), {keys_.root});
  std::string team_ = Sign(TeamPart(), {keys_.team});
  std::string targets_ = Sign(TargetsPart(&keys_.team), {keys_.targets});
  std::string snapshot_ = Sign(
      SnapshotPart({{"targets.json", {1, targets_}}, {"team.json", {1, team_}}}), {keys_.snapshot});
  std::string timestamp_ = Sign(TimestampPart(snapshot_), {keys_.timestamp});
};

TEST_F(TrustedSetTest, TheRolesLoadInTheirOrder) {
  TrustedSet set = Loaded();
  ASSERT_TRUE(set.UpdateDelegated(team_, "team", "targets", "team.json").ok());
  ASSERT_NE(set.timestamp(), nullptr);
  ASSERT_NE(set.snapshot(), nullptr);
  ASSERT_NE(set.targets("team"), nullptr);
  EXPECT_EQ(set.targets("team")->targets.count("team/app.lua"), 1u);
  EXPECT_EQ(set.delegator_of("team"), "targets");
  EXPECT_EQ(set.delegator_of("targets"), "root");
  EXPECT_EQ(set.targets("ops"), nullptr);
  EXPECT_EQ(set.delegator_of("ops"), "");
}

TEST_F(TrustedSetTest, OpenNeedsARootSignedByItsOwnKeys) {
  ExpectRefused(StatusOf(TrustedSet::Open(Sign(RootPart(keys_), {keys_.targets}), kNow)),
                ErrorCode::kValidation, "root.json",
                "root role: 1 signature, threshold 1, 0 valid");
  ExpectRefused(StatusOf(TrustedSet::Open(timestamp_, kNow)), ErrorCode::kValidation, "root.json",
                "expected 'root', got 'timestamp'");
  MetadataLimits small;
  small.root = 64;
  Result<TrustedSet> big = TrustedSet::Open(root_, kNow, small);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kParse);
  // Its expiry counts only once the root chain is done.
  Result<TrustedSet> late = TrustedSet::Open(root_, kExpires);
  ASSERT_TRUE(late.ok());
  ExpectRefused(late->CheckRootFresh(), ErrorCode::kValidation, "root.json",
                "expired at " + FormatUtcTime(kExpires) + " (now " + FormatUtcTime(kExpires) +
                    "): freeze refused");
  ExpectRefused(StatusOf(late->UpdateTimestamp(timestamp_)), ErrorCode::kValidation, "root.json",
                "expired at " + FormatUtcTime(kExpires) + " (now " + FormatUtcTime(kExpires) +
                    "): freeze refused");
  EXPECT_EQ(late->timestamp(), nullptr);
}

TEST_F(TrustedSetTest, RootMovesOneVersionAtATimeUntilTheTimestamp) {
  TrustedSet set = Open();
  RoleSigners next = keys_;
  next.root = NewKey(21);
  // Version 2 signed by the new key only, then by both.
  ExpectRefused(set.UpdateRoot(Sign(RootPart(next, 2), {next.root})), ErrorCode::kValidation,
                "root.json", "root (trusted v1 keys) role: 1 signature, threshold 1, 0 valid");
  ExpectRefused(set.UpdateRoot(Sign(RootPart(next, 2), {keys_.root})), ErrorCode::kValidation,
                "root.json", "root (its own keys) role: 1 signature, threshold 1, 0 valid");
  ExpectRefused(set.UpdateRoot(Sign(RootPart(keys_, 3), {keys_.root}), "3.root.json"),
                ErrorCode::kValidation, "3.root.json", "version 3, expected 2");
  ExpectRefused(set.UpdateRoot(root_), ErrorCode::kValidation, "root.json",
                "version 1, expected 2: rollback refused");
  EXPECT_EQ(set.root().version, 1);
  ASSERT_TRUE(set.UpdateRoot(Sign(RootPart(next, 2), {keys_.root, next.root})).ok());
  EXPECT_EQ(set.root().version, 2);
  // Once a timestamp is trusted, no root changes, not even a valid one.
  ASSERT_TRUE(set.UpdateTimestamp(timestamp_).ok());
  RoleSigners rotated = next;
  rotated.timestamp = NewKey(22);
  const std::string v3 = Sign(RootPart(rotated, 3), {next.root});
  ExpectRefused(set.UpdateRoot(v3, "3.root.json"), ErrorCode::kState, "3.root.json",
                "root cannot change after the timestamp is loaded");
  EXPECT_EQ(set.root().version, 2);
  // What the client checks next (5.3.11): v3 rotates the timestamp key.
  Result<Envelope> e = ParseEnvelope(v3, "3.root.json", 1 << 20);
  ASSERT_TRUE(e.ok());
  Result<Root> root3 = ReadRoot(*e);
  ASSERT_TRUE(root3.ok());
  EXPECT_TRUE(TrustedSet::KeysRotated(set.root(), *root3, "timestamp"));
  EXPECT_FALSE(TrustedSet::KeysRotated(set.root(), *root3, "snapshot"));
  EXPECT_FALSE(TrustedSet::KeysRotated(set.root(), *root3, "root"));
}

TEST_F(TrustedSetTest, StepsOutOfOrderAreStateErrorsAndChangeNothing) {
  TrustedSet set = Open();
  ExpectRefused(set.UpdateSnapshot(snapshot_), ErrorCode::kState, "snapshot.json",
                "no trusted timestamp");
  ExpectRefused(set.UpdateSnapshot(snapshot_, /*local=*/true), ErrorCode::kState, "snapshot.json",
                "no trusted timestamp");
  ExpectRefused(set.UpdateTargets(targets_), ErrorCode::kState, "targets.json",
                "no trusted snapshot");
  ExpectRefused(set.UpdateDelegated(team_, "team", "targets", "team.json"), ErrorCode::kState,
                "team.json", "no trusted snapshot");
  EXPECT_EQ(set.snapshot(), nullptr);
  EXPECT_EQ(set.targets("targets"), nullptr);

  ASSERT_TRUE(set.UpdateTimestamp(timestamp_).ok());
  ExpectRefused(set.UpdateTargets(targets_), ErrorCode::kState, "targets.json",
                "no trusted snapshot");
  ASSERT_TRUE(set.UpdateSnapshot(snapshot_).ok());
  ExpectRefused(StatusOf(set.UpdateTimestamp(timestamp_)), ErrorCode::kState, "timestamp.json",
                "timestamp cannot change after the snapshot is loaded");
  // The delegator must be loaded; root delegates only "targets".
  ExpectRefused(set.UpdateDelegated(team_, "team", "targets", "team.json"), ErrorCode::kState,
                "team.json", "delegator targets is not loaded");
  ExpectRefused(set.UpdateDelegated(team_, "team", "root", "team.json"), ErrorCode::kState,
                "team.json", "root delegates only 'targets'");
  EXPECT_EQ(set.targets("team"), nullptr);

  ASSERT_TRUE(set.UpdateTargets(targets_).ok());
  ExpectRefused(set.UpdateSnapshot(snapshot_), ErrorCode::kState, "snapshot.json",
                "snapshot cannot change after targets are loaded");
  EXPECT_EQ(set.snapshot()->version, 1);
}

TEST_F(TrustedSetTest, ADelegatedRoleLoadsOnlyThroughADelegatorThatDelegatesIt) {
  TrustedSet set = Loaded();
  // "ops" is in no delegation of targets.json (nor in the snapshot).
  ExpectRefused(set.UpdateDelegated(team_, "ops", "targets", "ops.json"), ErrorCode::kValidation,
                "ops.json", "targets does not delegate to ops");
  // "team" itself delegates nothing.
  ASSERT_TRUE(set.UpdateDelegated(team_, "team", "targets", "team.json").ok());
  ExpectRefused(set.UpdateDelegated(team_, "sub", "team", "sub.json"), ErrorCode::kValidation,
                "sub.json", "team does not delegate to sub");
  EXPECT_EQ(set.targets("ops"), nullptr);
  EXPECT_EQ(set.targets("sub"), nullptr);
}

TEST_F(TrustedSetTest, ADelegatedRoleIsVerifiedWithItsDelegatorsKeys) {
  // team.json signed by the top-level targets key, which "team" does not list.
  const std::string forged = Sign(TeamPart(), {keys_.targets});
  snapshot_ = Sign(SnapshotPart({{"targets.json", {1, targets_}}, {"team.json", {1, forged}}}),
                   {keys_.snapshot});
  timestamp_ = Sign(TimestampPart(snapshot_), {keys_.timestamp});
  TrustedSet set = Loaded();
  ExpectRefused(set.UpdateDelegated(forged, "team", "targets", "team.json"), ErrorCode::kValidation,
                "team.json", "team role: 1 signature, threshold 1, 0 valid");
  EXPECT_EQ(set.targets("team"), nullptr);
}

TEST_F(TrustedSetTest, ADelegatedRoleMustBeInTheSnapshot) {
  snapshot_ = Sign(SnapshotPart({{"targets.json", {1, targets_}}}), {keys_.snapshot});
  timestamp_ = Sign(TimestampPart(snapshot_), {keys_.timestamp});
  TrustedSet set = Loaded();
  ExpectRefused(set.UpdateDelegated(team_, "team", "targets", "team.json"), ErrorCode::kValidation,
                "team.json", "snapshot.json does not list team.json");
  EXPECT_EQ(set.targets("team"), nullptr);
}

TEST(KeysRotatedTest, ComparesTheKeyIdsOfARole) {
  Root old_root;
  old_root.roles["timestamp"] = RoleKeys{{"a", "b"}, 1};
  old_root.roles["snapshot"] = RoleKeys{{"c"}, 1};
  Root same = old_root;
  same.roles["timestamp"] = RoleKeys{{"b", "a"}, 2};  // reordered, new threshold
  EXPECT_FALSE(TrustedSet::KeysRotated(old_root, same, "timestamp"));
  EXPECT_FALSE(TrustedSet::KeysRotated(old_root, same, "snapshot"));
  Root added = old_root;
  added.roles["timestamp"].keyids.push_back("d");
  EXPECT_TRUE(TrustedSet::KeysRotated(old_root, added, "timestamp"));
  Root removed = old_root;
  removed.roles["timestamp"].keyids = {"a"};
  EXPECT_TRUE(TrustedSet::KeysRotated(old_root, removed, "timestamp"));
  Root replaced = old_root;
  replaced.roles["snapshot"].keyids = {"e"};
  EXPECT_TRUE(TrustedSet::KeysRotated(old_root, replaced, "snapshot"));
  EXPECT_FALSE(TrustedSet::KeysRotated(old_root, replaced, "timestamp"));
  // A role either root lacks counts as rotated.
  EXPECT_TRUE(TrustedSet::KeysRotated(old_root, same, "targets"));
  Root without = old_root;
  without.roles.erase("snapshot");
  EXPECT_TRUE(TrustedSet::KeysRotated(old_root, without, "snapshot"));
  EXPECT_TRUE(TrustedSet::KeysRotated(without, old_root, "snapshot"));
}

}  // namespace
}  // namespace atrium::tuf
