#include "atrium/dynamic/config/config_set.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "atrium/base/field_reader.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest.h"

namespace atrium::config {
namespace {

namespace json = boost::json;
using ::atrium::internal::Child;
using ::atrium::internal::FieldReader;
using ::atrium::internal::Quote;

bool IsConditionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '_' || (i > 0 && (c == '-' || c == '.' || c == ' '))) continue;
    return false;
  }
  return name.back() != ' ';
}

std::string FormatDouble(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

Result<std::vector<NamedCondition>> ReadConditions(const FieldReader& r, const json::object& root,
                                                   std::string_view file) {
  std::vector<NamedCondition> out;
  ATRIUM_ASSIGN_OR_RETURN(const json::array* list, r.OptionalArray(root, "", "conditions"));
  if (list == nullptr) return out;
  if (list->size() > kMaxConditions) {
    return r.Invalid("/conditions", "more than " + std::to_string(kMaxConditions) + " conditions");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = Child("/conditions", i);
    ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject((*list)[i], at));
    ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"name", "expression", "description"}));
    ATRIUM_ASSIGN_OR_RETURN(std::string name, r.RequiredString(*o, at, "name"));
    if (!IsConditionName(name)) {
      return r.Invalid(Child(at, "name"),
                       "condition name " + Quote(name) +
                           " must be 1-64 characters of [A-Za-z0-9_] and, after the first, - . "
                           "and inner spaces");
    }
    for (const NamedCondition& seen : out) {
      if (seen.name == name)
        return r.Invalid(Child(at, "name"), "duplicate condition " + Quote(name));
    }
    ATRIUM_ASSIGN_OR_RETURN(std::string expression, r.RequiredString(*o, at, "expression"));
    ATRIUM_ASSIGN_OR_RETURN(std::string description, r.OptionalString(*o, at, "description", ""));
    Result<Condition> c = Condition::Parse(expression, file, name);
    if (!c.ok()) {
      Error e = c.error();
      e.pointer = Child(at, "expression");
      e.code = ErrorCode::kValidation;
      return e;
    }
    out.push_back({std::move(name), std::move(c).value()});
  }
  return out;
}

Result<Parameter> ReadParameter(const FieldReader& r, const json::value& v, std::string_view file,
                                const std::string& at,
                                const std::vector<NamedCondition>& conditions) {
  Parameter p;
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, at));
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, at, {"type", "description", "default", "values"}));
  ATRIUM_ASSIGN_OR_RETURN(std::string type, r.RequiredString(*o, at, "type"));
  std::optional<ConfigType> t = ParseConfigType(type);
  if (!t) {
    return r.Invalid(Child(at, "type"),
                     "unknown type " + Quote(type) + " (allowed: string, int, double, bool, json)");
  }
  p.type = *t;
  ATRIUM_ASSIGN_OR_RETURN(p.description, r.OptionalString(*o, at, "description", ""));
  if (const json::value* d = o->if_contains("default")) {
    ATRIUM_ASSIGN_OR_RETURN(p.default_value,
                            ReadTypedValue(*d, p.type, file, Child(at, "default")));
  }
  ATRIUM_ASSIGN_OR_RETURN(const json::array* values, r.OptionalArray(*o, at, "values"));
  if (values != nullptr) {
    if (values->size() > kMaxConditionalValues) {
      return r.Invalid(Child(at, "values"), "more than " + std::to_string(kMaxConditionalValues) +
                                                " conditional values");
    }
    for (size_t i = 0; i < values->size(); ++i) {
      const std::string vat = Child(Child(at, "values"), i);
      ATRIUM_ASSIGN_OR_RETURN(const json::object* cv, r.AsObject((*values)[i], vat));
      ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*cv, vat, {"condition", "value"}));
      ATRIUM_ASSIGN_OR_RETURN(std::string name, r.RequiredString(*cv, vat, "condition"));
      auto found = std::find_if(conditions.begin(), conditions.end(),
                                [&](const NamedCondition& c) { return c.name == name; });
      if (found == conditions.end()) {
        return r.Invalid(Child(vat, "condition"),
                         "unknown condition " + Quote(name) + " (declare it in /conditions)");
      }
      const size_t index = static_cast<size_t>(found - conditions.begin());
      for (const ConditionalValue& seen : p.values) {
        if (seen.condition == index) {
          return r.Invalid(Child(vat, "condition"), "condition " + Quote(name) + " used twice");
        }
      }
      const json::value* value = cv->if_contains("value");
      if (value == nullptr) return r.Invalid(vat, "missing required field 'value'");
      ATRIUM_ASSIGN_OR_RETURN(ConfigValue typed,
                              ReadTypedValue(*value, p.type, file, Child(vat, "value")));
      p.values.push_back({index, std::move(typed)});
    }
  }
  if (!p.default_value && p.values.empty()) {
    return r.Invalid(at, "a parameter needs a \"default\" or at least one conditional value");
  }
  return p;
}

}  // namespace

const char* ConfigTypeName(ConfigType type) {
  switch (type) {
    case ConfigType::kString:
      return "string";
    case ConfigType::kInt:
      return "int";
    case ConfigType::kDouble:
      return "double";
    case ConfigType::kBool:
      return "bool";
    case ConfigType::kJson:
      return "json";
  }
  return "?";
}

