// hotpatch_bench: the cost of a call through a patch point, each figure
// reported as a ratio against a baseline measured in the same run (never as
// a wall-clock assertion).
//
//   hotpatch_bench [--quick] [--json=PATH] [--keep]
//
// A real Runtime is opened in a temp data dir and one signed package (key
// generated at start) is installed that replaces two of the three points
// declared here. Then, on 1 thread and on 2 threads calling at once (1-3):
//  1. an unpatched point, PatchPoint<&Fee>, vs a direct call of the same
//     never-inlined Fee(cents, rate), and vs a call through a volatile
//     function pointer (informational);
//  2. the patched point (replace: `a * b // 1000`) vs a bare lua_pcall of
//     the same Lua function in a plain lua_State (luaL_newstate +
//     luaL_openlibs; function fetched once; per call: push function and
//     arguments, pcall, read the integer, pop); one lua_State per thread;
//  3. the same with a string argument and a string result;
//  4. memory per Lua state, a thread's per patch: the heap in use
//     (mallinfo2, so the threads' allocator caches count on both sides,
//     and ours includes the thread's patch bookkeeping) that 8 fresh,
//     unpinned threads add once each has called the patched point (its
//     first call builds that thread's sandbox of the patch: a capped
//     lua_State with the patch's chunk loaded), vs 8 fresh threads each
//     holding a bare luaL_newstate + luaL_openlibs with the same source
//     loaded; KiB per thread, informational (no target).
// Variants are interleaved (rotating order) within each repetition and the
// medians over repetitions are reported, as thread CPU time per call (the
// slowest thread's), so other processes on a busy machine do not inflate
// them; wall-clock medians go to the JSON detail. The table at the end is
// informational: the exit code is 0 unless the bench itself could not run.
//
// Threads: every timed loop (1-3) runs on a persistent crew of pinned workers,
// so per-thread state (the runtime's Lua states, the baseline's lua_States)
// is built once, in warm-up, and not inside a sample.
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <lua.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "atrium/hotpatch.h"
#include "atrium/package.h"
#include "atrium/patch_point.h"
#include "bench_row.h"
#include "bench_util.h"
#include "patch_package.h"

namespace fs = std::filesystem;

namespace atrium::bench {
namespace {

using atrium::bench::Fail;
using atrium::bench::LoadAverage;
using atrium::bench::Median;
using atrium::bench::Must;
using atrium::bench::MustOk;
using atrium::bench::UsableCpus;

using Clock = std::chrono::steady_clock;
using hotpatch::PatchPoint;

struct BenchConfig {
  bool quick = false;
  bool keep = false;
  std::string json_path;
  int warmup = 2;
  int repetitions = 21;
  uint64_t native_ops = 2'000'000;  // per sample, per thread (section 1)
  uint64_t lua_ops = 300'000;       // per sample, per thread (sections 2 and 3)
};

// The functions behind the points. noipa: every variant really calls them
// (no inlining, cloning or pure-call elimination).
[[gnu::noipa]] int64_t Fee(int64_t cents, int64_t rate) { return (cents * rate + 500) / 1000; }
[[gnu::noipa]] int64_t FeeUnpatched(int64_t cents, int64_t rate) {
  return (cents * rate + 500) / 1000;
}
[[gnu::noipa]] std::string Tag(std::string_view currency) { return std::string(currency) + ":v1"; }

int64_t (*volatile fee_pointer)(int64_t, int64_t) = &FeeUnpatched;

constexpr int64_t kRate = 7;
constexpr std::string_view kCurrency = "EUR";

// The patch source; the bare baseline loads the very same text.
constexpr const char* kPatchSource =
    "function fee(original, a, b) return a * b // 1000 end\n"
    "function tag(original, s) return s .. ':v2' end\n";

// Keeps `v` (and the work producing it) from being optimized away.
template <typename T>
inline void Keep(const T& v) {
  asm volatile("" : : "r,m"(v) : "memory");
}

// The CPUs this process may run on.

// CPU time of the calling thread: unlike wall time, not inflated while
// other processes on a busy machine preempt the measured thread.
double ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// ns per call, the slowest participating thread's figure.
struct Sample {
  double cpu_ns = 0;   // thread CPU time
  double wall_ns = 0;  // steady clock
};

// Persistent worker threads, each pinned to its own CPU when there are
// enough. Run() hands one job to the first `threads` workers, which start
// together after a spin barrier; it returns when all have finished.
// Concurrency: Run() is called from one thread at a time (the main thread).
class Crew {
 public:
  // A job runs `ops` calls on worker `t` and returns a checksum.
  using Job = std::function<int64_t(int t, uint64_t ops)>;

