// atrium_bench: container benchmarks, each reported as a ratio against a
// baseline measured in the same run (never as a wall-clock assertion).
//
//   atrium_bench [--quick] [--json=PATH] [--keep] [--only=SECTION]
//
// At start it writes two synthetic apps (bench/synthetic_app.h) into a temp
// dir: 1000 installed / 20 needed, and the same 20 needed alone. Then:
//  1. start->home-open: Open (index already built) + Start + Launch("home"),
//     1000-installed app vs 20-installed app, interleaved; medians.
//  2. service lookup of an active service, services().Get(id) (what
//     Get<T>() does), 1 and 2 threads; baseline: copying a shared_ptr from a
//     global under a std::mutex.
//  3. Load of 100 distinct lazy bundles then Shutdown/destroy, vs raw
//     dlopen(RTLD_NOW)+dlsym then dlclose of the same 100 files, interleaved.
//  4. Container::Open of the 1000-bundle app (index built), vs reading the
//     index file alone.
//  5. the launch guard (docs/launch_guard.md): Open + destroy, and Open +
//     Start + destroy, with ContainerOptions::launch_guard on vs off, both
//     apps, interleaved, in repetitions; before the last repetition each
//     app's launch history is grown, so the figures show whether the
//     history (state.db) the guard reads and checks at every Open costs more
//     as it grows. Runs last: it installs the process-wide crash handlers.
// Every sample checks that destroying the container unmapped the bundle
// libraries, so each sample dlopens again. The table at the end is
// informational: the exit code is 0 unless the bench itself could not run.
//
// Single-threaded except the 2-thread lookup samples, which start their own
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
#include "bench_util.h"
#include "synthetic_app.h"
#include "synthetic_service.h"

namespace fs = std::filesystem;

#ifndef ATRIUM_SYNTHETIC_BUNDLE_LIBRARY
#error "ATRIUM_SYNTHETIC_BUNDLE_LIBRARY must name the generic synthetic bundle library"
#endif

namespace atrium::bench {
namespace {

using atrium::bench::Fail;
using atrium::bench::LoadAverage;
using atrium::bench::Median;
using atrium::bench::Must;
using atrium::bench::MustOk;
using atrium::bench::UsableCpus;

using Clock = std::chrono::steady_clock;

constexpr uint32_t kInstalled = 1000;
constexpr uint32_t kNeeded = 20;
constexpr uint32_t kLoadCount = 100;

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

double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// True while `library` is mapped in this process (RTLD_NOLOAD never loads).
bool IsMapped(const std::string& library) {
  void* h = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (h == nullptr) return false;
  dlclose(h);
  return true;
}

void MustBeUnmapped(const std::string& library, const char* after) {
  if (IsMapped(library)) {
    Fail(library + " is still mapped after " + after +
         "; the next sample would not dlopen it again");
  }
}

std::unique_ptr<Container> OpenApp(const SyntheticApp& app, const std::string& data_dir) {
  return Must(Container::Open({.app_dir = app.dir, .data_dir = data_dir}),
              "Container::Open(" + app.dir + ")");
}

struct Fixture {
  fs::path root;
  SyntheticApp big;    // kInstalled installed / kNeeded needed
  SyntheticApp small;  // kNeeded installed / kNeeded needed
  std::string big_data, small_data;
};

Fixture MakeFixture(const BenchConfig& config) {
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
struct Row {
  std::string key;  // JSON name
  std::string metric;
  std::string unit;
  double ours = 0;
  std::string baseline_name;
  double baseline = 0;
  bool has_target = true;    // false: reported only, no target exists
  bool ratio_target = true;  // target on ours/baseline, else on ours itself
  double target = 0;
  double ratio() const { return baseline > 0 ? ours / baseline : 0; }
  bool pass() const { return (ratio_target ? ratio() : ours) <= target; }
  std::string TargetText() const {
    char buf[48];
    if (!has_target) {
      std::snprintf(buf, sizeof buf, "-");
    } else if (ratio_target) {
      std::snprintf(buf, sizeof buf, "ratio <= %.2f", target);
    } else {
      std::snprintf(buf, sizeof buf, "<= %.0f %s", target, unit.c_str());
    }
    return buf;
  }
};

// ---------------------------------------------------------------------------
// 1. start -> home-open

Row StartToHome(const Fixture& fx, const BenchConfig& config) {
  auto sample = [&](const SyntheticApp& app, const std::string& data) {
    auto t0 = Clock::now();
    auto c = OpenApp(app, data);
    MustOk(c->Start(), "Start of " + app.id);
    MustOk(c->router().Launch("home"), "Launch(\"home\") of " + app.id);
    auto t1 = Clock::now();
    c.reset();
    MustBeUnmapped(app.bundles[0].library, "destroying the container");
    return Us(t0, t1);
  };
  for (int i = 0; i < config.warmup; ++i) {
    sample(fx.big, fx.big_data);
    sample(fx.small, fx.small_data);
  }
  std::vector<double> big, small;
  for (int i = 0; i < config.start_iterations; ++i) {
    if (i % 2 == 0) {
      big.push_back(sample(fx.big, fx.big_data));
      small.push_back(sample(fx.small, fx.small_data));
    } else {
      small.push_back(sample(fx.small, fx.small_data));
      big.push_back(sample(fx.big, fx.big_data));
    }
  }
  Row r;
  r.key = "start_to_home_open";
  r.metric = "start->home-open, 1000 inst/20 needed";
  r.unit = "us";
  r.ours = Median(big);
  r.baseline_name = "same, 20 inst/20 needed";
  r.baseline = Median(small);
  r.target = 1.10;
  return r;
}

// ---------------------------------------------------------------------------
// 2. service lookup

// The CPUs this process may run on.

void PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// ns per call of `op` on `threads` threads running together (each on its own
// CPU when there are enough); the slowest thread's figure.
template <typename Op>
double NsPerOp(int threads, uint64_t ops, const std::vector<int>& cpus, Op& op) {
  if (threads == 1) {
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < ops; ++i) op();
    return Us(t0, Clock::now()) * 1000.0 / static_cast<double>(ops);
  }
  std::atomic<int> ready{0};
  std::vector<double> ns(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      if (!cpus.empty()) PinTo(cpus[static_cast<size_t>(t) % cpus.size()]);
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      auto t0 = Clock::now();
      for (uint64_t i = 0; i < ops; ++i) op();
      ns[t] = Us(t0, Clock::now()) * 1000.0 / static_cast<double>(ops);
    });
  }
  for (auto& th : pool) th.join();
  return *std::max_element(ns.begin(), ns.end());
}

