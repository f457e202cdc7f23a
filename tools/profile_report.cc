// Startup profile reports (see profile_report.h and docs/profiling.md).
//
// Parsing is strict about what the report needs (required fields, their
// types, stage names the run declared) and tolerant of everything else
// (unknown fields, unknown event phases and categories), so a newer runtime
// that records more still produces a report.
//
// Concurrency: free functions over values; no shared state.
#include "profile_report.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace atrium::profile {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------- helpers

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string Ms(double ms) { return Format("%.1f", ms); }

double UsToMs(int64_t us) { return static_cast<double>(us) / 1000.0; }

// A JSON pointer reference token: '~' -> "~0", '/' -> "~1".
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Names from traces quoted in messages: printable ASCII kept, the rest
// escaped, long names cut, so a hostile trace cannot garble a terminal.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 80) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

bool AsNumber(const json::value& v, double* out) {
  switch (v.kind()) {
    case json::kind::int64:
      *out = static_cast<double>(v.get_int64());
      return true;
    case json::kind::uint64:
      *out = static_cast<double>(v.get_uint64());
      return true;
    case json::kind::double_:
      *out = v.get_double();
      return std::isfinite(*out);
    default:
      return false;
  }
}

Error FileError(ErrorCode code, const std::string& file, std::string pointer, std::string message) {
  Error e = MakeError(code, std::move(message));
  e.file = file;
  e.pointer = std::move(pointer);
  return e;
}

// Parses a whole JSON document; a syntax error carries its byte offset and
// line:column.
Result<json::value> ParseJson(std::string_view text, const std::string& file) {
  json::stream_parser parser;
  boost::system::error_code ec;
  size_t consumed = parser.write(text.data(), text.size(), ec);
  if (!ec) {
    consumed = text.size();
    parser.finish(ec);
  }
  if (ec) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < consumed && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    Error e = FileError(ErrorCode::kParse, file, "",
                        "malformed JSON at line " + std::to_string(line) + " column " +
                            std::to_string(col) + ": " + ec.message());
    e.offset = consumed;
    return e;
  }
  return parser.release();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e = MakeError(ErrorCode::kIo, "cannot open");
    e.file = path;
    return e;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    Error e = MakeError(ErrorCode::kIo, "cannot read");
    e.file = path;
    return e;
  }
  return ss.str();
}

// Reads typed fields of one JSON object, remembering the first problem with
// its JSON pointer. `what` prefixes messages ("event 12 ('com.a:b')").
class FieldReader {
 public:
  FieldReader(const json::object& object, std::string pointer, const std::string& file,
              std::string what, std::optional<Error>* error)
      : object_(object),
        pointer_(std::move(pointer)),
        file_(file),
        what_(std::move(what)),
        error_(error) {}

  bool ok() const { return !error_->has_value(); }
  const std::string& pointer() const { return pointer_; }
  std::string Pointer(std::string_view key) const { return pointer_ + "/" + PointerToken(key); }

  void Fail(std::string_view key, const std::string& message) {
    if (!ok()) return;
    std::string where = key.empty() ? pointer_ : Pointer(key);
    *error_ = FileError(ErrorCode::kValidation, file_, where.empty() ? "/" : where,
                        what_.empty() ? message : what_ + ": " + message);
  }

  const json::value* Find(std::string_view key) const { return object_.if_contains(key); }

