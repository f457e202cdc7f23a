// The config layer: config_set artifacts as a registered DynamicLayer (the
// launch guard lists, disables and rolls back sets like any artifact), the
// app.json "config" section and bundle.json "config_defaults", and, once the
// container is open, the app's RemoteConfig (a host service): the launch's
// values, fetch, install, activation, the micro-app kill switch.
#include <filesystem>

#include "atrium/base/field_reader.h"
#include "atrium/base/file_util.h"
#include "atrium/base/log.h"
#include "atrium/base/result_macros.h"
#include "atrium/base/strict_json.h"
#include "atrium/container.h"
#include "atrium/container_layer.h"
#include "atrium/dynamic/config/testing.h"
#include "atrium/dynamic/store_layer.h"
#include "atrium/manifest/app_sections.h"
#include "config_db.h"
#include "config_runtime.h"
#include "device_facts.h"
#include "http_get.h"

namespace atrium::config {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::atrium::internal::Child;
using ::atrium::internal::FieldReader;
using ::atrium::internal::Log;
using ::atrium::internal::Quote;

atrium::internal::Clock*& TestClock() {
  static atrium::internal::Clock* clock = nullptr;
  return clock;
}

constexpr uint64_t kMaxFetchBytes = 4 * 1024 * 1024;
constexpr int64_t kDefaultMinFetchIntervalS = 12 * 3600;
constexpr int64_t kMaxBackoffMs = 4 * 3600 * 1000;

// app.json "config".
struct Settings {
  std::vector<std::pair<std::string, ConfigValue>> defaults;
  std::string set_id;  // "" = any
  std::string fetch_url;
  int64_t min_fetch_interval_s = kDefaultMinFetchIntervalS;
  GroupActivation activation = GroupActivation::kNextLaunch;
  std::vector<KeyGroup> groups;
};

Result<Settings> ReadSettings(const json::value& v, std::string_view file,
                              const std::string& pointer) {
  FieldReader r(file);
  Settings s;
  ATRIUM_ASSIGN_OR_RETURN(const json::object* o, r.AsObject(v, pointer));
  ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(
      *o, pointer,
      {"defaults", "set", "fetch_url", "min_fetch_interval_s", "activation", "groups"}));
  if (const json::value* d = o->if_contains("defaults")) {
    ATRIUM_ASSIGN_OR_RETURN(s.defaults, ReadDefaults(*d, file, Child(pointer, "defaults")));
  }
  ATRIUM_ASSIGN_OR_RETURN(s.set_id, r.OptionalString(*o, pointer, "set", ""));
  if (!s.set_id.empty() && !IsValidBundleName(s.set_id)) {
    return r.Invalid(Child(pointer, "set"),
                     "config set id " + Quote(s.set_id) + " must be a reverse-DNS name");
  }
  ATRIUM_ASSIGN_OR_RETURN(s.fetch_url, r.OptionalString(*o, pointer, "fetch_url", ""));
  if (!s.fetch_url.empty() && !s.fetch_url.starts_with("https://") &&
      !s.fetch_url.starts_with("http://")) {
    return r.Invalid(Child(pointer, "fetch_url"), "fetch_url must be an http:// or https:// URL");
  }
  ATRIUM_ASSIGN_OR_RETURN(
      s.min_fetch_interval_s,
      r.OptionalInt(*o, pointer, "min_fetch_interval_s", kDefaultMinFetchIntervalS, 0, 30 * 86400));
  ATRIUM_ASSIGN_OR_RETURN(std::string activation,
                          r.OptionalString(*o, pointer, "activation", "next_launch"));
  auto a = ParseGroupActivation(activation);
  if (!a) {
    return r.Invalid(Child(pointer, "activation"),
                     "unknown activation " + Quote(activation) +
                         " (allowed: next_launch, on_activate, immediate)");
  }
  s.activation = *a;
  ATRIUM_ASSIGN_OR_RETURN(const json::array* groups, r.OptionalArray(*o, pointer, "groups"));
  if (groups != nullptr) {
    for (size_t i = 0; i < groups->size(); ++i) {
      const std::string at = Child(Child(pointer, "groups"), i);
      ATRIUM_ASSIGN_OR_RETURN(const json::object* g, r.AsObject((*groups)[i], at));
      ATRIUM_RETURN_IF_ERROR(r.CheckKnownFields(*g, at, {"prefix", "activation"}));
      KeyGroup group;
      ATRIUM_ASSIGN_OR_RETURN(group.prefix, r.RequiredString(*g, at, "prefix"));
      const size_t slash = group.prefix.find('/');
      if (slash == std::string::npos || !IsConfigNamespace(group.prefix.substr(0, slash))) {
        return r.Invalid(Child(at, "prefix"), "prefix " + Quote(group.prefix) +
                                                  " must start with a namespace and '/' "
                                                  "(\"app/promo.\", \"com.wallet.home/\")");
      }
      ATRIUM_ASSIGN_OR_RETURN(std::string ga, r.RequiredString(*g, at, "activation"));
      auto parsed = ParseGroupActivation(ga);
      if (!parsed) {
        return r.Invalid(
            Child(at, "activation"),
            "unknown activation " + Quote(ga) + " (allowed: next_launch, on_activate, immediate)");
      }
      group.activation = *parsed;
      s.groups.push_back(std::move(group));
    }
  }
  return s;
}

