// The release repository: what `atrium release` writes, checked by reading
// it back with the TUF client (over file://) — init, adding packages with
// their deltas, publishing (versions only go up), withdrawing, refreshing
// before expiry, rotating each role's key so devices follow the root chain.
#include "atrium/dynamic/release_repository.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "atrium/dynamic/tuf_client.h"
#include "testing/package_fixture.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;

class ReleaseRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atrium-release-XXXXXX";
    root_ = mkdtemp(tmpl);
    repo_ = root_ + "/repo";
  }
  void TearDown() override { fs::remove_all(root_); }

  ReleaseOptions Options(int64_t now = kNow) {
    ReleaseOptions o;
    o.now_unix_s = now;
    return o;
  }
  std::unique_ptr<ReleaseRepository> Repo(int64_t now = kNow) {
    auto r = ReleaseRepository::Open(repo_, Options(now));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return std::move(r).value();
  }
  // A device that pinned 1.root.json.
  std::unique_ptr<TufClient> Device(int64_t now = kNow + 60) {
    if (!fs::exists(root_ + "/device/root.json")) {
      EXPECT_TRUE(TufClient::Init(root_ + "/device", repo_ + "/metadata/1.root.json").ok());
    }
    TufClientOptions o;
    o.metadata_dir = root_ + "/device";
    o.metadata_url = "file://" + repo_ + "/metadata";
    o.target_url = "file://" + repo_ + "/targets";
    o.now_unix_s = now;
    o.retries = 0;
    return std::move(TufClient::Open(o)).value();
  }
  std::string Bundle(const std::string& version) {
    return PackFixture(root_, keys_, "greeter", version);
  }

  std::string root_, repo_;
  Keys keys_;
};

TEST_F(ReleaseRepositoryTest, InitWritesVersionOneOfEveryRoleAndKeepsKeysOutside) {
  ReleaseInitOptions init;
  init.root = {3, 2};
  ASSERT_TRUE(ReleaseRepository::Init(repo_, init, Options()).ok());
  for (const char* f : {"1.root.json", "root.json", "1.targets.json", "1.snapshot.json",
                        "1.timestamp.json", "timestamp.json"}) {
    EXPECT_TRUE(fs::exists(repo_ + "/metadata/" + f)) << f;
  }
  for (const char* k : {"root-1", "root-2", "root-3", "targets-1", "snapshot-1", "timestamp-1"}) {
    EXPECT_TRUE(fs::exists(repo_ + ".keys/" + std::string(k) + ".key")) << k;
    EXPECT_EQ(fs::status(repo_ + ".keys/" + std::string(k) + ".key").permissions() &
                  fs::perms::others_read,
              fs::perms::none);
  }
  for (const auto& e : fs::recursive_directory_iterator(repo_)) {
    EXPECT_EQ(e.path().extension(), e.is_directory() ? "" : ".json") << e.path();
  }
  auto device = Device();
  Status s = device->Refresh();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(device->trusted().root, 1);
  EXPECT_TRUE(device->consistent_snapshot());
  Status again = ReleaseRepository::Init(repo_, init, Options());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  ReleaseInitOptions bad;
  bad.timestamp = {1, 2};
  Status s2 = ReleaseRepository::Init(root_ + "/other", bad, Options());
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.error().message,
            "timestamp: threshold 2 of 1 keys (needs 1 <= threshold <= keys <= 16)");
}

