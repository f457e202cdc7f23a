// Small helpers both benchmarks share: medians, stopping with a reason when
// a measurement cannot be made, the CPUs this process may use, and the load
// average reported beside every result. Header-only; single-threaded use.
#ifndef ATRIUM_BENCH_BENCH_UTIL_H_
#define ATRIUM_BENCH_BENCH_UTIL_H_

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
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

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_BENCH_UTIL_H_
