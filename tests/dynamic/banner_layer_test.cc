// The DynamicLayer seam, tested with a layer that lives only in
// tests/dynamic/banner/: it registers itself and its own artifact kind
// (header byte 200, banner.json), its signed packages install into the
// artifact store like any artifact, Container::Open instantiates it, the
// launch guard records its active banners with each launch, disables the
// one activated since the last good launch at level 1, rolls back at level
// 2, and re-hashes it after a failed launch — with no change to any layer.
#include "banner/banner_layer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../container/test_app.h"
#include "../guard/guard_test_util.h"
#include "atrium/artifact_kind.h"
#include "atrium/artifact_store.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/launch_guard.h"
#include "atrium/package.h"
#include "banner_test_util.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using banner::kBannerKind;
using banner::PackBanner;
using testing::BannerState;
using testing::History;
using testing::InstallActive;
using testing::Keys;
using testing::Launch;
using testing::LaunchWithBanner;
using testing::ScopedEnv;
using testing::Store;
using testing::TestApp;

bool Contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(BannerLayerTest, RegisteredWithItsOwnArtifactKind) {
  std::vector<DynamicLayerSpec> specs = RegisteredDynamicLayers();
  auto it = std::find_if(specs.begin(), specs.end(),
                         [](const DynamicLayerSpec& s) { return s.kind == "banner"; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->activation, ActivationPoint::kNextOpen);
  std::optional<ArtifactKindSpec> kind = FindArtifactKind("banner");
  ASSERT_TRUE(kind.has_value());
  EXPECT_EQ(kind->kind, kBannerKind);
  EXPECT_EQ(kind->manifest_name, "banner.json");
  EXPECT_EQ(ArtifactKindName(kBannerKind), std::string("banner"));
  EXPECT_EQ(ParseArtifactKind("banner"), kBannerKind);

  // A second layer of the same kind, or one taking the banner's byte, a
  // reserved byte, the format's own kind or a malformed name: refused, and
  // nothing is registered.
  DynamicLayerSpec again = *it;
  EXPECT_EQ(RegisterDynamicLayer(again).error().code, ErrorCode::kAlreadyExists);
  DynamicLayerSpec same_byte = again;
  same_byte.kind = "poster";
  Status s = RegisterDynamicLayer(same_byte);
  EXPECT_EQ(s.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(s.error().message.find("collides with banner (byte 200)"), std::string::npos)
      << s.error().message;
  DynamicLayerSpec reserved = again;
  reserved.kind = "poster";
  reserved.package_kind = static_cast<ArtifactKind>(9);
  EXPECT_EQ(RegisterDynamicLayer(reserved).error().code, ErrorCode::kInvalidArgument);
  DynamicLayerSpec native = again;  // the native layer (dynamic/native) has this kind
  native.kind = "native_bundle";
  native.package_kind = ArtifactKind::kNativeBundle;
  EXPECT_EQ(RegisterDynamicLayer(native).error().code, ErrorCode::kAlreadyExists);
  DynamicLayerSpec bad = again;
  bad.kind = "Banner!";
  EXPECT_EQ(RegisterDynamicLayer(bad).error().code, ErrorCode::kInvalidArgument);
  bad.kind = "other";
  bad.create = nullptr;
  EXPECT_EQ(RegisterDynamicLayer(bad).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(FindArtifactKind("poster").has_value());
  EXPECT_FALSE(FindArtifactKind("other").has_value());
}

TEST(BannerLayerTest, ItsManifestIsCheckedByTheLayerWhenPackedAndRead) {
  TestApp app({"greeter"}, "greeter");
  Keys keys;
  const std::string good = PackBanner(app.root(), keys.sec, "welcome", "1.0.0");
  ASSERT_EQ(good.rfind("error", 0), std::string::npos) << good;
  auto reader = PackageReader::Open(good);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  EXPECT_EQ((*reader)->info().kind, kBannerKind);
  EXPECT_EQ((*reader)->info().manifest_entry, "banner.json");

  const std::string no_text = PackBanner(app.root(), keys.sec, "welcome", "1.0.1",
                                         R"({"id": "welcome", "version": "1.0.1"})");
  EXPECT_NE(no_text.find("banner.json: missing required field 'text'"), std::string::npos)
      << no_text;
  const std::string extra = PackBanner(app.root(), keys.sec, "welcome", "1.0.2",
                                       R"j({"id": "welcome", "version": "1.0.2", "text": "x",
                                           "script": "alert(1)"})j");
  EXPECT_NE(extra.find("banner.json:/script: unknown field"), std::string::npos) << extra;
}

TEST(BannerLayerTest, TheGuardRecordsDisablesAndRollsBackARegisteredLayer) {
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  Keys keys;
  ASSERT_NO_FATAL_FAILURE(LaunchWithBanner(app, keys));
  {
    LaunchHistory h = History(app);
    ASSERT_FALSE(h.launches.empty());
    EXPECT_EQ(h.launches[0].active_artifacts,
              (std::vector<ArtifactRef>{{"banner", "welcome", "1.0.0"}}));
  }
  InstallActive(app, keys, PackBanner(app.root(), keys.sec, "welcome", "2.0.0"));
  EXPECT_EQ(BannerState(app, keys, "1.0.0"), "previous");
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, false, &r), 0);
  // Level 1: the banner activated since the last good launch is the suspect.
  EXPECT_EQ(Launch(app, false, &r), 1);
  EXPECT_EQ(r.decision.suspects, (std::vector<ArtifactRef>{{"banner", "welcome", "2.0.0"}}));
  EXPECT_TRUE(Contains(r.actions, "disabled banner:welcome@2.0.0"))
      << ::testing::PrintToString(r.actions);
  EXPECT_EQ(BannerState(app, keys, "2.0.0"), "disabled");
  EXPECT_EQ(BannerState(app, keys, "1.0.0"), "active");
  // Level 2: every layer rolls back; 1.0.0 has no previous version.
  EXPECT_EQ(Launch(app, false, &r), 2);
  EXPECT_TRUE(Contains(r.actions, "rolled banner:welcome@1.0.0 back to the baseline"))
      << ::testing::PrintToString(r.actions);
  EXPECT_EQ(BannerState(app, keys, "1.0.0"), "disabled");
  // Every action is in the launch history with the decision's reason.
  LaunchHistory h = History(app);
  bool recorded = false;
  for (const GuardAction& a : h.actions) {
    recorded = recorded || (a.what == "disabled banner:welcome@2.0.0" && !a.why.empty());
  }
  EXPECT_TRUE(recorded);
}

TEST(BannerLayerTest, ADamagedBannerIsFoundByTheIntegrityCheckAfterAFailedLaunch) {
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  Keys keys;
  ASSERT_NO_FATAL_FAILURE(LaunchWithBanner(app, keys));
  std::string dir;
  auto store = Store(app, keys);
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  for (const ArtifactRecord& rec : *list) {
    if (rec.kind == kBannerKind) dir = rec.dir;
  }
  store.reset();
  ASSERT_FALSE(dir.empty());
  std::ofstream(dir + "/banner.png", std::ios::trunc) << "tampered";
  {
    ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
    EXPECT_EQ(Launch(app, false), 0);
  }
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  ASSERT_FALSE(r.actions.empty());
  EXPECT_EQ(r.actions.front(),
            "disabled banner:welcome@1.0.0 (integrity check: its files do not match its package)");
  EXPECT_EQ(BannerState(app, keys, "1.0.0"), "disabled");
}

}  // namespace
}  // namespace atrium
