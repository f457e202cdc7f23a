#include "atrium/startup_pipeline.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "atrium/base/log.h"
#include "atrium/thread_activity.h"
#include "atrium/trace.h"

namespace atrium {
namespace {

using Clock = std::chrono::steady_clock;

Error PipelineError(ErrorCode code, std::string message, std::string bundle = {}) {
  Error e = MakeError(code, std::move(message));
  e.bundle = std::move(bundle);
  return e;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

TaskPriority PriorityOf(const std::string& p) {
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
  bool over_budget = false;
  uint32_t start_order = 0;
};

bool Terminal(StartupTaskState s) {
  return s == StartupTaskState::kOk || s == StartupTaskState::kFailed ||
         s == StartupTaskState::kSkipped;
}

class PipelineImpl final : public StartupPipeline {
 public:
  PipelineImpl(std::vector<std::string> stages, std::vector<Node> nodes,
               StartupFailurePolicy policy)
      : stage_names_(std::move(stages)), nodes_(std::move(nodes)), policy_(std::move(policy)) {
    for (size_t i = 0; i < nodes_.size(); ++i) by_id_.emplace(nodes_[i].id, i);
    stage_tasks_.resize(stage_names_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) stage_tasks_[nodes_[i].stage].push_back(i);
    stage_reports_.resize(stage_names_.size());
    for (size_t k = 0; k < stage_names_.size(); ++k) stage_reports_[k].name = stage_names_[k];
  }

  ~PipelineImpl() override {
    // Tasks in flight hold `this`: wait for them (the scheduler may be
    // running them on its threads).
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_total_ == 0; });
  }

  // Ranks and topological order; returns the cycle when there is one.
  Status Analyze() {
    // Iterative DFS over explicit deps: colour 0 new, 1 on stack, 2 done.
    std::vector<int> colour(nodes_.size(), 0);
    std::vector<size_t> topo;  // deps before dependents
    topo.reserve(nodes_.size());
    std::vector<size_t> parent(nodes_.size(), SIZE_MAX);
    for (size_t root = 0; root < nodes_.size(); ++root) {
      if (colour[root] != 0) continue;
      std::vector<std::pair<size_t, size_t>> stack{{root, 0}};
      colour[root] = 1;
      while (!stack.empty()) {
        auto& [n, next] = stack.back();
        if (next < nodes_[n].deps.size()) {
          size_t d = nodes_[n].deps[next++];
          if (colour[d] == 1) {
            // Cycle: d ... n -> d. Walk the stack from d.
            std::vector<std::string> cycle;
            std::vector<std::string> bundles;
            bool in = false;
            for (auto& [m, unused] : stack) {
              in = in || m == d;
              if (in) {
                cycle.push_back(nodes_[m].id);
                bundles.push_back(nodes_[m].spec.bundle);
              }
            }
            std::reverse(cycle.begin(), cycle.end());
            cycle.insert(cycle.begin(), nodes_[d].id);
            std::sort(bundles.begin(), bundles.end());
            bundles.erase(std::unique(bundles.begin(), bundles.end()), bundles.end());
            return PipelineError(ErrorCode::kValidation,
                                 "startup task cycle: " + Join(cycle, " -> ") +
                                     " (bundles: " + Join(bundles, ", ") + ")",
                                 bundles.front());
          }
          if (colour[d] == 0) {
            colour[d] = 1;
            stack.emplace_back(d, 0);
          }
        } else {
          colour[n] = 2;
          topo.push_back(n);
          stack.pop_back();
        }
      }
    }
    // Ranks, from the last stage backwards; inside a stage in reverse
    // topological order (dependents first).
    const size_t stages = stage_names_.size();
    stage_rank_.assign(stages + 1, 0);
    std::vector<std::vector<size_t>> topo_by_stage(stages);
    for (size_t n : topo) topo_by_stage[nodes_[n].stage].push_back(n);
    for (size_t k = stages; k-- > 0;) {
      uint64_t best = stage_rank_[k + 1];
      for (auto it = topo_by_stage[k].rbegin(); it != topo_by_stage[k].rend(); ++it) {
        Node& node = nodes_[*it];
        uint64_t after = node.spec.decl.optional ? 0 : stage_rank_[k + 1];
        for (size_t s : node.dependents) after = std::max(after, nodes_[s].rank);
        node.rank = node.spec.decl.weight + after;
        best = std::max(best, node.rank);
      }
      stage_rank_[k] = best;
    }
    return Status::Ok();
  }

