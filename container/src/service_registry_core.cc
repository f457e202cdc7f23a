#include "service_registry_core.h"

#include <sched.h>

#include <algorithm>

#include "atrium/base/hash.h"
#include "atrium/base/log.h"

namespace atrium::internal {

ServiceRegistryCore::ServiceRegistryCore() = default;

ServiceRegistryCore::~ServiceRegistryCore() {
  for (auto& bucket : buckets_) {
    Slot* s = bucket.load(std::memory_order_relaxed);
    while (s != nullptr) {
      Slot* next = s->next;
      delete s;
      s = next;
    }
  }
}

size_t ServiceRegistryCore::Hash(std::string_view s) { return static_cast<size_t>(Hash64(s)); }

ServiceRegistryCore::Slot* ServiceRegistryCore::FindSlot(std::string_view interface_id) const {
  Slot* s = buckets_[Hash(interface_id) % kBuckets].load(std::memory_order_acquire);
  while (s != nullptr && s->interface_id != interface_id) s = s->next;
  return s;
}

ServiceRegistryCore::Slot* ServiceRegistryCore::FindOrCreateSlotLocked(
    std::string_view interface_id) {
  auto& bucket = buckets_[Hash(interface_id) % kBuckets];
  Slot* head = bucket.load(std::memory_order_relaxed);
  for (Slot* s = head; s != nullptr; s = s->next) {
    if (s->interface_id == interface_id) return s;
  }
  auto* slot = new Slot(interface_id);
  slot->next = head;
  bucket.store(slot, std::memory_order_release);
  return slot;
}

size_t ServiceRegistryCore::ThreadShard() {
  // The CPU we run on (glibc answers from rseq/vDSO without a syscall): two
  // lookups running at the same instant are on different CPUs, so they hit
  // different shards. A thread migrating mid-lookup is still correct, only
  // shares a line for that one lookup.
  int cpu = sched_getcpu();
  return static_cast<size_t>(cpu < 0 ? 0 : cpu) % kShards;
}

void ServiceRegistryCore::PublishLocked(Slot* slot) {
  // Unchanged best (a lower-ranked registration came or went): nothing to do.
  const Record* best = slot->entries.empty() ? nullptr : slot->entries.front().get();
  if (best == slot->published) return;
  slot->published = best;
  if (slot->entries.empty()) {
    for (auto& shard : slot->shards) shard.best.store(nullptr, std::memory_order_release);
    return;
  }
  const std::shared_ptr<void>& service = slot->entries.front()->service;
  // Own control block per shard, holding one reference to the service; the
  // holder is cache-line aligned so each control block has its own line.
  struct alignas(64) Holder {
    std::shared_ptr<void> service;
  };
  for (auto& shard : slot->shards) {
    auto holder = std::make_shared<Holder>(Holder{service});
    shard.best.store(std::shared_ptr<void>(std::move(holder), service.get()),
                     std::memory_order_release);
  }
}

Result<uint64_t> ServiceRegistryCore::Register(uint64_t owner, std::string_view bundle,
                                               std::string_view interface_id,
                                               std::shared_ptr<void> service,
                                               ServiceProperties properties, int ranking) {
  if (interface_id.empty() || interface_id.size() > 256) {
    return MakeError(ErrorCode::kInvalidArgument, "service interface id must be 1..256 characters");
  }
  if (!service) {
    Error e = MakeError(ErrorCode::kInvalidArgument,
                        "null service registered for '" + std::string(interface_id) + "'");
    e.bundle = std::string(bundle);
    return e;
  }
  ServiceEvent event{ServiceEvent::Kind::kRegistered, {}};
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    auto rec = std::make_shared<Record>();
    rec->info.id = id;
    rec->info.interface_id = std::string(interface_id);
    rec->info.bundle = std::string(bundle);
    rec->info.ranking = ranking;
    rec->info.properties = std::move(properties);
    rec->service = std::move(service);
    rec->owner = owner;
    Slot* slot = FindOrCreateSlotLocked(interface_id);
    // Highest ranking first; equal rankings keep registration order.
    auto pos = std::find_if(slot->entries.begin(), slot->entries.end(),
                            [&](const auto& r) { return r->info.ranking < ranking; });
    slot->entries.insert(pos, rec);
    slot_of_registration_[id] = slot;
    owners_[owner].push_back(id);
    PublishLocked(slot);
    event.info = rec->info;
  }
  Notify(event);
  return id;
}

Status ServiceRegistryCore::RemoveLocked(uint64_t registration_id, ServiceEvent* event) {
  auto it = slot_of_registration_.find(registration_id);
  if (it == slot_of_registration_.end()) {
    return MakeError(ErrorCode::kNotFound,
                     "no service registration " + std::to_string(registration_id));
  }
  Slot* slot = it->second;
  slot_of_registration_.erase(it);
  auto rit = std::find_if(slot->entries.begin(), slot->entries.end(),
                          [&](const auto& r) { return r->info.id == registration_id; });
  ATRIUM_CHECK(rit != slot->entries.end(), "registration index out of sync with its slot");
  event->kind = ServiceEvent::Kind::kUnregistered;
  event->info = (*rit)->info;
  slot->entries.erase(rit);
  PublishLocked(slot);
  return Status::Ok();
}

Status ServiceRegistryCore::Unregister(uint64_t owner, uint64_t registration_id) {
  ServiceEvent event{ServiceEvent::Kind::kUnregistered, {}};
  {
    std::lock_guard lock(mu_);
    auto oit = owners_.find(owner);
    if (oit == owners_.end() ||
        std::find(oit->second.begin(), oit->second.end(), registration_id) == oit->second.end()) {
      return MakeError(ErrorCode::kNotFound, "service registration " +
                                                 std::to_string(registration_id) +
                                                 " does not exist or belongs to another owner");
    }
    Status s = RemoveLocked(registration_id, &event);
    if (!s.ok()) return s;
    auto& ids = oit->second;
    ids.erase(std::remove(ids.begin(), ids.end(), registration_id), ids.end());
  }
  Notify(event);
  return Status::Ok();
}

