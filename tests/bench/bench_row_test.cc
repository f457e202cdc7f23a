// The benches' shared row (bench/bench_row.h): the spread of a median, the
// verdicts drawn from it, the self-check on other processes' CPU time, and
// the JSON every bench writes.
#include "bench_row.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace atrium::bench {
namespace {

std::vector<double> Ramp(int n, double from, double step) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(from + step * i);
  return v;
}

TEST(BenchRow, MedianSpreadIsTheDistributionFreeIntervalOfTheMedian) {
  // Many samples: k from the binomial without underflow (0.5^2000 is 0 in
  // doubles): for n = 2000, k = 956.
  Spread big = MedianSpread(Ramp(2000, 1, 1));
  EXPECT_TRUE(big.enough);
  EXPECT_DOUBLE_EQ(big.low, 956);
  EXPECT_DOUBLE_EQ(big.high, 2000 - 956 + 1);
  // 20 samples: P(Binomial(20, 1/2) <= 5) = 2.07% <= 2.5% < P(<= 6) = 5.77%,
  // so k = 6: [x(6), x(15)].
  Spread s = MedianSpread(Ramp(20, 1, 1));  // 1..20, unsorted order does not matter
  EXPECT_TRUE(s.enough);
  EXPECT_DOUBLE_EQ(s.median, 10.5);
  EXPECT_DOUBLE_EQ(s.low, 6);
  EXPECT_DOUBLE_EQ(s.high, 15);
  // 6 samples: P(X = 0) = 1/64 <= 2.5%: [min, max]. 5: 1/32 > 2.5%: none.
  s = MedianSpread({3, 1, 2, 6, 5, 4});
  EXPECT_TRUE(s.enough);
  EXPECT_DOUBLE_EQ(s.low, 1);
  EXPECT_DOUBLE_EQ(s.high, 6);
  s = MedianSpread({3, 1, 2, 5, 4});
  EXPECT_FALSE(s.enough);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_FALSE(MedianSpread({}).enough);
}

TEST(BenchRow, RatiosArePerInterleavedPair) {
  EXPECT_EQ(PairRatios({2, 6, 9}, {1, 3, 0}), (std::vector<double>{2, 2}));  // 0: no pair
  Row r;
  r.ours_samples = {10, 30, 20};
  r.baseline_samples = {5, 10, 20};  // ratios 2, 3, 1
  EXPECT_DOUBLE_EQ(r.ratio().median, 2);
  EXPECT_DOUBLE_EQ(r.ours(), 20);
  EXPECT_DOUBLE_EQ(r.baseline(), 10);
}

Row WithRatios(std::vector<double> ratios, double target) {
  Row r;
  r.key = "k";
  r.metric = "m";
  r.unit = "us";
  r.target = target;
  for (double x : ratios) {
    r.ours_samples.push_back(100 * x);
    r.baseline_samples.push_back(100);
  }
  return r;
}

