// The text summary of a Profile (SummaryText; profile_report.h): aligned
// tables of the launch, the stages, the critical path and the tasks.
//
// Concurrency: free functions over values; no shared state.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "profile_report.h"
#include "profile_util.h"

namespace atrium::profile {

namespace {

constexpr size_t kNameWidth = 44;

}  // namespace

std::string TaskFlags(const TaskStats& t) {
  std::string f;
  auto add = [&](size_t n, const char* what) {
    if (n == 0) return;
    if (!f.empty()) f += " ";
    f += std::to_string(n) + " " + what;
  };
  add(t.failed, "failed");
  add(t.skipped, "skipped");
  add(t.over_budget, "over budget");
  return f;
}

std::string SummaryText(const Profile& p, size_t max_tasks) {
  std::string out;
  out += Printable(p.app) + " " + Printable(p.app_version) + ": " + std::to_string(p.runs) +
         " run(s), launch p50 " + Ms(p.launch_ms.p50) + " ms  p90 " + Ms(p.launch_ms.p90) +
         " ms  max " + Ms(p.launch_ms.max) + " ms\n";
  std::string median = p.median_file.substr(p.median_file.find_last_of('/') + 1);
  out += "median run: " + Printable(median) + " (launch " + Ms(p.launch_ms.p50) + " ms)";
  if (p.failed_runs > 0)
    out += "; " + std::to_string(p.failed_runs) + " run(s) report a failed launch";
  if (p.efficiency.n > 0)
    out += "\nlaunch efficiency p50 " + Format("%.2f", p.efficiency.p50) + ", max " +
           Format("%.2f", p.efficiency.max) +
           " (launch / max(critical-path work, all launch work / CPUs); 1.00 is ideal)";
  out += "\n\nstages (ms; end = since launch start)\n";
  TextTable stages({"stage", "end p50", "end p90", "end max", "dur p50", "dur p90", "dur max"},
                   {false, true, true, true, true, true, true});
  for (const auto& s : p.stages)
    stages.Row({Fit(s.name, kNameWidth), Ms(s.end_ms.p50), Ms(s.end_ms.p90), Ms(s.end_ms.max),
                Ms(s.duration_ms.p50), Ms(s.duration_ms.p90), Ms(s.duration_ms.max)});
  out += stages.Render();

  out += "\ncritical path of the median run's launch (ms; ends at " + Ms(p.critical_path_ms) +
         "; idle-stage work runs after it)\n";
  TextTable path({"start", "dur", "gap", "task", "thread", "waited for"},
                 {true, true, true, false, false, false});
  for (const auto& s : p.critical_path) {
    // Each step waited for the step above it; say how.
    std::string via = s.via.rfind("after ", 0) == 0 ? "dependency"
                      : s.via == "launch"           ? "launch start"
                                                    : s.via + " end";
    path.Row({Ms(s.start_ms), Ms(s.duration_ms), Ms(s.gap_ms), Fit(s.id, kNameWidth),
              Fit(s.thread, 16), Fit(via, 24)});
  }
  out += path.Render();

  out += "\navoidable waits on the critical path (ready, but queued for a thread)\n";
  if (p.avoidable_waits.empty()) {
    out += "  none\n";
  } else {
    TextTable waits({"wait", "ready at", "task", "pool", "its threads were running"},
                    {true, true, false, false, false});
    for (const auto& w : p.avoidable_waits) {
      std::string busy;
      for (const auto& b : w.busy_with) busy += (busy.empty() ? "" : ", ") + b;
      waits.Row({Ms(w.wait_ms), Ms(w.ready_ms), Fit(w.id, kNameWidth), Fit(w.target, 16),
                 busy.empty() ? "-" : Fit(busy, 40)});
    }
    out += waits.Render();
  }

  out += "\nlongest queue waits (ms waiting for a thread)\n";
  if (p.longest_waits.empty()) {
    out += "  none\n";
  } else {
    TextTable waits({"task", "pool", "wait p50", "wait max"}, {false, false, true, true});
    for (const auto& w : p.longest_waits)
      waits.Row({Fit(w.id, kNameWidth), Fit(w.target, 16), Ms(w.wait_ms.p50), Ms(w.wait_ms.max)});
    out += waits.Render();
  }

  std::vector<const TaskStats*> slowest;
  for (const auto& t : p.tasks) slowest.push_back(&t);
  std::stable_sort(slowest.begin(), slowest.end(), [](const TaskStats* a, const TaskStats* b) {
    return a->duration_ms.p90 > b->duration_ms.p90;
  });
  size_t shown = max_tasks == 0 ? slowest.size() : std::min(max_tasks, slowest.size());
  out += "\ntasks (ms; " + std::to_string(shown) + " slowest by p90 of " +
         std::to_string(slowest.size()) + ")\n";
  TextTable tasks({"task", "stage", "runs", "p50", "p90", "max", "wait p50", "flags"},
                  {false, false, true, true, true, true, true, false});
  bool any_optional = false;
  for (size_t i = 0; i < shown; ++i) {
    const TaskStats& t = *slowest[i];
    auto ms = [&](const Distribution& d, double v) { return d.n == 0 ? "-" : Ms(v); };
    any_optional = any_optional || t.optional;
    tasks.Row({Fit(t.id, kNameWidth) + (t.optional ? "*" : ""), Fit(t.stage, 16),
               std::to_string(t.runs), ms(t.duration_ms, t.duration_ms.p50),
               ms(t.duration_ms, t.duration_ms.p90), ms(t.duration_ms, t.duration_ms.max),
               ms(t.queue_wait_ms, t.queue_wait_ms.p50), TaskFlags(t)});
  }
  out += tasks.Render();
  if (any_optional) out += "  * optional: the launch does not wait for it\n";
  return out;
}

}  // namespace atrium::profile
