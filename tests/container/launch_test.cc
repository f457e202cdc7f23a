// The launch through the container: the startup pipeline built from the
// bundles' manifests, bundles loaded before their first task, handlers
// registered from activators, bundle executors, and launch failures.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "atrium/container.h"
#include "test_app.h"

namespace atrium {
namespace {

using testing::IsMapped;
using testing::ScopedEnv;
using testing::TestApp;

std::string Order(Container& c) {
  auto store = c.PrivateStoreOf("com.test.staged");
  if (!store.ok()) return "<" + store.error().ToString() + ">";
  auto v = (*store)->Get("order");
  return v.ok() && v.value() ? *v.value() : "";
}

// Start returns when the idle stage begins; this lets the idle-stage work end.
void FinishLaunch(Container& c) {
  ASSERT_NE(c.pipeline(), nullptr);
  ASSERT_TRUE(c.scheduler().RunMainLoopUntil([&] { return c.pipeline()->finished(); },
                                             std::chrono::seconds(60)));
}

TEST(LaunchTest, RunsTheStagesAndLoadsTheBundleBeforeItsFirstTask) {
  TestApp app({"greeter", "staged"}, "greeter");
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_FALSE(IsMapped("libfixture_staged.so"));
  Status s = (*c)->Start();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(IsMapped("libfixture_staged.so"));
  EXPECT_TRUE((*c)->pipeline()->idle_reached());
  FinishLaunch(**c);
  auto status = (*c)->Bundle("com.test.staged");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->loaded_by, "startup task com.test.staged:prepare");
  // greeter is lazy and has no task: still not loaded.
  EXPECT_FALSE(IsMapped("libfixture_greeter.so"));
  // prepare (boot) before paint (first_frame) before settle (idle); the
  // executor task ran too (anywhere in between). It is not a startup task,
  // so the pipeline finishing does not wait for it: wait on the main loop,
  // which the task wakes when it is done.
  ASSERT_TRUE((*c)->scheduler().RunMainLoopUntil(
      [&] { return Order(**c).find("executor") != std::string::npos; }, std::chrono::seconds(60)))
      << Order(**c);
  std::string order = Order(**c);
  EXPECT_LT(order.find("prepare"), order.find("paint")) << order;
  EXPECT_LT(order.find("paint"), order.find("settle")) << order;
  EXPECT_NE(order.find("executor"), std::string::npos) << order;
  EXPECT_EQ(order.find("too-late"), std::string::npos) << order;
  ASSERT_NE((*c)->pipeline(), nullptr);
  EXPECT_TRUE((*c)->pipeline()->finished());
  EXPECT_TRUE((*c)->scheduler().startup_idle());
  // Tasks are accounted to the bundle.
  bool found = false;
  for (const auto& b : (*c)->scheduler().Stats().bundles) {
    if (b.bundle != "com.test.staged") continue;
    found = true;
    EXPECT_GE(b.tasks.posted, 4u);  // 3 startup tasks + the executor task (+ the delayed one)
  }
  EXPECT_TRUE(found);
}

TEST(LaunchTest, StoppingABundleDropsItsPendingTasks) {
  TestApp app({"greeter", "staged"}, "greeter");
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Start().ok());
  FinishLaunch(**c);
  ASSERT_TRUE((*c)->Stop("com.test.staged").ok());
  uint64_t cancelled = 0;
  for (const auto& b : (*c)->scheduler().Stats().bundles) {
    if (b.bundle == "com.test.staged") cancelled = b.tasks.cancelled;
  }
  EXPECT_GE(cancelled, 1u);  // the 10-minute delayed task
  // Nothing of the bundle is left holding its library once the pool threads
  // have destroyed the tasks that ran (a worker drops a finished task's
  // closure, and with it the library reference, just after running it).
  // The deadline only guards against a hang.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (IsMapped("libfixture_staged.so") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(IsMapped("libfixture_staged.so"));
}

