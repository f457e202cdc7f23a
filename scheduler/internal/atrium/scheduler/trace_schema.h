// The launch trace's vocabulary, in one place: the categories, event names,
// argument keys and metadata keys that the runtime writes into a Chrome
// trace (atrium/trace.h; the startup pipeline's stage and task events, the
// container's bundle-load slices and launch metadata) and that `atrium
// profile` reads back (startup_pipeline/profile/trace_reader.cc). A writer
// and the reader that disagree on a spelling fail profile_report_test's
// round trip of a real launch. docs/profiling.md documents the contract.
//
// Concurrency: constants only.
#ifndef ATRIUM_SCHEDULER_TRACE_SCHEMA_H_
#define ATRIUM_SCHEDULER_TRACE_SCHEMA_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::trace_schema {

// Event categories ("cat").
inline constexpr std::string_view kCatTask = "task";      // a startup task: "X" slice
inline constexpr std::string_view kCatStage = "stage";    // stage begin/end instants, a slice
inline constexpr std::string_view kCatBundle = "bundle";  // bundle loads, waits, swaps

// Event names. A stage's instants are "stage <name> begin|end"; a bundle's
// load slice is "load <bundle>" (reader: slices of kCatBundle so named).
inline constexpr std::string_view kStagePrefix = "stage ";
inline constexpr std::string_view kBeginSuffix = " begin";
inline constexpr std::string_view kEndSuffix = " end";
inline constexpr std::string_view kLoadPrefix = "load ";
inline constexpr std::string_view kWaitPrefix = "wait for ";
inline constexpr std::string_view kSwapPrefix = "live swap ";
inline std::string StageBegin(std::string_view stage) {
  return std::string(kStagePrefix) + std::string(stage) + std::string(kBeginSuffix);
}
inline std::string StageEnd(std::string_view stage) {
  return std::string(kStagePrefix) + std::string(stage) + std::string(kEndSuffix);
}

// "args" keys. Task slices: bundle, stage, thread, status, optional, after,
// over_budget (strings; the flags "true"/"false"), error (when failed), and
// the numbers queue_wait_us, budget_ms, weight. Stage events: stage. Bundle
// loads: bundle, trigger (optional).
inline constexpr std::string_view kArgBundle = "bundle";
inline constexpr std::string_view kArgStage = "stage";
inline constexpr std::string_view kArgThread = "thread";
inline constexpr std::string_view kArgStatus = "status";
inline constexpr std::string_view kArgOptional = "optional";
inline constexpr std::string_view kArgAfter = "after";  // comma-separated task ids
inline constexpr std::string_view kArgOverBudget = "over_budget";
inline constexpr std::string_view kArgError = "error";
inline constexpr std::string_view kArgQueueWaitUs = "queue_wait_us";
inline constexpr std::string_view kArgBudgetMs = "budget_ms";
inline constexpr std::string_view kArgWeight = "weight";
// CPU time of the task's thread while it ran (µs; optional): its duration
// minus the time it blocked or waited to be scheduled.
inline constexpr std::string_view kArgCpuUs = "cpu_us";
inline constexpr std::string_view kArgTrigger = "trigger";

// Task statuses ("status").
inline constexpr std::string_view kStatusOk = "ok";
inline constexpr std::string_view kStatusFailed = "failed";
inline constexpr std::string_view kStatusSkipped = "skipped";

// The track the pipeline's stage slices and stage marks are on: not a
// kernel thread id (those stay below 2^22), so no worker's track holds them.
inline constexpr uint32_t kStageTrackTid = 4'000'000'000u;
inline constexpr std::string_view kStageTrackName = "stages";

// "otherData" keys (Trace::SetMetadata): all strings.
inline constexpr std::string_view kMetaApp = "app";
inline constexpr std::string_view kMetaAppVersion = "app_version";
inline constexpr std::string_view kMetaStages = "stages";       // comma-separated, in order
inline constexpr std::string_view kMetaLaunchMs = "launch_ms";  // a number, as text
inline constexpr std::string_view kMetaResult = "result";       // "ok" | "failed: <why>"
// CPUs the process may run on (its affinity mask), as text; optional.
inline constexpr std::string_view kMetaCpus = "cpus";

}  // namespace atrium::trace_schema

#endif  // ATRIUM_SCHEDULER_TRACE_SCHEMA_H_
