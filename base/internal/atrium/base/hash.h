// Hash64: the fast non-cryptographic 64-bit hash Atrium uses for in-memory
// tables, fingerprints and the bundle index checksum (integrity against
// accidental damage, not an attacker; signatures cover that). Pure function.
#ifndef ATRIUM_BASE_HASH_H_
#define ATRIUM_BASE_HASH_H_

#include <cstdint>
#include <string_view>

namespace atrium::internal {

uint64_t Hash64(std::string_view data, uint64_t seed = 0);

}  // namespace atrium::internal

#endif  // ATRIUM_BASE_HASH_H_
