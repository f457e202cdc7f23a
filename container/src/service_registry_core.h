// ServiceRegistryCore: the registry behind every ServiceRegistry view (the
// host's and one per bundle). Views add the owner of registrations so a
// bundle's services end when it stops.
//
// Layout (the invariants lookups rely on):
//  1. Interface ids map to Slots through a fixed table of kBuckets atomic
//     singly-linked chains. Slots are only ever prepended (under mu_) and are
//     never freed before the core, so a reader may walk a chain without a lock.
//  2. Slot::shards hold the published best-ranked service (or null), once per
//     shard. Each shard's pointer has its own control block (an aliasing
//     pointer owning one reference to the service) on its own cache line, and
//     each thread reads the shard of its thread index. So lookups on
//     different cores touch different cache lines: no reference-count
//     ping-pong. Writers recompute the best under mu_ and store every shard
//     (an atomic swap each); a reader's lookup is: hash, walk the chain,
//     atomic load of its shard.
//  3. Slot::entries (sorted best first) and owners_ are guarded by mu_.
//
// Concurrency: thread-safe. Listeners run on the writer's thread with no
// registry lock held; a listener that throws is logged (with its bundle) and
// delivery goes on. A bundle's listeners end with it (UnregisterOwner). The lazy hook runs on the
// looking-up thread with no lock held.
#ifndef ATRIUM_CONTAINER_SERVICE_REGISTRY_CORE_H_
#define ATRIUM_CONTAINER_SERVICE_REGISTRY_CORE_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "atrium/service_registry.h"

namespace atrium::internal {

class ServiceRegistryCore {
 public:
  // Loads the provider of `interface_id` when there is no registration.
  // Returns kNotFound when no installed bundle provides it.
  using LazyHook = std::function<Status(std::string_view interface_id)>;

  ServiceRegistryCore();
  ~ServiceRegistryCore();
  ServiceRegistryCore(const ServiceRegistryCore&) = delete;
  ServiceRegistryCore& operator=(const ServiceRegistryCore&) = delete;

  // Set once, before any lookup.
  void SetLazyHook(LazyHook hook) { lazy_hook_ = std::move(hook); }

  Result<uint64_t> Register(uint64_t owner, std::string_view bundle, std::string_view interface_id,
                            std::shared_ptr<void> service, ServiceProperties properties,
                            int ranking);
  Status Unregister(uint64_t owner, uint64_t registration_id);
  // Unregisters everything `owner` registered (bundle stop), newest first.
  void UnregisterOwner(uint64_t owner);

  // Active service only; never loads.
  std::shared_ptr<void> GetActive(std::string_view interface_id) const;
  Result<std::shared_ptr<void>> Find(std::string_view interface_id);
  std::vector<ServiceRegistry::Entry> GetAll(std::string_view interface_id);

  // A listener belongs to `owner` (0: the host) and keeps `keep_alive` (its
  // bundle's library) while a call of it runs. UnregisterOwner removes the
  // owner's listeners first (a stopped or failed bundle is never called
  // again), without waiting for a call in progress (it may run under the
  // lifecycle lock; the library stays mapped until that call returns).
  uint64_t AddListener(uint64_t owner, std::string_view bundle, std::string_view interface_id,
                       ServiceListener listener, std::shared_ptr<void> keep_alive = nullptr);
  // After it returns, the listener is not called again, and no call of it
  // runs on another thread (a listener removing itself from its own call
  // does not wait for itself). Do not call it holding what the listener
  // needs.
  void RemoveListener(uint64_t token);

  size_t RegistrationCountForTesting() const;

 private:
  static constexpr size_t kBuckets = 4096;
  static constexpr size_t kShards = 8;
  static size_t ThreadShard();
  struct Record {
    ServiceInfo info;
    std::shared_ptr<void> service;
    uint64_t owner;
  };
  struct Slot {
    explicit Slot(std::string_view id) : interface_id(id) {}
    const std::string interface_id;
    Slot* next = nullptr;  // immutable once published
    struct alignas(64) Shard {
      std::atomic<std::shared_ptr<void>> best;
    };
    std::array<Shard, kShards> shards;             // see invariant 2
    std::vector<std::shared_ptr<Record>> entries;  // guarded by mu_
    const Record* published = nullptr;             // record in the shards; guarded by mu_
  };
  // One listener's calls: how many run now, and whether it was removed.
  struct ListenerState {
    // Before fn: members are destroyed in reverse order, and fn (the
    // bundle's closure) must go while its code is still mapped.
    std::shared_ptr<void> keep_alive;  // the adding bundle's library
    ServiceListener fn;
    std::string bundle;  // for the log when it throws
    std::mutex mu;
    std::condition_variable idle;
    int running = 0;       // guarded by mu
    bool removed = false;  // guarded by mu
  };
  struct Listener {
    uint64_t token;
    uint64_t owner;
    std::string interface_id;  // "" = all
    std::shared_ptr<ListenerState> state;
  };
  void RemoveListenersOf(uint64_t owner);