  Crew(int size, const std::vector<int>& cpus) : samples_(size) {
    for (int t = 0; t < size; ++t) {
      workers_.emplace_back([this, t, cpu = cpus.empty() ? -1 : cpus[t % cpus.size()]] {
        if (cpu >= 0) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(cpu, &set);
          pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        Loop(t);
      });
    }
  }
  ~Crew() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Runs `job` on `threads` workers at once.
  Sample Run(int threads, uint64_t ops, const Job& job) {
    {
      std::lock_guard lock(mu_);
      job_ = &job;
      ops_ = ops;
      threads_ = threads;
      ready_.store(0);
      done_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    std::unique_lock lock(mu_);
    finished_.wait(lock, [&] { return done_ == threads_; });
    Sample out;
    for (int t = 0; t < threads; ++t) {
      out.cpu_ns = std::max(out.cpu_ns, samples_[t].cpu_ns);
      out.wall_ns = std::max(out.wall_ns, samples_[t].wall_ns);
    }
    return out;
  }

 private:
  void Loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      const Job* job;
      uint64_t ops;
      int threads;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        job = job_;
        ops = ops_;
        threads = threads_;
      }
      if (t >= threads) continue;
      ready_.fetch_add(1);
      while (ready_.load() < threads) {
      }
      const double c0 = ThreadCpuNs();
      const auto t0 = Clock::now();
      int64_t sum = (*job)(t, ops);
      const auto t1 = Clock::now();
      const double c1 = ThreadCpuNs();
      Keep(sum);
      samples_[t].cpu_ns = (c1 - c0) / static_cast<double>(ops);
      samples_[t].wall_ns =
          std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(ops);
      {
        std::lock_guard lock(mu_);
        ++done_;
      }
      finished_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, finished_;
  uint64_t generation_ = 0;   // guarded by mu_
  bool stop_ = false;         // guarded by mu_
  const Job* job_ = nullptr;  // guarded by mu_
  uint64_t ops_ = 0;          // guarded by mu_
  int threads_ = 0;           // guarded by mu_
  int done_ = 0;              // guarded by mu_
  std::atomic<int> ready_{0};
  std::vector<Sample> samples_;  // [t] written by worker t, read after done_
  std::vector<std::thread> workers_;
};

// A plain interpreter holding kPatchSource, with `function` fetched once to
// stack slot 1. Used by one thread at a time.
class BareLua {
 public:
  explicit BareLua(const char* function) : L_(luaL_newstate()) {
    if (L_ == nullptr) Fail("luaL_newstate failed");
    luaL_openlibs(L_);
    if (luaL_dostring(L_, kPatchSource) != LUA_OK) {
      Fail(std::string("loading the baseline source: ") + lua_tostring(L_, -1));
    }
    if (lua_getglobal(L_, function) != LUA_TFUNCTION) Fail("baseline has no function");
    lua_settop(L_, 1);
  }
  ~BareLua() { lua_close(L_); }
  BareLua(const BareLua&) = delete;
  BareLua& operator=(const BareLua&) = delete;

