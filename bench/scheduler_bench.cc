// scheduler_bench: the scheduler's pools against oneTBB, on the same work in
// the same run, reported as ratios ours/tbb (never as a wall-clock
// assertion).
//
//   scheduler_bench [--quick] [--json=PATH]
//
//  1. A layered DAG: 2,000 nodes in 20 layers of 100, each node doing ~2 us
//     of calibrated CPU work and depending on 1-3 random nodes of the layer
//     before (fixed seed). Ours: every node has a countdown of its unfinished
//     dependencies; a finishing node posts each successor whose countdown
//     reaches zero to the "normal" pool. TBB: a flow graph of continue_nodes
//     with the same edges, built once, run with try_put + wait_for_all.
//  2. Throughput: 100,000 empty tasks posted from one thread; time until
//     the last has run. Ours: Post to "normal"; TBB: task_group::run.
// Both sides get the same number of threads (the usable CPUs): our pool has
// that many, and TBB is capped to it with global_control (its calling
// thread counts as one). Samples alternate between the two; medians.
// Without oneTBB (find_package(TBB) failed) only our figures are printed.
//
// Single-threaded driver; the pools and TBB own the other threads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/scheduler.h"
#include "bench_row.h"
#include "bench_util.h"

#if defined(ATRIUM_HAVE_TBB)
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>
#endif

namespace atrium::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchConfig {
  bool quick = false;
  std::string json_path;
  std::string only;  // "dag" or "tasks": run one part
  int warmup = 2;
  int dag_repetitions = 31;
  int throughput_repetitions = 11;
  int layers = 20;
  int width = 100;
  double node_us = 2.0;
  int empty_tasks = 100'000;
};

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// --- Calibrated work ---

