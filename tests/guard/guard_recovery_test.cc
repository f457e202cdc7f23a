// What each recovery level does to the dynamic artifacts of a real app, in
// this process: level 1 without blame disables the updates activated since
// the last good launch; level 2 rolls every active update back to its
// previous version and rolls back (or disables) every enabled hotpatch;
// level 3 disables every downloaded version and every hotpatch, clears
// <data>/cache and <data>/config and keeps <data>/private. Also: a partial
// crash record (the handler died before writing frames) still ends the
// launch it belongs to as crashed. Escalation itself and the bad inputs:
// guarded_launch_test.
#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "../container/test_app.h"
#include "atrium/artifact_store.h"
#include "atrium/container.h"
#include "atrium/hotpatch.h"
#include "atrium/launch_guard.h"
#include "atrium/private_store.h"
#include "crash_record_bytes.h"
#include "guard_test_util.h"
#include "launch_log.h"
#include "patch_package.h"
#include "testing/package_fixture.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using testing::Guarded;
using testing::History;
using testing::Keys;
using testing::Launch;
using testing::PackFixture;
using testing::ScopedEnv;
using testing::TestApp;

constexpr char kCounter[] = "com.test.counter";
constexpr char kNothingToDisable[] =
    "nothing to disable: no dynamic artifact activated since the last good launch";

// Installs `package` for the next launch, through a container opened only to
// install (no guard: not a launch).
void InstallStaged(const TestApp& app, const std::string& package) {
  auto c = Container::Open({app.app_dir(), app.data_dir()});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  auto r = (*c)->InstallPackage(package);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->state, ArtifactState::kStaged);
}

std::unique_ptr<ArtifactStore> OpenStore(const TestApp& app) {
  auto store = ArtifactStore::Open({app.data_dir(), {}, "com.test.app"});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().ToString());
  return store.ok() ? std::move(store).value() : nullptr;
}

// The store's row for the counter at `version` (nullopt when there is none).
std::optional<ArtifactRecord> CounterRow(const TestApp& app, const std::string& version) {
  auto store = OpenStore(app);
  if (store == nullptr) return std::nullopt;
  auto list = store->List();
  EXPECT_TRUE(list.ok());
  if (!list.ok()) return std::nullopt;
  for (const ArtifactRecord& r : *list) {
    if (r.kind == ArtifactKind::kNativeBundle && r.id == kCounter && r.version == version) return r;
  }
  return std::nullopt;
}

std::string CounterState(const TestApp& app, const std::string& version) {
  auto row = CounterRow(app, version);
  return row ? ArtifactStateName(row->state) : "absent";
}

// The counter version the store says is in use; "shipped" when only the
// baseline directory of the app remains (it is not a row of the store).
std::string CounterCurrent(const TestApp& app) {
  auto store = OpenStore(app);
  if (store == nullptr) return "<no store>";
  auto current = store->Current(ArtifactKind::kNativeBundle, kCounter);
  EXPECT_TRUE(current.ok());
  if (!current.ok()) return "<error>";
  if (!current->has_value()) return "shipped";
  return (*current)->version + " (" + ArtifactStateName((*current)->state) + ")";
}

ArtifactRef Native(const std::string& id, const std::string& version) {
  return {"native_bundle", id, version};
}

std::vector<std::string> Actions(std::initializer_list<std::string> list) { return list; }

// The counter version the opened container resolved.
std::function<void(Container&)> ExpectCounterVersion(const std::string& version) {
  return [version](Container& c) {
    auto b = c.Bundle(kCounter);
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    EXPECT_EQ(b->version, version);
  };
}