void ServiceRegistryCore::UnregisterOwner(uint64_t owner) {
  RemoveListenersOf(owner);
  std::vector<ServiceEvent> events;
  {
    std::lock_guard lock(mu_);
    auto oit = owners_.find(owner);
    if (oit == owners_.end()) return;
    std::vector<uint64_t> ids = std::move(oit->second);
    owners_.erase(oit);
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      ServiceEvent ev{ServiceEvent::Kind::kUnregistered, {}};
      if (RemoveLocked(*it, &ev).ok()) events.push_back(std::move(ev));
    }
  }
  for (const auto& ev : events) Notify(ev);
}

std::shared_ptr<void> ServiceRegistryCore::GetActive(std::string_view interface_id) const {
  Slot* slot = FindSlot(interface_id);
  if (slot == nullptr) return nullptr;
  return slot->shards[ThreadShard()].best.load(std::memory_order_acquire);
}

Result<std::shared_ptr<void>> ServiceRegistryCore::Find(std::string_view interface_id) {
  if (auto s = GetActive(interface_id)) return s;
  if (!lazy_hook_) {
    return MakeError(ErrorCode::kNotFound,
                     "no service registered for '" + std::string(interface_id) + "'");
  }
  Status loaded = lazy_hook_(interface_id);
  if (!loaded.ok()) return loaded.error();
  if (auto s = GetActive(interface_id)) return s;
  return MakeError(ErrorCode::kNotFound, "the bundle declaring '" + std::string(interface_id) +
                                             "' is active but registered no such service");
}

std::vector<ServiceRegistry::Entry> ServiceRegistryCore::GetAll(std::string_view interface_id) {
  if (!GetActive(interface_id) && lazy_hook_) {
    (void)lazy_hook_(interface_id);  // best effort: an empty list says the rest
  }
  std::vector<ServiceRegistry::Entry> out;
  std::lock_guard lock(mu_);
  Slot* slot = FindSlot(interface_id);
  if (slot == nullptr) return out;
  out.reserve(slot->entries.size());
  for (const auto& r : slot->entries) out.push_back({r->info, r->service});
  return out;
}

namespace {
// The listener states whose call runs on this thread (a listener removing
// itself, or removed by a registration it makes, does not wait for itself).
thread_local std::vector<const void*> t_running_listeners;
}  // namespace

uint64_t ServiceRegistryCore::AddListener(uint64_t owner, std::string_view bundle,
                                          std::string_view interface_id, ServiceListener listener,
                                          std::shared_ptr<void> keep_alive) {
  auto state = std::make_shared<ListenerState>();
  state->fn = std::move(listener);
  state->keep_alive = std::move(keep_alive);
  state->bundle = std::string(bundle);
  std::lock_guard lock(listeners_mu_);
  uint64_t token = next_listener_++;
  listeners_.push_back({token, owner, std::string(interface_id), std::move(state)});
  return token;
}

void ServiceRegistryCore::RemoveListener(uint64_t token) {
  std::shared_ptr<ListenerState> state;
  {
    std::lock_guard lock(listeners_mu_);
    auto it = std::find_if(listeners_.begin(), listeners_.end(),
                           [&](const Listener& l) { return l.token == token; });
    if (it == listeners_.end()) return;
    state = std::move(it->state);
    listeners_.erase(it);
  }
  const int own = static_cast<int>(
      std::count(t_running_listeners.begin(), t_running_listeners.end(), state.get()));
  std::unique_lock lock(state->mu);
  state->removed = true;
  // Calls on other threads finish first (this thread's own calls, if any,
  // are the ones removing it).
  state->idle.wait(lock, [&] { return state->running == own; });
}

void ServiceRegistryCore::RemoveListenersOf(uint64_t owner) {
  if (owner == 0) return;  // the host's listeners live as long as the registry
  std::vector<std::shared_ptr<ListenerState>> gone;
  {
    std::lock_guard lock(listeners_mu_);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (it->owner == owner) {
        gone.push_back(std::move(it->state));
        it = listeners_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& state : gone) {
    std::lock_guard lock(state->mu);
    state->removed = true;  // a call in progress finishes; its library stays mapped
  }
}

void ServiceRegistryCore::Notify(const ServiceEvent& event) {
  std::vector<std::shared_ptr<ListenerState>> targets;
  {
    std::lock_guard lock(listeners_mu_);
    for (const auto& l : listeners_) {
      if (l.interface_id.empty() || l.interface_id == event.info.interface_id) {
        targets.push_back(l.state);
      }
    }
  }
  for (const auto& state : targets) {
    {
      std::lock_guard lock(state->mu);
      if (state->removed) continue;
      ++state->running;
    }
    std::shared_ptr<void> library = state->keep_alive;  // mapped while it runs
    t_running_listeners.push_back(state.get());
    try {
      state->fn(event);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, state->bundle,
          std::string("a service listener threw (delivery goes on): ") + e.what());
    } catch (...) {
      Log(LogLevel::kError, state->bundle, "a service listener threw (delivery goes on)");
    }
    t_running_listeners.pop_back();
    {
      std::lock_guard lock(state->mu);
      --state->running;
    }
    state->idle.notify_all();
  }
}

size_t ServiceRegistryCore::RegistrationCountForTesting() const {
  std::lock_guard lock(mu_);
  return slot_of_registration_.size();
}

}  // namespace atrium::internal
