// The Container facade's wiring: Open, app.json and the data dir, the
// artifact store (through the guard's recovery when state.db is unusable,
// atrium/guard/store_recovery.h),
// the dynamic layers (created, handed to the guard, attached), the scheduler.
// The rooms it is made of are listed in container_impl.h.
#include "container_impl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "atrium/base/clock.h"
#include "atrium/container_extension.h"
#include "atrium/guard/store_recovery.h"
#include "atrium/manifest/app_sections.h"

namespace fs = std::filesystem;

namespace atrium {

const char* BundleStateName(BundleState state) {
  switch (state) {
    case BundleState::kInstalled:
      return "installed";
    case BundleState::kResolved:
      return "resolved";
    case BundleState::kUnresolved:
      return "unresolved";
    case BundleState::kLoading:
      return "loading";
    case BundleState::kActive:
      return "active";
    case BundleState::kStopping:
      return "stopping";
    case BundleState::kUnloaded:
      return "unloaded";
    case BundleState::kFailed:
      return "failed";
  }
  return "?";
}

std::string Container::DefaultDataDir(std::string_view app_id) {
  if (const char* d = std::getenv("ATRIUM_DATA_HOME"); d && *d) {
    return (fs::path(d) / std::string(app_id)).string();
  }
  if (const char* d = std::getenv("XDG_STATE_HOME"); d && *d) {
    return (fs::path(d) / "atrium" / std::string(app_id)).string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".local/state/atrium" / std::string(app_id))
      .string();
}

namespace internal {

boost::json::value QuickAppJson(const std::string& json) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  return ec || !v.is_object() ? boost::json::value() : v;
}

std::string QuickString(const boost::json::value& doc, const char* key) {
  const auto* field = doc.is_object() ? doc.as_object().if_contains(key) : nullptr;
  return field != nullptr && field->is_string() ? std::string(field->as_string()) : std::string();
}

std::string QuickAppId(const std::string& json) {
  std::string id = QuickString(QuickAppJson(json), "id");
  return IsValidBundleName(id) ? id : std::string();
}

const boost::json::value& ContainerImpl::AppDoc() {
  if (!app_doc_) app_doc_ = QuickAppJson(app_json_);
  return *app_doc_;
}

Status ContainerImpl::Init(ContainerOptions options) {
  std::error_code ec;
  fs::path app_dir = fs::absolute(options.app_dir, ec).lexically_normal();
  if (app_dir.has_filename() == false) app_dir = app_dir.parent_path();
  app_dir_ = app_dir.string();
  std::string app_json_path = (app_dir / "app.json").string();
  {
    // One open, fstat (its mtime is part of the index fingerprint) and read.
    auto cannot = [&](const std::string& why) {
      Error e = MakeError(ErrorCode::kIo, "cannot read app descriptor: " + why);
      e.file = app_json_path;
      return e;
    };
    const int fd = ::open(app_json_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cannot(std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return cannot(std::strerror(err));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (int64_t{64} << 20)) {
      ::close(fd);
      return cannot("not a regular file of at most 64 MiB");
    }
    app_json_mtime_ns_ = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                         static_cast<uint64_t>(st.st_mtim.tv_nsec);
    app_json_.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    int read_error = 0;
    while (done < app_json_.size()) {
      const ssize_t n = ::read(fd, app_json_.data() + done, app_json_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_error = errno;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (read_error != 0) return cannot(std::strerror(read_error));
    if (done != app_json_.size()) return cannot("it was cut short while read");
  }
  // Fast path: a valid index for these exact app.json bytes carries the
  // validated descriptor. Otherwise parse and validate app.json, then rebuild.
  data_dir_ = options.data_dir;
  guard_enabled_ = options.launch_guard;
  inspect_ = options.inspect && !options.launch_guard;
  on_hang_ = std::move(options.on_hang);
  std::string app_id = data_dir_.empty() ? QuickAppId(app_json_) : std::string();
  if (data_dir_.empty() && !app_id.empty()) data_dir_ = DefaultDataDir(app_id);
  registry_.SetLazyHook([this](std::string_view iface) { return LoadProvider(iface); });
  Status s = router_.RegisterLauncher("native", std::make_shared<NativeLauncher>(&registry_));
  if (!s.ok()) return s;

  std::lock_guard lock(lifecycle_mu_);
  std::string why = "rebuild requested";
  if (!data_dir_.empty()) {
    if (Status st = OpenArtifactStore(); !st.ok()) return st;
  }
  if (!options.rebuild_index && !data_dir_.empty()) {
    auto idx =
        BundleIndex::Read((fs::path(data_dir_) / "bundle_index.bin").string(), Fingerprint());
    if (idx.ok()) {
      auto app = idx->app(/*with_baseline=*/false);
      if (app.ok() && (app_id.empty() || app->id == app_id)) {
        app_ = std::move(app).value();
        // The index keeps the layers' sections too (validated when it was
        // built from these exact app.json bytes).
        baseline_loaded_ = false;
        index_ = std::make_unique<BundleIndex>(std::move(idx).value());
        runtimes_.resize(index_->size());
        if (Status st = TrustReleaseKeys(); !st.ok()) return st;
        if (Status st = CreateScheduler(); !st.ok()) return st;
        if (guard_ != nullptr)
          guard_->StartWatchdog(*scheduler_, [this] { return OldestWatched(); });
        return Status::Ok();
      }
      why = "app descriptor changed";
    } else {
      if (idx.error().code == ErrorCode::kCorrupt) {
        Log(LogLevel::kWarning, "", "rebuilding bundle index: " + idx.error().ToString());
      }
      why = idx.error().message;
    }
  }
  auto app = ParseAppDescriptor(app_json_, app_json_path);
  if (!app.ok()) return app.error();
  app_ = std::move(app).value();
  if (data_dir_.empty()) data_dir_ = DefaultDataDir(app_.id);
  fs::create_directories(data_dir_, ec);
  if (ec) {
    Error e = MakeError(ErrorCode::kIo, "cannot create data directory: " + ec.message());
    e.file = data_dir_;
    return e;
  }
  if (store_ == nullptr) {
    if (Status st = OpenArtifactStore(); !st.ok()) return st;
  }
  if (Status st = TrustReleaseKeys(); !st.ok()) return st;
  if (Status st = CreateScheduler(); !st.ok()) return st;
  if (guard_ != nullptr) guard_->StartWatchdog(*scheduler_, [this] { return OldestWatched(); });
  return RebuildIndexLocked(why);
}

Status ContainerImpl::OpenArtifactStore() {
  // A guarded launch survives an unusable state.db (the guard's recovery).
  auto opened = internal::OpenStoreForLaunch(data_dir_, app_.id, guard_enabled_,
                                             internal::RealClock().NowUnixMs());
  if (!opened.ok()) return opened.error();
  std::string store_trouble = std::move(opened->trouble);
  scratch_dir_ = std::move(opened->scratch_dir);
  store_ = std::move(opened->store);
  // Updates installed for the next launch become active now, before the
  // index (keyed on the store's generation) is checked; an inspection leaves
  // them staged.
  if (!inspect_) {
    // Bundle and runtime logs of a launch go to the data dir too, capped
    // (docs/container.md#logs); an inspection writes nothing.
    auto log_file = LogFile::Open(data_dir_ + "/logs");
    if (log_file.ok()) {
      log_file_ = std::move(log_file).value();
      AddLogFile(log_file_);
    } else {
      Log(LogLevel::kWarning, "", "no log file: " + log_file.error().ToString());
    }
    auto promoted = store_->PromoteStaged();
    if (!promoted.ok()) return promoted.error();
    for (const auto& r : *promoted) {
      Log(LogLevel::kInfo, r.id, "update " + r.version + " activated (installed for this launch)");
    }
  }
  CreateLayers();
  if (guard_enabled_) BeginGuardedLaunch(std::move(store_trouble));
  return Status::Ok();
}

void ContainerImpl::CreateLayers() {
  std::vector<Error> errors;
  layers_ = CreateDynamicLayers({app_dir_, data_dir_, store_.get()}, &errors);
  for (const Error& e : errors) Log(LogLevel::kError, "", e.ToString());
}

void ContainerImpl::AttachLayers() {
  for (const auto& layer : layers_) {
    auto* attachable = dynamic_cast<ContainerLayer*>(layer.get());
    if (attachable == nullptr) continue;
    if (Status s = attachable->AttachContainer(*this); !s.ok()) {
      Log(LogLevel::kError, "",
          "dynamic layer " + std::string(layer->kind()) + " not attached: " + s.error().ToString());
      continue;
    }
    attached_.push_back(attachable);
  }
  if (inspect_) return;  // looking at an app starts no background work
  for (const ContainerExtensionSpec& spec : RegisteredContainerExtensions()) {
    std::unique_ptr<ContainerExtension> extension = spec.create();
    auto executor = scheduler_->GetExecutor("net", spec.name);
    Status s = extension == nullptr ? Status(MakeError(ErrorCode::kInternal, "no extension made"))
               : !executor.ok()     ? Status(executor.error())
                                    : extension->Attach(*this, std::move(executor).value());
    if (!s.ok()) {
      Log(LogLevel::kError, "",
          "container extension " + spec.name + " not attached: " + s.error().ToString());
      continue;
    }
    extensions_.push_back(std::move(extension));
  }
}

void ContainerImpl::DetachLayers() {
  for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) (*it)->Detach();
  extensions_.clear();
  for (auto it = attached_.rbegin(); it != attached_.rend(); ++it) (*it)->DetachContainer();
  attached_.clear();
}

void ContainerImpl::BeginGuardedLaunch(std::string store_trouble) {
  GuardedLaunchOptions options;
  options.data_dir = data_dir_;
  const boost::json::value& doc = AppDoc();  // parsed once per Open
  options.app_version = QuickString(doc, "version");
  options.store_trouble = std::move(store_trouble);
  options.on_hang = on_hang_;
  for (const auto& layer : layers_) options.layers.push_back(layer.get());
  if (doc.is_object()) {
    if (const auto* config = doc.as_object().if_contains("launch_guard")) {
      auto parsed = ReadLaunchGuardConfig(*config, (fs::path(app_dir_) / "app.json").string(),
                                          "/launch_guard");
      if (parsed.ok()) {
        options.config = *parsed;
      } else {
        Log(LogLevel::kError, "", "launch guard: using defaults: " + parsed.error().ToString());
      }
    }
  }
  guard_ = GuardedLaunch::Begin(std::move(options), *store_);
  guard_report_.decision = guard_->decision();
  guard_report_.actions = guard_->actions();
  guard_report_.launch_id = guard_->launch_id();
}

Status ContainerImpl::TrustReleaseKeys() {
  std::vector<PublicKey> keys;
  for (const auto& hex : app_.release_keys) {
    auto key = ParsePublicKeyHex(hex, "app.json /release_keys");
    if (!key.ok()) return key.error();
    keys.push_back(*key);
  }
  store_->SetTrustedKeys(std::move(keys));
  store_->SetAppId(app_.id);
  return Status::Ok();
}

Status ContainerImpl::CreateScheduler() {
  SchedulerOptions options;
  const StartupConfig& config = app_.startup;
  if (!config.pools.empty()) {
    options.pools = DefaultPools(UsableCores());
    for (const PoolDecl& decl : config.pools) {
      auto it = std::find_if(options.pools.begin(), options.pools.end(),
                             [&](const PoolConfig& p) { return p.name == decl.name; });
      if (it == options.pools.end()) {
        options.pools.push_back(PoolConfig{.name = decl.name});
        it = options.pools.end() - 1;
      }
      if (decl.threads > 0) it->threads = decl.threads;
      if (decl.priority == "high") it->cpu = CpuPriority::kHigh;
      if (decl.priority == "normal") it->cpu = CpuPriority::kNormal;
      if (decl.priority == "low") it->cpu = CpuPriority::kLow;
      if (decl.priority == "idle") it->cpu = CpuPriority::kIdle;
      if (decl.queue_limit > 0) it->queue_limit = decl.queue_limit;
      if (decl.held_until_idle >= 0) it->held_until_idle = decl.held_until_idle == 1;
    }
  }
  options.max_threads = config.max_threads;
  options.bundle_quota = config.bundle_task_quota;
  // Crash capture records a stack overflow on a pool thread too.
  if (guard_ != nullptr) options.on_thread_start = [] { CrashCapture::PrepareThread(); };
  auto scheduler = Scheduler::Create(std::move(options));
  if (!scheduler.ok()) {
    Error e = scheduler.error();
    e.message = "app.json /startup: " + e.message;
    return e;
  }
  scheduler_ = std::move(scheduler).value();
  return Status::Ok();
}

HostApis& ContainerImpl::host_apis() {
  std::call_once(host_apis_once_, [this] {
    const std::string file = (fs::path(app_dir_) / "app.json").string();
    auto grants = ReadHostApiGrants(app(), file);
    if (!grants.ok()) {  // validated when the index was built: a changed build
      Log(LogLevel::kError, "", "host APIs: no grants: " + grants.error().ToString());
    }
    host_apis_ = std::make_unique<HostApisImpl>(&host_view_, scheduler_.get(),
                                                grants.ok() ? std::move(*grants) : HostApiGrants{});
  });
  return *host_apis_;
}

}  // namespace internal

Result<std::unique_ptr<Container>> Container::Open(ContainerOptions options) {
  auto c = std::make_unique<internal::ContainerImpl>();
  Status s = c->Init(std::move(options));
  if (!s.ok()) return s.error();
  c->AttachLayers();
  return std::unique_ptr<Container>(std::move(c));
}

}  // namespace atrium
