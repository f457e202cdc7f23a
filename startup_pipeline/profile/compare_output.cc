// What an A/B comparison looks like (compare.h): aligned text for the
// terminal and CI logs, JSON for tools, one HTML page with the two median
// runs side by side.
//
// Concurrency: free functions over values; no shared state.
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "compare.h"
#include "profile_util.h"

namespace atrium::profile {

namespace {

constexpr size_t kNameWidth = 44;

std::string Pct(double v) { return Format("%.1f", v * 100) + "%"; }

// The one-sided confidence of each end of a line's interval (compare.h).
double BoundConfidence(const Shift& s) { return (1 + s.confidence) / 2; }

std::string Interval(const Shift& s) {
  if (!s.enough) return "-";
  auto signed_ms = [](double v) { return (v >= 0 ? "+" : "") + Ms(v); };
  return "[" + signed_ms(s.low) + ", " + signed_ms(s.high) + "]";
}

std::string Change(const Shift& s) { return (s.estimate >= 0 ? "+" : "") + Ms(s.estimate); }

const char* LineVerdict(const AbLine& l) {
  const bool task = l.kind != AbLineKind::kLaunch && l.kind != AbLineKind::kStageEnd;
  if (task && l.verdict != ShiftVerdict::kRegression && l.verdict != ShiftVerdict::kImprovement) {
    switch (l.task_verdict) {
      case ShiftVerdict::kRegression:
        return "slower";
      case ShiftVerdict::kImprovement:
        return "faster";
      case ShiftVerdict::kNoChange:
        return "no change";
      case ShiftVerdict::kNotEnoughRuns:
        return "undecided";
    }
  }
  return ShiftVerdictName(l.verdict);
}

const char* KindName(AbLineKind k) {
  switch (k) {
    case AbLineKind::kLaunch:
      return "launch";
    case AbLineKind::kStageEnd:
      return "stage_end";
    case AbLineKind::kCriticalTask:
      return "critical_task";
    case AbLineKind::kTask:
      return "task";
    case AbLineKind::kIdleTask:
      return "idle_task";
  }
  return "?";
}

// "com.a:b (post_frame, critical path) +15.1 ms [+13.0, +17.2]"
std::string Describe(const AbLine& l) {
  std::string what = l.kind == AbLineKind::kLaunch     ? "the launch"
                     : l.kind == AbLineKind::kStageEnd ? "stage " + Printable(l.name) + " end"
                                                       : Printable(l.name);
  if (!l.stage.empty()) {
    what += " (" + Printable(l.stage);
    if (l.kind == AbLineKind::kCriticalTask) what += ", on the critical path";
    if (l.kind == AbLineKind::kTask) what += ", off the critical path";
    if (l.kind == AbLineKind::kIdleTask) what += ", after the launch";
    what += ")";
  }
  return what + " " + FormatShift(l.shift);
}

}  // namespace

std::string AbSummaryText(const AbComparison& c) {
  std::string out;
  out += "A/B: B against A, " + std::to_string(c.runs_a) + " run(s) of A and " +
         std::to_string(c.runs_b) + " of B, interleaved\n";
  out += "  A  " + Printable(c.app_a) + " " + Printable(c.version_a) + "\n";
  out += "  B  " + Printable(c.app_b) + " " + Printable(c.version_b) + "\n";
  out +=
      "change = B - A in ms: the Hodges-Lehmann shift and its Mann-Whitney interval, each "
      "end a one-sided " +
      Pct(c.confidence) + " bound (conf); smallest change that matters " + Ms(c.min_change_ms) +
      " ms (launch, stage ends, critical path), " + Ms(c.min_task_change_ms) +
      " ms (other tasks)\n";

  out += "\nthe launch (ms)\n";
  TextTable head({"", "A p50", "B p50", "change", "interval", "conf", "verdict"},
                 {false, true, true, true, false, true, false});
  auto row = [](TextTable& t, const std::string& name, const AbLine& l) {
    t.Row({name, Ms(l.a_median_ms), Ms(l.b_median_ms), Change(l.shift), Interval(l.shift),
           l.shift.enough ? Pct(BoundConfidence(l.shift)) : "-", LineVerdict(l)});
  };
  row(head, "launch", c.launch);
  for (const auto& s : c.stages) row(head, Fit("stage " + s.name + " end", kNameWidth), s);
  out += head.Render();

  auto task_table = [&](const std::vector<const AbLine*>& lines) {
    TextTable t({"task", "stage", "A p50", "B p50", "change", "interval", "verdict"},
                {false, false, true, true, true, false, false});
    for (const AbLine* l : lines)
      t.Row({Fit(l->name, kNameWidth) + (l->optional ? " (optional)" : ""), Fit(l->stage, 16),
             Ms(l->a_median_ms), Ms(l->b_median_ms), Change(l->shift), Interval(l->shift),
             LineVerdict(*l)});
    return t.Render();
  };
  std::vector<const AbLine*> crit;
  for (const auto& l : c.critical) crit.push_back(&l);
  out += "\ntasks on the critical path of the launch (A's or B's median run)\n";
  out += crit.empty() ? "  none\n" : task_table(crit);

  auto changed = [](const std::vector<AbLine>& lines) {
    std::vector<const AbLine*> out;
    for (const auto& l : lines)
      if (l.verdict == ShiftVerdict::kRegression || l.verdict == ShiftVerdict::kImprovement)
        out.push_back(&l);
    return out;
  };
  auto other = changed(c.tasks);
  out += "\ntasks off the critical path: " + std::to_string(other.size()) + " of " +
         std::to_string(c.tasks.size()) + " changed by more than " + Ms(c.min_task_change_ms) +
         " ms (each judged at " + Pct(c.task_confidence) + ")\n";
  if (!other.empty()) out += task_table(other);
  auto idle = changed(c.idle);
  out +=
      "\nidle-stage tasks (after the launch; " +
      std::string(c.idle_decides ? "they decide the verdict" : "they do not decide the verdict") +
      "): " + std::to_string(idle.size()) + " of " + std::to_string(c.idle.size()) + " changed\n";
  if (!idle.empty()) out += task_table(idle);
  if (!c.unmatched.empty()) {
    out += "\nrecorded on one side only:";
    for (const auto& u : c.unmatched) out += " " + Printable(u);
    out += "\n";
  }

  out += "\nverdict: ";
  std::vector<const AbLine*> deciding = c.Deciding();
  switch (c.outcome) {
    case AbOutcome::kRegression:
      out += "REGRESSION:";
      break;
    case AbOutcome::kImprovement:
      out += "improvement:";
      break;
    case AbOutcome::kTasksSlower:
      out += "no change to the launch (" + FormatShift(c.launch.shift) + ", within +-" +
             Ms(c.min_change_ms) + " ms); slower by more than " + Ms(c.min_task_change_ms) + " ms:";
      break;
    case AbOutcome::kNoChange:
      out += "no change (the launch " + FormatShift(c.launch.shift) + ", within +-" +
             Ms(c.min_change_ms) + " ms)";
      break;
    case AbOutcome::kNotEnoughRuns:
      out += "not enough runs (the launch " + FormatShift(c.launch.shift) +
             (c.launch.shift.enough ? " straddles +-" + Ms(c.min_change_ms) + " ms"
                                    : std::string(": too few runs for an interval")) +
             "; more runs narrow the interval)";
      break;
  }
  out += "\n";
  for (const AbLine* l : deciding) out += "  " + Describe(*l) + "\n";
  return out;
}

std::string AbJson(const AbComparison& c) {
  namespace json = boost::json;
  auto line = [](const AbLine& l) {
    json::object o;
    o["kind"] = KindName(l.kind);
    o["name"] = l.name;
    if (!l.stage.empty()) o["stage"] = l.stage;
    if (l.kind == AbLineKind::kCriticalTask || l.kind == AbLineKind::kTask)
      o["critical_path"] = l.critical;
    if (l.optional) o["optional"] = true;
    o["a_p50_ms"] = l.a_median_ms;
    o["b_p50_ms"] = l.b_median_ms;
    o["change_ms"] = l.shift.estimate;
    if (l.shift.enough) {
      o["low_ms"] = l.shift.low;
      o["high_ms"] = l.shift.high;
      o["confidence"] = l.shift.confidence;              // of [low, high], two-sided
      o["bound_confidence"] = BoundConfidence(l.shift);  // of each end, one-sided
    }
    o["runs_a"] = l.shift.n_a;
    o["runs_b"] = l.shift.n_b;
    o["min_change_ms"] = l.min_change_ms;
    o["verdict"] = ShiftVerdictName(l.verdict);
    if (l.kind == AbLineKind::kCriticalTask) o["task_verdict"] = ShiftVerdictName(l.task_verdict);
    return o;
  };
  json::object root;
  root["format"] = "atrium-profile-compare-v1";
  root["a"] = {{"app", c.app_a}, {"version", c.version_a}, {"runs", c.runs_a}};
  root["b"] = {{"app", c.app_b}, {"version", c.version_b}, {"runs", c.runs_b}};
  root["confidence"] = c.confidence;
  root["min_change_ms"] = c.min_change_ms;
  root["min_task_change_ms"] = c.min_task_change_ms;
  root["idle_decides"] = c.idle_decides;
  root["verdict"] = AbOutcomeToken(c.outcome);
  json::array deciding;
  for (const AbLine* l : c.Deciding()) deciding.push_back(json::value(l->name));
  root["deciding"] = std::move(deciding);
  root["launch"] = line(c.launch);
  auto lines = [&](const std::vector<AbLine>& v) {
    json::array arr;
    for (const auto& l : v) arr.push_back(line(l));
    return arr;
  };
  root["stages"] = lines(c.stages);
  root["critical_path"] = lines(c.critical);
  root["tasks"] = lines(c.tasks);
  root["idle"] = lines(c.idle);
  json::array unmatched;
  for (const auto& u : c.unmatched) unmatched.push_back(json::value(u));
  root["unmatched"] = std::move(unmatched);
  return json::serialize(root) + "\n";
}

std::string AbReportHtml(const AbComparison& c, const std::vector<RunTrace>& a,
                         const std::vector<RunTrace>& b) {
  auto pa = Analyze(a);
  auto pb = Analyze(b);
  ATRIUM_CHECK(pa.ok() && pb.ok(), "A/B report of runs that do not analyze");
  const RunTrace& ma = a[pa->median_run];
  const RunTrace& mb = b[pb->median_run];

  std::map<std::string, std::string> changed;
  for (const auto* lines : {&c.critical, &c.tasks, &c.idle})
    for (const auto& l : *lines) {
      if (l.verdict == ShiftVerdict::kRegression || l.task_verdict == ShiftVerdict::kRegression)
        changed[l.name] = "slower";
      if (l.verdict == ShiftVerdict::kImprovement || l.task_verdict == ShiftVerdict::kImprovement)
        changed[l.name] = "faster";
    }

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>A/B startup "
       "profile: " +
       HtmlEscape(c.app_a) + "</title>\n<style>";
  h += kReportCss;
  h += "</style></head><body>\n<header><h1>A/B startup profile: " + HtmlEscape(c.app_a) + " " +
       HtmlEscape(c.version_a) + " (A) vs " + HtmlEscape(c.app_b) + " " + HtmlEscape(c.version_b) +
       " (B)</h1><p class=\"sub\">" + std::to_string(c.runs_a) + " run(s) of A and " +
       std::to_string(c.runs_b) +
       " of B, interleaved; change = B − A, the Hodges–Lehmann shift with its Mann–Whitney "
       "interval</p>\n";
  const char* cls = c.outcome == AbOutcome::kRegression ? "bad"
                    : c.outcome == AbOutcome::kNoChange || c.outcome == AbOutcome::kImprovement
                        ? "ok"
                        : "warn";
  h += "<p id=\"verdict\" class=\"" + std::string(cls) + "\" data-verdict=\"" +
       AbOutcomeToken(c.outcome) + "\">verdict: " + HtmlEscape(AbOutcomeName(c.outcome)) +
       "</p><ul>";
  for (const AbLine* l : c.Deciding()) h += "<li>" + HtmlEscape(Describe(*l)) + "</li>";
  h += "</ul><div class=\"kpis\">";
  auto kpi = [&](const std::string& value, const std::string& label) {
    h += "<div class=\"kpi\"><b>" + value + "</b><span>" + label + "</span></div>";
  };
  kpi(Ms(c.launch.a_median_ms) + " ms", "launch p50, A");
  kpi(Ms(c.launch.b_median_ms) + " ms", "launch p50, B");
  kpi(HtmlEscape(FormatShift(c.launch.shift)), "change of the launch");
  kpi(Ms(c.min_change_ms) + " ms", "smallest change that matters");
  h += "</div></header>\n";

  auto table = [&](const std::string& title, const std::vector<AbLine>& lines, bool only_changed) {
    std::string rows;
    for (const auto& l : lines) {
      const bool changed = l.verdict == ShiftVerdict::kRegression ||
                           l.verdict == ShiftVerdict::kImprovement ||
                           l.task_verdict == ShiftVerdict::kRegression ||
                           l.task_verdict == ShiftVerdict::kImprovement;
      if (only_changed && !changed) continue;
      bool worse = l.verdict == ShiftVerdict::kRegression;
      rows += "<tr data-line=\"" + HtmlEscape(l.name) + "\"><td class=\"id\">" +
              HtmlEscape(l.name) + (l.optional ? " (optional)" : "") + "</td><td>" +
              HtmlEscape(l.stage) + "</td><td class=\"num\">" + Ms(l.a_median_ms) +
              "</td><td class=\"num\">" + Ms(l.b_median_ms) + "</td><td class=\"num\">" +
              Change(l.shift) + "</td><td>" + Interval(l.shift) + "</td><td" +
              (worse ? " class=\"bad\"" : "") + ">" + LineVerdict(l) + "</td></tr>\n";
    }
    h += "<section><h2>" + title + "</h2>";
    if (rows.empty()) {
      h += "<p>none</p></section>\n";
      return;
    }
    h += "<table><tr><th>what</th><th>stage</th><th class=\"num\">A p50</th><th "
         "class=\"num\">B p50</th><th class=\"num\">change</th><th>interval</th>"
         "<th>verdict</th></tr>\n" +
         rows + "</table></section>\n";
  };
  std::vector<AbLine> head{c.launch};
  head.insert(head.end(), c.stages.begin(), c.stages.end());
  table("The launch and its stage ends", head, false);
  table("Tasks on the critical path", c.critical, false);
  table("Tasks off the critical path that changed", c.tasks, true);
  table("Idle-stage tasks that changed (after the launch)", c.idle, true);

  // Both median runs on one time scale, changed tasks outlined.
  double from = 0, to = 0;
  for (const RunTrace* r : {&ma, &mb}) {
    to = std::max(to, UsToMs(r->end_us()));
    for (const auto& t : r->tasks) from = std::min(from, UsToMs(t.start_us));
    for (const auto& l : r->loads) from = std::min(from, UsToMs(l.start_us));
  }
  h += "<section><h2>Timelines of the median runs</h2><div class=\"legend\"><span><i "
       "class=\"crit\"></i>critical path</span><span><i class=\"slower\"></i>slower in "
       "B</span><span><i class=\"faster\"></i>faster in B</span><span><i "
       "class=\"opt\"></i>optional</span><span><i class=\"mark\"></i>stage end</span></div>\n";
  auto timeline = [&](const char* id, const char* side, const RunTrace& run, const Profile& p) {
    TimelineOptions o;
    o.svg_id = id;
    o.label = std::string("timeline of ") + side + "'s median run";
    for (const auto& step : p.critical_path) o.critical.insert(step.id);
    o.changed = changed;
    o.from_ms = from;
    o.to_ms = to;
    h += "<h3>" + std::string(side) + ": " + HtmlEscape(run.file) + " (launch " +
         Ms(run.launch_ms) + " ms)</h3><div class=\"scroll\">";
    AppendTimeline(h, run, o);
    h += "</div>\n";
  };
  timeline("timeline-a", "A", ma, *pa);
  timeline("timeline-b", "B", mb, *pb);
  h += "</section>\n</body></html>\n";
  return h;
}

}  // namespace atrium::profile
