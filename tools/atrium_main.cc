// `atrium`: the command-line face of the runtime for app teams.
//
//   atrium run <app-dir> [--data-dir D] [--reindex] [--open APP]... [--url URL]...
//   atrium bundles <app-dir> [--data-dir D]
//   atrium validate <dir | bundle.json | app.json>
//   atrium patch list|apply|enable|disable|rollback <app-dir> [X.atb | dir --key K | id]
//   [--data-dir D] atrium patch sign <patch-dir> --key K.key      atrium keygen --out PREFIX atrium
//   pack|verify|inspect|unpack ...  signed .atb packages (package_commands.h) atrium diff|apply ...
//   .atd delta packages (delta_commands.h) atrium profile <app-dir> --runs N [--out DIR] [--budget
//   F] [--baseline F] ...
//
// Uses only the public API (libatrium.so).
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "artifact_commands.h"
#include "atrium/artifact_kind.h"
#include "atrium/container.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/dynamic/update.h"
#include "atrium/hotpatch.h"
#include "atrium/manifest.h"
#include "atrium/package.h"
#include "atrium/trace.h"
#include "config_commands.h"
#include "delta_commands.h"
#include "h5_commands.h"
#include "log_commands.h"
#include "package_commands.h"
#include "patch_commands.h"
#include "profile_commands.h"
#include "release_commands.h"
#include "serve_commands.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int Usage() {
  std::fprintf(
      stderr,
      "usage: atrium <command> [options]\n"
      "  run <app-dir>       open the app, run its launch, open the home micro-app\n"
      "      --data-dir D    mutable state (default: per-user state dir)\n"
      "      --reindex       rebuild the bundle index first\n"
      "      --open APP      also open micro-app APP (repeatable)\n"
      "      --url URL       also open an atrium://app/... URL (repeatable)\n"
      "      --trace F       write the launch as a Chrome trace (Perfetto)\n"
      "      --stats         print per-pool and per-bundle task figures\n"
      "      --quiet         print only failures\n"
      "      --stay MS       keep the app running MS ms after the launch\n"
      "      --headless      show H5 pages in headless Chromium and print their text\n"
      "      --repo URL [--root ROOT.json]  after idle, one update cycle against\n"
      "                      this repository (ROOT: its trusted root.json)\n"
      "      --no-guard      without the launch guard (no launch record,\n"
      "                      no crash capture, no watchdog)\n"
      "  stats <app-dir>     run the launch, print the scheduler's figures\n"
      "  artifacts <app-dir> [--history]  artifacts in state.db and why\n"
      "  artifacts enable <app-dir> [kind:]id@version  use a disabled version again\n"
      "  logs <app-dir> [--bundle B] [--since 10m] [--level L]  what launches logged\n"
      "  install <app-dir> X.atb [--now] [--force]  install an update (a bundle: next launch;\n"
      "                               --force: even if it leaves bundles unresolved)\n"
      "  swap <app-dir> X.atb [--live]    replace a bundle (--live: while running)\n"
      "  rollback <app-dir> <bundle>      disable its active update\n"
      "  launches <app-dir>  launch records, recovery levels, guard actions\n"
      "  crashes <app-dir> [--frames]     crash and hang reports\n"
      "  bundles <app-dir>   list every bundle with its state and reason\n"
      "  validate <path>     check bundle.json / app.json files; errors as\n"
      "                      file:json-pointer: message\n"
      "  patch list <app-dir>             installed hotpatches and points\n"
      "  patch apply <app-dir> <X.atb | dir --key K>  verify and install a patch\n"
      "  patch enable|disable|rollback <app-dir> <id>\n"
      "  patch sign <patch-dir> --key K   pack it into a signed lua_patch .atb\n"
      "  layers              the registered dynamic layers and artifact kinds\n"
      "  config show <app-dir> [--source]  remote config values and their sources\n"
      "  config eval <config.json> --app-version V --device-id X --signal k=v ...\n"
      "                      what a device would get, condition by condition\n"
      "  config validate <config.json>    check a config set\n"
      "  release init|add|publish|remove|rotate-key|refresh|status <repo> ...\n"
      "                      the TUF release repository (atrium release for usage)\n"
      "  serve <repo> [--port N]          serve a repository over HTTP (loopback)\n"
      "  h5 open <app-dir> <appId|URL>    open an H5 app in Chromium (--headless: print it)\n"
      "  update <app-dir> [--repo URL]    one update cycle: check, decide, download,\n"
      "                                   verify, stage\n"
      "  tuf-client ...                   the TUF conformance client protocol\n"
      "  keygen --out PREFIX              new Ed25519 release key pair\n"
      "  pack <dir> --key K -o X.atb      pack and sign a bundle or artifact\n"
      "  verify X.atb --pubkey P          check signature and every entry\n"
      "  inspect X.atb [--pubkey P]       header, manifest, entries, signature\n"
      "  unpack X.atb --pubkey P -o DIR   verify and extract\n"
      "  diff OLD.atb NEW.atb -o X.atd    delta package from OLD to NEW\n"
      "  apply OLD.atb X.atd --pubkey P -o NEW.atb  rebuild NEW and verify it\n"
      "  profile <app-dir> --runs N       launch N times; timeline report, budgets\n"
      "  profile --compare <app-A> <app-B>  A/B gate: did the launch move?\n"
      "                                   (atrium profile --help for options)\n");
  return 2;
}

