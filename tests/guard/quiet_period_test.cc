// The launch guard on an injected clock (GuardedLaunchOptions::clock): a
// launch is marked good when the clock says the quiet period after idle has
// passed, not when real time has, and the launch record carries the clock's
// times. The marker is a real thread; the clock is a FakeClock the test
// steps, so "not good yet" holds by construction (the clock has not reached
// the end of the quiet period), not by waiting and hoping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "atrium/artifact_store.h"
#include "atrium/base/clock.h"
#include "atrium/guard/guarded_launch.h"
#include "launch_log.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `pred`; false after a minute (a hang guard, not a timing check).
template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(QuietPeriodTest, TheLaunchIsGoodWhenTheClockSaysTheQuietPeriodPassed) {
  char tmpl[] = "/tmp/atrium-quiet-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  internal::FakeClock clock(1'700'000'000'000, /*steady_ns=*/7'000'000'000);
  {
    auto store = ArtifactStore::Open({dir, {}, "com.test.app"});
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    internal::GuardedLaunchOptions o;
    o.data_dir = dir;
    o.app_version = "1.0.0";
    o.config.quiet_period = 5000ms;
    o.install_crash_capture = false;
    o.clock = &clock;
    auto launch = internal::GuardedLaunch::Begin(std::move(o), **store);
    ASSERT_NE(launch, nullptr);
    ASSERT_FALSE(launch->decision().safe_mode);
    launch->OnStartCalled();
    clock.AdvanceMs(1200);  // the launch takes 1.2 s by the clock
    launch->OnIdle();
    clock.AdvanceMs(4999);
    launch->ClockAdvanced();
    EXPECT_FALSE(launch->good());  // 1 ms of the quiet period left by the clock
    clock.AdvanceMs(1);
    launch->ClockAdvanced();
    ASSERT_TRUE(Eventually([&] { return launch->good(); }));
    launch->Close();
  }
  auto log = internal::LaunchLog::Open(dir + "/state.db");
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  auto recent = (*log)->Recent(5);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 1u);
  const LaunchRecord& r = recent->front();
  EXPECT_EQ(r.outcome, LaunchOutcome::kGood);
  EXPECT_EQ(r.started_ms, 1'700'000'000'000);
  EXPECT_EQ(r.ended_ms, 1'700'000'006'200);  // idle at +1.2 s, good 5 s later
  fs::remove_all(dir);
}

}  // namespace
}  // namespace atrium