TEST(BenchRow, VerdictsNeedTheWholeSpreadOnOneSide) {
  EXPECT_EQ(WithRatios(Ramp(20, 1.00, 0.01), 1.2).verdict(), Verdict::kPass);   // [1.05, 1.14]
  EXPECT_EQ(WithRatios(Ramp(20, 1.30, 0.01), 1.2).verdict(), Verdict::kMiss);   // [1.35, 1.44]
  EXPECT_EQ(WithRatios(Ramp(20, 1.00, 0.02), 1.2).verdict(), Verdict::kNoisy);  // [1.10, 1.28]
  // The spread's upper end exactly at the target passes.
  Row edge = WithRatios(Ramp(20, 1.00, 0.01), 0);
  edge.target = edge.ratio().high;
  EXPECT_EQ(edge.verdict(), Verdict::kPass);
  EXPECT_EQ(WithRatios({1.0, 1.0, 1.0}, 1.2).verdict(), Verdict::kNoisy);  // too few samples
  Row info = WithRatios(Ramp(20, 3, 0), 1.2);
  info.has_target = false;
  EXPECT_EQ(info.verdict(), Verdict::kInfo);
  Row untrusted = WithRatios(Ramp(20, 1.0, 0.01), 1.2);
  untrusted.untrusted = "2 threads on 1 usable CPU";
  EXPECT_EQ(untrusted.verdict(), Verdict::kUntrusted);
  // A target on the value itself: judged on ours' median and its spread.
  Row value;
  value.on = Row::On::kValue;
  value.target = 70;
  value.ours_samples = Ramp(20, 50, 1);  // [55, 64]
  EXPECT_EQ(value.verdict(), Verdict::kPass);
  value.target = 60;
  EXPECT_EQ(value.verdict(), Verdict::kNoisy);
  // A target on the difference: the median of ours_i - baseline_i.
  Row diff;
  diff.on = Row::On::kDifference;
  diff.target = 700;
  diff.unit = "us";
  for (int i = 0; i < 20; ++i) {
    diff.baseline_samples.push_back(1000 + 50 * i);  // drifts; the pairs do not
    diff.ours_samples.push_back(1000 + 50 * i + 500 + 10 * i);
  }
  EXPECT_DOUBLE_EQ(diff.judged().median, 595);  // 500..690
  EXPECT_EQ(diff.verdict(), Verdict::kPass);    // [550, 640]
  EXPECT_EQ(diff.TargetText(), "<= +700 us");
  diff.target = 600;
  EXPECT_EQ(diff.verdict(), Verdict::kNoisy);
  diff.target = 500;
  EXPECT_EQ(diff.verdict(), Verdict::kMiss);
}

TEST(BenchRow, JsonHasAVerdictAndNoPassItDidNotEarn) {
  auto json = WithRatios(Ramp(20, 1.0, 0.01), 1.2).Json();
  EXPECT_EQ(json.at("verdict").as_string(), "pass");
  EXPECT_FALSE(json.contains("pass"));
  ASSERT_TRUE(json.contains("ratio_spread"));
  EXPECT_DOUBLE_EQ(json.at("ratio_spread").as_array()[0].as_double(), 1.05);
  EXPECT_DOUBLE_EQ(json.at("target_value").as_double(), 1.2);
  Row info = WithRatios(Ramp(20, 3, 0), 1.2);
  info.has_target = false;
  json = info.Json();
  EXPECT_EQ(json.at("verdict").as_string(), "info");
  EXPECT_FALSE(json.contains("target_value"));
  Row untrusted = WithRatios(Ramp(20, 1.0, 0.01), 1.2);
  untrusted.untrusted = "why";
  EXPECT_EQ(untrusted.Json().at("untrusted").as_string(), "why");
}

// Spins in a child process until it has used `cpu_s` seconds of CPU.
void BurnInChild(double cpu_s) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    volatile unsigned long x = 0;
    for (;;) {
      for (int i = 0; i < 1000000; ++i) x = x * 6364136223846793005ul + 1;
      rusage u{};
      getrusage(RUSAGE_SELF, &u);
      if (u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec >= cpu_s) _exit(0);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
}

TEST(BenchRow, AnotherProcessBurningCpuMakesTheRowUntrusted) {
  OtherCpuWatch watch;
  if (watch.OtherCpus() < 0) GTEST_SKIP() << "no /proc/stat here";
  // Another process: 0.5 s of CPU beyond the ticks forgiven, while "measuring".
  BurnInChild(0.5 + OtherCpuWatch::Slack());
  Row r = WithRatios(Ramp(20, 1.0, 0.01), 1.2);
  r.CheckOthers(watch);
  EXPECT_GT(r.other_cpus, kMaxOtherCpus);
  EXPECT_EQ(r.verdict(), Verdict::kUntrusted);
  EXPECT_NE(r.untrusted.find("other processes took"), std::string::npos) << r.untrusted;
}

}  // namespace
}  // namespace atrium::bench