struct Common {
  std::string app_dir;
  std::string data_dir;
  bool reindex = false;
  std::vector<std::string> open;
  std::vector<std::string> urls;
  std::string trace;      // run: write a Chrome trace of the launch here
  bool quiet = false;     // run: print only failures
  bool stats = false;     // run: print the scheduler's figures after the launch
  bool no_guard = false;  // run: without the launch guard
  bool headless = false;  // run: H5 pages in headless Chromium, their text printed
  int stay_ms = 0;        // run: keep running this long after the launch
  std::string repo;       // run: one update cycle against this repository after idle
  std::string root;       // run: the trusted root.json for --repo (else app.json's)
};

bool ParseCommon(int argc, char** argv, Common* c) {
  po::options_description desc;
  desc.add_options()("app", po::value(&c->app_dir))("data-dir", po::value(&c->data_dir))(
      "reindex", po::bool_switch(&c->reindex))(
      "open", po::value<std::vector<std::string>>(&c->open)->composing())(
      "url", po::value<std::vector<std::string>>(&c->urls)->composing())(
      "trace", po::value(&c->trace))("quiet", po::bool_switch(&c->quiet))(
      "stats", po::bool_switch(&c->stats))("no-guard", po::bool_switch(&c->no_guard))(
      "headless", po::bool_switch(&c->headless))("stay", po::value(&c->stay_ms))(
      "repo", po::value(&c->repo))("root", po::value(&c->root));
  po::positional_options_description pos;
  pos.add("app", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "atrium: %s\n", e.what());
    return false;
  }
  if (c->app_dir.empty()) {
    std::fprintf(stderr, "atrium: missing <app-dir>\n");
    return false;
  }
  return true;
}

void PrintBundleTable(const std::vector<atrium::BundleStatus>& bundles, bool loaded_only,
                      bool skip_loaded) {
  for (const auto& b : bundles) {
    bool loaded = b.activation_seq != 0 || b.state == atrium::BundleState::kFailed;
    if (loaded_only && !loaded) continue;
    if (skip_loaded && loaded) continue;
    std::string state = atrium::BundleStateName(b.state);
    if (b.state == atrium::BundleState::kResolved) state += b.eager ? " (eager)" : " (lazy)";
    std::printf("  %-24s %-8s %-17s", b.name.c_str(), b.version.c_str(), state.c_str());
    if (loaded && b.state != atrium::BundleState::kFailed) {
      std::printf(" dlopen %6.2f ms  start %6.2f ms  by %s", b.dlopen_ms, b.start_ms,
                  b.loaded_by.c_str());
    }
    if (!b.reason.empty()) std::printf(" %s", b.reason.c_str());
    std::printf("\n");
  }
}

