// Startup profile reports: what `atrium profile` makes of the Chrome Trace
// Event JSON files `atrium run --trace` writes, one per launch.
//
// The pipeline is pure (no process, no clock, no terminal):
//   ParseTrace / LoadTrace   one trace file  -> RunTrace (tasks, stages, loads)
//   Analyze                  N RunTraces     -> Profile (percentiles, the
//                                               critical path of the median
//                                               run, the longest queue waits)
//   SummaryText / ReportHtml Profile         -> aligned text / one HTML file
//   ParseBudget + CheckBudget, BaselineJson + ParseBaseline + CompareToBaseline
//                                            -> Violations
// docs/profiling.md describes the trace contract, the statistics and the
// report; the trace writer is scheduler/include/atrium/trace.h.
//
// Conventions:
//  1. Times in a RunTrace are microseconds since the run's launch start: the
//     begin of its first recorded stage (the earliest task or bundle-load
//     slice when the trace has no stage events).
//  2. Percentiles use the nearest-rank method: pN of n sorted values is the
//     value at rank ceil(N/100 * n) (1-based), so every reported number was
//     measured in some run. The median run is the run whose launch_ms is the
//     p50 (ties: the earlier run).
//  3. Every error names the file and a JSON pointer into it
//     ("/traceEvents/12/args/bundle"), or a byte offset for malformed JSON.
//
// Concurrency: free functions over values; no shared state.
#ifndef ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_REPORT_H_
#define ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"

namespace atrium::profile {

// ---------------------------------------------------------------- one run

enum class TaskStatus { kOk, kFailed, kSkipped };
const char* TaskStatusName(TaskStatus status);

// One startup task slice (cat "task").
struct TaskRun {
  std::string id;      // qualified "<bundle>:<task>" (the slice name)
  std::string bundle;  // args.bundle
  std::string stage;   // args.stage, one of RunTrace::stage_order
  std::string target;  // args.thread: "main" or the pool it was posted to
  uint32_t tid = 0;    // thread that ran it
  int64_t start_us = 0;
  int64_t end_us = 0;
  int64_t queue_wait_us = 0;
  int64_t cpu_us = -1;   // args.cpu_us: its thread's CPU time; -1 when not recorded
  double budget_ms = 0;  // 0: no budget declared
  double weight = 0;
  TaskStatus status = TaskStatus::kOk;
  bool over_budget = false;
  bool optional = false;
  std::vector<std::string> after;  // qualified ids of its declared dependencies

  int64_t duration_us() const { return end_us - start_us; }
};

// One stage of the startup pipeline, begin to end.
struct StageRun {
  std::string name;
  int64_t begin_us = 0;
  int64_t end_us = 0;
};

// One bundle load slice (cat "bundle", name "load <bundle>").
struct BundleLoad {
  std::string bundle;
  std::string trigger;
  uint32_t tid = 0;
  int64_t start_us = 0;
  int64_t end_us = 0;
};

struct ThreadInfo {
  uint32_t tid = 0;
  std::string name;  // from the thread_name metadata; "tid <n>" when unnamed
};

struct RunTrace {
  std::string file;  // where it was loaded from (for messages)
  std::string app;
  std::string app_version;
  std::string result;  // "ok" or "failed: <reason>"
  double launch_ms = 0;
  int cpus = 0;  // otherData.cpus: CPUs the launch could use; 0 when not recorded
  std::vector<std::string> stage_order;  // otherData.stages
  // Every named thread plus any unnamed thread that ran a slice; "main"
  // first, then by name (numbers inside names compare as numbers).
  std::vector<ThreadInfo> threads;
  std::vector<TaskRun> tasks;    // in trace order
  std::vector<StageRun> stages;  // in stage_order order, only stages that ran
  std::vector<BundleLoad> loads;

