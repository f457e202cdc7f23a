// Budgets (ParseBudget, LoadBudget, CheckBudget; profile_report.h): limits
// per launch, stage and task, and the violations of a Profile.
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

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kP50:
      return "p50";
    case Metric::kP90:
      return "p90";
    case Metric::kMax:
      return "max";
  }
  return "?";
}

double Pick(const Distribution& d, Metric m) {
  switch (m) {
    case Metric::kP50:
      return d.p50;
    case Metric::kP90:
      return d.p90;
    case Metric::kMax:
      return d.max;
  }
  return d.max;
}

namespace {

// Reads {"name": positive number, ...} at `key` of `r` into `out`.
bool ReadLimits(FieldReader& r, const json::object& root, std::string_view key,
                std::vector<std::pair<std::string, double>>* out) {
  const json::value* v = root.if_contains(key);
  if (v == nullptr) return true;
  const json::object* o = r.Object(key);
  if (o == nullptr) return false;
  FieldReader limits = r.Child(*o, key);
  for (const auto& [name, value] : *o) {
    double ms = 0;
    if (!limits.Number(name, &ms)) return false;
    if (ms <= 0) {
      limits.Fail(name, "a budget must be a positive number of milliseconds");
      return false;
    }
    out->emplace_back(std::string(name), ms);
  }
  return true;
}

}  // namespace

Result<Budget> ParseBudget(std::string_view json_text, const std::string& file) {
  auto parsed = ParseJson(json_text, file, kMaxSettingsBytes);
  if (!parsed.ok()) return std::move(parsed).take_error();
  if (!parsed->is_object())
    return FileError(ErrorCode::kValidation, file, "/",
                     std::string("a budgets file must be a JSON object, not ") + KindName(*parsed));
  const json::object& root = parsed->get_object();
  std::optional<Error> error;
  FieldReader r(root, "", file, "", &error);
  Budget b;
  for (const auto& [key, value] : root) {
    if (key != "metric" && key != "launch_ms" && key != "stages" && key != "tasks") {
      r.Fail(key, "unknown key " + Quote(key) +
                      " (expected \"metric\", \"launch_ms\", \"stages\", \"tasks\")");
      return *error;
    }
  }
  std::string metric = "p90";
  if (!r.String("metric", &metric, false)) return *error;
  if (metric == "p50") {
    b.metric = Metric::kP50;
  } else if (metric == "p90") {
    b.metric = Metric::kP90;
  } else if (metric == "max") {
    b.metric = Metric::kMax;
  } else {
    r.Fail("metric", "'metric' must be \"p50\", \"p90\" or \"max\", not " + Quote(metric));
    return *error;
  }
  if (root.contains("launch_ms")) {
    double ms = 0;
    if (!r.Number("launch_ms", &ms)) return *error;
    if (ms <= 0) {
      r.Fail("launch_ms", "a budget must be a positive number of milliseconds");
      return *error;
    }
    b.launch_ms = ms;
  }
  if (!ReadLimits(r, root, "stages", &b.stages) || !ReadLimits(r, root, "tasks", &b.tasks))
    return *error;
  return b;
}

Result<Budget> LoadBudget(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::move(text).take_error();
  return ParseBudget(*text, path);
}

std::string Violation::ToString() const {
  std::string out = subject + " " + metric + " ";
  if (std::isnan(measured_ms)) {
    out += "not measured";
  } else {
    out += Ms(measured_ms) + " ms > " + Ms(allowed_ms) + " ms allowed";
  }
  if (!note.empty()) out += " (" + note + ")";
  return out;
}

std::vector<Violation> CheckBudget(const Profile& profile, const Budget& budget) {
  std::vector<Violation> out;
  const std::string metric = MetricName(budget.metric);
  auto check = [&](std::string subject, double measured, double allowed) {
    if (measured > allowed) out.push_back({std::move(subject), metric, measured, allowed, ""});
  };
  if (budget.launch_ms) check("launch", Pick(profile.launch_ms, budget.metric), *budget.launch_ms);
  for (const auto& [name, allowed] : budget.stages) {
    auto it = std::find_if(profile.stages.begin(), profile.stages.end(),
                           [&n = name](const StageStats& s) { return s.name == n; });
    if (it == profile.stages.end()) {
      out.push_back({"stage " + name + " end", metric, std::nan(""), allowed,
                     "budgeted stage not recorded in any run"});
      continue;
    }
    check("stage " + name + " end", Pick(it->end_ms, budget.metric), allowed);
  }
  for (const auto& [id, allowed] : budget.tasks) {
    auto it = std::find_if(profile.tasks.begin(), profile.tasks.end(),
                           [&i = id](const TaskStats& t) { return t.id == i; });
    if (it == profile.tasks.end()) {
      out.push_back(
          {"task " + id, metric, std::nan(""), allowed, "budgeted task not recorded in any run"});
      continue;
    }
    if (it->duration_ms.n == 0) continue;  // skipped in every run
    check("task " + id, Pick(it->duration_ms, budget.metric), allowed);
  }
  return out;
}

}  // namespace atrium::profile