Status ValidateAppSection(const json::value& v, std::string_view file, std::string_view pointer) {
  Result<Settings> s = ReadSettings(v, file, std::string(pointer));
  return s.ok() ? Status::Ok() : Status(s.error());
}
ATRIUM_REGISTER_APP_SECTION("config", "dynamic/config", ValidateAppSection);

Status ValidateBundleDefaults(const json::value& v, std::string_view file,
                              std::string_view pointer) {
  auto d = ReadDefaults(v, file, std::string(pointer));
  return d.ok() ? Status::Ok() : Status(d.error());
}
ATRIUM_REGISTER_BUNDLE_SECTION("config_defaults", "dynamic/config", ValidateBundleDefaults);

Result<std::string> ReadFile(const std::string& path) {
  return atrium::internal::ReadSmallFile(path, kMaxSetBytes);
}

class ConfigLayer final : public StoreLayer, public ContainerLayer {
 public:
  explicit ConfigLayer(const DynamicLayerContext& ctx)
      : StoreLayer(ArtifactKind::kConfigSet, ctx.store),
        app_dir_(ctx.app_dir),
        data_dir_(ctx.data_dir) {
    if (TestClock() != nullptr) clock_ = TestClock();
  }
  ~ConfigLayer() override { DetachContainer(); }

  Status AttachContainer(Container& container) override;
  void DetachContainer() override;
  Result<ArtifactRecord> Install(const std::string& package_path, InstallAs as) override;
  Status ClearDerivedData(std::vector<std::string>* done) override {
    auto db = ConfigDb::Open(*store());
    if (!db.ok()) return db.error();
    ATRIUM_RETURN_IF_ERROR((*db)->ClearValues());
    done->push_back("cleared the evaluated config values");
    return Status::Ok();
  }

 private:
  // The active set record this app uses (nullopt: none).
  Result<std::optional<ArtifactRecord>> ActiveSet() const;
  // Evaluates `record`'s config.json for the device now.
  Result<ValueMap> EvaluateRecord(const ArtifactRecord& record, bool use_cache);
  Result<ConfigFetchOutcome> Fetch();
  Result<ConfigFetchOutcome> ReceiveRecord(const ArtifactRecord& record);
  Status SetSignal(std::string_view name, std::string_view value);
  int64_t NextFetchAllowedMs();
  Result<DeviceContext> Context();  // requires mu_

  const std::string app_dir_;
  const std::string data_dir_;
  std::mutex mu_;  // serializes the db, the settings and fetches
  atrium::internal::Clock* clock_ = &atrium::internal::RealClock();  // guarded by mu_
  Container* container_ = nullptr;
  Settings settings_;
  // Opened, and the device facts read, on first need (an app without an
  // active set pays for neither at launch). Guarded by mu_.
  std::unique_ptr<ConfigDb> db_;
  bool facts_read_ = false;
  DeviceContext base_context_;  // app and device facts (no signals, no time)
  // Require mu_.
  Result<ConfigDb*> Db();
  Result<const DeviceContext*> Facts();
  std::shared_ptr<ConfigRuntime> runtime_;
  uint64_t service_id_ = 0;
  uint64_t filter_id_ = 0;
  uint64_t stop_listener_id_ = 0;
};