// Lookup figures on 2 threads are only comparable with what the machine
// gives 2 threads at all (vCPUs may share a core; the host may be busy):
// this is a pure-ALU op, run like the lookups.
void AluOp() {
  thread_local uint64_t h = 1469598103934665603ull;
  for (uint64_t k = 0; k < 8; ++k) {
    h ^= k;
    h *= 1099511628211ull;
  }
  benchmark::DoNotOptimize(h);
}

std::vector<Row> ServiceLookup(const Fixture& fx, const BenchConfig& config,
                               boost::json::object* detail) {
  auto c = OpenApp(fx.small, fx.small_data);
  MustOk(c->Start(), "Start of " + fx.small.id);
  ServiceRegistry& registry = c->services();
  const SyntheticBundle& provider = fx.small.bundles[1];
  const std::string id = SyntheticServiceId(provider.name);
  auto service = std::static_pointer_cast<SyntheticService>(registry.Get(id));
  if (!service || service->Number() != SyntheticNumber(provider.name)) {
    Fail("service " + id + " is not active after Start");
  }
  auto ours = [&] {
    std::shared_ptr<void> s = registry.Get(id);
    benchmark::DoNotOptimize(s.get());
  };
  // Baseline: a shared_ptr global guarded by a mutex, copied out per lookup.
  struct Guarded {
    std::mutex mu;
    std::shared_ptr<void> value;  // guarded by mu
  } global;
  global.value = service;
  auto baseline = [&] {
    std::shared_ptr<void> s;
    {
      std::lock_guard lock(global.mu);
      s = global.value;
    }
    benchmark::DoNotOptimize(s.get());
  };

  auto alu = AluOp;
  const std::vector<int> cpus = UsableCpus();
  std::vector<double> ours1, base1, ours2, base2, alu1, alu2;
  for (int r = -config.warmup; r < config.lookup_repetitions; ++r) {
    double o1 = NsPerOp(1, config.lookup_ops, cpus, ours);
    double b1 = NsPerOp(1, config.lookup_ops, cpus, baseline);
    double o2 = NsPerOp(2, config.lookup_ops, cpus, ours);
    double b2 = NsPerOp(2, config.lookup_ops, cpus, baseline);
    double a1 = NsPerOp(1, config.lookup_ops, cpus, alu);
    double a2 = NsPerOp(2, config.lookup_ops, cpus, alu);
    if (r < 0) continue;
    ours1.push_back(o1);
    base1.push_back(b1);
    ours2.push_back(o2);
    base2.push_back(b2);
    alu1.push_back(a1);
    alu2.push_back(a2);
  }
  const double lookup_scaling = Median(ours2) / Median(ours1);
  const double alu_scaling = Median(alu2) / Median(alu1);
  (*detail)["lookup_2_thread_slowdown"] = lookup_scaling;
  (*detail)["alu_2_thread_slowdown"] = alu_scaling;
  std::printf(
      "  2 threads vs 1: lookups %.2fx slower per op; a pure-ALU loop %.2fx "
      "(what this machine gives a second thread)\n",
      lookup_scaling, alu_scaling);
  std::vector<Row> rows(2);
  rows[0].key = "service_lookup_1_thread";
  rows[0].metric = "services().Get(id), 1 thread";
  rows[0].ours = Median(ours1);
  rows[0].baseline = Median(base1);
  rows[1].key = "service_lookup_2_threads";
  rows[1].metric = "services().Get(id), 2 threads";
  rows[1].ours = Median(ours2);
  rows[1].baseline = Median(base2);
  for (Row& r : rows) {
    r.unit = "ns";
    r.baseline_name = "mutex+shared_ptr copy";
    r.ratio_target = false;
    r.target = 70;
  }
  if (cpus.size() < 2)
    std::printf("  note: only %zu usable CPU(s); 2 threads share it\n", cpus.size());
  return rows;
}

