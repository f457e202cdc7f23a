// One measurement of a benchmark against its baseline, and the verdict it
// earns: the benches' shared table row (atrium_bench, guard, hotpatch and
// scheduler benches).
//
// A row keeps its samples. Sample i of ours and sample i of the baseline
// were taken one right after the other (interleaved), so each pair gives one
// ratio ours_i / baseline_i; the row's ratio is the median of those, and its
// spread the distribution-free 95 % interval of that median: the order
// statistics [r(k), r(n+1-k)] with k the largest such that
// P(Binomial(n, 1/2) < k) <= 2.5 %. A target on the value itself (say
// "<= 70 ns") is judged on the median of ours and its interval the same way,
// and a target on the difference (say "<= +700 us" over the baseline) on the
// median of the per-pair differences ours_i - baseline_i.
//
// Verdicts (only where a target exists; a row without one is "info"):
//   pass       the whole spread is within the target
//   miss       the whole spread is beyond it
//   noisy      the spread straddles it, or too few samples for an interval
//              (fewer than 6: --quick)
//   untrusted  the run's self-check failed (other processes took CPU time
//              while it measured, or a 2-thread figure had fewer than 2
//              CPUs): no verdict is drawn from it; the reason is printed
//
// Concurrency: values; single-threaded use.
#ifndef ATRIUM_BENCH_BENCH_ROW_H_
#define ATRIUM_BENCH_BENCH_ROW_H_

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace atrium::bench {

// The median of `samples` and its distribution-free 95 % interval.
struct Spread {
  double median = 0;
  double low = 0;
  double high = 0;
  bool enough = false;  // at least 6 samples: an interval exists
};

inline Spread MedianSpread(std::vector<double> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  // P(Binomial(n, 1/2) <= j) for growing j; k = the count of j with that
  // probability <= 2.5 %. Each term in log space: 0.5^n underflows from
  // n = 1075.
  const double dn = static_cast<double>(n);
  auto term = [&](size_t j) {
    const double dj = static_cast<double>(j);
    return std::exp(std::lgamma(dn + 1) - std::lgamma(dj + 1) - std::lgamma(dn - dj + 1) -
                    dn * std::log(2.0));
  };
  double cdf = term(0);
  size_t k = 0;
  while (k < n / 2 && cdf <= 0.025) {
    ++k;
    cdf += term(k);
  }
  if (k == 0) {
    s.low = v.front();
    s.high = v.back();
    return s;
  }
  s.low = v[k - 1];
  s.high = v[n - k];
  s.enough = true;
  return s;
}

// ours_i - baseline_i for every pair.
inline std::vector<double> PairDifferences(const std::vector<double>& ours,
                                           const std::vector<double>& baseline) {
  std::vector<double> d;
  for (size_t i = 0; i < ours.size() && i < baseline.size(); ++i)
    d.push_back(ours[i] - baseline[i]);
  return d;
}

// ours_i / baseline_i for every pair with a positive baseline.
inline std::vector<double> PairRatios(const std::vector<double>& ours,
                                      const std::vector<double>& baseline) {
  std::vector<double> r;
  for (size_t i = 0; i < ours.size() && i < baseline.size(); ++i)
    if (baseline[i] > 0) r.push_back(ours[i] / baseline[i]);
  return r;
}

// CPU time other processes (and the hypervisor, as steal) took while a
// measurement ran: the machine's busy time from /proc/stat minus this
// process's own.
class OtherCpuWatch {
 public:
  OtherCpuWatch() : busy0_(MachineBusySeconds()), self0_(SelfSeconds()), wall0_(WallSeconds()) {}

  // Others' CPU time over the watch, in CPUs (0.25: a quarter of a core on
  // average); -1 when /proc/stat cannot be read. /proc/stat counts in ticks
  // of 10 ms per CPU, so two ticks per CPU are forgiven (Slack()): a watch of
  // a few milliseconds (--quick) cannot tell. /proc/stat is the machine's
  // (in a container, the host's), and kernel work done for this process
  // (interrupts, the file system's flush threads) counts as others'.
  double OtherCpus() const {
    const double busy = MachineBusySeconds();
    const double wall = WallSeconds() - wall0_;
    if (busy0_ < 0 || busy < 0 || wall <= 0) return -1;
    const double others = (busy - busy0_) - (SelfSeconds() - self0_) - Slack();
    return std::max(0.0, others) / wall;
  }

  // The CPU seconds forgiven: two ticks per online CPU.
  static double Slack() {
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return 0.02 * static_cast<double>(cpus > 0 ? cpus : 1);
  }

 private:
  static double MachineBusySeconds() {
    std::FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) return -1;
    unsigned long long v[8] = {};  // user nice system idle iowait irq softirq steal
    const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                                &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (got < 7) return -1;
    const long ticks = sysconf(_SC_CLK_TCK);  // USER_HZ
    const double hz = ticks > 0 ? static_cast<double>(ticks) : 100;
    return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
  }
  static double SelfSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return sec(u.ru_utime) + sec(u.ru_stime);
  }
  static double WallSeconds() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  }

  double busy0_, self0_, wall0_;
};