  // fee(nil, a, b)
  int64_t Fee(int64_t a, int64_t b) {
    lua_pushvalue(L_, 1);
    lua_pushnil(L_);
    lua_pushinteger(L_, a);
    lua_pushinteger(L_, b);
    if (lua_pcall(L_, 3, 1, 0) != LUA_OK) Fail(std::string("baseline: ") + lua_tostring(L_, -1));
    int64_t r = lua_tointeger(L_, -1);
    lua_pop(L_, 1);
    return r;
  }
  // tag(nil, s)
  std::string Tag(std::string_view s) {
    lua_pushvalue(L_, 1);
    lua_pushnil(L_);
    lua_pushlstring(L_, s.data(), s.size());
    if (lua_pcall(L_, 2, 1, 0) != LUA_OK) Fail(std::string("baseline: ") + lua_tostring(L_, -1));
    size_t n = 0;
    const char* p = lua_tolstring(L_, -1, &n);
    std::string r(p, n);
    lua_pop(L_, 1);
    return r;
  }

 private:
  lua_State* L_;
};

struct Variant {
  std::string name;
  Crew::Job job;
  uint64_t ops;
};

// Samples (ns/call, thread CPU time; one per repetition) of each variant on
// `threads` threads, interleaved with a rotating order within each
// repetition. Wall-clock medians go to `detail` under
// "<key>_<variant>_wall_ns".
std::vector<std::vector<double>> Measure(Crew& crew, int threads,
                                         const std::vector<Variant>& variants,
                                         const BenchConfig& config, const std::string& key,
                                         boost::json::object* detail) {
  std::vector<std::vector<double>> cpu(variants.size()), wall(variants.size());
  for (int r = -config.warmup; r < config.repetitions; ++r) {
    for (size_t k = 0; k < variants.size(); ++k) {
      size_t v = (k + static_cast<size_t>(r + config.warmup)) % variants.size();
      Sample s = crew.Run(threads, variants[v].ops, variants[v].job);
      if (r < 0) continue;
      cpu[v].push_back(s.cpu_ns);
      wall[v].push_back(s.wall_ns);
    }
  }
  for (size_t v = 0; v < variants.size(); ++v)
    (*detail)[key + "_" + variants[v].name + "_wall_ns"] = Median(wall[v]);
  return cpu;
}

void WriteJson(const std::string& path, const BenchConfig& config, const std::vector<Row>& rows,
               const boost::json::object& detail, double loadavg_before, double loadavg_after) {
  boost::json::array metrics = RowsJson(rows);
  boost::json::object root{
      {"quick", config.quick},
      {"repetitions", config.repetitions},
      {"native_ops", config.native_ops},
      {"lua_ops", config.lua_ops},
      {"usable_cpus", UsableCpus().size()},
      {"metrics", std::move(metrics)},
      {"detail", detail},
      {"loadavg_before", loadavg_before},
      {"loadavg_after", loadavg_after},
  };
  WriteJsonFile(path, root);
}

int Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: hotpatch_bench [--quick] [--json=PATH] [--keep]\n"
               "  --quick      tiny iteration counts (smoke test; numbers are noise)\n"
               "  --json=PATH  also write the results as JSON\n"
               "  --keep       keep the temp dir with the runtime's data and the patch\n");
  return code;
}

// Heap bytes in use in every malloc arena.
double HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

// The heap `threads` fresh threads add while each holds what `setup` built
// on it (torn down when the thread ends), in KiB per thread.
double KibPerThread(int threads, const std::function<void()>& setup) {
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool release = false;
  const double before = HeapInUse();
  std::vector<std::thread> crew;
  for (int t = 0; t < threads; ++t) {
    crew.emplace_back([&] {
      setup();
      std::unique_lock lock(mu);
      ++ready;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  }
  double after = 0;
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return ready == threads; });
    after = HeapInUse();
    release = true;
    cv.notify_all();
  }
  for (auto& t : crew) t.join();
  return (after - before) / threads / 1024.0;
}