// ---------------------------------------------------------------------------
// 3. loading 100 bundles

struct LoadTimes {
  double load_us = 0, unload_us = 0;
};

Row LoadBundles(const Fixture& fx, const BenchConfig& config, boost::json::object* detail) {
  // Lazy bundles with no requires: Load activates exactly these, and the raw
  // baseline dlopens exactly the same files.
  std::vector<const SyntheticBundle*> chosen;
  for (const auto& b : fx.big.bundles) {
    if (!b.needed && b.requires_.empty() && chosen.size() < kLoadCount) chosen.push_back(&b);
  }
  if (chosen.size() < kLoadCount) Fail("the synthetic app has too few independent lazy bundles");
  const double n = static_cast<double>(chosen.size());

  auto ours = [&] {
    auto c = OpenApp(fx.big, fx.big_data);
    LoadTimes t;
    auto t0 = Clock::now();
    for (const SyntheticBundle* b : chosen) MustOk(c->Load(b->name), "Load(" + b->name + ")");
    auto t1 = Clock::now();
    c->Shutdown();
    c.reset();
    auto t2 = Clock::now();
    t.load_us = Us(t0, t1);
    t.unload_us = Us(t1, t2);
    MustBeUnmapped(chosen.front()->library, "Shutdown and destroying the container");
    MustBeUnmapped(chosen.back()->library, "Shutdown and destroying the container");
    return t;
  };
  std::vector<void*> handles(chosen.size());
  auto raw = [&] {
    LoadTimes t;
    auto t0 = Clock::now();
    for (size_t i = 0; i < chosen.size(); ++i) {
      handles[i] = dlopen(chosen[i]->library.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handles[i] == nullptr) Fail(std::string("dlopen: ") + dlerror());
      void* entry = dlsym(handles[i], ATRIUM_BUNDLE_ENTRY_SYMBOL);
      if (entry == nullptr) Fail(std::string("dlsym: ") + dlerror());
      benchmark::DoNotOptimize(entry);
    }
    auto t1 = Clock::now();
    for (void* h : handles) dlclose(h);
    auto t2 = Clock::now();
    t.load_us = Us(t0, t1);
    t.unload_us = Us(t1, t2);
    MustBeUnmapped(chosen.front()->library, "dlclose");
    return t;
  };
  std::vector<double> ours_total, ours_load, ours_unload, raw_total, raw_load, raw_unload;
  for (int i = -config.warmup; i < config.load_iterations; ++i) {
    LoadTimes o, r;
    if (i % 2 == 0) {
      o = ours();
      r = raw();
    } else {
      r = raw();
      o = ours();
    }
    if (i < 0) continue;
    ours_total.push_back((o.load_us + o.unload_us) / n);
    ours_load.push_back(o.load_us / n);
    ours_unload.push_back(o.unload_us / n);
    raw_total.push_back((r.load_us + r.unload_us) / n);
    raw_load.push_back(r.load_us / n);
    raw_unload.push_back(r.unload_us / n);
  }
  (*detail)["ours_load_us_per_bundle"] = Median(ours_load);
  (*detail)["ours_unload_us_per_bundle"] = Median(ours_unload);
  (*detail)["raw_dlopen_dlsym_us_per_bundle"] = Median(raw_load);
  (*detail)["raw_dlclose_us_per_bundle"] = Median(raw_unload);
  std::printf(
      "  load: ours %.1f us/bundle vs dlopen+dlsym %.1f; unload: ours %.1f vs dlclose %.1f\n",
      Median(ours_load), Median(raw_load), Median(ours_unload), Median(raw_unload));
  Row row;
  row.key = "load_100_bundles";
  row.metric = "Load 100 lazy bundles + Shutdown";
  row.unit = "us/bundle";
  row.ours = Median(ours_total);
  row.baseline_name = "dlopen+dlsym+dlclose";
  row.baseline = Median(raw_total);
  row.target = 1.2;
  return row;
}