std::shared_ptr<atrium::hotpatch::Runtime> AttachHotpatch(atrium::Container& ct) {
  auto rt = atrium::hotpatch::Runtime::Of(ct);
  if (rt == nullptr) {
    std::fprintf(stderr, "atrium: hotpatches unavailable (see the log above)\n");
    return nullptr;
  }
  return rt;
}

int Patch(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string verb = argv[1];
  if (verb == "sign") return PatchSignMain(argc - 1, argv + 1);
  Common c;
  std::vector<std::string> rest;
  std::string target, key_path;
  // <verb> <app-dir> [target] [--data-dir D] [--key K.key]
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      c.data_dir = argv[++i];
    } else if (a == "--key" && i + 1 < argc) {
      key_path = argv[++i];
    } else if (c.app_dir.empty()) {
      c.app_dir = a;
    } else if (target.empty()) {
      target = a;
    } else {
      return Usage();
    }
  }
  if (c.app_dir.empty()) return Usage();
  atrium::ContainerOptions options{c.app_dir, c.data_dir, false};
  options.inspect = true;  // patch commands are not a launch: staged updates stay staged
  auto container = atrium::Container::Open(std::move(options));
  if (!container.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", container.error().ToString().c_str());
    return 1;
  }
  auto rt = atrium::hotpatch::Runtime::Of(**container);
  if (rt == nullptr) {
    std::fprintf(stderr, "atrium: hotpatches unavailable (see the log above)\n");
    return 1;
  }
  auto& runtime = *rt;
  auto report = [](const atrium::Status& s, const char* what) {
    if (!s.ok()) {
      std::fprintf(stderr, "atrium: %s failed: %s\n", what, s.error().ToString().c_str());
      return 1;
    }
    std::printf("%s: ok\n", what);
    return 0;
  };
  if (verb == "list") {
    auto list = runtime.List();
    std::printf("%zu patch(es) in %s\n", list.size(), (*container)->app().id.c_str());
    for (const auto& p : list) {
      std::printf("  %-24s %-8s %-9s faults %u", p.id.c_str(), p.version.c_str(), p.state.c_str(),
                  p.faults);
      for (const auto& pt : p.points) std::printf("  %s", pt.c_str());
      if (!p.reason.empty()) std::printf("\n      why: %s", p.reason.c_str());
      std::printf("\n");
    }
    return 0;
  }
  if (target.empty()) return Usage();
  if (verb == "apply") {
    // A patch directory (development): packed and signed with --key into a
    // temporary package first; a .atb installs as it is.
    std::string package = target;
    std::string temp;
    std::error_code ec;
    if (std::filesystem::is_directory(target, ec)) {
      if (key_path.empty()) {
        std::fprintf(stderr,
                     "atrium: %s is a patch directory: sign it with --key K.key (or install the "
                     "package `atrium patch sign` makes)\n",
                     target.c_str());
        return 2;
      }
      auto key = atrium::ReadSecretKeyFile(key_path);
      if (!key.ok()) {
        std::fprintf(stderr, "atrium: %s\n", key.error().ToString().c_str());
        return 1;
      }
      atrium::PackOptions o;
      o.kind = atrium::ArtifactKind::kLuaPatch;
      o.apps = {(*container)->app().id};  // packed here, for this app
      o.secret_key = *key;
      temp = (*container)->data_dir() + "/.patch-" + std::to_string(::getpid()) + ".atb";
      auto packed = atrium::PackDirectory(target, o, temp);
      if (!packed.ok()) {
        std::fprintf(stderr, "atrium: patch refused: %s\n", packed.error().ToString().c_str());
        return 1;
      }
      package = temp;
    }
    auto info = runtime.Install(package);
    if (!temp.empty()) std::filesystem::remove(temp, ec);
    if (!info.ok()) {
      std::fprintf(stderr, "atrium: patch refused: %s\n", info.error().ToString().c_str());
      return 1;
    }
    std::printf("installed %s %s (%s)\n", info->id.c_str(), info->version.c_str(),
                info->state.c_str());
    return 0;
  }
  if (verb == "enable") return report(runtime.Enable(target), "enable");
  if (verb == "disable")
    return report(runtime.Disable(target, "disabled from the command line"), "disable");
  if (verb == "rollback") return report(runtime.Rollback(target), "rollback");
  return Usage();
}