TEST(GuardRecoveryTest, LevelTwoRollsUpdatesBackAndLevelThreeReturnsToTheBaseline) {
  TestApp app({"greeter", "staged", "counter"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string u1 = PackFixture(app.root(), keys, "counter", "1.1.0");
  const std::string u2 = PackFixture(app.root(), keys, "counter", "1.2.0");

  EXPECT_EQ(Launch(app, true), 0);  // 1
  InstallStaged(app, u1);
  EXPECT_EQ(Launch(app, true, nullptr, ExpectCounterVersion("1.1.0")), 0);  // 2
  EXPECT_EQ(CounterState(app, "1.1.0"), "active");
  InstallStaged(app, u2);
  EXPECT_EQ(Launch(app, true, nullptr, ExpectCounterVersion("1.2.0")), 0);  // 3
  EXPECT_EQ(CounterState(app, "1.2.0"), "active");
  EXPECT_EQ(CounterState(app, "1.1.0"), "previous");

  // Private data, caches and a file no layer owns, written before the failures.
  {
    auto store = PrivateStore::Open(app.data_dir() + "/private/com.test.counter.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    ASSERT_TRUE((*store)->Put("user_note", "kept through every level").ok());
  }
  fs::create_directories(app.data_dir() + "/cache/http");
  std::ofstream(app.data_dir() + "/cache/http/entry") << "cached";
  fs::create_directories(app.data_dir() + "/config");
  std::ofstream(app.data_dir() + "/config/overrides.json") << "{}";

  std::string reasons[5];  // decision reasons of launches 5, 6, 7 (index = launch - 3)
  {
    // The baseline "staged" bundle fails its required task: nothing to blame.
    ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
    LaunchGuardReport r;
    EXPECT_EQ(Launch(app, false, &r), 0);  // 4
    EXPECT_TRUE(r.actions.empty());

    EXPECT_EQ(Launch(app, false, &r), 1);  // 5
    // 1.2.0 was already active in the last good launch: no suspect.
    EXPECT_TRUE(r.decision.suspects.empty());
    EXPECT_FALSE(r.decision.blamed.has_value());
    EXPECT_EQ(r.actions, Actions({kNothingToDisable}));
    EXPECT_EQ(CounterState(app, "1.2.0"), "active");
    reasons[2] = r.decision.reason;

    EXPECT_EQ(Launch(app, false, &r, ExpectCounterVersion("1.1.0")), 2);  // 6
    EXPECT_EQ(r.actions,
              Actions({"rolled native_bundle:com.test.counter@1.2.0 back to 1.1.0 (active)"}));
    EXPECT_EQ(CounterState(app, "1.2.0"), "disabled");
    EXPECT_EQ(CounterState(app, "1.1.0"), "active");
    EXPECT_EQ(CounterCurrent(app), "1.1.0 (active)");
    reasons[3] = r.decision.reason;

    EXPECT_EQ(Launch(app, false, &r, ExpectCounterVersion("1.0.0")), 3);  // 7
    EXPECT_EQ(r.decision.consecutive_failures, 3);
    // cache, cache/http, cache/http/entry. config/ belongs to no layer yet
    // (config overrides will be the config layer's artifacts): kept.
    EXPECT_EQ(r.actions, Actions({"disabled native_bundle:com.test.counter@1.1.0",
                                  "cleared cache (3 files)"}));
    EXPECT_EQ(CounterState(app, "1.1.0"), "disabled");
    EXPECT_EQ(CounterState(app, "1.2.0"), "disabled");
    EXPECT_EQ(CounterCurrent(app), "shipped");
    EXPECT_FALSE(fs::exists(app.data_dir() + "/cache"));
    EXPECT_TRUE(fs::exists(app.data_dir() + "/config/overrides.json"));
    reasons[4] = r.decision.reason;
  }
  {
    auto store = PrivateStore::Open(app.data_dir() + "/private/com.test.counter.db");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    auto v = (*store)->Get("user_note");
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, "kept through every level");
  }

  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r, ExpectCounterVersion("1.0.0")), 3);  // 8: after the 4th failure
  EXPECT_EQ(r.decision.consecutive_failures, 4);
  EXPECT_TRUE(r.actions.empty());       // nothing left to disable or clear
  EXPECT_EQ(Launch(app, true, &r), 0);  // 9
  EXPECT_EQ(r.decision.reason, "the last launch was good");

  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 9u);
  struct Expected {
    LaunchOutcome outcome;
    int level;
    std::vector<ArtifactRef> active;
  };
  const std::vector<ArtifactRef> none;
  const Expected expected[] = {
      {LaunchOutcome::kGood, 0, none},                                       // 9
      {LaunchOutcome::kGood, 3, none},                                       // 8
      {LaunchOutcome::kRequiredTaskFailed, 3, none},                         // 7
      {LaunchOutcome::kRequiredTaskFailed, 2, {Native(kCounter, "1.1.0")}},  // 6
      {LaunchOutcome::kRequiredTaskFailed, 1, {Native(kCounter, "1.2.0")}},  // 5
      {LaunchOutcome::kRequiredTaskFailed, 0, {Native(kCounter, "1.2.0")}},  // 4
      {LaunchOutcome::kGood, 0, {Native(kCounter, "1.2.0")}},                // 3
      {LaunchOutcome::kGood, 0, {Native(kCounter, "1.1.0")}},                // 2
      {LaunchOutcome::kGood, 0, none},                                       // 1
  };
  for (size_t i = 0; i < 9; ++i) {
    SCOPED_TRACE("launch " + std::to_string(9 - i));
    EXPECT_EQ(h.launches[i].outcome, expected[i].outcome);
    EXPECT_EQ(h.launches[i].level, expected[i].level);
    EXPECT_EQ(h.launches[i].active_artifacts, expected[i].active);
    EXPECT_FALSE(h.launches[i].blamed.has_value());
  }
  // The guard's actions, newest first, each with its level and its
  // decision's reason.
  ASSERT_EQ(h.actions.size(), 4u);
  const struct {
    int level;
    std::string what;
  } actions[] = {{3, "cleared cache (3 files)"},
                 {3, "disabled native_bundle:com.test.counter@1.1.0"},
                 {2, "rolled native_bundle:com.test.counter@1.2.0 back to 1.1.0 (active)"},
                 {1, kNothingToDisable}};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(actions[i].what);
    EXPECT_EQ(h.actions[i].level, actions[i].level);
    EXPECT_EQ(h.actions[i].what, actions[i].what);
    EXPECT_EQ(h.actions[i].why, reasons[actions[i].level + 1]);
  }
}

