// Crash records built byte by byte (layout version 2, guard/src/
// crash_record_format.h), for the parser's and the guard's hostile-input
// tests.
#ifndef ATRIUM_TESTS_GUARD_CRASH_RECORD_BYTES_H_
#define ATRIUM_TESTS_GUARD_CRASH_RECORD_BYTES_H_

#include <signal.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace atrium::testing {

inline uint32_t TestCrc32(const unsigned char* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

inline void Reseal(std::string* b) {
  uint32_t crc = TestCrc32(reinterpret_cast<const unsigned char*>(b->data()) + 16, b->size() - 16);
  std::memcpy(b->data() + 12, &crc, 4);
}

template <typename T>
void Poke(std::string* b, size_t off, T v) {
  std::memcpy(b->data() + off, &v, sizeof(v));
}

// Offsets of the hand-made record's variable part.
inline constexpr size_t kRecLaunchId = 560, kRecNonce = 568, kRecFrame0 = 576, kRecFrame1 = 600,
                        kRecModule0 = 624;

// A valid SIGSEGV record of launch `launch_id` of the data dir with `nonce`:
// 2 frames (one in module 0) and 1 module.
inline std::string HandMadeRecord(uint64_t launch_id = 0, uint64_t nonce = 0) {
  std::string b(576 + 2 * 24 + 264, '\0');
  std::memcpy(b.data(), "ATCR", 4);
  Poke<uint32_t>(&b, 4, 2);
  Poke<uint32_t>(&b, 8, static_cast<uint32_t>(b.size()));
  Poke<int32_t>(&b, 16, SIGSEGV);
  Poke<uint64_t>(&b, 24, 0x1234);
  Poke<uint32_t>(&b, 56, 1);  // foreground
  Poke<uint16_t>(&b, 60, 2);
  Poke<uint16_t>(&b, 62, 1);
  std::memcpy(b.data() + 80, "com.test.crashy", 15);
  Poke<uint64_t>(&b, kRecLaunchId, launch_id);
  Poke<uint64_t>(&b, kRecNonce, nonce);
  Poke<uint64_t>(&b, kRecFrame0, 0x7f0000001000);
  Poke<uint64_t>(&b, kRecFrame0 + 8, 0x1000);
  Poke<int32_t>(&b, kRecFrame0 + 16, 0);
  Poke<uint64_t>(&b, kRecFrame1, 0x5555);
  Poke<int32_t>(&b, kRecFrame1 + 16, -1);
  Poke<uint64_t>(&b, kRecModule0, 0x7f0000000000);
  std::memcpy(b.data() + kRecModule0 + 8, "/opt/app/bundles/libcrashy.so", 29);
  Reseal(&b);
  return b;
}

}  // namespace atrium::testing

#endif  // ATRIUM_TESTS_GUARD_CRASH_RECORD_BYTES_H_