int Main(int argc, char** argv) {
  atrium::bench::BenchName() = "hotpatch_bench";
  BenchConfig config;
  for (int i = 1; i < argc; ++i) {
    const CommonArg common =
        TakeCommonArg(argc, argv, &i, &config.quick, &config.json_path, &config.keep);
    if (common == CommonArg::kHelp) return Usage(0);
    if (common == CommonArg::kTaken) continue;
    std::fprintf(stderr, "hotpatch_bench: unknown argument '%s'\n", argv[i]);
    return Usage(2);
  }
  if (config.quick) {
    config.warmup = 1;
    config.repetitions = 3;
    config.native_ops = 20'000;
    config.lua_ops = 5'000;
  }
  const double load_before = PrintMachine();
  const std::vector<int> cpus = UsableCpus();
  if (cpus.size() < 2) {
    std::printf("  note: only %zu usable CPU(s); 2 threads share it\n", cpus.size());
  }

  // A runtime in a temp data dir, with one signed package installed.
  std::string pattern = (fs::temp_directory_path() / "atrium-hotpatch-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) Fail("cannot create a temp dir from " + pattern);
  const fs::path root = pattern;
  if (sodium_init() < 0) Fail("sodium_init failed");
  SecretKey secret{};
  PublicKey pub{};
  crypto_sign_keypair(pub.data(), secret.data());
  char pub_hex[2 * sizeof(PublicKey) + 1];
  sodium_bin2hex(pub_hex, sizeof pub_hex, pub.data(), pub.size());
  hotpatch::RuntimeOptions options;
  options.data_dir = (root / "data").string();
  options.trusted_keys = {pub_hex};
  options.app_id = "com.atrium.bench";
  options.app_version = Must(Version::Parse("1.0.0"), "Version::Parse");
  options.bundle_version = [](std::string_view) -> std::optional<Version> { return std::nullopt; };
  std::shared_ptr<hotpatch::Runtime> runtime =
      Must(hotpatch::Runtime::Open(std::move(options)), "Runtime::Open");

  PatchPoint<&FeeUnpatched> unpatched(runtime.get(), "bench.fee.unpatched");
  PatchPoint<&Fee> patched(runtime.get(), "bench.fee");
  PatchPoint<&Tag> patched_tag(runtime.get(), "bench.tag");
  const hotpatch::PatchPointCore* inert = &hotpatch::detail::InertCore();
  if (unpatched.core() == inert || patched.core() == inert || patched_tag.core() == inert) {
    Fail("the runtime refused to declare the bench's patch points");
  }
  const std::string patch_dir = (root / "patch").string();
  fs::create_directories(patch_dir);
  std::ofstream(patch_dir + "/patch.json") << R"json({
  "id": "bench-fee", "version": "1.0.0", "targets": {"app": "com.atrium.bench"},
  "points": [
    {"point": "bench.fee", "mode": "replace", "function": "fee", "signature": "int(int,int)"},
    {"point": "bench.tag", "mode": "replace", "function": "tag", "signature": "string(string)"}]
})json";
  std::ofstream(patch_dir + "/patch.lua") << kPatchSource;
  PackOptions pack;
  pack.apps = {"*"};  // any app: the bench is not about app scope
  pack.kind = ArtifactKind::kLuaPatch;
  pack.secret_key = secret;
  Must(PackDirectory(patch_dir, pack, patch_dir + ".atb"), "packing the patch");
  hotpatch::PatchInfo info = Must(runtime->Install(patch_dir + ".atb"), "installing the patch");
  if (info.state != "enabled") Fail("the patch is " + info.state + ": " + info.reason);

  // The patch must really run (it floors where Fee rounds), and the
  // unpatched point must run the original.
  if (patched(1999, 1) != 1 || Fee(1999, 1) != 2) Fail("the fee patch does not take effect");
  if (patched_tag(kCurrency) != "EUR:v2") Fail("the tag patch does not take effect");
  if (unpatched(1999, 1) != 2 || unpatched.core()->active.load() != nullptr) {
    Fail("the unpatched point is not unpatched");
  }
  BareLua probe("fee");
  if (probe.Fee(1999, 1) != 1) Fail("the bare baseline computes something else");

  // One baseline interpreter per worker, per function.
  constexpr int kThreads = 2;
  std::vector<std::unique_ptr<BareLua>> bare_fee, bare_tag;
  for (int t = 0; t < kThreads; ++t) {
    bare_fee.push_back(std::make_unique<BareLua>("fee"));
    bare_tag.push_back(std::make_unique<BareLua>("tag"));
  }

  auto direct = [](int, uint64_t ops) {
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += FeeUnpatched(static_cast<int64_t>(i), kRate);
    return sum;
  };
  auto pointer = [](int, uint64_t ops) {
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += fee_pointer(static_cast<int64_t>(i), kRate);
    return sum;
  };
  auto point_unpatched = [&](int, uint64_t ops) {
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += unpatched(static_cast<int64_t>(i), kRate);
    return sum;
  };
  auto point_patched = [&](int, uint64_t ops) {
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += patched(static_cast<int64_t>(i), kRate);
    return sum;
  };
  auto bare_pcall = [&](int t, uint64_t ops) {
    BareLua& L = *bare_fee[t];
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += L.Fee(static_cast<int64_t>(i), kRate);
    return sum;
  };
  auto point_patched_string = [&](int, uint64_t ops) {
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += static_cast<int64_t>(patched_tag(kCurrency).size());
    return sum;
  };
  auto bare_pcall_string = [&](int t, uint64_t ops) {
    BareLua& L = *bare_tag[t];
    int64_t sum = 0;
    for (uint64_t i = 0; i < ops; ++i) sum += static_cast<int64_t>(L.Tag(kCurrency).size());
    return sum;
  };

  Crew crew(kThreads, cpus);
  // A row of `threads` threads, checked against what others took while it
  // ran and against the CPUs it had.
  auto MakeRow = [&](int threads, const OtherCpuWatch& watch) {
    Row r;
    r.unit = "ns/call";
    r.CheckOthers(watch);
    if (static_cast<size_t>(threads) > cpus.size() && r.untrusted.empty())
      r.untrusted =
          std::to_string(threads) + " threads on " + std::to_string(cpus.size()) + " usable CPU(s)";
    return r;
  };
  std::vector<Row> rows;
  boost::json::object detail;
  const char* tname[] = {"", "1 thread", "2 threads"};
  std::printf(
      "timing: thread CPU time per call (preemption by other processes excluded); "
      "wall-clock medians in --json detail\n");

  std::printf("[1/4] unpatched point vs direct call vs function pointer (%d x %" PRIu64 " calls)\n",
              config.repetitions, config.native_ops);
  std::fflush(stdout);
  const std::vector<Variant> native = {{"direct", direct, config.native_ops},
                                       {"pointer", pointer, config.native_ops},
                                       {"unpatched", point_unpatched, config.native_ops}};
  for (int threads : {1, 2}) {
    std::string suffix = threads == 1 ? "_1_thread" : "_2_threads";
    OtherCpuWatch watch;
    auto m = Measure(crew, threads, native, config, "native" + suffix, &detail);
    detail["function_pointer_ns" + suffix] = Median(m[1]);
    std::printf("  %s: direct %.2f ns, function pointer %.2f ns, unpatched point %.2f ns\n",
                tname[threads], Median(m[0]), Median(m[1]), Median(m[2]));
    Row r = MakeRow(threads, watch);
    r.key = "unpatched_vs_direct" + suffix;
    r.metric = std::string("unpatched point, ") + tname[threads];
    r.ours_samples = m[2];
    r.baseline_name = "direct call";
    r.baseline_samples = m[0];
    r.target = 1.2;
    rows.push_back(r);
    r.key = "unpatched_vs_pointer" + suffix;
    r.baseline_name = "volatile function pointer";
    r.baseline_samples = m[1];
    r.has_target = false;
    rows.push_back(r);
  }

  std::printf("[2/4] patched point vs bare lua_pcall (%d x %" PRIu64 " calls)\n",
              config.repetitions, config.lua_ops);
  std::fflush(stdout);
  const std::vector<Variant> lua_int = {{"patched", point_patched, config.lua_ops},
                                        {"bare", bare_pcall, config.lua_ops}};
  for (int threads : {1, 2}) {
    std::string suffix = threads == 1 ? "_1_thread" : "_2_threads";
    OtherCpuWatch watch;
    auto m = Measure(crew, threads, lua_int, config, "int" + suffix, &detail);
    Row r = MakeRow(threads, watch);
    r.key = "patched_int_vs_bare_pcall" + suffix;
    r.metric = std::string("patched point int, ") + tname[threads];
    r.ours_samples = m[0];
    r.baseline_name = "bare lua_pcall";
    r.baseline_samples = m[1];
    r.target = 1.5;
    rows.push_back(r);
  }

  std::printf("[3/4] patched point with strings vs bare lua_pcall (%d x %" PRIu64 " calls)\n",
              config.repetitions, config.lua_ops);
  std::fflush(stdout);
  const std::vector<Variant> lua_str = {{"patched", point_patched_string, config.lua_ops},
                                        {"bare", bare_pcall_string, config.lua_ops}};
  for (int threads : {1, 2}) {
    std::string suffix = threads == 1 ? "_1_thread" : "_2_threads";
    OtherCpuWatch watch;
    auto m = Measure(crew, threads, lua_str, config, "string" + suffix, &detail);
    Row r = MakeRow(threads, watch);
    r.key = "patched_string_vs_bare_pcall" + suffix;
    r.metric = std::string("patched point string, ") + tname[threads];
    r.ours_samples = m[0];
    r.baseline_name = "bare lua_pcall";
    r.baseline_samples = m[1];
    r.has_target = false;
    rows.push_back(r);
  }

  constexpr int kStateThreads = 8;
  std::printf(
      "[4/4] memory per Lua state: one patch x %d fresh threads vs bare lua_States "
      "(%d samples)\n",
      kStateThreads, config.repetitions);
  std::fflush(stdout);
  {
    Row r;
    r.key = "lua_state_memory";
    r.metric = "heap per thread per patch, " + std::to_string(kStateThreads) + " threads";
    r.unit = "KiB";
    r.baseline_name = "bare luaL_newstate+openlibs, same source";
    r.has_target = false;
    OtherCpuWatch watch;
    for (int i = 0; i < config.repetitions; ++i) {
      auto ours = [&] {
        if (patched(1999, 1) != 1) Fail("the fee patch did not run on a fresh thread");
      };
      // The bare state lives as long as the thread, as the sandbox does.
      std::function<void()> bare_held = [] {
        thread_local std::unique_ptr<BareLua> held;
        held = std::make_unique<BareLua>("fee");
        if (held->Fee(1999, 1) != 1) Fail("the bare baseline computes something else");
      };
      if (i % 2 == 0) {  // alternating order
        r.ours_samples.push_back(KibPerThread(kStateThreads, ours));
        r.baseline_samples.push_back(KibPerThread(kStateThreads, bare_held));
      } else {
        r.baseline_samples.push_back(KibPerThread(kStateThreads, bare_held));
        r.ours_samples.push_back(KibPerThread(kStateThreads, ours));
      }
    }
    r.CheckOthers(watch);
    std::printf(
        "  ours %.1f KiB vs bare %.1f KiB per state (a patch's states are capped at "
        "its limits.memory_kb, 512 by default)\n",
        r.ours(), r.baseline());
    rows.push_back(r);
  }

  // A fault would have made the patched samples run the original instead.
  for (const hotpatch::PatchInfo& p : runtime->List()) {
    if (p.faults != 0 || p.state != "enabled") {
      Fail("patch " + p.id + " is " + p.state + " with " + std::to_string(p.faults) +
           " fault(s) (" + p.reason + "): the patched samples are not valid");
    }
  }

  PrintRows(rows);
  if (!config.json_path.empty()) {
    WriteJson(config.json_path, config, rows, detail, load_before, LoadAverage());
    std::printf("wrote %s\n", config.json_path.c_str());
  }
  if (config.keep) {
    std::printf("kept %s\n", root.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  return 0;
}

}  // namespace
}  // namespace atrium::bench

int main(int argc, char** argv) { return atrium::bench::Main(argc, argv); }