TEST(GuardRecoveryTest, LevelOneWithoutBlameDisablesTheUpdatesSinceTheLastGoodLaunch) {
  TestApp app({"greeter", "staged", "counter"}, "greeter");
  app.SetCritical({"com.test.staged"});  // its failure fails the launch
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  EXPECT_EQ(Launch(app, true), 0);
  InstallStaged(app, PackFixture(app.root(), keys, "counter", "1.1.0"));
  LaunchGuardReport r;
  {
    ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
    // 1.1.0 becomes active in this launch, which fails in the baseline.
    EXPECT_EQ(Launch(app, false, &r, ExpectCounterVersion("1.1.0")), 0);
  }
  EXPECT_EQ(Launch(app, true, &r, ExpectCounterVersion("1.0.0")), 1);
  EXPECT_FALSE(r.decision.blamed.has_value());
  EXPECT_EQ(r.decision.suspects, std::vector<ArtifactRef>{Native(kCounter, "1.1.0")});
  EXPECT_EQ(r.actions, Actions({"disabled native_bundle:com.test.counter@1.1.0"}));
  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 3u);
  EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kRequiredTaskFailed);
  EXPECT_FALSE(h.launches[1].blamed.has_value());
  EXPECT_EQ(h.launches[1].active_artifacts, std::vector<ArtifactRef>{Native(kCounter, "1.1.0")});
  EXPECT_EQ(r.decision.reason,
            "1 failed launch (required task failed: " + h.launches[1].reason +
                ") within 24 h: disabling 1 dynamic artifact activated since the last good "
                "launch, starting with native_bundle:com.test.counter@1.1.0");
  auto row = CounterRow(app, "1.1.0");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->state, ArtifactState::kDisabled);
  EXPECT_EQ(row->reason, r.decision.reason);
  EXPECT_EQ(CounterCurrent(app), "shipped");
  EXPECT_TRUE(h.launches[0].active_artifacts.empty());
  ASSERT_EQ(h.actions.size(), 1u);
  EXPECT_EQ(h.actions[0].level, 1);
  EXPECT_EQ(h.actions[0].what, "disabled native_bundle:com.test.counter@1.1.0");
  EXPECT_EQ(h.actions[0].why, r.decision.reason);
}

// ---- Hotpatches --------------------------------------------------------------

class HotpatchRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A resource-only bundle declares the point the patches patch.
    app_.AddManifest("fees", R"json({"name": "com.test.fees", "version": "1.0.0",
        "patch_points": [{"point": "pay.fee", "signature": "int(int,string)"}]})json");
    app_.SetCritical({"com.test.staged"});  // its failure fails the launch
  }
  std::shared_ptr<hotpatch::Runtime> OpenRuntime() {
    hotpatch::RuntimeOptions o;
    o.data_dir = app_.data_dir();
    o.trusted_keys = {keys_.pub_hex};
    o.app_id = "com.test.app";
    o.app_version = Version::Parse("1.0.0").value();
    auto rt = hotpatch::Runtime::Open(std::move(o));
    EXPECT_TRUE(rt.ok()) << (rt.ok() ? "" : rt.error().ToString());
    return rt.ok() ? std::move(rt).value() : nullptr;
  }

  // A signed lua_patch package of patch `id` at `version`.
  std::string MakePatch(const std::string& id, const std::string& version) {
    std::string dir = app_.root() + "/patch-src/" + id + "-" + version;
    fs::create_directories(dir);
    std::ofstream(dir + "/patch.json")
        << "{\"id\": \"" << id << "\", \"version\": \"" << version
        << "\", \"targets\": {\"app\": \"com.test.app\"}, \"points\": [{\"point\": \"pay.fee\", "
        << "\"mode\": \"replace\", \"function\": \"fee\", \"signature\": \"int(int,string)\", "
        << "\"order\": 0}], \"limits\": {\"instructions\": 50000, \"time_ms\": 200, "
        << "\"memory_kb\": 256, \"max_faults\": 2}}";
    std::ofstream(dir + "/patch.lua")
        << "function fee(original, cents, cur) return original(cents, cur) end";
    return testing::PackDir(dir, keys_, ArtifactKind::kLuaPatch);
  }

  // "version state" of patch `id` as the runtime lists it.
  std::string PatchState(const std::string& id, std::string* reason = nullptr) {
    auto rt = OpenRuntime();
    if (rt == nullptr) return "<no runtime>";
    for (const auto& p : rt->List()) {
      if (p.id != id) continue;
      if (reason != nullptr) *reason = p.reason;
      return p.version + " " + p.state;
    }
    return "absent";
  }

  TestApp app_{{"greeter", "staged"}, "greeter"};
  Keys keys_;
};

TEST_F(HotpatchRecoveryTest, LevelTwoRollsHotpatchesBackAndLevelThreeDisablesThemAll) {
  {
    auto rt = OpenRuntime();
    ASSERT_NE(rt, nullptr);
    const std::vector<std::pair<std::string, std::string>> patches = {
        {"fee-fix", "1.0.0"}, {"fee-fix", "1.1.0"}, {"solo", "1.0.0"}};
    for (const auto& [id, version] : patches) {
      auto info = rt->Install(MakePatch(id, version));
      ASSERT_TRUE(info.ok()) << info.error().ToString();
      EXPECT_EQ(info->state, "enabled");
    }
  }
  EXPECT_EQ(Launch(app_, true), 0);  // 1
  LaunchGuardReport r;
  std::string reasons[4];  // decision reason by level
  {
    ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
    EXPECT_EQ(Launch(app_, false, &r), 0);  // 2
    EXPECT_EQ(Launch(app_, false, &r), 1);  // 3: both were active in the good launch
    EXPECT_EQ(r.actions, Actions({kNothingToDisable}));
    EXPECT_EQ(PatchState("fee-fix"), "1.1.0 enabled");
    EXPECT_EQ(Launch(app_, false, &r), 2);  // 4
    EXPECT_EQ(r.actions, Actions({"rolled lua_patch:fee-fix@1.1.0 back to 1.0.0 (active)",
                                  "rolled lua_patch:solo@1.0.0 back to the baseline"}));
    reasons[2] = r.decision.reason;
    EXPECT_EQ(PatchState("fee-fix"), "1.0.0 enabled");
    std::string why;
    EXPECT_EQ(PatchState("solo", &why), "1.0.0 disabled");
    EXPECT_EQ(why, r.decision.reason);
  }
  EXPECT_EQ(Launch(app_, true, &r), 3);  // 5: after three failures
  EXPECT_EQ(r.actions, Actions({"disabled lua_patch:fee-fix@1.0.0"}));
  reasons[3] = r.decision.reason;
  std::string why;
  EXPECT_EQ(PatchState("fee-fix", &why), "1.0.0 disabled");
  EXPECT_EQ(why, r.decision.reason);
  EXPECT_EQ(PatchState("solo"), "1.0.0 disabled");
  EXPECT_EQ(Launch(app_, true, &r), 0);  // 6

  LaunchHistory h = History(app_);
  ASSERT_EQ(h.launches.size(), 6u);
  const std::vector<ArtifactRef> both = {{"lua_patch", "fee-fix", "1.1.0"},
                                         {"lua_patch", "solo", "1.0.0"}};
  EXPECT_EQ(h.launches[5].active_artifacts, both);  // 1: good
  EXPECT_EQ(h.launches[4].active_artifacts, both);  // 2: the first failure
  EXPECT_EQ(h.launches[4].outcome, LaunchOutcome::kRequiredTaskFailed);
  EXPECT_EQ(h.launches[3].active_artifacts, both);  // 3
  const std::vector<ArtifactRef> rolled_back = {{"lua_patch", "fee-fix", "1.0.0"}};
  EXPECT_EQ(h.launches[2].active_artifacts, rolled_back);  // 4
  EXPECT_TRUE(h.launches[1].active_artifacts.empty());     // 5: baseline only
  EXPECT_EQ(h.launches[1].outcome, LaunchOutcome::kGood);
  EXPECT_EQ(h.launches[1].level, 3);
  EXPECT_TRUE(h.launches[0].active_artifacts.empty());
  ASSERT_EQ(h.actions.size(), 4u);
  EXPECT_EQ(h.actions[0].what, "disabled lua_patch:fee-fix@1.0.0");
  EXPECT_EQ(h.actions[0].level, 3);
  EXPECT_EQ(h.actions[0].why, reasons[3]);
  EXPECT_EQ(h.actions[1].what, "rolled lua_patch:solo@1.0.0 back to the baseline");
  EXPECT_EQ(h.actions[1].why, reasons[2]);
  EXPECT_EQ(h.actions[2].what, "rolled lua_patch:fee-fix@1.1.0 back to 1.0.0 (active)");
  EXPECT_EQ(h.actions[2].level, 2);
}