  const ThreadInfo* Thread(uint32_t tid) const;
  // End of the latest slice or stage.
  int64_t end_us() const;
};

// The run's idle stage: the last of its stages, which begins when the launch
// is done (its work runs after the launch). "" when the trace names fewer
// than two stages.
std::string IdleStage(const RunTrace& run);

// Parses one trace. `file` is only used in error messages.
Result<RunTrace> ParseTrace(std::string_view json_text, const std::string& file);
Result<RunTrace> LoadTrace(const std::string& path);

// ---------------------------------------------------------------- N runs

// Nearest-rank percentiles of a sample, in milliseconds.
struct Distribution {
  size_t n = 0;
  double p50 = 0;
  double p90 = 0;
  double max = 0;
};
// `pct` in (0, 100]; `sorted` ascending and non-empty.
double NearestRank(const std::vector<double>& sorted, double pct);
Distribution Distribute(std::vector<double> values);

struct StageStats {
  std::string name;
  Distribution duration_ms;
  Distribution end_ms;  // stage end since launch start
};

struct TaskStats {
  std::string id;
  std::string bundle;
  std::string stage;
  std::string target;
  double budget_ms = 0;
  Distribution duration_ms;    // over the runs where it was not skipped
  Distribution queue_wait_ms;  // idem (p90 unused in reports)
  size_t runs = 0;             // runs that recorded it
  size_t failed = 0;
  size_t skipped = 0;
  size_t over_budget = 0;
  bool optional = false;  // the launch does not wait for it
};

// One task on the critical path, in execution order.
struct CriticalStep {
  std::string id;
  std::string bundle;
  std::string stage;
  std::string thread;  // name of the thread that ran it
  double start_ms = 0;
  double duration_ms = 0;
  double queue_wait_ms = 0;
  // Time between the end of what it waited for (`via`) and its start.
  double gap_ms = 0;
  // Why it could not start earlier: "after <id>" (a declared dependency),
  // "stage <s>" (the barrier at the end of the previous stage) or "launch".
  std::string via;
};

struct QueueWait {
  std::string id;
  std::string bundle;
  std::string target;
  Distribution wait_ms;
};

// A wait on the critical path a team can act on: a critical-path task of
// the median run that was ready but queued for a thread, and what held its
// pool's (or the main thread's) threads when it became ready.
struct AvoidableWait {
  std::string id;
  std::string stage;
  std::string target;   // the pool it was posted to, or "main"
  double ready_ms = 0;  // since launch start
  double wait_ms = 0;
  std::vector<std::string> busy_with;  // tasks running on that pool then
};

struct Profile {
  std::string app;
  std::string app_version;
  size_t runs = 0;
  size_t failed_runs = 0;  // traces whose otherData.result is not "ok"
  Distribution launch_ms;
  size_t median_run = 0;           // index into the analyzed runs
  std::string median_file;         // its RunTrace::file
  std::vector<StageStats> stages;  // in stage order
  std::vector<TaskStats> tasks;    // by stage, then p90 duration descending
  std::vector<CriticalStep> critical_path;
  double critical_path_ms = 0;           // launch start to the end of its last task
  std::vector<QueueWait> longest_waits;  // p50 queue wait descending, then max
  // Critical-path waits of the median run, longest first (at least 0.1 ms).
  std::vector<AvoidableWait> avoidable_waits;
  // Launch efficiency over the runs that recorded their CPUs (n = 0 when
  // none did): launch_ms / max(the durations along the launch's critical
  // path, the launch's tasks' CPU time / cpus). 1.0: no launch could be
  // shorter on this machine with these tasks; 1.3: 30% of the launch is
  // waiting that neither the dependencies nor the CPUs explain. A task
  // without cpu_us counts its duration as CPU time.
  Distribution efficiency;
};

// One run's launch efficiency (Profile::efficiency); 0 when it recorded no
// CPUs or no work.
double LaunchEfficiency(const RunTrace& run);

struct AnalyzeOptions {
  size_t top_waits = 10;
};

// Fails when `runs` is empty or the runs are of different apps.
Result<Profile> Analyze(const std::vector<RunTrace>& runs, const AnalyzeOptions& options = {});

// The critical path of one run's launch: from its last-ending (not skipped)
// task outside the idle stage (IdleStage) back along the
// predecessor that ended last. A task's predecessors are its `after`
// dependencies recorded in the run and the end of the previous stage (whose
// last-ending task continues the walk); a task with neither waited for the
// launch start.
std::vector<CriticalStep> CriticalPath(const RunTrace& run);

// ---------------------------------------------------------------- budgets

enum class Metric { kP50, kP90, kMax };
const char* MetricName(Metric metric);

// A budgets file:
//   {"metric": "p90", "launch_ms": 800,
//    "stages": {"first_frame": 300}, "tasks": {"com.wallet.home:render_home": 50}}
// metric defaults to p90; every other key is optional; unknown keys are errors.
struct Budget {
  Metric metric = Metric::kP90;
  std::optional<double> launch_ms;
  std::vector<std::pair<std::string, double>> stages;  // stage end since launch start
  std::vector<std::pair<std::string, double>> tasks;   // task duration
};
Result<Budget> ParseBudget(std::string_view json_text, const std::string& file);
Result<Budget> LoadBudget(const std::string& path);

struct Violation {
  std::string subject;  // "launch", "stage first_frame end", "task com.a:b"
  std::string metric;   // "p90", ...
  double measured_ms = 0;
  double allowed_ms = 0;
  std::string note;  // e.g. "baseline 40.0 ms +10% +2 ms", "not recorded in any run"
  std::string ToString() const;
};

std::vector<Violation> CheckBudget(const Profile& profile, const Budget& budget);

// ---------------------------------------------------------------- baselines

// The aggregate of a profile as JSON (format "atrium-profile-baseline-v1"):
// launch_ms, stage end and duration, task duration distributions.
std::string BaselineJson(const Profile& profile);

struct Baseline {
  std::string app;
  std::string app_version;
  Distribution launch_ms;
  std::vector<StageStats> stages;
  std::vector<std::pair<std::string, Distribution>> tasks;  // id -> duration
};
Result<Baseline> ParseBaseline(std::string_view json_text, const std::string& file);
Result<Baseline> LoadBaseline(const std::string& path);

struct CompareOptions {
  double tolerance_pct = 10;
  // Added to every allowance so a 0.3 ms task that takes 0.5 ms is not a
  // regression: sub-millisecond noise is scheduling, not code.
  double slack_ms = 2;
};

// Launch, every stage's end and every task's duration, p50 and p90, against
// the baseline: allowed = baseline * (1 + tolerance/100) + slack. Stages and
// tasks only one side has are not compared (`notes` lists them).
std::vector<Violation> CompareToBaseline(const Profile& profile, const Baseline& baseline,
                                         const CompareOptions& options,
                                         std::vector<std::string>* notes = nullptr);

// ---------------------------------------------------------------- output

// Plain text, aligned columns, at most 100 wide; `max_tasks` slowest tasks
// (by p90) in the task table, 0 for all.
std::string SummaryText(const Profile& profile, size_t max_tasks = 20);

// A self-contained HTML page (inline CSS and a few lines of JS, no external
// resource): header, SVG timeline of the median run (`runs[profile.median_run]`),
// stage / task / critical path / queue wait tables and `violations` if any.
std::string ReportHtml(const Profile& profile, const std::vector<RunTrace>& runs,
                       const std::vector<Violation>& violations = {});

// Escapes & < > " ' for text and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace atrium::profile

#endif  // ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_REPORT_H_