uint64_t SpinLoop(uint64_t n) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (uint64_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

// Iterations of SpinLoop taking `us` microseconds on this machine (median
// of a few single-threaded measurements).
uint64_t Calibrate(double us) {
  const uint64_t probe = 1'000'000;
  std::vector<double> per_iter;
  for (int i = 0; i < 7; ++i) {
    const auto t0 = Clock::now();
    benchmark::DoNotOptimize(SpinLoop(probe));
    per_iter.push_back(Us(Clock::now() - t0) / static_cast<double>(probe));
  }
  return std::max<uint64_t>(1, static_cast<uint64_t>(us / Median(per_iter)));
}

// --- The DAG ---

struct Dag {
  int nodes = 0;
  std::vector<std::vector<int>> successors;
  std::vector<int> dependencies;  // count per node
  std::vector<int> roots;
  size_t edges = 0;
};

Dag MakeLayeredDag(int layers, int width, uint32_t seed) {
  Dag dag;
  dag.nodes = layers * width;
  dag.successors.resize(dag.nodes);
  dag.dependencies.assign(dag.nodes, 0);
  std::mt19937 rng(seed);
  for (int l = 0; l < layers; ++l) {
    for (int i = 0; i < width; ++i) {
      const int node = l * width + i;
      if (l == 0) {
        dag.roots.push_back(node);
        continue;
      }
      const int fan_in = 1 + static_cast<int>(rng() % 3);
      std::vector<int> preds;
      while (static_cast<int>(preds.size()) < fan_in) {
        const int p = (l - 1) * width + static_cast<int>(rng() % width);
        if (std::find(preds.begin(), preds.end(), p) == preds.end()) preds.push_back(p);
      }
      for (int p : preds) {
        dag.successors[p].push_back(node);
        ++dag.dependencies[node];
        ++dag.edges;
      }
    }
  }
  return dag;
}

// Waits until `remaining` reaches zero (the last decrement notifies).
class Countdown {
 public:
  void Reset(int n) {
    std::lock_guard lock(mu_);
    remaining_ = n;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--remaining_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return remaining_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int remaining_ = 0;
};

// The DAG on our scheduler: dependency countdowns, ready nodes posted.
class OurDag {
 public:
  OurDag(const Dag& dag, Executor* normal, uint64_t spin)
      : dag_(dag), normal_(normal), spin_(spin), pending_(dag.nodes) {}

  double RunUs() {
    for (int n = 0; n < dag_.nodes; ++n) pending_[n].store(dag_.dependencies[n]);
    done_.Reset(dag_.nodes);
    const auto t0 = Clock::now();
    for (int root : dag_.roots) PostNode(root);
    done_.Wait();
    return Us(Clock::now() - t0);
  }

 private:
  void PostNode(int node) {
    MustOk(normal_->Post([this, node] { RunNode(node); }), "posting a DAG node");
  }
  void RunNode(int node) {
    benchmark::DoNotOptimize(SpinLoop(spin_));
    for (int s : dag_.successors[node]) {
      if (pending_[s].fetch_sub(1) == 1) PostNode(s);
    }
    done_.Done();
  }

  const Dag& dag_;
  Executor* const normal_;
  const uint64_t spin_;
  std::vector<std::atomic<int>> pending_;
  Countdown done_;
};

double OurThroughputUs(Executor* normal, int tasks) {
  std::atomic<int> left{tasks};
  Countdown done;
  done.Reset(1);
  const auto t0 = Clock::now();
  for (int i = 0; i < tasks; ++i) {
    MustOk(normal->Post([&] {
      if (left.fetch_sub(1) == 1) done.Done();
    }),
           "posting an empty task");
  }
  done.Wait();
  return Us(Clock::now() - t0);
}

#if defined(ATRIUM_HAVE_TBB)
// The same DAG as a TBB flow graph, built once.
class TbbDag {
 public:
  TbbDag(const Dag& dag, uint64_t spin) : dag_(dag) {
    using Node = tbb::flow::continue_node<tbb::flow::continue_msg>;
    nodes_.reserve(dag.nodes);
    for (int n = 0; n < dag.nodes; ++n) {
      nodes_.push_back(std::make_unique<Node>(graph_, [spin](const tbb::flow::continue_msg&) {
        benchmark::DoNotOptimize(SpinLoop(spin));
      }));
    }
    for (int n = 0; n < dag.nodes; ++n) {
      for (int s : dag.successors[n]) tbb::flow::make_edge(*nodes_[n], *nodes_[s]);
    }
  }

  double RunUs() {
    const auto t0 = Clock::now();
    for (int root : dag_.roots) nodes_[root]->try_put(tbb::flow::continue_msg());
    graph_.wait_for_all();
    return Us(Clock::now() - t0);
  }

 private:
  const Dag& dag_;
  tbb::flow::graph graph_;
  std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes_;
};

double TbbThroughputUs(int tasks) {
  tbb::task_group group;
  const auto t0 = Clock::now();
  for (int i = 0; i < tasks; ++i) group.run([] {});
  group.wait();
  return Us(Clock::now() - t0);
}
#endif

void WriteJson(const std::string& path, const BenchConfig& config, const std::vector<Row>& rows,
               const boost::json::object& detail, double load_before) {
  boost::json::array metrics = RowsJson(rows);
  boost::json::object root{{"quick", config.quick},         {"usable_cpus", UsableCpus().size()},
                           {"metrics", std::move(metrics)}, {"detail", detail},
                           {"loadavg_before", load_before}, {"loadavg_after", LoadAverage()}};
  WriteJsonFile(path, root);
}

int Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: scheduler_bench [--quick] [--only=dag|tasks] [--json=PATH]\n"
               "  --quick      tiny iteration counts (smoke test; numbers are noise)\n"
               "  --only=PART  run only the DAG or only the empty-task part\n"
               "  --json=PATH  also write the results as JSON\n");
  return code;
}

