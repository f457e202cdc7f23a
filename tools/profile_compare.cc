// `atrium profile --compare <app-A> <app-B>` (docs/profiling.md, "A/B"):
// A and B launched alternately on this machine in the same minutes, each
// side with its own data dir, until the launch's verdict is decided or
// --max-runs is reached; then the comparison (startup_pipeline/profile/
// compare.h) as text, JSON and HTML.
//
// Order: W warm-up launches a side (A B A B ..., not measured), then pairs
// in alternating order (A B, B A, A B, ...) so neither side always runs
// right after the other (a file cache or CPU frequency warmed by one launch
// favours the next one equally often).
//
// Concurrency: single-threaded; called from main().
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "compare.h"
#include "profile_report.h"
#include "profile_runs.h"

namespace fs = std::filesystem;
namespace prof = atrium::profile;

namespace atrium::profile_cli {

namespace {

struct Side {
  const char* name;  // "A" / "B"
  fs::path app_dir;
  std::string data_dir;
  fs::path trace_dir;
  std::vector<prof::RunTrace> traces;
  int launches = 0;  // measured launches started
  int warmups = 0;
  int failed = 0;
};

}  // namespace

int CompareMain(const ProfileOptions& o) {
  std::error_code ec;
  Side sides[2] = {{"A", {}, {}, {}, {}, 0, 0, 0}, {"B", {}, {}, {}, {}, 0, 0, 0}};
  for (int i = 0; i < 2; ++i) {
    sides[i].app_dir = fs::absolute(o.compare[static_cast<size_t>(i)], ec).lexically_normal();
    if (!fs::is_regular_file(sides[i].app_dir / "app.json", ec))
      return Fail((sides[i].app_dir / "app.json").string() + ": no app here (" + sides[i].name +
                  ": cannot find app.json)");
  }
  for (const std::string* dir : {&o.data_dir_a, &o.data_dir_b})
    if (!dir->empty() && !fs::is_directory(*dir, ec))
      return Fail(*dir + ": not a directory (data dir)");
  for (const std::string* pkg : {&o.install_a, &o.install_b})
    if (!pkg->empty() && !fs::is_regular_file(*pkg, ec)) return Fail(*pkg + ": no such package");

  const fs::path out_dir = fs::absolute(o.out, ec).lexically_normal();
  for (int i = 0; i < 2; ++i) {
    sides[i].trace_dir = out_dir / (i == 0 ? "a" : "b");
    fs::create_directories(sides[i].trace_dir, ec);
    if (!fs::is_directory(sides[i].trace_dir, ec))
      return Fail(sides[i].trace_dir.string() + ": cannot create directory");
    RemoveStaleTraces(sides[i].trace_dir);
  }
  // Results of an earlier comparison must not outlive a failed one.
  for (const char* name : {"compare.txt", "compare.json", "compare.html"})
    fs::remove(out_dir / name, ec);

  std::string error;
  const fs::path scratch = MakeScratchDir(&error);
  if (scratch.empty()) return Fail(error);
  auto cleanup = [&] {
    if (o.keep_data) {
      for (const Side& s : sides)
        std::fprintf(stderr, "data dir of %s kept: %s\n", s.name, s.data_dir.c_str());
    } else {
      fs::remove_all(scratch, ec);
    }
  };
  const std::string exe = RunnerExe();
  for (int i = 0; i < 2; ++i) {
    sides[i].data_dir = (scratch / (i == 0 ? "a-data" : "b-data")).string();
    error = PrepareDataDir(exe, sides[i].app_dir, i == 0 ? o.data_dir_a : o.data_dir_b,
                           i == 0 ? o.install_a : o.install_b, sides[i].data_dir, o.run_timeout_s);
    if (!error.empty()) {
      cleanup();
      return Fail(std::string(sides[i].name) + ": " + error);
    }
  }

  const bool tty = ::isatty(2) == 1;
  auto launch = [&](Side& s, const std::string& trace_path, bool measured) {
    const int n = (measured ? s.launches : s.warmups) + 1;
    if (tty) std::fprintf(stderr, "\r\033[K%s %s %d ...", measured ? "run" : "warm-up", s.name, n);
    LaunchRun r = RunLaunch(exe, s.app_dir, s.data_dir, trace_path, o.run_timeout_s);
    if (!r.trace) {
      if (measured) ++s.failed;
      std::fprintf(stderr, "%s%s %s %d failed: %s\n", tty ? "\r\033[K" : "",
                   measured ? "run" : "warm-up", s.name, n, r.problem.c_str());
      std::fputs(r.stderr_tail.c_str(), stderr);
      return;
    }
    if (!tty)
      std::fprintf(stderr, "%s %s %d: launch %.1f ms (%.2f s)\n", measured ? "run" : "warm-up",
                   s.name, n, r.trace->launch_ms, r.seconds);
    if (measured) s.traces.push_back(std::move(*r.trace));
  };

  for (int w = 0; w < o.warmup; ++w) {
    for (Side& s : sides) {
      // Its own file, removed first: a warm-up that writes no trace must
      // not read the other side's.
      const fs::path warm = scratch / ("warmup-" + std::string(s.name) + ".json");
      fs::remove(warm, ec);
      launch(s, warm.string(), false);
      ++s.warmups;
    }
  }

  prof::AbOptions options;
  options.min_change_ms = o.min_change_ms;
  options.min_change_pct = o.min_change_pct;
  options.min_task_change_ms = o.min_task_change_ms;
  options.confidence = o.confidence_pct / 100.0;
  options.idle_decides = o.include_idle;
  const int batch = std::max(2, o.runs / 2);
  int pairs = 0;
  int target = o.runs;
  std::optional<prof::AbComparison> result;
  std::string compare_error;
  while (true) {
    for (; pairs < target; ++pairs) {
      for (int k = 0; k < 2; ++k) {
        Side& s = sides[(pairs % 2 == 0) ? k : 1 - k];
        const std::string trace_path =
            (s.trace_dir / ("run-" + std::to_string(s.launches) + ".json")).string();
        launch(s, trace_path, true);
        ++s.launches;
      }
    }
    auto c = prof::CompareAb(sides[0].traces, sides[1].traces, options);
    if (c.ok()) {
      result = std::move(*c);
      compare_error.clear();
      std::fprintf(stderr, "%safter %d run(s) a side: the launch %s: %s\n", tty ? "\r\033[K" : "",
                   pairs, prof::FormatShift(result->launch.shift).c_str(),
                   prof::AbOutcomeName(result->outcome));
    } else {
      // Runs of two different stage lists, or a side with no successful
      // run: more runs would not help.
      result.reset();
      compare_error = c.error().ToString();
      break;
    }
    // A failed run fails the command (exit 1): no more runs for it.
    if (sides[0].failed + sides[1].failed > 0) break;
    // Undecided: the launch; or, while the launch did not move, a task that
    // looks changed (AbLine::suspect) without its verdict saying so yet. A
    // regression or an improvement is decided.
    const bool undecided = !result || result->outcome == prof::AbOutcome::kNotEnoughRuns ||
                           ((result->outcome == prof::AbOutcome::kNoChange ||
                             result->outcome == prof::AbOutcome::kTasksSlower) &&
                            result->TasksUndecided());
    if (!undecided || pairs >= o.max_runs) break;
    target = std::min(o.max_runs, pairs + batch);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  const int failed = sides[0].failed + sides[1].failed;
  std::fprintf(stderr, "A: %d run(s), %zu ok; B: %d run(s), %zu ok\n", sides[0].launches,
               sides[0].traces.size(), sides[1].launches, sides[1].traces.size());
  cleanup();
  if (!result) return Fail(compare_error);

  const bool decided = result->outcome != prof::AbOutcome::kNotEnoughRuns;
  std::string summary;
  for (int i = 0; i < 2; ++i) {
    const std::string& copy = i == 0 ? o.data_dir_a : o.data_dir_b;
    const std::string& pkg = i == 0 ? o.install_a : o.install_b;
    summary += std::string(sides[i].name) + ": " + sides[i].app_dir.string() +
               (copy.empty() ? ", fresh data dir" : ", a copy of data dir " + copy) +
               (pkg.empty() ? "" : ", " + pkg + " installed") + "\n";
  }
  summary += prof::AbSummaryText(*result);
  summary += decided
                 ? "runs needed: " + std::to_string(pairs) + " a side (--runs " +
                       std::to_string(o.runs) + ", --max-runs " + std::to_string(o.max_runs) + ")\n"
                 : "undecided after " + std::to_string(pairs) + " runs a side (--max-runs " +
                       std::to_string(o.max_runs) + ")\n";
  if (failed > 0)
    summary += std::to_string(failed) + " run(s) failed and are left out (exit status 1)\n";
  const std::string summary_path = (out_dir / "compare.txt").string();
  const std::string json_path = (out_dir / "compare.json").string();
  const std::string report_path = (out_dir / "compare.html").string();
  if (!WriteFileAtomic(summary_path, summary, &error) ||
      !WriteFileAtomic(json_path, prof::AbJson(*result), &error) ||
      !WriteFileAtomic(report_path, prof::AbReportHtml(*result, sides[0].traces, sides[1].traces),
                       &error))
    return Fail(error);
  std::fputs(summary.c_str(), stdout);
  std::printf("\nreport: %s\n", report_path.c_str());
  std::fflush(stdout);
  if (failed > 0) return 1;
  switch (result->outcome) {
    case prof::AbOutcome::kRegression:
      return 3;
    case prof::AbOutcome::kTasksSlower:
      return 4;
    case prof::AbOutcome::kNotEnoughRuns:
      return 5;
    case prof::AbOutcome::kImprovement:
    case prof::AbOutcome::kNoChange:
      return 0;
  }
  return 0;
}

}  // namespace atrium::profile_cli
