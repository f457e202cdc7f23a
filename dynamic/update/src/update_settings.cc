#include "update_settings.h"

#include "atrium/base/field_reader.h"
#include "atrium/base/result_macros.h"
#include "atrium/manifest/app_sections.h"

namespace atrium::internal {
namespace {

namespace json = boost::json;

bool SafeChannel(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

Result<UpdateSettings> Read(const json::value& v, std::string_view file, const std::string& at) {
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, at));
  ATRIUM_RETURN_IF_ERROR(
      r.CheckKnownFields(*o, at, {"repository", "root", "channel", "interval_s", "host_api"}));
  UpdateSettings s;
  s.present = true;
  ATRIUM_ASSIGN_OR_RETURN(s.repository, r.OptionalString(*o, at, "repository", ""));
  if (!s.repository.empty() && s.repository.rfind("https://", 0) != 0 &&
      s.repository.rfind("http://", 0) != 0 && s.repository.rfind("file://", 0) != 0) {
    return r.Invalid(Child(at, "repository"), "must be an https://, http:// or file:// URL");
  }
  ATRIUM_ASSIGN_OR_RETURN(s.root, r.OptionalString(*o, at, "root", ""));
  if (s.root.find("..") != std::string::npos || (!s.root.empty() && s.root[0] == '/')) {
    return r.Invalid(Child(at, "root"), "must be a path inside the app folder");
  }
  ATRIUM_ASSIGN_OR_RETURN(s.channel, r.OptionalString(*o, at, "channel", "stable"));
  if (!SafeChannel(s.channel)) {
    return r.Invalid(Child(at, "channel"), "a channel is 1-64 of [a-z0-9._-]");
  }
  ATRIUM_ASSIGN_OR_RETURN(s.interval_s,
                          r.OptionalInt(*o, at, "interval_s", 6 * 3600, 60, int64_t{30} * 86400));
  ATRIUM_ASSIGN_OR_RETURN(s.host_api, r.OptionalString(*o, at, "host_api", "1"));
  if (s.host_api.empty() || s.host_api.find('/') != std::string::npos) {
    return r.Invalid(Child(at, "host_api"), "must be non-empty and without '/'");
  }
  return s;
}

Status Validate(const json::value& v, std::string_view file, std::string_view pointer) {
  auto s = Read(v, file, std::string(pointer));
  return s.ok() ? Status::Ok() : Status(s.error());
}
ATRIUM_REGISTER_APP_SECTION("updates", "dynamic/update", Validate);

}  // namespace

Result<UpdateSettings> ReadUpdateSettings(const AppDescriptor& app) {
  auto it = app.sections.find("updates");
  if (it == app.sections.end()) return UpdateSettings{};
  json::value v;
  try {
    v = json::parse(it->second);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kParse, std::string("app.json /updates: ") + e.what());
  }
  return Read(v, "app.json", "/updates");
}

}  // namespace atrium::internal
