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
#include "container_bench.h"

namespace atrium::bench {
namespace {

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
  OtherCpuWatch watch;
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
  r.ours_samples = std::move(big);
  r.baseline_name = "same, 20 inst/20 needed";
  r.baseline_samples = std::move(small);
  r.target = 1.10;
  r.CheckOthers(watch);
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
  OtherCpuWatch watch;
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
  rows[0].ours_samples = ours1;
  rows[0].baseline_samples = base1;
  rows[1].key = "service_lookup_2_threads";
  rows[1].metric = "services().Get(id), 2 threads";
  rows[1].ours_samples = ours2;
  rows[1].baseline_samples = base2;
  if (cpus.size() < 2)
    rows[1].untrusted = "2 threads on " + std::to_string(cpus.size()) + " usable CPU";
  for (Row& r : rows) {
    r.CheckOthers(watch);
    r.unit = "ns";
    r.baseline_name = "mutex+shared_ptr copy";
    r.on = Row::On::kValue;
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
  double rss_kib = 0;  // resident memory the loaded bundles added (before unloading)
};

// Resident memory of this process, KiB (/proc/self/statm).
double ResidentKib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) Fail("cannot read /proc/self/statm");
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (got != 2) Fail("cannot parse /proc/self/statm");
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0;
}

// Three rows: load (Load of 100 lazy bundles vs dlopen+dlsym of the same
// files), unload (Shutdown and destroying the container vs dlclose), and
// the resident memory each loaded bundle adds (info: no target).
std::vector<Row> LoadBundles(const Fixture& fx, const BenchConfig& config,
                             boost::json::object* detail) {
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
    const double rss0 = ResidentKib();
    auto t0 = Clock::now();
    for (const SyntheticBundle* b : chosen) MustOk(c->Load(b->name), "Load(" + b->name + ")");
    auto t1 = Clock::now();
    t.load_us = Us(t0, t1);
    t.rss_kib = ResidentKib() - rss0;
    t1 = Clock::now();  // unloading starts here: the RSS read is not part of it
    c->Shutdown();
    c.reset();
    auto t2 = Clock::now();
    t.unload_us = Us(t1, t2);
    MustBeUnmapped(chosen.front()->library, "Shutdown and destroying the container");
    MustBeUnmapped(chosen.back()->library, "Shutdown and destroying the container");
    return t;
  };
  std::vector<void*> handles(chosen.size());
  auto raw = [&] {
    LoadTimes t;
    const double rss0 = ResidentKib();
    auto t0 = Clock::now();
    for (size_t i = 0; i < chosen.size(); ++i) {
      handles[i] = dlopen(chosen[i]->library.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handles[i] == nullptr) Fail(std::string("dlopen: ") + dlerror());
      void* entry = dlsym(handles[i], ATRIUM_BUNDLE_ENTRY_SYMBOL);
      if (entry == nullptr) Fail(std::string("dlsym: ") + dlerror());
      benchmark::DoNotOptimize(entry);
    }
    auto t1 = Clock::now();
    t.load_us = Us(t0, t1);
    t.rss_kib = ResidentKib() - rss0;
    t1 = Clock::now();  // unloading starts here: the RSS read is not part of it
    for (void* h : handles) dlclose(h);
    auto t2 = Clock::now();
    t.unload_us = Us(t1, t2);
    MustBeUnmapped(chosen.front()->library, "dlclose");
    return t;
  };
  std::vector<double> ours_total, ours_load, ours_unload, raw_total, raw_load, raw_unload;
  std::vector<double> ours_rss, raw_rss;
  OtherCpuWatch watch;
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
    ours_rss.push_back(o.rss_kib / n);
    raw_rss.push_back(r.rss_kib / n);
  }
  (*detail)["ours_load_us_per_bundle"] = Median(ours_load);
  (*detail)["ours_unload_us_per_bundle"] = Median(ours_unload);
  (*detail)["raw_dlopen_dlsym_us_per_bundle"] = Median(raw_load);
  (*detail)["raw_dlclose_us_per_bundle"] = Median(raw_unload);
  (*detail)["ours_load_unload_us_per_bundle"] = Median(ours_total);
  (*detail)["raw_load_unload_us_per_bundle"] = Median(raw_total);
  std::printf(
      "  load: ours %.1f us/bundle vs dlopen+dlsym %.1f; unload: ours %.1f vs dlclose %.1f\n",
      Median(ours_load), Median(raw_load), Median(ours_unload), Median(raw_unload));
  std::printf("  resident memory per loaded bundle: ours %.1f KiB vs dlopen %.1f KiB\n",
              Median(ours_rss), Median(raw_rss));
  std::vector<Row> rows;
  rows.push_back(RatioRow("load_100_bundles", "Load of 100 lazy bundles", "us/bundle",
                          "dlopen+dlsym", std::move(ours_load), std::move(raw_load), 1.15));
  rows.push_back(RatioRow("unload_100_bundles", "Shutdown of 100 loaded bundles", "us/bundle",
                          "dlclose", std::move(ours_unload), std::move(raw_unload), 1.2));
  // Memory: the resident KiB each loaded bundle adds (its library's pages,
  // its runtime record, its context and registrations) against what
  // dlopen+dlsym of the same file adds. Reported, no target.
  rows.push_back(RatioRow("rss_per_loaded_bundle", "resident memory per loaded bundle", "KiB",
                          "dlopen+dlsym", std::move(ours_rss), std::move(raw_rss), 0));
  for (Row& r : rows) r.CheckOthers(watch);
  return rows;
}