  void OnStageEnd(std::string_view stage, StageListener listener) override {
    std::lock_guard lock(mu_);
    listeners_.emplace_back(std::string(stage), std::move(listener));
  }

  Status Start(Scheduler& scheduler, Runner runner) override {
    std::vector<size_t> dispatch;
    std::vector<std::pair<size_t, StageListener>> fire;
    {
      std::lock_guard lock(mu_);
      if (started_) return MakeError(ErrorCode::kState, "startup pipeline already started");
      started_ = true;
      scheduler_ = &scheduler;
      runner_ = std::move(runner);
      start_at_ = Clock::now();
      for (Node& n : nodes_) n.deps_left = n.deps.size();
      stage_required_left_.assign(stage_names_.size(), 0);
      for (const Node& n : nodes_) {
        if (!n.spec.decl.optional) ++stage_required_left_[n.stage];
      }
      for (const PoolStats& p : scheduler.Stats().pools) {
        capacity_[p.name] = p.name == "main" ? 1 : std::max(1, p.max_threads);
      }
      capacity_["main"] = 1;
      BeginStageLocked(0, &fire);
      CollectDispatchLocked(&dispatch);
    }
    Fire(fire);
    Dispatch(dispatch);
    return Status::Ok();
  }

  bool finished() const override {
    std::lock_guard lock(mu_);
    return finished_;
  }

  bool idle_reached() const override {
    std::lock_guard lock(mu_);
    return finished_ || stage_reports_.back().begin_ms >= 0;
  }

  Status result() const override {
    std::lock_guard lock(mu_);
    if (!finished_) return MakeError(ErrorCode::kState, "startup pipeline still running");
    if (failure_) return *failure_;
    return Status::Ok();
  }

  std::string current_stage() const override {
    std::lock_guard lock(mu_);
    if (current_ >= stage_names_.size()) return "done";
    return stage_names_[current_];
  }

  Status WaitForStage(std::string_view stage, std::chrono::milliseconds timeout) override {
    auto it = std::find(stage_names_.begin(), stage_names_.end(), stage);
    if (it == stage_names_.end()) {
      return MakeError(ErrorCode::kNotFound, "no startup stage '" + std::string(stage) + "'");
    }
    const size_t k = static_cast<size_t>(it - stage_names_.begin());
    std::unique_lock lock(mu_);
    auto done = [&] { return stage_reports_[k].end_ms >= 0 || failure_.has_value(); };
    if (!done() && scheduler_ != nullptr && scheduler_->IsMainThread()) {
      std::vector<std::string> main_tasks;
      for (size_t s = 0; s <= k; ++s) {
        for (size_t n : stage_tasks_[s]) {
          if (!Terminal(nodes_[n].state) && nodes_[n].spec.decl.thread == "main") {
            main_tasks.push_back(nodes_[n].id);
          }
        }
      }
      if (!main_tasks.empty()) {
        return MakeError(ErrorCode::kState,
                         "deadlock: waiting on the main thread for stage '" + std::string(stage) +
                             "', which still needs main-thread task(s) " + Join(main_tasks, ", "));
      }
    }
    if (!cv_.wait_for(lock, timeout, done)) {
      return MakeError(ErrorCode::kState, "timed out after " + std::to_string(timeout.count()) +
                                              " ms waiting for stage '" + std::string(stage) +
                                              "' (current: " + CurrentStageLocked() + ")");
    }
    if (stage_reports_[k].end_ms < 0) return *failure_;
    return Status::Ok();
  }

