#include "artifact_commands.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "atrium/container.h"
#include "atrium/launch_guard.h"

namespace {

struct Args {
  std::vector<std::string> positional;
  std::string data_dir;
  bool flag = false;   // --history / --now / --live
  bool force = false;  // install --force
};

bool Parse(int argc, char** argv, const char* flag, size_t positional, Args* out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      out->data_dir = argv[++i];
    } else if (flag != nullptr && a == flag) {
      out->flag = true;
    } else if (a == "--force" &&
               (std::string(argv[0]) == "install" || std::string(argv[0]) == "update")) {
      out->force = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "atrium %s: unknown option %s\n", argv[0], a.c_str());
      return false;
    } else {
      out->positional.push_back(a);
    }
  }
  if (out->positional.size() != positional) {
    std::fprintf(stderr, "atrium %s: expected %zu argument(s)\n", argv[0], positional);
    return false;
  }
  return true;
}

// `inspect`: to look, not to change (staged updates stay staged).
std::unique_ptr<atrium::Container> Open(const Args& a, bool inspect = false) {
  atrium::ContainerOptions options{a.positional[0], a.data_dir, false};
  options.inspect = inspect;
  auto c = atrium::Container::Open(std::move(options));
  if (!c.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", c.error().ToString().c_str());
    return nullptr;
  }
  return std::move(c).value();
}

std::string Time(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

void PrintRecord(const atrium::ArtifactRecord& r) {
  std::printf("%-13s %-26s %-12s %-9s %s\n", atrium::ArtifactKindName(r.kind), r.id.c_str(),
              r.version.c_str(), atrium::ArtifactStateName(r.state), r.reason.c_str());
}

int Fail(const atrium::Error& e) {
  std::fprintf(stderr, "atrium: %s\n", e.ToString().c_str());
  return 1;
}

}  // namespace

namespace {

// atrium artifacts enable <app-dir> [kind:]id@version [--data-dir D]
int EnableMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, nullptr, 2, &a)) return 2;
  const std::string& ref = a.positional[1];
  const size_t at = ref.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == ref.size()) {
    std::fprintf(stderr,
                 "atrium: expected [kind:]id@version (e.g. native_bundle:com.wallet.scan@0.9.1), "
                 "got '%s'\n",
                 ref.c_str());
    return 2;
  }
  const size_t colon = ref.find(':');
  const bool has_kind = colon != std::string::npos && colon < at;
  const std::string kind = has_kind ? ref.substr(0, colon) : "native_bundle";
  const std::string id = ref.substr(has_kind ? colon + 1 : 0, at - (has_kind ? colon + 1 : 0));
  const std::string version = ref.substr(at + 1);
  auto c = Open(a, /*inspect=*/true);  // not a launch: the version is used from the next one
  if (c == nullptr) return 1;
  atrium::Status s = c->EnableArtifact(kind, id, version, "enabled from the command line");
  if (!s.ok()) return Fail(s.error());
  std::printf("enabled %s:%s@%s: in use from %s\n", kind.c_str(), id.c_str(), version.c_str(),
              kind == "native_bundle" ? "the next launch" : "its layer's activation point");
  return 0;
}

}  // namespace

int ArtifactsMain(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "enable") return EnableMain(argc - 1, argv + 1);
  Args a;
  if (!Parse(argc, argv, "--history", 1, &a)) return 2;
  auto c = Open(a, /*inspect=*/true);
  if (c == nullptr) return 1;
  auto list = c->artifacts().List();
  if (!list.ok()) return Fail(list.error());
  std::printf("%zu artifact version(s) in %s/state.db\n", list->size(), c->data_dir().c_str());
  std::printf("%-13s %-26s %-12s %-9s %s\n", "kind", "id", "version", "state", "why");
  for (const auto& r : *list) PrintRecord(r);
  if (a.flag) {
    auto history = c->artifacts().History();
    if (!history.ok()) return Fail(history.error());
    std::printf("\nhistory (UTC):\n");
    for (const auto& e : *history) {
      std::printf("%s  %-26s %-12s %-9s -> %-9s %s\n", Time(e.time_ms).c_str(), e.id.c_str(),
                  e.version.c_str(), e.from.empty() ? "(new)" : e.from.c_str(), e.to.c_str(),
                  e.reason.c_str());
    }
  }
  return 0;
}

int InstallMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, "--now", 2, &a)) return 2;
  auto c = Open(a, /*inspect=*/true);  // not a launch: what is staged stays staged
  if (c == nullptr) return 1;
  auto r = c->InstallPackage(
      a.positional[1], a.flag ? atrium::InstallAs::kActive : atrium::InstallAs::kStaged, a.force);
  if (!r.ok()) return Fail(r.error());
  if (r->kind != atrium::ArtifactKind::kNativeBundle) {
    // Another layer's artifact: it staged or activated it by its own rules.
    atrium::ArtifactState now = r->state;
    if (auto list = c->artifacts().List(); list.ok()) {
      for (const auto& x : *list) {
        if (x.kind == r->kind && x.id == r->id && x.version == r->version) now = x.state;
      }
    }
    std::printf("installed %s %s %s (%s): %s\n", atrium::ArtifactKindName(r->kind), r->id.c_str(),
                r->version.c_str(), atrium::ArtifactStateName(now),
                now == atrium::ArtifactState::kActive ? "in use now"
                                                      : "in use from its layer's activation point");
    return 0;
  }
  std::printf("installed %s %s (%s): %s\n", r->id.c_str(), r->version.c_str(),
              atrium::ArtifactStateName(r->state),
              a.flag ? "in use for bundles not yet loaded" : "active from the next launch");
  return 0;
}

int SwapMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, "--live", 2, &a)) return 2;
  if (!a.flag) return InstallMain(argc, argv);
  auto c = Open(a);
  if (c == nullptr) return 1;
  // A live swap replaces a running bundle: run the launch first.
  atrium::Status started = c->Start();
  if (!started.ok()) return Fail(started.error());
  auto r = c->SwapLive(a.positional[1]);
  if (!r.ok()) {
    std::fprintf(stderr, "atrium: live swap failed, the running version stays: %s\n",
                 r.error().ToString().c_str());
    return 1;
  }
  auto status = c->Bundle(r->id);
  std::printf("live swapped %s to %s (now %s)\n", r->id.c_str(), r->version.c_str(),
              status.ok() ? atrium::BundleStateName(status->state) : "?");
  return 0;
}

int RollbackMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, nullptr, 2, &a)) return 2;
  auto c = Open(a, /*inspect=*/true);  // not a launch: what is staged stays staged
  if (c == nullptr) return 1;
  auto r = c->RollbackUpdate(a.positional[1], "rolled back from the command line");
  if (!r.ok()) return Fail(r.error());
  // Say truthfully what is left: the previous version, the baseline, or
  // nothing (a bundle that came only as an update leaves the app).
  std::string left;
  if (r->has_value()) {
    left = (*r)->version + " (" + atrium::ArtifactStateName((*r)->state) + ")";
  } else {
    auto current = c->artifacts().Current(atrium::ArtifactKind::kNativeBundle, a.positional[1]);
    if (current.ok() && current->has_value()) {
      left = "the baseline " + (**current).version;
    } else {
      left = "no version: the bundle is not in the app";
    }
  }
  std::printf("rolled back %s: %s from the next launch\n", a.positional[1].c_str(), left.c_str());
  return 0;
}

namespace {

// The data dir of the app named by `a` (--data-dir, else the default for
// its app id; the app is opened without the launch guard to find it).
std::string DataDirOf(const Args& a) {
  if (!a.data_dir.empty()) return a.data_dir;
  auto c = Open(a, /*inspect=*/true);
  return c != nullptr ? c->data_dir() : std::string();
}

const char* LevelName(int level) {
  switch (level) {
    case 1:
      return "1 disable_recent";
    case 2:
      return "2 rollback_all";
    case 3:
      return "3 baseline_only";
    default:
      return "0";
  }
}

}  // namespace

int LaunchesMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, nullptr, 1, &a)) return 2;
  const std::string data_dir = DataDirOf(a);
  if (data_dir.empty()) return 1;
  auto history = atrium::ReadLaunchHistory(data_dir + "/state.db", 50);
  if (!history.ok()) return Fail(history.error());
  std::printf("%zu launch(es) in %s/state.db, newest first (UTC)\n", history->launches.size(),
              data_dir.c_str());
  std::printf("%-5s %-19s %9s  %-18s %-16s %s\n", "id", "started", "duration", "outcome",
              "level decided", "reason / blamed");
  for (const auto& l : history->launches) {
    // A launch killed before it was marked has no known end.
    std::string duration = l.ended_ms >= l.started_ms && l.ended_ms != 0 &&
                                   l.outcome != atrium::LaunchOutcome::kKilledBeforeMark
                               ? std::to_string(l.ended_ms - l.started_ms) + " ms"
                               : std::string("-");
    std::string outcome = atrium::LaunchOutcomeName(l.outcome);
    if (l.crashed_after_good) outcome += ", then crashed";
    std::string why = l.reason;
    if (l.blamed)
      why += (why.empty() ? "" : "; ") + ("blamed " + atrium::ArtifactRefText(*l.blamed));
    std::printf("%-5lld %-19s %9s  %-18s %-16s %s\n", static_cast<long long>(l.id),
                Time(l.started_ms).c_str(), duration.c_str(), outcome.c_str(), LevelName(l.level),
                why.c_str());
    if (!l.active_artifacts.empty()) {
      std::string list;
      for (const auto& art : l.active_artifacts) {
        list += (list.empty() ? "" : ", ") + atrium::ArtifactRefText(art);
      }
      std::printf("      dynamic artifacts: %s\n", list.c_str());
    }
  }
  std::printf("\nguard actions, newest first:\n");
  if (history->actions.empty()) std::printf("  (none)\n");
  for (const auto& act : history->actions) {
    std::printf("  %s  level %d  %s\n      why: %s\n", Time(act.time_ms).c_str(), act.level,
                act.what.c_str(), act.why.c_str());
  }
  return 0;
}

int CrashesMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, "--frames", 1, &a)) return 2;
  const std::string data_dir = DataDirOf(a);
  if (data_dir.empty()) return 1;
  auto reports = atrium::ReadCrashReports(data_dir + "/state.db", 50);
  if (!reports.ok()) return Fail(reports.error());
  std::printf("%zu crash report(s) in %s/state.db, newest first (UTC)\n", reports->size(),
              data_dir.c_str());
  for (const auto& r : *reports) {
    std::printf("#%lld  %s  launch %lld  %s  %s  %s  %s  signature %s\n",
                static_cast<long long>(r.id), Time(r.time_ms).c_str(),
                static_cast<long long>(r.launch_id), r.kind.c_str(),
                r.foreground ? "foreground" : "background",
                r.persistent ? "persistent" : "one-time", r.summary.c_str(), r.signature.c_str());
    if (r.blamed) std::printf("      blamed: %s\n", atrium::ArtifactRefText(*r.blamed).c_str());
    const size_t shown = a.flag ? r.frames.size() : std::min<size_t>(r.frames.size(), 6);
    for (size_t i = 0; i < shown; ++i) std::printf("      #%zu %s\n", i, r.frames[i].c_str());
    if (shown < r.frames.size()) {
      std::printf("      ... %zu more (--frames)\n", r.frames.size() - shown);
    }
  }
  return 0;
}