// Others may take this much CPU while a row is measured (kernel threads and
// an idle VM's daemons take about 0.01).
inline constexpr double kMaxOtherCpus = 0.10;

enum class Verdict { kInfo, kPass, kMiss, kNoisy, kUntrusted };

inline const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kInfo:
      return "info";
    case Verdict::kPass:
      return "pass";
    case Verdict::kMiss:
      return "miss";
    case Verdict::kNoisy:
      return "noisy";
    case Verdict::kUntrusted:
      return "untrusted";
  }
  return "?";
}

struct Row {
  std::string key;  // JSON name
  std::string metric;
  std::string unit;
  std::string baseline_name;
  // Interleaved samples (see the top of the file); the baseline may be
  // empty for a row judged on its own value.
  std::vector<double> ours_samples;
  std::vector<double> baseline_samples;
  bool has_target = true;  // false: reported only, no target exists
  // What the target bounds: ours/baseline, ours itself, or ours - baseline.
  enum class On { kRatio, kValue, kDifference } on = On::kRatio;
  double target = 0;       // an upper bound
  double other_cpus = -1;  // OtherCpuWatch over the row's measurement; -1 unknown
  std::string untrusted;   // why the run cannot be judged; empty: it can

  double ours() const { return MedianSpread(ours_samples).median; }
  double baseline() const { return MedianSpread(baseline_samples).median; }
  // The median pair ratio and its spread.
  Spread ratio() const { return MedianSpread(PairRatios(ours_samples, baseline_samples)); }
  // What the target is judged on.
  Spread judged() const {
    switch (on) {
      case On::kRatio:
        return ratio();
      case On::kValue:
        return MedianSpread(ours_samples);
      case On::kDifference:
        return MedianSpread(PairDifferences(ours_samples, baseline_samples));
    }
    return ratio();
  }