// `atrium layers`: every artifact kind the package format knows, with the
// dynamic layer that owns it (what it activates on, what it is for).
int Layers() {
  const std::vector<atrium::DynamicLayerSpec> layers = atrium::RegisteredDynamicLayers();
  std::printf("%-15s %4s  %-13s %-12s %s\n", "kind", "byte", "manifest", "activates", "layer");
  for (const atrium::ArtifactKindSpec& k : atrium::RegisteredArtifactKinds()) {
    auto layer = std::find_if(layers.begin(), layers.end(),
                              [&](const atrium::DynamicLayerSpec& l) { return l.kind == k.name; });
    std::printf(
        "%-15s %4u  %-13s %-12s %s\n", k.name.c_str(), static_cast<unsigned>(k.kind),
        k.manifest_name.empty() ? "artifact.json" : k.manifest_name.c_str(),
        layer != layers.end() ? atrium::ActivationPointName(layer->activation) : "-",
        layer != layers.end() ? layer->description.c_str() : "reserved, no layer registered");
  }
  return 0;
}

// The launch summary: stages, tasks over budget or failed, critical path.
void PrintLaunch(atrium::StartupPipeline& p) {
  std::printf("startup stages:\n");
  for (const auto& st : p.Stages()) {
    std::printf("  %-12s %8.3f -> %8.3f ms\n", st.name.c_str(), st.begin_ms, st.end_ms);
  }
  auto tasks = p.Tasks();
  size_t ok = 0;
  for (const auto& t : tasks) ok += t.state == atrium::StartupTaskState::kOk;
  std::printf("startup tasks: %zu of %zu ok\n", ok, tasks.size());
  for (const auto& t : tasks) {
    if (t.state != atrium::StartupTaskState::kOk || t.over_budget) {
      std::printf("  %-36s %-8s %s%s\n", t.id.c_str(), atrium::StartupTaskStateName(t.state),
                  t.over_budget ? "over budget " : "", t.error.c_str());
    }
  }
  for (const atrium::FailedBundle& f : p.FailedBundles()) {
    std::printf("isolated bundle %s: %s (the launch went on without it)\n", f.bundle.c_str(),
                f.reason.c_str());
  }
  std::string path;
  for (const auto& id : p.StaticCriticalPath()) path += (path.empty() ? "" : " -> ") + id;
  std::printf("critical path (by weight): %s\n", path.c_str());
}

