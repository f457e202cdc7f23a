// libFuzzer target for the crash-file parser (atrium/crash_capture.h): the
// next launch reads whatever a dying process left behind, so any bytes must
// parse or be refused cleanly. Checked invariants:
//   1. ParseCrashRecord never crashes; a failure is kCorrupt or kNotFound and
//      names the file ("fuzz.crash").
//   2. A record that parses has at most as many frames and modules as its
//      bytes can hold, and Symbolize and CrashSignature accept it (the
//      signature is 16 hex digits).
//
// Concurrency: the entry point is called from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "atrium/crash_capture.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "crash_record_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto record = atrium::ParseCrashRecord(bytes, "fuzz.crash");
  if (!record.ok()) {
    const atrium::Error& e = record.error();
    Require(e.code == atrium::ErrorCode::kCorrupt || e.code == atrium::ErrorCode::kNotFound,
            "error code is kCorrupt or kNotFound");
    Require(e.ToString().find("fuzz.crash") != std::string::npos, "error names the file");
    return 0;
  }
  Require(record->frames.size() <= size && record->modules.size() <= size,
          "counts bounded by the input");
  atrium::CrashReport report = atrium::Symbolize(*record);
  Require(report.frames.size() == record->frames.size(), "one report frame per frame");
  std::string signature = atrium::CrashSignature(*record);
  Require(signature.size() == 16, "signature is 16 hex digits");
  return 0;
}