TEST_F(ReleaseRepositoryTest, AddedPackagesArePublishedWithTheirDeltasAndCustomFields) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  auto repo = Repo();
  ReleaseAddOptions o;
  o.channel = "beta";
  o.rollout_micro_percent = 12'500'000;
  o.app_id = "com.test.app";
  o.compat = "x86_64-linux/bundle-abi=1/t/host-api=1";
  ASSERT_TRUE(repo->Add(Bundle("1.0.0"), o).ok());
  auto v11 = repo->Add(Bundle("1.1.0"), o);
  ASSERT_TRUE(v11.ok()) << v11.error().ToString();
  EXPECT_EQ(v11->target_path, "native_bundle/com.test.greeter-1.1.0.atb");
  ASSERT_EQ(v11->deltas.size(), 1u);
  EXPECT_EQ(v11->deltas[0].from_version, "1.0.0");
  EXPECT_TRUE(v11->deltas[0].kept);
  EXPECT_LT(v11->deltas[0].length, v11->length);
  // A package whose signed app list leaves --app-id out: refused, naming it.
  ReleaseAddOptions other = o;
  other.app_id = "com.other.app";
  auto shop = repo->Add(PackFixture(root_, keys_, "greeter", "1.2.0", {"com.test.*"}), other);
  ASSERT_FALSE(shop.ok());
  EXPECT_NE(shop.error().message.find("refused: the package is for com.test.*, not com.other.app"),
            std::string::npos)
      << shop.error().ToString();
  // Same bytes again: nothing to do; other bytes under a released version: refused.
  auto same = repo->Add(Bundle("1.1.0"), o);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->unchanged || same->sha256 == v11->sha256);
  auto published = repo->Publish();
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->targets, 2);
  EXPECT_TRUE(published->targets_changed);

  auto device = Device();
  auto t = device->FindTarget("native_bundle/com.test.greeter-1.1.0.atb");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  const json::value custom = json::parse(t->custom_json);
  const json::object& a = custom.at("atrium").as_object();
  EXPECT_EQ(a.at("kind"), "native_bundle");
  EXPECT_EQ(a.at("id"), "com.test.greeter");
  EXPECT_EQ(a.at("version"), "1.1.0");
  EXPECT_EQ(a.at("channel"), "beta");
  EXPECT_EQ(a.at("app_id"), "com.test.app");
  EXPECT_EQ(a.at("rollout").at("micro_percent"), 12'500'000);
  EXPECT_EQ(a.at("rollout").at("seed"), "native_bundle/com.test.greeter@1.1.0");
  EXPECT_EQ(a.at("deltas").as_array().size(), 1u);
  const std::string delta_path(a.at("deltas").at(0).at("path").as_string());
  EXPECT_EQ(delta_path, "native_bundle/com.test.greeter-1.0.0-to-1.1.0.atd");
  auto delta = device->FindTarget(delta_path);
  ASSERT_TRUE(delta.ok());
  auto got = device->Download(*t, root_ + "/dl");
  ASSERT_TRUE(got.ok()) << got.error().ToString();

  // Publishing with nothing staged: targets stay, snapshot and timestamp go up.
  auto again = repo->Publish();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->targets_changed);
  EXPECT_EQ(again->targets, 2);
  EXPECT_EQ(again->snapshot, 3);
  EXPECT_EQ(again->timestamp, 3);
}

TEST_F(ReleaseRepositoryTest, AReleasedVersionNeverChanges) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  auto repo = Repo();
  ASSERT_TRUE(repo->Add(Bundle("1.0.0"), {}).ok());
  // Other bytes under the same id and version: an extra resource.
  const std::string src = Bundle("1.0.0");
  (void)src;
  const std::string other = root_ + "/pkg-src-greeter-1.0.0";  // PackFixture's source folder
  std::ofstream(other + "/extra.txt") << "different";
  auto changed = repo->Add(PackDir(other, keys_, ArtifactKind::kNativeBundle), {});
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(changed.error().message,
            "native_bundle/com.test.greeter-1.0.0.atb is already in the repository with other "
            "bytes: a released version never changes (release a new version)");
  Status bad_rollout = [&] {
    ReleaseAddOptions o;
    o.rollout_micro_percent = 100'000'001;
    auto r = repo->Add(Bundle("1.2.0"), o);
    return r.ok() ? Status::Ok() : Status(r.error());
  }();
  ASSERT_FALSE(bad_rollout.ok());
  EXPECT_EQ(bad_rollout.error().message, "rollout must be within 0..100%");
  // A second editor is refused while one holds the repository.
  auto second = ReleaseRepository::Open(repo_, Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kState);
}

TEST_F(ReleaseRepositoryTest, WithdrawnReleasesCarryTheirReason) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  auto repo = Repo();
  ASSERT_TRUE(repo->Add(Bundle("1.0.0"), {}).ok());
  ASSERT_TRUE(repo->Publish().ok());
  Status missing = repo->Remove("native_bundle", "com.test.greeter", "9.9.9", "r");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "native_bundle/com.test.greeter@9.9.9 is not in the repository "
            "(native_bundle/com.test.greeter-9.9.9.atb)");
  ASSERT_TRUE(repo->Remove("native_bundle", "com.test.greeter", "1.0.0", "leaks memory").ok());
  auto status = repo->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->unpublished_changes);
  ASSERT_TRUE(repo->Publish().ok());
  auto t = Device()->FindTarget("native_bundle/com.test.greeter-1.0.0.atb");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(json::parse(t->custom_json).at("atrium").at("withdrawn").at("reason"), "leaks memory");
}