// Closing the container while a bundle's idle-stage task runs: the bundle's
// Stop runs under the task (a close does not wait for bundle code it cannot
// cancel before stopping it), then the task goes on with the context it
// captured, and the close waits for it before anything it uses goes away.
// The fixture's gate orders the steps: the task has started, Stop has run,
// only then does the task do its work (append to the bundle's store).
TEST(LaunchTest, ClosingWhileABundleTaskRunsLetsItFinishWithItsContext) {
  int signal[2], resume[2];
  ASSERT_EQ(pipe(signal), 0);
  ASSERT_EQ(pipe(resume), 0);
  const std::string gate = "settle:" + std::to_string(signal[1]) + ":" + std::to_string(resume[0]);
  ScopedEnv env("ATRIUM_TEST_GATE_TASK", gate.c_str());
  TestApp app({"greeter", "staged"}, "greeter");
  {
    auto c = Container::Open({app.app_dir(), app.data_dir()});
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    ASSERT_TRUE((*c)->Start().ok());
    char got = 0;
    ASSERT_EQ(read(signal[0], &got, 1), 1);
    EXPECT_EQ(got, 's');  // settle runs, held at the gate
    std::thread closer([&] { c->reset(); });
    ASSERT_EQ(read(signal[0], &got, 1), 1);
    EXPECT_EQ(got, 'x');  // the bundle's Stop ran while settle waits
    ASSERT_EQ(write(resume[1], "r", 1), 1);
    closer.join();
  }
  for (int fd : {signal[0], signal[1], resume[0], resume[1]}) close(fd);
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_NE(Order(**c).find("settle"), std::string::npos) << Order(**c);
}

TEST(LaunchTest, AFailingCriticalTaskFailsTheLaunchWithItsReason) {
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged:prepare"});
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok());
  Status s = (*c)->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().bundle, "com.test.staged");
  EXPECT_NE(s.error().message.find("com.test.staged:prepare"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("could not open its cache"), std::string::npos);
  EXPECT_EQ(Order(**c).find("paint"), std::string::npos);
}

TEST(LaunchTest, AFailingOptionalTaskDoesNot) {
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "settle");
  TestApp app({"greeter", "staged"}, "greeter");
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok());
  Status s = (*c)->Start();
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  FinishLaunch(**c);
  EXPECT_TRUE((*c)->pipeline()->result().ok());
  for (const auto& t : (*c)->pipeline()->Tasks()) {
    if (t.id == "com.test.staged:settle") {
      EXPECT_EQ(t.state, StartupTaskState::kFailed);
    }
  }
}

TEST(LaunchTest, ATaskWithoutAHandlerIsNamed) {
  ScopedEnv env("ATRIUM_TEST_UNREGISTERED", "paint");
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged"});
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok());
  Status s = (*c)->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("registered no handler for its startup task 'paint'"),
            std::string::npos)
      << s.error().message;
}

TEST(LaunchTest, ABadGraphFailsBeforeAnythingRuns) {
  TestApp app({"greeter", "staged"}, "greeter");
  app.AddManifest("broken", R"({"name": "com.test.broken", "version": "1.0.0",
    "startup": [{"id": "x", "stage": "boot", "after": ["com.test.staged:paint"]}]})");
  app.WriteAppJson();
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  Status s = (*c)->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kValidation);
  EXPECT_NE(s.error().message.find("com.test.broken:x (stage boot) runs after "
                                   "com.test.staged:paint of the later stage first_frame"),
            std::string::npos)
      << s.error().message;
  EXPECT_FALSE(IsMapped("libfixture_staged.so"));
  EXPECT_EQ((*c)->pipeline(), nullptr);
}

TEST(LaunchTest, AppStartupSectionConfiguresStagesAndPools) {
  TestApp app({"greeter"}, "greeter");
  app.AddManifest("custom", R"({"name": "com.test.custom", "version": "1.0.0",
    "startup": [{"id": "x", "stage": "settle", "thread": "decode"}]})");
  app.WriteAppJson();
  // Rewrite app.json with a startup section.
  std::string path = app.app_dir() + "/app.json";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.insert(text.rfind('}'),
              R"(, "startup": {"stages": ["boot", "settle"], "pools": {"decode": {"threads": 3}},
                 "max_threads": 20, "bundle_task_quota": 5})");
  std::ofstream(path) << text;
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ((*c)->app().startup.stages, (std::vector<std::string>{"boot", "settle"}));
  bool decode = false;
  for (const auto& p : (*c)->scheduler().Stats().pools) {
    if (p.name == "decode") {
      decode = true;
      EXPECT_EQ(p.max_threads, 3);
    }
  }
  EXPECT_TRUE(decode);
  EXPECT_EQ((*c)->scheduler().Stats().max_threads, 20);
  // The index keeps the section: a second open (fast path) sees the same.
  c->reset();
  auto again = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->app().startup.stages, (std::vector<std::string>{"boot", "settle"}));
  // The resource-only bundle's task has no library, so no handler: it fails,
  // naming the bundle, which is isolated; the launch goes on.
  ASSERT_TRUE((*again)->Start().ok());
  FinishLaunch(**again);
  EXPECT_TRUE((*again)->pipeline()->result().ok());
  auto failed = (*again)->pipeline()->FailedBundles();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].bundle, "com.test.custom");
  EXPECT_NE(failed[0].reason.find("registered no handler"), std::string::npos) << failed[0].reason;
}

}  // namespace
}  // namespace atrium
