// The launch guard's configuration: the app.json "launch_guard" section the
// guard registers with the manifest model (validated with pointers), and the
// strict parse of that object, whose actions drive the decision.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "atrium/launch_guard.h"
#include "atrium/manifest.h"

namespace atrium {
namespace {

// The guard owns app.json's "launch_guard" section (registered with the
// manifest model's section registry): ParseAppDescriptor validates it with
// pointers under /launch_guard and keeps it for the guard.
TEST(LaunchGuardSectionTest, TheSeedWithAGuardSectionParses) {
  // The manifest fuzz seed uses rollback:lua_patch and rollback:native_bundle;
  // this test links no dynamic layer, so the first is refused with its
  // pointer (the CLI, which has every layer, accepts it: cli_test).
  auto app = LoadAppDescriptorFile(std::string(ATRIUM_SOURCE_DIR) +
                                   "/tests/fuzz/corpus/manifest/app_with_guard_section.json");
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.error().pointer, "/launch_guard/actions/rollback_all/0");
  EXPECT_NE(app.error().message.find("which no registered dynamic layer has"), std::string::npos)
      << app.error().ToString();
}

TEST(LaunchGuardSectionTest, AppJsonSectionIsValidatedWithPointers) {
  auto app_with = [](std::string_view guard) {
    return std::string(R"({"id": "com.example.app", "version": "1.0.0", "home": "home",
                           "baseline": ["bundles/home"], "launch_guard": )") +
           std::string(guard) + "}";
  };
  auto ok = ParseAppDescriptor(app_with(R"({"levels": {"baseline_only": 5}, "quiet_period_ms": 300,
                                            "watchdog": {"main_loop_blocked_ms": 1500}})"),
                               "app.json");
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_NE(ok->sections.at("launch_guard").find("\"quiet_period_ms\":300"), std::string::npos);
  struct Case {
    const char* guard;
    const char* pointer;
    const char* fragment;
  };
  for (const Case& c :
       {Case{R"({"quiet_period_ms": -1})", "/launch_guard/quiet_period_ms", "out of range"},
        Case{R"({"watchdog": {"hang": 1}})", "/launch_guard/watchdog/hang", "unknown field"},
        Case{R"("on")", "/launch_guard", "expected an object"}}) {
    auto bad = ParseAppDescriptor(app_with(c.guard), "app.json");
    ASSERT_FALSE(bad.ok()) << c.guard;
    EXPECT_EQ(bad.error().code, ErrorCode::kValidation) << c.guard;
    EXPECT_EQ(bad.error().file, "app.json");
    EXPECT_EQ(bad.error().pointer, c.pointer) << bad.error().ToString();
    EXPECT_NE(bad.error().message.find(c.fragment), std::string::npos) << bad.error().ToString();
  }
}

TEST(LaunchGuardConfigTest, DefaultsAndFullObject) {
  auto empty = ParseLaunchGuardConfig("{}", "app.json");
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  EXPECT_EQ(empty->disable_recent, 1);
  EXPECT_EQ(empty->rollback_all, 2);
  EXPECT_EQ(empty->baseline_only, 3);
  EXPECT_EQ(empty->window, std::chrono::hours(24));
  EXPECT_EQ(empty->quiet_period, std::chrono::milliseconds(5000));
  EXPECT_EQ(empty->first_frame_limit, std::chrono::milliseconds(20000));
  EXPECT_EQ(empty->main_loop_blocked_limit, std::chrono::milliseconds(5000));

  auto full = ParseLaunchGuardConfig(
      R"({"levels": {"disable_recent": 2, "rollback_all": 3, "baseline_only": 5},
          "window_hours": 1.5, "quiet_period_ms": 0,
          "watchdog": {"first_frame_ms": 0, "main_loop_blocked_ms": 1500}})",
      "app.json");
  ASSERT_TRUE(full.ok()) << full.error().ToString();
  EXPECT_EQ(full->disable_recent, 2);
  EXPECT_EQ(full->rollback_all, 3);
  EXPECT_EQ(full->baseline_only, 5);
  EXPECT_EQ(full->window, std::chrono::minutes(90));
  EXPECT_EQ(full->quiet_period, std::chrono::milliseconds(0));
  EXPECT_EQ(full->first_frame_limit, std::chrono::milliseconds(0));
  EXPECT_EQ(empty->level_actions[0], DefaultRecoveryActions(RecoveryLevel::kDisableRecent));
  using Type = RecoveryAction::Type;
  EXPECT_EQ(empty->level_actions[1], (std::vector<RecoveryAction>{{Type::kRollbackAll, ""}}));
  EXPECT_EQ(empty->level_actions[2],
            (std::vector<RecoveryAction>{{Type::kDisableAll, ""}, {Type::kClearCaches, ""}}));
  EXPECT_EQ(full->main_loop_blocked_limit, std::chrono::milliseconds(1500));
}

