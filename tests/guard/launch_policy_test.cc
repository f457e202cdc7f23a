// Launch records in a real state.db (temp dir) and the three-strike decision.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "atrium/artifact_store.h"
#include "atrium/base/sqlite_db.h"
#include "atrium/launch_guard.h"
#include "atrium/manifest.h"
#include "launch_log.h"

namespace atrium {
namespace {

namespace fs = std::filesystem;
using internal::LaunchLog;
using internal::LaunchLogOptions;
using internal::OpenForLaunch;
using internal::StaleCrash;

constexpr int64_t kHourMs = 3'600'000;

ArtifactRef Art(std::string kind, std::string id, std::string version) {
  return {std::move(kind), std::move(id), std::move(version)};
}

class LaunchLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atrium_launch_log_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    db_path_ = (root_ / "state.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  LaunchLogOptions Options() {
    LaunchLogOptions o;
    o.now_ms = [this] { return now_ms_; };
    return o;
  }
  std::unique_ptr<LaunchLog> OpenLog() {
    auto log = LaunchLog::Open(db_path_, Options());
    EXPECT_TRUE(log.ok()) << log.error().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  fs::path root_;
  std::string db_path_;
  int64_t now_ms_ = 1'700'000'000'000;
};

TEST_F(LaunchLogTest, BeginMarkRoundTrip) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const std::vector<ArtifactRef> active = {Art("native_bundle", "com.wallet.bill", "1.2.0"),
                                           Art("config_set", "flags", "7")};
  auto first = log->BeginLaunch("3.1.0", active);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  now_ms_ += 1000;
  ASSERT_TRUE(log->MarkGood(*first).ok());
  EXPECT_FALSE(log->MarkGood(*first).ok()) << "already ended";

  now_ms_ += 1000;
  auto second = log->BeginLaunch("3.1.0", {active[0]});
  ASSERT_TRUE(second.ok());
  Status failed =
      log->MarkFailed(*second, LaunchOutcome::kHung, "main loop blocked 8.0 s", active[0]);
  ASSERT_TRUE(failed.ok()) << failed.error().ToString();
  EXPECT_EQ(log->MarkFailed(*second, LaunchOutcome::kGood, "").error().code,
            ErrorCode::kInvalidArgument);

  auto recent = log->Recent(10);
  ASSERT_TRUE(recent.ok()) << recent.error().ToString();
  ASSERT_EQ(recent->size(), 2u);
  const LaunchRecord& hung = (*recent)[0];
  EXPECT_EQ(hung.id, *second);
  EXPECT_EQ(hung.outcome, LaunchOutcome::kHung);
  EXPECT_EQ(hung.reason, "main loop blocked 8.0 s");
  ASSERT_TRUE(hung.blamed.has_value());
  EXPECT_EQ(*hung.blamed, active[0]);
  EXPECT_EQ(hung.started_ms, 1'700'000'002'000);
  const LaunchRecord& good = (*recent)[1];
  EXPECT_EQ(good.outcome, LaunchOutcome::kGood);
  EXPECT_EQ(good.app_version, "3.1.0");
  EXPECT_EQ(good.active_artifacts, active);
  EXPECT_EQ(good.ended_ms, 1'700'000'001'000);
  EXPECT_FALSE(good.blamed.has_value());