// ---------------------------------------------------------------------------
// 4. Container::Open with a 1000-bundle index

Row OpenIndexed(const Fixture& fx, const BenchConfig& config) {
  const std::string index_path = (fs::path(fx.big_data) / "bundle_index.bin").string();
  struct stat before;
  if (::stat(index_path.c_str(), &before) != 0) Fail("no bundle index at " + index_path);

  auto ours = [&] {
    auto t0 = Clock::now();
    auto c = OpenApp(fx.big, fx.big_data);
    auto t1 = Clock::now();
    benchmark::DoNotOptimize(c.get());
    return Us(t0, t1);
  };
  auto read_index = [&] {
    auto t0 = Clock::now();
    int fd = ::open(index_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail("cannot open " + index_path);
    struct stat st;
    if (::fstat(fd, &st) != 0) Fail("cannot stat " + index_path);
    std::string image(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < image.size()) {
      ssize_t r = ::read(fd, image.data() + done, image.size() - done);
      if (r <= 0) Fail("cannot read " + index_path);
      done += static_cast<size_t>(r);
    }
    ::close(fd);
    benchmark::DoNotOptimize(image.data());
    return Us(t0, Clock::now());
  };
  std::vector<double> open_us, read_us;
  for (int i = -config.warmup; i < config.open_iterations; ++i) {
    double o, r;
    if (i % 2 == 0) {
      o = ours();
      r = read_index();
    } else {
      r = read_index();
      o = ours();
    }
    if (i < 0) continue;
    open_us.push_back(o);
    read_us.push_back(r);
  }
  struct stat after;
  if (::stat(index_path.c_str(), &after) != 0 || after.st_ino != before.st_ino ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
    Fail("the bundle index was rebuilt during the Open samples; they did not measure reopening");
  }
  Row row;
  row.key = "open_1000_bundle_index";
  row.metric = "Container::Open, 1000-bundle index";
  row.unit = "us";
  row.ours = Median(open_us);
  row.baseline_name = "read index file";
  row.baseline = Median(read_us);
  row.ratio_target = false;
  row.target = 1000;
  return row;
}

// ---------------------------------------------------------------------------
// 5. the launch guard

// One guard sample: the guard on or off; Open alone (the guard records the
// launch, then discards it at close: opened, never started) or Open + Start
// (the launch reaches idle and destroying the container marks it good).
struct GuardVariant {
  bool guard = false;
  bool start = false;
};
constexpr GuardVariant kGuardVariants[] = {
    {.guard = false, .start = false},
    {.guard = true, .start = false},
    {.guard = false, .start = true},
    {.guard = true, .start = true},
};
constexpr int kGuardVariantCount = 4;

struct LaunchTimes {
  double open_us = 0, start_us = 0, close_us = 0;
  double total() const { return open_us + start_us + close_us; }
};

// The launch records in <data>/state.db: how many, and how many not good.
struct LaunchRows {
  size_t total = 0, not_good = 0;
};

LaunchRows CountLaunchRows(const std::string& data) {
  const std::string db = (fs::path(data) / "state.db").string();
  LaunchHistory history =
      Must(ReadLaunchHistory(db, std::numeric_limits<int>::max()), "reading launches of " + db);
  LaunchRows rows;
  rows.total = history.launches.size();
  for (const LaunchRecord& r : history.launches) {
    if (r.outcome != LaunchOutcome::kGood) ++rows.not_good;
  }
  return rows;
}

// state.db plus its WAL, in KiB.
double StateDbKib(const std::string& data) {
  uintmax_t bytes = 0;
  for (const char* name : {"state.db", "state.db-wal"}) {
    std::error_code ec;
    uintmax_t n = fs::file_size(fs::path(data) / name, ec);
    if (!ec) bytes += n;
  }
  return static_cast<double>(bytes) / 1024.0;
}

struct IndexStamp {
  ino_t ino = 0;
  timespec mtime{};
};

IndexStamp StampIndex(const std::string& data) {
  const std::string path = (fs::path(data) / "bundle_index.bin").string();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) Fail("no bundle index at " + path);
  return {st.st_ino, st.st_mtim};
}