TEST(LaunchGuardConfigTest, ConfiguredActionsDriveTheDecision) {
  auto config = ParseLaunchGuardConfig(
      R"({"actions": {"disable_recent": ["disable_all_recent", "clear_caches"],
                      "rollback_all": []}})",
      "app.json");
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  using Type = RecoveryAction::Type;
  EXPECT_EQ(config->level_actions[0],
            (std::vector<RecoveryAction>{{Type::kDisableAllRecent, ""}, {Type::kClearCaches, ""}}));
  EXPECT_TRUE(config->level_actions[1].empty());
  EXPECT_EQ(config->level_actions[2], DefaultRecoveryActions(RecoveryLevel::kBaselineOnly));
  const ArtifactRef bill{"native_bundle", "com.wallet.bill", "1.2.0"};
  LaunchRecord failed;
  failed.id = 2;
  failed.started_ms = 1'000'000;
  failed.outcome = LaunchOutcome::kCrashed;
  failed.reason = "SIGSEGV";
  failed.active_artifacts = {bill};
  LaunchDecision d = LaunchPolicy(*config).Decide({failed});
  EXPECT_EQ(d.level, RecoveryLevel::kDisableRecent);
  EXPECT_EQ(d.actions, config->level_actions[0]);
  EXPECT_EQ(d.reason,
            "1 failed launch (crashed: SIGSEGV) within 24 h: level 1 actions: disable_all_recent, "
            "clear_caches");
  LaunchRecord older = failed;
  older.id = 1;
  older.started_ms -= 1000;
  d = LaunchPolicy(*config).Decide({failed, older});
  EXPECT_EQ(d.level, RecoveryLevel::kRollbackAll);
  EXPECT_TRUE(d.actions.empty());
  EXPECT_NE(d.reason.find("level 2 actions: none configured"), std::string::npos) << d.reason;
  for (const RecoveryAction& a : std::vector<RecoveryAction>{{Type::kDisableRecent, ""},
                                                             {Type::kDisableAllRecent, ""},
                                                             {Type::kRollbackAll, ""},
                                                             {Type::kRollbackKind, "lua_patch"},
                                                             {Type::kDisableAll, ""},
                                                             {Type::kDisableKind, "native_bundle"},
                                                             {Type::kClearCaches, ""}}) {
    EXPECT_EQ(ParseRecoveryAction(RecoveryActionName(a)), a) << RecoveryActionName(a);
  }
  EXPECT_EQ(RecoveryActionName({Type::kRollbackKind, "lua_patch"}), "rollback:lua_patch");
  EXPECT_EQ(ParseRecoveryAction("wipe"), std::nullopt);
  EXPECT_EQ(ParseRecoveryAction("rollback:"), std::nullopt);
}

