// The HTML report of a Profile (ReportHtml, HtmlEscape; profile_report.h):
// one self-contained file with the timeline of the median run, the stage
// table and the task table.
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

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab / newline are not allowed in HTML text.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "&#xFFFD;";
        } else {
          out += c;
        }
    }
  }
  return out;
}

// A stable colour per bundle (the same in every report): a hash of the name
// (FNV-1a, then the MurmurHash3 finalizer to spread similar names) picks the
// hue and one of three lightness and two saturation levels, so bundles whose
// hues land close still differ in lightness more often than not.
std::string BundleColour(std::string_view bundle) {
  uint32_t h = 2166136261u;
  for (unsigned char c : bundle) {
    h ^= c;
    h *= 16777619u;
  }
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  static constexpr int kLight[] = {50, 62, 74};
  static constexpr int kSat[] = {55, 72};
  return "hsl(" + std::to_string(h % 360) + "," + std::to_string(kSat[(h >> 20) % 2]) + "%," +
         std::to_string(kLight[(h >> 12) % 3]) + "%)";
}

namespace {

// A 1-2-5 step giving about `target` intervals over `span`.
double NiceStep(double span, int target) {
  double raw = span / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

std::string Num(double v) { return Format("%.1f", v); }

std::string TimeLabel(double ms, double step) {
  if (step < 1) return Format("%.1f ms", ms);
  if (step >= 1000 && std::fmod(ms, 1000) == 0) return Format("%g s", ms / 1000);
  return Format("%.0f ms", ms);
}

}  // namespace

void AppendTimeline(std::string& h, const RunTrace& run, const TimelineOptions& o) {
  constexpr double kWidth = 1360, kLabelW = 150, kRight = 24, kLaneH = 28, kLaneGap = 4;
  constexpr double kTop = 64;  // axis labels + stage band above the lanes
  const double plot_x = kLabelW + 10, plot_w = kWidth - plot_x - kRight;
  double t0 = 0, t1 = UsToMs(run.end_us());
  for (const auto& t : run.tasks) t0 = std::min(t0, UsToMs(t.start_us));
  for (const auto& l : run.loads) t0 = std::min(t0, UsToMs(l.start_us));
  if (o.from_ms) t0 = std::min(t0, *o.from_ms);
  if (o.to_ms) t1 = std::max(t1, *o.to_ms);
  if (t1 - t0 < 1) t1 = t0 + 1;
  const double scale = plot_w / (t1 - t0);
  auto x = [&](double ms) { return plot_x + (ms - t0) * scale; };

  std::map<uint32_t, size_t> lane_of;
  for (size_t i = 0; i < run.threads.size(); ++i) lane_of[run.threads[i].tid] = i;
  const double lanes_h = static_cast<double>(run.threads.size()) * (kLaneH + kLaneGap);
  const double lanes_bottom = kTop + lanes_h;
  const double height = lanes_bottom + 70;
  auto lane_y = [&](uint32_t tid) {
    return kTop + static_cast<double>(lane_of[tid]) * (kLaneH + kLaneGap);
  };

  const std::set<std::string>& critical = o.critical;

  h += "<svg id=\"" + HtmlEscape(o.svg_id) + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
       Num(kWidth) + "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kWidth) + " " +
       Num(height) + "\" role=\"img\" aria-label=\"" + HtmlEscape(o.label) + "\">\n";
  // One hatch pattern per SVG (a page may hold two timelines).
  const std::string hatch = HtmlEscape(o.svg_id) + "-hatch";
  h += "<defs><pattern id=\"" + hatch +
       "\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#555\"/>"
       "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ddd\" stroke-width=\"3\"/></pattern>"
       "</defs>\n";

  // Time grid and axis.
  double step = NiceStep(t1 - t0, 12);
  h += "<g class=\"axis\">";
  for (double t = std::ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
    h += "<line class=\"grid\" x1=\"" + Num(x(t)) + "\" y1=\"18\" x2=\"" + Num(x(t)) + "\" y2=\"" +
         Num(lanes_bottom) + "\"/><text class=\"tick\" x=\"" + Num(x(t)) +
         "\" y=\"13\" text-anchor=\"middle\">" + TimeLabel(t, step) + "</text>";
  }
  h += "</g>\n";

  // Stage bands (begin to end) above the lanes.
  h += "<g class=\"stages\">";
  for (size_t i = 0; i < run.stages.size(); ++i) {
    const StageRun& s = run.stages[i];
    double bx = x(UsToMs(s.begin_us)), bw = std::max(1.0, x(UsToMs(s.end_us)) - bx);
    std::string name = HtmlEscape(s.name);
    h += "<g><title>stage " + name + ": " + Ms(UsToMs(s.begin_us)) + " - " + Ms(UsToMs(s.end_us)) +
         " ms</title><rect class=\"stage-band band" + std::to_string(i % 2) + "\" x=\"" + Num(bx) +
         "\" y=\"24\" width=\"" + Num(bw) + "\" height=\"22\"/>";
    if (bw > 7.0 * static_cast<double>(s.name.size()) + 8)
      h += "<text class=\"stage-name\" x=\"" + Num(bx + 4) + "\" y=\"39\">" + name + "</text>";
    h += "</g>";
  }
  h += "<text class=\"lane-label\" x=\"" + Num(kLabelW) +
       "\" y=\"39\" text-anchor=\"end\">stages</text></g>\n";

  // Lanes.
  h += "<g class=\"lanes\">";
  for (size_t i = 0; i < run.threads.size(); ++i) {
    double y = kTop + static_cast<double>(i) * (kLaneH + kLaneGap);
    h += "<rect class=\"lane lane" + std::to_string(i % 2) + "\" x=\"" + Num(plot_x) + "\" y=\"" +
         Num(y) + "\" width=\"" + Num(plot_w) + "\" height=\"" + Num(kLaneH) + "\" data-thread=\"" +
         HtmlEscape(run.threads[i].name) + "\"/><text class=\"lane-label\" x=\"" + Num(kLabelW) +
         "\" y=\"" + Num(y + 18) + "\" text-anchor=\"end\">" + HtmlEscape(run.threads[i].name) +
         "</text>";
  }
  h += "</g>\n";

  // Bundle loads: a hatched bar along the bottom of the lane.
  h += "<g class=\"loads\">";
  for (const auto& l : run.loads) {
    double lx = x(UsToMs(l.start_us)), lw = std::max(1.0, UsToMs(l.end_us - l.start_us) * scale);
    h += "<rect class=\"load\" fill=\"url(#" + hatch + ")\" x=\"" + Num(lx) + "\" y=\"" +
         Num(lane_y(l.tid) + kLaneH - 6) + "\" width=\"" + Num(lw) +
         "\" height=\"5\" data-bundle=\"" + HtmlEscape(l.bundle) + "\"><title>load " +
         HtmlEscape(l.bundle) + "\n" + Ms(UsToMs(l.end_us - l.start_us)) + " ms at " +
         Ms(UsToMs(l.start_us)) + " ms\ntrigger: " + HtmlEscape(l.trigger) + "</title></rect>";
  }
  h += "</g>\n";

  // Tasks. A slice that starts inside another on its thread (a task that
  // ran nested work) is drawn one step lower and thinner, as in Perfetto.
  std::vector<size_t> order(run.tasks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const TaskRun& ta = run.tasks[a];
    const TaskRun& tb = run.tasks[b];
    if (ta.start_us != tb.start_us) return ta.start_us < tb.start_us;
    return ta.end_us > tb.end_us;  // the enclosing slice first
  });
  std::map<uint32_t, std::vector<int64_t>> open_ends;  // per thread: ends of enclosing slices
  h += "<g class=\"tasks\">";
  for (size_t index : order) {
    const TaskRun& t = run.tasks[index];
    std::vector<int64_t>& stack = open_ends[t.tid];
    while (!stack.empty() && stack.back() <= t.start_us) stack.pop_back();
    const double depth = static_cast<double>(std::min<size_t>(stack.size(), 2));
    stack.push_back(t.end_us);
    double tx = x(UsToMs(t.start_us));
    double tw = std::max(0.8, UsToMs(t.duration_us()) * scale);
    double ty = lane_y(t.tid) + 3 + depth * 5;
    double th = kLaneH - 10 - depth * 5;
    std::string cls = "task";
    if (critical.count(t.id)) cls += " critical";
    if (t.status == TaskStatus::kFailed) cls += " failed";
    if (t.status == TaskStatus::kSkipped) cls += " skipped";
    if (t.over_budget) cls += " over-budget";
    if (t.optional) cls += " optional";
    if (auto c = o.changed.find(t.id); c != o.changed.end()) cls += " changed " + c->second;
    const ThreadInfo* thread = run.Thread(t.tid);
    std::string tip = HtmlEscape(t.id) + "\nstage " + HtmlEscape(t.stage) + " \xc2\xb7 " +
                      HtmlEscape(thread ? thread->name : "?") + " (posted to " +
                      HtmlEscape(t.target) + ")\n" + Ms(UsToMs(t.duration_us())) + " ms at " +
                      Ms(UsToMs(t.start_us)) + " ms, waited " + Ms(UsToMs(t.queue_wait_us)) +
                      " ms for a thread\nstatus " + TaskStatusName(t.status) +
                      (t.over_budget ? ", over its budget" : "");
    if (t.budget_ms > 0) tip += " (budget " + Ms(t.budget_ms) + " ms)";
    if (t.optional) tip += "\noptional (the launch does not wait for it)";
    if (auto c = o.changed.find(t.id); c != o.changed.end()) tip += "\nA/B: " + c->second;
    if (!t.after.empty()) {
      tip += "\nafter:";
      for (const auto& a : t.after) tip += " " + HtmlEscape(a);
    }
    h += "<rect class=\"" + cls + "\" x=\"" + Num(tx) + "\" y=\"" + Num(ty) + "\" width=\"" +
         Num(tw) + "\" height=\"" + Num(th) + "\" fill=\"" + BundleColour(t.bundle) +
         "\" data-task=\"" + HtmlEscape(t.id) + "\" data-bundle=\"" + HtmlEscape(t.bundle) +
         "\" data-stage=\"" + HtmlEscape(t.stage) + "\"><title>" + tip + "</title></rect>";
    if (t.over_budget)
      h += "<rect class=\"over-budget-mark\" x=\"" + Num(tx) + "\" y=\"" + Num(ty - 3) +
           "\" width=\"" + Num(tw) + "\" height=\"3\"/>";
    // A label where it fits: the task part of the id.
    std::string label = t.id.substr(t.id.find(':') == std::string::npos ? 0 : t.id.find(':') + 1);
    const double room = (tw - 6) / 6.2;  // characters of about 6.2 px
    if (room >= 4 && depth == 0) {
      size_t fits = static_cast<size_t>(room);
      if (label.size() > fits) {
        size_t cut = fits - 1;  // on a UTF-8 character boundary
        while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
        label = label.substr(0, cut) + "\xe2\x80\xa6";
      }
      h += "<text class=\"task-label\" x=\"" + Num(tx + 3) + "\" y=\"" + Num(ty + 13) + "\">" +
           HtmlEscape(label) + "</text>";
    }
  }
  h += "</g>\n";

