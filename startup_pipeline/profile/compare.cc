// A/B comparison of two sets of runs (compare.h): the lines, their
// verdicts and the verdict of the whole comparison.
//
// Concurrency: free functions over values; no shared state.
#include "compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "profile_util.h"

namespace atrium::profile {

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return NearestRank(v, 50);
}

// Each side's samples of one measure.
struct Samples {
  std::vector<double> a, b;
};

struct TaskInfo {
  std::string stage;
  bool optional = false;
};

// Each verdict is a one-sided claim at `confidence`: above +min_change
// (regression), below -min_change (improvement), or within +-min_change
// (no change: both one-sided claims at once, the two one-sided tests of an
// equivalence test). The interval whose two ends are those one-sided bounds
// is the two-sided one at 2 * confidence - 1.
Shift OneSidedShift(const Samples& s, double confidence) {
  return EstimateShift(s.a, s.b, 2 * confidence - 1);
}

AbLine MakeLine(AbLineKind kind, std::string name, const Samples& s, double min_change,
                double confidence) {
  AbLine line;
  line.kind = kind;
  line.name = std::move(name);
  line.a_median_ms = Median(s.a);
  line.b_median_ms = Median(s.b);
  line.min_change_ms = min_change;
  line.shift = OneSidedShift(s, confidence);
  line.verdict = Judge(line.shift, min_change);
  return line;
}

// 1 − (1 − c)/k: each of k lines at this confidence keeps the family's
// chance of any false alarm within 1 − c.
double Bonferroni(double confidence, size_t k) {
  return k <= 1 ? confidence : 1 - (1 - confidence) / static_cast<double>(k);
}

}  // namespace

namespace {

struct OutcomeNames {
  AbOutcome outcome;
  const char* name;   // for people
  const char* token;  // for tools
};
constexpr OutcomeNames kOutcomes[] = {
    {AbOutcome::kRegression, "regression", "regression"},
    {AbOutcome::kImprovement, "improvement", "improvement"},
    {AbOutcome::kTasksSlower, "no change to the launch; tasks are slower", "tasks_slower"},
    {AbOutcome::kNoChange, "no change", "no_change"},
    {AbOutcome::kNotEnoughRuns, "not enough runs", "not_enough_runs"},
};

}  // namespace

const char* AbOutcomeName(AbOutcome o) {
  for (const auto& n : kOutcomes)
    if (n.outcome == o) return n.name;
  return "?";
}

const char* AbOutcomeToken(AbOutcome o) {
  for (const auto& n : kOutcomes)
    if (n.outcome == o) return n.token;
  return "?";
}

std::vector<const AbLine*> AbComparison::Deciding() const {
  std::vector<const AbLine*> out;
  auto add_if = [&](const std::vector<AbLine>& lines, ShiftVerdict v) {
    for (const AbLine& l : lines)
      if (l.verdict == v) out.push_back(&l);
  };
  switch (outcome) {
    case AbOutcome::kRegression:
      if (launch.verdict == ShiftVerdict::kRegression) out.push_back(&launch);
      add_if(stages, ShiftVerdict::kRegression);
      add_if(critical, ShiftVerdict::kRegression);
      if (idle_decides) add_if(idle, ShiftVerdict::kRegression);
      break;
    case AbOutcome::kImprovement:
      out.push_back(&launch);
      break;
    case AbOutcome::kTasksSlower:
      for (const auto* lines : {&critical, &tasks})
        for (const AbLine& l : *lines)
          if (l.task_verdict == ShiftVerdict::kRegression) out.push_back(&l);
      break;
    case AbOutcome::kNoChange:
    case AbOutcome::kNotEnoughRuns:
      break;
  }
  return out;
}

bool AbComparison::TasksUndecided() const {
  for (const auto* lines : {&critical, &tasks})
    for (const AbLine& l : *lines)
      if (l.suspect) return true;
  return false;
}

