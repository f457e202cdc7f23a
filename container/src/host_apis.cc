#include "host_apis.h"

#include <boost/json.hpp>
#include <exception>
#include <utility>

#include "atrium/base/field_reader.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/manifest/app_sections.h"

namespace atrium {

bool IsHostApiName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  size_t segments = 0;
  size_t i = 0;
  while (i <= name.size()) {
    const size_t end = std::min(name.find('.', i), name.size());
    const std::string_view seg = name.substr(i, end - i);
    if (seg.empty() || seg[0] < 'a' || seg[0] > 'z') return false;
    for (char c : seg) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!ok) return false;
    }
    ++segments;
    i = end + 1;
  }
  return segments >= 2;
}

namespace internal {
namespace {

namespace json = boost::json;

// "<layer>:<id>": layer [a-z][a-z0-9_]*, id [a-z0-9][a-z0-9._-]*, 200 bytes at most.
bool IsCallerName(std::string_view caller) {
  const size_t colon = caller.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == caller.size() ||
      caller.size() > 200) {
    return false;
  }
  const std::string_view layer = caller.substr(0, colon);
  const std::string_view id = caller.substr(colon + 1);
  if (layer[0] < 'a' || layer[0] > 'z') return false;
  for (char c : layer) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9'))) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

Result<HostApiGrants> ReadGrants(const json::value& v, std::string_view file,
                                 const std::string& pointer) {
  FieldReader r(file);
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, pointer));
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*o, pointer, {"grants"}));
  HostApiGrants grants;
  const json::value* g = o->if_contains("grants");
  if (g == nullptr) return grants;
  const std::string at = Child(pointer, "grants");
  ATRIUM_ASSIGN_OR_RETURN(const json::object* callers, r.AsObject(*g, at));
  if (callers->size() > kMaxGrantedCallers) {
    return r.Invalid(at, "more than " + std::to_string(kMaxGrantedCallers) + " callers");
  }
  for (const auto& [key, apis_value] : *callers) {
    const std::string caller(key);
    const std::string caller_at = Child(at, caller);
    if (!IsCallerName(caller)) {
      return r.Invalid(caller_at, "caller " + Quote(caller) +
                                      " must be \"<layer>:<id>\" (\"h5:help\", \"hcf:bill-card\")");
    }
    ATRIUM_ASSIGN_OR_RETURN(const json::array* apis, r.AsArray(apis_value, caller_at));
    if (apis->size() > kMaxGrantsPerCaller) {
      return r.Invalid(caller_at, "more than " + std::to_string(kMaxGrantsPerCaller) + " APIs");
    }
    auto& set = grants[caller];
    for (size_t i = 0; i < apis->size(); ++i) {
      ATRIUM_ASSIGN_OR_RETURN(std::string api, r.AsString((*apis)[i], Child(caller_at, i)));
      if (!IsHostApiName(api)) {
        return r.Invalid(Child(caller_at, i),
                         "host API name " + Quote(api) +
                             " must be dot-separated identifiers (\"wallet.getBalance\")");
      }
      if (!set.insert(api).second) {
        return r.Invalid(Child(caller_at, i), "host API " + Quote(api) + " is granted twice");
      }
    }
  }
  return grants;
}

Status ValidateHostApisSection(const json::value& v, std::string_view file,
                               std::string_view pointer) {
  auto grants = ReadGrants(v, file, std::string(pointer));
  return grants.ok() ? Status::Ok() : Status(grants.error());
}
ATRIUM_REGISTER_APP_SECTION("host_apis", "container", ValidateHostApisSection);

// Calls `done` once: with the answer, or with `dropped` when the task
// carrying it is destroyed unrun (its bundle stopped, the app shut down).
class OnceDone {
 public:
  OnceDone(std::function<void(Result<std::string>)> done, std::string dropped)
      : done_(std::move(done)), dropped_(std::move(dropped)) {}
  ~OnceDone() {
    if (done_) done_(MakeError(ErrorCode::kState, dropped_));
  }
  void operator()(Result<std::string> result) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result));
  }

 private:
  std::function<void(Result<std::string>)> done_;
  std::string dropped_;
};

}  // namespace

Result<HostApiGrants> ReadHostApiGrants(const AppDescriptor& app, std::string_view file) {
  auto it = app.sections.find("host_apis");
  if (it == app.sections.end()) return HostApiGrants{};
  ATRIUM_ASSIGN_OR_RETURN(json::value section, ParseStrictJson(it->second, file, {}));
  return ReadGrants(section, file, "/host_apis");
}