  // Stage ends: one marker per stage, labels staggered so close ones stay readable.
  h += "<g class=\"markers\">";
  for (size_t i = 0; i < run.stages.size(); ++i) {
    const StageRun& s = run.stages[i];
    double mx = x(UsToMs(s.end_us));
    double ly = lanes_bottom + 16 + static_cast<double>(i % 3) * 16;
    bool right = mx > kWidth - 200;
    h += "<line class=\"stage-marker\" x1=\"" + Num(mx) + "\" y1=\"24\" x2=\"" + Num(mx) +
         "\" y2=\"" + Num(ly - 10) + "\" data-stage=\"" + HtmlEscape(s.name) + "\"><title>" +
         HtmlEscape(s.name) + " ends at " + Ms(UsToMs(s.end_us)) +
         " ms</title></line><text class=\"marker-label\" x=\"" + Num(right ? mx - 3 : mx + 3) +
         "\" y=\"" + Num(ly) + "\"" + (right ? " text-anchor=\"end\"" : "") + ">" +
         HtmlEscape(s.name) + " " + Ms(UsToMs(s.end_us)) + " ms</text>";
  }
  h += "</g>\n</svg>\n";
}

namespace {

// p50 [p90] max cells; "-" when nothing was measured (skipped in every run).
void AppendDistCells(std::string& h, const Distribution& d, bool p90 = true) {
  auto cell = [&](double v) { h += "<td class=\"num\">" + (d.n == 0 ? "-" : Ms(v)) + "</td>"; };
  cell(d.p50);
  if (p90) cell(d.p90);
  cell(d.max);
}

}  // namespace

