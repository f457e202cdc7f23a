// A checker of Chrome Trace Event Format files, as the runtime writes them
// (`atrium run --trace`): the JSON Object form with a "traceEvents" array;
// every event an object with a one-letter "ph" of a known phase; complete
// ("X") and instant ("i"/"I") events with a string "name", integer "pid" and
// "tid", and a non-negative number "ts" (and "dur" for "X"); instants' scope
// "s" one of g, p, t; metadata ("M") events naming a thread or process with
// args.name; "args" an object where present. And on every track (pid, tid)
// the complete slices nest properly: a slice that starts inside another
// ends inside it too (to the microsecond).
#ifndef ATRIUM_TESTS_TESTING_TRACE_CHECK_H_
#define ATRIUM_TESTS_TESTING_TRACE_CHECK_H_

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace atrium::testing {

// "" when `json_text` is a well-formed trace; otherwise the first problem,
// naming the event ("traceEvents/12: ...").
inline std::string CheckTraceEvents(const std::string& json_text) {
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(json_text, ec);
  if (ec) return "not JSON: " + ec.message();
  if (!root.is_object()) return "the trace is not a JSON object";
  const boost::json::value* events = root.as_object().if_contains("traceEvents");
  if (events == nullptr || !events->is_array()) return "no traceEvents array";
  struct Slice {
    double ts, end;
    size_t index;
  };
  std::map<std::pair<int64_t, int64_t>, std::vector<Slice>> tracks;
  const boost::json::array& list = events->as_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "traceEvents/" + std::to_string(i) + ": ";
    if (!list[i].is_object()) return where + "not an object";
    const boost::json::object& e = list[i].as_object();
    const boost::json::value* ph = e.if_contains("ph");
    if (ph == nullptr || !ph->is_string() || ph->as_string().size() != 1) {
      return where + "\"ph\" must be a one-letter string";
    }
    const char phase = ph->as_string()[0];
    if (std::string("BEXiIMCbnesftPOND").find(phase) == std::string::npos) {
      return where + "unknown phase '" + std::string(1, phase) + "'";
    }
    auto integer = [&](const char* key, int64_t* out) {
      const boost::json::value* v = e.if_contains(key);
      if (v == nullptr) return false;
      if (v->is_int64()) {
        *out = v->as_int64();
        return true;
      }
      if (v->is_uint64()) {
        *out = static_cast<int64_t>(v->as_uint64());
        return true;
      }
      return false;
    };
    auto number = [&](const char* key, double* out) {
      const boost::json::value* v = e.if_contains(key);
      if (v == nullptr || !(v->is_number())) return false;
      *out = v->to_number<double>();
      return true;
    };
    const boost::json::value* name = e.if_contains("name");
    if (name == nullptr || !name->is_string()) return where + "\"name\" must be a string";
    if (const boost::json::value* args = e.if_contains("args"); args && !args->is_object()) {
      return where + "\"args\" must be an object";
    }
    int64_t pid = 0, tid = 0;
    if (!integer("pid", &pid) || !integer("tid", &tid)) {
      return where + "\"pid\" and \"tid\" must be integers";
    }
    if (phase == 'M') {
      const std::string_view n = name->as_string();
      if (n != "thread_name" && n != "process_name" && n != "thread_sort_index" &&
          n != "process_sort_index" && n != "process_labels") {
        return where + "unknown metadata event '" + std::string(n) + "'";
      }
      const boost::json::value* args = e.if_contains("args");
      if ((n == "thread_name" || n == "process_name") &&
          (args == nullptr || !args->as_object().if_contains("name") ||
           !args->as_object().at("name").is_string())) {
        return where + std::string(n) + " needs args.name, a string";
      }
      continue;
    }
    double ts = 0;
    if (!number("ts", &ts) || ts < 0) return where + "\"ts\" must be a number >= 0";
    if (phase == 'i' || phase == 'I') {
      if (const boost::json::value* s = e.if_contains("s")) {
        if (!s->is_string() ||
            (s->as_string() != "g" && s->as_string() != "p" && s->as_string() != "t")) {
          return where + "an instant's \"s\" must be \"g\", \"p\" or \"t\"";
        }
      }
    }
    if (phase == 'X') {
      double dur = 0;
      if (!number("dur", &dur) || dur < 0) return where + "\"dur\" must be a number >= 0";
      tracks[{pid, tid}].push_back({ts, ts + dur, i});
    }
  }
  for (auto& [track, slices] : tracks) {
    std::stable_sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
      return a.ts != b.ts ? a.ts < b.ts : a.end > b.end;
    });
    std::vector<Slice> open;
    for (const Slice& s : slices) {
      while (!open.empty() && open.back().end <= s.ts) open.pop_back();
      if (!open.empty() && s.end > open.back().end) {
        return "traceEvents/" + std::to_string(s.index) + " (tid " + std::to_string(track.second) +
               ") starts inside traceEvents/" + std::to_string(open.back().index) + " but ends " +
               std::to_string(s.end - open.back().end) + " us after it";
      }
      open.push_back(s);
    }
  }
  return "";
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_TESTING_TRACE_CHECK_H_
