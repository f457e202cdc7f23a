// How much a launch measure moved between two builds run side by side (A/B):
// the Hodges–Lehmann estimate of the shift B − A and a distribution-free
// confidence interval for it, and the verdict a CI gate takes from them.
//
// Method. With samples a (m runs of A) and b (n runs of B), the m·n
// differences b_j − a_i are sorted; their median is the Hodges–Lehmann
// estimate, robust to the odd slow run a busy machine produces (a mean is
// not). The interval is [D(k), D(mn + 1 − k)] for the largest k such that
// P(U < k) ≤ (1 − confidence) / 2 under the Mann–Whitney U distribution
// (the rank-sum test inverted): exact (counted) while m and n are at most
// 50, the normal approximation above. It assumes only that the two builds'
// run times differ by a shift, not that they are normal. Few runs give no
// interval at the asked confidence (5 and 5 reach 96.8 % for an asked 95;
// 3 and 3 reach 90 % and no more): the verdict is then "not enough runs".
//
// Concurrency: pure functions.
#ifndef ATRIUM_STARTUP_PIPELINE_PROFILE_SHIFT_H_
#define ATRIUM_STARTUP_PIPELINE_PROFILE_SHIFT_H_

#include <cstddef>
#include <vector>

namespace atrium::profile {

struct Shift {
  double estimate = 0;  // Hodges–Lehmann: median of the pairwise differences b − a
  double low = 0;       // the confidence interval, when `enough`
  double high = 0;
  double confidence = 0;  // achieved (at least the asked one), when `enough`
  size_t n_a = 0;
  size_t n_b = 0;
  bool enough = false;  // the runs allow an interval at the asked confidence
};

// The shift of `b` against `a` at `confidence` (0 < confidence < 1).
Shift EstimateShift(std::vector<double> a, std::vector<double> b, double confidence = 0.95);

enum class ShiftVerdict {
  kRegression,     // the whole interval is above +min_change
  kImprovement,    // the whole interval is below −min_change
  kNoChange,       // the whole interval is within ±min_change
  kNotEnoughRuns,  // no interval, or it straddles ±min_change: more runs decide
};
const char* ShiftVerdictName(ShiftVerdict v);  // "regression", "improvement", ...

// `min_change`: the smallest change that matters (same unit as the samples;
// >= 0).
ShiftVerdict Judge(const Shift& shift, double min_change);

// P(U <= u) for every u in 0..m·n under the null hypothesis (exact while m
// and n are at most 50; the normal approximation with continuity correction
// above). Exposed for tests.
std::vector<double> MannWhitneyCdf(size_t m, size_t n);

}  // namespace atrium::profile

#endif  // ATRIUM_STARTUP_PIPELINE_PROFILE_SHIFT_H_
