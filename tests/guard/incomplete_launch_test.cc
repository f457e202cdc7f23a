// A launch that does not bring the app up whole is a failed launch: the home
// micro-app failing to open, or bundles that resolved at the last good launch
// no longer resolving (an update broke what requires it). Both are recorded
// "incomplete" with the update they point at, so the guard's strikes apply
// and the next launch disables it. Also: a same-launch fallback from a
// failing update is recorded with the version that actually ran.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../container/test_app.h"
#include "../fixture_bundles/include/fixtures.h"
#include "atrium/artifact_store.h"
#include "atrium/container.h"
#include "atrium/launch_guard.h"
#include "atrium/package.h"
#include "guard_test_util.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::Guarded;
using testing::History;
using testing::Keys;
using testing::PackFixture;
using testing::TestApp;

constexpr char kGreeter[] = "com.test.greeter";
constexpr char kConsumer[] = "com.test.consumer";

ArtifactRef Native(const std::string& id, const std::string& version) {
  return {"native_bundle", id, version};
}

// One guarded launch as `atrium run` makes it: open, start, open the home
// micro-app, let the pipeline finish, close. Returns the home's status.
Status LaunchAndOpenHome(const TestApp& app, LaunchGuardReport* report = nullptr) {
  auto c = Container::Open(Guarded(app));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().ToString());
  if (!c.ok()) return c.error();
  if (report != nullptr && (*c)->launch_guard() != nullptr) *report = *(*c)->launch_guard();
  Status started = (*c)->Start();
  EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().ToString());
  Status home = (*c)->router().Launch((*c)->app().home);
  (*c)->scheduler().RunMainLoopUntil([&] { return (*c)->pipeline()->finished(); },
                                     std::chrono::seconds(60));
  return home;
}

void InstallForced(const TestApp& app, const std::string& package) {
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto r = (*c)->InstallPackage(package, InstallAs::kStaged, /*force=*/true);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
}

std::vector<std::string> Resolved(const LaunchRecord& r) { return r.resolved; }

// Before: greeter 2.0.0 over a consumer requiring ^1.0.0 left the consumer
// unresolved; every launch's home failed, yet each was recorded good at
// level 0, for ever.
TEST(IncompleteLaunchTest, BundlesLostSinceTheLastGoodLaunchFailItAndTheUpdateIsDisabled) {
  TestApp app({"greeter", "consumer"}, "consumer");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string major = PackFixture(app.root(), keys, "greeter", "2.0.0");

  ASSERT_TRUE(LaunchAndOpenHome(app).ok());  // 1: good, both resolved
  {
    LaunchHistory h = History(app);
    ASSERT_EQ(h.launches.size(), 1u);
    EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kGood);
    EXPECT_EQ(Resolved(h.launches[0]), (std::vector<std::string>{kConsumer, kGreeter}));
  }
  InstallForced(app, major);

  Status home = LaunchAndOpenHome(app);  // 2: the consumer no longer resolves
  EXPECT_FALSE(home.ok());
  {
    LaunchHistory h = History(app);
    ASSERT_EQ(h.launches.size(), 2u);
    const LaunchRecord& l = h.launches[0];
    EXPECT_EQ(l.outcome, LaunchOutcome::kIncomplete);
    EXPECT_EQ(l.reason,
              "bundles that resolved at the last good launch no longer resolve: "
              "com.test.consumer (requires com.test.greeter ^1.0.0, but installed "
              "com.test.greeter is 2.0.0)");
    ASSERT_TRUE(l.blamed.has_value());
    EXPECT_EQ(*l.blamed, Native(kGreeter, "2.0.0"));
    EXPECT_TRUE(l.resolved.empty());
  }

  LaunchGuardReport report;
  ASSERT_TRUE(LaunchAndOpenHome(app, &report).ok());  // 3: level 1 disabled it
  EXPECT_EQ(report.decision.level, RecoveryLevel::kDisableRecent);
  ASSERT_TRUE(report.decision.blamed.has_value());
  EXPECT_EQ(*report.decision.blamed, Native(kGreeter, "2.0.0"));
  LaunchHistory h = History(app);
  EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kGood);
  EXPECT_EQ(Resolved(h.launches[0]), (std::vector<std::string>{kConsumer, kGreeter}));
}

// With no good launch to compare with, the home that does not open is the
// failure; the update among the home bundle and what it requires is blamed.
TEST(IncompleteLaunchTest, AHomeThatDoesNotOpenFailsTheLaunch) {
  TestApp app({"greeter", "consumer"}, "consumer");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  InstallForced(app, PackFixture(app.root(), keys, "greeter", "2.0.0"));

  Status home = LaunchAndOpenHome(app);
  ASSERT_FALSE(home.ok());
  {
    LaunchHistory h = History(app);
    ASSERT_EQ(h.launches.size(), 1u);
    EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kIncomplete);
    EXPECT_EQ(h.launches[0].reason, "the home micro-app did not open: " + home.error().ToString());
    ASSERT_TRUE(h.launches[0].blamed.has_value());
    EXPECT_EQ(*h.launches[0].blamed, Native(kGreeter, "2.0.0"));
  }
  LaunchGuardReport report;
  EXPECT_TRUE(LaunchAndOpenHome(app, &report).ok());
  EXPECT_EQ(report.decision.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(History(app).launches[0].outcome, LaunchOutcome::kGood);
}

// A micro-app other than home that fails to open does not fail the launch.
TEST(IncompleteLaunchTest, AnotherMicroAppThatDoesNotOpenIsNotALaunchFailure) {
  TestApp app({"greeter", "consumer"}, "consumer");
  app.WriteAppJson();
  {
    auto c = Container::Open(Guarded(app));
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    ASSERT_TRUE((*c)->Start().ok());
    EXPECT_FALSE((*c)->router().Launch("no-such-app").ok());
    EXPECT_TRUE((*c)->router().Launch((*c)->app().home).ok());
  }
  EXPECT_EQ(History(app).launches[0].outcome, LaunchOutcome::kGood);
}

// Before: the launch record named greeter 1.9.0, which failed to start; the
// version that ran was 1.3.0.
TEST(IncompleteLaunchTest, ASameLaunchFallbackRecordsTheVersionThatRan) {
  TestApp app({"greeter", "consumer"}, "consumer");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string good = PackFixture(app.root(), keys, "greeter", "1.3.0");
  const std::string bad = testing::PackFailingGreeter(app.root(), keys, "1.9.0");
  InstallForced(app, good);
  ASSERT_TRUE(LaunchAndOpenHome(app).ok());  // 1.3.0 active
  InstallForced(app, bad);
  {
    auto c = Container::Open(Guarded(app));
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    ASSERT_TRUE((*c)->Start().ok());
    EXPECT_EQ(History(app).launches[0].active_artifacts,
              (std::vector<ArtifactRef>{Native(kGreeter, "1.9.0")}));
    auto greeter = (*c)->services().Get<fixtures::Greeter>();  // loads 1.9.0: fails
    ASSERT_NE(greeter, nullptr);
    EXPECT_EQ((*c)->Bundle(kGreeter)->version, "1.3.0");
    EXPECT_EQ(History(app).launches[0].active_artifacts,
              (std::vector<ArtifactRef>{Native(kGreeter, "1.3.0")}));
  }
  EXPECT_EQ(History(app).launches[0].outcome, LaunchOutcome::kGood);
}

}  // namespace
}  // namespace atrium