  // A string field. Absent: error when `required`, else `*out` unchanged.
  bool String(std::string_view key, std::string* out, bool required = true) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (required) Fail(key, "missing string field '" + std::string(key) + "'");
      return !required && ok();
    }
    if (!v->is_string()) {
      Fail(key, "'" + std::string(key) + "' must be a string, not " + KindName(*v));
      return false;
    }
    *out = std::string(v->get_string());
    return ok();
  }

  bool Number(std::string_view key, double* out, bool required = true) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      if (required) Fail(key, "missing number field '" + std::string(key) + "'");
      return !required && ok();
    }
    if (!AsNumber(*v, out)) {
      Fail(key, "'" + std::string(key) + "' must be a finite number, not " + KindName(*v));
      return false;
    }
    return ok();
  }

  bool NonNegative(std::string_view key, double* out, bool required = true) {
    if (!Number(key, out, required)) return false;
    if (*out < 0) {
      Fail(key, "'" + std::string(key) + "' must not be negative");
      return false;
    }
    return true;
  }

  // Microsecond timestamps and durations (integers or numbers).
  bool Micros(std::string_view key, int64_t* out, bool non_negative) {
    double d = 0;
    if (!Number(key, &d)) return false;
    if (std::fabs(d) > 9.0e15) {
      Fail(key, "'" + std::string(key) + "' is out of range");
      return false;
    }
    if (non_negative && d < 0) {
      Fail(key, "'" + std::string(key) + "' must not be negative");
      return false;
    }
    *out = static_cast<int64_t>(std::llround(d));
    return true;
  }

  bool Tid(uint32_t* out) {
    double d = 0;
    if (!Number("tid", &d)) return false;
    if (d < 0 || d > 4294967295.0 || d != std::floor(d)) {
      Fail("tid", "'tid' must be a thread id (a non-negative integer)");
      return false;
    }
    *out = static_cast<uint32_t>(d);
    return true;
  }

  // "true" / "false" (as the recorder writes them) or a JSON boolean; absent = false.
  bool Flag(std::string_view key, bool* out) {
    const json::value* v = Find(key);
    *out = false;
    if (v == nullptr) return ok();
    if (v->is_bool()) {
      *out = v->get_bool();
      return ok();
    }
    if (v->is_string() && (v->get_string() == "true" || v->get_string() == "false")) {
      *out = v->get_string() == "true";
      return ok();
    }
    Fail(key, "'" + std::string(key) + "' must be \"true\" or \"false\"");
    return false;
  }

  // An object-valued field (required).
  const json::object* Object(std::string_view key) {
    const json::value* v = Find(key);
    if (v == nullptr) {
      Fail(key, "missing object field '" + std::string(key) + "'");
      return nullptr;
    }
    if (!v->is_object()) {
      Fail(key, "'" + std::string(key) + "' must be an object, not " + KindName(*v));
      return nullptr;
    }
    return &v->get_object();
  }

  FieldReader Child(const json::object& child, std::string_view key) {
    return FieldReader(child, Pointer(key), file_, what_, error_);
  }

 private:
  const json::object& object_;
  std::string pointer_;
  const std::string& file_;
  std::string what_;
  std::optional<Error>* error_;
};

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view item = s.substr(pos, comma - pos);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

// "io-2" < "io-10": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na(a.data() + i, ie - i), nb(b.data() + j, je - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

struct StageMarks {
  std::optional<std::pair<int64_t, int64_t>> slice;  // begin, end
  std::optional<int64_t> begin;                      // instants
  std::optional<int64_t> end;
};

}  // namespace