// ---------------------------------------------------------------------------
// 4. Container::Open with a 1000-bundle index

std::vector<Row> OpenIndexed(const Fixture& fx, const BenchConfig& config) {
  const std::string index_path = (fs::path(fx.big_data) / "bundle_index.bin").string();
  struct stat before;
  if (::stat(index_path.c_str(), &before) != 0) Fail("no bundle index at " + index_path);

  // The unguarded Open (nothing staged: the store answers from its stamp) and
  // the guarded one (state.db opened, the launch row written; never started,
  // so its close discards the launch), each against reading the index file.
  auto ours = [&](bool guarded) {
    auto t0 = Clock::now();
    auto c = Must(
        Container::Open({.app_dir = fx.big.dir, .data_dir = fx.big_data, .launch_guard = guarded}),
        "Container::Open(" + fx.big.dir + ")");
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
  std::vector<Row> rows;
  for (bool guarded : {false, true}) {
    std::vector<double> open_us, read_us;
    OtherCpuWatch watch;
    const int iterations =
        guarded ? std::max(1, config.open_iterations / 3) : config.open_iterations;
    for (int i = -config.warmup; i < iterations; ++i) {
      double o, r;
      if (i % 2 == 0) {
        o = ours(guarded);
        r = read_index();
      } else {
        r = read_index();
        o = ours(guarded);
      }
      if (i < 0) continue;
      open_us.push_back(o);
      read_us.push_back(r);
    }
    Row row;
    row.key = guarded ? "open_guarded_1000_bundle_index" : "open_1000_bundle_index";
    row.metric = guarded ? "Container::Open guarded, 1000-bundle index"
                         : "Container::Open, 1000-bundle index";
    row.unit = "us";
    row.ours_samples = std::move(open_us);
    row.baseline_name = "read index file";
    row.baseline_samples = std::move(read_us);
    row.CheckOthers(watch);
    // Opening finds the index and reads it: at most 3x reading the file. The
    // guarded Open (a durable launch row) is reported, not judged.
    row.has_target = !guarded;
    row.target = 3.0;
    rows.push_back(std::move(row));
  }
  struct stat after;
  if (::stat(index_path.c_str(), &after) != 0 || after.st_ino != before.st_ino ||
      after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
      after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
    Fail("the bundle index was rebuilt during the Open samples; they did not measure reopening");
  }
  return rows;
}

// ---------------------------------------------------------------------------

void WriteJson(const std::string& path, const BenchConfig& config, const std::vector<Row>& rows,
               const boost::json::object& load_detail, const boost::json::object& lookup_detail,
               const boost::json::object& guard_detail, double loadavg_before,
               double loadavg_after) {
  boost::json::array metrics = RowsJson(rows);
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
  WriteJsonFile(path, root);
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
    const CommonArg common =
        TakeCommonArg(argc, argv, &i, &config.quick, &config.json_path, &config.keep);
    if (common == CommonArg::kHelp) return Usage(0);
    if (common == CommonArg::kTaken) continue;
    const std::string_view a = argv[i];
    if (a.starts_with("--only=")) {
      config.only = std::string(a.substr(7));
      if (config.only != "start" && config.only != "lookup" && config.only != "load" &&
          config.only != "open" && config.only != "guard") {
        std::fprintf(stderr, "atrium_bench: unknown section '%s'\n", config.only.c_str());
        return Usage(2);
      }
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
  const double load_before = PrintMachine();
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
    for (Row& r : LoadBundles(fx, config, &load_detail)) rows.push_back(std::move(r));
  }
  if (run("open")) {
    std::printf("[4/5] Container::Open (%d interleaved samples each)\n", config.open_iterations);
    std::fflush(stdout);
    for (Row& r : OpenIndexed(fx, config)) rows.push_back(std::move(r));
  }
  if (run("guard")) {
    std::printf(
        "[5/5] launch guard on vs off (%d repetitions x %d interleaved samples each; history "
        "grown to %d launches before the last)\n",
        config.guard_repetitions, config.guard_iterations, config.guard_history_rows);
    std::fflush(stdout);
    for (Row& r : LaunchGuard(fx, config, &guard_detail)) rows.push_back(std::move(r));
  }

  PrintRows(rows);
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
