// ServiceRegistry: where bundles publish services and find each other's.
//
// A service is any object registered under an interface id (a dotted name
// such as "com.wallet.account.AccountService") with properties and a
// ranking. Lookup returns the highest-ranked registration (ties: the earliest
// registered) as a shared handle; the handle keeps the object, and the code
// of the bundle library that made it, alive until the last copy is released.
//
// Lazy services: when no registration exists for an interface that an
// installed, resolved bundle declares in its manifest `provides`, lookup loads
// that bundle (dependencies first) and then answers.
//
// Typed use: an interface type names its id with
//   static constexpr std::string_view kInterfaceId = "com.wallet.account.AccountService";
// and `Get<T>()` / `Register<T>()` use it.
//
// Concurrency contract:
//  1. All methods are thread-safe.
//  2. Lookup of an interface that already has a registration takes no lock a
//     writer holds for longer than a pointer swap (see service_registry.cc).
//  3. Listeners are called synchronously on the thread that registered or
//     unregistered, after the change is visible to lookups, with no registry
//     lock held; a listener may call back into the registry.
#ifndef ATRIUM_SERVICE_REGISTRY_H_
#define ATRIUM_SERVICE_REGISTRY_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/result.h"

namespace atrium {

using ServiceProperties = std::map<std::string, std::string, std::less<>>;

template <typename T>
concept ServiceInterface = requires {
  { T::kInterfaceId } -> std::convertible_to<std::string_view>;
};

// A snapshot of one registration.
struct ServiceInfo {
  uint64_t id = 0;  // unique per registry, never reused
  std::string interface_id;
  std::string bundle;  // registering bundle, "" for the host
  int ranking = 0;
  ServiceProperties properties;
};

struct ServiceEvent {
  enum class Kind { kRegistered, kUnregistered };
  Kind kind;
  ServiceInfo info;
};

using ServiceListener = std::function<void(const ServiceEvent&)>;

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;

  // Registers `service` under `interface_id`. Returns the registration id,
  // which Unregister takes. Services registered through a BundleContext are
  // unregistered automatically when that bundle stops.
  virtual Result<uint64_t> Register(std::string_view interface_id, std::shared_ptr<void> service,
                                    ServiceProperties properties = {}, int ranking = 0) = 0;
  virtual Status Unregister(uint64_t registration_id) = 0;

  // Best-ranked service for `interface_id`, loading a lazy provider if
  // needed; nullptr if there is none (or its bundle failed to load).
  virtual std::shared_ptr<void> Get(std::string_view interface_id) = 0;
  // Same, with the reason when there is none.
  virtual Result<std::shared_ptr<void>> Find(std::string_view interface_id) = 0;

  struct Entry {
    ServiceInfo info;
    std::shared_ptr<void> service;
  };
  // Every registration for `interface_id`, best-ranked first (loads a lazy
  // provider if there is none yet).
  virtual std::vector<Entry> GetAll(std::string_view interface_id) = 0;

  // Listener for one interface id, or every interface when `interface_id` is
  // empty. Returns a token for RemoveListener. A listener a bundle adds ends
  // with the bundle (its stop, or a failed start); one that throws is logged
  // and delivery goes on. Events come after the change is visible
  // (REGISTERED: lookups find it; UNREGISTERING: lookups no longer do).
  virtual uint64_t AddListener(std::string_view interface_id, ServiceListener listener) = 0;
  // After it returns the listener is not called again and no call of it
  // runs on another thread; a listener may remove itself from its own call.
  // Do not call it holding what the listener needs.
  virtual void RemoveListener(uint64_t token) = 0;

  template <ServiceInterface T>
  Result<uint64_t> Register(std::shared_ptr<T> service, ServiceProperties properties = {},
                            int ranking = 0) {
    return Register(T::kInterfaceId, std::static_pointer_cast<void>(std::move(service)),
                    std::move(properties), ranking);
  }
  template <ServiceInterface T>
  std::shared_ptr<T> Get() {
    return std::static_pointer_cast<T>(Get(T::kInterfaceId));
  }
};

// A swap-aware handle to a service: it resolves the best provider on every
// call (a lock-free lookup), so after a live swap of the providing bundle the
// next call reaches the new version. The shared_ptr each call holds keeps the
// provider it reached, and that provider's library, alive until the call
// returns: an in-flight call finishes on the version it started on.
//
//   atrium::ServiceRef<Counter> counter(ctx.services());
//   int64_t n = counter->Next();   // null provider: check get() first
//
// A raw shared_ptr from Get<T>() instead pins the object it got: after a
// swap it keeps reaching the old (stopped) version until released.
template <ServiceInterface T>
class ServiceRef {
 public:
  explicit ServiceRef(ServiceRegistry& registry) : registry_(&registry) {}
  std::shared_ptr<T> get() const { return registry_->Get<T>(); }
  // The returned shared_ptr lives until the end of the full expression.
  std::shared_ptr<T> operator->() const { return get(); }

 private:
  ServiceRegistry* registry_;
};

}  // namespace atrium

#endif  // ATRIUM_SERVICE_REGISTRY_H_
