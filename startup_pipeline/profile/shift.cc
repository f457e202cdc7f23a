// The Hodges–Lehmann shift, its Mann–Whitney interval and the verdict
// (shift.h).
#include "shift.h"

#include <algorithm>
#include <cmath>

namespace atrium::profile {
namespace {

constexpr size_t kExactLimit = 50;

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

std::vector<double> MannWhitneyCdf(size_t m, size_t n) {
  const size_t max_u = m * n;
  std::vector<double> cdf(max_u + 1, 0);
  if (m == 0 || n == 0) {
    cdf.assign(max_u + 1, 1.0);
    return cdf;
  }
  if (m <= kExactLimit && n <= kExactLimit) {
    // ways[j][u]: arrangements of i A's and j B's with U = u, built up over
    // i (U counts the pairs where a B comes before an A): adding an A after
    // j B's adds j.
    std::vector<std::vector<double>> ways(n + 1, std::vector<double>(max_u + 1, 0));
    for (size_t j = 0; j <= n; ++j) ways[j][0] = 1;  // i = 0
    for (size_t i = 1; i <= m; ++i) {
      // count(i, j, u) = count(i - 1, j, u - j) + count(i, j - 1, u)
      std::vector<std::vector<double>> next(n + 1, std::vector<double>(max_u + 1, 0));
      for (size_t j = 0; j <= n; ++j) {
        for (size_t u = 0; u <= i * j && u <= max_u; ++u) {
          double v = u >= j ? ways[j][u - j] : 0;
          if (j > 0) v += next[j - 1][u];
          next[j][u] = v;
        }
      }
      ways = std::move(next);
    }
    double total = 0;
    for (double w : ways[n]) total += w;
    double run = 0;
    for (size_t u = 0; u <= max_u; ++u) {
      run += ways[n][u];
      cdf[u] = std::min(1.0, run / total);
    }
    return cdf;
  }
  const double mean = static_cast<double>(max_u) / 2;
  const double sd = std::sqrt(static_cast<double>(m) * static_cast<double>(n) *
                              static_cast<double>(m + n + 1) / 12.0);
  for (size_t u = 0; u <= max_u; ++u) {
    cdf[u] = NormalCdf((static_cast<double>(u) + 0.5 - mean) / sd);
  }
  return cdf;
}

Shift EstimateShift(std::vector<double> a, std::vector<double> b, double confidence) {
  Shift s;
  s.n_a = a.size();
  s.n_b = b.size();
  if (a.empty() || b.empty()) return s;
  std::vector<double> d;
  d.reserve(a.size() * b.size());
  for (double y : b) {
    for (double x : a) d.push_back(y - x);
  }
  std::sort(d.begin(), d.end());
  const size_t mn = d.size();
  s.estimate = mn % 2 == 1 ? d[mn / 2] : (d[mn / 2 - 1] + d[mn / 2]) / 2;
  // A tail exactly at the level is allowed: 1 - 0.90 is 0.0999... in
  // doubles, which would refuse the 1/20 tail of 3 and 3 runs.
  const double tail = (1 - confidence) / 2 + 1e-12;
  const std::vector<double> cdf = MannWhitneyCdf(a.size(), b.size());
  // The largest k with P(U <= k - 1) <= tail.
  size_t k = 0;
  while (k < mn && cdf[k] <= tail) ++k;
  if (k == 0 || k > mn - k + 1) return s;
  s.low = d[k - 1];
  s.high = d[mn - k];
  s.confidence = 1 - 2 * cdf[k - 1];
  s.enough = true;
  return s;
}

ShiftVerdict Judge(const Shift& shift, double min_change) {
  if (!shift.enough) return ShiftVerdict::kNotEnoughRuns;
  if (shift.low > min_change) return ShiftVerdict::kRegression;
  if (shift.high < -min_change) return ShiftVerdict::kImprovement;
  if (shift.low >= -min_change && shift.high <= min_change) return ShiftVerdict::kNoChange;
  return ShiftVerdict::kNotEnoughRuns;
}

const char* ShiftVerdictName(ShiftVerdict v) {
  switch (v) {
    case ShiftVerdict::kRegression:
      return "regression";
    case ShiftVerdict::kImprovement:
      return "improvement";
    case ShiftVerdict::kNoChange:
      return "no change";
    case ShiftVerdict::kNotEnoughRuns:
      return "not enough runs";
  }
  return "?";
}

}  // namespace atrium::profile