TEST_F(ReleaseRepositoryTest, RefreshKeepsDevicesFromFreezing) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  ASSERT_TRUE(Device()->Refresh().ok());
  // Two days later the timestamp (24 h) has expired.
  const int64_t later = kNow + 2 * 86400;
  Status s = Device(later)->Refresh();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("freeze refused"), std::string::npos);
  auto repo = Repo(later);
  auto refreshed = repo->Refresh();
  ASSERT_TRUE(refreshed.ok());
  EXPECT_FALSE(refreshed->targets_changed);
  s = Device(later + 60)->Refresh();
  EXPECT_TRUE(s.ok()) << s.error().ToString();
}

TEST_F(ReleaseRepositoryTest, DevicesFollowEveryKeyRotation) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  ASSERT_TRUE(Device()->Refresh().ok());
  auto repo = Repo();
  for (const char* role : {"timestamp", "snapshot", "targets", "root"}) {
    SCOPED_TRACE(role);
    auto r = repo->RotateKey(role);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    auto device = Device();
    Status s = device->Refresh();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(device->trusted().root, r->root);
  }
  EXPECT_TRUE(fs::exists(repo_ + ".keys/root-1.key.retired"));
  auto bad = repo->RotateKey("mirror");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ReleaseRepositoryTest, AnAppTeamSignsItsPackagesInADelegatedRole) {
  ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, Options()).ok());
  auto repo = Repo();
  ReleaseDelegation team;
  team.name = "team-greeter";
  team.paths = {"native_bundle/com.test.*"};
  team.terminating = true;
  team.keys = {2, 2};
  ASSERT_TRUE(repo->Delegate(team).ok());
  EXPECT_EQ(repo->Delegate(team).error().code, ErrorCode::kAlreadyExists);
  ReleaseDelegation bad = team;
  bad.name = "targets";
  EXPECT_EQ(repo->Delegate(bad).error().code, ErrorCode::kInvalidArgument);
  ReleaseAddOptions in_role;
  in_role.role = "team-greeter";
  ASSERT_TRUE(repo->Add(Bundle("1.0.0"), in_role).ok());
  auto v11 = repo->Add(Bundle("1.1.0"), in_role);
  ASSERT_TRUE(v11.ok()) << v11.error().ToString();
  ASSERT_EQ(v11->deltas.size(), 1u);
  // Outside the role's paths: refused.
  ReleaseDelegation other;
  other.name = "team-maps";
  other.paths = {"native_bundle/com.maps.*"};
  ASSERT_TRUE(repo->Delegate(other).ok());
  ReleaseAddOptions wrong;
  wrong.role = "team-maps";
  auto outside = repo->Add(Bundle("1.2.0"), wrong);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().message,
            "native_bundle/com.test.greeter-1.2.0.atb is outside the paths of role team-maps "
            "([\"native_bundle/com.maps.*\"])");
  auto published = repo->Publish();
  ASSERT_TRUE(published.ok()) << published.error().ToString();
  EXPECT_TRUE(fs::exists(repo_ + "/metadata/1.team-greeter.json"));
  EXPECT_TRUE(fs::exists(repo_ + "/metadata/1.team-maps.json"));

  auto device = Device();
  auto t = device->FindTarget("native_bundle/com.test.greeter-1.1.0.atb");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->role, "team-greeter");
  auto all = device->AllTargets();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);  // 1.0.0, 1.1.0 and the delta between them
  // A second publish with nothing staged keeps the role's version.
  ASSERT_TRUE(repo->Publish().ok());
  EXPECT_FALSE(fs::exists(repo_ + "/metadata/2.team-greeter.json"));
  auto status = repo->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->unpublished_changes);
  size_t in_team = 0;
  for (const auto& s : status->targets) in_team += s.role == "team-greeter";
  EXPECT_EQ(in_team, 3u);
}

}  // namespace
}  // namespace atrium::testing
