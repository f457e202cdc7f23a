// N runs into a Profile (Analyze; profile_report.h): nearest-rank
// percentiles, the critical path of the median run, the longest queue waits.
//
// Concurrency: free functions over values; no shared state.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "profile_report.h"
#include "profile_util.h"

namespace atrium::profile {

double NearestRank(const std::vector<double>& sorted, double pct) {
  ATRIUM_CHECK(!sorted.empty(), "percentile of no values");
  double rank = std::ceil(pct / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Distribution Distribute(std::vector<double> values) {
  Distribution d;
  d.n = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.p50 = NearestRank(values, 50);
  d.p90 = NearestRank(values, 90);
  d.max = values.back();
  return d;
}

std::string IdleStage(const RunTrace& run) {
  return run.stage_order.size() >= 2 ? run.stage_order.back() : std::string();
}

double LaunchEfficiency(const RunTrace& run) {
  if (run.cpus <= 0 || run.launch_ms <= 0) return 0;
  const std::string idle = IdleStage(run);
  double work_ms = 0;
  for (const TaskRun& t : run.tasks)
    if (t.stage != idle && t.status != TaskStatus::kSkipped)
      work_ms += UsToMs(t.cpu_us >= 0 ? t.cpu_us : t.duration_us());
  double path_ms = 0;
  for (const CriticalStep& s : CriticalPath(run)) path_ms += s.duration_ms;
  const double bound = std::max(path_ms, work_ms / run.cpus);
  return bound > 0 ? run.launch_ms / bound : 0;
}

std::vector<CriticalStep> CriticalPath(const RunTrace& run) {
  std::vector<CriticalStep> path;
  if (run.tasks.empty()) return path;
  std::map<std::string, int> stage_index;
  for (size_t i = 0; i < run.stage_order.size(); ++i)
    stage_index[run.stage_order[i]] = static_cast<int>(i);
  std::multimap<std::string, size_t> by_id;
  for (size_t i = 0; i < run.tasks.size(); ++i) by_id.emplace(run.tasks[i].id, i);

  // The last task of the launch to end: idle-stage work runs after the
  // launch and does not end its path (unless the launch recorded nothing
  // else); a skipped task did no work, so it only ends the path when every
  // task was skipped.
  const std::string idle = IdleStage(run);
  auto rank = [&](const TaskRun& t) {
    return std::make_tuple(t.stage != idle, t.status != TaskStatus::kSkipped, t.end_us);
  };
  size_t current = 0;
  for (size_t i = 1; i < run.tasks.size(); ++i) {
    if (rank(run.tasks[i]) > rank(run.tasks[current])) current = i;
  }

  std::vector<bool> visited(run.tasks.size(), false);
  while (true) {
    visited[current] = true;
    const TaskRun& t = run.tasks[current];
    // The predecessor that ended last (and before `t` started) held it back.
    std::optional<size_t> best;
    std::string via;
    auto consider = [&](size_t j, const std::string& why) {
      const TaskRun& p = run.tasks[j];
      if (j == current || p.end_us > t.start_us) return;
      if (!best || p.end_us > run.tasks[*best].end_us) {
        best = j;
        via = why;
      }
    };
    for (const auto& dep : t.after) {
      auto [lo, hi] = by_id.equal_range(dep);
      for (auto it = lo; it != hi; ++it) consider(it->second, "after " + dep);
    }
    int si = stage_index.count(t.stage) ? stage_index[t.stage] : 0;
    if (si > 0) {
      for (size_t j = 0; j < run.tasks.size(); ++j) {
        auto it = stage_index.find(run.tasks[j].stage);
        if (it != stage_index.end() && it->second < si)
          consider(j, "stage " + run.stage_order[si - 1]);
      }
    }
    CriticalStep step;
    step.id = t.id;
    step.bundle = t.bundle;
    step.stage = t.stage;
    const ThreadInfo* thread = run.Thread(t.tid);
    step.thread = thread ? thread->name : "tid " + std::to_string(t.tid);
    step.start_ms = UsToMs(t.start_us);
    step.duration_ms = UsToMs(t.duration_us());
    step.queue_wait_ms = UsToMs(t.queue_wait_us);
    if (best && !visited[*best]) {
      step.gap_ms = UsToMs(t.start_us - run.tasks[*best].end_us);
      step.via = via;
      path.push_back(std::move(step));
      current = *best;
    } else {
      step.gap_ms = UsToMs(t.start_us);
      step.via = "launch";
      path.push_back(std::move(step));
      break;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Result<Profile> Analyze(const std::vector<RunTrace>& runs, const AnalyzeOptions& options) {
  if (runs.empty()) return MakeError(ErrorCode::kInvalidArgument, "no run to analyze");
  for (const auto& r : runs) {
    if (r.app != runs.front().app) {
      Error e = MakeError(ErrorCode::kInvalidArgument, "run of app " + Quote(r.app) + ", but " +
                                                           runs.front().file + " is of app " +
                                                           Quote(runs.front().app));
      e.file = r.file;
      return e;
    }
  }
  Profile p;
  p.runs = runs.size();
  p.app = runs.front().app;

  std::vector<double> launch;
  std::vector<size_t> order;
  for (size_t i = 0; i < runs.size(); ++i) {
    launch.push_back(runs[i].launch_ms);
    order.push_back(i);
    if (runs[i].result != "ok") ++p.failed_runs;
  }
  p.launch_ms = Distribute(launch);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return runs[a].launch_ms < runs[b].launch_ms; });
  size_t rank = static_cast<size_t>(std::ceil(0.5 * static_cast<double>(runs.size())));
  p.median_run = order[rank - 1];
  const RunTrace& median = runs[p.median_run];
  p.median_file = median.file;
  p.app_version = median.app_version;

  // Stages: the median run's order, then any only other runs declared.
  std::vector<std::string> stage_names = median.stage_order;
  for (const auto& r : runs)
    for (const auto& s : r.stage_order)
      if (std::find(stage_names.begin(), stage_names.end(), s) == stage_names.end())
        stage_names.push_back(s);
  for (const auto& name : stage_names) {
    std::vector<double> dur, end;
    for (const auto& r : runs)
      for (const auto& s : r.stages)
        if (s.name == name) {
          dur.push_back(UsToMs(s.end_us - s.begin_us));
          end.push_back(UsToMs(s.end_us));
        }
    if (dur.empty()) continue;
    p.stages.push_back({name, Distribute(dur), Distribute(end)});
  }

  struct Samples {
    TaskStats stats;
    std::vector<double> duration, wait;
  };
  std::map<std::string, Samples> tasks;
  for (const auto& r : runs) {
    for (const auto& t : r.tasks) {
      auto [it, inserted] = tasks.try_emplace(t.id);
      Samples& s = it->second;
      if (inserted) {
        s.stats.id = t.id;
        s.stats.bundle = t.bundle;
        s.stats.stage = t.stage;
        s.stats.target = t.target;
        s.stats.budget_ms = t.budget_ms;
        s.stats.optional = t.optional;
      }
      ++s.stats.runs;
      if (t.status == TaskStatus::kFailed) ++s.stats.failed;
      if (t.over_budget) ++s.stats.over_budget;
      if (t.status == TaskStatus::kSkipped) {
        ++s.stats.skipped;
        continue;
      }
      s.duration.push_back(UsToMs(t.duration_us()));
      s.wait.push_back(UsToMs(t.queue_wait_us));
    }
  }
  auto stage_pos = [&](const std::string& s) {
    return std::find(stage_names.begin(), stage_names.end(), s) - stage_names.begin();
  };
  for (auto& [id, s] : tasks) {
    s.stats.duration_ms = Distribute(std::move(s.duration));
    s.stats.queue_wait_ms = Distribute(std::move(s.wait));
    p.tasks.push_back(std::move(s.stats));
  }
  std::stable_sort(p.tasks.begin(), p.tasks.end(), [&](const TaskStats& a, const TaskStats& b) {
    auto sa = stage_pos(a.stage), sb = stage_pos(b.stage);
    if (sa != sb) return sa < sb;
    if (a.duration_ms.p90 != b.duration_ms.p90) return a.duration_ms.p90 > b.duration_ms.p90;
    return a.id < b.id;
  });

  for (const auto& t : p.tasks) {
    if (t.queue_wait_ms.n == 0 || t.queue_wait_ms.max <= 0) continue;
    p.longest_waits.push_back({t.id, t.bundle, t.target, t.queue_wait_ms});
  }
  std::stable_sort(p.longest_waits.begin(), p.longest_waits.end(),
                   [](const QueueWait& a, const QueueWait& b) {
                     if (a.wait_ms.p50 != b.wait_ms.p50) return a.wait_ms.p50 > b.wait_ms.p50;
                     if (a.wait_ms.max != b.wait_ms.max) return a.wait_ms.max > b.wait_ms.max;
                     return a.id < b.id;
                   });
  if (p.longest_waits.size() > options.top_waits) p.longest_waits.resize(options.top_waits);

  std::vector<double> efficiency;
  for (const auto& r : runs)
    if (double e = LaunchEfficiency(r); e > 0) efficiency.push_back(e);
  p.efficiency = Distribute(std::move(efficiency));
  p.critical_path = CriticalPath(median);
  // The critical path's queue waits, with what kept the pool busy.
  for (const CriticalStep& step : p.critical_path) {
    if (step.queue_wait_ms < 0.1) continue;
    auto it = std::find_if(median.tasks.begin(), median.tasks.end(), [&](const TaskRun& t) {
      return t.id == step.id && UsToMs(t.start_us) == step.start_ms;
    });
    if (it == median.tasks.end()) continue;
    AvoidableWait w;
    w.id = step.id;
    w.stage = step.stage;
    w.target = it->target;
    w.wait_ms = step.queue_wait_ms;
    const int64_t ready_us = it->start_us - it->queue_wait_us;
    w.ready_ms = UsToMs(ready_us);
    for (const TaskRun& o : median.tasks) {
      if (&o == &*it || o.target != it->target || o.status == TaskStatus::kSkipped) continue;
      if (o.start_us <= ready_us && o.end_us > ready_us) w.busy_with.push_back(o.id);
    }
    p.avoidable_waits.push_back(std::move(w));
  }
  std::stable_sort(
      p.avoidable_waits.begin(), p.avoidable_waits.end(),
      [](const AvoidableWait& a, const AvoidableWait& b) { return a.wait_ms > b.wait_ms; });
  if (!p.critical_path.empty())
    p.critical_path_ms = p.critical_path.back().start_ms + p.critical_path.back().duration_ms;
  return p;
}

}  // namespace atrium::profile
