// Baselines (BaselineJson, ParseBaseline, LoadBaseline, CompareToBaseline;
// profile_report.h): a saved Profile and the comparison of a new one with it.
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

constexpr std::string_view kBaselineFormat = "atrium-profile-baseline-v1";

json::object DistributionJson(const Distribution& d) {
  return json::object{{"n", d.n}, {"p50", d.p50}, {"p90", d.p90}, {"max", d.max}};
}

bool ReadDistribution(FieldReader& parent, const json::object& o, std::string_view key,
                      Distribution* out) {
  const json::object* d = parent.Object(key);
  if (d == nullptr) return false;
  FieldReader r = parent.Child(*d, key);
  double n = 0;
  if (!r.NonNegative("n", &n) || !r.NonNegative("p50", &out->p50) ||
      !r.NonNegative("p90", &out->p90) || !r.NonNegative("max", &out->max))
    return false;
  out->n = static_cast<size_t>(n);
  return true;
}

}  // namespace

std::string BaselineJson(const Profile& profile) {
  json::object stages, tasks;
  for (const auto& s : profile.stages)
    stages[s.name] = json::object{{"duration_ms", DistributionJson(s.duration_ms)},
                                  {"end_ms", DistributionJson(s.end_ms)}};
  for (const auto& t : profile.tasks) {
    if (t.duration_ms.n == 0) continue;
    tasks[t.id] = json::object{{"duration_ms", DistributionJson(t.duration_ms)}};
  }
  json::object root{{"format", kBaselineFormat},
                    {"app", profile.app},
                    {"app_version", profile.app_version},
                    {"runs", profile.runs},
                    {"launch_ms", DistributionJson(profile.launch_ms)},
                    {"stages", std::move(stages)},
                    {"tasks", std::move(tasks)}};
  return json::serialize(root) + "\n";
}

Result<Baseline> ParseBaseline(std::string_view json_text, const std::string& file) {
  auto parsed = ParseJson(json_text, file, kMaxSettingsBytes);
  if (!parsed.ok()) return std::move(parsed).take_error();
  if (!parsed->is_object())
    return FileError(ErrorCode::kValidation, file, "/",
                     std::string("a baseline must be a JSON object, not ") + KindName(*parsed));
  const json::object& root = parsed->get_object();
  std::optional<Error> error;
  FieldReader r(root, "", file, "", &error);
  std::string format;
  Baseline b;
  if (!r.String("format", &format)) return *error;
  if (format != kBaselineFormat) {
    r.Fail("format", "not a baseline of this version (" + Quote(format) + ", expected \"" +
                         std::string(kBaselineFormat) + "\")");
    return *error;
  }
  if (!r.String("app", &b.app) || !r.String("app_version", &b.app_version) ||
      !ReadDistribution(r, root, "launch_ms", &b.launch_ms))
    return *error;
  const json::object* stages = r.Object("stages");
  if (stages == nullptr) return *error;
  FieldReader rs = r.Child(*stages, "stages");
  for (const auto& [name, value] : *stages) {
    const json::object* s = rs.Object(name);
    if (s == nullptr) return *error;
    FieldReader one = rs.Child(*s, name);
    StageStats st;
    st.name = std::string(name);
    if (!ReadDistribution(one, *s, "duration_ms", &st.duration_ms) ||
        !ReadDistribution(one, *s, "end_ms", &st.end_ms))
      return *error;
    b.stages.push_back(std::move(st));
  }
  const json::object* tasks = r.Object("tasks");
  if (tasks == nullptr) return *error;
  FieldReader rt = r.Child(*tasks, "tasks");
  for (const auto& [id, value] : *tasks) {
    const json::object* t = rt.Object(id);
    if (t == nullptr) return *error;
    FieldReader one = rt.Child(*t, id);
    Distribution d;
    if (!ReadDistribution(one, *t, "duration_ms", &d)) return *error;
    b.tasks.emplace_back(std::string(id), d);
  }
  return b;
}

Result<Baseline> LoadBaseline(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::move(text).take_error();
  return ParseBaseline(*text, path);
}

std::vector<Violation> CompareToBaseline(const Profile& profile, const Baseline& baseline,
                                         const CompareOptions& options,
                                         std::vector<std::string>* notes) {
  std::vector<Violation> out;
  auto compare = [&](const std::string& subject, const Distribution& now,
                     const Distribution& base) {
    if (now.n == 0 || base.n == 0) return;
    for (Metric m : {Metric::kP50, Metric::kP90}) {
      double b = Pick(base, m);
      double allowed = b * (1 + options.tolerance_pct / 100.0) + options.slack_ms;
      double measured = Pick(now, m);
      if (measured > allowed) {
        out.push_back({subject, MetricName(m), measured, allowed,
                       "baseline " + Ms(b) + " ms +" + Format("%g", options.tolerance_pct) + "% +" +
                           Format("%g", options.slack_ms) + " ms"});
      }
    }
  };
  auto note = [&](std::string text) {
    if (notes != nullptr) notes->push_back(std::move(text));
  };
  compare("launch", profile.launch_ms, baseline.launch_ms);
  for (const auto& s : profile.stages) {
    auto it = std::find_if(baseline.stages.begin(), baseline.stages.end(),
                           [&](const StageStats& b) { return b.name == s.name; });
    if (it == baseline.stages.end()) {
      note("stage " + s.name + ": not in the baseline");
      continue;
    }
    compare("stage " + s.name + " end", s.end_ms, it->end_ms);
  }
  for (const auto& b : baseline.stages) {
    if (std::none_of(profile.stages.begin(), profile.stages.end(),
                     [&](const StageStats& s) { return s.name == b.name; }))
      note("stage " + b.name + ": in the baseline, not recorded now");
  }
  for (const auto& t : profile.tasks) {
    auto it = std::find_if(baseline.tasks.begin(), baseline.tasks.end(),
                           [&](const auto& b) { return b.first == t.id; });
    if (it == baseline.tasks.end()) {
      if (t.duration_ms.n > 0) note("task " + t.id + ": new (not in the baseline)");
      continue;
    }
    compare("task " + t.id, t.duration_ms, it->second);
  }
  for (const auto& task : baseline.tasks) {
    const std::string& id = task.first;
    if (std::none_of(profile.tasks.begin(), profile.tasks.end(),
                     [&](const TaskStats& t) { return t.id == id && t.duration_ms.n > 0; }))
      note("task " + id + ": in the baseline, not recorded now");
  }
  return out;
}

}  // namespace atrium::profile