// A hotpatch is an artifact like any other: its installed copy is re-hashed
// against its signed package before it runs. The hotpatch layer opens its
// runtime with every container, so the launch after the copy was changed on
// disk refuses it (recorded failed, never run) before the guard needs to.
TEST_F(HotpatchRecoveryTest, AChangedInstalledPatchIsRefusedBeforeItRuns) {
  std::string dir;
  {
    auto rt = OpenRuntime();
    ASSERT_NE(rt, nullptr);
    auto info = rt->Install(MakePatch("fee-fix", "1.0.0"));
    ASSERT_TRUE(info.ok()) << info.error().ToString();
  }
  EXPECT_EQ(Launch(app_, true), 0);
  EXPECT_EQ(PatchState("fee-fix"), "1.0.0 enabled");
  {
    auto store = ArtifactStore::Open({app_.data_dir(), {}, "com.test.app"});
    ASSERT_TRUE(store.ok());
    auto current = (*store)->Current(ArtifactKind::kLuaPatch, "fee-fix");
    ASSERT_TRUE(current.ok() && current->has_value());
    dir = (*current)->dir;
  }
  std::ofstream(dir + "/patch.lua", std::ios::app) << "\n-- changed on the device";
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app_, true, &r), 0);
  EXPECT_TRUE(r.actions.empty());
  EXPECT_EQ(PatchState("fee-fix"), "1.0.0 failed");
}

// ---- Force-quits -------------------------------------------------------------

// A launch killed before its mark in a real child process: SIGKILL after
// Start, no crash or hang record (a user's force-quit, an OOM kill).
void KilledLaunch(const TestApp& app) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto c = Container::Open(testing::Guarded(app));
    if (!c.ok()) _exit(90);
    if (!(*c)->Start().ok()) _exit(91);
    raise(SIGKILL);
    _exit(92);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