  static size_t Hash(std::string_view s);
  Slot* FindSlot(std::string_view interface_id) const;
  Slot* FindOrCreateSlotLocked(std::string_view interface_id);  // requires mu_
  void PublishLocked(Slot* slot);                               // requires mu_
  void Notify(const ServiceEvent& event);
  Status RemoveLocked(uint64_t registration_id, ServiceEvent* event);  // requires mu_

  LazyHook lazy_hook_;
  std::array<std::atomic<Slot*>, kBuckets> buckets_{};

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;                                        // guarded by mu_
  std::unordered_map<uint64_t, Slot*> slot_of_registration_;    // guarded by mu_
  std::unordered_map<uint64_t, std::vector<uint64_t>> owners_;  // guarded by mu_

  mutable std::mutex listeners_mu_;
  uint64_t next_listener_ = 1;       // guarded by listeners_mu_
  std::vector<Listener> listeners_;  // guarded by listeners_mu_
};

// A ServiceRegistry whose registrations belong to `owner` (0 = host). For a
// bundle, `keep_alive` is its loaded library: every service it registers
// holds it, so the library stays mapped while any handle to its objects lives.
class RegistryView final : public ServiceRegistry {
 public:
  RegistryView(ServiceRegistryCore* core, uint64_t owner, std::string bundle,
               std::shared_ptr<void> keep_alive = nullptr)
      : core_(core),
        owner_(owner),
        bundle_(std::move(bundle)),
        keep_alive_(std::move(keep_alive)) {}

  Result<uint64_t> Register(std::string_view interface_id, std::shared_ptr<void> service,
                            ServiceProperties properties, int ranking) override {
    if (keep_alive_ && service) service = WrapKeepAlive(std::move(service), keep_alive_);
    return core_->Register(owner_, bundle_, interface_id, std::move(service), std::move(properties),
                           ranking);
  }
  Status Unregister(uint64_t registration_id) override {
    return core_->Unregister(owner_, registration_id);
  }
  std::shared_ptr<void> Get(std::string_view interface_id) override {
    auto r = core_->Find(interface_id);
    return r.ok() ? std::move(r).value() : nullptr;
  }
  Result<std::shared_ptr<void>> Find(std::string_view interface_id) override {
    return core_->Find(interface_id);
  }
  std::vector<Entry> GetAll(std::string_view interface_id) override {
    return core_->GetAll(interface_id);
  }
  uint64_t AddListener(std::string_view interface_id, ServiceListener listener) override {
    return core_->AddListener(owner_, bundle_, interface_id, std::move(listener), keep_alive_);
  }
  void RemoveListener(uint64_t token) override { core_->RemoveListener(token); }

  using ServiceRegistry::Get;
  using ServiceRegistry::Register;

 private:
  // Releases the service before the library it came from.
  static std::shared_ptr<void> WrapKeepAlive(std::shared_ptr<void> service,
                                             std::shared_ptr<void> library) {
    struct Keeper {
      std::shared_ptr<void> service;
      std::shared_ptr<void> library;
      ~Keeper() {
        service.reset();
        library.reset();
      }
    };
    void* raw = service.get();
    auto keeper = std::make_shared<Keeper>(Keeper{std::move(service), std::move(library)});
    return std::shared_ptr<void>(std::move(keeper), raw);
  }

  ServiceRegistryCore* const core_;
  const uint64_t owner_;
  const std::string bundle_;
  const std::shared_ptr<void> keep_alive_;
};

}  // namespace atrium::internal

#endif  // ATRIUM_CONTAINER_SERVICE_REGISTRY_CORE_H_
