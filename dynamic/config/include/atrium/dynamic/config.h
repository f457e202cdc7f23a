// Remote config (RCS): typed values a release platform changes on devices
// without shipping code, delivered as signed config sets (.atb packages of
// kind config_set) and evaluated on the device (docs/config.md).
//
// A value comes from, in order: the active config set's value for this
// device (the first of the parameter's conditions that holds, else the
// set's default), the app's or bundle's default (app.json "config"
// /defaults, bundle.json "config_defaults"), the caller's fallback. Every
// read can say where its value came from (Source).
//
// Keys are "<namespace>/<key>": the namespace is a bundle's name, or "app"
// for app-wide keys ("app/micro_app.scan.enabled"). A bundle's view reads
// its own namespace with bare keys ("promo.enabled") and the app namespace
// with "app/..."; another bundle's namespace is refused (the fallback, and
// Source says why). The host's view reads every namespace with full keys (a
// bare key is an app key).
//
// Bundles reach their view with atrium::ConfigOf(context) (header-only: a
// service lookup), the host with atrium::RemoteConfig::Of(container).
//
// Concurrency: every method is thread-safe. Reads take no lock a writer
// holds: they load the current immutable snapshot (an atomic pointer) and
// look the key up in it. Listeners run on the main loop, in the order the
// changes happened and, for one change, in the order they were added.
#ifndef ATRIUM_DYNAMIC_CONFIG_H_
#define ATRIUM_DYNAMIC_CONFIG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/bundle.h"
#include "atrium/result.h"

namespace atrium {

enum class ConfigType : uint8_t { kString, kInt, kDouble, kBool, kJson };

// One key whose value changed at an activation.
struct ConfigChange {
  std::string key;        // "<namespace>/<key>"
  std::string old_value;  // display text; "" when the key had no value
  std::string new_value;  // display text; "" when the key has no value now
  std::string source;     // where the new value comes from
};
using ConfigListener = std::function<void(const std::vector<ConfigChange>& changes)>;

// The values one reader may see (a bundle's namespace and "app", or all).
class Config {
 public:
  virtual ~Config() = default;
  // Typed reads; `fallback` when the key has no value or another type (an
  // int key reads as a double too).
  virtual bool GetBool(std::string_view key, bool fallback) const = 0;
  virtual int64_t GetInt(std::string_view key, int64_t fallback) const = 0;
  virtual double GetDouble(std::string_view key, double fallback) const = 0;
  virtual std::string GetString(std::string_view key, std::string_view fallback) const = 0;
  // A "json" value's text.
  virtual std::string GetJson(std::string_view key, std::string_view fallback) const = 0;
  // Where the key's value comes from: `remote 12.0.0 condition "gold_users"`,
  // `remote 12.0.0 default`, `default (app.json)`, `default (bundle.json)`,
  // `static` (no value: callers get their fallback), or why it is refused.
  virtual std::string Source(std::string_view key) const = 0;
  // Calls `listener` on the main loop with the changed keys that equal
  // `key_or_prefix` or start with it ("promo." or "promo.enabled"; "" for
  // every key the view may read). A bundle's listeners are removed when it
  // stops. Returns the listener's id.
  virtual Result<uint64_t> AddListener(std::string_view key_or_prefix, ConfigListener listener) = 0;
  virtual void RemoveListener(uint64_t id) = 0;
};

// One key as `atrium config show` prints it.
struct ConfigEntry {
  std::string key;  // "<namespace>/<key>"
  ConfigType type = ConfigType::kString;
  std::string value;       // display text
  std::string source;      // as Config::Source
  std::string activation;  // the key group's activation: next_launch, on_activate, immediate
};

// What a fetch did.
struct ConfigFetchOutcome {
  bool staged = false;                // a new set was staged (false: the server had nothing newer)
  std::string version;                // the set's version (staged or already held)
  std::vector<ConfigChange> applied;  // changes that took effect now (immediate groups)
};

// The app's remote config: the host's handle (a host service of the
// container, registered by the config layer).
class RemoteConfig {
 public:
  static constexpr std::string_view kInterfaceId = "atrium.RemoteConfig";
  virtual ~RemoteConfig() = default;

  // The view of bundle `bundle` (its namespace and "app").
  virtual Result<std::shared_ptr<Config>> ForBundle(std::string_view bundle) = 0;
  // The host's view (every namespace).
  virtual Config& host() = 0;

  // Downloads the app's config set from app.json "config" /fetch_url,
  // verifies it and stages it (unless the same version is held). Keys of
  // "immediate" groups take it now; "on_activate" groups at Activate();
  // "next_launch" groups at the next launch. A fetch within the minimum
  // interval, or during a back-off after a throttling answer, is refused
  // with kState and a message giving the time the next fetch may go (see
  // next_fetch_allowed_ms).
  virtual Result<ConfigFetchOutcome> Fetch() = 0;
  // "on_activate" (and "immediate") keys take the newest received set.
  // Returns what changed (empty when nothing did).
  virtual Result<std::vector<ConfigChange>> Activate() = 0;
  // Sets (empty value: clears) a custom signal conditions read as
  // signal.<name>. Persisted; takes effect at the next activation or launch.
  virtual Status SetSignal(std::string_view name, std::string_view value) = 0;

  // Every key with a value (sorted).
  virtual std::vector<ConfigEntry> Entries() const = 0;
  // The version of the set in use ("" when none).
  virtual std::string active_version() const = 0;
  // Unix ms before which Fetch is refused (0: a fetch may go now).
  virtual int64_t next_fetch_allowed_ms() const = 0;
  // The device id percent() conditions bucket (random, made once, kept in
  // state.db).
  virtual std::string device_id() const = 0;

  // The container's remote config; nullptr when the config layer is not in.
  template <typename Host>
  static std::shared_ptr<RemoteConfig> Of(Host& container) {
    return std::static_pointer_cast<RemoteConfig>(container.services().Get(kInterfaceId));
  }
};

// A bundle's view of the remote config (kNotFound when the config layer is
// not in the app). Header-only: bundles do not link the runtime.
inline Result<std::shared_ptr<Config>> ConfigOf(BundleContext& context) {
  auto remote =
      std::static_pointer_cast<RemoteConfig>(context.services().Get(RemoteConfig::kInterfaceId));
  if (!remote) return MakeError(ErrorCode::kNotFound, "the remote config layer is not in this app");
  return remote->ForBundle(context.bundle_name());
}

}  // namespace atrium

#endif  // ATRIUM_DYNAMIC_CONFIG_H_
