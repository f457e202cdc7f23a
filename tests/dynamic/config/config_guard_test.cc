// The launch guard and config sets: a set whose value makes a startup task
// crash is the suspect of the next launch (activated since the last good
// one), which disables it at level 1, brings the previous set back, names
// it in the launch records, and launches well. Its own test binary: crash
// capture is installed once per process, by the first guarded launch.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atrium/container.h"
#include "atrium/dynamic/config.h"
#include "atrium/launch_guard.h"
#include "guard/guard_test_util.h"
#include "testing/package_fixture.h"

namespace atrium::testing {
namespace {

namespace fs = std::filesystem;

#if defined(ATRIUM_TEST_SANITIZED)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "sanitizers own the crash signals"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

std::string PackSet(const TestApp& app, const Keys& keys, const std::string& version,
                    const std::string& mode) {
  const std::string dir = app.root() + "/set-" + version;
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json")
      << R"({"id": "com.test.config", "version": ")" << version
      << R"(", "parameters": {"com.test.configured": {"mode": {"type": "string", "default": ")"
      << mode << R"("}}}})";
  return PackDir(dir, keys, ArtifactKind::kConfigSet);
}

void InstallStaged(const TestApp& app, const std::string& package) {
  auto c = Container::Open({app.app_dir(), app.data_dir(), false});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto r = (*c)->InstallPackage(package, InstallAs::kStaged);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
}

std::string Mode(const TestApp& app) {
  auto c = Container::Open({app.app_dir(), app.data_dir(), false});
  if (!c.ok()) return "<" + c.error().ToString() + ">";
  auto remote = RemoteConfig::Of(**c);
  return remote->host().GetString("com.test.configured/mode", "?") + " (" +
         remote->host().Source("com.test.configured/mode") + ")";
}

TEST(ConfigGuardTest, ASetThatCrashesTheLaunchIsRevertedAtLevelOne) {
  SKIP_UNDER_SANITIZERS();
  TestApp app({"configured"}, "none");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  EXPECT_EQ(Launch(app, true), 0);
  EXPECT_EQ(Mode(app), "default (default (bundle.json))");
  ASSERT_NO_FATAL_FAILURE(InstallStaged(app, PackSet(app, keys, "1.0.0", "calm")));
  EXPECT_EQ(Launch(app, true), 0);  // a good launch with 1.0.0
  EXPECT_EQ(Mode(app), "calm (remote 1.0.0 default)");
  ASSERT_NO_FATAL_FAILURE(InstallStaged(app, PackSet(app, keys, "2.0.0", "crash")));

  // The launch with 2.0.0 crashes in the bundle's startup task.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto c = Container::Open(Guarded(app));
    if (!c.ok()) ::_exit(90);
    (void)(*c)->Start();
    ::_exit(91);  // not reached: the task aborts
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGABRT);

  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  EXPECT_EQ(r.actions.size(), 1u);
  ASSERT_FALSE(r.actions.empty());
  EXPECT_EQ(r.actions[0].rfind("disabled config_set:com.test.config@2.0.0", 0), 0u) << r.actions[0];
  EXPECT_EQ(Mode(app), "calm (remote 1.0.0 default)");
  // The launch records name it.
  LaunchHistory h = History(app);
  bool named = false;
  for (const auto& a : h.actions)
    named |= a.what.find("config_set:com.test.config@2.0.0") != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace atrium::testing
