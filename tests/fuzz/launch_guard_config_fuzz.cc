// libFuzzer target for app.json's "launch_guard" parser
// (atrium/launch_guard.h). Checked invariants:
//   1. Parsing never crashes; a failure is kParse (with a byte offset) or
//      kValidation (with a JSON pointer) and names the file.
//   2. A parsed config satisfies the documented ranges: thresholds in
//      [1, 100] and non-decreasing, a positive window of at most 8760 h, a
//      quiet period in [0, 600000] ms.
//
// Concurrency: the entry point is called from one thread at a time.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "atrium/launch_guard.h"

namespace {

void Require(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "launch_guard_config_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = atrium::ParseLaunchGuardConfig(text, "app.json");
  if (!config.ok()) {
    const atrium::Error& e = config.error();
    Require(e.code == atrium::ErrorCode::kParse || e.code == atrium::ErrorCode::kValidation,
            "error code is kParse or kValidation");
    Require(e.file == "app.json", "error names the file");
    if (e.code == atrium::ErrorCode::kParse) Require(e.offset.has_value(), "parse error offset");
    return 0;
  }
  Require(config->disable_recent >= 1 && config->baseline_only <= 100, "thresholds in range");
  Require(config->disable_recent <= config->rollback_all &&
              config->rollback_all <= config->baseline_only,
          "thresholds non-decreasing");
  Require(config->window.count() > 0 && config->window <= std::chrono::hours(8760),
          "window in range");
  Require(config->quiet_period.count() >= 0 &&
              config->quiet_period <= std::chrono::milliseconds(600000),
          "quiet period in range");
  return 0;
}
