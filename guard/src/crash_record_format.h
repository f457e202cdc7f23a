// The crash record's binary layout, shared by the handler that writes it
// (crash_capture.cc) and the next launch's reader (crash_file.cc).
//
// Version 2 (host byte order; read back on the same device):
//   0  char[4] magic "ATCR"     4  u32 version     8  u32 length (whole record)
//   12 u32 crc32 of bytes [16, length)
//   16 i32 signal   20 i32 si_code   24 u64 fault address   32 i32 pid   36 i32 tid
//   40 i64 seconds  48 i64 nanoseconds  56 u32 flags  60 u16 frames  62 u16 modules
//   64 thread[16]  80 bundle[96]  176 task[96]  272 artifact[96]  368 micro_app[64]
//   432 what[128] (each NUL-terminated)
//   560 u64 launch id   568 u64 data-dir nonce (the binding: CrashBinding)
//   576 frames: {u64 address, u64 offset, i32 module (-1 none), u32 zero} each
//   then modules: {u64 load bias, char path[256]} each
// Version 1 had no binding (frames at 560); it is refused as unsupported.
#ifndef ATRIUM_GUARD_SRC_CRASH_RECORD_FORMAT_H_
#define ATRIUM_GUARD_SRC_CRASH_RECORD_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "atrium/crash_capture.h"

namespace atrium::crash_format {

inline constexpr char kMagic[4] = {'A', 'T', 'C', 'R'};
inline constexpr uint32_t kVersion = 2;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kThreadOff = 64, kBundleOff = 80, kTaskOff = 176, kArtifactOff = 272,
                        kMicroAppOff = 368, kWhatOff = 432, kLaunchIdOff = 560, kNonceOff = 568,
                        kFixedSize = 576;
inline constexpr size_t kThreadLen = 16, kTextLen = 96, kMicroAppLen = 64, kWhatLen = 128;
inline constexpr size_t kFrameSize = 24, kPathLen = 256, kModuleSize = 8 + kPathLen;
inline constexpr size_t kMaxRecord =
    kFixedSize + kFrameSize * kMaxCrashFrames + kModuleSize * kMaxCrashModules;
// kFlagExit: exit() or quick_exit() while a bundle ran; signal is then 0.
inline constexpr uint32_t kFlagForeground = 1, kFlagTerminate = 2, kFlagPartial = 4, kFlagExit = 8;
inline constexpr uint32_t kKnownFlags = kFlagForeground | kFlagTerminate | kFlagPartial | kFlagExit;

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
inline constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// Async-signal-safe.
inline uint32_t Crc32(const unsigned char* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace atrium::crash_format

#endif  // ATRIUM_GUARD_SRC_CRASH_RECORD_FORMAT_H_
