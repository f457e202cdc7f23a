// StartupPipeline: the staged task graph of a launch.
//
// Every resolved bundle contributes startup tasks in its manifest (id, stage,
// after, thread, priority, weight, optional, budget_ms). Build() validates
// the whole graph before anything runs; Start() runs it on a Scheduler:
//
//  1. Stages run in order (default boot, framework, first_frame, post_frame,
//     idle). A stage begins when the previous one ended and ends when all its
//     required tasks ended. Tasks of a stage become ready only once it began
//     and all their `after` tasks ended.
//  2. Ready tasks are ordered by critical path: the task with the longest
//     remaining weighted path to the end of the launch runs first (not the
//     first to become ready). The pipeline keeps at most as many tasks in
//     flight per target ("main" or a pool) as it has threads, so this order
//     is the order they start.
//  3. A failed optional task is reported; a task after it runs only when it
//     says `run_after_failure`, else it is skipped. A failed (or skipped)
//     required task fails the launch: nothing new starts, running tasks end,
//     result() names the task, its bundle and the reason. With
//     StartupFailurePolicy::isolate_bundles, only a critical one does; any
//     other isolates its bundle: the bundle's remaining tasks, and those of
//     the bundles that require it, are skipped with the reason
//     (FailedBundles()), and the launch goes on.
//  4. A task running longer than its budget is reported (over_budget).
//  5. When the last stage (the idle stage) begins, the scheduler's startup
//     fence is lifted (Scheduler::MarkStartupIdle).
//
// Wait-for: WaitForStage / WaitForTask block until done or the timeout. A
// wait on the main thread for something that still needs a main-thread task
// would never end (the loop is blocked by the waiter): it is detected and
// returned as an error naming those tasks, not a deadlock.
//
// Tracing: with Trace::Active(), one slice per task (args: bundle, stage,
// thread, status, optional, after, over_budget; queue_wait_us, budget_ms,
// weight), one slice and begin/end instants per stage.
//
// Concurrency: all methods are thread-safe. The runner is called on the
// task's thread (the main loop for "main" tasks, a pool thread otherwise).
#ifndef ATRIUM_STARTUP_PIPELINE_H_
#define ATRIUM_STARTUP_PIPELINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/manifest.h"
#include "atrium/result.h"
#include "atrium/scheduler.h"

namespace atrium {

// One node: a task declared by `bundle`.
struct StartupTaskSpec {
  std::string bundle;
  StartupTaskDecl decl;
};

enum class StartupTaskState { kPending, kReady, kRunning, kOk, kFailed, kSkipped };
ATRIUM_EXPORT const char* StartupTaskStateName(StartupTaskState s);

struct StartupTaskReport {
  std::string id;  // "bundle:task"
  std::string bundle;
  std::string stage;
  std::string thread;
  bool optional = false;
  StartupTaskState state = StartupTaskState::kPending;
  std::string error;         // why failed / skipped
  double ready_ms = -1;      // since Start(); -1 = never
  double start_ms = -1;      // since Start(); -1 = never ran
  double queue_wait_ms = 0;  // ready -> start
  double run_ms = 0;
  double budget_ms = 0;
  bool over_budget = false;
  uint64_t rank = 0;         // critical-path length from this task (weights)
  uint32_t start_order = 0;  // 1-based order in which tasks started
};

// How a failed required task spreads (StartupPipeline::Build).
struct StartupFailurePolicy {
  // false: it fails the launch. true: it isolates its bundle, unless the
  // task is critical.
  bool isolate_bundles = false;
  // Bundle names (their required tasks) and "bundle:task" ids whose failure
  // (or skip) fails the launch even when bundles are isolated.
  std::vector<std::string> critical;
  // Bundle -> the bundles that require it: isolation spreads along it.
  std::map<std::string, std::vector<std::string>> dependents;
};

// A bundle isolated during the launch.
struct FailedBundle {
  std::string bundle;
  std::string reason;  // "startup task com.x:y failed: ..." / "it requires com.x, which failed"
  std::string task;    // the task whose failure isolated it ("bundle:task"); "" when spread
};

struct StageReport {
  std::string name;
  double begin_ms = -1;  // since Start()
  double end_ms = -1;
};

class ATRIUM_EXPORT StartupPipeline {
 public:
  // Runs one task on its thread; returns its outcome. The container's runner
  // loads the task's bundle (first task of that bundle) and calls the
  // handler the bundle registered for the task id.
  using Runner = std::function<Status(const StartupTaskSpec& task)>;
  using StageListener = std::function<void(std::string_view stage)>;

  // Validates the graph: unknown stages or threads, duplicate ids, unknown
  // `after` ids, dependencies on a later stage and cycles (printed as
  // "a:x -> b:y -> a:x") are errors naming the bundles involved.
  // `threads` lists the valid targets ("main" and the pool names);
  // `held_pools` those held by the startup fence, which only tasks of the
  // idle stage may use (as for best_effort tasks): anywhere else they would
  // wait for a stage that cannot begin.
  static Result<std::unique_ptr<StartupPipeline>> Build(std::vector<std::string> stages,
                                                        std::vector<StartupTaskSpec> tasks,
                                                        std::vector<std::string> threads,
                                                        std::vector<std::string> held_pools = {},
                                                        StartupFailurePolicy policy = {});
  virtual ~StartupPipeline() = default;

  // Called when `stage` ends (e.g. "first_frame": the home page is shown),
  // on the thread that ended it. Register before Start.
  virtual void OnStageEnd(std::string_view stage, StageListener listener) = 0;
  // Starts running on `scheduler` (which must outlive the pipeline's run).
  virtual Status Start(Scheduler& scheduler, Runner runner) = 0;

  // True once every stage ended or the launch failed and nothing runs.
  virtual bool finished() const = 0;
  // True once the last (idle) stage began, or the pipeline finished: the
  // launch's required work is done; optional idle-stage work may still run.
  virtual bool idle_reached() const = 0;
  // Ok when finished and every required task succeeded; the failure otherwise.
  virtual Status result() const = 0;
  virtual std::string current_stage() const = 0;

  virtual Status WaitForStage(std::string_view stage, std::chrono::milliseconds timeout) = 0;
  virtual Status WaitForTask(std::string_view id, std::chrono::milliseconds timeout) = 0;
  virtual Status WaitUntilFinished(std::chrono::milliseconds timeout) = 0;

  virtual const std::vector<std::string>& stages() const = 0;
  virtual std::vector<StartupTaskReport> Tasks() const = 0;
  virtual std::vector<StageReport> Stages() const = 0;
  // The bundles isolated so far, in the order they failed.
  virtual std::vector<FailedBundle> FailedBundles() const = 0;
  // Ids on the longest weighted path through the graph (stage barriers
  // included), first to last: what to shorten to launch faster.
  virtual std::vector<std::string> StaticCriticalPath() const = 0;
};

}  // namespace atrium

#endif  // ATRIUM_STARTUP_PIPELINE_H_