int Main(int argc, char** argv) {
  BenchName() = "scheduler_bench";
  BenchConfig config;
  for (int i = 1; i < argc; ++i) {
    const CommonArg common = TakeCommonArg(argc, argv, &i, &config.quick, &config.json_path);
    if (common == CommonArg::kHelp) return Usage(0);
    if (common == CommonArg::kTaken) continue;
    const std::string_view a = argv[i];
    if (a.starts_with("--only=")) {
      config.only = std::string(a.substr(7));
    } else {
      std::fprintf(stderr, "scheduler_bench: unknown argument '%s'\n", argv[i]);
      return Usage(2);
    }
  }
  if (config.quick) {
    config.warmup = 1;
    config.dag_repetitions = 3;
    config.throughput_repetitions = 3;
    config.empty_tasks = 10'000;
  }
  const double load_before = PrintMachine();
  const int threads = std::max<int>(1, static_cast<int>(UsableCpus().size()));
#if defined(ATRIUM_HAVE_TBB)
  tbb::global_control cap(tbb::global_control::max_allowed_parallelism,
                          static_cast<size_t>(threads));
  std::printf("baseline: oneTBB %d.%d, capped to %d threads\n", TBB_VERSION_MAJOR,
              TBB_VERSION_MINOR, threads);
#else
  std::printf("baseline: none (oneTBB not found at build time): our figures only\n");
#endif

  SchedulerOptions options;
  PoolConfig normal_pool;
  normal_pool.name = "normal";
  normal_pool.threads = threads;
  normal_pool.queue_limit = static_cast<size_t>(config.empty_tasks) + 16;
  options.pools = {normal_pool};
  options.hold_until_idle = false;
  std::unique_ptr<Scheduler> scheduler = Must(Scheduler::Create(options), "Scheduler::Create");
  std::shared_ptr<Executor> normal = Must(scheduler->GetExecutor("normal"), "GetExecutor");

  const uint64_t spin = Calibrate(config.node_us);
  const Dag dag = MakeLayeredDag(config.layers, config.width, /*seed=*/20240229);
  std::printf("dag: %d nodes in %d layers, %zu edges, ~%.1f us of work per node (%llu spins)\n",
              dag.nodes, config.layers, dag.edges, config.node_us,
              static_cast<unsigned long long>(spin));

  boost::json::object detail;
  std::vector<Row> rows;
  // A row against oneTBB (info only when built without it), checked against
  // what others took while it ran and against the CPUs it had.
  auto MakeRow = [&](const char* key, std::string metric, double target, std::vector<double> ours,
                     std::vector<double> tbb, const OtherCpuWatch& watch) {
    const bool with_tbb = !tbb.empty();
    Row r = RatioRow(key, std::move(metric), "us", "oneTBB flow graph", std::move(ours),
                     std::move(tbb), with_tbb ? target : 0);
    r.CheckOthers(watch);
    if (threads < 2 && r.untrusted.empty())
      r.untrusted = "1 usable CPU: the pools cannot run in parallel";
    return r;
  };

  if (config.only.empty() || config.only == "dag") {
    std::printf("[1/2] layered DAG (%d interleaved samples each)\n", config.dag_repetitions);
    std::fflush(stdout);
    OurDag ours(dag, normal.get(), spin);
    std::vector<double> ours_us, tbb_us;
    OtherCpuWatch watch;
#if defined(ATRIUM_HAVE_TBB)
    TbbDag tbb_dag(dag, spin);
#endif
    for (int r = -config.warmup; r < config.dag_repetitions; ++r) {
      const bool tbb_first = r % 2 != 0;
#if defined(ATRIUM_HAVE_TBB)
      if (tbb_first) {
        double t = tbb_dag.RunUs();
        if (r >= 0) tbb_us.push_back(t);
      }
#endif
      const double o = ours.RunUs();
      if (r >= 0) ours_us.push_back(o);
#if defined(ATRIUM_HAVE_TBB)
      if (!tbb_first) {
        double t = tbb_dag.RunUs();
        if (r >= 0) tbb_us.push_back(t);
      }
#endif
    }
    Row row = MakeRow("dag_2000", "DAG " + std::to_string(dag.nodes) + " nodes x ~2us", 1.2,
                      std::move(ours_us), std::move(tbb_us), watch);
    detail["dag_serial_work_us"] = dag.nodes * config.node_us;
    rows.push_back(row);
  }

  if (config.only.empty() || config.only == "tasks") {
    std::printf("[2/2] %d empty tasks (%d interleaved samples each)\n", config.empty_tasks,
                config.throughput_repetitions);
    std::fflush(stdout);
    std::vector<double> ours_us, tbb_us;
    OtherCpuWatch watch;
    for (int r = -config.warmup; r < config.throughput_repetitions; ++r) {
      const bool tbb_first = r % 2 != 0;
#if defined(ATRIUM_HAVE_TBB)
      if (tbb_first) {
        const double t = TbbThroughputUs(config.empty_tasks);
        if (r >= 0) tbb_us.push_back(t);
      }
#endif
      const double o = OurThroughputUs(normal.get(), config.empty_tasks);
      if (r >= 0) ours_us.push_back(o);
#if defined(ATRIUM_HAVE_TBB)
      if (!tbb_first) {
        const double t = TbbThroughputUs(config.empty_tasks);
        if (r >= 0) tbb_us.push_back(t);
      }
#endif
    }
    Row row = MakeRow("empty_tasks", std::to_string(config.empty_tasks) + " empty tasks", 1.5,
                      std::move(ours_us), std::move(tbb_us), watch);
    detail["ours_ns_per_empty_task"] = row.ours() * 1000 / config.empty_tasks;
    if (row.baseline() > 0)
      detail["tbb_ns_per_empty_task"] = row.baseline() * 1000 / config.empty_tasks;
    rows.push_back(row);
  }

  scheduler->Shutdown();
  PrintRows(rows);
  if (!config.json_path.empty()) {
    WriteJson(config.json_path, config, rows, detail, load_before);
    std::printf("wrote %s\n", config.json_path.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace atrium::bench

int main(int argc, char** argv) { return atrium::bench::Main(argc, argv); }
