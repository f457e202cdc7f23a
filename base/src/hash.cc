#include "atrium/base/hash.h"

#include <cstring>

namespace atrium::internal {

uint64_t Hash64(std::string_view data, uint64_t seed) {
  // Four independent multiply-xorshift lanes over 32-byte blocks (so the CPU
  // overlaps them), folded together with the tail and the length.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  constexpr uint64_t kMul2 = 0xBF58476D1CE4E5B9ull;
  uint64_t lane[4] = {seed ^ kMul, seed + kMul2, ~seed, seed ^ 0x94D049BB133111EBull};
  const char* p = data.data();
  size_t n = data.size();
  for (; n >= 32; p += 32, n -= 32) {
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + 8 * k, 8);
      lane[k] = (lane[k] ^ (w * kMul2)) * kMul;
      lane[k] ^= lane[k] >> 31;
    }
  }
  uint64_t h = data.size() * kMul;
  for (int k = 0; k < 4; ++k) h = (h ^ lane[k]) * kMul2 + (h >> 29);
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ (w * kMul2)) * kMul;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = (h ^ (tail * 0x94D049BB133111EBull)) * kMul;
  h ^= h >> 29;
  h *= kMul2;
  h ^= h >> 32;
  return h;
}

}  // namespace atrium::internal