bool SameStamp(const IndexStamp& a, const IndexStamp& b) {
  return a.ino == b.ino && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec;
}

std::vector<Row> LaunchGuard(const Fixture& fx, const BenchConfig& config,
                             boost::json::object* detail) {
  // A hang would be a bug in the bench or the guard: counted by on_hang (the
  // watchdog thread, joined when the container closes) and checked per sample.
  std::atomic<int> hangs{0};
  auto sample = [&](const SyntheticApp& app, const std::string& data, GuardVariant v) {
    ContainerOptions options{.app_dir = app.dir, .data_dir = data};
    if (v.guard) {
      options.launch_guard = true;
      options.on_hang = [&hangs] { hangs.fetch_add(1); };
    }
    LaunchTimes t;
    auto t0 = Clock::now();
    auto c = Must(Container::Open(std::move(options)), "Container::Open(" + app.dir + ")");
    auto t1 = Clock::now();
    const LaunchGuardReport* report = c->launch_guard();
    if (!v.guard && report != nullptr) Fail("the guard ran although launch_guard was off");
    if (v.guard) {
      if (report == nullptr) Fail("launch_guard was on but the container reports no guard");
      if (report->launch_id == 0) Fail("the guard did not record the launch in " + data);
      if (report->decision.level != RecoveryLevel::kNone || report->decision.safe_mode ||
          !report->actions.empty()) {
        Fail("the guard decided to recover (" + report->decision.reason +
             "); the samples would measure recovery, not the guard's fixed cost");
      }
    }
    auto t2 = Clock::now();
    if (v.start) MustOk(c->Start(), "Start of " + app.id);
    auto t3 = Clock::now();
    c.reset();
    auto t4 = Clock::now();
    if (hangs.load() != 0) Fail("the watchdog reported a hang during a sample");
    if (v.start) MustBeUnmapped(app.bundles[0].library, "destroying the container");
    t.open_us = Us(t0, t1);
    t.start_us = Us(t2, t3);
    t.close_us = Us(t3, t4);
    return t;
  };

  struct AppRun {
    const SyntheticApp* app = nullptr;
    const std::string* data = nullptr;
    const char* label = "";
    // Per variant: every sample, and each repetition's sample totals.
    std::vector<LaunchTimes> samples[kGuardVariantCount] = {};
    std::vector<std::vector<double>> rep_totals[kGuardVariantCount] = {};
    std::vector<size_t> rows_at_rep = {};  // launch rows when each repetition began
    IndexStamp index = {};
  };
  AppRun runs[2];
  runs[0].app = &fx.big;
  runs[0].data = &fx.big_data;
  runs[0].label = "1000 inst";
  runs[1].app = &fx.small;
  runs[1].data = &fx.small_data;
  runs[1].label = "20 inst";
  for (AppRun& run : runs) {
    for (auto& v : run.rep_totals) v.resize(config.guard_repetitions);
    run.index = StampIndex(*run.data);
  }

  for (int rep = 0; rep < config.guard_repetitions; ++rep) {
    if (rep == config.guard_repetitions - 1 && config.guard_repetitions > 1) {
      // Grow each history to guard_history_rows good launches (real guarded
      // launches, untimed) so the last repetition reads and checks a large one.
      for (AppRun& run : runs) {
        size_t have = CountLaunchRows(*run.data).total;
        const size_t want = static_cast<size_t>(config.guard_history_rows);
        std::printf("  growing the %s launch history: %zu -> %zu rows\n", run.label, have,
                    std::max(have, want));
        std::fflush(stdout);
        for (; have < want; ++have) sample(*run.app, *run.data, {.guard = true, .start = true});
      }
    }
    size_t expected_growth[2] = {0, 0};
    for (int a = 0; a < 2; ++a) {
      LaunchRows rows = CountLaunchRows(*runs[a].data);
      if (rows.not_good != 0) Fail(std::string(runs[a].label) + ": a launch record is not good");
      runs[a].rows_at_rep.push_back(rows.total);
    }
    const int first = rep == 0 ? -config.warmup : 0;
    for (int i = first; i < config.guard_iterations; ++i) {
      // Rotate the variant order, and alternate the apps, every iteration.
      for (int k = 0; k < kGuardVariantCount; ++k) {
        const int vi = ((i + k) % kGuardVariantCount + kGuardVariantCount) % kGuardVariantCount;
        const GuardVariant v = kGuardVariants[vi];
        for (int j = 0; j < 2; ++j) {
          const int a = ((i + j) % 2 + 2) % 2;
          AppRun& run = runs[a];
          LaunchTimes t = sample(*run.app, *run.data, v);
          if (v.guard && v.start) ++expected_growth[a];
          if (i < 0) continue;
          run.samples[vi].push_back(t);
          run.rep_totals[vi][rep].push_back(t.total());
        }
      }
    }
    // Guarded Open alone must leave no record; guarded Open + Start exactly one, good.
    for (int a = 0; a < 2; ++a) {
      LaunchRows rows = CountLaunchRows(*runs[a].data);
      const size_t want = runs[a].rows_at_rep.back() + expected_growth[a];
      if (rows.total != want || rows.not_good != 0) {
        Fail(std::string(runs[a].label) + ": " + std::to_string(rows.total) + " launch rows (" +
             std::to_string(rows.not_good) + " not good) after repetition " + std::to_string(rep) +
             ", expected " + std::to_string(want) + ", all good");
      }
    }
  }
  for (AppRun& run : runs) {
    if (!SameStamp(run.index, StampIndex(*run.data))) {
      Fail(std::string("the bundle index of ") + run.label +
           " was rebuilt during the guard samples; they did not measure reopening");
    }
  }

  std::vector<Row> rows;
  boost::json::object apps;
  for (AppRun& run : runs) {
    auto totals = [&](int vi) {
      std::vector<double> out;
      for (const LaunchTimes& t : run.samples[vi]) out.push_back(t.total());
      return out;
    };
    auto part = [&](int vi, double LaunchTimes::*field) {
      std::vector<double> out;
      for (const LaunchTimes& t : run.samples[vi]) out.push_back(t.*field);
      return Median(out);
    };
    boost::json::object app_detail;
    for (int pair = 0; pair < 2; ++pair) {
      const int off = pair * 2, on = pair * 2 + 1;  // indices into kGuardVariants
      const char* what = pair == 0 ? "Open+destroy" : "Open+Start+destroy";
      Row r;
      r.key = std::string(pair == 0 ? "guard_open" : "guard_open_start") + "_" +
              (run.app == &fx.big ? "1000" : "20");
      r.metric = std::string(what) + " guarded, " + run.label;
      r.unit = "us";
      r.ours = Median(totals(on));
      r.baseline_name = "same, guard off";
      r.baseline = Median(totals(off));
      r.has_target = false;
      std::printf(
          "  %s, %s: guard on %.0f us (open %.0f, start %.0f, destroy %.0f) vs off %.0f us "
          "(open %.0f, start %.0f, destroy %.0f): x%.2f, +%.0f us\n",
          run.label, what, r.ours, part(on, &LaunchTimes::open_us),
          part(on, &LaunchTimes::start_us), part(on, &LaunchTimes::close_us), r.baseline,
          part(off, &LaunchTimes::open_us), part(off, &LaunchTimes::start_us),
          part(off, &LaunchTimes::close_us), r.ratio(), r.ours - r.baseline);
      boost::json::array per_rep;
      std::vector<double> rep_ratios;
      std::printf("    per repetition (launch rows at its start: on / off us = ratio):");
      for (int rep = 0; rep < config.guard_repetitions; ++rep) {
        const double m_on = Median(run.rep_totals[on][rep]);
        const double m_off = Median(run.rep_totals[off][rep]);
        rep_ratios.push_back(m_on / m_off);
        std::printf(" [%zu: %.0f/%.0f = %.2f]", run.rows_at_rep[rep], m_on, m_off, m_on / m_off);
        per_rep.push_back(boost::json::object{{"launch_rows", run.rows_at_rep[rep]},
                                              {"guard_on_us", m_on},
                                              {"guard_off_us", m_off},
                                              {"ratio", m_on / m_off}});
      }
      std::printf("; median ratio %.2f\n", Median(rep_ratios));
      app_detail[r.key] = boost::json::object{
          {"median_repetition_ratio", Median(rep_ratios)},
          {"on_open_us", part(on, &LaunchTimes::open_us)},
          {"on_start_us", part(on, &LaunchTimes::start_us)},
          {"on_destroy_us", part(on, &LaunchTimes::close_us)},
          {"off_open_us", part(off, &LaunchTimes::open_us)},
          {"off_start_us", part(off, &LaunchTimes::start_us)},
          {"off_destroy_us", part(off, &LaunchTimes::close_us)},
          {"per_repetition", std::move(per_rep)},
      };
      rows.push_back(std::move(r));
    }
    const LaunchRows final_rows = CountLaunchRows(*run.data);
    std::printf(
        "  %s: %zu launch rows in state.db after the run (all good), state.db+wal %.0f KiB\n",
        run.label, final_rows.total, StateDbKib(*run.data));
    app_detail["launch_rows_after"] = final_rows.total;
    app_detail["state_db_kib_after"] = StateDbKib(*run.data);
    apps[run.label] = std::move(app_detail);
  }
  (*detail)["apps"] = std::move(apps);
  return rows;
}