// Before: two force-quits rolled every update back (level 2) and nothing
// ever re-enabled what was disabled.
TEST(GuardRecoveryTest, ForceQuitsDisableOnlyWhatChangedAndItIsRetriedAfterGoodLaunches) {
  TestApp app({"greeter", "staged", "counter"}, "greeter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string update = PackFixture(app.root(), keys, "counter", "1.1.0");
  EXPECT_EQ(Launch(app, true), 0);  // 1: the baseline, good
  InstallStaged(app, update);
  ASSERT_NO_FATAL_FAILURE(KilledLaunch(app));  // 2: with 1.1.0, force-quit
  ASSERT_NO_FATAL_FAILURE(KilledLaunch(app));  // 3: level 1 disables 1.1.0, force-quit
  EXPECT_EQ(CounterState(app, "1.1.0"), "disabled");
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);  // 4: two kills: still level 1
  EXPECT_TRUE(r.decision.without_evidence);
  EXPECT_EQ(r.actions, Actions({"did not disable native_bundle:com.test.counter@1.1.0: it is "
                                "disabled already"}));
  LaunchHistory h = History(app);
  bool retried = false;
  for (const GuardAction& a : h.actions) {
    retried |= a.what ==
               "disabled native_bundle:com.test.counter@1.1.0 (no crash evidence: "
               "retried after 3 good launches)";
  }
  EXPECT_TRUE(retried) << "launch 3 did not say it retries";
  EXPECT_EQ(Launch(app, true, &r), 0);  // 5
  EXPECT_EQ(Launch(app, true, &r), 0);  // 6
  EXPECT_TRUE(r.actions.empty());
  EXPECT_EQ(CounterState(app, "1.1.0"), "disabled");
  EXPECT_EQ(Launch(app, true, &r, ExpectCounterVersion("1.1.0")), 0);  // 7: 4, 5, 6 were good
  EXPECT_EQ(r.actions, Actions({"re-enabled native_bundle:com.test.counter@1.1.0"}));
  EXPECT_EQ(CounterState(app, "1.1.0"), "active");
  EXPECT_EQ(Launch(app, true, &r), 0);  // 8: once only
  EXPECT_TRUE(r.actions.empty());
}

// ---- A bundle isolated by its update -----------------------------------------

// Before: the update's failed task failed the launch (exit 1, a strike). Now
// its bundle is isolated, the launch is good, and the update it points at
// goes at the next launch; the baseline failing alike blames nothing.
TEST(GuardRecoveryTest, AnUpdateWhoseBundleFailsIsDisabledWhileTheLaunchesStayGood) {
  TestApp app({"greeter", "staged"}, "greeter");
  Keys keys;
  app.SetReleaseKey(keys.pub_hex);
  app.WriteAppJson();
  const std::string update = PackFixture(app.root(), keys, "staged", "1.1.0");
  EXPECT_EQ(Launch(app, true), 0);
  InstallStaged(app, update);
  ScopedEnv env("ATRIUM_TEST_FAIL_TASK", "prepare");
  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 0);  // 1.1.0 fails prepare: isolated
  LaunchHistory h = History(app);
  ASSERT_FALSE(h.launches.empty());
  EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kGood);
  EXPECT_TRUE(h.launches[0].bundle_failed);
  EXPECT_EQ(h.launches[0].blamed, std::optional<ArtifactRef>(Native("com.test.staged", "1.1.0")));
  EXPECT_EQ(h.launches[0].reason,
            "bundle com.test.staged failed: startup task com.test.staged:prepare failed: prepare "
            "could not open its cache");
  auto reports = ReadCrashReports(app.data_dir() + "/state.db", 5);
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ(reports->front().kind, "failure");
  EXPECT_EQ(reports->front().bundle, "com.test.staged");
  EXPECT_EQ(reports->front().task, "prepare");

  EXPECT_EQ(Launch(app, true, &r), 1);  // the update goes; the baseline fails alike
  EXPECT_EQ(r.actions, Actions({"disabled native_bundle:com.test.staged@1.1.0 (blamed)"}));
  h = History(app);
  EXPECT_TRUE(h.launches[0].bundle_failed);
  EXPECT_FALSE(h.launches[0].blamed.has_value());
  EXPECT_EQ(Launch(app, true, &r), 0);  // nothing left to blame: no action, no strike
  EXPECT_TRUE(r.actions.empty());
}

// ---- A partial crash record --------------------------------------------------

