// MicroPercentile (atrium/base/bucket.h): Firebase Remote Config's percent
// bucketing, SHA-256 of "seed.id" reduced modulo 100,000,000.
#include "atrium/base/bucket.h"

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::internal {

uint32_t MicroPercentile(std::string_view seed, std::string_view randomization_id) {
  std::string input;
  input.reserve(seed.size() + 1 + randomization_id.size());
  if (!seed.empty()) {
    input.append(seed);
    input.push_back('.');
  }
  input.append(randomization_id);

  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(input.data()), input.size());

  // The digest as a 256-bit big-endian integer, reduced byte by byte:
  // r < 1e8, so r * 256 + 255 fits easily in 64 bits.
  uint64_t r = 0;
  for (unsigned char byte : digest) r = (r * 256 + byte) % kMicroPercentScale;
  return static_cast<uint32_t>(r);
}

}  // namespace atrium::internal