// ---------------------------------------------------------------------------

// 1-minute load average, or -1 when unknown.

void PrintTable(const std::vector<Row>& rows) {
  std::printf("\n%-38s %12s %-9s %-22s %10s %8s %-15s %s\n", "metric", "ours", "unit", "baseline",
              "(value)", "ratio", "target", "");
  std::printf("%s\n", std::string(124, '-').c_str());
  for (const Row& r : rows) {
    std::printf("%-38s %12.2f %-9s %-22s %10.2f %8.2f %-15s %s\n", r.metric.c_str(), r.ours,
                r.unit.c_str(), r.baseline_name.c_str(), r.baseline, r.ratio(),
                r.TargetText().c_str(),
                !r.has_target ? ""
                : r.pass()    ? "PASS"
                              : "MISS");
  }
  std::printf("(informational: targets are not asserted; 1-minute load average now %.2f)\n",
              LoadAverage());
}

void WriteJson(const std::string& path, const BenchConfig& config, const std::vector<Row>& rows,
               const boost::json::object& load_detail, const boost::json::object& lookup_detail,
               const boost::json::object& guard_detail, double loadavg_before,
               double loadavg_after) {
  boost::json::array metrics;
  for (const Row& r : rows) {
    metrics.push_back(boost::json::object{
        {"name", r.key},
        {"metric", r.metric},
        {"unit", r.unit},
        {"ours", r.ours},
        {"baseline_name", r.baseline_name},
        {"baseline", r.baseline},
        {"ratio", r.ratio()},
        {"target", r.TargetText()},
        {"pass", !r.has_target || r.pass()},
    });
  }
  boost::json::object root{
      {"quick", config.quick},
      {"installed", kInstalled},
      {"needed", kNeeded},
      {"start_iterations", config.start_iterations},
      {"load_iterations", config.load_iterations},
      {"open_iterations", config.open_iterations},
      {"lookup_repetitions", config.lookup_repetitions},
      {"lookup_ops", config.lookup_ops},
      {"guard_repetitions", config.guard_repetitions},
      {"guard_iterations", config.guard_iterations},
      {"guard_history_rows", config.guard_history_rows},
      {"only", config.only},
      {"usable_cpus", UsableCpus().size()},
      {"metrics", std::move(metrics)},
      {"loadavg_before", loadavg_before},
      {"loadavg_after", loadavg_after},
      {"load_detail", load_detail},
      {"lookup_detail", lookup_detail},
      {"guard_detail", guard_detail},
  };
  std::ofstream out(path, std::ios::trunc);
  out << boost::json::serialize(root) << "\n";
  if (!out) Fail("cannot write " + path);
}

int Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: atrium_bench [--quick] [--json=PATH] [--keep] [--only=SECTION]\n"
               "  --quick         tiny iteration counts (smoke test; numbers are noise)\n"
               "  --json=PATH     also write the results as JSON\n"
               "  --keep          keep the temp dir with the synthetic apps\n"
               "  --only=SECTION  run one section: start, lookup, load, open or guard\n");
  return code;
}

int Main(int argc, char** argv) {
  atrium::bench::BenchName() = "atrium_bench";
  BenchConfig config;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick") {
      config.quick = true;
    } else if (a == "--keep") {
      config.keep = true;
    } else if (a.starts_with("--json=")) {
      config.json_path = std::string(a.substr(7));
    } else if (a == "--json" && i + 1 < argc) {
      config.json_path = argv[++i];
    } else if (a.starts_with("--only=")) {
      config.only = std::string(a.substr(7));
      if (config.only != "start" && config.only != "lookup" && config.only != "load" &&
          config.only != "open" && config.only != "guard") {
        std::fprintf(stderr, "atrium_bench: unknown section '%s'\n", config.only.c_str());
        return Usage(2);
      }
    } else if (a == "-h" || a == "--help") {
      return Usage(0);
    } else {
      std::fprintf(stderr, "atrium_bench: unknown argument '%s'\n", argv[i]);
      return Usage(2);
    }
  }
  if (config.quick) {
    config.warmup = 1;
    config.start_iterations = 3;
    config.load_iterations = 3;
    config.open_iterations = 5;
    config.lookup_repetitions = 3;
    config.lookup_ops = 20'000;
    config.guard_repetitions = 2;
    config.guard_iterations = 2;
    config.guard_history_rows = 8;
  }
