#include "config_runtime.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "atrium/manifest.h"

namespace atrium::config {
namespace {

constexpr size_t kMaxFullKey = 512;

Error Closed() { return MakeError(ErrorCode::kState, "the container's remote config is closed"); }

}  // namespace

void Snapshot::BuildIndex() {
  size_t capacity = 8;
  while (capacity < values.size() * 2) capacity *= 2;
  index.assign(capacity, Probe{});
  mask = capacity - 1;
  for (const auto& [key, slot] : values) {
    const uint64_t h = ::atrium::internal::Hash64(key);
    uint64_t i = h & mask;
    while (index[i].key != nullptr) i = (i + 1) & mask;
    index[i] = Probe{h, &key, &slot};
  }
}

const char* GroupActivationName(GroupActivation a) {
  switch (a) {
    case GroupActivation::kNextLaunch:
      return "next_launch";
    case GroupActivation::kOnActivate:
      return "on_activate";
    case GroupActivation::kImmediate:
      return "immediate";
  }
  return "?";
}

std::optional<GroupActivation> ParseGroupActivation(std::string_view name) {
  for (GroupActivation a :
       {GroupActivation::kNextLaunch, GroupActivation::kOnActivate, GroupActivation::kImmediate}) {
    if (name == GroupActivationName(a)) return a;
  }
  return std::nullopt;
}

// One reader's view: a bundle's (ns_ = its name) or the host's (ns_ empty).
class ConfigRuntime::View final : public Config {
 public:
  // `owner` keeps the runtime alive for a bundle's view; the host's view
  // is owned by the runtime and passes nullptr.
  View(ConfigRuntime* runtime, std::shared_ptr<ConfigRuntime> owner, std::string ns)
      : runtime_(runtime), owner_(std::move(owner)), ns_(std::move(ns)) {}

  bool GetBool(std::string_view key, bool fallback) const override {
    const Slot* s = Lookup(key);
    return s != nullptr && s->value.type == ConfigType::kBool ? s->value.b : fallback;
  }
  int64_t GetInt(std::string_view key, int64_t fallback) const override {
    const Slot* s = Lookup(key);
    return s != nullptr && s->value.type == ConfigType::kInt ? s->value.i : fallback;
  }
  double GetDouble(std::string_view key, double fallback) const override {
    const Slot* s = Lookup(key);
    if (s == nullptr) return fallback;
    if (s->value.type == ConfigType::kDouble) return s->value.d;
    if (s->value.type == ConfigType::kInt) return static_cast<double>(s->value.i);
    return fallback;
  }
  std::string GetString(std::string_view key, std::string_view fallback) const override {
    const Slot* s = Lookup(key);
    return s != nullptr && s->value.type == ConfigType::kString ? s->value.text
                                                                : std::string(fallback);
  }
  std::string GetJson(std::string_view key, std::string_view fallback) const override {
    const Slot* s = Lookup(key);
    return s != nullptr && s->value.type == ConfigType::kJson ? s->value.text
                                                              : std::string(fallback);
  }
  std::string Source(std::string_view key) const override {
    char buf[kMaxFullKey];
    std::string_view full;
    if (const char* why = FullKey(key, buf, &full); why != nullptr) return why;
    const Slot* s = Lookup(key);
    return s == nullptr ? "static" : s->source;
  }
  Result<uint64_t> AddListener(std::string_view key_or_prefix, ConfigListener listener) override {
    if (!listener)
      return MakeError(ErrorCode::kInvalidArgument, "a config listener needs a function");
    std::vector<std::string> prefixes;
    if (key_or_prefix.empty()) {
      if (!ns_.empty())
        prefixes = {ns_ + "/", "app/"};
      else
        prefixes = {""};
    } else {
      char buf[kMaxFullKey];
      std::string_view full;
      if (const char* why = FullKey(key_or_prefix, buf, &full); why != nullptr) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "cannot listen to '" + std::string(key_or_prefix) + "': " + why);
      }
      prefixes = {std::string(full)};
    }
    return runtime_->AddListener(ns_, std::move(prefixes), std::move(listener));
  }
  void RemoveListener(uint64_t id) override { runtime_->RemoveListener(id); }

 private:
  const Slot* Lookup(std::string_view key) const {
    char buf[kMaxFullKey];
    std::string_view full;
    if (FullKey(key, buf, &full) != nullptr) return nullptr;
    const Slot* slot = runtime_->Find(full);
    if (slot == nullptr && ns_.empty()) {
      // The host reads a bundle's key before the bundle asked for its view:
      // read that bundle's defaults (once) and look again.
      const std::string_view ns = full.substr(0, full.find('/'));
      if (ns != "app" && runtime_->EnsureDefaults(ns)) slot = runtime_->Find(full);
    }
    return slot;
  }
  // The full key of `key` for this view in `buf`, or why it is refused.
  const char* FullKey(std::string_view key, char* buf, std::string_view* out) const {
    const size_t slash = key.find('/');
    std::string_view ns = ns_.empty() ? std::string_view("app") : std::string_view(ns_);
    std::string_view rest = key;
    if (slash != std::string_view::npos) {
      ns = key.substr(0, slash);
      rest = key.substr(slash + 1);
      if (!ns_.empty() && ns != "app" && ns != ns_) {
        return "refused: another bundle's namespace (a bundle reads its own and app/)";
      }
    }
    if (ns.size() + 1 + rest.size() > kMaxFullKey) return "refused: key too long";
    std::memcpy(buf, ns.data(), ns.size());
    buf[ns.size()] = '/';
    std::memcpy(buf + ns.size() + 1, rest.data(), rest.size());
    *out = std::string_view(buf, ns.size() + 1 + rest.size());
    return nullptr;
  }

  ConfigRuntime* const runtime_;
  const std::shared_ptr<ConfigRuntime> owner_;
  const std::string ns_;
};