int Run(int argc, char** argv) {
  Common c;
  if (!ParseCommon(argc, argv, &c)) return Usage();
  // Tracing starts before the container opens so bundle loads and thread
  // names are recorded.
  atrium::Trace* trace = c.trace.empty() ? nullptr : atrium::Trace::Start();
  auto out = [&](const char* fmt, auto... args) {
    if (!c.quiet) std::printf(fmt, args...);
  };
  auto t0 = Clock::now();
  atrium::ContainerOptions options{c.app_dir, c.data_dir, c.reindex};
  options.launch_guard = !c.no_guard;
  auto container = atrium::Container::Open(std::move(options));
  auto t1 = Clock::now();
  if (!container.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", container.error().ToString().c_str());
    return 1;
  }
  auto& ct = **container;
  // The hotpatch layer opened its runtime with the container; the CLI adds
  // host.log for patches.
  auto patches = AttachHotpatch(ct);
  out("Atrium: %s %s (%s)\n  app dir  %s\n  data dir %s\n", ct.app().id.c_str(),
      ct.app().version.ToString().c_str(), ct.app().name.c_str(),
      fs::absolute(c.app_dir).lexically_normal().c_str(), ct.data_dir().c_str());
  out("container open          %8.3f ms\n", Ms(t0, t1));
  out("scheduler: %s\n", ct.scheduler().priority_policy().c_str());
  // A recovery level above 0 (and each action) is logged to stderr by the
  // guard itself, also with --quiet.
  if (const atrium::LaunchGuardReport* guard = ct.launch_guard()) {
    out("launch guard: launch %lld, level %d: %s\n", static_cast<long long>(guard->launch_id),
        static_cast<int>(guard->decision.level), guard->decision.reason.c_str());
  }
  atrium::Status started = ct.Start();
  auto t2 = Clock::now();
  out("launch (to idle stage)  %8.3f ms%s\n", Ms(t1, t2), started.ok() ? "" : "  FAILED");
  if (!started.ok()) {
    std::fprintf(stderr, "atrium: %s\n", started.error().ToString().c_str());
  }
  int rc = started.ok() ? 0 : 1;
  std::shared_ptr<PrintingWebView> printing;
  if (c.headless) {
    printing = MakePrintingWebView(true, "");
    (void)ct.services().Register<atrium::H5WebView>(printing, {}, 1000);
  }
  atrium::Status home = ct.router().Launch(ct.app().home);
  auto t3 = Clock::now();
  if (!home.ok()) {
    std::fprintf(stderr, "atrium: home '%s' failed: %s\n", ct.app().home.c_str(),
                 home.error().ToString().c_str());
    rc = 1;
  }
  out("home '%s' open         %8.3f ms\n", ct.app().home.c_str(), Ms(t2, t3));
  out("start to home open      %8.3f ms\n", Ms(t0, t3));
  // A micro-app that does not open is a failure: on stderr (also with
  // --quiet) and in the exit status.
  for (const auto& app : c.open) {
    auto ta = Clock::now();
    atrium::Status s = ct.router().Launch(app);
    if (s.ok()) {
      out("open '%s': ok (%.3f ms)\n", app.c_str(), Ms(ta, Clock::now()));
    } else {
      std::fprintf(stderr, "atrium: open '%s' failed: %s\n", app.c_str(),
                   s.error().ToString().c_str());
      rc = 1;
    }
  }
  for (const auto& url : c.urls) {
    auto ta = Clock::now();
    atrium::Status s = ct.router().OpenUrl(url);
    if (s.ok()) {
      out("open %s: ok (%.3f ms)\n", url.c_str(), Ms(ta, Clock::now()));
    } else {
      std::fprintf(stderr, "atrium: open %s failed: %s\n", url.c_str(),
                   s.error().ToString().c_str());
      rc = 1;
    }
  }
  // Headless H5 pages load after their opens, outside the guard's watch.
  if (printing != nullptr) {
    if (atrium::Status s = printing->ShowQueued(ct); !s.ok()) {
      std::fprintf(stderr, "atrium: %s\n", s.error().ToString().c_str());
      rc = 1;
    }
  }
  // Idle-stage work (some on the main loop) finishes before the app exits,
  // so the trace and the figures show the whole launch.
  if (ct.pipeline() != nullptr) {
    ct.scheduler().RunMainLoopUntil([&] { return ct.pipeline()->finished(); },
                                    std::chrono::seconds(60));
    if (!c.quiet) PrintLaunch(*ct.pipeline());
  }
  if (c.stay_ms > 0) {
    ct.scheduler().RunMainLoopUntil([] { return false; }, std::chrono::milliseconds(c.stay_ms));
  }
  // The update sync after idle: app.json's background cycle, or one against --repo.
  if (!c.repo.empty()) {
    atrium::UpdateOptions uo;
    uo.repo_url = c.repo;
    uo.trusted_root = c.root;
    auto report = atrium::RunUpdateCycle(ct, uo);
    if (!report.ok()) {
      std::fprintf(stderr, "atrium: update from %s failed: %s\n", c.repo.c_str(),
                   report.error().ToString().c_str());
      rc = 1;
    } else {
      out("\nupdate from %s (targets v%lld):\n", c.repo.c_str(),
          static_cast<long long>(report->trusted.targets));
      for (const auto& t : report->targets) {
        out("  %-9s %s: %s\n", atrium::UpdateActionName(t.action), t.path.c_str(),
            t.reason.c_str());
      }
    }
  } else if (auto sync = atrium::UpdateSync::Of(ct)) {
    sync->WaitUntilDone(std::chrono::seconds(120));
    out("\nupdate sync: %s\n", sync->status().c_str());
  }
  if (!c.quiet) {
    auto bundles = ct.Bundles();
    size_t loaded = 0;
    for (const auto& b : bundles) loaded += b.activation_seq != 0;
    std::printf("\nloaded bundles (%zu of %zu installed):\n", loaded, bundles.size());
    PrintBundleTable(bundles, true, false);
    std::printf("not loaded:\n");
    PrintBundleTable(bundles, false, true);
  }
  if (c.stats) {
    std::printf("\n%s", atrium::FormatSchedulerStats(ct.scheduler().Stats()).c_str());
  }
  if (trace != nullptr) {
    atrium::Status w = trace->WriteJson(c.trace);
    if (!w.ok()) {
      std::fprintf(stderr, "atrium: %s\n", w.error().ToString().c_str());
      rc = 1;
    } else {
      out("trace written to %s (open in https://ui.perfetto.dev or chrome://tracing)\n",
          c.trace.c_str());
    }
  }
  return rc;
}

