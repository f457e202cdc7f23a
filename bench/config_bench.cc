// config_bench: the remote config's read path and its evaluation, each read
// figure reported against a baseline measured in the same run (never as a
// wall-clock assertion).
//
//   config_bench [--quick]
//
//  1. GetInt of an active key through a bundle's Config view (a snapshot of
//     200 keys, the production read path: atomic load, key built on the
//     stack, one hash lookup), on 1 thread and on 2 threads reading at
//     once, against a std::mutex-guarded std::unordered_map<std::string,
//     int64_t> of the same keys read with the same key (the obvious
//     thread-safe map). Target: <= 50 ns per read and no slower on 2
//     threads than on 1.
//  2. Evaluating a set of 200 parameters and 50 conditions (percent,
//     country lists, semver ranges, signals, memory) for 100,000 device
//     contexts: time per device (what `atrium config eval` and the release
//     side pay).
// Medians over repetitions; thread CPU time of the slowest thread, so other
// processes on a busy machine do not inflate the figures. Exit code 0 unless
// the bench could not run.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "atrium/dynamic/config/config_set.h"
#include "config_runtime.h"

namespace {

using namespace atrium;
using namespace atrium::config;

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `body(iterations)` on `threads` threads at once; ns per iteration of
// the slowest thread (its CPU time).
template <typename Body>
double PerOp(int threads, int64_t iterations, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<int64_t> ns(static_cast<size_t>(threads));
  std::vector<std::thread> crew;
  for (int t = 0; t < threads; ++t) {
    crew.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) {
      }
      const int64_t start = ThreadCpuNs();
      body(iterations);
      ns[static_cast<size_t>(t)] = ThreadCpuNs() - start;
    });
  }
  while (ready.load() != threads) {
  }
  go.store(true);
  for (auto& th : crew) th.join();
  return static_cast<double>(*std::max_element(ns.begin(), ns.end())) /
         static_cast<double>(iterations);
}

volatile int64_t g_sink = 0;

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int reps = quick ? 3 : 15;
  const int64_t reads = quick ? 20'000 : 5'000'000;
  const int devices = quick ? 1'000 : 100'000;

  // --- 1. reads ---
  ConfigRuntime::Hooks hooks;
  auto runtime = std::make_shared<ConfigRuntime>(std::move(hooks), GroupActivation::kNextLaunch,
                                                 std::vector<KeyGroup>{});
  ValueMap remote;
  std::unordered_map<std::string, int64_t> baseline_map;
  for (int i = 0; i < 200; ++i) {
    ConfigValue v;
    v.type = ConfigType::kInt;
    v.i = i;
    const std::string key = "com.bench.app/feature_" + std::to_string(i) + ".limit";
    remote.emplace(key, Slot{v, "remote 1.0.0 default"});
    baseline_map.emplace(key, i);
  }
  runtime->SetLaunchValues("1.0.0", std::move(remote));
  auto view = runtime->ForBundle("com.bench.app");
  if (!view.ok()) {
    std::fprintf(stderr, "config_bench: %s\n", view.error().ToString().c_str());
    return 1;
  }
  const Config& config = **view;
  std::mutex mu;
  const std::string ns = "com.bench.app";
  auto ours = [&](int64_t n) {
    int64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += config.GetInt("feature_117.limit", -1);
    g_sink = g_sink + sum;
  };
  auto mutex_map = [&](int64_t n) {
    int64_t sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::string key;
      key.reserve(64);
      key.append(ns).append("/").append("feature_117.limit");
      std::lock_guard lock(mu);
      auto it = baseline_map.find(key);
      sum += it != baseline_map.end() ? it->second : -1;
    }
    g_sink = g_sink + sum;
  };
  std::vector<double> o1, o2, m1, m2;
  for (int r = 0; r < reps; ++r) {
    o1.push_back(PerOp(1, reads, ours));
    m1.push_back(PerOp(1, reads, mutex_map));
    o2.push_back(PerOp(2, reads, ours));
    m2.push_back(PerOp(2, reads, mutex_map));
  }
  const double ours1 = Median(o1), ours2 = Median(o2), map1 = Median(m1), map2 = Median(m2);

  // --- 2. evaluation ---
  std::string json = R"({"id": "com.bench.config", "version": "1.0.0", "conditions": [)";
  for (int c = 0; c < 50; ++c) {
    std::string expr;
    switch (c % 5) {
      case 0:
        expr = "percent(\\\"seed" + std::to_string(c) + "\\\") <= " + std::to_string(c % 100);
        break;
      case 1:
        expr = "device.country in [\\\"CN\\\", \\\"SG\\\", \\\"MY\\\", \\\"ID\\\"]";
        break;
      case 2:
        expr = "app.version satisfies \\\"^1.2.0 || >=2.0.0\\\"";
        break;
      case 3:
        expr = "signal.tier == \\\"gold\\\" && device.memory_mb >= 4096";
        break;
      default:
        expr = "!(device.os == \\\"ios\\\") || percent(\\\"x\\\") between 10 and 20";
    }
    json += std::string(c ? "," : "") + R"({"name": "c)" + std::to_string(c) +
            R"(", "expression": ")" + expr + "\"}";
  }
  json += R"(], "parameters": {"com.bench.app": {)";
  for (int p = 0; p < 200; ++p) {
    json += std::string(p ? "," : "") + "\"k" + std::to_string(p) +
            R"(": {"type": "int", "default": 1, "values": [{"condition": "c)" +
            std::to_string(p % 50) + R"(", "value": 2}, {"condition": "c)" +
            std::to_string((p + 7) % 50) + R"(", "value": 3}]})";
  }
  json += "}}}";
  auto set = ParseConfigSet(json, "bench/config.json");
  if (!set.ok()) {
    std::fprintf(stderr, "config_bench: %s\n", set.error().ToString().c_str());
    return 1;
  }
  std::vector<DeviceContext> contexts(static_cast<size_t>(devices));
  const char* countries[] = {"CN", "US", "SG", "DE", "ID"};
  for (int d = 0; d < devices; ++d) {
    DeviceContext& c = contexts[static_cast<size_t>(d)];
    c.app_version = *Version::Parse(d % 2 ? "1.4.0" : "2.1.0");
    c.device_id = "device-" + std::to_string(d);
    c.country = countries[d % 5];
    c.os = d % 3 ? "android" : "ios";
    c.memory_mb = 1024 * (d % 8);
    if (d % 4 == 0) c.signals["tier"] = "gold";
  }
  std::vector<double> per_device;
  for (int r = 0; r < (quick ? 1 : 3); ++r) {
    const int64_t start = ThreadCpuNs();
    size_t values = 0;
    for (const DeviceContext& c : contexts) values += Evaluate(*set, c).values.size();
    g_sink = g_sink + static_cast<int64_t>(values);
    per_device.push_back(static_cast<double>(ThreadCpuNs() - start) / devices);
  }

  std::printf("config_bench (median of %d repetitions, thread CPU time)\n", reps);
  std::printf("  GetInt, 1 thread:   %6.1f ns   mutex map %6.1f ns   ratio %.2fx faster\n", ours1,
              map1, map1 / ours1);
  std::printf("  GetInt, 2 threads:  %6.1f ns   mutex map %6.1f ns   ratio %.2fx faster\n", ours2,
              map2, map2 / ours2);
  std::printf("  GetInt 2 threads / 1 thread: %.2f (target <= 1.0 plus noise)\n", ours2 / ours1);
  std::printf("  evaluate 200 parameters, 50 conditions: %.1f us per device (%d devices)\n",
              Median(per_device) / 1000.0, devices);
  return 0;
}