  // Marks the row untrusted when others took CPU time while it ran.
  void CheckOthers(const OtherCpuWatch& watch) {
    other_cpus = watch.OtherCpus();
    if (other_cpus > kMaxOtherCpus && untrusted.empty()) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "other processes took %.2f CPUs while it ran (at most %.2f)",
                    other_cpus, kMaxOtherCpus);
      untrusted = buf;
    }
  }

  Verdict verdict() const {
    if (!has_target) return Verdict::kInfo;
    if (!untrusted.empty()) return Verdict::kUntrusted;
    const Spread s = judged();
    if (!s.enough) return Verdict::kNoisy;
    if (s.high <= target) return Verdict::kPass;
    if (s.low > target) return Verdict::kMiss;
    return Verdict::kNoisy;
  }

  std::string TargetText() const {
    char buf[48];
    if (!has_target) {
      std::snprintf(buf, sizeof buf, "-");
    } else if (on == On::kRatio) {
      std::snprintf(buf, sizeof buf, "ratio <= %.2f", target);
    } else if (on == On::kValue) {
      std::snprintf(buf, sizeof buf, "<= %.0f %s", target, unit.c_str());
    } else {
      std::snprintf(buf, sizeof buf, "<= +%.0f %s", target, unit.c_str());
    }
    return buf;
  }

  // "1.23 [1.18, 1.31]": the judged median (the ratio, ours, or the
  // difference) and its spread.
  std::string SpreadText() const {
    const Spread s = judged();
    char buf[64];
    if (s.enough)
      std::snprintf(buf, sizeof buf, "%.2f [%.2f, %.2f]", s.median, s.low, s.high);
    else
      std::snprintf(buf, sizeof buf, "%.2f [too few]", s.median);
    return buf;
  }

  boost::json::object Json() const {
    const Spread r = ratio();
    boost::json::object m{
        {"name", key},
        {"metric", metric},
        {"unit", unit},
        {"ours", ours()},
        {"baseline_name", baseline_name},
        {"baseline", baseline()},
        {"ratio", r.median},
        {"samples", ours_samples.size()},
        {"pairs", PairRatios(ours_samples, baseline_samples).size()},
        {"target", TargetText()},
        {"verdict", VerdictName(verdict())},
    };
    if (r.enough) m["ratio_spread"] = boost::json::array{r.low, r.high};
    // What the target is judged on (the ratio, ours, or the difference) and
    // its spread.
    const Spread j = judged();
    m["judged"] = j.median;
    if (j.enough) m["judged_spread"] = boost::json::array{j.low, j.high};
    m["judged_on"] = on == On::kRatio ? "ratio" : on == On::kValue ? "value" : "difference";
    if (has_target) m["target_value"] = target;
    if (other_cpus >= 0) m["other_cpus"] = other_cpus;
    if (!untrusted.empty()) m["untrusted"] = untrusted;
    return m;
  }
};

// A row with a target on the ratio ours/baseline (`target` 0: none, info).
inline Row RatioRow(std::string key, std::string metric, std::string unit,
                    std::string baseline_name, std::vector<double> ours,
                    std::vector<double> baseline, double target) {
  Row r;
  r.key = std::move(key);
  r.metric = std::move(metric);
  r.unit = std::move(unit);
  r.baseline_name = std::move(baseline_name);
  r.ours_samples = std::move(ours);
  r.baseline_samples = std::move(baseline);
  r.has_target = target > 0;
  r.target = target;
  return r;
}

// The table every bench ends with; the rows that cannot be judged say why.
inline void PrintRows(const std::vector<Row>& rows) {
  std::printf("\n%-38s %11s %-9s %-22s %11s  %-22s %-15s %s\n", "metric", "ours", "unit",
              "baseline", "(value)", "judged [95% spread]", "target", "verdict");
  std::printf("%s\n", std::string(146, '-').c_str());
  for (const Row& r : rows) {
    std::printf("%-38s %11.2f %-9s %-22s %11.2f  %-22s %-15s %s\n", r.metric.c_str(), r.ours(),
                r.unit.c_str(), r.baseline_name.c_str(), r.baseline(), r.SpreadText().c_str(),
                r.TargetText().c_str(), VerdictName(r.verdict()));
  }
  for (const Row& r : rows)
    if (!r.untrusted.empty()) std::printf("untrusted %s: %s\n", r.key.c_str(), r.untrusted.c_str());
  std::printf(
      "(judged: the median of the per-pair ratios ours/baseline, of ours for a target on the "
      "value, or of the per-pair differences for a target on the difference, with its "
      "distribution-free 95%% interval; pass: the whole interval within the target, miss: "
      "beyond it, noisy: neither; targets are not asserted)\n");
}

inline boost::json::array RowsJson(const std::vector<Row>& rows) {
  boost::json::array out;
  for (const Row& r : rows) out.push_back(r.Json());
  return out;
}

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_BENCH_ROW_H_
