// What the rooms of the profile report share (profile_report.h is the
// API): number formatting, messages that quote names from a trace safely,
// the JSON reading helpers (FieldReader remembers the first problem with its
// JSON pointer), list splitting, natural ordering, and the two helpers one
// room defines for another (Pick: budgets, baselines; TaskFlags: text, HTML).
//
// Concurrency: free functions over values; FieldReader is a value over a
// borrowed object, used on one thread.
#ifndef ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_UTIL_H_
#define ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_UTIL_H_

#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/result.h"
#include "profile_report.h"

namespace atrium::profile {

namespace json = boost::json;

std::string Format(const char* fmt, double v);
std::string Ms(double ms);  // "12.3"
inline double UsToMs(int64_t us) { return static_cast<double>(us) / 1000.0; }
// A JSON pointer reference token: '~' -> "~0", '/' -> "~1".
std::string PointerToken(std::string_view key);
// Names from traces quoted in messages: printable ASCII kept, the rest
// escaped, long names cut, so a hostile trace cannot garble a terminal.
std::string Quote(std::string_view s);
// "a number", "an object", ...: base's wording, as every strict reader says it.
const char* KindName(const json::value& v);
bool AsNumber(const json::value& v, double* out);  // finite numbers only
Error FileError(ErrorCode code, const std::string& file, std::string pointer, std::string message);
// Parses a whole JSON document with base's strict reader: duplicate keys,
// more than `max_bytes` or a nesting deeper than 64 are refused; a syntax
// error carries its byte offset, line and column and the JSON pointer reached.
inline constexpr size_t kMaxTraceBytes = size_t{256} << 20;
inline constexpr size_t kMaxSettingsBytes = size_t{16} << 20;  // budgets, baselines
Result<json::value> ParseJson(std::string_view text, const std::string& file, size_t max_bytes);
Result<std::string> ReadFile(const std::string& path);
// "a, b,,c " -> {"a", "b", "c"}.
std::vector<std::string> SplitList(std::string_view s);
// "io-2" < "io-10": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b);
// The value of `m` in `d` (budget.cc).
double Pick(const Distribution& d, Metric m);
// "1 failed 2 over budget" (summary_text.cc).
std::string TaskFlags(const TaskStats& t);

// Printable for a terminal: control characters become '?'.
std::string Printable(std::string_view s);
// Cuts the middle out of names longer than `width`.
std::string Fit(std::string_view s, size_t width);

// Aligned columns for the text summaries: text columns left, numeric
// columns right.
class TextTable {
 public:
  TextTable(std::vector<std::string> header, std::vector<bool> numeric);
  void Row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(const std::string& indent = "  ") const;

 private:
  std::vector<bool> numeric_;
  std::vector<std::vector<std::string>> rows_;
};

// The SVG timeline of one run (report_html.cc; the A/B report draws two on
// one time scale).
struct TimelineOptions {
  std::string svg_id = "timeline";
  std::string label = "timeline";  // aria-label
  std::set<std::string> critical;  // task ids outlined as the critical path
  // Task ids drawn as changed, with the class to add ("slower", "faster").
  std::map<std::string, std::string> changed;
  std::optional<double> from_ms, to_ms;  // widen the time axis to at least this
};
void AppendTimeline(std::string& h, const RunTrace& run, const TimelineOptions& options);
// The report pages' style sheet.
extern const std::string_view kReportCss;
// A stable colour per bundle name.
std::string BundleColour(std::string_view bundle);

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

}  // namespace atrium::profile

#endif  // ATRIUM_STARTUP_PIPELINE_PROFILE_PROFILE_UTIL_H_