TEST(LaunchGuardConfigTest, ErrorsNameThePointer) {
  struct Case {
    const char* json;
    const char* pointer;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"level": {}})", "/level", "unknown field 'level'"},
      {R"([])", "", "expected an object"},
      {R"({"levels": 1})", "/levels", "expected an object"},
      {R"({"levels": {"disable_recent": "1"}})", "/levels/disable_recent", "expected an integer"},
      {R"({"levels": {"rollback_all": 0}})", "/levels/rollback_all", "out of range"},
      {R"({"levels": {"baseline_only": 1.5}})", "/levels/baseline_only", "expected an integer"},
      {R"({"levels": {"disable_recent": 3}})", "/levels/rollback_all",
       "must not be below disable_recent"},
      {R"({"levels": {"baseline_only": 1}})", "/levels/baseline_only",
       "must not be below rollback_all"},
      {R"({"levels": {"rollback": 2}})", "/levels/rollback", "unknown field"},
      {R"({"window_hours": 0})", "/window_hours", "must be > 0"},
      {R"({"window_hours": "24"})", "/window_hours", "expected a number"},
      {R"({"quiet_period_ms": -1})", "/quiet_period_ms", "out of range"},
      {R"({"quiet_period_ms": 5000.5})", "/quiet_period_ms", "expected an integer"},
      {R"({"watchdog": []})", "/watchdog", "expected an object"},
      {R"({"watchdog": {"hang_ms": 1}})", "/watchdog/hang_ms", "unknown field"},
      {R"({"watchdog": {"first_frame_ms": -5}})", "/watchdog/first_frame_ms", "out of range"},
      {R"({"watchdog": {"main_loop_blocked_ms": 600001}})", "/watchdog/main_loop_blocked_ms",
       "out of range"},
      {R"({"watchdog": {"main_loop_blocked_ms": true}})", "/watchdog/main_loop_blocked_ms",
       "expected an integer"},
      {R"({"actions": []})", "/actions", "expected an object"},
      {R"({"actions": {"level_4": []}})", "/actions/level_4", "unknown field"},
      {R"({"actions": {"rollback_all": "rollback_updates"}})", "/actions/rollback_all",
       "expected an array"},
      {R"({"actions": {"rollback_all": [1]}})", "/actions/rollback_all/0", "expected a string"},
      {R"({"actions": {"baseline_only": ["clear_caches", "wipe_private"]}})",
       "/actions/baseline_only/1", "unknown recovery action 'wipe_private' (allowed: "},
      {R"({"actions": {"disable_recent": ["clear_caches", "clear_caches"]}})",
       "/actions/disable_recent/1", "duplicate recovery action 'clear_caches'"},
      // Names of earlier versions say what replaced them.
      {R"({"actions": {"rollback_all": ["rollback_hotpatches"]}})", "/actions/rollback_all/0",
       "'rollback_hotpatches' was replaced by rollback:lua_patch"},
      // A kind must be a registered layer's (this test links none).
      {R"({"actions": {"rollback_all": ["rollback:h5_package"]}})", "/actions/rollback_all/0",
       "names kind 'h5_package', which no registered dynamic layer has (registered: none)"},
      {R"({"actions": {"baseline_only": ["disable:"]}})", "/actions/baseline_only/0",
       "unknown recovery action 'disable:'"},
  };
  for (const Case& c : cases) {
    auto r = ParseLaunchGuardConfig(c.json, "app.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation) << c.json;
    EXPECT_EQ(r.error().file, "app.json");
    EXPECT_EQ(r.error().pointer, c.pointer) << c.json << ": " << r.error().ToString();
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos)
        << c.json << ": " << r.error().ToString();
  }
}

TEST(LaunchGuardConfigTest, SyntaxErrorsAndDuplicates) {
  auto bad = ParseLaunchGuardConfig(R"({"window_hours": })", "app.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kParse);
  EXPECT_TRUE(bad.error().offset.has_value());
  auto dup = ParseLaunchGuardConfig(R"({"window_hours": 1, "window_hours": 2})", "app.json");
  ASSERT_FALSE(dup.ok());
}

TEST(LaunchGuardConfigTest, RetryAfterGoodLaunches) {
  auto defaults = ParseLaunchGuardConfig("{}", "app.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->retry_after_good_launches, 3);
  auto never = ParseLaunchGuardConfig(R"({"retry_after_good_launches": 0})", "app.json");
  ASSERT_TRUE(never.ok()) << never.error().ToString();
  EXPECT_EQ(never->retry_after_good_launches, 0);
  for (const char* bad :
       {R"({"retry_after_good_launches": -1})", R"({"retry_after_good_launches": 101})",
        R"({"retry_after_good_launches": "3"})"}) {
    auto r = ParseLaunchGuardConfig(bad, "app.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().pointer, "/retry_after_good_launches") << r.error().ToString();
  }
}

}  // namespace
}  // namespace atrium