Result<AbComparison> CompareAb(const std::vector<RunTrace>& a, const std::vector<RunTrace>& b,
                               const AbOptions& options) {
  if (a.empty() || b.empty())
    return MakeError(ErrorCode::kInvalidArgument, std::string("no successful run of ") +
                                                      (a.empty() ? "A" : "B") + " to compare");
  auto pa = Analyze(a);
  if (!pa.ok()) return pa.error();
  auto pb = Analyze(b);
  if (!pb.ok()) return pb.error();
  if (a.front().stage_order != b.front().stage_order) {
    auto join = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
      return out;
    };
    return MakeError(ErrorCode::kInvalidArgument, "A and B launch through different stages (" +
                                                      join(a.front().stage_order) + " / " +
                                                      join(b.front().stage_order) +
                                                      "): nothing to compare stage by stage");
  }

  AbComparison c;
  c.app_a = pa->app;
  c.version_a = pa->app_version;
  c.app_b = pb->app;
  c.version_b = pb->app_version;
  c.runs_a = a.size();
  c.runs_b = b.size();
  c.confidence = options.confidence;
  c.min_change_ms = options.min_change_ms;
  c.min_task_change_ms = options.min_task_change_ms;
  c.idle_decides = options.idle_decides;

  Samples launch;
  for (const auto& r : a) launch.a.push_back(r.launch_ms);
  for (const auto& r : b) launch.b.push_back(r.launch_ms);
  if (options.min_change_pct > 0)
    c.min_change_ms = Median(launch.a) * options.min_change_pct / 100.0;
  c.launch = MakeLine(AbLineKind::kLaunch, "launch", launch, c.min_change_ms, options.confidence);

  const std::string idle = IdleStage(a.front());
  // Stage ends of the launch.
  std::vector<std::pair<std::string, Samples>> stage_samples;
  for (const std::string& name : a.front().stage_order) {
    if (name == idle) continue;
    Samples s;
    for (const auto& r : a)
      for (const auto& st : r.stages)
        if (st.name == name) s.a.push_back(UsToMs(st.end_us));
    for (const auto& r : b)
      for (const auto& st : r.stages)
        if (st.name == name) s.b.push_back(UsToMs(st.end_us));
    if (!s.a.empty() && !s.b.empty()) stage_samples.emplace_back(name, std::move(s));
  }

  // Task durations (runs that did not skip it), by id.
  std::map<std::string, Samples> task_samples;
  std::map<std::string, TaskInfo> info;
  auto collect = [&](const std::vector<RunTrace>& runs, bool side_a) {
    for (const auto& r : runs) {
      for (const auto& t : r.tasks) {
        info.try_emplace(t.id, TaskInfo{t.stage, t.optional});
        if (t.status == TaskStatus::kSkipped) continue;
        auto& s = task_samples[t.id];
        (side_a ? s.a : s.b).push_back(UsToMs(t.duration_us()));
      }
    }
  };
  collect(a, true);
  collect(b, false);

  // The critical path of either median run; A's order first.
  std::vector<std::string> critical_ids;
  for (const auto* path : {&pa->critical_path, &pb->critical_path})
    for (const CriticalStep& step : *path)
      if (std::find(critical_ids.begin(), critical_ids.end(), step.id) == critical_ids.end())
        critical_ids.push_back(step.id);

  std::vector<std::string> other_ids, idle_ids;
  for (const auto& [id, s] : task_samples) {
    if (s.a.empty() || s.b.empty()) {
      c.unmatched.push_back(id + (s.a.empty() ? " (B only)" : " (A only)"));
      continue;
    }
    if (std::find(critical_ids.begin(), critical_ids.end(), id) != critical_ids.end()) continue;
    (info[id].stage == idle && !idle.empty() ? idle_ids : other_ids).push_back(id);
  }
  std::erase_if(critical_ids, [&](const std::string& id) {
    auto it = task_samples.find(id);
    return it == task_samples.end() || it->second.a.empty() || it->second.b.empty();
  });

  const double deciding_conf =
      Bonferroni(options.confidence, stage_samples.size() + critical_ids.size() +
                                         (options.idle_decides ? idle_ids.size() : 0));
  c.deciding_confidence = deciding_conf;
  for (auto& [name, s] : stage_samples)
    c.stages.push_back(MakeLine(AbLineKind::kStageEnd, name, s, c.min_change_ms, deciding_conf));
  auto task_line = [&](AbLineKind kind, const std::string& id, double min_change, double conf) {
    const Samples& s = task_samples[id];
    AbLine line = MakeLine(kind, id, s, min_change, conf);
    line.stage = info[id].stage;
    line.optional = info[id].optional;
    line.critical = kind == AbLineKind::kCriticalTask;
    line.task_verdict = Judge(line.shift, c.min_task_change_ms);
    if (line.task_verdict == ShiftVerdict::kNotEnoughRuns &&
        std::abs(line.shift.estimate) >= c.min_task_change_ms) {
      // Two-sided at the asked level (each end at 1 - (1 - c)/2): of an
      // unchanged app's twenty-odd tasks, fewer look changed by chance and
      // hold the comparison for more runs.
      Shift alone = EstimateShift(s.a, s.b, options.confidence);
      line.suspect = alone.enough && (alone.low > 0 || alone.high < 0);
    }
    return line;
  };
  for (const auto& id : critical_ids)
    c.critical.push_back(task_line(AbLineKind::kCriticalTask, id, c.min_change_ms, deciding_conf));
  const double other_conf = Bonferroni(options.confidence, other_ids.size());
  c.task_confidence = other_conf;
  for (const auto& id : other_ids)
    c.tasks.push_back(task_line(AbLineKind::kTask, id, c.min_task_change_ms, other_conf));
  const double idle_conf =
      options.idle_decides ? deciding_conf : Bonferroni(options.confidence, idle_ids.size());
  c.idle_confidence = idle_conf;
  for (const auto& id : idle_ids)
    c.idle.push_back(task_line(AbLineKind::kIdleTask, id,
                               options.idle_decides ? c.min_change_ms : c.min_task_change_ms,
                               idle_conf));
  auto stage_pos = [&](const std::string& s) {
    const auto& order = a.front().stage_order;
    return std::find(order.begin(), order.end(), s) - order.begin();
  };
  std::stable_sort(c.tasks.begin(), c.tasks.end(), [&](const AbLine& x, const AbLine& y) {
    return stage_pos(x.stage) < stage_pos(y.stage);
  });

  auto any = [](const std::vector<AbLine>& lines, ShiftVerdict v) {
    return std::any_of(lines.begin(), lines.end(), [v](const AbLine& l) { return l.verdict == v; });
  };
  const ShiftVerdict R = ShiftVerdict::kRegression;
  if (c.launch.verdict == R || any(c.stages, R) || any(c.critical, R) ||
      (options.idle_decides && any(c.idle, R))) {
    c.outcome = AbOutcome::kRegression;
  } else if (c.launch.verdict == ShiftVerdict::kNotEnoughRuns) {
    c.outcome = AbOutcome::kNotEnoughRuns;
  } else if (c.launch.verdict == ShiftVerdict::kImprovement) {
    c.outcome = AbOutcome::kImprovement;
  } else if (std::any_of(
                 c.critical.begin(), c.critical.end(),
                 [](const AbLine& l) { return l.task_verdict == ShiftVerdict::kRegression; }) ||
             any(c.tasks, R)) {
    c.outcome = AbOutcome::kTasksSlower;
  } else {
    c.outcome = AbOutcome::kNoChange;
  }
  return c;
}

std::string FormatShift(const Shift& s) {
  auto signed_ms = [](double v) { return (v >= 0 ? "+" : "") + Ms(v); };
  std::string out = signed_ms(s.estimate) + " ms";
  if (s.enough) out += " [" + signed_ms(s.low) + ", " + signed_ms(s.high) + "]";
  return out;
}

}  // namespace atrium::profile