  Status WaitForTask(std::string_view id, std::chrono::milliseconds timeout) override {
    auto found = by_id_.find(std::string(id));
    if (found == by_id_.end()) {
      return MakeError(ErrorCode::kNotFound, "no startup task '" + std::string(id) + "'");
    }
    const size_t t = found->second;
    std::unique_lock lock(mu_);
    auto done = [&] { return Terminal(nodes_[t].state); };
    if (!done() && scheduler_ != nullptr && scheduler_->IsMainThread()) {
      std::vector<std::string> main_tasks = MainThreadAncestorsLocked(t);
      if (!main_tasks.empty()) {
        return MakeError(ErrorCode::kState,
                         "deadlock: waiting on the main thread for task '" + std::string(id) +
                             "', which still needs main-thread task(s) " + Join(main_tasks, ", "));
      }
    }
    if (!cv_.wait_for(lock, timeout, done)) {
      return MakeError(ErrorCode::kState, "timed out after " + std::to_string(timeout.count()) +
                                              " ms waiting for task '" + std::string(id) + "'");
    }
    if (nodes_[t].state != StartupTaskState::kOk) {
      return PipelineError(ErrorCode::kState,
                           "startup task '" + std::string(id) + "' " +
                               StartupTaskStateName(nodes_[t].state) + ": " + nodes_[t].error,
                           nodes_[t].spec.bundle);
    }
    return Status::Ok();
  }

