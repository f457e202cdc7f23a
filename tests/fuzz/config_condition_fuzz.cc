// libFuzzer target for Condition::Parse and Evaluate
// (dynamic/config/internal/atrium/dynamic/config/condition.h). The parser
// must return a condition or an Error and never crash, hang, overflow the
// stack or throw. Invariants checked on every input:
// 1. An error is kParse, names the file, has an offset inside the input and a
//    message that starts with `condition "<name>": column <offset + 1>: `.
// 2. A parsed condition keeps the input as its text, lists its signals sorted
//    and unique, and evaluates without crashing against three fixed
//    contexts (full, empty, and one with odd facts); evaluation is
//    deterministic.
// Seeds: tests/fuzz/corpus/config_condition/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/dynamic/config/condition.h"
#include "atrium/semver.h"

namespace {

namespace cfg = atrium::config;

constexpr std::string_view kFile = "fuzz/config_set.json";
constexpr std::string_view kName = "fuzzed";

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "config_condition_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

std::vector<cfg::DeviceContext> Contexts() {
  std::vector<cfg::DeviceContext> out(3);
  cfg::DeviceContext& full = out[0];
  full.app_id = "com.example.wallet";
  full.app_version = atrium::Version::Parse("1.4.2").value();
  full.device_id = "device-1";
  full.os = "android";
  full.locale = "zh_CN";
  full.country = "CN";
  full.model = "Pixel 8";
  full.memory_mb = 4096;
  full.cores = 8;
  full.signals = {{"tier", "gold"}, {"score", "42.5"}, {"x", ""}};
  full.now_unix_ms = 1'772'953'200'000;
  // out[1]: every fact missing.
  cfg::DeviceContext& odd = out[2];
  odd.app_version = atrium::Version::Parse("0.0.0-rc.1+b").value();
  odd.device_id = std::string("\0\xff", 2);
  odd.country = "\"";
  odd.memory_mb = INT64_MAX;
  odd.cores = -1;
  odd.signals = {{"score", "-99999999999999999999999999.5"}, {"tier", "nan"}};
  odd.now_unix_ms = INT64_MAX;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<cfg::DeviceContext>* const kContexts =
      new std::vector<cfg::DeviceContext>(Contexts());
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  atrium::Result<cfg::Condition> c = cfg::Condition::Parse(text, kFile, kName);
  if (!c.ok()) {
    const atrium::Error& e = c.error();
    Require(e.code == atrium::ErrorCode::kParse, "error code is kParse");
    Require(e.file == kFile, "error names the file");
    Require(e.offset.has_value() && *e.offset <= size, "error offset lies inside the input");
    const std::string prefix =
        "condition \"" + std::string(kName) + "\": column " + std::to_string(*e.offset + 1) + ": ";
    Require(e.message.size() > prefix.size() && e.message.compare(0, prefix.size(), prefix) == 0,
            "message starts with the condition's name and column");
    return 0;
  }
  Require(c->text() == text, "text() is the input");
  const std::vector<std::string>& signals = c->signals();
  Require(std::is_sorted(signals.begin(), signals.end()) &&
              std::adjacent_find(signals.begin(), signals.end()) == signals.end(),
          "signals are sorted and unique");
  for (const std::string& s : signals) {
    Require(text.find("signal." + s) != std::string_view::npos, "signals come from the text");
  }
  if (c->uses_time()) Require(text.find("date.now") != std::string_view::npos, "uses_time");
  for (const cfg::DeviceContext& context : *kContexts) {
    const bool first = c->Evaluate(context);
    Require(first == c->Evaluate(context), "evaluation is deterministic");
  }
  return 0;
}