HostApisImpl::HostApisImpl(ServiceRegistry* services, Scheduler* scheduler, HostApiGrants grants)
    : services_(services), scheduler_(scheduler), grants_(std::move(grants)) {}

Status HostApisImpl::Check(std::string_view caller, std::string_view api,
                           const std::vector<std::string>& requested) const {
  auto refuse = [&](std::string why) {
    return Status(MakeError(ErrorCode::kPermission, "permission denied: " + std::string(api) +
                                                        " is not granted to " +
                                                        std::string(caller) + why));
  };
  bool asked = false;
  for (const std::string& r : requested) asked = asked || r == api;
  if (!asked) return refuse(" (its manifest does not request it)");
  auto granted = grants_.find(caller);
  if (granted == grants_.end() || !granted->second.contains(api)) {
    return refuse(" (app.json \"host_apis\" does not grant it)");
  }
  return Status::Ok();
}

void HostApisImpl::Call(HostApiRequest request, std::function<void(Result<std::string>)> done) {
  if (Status s = Check(request.caller, request.api, request.requested); !s.ok()) {
    counters_->refused.fetch_add(1);
    return done(s.error());
  }
  auto fail = [&](ErrorCode code, std::string message) {
    counters_->failed.fetch_add(1);
    done(MakeError(code, request.api + ": " + message));
  };
  if (request.params.empty()) request.params = "{}";
  if (request.params.size() > kMaxHostApiParamsBytes) {
    return fail(ErrorCode::kInvalidArgument,
                "params larger than " + std::to_string(kMaxHostApiParamsBytes) + " bytes");
  }
  {
    boost::system::error_code ec;
    json::value params = json::parse(request.params, ec);
    if (ec || !params.is_object()) {
      return fail(ErrorCode::kInvalidArgument, "params must be a JSON object");
    }
  }
  std::shared_ptr<HostApi> api;
  ServiceInfo info;
  for (ServiceRegistry::Entry& e : services_->GetAll(HostApi::kInterfaceId)) {
    auto name = e.info.properties.find("name");
    if (name != e.info.properties.end() && name->second == request.api) {
      api = std::static_pointer_cast<HostApi>(std::move(e.service));
      info = std::move(e.info);
      break;
    }
  }
  if (api == nullptr) return fail(ErrorCode::kNotFound, "no bundle provides this host API");
  const auto prop = [&](const char* key) {
    auto it = info.properties.find(key);
    return it == info.properties.end() ? std::string() : it->second;
  };
  const bool may_block = prop("may_block") == "true";
  std::string target = prop("thread");
  if (target.empty()) target = may_block ? "io" : "normal";
  auto executor = scheduler_->GetExecutor(target, info.bundle);
  if (!executor.ok()) {
    return fail(ErrorCode::kState, "its thread " + Quote(target) + ": " + executor.error().message);
  }
  auto once = std::make_shared<OnceDone>(
      std::move(done), request.api +
                           ": the call was dropped before it ran (its bundle stopped "
                           "or the app is closing)");
  auto call = std::make_shared<HostApiCall>(
      HostApiCall{request.api, std::move(request.caller), std::move(request.params)});
  Status posted = (*executor)->Post(
      [api, call, once, counters = counters_] {
        Result<std::string> result = MakeError(ErrorCode::kInternal, "");
        bool answered = false;  // by the API: its result or its own error
        try {
          result = api->Call(*call);
          answered = true;
        } catch (const std::exception& e) {
          result = MakeError(ErrorCode::kInternal, std::string("threw: ") + e.what());
        } catch (...) {
          result = MakeError(ErrorCode::kInternal, "threw a non-standard exception");
        }
        if (result.ok()) {
          boost::system::error_code ec;
          (void)json::parse(*result, ec);
          if (ec) {
            result = MakeError(ErrorCode::kInternal, "answered text that is not JSON");
            answered = false;
          }
        }
        if (!result.ok()) {
          Error e = result.error();
          e.message = call->api + ": " + e.message;
          result = std::move(e);
        }
        (answered ? counters->calls : counters->failed).fetch_add(1);
        (*once)(std::move(result));
      },
      TaskTraits{}.Priority(TaskPriority::kUserBlocking).MayBlock(may_block));
  if (!posted.ok()) {
    counters_->failed.fetch_add(1);
    (*once)(MakeError(ErrorCode::kState, request.api + ": " + posted.error().message));
  }
}

HostApiStats HostApisImpl::stats() const {
  return HostApiStats{counters_->calls.load(), counters_->refused.load(), counters_->failed.load()};
}

}  // namespace internal
}  // namespace atrium