  Status WaitUntilFinished(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return finished_; })) {
      return MakeError(ErrorCode::kState, "timed out after " + std::to_string(timeout.count()) +
                                              " ms waiting for the startup pipeline (stage " +
                                              CurrentStageLocked() + ")");
    }
    if (failure_) return *failure_;
    return Status::Ok();
  }

  const std::vector<std::string>& stages() const override { return stage_names_; }

  std::vector<StartupTaskReport> Tasks() const override {
    std::lock_guard lock(mu_);
    std::vector<StartupTaskReport> out;
    out.reserve(nodes_.size());
    for (const Node& n : nodes_) {
      StartupTaskReport r;
      r.id = n.id;
      r.bundle = n.spec.bundle;
      r.stage = stage_names_[n.stage];
      r.thread = n.spec.decl.thread;
      r.optional = n.spec.decl.optional;
      r.state = n.state;
      r.error = n.error;
      r.budget_ms = n.spec.decl.budget_ms;
      r.over_budget = n.over_budget;
      r.rank = n.rank;
      r.start_order = n.start_order;
      if (n.ready_at != Clock::time_point{}) r.ready_ms = Ms(n.ready_at - start_at_);
      if (n.start_at != Clock::time_point{}) {
        r.start_ms = Ms(n.start_at - start_at_);
        r.queue_wait_ms = Ms(n.start_at - n.ready_at);
        if (n.end_at != Clock::time_point{}) r.run_ms = Ms(n.end_at - n.start_at);
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<StageReport> Stages() const override {
    std::lock_guard lock(mu_);
    return stage_reports_;
  }

  std::vector<FailedBundle> FailedBundles() const override {
    std::lock_guard lock(mu_);
    std::vector<FailedBundle> out;
    for (const std::string& b : isolated_order_) out.push_back(isolated_.at(b));
    return out;
  }

  std::vector<std::string> StaticCriticalPath() const override {
    std::vector<std::string> path;
    const size_t stages = stage_names_.size();
    size_t k = 0;
    while (k < stages) {
      // The stage's task that starts the longest path, if the path goes
      // through this stage at all.
      size_t n = SIZE_MAX;
      for (size_t t : stage_tasks_[k]) {
        if (nodes_[t].rank == stage_rank_[k] && (n == SIZE_MAX || t < n)) n = t;
      }
      if (n == SIZE_MAX) {
        ++k;
        continue;
      }
      for (;;) {
        path.push_back(nodes_[n].id);
        const uint64_t rest = nodes_[n].rank - nodes_[n].spec.decl.weight;
        if (rest == 0) return path;
        size_t next = SIZE_MAX;
        for (size_t d : nodes_[n].dependents) {
          if (nodes_[d].rank == rest && (next == SIZE_MAX || d < next)) next = d;
        }
        if (next == SIZE_MAX) break;  // the path crosses the stage barrier
        n = next;
      }
      k = nodes_[n].stage + 1;
    }
    return path;
  }

 private:
  static double Ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }

  std::string CurrentStageLocked() const {
    return current_ < stage_names_.size() ? stage_names_[current_] : "done";
  }

  std::vector<std::string> MainThreadAncestorsLocked(size_t t) const {
    std::vector<char> seen(nodes_.size(), 0);
    std::vector<size_t> todo{t};
    seen[t] = 1;
    std::vector<std::string> main_tasks;
    while (!todo.empty()) {
      size_t n = todo.back();
      todo.pop_back();
      const Node& node = nodes_[n];
      if (Terminal(node.state)) continue;
      if (node.spec.decl.thread == "main" && node.state != StartupTaskState::kRunning) {
        main_tasks.push_back(node.id);
      } else if (node.spec.decl.thread == "main") {
        main_tasks.push_back(node.id + " (running)");
      }
      auto visit = [&](size_t m) {
        if (!seen[m]) {
          seen[m] = 1;
          todo.push_back(m);
        }
      };
      for (size_t d : node.deps) visit(d);
      // The stage barrier: every required task of earlier stages.
      for (size_t s = 0; s < node.stage; ++s) {
        for (size_t m : stage_tasks_[s]) {
          if (!nodes_[m].spec.decl.optional) visit(m);
        }
      }
    }
    std::sort(main_tasks.begin(), main_tasks.end());
    return main_tasks;
  }

  // Stage k begins: its tasks with no pending deps become ready.
  void BeginStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire) {
    for (;;) {
      current_ = k;
      if (k >= stage_names_.size()) {
        MaybeFinishLocked();
        return;
      }
      const Clock::time_point now = Clock::now();
      stage_reports_[k].begin_ms = Ms(now - start_at_);
      if (Trace* trace = Trace::Active()) {
        trace->Instant("stage " + stage_names_[k] + " begin", "stage",
                       {{"stage", stage_names_[k]}});
      }
      if (k + 1 == stage_names_.size()) {
        scheduler_->MarkStartupIdle();
        // Wake the main loop: a runner may be waiting for the idle stage.
        (void)scheduler_->PostMain([] {});
      }
      for (size_t n : stage_tasks_[k]) {
        if (nodes_[n].deps_left == 0 && nodes_[n].state == StartupTaskState::kPending) {
          MakeReadyLocked(n, now);
        }
      }
      if (stage_required_left_[k] > 0) return;
      EndStageLocked(k, fire);
      ++k;
    }
  }

  void EndStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire) {
    const Clock::time_point now = Clock::now();
    stage_reports_[k].end_ms = Ms(now - start_at_);
    if (Trace* trace = Trace::Active()) {
      TraceEvent e;
      e.phase = 'X';
      e.name = stage_names_[k];
      e.category = "stage";
      e.tid = Trace::CurrentTid();
      e.ts_us = trace->ToUs(start_at_) + static_cast<int64_t>(stage_reports_[k].begin_ms * 1000);
      e.dur_us =
          static_cast<int64_t>((stage_reports_[k].end_ms - stage_reports_[k].begin_ms) * 1000);
      e.args = {{"stage", stage_names_[k]}};
      trace->Add(std::move(e));
      trace->Instant("stage " + stage_names_[k] + " end", "stage", {{"stage", stage_names_[k]}});
    }
    for (const auto& [stage, listener] : listeners_) {
      if (stage == stage_names_[k]) fire->emplace_back(k, listener);
    }
    cv_.notify_all();
  }

  void MakeReadyLocked(size_t n, Clock::time_point now) {
    Node& node = nodes_[n];
    if (failure_) {
      node.state = StartupTaskState::kSkipped;
      node.error = "launch failed before it could run";
      return;
    }
    if (auto it = isolated_.find(node.spec.bundle); it != isolated_.end()) {
      SkipLocked(n, "skipped: bundle " + node.spec.bundle + " failed: " + it->second.reason);
      return;
    }
    if (node.dep_failed && !node.spec.decl.run_after_failure) {
      SkipLocked(n, "skipped: it runs after optional task " + node.failed_dep +
                        ", which failed (set run_after_failure to run anyway)");
      return;
    }
    node.state = StartupTaskState::kReady;
    node.ready_at = now;
    ready_[node.spec.decl.thread].push(n);
  }

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

  void CollectDispatchLocked(std::vector<size_t>* out) {
    if (failure_) return;
    for (auto& [target, queue] : ready_.queues_) {
      int& in_flight = in_flight_[target];
      const int cap = capacity_.count(target) ? capacity_[target] : 1;
      while (!queue.empty() && in_flight < cap) {
        size_t n = queue.top();
        queue.pop();
        Node& node = nodes_[n];
        if (node.state != StartupTaskState::kReady) continue;  // skipped while queued
        node.state = StartupTaskState::kRunning;
        node.start_order = ++started_count_;
        ++in_flight;
        ++in_flight_total_;
        out->push_back(n);
      }
    }
  }

  void Dispatch(const std::vector<size_t>& tasks) {
    for (size_t n : tasks) {
      const Node& node = nodes_[n];
      auto executor = ExecutorFor(node.spec.decl.thread, node.spec.bundle);
      Status posted = Status::Ok();
      if (!executor.ok()) {
        posted = executor.error();
      } else {
        TaskTraits traits;
        traits.priority = PriorityOf(node.spec.decl.priority);
        traits.may_block = node.spec.decl.thread == "io" || node.spec.decl.thread == "net";
        // The guard reports a task the scheduler drops without running it
        // (shutdown), so the pipeline never waits for it forever.
        auto guard = std::make_shared<DropGuard>(this, n);
        posted = (*executor)->Post(
            [guard] {
              guard->ran = true;
              guard->pipeline->RunTask(guard->node);
            },
            traits);
        if (!posted.ok()) guard->ran = true;
      }
      if (!posted.ok()) {
        Finish(n, Clock::now(), Clock::now(),
               MakeError(ErrorCode::kState, "could not be posted: " + posted.error().message));
      }
    }
  }

  struct DropGuard {
    DropGuard(PipelineImpl* p, size_t n) : pipeline(p), node(n) {}
    ~DropGuard() {
      if (!ran) {
        pipeline->Finish(node, Clock::now(), Clock::now(),
                         MakeError(ErrorCode::kState, "dropped by the scheduler before it ran"));
      }
    }
    PipelineImpl* pipeline;
    size_t node;
    bool ran = false;
  };

  Result<std::shared_ptr<Executor>> ExecutorFor(const std::string& target,
                                                const std::string& bundle) {
    std::lock_guard lock(executors_mu_);
    auto key = target + '\n' + bundle;
    auto it = executors_.find(key);
    if (it != executors_.end()) return it->second;
    auto executor = scheduler_->GetExecutor(target, bundle);
    if (!executor.ok()) return executor.error();
    executors_.emplace(key, *executor);
    return *executor;
  }

  void RunTask(size_t n) {
    const Node& node = nodes_[n];  // spec/id are immutable after Build
    const Clock::time_point begin = Clock::now();
    {
      std::lock_guard lock(mu_);
      nodes_[n].start_at = begin;
    }
    Status s = Status::Ok();
    {
      ActivityScope activity(ActivityField::kTask, node.id);
      try {
        s = runner_(node.spec);
      } catch (const std::exception& e) {
        s = MakeError(ErrorCode::kActivation, std::string("threw: ") + e.what());
      } catch (...) {
        s = MakeError(ErrorCode::kActivation, "threw a non-std exception");
      }
    }
    Finish(n, begin, Clock::now(), std::move(s));
  }

  void Finish(size_t n, Clock::time_point begin, Clock::time_point end, Status s) {
    std::vector<size_t> dispatch;
    std::vector<std::pair<size_t, StageListener>> fire;
    {
      std::lock_guard lock(mu_);
      Node& node = nodes_[n];
      node.start_at = begin;
      node.end_at = end;
      const double run_ms = Ms(end - begin);
      node.over_budget = node.spec.decl.budget_ms > 0 && run_ms > node.spec.decl.budget_ms;
      if (node.over_budget) {
        internal::Log(LogLevel::kWarning, node.spec.bundle,
                      "startup task " + node.id + " took " + std::to_string(run_ms) +
                          " ms, over its budget of " + std::to_string(node.spec.decl.budget_ms) +
                          " ms");
      }
      if (s.ok()) {
        node.state = StartupTaskState::kOk;
      } else {
        node.state = StartupTaskState::kFailed;
        node.error = s.error().ToString();
      }
      Record(node, s.ok() ? "ok" : "failed");
      --in_flight_[node.spec.decl.thread];
      --in_flight_total_;
      if (!s.ok()) {
        if (node.spec.decl.optional) {
          internal::Log(LogLevel::kWarning, node.spec.bundle,
                        "optional startup task " + node.id + " failed: " + node.error);
        } else {
          RequiredFailedLocked(n, "failed: " + node.error);
        }
      }
      CompleteLocked(n, &fire);
      CollectDispatchLocked(&dispatch);
      MaybeFinishLocked();
      cv_.notify_all();
    }
    Fire(fire);
    Dispatch(dispatch);
  }

  void SkipLocked(size_t n, std::string reason) {
    Node& node = nodes_[n];
    node.state = StartupTaskState::kSkipped;
    node.error = std::move(reason);
    Record(node, "skipped");
    if (!node.spec.decl.optional) RequiredFailedLocked(n, node.error);
    // A skip may end a stage; its listeners fire from the caller (Fire).
    CompleteLocked(n, &skip_fire_);
  }

  bool CriticalLocked(const Node& node) const {
    for (const std::string& c : policy_.critical) {
      if (c == node.id || c == node.spec.bundle) return true;
    }
    return false;
  }

  // Required task n failed or was skipped (`what`: "failed: ..." /
  // "skipped: ..."): the launch fails, or its bundle is isolated.
  void RequiredFailedLocked(size_t n, const std::string& what) {
    const Node& node = nodes_[n];
    if (failure_) return;
    if (!policy_.isolate_bundles || CriticalLocked(node)) {
      failure_ = PipelineError(
          ErrorCode::kActivation,
          std::string("launch failed: ") + (policy_.isolate_bundles ? "critical" : "required") +
              " startup task " + node.id + " (stage " + stage_names_[node.stage] + ") " + what,
          node.spec.bundle);
      return;
    }
    if (isolated_.count(node.spec.bundle)) return;  // already isolated (its own tasks)
    IsolateLocked(node.spec.bundle, "startup task " + node.id + " " + what, node.id);
  }

  // Isolates `bundle` and, along policy_.dependents, the bundles requiring
  // it: their tasks not yet started are skipped; running ones finish.
  void IsolateLocked(const std::string& bundle, const std::string& reason,
                     const std::string& task) {
    std::vector<std::pair<std::string, std::string>> work{{bundle, reason}};
    std::vector<std::string> order;
    while (!work.empty()) {
      auto [b, why] = std::move(work.back());
      work.pop_back();
      if (isolated_.count(b)) continue;
      isolated_.emplace(b, FailedBundle{b, why, b == bundle ? task : ""});
      isolated_order_.push_back(b);
      order.push_back(b);
      internal::Log(LogLevel::kWarning, b,
                    "bundle " + b + " isolated (" + why +
                        "): its remaining startup tasks are skipped; the launch goes on");
      if (auto it = policy_.dependents.find(b); it != policy_.dependents.end()) {
        for (const std::string& d : it->second)
          work.emplace_back(d, "it requires " + b + ", which failed");
      }
    }
    for (const std::string& b : order) {
      const std::string skip = "skipped: bundle " + b + " failed: " + isolated_.at(b).reason;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        const StartupTaskState st = nodes_[i].state;
        if (nodes_[i].spec.bundle != b) continue;
        if (st != StartupTaskState::kPending && st != StartupTaskState::kReady) continue;
        SkipLocked(i, skip);
      }
    }
  }

  // Task n reached a terminal state: release dependents and the stage.
  void CompleteLocked(size_t n, std::vector<std::pair<size_t, StageListener>>* fire) {
    Node& node = nodes_[n];
    const Clock::time_point now = Clock::now();
    for (size_t d : node.dependents) {
      Node& dep = nodes_[d];
      if (node.state != StartupTaskState::kOk && !dep.dep_failed) {
        dep.dep_failed = true;
        dep.failed_dep = node.id;
      }
      if (--dep.deps_left == 0 && dep.state == StartupTaskState::kPending &&
          dep.stage <= current_) {
        MakeReadyLocked(d, now);
      }
    }
    if (!node.spec.decl.optional && --stage_required_left_[node.stage] == 0 &&
        node.stage == current_ && !failure_) {
      EndStageLocked(current_, fire);
      BeginStageLocked(current_ + 1, fire);
    }
  }

  void MaybeFinishLocked() {
    if (finished_) return;
    if (in_flight_total_ > 0) return;
    if (!failure_) {
      if (current_ < stage_names_.size()) return;
      for (const Node& n : nodes_) {
        if (!Terminal(n.state)) return;  // optional tasks still to run
      }
    } else {
      for (Node& n : nodes_) {
        if (!Terminal(n.state)) {
          n.state = StartupTaskState::kSkipped;
          n.error = "not run: the launch failed";
        }
      }
    }
    finished_ = true;
    cv_.notify_all();
    // Wake the main loop: its runner may be waiting for finished().
    if (scheduler_ != nullptr) (void)scheduler_->PostMain([] {});
  }

  void Record(const Node& node, const char* status) {
    Trace* trace = Trace::Active();
    if (trace == nullptr) return;
    TraceEvent e;
    e.phase = 'X';
    e.name = node.id;
    e.category = "task";
    e.tid = Trace::CurrentTid();  // Record runs on the task's thread
    const Clock::time_point begin =
        node.start_at == Clock::time_point{} ? Clock::now() : node.start_at;
    e.ts_us = trace->ToUs(begin);
    e.dur_us = node.end_at == Clock::time_point{} ? 0 : trace->ToUs(node.end_at) - e.ts_us;
    std::vector<std::string> after;
    for (size_t d : node.deps) after.push_back(nodes_[d].id);
    e.args = {{"bundle", node.spec.bundle},
              {"stage", stage_names_[node.stage]},
              {"thread", node.spec.decl.thread},
              {"status", status},
              {"optional", node.spec.decl.optional ? "true" : "false"},
              {"after", Join(after, ",")},
              {"over_budget", node.over_budget ? "true" : "false"}};
    if (!node.error.empty()) e.args.emplace_back("error", node.error);
    const double wait_us =
        node.ready_at == Clock::time_point{} || node.start_at == Clock::time_point{}
            ? 0
            : std::chrono::duration<double, std::micro>(node.start_at - node.ready_at).count();
    e.num_args = {{"queue_wait_us", wait_us},
                  {"budget_ms", node.spec.decl.budget_ms},
                  {"weight", static_cast<double>(node.spec.decl.weight)}};
    trace->Add(std::move(e));
  }

  // Runs stage listeners, with no lock held: `fire`, then those of stages
  // ended by a skip meanwhile.
  void Fire(std::vector<std::pair<size_t, StageListener>> fire) {
    {
      std::lock_guard lock(mu_);
      fire.insert(fire.end(), skip_fire_.begin(), skip_fire_.end());
      skip_fire_.clear();
    }
    for (const auto& [k, listener] : fire) listener(stage_names_[k]);
  }

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
  Scheduler* scheduler_ = nullptr;
  Runner runner_;

  std::mutex executors_mu_;
  std::unordered_map<std::string, std::shared_ptr<Executor>>
      executors_;  // guarded by executors_mu_
};

}  // namespace