int Stats(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  static char quiet[] = "--quiet";
  static char stats[] = "--stats";
  args.push_back(quiet);
  args.push_back(stats);
  return Run(static_cast<int>(args.size()), args.data());
}

int Bundles(int argc, char** argv) {
  Common c;
  if (!ParseCommon(argc, argv, &c)) return Usage();
  atrium::ContainerOptions options{c.app_dir, c.data_dir, c.reindex};
  options.inspect = true;  // to look: staged updates stay staged
  auto container = atrium::Container::Open(std::move(options));
  if (!container.ok()) {
    std::fprintf(stderr, "atrium: cannot open app: %s\n", container.error().ToString().c_str());
    return 1;
  }
  auto bundles = (*container)->Bundles();
  std::printf("%zu bundles in %s\n", bundles.size(), (*container)->app().id.c_str());
  PrintBundleTable(bundles, false, false);
  // Micro-apps that dynamic layers declare (H5 apps, by their packages).
  auto sourced = (*container)->router().SourcedMicroApps();
  if (!sourced.empty()) {
    std::printf("micro-apps of dynamic layers:\n");
    for (const auto& app : sourced) {
      std::printf("  %-24s %-8s %s\n", app.app_id.c_str(), app.type.c_str(), app.from.c_str());
    }
  }
  // Versions held but not in use (staged, disabled, failed, superseded),
  // each with the reason, so a bundle whose update failed is visible too.
  auto held = (*container)->artifacts().List(atrium::ArtifactKind::kNativeBundle);
  if (held.ok()) {
    std::vector<const atrium::ArtifactRecord*> other;
    for (const auto& r : *held) {
      const bool in_use = std::any_of(bundles.begin(), bundles.end(), [&](const auto& b) {
        return b.name == r.id && b.version == r.version;
      });
      if (!in_use) other.push_back(&r);
    }
    if (!other.empty()) {
      std::printf("versions held, not in use:\n");
      for (const auto* r : other) {
        std::printf("  %-24s %-8s %-17s %s\n", r->id.c_str(), r->version.c_str(),
                    atrium::ArtifactStateName(r->state), r->reason.c_str());
      }
    }
  }
  return 0;
}

