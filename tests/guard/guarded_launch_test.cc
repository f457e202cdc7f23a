// The launch guard inside the container (ContainerOptions::launch_guard):
// escalation across launches of a real app in this process, the integrity
// of private data through level 3, and the bad inputs: a launch killed
// before it was marked, a corrupted or truncated crash file, and a state.db
// that is damaged or locked (the app still starts, in safe mode, and says
// why). Crashes and hangs of real processes: guard_e2e_test.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "../container/test_app.h"
#include "atrium/container.h"
#include "atrium/guard/test_hooks.h"
#include "atrium/launch_guard.h"
#include "atrium/private_store.h"
#include "crash_record_bytes.h"
#include "guard_test_util.h"
#include "launch_log.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::Guarded;
using testing::History;
using testing::Launch;
using testing::ScopedEnv;
using testing::TestApp;

void PutPrivate(const TestApp& app, const std::string& value) {
  auto store = PrivateStore::Open(app.data_dir() + "/private/com.test.staged.db");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put("user_note", value).ok());
}

std::string GetPrivate(const TestApp& app) {
  auto store = PrivateStore::Open(app.data_dir() + "/private/com.test.staged.db");
  if (!store.ok()) return "<" + store.error().ToString() + ">";
  auto v = (*store)->Get("user_note");
  return v.ok() && *v ? **v : "<missing>";
}

TEST(GuardedLaunchTest, RequiredTaskFailuresEscalateToLevelThreeAndKeepPrivateData) {
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  EXPECT_EQ(Launch(app, true), 0);
  PutPrivate(app, "kept through every level");
  fs::create_directories(app.data_dir() + "/cache/http");
  std::ofstream(app.data_dir() + "/cache/http/entry") << "cached";
  {
    ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
    LaunchGuardReport r;
    EXPECT_EQ(Launch(app, false, &r), 0);
    EXPECT_EQ(Launch(app, false, &r), 1);
    EXPECT_NE(r.decision.reason.find("required task failed"), std::string::npos)
        << r.decision.reason;
    EXPECT_EQ(Launch(app, false, &r), 2);
    EXPECT_EQ(Launch(app, false, &r), 3);
    EXPECT_EQ(r.decision.consecutive_failures, 3);
    bool cleared = false;
    for (const auto& a : r.actions) cleared = cleared || a.find("cleared cache") == 0;
    EXPECT_TRUE(cleared);
    EXPECT_FALSE(fs::exists(app.data_dir() + "/cache"));
  }
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 3);  // the fourth failure's decision
  EXPECT_EQ(Launch(app, true, &r), 0);  // the previous launch was good
  EXPECT_EQ(GetPrivate(app), "kept through every level");

  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 7u);
  const LaunchOutcome expected[] = {LaunchOutcome::kGood,
                                    LaunchOutcome::kGood,
                                    LaunchOutcome::kRequiredTaskFailed,
                                    LaunchOutcome::kRequiredTaskFailed,
                                    LaunchOutcome::kRequiredTaskFailed,
                                    LaunchOutcome::kRequiredTaskFailed,
                                    LaunchOutcome::kGood};
  const int levels[] = {0, 3, 3, 2, 1, 0, 0};
  for (size_t i = 0; i < 7; ++i) {
    SCOPED_TRACE("launch " + std::to_string(h.launches[i].id));
    EXPECT_EQ(h.launches[i].outcome, expected[i]);
    EXPECT_EQ(h.launches[i].level, levels[i]);
  }
  EXPECT_NE(h.launches[2].reason.find("com.test.staged:prepare"), std::string::npos)
      << h.launches[2].reason;
  // Every action carries the decision's reason.
  ASSERT_FALSE(h.actions.empty());
  for (const auto& a : h.actions) EXPECT_FALSE(a.why.empty()) << a.what;
}

TEST(GuardedLaunchTest, ConfiguredLevelActionsAreWhatTheGuardDoes) {
  TestApp app({"greeter", "staged"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  // Level 1 clears the cache only; level 2 does nothing but record.
  testing::SetLaunchGuardConfig(
      app, R"({"actions": {"disable_recent": ["clear_caches"], "rollback_all": []}})");
  EXPECT_EQ(Launch(app, true), 0);
  fs::create_directories(app.data_dir() + "/cache");
  std::ofstream(app.data_dir() + "/cache/entry") << "cached";
  std::ofstream(app.data_dir() + "/config-keep") << "not a cache";
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, false, &r), 0);
  EXPECT_EQ(Launch(app, false, &r), 1);
  EXPECT_EQ(r.actions, (std::vector<std::string>{"cleared cache (2 files)"}));
  EXPECT_FALSE(fs::exists(app.data_dir() + "/cache"));
  EXPECT_TRUE(fs::exists(app.data_dir() + "/config-keep"));
  EXPECT_EQ(Launch(app, false, &r), 2);
  EXPECT_TRUE(r.actions.empty());
  EXPECT_NE(r.decision.reason.find("level 2 actions: none configured"), std::string::npos)
      << r.decision.reason;
}