  auto one = log->Recent(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

// Rows in the guard's tables, counted through a second connection.
int64_t Count(const std::string& db_path, const char* sql) {
  auto db = internal::SqliteDb::Open(db_path);
  EXPECT_TRUE(db.ok());
  internal::Statement s((*db)->handle(), sql);
  EXPECT_EQ(s.Step(), SQLITE_ROW) << sql;
  return s.Int(0);
}

void Exec(const std::string& db_path, const char* sql) {
  auto db = internal::SqliteDb::Open(db_path);
  ASSERT_TRUE(db.ok());
  Status s = (*db)->Exec(sql, "test edit");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
}

TEST_F(LaunchLogTest, EachDistinctListIsStoredOnce) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const std::vector<ArtifactRef> a = {Art("native_bundle", "com.wallet.bill", "1.2.0"),
                                      Art("config_set", "flags", "7")};
  const std::vector<ArtifactRef> b = {Art("native_bundle", "com.wallet.bill", "1.3.0")};
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(*log->BeginLaunch("3.1.0", a));
  for (int i = 0; i < 2; ++i) ids.push_back(*log->BeginLaunch("3.1.0", b));
  ASSERT_TRUE(log->UpdateArtifacts(ids[6], a).ok());
  EXPECT_FALSE(log->UpdateArtifacts(999, b).ok());  // no such launch: nothing added
  // Resolved bundle names: the same two names at four good launches.
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(log->MarkGood(ids[i], {"com.a", "com.b"}).ok());
  EXPECT_FALSE(log->MarkGood(ids[0], {"com.c"}).ok());  // not running: nothing added
  EXPECT_EQ(Count(db_path_, "SELECT COUNT(*) FROM launch_lists"), 3);
  EXPECT_EQ(
      Count(db_path_, "SELECT COUNT(*) FROM launches WHERE artifacts != '' OR resolved != ''"), 0);
  auto recent = log->Recent(10);
  ASSERT_TRUE(recent.ok()) << recent.error().ToString();
  ASSERT_EQ(recent->size(), 7u);
  EXPECT_EQ((*recent)[0].active_artifacts, a);  // updated
  EXPECT_EQ((*recent)[1].active_artifacts, b);
  for (size_t i = 2; i < 7; ++i) EXPECT_EQ((*recent)[i].active_artifacts, a) << i;
  for (size_t i = 3; i < 7; ++i)
    EXPECT_EQ((*recent)[i].resolved, (std::vector<std::string>{"com.a", "com.b"})) << i;
  EXPECT_TRUE((*recent)[2].resolved.empty());
  // An empty list is a set too.
  ASSERT_TRUE(log->BeginLaunch("3.1.0", {}).ok());
  EXPECT_TRUE(log->Recent(1)->front().active_artifacts.empty());
}

TEST_F(LaunchLogTest, AVersion4DatabaseIsUpgradedWithItsListsMovedOut) {
  OpenLog().reset();
  // Back to version 4: no launch_lists, each row its own lists (old kind names).
  Exec(db_path_,
       "DROP TABLE launch_lists; ALTER TABLE launches DROP COLUMN artifact_list;"
       "ALTER TABLE launches DROP COLUMN resolved_list;"
       "UPDATE guard_meta SET value = 4 WHERE key = 'schema_version';"
       "INSERT INTO launches(started_ms, app_version, artifacts, outcome, level, resolved) "
       "VALUES(1, '3.0.0',"
       " '[{\"kind\":\"native\",\"id\":\"com.wallet.bill\",\"version\":\"1.1.0\"}]',"
       " 'good', 0, 'com.x\ncom.y');");
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(Count(db_path_, "SELECT value FROM guard_meta WHERE key = 'schema_version'"), 5);
  // The old row's lists moved out of it.
  EXPECT_EQ(
      Count(db_path_, "SELECT COUNT(*) FROM launches WHERE artifacts != '' OR resolved != ''"), 0);
  EXPECT_EQ(Count(db_path_, "SELECT COUNT(*) FROM launch_lists"), 2);
  ASSERT_TRUE(log->BeginLaunch("3.1.0", {Art("native_bundle", "com.wallet.bill", "1.2.0")}).ok());
  auto recent = log->Recent(10);
  ASSERT_TRUE(recent.ok()) << recent.error().ToString();
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].active_artifacts,
            (std::vector<ArtifactRef>{Art("native_bundle", "com.wallet.bill", "1.2.0")}));
  EXPECT_EQ((*recent)[1].active_artifacts,
            (std::vector<ArtifactRef>{Art("native_bundle", "com.wallet.bill", "1.1.0")}));
  EXPECT_EQ((*recent)[1].resolved, (std::vector<std::string>{"com.x", "com.y"}));
}