Result<ConfigDb*> ConfigLayer::Db() {
  if (db_ == nullptr) {
    ATRIUM_ASSIGN_OR_RETURN(db_, ConfigDb::Open(*store()));
  }
  return db_.get();
}

Result<const DeviceContext*> ConfigLayer::Facts() {
  if (!facts_read_) {
    ATRIUM_ASSIGN_OR_RETURN(ConfigDb * db, Db());
    ATRIUM_ASSIGN_OR_RETURN(base_context_.device_id, db->DeviceId());
    ReadDeviceFacts(&base_context_);
    facts_read_ = true;
  }
  return &base_context_;
}

Result<DeviceContext> ConfigLayer::Context() {
  ATRIUM_ASSIGN_OR_RETURN(const DeviceContext* facts, Facts());
  DeviceContext c = *facts;
  ATRIUM_ASSIGN_OR_RETURN(ConfigDb * db, Db());
  ATRIUM_ASSIGN_OR_RETURN(c.signals, db->Signals());
  c.now_unix_ms = clock_->NowUnixMs();
  return c;
}

Result<std::optional<ArtifactRecord>> ConfigLayer::ActiveSet() const {
  ATRIUM_ASSIGN_OR_RETURN(std::vector<ArtifactRecord> records,
                          store()->List(ArtifactKind::kConfigSet));
  std::optional<ArtifactRecord> best;
  for (ArtifactRecord& r : records) {
    if (r.kind != ArtifactKind::kConfigSet) continue;
    if (r.state != ArtifactState::kActive && r.state != ArtifactState::kBaseline) continue;
    if (!settings_.set_id.empty() && r.id != settings_.set_id) continue;
    // Active over baseline; the newest install among equals.
    const bool better =
        !best || (r.state == ArtifactState::kActive && best->state == ArtifactState::kBaseline) ||
        (r.state == best->state && r.install_seq > best->install_seq);
    if (better) best = std::move(r);
  }
  return best;
}

Result<ValueMap> ConfigLayer::EvaluateRecord(const ArtifactRecord& record, bool use_cache) {
  ATRIUM_ASSIGN_OR_RETURN(const DeviceContext context, Context());
  const uint64_t fingerprint = ContextFingerprint(context);
  if (use_cache) {
    ATRIUM_ASSIGN_OR_RETURN(auto cached, db_->LoadValues(record.id, record.version, fingerprint));
    if (cached) {
      ValueMap out;
      for (CachedValue& v : *cached)
        out.emplace(std::move(v.key), Slot{std::move(v.value), v.source});
      return out;
    }
  }
  const std::string path = (fs::path(record.dir) / "config.json").string();
  ATRIUM_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ATRIUM_ASSIGN_OR_RETURN(ConfigSet set, ParseConfigSet(text, path));
  const Evaluation eval = Evaluate(set, context);
  ValueMap out;
  std::vector<CachedValue> rows;
  for (const EvaluatedValue& v : eval.values) {
    std::string key = v.parameter->ns + "/" + v.parameter->key;
    std::string source = SourceText(set, v);
    rows.push_back({key, v.value, source});
    out.emplace(std::move(key), Slot{v.value, std::move(source)});
  }
  // A set that reads the time is evaluated at every launch; its cache row
  // still lets `atrium config show` and a launch that cannot parse it work.
  if (Status s = db_->SaveValues(record.id, record.version, set.uses_time ? 0 : fingerprint, rows);
      !s.ok()) {
    Log(LogLevel::kWarning, "",
        "config: cannot cache the evaluated values: " + s.error().ToString());
  }
  return out;
}

