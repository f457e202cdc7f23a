// Config sets: the model of config.json (docs/config.md, schema in
// docs/config.schema.json), its strict parser, and the evaluation of a set
// for one device. Used by the config layer on the device, by `atrium config
// eval|validate` and by the release side.
//
// Concurrency: value types and pure functions.
#ifndef ATRIUM_DYNAMIC_CONFIG_CONFIG_SET_H_
#define ATRIUM_DYNAMIC_CONFIG_CONFIG_SET_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/dynamic/config.h"
#include "atrium/dynamic/config/condition.h"
#include "atrium/result.h"
#include "atrium/semver.h"

namespace atrium::config {

// Limits of one config set.
inline constexpr size_t kMaxSetBytes = size_t{1} << 20;
inline constexpr size_t kMaxParameters = 3000;
inline constexpr size_t kMaxConditions = 500;
inline constexpr size_t kMaxConditionalValues = 100;  // per parameter
inline constexpr size_t kMaxValueBytes = 64 * 1024;   // one string or JSON value
inline constexpr size_t kMaxKeyBytes = 128;

const char* ConfigTypeName(ConfigType type);
std::optional<ConfigType> ParseConfigType(std::string_view name);

struct ConfigValue {
  ConfigType type = ConfigType::kString;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string text;  // the string, or the JSON text of a json value

  // What `config show` prints: the string as is, numbers, true/false, JSON.
  std::string Display() const;
  // The stored form (a string, a decimal number, "true"/"false", JSON text)
  // and back; FromStored is kCorrupt on text that does not fit the type.
  std::string Stored() const;
  static Result<ConfigValue> FromStored(ConfigType type, std::string_view stored);
  friend bool operator==(const ConfigValue&, const ConfigValue&) = default;
};

struct ConditionalValue {
  size_t condition = 0;  // index into ConfigSet::conditions
  ConfigValue value;
};

struct Parameter {
  std::string ns;   // "app" or a bundle name
  std::string key;  // "promo.enabled"
  ConfigType type = ConfigType::kString;
  std::string description;
  std::optional<ConfigValue> default_value;  // absent: the app's default applies
  std::vector<ConditionalValue> values;      // first whose condition holds wins
};

struct NamedCondition {
  std::string name;
  Condition condition;
};

struct ConfigSet {
  std::string id;
  Version version;
  std::string description;
  std::vector<NamedCondition> conditions;
  std::vector<Parameter> parameters;  // sorted by (ns, key)
  bool uses_time = false;             // some condition reads date.now
};

// "app" or a bundle name.
bool IsConfigNamespace(std::string_view ns);
// [a-z_][a-z0-9_]* labels joined by '.', at most kMaxKeyBytes.
bool IsConfigKey(std::string_view key);

// Parses and validates config.json. Errors name `file` and a JSON pointer
// (and, for a condition, its column).
Result<ConfigSet> ParseConfigSet(std::string_view text, std::string_view file);

// A value of `type` from its JSON form at `pointer` of `file`.
Result<ConfigValue> ReadTypedValue(const boost::json::value& v, ConfigType type,
                                   std::string_view file, const std::string& pointer);
// A default written as plain JSON (app.json / bundle.json defaults): its
// type follows the JSON (true -> bool, 3 -> int, 2.5 -> double, "x" ->
// string, an object or array -> json).
ConfigValue ValueOfJson(const boost::json::value& v);

// Defaults of one namespace: { "<key>": <json value>, ... }, validated.
Result<std::vector<std::pair<std::string, ConfigValue>>> ReadDefaults(const boost::json::value& v,
                                                                      std::string_view file,
                                                                      const std::string& pointer);

// One parameter's value for a device.
struct EvaluatedValue {
  const Parameter* parameter = nullptr;
  ConfigValue value;
  int condition = -1;  // the index of the condition that chose it; -1: the set's default
};

struct Evaluation {
  std::vector<bool> conditions;        // per condition of the set
  std::vector<EvaluatedValue> values;  // parameters with a value, in set order
};

Evaluation Evaluate(const ConfigSet& set, const DeviceContext& device);

// `remote 12.0.0 condition "gold_users"` / `remote 12.0.0 default`.
std::string SourceText(const ConfigSet& set, const EvaluatedValue& value);

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_CONFIG_SET_H_