TEST_F(LaunchLogTest, AMissingOrDamagedListIsNamed) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  const int64_t id = *log->BeginLaunch("3.1.0", {Art("config_set", "flags", "7")});
  Exec(db_path_, "UPDATE launch_lists SET text = '[{\"kind\":1}]'");
  auto recent = log->Recent(1);
  ASSERT_FALSE(recent.ok());
  EXPECT_EQ(recent.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(
      recent.error().ToString().find("launch " + std::to_string(id) + ": unreadable artifact list"),
      std::string::npos)
      << recent.error().ToString();
  Exec(db_path_, "DELETE FROM launch_lists");
  recent = log->Recent(1);
  ASSERT_FALSE(recent.ok());
  EXPECT_NE(recent.error().ToString().find("launch " + std::to_string(id) + ": list 1 is missing"),
            std::string::npos)
      << recent.error().ToString();
}

TEST_F(LaunchLogTest, CloseStaleWithAndWithoutCrashRecord) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->BeginLaunch("1", {}).ok());
  }
  {
    auto log = OpenLog();
    auto closed = log->CloseStaleLaunches();
    ASSERT_TRUE(closed.ok());
    EXPECT_EQ(*closed, 1);
    auto recent = log->Recent(1);
    EXPECT_EQ((*recent)[0].outcome, LaunchOutcome::kKilledBeforeMark);
    EXPECT_EQ(*log->CloseStaleLaunches(), 0);
    ASSERT_TRUE(log->BeginLaunch("1", {}).ok());
  }
  {
    auto log = OpenLog();
    StaleCrash crash{"SIGSEGV in com.wallet.bill",
                     Art("native_bundle", "com.wallet.bill", "1.2.0")};
    auto closed = log->CloseStaleLaunches(crash);
    ASSERT_TRUE(closed.ok());
    EXPECT_EQ(*closed, 1);
    auto recent = log->Recent(5);
    ASSERT_EQ(recent->size(), 2u);
    EXPECT_EQ((*recent)[0].outcome, LaunchOutcome::kCrashed);
    EXPECT_EQ((*recent)[0].reason, "SIGSEGV in com.wallet.bill");
    EXPECT_EQ((*recent)[0].blamed, crash.blamed);
    EXPECT_EQ((*recent)[1].outcome, LaunchOutcome::kKilledBeforeMark);
  }
}

TEST_F(LaunchLogTest, BegunLaunchSurvivesAKilledProcess) {
  // Create the schema first so the child only begins a launch.
  OpenLog().reset();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = LaunchLog::Open(db_path_);
    if (!log.ok()) ::_exit(2);
    auto id = (*log)->BeginLaunch("9.9.9", {Art("h5", "com.wallet.home", "4")});
    ::_exit(id.ok() ? 0 : 3);  // no destructors, no close, no mark
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto log = OpenLog();
  auto closed = log->CloseStaleLaunches();
  ASSERT_TRUE(closed.ok()) << closed.error().ToString();
  EXPECT_EQ(*closed, 1);
  auto recent = log->Recent(1);
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].outcome, LaunchOutcome::kKilledBeforeMark);
  EXPECT_EQ((*recent)[0].app_version, "9.9.9");
  EXPECT_EQ((*recent)[0].active_artifacts,
            // Written with the short kind name of earlier versions, read as the kind it meant.
            std::vector<ArtifactRef>{Art("h5_package", "com.wallet.home", "4")});
}

TEST_F(LaunchLogTest, ActionsAreRecorded) {
  auto log = OpenLog();
  ASSERT_TRUE(log->RecordAction(1, "disabled native_bundle:a@1", "1 failed launch (crashed)").ok());
  now_ms_ += 5;
  ASSERT_TRUE(log->RecordAction(2, "rolled back every dynamic artifact", "2 failed").ok());
  auto actions = log->RecentActions(10);
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 2u);
  EXPECT_EQ((*actions)[0].level, 2);
  EXPECT_EQ((*actions)[0].what, "rolled back every dynamic artifact");
  EXPECT_EQ((*actions)[1].why, "1 failed launch (crashed)");
  EXPECT_EQ((*actions)[1].time_ms + 5, (*actions)[0].time_ms);
}

TEST_F(LaunchLogTest, SharesStateDbWithTheArtifactStore) {
  // The guard's tables first, then the artifact store's schema in the same file.
  OpenLog().reset();
  {
    auto db = internal::SqliteDb::Open(db_path_);
    ASSERT_TRUE(db.ok());
    internal::Statement v((*db)->handle(), "PRAGMA user_version");
    ASSERT_EQ(v.Step(), SQLITE_ROW);
    EXPECT_EQ(v.Int(0), 0) << "the guard must not touch user_version";
  }
  ArtifactStoreOptions store_options;
  store_options.data_dir = root_.string();
  auto store = ArtifactStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->BeginLaunch("1", {}).ok());
}