Status ConfigLayer::AttachContainer(Container& container) {
  std::lock_guard lock(mu_);
  if (data_dir_.empty()) return MakeError(ErrorCode::kState, "the config layer needs a data dir");
  const AppDescriptor& app = container.app();
  // The "config" section (the container keeps each registered section of
  // app.json, validated when its index was built).
  if (auto it = app.sections.find("config"); it != app.sections.end()) {
    const std::string file = (fs::path(app_dir_) / "app.json").string();
    ATRIUM_ASSIGN_OR_RETURN(json::value section,
                            ::atrium::internal::ParseStrictJson(it->second, file, {}));
    ATRIUM_ASSIGN_OR_RETURN(settings_, ReadSettings(section, file, "/config"));
  }
  base_context_.app_id = app.id;
  base_context_.app_version = app.version;

  ConfigRuntime::Hooks hooks;
  hooks.fetch = [this] { return Fetch(); };
  hooks.set_signal = [this](std::string_view n, std::string_view v) { return SetSignal(n, v); };
  hooks.next_fetch_allowed_ms = [this] { return NextFetchAllowedMs(); };
  hooks.device_id = [this]() -> std::string {
    std::lock_guard lock(mu_);
    auto facts = Facts();
    return facts.ok() ? (*facts)->device_id : std::string();
  };
  hooks.post_main = [&container](std::string_view bundle, std::function<void()> task) {
    (void)container.scheduler().PostMain(std::move(task), bundle);
  };
  hooks.bundle_defaults = [&container](std::string_view bundle) {
    std::vector<std::pair<std::string, ConfigValue>> out;
    auto m = container.BundleManifest(bundle);
    if (!m.ok()) return out;
    auto it = m->sections.find("config_defaults");
    if (it == m->sections.end()) return out;
    auto v = ::atrium::internal::ParseStrictJson(it->second, "bundle.json", {});
    if (!v.ok()) return out;
    auto d = ReadDefaults(*v, "bundle.json", "/config_defaults");
    if (d.ok()) out = std::move(d).value();
    return out;
  };
  hooks.bundles = [&container] {
    std::vector<std::string> names;
    for (const BundleStatus& b : container.Bundles()) names.push_back(b.name);
    return names;
  };
  hooks.activated = [this](const std::string& version) {
    // Runs under the runtime's lock: the store only.
    auto records = store()->List(ArtifactKind::kConfigSet);
    if (!records.ok()) return;
    for (const ArtifactRecord& r : *records) {
      if (r.kind == ArtifactKind::kConfigSet && r.version == version &&
          r.state == ArtifactState::kStaged) {
        auto done = store()->Activate(ArtifactKind::kConfigSet, r.id, r.version,
                                      "activated in the session");
        if (!done.ok()) {
          Log(LogLevel::kWarning, "",
              "config: cannot record the activation: " + done.error().ToString());
        }
      }
    }
  };
  runtime_ =
      std::make_shared<ConfigRuntime>(std::move(hooks), settings_.activation, settings_.groups);
  runtime_->SetAppDefaults(settings_.defaults);

  ATRIUM_ASSIGN_OR_RETURN(std::optional<ArtifactRecord> active, ActiveSet());
  if (active) {
    Result<ValueMap> values = EvaluateRecord(*active, /*use_cache=*/true);
    if (values.ok()) {
      runtime_->SetLaunchValues(active->version, std::move(values).value());
    } else {
      Log(LogLevel::kError, "",
          "config: set " + active->id + " " + active->version +
              " not used: " + values.error().ToString());
    }
  }

  // Kill switch: app/micro_app.<id>.enabled = false refuses the micro-app.
  std::shared_ptr<ConfigRuntime> runtime = runtime_;
  filter_id_ = container.router().AddLaunchFilter([runtime](const LaunchRequest& req) -> Status {
    const std::string key = "app/micro_app." + req.app_id + ".enabled";
    if (runtime->host().GetBool(key, true)) return Status::Ok();
    std::string message = "micro-app '" + req.app_id + "' is switched off by remote config (" +
                          key + " = false, " + runtime->host().Source(key) + ")";
    const std::string fallback =
        runtime->host().GetString("app/micro_app." + req.app_id + ".fallback_url", "");
    if (!fallback.empty()) message += "; its fallback: " + fallback;
    Error e = MakeError(ErrorCode::kState, message);
    e.bundle = req.bundle;
    return e;
  });
  stop_listener_id_ = container.AddBundleStopListener(
      [runtime](std::string_view bundle) { runtime->BundleStopped(bundle); });
  auto id = container.services().Register(RemoteConfig::kInterfaceId,
                                          std::static_pointer_cast<void>(runtime_), {}, 0);
  if (!id.ok()) return id.error();
  service_id_ = *id;
  container_ = &container;
  return Status::Ok();
}

