// Building the startup graph: Build's validation (stages, threads, ids,
// `after` edges), the pipeline's construction and Analyze (cycles, ranks).
#include "atrium/startup_pipeline.h"

#include <algorithm>

#include "atrium/startup_pipeline/test_hooks.h"
#include "pipeline_impl.h"

namespace atrium {
namespace internal::startup {

PipelineImpl::PipelineImpl(std::vector<std::string> stages, std::vector<Node> nodes,
                           StartupFailurePolicy policy)
    : stage_names_(std::move(stages)), nodes_(std::move(nodes)), policy_(std::move(policy)) {
  for (size_t i = 0; i < nodes_.size(); ++i) by_id_.emplace(nodes_[i].id, i);
  stage_tasks_.resize(stage_names_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) stage_tasks_[nodes_[i].stage].push_back(i);
  stage_reports_.resize(stage_names_.size());
  for (size_t k = 0; k < stage_names_.size(); ++k) stage_reports_[k].name = stage_names_[k];
}

PipelineImpl::~PipelineImpl() {
  // Tasks in flight hold `this`: wait for them (the scheduler may be
  // running them on its threads).
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return in_flight_total_ == 0; });
}

// Ranks and topological order; returns the cycle when there is one.
Status PipelineImpl::Analyze() {
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

}  // namespace internal::startup

using internal::startup::Join;
using internal::startup::Node;
using internal::startup::PipelineError;
using internal::startup::PipelineImpl;

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

namespace internal {

void SetPipelineClockForTesting(StartupPipeline& pipeline, const Clock& clock) {
  static_cast<startup::PipelineImpl&>(pipeline).SetClock(clock);
}

}  // namespace internal
}  // namespace atrium