#if !defined(__OPTIMIZE__)
  std::printf("warning: atrium_bench was built without optimization; numbers mean little\n");
#endif

  const double load_before = LoadAverage();
  std::printf("machine: %zu usable CPUs, 1-minute load average %.2f%s\n", UsableCpus().size(),
              load_before, load_before > 0.5 ? " (busy: expect noisy numbers)" : "");
  std::printf("writing synthetic apps (%u/%u and %u/%u installed/needed)...\n", kInstalled, kNeeded,
              kNeeded, kNeeded);
  std::fflush(stdout);
  Fixture fx = MakeFixture(config);
  std::printf("  in %s\n", fx.root.c_str());

  std::vector<Row> rows;
  boost::json::object load_detail, lookup_detail, guard_detail;
  auto run = [&](const char* section) { return config.only.empty() || config.only == section; };
  if (run("start")) {
    std::printf("[1/5] start->home-open (%d interleaved samples each)\n", config.start_iterations);
    std::fflush(stdout);
    rows.push_back(StartToHome(fx, config));
  }
  if (run("lookup")) {
    std::printf("[2/5] service lookup (%d x %" PRIu64 " lookups)\n", config.lookup_repetitions,
                config.lookup_ops);
    std::fflush(stdout);
    for (Row& r : ServiceLookup(fx, config, &lookup_detail)) rows.push_back(std::move(r));
  }
  if (run("load")) {
    std::printf("[3/5] load %u bundles (%d interleaved samples each)\n", kLoadCount,
                config.load_iterations);
    std::fflush(stdout);
    rows.push_back(LoadBundles(fx, config, &load_detail));
  }
  if (run("open")) {
    std::printf("[4/5] Container::Open (%d interleaved samples each)\n", config.open_iterations);
    std::fflush(stdout);
    rows.push_back(OpenIndexed(fx, config));
  }
  if (run("guard")) {
    std::printf(
        "[5/5] launch guard on vs off (%d repetitions x %d interleaved samples each; history "
        "grown to %d launches before the last)\n",
        config.guard_repetitions, config.guard_iterations, config.guard_history_rows);
    std::fflush(stdout);
    for (Row& r : LaunchGuard(fx, config, &guard_detail)) rows.push_back(std::move(r));
  }

  PrintTable(rows);
  if (!config.json_path.empty()) {
    WriteJson(config.json_path, config, rows, load_detail, lookup_detail, guard_detail, load_before,
              LoadAverage());
    std::printf("wrote %s\n", config.json_path.c_str());
  }
  if (config.keep) {
    std::printf("kept %s\n", fx.root.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(fx.root, ec);
  }
  return 0;
}

}  // namespace
}  // namespace atrium::bench

int main(int argc, char** argv) { return atrium::bench::Main(argc, argv); }