// A launch the watchdog finds hung, in this process (on_hang does not end
// it): the hang is recorded with the main thread's activity, the launch is
// hung, and the next launch recovers at level 1.
void HangCase(const char* config, const char* slow_task, const std::string& reason_part,
              const std::string& task) {
  TestApp app({"greeter", "staged"}, "greeter");
  testing::SetLaunchGuardConfig(app, config);
  EXPECT_EQ(Launch(app, true), 0);
  {
    ScopedEnv env("ATRIUM_TEST_SLOW_TASK", slow_task);
    std::atomic<int> hangs{0};
    ContainerOptions o = Guarded(app);
    o.on_hang = [&hangs] { hangs++; };
    auto c = Container::Open(o);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Start().ok());
    (*c)->scheduler().RunMainLoopUntil([&] { return (*c)->pipeline()->finished(); },
                                       std::chrono::seconds(60));
    EXPECT_EQ(hangs.load(), 1);
  }
  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 2u);
  EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kHung);
  EXPECT_NE(h.launches[0].reason.find(reason_part), std::string::npos) << h.launches[0].reason;
  auto reports = ReadCrashReports(app.data_dir() + "/state.db", 5);
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  const StoredCrashReport& r = reports->front();
  EXPECT_EQ(r.kind, "hang");
  EXPECT_EQ(r.launch_id, h.launches[0].id);
  EXPECT_TRUE(r.foreground);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.signature.empty());
  if (!task.empty()) {
    // The main thread was inside the slow task: its activity names it.
    EXPECT_EQ(r.bundle, "com.test.staged");
    EXPECT_EQ(r.task, task);
    EXPECT_FALSE(r.frames.empty());
  }
  LaunchGuardReport next;
  EXPECT_EQ(Launch(app, true, &next), 1);
  EXPECT_NE(next.decision.reason.find("hung: "), std::string::npos) << next.decision.reason;
}

TEST(GuardedLaunchTest, AMainLoopBlockedInATaskIsAHangWithThatTasksStack) {
  HangCase(R"({"watchdog": {"main_loop_blocked_ms": 200, "first_frame_ms": 0}})", "paint:1500",
           "main loop blocked", "paint");
}

TEST(GuardedLaunchTest, AFirstFrameTooLateIsAHang) {
  // The io task "prepare" (boot stage) is slow; the main loop is idle.
  HangCase(R"({"watchdog": {"main_loop_blocked_ms": 0, "first_frame_ms": 200}})", "prepare:1500",
           "first_frame not reached", "");
}

TEST(GuardedLaunchTest, OpenedButNeverStartedIsNotALaunch) {
  TestApp app({"greeter", "staged"}, "greeter");
  for (int i = 0; i < 3; ++i) {
    auto c = Container::Open(Guarded(app));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->launch_guard()->decision.level, RecoveryLevel::kNone);
  }
  EXPECT_TRUE(History(app).launches.empty());
  // Inspection without the guard records nothing either.
  ASSERT_TRUE(Container::Open({app.app_dir(), app.data_dir()}).ok());
  EXPECT_TRUE(History(app).launches.empty());
}

TEST(GuardedLaunchTest, AProcessKilledBeforeTheMarkCountsAsAFailure) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  {
    // What a killed process leaves: a launch still "running", no crash file.
    auto log = internal::LaunchLog::Open(app.data_dir() + "/state.db");
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->BeginLaunch("1.0.0", {}).ok());
  }
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  EXPECT_NE(r.decision.reason.find("killed before mark"), std::string::npos) << r.decision.reason;
  LaunchHistory h = History(app);
  ASSERT_GE(h.launches.size(), 2u);
  EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kKilledBeforeMark);
}