void ConfigLayer::DetachContainer() {
  Container* c = nullptr;
  std::shared_ptr<ConfigRuntime> runtime;
  {
    std::lock_guard lock(mu_);
    c = std::exchange(container_, nullptr);
    runtime = runtime_;
  }
  if (c == nullptr) return;
  c->router().RemoveLaunchFilter(filter_id_);
  c->RemoveBundleStopListener(stop_listener_id_);
  (void)c->services().Unregister(service_id_);
  runtime->Detach();
}

Result<ConfigFetchOutcome> ConfigLayer::ReceiveRecord(const ArtifactRecord& record) {
  ConfigFetchOutcome out;
  out.staged = true;
  out.version = record.version;
  ATRIUM_ASSIGN_OR_RETURN(ValueMap values, EvaluateRecord(record, /*use_cache=*/false));
  out.applied = runtime_->Receive(record.version, std::move(values));
  return out;
}

Result<ArtifactRecord> ConfigLayer::Install(const std::string& package_path, InstallAs as) {
  ATRIUM_ASSIGN_OR_RETURN(
      ArtifactRecord record,
      store()->Install(package_path, InstallAs::kStaged,
                       as == InstallAs::kStaged ? "received (staged)" : "received (activate now)"));
  std::lock_guard lock(mu_);
  if (container_ == nullptr) return record;  // takes effect at the next launch
  auto received = ReceiveRecord(record);
  if (!received.ok()) return received.error();
  if (as != InstallAs::kStaged) {
    if (auto changes = runtime_->Activate(); !changes.ok()) return changes.error();
  }
  return record;
}

int64_t ConfigLayer::NextFetchAllowedMs() {
  std::lock_guard lock(mu_);
  auto db = Db();
  if (!db.ok()) return 0;
  auto s = (*db)->Schedule();
  if (!s.ok()) return 0;
  const int64_t interval =
      s->last_success_ms == 0 ? 0 : s->last_success_ms + settings_.min_fetch_interval_s * 1000;
  const int64_t next = std::max(interval, s->backoff_until_ms);
  return next > clock_->NowUnixMs() ? next : 0;
}

