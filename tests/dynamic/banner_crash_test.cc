// Blame by artifact kind + id, for any registered layer: a crash while the
// banner layer's artifact runs on the thread ("banner:welcome" in the
// thread's activity) is blamed on that banner, and the next launch disables
// exactly it. Its own test binary: crash capture is installed once per
// process, by the first guarded launch, with that app's crash file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "../guard/guard_test_util.h"
#include "atrium/container.h"
#include "atrium/launch_guard.h"
#include "atrium/thread_activity.h"
#include "banner/banner_layer.h"
#include "banner_test_util.h"

namespace atrium {
namespace {

using banner::PackBanner;
using testing::BannerState;
using testing::InstallActive;
using testing::Keys;
using testing::Launch;
using testing::LaunchWithBanner;
using testing::TestApp;

#if defined(ATRIUM_TEST_SANITIZED)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "sanitizers own the crash signals"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

// A crash while the layer's artifact runs on the thread ("banner:welcome" in
// the thread's activity) is blamed on that artifact, and the next launch
// disables exactly it: blame by artifact kind + id, for any registered layer.
TEST(BannerLayerTest, ACrashWhileABannerRunsIsBlamedOnIt) {
  SKIP_UNDER_SANITIZERS();
  TestApp app({"greeter", "staged"}, "greeter");
  Keys keys;
  ASSERT_NO_FATAL_FAILURE(LaunchWithBanner(app, keys));
  // A launch in a child process that crashes while the banner's code runs.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto c = Container::Open(testing::Guarded(app));
    if (!c.ok()) ::_exit(90);
    ActivityScope running(ActivityField::kArtifact, "banner:welcome");
    std::abort();
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGABRT);

  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  ASSERT_TRUE(r.decision.blamed.has_value());
  EXPECT_EQ(*r.decision.blamed, (ArtifactRef{"banner", "welcome", "1.0.0"}));
  EXPECT_EQ(r.actions, (std::vector<std::string>{"disabled banner:welcome@1.0.0 (blamed)"}));
  EXPECT_EQ(BannerState(app, keys, "1.0.0"), "disabled");
  auto reports = ReadCrashReports(app.data_dir() + "/state.db", 5);
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ(reports->front().artifact, "banner:welcome");
}

}  // namespace
}  // namespace atrium