void CorruptCrashFileCase(const std::string& bytes, const std::string& expect_in_reason) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  {
    auto log = internal::LaunchLog::Open(app.data_dir() + "/state.db");
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->BeginLaunch("1.0.0", {}).ok());
  }
  std::ofstream(app.data_dir() + "/crash.rec", std::ios::binary) << bytes;
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  LaunchHistory h = History(app);
  ASSERT_GE(h.launches.size(), 2u);
  EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kCrashed);
  EXPECT_NE(h.launches[1].reason.find("crash record unreadable"), std::string::npos)
      << h.launches[1].reason;
  EXPECT_NE(h.launches[1].reason.find(expect_in_reason), std::string::npos) << h.launches[1].reason;
  // Kept aside for inspection; the new launch's crash file is fresh.
  EXPECT_TRUE(fs::exists(app.data_dir() + "/crash.rec.corrupt"));
  EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kGood);
}

TEST(GuardedLaunchTest, AGarbageCrashFileIsACrashWithAClearReason) {
  CorruptCrashFileCase(std::string(700, '\x5a'), "crash.rec");
}

TEST(GuardedLaunchTest, ATruncatedCrashFileIsACrashWithAClearReason) {
  // A header that promises more than the file holds.
  std::string bytes = "ATCR";
  bytes += std::string("\x02\x00\x00\x00", 4);  // version 2
  bytes += std::string("\x00\x10\x00\x00", 4);  // length 4096
  bytes += std::string(20, '\0');
  CorruptCrashFileCase(bytes, "offset");
}

// A killed launch (still "running") and `bytes` at crash.rec; returns the
// killed launch's id and the data dir's crash nonce.
std::pair<int64_t, uint64_t> KilledLaunchWithCrashFile(const TestApp& app,
                                                       const std::function<void()>& put) {
  EXPECT_EQ(Launch(app, true), 0);
  auto log = internal::LaunchLog::Open(app.data_dir() + "/state.db");
  EXPECT_TRUE(log.ok());
  if (!log.ok()) return {0, 0};
  auto id = (*log)->BeginLaunch("1.0.0", {});
  auto nonce = (*log)->CrashNonce();
  EXPECT_TRUE(id.ok() && nonce.ok());
  fs::remove(app.data_dir() + "/crash.rec");
  put();
  return {id.ok() ? *id : 0, nonce.ok() ? *nonce : 0};
}

bool HasAction(const LaunchHistory& h, const std::string& text) {
  for (const GuardAction& a : h.actions) {
    if (a.what.find(text) != std::string::npos) return true;
  }
  return false;
}

// Before: a crash.rec copied from another data dir (or left from an older
// launch) was attached to the last launch as its crash.
TEST(GuardedLaunchTest, ACrashRecordOfAnotherDataDirOrLaunchIsReportedAndIgnored) {
  struct Case {
    const char* name;
    int64_t id_delta;
    bool same_nonce;
    LaunchOutcome expect;
  } cases[] = {{"another data dir", 0, false, LaunchOutcome::kKilledBeforeMark},
               {"an older launch", -1, true, LaunchOutcome::kKilledBeforeMark},
               {"this launch", 0, true, LaunchOutcome::kCrashed}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TestApp app({"greeter", "staged"}, "greeter");
    const std::string rec = app.data_dir() + "/crash.rec";
    std::string bytes;
    auto [id, nonce] = KilledLaunchWithCrashFile(app, [&] {});
    bytes = testing::HandMadeRecord(static_cast<uint64_t>(id + c.id_delta),
                                    c.same_nonce ? nonce : nonce ^ 0x5a5a);
    std::ofstream(rec, std::ios::binary) << bytes;
    EXPECT_EQ(Launch(app, true), 1);
    LaunchHistory h = History(app);
    ASSERT_GE(h.launches.size(), 2u);
    EXPECT_EQ(h.launches[1].id, id);
    EXPECT_EQ(h.launches[1].outcome, c.expect) << h.launches[1].reason;
    const bool ignored = c.expect != LaunchOutcome::kCrashed;
    EXPECT_EQ(HasAction(h, "ignored a crash record of launch " + std::to_string(id + c.id_delta) +
                               " of " +
                               (c.same_nonce ? "this data directory" : "another data directory")),
              ignored);
    EXPECT_EQ(fs::exists(rec + ".foreign"), ignored);
  }
}

