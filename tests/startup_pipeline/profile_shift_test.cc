// The A/B shift statistics (startup_pipeline/profile/shift.h): the exact
// Mann–Whitney distribution against counted cases, the Hodges–Lehmann
// estimate and its interval on samples whose every pairwise difference is
// known, and the verdicts a gate takes from them.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "shift.h"

namespace atrium::profile {
namespace {

TEST(ProfileShift, MannWhitneyDistributionIsCountedExactly) {
  // 5 and 5: 252 arrangements; U = 0, 1, 2, 3 in 1, 1, 2, 3 of them.
  const std::vector<double> cdf = MannWhitneyCdf(5, 5);
  ASSERT_EQ(cdf.size(), 26u);
  EXPECT_NEAR(cdf[0] * 252, 1, 1e-9);
  EXPECT_NEAR(cdf[1] * 252, 2, 1e-9);
  EXPECT_NEAR(cdf[2] * 252, 4, 1e-9);
  EXPECT_NEAR(cdf[3] * 252, 7, 1e-9);
  EXPECT_DOUBLE_EQ(cdf[25], 1);
  // Symmetric: P(U <= u) = P(U >= 25 - u).
  for (size_t u = 0; u < 25; ++u) EXPECT_NEAR(cdf[u] + cdf[24 - u], 1, 1e-12) << u;
  // 2 and 3: 10 arrangements, U from 0 to 6 in 1, 1, 2, 2, 2, 1, 1.
  const std::vector<double> small = MannWhitneyCdf(2, 3);
  const double counts[] = {1, 2, 4, 6, 8, 9, 10};
  for (size_t u = 0; u < 7; ++u) EXPECT_NEAR(small[u] * 10, counts[u], 1e-9) << u;
  // Beyond 50 runs a side, the normal approximation: centred, symmetric.
  const std::vector<double> big = MannWhitneyCdf(60, 60);
  EXPECT_NEAR(big[1800], 0.5, 0.01);
  EXPECT_NEAR(big[1000] + big[2599], 1, 1e-9);
  // And the exact one at the limit agrees with it to within a percent.
  const std::vector<double> edge = MannWhitneyCdf(50, 50);
  EXPECT_NEAR(edge[1100],
              0.5 * std::erfc(-(1100.5 - 1250) / std::sqrt(2500.0 * 101 / 12) / std::sqrt(2.0)),
              0.01);
}

TEST(ProfileShift, HodgesLehmannAndItsIntervalOnKnownDifferences) {
  // b − a takes 1..9 with multiplicities 1 2 3 4 5 4 3 2 1: the median is 5;
  // with 5 and 5 runs the 95 % interval is [D(3), D(23)] = [2, 8], which
  // holds with 1 − 2·4/252 = 96.8 %.
  const Shift s = EstimateShift({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  ASSERT_TRUE(s.enough);
  EXPECT_DOUBLE_EQ(s.estimate, 5);
  EXPECT_DOUBLE_EQ(s.low, 2);
  EXPECT_DOUBLE_EQ(s.high, 8);
  EXPECT_NEAR(s.confidence, 1 - 8.0 / 252, 1e-12);
  EXPECT_EQ(s.n_a, 5u);
  EXPECT_EQ(s.n_b, 5u);
  // Order does not matter; with an even count of differences (24) the
  // estimate is the mean of the middle two.
  const Shift t = EstimateShift({5, 1, 4, 2}, {9, 6, 10, 7, 8, 7});
  EXPECT_DOUBLE_EQ(t.estimate, 5);
  const Shift u = EstimateShift({0, 1}, {2, 4});  // differences 1, 2, 3, 4
  EXPECT_DOUBLE_EQ(u.estimate, 2.5);
}

TEST(ProfileShift, TooFewRunsGiveNoInterval) {
  const Shift s = EstimateShift({10, 11, 12}, {20, 21, 22});
  EXPECT_FALSE(s.enough);  // 3 and 3: P(U = 0) = 1/20 > 2.5 %
  EXPECT_DOUBLE_EQ(s.estimate, 10);
  EXPECT_EQ(Judge(s, 1), ShiftVerdict::kNotEnoughRuns);
  EXPECT_FALSE(EstimateShift({}, {1, 2}).enough);
  // At 90 % (each end a one-sided 95 % bound, as `atrium profile --compare`
  // asks by default) the same runs are just enough: the tail 1/20 is exactly
  // 5 %, and the interval is the whole range of the differences.
  const Shift t = EstimateShift({10, 11, 12}, {20, 21, 22}, 0.9);
  ASSERT_TRUE(t.enough);
  EXPECT_DOUBLE_EQ(t.low, 8);
  EXPECT_DOUBLE_EQ(t.high, 12);
  EXPECT_NEAR(t.confidence, 0.9, 1e-12);
  EXPECT_FALSE(EstimateShift({10, 11}, {20, 21}, 0.9).enough);  // 2 and 2: 1/6 a tail
}

TEST(ProfileShift, VerdictsNeedTheWholeIntervalBeyondTheSmallestChange) {
  std::vector<double> a;
  for (int i = 0; i < 20; ++i) a.push_back(100 + 0.01 * i);
  auto shifted = [&](double by) {
    std::vector<double> b = a;
    for (double& v : b) v += by;
    return b;
  };
  EXPECT_EQ(Judge(EstimateShift(a, shifted(0.3)), 1), ShiftVerdict::kNoChange);
  EXPECT_EQ(Judge(EstimateShift(a, shifted(15)), 1), ShiftVerdict::kRegression);
  EXPECT_EQ(Judge(EstimateShift(a, shifted(-15)), 1), ShiftVerdict::kImprovement);
  // A shift of exactly the threshold: the interval straddles it.
  const Shift close = EstimateShift(a, shifted(1));
  EXPECT_LT(close.low, 1);
  EXPECT_GT(close.high, 1);
  EXPECT_EQ(Judge(close, 1), ShiftVerdict::kNotEnoughRuns);
  EXPECT_STREQ(ShiftVerdictName(ShiftVerdict::kNoChange), "no change");
}

TEST(ProfileShift, OneSlowRunDoesNotMakeARegression) {
  std::vector<double> a, b;
  for (int i = 0; i < 15; ++i) {
    a.push_back(100 + (i % 5) * 0.1);
    b.push_back(100 + (i % 5) * 0.1);
  }
  b[7] = 400;  // the runner was busy once
  const Shift s = EstimateShift(a, b);
  EXPECT_NEAR(s.estimate, 0, 0.1);
  EXPECT_EQ(Judge(s, 2), ShiftVerdict::kNoChange);
}

}  // namespace
}  // namespace atrium::profile
