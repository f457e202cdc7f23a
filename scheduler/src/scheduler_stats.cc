// FormatSchedulerStats: the text `atrium stats` prints, one aligned table
// for the pools (the main loop first) and one for the bundles.
//
// Concurrency: a pure function of its argument.
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

#include "atrium/scheduler.h"

namespace atrium {
namespace {

void Appendf(std::string* out, const char* format, ...) __attribute__((format(printf, 2, 3)));
void Appendf(std::string* out, const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  if (n > 0) out->append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

double Avg(double total, uint64_t n) { return n == 0 ? 0 : total / static_cast<double>(n); }

// "posted run cancelled failed  wait avg/max  run avg/max" columns.
void AppendCounters(std::string* out, const TaskCounters& t) {
  char wait[40], run[40];
  std::snprintf(wait, sizeof wait, "%.2f/%.2f", Avg(t.queue_wait_ms_total, t.run),
                t.queue_wait_ms_max);
  std::snprintf(run, sizeof run, "%.2f/%.2f", Avg(t.run_ms_total, t.run), t.run_ms_max);
  Appendf(out, " %9llu %9llu %9llu %6llu %17s %17s", static_cast<unsigned long long>(t.posted),
          static_cast<unsigned long long>(t.run), static_cast<unsigned long long>(t.cancelled),
          static_cast<unsigned long long>(t.failed), wait, run);
}

const char* kCounterHeader = " %9s %9s %9s %6s %17s %17s";

}  // namespace

std::string FormatSchedulerStats(const SchedulerStats& stats) {
  std::string out;
  Appendf(&out, "threads: %d started of at most %d (peak %d); startup idle: %s\n", stats.threads,
          stats.max_threads, stats.peak_threads, stats.startup_idle ? "yes" : "no");
  Appendf(&out, "cpu priority: %s\n\n", stats.priority_policy.c_str());

  int name_width = 4;
  for (const PoolStats& p : stats.pools) {
    name_width = std::max(name_width, static_cast<int>(p.name.size()));
  }
  Appendf(&out, "%-*s %-6s %4s %-11s %7s %4s %12s %7s %6s %-6s", name_width, "pool", "cpu", "nice",
          "policy", "threads", "idle", "running/peak", "queued", "held", "state");
  Appendf(&out, kCounterHeader, "posted", "run", "cancelled", "failed", "wait avg/max ms",
          "run avg/max ms");
  out += '\n';
  for (const PoolStats& p : stats.pools) {
    char threads[24], idle[16], running[24];
    std::snprintf(threads, sizeof threads, "%d/%d", p.threads, p.max_threads);
    // Pool threads asleep waiting for work; the main loop has none.
    if (p.name == "main") {
      std::snprintf(idle, sizeof idle, "-");
    } else {
      std::snprintf(idle, sizeof idle, "%d", p.idle_threads);
    }
    std::snprintf(running, sizeof running, "%d/%d", p.running, p.peak_running);
    const char* state = p.paused ? "paused" : p.held_until_idle ? "held" : "-";
    if (p.held_until_idle && stats.startup_idle && !p.paused) state = "-";
    Appendf(&out, "%-*s %-6s %4d %-11s %7s %4s %12s %7zu %6zu %-6s", name_width, p.name.c_str(),
            CpuPriorityName(p.cpu), p.nice, p.policy.c_str(), threads, idle, running, p.queued,
            p.held, state);
    AppendCounters(&out, p.tasks);
    out += '\n';
  }

  if (stats.bundles.empty()) return out;
  name_width = 6;
  for (const BundleTaskStats& b : stats.bundles) {
    name_width = std::max(name_width, static_cast<int>(b.bundle.empty() ? 6 : b.bundle.size()));
  }
  out += '\n';
  Appendf(&out, "%-*s %5s %12s %9s", name_width, "bundle", "quota", "running/peak", "deferrals");
  Appendf(&out, kCounterHeader, "posted", "run", "cancelled", "failed", "wait avg/max ms",
          "run avg/max ms");
  out += '\n';
  for (const BundleTaskStats& b : stats.bundles) {
    char quota[16], running[24];
    if (b.quota > 0) {
      std::snprintf(quota, sizeof quota, "%d", b.quota);
    } else {
      std::snprintf(quota, sizeof quota, "-");
    }
    std::snprintf(running, sizeof running, "%d/%d", b.running, b.peak_running);
    Appendf(&out, "%-*s %5s %12s %9llu", name_width, b.bundle.empty() ? "(host)" : b.bundle.c_str(),
            quota, running, static_cast<unsigned long long>(b.quota_deferrals));
    AppendCounters(&out, b.tasks);
    out += '\n';
  }
  return out;
}

}  // namespace atrium