ConfigRuntime::ConfigRuntime(Hooks hooks, GroupActivation default_activation,
                             std::vector<KeyGroup> groups)
    : hooks_(std::move(hooks)),
      default_activation_(default_activation),
      groups_(std::move(groups)),
      host_view_(std::make_unique<View>(this, nullptr, "")) {
  snapshots_.push_back(std::make_unique<Snapshot>());
  snapshots_.back()->BuildIndex();
  snapshot_.store(snapshots_.back().get(), std::memory_order_release);
}

ConfigRuntime::~ConfigRuntime() = default;

GroupActivation ConfigRuntime::ActivationOf(std::string_view full_key) const {
  // The longest matching group prefix wins.
  const KeyGroup* best = nullptr;
  for (const KeyGroup& g : groups_) {
    if (full_key.starts_with(g.prefix) &&
        (best == nullptr || g.prefix.size() > best->prefix.size())) {
      best = &g;
    }
  }
  return best != nullptr ? best->activation : default_activation_;
}

void ConfigRuntime::SetAppDefaults(
    const std::vector<std::pair<std::string, ConfigValue>>& defaults) {
  std::lock_guard lock(mu_);
  for (const auto& [key, value] : defaults) defaults_["app/" + key] = {value, "default (app.json)"};
  PublishLocked();
}

void ConfigRuntime::SetLaunchValues(std::string version, ValueMap remote) {
  std::lock_guard lock(mu_);
  version_ = std::move(version);
  remote_ = std::move(remote);
  PublishLocked();
}

std::vector<ConfigChange> ConfigRuntime::Receive(std::string version, ValueMap remote) {
  std::lock_guard lock(mu_);
  pending_version_ = std::move(version);
  pending_ = std::move(remote);
  std::vector<ConfigChange> changes = ApplyLocked(*pending_, {GroupActivation::kImmediate});
  if (!changes.empty()) {
    version_ = pending_version_;
    if (hooks_.activated) hooks_.activated(pending_version_);
  }
  NotifyLocked(changes);
  return changes;
}

bool ConfigRuntime::has_pending() const {
  std::lock_guard lock(mu_);
  return pending_.has_value();
}

Result<std::vector<ConfigChange>> ConfigRuntime::Activate() {
  std::lock_guard lock(mu_);
  if (detached_) return Closed();
  if (!pending_) return std::vector<ConfigChange>();
  std::vector<ConfigChange> changes =
      ApplyLocked(*pending_, {GroupActivation::kOnActivate, GroupActivation::kImmediate});
  version_ = pending_version_;
  if (hooks_.activated) hooks_.activated(pending_version_);
  pending_.reset();
  NotifyLocked(changes);
  return changes;
}

std::vector<ConfigChange> ConfigRuntime::ApplyLocked(const ValueMap& remote,
                                                     std::initializer_list<GroupActivation> which) {
  auto selected = [&](std::string_view key) {
    const GroupActivation a = ActivationOf(key);
    return std::find(which.begin(), which.end(), a) != which.end();
  };
  std::set<std::string> touched;
  for (const auto& [key, slot] : remote_) {
    if (selected(key)) touched.insert(key);
  }
  for (const auto& [key, slot] : remote) {
    if (selected(key)) touched.insert(key);
  }
  if (touched.empty()) return {};
  const Snapshot* before = snapshot_.load(std::memory_order_relaxed);
  for (const std::string& key : touched) {
    auto it = remote.find(key);
    if (it != remote.end()) {
      remote_[key] = it->second;
    } else {
      remote_.erase(key);
    }
  }
  PublishLocked();
  const Snapshot* after = snapshot_.load(std::memory_order_relaxed);
  std::vector<ConfigChange> changes;
  for (const std::string& key : touched) {
    auto b = before->values.find(key);
    auto a = after->values.find(key);
    const std::string old_value = b != before->values.end() ? b->second.value.Display() : "";
    const std::string new_value = a != after->values.end() ? a->second.value.Display() : "";
    const bool same_presence = (b != before->values.end()) == (a != after->values.end());
    if (same_presence && (b == before->values.end() || b->second.value == a->second.value))
      continue;
    changes.push_back(
        {key, old_value, new_value, a != after->values.end() ? a->second.source : "static"});
  }
  return changes;
}

