// The one bucketing function of Atrium: where a device falls in a percent
// rollout. Remote-config conditions (percent("seed") <= 12.5) and staged
// rollouts of the update client both use it, so the same device gets the
// same answer from both, in every process, on every platform.
//
// The formula is Firebase Remote Config's: SHA-256 of `seed + "." + id`
// (just `id` when the seed is empty), read as a 256-bit big-endian integer,
// modulo 100,000,000: a micro-percentile in [0, 99,999,999]. A rule
// "percent <= P" holds when micro <= P * 1,000,000; "between L and U" when
// L * 1e6 < micro <= U * 1e6 (lower bound exclusive, upper inclusive).
//
// Pure function; thread-safe.
#ifndef ATRIUM_BASE_BUCKET_H_
#define ATRIUM_BASE_BUCKET_H_

#include <cstdint>
#include <string_view>

namespace atrium::internal {

inline constexpr uint32_t kMicroPercentScale = 100'000'000;  // 100 % in micro-percent

uint32_t MicroPercentile(std::string_view seed, std::string_view randomization_id);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_BUCKET_H_
