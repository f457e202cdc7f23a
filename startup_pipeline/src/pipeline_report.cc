// What the startup pipeline tells: its state, the Wait* calls (and their
// main-thread deadlock checks), the task and stage reports, isolated bundles
// and the static critical path.
#include <algorithm>

#include "pipeline_impl.h"

namespace atrium::internal::startup {

bool PipelineImpl::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

bool PipelineImpl::idle_reached() const {
  std::lock_guard lock(mu_);
  return finished_ || stage_reports_.back().begin_ms >= 0;
}

Status PipelineImpl::result() const {
  std::lock_guard lock(mu_);
  if (!finished_) return MakeError(ErrorCode::kState, "startup pipeline still running");
  if (failure_) return *failure_;
  return Status::Ok();
}

std::string PipelineImpl::current_stage() const {
  std::lock_guard lock(mu_);
  if (current_ >= stage_names_.size()) return "done";
  return stage_names_[current_];
}

Status PipelineImpl::WaitForStage(std::string_view stage, std::chrono::milliseconds timeout) {
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

Status PipelineImpl::WaitForTask(std::string_view id, std::chrono::milliseconds timeout) {
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

Status PipelineImpl::WaitUntilFinished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return finished_; })) {
    return MakeError(ErrorCode::kState, "timed out after " + std::to_string(timeout.count()) +
                                            " ms waiting for the startup pipeline (stage " +
                                            CurrentStageLocked() + ")");
  }
  if (failure_) return *failure_;
  return Status::Ok();
}

const std::vector<std::string>& PipelineImpl::stages() const { return stage_names_; }

std::vector<StartupTaskReport> PipelineImpl::Tasks() const {
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

std::vector<StageReport> PipelineImpl::Stages() const {
  std::lock_guard lock(mu_);
  return stage_reports_;
}

std::vector<FailedBundle> PipelineImpl::FailedBundles() const {
  std::lock_guard lock(mu_);
  std::vector<FailedBundle> out;
  for (const std::string& b : isolated_order_) out.push_back(isolated_.at(b));
  return out;
}

std::vector<std::string> PipelineImpl::StaticCriticalPath() const {
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

double PipelineImpl::Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string PipelineImpl::CurrentStageLocked() const {
  return current_ < stage_names_.size() ? stage_names_[current_] : "done";
}

std::vector<std::string> PipelineImpl::MainThreadAncestorsLocked(size_t t) const {
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

}  // namespace atrium::internal::startup
