// What the container bench's sections share (container_bench.cc: sections
// 1-4 and the table; guard_bench.cc: section 5, the launch guard): the
// configuration, the two synthetic apps with their built indexes, the
// checks that destroying a container unmapped its bundles, and a table row.
//
// Concurrency: the bench's one thread (and the lookup samples' own threads,
// which share nothing here).
#ifndef ATRIUM_BENCH_CONTAINER_BENCH_H_
#define ATRIUM_BENCH_CONTAINER_BENCH_H_

// threads and join them.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "atrium/bundle_abi.h"
#include "atrium/container.h"
#include "atrium/launch_guard.h"
#include "bench_row.h"
#include "bench_util.h"
#include "synthetic_app.h"
#include "synthetic_service.h"

namespace fs = std::filesystem;

#ifndef ATRIUM_SYNTHETIC_BUNDLE_LIBRARY
#error "ATRIUM_SYNTHETIC_BUNDLE_LIBRARY must name the generic synthetic bundle library"
#endif

namespace atrium::bench {

using atrium::bench::Fail;
using atrium::bench::LoadAverage;
using atrium::bench::Median;
using atrium::bench::Must;
using atrium::bench::MustOk;
using atrium::bench::UsableCpus;

using Clock = std::chrono::steady_clock;

inline constexpr uint32_t kInstalled = 1000;
inline constexpr uint32_t kNeeded = 20;
inline constexpr uint32_t kLoadCount = 100;

struct BenchConfig {
  bool quick = false;
  bool keep = false;
  std::string json_path;
  int warmup = 2;
  int start_iterations = 41;
  int load_iterations = 31;
  int open_iterations = 301;
  int lookup_repetitions = 21;
  uint64_t lookup_ops = 1'000'000;
  // Section 5: repetitions of interleaved samples per variant and app, and
  // the launch rows each app's history holds before the last repetition.
  int guard_repetitions = 5;
  int guard_iterations = 41;
  int guard_history_rows = 1000;
  std::string only;  // run this section alone: start, lookup, load, open or guard
};

inline double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// True while `library` is mapped in this process (RTLD_NOLOAD never loads).
inline bool IsMapped(const std::string& library) {
  void* h = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (h == nullptr) return false;
  dlclose(h);
  return true;
}

inline void MustBeUnmapped(const std::string& library, const char* after) {
  if (IsMapped(library)) {
    Fail(library + " is still mapped after " + after +
         "; the next sample would not dlopen it again");
  }
}

inline std::unique_ptr<Container> OpenApp(const SyntheticApp& app, const std::string& data_dir) {
  return Must(Container::Open({.app_dir = app.dir, .data_dir = data_dir}),
              "Container::Open(" + app.dir + ")");
}

struct Fixture {
  fs::path root;
  SyntheticApp big;    // kInstalled installed / kNeeded needed
  SyntheticApp small;  // kNeeded installed / kNeeded needed
  std::string big_data, small_data;
};

inline Fixture MakeFixture(const BenchConfig& config) {
  Fixture fx;
  std::string pattern = (fs::temp_directory_path() / "atrium-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) Fail("cannot create a temp dir from " + pattern);
  fx.root = pattern;
  auto write = [&](uint32_t bundles, const char* name) {
    SyntheticAppSpec spec;
    spec.out_dir = (fx.root / name).string();
    spec.bundles = bundles;
    spec.needed = kNeeded;
    spec.library = ATRIUM_SYNTHETIC_BUNDLE_LIBRARY;
    spec.seed = 1;
    return Must(WriteSyntheticApp(spec), "writing the synthetic app " + spec.out_dir);
  };
  fx.big = write(kInstalled, "app1000");
  fx.small = write(kNeeded, "app20");
  fx.big_data = (fx.root / "data1000").string();
  fx.small_data = (fx.root / "data20").string();
  // Build both indexes now; every measured Open reuses them.
  for (auto [app, data] :
       {std::pair{&fx.big, &fx.big_data}, std::pair{&fx.small, &fx.small_data}}) {
    auto c = OpenApp(*app, *data);
    if (c->Bundles().size() != app->bundles.size()) Fail("index of " + app->dir + " is incomplete");
    for (const auto& b : c->Bundles()) {
      if (b.state != BundleState::kResolved) {
        Fail("bundle " + b.name + " is " + BundleStateName(b.state) + ": " + b.reason);
      }
    }
  }
  return fx;
}

// One line of the final table.

// Section 5 (guard_bench.cc): the launch guard's cost at Open and at Start,
// on and off, both apps; fills `detail` with the per-app figures.
std::vector<Row> LaunchGuard(const Fixture& fx, const BenchConfig& config,
                             boost::json::object* detail);

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_CONTAINER_BENCH_H_
