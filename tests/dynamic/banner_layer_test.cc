// The DynamicLayer seam, tested with a layer that lives only in
// tests/dynamic/banner/: registered by itself, instantiated by
// Container::Open, recorded with each guarded launch, disabled by the launch
// guard at level 1 as the artifact activated since the last good launch, and
// rolled back at level 2 — with no change to any layer's code.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../container/test_app.h"
#include "../guard/guard_test_util.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/launch_guard.h"
#include "banner/banner_layer.h"

namespace atrium {
namespace {

using banner::BannerRow;
using testing::History;
using testing::Launch;
using testing::ScopedEnv;
using testing::TestApp;

bool Contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(BannerLayerTest, RegisteredOnceWithItsActivationPoint) {
  std::vector<DynamicLayerSpec> specs = RegisteredDynamicLayers();
  auto it = std::find_if(specs.begin(), specs.end(),
                         [](const DynamicLayerSpec& s) { return s.kind == "banner"; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->activation, ActivationPoint::kNextOpen);
  DynamicLayerSpec again = *it;
  Status dup = RegisterDynamicLayer(again);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  DynamicLayerSpec bad = again;
  bad.kind = "Banner!";
  EXPECT_EQ(RegisterDynamicLayer(bad).error().code, ErrorCode::kInvalidArgument);
  bad.kind = "other";
  bad.create = nullptr;
  EXPECT_EQ(RegisterDynamicLayer(bad).error().code, ErrorCode::kInvalidArgument);
}

TEST(BannerLayerTest, TheGuardRecordsDisablesAndRollsBackARegisteredLayer) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  banner::Install(app.data_dir(), "welcome", "1.0.0");
  EXPECT_EQ(Launch(app, true), 0);
  {
    LaunchHistory h = History(app);
    ASSERT_FALSE(h.launches.empty());
    EXPECT_EQ(h.launches[0].active_artifacts,
              (std::vector<ArtifactRef>{{"banner", "welcome", "1.0.0"}}));
  }
  banner::Install(app.data_dir(), "welcome", "2.0.0");
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, false, &r), 0);
  // Level 1: the banner activated since the last good launch is the suspect.
  EXPECT_EQ(Launch(app, false, &r), 1);
  EXPECT_EQ(r.decision.suspects, (std::vector<ArtifactRef>{{"banner", "welcome", "2.0.0"}}));
  EXPECT_TRUE(Contains(r.actions, "disabled banner:welcome@2.0.0")) << ::testing::PrintToString(r.actions);
  EXPECT_EQ(banner::Read(app.data_dir()),
            (std::vector<BannerRow>{{"welcome", "1.0.0", "active"},
                                    {"welcome", "2.0.0", "disabled"}}));
  // Level 2: every layer rolls back; 1.0.0 has no previous version.
  EXPECT_EQ(Launch(app, false, &r), 2);
  EXPECT_TRUE(Contains(r.actions, "disabled banner:welcome@1.0.0 (no previous version)"))
      << ::testing::PrintToString(r.actions);
  EXPECT_EQ(banner::Read(app.data_dir()),
            (std::vector<BannerRow>{{"welcome", "1.0.0", "disabled"},
                                    {"welcome", "2.0.0", "disabled"}}));
  // Every action is in the launch history with the decision's reason.
  LaunchHistory h = History(app);
  bool recorded = false;
  for (const GuardAction& a : h.actions) {
    recorded = recorded || (a.what == "disabled banner:welcome@2.0.0" && !a.why.empty());
  }
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace atrium