const std::string_view kReportCss = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:24px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5a6272;margin:0}
.kpis{display:flex;gap:28px;margin:14px 0}.kpi b{display:block;font-size:22px}.kpi span{color:#5a6272;font-size:12px}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #e3e6ec;text-align:left}
th{background:#f3f5f8;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:6px 0 10px;font-size:12px}
.legend span{display:inline-flex;align-items:center;gap:5px}
.legend i{display:inline-block;width:14px;height:12px;border-radius:2px;border:1px solid #0003}
.legend i.crit{background:#fff;border:2px solid #111}.legend i.load{background:repeating-linear-gradient(45deg,#555 0 2px,#ddd 2px 4px)}
.legend i.mark{width:0;height:14px;border:0;border-left:2px dashed #c2410c;border-radius:0}
.legend i.over{background:linear-gradient(#dc2626 0 3px,#ccc 3px);border-color:#0002}
.scroll{overflow-x:auto}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}
svg .tick{fill:#5a6272;font-size:10px}svg .grid{stroke:#e7e9ee;stroke-width:1}
svg .lane0{fill:#f6f7f9}svg .lane1{fill:#eef0f4}svg .lane-label{font-size:12px;font-weight:600}
svg .band0{fill:#dbe4f3}svg .band1{fill:#c9d6ec}svg .stage-name{font-size:11px;fill:#24324d}
svg .task{stroke:#0004;stroke-width:.5}svg .task:hover{stroke:#000;stroke-width:1.5}
svg .task.critical{stroke:#111;stroke-width:2}svg .task.failed{stroke:#d00;stroke-width:2;stroke-dasharray:3 2}
svg .task.skipped{opacity:.35}svg .over-budget-mark{fill:#dc2626;pointer-events:none}
svg .task-label{font-size:10px;pointer-events:none;fill:#111}

svg .stage-marker{stroke:#c2410c;stroke-width:1.5;stroke-dasharray:5 3}svg .marker-label{fill:#9a3412;font-size:11px}
.bad{color:#b91c1c;font-weight:600}.ok{color:#15803d;font-weight:600}.warn{color:#b45309;font-weight:600}
svg .task.optional{fill-opacity:.55}.legend i.opt{background:#9995}
svg .task.changed.slower{stroke:#c026d3;stroke-width:3}svg .task.changed.faster{stroke:#0891b2;stroke-width:3}
.legend i.slower{background:#fff;border:3px solid #c026d3}.legend i.faster{background:#fff;border:3px solid #0891b2}
)css";

std::string ReportHtml(const Profile& p, const std::vector<RunTrace>& runs,
                       const std::vector<Violation>& violations) {
  ATRIUM_CHECK(p.median_run < runs.size(), "profile of other runs");
  const RunTrace& median = runs[p.median_run];
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Startup "
       "profile: " +
       HtmlEscape(p.app) + "</title>\n<style>";
  h += kReportCss;
  h += "</style></head><body>\n";
  h += "<header><h1>Startup profile: " + HtmlEscape(p.app) + " " + HtmlEscape(p.app_version) +
       "</h1><p class=\"sub\">" + std::to_string(p.runs) + " run(s); timeline of the median run, " +
       HtmlEscape(median.file);
  if (p.failed_runs > 0)
    h += "; <span class=\"bad\">" + std::to_string(p.failed_runs) +
         " run(s) report a failed launch</span>";
  h += "</p>\n<div class=\"kpis\">";
  auto kpi = [&](const std::string& value, const std::string& label) {
    h += "<div class=\"kpi\"><b>" + value + "</b><span>" + label + "</span></div>";
  };
  kpi(Ms(p.launch_ms.p50) + " ms", "launch p50");
  kpi(Ms(p.launch_ms.p90) + " ms", "launch p90");
  kpi(Ms(p.launch_ms.max) + " ms", "launch max");
  kpi(Ms(p.critical_path_ms) + " ms", "critical path (median run)");
  if (p.efficiency.n > 0)
    kpi(Format("%.2f", p.efficiency.p50), "launch efficiency p50 (1.00 ideal)");
  kpi(std::to_string(median.tasks.size()), "tasks in the median run");
  h += "</div></header>\n";

  if (!violations.empty()) {
    h += "<section id=\"violations\"><h2 class=\"bad\">" + std::to_string(violations.size()) +
         " budget / baseline violation(s)</h2><table><tr><th>what</th><th>metric</th>"
         "<th class=\"num\">measured ms</th><th class=\"num\">allowed ms</th><th>note</th></tr>";
    for (const auto& v : violations)
      h += "<tr><td class=\"id\">" + HtmlEscape(v.subject) + "</td><td>" + HtmlEscape(v.metric) +
           "</td><td class=\"num\">" + (std::isnan(v.measured_ms) ? "-" : Ms(v.measured_ms)) +
           "</td><td class=\"num\">" + Ms(v.allowed_ms) + "</td><td>" + HtmlEscape(v.note) +
           "</td></tr>";
    h += "</table></section>\n";
  }

  h += "<section><h2>Timeline of the median run</h2><div class=\"legend\">";
  std::vector<std::string> bundles;
  for (const auto& t : median.tasks)
    if (std::find(bundles.begin(), bundles.end(), t.bundle) == bundles.end())
      bundles.push_back(t.bundle);
  std::sort(bundles.begin(), bundles.end());
  for (const auto& b : bundles)
    h += "<span class=\"bundle\" data-bundle=\"" + HtmlEscape(b) +
         "\"><i style=\"background:" + BundleColour(b) + "\"></i>" + HtmlEscape(b) + "</span>";
  h += "<span><i class=\"crit\"></i>critical path</span><span><i class=\"load\"></i>bundle "
       "load</span><span><i class=\"over\"></i>over its budget</span><span><i "
       "class=\"mark\"></i>stage end</span><span><i class=\"opt\"></i>optional</span></div>\n<div "
       "class=\"scroll\">";
  TimelineOptions timeline;
  for (const auto& step : p.critical_path) timeline.critical.insert(step.id);
  timeline.label = "timeline of the median run";
  AppendTimeline(h, median, timeline);
  h += "</div></section>\n";

  h += "<section><h2>Stages</h2><p class=\"sub\">ms over " + std::to_string(p.runs) +
       " run(s); end = since launch start</p><table><tr><th>stage</th><th class=\"num\">end "
       "p50</th><th class=\"num\">end p90</th><th class=\"num\">end max</th><th "
       "class=\"num\">duration p50</th><th class=\"num\">p90</th><th "
       "class=\"num\">max</th></tr>\n";
  for (const auto& s : p.stages) {
    h += "<tr><td>" + HtmlEscape(s.name) + "</td>";
    AppendDistCells(h, s.end_ms);
    AppendDistCells(h, s.duration_ms);
    h += "</tr>\n";
  }
  h += "</table></section>\n";

  h += "<section><h2>Critical path of the median run</h2><p class=\"sub\">From the launch start "
       "to the last task of the launch to end (idle-stage work runs after the launch and is "
       "not on it), along what each task waited for: a dependency (after) or the "
       "end of the previous stage. Gap = its start minus that end.</p><table><tr><th "
       "class=\"num\">start</th><th class=\"num\">duration</th><th class=\"num\">gap</th><th "
       "class=\"num\">queue wait</th><th>task</th><th>stage</th><th>thread</th><th>waited "
       "for</th></tr>\n";
  for (const auto& s : p.critical_path)
    h += "<tr><td class=\"num\">" + Ms(s.start_ms) + "</td><td class=\"num\">" + Ms(s.duration_ms) +
         "</td><td class=\"num\">" + Ms(s.gap_ms) + "</td><td class=\"num\">" +
         Ms(s.queue_wait_ms) + "</td><td class=\"id\">" + HtmlEscape(s.id) + "</td><td>" +
         HtmlEscape(s.stage) + "</td><td>" + HtmlEscape(s.thread) + "</td><td class=\"id\">" +
         HtmlEscape(s.via) + "</td></tr>\n";
  h += "</table></section>\n";

  h += "<section id=\"avoidable-waits\"><h2>Avoidable waits on the critical path</h2><p "
       "class=\"sub\">Critical-path tasks of the median run that were ready but queued for a "
       "thread, longest first, with what its pool was running when it became ready: a "
       "higher priority, another pool or a later start for those tasks would shorten the "
       "launch.</p>";
  if (p.avoidable_waits.empty()) {
    h += "<p>none</p>";
  } else {
    h += "<table><tr><th class=\"num\">wait</th><th class=\"num\">ready at</th><th>task</th>"
         "<th>stage</th><th>posted to</th><th>its threads were running</th></tr>\n";
    for (const auto& w : p.avoidable_waits) {
      std::string busy;
      for (const auto& b : w.busy_with) busy += (busy.empty() ? "" : ", ") + HtmlEscape(b);
      h += "<tr><td class=\"num\">" + Ms(w.wait_ms) + "</td><td class=\"num\">" + Ms(w.ready_ms) +
           "</td><td class=\"id\">" + HtmlEscape(w.id) + "</td><td>" + HtmlEscape(w.stage) +
           "</td><td>" + HtmlEscape(w.target) + "</td><td class=\"id\">" +
           (busy.empty() ? std::string("(nothing recorded)") : busy) + "</td></tr>\n";
    }
    h += "</table>";
  }
  h += "</section>\n";

  h += "<section><h2>Longest waits for a thread</h2><table><tr><th>task</th><th>posted "
       "to</th><th class=\"num\">wait p50</th><th class=\"num\">wait max</th></tr>\n";
  for (const auto& w : p.longest_waits)
    h += "<tr><td class=\"id\">" + HtmlEscape(w.id) + "</td><td>" + HtmlEscape(w.target) +
         "</td><td class=\"num\">" + Ms(w.wait_ms.p50) + "</td><td class=\"num\">" +
         Ms(w.wait_ms.max) + "</td></tr>\n";
  h += "</table></section>\n";

  h += "<section><h2>Tasks</h2><p class=\"sub\">ms, by stage then p90; duration and wait over "
       "the runs that did not skip the task</p><table><tr><th>task</th><th>stage</th><th>posted "
       "to</th><th class=\"num\">runs</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th "
       "class=\"num\">max</th><th class=\"num\">wait p50</th><th class=\"num\">wait max</th><th "
       "class=\"num\">budget</th><th>flags</th></tr>\n";
  for (const auto& t : p.tasks) {
    h += "<tr><td class=\"id\">" + HtmlEscape(t.id) + "</td><td>" + HtmlEscape(t.stage) +
         "</td><td>" + HtmlEscape(t.target) + "</td><td class=\"num\">" + std::to_string(t.runs) +
         "</td>";
    AppendDistCells(h, t.duration_ms);
    AppendDistCells(h, t.queue_wait_ms, false);
    h += "<td class=\"num\">" + (t.budget_ms > 0 ? Ms(t.budget_ms) : std::string("-")) +
         "</td><td" + (t.failed + t.over_budget > 0 ? " class=\"bad\"" : "") + ">" +
         HtmlEscape(TaskFlags(t)) + (t.optional ? " optional" : "") + "</td></tr>\n";
  }
  h += "</table></section>\n</body></html>\n";
  return h;
}

}  // namespace atrium::profile
