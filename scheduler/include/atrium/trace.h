// Trace: an in-process recorder of timeline events written as Chrome Trace
// Event JSON (opens in Perfetto and chrome://tracing), what `atrium
// profile` collects from each run.
//
// Off by default: Trace::Active() is null and recording costs one relaxed
// load. Trace::Start() installs a process-wide recorder; the scheduler
// names its threads in it, the startup pipeline records a slice per task
// (args: bundle, stage, queue_wait_us, budget_ms, status), stage markers
// and bundle-load slices.
//
// Format written (docs/profiling.md has the details):
//   {"traceEvents":[
//     {"ph":"M","name":"process_name","pid":P,"args":{"name":"atrium"}},
//     {"ph":"M","name":"thread_name","pid":P,"tid":T,"args":{"name":"io-0"}},
//     {"ph":"X","name":"com.b:task","cat":"task","pid":P,"tid":T,"ts":us,"dur":us,"args":{...}},
//     {"ph":"i","name":"stage first_frame begin","cat":"stage","s":"g","pid":P,"tid":T,"ts":us,
//      "args":{"stage":"first_frame"}},
//     ...],
//    "displayTimeUnit":"ms","otherData":{"app":...,"launch_ms":...}}
// Timestamps are microseconds since Trace::Start().
//
// Concurrency: all methods are thread-safe; events are appended under a
// mutex (tracing is for profiling runs, not the hot path of production).
#ifndef ATRIUM_TRACE_H_
#define ATRIUM_TRACE_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct TraceEvent {
  char phase = 'X';  // 'X' complete slice, 'i' instant, 'M' metadata
  std::string name;
  std::string category;  // "task", "stage", "bundle", "launch", ...
  uint32_t tid = 0;
  int64_t ts_us = 0;
  int64_t dur_us = 0;
  std::vector<std::pair<std::string, std::string>> args;  // string values
  std::vector<std::pair<std::string, double>> num_args;   // numeric values
};

class ATRIUM_EXPORT Trace {
 public:
  using Clock = std::chrono::steady_clock;

  // Installs a recorder (replacing none); returns it. Not owned by the caller.
  static Trace* Start();
  // The active recorder or nullptr.
  static Trace* Active();

  // Kernel thread id of the caller.
  static uint32_t CurrentTid();

  int64_t NowUs() const;
  int64_t ToUs(Clock::time_point t) const;
  void NameThread(uint32_t tid, std::string_view name);
  void Add(TraceEvent event);
  void Instant(std::string_view name, std::string_view category,
               std::vector<std::pair<std::string, std::string>> args = {});
  void SetMetadata(std::string_view key, std::string_view value);

  std::vector<TraceEvent> Events() const;
  std::string ToJson() const;
  // Atomic write (tmp + rename).
  Status WriteJson(const std::string& path) const;

 private:
  Trace();
  Clock::time_point start_;
  mutable std::mutex mu_;
  std::vector<TraceEvent> events_;                              // guarded by mu_
  std::vector<std::pair<uint32_t, std::string>> thread_names_;  // guarded by mu_
  std::vector<std::pair<std::string, std::string>> metadata_;   // guarded by mu_
};

// Records a complete slice from construction to destruction when tracing is on.
class ATRIUM_EXPORT TraceSlice {
 public:
  TraceSlice(std::string_view name, std::string_view category);
  ~TraceSlice();
  void Arg(std::string_view key, std::string_view value);
  void Arg(std::string_view key, double value);
  TraceSlice(const TraceSlice&) = delete;
  TraceSlice& operator=(const TraceSlice&) = delete;

 private:
  Trace* trace_;
  TraceEvent event_;
  Trace::Clock::time_point begin_;
};

}  // namespace atrium

#endif  // ATRIUM_TRACE_H_