Result<ConfigFetchOutcome> ConfigLayer::Fetch() {
  if (settings_.fetch_url.empty()) {
    return MakeError(ErrorCode::kState, "app.json /config/fetch_url is not set: nothing to fetch");
  }
  const int64_t next = NextFetchAllowedMs();
  std::lock_guard lock(mu_);
  const int64_t now = clock_->NowUnixMs();
  ATRIUM_ASSIGN_OR_RETURN(ConfigDb * db, Db());
  ATRIUM_ASSIGN_OR_RETURN(FetchSchedule schedule, db->Schedule());
  ATRIUM_ASSIGN_OR_RETURN(const DeviceContext* facts, Facts());
  if (next > now) {
    const bool backoff = schedule.backoff_until_ms > now;
    return MakeError(
        ErrorCode::kState,
        std::string("config fetch throttled: ") +
            (backoff ? "the server asked to back off after " + std::to_string(schedule.failures) +
                           " throttled fetch(es)"
                     : "the minimum interval (app.json /config/min_fetch_interval_s = " +
                           std::to_string(settings_.min_fetch_interval_s) + ") has not passed") +
            "; the next fetch may go at unix ms " + std::to_string(next) + " (in " +
            std::to_string((next - now + 999) / 1000) + " s)");
  }
  schedule.last_attempt_ms = now;
  const std::string tmp = (fs::path(data_dir_) / "config-fetch.atb.tmp").string();
  Result<HttpResponse> response = HttpGet(settings_.fetch_url, tmp, kMaxFetchBytes, 30000);
  std::error_code ec;
  if (!response.ok()) {
    fs::remove(tmp, ec);
    (void)db_->SaveSchedule(schedule);
    return response.error();
  }
  const long status = response->status;
  if (status == 429 || status == 503) {
    // Exponential back-off: 2, 4, 8 ... minutes up to 4 h (or the server's
    // Retry-After when longer), spread over [d/2, 1.5d) by the device id.
    fs::remove(tmp, ec);
    schedule.failures += 1;
    int64_t d = std::min<int64_t>(kMaxBackoffMs,
                                  int64_t{120000} << std::min<int64_t>(schedule.failures - 1, 7));
    const uint64_t spread =
        ::atrium::internal::Hash64(facts->device_id + std::to_string(schedule.failures));
    d = d / 2 + static_cast<int64_t>(spread % static_cast<uint64_t>(d));
    if (response->retry_after_s >= 0) d = std::max<int64_t>(d, response->retry_after_s * 1000);
    schedule.backoff_until_ms = now + d;
    (void)db_->SaveSchedule(schedule);
    return MakeError(ErrorCode::kState, "config fetch throttled: the server answered HTTP " +
                                            std::to_string(status) +
                                            "; the next fetch may go at unix ms " +
                                            std::to_string(schedule.backoff_until_ms) + " (in " +
                                            std::to_string((d + 999) / 1000) + " s)");
  }
  if (status != 200) {
    fs::remove(tmp, ec);
    (void)db_->SaveSchedule(schedule);
    return MakeError(ErrorCode::kIo,
                     "GET " + settings_.fetch_url + ": HTTP " + std::to_string(status));
  }
  schedule.failures = 0;
  schedule.backoff_until_ms = 0;
  schedule.last_success_ms = now;
  ATRIUM_RETURN_IF_ERROR(db_->SaveSchedule(schedule));
  auto installed = store()->Install(tmp, InstallAs::kStaged, "fetched from " + settings_.fetch_url);
  fs::remove(tmp, ec);
  if (!installed.ok()) {
    if (installed.error().code == ErrorCode::kAlreadyExists) {
      ConfigFetchOutcome same;
      same.version = runtime_->active_version();
      return same;  // the server has nothing newer
    }
    return installed.error();
  }
  if (const std::string active = runtime_->active_version(); !active.empty()) {
    auto a = Version::Parse(active);
    auto v = Version::Parse(installed->version);
    if (a.ok() && v.ok() && *v <= *a) {
      (void)store()->Disable(ArtifactKind::kConfigSet, installed->id, installed->version,
                             "older than the active set " + active);
      return MakeError(ErrorCode::kValidation, "fetched config set " + installed->id + " " +
                                                   installed->version +
                                                   " is not newer than the active " + active);
    }
  }
  if (!settings_.set_id.empty() && installed->id != settings_.set_id) {
    (void)store()->Disable(ArtifactKind::kConfigSet, installed->id, installed->version,
                           "not this app's config set (app.json /config/set)");
    return MakeError(ErrorCode::kValidation, "fetched config set " + installed->id +
                                                 " is not this app's (" + settings_.set_id + ")");
  }
  return ReceiveRecord(*installed);
}

Status ConfigLayer::SetSignal(std::string_view name, std::string_view value) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok || (name[0] >= '0' && name[0] <= '9')) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signal name '" + std::string(name) + "' must be [a-z_][a-z0-9_]{0,63}");
  }
  if (value.size() > 256) {
    return MakeError(ErrorCode::kInvalidArgument, "signal value longer than 256 bytes");
  }
  std::lock_guard lock(mu_);
  ATRIUM_ASSIGN_OR_RETURN(ConfigDb * db, Db());
  return db->SetSignal(name, value);
}

DynamicLayerSpec ConfigLayerSpec() {
  DynamicLayerSpec spec;
  spec.kind = "config_set";
  spec.package_kind = ArtifactKind::kConfigSet;
  spec.manifest_name = "config.json";
  spec.validate_manifest = [](std::string_view text, std::string_view file) -> Status {
    auto set = ParseConfigSet(text, file);
    return set.ok() ? Status::Ok() : Status(set.error());
  };
  spec.activation = ActivationPoint::kImmediately;
  spec.description =
      "remote config sets: next launch, on Activate(), or immediately, per key group";
  spec.create = StoreLayerFactoryOf<ConfigLayer>(ArtifactKind::kConfigSet);
  return spec;
}

}  // namespace

void SetConfigClockForTesting(atrium::internal::Clock* clock) { TestClock() = clock; }

}  // namespace atrium::config

ATRIUM_REGISTER_DYNAMIC_LAYER(atrium::config::ConfigLayerSpec());
