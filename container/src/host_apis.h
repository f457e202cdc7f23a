// HostApisImpl: the container's HostApis (atrium/host_api.h): the app.json
// "host_apis" grants, the deny-by-default check, and each call run where
// its registration says, accounted to the bundle that registered it.
//
// Concurrency: thread-safe; the grants are immutable after construction.
#ifndef ATRIUM_CONTAINER_HOST_APIS_H_
#define ATRIUM_CONTAINER_HOST_APIS_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "atrium/host_api.h"
#include "atrium/manifest.h"
#include "atrium/scheduler.h"
#include "atrium/service_registry.h"

namespace atrium::internal {

// caller ("h5:help") -> the APIs app.json grants it.
using HostApiGrants = std::map<std::string, std::set<std::string, std::less<>>, std::less<>>;

// Limits of the "host_apis" section.
inline constexpr size_t kMaxGrantedCallers = 1000;
inline constexpr size_t kMaxGrantsPerCaller = 256;
// A call's params at most (the JSON text).
inline constexpr size_t kMaxHostApiParamsBytes = 1 << 20;

// The grants of `app` (its "host_apis" section, validated when the index
// was built; none when absent). `file` names app.json in errors.
Result<HostApiGrants> ReadHostApiGrants(const AppDescriptor& app, std::string_view file);

class HostApisImpl final : public HostApis {
 public:
  // `services` and `scheduler` outlive this.
  HostApisImpl(ServiceRegistry* services, Scheduler* scheduler, HostApiGrants grants);

  void Call(HostApiRequest request, std::function<void(Result<std::string>)> done) override;
  Status Check(std::string_view caller, std::string_view api,
               const std::vector<std::string>& requested) const override;
  HostApiStats stats() const override;

 private:
  struct Counters {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> refused{0};
    std::atomic<uint64_t> failed{0};
  };

  ServiceRegistry* const services_;
  Scheduler* const scheduler_;
  const HostApiGrants grants_;
  const std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
};

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_HOST_APIS_H_
