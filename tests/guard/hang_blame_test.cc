// Hangs are blamed on the bundle whose code holds things up, not on the
// thread that waits for it, and are caught after the launch too. Each case
// runs a guarded launch in a forked child (the watchdog ends a hung process
// with status 70) and reads the launch record it left. The gated_* fixtures
// are installed as updates (so blame can name either side) and do what the
// child's fixtures::Gate plans, in an order forced by conditions.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "../container/test_app.h"
#include "../fixture_bundles/include/fixtures.h"
#include "atrium/container.h"
#include "atrium/launch_guard.h"
#include "guard_test_util.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

using testing::History;
using testing::Keys;
using testing::PackFixture;
using testing::SetLaunchGuardConfig;
using testing::TestApp;

constexpr char kA[] = "com.test.gated_a";

// An app of gated bundles, each also installed as update 1.1.0, whose
// watchdog fires after 300 ms of a blocked main loop or open.
void MakeApp(TestApp& app, const std::vector<std::string>& fixtures) {
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  SetLaunchGuardConfig(app, R"({"watchdog": {"main_loop_blocked_ms": 300}})");
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  for (const std::string& f : fixtures) {
    auto r = (*c)->InstallPackage(PackFixture(app.root(), keys, f, "1.1.0"), InstallAs::kActive);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }
}

// Runs `body` on a guarded container in a child process (the watchdog's
// default: record the hang, exit 70); returns the child's exit status.
int InChild(const TestApp& app, const std::function<void(Container&, fixtures::Gate&)>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    ContainerOptions o{app.app_dir(), app.data_dir()};
    o.launch_guard = true;
    auto c = Container::Open(std::move(o));
    if (!c.ok()) _exit(2);
    auto gate = std::make_shared<fixtures::Gate>();
    if (!(*c)->services().Register<fixtures::Gate>(gate).ok()) _exit(3);
    body(**c, *gate);
    _exit(0);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Before: the main thread's task (gated_h:bind) waited on the lifecycle lock
// held by gated_a's Start, and the watchdog blamed gated_h's update (level 1
// then disabled an innocent update). Now the main thread waits for gated_a's
// Start on an io thread, which waits for the main loop: the record blames
// gated_a.
TEST(HangBlameTest, AMainThreadWaitingForABundleStartingElsewhereBlamesThatBundle) {
  TestApp app({"gated_a", "gated_h"}, "none");
  MakeApp(app, {"gated_a", "gated_h"});
  const int status = InChild(app, [](Container& c, fixtures::Gate& gate) {
    gate.Plan(kA, {"arrive", "main-wait"});
    gate.Plan("com.test.gated_a:prep", {});
    gate.Plan("com.test.gated_h:bind", {"await:com.test.gated_a", "release:com.test.gated_a",
                                        "get:com.test.gated_a.Service"});
    (void)c.Start();
  });
  EXPECT_EQ(status, 70);
  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 1u);
  const LaunchRecord& l = h.launches[0];
  EXPECT_EQ(l.outcome, LaunchOutcome::kHung);
  ASSERT_TRUE(l.blamed.has_value()) << l.reason;
  EXPECT_EQ(*l.blamed, (ArtifactRef{"native_bundle", kA, "1.1.0"}));
  EXPECT_EQ(l.reason.rfind("main loop blocked ", 0), 0u) << l.reason;
  EXPECT_NE(l.reason.find(", waiting for bundle com.test.gated_a (started or stopped by another "
                          "thread)"),
            std::string::npos)
      << l.reason;
}

// Before: a micro-app open that hung after the launch (outside the main loop)
// was watched by nothing; the app hung for ever. Now the open is watched like
// a main-loop task, and the bundle whose Start holds it is blamed.
TEST(HangBlameTest, AMicroAppOpenThatHangsAfterTheLaunchIsRecordedAndBlamed) {
  TestApp app({"gated_b"}, "none");
  MakeApp(app, {"gated_b"});
  const int status = InChild(app, [](Container& c, fixtures::Gate& gate) {
    gate.Plan("com.test.gated_b", {"arrive"});  // never released
    if (!c.Start().ok()) _exit(4);
    (void)c.router().Launch("gated-b");
  });
  EXPECT_EQ(status, 70);
  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 1u);
  const LaunchRecord& l = h.launches[0];
  EXPECT_EQ(l.outcome, LaunchOutcome::kHung);
  EXPECT_EQ(l.reason.rfind("micro-app 'gated-b' open blocked ", 0), 0u) << l.reason;
  ASSERT_TRUE(l.blamed.has_value()) << l.reason;
  EXPECT_EQ(*l.blamed, (ArtifactRef{"native_bundle", "com.test.gated_b", "1.1.0"}));
}

}  // namespace
}  // namespace atrium