int Validate(int argc, char** argv) {
  if (argc < 2) return Usage();
  fs::path target = argv[1];
  std::vector<fs::path> manifests;
  std::vector<fs::path> apps;
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    if (fs::exists(target / "app.json")) apps.push_back(target / "app.json");
    for (auto it = fs::recursive_directory_iterator(target, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->path().filename() == "bundle.json") manifests.push_back(it->path());
    }
    std::sort(manifests.begin(), manifests.end());
  } else if (target.filename() == "app.json") {
    apps.push_back(target);
  } else {
    manifests.push_back(target);
  }
  if (manifests.empty() && apps.empty()) {
    std::fprintf(stderr, "%s: no bundle.json or app.json found\n", target.c_str());
    return 1;
  }
  int errors = 0;
  for (const auto& a : apps) {
    auto r = atrium::LoadAppDescriptorFile(a.string());
    if (!r.ok()) {
      std::printf("%s\n", r.error().ToString().c_str());
      ++errors;
      continue;
    }
    for (const auto& rel : r->baseline) {
      if (fs::path(rel).extension() == ".atb") {
        // A baseline package: its structure here; its signature when installed.
        auto pkg = atrium::PackageReader::Open((a.parent_path() / rel).string());
        if (!pkg.ok()) {
          std::printf("%s:/baseline: %s\n", a.c_str(), pkg.error().ToString().c_str());
          ++errors;
        }
        continue;
      }
      if (!fs::exists(a.parent_path() / rel / "bundle.json")) {
        std::printf("%s:/baseline: bundle directory '%s' has no bundle.json\n", a.c_str(),
                    rel.c_str());
        ++errors;
      }
    }
  }
  for (const auto& m : manifests) {
    auto r = atrium::LoadManifestFile(m.string());
    if (!r.ok()) {
      std::printf("%s\n", r.error().ToString().c_str());
      ++errors;
    }
  }
  std::printf("%zu file(s) checked, %d error(s)\n", manifests.size() + apps.size(), errors);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string cmd = argv[1];
  if (cmd == "run") return Run(argc - 1, argv + 1);
  if (cmd == "bundles") return Bundles(argc - 1, argv + 1);
  if (cmd == "stats") return Stats(argc - 1, argv + 1);
  if (cmd == "artifacts") return ArtifactsMain(argc - 1, argv + 1);
  if (cmd == "install") return InstallMain(argc - 1, argv + 1);
  if (cmd == "launches") return LaunchesMain(argc - 1, argv + 1);
  if (cmd == "logs") return LogsMain(argc - 1, argv + 1);
  if (cmd == "crashes") return CrashesMain(argc - 1, argv + 1);
  if (cmd == "swap") return SwapMain(argc - 1, argv + 1);
  if (cmd == "rollback") return RollbackMain(argc - 1, argv + 1);
  if (cmd == "validate") return Validate(argc - 1, argv + 1);
  if (cmd == "patch") return Patch(argc - 1, argv + 1);
  if (cmd == "keygen") return KeygenMain(argc - 1, argv + 1);
  if (cmd == "layers") return Layers();
  if (cmd == "config") return ConfigMain(argc - 1, argv + 1);
  if (cmd == "release") return ReleaseMain(argc - 1, argv + 1);
  if (cmd == "serve") return ServeMain(argc - 1, argv + 1);
  if (cmd == "h5") return H5Main(argc - 1, argv + 1);
  if (cmd == "update") return UpdateMain(argc - 1, argv + 1);
  if (cmd == "tuf-client") return TufClientMain(argc - 1, argv + 1);
  if (cmd == "pack") return PackMain(argc - 1, argv + 1);
  if (cmd == "verify") return VerifyMain(argc - 1, argv + 1);
  if (cmd == "inspect") return InspectMain(argc - 1, argv + 1);
  if (cmd == "unpack") return UnpackMain(argc - 1, argv + 1);
  if (cmd == "diff") return DiffMain(argc - 1, argv + 1);
  if (cmd == "apply") return ApplyMain(argc - 1, argv + 1);
  if (cmd == "profile") return ProfileMain(argc - 1, argv + 1);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    Usage();
    return 0;
  }
  std::fprintf(stderr, "atrium: unknown command '%s'\n", cmd.c_str());
  return Usage();
}