TEST_F(LaunchLogTest, DamagedDatabaseMeansSafeMode) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->BeginLaunch("1", {}).ok());
  }
  {
    std::ofstream out(db_path_, std::ios::binary | std::ios::trunc);
    std::string garbage(8192, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
    out << garbage;
  }
  auto opened = OpenForLaunch(db_path_, Options());
  ASSERT_TRUE(opened.safe_mode());
  EXPECT_NE(opened.safe_mode_reason.find("state.db"), std::string::npos) << opened.safe_mode_reason;
  EXPECT_NE(opened.safe_mode_reason.find("not a database"), std::string::npos)
      << opened.safe_mode_reason;
  LaunchDecision d = LaunchPolicy::SafeMode(opened.safe_mode_reason);
  EXPECT_TRUE(d.safe_mode);
  EXPECT_EQ(d.level, RecoveryLevel::kBaselineOnly);
  EXPECT_EQ(d.reason.rfind("cannot read launch history: ", 0), 0u) << d.reason;
  EXPECT_NE(d.reason.find("starting from the shipped baseline"), std::string::npos);
}

TEST_F(LaunchLogTest, DamagedPagesFailTheIntegrityCheck) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(log->BeginLaunch(std::string(100, 'v'), {Art("h5_package", "x", "1")}).ok());
    }
  }
  const auto size = fs::file_size(db_path_);
  ASSERT_GT(size, 3 * 4096u);
  {
    // Keep the header page; overwrite the rest with a pattern.
    std::fstream f(db_path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    std::string garbage(size - 4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto opened = OpenForLaunch(db_path_, Options());
  ASSERT_TRUE(opened.safe_mode());
  EXPECT_NE(opened.safe_mode_reason.find("integrity check failed: "), std::string::npos)
      << opened.safe_mode_reason;
  EXPECT_EQ(opened.safe_mode_reason.find('\n'), std::string::npos) << opened.safe_mode_reason;
}

TEST_F(LaunchLogTest, UnknownGuardSchemaVersionMeansSafeMode) {
  OpenLog().reset();
  {
    auto db = internal::SqliteDb::Open(db_path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)
            ->Exec("UPDATE guard_meta SET value = 7 WHERE key = 'schema_version'", "bumping")
            .ok());
  }
  auto opened = OpenForLaunch(db_path_, Options());
  ASSERT_TRUE(opened.safe_mode());
  EXPECT_NE(opened.safe_mode_reason.find("launch guard schema version 7"), std::string::npos)
      << opened.safe_mode_reason;
}

TEST_F(LaunchLogTest, LockedDatabaseMeansSafeModeAfterTheBusyTimeout) {
  OpenLog().reset();
  auto locker = internal::SqliteDb::Open(db_path_);
  ASSERT_TRUE(locker.ok());
  ASSERT_TRUE((*locker)->Exec("BEGIN EXCLUSIVE", "locking").ok());
  LaunchLogOptions options = Options();
  options.busy_timeout_ms = 200;
  auto opened = OpenForLaunch(db_path_, options);  // returns: the assertion is that we get here
  ASSERT_TRUE(opened.safe_mode());
  EXPECT_NE(opened.safe_mode_reason.find("locked"), std::string::npos) << opened.safe_mode_reason;
  ASSERT_TRUE((*locker)->Exec("ROLLBACK", "unlocking").ok());
  EXPECT_FALSE(OpenForLaunch(db_path_, Options()).safe_mode());
}

// --- The decision table -----------------------------------------------------

LaunchRecord Launch(int64_t id, int64_t started_ms, LaunchOutcome outcome,
                    std::vector<ArtifactRef> active, std::string reason = "",
                    std::optional<ArtifactRef> blamed = std::nullopt) {
  LaunchRecord r;
  r.id = id;
  r.started_ms = started_ms;
  r.outcome = outcome;
  r.active_artifacts = std::move(active);
  r.reason = std::move(reason);
  r.blamed = std::move(blamed);
  return r;
}

class LaunchPolicyTest : public ::testing::Test {
 protected:
  const ArtifactRef old_ = Art("h5_package", "com.wallet.home", "4");
  const ArtifactRef bill_ = Art("native_bundle", "com.wallet.bill", "1.2.0");
  const ArtifactRef flags_ = Art("config_set", "flags", "8");
  const int64_t t0_ = 1'700'000'000'000;

  // Newest first: `failures` failed launches after one good launch.
  std::vector<LaunchRecord> History(int failures) {
    std::vector<LaunchRecord> h;
    for (int i = failures; i >= 1; --i) {
      h.push_back(i % 2 == 1 ? Launch(i + 1, t0_ + i * kHourMs, LaunchOutcome::kCrashed,
                                      {old_, bill_, flags_}, "SIGSEGV in com.wallet.bill", bill_)
                             : Launch(i + 1, t0_ + i * kHourMs, LaunchOutcome::kHung,
                                      {old_, bill_, flags_}, "main loop blocked 8.0 s"));
    }
    h.push_back(Launch(1, t0_, LaunchOutcome::kGood, {old_}));
    return h;
  }
};

TEST_F(LaunchPolicyTest, NoFailuresNoAction) {
  LaunchPolicy policy;
  EXPECT_EQ(policy.Decide({}).level, RecoveryLevel::kNone);
  EXPECT_EQ(policy.Decide({}).reason, "no failed launches");
  LaunchDecision d = policy.Decide(History(0));
  EXPECT_EQ(d.level, RecoveryLevel::kNone);
  EXPECT_EQ(d.consecutive_failures, 0);
  EXPECT_TRUE(d.suspects.empty());
  EXPECT_EQ(d.reason, "the last launch was good");
}

TEST_F(LaunchPolicyTest, OneFailureDisablesRecentArtifactsBlamedFirst) {
  // The newest failure blames bill_; flags_ is listed first in the launch, bill_ second.
  std::vector<LaunchRecord> h = {Launch(2, t0_ + kHourMs, LaunchOutcome::kCrashed,
                                        {old_, flags_, bill_}, "SIGSEGV in com.wallet.bill", bill_),
                                 Launch(1, t0_, LaunchOutcome::kGood, {old_})};
  LaunchDecision d = LaunchPolicy().Decide(h);
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(d.consecutive_failures, 1);
  EXPECT_EQ(d.suspects, (std::vector<ArtifactRef>{bill_, flags_}));
  EXPECT_EQ(d.blamed, bill_);
  EXPECT_EQ(d.reason,
            "1 failed launch (crashed: SIGSEGV in com.wallet.bill) within 24 h: disabling the "
            "blamed native_bundle:com.wallet.bill@1.2.0");
}

TEST_F(LaunchPolicyTest, PersistentCrashAfterGoodDisablesTheBlamedArtifact) {
  auto after_good = [&](int64_t id, int64_t t, std::string sig) {
    LaunchRecord r = Launch(id, t, LaunchOutcome::kGood, {old_, bill_},
                            "SIGSEGV in com.wallet.bill (background)", bill_);
    r.crashed_after_good = true;
    r.crash_signature = std::move(sig);
    return r;
  };
  // Once: not acted on.
  LaunchDecision once = LaunchPolicy().Decide(
      {after_good(2, t0_ + kHourMs, "aaaa"), Launch(1, t0_, LaunchOutcome::kGood, {old_})});
  EXPECT_EQ(once.level, RecoveryLevel::kNone);
  // Twice with the same signature: level 1 on the blamed artifact, no streak.
  LaunchDecision twice = LaunchPolicy().Decide(
      {after_good(3, t0_ + 2 * kHourMs, "aaaa"), after_good(2, t0_ + kHourMs, "aaaa")});
  EXPECT_EQ(twice.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(twice.consecutive_failures, 0);
  EXPECT_EQ(twice.blamed, bill_);
  EXPECT_EQ(twice.suspects, (std::vector<ArtifactRef>{bill_}));
  EXPECT_NE(
      twice.reason.find("persistent; disabling the blamed native_bundle:com.wallet.bill@1.2.0"),
      std::string::npos)
      << twice.reason;
  // Different signatures, or unattributable, or outside the window: no action.
  EXPECT_EQ(
      LaunchPolicy()
          .Decide({after_good(3, t0_ + 2 * kHourMs, "aaaa"), after_good(2, t0_ + kHourMs, "bbbb")})
          .level,
      RecoveryLevel::kNone);
  LaunchRecord unblamed = after_good(3, t0_ + 2 * kHourMs, "aaaa");
  unblamed.blamed.reset();
  EXPECT_EQ(LaunchPolicy().Decide({unblamed, after_good(2, t0_ + kHourMs, "aaaa")}).level,
            RecoveryLevel::kNone);
  EXPECT_EQ(
      LaunchPolicy()
          .Decide({after_good(3, t0_ + 48 * kHourMs, "aaaa"), after_good(2, t0_ + kHourMs, "aaaa")})
          .level,
      RecoveryLevel::kNone);
}

TEST_F(LaunchPolicyTest, OneFailureWithoutBlameKeepsLaunchOrder) {
  std::vector<LaunchRecord> h = {
      Launch(2, t0_ + kHourMs, LaunchOutcome::kKilledBeforeMark, {old_, flags_, bill_}),
      Launch(1, t0_, LaunchOutcome::kGood, {old_})};
  LaunchDecision d = LaunchPolicy().Decide(h);
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(d.suspects, (std::vector<ArtifactRef>{flags_, bill_}));
  EXPECT_FALSE(d.blamed.has_value());
  EXPECT_NE(d.reason.find("(killed before mark)"), std::string::npos) << d.reason;
}

TEST_F(LaunchPolicyTest, TwoFailuresRollBackEverything) {
  LaunchDecision d = LaunchPolicy().Decide(History(2));
  EXPECT_EQ(d.level, RecoveryLevel::kRollbackAll);
  EXPECT_EQ(d.consecutive_failures, 2);
  EXPECT_EQ(d.reason,
            "2 consecutive failed launches (crashed: SIGSEGV in com.wallet.bill; hung: main "
            "loop blocked 8.0 s) within 24 h: rolling every dynamic artifact back");
  // The suspects are still reported (what changed since the last good launch).
  EXPECT_EQ(d.suspects, (std::vector<ArtifactRef>{bill_, flags_}));
}

// Before: two force-quits within the window rolled every update back (level
// 2) and three returned to the baseline.
TEST_F(LaunchPolicyTest, LaunchesKilledBeforeTheirMarkAloneGoNoFurtherThanLevelOne) {
  for (int n : {1, 2, 3, 6}) {
    std::vector<LaunchRecord> h;
    for (int i = n; i >= 1; --i) {
      h.push_back(Launch(i + 1, t0_ + i * kHourMs, LaunchOutcome::kKilledBeforeMark,
                         {old_, bill_, flags_}));
    }
    h.push_back(Launch(1, t0_, LaunchOutcome::kGood, {old_}));
    LaunchDecision d = LaunchPolicy().Decide(h);
    EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent) << n;
    EXPECT_TRUE(d.without_evidence) << n;
    EXPECT_EQ(d.consecutive_failures, n);
    // Only what changed since the last good launch: old_ stays.
    EXPECT_EQ(d.suspects, (std::vector<ArtifactRef>{bill_, flags_})) << n;
  }
  std::vector<LaunchRecord> two = {
      Launch(3, t0_ + 2 * kHourMs, LaunchOutcome::kKilledBeforeMark, {old_, bill_}),
      Launch(2, t0_ + kHourMs, LaunchOutcome::kKilledBeforeMark, {old_, bill_}),
      Launch(1, t0_, LaunchOutcome::kGood, {old_})};
  EXPECT_EQ(LaunchPolicy().Decide(two).reason,
            "2 consecutive failed launches (killed before mark (x2)) within 24 h: no crash or "
            "hang record, so no further than level 1 and what it disables is retried after 3 "
            "good launches; disabling 1 dynamic artifact activated since the last good launch, "
            "starting with native_bundle:com.wallet.bill@1.2.0");
}

TEST_F(LaunchPolicyTest, OnlyFailuresWithEvidenceEscalate) {
  // crash, killed, killed: one failure with evidence -> level 1, not 3.
  std::vector<LaunchRecord> h = {
      Launch(4, t0_ + 3 * kHourMs, LaunchOutcome::kKilledBeforeMark, {old_, bill_}),
      Launch(3, t0_ + 2 * kHourMs, LaunchOutcome::kKilledBeforeMark, {old_, bill_}),
      Launch(2, t0_ + kHourMs, LaunchOutcome::kCrashed, {old_, bill_}, "SIGSEGV", bill_),
      Launch(1, t0_, LaunchOutcome::kGood, {old_})};
  LaunchDecision d = LaunchPolicy().Decide(h);
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_FALSE(d.without_evidence);
  EXPECT_NE(d.reason.find("2 of them killed before mark (not counted)"), std::string::npos)
      << d.reason;
  // Two crashes and a kill: level 2.
  h[1].outcome = LaunchOutcome::kHung;
  EXPECT_EQ(LaunchPolicy().Decide(h).level, RecoveryLevel::kRollbackAll);
  // Three with evidence: level 3, the real crash loop still recovers in three launches.
  h[0].outcome = LaunchOutcome::kCrashed;
  EXPECT_EQ(LaunchPolicy().Decide(h).level, RecoveryLevel::kBaselineOnly);
}

TEST_F(LaunchPolicyTest, ThreeOrMoreFailuresStartFromBaseline) {
  for (int n : {3, 4, 7}) {
    LaunchDecision d = LaunchPolicy().Decide(History(n));
    EXPECT_EQ(d.level, RecoveryLevel::kBaselineOnly) << n;
    EXPECT_EQ(d.consecutive_failures, n);
    EXPECT_FALSE(d.safe_mode);
    EXPECT_NE(d.reason.find(std::to_string(n) + " consecutive failed launches"), std::string::npos)
        << d.reason;
    EXPECT_NE(d.reason.find("starting from the shipped baseline"), std::string::npos) << d.reason;
  }
}

TEST_F(LaunchPolicyTest, AGoodLaunchResetsTheStreak) {
  std::vector<LaunchRecord> h = {
      Launch(5, t0_ + 4 * kHourMs, LaunchOutcome::kCrashed, {old_, bill_}, "SIGABRT"),
      Launch(4, t0_ + 3 * kHourMs, LaunchOutcome::kGood, {old_, bill_}),
      Launch(3, t0_ + 2 * kHourMs, LaunchOutcome::kCrashed, {old_}),
      Launch(2, t0_ + 1 * kHourMs, LaunchOutcome::kCrashed, {old_}),
  };
  LaunchDecision d = LaunchPolicy().Decide(h);
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(d.consecutive_failures, 1);
  EXPECT_TRUE(d.suspects.empty()) << "bill_ was active in the last good launch";
  EXPECT_NE(d.reason.find("nothing to disable"), std::string::npos) << d.reason;
}

TEST_F(LaunchPolicyTest, RunningRowsAreSkipped) {
  std::vector<LaunchRecord> h = History(1);
  h.insert(h.begin(), Launch(99, t0_ + 9 * kHourMs, LaunchOutcome::kRunning, {}));
  EXPECT_EQ(LaunchPolicy().Decide(h).consecutive_failures, 1);
}

TEST_F(LaunchPolicyTest, FailuresOutsideTheWindowDoNotCount) {
  std::vector<LaunchRecord> h = {
      Launch(4, t0_ + 50 * kHourMs, LaunchOutcome::kCrashed, {bill_}, "SIGSEGV"),
      Launch(3, t0_ + 40 * kHourMs, LaunchOutcome::kHung, {bill_}, "blocked"),
      // 39 h before the next-newer failure: outside the 24 h window.
      Launch(2, t0_ + 1 * kHourMs, LaunchOutcome::kCrashed, {bill_}),
      Launch(1, t0_, LaunchOutcome::kCrashed, {bill_}),
  };
  LaunchDecision d = LaunchPolicy().Decide(h);
  EXPECT_EQ(d.consecutive_failures, 2);
  EXPECT_EQ(d.level, RecoveryLevel::kRollbackAll);

  LaunchGuardConfig wide;
  wide.window = std::chrono::hours(48);
  d = LaunchPolicy(wide).Decide(h);
  EXPECT_EQ(d.consecutive_failures, 4);
  EXPECT_EQ(d.level, RecoveryLevel::kBaselineOnly);
  EXPECT_NE(d.reason.find("within 48 h"), std::string::npos) << d.reason;
}

TEST_F(LaunchPolicyTest, CustomThresholds) {
  LaunchGuardConfig config;
  config.disable_recent = 2;
  config.rollback_all = 4;
  config.baseline_only = 6;
  LaunchPolicy policy(config);
  EXPECT_EQ(policy.Decide(History(1)).level, RecoveryLevel::kNone);
  EXPECT_NE(policy.Decide(History(1)).reason.find("below the threshold of 2"), std::string::npos);
  EXPECT_EQ(policy.Decide(History(2)).level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(policy.Decide(History(3)).level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(policy.Decide(History(4)).level, RecoveryLevel::kRollbackAll);
  EXPECT_EQ(policy.Decide(History(5)).level, RecoveryLevel::kRollbackAll);
  EXPECT_EQ(policy.Decide(History(6)).level, RecoveryLevel::kBaselineOnly);

  config.disable_recent = config.rollback_all = config.baseline_only = 2;
  EXPECT_EQ(LaunchPolicy(config).Decide(History(2)).level, RecoveryLevel::kBaselineOnly);
}

TEST_F(LaunchPolicyTest, DecisionFromRecordsInTheDatabase) {
  std::string tmpl = (fs::temp_directory_path() / "atrium_launch_policy_XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/state.db";
  int64_t now = t0_;
  LaunchLogOptions options;
  options.now_ms = [&now] { return now; };
  {
    auto log = std::move(LaunchLog::Open(path, options)).value();
    auto good = log->BeginLaunch("1", {old_});
    ASSERT_TRUE(log->MarkGood(*good).ok());
    now += kHourMs;
    ASSERT_TRUE(log->BeginLaunch("1", {old_, bill_}).ok());  // then killed
  }
  auto log = std::move(LaunchLog::Open(path, options)).value();
  ASSERT_TRUE(log->CloseStaleLaunches(StaleCrash{"SIGSEGV in com.wallet.bill", bill_}).ok());
  LaunchDecision d = LaunchPolicy().Decide(*log->Recent(50));
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(d.suspects, std::vector<ArtifactRef>{bill_});
  ASSERT_TRUE(log->RecordAction(static_cast<int>(d.level),
                                "disabled " + ArtifactRefText(d.suspects[0]), d.reason)
                  .ok());
  EXPECT_EQ((*log->RecentActions(1))[0].why, d.reason);
  log.reset();

  auto history = ReadLaunchHistory(path, 10);
  ASSERT_TRUE(history.ok()) << history.error().ToString();
  ASSERT_EQ(history->launches.size(), 2u);
  EXPECT_EQ(history->launches[0].outcome, LaunchOutcome::kCrashed);
  ASSERT_EQ(history->actions.size(), 1u);
  EXPECT_EQ(history->actions[0].what, "disabled native_bundle:com.wallet.bill@1.2.0");
  EXPECT_FALSE(ReadLaunchHistory(tmpl + "/missing/state.db", 10).ok());
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

// --- Config parsing ----------------------------------------------------------

TEST(LaunchOutcomeTest, NamesRoundTrip) {
  for (LaunchOutcome o : {LaunchOutcome::kRunning, LaunchOutcome::kGood, LaunchOutcome::kCrashed,
                          LaunchOutcome::kHung, LaunchOutcome::kRequiredTaskFailed,
                          LaunchOutcome::kKilledBeforeMark}) {
    EXPECT_EQ(ParseLaunchOutcome(LaunchOutcomeName(o)), o);
  }
  EXPECT_EQ(std::string(LaunchOutcomeName(LaunchOutcome::kKilledBeforeMark)), "killed before mark");
  EXPECT_FALSE(ParseLaunchOutcome("fine").has_value());
  EXPECT_FALSE(IsFailedLaunch(LaunchOutcome::kGood));
  EXPECT_TRUE(IsFailedLaunch(LaunchOutcome::kRequiredTaskFailed));
}

}  // namespace
}  // namespace atrium
