#include "atrium/dynamic/config_eval.h"

#include "atrium/dynamic/config/config_set.h"

namespace atrium {

const char* ConfigTypeText(ConfigType type) { return config::ConfigTypeName(type); }

Result<ConfigEvalReport> EvaluateConfigSet(std::string_view text, std::string_view file,
                                           const ConfigEvalDevice& device) {
  config::DeviceContext context;
  context.app_id = device.app_id;
  if (!device.app_version.empty()) {
    auto v = Version::Parse(device.app_version);
    if (!v.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "device app version: " + v.error().message);
    }
    context.app_version = *v;
  }
  context.device_id = device.device_id;
  context.os = device.os;
  context.locale = device.locale;
  context.country = device.country;
  context.model = device.model;
  context.memory_mb = device.memory_mb;
  context.cores = device.cores;
  context.signals = device.signals;
  context.now_unix_ms = device.now_unix_ms;

  Result<config::ConfigSet> set = config::ParseConfigSet(text, file);
  if (!set.ok()) return set.error();
  const config::Evaluation eval = config::Evaluate(*set, context);
  ConfigEvalReport report;
  report.id = set->id;
  report.version = set->version.ToString();
  report.parameter_count = set->parameters.size();
  for (size_t i = 0; i < set->conditions.size(); ++i) {
    report.conditions.push_back(
        {set->conditions[i].name, set->conditions[i].condition.text(), eval.conditions[i]});
  }
  for (const config::EvaluatedValue& v : eval.values) {
    report.values.push_back({v.parameter->ns + "/" + v.parameter->key, v.value.type,
                             v.value.Display(), config::SourceText(*set, v)});
  }
  return report;
}

}  // namespace atrium
