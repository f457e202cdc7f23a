// ConfigRuntime: the app's remote config while the container runs — the
// values readers see, the set received but not yet active, the key groups
// and their activation, the listeners. The config layer (config_layer.cc)
// feeds it at launch and on fetch/install; hosts and bundles read it
// through RemoteConfig and Config (atrium/dynamic/config.h).
//
// Invariants:
//  1. snapshot_ points to an immutable Snapshot: the merge of the defaults
//     and the remote values in effect. Writers build a new one under mu_
//     and publish it with one atomic store; the old one is retired, not
//     freed, until the runtime goes (activations are rare: launch, fetch,
//     Activate, a bundle's defaults loaded), so a reader needs no lock and
//     no reference count: an acquire load and one hash lookup.
//  2. A group's keys change together: all of them take one set's values
//     at one publish.
//
// Concurrency: thread-safe. Listeners are posted to the main loop (with
// the listening bundle's name, so a stopped bundle's pending calls drop).
#ifndef ATRIUM_DYNAMIC_CONFIG_CONFIG_RUNTIME_H_
#define ATRIUM_DYNAMIC_CONFIG_CONFIG_RUNTIME_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "atrium/base/hash.h"
#include "atrium/dynamic/config.h"
#include "atrium/dynamic/config/config_set.h"

namespace atrium::config {

enum class GroupActivation { kNextLaunch, kOnActivate, kImmediate };
const char* GroupActivationName(GroupActivation a);
std::optional<GroupActivation> ParseGroupActivation(std::string_view name);

// A value in effect and where it came from.
struct Slot {
  ConfigValue value;
  std::string source;
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return ::atrium::internal::Hash64(s); }
};
using ValueMap = std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>>;

struct Snapshot {
  ValueMap values;  // "<namespace>/<key>" -> value in effect
  // The read index over `values`: open addressing, a power-of-two table at
  // most half full, linear probing; each probe compares the hash before the
  // key. (No division, one cache line per probe: the read path.)
  struct Probe {
    uint64_t hash = 0;
    const std::string* key = nullptr;  // nullptr: empty
    const Slot* slot = nullptr;
  };
  std::vector<Probe> index;
  uint64_t mask = 0;

  void BuildIndex();
  const Slot* Find(std::string_view key) const {
    const uint64_t h = ::atrium::internal::Hash64(key);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      const Probe& p = index[i];
      if (p.key == nullptr) return nullptr;
      if (p.hash == h && *p.key == key) return p.slot;
    }
  }
};

// app.json "config" settings the runtime needs.
struct KeyGroup {
  std::string prefix;  // of "<namespace>/<key>"
  GroupActivation activation = GroupActivation::kNextLaunch;
};

class ConfigRuntime : public RemoteConfig, public std::enable_shared_from_this<ConfigRuntime> {
 public:
  // What the layer does for the runtime: fetch, set signals (persisted).
  struct Hooks {
    std::function<Result<ConfigFetchOutcome>()> fetch;
    std::function<Status(std::string_view, std::string_view)> set_signal;
    std::function<int64_t()> next_fetch_allowed_ms;
    std::function<std::string()> device_id;
    std::function<void(std::string_view bundle, std::function<void()> task)> post_main;
    // The bundle.json "config_defaults" of `bundle` (empty when none).
    std::function<std::vector<std::pair<std::string, ConfigValue>>(std::string_view bundle)>
        bundle_defaults;
    // Every installed bundle's name (Entries lists their defaults too).
    std::function<std::vector<std::string>()> bundles;
    // A received set was activated in this session (by Activate or an
    // immediate group): the layer makes it the store's active set.
    std::function<void(const std::string& version)> activated;
  };

  ConfigRuntime(Hooks hooks, GroupActivation default_activation, std::vector<KeyGroup> groups);
  ~ConfigRuntime() override;

  // --- Fed by the layer ---
  // The app.json defaults (namespace "app").
  void SetAppDefaults(const std::vector<std::pair<std::string, ConfigValue>>& defaults);
  // The launch's values: every group takes them (no listeners: nothing ran).
  void SetLaunchValues(std::string version, ValueMap remote);
  // A newly received set's values for this device: immediate groups take
  // them now (listeners posted); the others when their point comes.
  // Returns the changes applied now.
  std::vector<ConfigChange> Receive(std::string version, ValueMap remote);
  // True when a received set waits for Activate().
  bool has_pending() const;
  // Drops every listener of `bundle` (it stopped).
  void BundleStopped(std::string_view bundle);
  // The container closes: hooks are dropped; views kept by callers go on
  // reading the last values, and Fetch / Activate / SetSignal say closed.
  void Detach();

  // --- RemoteConfig ---
  Result<std::shared_ptr<Config>> ForBundle(std::string_view bundle) override;
  Config& host() override { return *host_view_; }
  Result<ConfigFetchOutcome> Fetch() override;
  Result<std::vector<ConfigChange>> Activate() override;
  Status SetSignal(std::string_view name, std::string_view value) override;
  std::vector<ConfigEntry> Entries() const override;
  std::string active_version() const override;
  int64_t next_fetch_allowed_ms() const override;
  std::string device_id() const override;

  // Reads `bundle`'s bundle.json defaults into the snapshot once; true when
  // it did now (a caller that missed a key may look again).
  bool EnsureDefaults(std::string_view bundle);

  // --- For the views ---
  // The slot of a full key in the current snapshot, or nullptr.
  const Slot* Find(std::string_view full_key) const {
    return snapshot_.load(std::memory_order_acquire)->Find(full_key);
  }
  // `prefixes`: a change matches when its key starts with one of them.
  Result<uint64_t> AddListener(std::string bundle, std::vector<std::string> prefixes,
                               ConfigListener listener);
  void RemoveListener(uint64_t id);
  GroupActivation ActivationOf(std::string_view full_key) const;

 private:
  class View;
  struct Listener {
    std::string bundle;                 // "" for the host
    std::vector<std::string> prefixes;  // full-key prefixes
    std::shared_ptr<ConfigListener> fn;
  };

  // Applies `remote` to the keys whose group activation is in `which`;
  // publishes and returns the changes. Requires mu_.
  std::vector<ConfigChange> ApplyLocked(const ValueMap& remote,
                                        std::initializer_list<GroupActivation> which);
  void PublishLocked();
  void NotifyLocked(const std::vector<ConfigChange>& changes);

  Hooks hooks_;            // guarded by mu_ (emptied by Detach)
  bool detached_ = false;  // guarded by mu_
  const GroupActivation default_activation_;
  const std::vector<KeyGroup> groups_;
  std::unique_ptr<Config> host_view_;

  std::atomic<const Snapshot*> snapshot_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Snapshot>> snapshots_;  // guarded by mu_; the last is current
  ValueMap defaults_;                                 // guarded by mu_
  std::set<std::string, std::less<>>
      defaults_read_;                       // guarded by mu_: bundles whose defaults are in
  ValueMap remote_;                         // guarded by mu_: values in effect
  std::string version_;                     // guarded by mu_: of the launch's set
  std::optional<ValueMap> pending_;         // guarded by mu_: received, waiting for Activate
  std::string pending_version_;             // guarded by mu_
  std::map<uint64_t, Listener> listeners_;  // guarded by mu_
  uint64_t next_listener_ = 0;              // guarded by mu_
};

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_CONFIG_RUNTIME_H_
