// Host APIs: native functions that dynamic content calls — an H5 page's
// JSAPIs through the JS bridge, an HCF template set's Lua logic — through
// one registry (the service registry) and one grant model.
//
// A bundle exposes an API by registering a HostApi service with properties:
//   "name"       the API's name, dot-separated identifiers ("wallet.getBalance");
//                each [a-z][A-Za-z0-9_]*, at least two, at most 128 bytes
//   "thread"     where calls run: "main" (the main loop) or a pool name
//                ("normal" by default, "io" when "may_block" is "true")
//   "may_block"  "true" when a call blocks (file, network, a lock held long)
//
//   ctx.services().Register<atrium::HostApi>(std::make_shared<GetBalance>(account_),
//                                            {{"name", "wallet.getBalance"}, {"thread", "main"}});
//
// Deny by default. A call reaches the API only when both hold:
//  1. the caller requested the API in its signed manifest (an H5 package's
//     h5.json "jsapis", an HCF template set's hcf.json), and
//  2. the app's app.json grants it to that caller:
//       "host_apis": {"grants": {"h5:help": ["wallet.getBalance"]}}
//     Callers are "<layer>:<id>" ("h5:help", "hcf:bill-card").
// Anything else is refused with ErrorCode::kPermission and a message that
// says which rule refused it ("permission denied: wallet.transfer is not
// granted to h5:help"); refusals are counted (HostApis::stats).
//
// A call is accounted to the bundle that registered the API (its task
// quota applies; a stopped bundle's APIs are gone). When several
// registrations share a name, the best-ranked one answers.
//
// Concurrency: HostApi::Call runs on the thread its registration names,
// possibly on several pool threads at once for concurrent calls; an
// exception it throws is caught and answered as ErrorCode::kInternal.
// HostApis methods are thread-safe; `done` is called exactly once, on the
// thread that ran the call (or on the caller's, for a refusal).
#ifndef ATRIUM_HOST_API_H_
#define ATRIUM_HOST_API_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/export.h"
#include "atrium/result.h"

namespace atrium {

struct HostApiCall {
  std::string api;     // "wallet.getBalance"
  std::string caller;  // "h5:help"
  std::string params;  // the JSON text of an object, already parsed once
};

class HostApi {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.HostApi";
  virtual ~HostApi() = default;
  // The JSON text of the result (any JSON value), or an error whose message
  // the caller sees.
  virtual Result<std::string> Call(const HostApiCall& call) = 0;
};

struct HostApiRequest {
  std::string caller;  // "h5:help"
  std::string api;
  std::string params;  // JSON object text; "" means {}
  // The APIs the caller's signed manifest requests (rule 1 above).
  std::vector<std::string> requested;
};

struct HostApiStats {
  uint64_t calls = 0;    // answered by an API (ok or its error)
  uint64_t refused = 0;  // refused by rule 1 or 2
  uint64_t failed = 0;   // no such API, bad params, its thread refused the task, or it threw
};

class HostApis {
 public:
  virtual ~HostApis() = default;
  // Checks and runs one call; `done` gets the API's JSON result or the
  // error.
  virtual void Call(HostApiRequest request, std::function<void(Result<std::string>)> done) = 0;
  // Whether `caller` may call `api` given what it requested: Ok, or the
  // kPermission error Call would answer.
  virtual Status Check(std::string_view caller, std::string_view api,
                       const std::vector<std::string>& requested) const = 0;
  virtual HostApiStats stats() const = 0;
};

// Whether `name` is a well-formed host API name (rules above).
ATRIUM_EXPORT bool IsHostApiName(std::string_view name);

}  // namespace atrium

#endif  // ATRIUM_HOST_API_H_