const char* StartupTaskStateName(StartupTaskState s) {
  switch (s) {
    case StartupTaskState::kPending:
      return "pending";
    case StartupTaskState::kReady:
      return "ready";
    case StartupTaskState::kRunning:
      return "running";
    case StartupTaskState::kOk:
      return "ok";
    case StartupTaskState::kFailed:
      return "failed";
    case StartupTaskState::kSkipped:
      return "skipped";
  }
  return "?";
}

Result<std::unique_ptr<StartupPipeline>> StartupPipeline::Build(std::vector<std::string> stages,
                                                                std::vector<StartupTaskSpec> tasks,
                                                                std::vector<std::string> threads,
                                                                std::vector<std::string> held_pools,
                                                                StartupFailurePolicy policy) {
  if (stages.empty()) stages = DefaultStartupStages();
  std::unordered_map<std::string, size_t> stage_index;
  for (size_t k = 0; k < stages.size(); ++k) {
    if (!stage_index.emplace(stages[k], k).second) {
      return MakeError(ErrorCode::kValidation, "duplicate startup stage '" + stages[k] + "'");
    }
  }
  const size_t idle = stages.size() - 1;
  std::vector<Node> nodes;
  nodes.reserve(tasks.size());
  std::unordered_map<std::string, size_t> by_id;
  for (StartupTaskSpec& spec : tasks) {
    Node node;
    node.id = spec.bundle + ":" + spec.decl.id;
    auto st = stage_index.find(spec.decl.stage);
    if (st == stage_index.end()) {
      return PipelineError(ErrorCode::kValidation,
                           "startup task " + node.id + " is in unknown stage '" + spec.decl.stage +
                               "' (stages: " + Join(stages, ", ") + ")",
                           spec.bundle);
    }
    node.stage = st->second;
    if (std::find(threads.begin(), threads.end(), spec.decl.thread) == threads.end()) {
      return PipelineError(ErrorCode::kValidation,
                           "startup task " + node.id + " runs on unknown thread '" +
                               spec.decl.thread + "' (known: " + Join(threads, ", ") + ")",
                           spec.bundle);
    }
    const bool held =
        std::find(held_pools.begin(), held_pools.end(), spec.decl.thread) != held_pools.end();
    if ((held || spec.decl.priority == "best_effort") && node.stage != idle) {
      return PipelineError(ErrorCode::kValidation,
                           "startup task " + node.id + " in stage '" + spec.decl.stage + "' " +
                               (held ? "runs on pool '" + spec.decl.thread + "', which is"
                                     : std::string("is best_effort, which is")) +
                               " held until the '" + stages[idle] + "' stage begins: move it to '" +
                               stages[idle] + "'",
                           spec.bundle);
    }
    if (!by_id.emplace(node.id, nodes.size()).second) {
      return PipelineError(ErrorCode::kValidation, "duplicate startup task " + node.id,
                           spec.bundle);
    }
    node.spec = std::move(spec);
    nodes.push_back(std::move(node));
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& node = nodes[i];
    for (const std::string& after : node.spec.decl.after) {
      std::string qualified =
          after.find(':') == std::string::npos ? node.spec.bundle + ":" + after : after;
      auto it = by_id.find(qualified);
      if (it == by_id.end()) {
        std::string other = qualified.substr(0, qualified.find(':'));
        return PipelineError(
            ErrorCode::kValidation,
            "startup task " + node.id + " runs after unknown task " + qualified +
                (other == node.spec.bundle
                     ? ""
                     : " (bundle " + other + " is not resolved or declares no such task)"),
            node.spec.bundle);
      }
      Node& dep = nodes[it->second];
      if (dep.stage > node.stage) {
        return PipelineError(ErrorCode::kValidation,
                             "startup task " + node.id + " (stage " + stages[node.stage] +
                                 ") runs after " + dep.id + " of the later stage " +
                                 stages[dep.stage] + " (bundles " + node.spec.bundle + ", " +
                                 dep.spec.bundle + ")",
                             node.spec.bundle);
      }
      node.deps.push_back(it->second);
      dep.dependents.push_back(i);
    }
  }
  auto pipeline =
      std::make_unique<PipelineImpl>(std::move(stages), std::move(nodes), std::move(policy));
  if (Status s = pipeline->Analyze(); !s.ok()) return s.error();
  return std::unique_ptr<StartupPipeline>(std::move(pipeline));
}

}  // namespace atrium
