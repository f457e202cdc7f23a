// Running the startup graph: Start, stages beginning and ending, readiness,
// dispatch to the scheduler, a task's run and end, skips, the failure and
// isolation policy, stage listeners and the trace slice of each task.
#include <algorithm>
#include <exception>

#include "atrium/base/log.h"
#include "atrium/scheduler/trace_schema.h"
#include "atrium/thread_activity.h"
#include "atrium/trace.h"
#include "pipeline_impl.h"

namespace atrium::internal::startup {

void PipelineImpl::OnStageEnd(std::string_view stage, StageListener listener) {
  std::lock_guard lock(mu_);
  listeners_.emplace_back(std::string(stage), std::move(listener));
}

Status PipelineImpl::Start(Scheduler& scheduler, Runner runner) {
  std::vector<size_t> dispatch;
  std::vector<std::pair<size_t, StageListener>> fire;
  {
    std::lock_guard lock(mu_);
    if (started_) return MakeError(ErrorCode::kState, "startup pipeline already started");
    started_ = true;
    scheduler_ = &scheduler;
    runner_ = std::move(runner);
    start_at_ = Now();
    stage_begin_at_.assign(stage_names_.size(), Clock::time_point{});
    if (Trace* trace = Trace::Active()) {
      trace->NameThread(trace_schema::kStageTrackTid, trace_schema::kStageTrackName);
    }
    for (Node& n : nodes_) n.deps_left = n.deps.size();
    stage_required_left_.assign(stage_names_.size(), 0);
    for (const Node& n : nodes_) {
      if (!n.spec.decl.optional) ++stage_required_left_[n.stage];
    }
    for (const PoolStats& p : scheduler.Stats().pools) {
      capacity_[p.name] = p.name == "main" ? 1 : std::max(1, p.max_threads);
    }
    capacity_["main"] = 1;
    // Start counts as in flight until its stage listeners ran: the pipeline
    // cannot be seen finished (or destroyed) before them.
    ++in_flight_total_;
    BeginStageLocked(0, &fire);
    CollectDispatchLocked(&dispatch);
  }
  FireDispatchAndLeave(std::move(fire), dispatch);
  return Status::Ok();
}

// Runs the stage listeners and dispatches the ready tasks collected under the
// lock, then ends the caller's in-flight count: only now, so whoever sees the
// pipeline finished (or destroys it, which waits for tasks in flight) sees the
// listeners done.
void PipelineImpl::FireDispatchAndLeave(std::vector<std::pair<size_t, StageListener>> fire,
                                        const std::vector<size_t>& dispatch) {
  Fire(std::move(fire));
  Dispatch(dispatch);
  std::lock_guard lock(mu_);
  --in_flight_total_;
  MaybeFinishLocked();
  cv_.notify_all();
}

// Stage k begins: its tasks with no pending deps become ready.
void PipelineImpl::BeginStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire) {
  for (;;) {
    current_ = k;
    if (k >= stage_names_.size()) {
      MaybeFinishLocked();
      return;
    }
    const Clock::time_point now = Now();
    stage_reports_[k].begin_ms = Ms(now - start_at_);
    stage_begin_at_[k] = now;
    StageMarkLocked(trace_schema::StageBegin(stage_names_[k]), k, now);
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

void PipelineImpl::EndStageLocked(size_t k, std::vector<std::pair<size_t, StageListener>>* fire) {
  const Clock::time_point now = Now();
  stage_reports_[k].end_ms = Ms(now - start_at_);
  if (Trace* trace = Trace::Active()) {
    // On the stage track, its ends rounded as every slice's are (ToUs of
    // each end), so tasks' slices and the stage's line up to the microsecond.
    TraceEvent e;
    e.phase = 'X';
    e.name = stage_names_[k];
    e.category = trace_schema::kCatStage;
    e.tid = trace_schema::kStageTrackTid;
    e.ts_us = trace->ToUs(stage_begin_at_[k]);
    e.dur_us = trace->ToUs(now) - e.ts_us;
    e.args = {{std::string(trace_schema::kArgStage), stage_names_[k]}};
    trace->Add(std::move(e));
    StageMarkLocked(trace_schema::StageEnd(stage_names_[k]), k, now);
  }
  for (const auto& [stage, listener] : listeners_) {
    if (stage == stage_names_[k]) fire->emplace_back(k, listener);
  }
  cv_.notify_all();
}

void PipelineImpl::StageMarkLocked(std::string name, size_t k, Clock::time_point at) {
  Trace* trace = Trace::Active();
  if (trace == nullptr) return;
  TraceEvent e;
  e.phase = 'i';
  e.name = std::move(name);
  e.category = trace_schema::kCatStage;
  e.tid = trace_schema::kStageTrackTid;
  e.ts_us = trace->ToUs(at);
  e.args = {{std::string(trace_schema::kArgStage), stage_names_[k]}};
  trace->Add(std::move(e));
}

void PipelineImpl::MakeReadyLocked(size_t n, Clock::time_point now) {
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

void PipelineImpl::CollectDispatchLocked(std::vector<size_t>* out) {
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

struct PipelineImpl::DropGuard {
  DropGuard(PipelineImpl* p, size_t n) : pipeline(p), node(n) {}
  ~DropGuard() {
    if (!ran) {
      pipeline->Finish(node, pipeline->Now(), pipeline->Now(),
                       MakeError(ErrorCode::kState, "dropped by the scheduler before it ran"));
    }
  }
  PipelineImpl* pipeline;
  size_t node;
  bool ran = false;
};

void PipelineImpl::Dispatch(const std::vector<size_t>& tasks) {
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
      Finish(n, Now(), Now(),
             MakeError(ErrorCode::kState, "could not be posted: " + posted.error().message));
    }
  }
}

Result<std::shared_ptr<Executor>> PipelineImpl::ExecutorFor(const std::string& target,
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

namespace {

// The calling thread's CPU time so far, ns (-1 when unavailable).
int64_t ThreadCpuNs() {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return -1;
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

void PipelineImpl::RunTask(size_t n) {
  const Node& node = nodes_[n];  // spec/id are immutable after Build
  const Clock::time_point begin = Now();
  const int64_t cpu_begin = ThreadCpuNs();
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
  const int64_t cpu_end = ThreadCpuNs();
  Finish(n, begin, Now(), std::move(s), cpu_begin >= 0 && cpu_end >= 0 ? cpu_end - cpu_begin : -1);
}

void PipelineImpl::Finish(size_t n, Clock::time_point begin, Clock::time_point end, Status s,
                          int64_t cpu_ns) {
  std::vector<size_t> dispatch;
  std::vector<std::pair<size_t, StageListener>> fire;
  {
    std::lock_guard lock(mu_);
    Node& node = nodes_[n];
    node.start_at = begin;
    node.end_at = end;
    node.cpu_ns = cpu_ns;
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
    Record(node, s.ok() ? trace_schema::kStatusOk : trace_schema::kStatusFailed);
    --in_flight_[node.spec.decl.thread];
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
  }
  FireDispatchAndLeave(std::move(fire), dispatch);
}

void PipelineImpl::SkipLocked(size_t n, std::string reason) {
  Node& node = nodes_[n];
  node.state = StartupTaskState::kSkipped;
  node.error = std::move(reason);
  Record(node, trace_schema::kStatusSkipped);
  if (!node.spec.decl.optional) RequiredFailedLocked(n, node.error);
  // A skip may end a stage; its listeners fire from the caller (Fire).
  CompleteLocked(n, &skip_fire_);
}

bool PipelineImpl::CriticalLocked(const Node& node) const {
  for (const std::string& c : policy_.critical) {
    if (c == node.id || c == node.spec.bundle) return true;
  }
  return false;
}

// Required task n failed or was skipped (`what`: "failed: ..." /
// "skipped: ..."): the launch fails, or its bundle is isolated.
void PipelineImpl::RequiredFailedLocked(size_t n, const std::string& what) {
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
void PipelineImpl::IsolateLocked(const std::string& bundle, const std::string& reason,
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
void PipelineImpl::CompleteLocked(size_t n, std::vector<std::pair<size_t, StageListener>>* fire) {
  Node& node = nodes_[n];
  const Clock::time_point now = Now();
  for (size_t d : node.dependents) {
    Node& dep = nodes_[d];
    if (node.state != StartupTaskState::kOk && !dep.dep_failed) {
      dep.dep_failed = true;
      dep.failed_dep = node.id;
    }
    if (--dep.deps_left == 0 && dep.state == StartupTaskState::kPending && dep.stage <= current_) {
      MakeReadyLocked(d, now);
    }
  }
  if (!node.spec.decl.optional && --stage_required_left_[node.stage] == 0 &&
      node.stage == current_ && !failure_) {
    EndStageLocked(current_, fire);
    BeginStageLocked(current_ + 1, fire);
  }
}

void PipelineImpl::MaybeFinishLocked() {
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

void PipelineImpl::Record(const Node& node, std::string_view status) {
  Trace* trace = Trace::Active();
  if (trace == nullptr) return;
  TraceEvent e;
  e.phase = 'X';
  e.name = node.id;
  e.category = trace_schema::kCatTask;
  e.tid = Trace::CurrentTid();  // Record runs on the task's thread
  const Clock::time_point begin = node.start_at == Clock::time_point{} ? Now() : node.start_at;
  e.ts_us = trace->ToUs(begin);
  e.dur_us = node.end_at == Clock::time_point{} ? 0 : trace->ToUs(node.end_at) - e.ts_us;
  std::vector<std::string> after;
  for (size_t d : node.deps) after.push_back(nodes_[d].id);
  auto key = [](std::string_view k) { return std::string(k); };
  e.args = {{key(trace_schema::kArgBundle), node.spec.bundle},
            {key(trace_schema::kArgStage), stage_names_[node.stage]},
            {key(trace_schema::kArgThread), node.spec.decl.thread},
            {key(trace_schema::kArgStatus), std::string(status)},
            {key(trace_schema::kArgOptional), node.spec.decl.optional ? "true" : "false"},
            {key(trace_schema::kArgAfter), Join(after, ",")},
            {key(trace_schema::kArgOverBudget), node.over_budget ? "true" : "false"}};
  if (!node.error.empty()) e.args.emplace_back(key(trace_schema::kArgError), node.error);
  const double wait_us =
      node.ready_at == Clock::time_point{} || node.start_at == Clock::time_point{}
          ? 0
          : std::chrono::duration<double, std::micro>(node.start_at - node.ready_at).count();
  e.num_args = {{key(trace_schema::kArgQueueWaitUs), wait_us},
                {key(trace_schema::kArgBudgetMs), node.spec.decl.budget_ms},
                {key(trace_schema::kArgWeight), static_cast<double>(node.spec.decl.weight)}};
  if (node.cpu_ns >= 0)
    e.num_args.emplace_back(key(trace_schema::kArgCpuUs), static_cast<double>(node.cpu_ns) / 1000);
  trace->Add(std::move(e));
}

// Runs stage listeners, with no lock held: `fire`, then those of stages
// ended by a skip meanwhile.
void PipelineImpl::Fire(std::vector<std::pair<size_t, StageListener>> fire) {
  {
    std::lock_guard lock(mu_);
    fire.insert(fire.end(), skip_fire_.begin(), skip_fire_.end());
    skip_fire_.clear();
  }
  for (const auto& [k, listener] : fire) listener(stage_names_[k]);
}

}  // namespace atrium::internal::startup
