#include "artifact_commands.h"

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "atrium/container.h"

namespace {

struct Args {
  std::vector<std::string> positional;
  std::string data_dir;
  bool flag = false;  // --history / --now / --live
};

bool Parse(int argc, char** argv, const char* flag, size_t positional, Args* out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      out->data_dir = argv[++i];
    } else if (flag != nullptr && a == flag) {
      out->flag = true;
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

std::unique_ptr<atrium::Container> Open(const Args& a) {
  auto c = atrium::Container::Open({a.positional[0], a.data_dir, false});
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

int ArtifactsMain(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, "--history", 1, &a)) return 2;
  auto c = Open(a);
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
  auto c = Open(a);
  if (c == nullptr) return 1;
  auto r = c->InstallPackage(a.positional[1],
                             a.flag ? atrium::InstallAs::kActive : atrium::InstallAs::kStaged);
  if (!r.ok()) return Fail(r.error());
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
  auto c = Open(a);
  if (c == nullptr) return 1;
  auto r = c->artifacts().Rollback(atrium::ArtifactKind::kNativeBundle, a.positional[1],
                                   "rolled back from the command line");
  if (!r.ok()) return Fail(r.error());
  std::printf("rolled back %s: %s from the next launch\n", a.positional[1].c_str(),
              r->has_value() ? ((*r)->version + " (previous)").c_str() : "the baseline");
  return 0;
}
