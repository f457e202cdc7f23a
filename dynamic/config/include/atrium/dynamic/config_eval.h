// What a config set gives a described device, without a device: the check a
// release manager runs before publishing (`atrium config eval|validate`),
// and the release side's evaluation.
//
// Concurrency: pure functions.
#ifndef ATRIUM_DYNAMIC_CONFIG_EVAL_H_
#define ATRIUM_DYNAMIC_CONFIG_EVAL_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/dynamic/config.h"
#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

// The device a set is evaluated for (unset fields: the fact is unknown, and
// conditions on it do not hold).
struct ConfigEvalDevice {
  std::string app_id;
  std::string app_version;  // semver
  std::string device_id;
  std::string os, locale, country, model;
  int64_t memory_mb = 0;
  int64_t cores = 0;
  std::map<std::string, std::string, std::less<>> signals;
  int64_t now_unix_ms = 0;
};

struct ConfigEvalReport {
  std::string id;
  std::string version;
  size_t parameter_count = 0;
  struct ConditionResult {
    std::string name;
    std::string expression;
    bool holds = false;
  };
  std::vector<ConditionResult> conditions;  // in the set's order
  struct Value {
    std::string key;  // "<namespace>/<key>"
    ConfigType type = ConfigType::kString;
    std::string value;   // display text
    std::string source;  // `remote 12.0.0 condition "gold_users"` / `remote 12.0.0 default`
  };
  std::vector<Value> values;  // parameters with a value, sorted by key
};

// Parses and validates config.json text (errors name `file`, the JSON
// pointer and, in a condition, the column) and evaluates it for `device`
// (kInvalidArgument for a malformed device app_version).
ATRIUM_EXPORT Result<ConfigEvalReport> EvaluateConfigSet(std::string_view text,
                                                         std::string_view file,
                                                         const ConfigEvalDevice& device);
// The type's one spelling: string, int, double, bool, json.
ATRIUM_EXPORT const char* ConfigTypeText(ConfigType type);

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_CONFIG_EVAL_H_
