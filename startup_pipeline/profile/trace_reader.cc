// Reading one run's trace (ParseTrace, LoadTrace; profile_report.h): strict
// about what the report needs (required fields, their types, stage names the
// run declared) and tolerant of everything else (unknown fields, unknown event
// phases and categories), so a newer runtime that records more still produces
// a report.
//
// Concurrency: free functions over values; no shared state.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "atrium/scheduler/trace_schema.h"
#include "profile_report.h"
#include "profile_util.h"

namespace atrium::profile {

namespace ts = ::atrium::trace_schema;

namespace {

struct StageMarks {
  std::optional<std::pair<int64_t, int64_t>> slice;  // begin, end
  std::optional<int64_t> begin;                      // instants
  std::optional<int64_t> end;
};

}  // namespace

const char* TaskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kOk:
      return "ok";
    case TaskStatus::kFailed:
      return "failed";
    case TaskStatus::kSkipped:
      return "skipped";
  }
  return "?";
}

const ThreadInfo* RunTrace::Thread(uint32_t tid) const {
  for (const auto& t : threads)
    if (t.tid == tid) return &t;
  return nullptr;
}

int64_t RunTrace::end_us() const {
  int64_t end = 0;
  for (const auto& t : tasks) end = std::max(end, t.end_us);
  for (const auto& s : stages) end = std::max(end, s.end_us);
  for (const auto& l : loads) end = std::max(end, l.end_us);
  return end;
}