// ---------------------------------------------------------------- one run

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
  auto parsed = ParseJson(json_text, file);
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
  std::string launch, stages;
  meta.String("app", &run.app);
  meta.String("app_version", &run.app_version, false);
  meta.String("result", &run.result, false);
  meta.String("launch_ms", &launch);
  meta.String("stages", &stages);
  if (error) return *error;
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
      thread_names[tid] = thread;
      continue;
    }
    if (!e.String("cat", &cat, false)) return *error;
    if (cat != "task" && cat != "bundle" && cat != "stage") continue;
    int64_t ts = 0, dur = 0;
    uint32_t tid = 0;
    if (!e.Micros("ts", &ts, false) || !e.Tid(&tid)) return *error;
    if (ph == "X" && !e.Micros("dur", &dur, true)) return *error;

    if (ph != "X") {  // instant: "stage <s> begin" / "stage <s> end"
      if (cat != "stage") continue;
      bool begin = name.size() > 12 && name.rfind("stage ", 0) == 0 &&
                   name.compare(name.size() - 6, 6, " begin") == 0;
      bool end = !begin && name.size() > 10 && name.rfind("stage ", 0) == 0 &&
                 name.compare(name.size() - 4, 4, " end") == 0;
      if (!begin && !end) continue;
      std::string stage = name.substr(6, name.size() - 6 - (begin ? 6 : 4));
      int si = stage_index(stage);
      if (si < 0) {
        e.Fail("name", "stage " + Quote(stage) + " is not in otherData.stages");
        return *error;
      }
      (begin ? marks[si].begin : marks[si].end) = ts;
      continue;
    }

    if (cat == "stage") {
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
    if (cat == "bundle") {
      BundleLoad load;
      load.tid = tid;
      load.start_us = ts;
      load.end_us = ts + dur;
      if (!a.String("bundle", &load.bundle) || !a.String("trigger", &load.trigger, false))
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
    double queue_wait = 0;
    if (!a.String("bundle", &task.bundle) || !a.String("stage", &task.stage) ||
        !a.String("thread", &task.target) || !a.String("status", &status) ||
        !a.Flag("over_budget", &task.over_budget) || !a.Flag("optional", &task.optional) ||
        !a.String("after", &after, false) || !a.NonNegative("queue_wait_us", &queue_wait) ||
        !a.NonNegative("budget_ms", &task.budget_ms, false) ||
        !a.Number("weight", &task.weight, false))
      return *error;
    if (status == "ok") {
      task.status = TaskStatus::kOk;
    } else if (status == "failed") {
      task.status = TaskStatus::kFailed;
    } else if (status == "skipped") {
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

// ---------------------------------------------------------------- N runs

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

std::vector<CriticalStep> CriticalPath(const RunTrace& run) {
  std::vector<CriticalStep> path;
  if (run.tasks.empty()) return path;
  std::map<std::string, int> stage_index;
  for (size_t i = 0; i < run.stage_order.size(); ++i)
    stage_index[run.stage_order[i]] = static_cast<int>(i);
  std::multimap<std::string, size_t> by_id;
  for (size_t i = 0; i < run.tasks.size(); ++i) by_id.emplace(run.tasks[i].id, i);

  // The last task to end; a skipped task did no work, so it only ends the
  // path when every task was skipped.
  size_t current = 0;
  for (size_t i = 1; i < run.tasks.size(); ++i) {
    const TaskRun& t = run.tasks[i];
    const TaskRun& c = run.tasks[current];
    bool t_skipped = t.status == TaskStatus::kSkipped;
    bool c_skipped = c.status == TaskStatus::kSkipped;
    if (t_skipped != c_skipped ? c_skipped : t.end_us > c.end_us) current = i;
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

  p.critical_path = CriticalPath(median);
  if (!p.critical_path.empty())
    p.critical_path_ms = p.critical_path.back().start_ms + p.critical_path.back().duration_ms;
  return p;
}

// ---------------------------------------------------------------- budgets

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

namespace {

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
  auto parsed = ParseJson(json_text, file);
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
                           [&](const StageStats& s) { return s.name == name; });
    if (it == profile.stages.end()) {
      out.push_back({"stage " + name + " end", metric, std::nan(""), allowed,
                     "budgeted stage not recorded in any run"});
      continue;
    }
    check("stage " + name + " end", Pick(it->end_ms, budget.metric), allowed);
  }
  for (const auto& [id, allowed] : budget.tasks) {
    auto it = std::find_if(profile.tasks.begin(), profile.tasks.end(),
                           [&](const TaskStats& t) { return t.id == id; });
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

// ---------------------------------------------------------------- baselines

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
  auto parsed = ParseJson(json_text, file);
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
  if (!r.String("app", &b.app) || !ReadDistribution(r, root, "launch_ms", &b.launch_ms))
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
  for (const auto& [id, d] : baseline.tasks) {
    if (std::none_of(profile.tasks.begin(), profile.tasks.end(),
                     [&](const TaskStats& t) { return t.id == id && t.duration_ms.n > 0; }))
      note("task " + id + ": in the baseline, not recorded now");
  }
  return out;
}

// ---------------------------------------------------------------- text

namespace {

// Printable for a terminal: control characters become '?'.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// Cuts the middle out of names longer than `width`.
std::string Fit(std::string_view s, size_t width) {
  std::string p = Printable(s);
  if (p.size() <= width || width < 8) return p;
  size_t keep = width - 3;
  return p.substr(0, keep - keep / 2) + "..." + p.substr(p.size() - keep / 2);
}

// Aligned columns: text columns left, numeric columns right.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, std::vector<bool> numeric)
      : numeric_(std::move(numeric)) {
    rows_.push_back(std::move(header));
  }
  void Row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(const std::string& indent = "  ") const {
    std::vector<size_t> width(numeric_.size(), 0);
    for (const auto& r : rows_)
      for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    std::string out;
    for (const auto& r : rows_) {
      std::string line = indent;
      for (size_t c = 0; c < r.size(); ++c) {
        if (c > 0) line += "  ";
        std::string pad(width[c] - r[c].size(), ' ');
        line += numeric_[c] ? pad + r[c] : r[c] + (c + 1 < r.size() ? pad : "");
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<bool> numeric_;
  std::vector<std::vector<std::string>> rows_;
};

constexpr size_t kNameWidth = 44;

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

}  // namespace

std::string SummaryText(const Profile& p, size_t max_tasks) {
  std::string out;
  out += Printable(p.app) + " " + Printable(p.app_version) + ": " + std::to_string(p.runs) +
         " run(s), launch p50 " + Ms(p.launch_ms.p50) + " ms  p90 " + Ms(p.launch_ms.p90) +
         " ms  max " + Ms(p.launch_ms.max) + " ms\n";
  std::string median = p.median_file.substr(p.median_file.find_last_of('/') + 1);
  out += "median run: " + Printable(median) + " (launch " + Ms(p.launch_ms.p50) + " ms)";
  if (p.failed_runs > 0)
    out += "; " + std::to_string(p.failed_runs) + " run(s) report a failed launch";
  out += "\n\nstages (ms; end = since launch start)\n";
  TextTable stages({"stage", "end p50", "end p90", "end max", "dur p50", "dur p90", "dur max"},
                   {false, true, true, true, true, true, true});
  for (const auto& s : p.stages)
    stages.Row({Fit(s.name, kNameWidth), Ms(s.end_ms.p50), Ms(s.end_ms.p90), Ms(s.end_ms.max),
                Ms(s.duration_ms.p50), Ms(s.duration_ms.p90), Ms(s.duration_ms.max)});
  out += stages.Render();

  out += "\ncritical path of the median run (ms; ends at " + Ms(p.critical_path_ms) + ")\n";
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
  for (size_t i = 0; i < shown; ++i) {
    const TaskStats& t = *slowest[i];
    auto ms = [&](const Distribution& d, double v) { return d.n == 0 ? "-" : Ms(v); };
    tasks.Row({Fit(t.id, kNameWidth), Fit(t.stage, 16), std::to_string(t.runs),
               ms(t.duration_ms, t.duration_ms.p50), ms(t.duration_ms, t.duration_ms.p90),
               ms(t.duration_ms, t.duration_ms.max), ms(t.queue_wait_ms, t.queue_wait_ms.p50),
               TaskFlags(t)});
  }
  out += tasks.Render();
  return out;
}

// ---------------------------------------------------------------- HTML

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

namespace {

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

void AppendTimeline(std::string& h, const Profile& p, const RunTrace& run) {
  constexpr double kWidth = 1360, kLabelW = 150, kRight = 24, kLaneH = 28, kLaneGap = 4;
  constexpr double kTop = 64;  // axis labels + stage band above the lanes
  const double plot_x = kLabelW + 10, plot_w = kWidth - plot_x - kRight;
  double t0 = 0, t1 = UsToMs(run.end_us());
  for (const auto& t : run.tasks) t0 = std::min(t0, UsToMs(t.start_us));
  for (const auto& l : run.loads) t0 = std::min(t0, UsToMs(l.start_us));
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

  std::set<std::string> critical;
  for (const auto& s : p.critical_path) critical.insert(s.id);

  h += "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth) +
       "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(kWidth) + " " + Num(height) +
       "\" role=\"img\" aria-label=\"timeline of the median run\">\n";
  h += "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
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
    h += "<rect class=\"load\" x=\"" + Num(lx) + "\" y=\"" + Num(lane_y(l.tid) + kLaneH - 6) +
         "\" width=\"" + Num(lw) + "\" height=\"5\" data-bundle=\"" + HtmlEscape(l.bundle) +
         "\"><title>load " + HtmlEscape(l.bundle) + "\n" + Ms(UsToMs(l.end_us - l.start_us)) +
         " ms at " + Ms(UsToMs(l.start_us)) + " ms\ntrigger: " + HtmlEscape(l.trigger) +
         "</title></rect>";
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
    const ThreadInfo* thread = run.Thread(t.tid);
    std::string tip = HtmlEscape(t.id) + "\nstage " + HtmlEscape(t.stage) + " \xc2\xb7 " +
                      HtmlEscape(thread ? thread->name : "?") + " (posted to " +
                      HtmlEscape(t.target) + ")\n" + Ms(UsToMs(t.duration_us())) + " ms at " +
                      Ms(UsToMs(t.start_us)) + " ms, waited " + Ms(UsToMs(t.queue_wait_us)) +
                      " ms for a thread\nstatus " + TaskStatusName(t.status) +
                      (t.over_budget ? ", over its budget" : "");
    if (t.budget_ms > 0) tip += " (budget " + Ms(t.budget_ms) + " ms)";
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

// p50 [p90] max cells; "-" when nothing was measured (skipped in every run).
void AppendDistCells(std::string& h, const Distribution& d, bool p90 = true) {
  auto cell = [&](double v) { h += "<td class=\"num\">" + (d.n == 0 ? "-" : Ms(v)) + "</td>"; };
  cell(d.p50);
  if (p90) cell(d.p90);
  cell(d.max);
}

constexpr std::string_view kCss = R"css(
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
svg .load{fill:url(#hatch)}
svg .stage-marker{stroke:#c2410c;stroke-width:1.5;stroke-dasharray:5 3}svg .marker-label{fill:#9a3412;font-size:11px}
.bad{color:#b91c1c;font-weight:600}.ok{color:#15803d;font-weight:600}
)css";

}  // namespace

std::string ReportHtml(const Profile& p, const std::vector<RunTrace>& runs,
                       const std::vector<Violation>& violations) {
  ATRIUM_CHECK(p.median_run < runs.size(), "profile of other runs");
  const RunTrace& median = runs[p.median_run];
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Startup "
       "profile: " +
       HtmlEscape(p.app) + "</title>\n<style>";
  h += kCss;
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
       "class=\"mark\"></i>stage end</span></div>\n<div class=\"scroll\">";
  AppendTimeline(h, p, median);
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
       "to the last task to end, along what each task waited for: a dependency (after) or the "
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
         HtmlEscape(TaskFlags(t)) + "</td></tr>\n";
  }
  h += "</table></section>\n</body></html>\n";
  return h;
}

}  // namespace atrium::profile