// Before: a FIFO at crash.rec hung every start (a blocking open).
TEST(GuardedLaunchTest, ACrashFileThatIsAFifoIsSetAsideWithoutWaiting) {
  TestApp app({"greeter", "staged"}, "greeter");
  const std::string rec = app.data_dir() + "/crash.rec";
  KilledLaunchWithCrashFile(app, [&] { ASSERT_EQ(mkfifo(rec.c_str(), 0600), 0); });
  EXPECT_EQ(Launch(app, true), 1);  // the killed launch: level 1, no crash
  LaunchHistory h = History(app);
  ASSERT_GE(h.launches.size(), 2u);
  EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kKilledBeforeMark);
  EXPECT_TRUE(HasAction(h, "crash file is a FIFO (not read)"));
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(rec + ".rejected")));
}

#if defined(ATRIUM_TEST_SANITIZED)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "a forked child of a threaded process"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

// Before: a bundle calling exit() in a startup task ended the process with
// status 0 and the next launch saw only "killed before mark".
TEST(GuardedLaunchTest, ABundleCallingExitIsRecordedAndBlamedAtTheNextLaunch) {
  SKIP_UNDER_SANITIZERS();
  struct Case {
    const char* env;
    const char* task;
  } cases[] = {{"ATRIUM_TEST_EXIT_TASK", "prepare"}, {"ATRIUM_TEST_QUICK_EXIT_TASK", "paint"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.env);
    TestApp app({"greeter", "staged"}, "greeter");
    EXPECT_EQ(Launch(app, true), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      setenv(c.env, c.task, 1);
      internal::ResetCrashCaptureForTesting();  // this launch's own crash file
      auto opened = Container::Open(testing::Guarded(app));
      if (!opened.ok()) _exit(90);
      (void)(*opened)->Start();
      (*opened)->scheduler().RunMainLoopUntil([] { return false; }, std::chrono::seconds(30));
      _exit(91);  // the task did not exit
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 90 && WEXITSTATUS(status) != 91)
        << status;
    LaunchGuardReport r;
    EXPECT_EQ(Launch(app, true, &r), 1);
    LaunchHistory h = History(app);
    ASSERT_GE(h.launches.size(), 2u);
    EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kCrashed);
    EXPECT_EQ(h.launches[1].reason.rfind(
                  "exit() or quick_exit() called in com.test.staged:" + std::string(c.task), 0),
              0u)
        << h.launches[1].reason;
    auto reports = ReadCrashReports(app.data_dir() + "/state.db", 5);
    ASSERT_TRUE(reports.ok());
    ASSERT_FALSE(reports->empty());
    EXPECT_EQ(reports->front().kind, "exit");
    EXPECT_EQ(reports->front().task, c.task);
  }
}

TEST(GuardedLaunchTest, ADamagedStateDbStartsTheAppInSafeModeAndSaysWhy) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  PutPrivate(app, "private survives a damaged state.db");
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(app.data_dir() + "/state.db" + suffix);
  {
    std::ofstream f(app.data_dir() + "/state.db", std::ios::binary | std::ios::trunc);
    f << "this is not a database, it was overwritten by a broken disk" << std::string(4096, 'x');
  }
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 3);
  EXPECT_TRUE(r.decision.safe_mode);
  EXPECT_NE(r.decision.reason.find("moved aside"), std::string::npos) << r.decision.reason;
  EXPECT_NE(r.decision.reason.find("state.db"), std::string::npos) << r.decision.reason;
  bool aside = false;
  for (const auto& e : fs::directory_iterator(app.data_dir())) {
    aside = aside || e.path().filename().string().rfind("state.db.damaged-", 0) == 0;
  }
  EXPECT_TRUE(aside);
  EXPECT_EQ(GetPrivate(app), "private survives a damaged state.db");
  // The fresh state.db records from here on.
  EXPECT_EQ(Launch(app, true, &r), 0);
  EXPECT_FALSE(r.decision.safe_mode);
}

TEST(GuardedLaunchTest, ALockedStateDbStartsTheAppInSafeModeAndLeavesItAlone) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  const auto before = History(app).launches.size();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((app.data_dir() + "/state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 3);
  EXPECT_TRUE(r.decision.safe_mode);
  EXPECT_NE(r.decision.reason.find("scratch store"), std::string::npos) << r.decision.reason;
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  // Nothing was written to the locked database; the scratch store is gone.
  EXPECT_EQ(History(app).launches.size(), before);
  for (const auto& e : fs::directory_iterator(app.data_dir())) {
    EXPECT_NE(e.path().filename().string().rfind("safe-mode-", 0), 0u) << e.path();
  }
}

}  // namespace
}  // namespace atrium