std::optional<ConfigType> ParseConfigType(std::string_view name) {
  for (ConfigType t : {ConfigType::kString, ConfigType::kInt, ConfigType::kDouble,
                       ConfigType::kBool, ConfigType::kJson}) {
    if (name == ConfigTypeName(t)) return t;
  }
  return std::nullopt;
}

std::string ConfigValue::Display() const { return Stored(); }

std::string ConfigValue::Stored() const {
  switch (type) {
    case ConfigType::kInt:
      return std::to_string(i);
    case ConfigType::kDouble:
      return FormatDouble(d);
    case ConfigType::kBool:
      return b ? "true" : "false";
    case ConfigType::kString:
    case ConfigType::kJson:
      return text;
  }
  return text;
}

Result<ConfigValue> ConfigValue::FromStored(ConfigType type, std::string_view stored) {
  ConfigValue v;
  v.type = type;
  auto bad = [&] {
    return MakeError(ErrorCode::kCorrupt, std::string("stored ") + ConfigTypeName(type) +
                                              " value " + Quote(stored) + " does not fit its type");
  };
  const char* end = stored.data() + stored.size();
  switch (type) {
    case ConfigType::kInt: {
      auto [p, ec] = std::from_chars(stored.data(), end, v.i);
      if (ec != std::errc() || p != end) return bad();
      break;
    }
    case ConfigType::kDouble: {
      auto [p, ec] = std::from_chars(stored.data(), end, v.d);
      if (ec != std::errc() || p != end || !std::isfinite(v.d)) return bad();
      break;
    }
    case ConfigType::kBool:
      if (stored != "true" && stored != "false") return bad();
      v.b = stored == "true";
      break;
    case ConfigType::kString:
    case ConfigType::kJson:
      v.text = std::string(stored);
      break;
  }
  return v;
}

bool IsConfigNamespace(std::string_view ns) { return ns == "app" || IsValidBundleName(ns); }

bool IsConfigKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  bool label_start = true;
  for (char c : key) {
    if (c == '.') {
      if (label_start) return false;
      label_start = true;
      continue;
    }
    const bool digit = c >= '0' && c <= '9';
    if (!((c >= 'a' && c <= 'z') || c == '_' || (digit && !label_start))) return false;
    label_start = false;
  }
  return !label_start;
}

Result<ConfigValue> ReadTypedValue(const json::value& v, ConfigType type, std::string_view file,
                                   const std::string& pointer) {
  FieldReader r(file);
  ConfigValue out;
  out.type = type;
  switch (type) {
    case ConfigType::kString:
      if (!v.is_string()) return r.WrongType(pointer, "a string (the parameter's type)", v);
      out.text = std::string(v.get_string());
      if (out.text.size() > kMaxValueBytes) {
        return r.Invalid(pointer,
                         "string longer than " + std::to_string(kMaxValueBytes) + " bytes");
      }
      return out;
    case ConfigType::kInt:
      if (v.is_int64()) {
        out.i = v.get_int64();
      } else if (v.is_uint64()) {
        return r.Invalid(pointer, "integer does not fit in 64 bits");
      } else {
        return r.WrongType(pointer, "an integer (the parameter's type)", v);
      }
      return out;
    case ConfigType::kDouble:
      if (!v.is_number()) return r.WrongType(pointer, "a number (the parameter's type)", v);
      out.d = v.to_number<double>();
      if (!std::isfinite(out.d)) return r.Invalid(pointer, "number is not finite");
      return out;
    case ConfigType::kBool:
      if (!v.is_bool()) return r.WrongType(pointer, "a boolean (the parameter's type)", v);
      out.b = v.get_bool();
      return out;
    case ConfigType::kJson:
      out.text = json::serialize(v);
      if (out.text.size() > kMaxValueBytes) {
        return r.Invalid(pointer,
                         "JSON value longer than " + std::to_string(kMaxValueBytes) + " bytes");
      }
      return out;
  }
  return r.Invalid(pointer, "unknown type");
}

ConfigValue ValueOfJson(const json::value& v) {
  ConfigValue out;
  if (v.is_bool()) {
    out.type = ConfigType::kBool;
    out.b = v.get_bool();
  } else if (v.is_int64()) {
    out.type = ConfigType::kInt;
    out.i = v.get_int64();
  } else if (v.is_double() || v.is_uint64()) {
    out.type = ConfigType::kDouble;
    out.d = v.to_number<double>();
  } else if (v.is_string()) {
    out.type = ConfigType::kString;
    out.text = std::string(v.get_string());
  } else {
    out.type = ConfigType::kJson;
    out.text = json::serialize(v);
  }
  return out;
}

