// The launch through the container: the startup pipeline built from the
// bundles' manifests, bundles loaded before their first task, handlers
// registered from activators, bundle executors, and launch failures.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <utility>

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

// One byte from `fd`, or '\0' after 60 s without one (the test then fails
// instead of hanging) or at end of file.
char ReadByte(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c = 0;
  if (poll(&p, 1, 60'000) != 1 || read(fd, &c, 1) != 1) return '\0';
  return c;
}

// The two pipes of the staged fixture's gate (ATRIUM_TEST_GATE_TASK).
struct Gate {
  int signal[2] = {-1, -1}, resume[2] = {-1, -1};
  Gate() {
    if (pipe2(signal, O_CLOEXEC) != 0 || pipe2(resume, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2";
  }
  ~Gate() {
    for (int fd : {signal[0], signal[1], resume[0], resume[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  // Lets a task held at the gate go on: its read sees end of file. The
  // other ends stay open until the gate goes (after the container), so no
  // number the fixture holds is reused meanwhile.
  void Open() {
    if (resume[1] >= 0) close(std::exchange(resume[1], -1));
  }
  std::string spec(const char* task) const {
    return std::string(task) + ":" + std::to_string(signal[1]) + ":" + std::to_string(resume[0]);
  }
};

// Closing the container while a bundle's idle-stage task runs: the bundle's
// Stop runs under the task (a close does not wait for bundle code it cannot
// cancel before stopping it), then the task goes on with the context it
// captured, and the close waits for it before anything it uses goes away.
// The fixture's gate orders the steps: the task has started, Stop has run,
// only then does the task do its work (append to the bundle's store).
TEST(LaunchTest, ClosingWhileABundleTaskRunsLetsItFinishWithItsContext) {
  TestApp app({"greeter", "staged"}, "greeter");
  {
    Gate gate;
    const std::string spec = gate.spec("settle");
    ScopedEnv env("ATRIUM_TEST_GATE_TASK", spec.c_str());
    auto c = Container::Open({app.app_dir(), app.data_dir()});
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    ASSERT_TRUE((*c)->Start().ok());
    std::thread closer;
    // Declared after `closer`, so it runs first on every way out: the gate
    // opens (a held task ends), then the close is waited for.
    struct Joiner {
      Gate& gate;
      std::thread& t;
      ~Joiner() {
        gate.Open();
        if (t.joinable()) t.join();
      }
    } joiner{gate, closer};
    ASSERT_EQ(ReadByte(gate.signal[0]), 's');  // settle runs, held at the gate
    closer = std::thread([&] { c->reset(); });
    ASSERT_EQ(ReadByte(gate.signal[0]), 'x');  // the bundle's Stop ran while settle waits
    ASSERT_EQ(write(gate.resume[1], "r", 1), 1);
  }
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_NE(Order(**c).find("settle"), std::string::npos) << Order(**c);
}

// Starts the app with com.test.staged:prepare critical and the fixture told
// by `knob` to fail it: the launch's error, and what the tasks recorded.
std::pair<Error, std::string> FailedLaunch(const char* knob) {
  ScopedEnv env(knob, "prepare");
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged:prepare"});
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  if (!c.ok()) return {c.error(), ""};
  Status s = (*c)->Start();
  if (s.ok()) return {MakeError(ErrorCode::kInternal, "the launch did not fail"), Order(**c)};
  return {s.error(), Order(**c)};
}

TEST(LaunchTest, AFailingCriticalTaskFailsTheLaunchWithItsReason) {
  auto [error, order] = FailedLaunch("ATRIUM_TEST_FAIL_TASK");
  EXPECT_EQ(error.bundle, "com.test.staged");
  EXPECT_NE(error.message.find("com.test.staged:prepare"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("could not open its cache"), std::string::npos) << error.message;
  EXPECT_EQ(order.find("paint"), std::string::npos);
}

// A handler that throws fails its task with the exception's message (taken
// while the bundle's code is still pinned: what() is the bundle's code).
TEST(LaunchTest, AThrowingCriticalTaskFailsTheLaunchWithTheMessage) {
  auto [error, order] = FailedLaunch("ATRIUM_TEST_THROW_TASK");
  EXPECT_EQ(error.bundle, "com.test.staged");
  EXPECT_NE(error.message.find("threw: prepare: the cache is gone"), std::string::npos)
      << error.message;
  EXPECT_EQ(order.find("paint"), std::string::npos);
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