// A valid record (layout: guard/src/crash_record_format.h) of a foreground
// SIGSEGV of launch `launch_id` whose handler crashed before it wrote
// frames: the partial flag, no frames, no modules.
std::string PartialRecord(int64_t launch_id, uint64_t nonce) {
  using testing::Poke;
  std::string b(576, '\0');
  std::memcpy(b.data(), "ATCR", 4);
  Poke<uint32_t>(&b, 4, 2);
  Poke<uint32_t>(&b, 8, static_cast<uint32_t>(b.size()));
  Poke<int32_t>(&b, 16, SIGSEGV);
  Poke<int32_t>(&b, 20, 1);  // SEGV_MAPERR
  Poke<uint64_t>(&b, 24, 0x10);
  Poke<int64_t>(&b, 40, 1'700'000'000);
  Poke<int64_t>(&b, 48, 250'000'000);
  Poke<uint32_t>(&b, 56, 1 | 4);  // foreground | partial
  std::memcpy(b.data() + 64, "main", 4);
  std::memcpy(b.data() + 80, "com.test.staged", 15);
  std::memcpy(b.data() + 176, "com.test.staged:prepare", 23);
  Poke<uint64_t>(&b, testing::kRecLaunchId, static_cast<uint64_t>(launch_id));
  Poke<uint64_t>(&b, testing::kRecNonce, nonce);
  testing::Reseal(&b);
  return b;
}

TEST(GuardRecoveryTest, APartialCrashRecordEndsTheLaunchAsCrashed) {
  TestApp app({"greeter", "staged"}, "greeter");
  EXPECT_EQ(Launch(app, true), 0);
  int64_t crashed_id = 0;
  {
    // The process that crashed: its launch is still "running".
    auto log = internal::LaunchLog::Open(app.data_dir() + "/state.db");
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    auto id = (*log)->BeginLaunch("1.0.0", {});
    ASSERT_TRUE(id.ok()) << id.error().ToString();
    crashed_id = *id;
    auto nonce = (*log)->CrashNonce();
    ASSERT_TRUE(nonce.ok()) << nonce.error().ToString();
    std::ofstream(app.data_dir() + "/crash.rec", std::ios::binary | std::ios::trunc)
        << PartialRecord(crashed_id, *nonce);
  }
  // The report says the handler never wrote the frames.
  const std::string summary =
      "SIGSEGV at 0x10 in com.test.staged:prepare (thread main) (partial record: the crash "
      "handler did not finish; no frames)";

  LaunchGuardReport r;
  EXPECT_EQ(Launch(app, true, &r), 1);
  EXPECT_EQ(r.decision.consecutive_failures, 1);
  EXPECT_FALSE(r.decision.blamed.has_value());
  EXPECT_EQ(r.decision.reason,
            "1 failed launch (crashed: " + summary +
                ") within 24 h: no dynamic artifact was activated since the last good launch; "
                "nothing to disable");
  EXPECT_EQ(r.actions, Actions({kNothingToDisable}));

  LaunchHistory h = History(app);
  ASSERT_EQ(h.launches.size(), 3u);
  const LaunchRecord& crashed = h.launches[1];
  EXPECT_EQ(crashed.id, crashed_id);
  EXPECT_EQ(crashed.outcome, LaunchOutcome::kCrashed);
  EXPECT_EQ(crashed.reason, summary);
  EXPECT_FALSE(crashed.blamed.has_value());
  EXPECT_FALSE(crashed.crash_signature.empty());
  EXPECT_EQ(crashed.ended_ms, 1'700'000'000'250);  // when it crashed, from the record
  EXPECT_EQ(h.launches[0].level, 1);
  EXPECT_EQ(h.launches[0].outcome, LaunchOutcome::kGood);

  auto reports = ReadCrashReports(app.data_dir() + "/state.db", 10);
  ASSERT_TRUE(reports.ok()) << reports.error().ToString();
  ASSERT_EQ(reports->size(), 1u);
  const StoredCrashReport& report = reports->front();
  EXPECT_EQ(report.launch_id, crashed_id);
  EXPECT_EQ(report.kind, "native");
  EXPECT_EQ(report.signal, SIGSEGV);
  EXPECT_EQ(report.time_ms, 1'700'000'000'250);
  EXPECT_EQ(report.summary, summary);
  EXPECT_EQ(report.signature, crashed.crash_signature);
  EXPECT_EQ(report.thread, "main");
  EXPECT_EQ(report.bundle, "com.test.staged");
  EXPECT_EQ(report.task, "prepare");
  EXPECT_TRUE(report.foreground);
  EXPECT_FALSE(report.persistent);
  EXPECT_FALSE(report.blamed.has_value());
  EXPECT_TRUE(report.frames.empty());
}

}  // namespace
}  // namespace atrium
