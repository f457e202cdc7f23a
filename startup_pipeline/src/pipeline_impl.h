// PipelineImpl and what it is made of: the private declarations the startup
// pipeline's rooms share (the contract is atrium/startup_pipeline.h). Each
// room defines its part:
//   startup_pipeline.cc  building the graph: Build's validation, the
//                        pipeline's construction, Analyze (cycles, ranks)
//   pipeline_run.cc      running it: Start, stages beginning and ending,
//                        readiness, dispatch to the scheduler, a task's run
//                        and end, skips, the failure and isolation policy,
//                        stage listeners, the trace slice of each task
//   pipeline_report.cc   what it tells: its state, the Wait* calls (and
//                        their main-thread deadlock checks), the task and
//                        stage reports, isolated bundles, the critical path
//
// Concurrency: mu_ guards the run state (a Node's run fields and the members
// marked so); a Node's spec, id, stage, edges and rank are fixed once Build
// returns. Stage listeners and the runner are called, and tasks posted, with
// mu_ released; executors_mu_ guards the executor cache.
#ifndef ATRIUM_STARTUP_PIPELINE_SRC_PIPELINE_IMPL_H_
#define ATRIUM_STARTUP_PIPELINE_SRC_PIPELINE_IMPL_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <unordered_map>

#include "atrium/base/clock.h"
#include "atrium/startup_pipeline.h"

namespace atrium::internal::startup {

using Clock = std::chrono::steady_clock;

inline Error PipelineError(ErrorCode code, std::string message, std::string bundle = {}) {
  Error e = MakeError(code, std::move(message));
  e.bundle = std::move(bundle);
  return e;
}

inline std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

inline TaskPriority PriorityOf(const std::string& p) {
  if (p == "user_blocking") return TaskPriority::kUserBlocking;
  if (p == "best_effort") return TaskPriority::kBestEffort;
  return TaskPriority::kUserVisible;
}

struct Node {
  StartupTaskSpec spec;
  std::string id;  // bundle:task
  size_t stage = 0;
  std::vector<size_t> deps;        // explicit `after`
  std::vector<size_t> dependents;  // reverse of deps
  uint64_t rank = 0;
  // Run state (guarded by PipelineImpl::mu_).
  StartupTaskState state = StartupTaskState::kPending;
  size_t deps_left = 0;
  bool dep_failed = false;  // an optional task it follows failed
  std::string failed_dep;
  std::string error;
  Clock::time_point ready_at{}, start_at{}, end_at{};
  int64_t cpu_ns = -1;  // the task's thread CPU time while it ran; -1: not measured
  bool over_budget = false;
  uint32_t start_order = 0;
};

inline bool Terminal(StartupTaskState s) {
  return s == StartupTaskState::kOk || s == StartupTaskState::kFailed ||
         s == StartupTaskState::kSkipped;
}

class PipelineImpl final : public StartupPipeline {
 public:
  // startup_pipeline.cc
  PipelineImpl(std::vector<std::string> stages, std::vector<Node> nodes,
               StartupFailurePolicy policy);
  ~PipelineImpl() override;
  Status Analyze();
  // Before Start only (SetPipelineClockForTesting).
  void SetClock(const ::atrium::internal::Clock& clock) { time_ = &clock; }

  // pipeline_run.cc
  void OnStageEnd(std::string_view stage, StageListener listener) override;
  Status Start(Scheduler& scheduler, Runner runner) override;

  // pipeline_report.cc
  bool finished() const override;
  bool idle_reached() const override;
  Status result() const override;
  std::string current_stage() const override;
  Status WaitForStage(std::string_view stage, std::chrono::milliseconds timeout) override;
  Status WaitForTask(std::string_view id, std::chrono::milliseconds timeout) override;
  Status WaitUntilFinished(std::chrono::milliseconds timeout) override;
  const std::vector<std::string>& stages() const override;
  std::vector<StartupTaskReport> Tasks() const override;
  std::vector<StageReport> Stages() const override;
  std::vector<FailedBundle> FailedBundles() const override;
  std::vector<std::string> StaticCriticalPath() const override;

 private:
  struct ByRank {
    const std::vector<Node>* nodes;
    bool operator()(size_t a, size_t b) const {
      const Node& x = (*nodes)[a];
      const Node& y = (*nodes)[b];
      if (x.rank != y.rank) return x.rank < y.rank;  // max-heap on rank
      return a > b;                                  // then declaration order
    }
  };
  using ReadyQueue = std::priority_queue<size_t, std::vector<size_t>, ByRank>;

