// The update cycle after a launch (UpdateSync, a container extension): held
// until the idle stage, run once per "interval_s" (injected clock), never
// for an inspection, and cancelled when the container closes first.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "atrium/container.h"
#include "atrium/dynamic/release_repository.h"
#include "atrium/dynamic/update.h"
#include "atrium/dynamic/update/testing.h"
#include "container/test_app.h"
#include "testing/package_fixture.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kNow = 1'800'000'000;

class UpdateSyncTest : public ::testing::Test {
 protected:
  UpdateSyncTest() : app_({"greeter", "consumer"}), clock_(kNow * 1000) {}

  void SetUp() override {
    update::SetUpdateClockForTesting(&clock_);
    repo_ = app_.root() + "/repo";
    ReleaseOptions o;
    o.now_unix_s = kNow;
    ASSERT_TRUE(ReleaseRepository::Init(repo_, {}, o).ok());
    fs::copy_file(repo_ + "/metadata/1.root.json", app_.app_dir() + "/root.json");
    WriteAppJson(R"({"repository": "file://)" + repo_ +
                 R"(", "root": "root.json", "interval_s": 3600})");
    auto repo = ReleaseRepository::Open(repo_, o);
    ASSERT_TRUE(repo.ok());
    ReleaseAddOptions add;
    add.compat = NativeCompatFingerprint();
    ASSERT_TRUE((*repo)->Add(PackFixture(app_.root(), keys_, "greeter", "1.9.0"), add).ok());
    ASSERT_TRUE((*repo)->Publish().ok());
  }
  void TearDown() override { update::SetUpdateClockForTesting(nullptr); }

  void WriteAppJson(const std::string& updates) {
    std::ofstream(app_.app_dir() + "/app.json")
        << R"({"id": "com.test.app", "version": "1.4.0", "home": "consumer",)"
        << R"( "baseline": ["bundles/greeter", "bundles/consumer"],)"
        << R"( "release_keys": [")" << keys_.pub_hex << R"("])"
        << (updates.empty() ? "" : R"(, "updates": )" + updates) << "}";
  }
  std::unique_ptr<Container> Open(bool inspect = false) {
    ContainerOptions o{app_.app_dir(), app_.data_dir(), false};
    o.inspect = inspect;
    auto c = Container::Open(std::move(o));
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return std::move(c).value();
  }

  TestApp app_;
  Keys keys_;
  internal::FakeClock clock_;
  std::string repo_;
};

TEST_F(UpdateSyncTest, RunsAfterTheIdleStageThenWaitsForTheInterval) {
  {
    auto c = Open();
    auto sync = UpdateSync::Of(*c);
    ASSERT_NE(sync, nullptr);
    // Best-effort work waits for the idle stage.
    EXPECT_EQ(sync->status(), "waiting for the idle stage");
    EXPECT_FALSE(sync->report().has_value());
    ASSERT_TRUE(c->Start().ok());
    ASSERT_TRUE(sync->WaitUntilDone(std::chrono::seconds(60)));
    EXPECT_EQ(sync->status(), "done: 1 staged, 0 skipped, 0 failed");
    ASSERT_TRUE(sync->report().has_value());
    EXPECT_EQ(sync->report()->targets.at(0).action, UpdateAction::kStaged);
  }
  {
    // Within the interval: not due.
    clock_.AdvanceMs(3599 * 1000);
    auto c = Open();
    auto sync = UpdateSync::Of(*c);
    ASSERT_NE(sync, nullptr);
    EXPECT_TRUE(sync->WaitUntilDone(std::chrono::milliseconds(0)));
    EXPECT_EQ(sync->status(), "not due until 2027-01-15T09:00:00Z");
    ASSERT_TRUE(c->Start().ok());
    auto greeter = c->Bundle("com.test.greeter");
    ASSERT_TRUE(greeter.ok());
    EXPECT_EQ(greeter->version, "1.9.0");  // the staged update, active at this launch
  }
  clock_.AdvanceMs(1000);
  auto c = Open();
  auto sync = UpdateSync::Of(*c);
  ASSERT_NE(sync, nullptr);
  ASSERT_TRUE(c->Start().ok());
  ASSERT_TRUE(sync->WaitUntilDone(std::chrono::seconds(60)));
  EXPECT_EQ(sync->status(), "done: 0 staged, 1 skipped, 0 failed");
}

TEST_F(UpdateSyncTest, AnInspectionOrAnAppWithoutARepositoryStartsNoSync) {
  {
    auto c = Open(/*inspect=*/true);
    EXPECT_EQ(UpdateSync::Of(*c), nullptr);
  }
  WriteAppJson(R"({"channel": "beta"})");
  auto c = Open();
  EXPECT_EQ(UpdateSync::Of(*c), nullptr);
}

TEST_F(UpdateSyncTest, ClosingBeforeTheIdleStageCancelsTheSync) {
  std::shared_ptr<UpdateSync> sync;
  {
    auto c = Open();
    sync = UpdateSync::Of(*c);
    ASSERT_NE(sync, nullptr);
  }
  EXPECT_TRUE(sync->WaitUntilDone(std::chrono::milliseconds(0)));
  EXPECT_EQ(sync->status(), "cancelled: the container closed");
  EXPECT_FALSE(fs::exists(app_.data_dir() + "/updates/last_sync"));
}

}  // namespace
}  // namespace atrium::testing
