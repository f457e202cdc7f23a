// The service every synthetic bundle registers (bench/synthetic_bundle.cc),
// shared by the bundle and the code that looks it up. Header-only: bundles do
// not link the runtime.
//
// A synthetic bundle named N registers one SyntheticService under the
// interface id SyntheticServiceId(N) = "N.Service", whose Number() is
// SyntheticNumber(N), so a caller can check it reached the right bundle.
//
// Concurrency: Number() is const and thread-safe.
#ifndef ATRIUM_BENCH_SYNTHETIC_SERVICE_H_
#define ATRIUM_BENCH_SYNTHETIC_SERVICE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::bench {

class SyntheticService {
 public:
  virtual ~SyntheticService() = default;
  virtual uint64_t Number() const = 0;
};

inline std::string SyntheticServiceId(std::string_view bundle_name) {
  std::string id(bundle_name);
  id += ".Service";
  return id;
}

// FNV-1a of the bundle name.
inline uint64_t SyntheticNumber(std::string_view bundle_name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bundle_name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace atrium::bench

#endif  // ATRIUM_BENCH_SYNTHETIC_SERVICE_H_
