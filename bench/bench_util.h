// Small helpers the benchmarks share: medians, stopping with a reason when
// a measurement cannot be made, the CPUs this process may use, the load
// average reported beside every result, the options every benchmark takes
// and writing the JSON results. Header-only; single-threaded use.
#ifndef ATRIUM_BENCH_BENCH_UTIL_H_
#define ATRIUM_BENCH_BENCH_UTIL_H_

#include <sched.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/result.h"

namespace atrium::bench {

// Set once by each benchmark's main (prefixes Fail messages).
inline const char*& BenchName() {
  static const char* name = "bench";
  return name;
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// The bench cannot measure what it was asked to: stop with a reason.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", BenchName(), what.c_str());
  std::exit(1);
}

inline void MustOk(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.error().ToString());
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.error().ToString());
  return std::move(r).value();
}

// The CPUs this process may run on.
inline std::vector<int> UsableCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

// 1-minute load average, -1 when unknown.
inline double LoadAverage() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

// Prints the machine line every benchmark starts with (usable CPUs, the
// load average, a warning when busy or when built without optimization)
// and returns the load average.
inline double PrintMachine() {
#if !defined(__OPTIMIZE__)
  std::printf("warning: %s was built without optimization; numbers mean little\n", BenchName());
#endif
  const double load = LoadAverage();
  std::printf("machine: %zu usable CPUs, 1-minute load average %.2f%s\n", UsableCpus().size(), load,
              load > 0.5 ? " (busy: expect noisy numbers)" : "");
  return load;
}

enum class CommonArg { kTaken, kOther, kHelp };

// Takes argv[*i] when it is an option every benchmark has: --quick,
// --json=PATH or --json PATH (advancing *i), -h/--help, and --keep when
// `keep` is given. kOther: the benchmark's own option, or unknown.
inline CommonArg TakeCommonArg(int argc, char** argv, int* i, bool* quick, std::string* json_path,
                               bool* keep = nullptr) {
  const std::string_view a = argv[*i];
  if (a == "--quick") {
    *quick = true;
  } else if (keep != nullptr && a == "--keep") {
    *keep = true;
  } else if (a.starts_with("--json=")) {
    *json_path = std::string(a.substr(7));
  } else if (a == "--json" && *i + 1 < argc) {
    *json_path = argv[++*i];
  } else if (a == "-h" || a == "--help") {
    return CommonArg::kHelp;
  } else {
    return CommonArg::kOther;
  }
  return CommonArg::kTaken;
}

// Writes `root` to `path` as one line of JSON, or stops.
inline void WriteJsonFile(const std::string& path, const boost::json::object& root) {
  std::ofstream out(path, std::ios::trunc);
  out << boost::json::serialize(root) << "\n";
  if (!out) Fail("cannot write " + path);
}

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_BENCH_UTIL_H_
