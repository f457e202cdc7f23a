// The launch guard's recovery actions at the start of a launch: what the
// decided level does to the dynamic artifacts (disable, roll back, baseline
// only, clear caches and config), each recorded with its reason; the
// integrity check of active updates after a failed launch; and the retry of
// what was disabled without crash evidence.
#include <algorithm>
#include <filesystem>
#include <utility>

#include "atrium/base/log.h"
#include "atrium/guard/guarded_launch.h"
#include "launch_log.h"

namespace atrium::internal {

namespace fs = std::filesystem;

void GuardedLaunch::RetryDisabled() {
  const int needed = options_.config.retry_after_good_launches;
  if (log_ == nullptr || needed <= 0) return;
  auto retries = log_->Retries();
  if (!retries.ok()) return;
  for (const LaunchLog::Retry& r : *retries) {
    if (r.good_since < needed) continue;
    const std::string why = std::to_string(r.good_since) +
                            " good launches since it was disabled without crash evidence";
    DynamicLayer* layer = nullptr;
    for (DynamicLayer* l : options_.layers) {
      if (l->kind() == r.artifact.kind) layer = l;
    }
    Status s = layer != nullptr ? layer->Reenable(r.artifact, why)
                                : Status(MakeError(ErrorCode::kNotFound, "no layer of its kind"));
    Record(0,
           s.ok() ? "re-enabled " + ArtifactRefText(r.artifact)
                  : "did not re-enable " + ArtifactRefText(r.artifact) + ": " + s.error().message,
           why);
    (void)log_->RemoveRetry(r.artifact);
  }
}

void GuardedLaunch::Record(int level, const std::string& what, const std::string& why) {
  actions_.push_back(what);
  Log(LogLevel::kWarning, "", "launch guard: " + what);
  if (log_ != nullptr) {
    if (Status s = log_->RecordAction(level, what, why); !s.ok()) {
      Log(LogLevel::kError, "", "launch guard: cannot record an action: " + s.error().ToString());
    }
  }
}

void GuardedLaunch::CheckIntegrity(ArtifactStore& store) {
  auto records = store.List();
  if (!records.ok()) return;
  const int level = static_cast<int>(decision_.level);
  for (const ArtifactRecord& r : *records) {
    if (r.state != ArtifactState::kActive) continue;
    Status verified = store.VerifyFiles(r);
    if (verified.ok()) continue;
    const std::string why = "integrity check after a failed launch: " + verified.error().ToString();
    auto disabled = store.Disable(r.kind, r.id, r.version, why);
    const std::string what = "disabled " +
                             ArtifactRefText({ArtifactKindName(r.kind), r.id, r.version}) +
                             " (integrity check: its files do not match its package)";
    if (disabled.ok()) {
      Record(level, what, why);
    } else {
      Record(level,
             "could not disable " + r.id + " " + r.version + ": " + disabled.error().ToString(),
             why);
    }
  }
}

void GuardedLaunch::Act() {
  const int level = static_cast<int>(decision_.level);
  const std::string& why = decision_.reason;
  // The registered layers the guard acts on through DynamicLayer; one that
  // cannot say what it holds is recorded as unusable and left alone.
  std::vector<DynamicLayer*> layers;
  if (!decision_.actions.empty()) {
    for (DynamicLayer* layer : options_.layers) {
      if (auto list = layer->ListActive(); !list.ok()) {
        Record(level, std::string(layer->kind()) + " layer unusable: " + list.error().ToString(),
               why);
        continue;
      }
      layers.push_back(layer);
    }
  }
  auto layer_of = [&](std::string_view kind) -> DynamicLayer* {
    for (DynamicLayer* layer : layers) {
      if (layer->kind() == kind) return layer;
    }
    return nullptr;
  };
  // Runs `step` on one layer (or every layer) and records each line it
  // reports, or why it could not.
  auto each_layer = [&](std::string_view kind, const char* verb,
                        Status (DynamicLayer::*step)(std::string_view, std::vector<std::string>*)) {
    for (DynamicLayer* layer : layers) {
      if (!kind.empty() && layer->kind() != kind) continue;
      std::vector<std::string> done;
      Status s = (layer->*step)(why, &done);
      for (const std::string& line : done) Record(level, line, why);
      if (!s.ok()) {
        Record(level,
               std::string("could not ") + verb + " " + std::string(layer->kind()) + ": " +
                   s.error().ToString(),
               why);
      }
    }
    if (!kind.empty() && layer_of(kind) == nullptr) {
      Record(level,
             std::string("did not ") + verb + " " + std::string(kind) +
                 ": no usable layer of that kind",
             why);
    }
  };
  // Disables `a` when that exact version is still in use. Records what it
  // did, or why not when `explain` (the blamed artifact must not vanish from
  // the record silently).
  auto disable = [&](const ArtifactRef& a, const std::string& note, bool explain) {
    auto skipped = [&](const std::string& why_not) {
      if (explain) Record(level, "did not disable " + ArtifactRefText(a) + ": " + why_not, why);
    };
    DynamicLayer* layer = layer_of(a.kind);
    if (layer == nullptr) return skipped("no usable layer of kind " + a.kind);
    Status s = layer->Disable(a, why);
    if (!s.ok() && s.error().code == ErrorCode::kNotFound) return skipped(s.error().message);
    const bool retry = s.ok() && decision_.without_evidence &&
                       options_.config.retry_after_good_launches > 0 && log_ != nullptr;
    if (retry) (void)log_->AddRetry(a, newest_launch_);
    Record(level,
           s.ok() ? "disabled " + ArtifactRefText(a) + note +
                        (retry ? " (no crash evidence: retried after " +
                                     std::to_string(options_.config.retry_after_good_launches) +
                                     " good launches)"
                               : "")
                  : "could not disable " + ArtifactRefText(a) + ": " + s.error().ToString(),
           why);
  };

  using Type = RecoveryAction::Type;
  for (const RecoveryAction& action : decision_.actions) {
    switch (action.type) {
      case Type::kDisableRecent:
        if (decision_.blamed) {
          disable(*decision_.blamed, " (blamed)", /*explain=*/true);
          break;
        }
        [[fallthrough]];
      case Type::kDisableAllRecent:
        for (const ArtifactRef& a : decision_.suspects) {
          disable(a, decision_.blamed && a == *decision_.blamed ? " (blamed)" : "",
                  /*explain=*/true);
        }
        if (decision_.suspects.empty()) {
          Record(level,
                 "nothing to disable: no dynamic artifact activated since the last good launch",
                 why);
        }
        break;
      case Type::kRollbackAll:
      case Type::kRollbackKind:
        each_layer(action.kind, "roll back", &DynamicLayer::RollbackAll);
        break;
      case Type::kDisableAll:
      case Type::kDisableKind:
        each_layer(action.kind, "disable", &DynamicLayer::DisableAll);
        break;
      case Type::kClearCaches: {
        // Caches and derived data; per-bundle private stores (private/) and
        // the state database are never cleared.
        std::error_code ec;  // the bundle index is derived; rebuilt at this Open
        fs::remove(fs::path(options_.data_dir) / "bundle_index.bin", ec);
        const fs::path cache = fs::path(options_.data_dir) / "cache";
        if (fs::exists(cache, ec)) {
          const auto removed = fs::remove_all(cache, ec);
          Record(level,
                 ec ? "could not clear " + cache.string() + ": " + ec.message()
                    : "cleared cache (" + std::to_string(removed) +
                          (removed == 1 ? " file)" : " files)"),
                 why);
        }
        for (DynamicLayer* layer : layers) {
          std::vector<std::string> done;
          Status s = layer->ClearDerivedData(&done);
          for (const std::string& line : done) Record(level, line, why);
          if (!s.ok()) {
            Record(
                level,
                "could not clear " + std::string(layer->kind()) + " data: " + s.error().ToString(),
                why);
          }
        }
        break;
      }
    }
  }
}

}  // namespace atrium::internal
