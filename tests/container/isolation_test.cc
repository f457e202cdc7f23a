// One bundle's failure does not fail the app: a failed required startup task
// isolates its bundle (its other tasks, and those of the bundles that require
// it, are skipped with the reason) and the launch goes on; only what app.json
// marks critical fails the launch. Real bundles: copies of the staged
// fixture's library under other names (com.test.dependent requires
// com.test.staged; com.test.other is independent).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "atrium/container.h"
#include "test_app.h"

namespace atrium {
namespace {

using testing::ScopedEnv;
using testing::TestApp;

// A bundle named `name` running the staged fixture's library, declaring
// `tasks` (JSON array text) and requiring `deps` (JSON array text).
void AddStagedCopy(TestApp& app, const std::string& dir, const std::string& name,
                   const std::string& deps, const std::string& tasks) {
  app.AddManifest(dir, R"({"name": ")" + name + R"(", "version": "1.0.0",
    "library": "libfixture_staged.so", "requires": )" +
                           deps + R"(, "startup": )" + tasks + "}");
  std::filesystem::copy_file(std::string(ATRIUM_TEST_BUNDLES_DIR) + "/staged/libfixture_staged.so",
                             app.bundle_dir(dir) + "/libfixture_staged.so");
}

constexpr char kTasks[] = R"([{"id": "prepare", "stage": "boot", "thread": "io"},
    {"id": "paint", "stage": "first_frame", "thread": "main", "after": ["prepare"]},
    {"id": "settle", "stage": "idle", "thread": "background", "priority": "best_effort",
     "optional": true}])";
// The dependent's tasks run after the staged bundle's first one, so the
// order of events is fixed: its tasks have not started when that one fails.
constexpr char kDependentTasks[] = R"([
    {"id": "prepare", "stage": "boot", "thread": "io", "after": ["com.test.staged:prepare"]},
    {"id": "paint", "stage": "first_frame", "thread": "main", "after": ["prepare"]},
    {"id": "settle", "stage": "idle", "thread": "background", "priority": "best_effort",
     "optional": true}])";

// staged (fails at prepare when told), dependent (requires staged), other.
void AddThreeBundles(TestApp& app) {
  AddStagedCopy(app, "dependent", "com.test.dependent",
                R"([{"name": "com.test.staged", "version": "^1.0.0"}])", kDependentTasks);
  AddStagedCopy(app, "other", "com.test.other", "[]", kTasks);
  app.WriteAppJson();
}

std::map<std::string, StartupTaskReport> TasksById(Container& c) {
  std::map<std::string, StartupTaskReport> out;
  for (StartupTaskReport& t : c.pipeline()->Tasks()) out.emplace(t.id, std::move(t));
  return out;
}

void FinishLaunch(Container& c) {
  ASSERT_NE(c.pipeline(), nullptr);
  ASSERT_TRUE(c.scheduler().RunMainLoopUntil([&] { return c.pipeline()->finished(); },
                                             std::chrono::seconds(60)));
}

// Before: the failed task failed the launch (Start returned the error, the
// five tasks of the other bundles were skipped).
TEST(IsolationTest, AFailedTaskIsolatesItsBundleAndItsDependentsAndTheLaunchGoesOn) {
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "com.test.staged:prepare");
  TestApp app({"greeter", "staged"}, "greeter");
  AddThreeBundles(app);
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  Status s = (*c)->Start();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  FinishLaunch(**c);
  EXPECT_TRUE((*c)->pipeline()->result().ok());

  auto tasks = TasksById(**c);
  EXPECT_EQ(tasks["com.test.staged:prepare"].state, StartupTaskState::kFailed);
  EXPECT_EQ(tasks["com.test.staged:paint"].state, StartupTaskState::kSkipped);
  EXPECT_EQ(tasks["com.test.staged:paint"].error,
            "skipped: bundle com.test.staged failed: startup task com.test.staged:prepare "
            "failed: prepare could not open its cache");
  for (const char* id :
       {"com.test.dependent:prepare", "com.test.dependent:paint", "com.test.dependent:settle"}) {
    EXPECT_EQ(tasks[id].state, StartupTaskState::kSkipped) << id;
    EXPECT_EQ(tasks[id].error,
              "skipped: bundle com.test.dependent failed: it requires com.test.staged, which "
              "failed")
        << id;
  }
  for (const char* id :
       {"com.test.other:prepare", "com.test.other:paint", "com.test.other:settle"}) {
    EXPECT_EQ(tasks[id].state, StartupTaskState::kOk) << id << ": " << tasks[id].error;
  }
  const std::vector<FailedBundle> failed = (*c)->pipeline()->FailedBundles();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].bundle, "com.test.staged");
  EXPECT_EQ(failed[0].task, "com.test.staged:prepare");
  EXPECT_EQ(failed[1].bundle, "com.test.dependent");
  EXPECT_EQ(failed[1].task, "");
}

TEST(IsolationTest, ACriticalBundleOrTaskStillFailsTheLaunch) {
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "com.test.staged:prepare");
  for (const std::string critical : {"com.test.staged", "com.test.staged:prepare"}) {
    SCOPED_TRACE(critical);
    TestApp app({"greeter", "staged"}, "greeter");
    AddThreeBundles(app);
    app.SetCritical({critical});
    auto c = Container::Open({app.app_dir(), app.data_dir()});
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    Status s = (*c)->Start();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().ToString(),
              "[com.test.staged] launch failed: critical startup task com.test.staged:prepare "
              "(stage boot) failed: prepare could not open its cache");
  }
}

// A critical task of a bundle isolated because what it requires failed.
TEST(IsolationTest, ACriticalTaskSkippedWithItsBundleFailsTheLaunch) {
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "com.test.staged:prepare");
  TestApp app({"greeter", "staged"}, "greeter");
  AddThreeBundles(app);
  app.SetCritical({"com.test.dependent:paint"});
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  Status s = (*c)->Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().ToString(),
            "[com.test.dependent] launch failed: critical startup task com.test.dependent:paint "
            "(stage first_frame) skipped: bundle com.test.dependent failed: it requires "
            "com.test.staged, which failed");
}

// Before: accepted, and the task never ran.
TEST(IsolationTest, RegisteringAStartupTaskTheManifestDoesNotDeclareIsAnError) {
  TestApp app({"greeter"}, "greeter");
  // Declares only "prepare"; the library registers prepare, paint, settle.
  AddStagedCopy(app, "partial", "com.test.partial", "[]",
                R"([{"id": "prepare", "stage": "boot", "thread": "io"}])");
  app.WriteAppJson();
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  ASSERT_TRUE((*c)->Start().ok());
  FinishLaunch(**c);
  const std::vector<FailedBundle> failed = (*c)->pipeline()->FailedBundles();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].reason.find("startup task 'paint' is not declared in com.test.partial's "
                                  "bundle.json (declared: prepare)"),
            std::string::npos)
      << failed[0].reason;
}

TEST(IsolationTest, CriticalEntriesAreValidated) {
  TestApp app({"greeter"}, "greeter");
  app.SetCritical({"not a bundle"});
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().ToString().find("/startup/critical/0: invalid critical entry 'not a bundle'"),
            std::string::npos)
      << c.error().ToString();
}

}  // namespace
}  // namespace atrium
