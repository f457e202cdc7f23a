// libFuzzer target for ParseConfigSet (dynamic/config: config.json) and the
// evaluation of what it accepts. The parser must return a set or an Error
// and never crash, hang or throw. Invariants checked on every input:
// 1. An error names the file, has a message, and is kParse (with an offset
//    inside the input when one is given) or kValidation (with a JSON
//    pointer; "" is the document itself).
// 2. A set keeps the limits it promises (parameters, conditions,
//    conditional values), its parameters are sorted and unique by
//    (namespace, key), every conditional value names a declared condition.
// 3. Evaluating it for a fixed device yields at most one value per
//    parameter, each of the parameter's type.
// Seeds: tests/fuzz/corpus/config_set/.
//
// Concurrency: libFuzzer calls LLVMFuzzerTestOneInput from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <tuple>

#include "atrium/dynamic/config/config_set.h"
#include "located_error_check.h"

namespace {

namespace cfg = atrium::config;

constexpr std::string_view kFile = "fuzz/config.json";

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "config_set_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckSet(const cfg::ConfigSet& set) {
  Require(set.parameters.size() <= cfg::kMaxParameters, "parameter limit");
  Require(set.conditions.size() <= cfg::kMaxConditions, "condition limit");
  for (size_t i = 0; i < set.parameters.size(); ++i) {
    const cfg::Parameter& p = set.parameters[i];
    Require(cfg::IsConfigNamespace(p.ns) && cfg::IsConfigKey(p.key), "namespace and key valid");
    Require(p.values.size() <= cfg::kMaxConditionalValues, "conditional value limit");
    Require(p.default_value.has_value() || !p.values.empty(), "a default or a value");
    if (i > 0) {
      const cfg::Parameter& q = set.parameters[i - 1];
      Require(std::tie(q.ns, q.key) < std::tie(p.ns, p.key), "sorted and unique");
    }
    for (const cfg::ConditionalValue& v : p.values) {
      Require(v.condition < set.conditions.size(), "declared condition");
      Require(v.value.type == p.type, "value of the parameter's type");
    }
    if (p.default_value) Require(p.default_value->type == p.type, "default of the type");
  }
  cfg::DeviceContext device;
  device.app_id = "com.fuzz.app";
  device.app_version = *atrium::Version::Parse("1.2.3");
  device.device_id = "fuzz-device";
  device.country = "CN";
  device.memory_mb = 4096;
  device.cores = 8;
  device.signals["tier"] = "gold";
  device.now_unix_ms = 1'800'000'000'000;
  const cfg::Evaluation eval = cfg::Evaluate(set, device);
  Require(eval.conditions.size() == set.conditions.size(), "one result per condition");
  Require(eval.values.size() <= set.parameters.size(), "at most one value per parameter");
  for (const cfg::EvaluatedValue& v : eval.values) {
    Require(v.value.type == v.parameter->type, "evaluated value of the parameter's type");
    Require(v.condition < static_cast<int>(set.conditions.size()), "chosen condition exists");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  atrium::Result<cfg::ConfigSet> set = cfg::ParseConfigSet(text, kFile);
  if (set.ok()) {
    CheckSet(*set);
    return 0;
  }
  atrium::fuzz::RequireLocatedJsonError("config_set_fuzz", set.error(), kFile, size);
  return 0;
}
