// `atrium profile` (see profile_commands.h and docs/profiling.md): the
// command line and the one-app mode; the A/B mode is profile_compare.cc,
// the runs themselves profile_runs.cc.
//
// Concurrency: single-threaded; called from main().
#include "profile_commands.h"

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "atrium/manifest.h"
#include "atrium/package.h"
#include "profile_report.h"
#include "profile_runs.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;
namespace prof = atrium::profile;

namespace {

using atrium::profile_cli::Fail;
using atrium::profile_cli::RemoveStaleTraces;
using atrium::profile_cli::WriteFileAtomic;
// The budget's stage and task names against what the app declares: its
// stages (app.json startup.stages or the default ones) and its baseline
// bundles' startup tasks ("<bundle>:<task>"). "" when every name is known.
std::string CheckBudgetNames(const prof::Budget& budget, const std::string& budget_file,
                             const fs::path& app_dir, const atrium::AppDescriptor& app) {
  using atrium::DefaultStartupStages, atrium::ErrorCode, atrium::LoadManifestFile,
      atrium::MakeError, atrium::Manifest, atrium::PackageReader, atrium::ParseManifest,
      atrium::Result, atrium::StartupTaskDecl;
  const std::vector<std::string>& stages =
      app.startup.stages.empty() ? DefaultStartupStages() : app.startup.stages;
  auto join = [](const auto& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  for (const auto& [stage, ms] : budget.stages) {
    if (std::find(stages.begin(), stages.end(), stage) == stages.end()) {
      return budget_file + ":/stages/" + stage + ": the app has no stage '" + stage +
             "' (its stages: " + join(stages) + ")";
    }
  }
  if (budget.tasks.empty()) return "";
  std::set<std::string> tasks;
  for (const std::string& entry : app.baseline) {
    const fs::path where = app_dir / entry;
    Result<Manifest> manifest = MakeError(ErrorCode::kNotFound, "");
    if (where.extension() == ".atb") {
      auto reader = PackageReader::Open(where.string());
      if (!reader.ok()) return reader.error().ToString();
      auto text = (*reader)->ReadEntry("bundle.json");
      if (!text.ok()) return text.error().ToString();
      manifest = ParseManifest(*text, where.string() + "!bundle.json");
    } else {
      manifest = LoadManifestFile((where / "bundle.json").string());
    }
    if (!manifest.ok()) return manifest.error().ToString();
    for (const StartupTaskDecl& t : manifest->startup) tasks.insert(manifest->name + ":" + t.id);
    // An eager bundle's load is a task of the launch too (docs/startup.md).
    if (manifest->activation == atrium::Activation::kEager) tasks.insert(manifest->name + ":@load");
  }
  for (const auto& [task, ms] : budget.tasks) {
    if (!tasks.contains(task)) {
      return budget_file + ":/tasks/" + task + ": no baseline bundle declares startup task '" +
             task + "' (the app's tasks: " + join(tasks) + ")";
    }
  }
  return "";
}

int Usage(const char* problem = nullptr) {
  if (problem != nullptr) std::fprintf(stderr, "atrium profile: %s\n", problem);
  std::fprintf(
      stderr,
      "usage: atrium profile <app-dir> [options]\n"
      "       atrium profile --compare <app-A> <app-B> [options]\n"
      "  --runs N            launches to measure, 1..10000 (default 10); with --compare,\n"
      "                      per side, 2..10000\n"
      "  --out DIR           where traces and reports go (default ./atrium-profile)\n"
      "  --data-dir D        profile with a copy of data dir D (D is not written)\n"
      "  --install X.atb     install an update into the runs' data dir first\n"
      "  --keep-data         keep the data dir(s) the runs used (paths printed)\n"
      "  --run-timeout S     kill a run after S seconds, at least 1 (default 300)\n"
      "one app:\n"
      "  --budget F          budgets file; exceeded -> exit status 3\n"
      "  --baseline F        compare with a saved baseline (the weaker check: another time,\n"
      "                      maybe another machine); regression -> exit 3\n"
      "  --tolerance P       allowed regression in percent, 0..1000 (default 10, plus 2 ms)\n"
      "  --any-version       accept a baseline saved for another version of the app\n"
      "  --save-baseline F   write this profile's aggregate as a baseline\n"
      "A/B (--compare; A and B may be the same app dir):\n"
      "  --max-runs M        while undecided (the launch, or a task that looks changed),\n"
      "                      add runs up to M per side, runs..10000 (default 3 x runs)\n"
      "  --warmup W          unmeasured launches per side first, 0..100 (default 1)\n"
      "  --min-change X      smallest launch change that matters: ms (5, 5ms) or a\n"
      "                      percentage of A's median launch (3%%); above 0, at most\n"
      "                      10000 (default 5ms)\n"
      "  --min-task-change X smallest change of any task worth listing (also a critical-path\n"
      "                      task that did not move the launch), ms, above 0 (default 1)\n"
      "  --confidence C      of every verdict, a one-sided claim; percent, above 50 to\n"
      "                      99.9 (default 95)\n"
      "  --include-idle      idle-stage tasks (after the launch) decide the verdict too\n"
      "  --data-dir-a D, --data-dir-b D, --install-a X.atb, --install-b X.atb\n"
      "                      as --data-dir / --install, for one side\n"
      "exit status: 0 ok (A/B: no change or an improvement), 1 a run or a file failed,\n"
      "  2 usage, 3 over budget / baseline, or an A/B launch regression,\n"
      "  4 A/B: the launch did not move but tasks are slower (listed),\n"
      "  5 A/B: not enough runs to decide (see --max-runs)\n");
  return 2;
}

using Options = atrium::profile_cli::ProfileOptions;

// "5", "5ms", "5 ms" -> ms; "3%" -> percent. False when malformed.
bool ParseChange(const std::string& text, double* ms, double* pct) {
  std::smatch m;
  static const std::regex kChange(R"(\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|%)?\s*)");
  if (!std::regex_match(text, m, kChange)) return false;
  double v = std::stod(m[1].str());
  if (!(v > 0) || v > 10000) return false;
  if (m[2].str() == "%") {
    *pct = v;
    *ms = 0;
  } else {
    *ms = v;
    *pct = 0;
  }
  return true;
}

bool ParseOptions(int argc, char** argv, Options* o, int* status) {
  po::options_description desc;
  bool help = false;
  std::string min_change, min_task_change;
  desc.add_options()("app", po::value(&o->app_dir))(
      "compare", po::value(&o->compare)->multitoken())("runs", po::value(&o->runs))(
      "max-runs", po::value(&o->max_runs))("warmup", po::value(&o->warmup))(
      "out", po::value(&o->out))("budget", po::value(&o->budget))(
      "baseline", po::value(&o->baseline))("any-version", po::bool_switch(&o->any_version))(
      "tolerance", po::value(&o->tolerance))("save-baseline", po::value(&o->save_baseline))(
      "keep-data", po::bool_switch(&o->keep_data))("run-timeout", po::value(&o->run_timeout_s))(
      "data-dir", po::value(&o->data_dir))("data-dir-a", po::value(&o->data_dir_a))(
      "data-dir-b", po::value(&o->data_dir_b))("install", po::value(&o->install))(
      "install-a", po::value(&o->install_a))("install-b", po::value(&o->install_b))(
      "min-change", po::value(&min_change))("min-task-change", po::value(&min_task_change))(
      "confidence", po::value(&o->confidence_pct))(
      "include-idle", po::bool_switch(&o->include_idle))("help,h", po::bool_switch(&help));
  po::positional_options_description pos;
  pos.add("app", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    *status = Usage(e.what());
    return false;
  }
  if (help) {
    Usage();
    *status = 0;
    return false;
  }
  const bool ab = vm.count("compare") > 0;
  const char* problem = nullptr;
  double unused_pct = 0;
  if (ab) {
    if (o->compare.size() != 2) problem = "--compare takes two app dirs: --compare <app-A> <app-B>";
    if (!o->app_dir.empty()) problem = "give the apps to --compare, not before it";
    if (!o->budget.empty() || !o->baseline.empty() || !o->save_baseline.empty() ||
        vm.count("tolerance") || o->any_version)
      problem =
          "--budget, --baseline, --tolerance, --any-version and --save-baseline are for one "
          "app, not --compare";
    if (!o->data_dir.empty() || !o->install.empty())
      problem = "with --compare, give --data-dir-a/--data-dir-b and --install-a/--install-b";
    if (o->runs < 2 || o->runs > 10000) {
      problem = "--runs must be between 2 and 10000 with --compare";
    } else if (!vm.count("max-runs")) {
      o->max_runs = std::min(10000, 3 * o->runs);
    } else if (o->max_runs < o->runs || o->max_runs > 10000) {
      problem = "--max-runs must be between --runs and 10000";
    }
    if (o->warmup < 0 || o->warmup > 100) problem = "--warmup must be 0..100";
    if (!min_change.empty() && !ParseChange(min_change, &o->min_change_ms, &o->min_change_pct))
      problem =
          "--min-change must be a number of ms (5, 5ms) or a percentage (3%), above 0, "
          "at most 10000";
    if (!min_task_change.empty() &&
        (!ParseChange(min_task_change, &o->min_task_change_ms, &unused_pct) || unused_pct > 0))
      problem = "--min-task-change must be a number of ms above 0, at most 10000";
    if (!(o->confidence_pct > 50 && o->confidence_pct <= 99.9))
      problem = "--confidence must be above 50 and at most 99.9 (%)";
  } else {
    if (o->app_dir.empty()) problem = "missing <app-dir> (or --compare <app-A> <app-B>)";
    if (o->runs < 1 || o->runs > 10000) problem = "--runs must be between 1 and 10000";
    if (!(o->tolerance >= 0) || o->tolerance > 1000) problem = "--tolerance must be 0..1000 (%)";
    for (const char* opt : {"max-runs", "warmup", "min-change", "min-task-change", "confidence",
                            "include-idle", "data-dir-a", "data-dir-b", "install-a", "install-b"})
      if (vm.count(opt) && !vm[opt].defaulted()) problem = "that option is for --compare";
  }
  if (o->run_timeout_s < 1) problem = "--run-timeout must be at least 1 (seconds)";
  if (o->out.empty()) problem = "--out must not be empty";
  if (problem != nullptr) {
    *status = Usage(problem);
    return false;
  }
  return true;
}

}  // namespace

int ProfileMain(int argc, char** argv) {
  Options o;
  int status = 0;
  if (!ParseOptions(argc, argv, &o, &status)) return status;
  if (!o.compare.empty()) return atrium::profile_cli::CompareMain(o);

  std::error_code ec;
  const fs::path app_dir = fs::absolute(o.app_dir, ec).lexically_normal();
  if (!fs::is_regular_file(app_dir / "app.json", ec))
    return Fail((app_dir / "app.json").string() + ": no app here (cannot find app.json)");

  // Inputs first: a typo in a budgets file should not cost N launches.
  std::optional<prof::Budget> budget;
  if (!o.budget.empty()) {
    auto b = prof::LoadBudget(o.budget);
    if (!b.ok()) return Fail(b.error().ToString());
    budget = *b;
  }
  std::optional<prof::Baseline> baseline;
  if (!o.baseline.empty()) {
    auto b = prof::LoadBaseline(o.baseline);
    if (!b.ok()) return Fail(b.error().ToString());
    baseline = *b;
  }
  if (budget || baseline) {
    auto app = atrium::LoadAppDescriptorFile((app_dir / "app.json").string());
    if (!app.ok()) return Fail(app.error().ToString());
    // A baseline of another app compares nothing: refused before any run.
    if (baseline && baseline->app != app->id) {
      return Fail(o.baseline + ":/app: a baseline of app '" + baseline->app + "', not '" + app->id +
                  "' (" + (app_dir / "app.json").string() + ")");
    }
    // Another version may launch differently by design: re-save the
    // baseline, or say that comparing across versions is meant.
    if (baseline && baseline->app_version != app->version.ToString() && !o.any_version) {
      return Fail(o.baseline + ":/app_version: a baseline of " + app->id + " " +
                  baseline->app_version + ", not " + app->version.ToString() + " (" +
                  (app_dir / "app.json").string() +
                  "); save a new baseline, or pass --any-version to compare across versions");
    }
    // A budget for a stage or task the app does not have would only be
    // found missing after the runs.
    if (budget) {
      std::string problem = CheckBudgetNames(*budget, o.budget, app_dir, *app);
      if (!problem.empty()) return Fail(problem);
    }
  }

  const fs::path out_dir = fs::absolute(o.out, ec).lexically_normal();
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir, ec)) return Fail(out_dir.string() + ": cannot create directory");
  RemoveStaleTraces(out_dir);

  std::string error;
  const fs::path scratch = atrium::profile_cli::MakeScratchDir(&error);
  if (scratch.empty()) return Fail(error);
  const std::string data_dir = (scratch / "data").string();
  const std::string exe = atrium::profile_cli::RunnerExe();
  if (!o.data_dir.empty() || !o.install.empty()) {
    error = atrium::profile_cli::PrepareDataDir(exe, app_dir, o.data_dir, o.install, data_dir,
                                                o.run_timeout_s);
    if (!error.empty()) {
      fs::remove_all(scratch, ec);
      return Fail(error);
    }
  }

  const bool tty = ::isatty(2) == 1;
  std::vector<prof::RunTrace> traces;
  int failed = 0;
  for (int i = 0; i < o.runs; ++i) {
    const std::string trace_path = (out_dir / ("run-" + std::to_string(i) + ".json")).string();
    if (tty) std::fprintf(stderr, "\r\033[Krun %d/%d ...", i + 1, o.runs);
    atrium::profile_cli::LaunchRun r =
        atrium::profile_cli::RunLaunch(exe, app_dir, data_dir, trace_path, o.run_timeout_s);
    if (!r.trace) {
      ++failed;
      std::fprintf(stderr, "%srun %d/%d failed: %s\n", tty ? "\r\033[K" : "", i + 1, o.runs,
                   r.problem.c_str());
      std::fputs(r.stderr_tail.c_str(), stderr);
      continue;
    }
    if (tty) {
      std::fprintf(stderr, "\r\033[Krun %d/%d launch %.1f ms", i + 1, o.runs, r.trace->launch_ms);
    } else {
      std::fprintf(stderr, "run %d/%d: launch %.1f ms (%.2f s)\n", i + 1, o.runs,
                   r.trace->launch_ms, r.seconds);
    }
    traces.push_back(std::move(*r.trace));
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%d run(s): %zu ok, %d failed\n", o.runs, traces.size(), failed);

  if (o.keep_data) {
    std::fprintf(stderr, "data dir kept: %s\n", data_dir.c_str());
  } else {
    fs::remove_all(scratch, ec);
  }
  if (traces.empty()) return Fail("no run succeeded; nothing to report");

  auto profile = prof::Analyze(traces);
  if (!profile.ok()) return Fail(profile.error().ToString());

  std::vector<prof::Violation> violations;
  std::string verdicts;
  if (budget) {
    auto v = prof::CheckBudget(*profile, *budget);
    verdicts += "\nbudget (" + std::string(prof::MetricName(budget->metric)) + ", " + o.budget +
                "): " + (v.empty() ? "ok" : std::to_string(v.size()) + " violation(s)") + "\n";
    for (const auto& x : v) verdicts += "  " + x.ToString() + "\n";
    violations.insert(violations.end(), v.begin(), v.end());
  }
  if (baseline) {
    if (baseline->app != profile->app)
      return Fail(o.baseline + ": a baseline of app '" + baseline->app + "', not '" + profile->app +
                  "'");
    std::vector<std::string> notes;
    prof::CompareOptions options;
    options.tolerance_pct = o.tolerance;
    auto v = prof::CompareToBaseline(*profile, *baseline, options, &notes);
    char head[160];
    std::snprintf(head, sizeof head, "baseline (%s, +%g%% +%g ms): ", o.baseline.c_str(),
                  options.tolerance_pct, options.slack_ms);
    verdicts += std::string("\n") + head +
                (v.empty() ? "ok" : std::to_string(v.size()) + " regression(s)") + "\n";
    for (const auto& x : v) verdicts += "  " + x.ToString() + "\n";
    for (const auto& n : notes) verdicts += "  note: " + n + "\n";
    violations.insert(violations.end(), v.begin(), v.end());
  }

  std::string summary = prof::SummaryText(*profile) + verdicts;
  const std::string summary_path = (out_dir / "summary.txt").string();
  const std::string report_path = (out_dir / "report.html").string();
  if (!WriteFileAtomic(summary_path, summary, &error) ||
      !WriteFileAtomic(report_path, prof::ReportHtml(*profile, traces, violations), &error))
    return Fail(error);
  std::fputs(summary.c_str(), stdout);

  int rc = failed > 0 ? 1 : violations.empty() ? 0 : 3;
  if (!o.save_baseline.empty()) {
    if (failed > 0) {
      std::fprintf(stderr, "atrium profile: not saving a baseline: %d run(s) failed\n", failed);
    } else if (!WriteFileAtomic(o.save_baseline, prof::BaselineJson(*profile), &error)) {
      std::fprintf(stderr, "atrium profile: %s\n", error.c_str());
      rc = 1;
    } else {
      std::printf("\nbaseline saved: %s\n", o.save_baseline.c_str());
    }
  }
  std::printf("\nreport: %s\n", report_path.c_str());
  std::fflush(stdout);
  return rc;
}