Result<std::vector<std::pair<std::string, ConfigValue>>> ReadDefaults(const json::value& v,
                                                                      std::string_view file,
                                                                      const std::string& pointer) {
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, pointer));
  if (o->size() > kMaxParameters) {
    return r.Invalid(pointer, "more than " + std::to_string(kMaxParameters) + " defaults");
  }
  std::vector<std::pair<std::string, ConfigValue>> out;
  for (const json::key_value_pair& kv : *o) {
    const std::string key(kv.key());
    const std::string at = Child(pointer, key);
    if (!IsConfigKey(key)) {
      return r.Invalid(at, "config key " + Quote(key) +
                               " must be [a-z_][a-z0-9_]* labels joined by '.', at most " +
                               std::to_string(kMaxKeyBytes) + " bytes");
    }
    if (kv.value().is_null()) return r.Invalid(at, "a default cannot be null");
    ConfigValue value = ValueOfJson(kv.value());
    if (value.text.size() > kMaxValueBytes) {
      return r.Invalid(at, "value longer than " + std::to_string(kMaxValueBytes) + " bytes");
    }
    if (value.type == ConfigType::kDouble && !std::isfinite(value.d)) {
      return r.Invalid(at, "number is not finite");
    }
    out.emplace_back(key, std::move(value));
  }
  return out;
}

Result<ConfigSet> ParseConfigSet(std::string_view text, std::string_view file) {
  ATRIUM_ASSIGN_OR_RETURN(json::value doc, ::atrium::internal::ParseStrictJson(
                                               text, file, {kMaxSetBytes, 32, "config set"}));
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* root, r.AsObject(doc, ""));
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(
      *root, "", {"$schema", "id", "version", "description", "conditions", "parameters"}));
  ConfigSet set;
  ATRIUM_ASSIGN_OR_RETURN(set.id, r.RequiredString(*root, "", "id"));
  if (!IsValidBundleName(set.id)) {
    return r.Invalid("/id", "config set id " + Quote(set.id) +
                                " must be a reverse-DNS name like com.wallet.config");
  }
  ATRIUM_ASSIGN_OR_RETURN(std::string version, r.RequiredString(*root, "", "version"));
  Result<Version> v = Version::Parse(version);
  if (!v.ok()) return r.Invalid("/version", v.error().message);
  set.version = std::move(v).value();
  ATRIUM_ASSIGN_OR_RETURN(set.description, r.OptionalString(*root, "", "description", ""));
  ATRIUM_ASSIGN_OR_RETURN(set.conditions, ReadConditions(r, *root, file));
  for (const NamedCondition& c : set.conditions) set.uses_time |= c.condition.uses_time();

  const json::value* params = root->if_contains("parameters");
  if (params == nullptr) return r.Invalid("/parameters", "missing required field 'parameters'");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* namespaces, r.AsObject(*params, "/parameters"));
  for (const json::key_value_pair& ns : *namespaces) {
    const std::string ns_name(ns.key());
    const std::string ns_at = Child("/parameters", ns_name);
    if (!IsConfigNamespace(ns_name)) {
      return r.Invalid(ns_at, "namespace " + Quote(ns_name) +
                                  " must be \"app\" or a bundle name (com.wallet.home)");
    }
    ATRIUM_ASSIGN_OR_RETURN(const json::object* keys, r.AsObject(ns.value(), ns_at));
    for (const json::key_value_pair& kv : *keys) {
      const std::string key(kv.key());
      const std::string at = Child(ns_at, key);
      if (!IsConfigKey(key)) {
        return r.Invalid(at, "config key " + Quote(key) +
                                 " must be [a-z_][a-z0-9_]* labels joined by '.', at most " +
                                 std::to_string(kMaxKeyBytes) + " bytes");
      }
      if (set.parameters.size() == kMaxParameters) {
        return r.Invalid(at, "more than " + std::to_string(kMaxParameters) + " parameters");
      }
      ATRIUM_ASSIGN_OR_RETURN(Parameter p, ReadParameter(r, kv.value(), file, at, set.conditions));
      p.ns = ns_name;
      p.key = key;
      set.parameters.push_back(std::move(p));
    }
  }
  std::sort(set.parameters.begin(), set.parameters.end(),
            [](const Parameter& a, const Parameter& b) {
              return std::tie(a.ns, a.key) < std::tie(b.ns, b.key);
            });
  return set;
}

Evaluation Evaluate(const ConfigSet& set, const DeviceContext& device) {
  Evaluation out;
  out.conditions.reserve(set.conditions.size());
  for (const NamedCondition& c : set.conditions)
    out.conditions.push_back(c.condition.Evaluate(device));
  out.values.reserve(set.parameters.size());
  for (const Parameter& p : set.parameters) {
    const ConditionalValue* chosen = nullptr;
    for (const ConditionalValue& cv : p.values) {
      if (out.conditions[cv.condition]) {
        chosen = &cv;
        break;
      }
    }
    if (chosen != nullptr) {
      out.values.push_back({&p, chosen->value, static_cast<int>(chosen->condition)});
    } else if (p.default_value) {
      out.values.push_back({&p, *p.default_value, -1});
    }
  }
  return out;
}

std::string SourceText(const ConfigSet& set, const EvaluatedValue& value) {
  std::string out = "remote " + set.version.ToString();
  if (value.condition < 0) return out + " default";
  return out + " condition \"" + set.conditions[static_cast<size_t>(value.condition)].name + "\"";
}

}  // namespace atrium::config