void ConfigRuntime::PublishLocked() {
  auto next = std::make_unique<Snapshot>();
  next->values = defaults_;
  for (const auto& [key, slot] : remote_) next->values[key] = slot;
  next->BuildIndex();
  snapshot_.store(next.get(), std::memory_order_release);
  snapshots_.push_back(std::move(next));
}

void ConfigRuntime::NotifyLocked(const std::vector<ConfigChange>& changes) {
  if (changes.empty() || !hooks_.post_main) return;
  for (const auto& [id, l] : listeners_) {
    std::vector<ConfigChange> mine;
    for (const ConfigChange& c : changes) {
      for (const std::string& p : l.prefixes) {
        if (c.key.starts_with(p)) {
          mine.push_back(c);
          break;
        }
      }
    }
    if (mine.empty()) continue;
    hooks_.post_main(l.bundle, [fn = l.fn, mine = std::move(mine)] { (*fn)(mine); });
  }
}

void ConfigRuntime::BundleStopped(std::string_view bundle) {
  std::lock_guard lock(mu_);
  std::erase_if(listeners_, [&](const auto& l) { return l.second.bundle == bundle; });
}

void ConfigRuntime::Detach() {
  std::lock_guard lock(mu_);
  detached_ = true;
  hooks_ = Hooks{};
  listeners_.clear();
}

Result<std::shared_ptr<Config>> ConfigRuntime::ForBundle(std::string_view bundle) {
  if (!IsValidBundleName(bundle)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(bundle) + "' is not a bundle name");
  }
  {
    std::lock_guard lock(mu_);
    if (detached_) return Closed();
  }
  EnsureDefaults(bundle);
  return std::shared_ptr<Config>(
      std::make_shared<View>(this, shared_from_this(), std::string(bundle)));
}

bool ConfigRuntime::EnsureDefaults(std::string_view bundle) {
  std::function<std::vector<std::pair<std::string, ConfigValue>>(std::string_view)> read;
  {
    std::lock_guard lock(mu_);
    if (!defaults_read_.insert(std::string(bundle)).second) return false;
    read = hooks_.bundle_defaults;
  }
  if (!read) return false;
  // Outside mu_: it reads the container's index.
  std::vector<std::pair<std::string, ConfigValue>> defaults = read(bundle);
  if (defaults.empty()) return false;
  std::lock_guard lock(mu_);
  for (auto& [key, value] : defaults) {
    defaults_[std::string(bundle) + "/" + key] = {std::move(value), "default (bundle.json)"};
  }
  PublishLocked();
  return true;
}

Result<uint64_t> ConfigRuntime::AddListener(std::string bundle, std::vector<std::string> prefixes,
                                            ConfigListener listener) {
  std::lock_guard lock(mu_);
  if (detached_) return Closed();
  listeners_.emplace(++next_listener_,
                     Listener{std::move(bundle), std::move(prefixes),
                              std::make_shared<ConfigListener>(std::move(listener))});
  return next_listener_;
}

void ConfigRuntime::RemoveListener(uint64_t id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

std::vector<ConfigEntry> ConfigRuntime::Entries() const {
  std::function<std::vector<std::string>()> bundles;
  {
    std::lock_guard lock(mu_);
    bundles = hooks_.bundles;
  }
  if (bundles) {
    for (const std::string& b : bundles()) const_cast<ConfigRuntime*>(this)->EnsureDefaults(b);
  }
  const Snapshot* s = snapshot_.load(std::memory_order_acquire);
  std::vector<ConfigEntry> out;
  for (const auto& [key, slot] : s->values) {
    out.push_back({key, slot.value.type, slot.value.Display(), slot.source,
                   GroupActivationName(ActivationOf(key))});
  }
  std::sort(out.begin(), out.end(),
            [](const ConfigEntry& a, const ConfigEntry& b) { return a.key < b.key; });
  return out;
}

std::string ConfigRuntime::active_version() const {
  std::lock_guard lock(mu_);
  return version_;
}

Result<ConfigFetchOutcome> ConfigRuntime::Fetch() {
  std::function<Result<ConfigFetchOutcome>()> fetch;
  {
    std::lock_guard lock(mu_);
    if (detached_ || !hooks_.fetch) return Closed();
    fetch = hooks_.fetch;
  }
  return fetch();
}

Status ConfigRuntime::SetSignal(std::string_view name, std::string_view value) {
  std::function<Status(std::string_view, std::string_view)> set;
  {
    std::lock_guard lock(mu_);
    if (detached_ || !hooks_.set_signal) return Closed();
    set = hooks_.set_signal;
  }
  return set(name, value);
}

std::string ConfigRuntime::device_id() const {
  std::function<std::string()> id;
  {
    std::lock_guard lock(mu_);
    if (detached_ || !hooks_.device_id) return "";
    id = hooks_.device_id;
  }
  return id();
}

int64_t ConfigRuntime::next_fetch_allowed_ms() const {
  std::function<int64_t()> next;
  {
    std::lock_guard lock(mu_);
    if (detached_ || !hooks_.next_fetch_allowed_ms) return 0;
    next = hooks_.next_fetch_allowed_ms;
  }
  return next();
}

}  // namespace atrium::config
