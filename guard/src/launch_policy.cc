#include "atrium/guard/launch_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>

#include "atrium/base/field_reader.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest/app_sections.h"

namespace atrium {

namespace json = boost::json;

const char* LaunchOutcomeName(LaunchOutcome outcome) {
  switch (outcome) {
    case LaunchOutcome::kRunning:
      return "running";
    case LaunchOutcome::kGood:
      return "good";
    case LaunchOutcome::kCrashed:
      return "crashed";
    case LaunchOutcome::kHung:
      return "hung";
    case LaunchOutcome::kRequiredTaskFailed:
      return "required task failed";
    case LaunchOutcome::kKilledBeforeMark:
      return "killed before mark";
    case LaunchOutcome::kIncomplete:
      return "incomplete";
  }
  return "unknown";
}

std::optional<LaunchOutcome> ParseLaunchOutcome(std::string_view name) {
  for (LaunchOutcome o : {LaunchOutcome::kRunning, LaunchOutcome::kGood, LaunchOutcome::kCrashed,
                          LaunchOutcome::kHung, LaunchOutcome::kRequiredTaskFailed,
                          LaunchOutcome::kKilledBeforeMark, LaunchOutcome::kIncomplete}) {
    if (name == LaunchOutcomeName(o)) return o;
  }
  return std::nullopt;
}

bool IsFailedLaunch(LaunchOutcome outcome) {
  return outcome != LaunchOutcome::kRunning && outcome != LaunchOutcome::kGood;
}

namespace {

using internal::Child;
using internal::MakeLocated;
using internal::Quote;

// "24 h", "90 min", "1500 ms".
std::string DurationText(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + " h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
  return std::to_string(ms) + " ms";
}

std::string FailureText(const LaunchRecord& r) {
  std::string out = LaunchOutcomeName(r.outcome);
  if (!r.reason.empty()) out += ": " + r.reason;
  return out;
}

bool Contains(const std::vector<ArtifactRef>& list, const ArtifactRef& ref) {
  for (const ArtifactRef& a : list) {
    if (a == ref) return true;
  }
  return false;
}

using internal::FieldReader;

constexpr double kMaxWindowHours = 8760;  // one year
constexpr int64_t kMaxThreshold = 100;
constexpr int64_t kMaxQuietPeriodMs = 600'000;
constexpr int64_t kMaxWatchdogMs = 600'000;

}  // namespace

namespace {

using Type = RecoveryAction::Type;

struct ActionName {
  Type type;
  const char* name;  // for the *Kind types: the prefix before the kind
};
constexpr ActionName kActionNames[] = {
    {Type::kDisableRecent, "disable_recent"}, {Type::kDisableAllRecent, "disable_all_recent"},
    {Type::kRollbackAll, "rollback_all"},     {Type::kRollbackKind, "rollback:"},
    {Type::kDisableAll, "disable_all"},       {Type::kDisableKind, "disable:"},
    {Type::kClearCaches, "clear_caches"},
};

// The names of earlier versions, with what replaced them.
constexpr std::pair<const char*, const char*> kFormerNames[] = {
    {"rollback_updates", "rollback:native_bundle (or rollback_all)"},
    {"rollback_hotpatches", "rollback:lua_patch (or rollback_all)"},
    {"disable_updates", "disable:native_bundle (or disable_all)"},
    {"disable_hotpatches", "disable:lua_patch (or disable_all)"},
    {"clear_cache", "clear_caches"},
    {"clear_config", "disable:config_set (the app's config defaults only)"},
};

std::string AllowedActions() {
  std::string allowed;
  for (const ActionName& n : kActionNames) {
    allowed += (allowed.empty() ? "" : ", ") + std::string(n.name);
    if (n.type == Type::kRollbackKind || n.type == Type::kDisableKind) allowed += "<kind>";
  }
  return allowed;
}

std::string RegisteredKinds() {
  std::string kinds;
  for (const DynamicLayerSpec& spec : RegisteredDynamicLayers()) {
    kinds += (kinds.empty() ? "" : ", ") + spec.kind;
  }
  return kinds.empty() ? "none" : kinds;
}

}  // namespace

std::string RecoveryActionName(const RecoveryAction& action) {
  for (const ActionName& a : kActionNames) {
    if (a.type == action.type) {
      return a.type == Type::kRollbackKind || a.type == Type::kDisableKind
                 ? std::string(a.name) + action.kind
                 : std::string(a.name);
    }
  }
  return "unknown";
}

std::optional<RecoveryAction> ParseRecoveryAction(std::string_view name) {
  for (const ActionName& a : kActionNames) {
    const std::string_view n = a.name;
    if (a.type == Type::kRollbackKind || a.type == Type::kDisableKind) {
      if (name.size() > n.size() && name.substr(0, n.size()) == n) {
        return RecoveryAction{a.type, std::string(name.substr(n.size()))};
      }
    } else if (name == n) {
      return RecoveryAction{a.type, ""};
    }
  }
  return std::nullopt;
}

std::vector<RecoveryAction> DefaultRecoveryActions(RecoveryLevel level) {
  switch (level) {
    case RecoveryLevel::kNone:
      return {};
    case RecoveryLevel::kDisableRecent:
      return {{Type::kDisableRecent, ""}};
    case RecoveryLevel::kRollbackAll:
      return {{Type::kRollbackAll, ""}};
    case RecoveryLevel::kBaselineOnly:
      return {{Type::kDisableAll, ""}, {Type::kClearCaches, ""}};
  }
  return {};
}

namespace internal {

Result<LaunchGuardConfig> ReadLaunchGuardConfig(const json::value& value, std::string_view file,
                                                std::string_view pointer) {
  FieldReader r(file);
  const std::string at(pointer);
  if (!value.is_object()) return r.WrongType(at, "an object", value);
  const json::object& top = value.get_object();
  if (Status s = r.CheckKnownFields(top, at,
                                    {"levels", "window_hours", "quiet_period_ms", "watchdog",
                                     "actions", "retry_after_good_launches"});
      !s.ok()) {
    return s.error();
  }
  LaunchGuardConfig config;
  if (const json::value* levels_value = top.if_contains("levels")) {
    const std::string levels_at = Child(at, "levels");
    if (!levels_value->is_object()) return r.WrongType(levels_at, "an object", *levels_value);
    const json::object& levels = levels_value->get_object();
    if (Status s = r.CheckKnownFields(levels, levels_at,
                                      {"disable_recent", "rollback_all", "baseline_only"});
        !s.ok()) {
      return s.error();
    }
    struct Level {
      const char* key;
      int* out;
    };
    const Level all[] = {{"disable_recent", &config.disable_recent},
                         {"rollback_all", &config.rollback_all},
                         {"baseline_only", &config.baseline_only}};
    for (const Level& level : all) {
      Result<int64_t> n = r.OptionalInt(levels, levels_at, level.key, *level.out, 1, kMaxThreshold);
      if (!n.ok()) return n.error();
      *level.out = static_cast<int>(*n);
    }
    if (config.rollback_all < config.disable_recent) {
      return r.Invalid(Child(levels_at, "rollback_all"),
                       "rollback_all (" + std::to_string(config.rollback_all) +
                           ") must not be below disable_recent (" +
                           std::to_string(config.disable_recent) + ")");
    }
    if (config.baseline_only < config.rollback_all) {
      return r.Invalid(Child(levels_at, "baseline_only"),
                       "baseline_only (" + std::to_string(config.baseline_only) +
                           ") must not be below rollback_all (" +
                           std::to_string(config.rollback_all) + ")");
    }
  }
  if (const json::value* v = top.if_contains("window_hours")) {
    const std::string window_at = Child(at, "window_hours");
    if (!v->is_number()) return r.WrongType(window_at, "a number", *v);
    double hours = v->to_number<double>();
    if (!(hours > 0 && hours <= kMaxWindowHours)) {
      return r.Invalid(window_at, "value must be > 0 and <= " +
                                      std::to_string(static_cast<int64_t>(kMaxWindowHours)));
    }
    config.window = std::chrono::milliseconds(std::llround(hours * 3'600'000.0));
  }
  Result<int64_t> quiet =
      r.OptionalInt(top, at, "quiet_period_ms", config.quiet_period.count(), 0, kMaxQuietPeriodMs);
  if (!quiet.ok()) return quiet.error();
  config.quiet_period = std::chrono::milliseconds(*quiet);
  Result<int64_t> retry = r.OptionalInt(top, at, "retry_after_good_launches",
                                        config.retry_after_good_launches, 0, kMaxThreshold);
  if (!retry.ok()) return retry.error();
  config.retry_after_good_launches = static_cast<int>(*retry);
  if (const json::value* w = top.if_contains("watchdog")) {
    const std::string watchdog_at = Child(at, "watchdog");
    if (!w->is_object()) return r.WrongType(watchdog_at, "an object", *w);
    const json::object& watchdog = w->get_object();
    if (Status s =
            r.CheckKnownFields(watchdog, watchdog_at, {"first_frame_ms", "main_loop_blocked_ms"});
        !s.ok()) {
      return s.error();
    }
    Result<int64_t> first = r.OptionalInt(watchdog, watchdog_at, "first_frame_ms",
                                          config.first_frame_limit.count(), 0, kMaxWatchdogMs);
    if (!first.ok()) return first.error();
    Result<int64_t> blocked =
        r.OptionalInt(watchdog, watchdog_at, "main_loop_blocked_ms",
                      config.main_loop_blocked_limit.count(), 0, kMaxWatchdogMs);
    if (!blocked.ok()) return blocked.error();
    config.first_frame_limit = std::chrono::milliseconds(*first);
    config.main_loop_blocked_limit = std::chrono::milliseconds(*blocked);
  }
  if (const json::value* a = top.if_contains("actions")) {
    const std::string actions_at = Child(at, "actions");
    if (!a->is_object()) return r.WrongType(actions_at, "an object", *a);
    const json::object& actions = a->get_object();
    const char* const levels[] = {"disable_recent", "rollback_all", "baseline_only"};
    if (Status s = r.CheckKnownFields(actions, actions_at,
                                      {"disable_recent", "rollback_all", "baseline_only"});
        !s.ok()) {
      return s.error();
    }
    for (int level = 0; level < 3; ++level) {
      const json::value* list = actions.if_contains(levels[level]);
      if (list == nullptr) continue;
      const std::string list_at = Child(actions_at, levels[level]);
      if (!list->is_array()) return r.WrongType(list_at, "an array", *list);
      std::vector<RecoveryAction> out;
      for (size_t i = 0; i < list->get_array().size(); ++i) {
        const std::string item_at = Child(list_at, i);
        const json::value& item = list->get_array()[i];
        if (!item.is_string()) return r.WrongType(item_at, "a string", item);
        const std::string text(item.get_string());
        std::optional<RecoveryAction> action = ParseRecoveryAction(text);
        if (!action) {
          for (const auto& [former, now] : kFormerNames) {
            if (text == former) {
              return r.Invalid(item_at,
                               "recovery action " + Quote(text) + " was replaced by " + now);
            }
          }
          return r.Invalid(item_at, "unknown recovery action " + Quote(text) +
                                        " (allowed: " + AllowedActions() + ")");
        }
        const std::vector<DynamicLayerSpec> layers = RegisteredDynamicLayers();
        if ((action->type == Type::kRollbackKind || action->type == Type::kDisableKind) &&
            std::none_of(layers.begin(), layers.end(),
                         [&](const DynamicLayerSpec& spec) { return spec.kind == action->kind; })) {
          return r.Invalid(item_at, "recovery action " + Quote(text) + " names kind " +
                                        Quote(action->kind) +
                                        ", which no registered dynamic layer has (registered: " +
                                        RegisteredKinds() + ")");
        }
        if (std::find(out.begin(), out.end(), *action) != out.end()) {
          return r.Invalid(item_at,
                           "duplicate recovery action " + Quote(std::string(item.get_string())));
        }
        out.push_back(*action);
      }
      config.level_actions[level] = std::move(out);
    }
  }
  return config;
}

namespace {
Status ValidateLaunchGuardSection(const json::value& value, std::string_view file,
                                  std::string_view pointer) {
  Result<LaunchGuardConfig> config = ReadLaunchGuardConfig(value, file, pointer);
  return config.ok() ? Status::Ok() : Status(config.error());
}
ATRIUM_REGISTER_APP_SECTION("launch_guard", "the launch guard", ValidateLaunchGuardSection);
}  // namespace

}  // namespace internal

Result<LaunchGuardConfig> ParseLaunchGuardConfig(std::string_view json_text,
                                                 std::string_view file) {
  Result<json::value> doc =
      internal::ParseStrictJson(json_text, file, {size_t{64} << 10, 8, "launch_guard config"});
  if (!doc.ok()) return doc.error();
  return internal::ReadLaunchGuardConfig(*doc, file, "");
}

LaunchDecision LaunchPolicy::Decide(const std::vector<LaunchRecord>& history) const {
  LaunchDecision d;
  // 1. The streak: failures, newest first, up to a good launch or a gap
  //    longer than the window between a failure and the next-newer one.
  std::vector<const LaunchRecord*> failures;
  const LaunchRecord* last_good = nullptr;
  for (const LaunchRecord& r : history) {
    if (r.outcome == LaunchOutcome::kRunning) continue;
    if (r.outcome == LaunchOutcome::kGood) {
      last_good = &r;
      break;
    }
    if (!failures.empty() && failures.back()->started_ms - r.started_ms > config_.window.count()) {
      break;
    }
    failures.push_back(&r);
  }
  const int n = static_cast<int>(failures.size());
  d.consecutive_failures = n;
  if (n == 0) {
    d.reason = last_good != nullptr ? "the last launch was good" : "no failed launches";
    // A crash after the launch was good (in the background) does not break
    // the launch, but the same one after two consecutive good launches is
    // persistent: when it is attributable, its artifact is disabled.
    std::vector<const LaunchRecord*> ended;
    for (const LaunchRecord& r : history) {
      if (r.outcome != LaunchOutcome::kRunning) ended.push_back(&r);
      if (ended.size() == 2) break;
    }
    // A bundle isolated at the last launch because of an update: that
    // update goes, as a failed launch's blamed update would.
    if (!ended.empty() && ended[0]->outcome == LaunchOutcome::kGood && ended[0]->bundle_failed &&
        ended[0]->blamed && !ended[0]->crashed_after_good) {
      d.level = RecoveryLevel::kDisableRecent;
      d.actions = {{Type::kDisableRecent, ""}};  // exactly the blamed artifact
      d.blamed = ended[0]->blamed;
      d.suspects.push_back(*ended[0]->blamed);
      d.reason = "a bundle failed at the last launch (" + ended[0]->reason +
                 "); the launch went on without it; disabling the blamed " +
                 ArtifactRefText(*d.blamed);
      return d;
    }
    if (ended.size() == 2 && ended[0]->crashed_after_good && ended[1]->crashed_after_good &&
        !ended[0]->crash_signature.empty() &&
        ended[0]->crash_signature == ended[1]->crash_signature && ended[0]->blamed &&
        ended[0]->started_ms - ended[1]->started_ms <= config_.window.count()) {
      d.level = RecoveryLevel::kDisableRecent;
      d.actions = {{Type::kDisableRecent, ""}};  // exactly the blamed artifact
      d.blamed = ended[0]->blamed;
      d.suspects.push_back(*ended[0]->blamed);
      d.reason = "the same crash after a good launch (" + ended[0]->reason + ", signature " +
                 ended[0]->crash_signature +
                 ") on 2 consecutive launches: persistent; disabling the blamed " +
                 ArtifactRefText(*d.blamed);
    }
    return d;
  }
  // Launches killed before their mark with no crash or hang record are no
  // evidence: on their own they reach level 1 at most.
  int with_evidence = 0;
  for (const LaunchRecord* f : failures) {
    with_evidence += f->outcome != LaunchOutcome::kKilledBeforeMark;
  }
  d.without_evidence = with_evidence == 0;
  if (with_evidence >= config_.baseline_only) {
    d.level = RecoveryLevel::kBaselineOnly;
  } else if (with_evidence >= config_.rollback_all) {
    d.level = RecoveryLevel::kRollbackAll;
  } else if (with_evidence >= config_.disable_recent || n >= config_.disable_recent) {
    d.level = RecoveryLevel::kDisableRecent;
  }
  if (d.level != RecoveryLevel::kNone) {
    d.actions = config_.level_actions[static_cast<int>(d.level) - 1];
  }

  // 2. Suspects: in a failed launch of the streak but not in the last good one.
  const LaunchRecord& newest = *failures.front();
  if (newest.blamed) {
    d.blamed = newest.blamed;
    d.suspects.push_back(*newest.blamed);
  }
  for (const LaunchRecord* f : failures) {
    for (const ArtifactRef& a : f->active_artifacts) {
      if (last_good != nullptr && Contains(last_good->active_artifacts, a)) continue;
      if (!Contains(d.suspects, a)) d.suspects.push_back(a);
    }
  }

  // 3. The reason: the failures oldest first, then what the level does.
  std::string reason =
      std::to_string(n) + (n == 1 ? " failed launch (" : " consecutive failed launches (");
  // Oldest first; a run of identical failures is written once with a count.
  for (int i = n - 1; i >= 0;) {
    const std::string text = FailureText(*failures[i]);
    int same = 1;
    while (i - same >= 0 && FailureText(*failures[i - same]) == text) ++same;
    reason += text;
    if (same > 1) reason += " (x" + std::to_string(same) + ")";
    i -= same;
    if (i >= 0) reason += "; ";
  }
  reason += ") within " + DurationText(config_.window) + ": ";
  if (d.without_evidence) {
    reason += "no crash or hang record, so no further than level 1";
    if (config_.retry_after_good_launches > 0) {
      reason += " and what it disables is retried after " +
                std::to_string(config_.retry_after_good_launches) + " good launches";
    }
    reason += "; ";
  } else if (with_evidence < n) {
    reason += std::to_string(n - with_evidence) + " of them killed before mark (not counted); ";
  }
  if (d.level != RecoveryLevel::kNone && d.actions != DefaultRecoveryActions(d.level)) {
    // Configured actions: name them rather than describe the defaults.
    reason += "level " + std::to_string(static_cast<int>(d.level)) + " actions: ";
    if (d.actions.empty()) reason += "none configured";
    for (size_t i = 0; i < d.actions.size(); ++i) {
      reason += (i == 0 ? "" : ", ") + RecoveryActionName(d.actions[i]);
    }
    d.reason = std::move(reason);
    return d;
  }
  switch (d.level) {
    case RecoveryLevel::kNone:
      reason += "below the threshold of " + std::to_string(config_.disable_recent) +
                "; no recovery action";
      break;
    case RecoveryLevel::kDisableRecent:
      if (d.suspects.empty()) {
        reason +=
            "no dynamic artifact was activated since the last good launch; nothing to disable";
      } else {
        reason += d.blamed
                      ? "disabling the blamed " + ArtifactRefText(*d.blamed)
                      : "disabling " + std::to_string(d.suspects.size()) +
                            (d.suspects.size() == 1 ? " dynamic artifact" : " dynamic artifacts") +
                            " activated since the last good launch, starting with " +
                            ArtifactRefText(d.suspects.front());
      }
      break;
    case RecoveryLevel::kRollbackAll:
      reason += "rolling every dynamic artifact back";
      break;
    case RecoveryLevel::kBaselineOnly:
      reason +=
          "disabling every downloaded artifact and clearing caches; starting from the shipped "
          "baseline";
      break;
  }
  d.reason = std::move(reason);
  return d;
}

LaunchDecision LaunchPolicy::SafeMode(std::string_view why) {
  LaunchDecision d;
  d.level = RecoveryLevel::kBaselineOnly;
  d.actions = DefaultRecoveryActions(RecoveryLevel::kBaselineOnly);
  d.safe_mode = true;
  d.reason =
      "cannot read launch history: " + std::string(why) + "; starting from the shipped baseline";
  return d;
}

}  // namespace atrium