Result<RunTrace> ParseTrace(std::string_view json_text, const std::string& file) {
  auto parsed = ParseJson(json_text, file, kMaxTraceBytes);
  if (!parsed.ok()) return std::move(parsed).take_error();
  if (!parsed->is_object())
    return FileError(ErrorCode::kValidation, file, "/",
                     std::string("a trace must be a JSON object, not ") + KindName(*parsed));
  const json::object& root = parsed->get_object();
  std::optional<Error> error;
  FieldReader top(root, "", file, "", &error);

  RunTrace run;
  run.file = file;
  run.result = "ok";
  const json::object* other = top.Object("otherData");
  if (other == nullptr) return *error;
  FieldReader meta = top.Child(*other, "otherData");
  std::string launch, stages, cpus;
  meta.String(ts::kMetaApp, &run.app);
  meta.String(ts::kMetaAppVersion, &run.app_version, false);
  meta.String(ts::kMetaResult, &run.result, false);
  meta.String(ts::kMetaLaunchMs, &launch);
  meta.String(ts::kMetaStages, &stages);
  meta.String(ts::kMetaCpus, &cpus, false);
  if (error) return *error;
  if (!cpus.empty()) {
    char* end = nullptr;
    const long n = std::strtol(cpus.c_str(), &end, 10);
    if (end != cpus.c_str() + cpus.size() || n < 1 || n > 65536)
      meta.Fail("cpus",
                "'cpus' must be a number of CPUs (1 to 65536) in a string, not " + Quote(cpus));
    run.cpus = static_cast<int>(n);
  }
  {
    char* end = nullptr;
    run.launch_ms = std::strtod(launch.c_str(), &end);
    if (launch.empty() || end != launch.c_str() + launch.size() || !std::isfinite(run.launch_ms) ||
        run.launch_ms < 0)
      meta.Fail("launch_ms",
                "'launch_ms' must be a non-negative number in a string, not " + Quote(launch));
  }
  run.stage_order = SplitList(stages);
  if (run.stage_order.empty()) meta.Fail("stages", "'stages' names no stage");
  for (size_t i = 0; i < run.stage_order.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (run.stage_order[i] == run.stage_order[j])
        meta.Fail("stages", "stage " + Quote(run.stage_order[i]) + " is listed twice");
  if (error) return *error;
  auto stage_index = [&](const std::string& s) -> int {
    for (size_t i = 0; i < run.stage_order.size(); ++i)
      if (run.stage_order[i] == s) return static_cast<int>(i);
    return -1;
  };

  const json::value* events_value = top.Find("traceEvents");
  if (events_value == nullptr)
    return FileError(ErrorCode::kValidation, file, "/traceEvents", "missing array 'traceEvents'");
  if (!events_value->is_array())
    return FileError(ErrorCode::kValidation, file, "/traceEvents",
                     std::string("'traceEvents' must be an array, not ") + KindName(*events_value));
  const json::array& events = events_value->get_array();

  std::map<uint32_t, std::string> thread_names;
  std::set<uint32_t> used_tids;
  std::vector<StageMarks> marks(run.stage_order.size());
  for (size_t i = 0; i < events.size(); ++i) {
    std::string pointer = "/traceEvents/" + std::to_string(i);
    if (!events[i].is_object())
      return FileError(
          ErrorCode::kValidation, file, pointer,
          "event " + std::to_string(i) + " must be an object, not " + KindName(events[i]));
    const json::object& ev = events[i].get_object();
    FieldReader r(ev, pointer, file, "event " + std::to_string(i), &error);
    std::string ph, name, cat;
    if (!r.String("ph", &ph)) return *error;
    if (ph != "M" && ph != "X" && ph != "i" && ph != "I") continue;  // not ours
    if (!r.String("name", &name)) return *error;
    FieldReader e(ev, pointer, file, "event " + std::to_string(i) + " (" + Quote(name) + ")",
                  &error);
    if (ph == "M") {
      if (name != "thread_name") continue;
      uint32_t tid = 0;
      if (!e.Tid(&tid)) return *error;
      const json::object* args = e.Object("args");
      if (args == nullptr) return *error;
      std::string thread;
      if (!e.Child(*args, "args").String("name", &thread)) return *error;
      // The stage track holds no task: it is not one of the run's threads.
      if (tid != ts::kStageTrackTid) thread_names[tid] = thread;
      continue;
    }
    if (!e.String("cat", &cat, false)) return *error;
    if (cat != ts::kCatTask && cat != ts::kCatBundle && cat != ts::kCatStage) continue;
    int64_t ts = 0, dur = 0;
    uint32_t tid = 0;
    if (!e.Micros("ts", &ts, false) || !e.Tid(&tid)) return *error;
    if (ph == "X" && !e.Micros("dur", &dur, true)) return *error;

    if (ph != "X") {  // instant: "stage <s> begin" / "stage <s> end"
      if (cat != ts::kCatStage) continue;
      const std::string_view n = name;
      const bool staged = n.size() > ts::kStagePrefix.size() && n.starts_with(ts::kStagePrefix);
      const bool begin = staged && n.size() > ts::kStagePrefix.size() + ts::kBeginSuffix.size() &&
                         n.ends_with(ts::kBeginSuffix);
      const bool end = staged && !begin &&
                       n.size() > ts::kStagePrefix.size() + ts::kEndSuffix.size() &&
                       n.ends_with(ts::kEndSuffix);
      if (!begin && !end) continue;
      const size_t suffix = begin ? ts::kBeginSuffix.size() : ts::kEndSuffix.size();
      std::string stage(
          n.substr(ts::kStagePrefix.size(), n.size() - ts::kStagePrefix.size() - suffix));
      int si = stage_index(stage);
      if (si < 0) {
        e.Fail("name", "stage " + Quote(stage) + " is not in otherData.stages");
        return *error;
      }
      (begin ? marks[si].begin : marks[si].end) = ts;
      continue;
    }

    if (cat == ts::kCatStage) {
      int si = stage_index(name);
      if (si < 0) {
        e.Fail("name", "stage " + Quote(name) + " is not in otherData.stages");
        return *error;
      }
      if (marks[si].slice) {
        e.Fail("name", "stage " + Quote(name) + " is recorded twice");
        return *error;
      }
      marks[si].slice = std::make_pair(ts, ts + dur);
      continue;
    }

    const json::object* args = e.Object("args");
    if (args == nullptr) return *error;
    FieldReader a = e.Child(*args, "args");
    used_tids.insert(tid);
    if (cat == ts::kCatBundle) {
      // Loads only: waits for a bundle and live swaps share the category.
      if (!std::string_view(name).starts_with(ts::kLoadPrefix)) continue;
      BundleLoad load;
      load.tid = tid;
      load.start_us = ts;
      load.end_us = ts + dur;
      if (!a.String(ts::kArgBundle, &load.bundle) ||
          !a.String(ts::kArgTrigger, &load.trigger, false))
        return *error;
      run.loads.push_back(std::move(load));
      continue;
    }
    TaskRun task;
    task.id = name;
    task.tid = tid;
    task.start_us = ts;
    task.end_us = ts + dur;
    std::string status, after;
    double queue_wait = 0, cpu = -1;
    if (!a.String(ts::kArgBundle, &task.bundle) || !a.String(ts::kArgStage, &task.stage) ||
        !a.String(ts::kArgThread, &task.target) || !a.String(ts::kArgStatus, &status) ||
        !a.Flag(ts::kArgOverBudget, &task.over_budget) ||
        !a.Flag(ts::kArgOptional, &task.optional) || !a.String(ts::kArgAfter, &after, false) ||
        !a.NonNegative(ts::kArgQueueWaitUs, &queue_wait) ||
        !a.NonNegative(ts::kArgBudgetMs, &task.budget_ms, false) ||
        !a.Number(ts::kArgWeight, &task.weight, false) ||
        (args->contains(ts::kArgCpuUs) && !a.NonNegative(ts::kArgCpuUs, &cpu)))
      return *error;
    task.cpu_us = cpu < 0 ? -1 : static_cast<int64_t>(std::llround(cpu));
    if (status == ts::kStatusOk) {
      task.status = TaskStatus::kOk;
    } else if (status == ts::kStatusFailed) {
      task.status = TaskStatus::kFailed;
    } else if (status == ts::kStatusSkipped) {
      task.status = TaskStatus::kSkipped;
    } else {
      a.Fail("status", "'status' must be \"ok\", \"failed\" or \"skipped\", not " + Quote(status));
      return *error;
    }
    if (stage_index(task.stage) < 0) {
      a.Fail("stage", "stage " + Quote(task.stage) + " is not in otherData.stages");
      return *error;
    }
    task.queue_wait_us = std::llround(queue_wait);
    task.after = SplitList(after);
    run.tasks.push_back(std::move(task));
  }

  for (size_t si = 0; si < marks.size(); ++si) {
    const StageMarks& m = marks[si];
    StageRun s;
    s.name = run.stage_order[si];
    if (m.slice) {
      s.begin_us = m.slice->first;
      s.end_us = m.slice->second;
    } else if (m.begin) {
      // Begun but not ended (a failed launch): up to its last task.
      s.begin_us = *m.begin;
      s.end_us = m.end.value_or(*m.begin);
      if (!m.end)
        for (const auto& t : run.tasks)
          if (t.stage == s.name) s.end_us = std::max(s.end_us, t.end_us);
    } else {
      continue;
    }
    if (s.end_us < s.begin_us)
      return FileError(ErrorCode::kValidation, file, "/traceEvents",
                       "stage " + Quote(s.name) + " ends before it begins");
    run.stages.push_back(std::move(s));
  }

  // Launch start: the first stage's begin, else the earliest slice.
  int64_t origin = 0;
  if (!run.stages.empty()) {
    origin = run.stages.front().begin_us;
  } else {
    std::optional<int64_t> earliest;
    for (const auto& t : run.tasks) earliest = std::min(earliest.value_or(t.start_us), t.start_us);
    for (const auto& l : run.loads) earliest = std::min(earliest.value_or(l.start_us), l.start_us);
    origin = earliest.value_or(0);
  }
  for (auto& t : run.tasks) t.start_us -= origin, t.end_us -= origin;
  for (auto& s : run.stages) s.begin_us -= origin, s.end_us -= origin;
  for (auto& l : run.loads) l.start_us -= origin, l.end_us -= origin;

  for (const auto& [tid, name] : thread_names) run.threads.push_back({tid, name});
  for (uint32_t tid : used_tids)
    if (!thread_names.count(tid)) run.threads.push_back({tid, "tid " + std::to_string(tid)});
  std::stable_sort(run.threads.begin(), run.threads.end(),
                   [](const ThreadInfo& a, const ThreadInfo& b) {
                     bool am = a.name == "main", bm = b.name == "main";
                     if (am != bm) return am;
                     if (a.name != b.name) return NaturalLess(a.name, b.name);
                     return a.tid < b.tid;
                   });
  return run;
}

Result<RunTrace> LoadTrace(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::move(text).take_error();
  return ParseTrace(*text, path);
}

}  // namespace atrium::profile
