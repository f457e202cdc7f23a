// A/B comparison of two sets of launches run side by side (`atrium profile
// --compare`): for the launch, each stage end, each task of the critical
// path and every other task, how much B moved against A (the Hodges–Lehmann
// shift with its Mann–Whitney interval, shift.h), the verdict of each line
// and the verdict of the whole comparison, which knows the critical path:
//
//   regression        the launch, a stage end of the launch or a task on its
//                     critical path is slower by more than the smallest
//                     change that matters (the whole interval beyond it)
//   improvement       the launch is faster by more than that, nothing slower
//   tasks slower      the launch did not move, but tasks are slower by more
//                     than the smallest task change (listed, each saying
//                     whether it is on the critical path)
//   no change         none of the above
//   not enough runs   the launch's interval straddles the smallest change:
//                     more runs decide
//
// Each verdict is a one-sided claim at the asked confidence c (beyond
// +min, beyond -min, or within +-min: two one-sided claims, the equivalence
// test): a line's interval is the two-sided one at 2c - 1, each end a
// one-sided bound at c (for c = 95 %, the 90 % interval).
//
// Which lines decide: the launch at the asked confidence; the stage ends
// and critical-path tasks together at the asked confidence (Bonferroni: each
// at 1 − (1 − c)/k), so ten of them do not give ten chances of a false
// alarm; the other launch tasks together in the same way, against their own
// (smaller) smallest change; a critical-path task is also judged against
// that smaller change, so a task slower by less than the launch's smallest
// change is listed as slower rather than passed over. Idle-stage work runs after the launch: it is
// listed separately and decides nothing unless AbOptions::idle_decides.
//
// The critical path is the launch's (CriticalPath, ending before the idle
// stage) of A's median run and of B's: a task on either is a critical-path
// task.
//
// Concurrency: free functions over values; no shared state.
#ifndef ATRIUM_STARTUP_PIPELINE_PROFILE_COMPARE_H_
#define ATRIUM_STARTUP_PIPELINE_PROFILE_COMPARE_H_

#include <string>
#include <vector>

#include "atrium/result.h"
#include "profile_report.h"
#include "shift.h"

namespace atrium::profile {

struct AbOptions {
  // The smallest change of the launch, a stage end or a critical-path task
  // that matters, in ms; or, when min_change_pct > 0, that percentage of
  // A's median launch instead.
  double min_change_ms = 5;
  double min_change_pct = 0;
  // The smallest change of a task off the critical path worth listing.
  double min_task_change_ms = 1;
  double confidence = 0.95;  // of each one-sided claim
  // Idle-stage tasks decide the verdict like critical-path tasks.
  bool idle_decides = false;
};

enum class AbLineKind { kLaunch, kStageEnd, kCriticalTask, kTask, kIdleTask };

// One measure compared.
struct AbLine {
  AbLineKind kind = AbLineKind::kLaunch;
  std::string name;   // "launch", the stage, or the task id
  std::string stage;  // a task's stage
  bool critical = false;
  bool optional = false;
  double a_median_ms = 0;  // medians of each side (nearest rank)
  double b_median_ms = 0;
  double min_change_ms = 0;  // what it was judged against
  Shift shift;               // b − a, in ms
  ShiftVerdict verdict = ShiftVerdict::kNotEnoughRuns;
  // Tasks: the verdict against the smallest task change (for tasks off the
  // critical path the same as `verdict`).
  ShiftVerdict task_verdict = ShiftVerdict::kNotEnoughRuns;
  // Tasks: the estimate is beyond the smallest task change and the
  // two-sided interval at the asked confidence alone (without the family
  // correction) excludes zero, but `task_verdict` is undecided: more runs
  // would likely decide.
  // (The family interval alone would need many more runs to flag a 3 ms
  // change of a noisy task; a few extra runs of an unchanged app cost less.)
  bool suspect = false;
};

enum class AbOutcome { kRegression, kImprovement, kTasksSlower, kNoChange, kNotEnoughRuns };
const char* AbOutcomeName(AbOutcome o);   // "regression", "no change", ...
const char* AbOutcomeToken(AbOutcome o);  // "regression", "no_change", ... (JSON, HTML)

struct AbComparison {
  std::string app_a, version_a, app_b, version_b;
  size_t runs_a = 0;
  size_t runs_b = 0;
  double confidence = 0;
  // The level each line of a family was judged at (Bonferroni).
  double deciding_confidence = 0;  // stage ends and critical-path tasks
  double task_confidence = 0;      // the other tasks of the launch
  double idle_confidence = 0;      // idle-stage tasks
  double min_change_ms = 0;        // effective (after min_change_pct)
  double min_task_change_ms = 0;
  bool idle_decides = false;
  AbLine launch;
  std::vector<AbLine> stages;    // stage ends of the launch (idle stage excluded), in order
  std::vector<AbLine> critical;  // critical-path tasks: A's median run's path order, then B's extra
  std::vector<AbLine> tasks;     // other launch tasks, by stage then id
  std::vector<AbLine> idle;      // idle-stage tasks, by id
  // Tasks only one side recorded (new or gone), "<id> (A only)" / "(B only)".
  std::vector<std::string> unmatched;
  AbOutcome outcome = AbOutcome::kNotEnoughRuns;
  // The lines that decided a regression, improvement or slower tasks.
  std::vector<const AbLine*> Deciding() const;
  // A task of the launch is suspect (AbLine::suspect): worth more runs.
  bool TasksUndecided() const;
};

// Compares B's runs against A's. Fails when a side has no run, or the two
// sides name different stages. Runs of two different apps are allowed (an
// app against a fork of it); the comparison names both.
Result<AbComparison> CompareAb(const std::vector<RunTrace>& a, const std::vector<RunTrace>& b,
                               const AbOptions& options = {});

// "+15.1 ms [+13.0, +17.2]" (the interval omitted when there is none).
std::string FormatShift(const Shift& shift);

// Aligned text (the lines and the verdict), JSON (format
// "atrium-profile-compare-v1", every line with its numbers) and a
// self-contained HTML page with both median runs' timelines on one time
// scale, the changed tasks highlighted.
std::string AbSummaryText(const AbComparison& c);
std::string AbJson(const AbComparison& c);
std::string AbReportHtml(const AbComparison& c, const std::vector<RunTrace>& a,
                         const std::vector<RunTrace>& b);

}  // namespace atrium::profile

#endif  // ATRIUM_STARTUP_PIPELINE_PROFILE_COMPARE_H_