  struct ReadyQueues {
    explicit ReadyQueues(const std::vector<Node>* nodes) : nodes_(nodes) {}
    ReadyQueue& operator[](const std::string& target) {
      auto it = queues_.find(target);
      if (it == queues_.end()) it = queues_.emplace(target, ReadyQueue(ByRank{nodes_})).first;
      return it->second;
    }
    std::map<std::string, ReadyQueue> queues_;
    const std::vector<Node>* nodes_;
  };

  struct DropGuard;  // pipeline_run.cc

  // The injected clock's steady time (the steady clock unless a test set one).
  Clock::time_point Now() const {
    return Clock::time_point(std::chrono::nanoseconds(time_->SteadyNs()));
  }

  // pipeline_report.cc
  static double Ms(Clock::duration d);
  std::string CurrentStageLocked() const;
  std::vector<std::string> MainThreadAncestorsLocked(size_t t) const;

  // pipeline_run.cc
  void BeginStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire);
  void EndStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire);
  void MakeReadyLocked(size_t n, Clock::time_point now);
  void CollectDispatchLocked(std::vector<size_t>* out);
  void Dispatch(const std::vector<size_t>& tasks);
  Result<std::shared_ptr<Executor>> ExecutorFor(const std::string& target,
                                                const std::string& bundle);
  void RunTask(size_t n);
  void Finish(size_t n, Clock::time_point begin, Clock::time_point end, Status s,
              int64_t cpu_ns = -1);
  void SkipLocked(size_t n, std::string reason);
  bool CriticalLocked(const Node& node) const;
  void RequiredFailedLocked(size_t n, const std::string& what);
  void IsolateLocked(const std::string& bundle, const std::string& reason, const std::string& task);
  void CompleteLocked(size_t n, std::vector<std::pair<size_t, StageListener>>* fire);
  void MaybeFinishLocked();
  void Record(const Node& node, std::string_view status);
  void Fire(std::vector<std::pair<size_t, StageListener>> fire);
  void FireDispatchAndLeave(std::vector<std::pair<size_t, StageListener>> fire,
                            const std::vector<size_t>& dispatch);

  const std::vector<std::string> stage_names_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, size_t> by_id_;
  std::vector<std::vector<size_t>> stage_tasks_;
  std::vector<uint64_t> stage_rank_;  // longest path from the start of stage k

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;   // guarded by mu_
  bool finished_ = false;  // guarded by mu_
  const StartupFailurePolicy policy_;
  std::optional<Error> failure_;                                  // guarded by mu_
  std::map<std::string, FailedBundle> isolated_;                  // guarded by mu_
  std::vector<std::string> isolated_order_;                       // guarded by mu_
  std::vector<std::pair<size_t, StageListener>> skip_fire_;       // guarded by mu_
  size_t current_ = 0;                                            // guarded by mu_
  std::vector<size_t> stage_required_left_;                       // guarded by mu_
  std::vector<StageReport> stage_reports_;                        // guarded by mu_
  ReadyQueues ready_{&nodes_};                                    // guarded by mu_
  std::map<std::string, int> in_flight_;                          // guarded by mu_
  std::map<std::string, int> capacity_;                           // guarded by mu_
  int in_flight_total_ = 0;                                       // guarded by mu_
  uint32_t started_count_ = 0;                                    // guarded by mu_
  std::vector<std::pair<std::string, StageListener>> listeners_;  // guarded by mu_
  Clock::time_point start_at_;
  std::vector<Clock::time_point> stage_begin_at_;  // guarded by mu_
  // Adds an instant mark of `stage` on the stage track (tracing on).
  void StageMarkLocked(std::string name, size_t k, Clock::time_point at);
  // Where time comes from; set before Start (SetPipelineClockForTesting).
  const ::atrium::internal::Clock* time_ = &::atrium::internal::RealClock();
  Scheduler* scheduler_ = nullptr;
  Runner runner_;

  std::mutex executors_mu_;
  std::unordered_map<std::string, std::shared_ptr<Executor>>
      executors_;  // guarded by executors_mu_
};

}  // namespace atrium::internal::startup

#endif  // ATRIUM_STARTUP_PIPELINE_SRC_PIPELINE_IMPL_H_
