// RunUpdateCycle: check -> decide -> download (delta when smaller) ->
// verify -> stage through the layer of each artifact's kind.
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "atrium/base/bucket.h"
#include "atrium/base/file_util.h"
#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/bundle_abi.h"
#include "atrium/delta_package.h"
#include "atrium/dynamic/dynamic_layer.h"
#include "atrium/dynamic/tuf/metadata.h"
#include "atrium/dynamic/update.h"
#include "atrium/semver.h"
#include "update_settings.h"

namespace atrium {
namespace fs = std::filesystem;
namespace json = boost::json;

const char* UpdateActionName(UpdateAction action) {
  switch (action) {
    case UpdateAction::kStaged:
      return "staged";
    case UpdateAction::kSkipped:
      return "skipped";
    case UpdateAction::kWithdrawn:
      return "withdrawn";
    case UpdateAction::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string NativeCompatFingerprint(std::string_view host_api) {
#if defined(__x86_64__)
  constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
  constexpr const char* kArch = "aarch64";
#else
  constexpr const char* kArch = "unknown";
#endif
  return std::string(kArch) + "-linux/bundle-abi=" + std::to_string(ATRIUM_BUNDLE_ABI_VERSION) +
         "/" + ATRIUM_CXX_ABI_TAG + "/host-api=" + std::string(host_api.empty() ? "1" : host_api);
}

Result<std::string> DeviceIdOf(const std::string& data_dir) {
  const std::string path = data_dir + "/device_id";
  auto existing = internal::ReadSmallFile(path, 256);
  if (existing.ok()) {
    std::string id = *existing;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    uint8_t raw[16];
    if (id.size() == 32 && internal::DecodeHex(id, raw, sizeof raw)) return id;
    return internal::FileError(ErrorCode::kCorrupt, path, "not a 128-bit hex device id");
  }
  if (existing.error().code != ErrorCode::kNotFound) return existing.error();
  if (sodium_init() < 0) return MakeError(ErrorCode::kInternal, "libsodium failed to initialise");
  uint8_t raw[16];
  randombytes_buf(raw, sizeof raw);
  const std::string id = internal::HexOf(raw, sizeof raw);
  ATRIUM_RETURN_IF_ERROR(internal::AtomicWriteFile(path, id + "\n"));
  return id;
}

namespace {

struct Candidate {
  TufTarget target;
  std::string kind, id, version, channel, app_id, compat, seed, withdrawn;
  int64_t micro_percent = 0;
  json::array deltas;
  size_t result = 0;  // index into the report's targets
};

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string Percent(int64_t micro) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g%%", static_cast<double>(micro) / 1e6);
  return buf;
}

class Cycle {
 public:
  Cycle(Container& c, const UpdateOptions& o, const internal::UpdateSettings& s)
      : container_(c), options_(o), settings_(s) {}

  Result<UpdateReport> Run();

 private:
  std::optional<std::string> Decide(Candidate& c);
  Status Fetch(Candidate& c, UpdateTargetResult& r, std::string& package);

  Container& container_;
  const UpdateOptions& options_;
  const internal::UpdateSettings& settings_;
  std::unique_ptr<TufClient> tuf_;
  std::string downloads_;
  UpdateReport report_;
};

std::optional<std::string> Cycle::Decide(Candidate& c) {
  if (!c.app_id.empty() && c.app_id != container_.app().id) return "for app " + c.app_id;
  if (c.channel != report_.channel) {
    return "channel " + c.channel + " (this device: " + report_.channel + ")";
  }
  bool layer = false;
  for (const DynamicLayerSpec& spec : RegisteredDynamicLayers())
    layer = layer || spec.kind == c.kind;
  if (!layer) return "no dynamic layer for kind " + c.kind + " in this app";
  if (c.kind == "native_bundle" || c.kind == "lua_patch") {
    const std::string mine = NativeCompatFingerprint(settings_.host_api);
    if (c.compat.empty()) return "no native-compat fingerprint (needed for " + c.kind + ")";
    if (c.compat != mine) return "built for " + c.compat + ", this app is " + mine;
  }
  auto kind = ParseArtifactKind(c.kind);
  if (!kind) return "unknown kind " + c.kind;
  auto records = container_.artifacts().List(*kind);
  if (!records.ok()) return "cannot read the artifact store: " + records.error().message;
  auto version = Version::Parse(c.version);
  for (const ArtifactRecord& r : *records) {
    if (r.id != c.id) continue;
    if (r.version == c.version) {
      if (!c.withdrawn.empty()) {
        if (r.state == ArtifactState::kActive || r.state == ArtifactState::kStaged) {
          return std::nullopt;  // in use: the caller disables it
        }
        return "withdrawn: " + c.withdrawn + " (" + ArtifactStateName(r.state) + " here)";
      }
      if (r.state == ArtifactState::kFailed) return "failed here before: " + r.reason;
      if (r.state == ArtifactState::kDisabled) return "disabled here: " + r.reason;
      return std::string("already installed (") + ArtifactStateName(r.state) + ")";
    }
    if ((r.state == ArtifactState::kActive || r.state == ArtifactState::kStaged) && version.ok()) {
      auto have = Version::Parse(r.version);
      if (have.ok() && !(*have < *version)) {
        return "older than " + r.version + " (" + ArtifactStateName(r.state) + " here)";
      }
    }
  }
  if (!c.withdrawn.empty()) return "withdrawn: " + c.withdrawn;
  const uint32_t bucket = internal::MicroPercentile(c.seed, report_.device_id);
  if (static_cast<int64_t>(bucket) >= c.micro_percent) {
    return "outside the rollout of " + Percent(c.micro_percent) + " (this device is at " +
           Percent(bucket) + ")";
  }
  return std::nullopt;
}

Status Cycle::Fetch(Candidate& c, UpdateTargetResult& r, std::string& package) {
  package = downloads_ + "/" + TufEncodeComponent(c.target.path);
  auto kind = ParseArtifactKind(c.kind);
  std::vector<PublicKey> keys;
  for (const std::string& hex : container_.app().release_keys) {
    auto k = ParsePublicKeyHex(hex, "app.json release_keys");
    if (k.ok()) keys.push_back(*k);
  }
  // A delta from a version installed here, when it is smaller.
  if (options_.allow_deltas && kind && !keys.empty()) {
    auto records = container_.artifacts().List(*kind);
    for (const json::value& d : c.deltas) {
      if (!records.ok() || !d.is_object()) break;
      const json::object& dobj = d.as_object();
      const std::string from = Str(dobj, "from"), path = Str(dobj, "path");
      const json::value* len = dobj.if_contains("length");
      if (!len || !len->is_int64() || static_cast<uint64_t>(len->as_int64()) >= c.target.length) {
        continue;
      }
      const ArtifactRecord* base = nullptr;
      for (const ArtifactRecord& rec : *records) {
        if (rec.id == c.id && rec.version == from && !rec.package.empty() &&
            rec.state != ArtifactState::kFailed && fs::exists(rec.package)) {
          base = &rec;
        }
      }
      if (base == nullptr) continue;
      auto delta = tuf_->FindTarget(path);  // signed like every target
      if (!delta.ok()) continue;
      const uint64_t before = tuf_->bytes_received();
      auto atd = tuf_->Download(*delta, downloads_);
      r.bytes += tuf_->bytes_received() - before;
      if (!atd.ok()) continue;
      auto applied = ApplyDeltaPackage(base->package, *atd, keys, package);
      std::error_code ec;
      fs::remove(*atd, ec);
      if (applied.ok() &&
          tuf::CheckFileLengthAndHashes(package, c.target.path,
                                        static_cast<int64_t>(c.target.length), c.target.hashes)
              .ok()) {
        r.via_delta = true;
        return Status::Ok();
      }
      fs::remove(package, ec);  // fall back to the full package
    }
  }
  const uint64_t before = tuf_->bytes_received();
  Status s = tuf_->DownloadTo(c.target, package);
  r.bytes += tuf_->bytes_received() - before;
  return s;
}

Result<UpdateReport> Cycle::Run() {
  const std::string base = container_.data_dir() + "/updates";
  downloads_ = base + "/downloads";
  std::error_code ec;
  fs::create_directories(downloads_, ec);
  report_.repo_url = options_.repo_url.empty() ? settings_.repository : options_.repo_url;
  while (!report_.repo_url.empty() && report_.repo_url.back() == '/') report_.repo_url.pop_back();
  if (report_.repo_url.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no repository: pass one or set app.json \"updates\".\"repository\"");
  }
  report_.channel = !options_.channel.empty() ? options_.channel : settings_.channel;
  if (!options_.device_id.empty()) {
    report_.device_id = options_.device_id;
  } else {
    ATRIUM_ASSIGN_OR_RETURN(report_.device_id, DeviceIdOf(container_.data_dir()));
  }
  // The pinned root: (re)initialise when the app ships a newer one.
  const std::string tuf_dir = base + "/tuf";
  std::string root = options_.trusted_root;
  if (root.empty() && !settings_.root.empty()) root = container_.app_dir() + "/" + settings_.root;
  if (!fs::exists(tuf_dir + "/root.json")) {
    if (root.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "no trusted root: app.json \"updates\".\"root\" names the root.json the "
                       "app ships");
    }
    ATRIUM_RETURN_IF_ERROR(TufClient::Init(tuf_dir, root));
  } else if (!root.empty()) {
    auto shipped = internal::ReadSmallFile(root, 512 * 1024);
    auto stored = internal::ReadSmallFile(tuf_dir + "/root.json", 512 * 1024);
    auto version_of = [](const std::string& bytes) -> int64_t {
      auto e = tuf::ParseEnvelope(bytes, "root.json", 512 * 1024);
      if (!e.ok()) return 0;
      auto r = tuf::ReadRoot(*e);
      return r.ok() ? r->version : 0;
    };
    if (shipped.ok() && stored.ok() && version_of(*shipped) > version_of(*stored)) {
      ATRIUM_RETURN_IF_ERROR(TufClient::Init(tuf_dir, root));
    }
  }
  TufClientOptions to;
  to.metadata_dir = tuf_dir;
  to.metadata_url = report_.repo_url + "/metadata";
  to.target_url = report_.repo_url + "/targets";
  to.now_unix_s = options_.now_unix_s;
  to.cancel = options_.cancel;
  std::string current;
  if (options_.progress) {
    to.progress = [&](uint64_t done, uint64_t total) { options_.progress(current, done, total); };
  }
  ATRIUM_ASSIGN_OR_RETURN(tuf_, TufClient::Open(to));
  ATRIUM_RETURN_IF_ERROR(tuf_->Refresh());
  report_.trusted = tuf_->trusted();
  ATRIUM_ASSIGN_OR_RETURN(std::vector<TufTarget> all, tuf_->AllTargets());

  // Read every target's custom fields; deltas are used through their packages.
  std::map<std::pair<std::string, std::string>, std::vector<Candidate>> by_artifact;
  for (TufTarget& t : all) {
    UpdateTargetResult r;
    r.path = t.path;
    Candidate c;
    auto custom = json::parse(t.custom_json);
    const json::value* a = custom.is_object() ? custom.as_object().if_contains("atrium") : nullptr;
    if (a == nullptr || !a->is_object()) {
      r.reason = "not an Atrium artifact (no custom.atrium)";
      report_.targets.push_back(std::move(r));
      continue;
    }
    const json::object& ao = a->as_object();
    c.kind = Str(ao, "kind");
    if (c.kind == "delta") continue;
    c.id = Str(ao, "id");
    c.version = Str(ao, "version");
    c.channel = Str(ao, "channel").empty() ? "stable" : Str(ao, "channel");
    c.app_id = Str(ao, "app_id");
    c.compat = Str(ao, "compat");
    if (const json::value* ro = ao.if_contains("rollout"); ro && ro->is_object()) {
      c.seed = Str(ro->as_object(), "seed");
      if (const json::value* mp = ro->as_object().if_contains("micro_percent");
          mp && mp->is_int64()) {
        c.micro_percent = mp->as_int64();
      }
    }
    if (const json::value* w = ao.if_contains("withdrawn"); w && w->is_object()) {
      c.withdrawn = Str(w->as_object(), "reason");
      if (c.withdrawn.empty()) c.withdrawn = "(no reason given)";
    }
    if (const json::value* d = ao.if_contains("deltas"); d && d->is_array())
      c.deltas = d->as_array();
    r.kind = c.kind;
    r.id = c.id;
    r.version = c.version;
    c.target = std::move(t);
    c.result = report_.targets.size();
    report_.targets.push_back(std::move(r));
    by_artifact[{c.kind, c.id}].push_back(std::move(c));
  }

  for (auto& [key, candidates] : by_artifact) {
    // Newest first: only the newest eligible version is taken.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      auto va = Version::Parse(a.version), vb = Version::Parse(b.version);
      if (va.ok() && vb.ok()) return *vb < *va;
      return a.version > b.version;
    });
    bool taken = false;
    if (options_.cancel != nullptr && options_.cancel->load()) {
      return MakeError(ErrorCode::kState, "update cycle cancelled");
    }
    for (Candidate& c : candidates) {
      UpdateTargetResult& r = report_.targets[c.result];
      std::optional<std::string> no = Decide(c);
      if (!no && !c.withdrawn.empty()) {
        Status s = container_.DisableArtifact(c.kind, c.id, c.version,
                                              "withdrawn by the release: " + c.withdrawn);
        r.action = s.ok() ? UpdateAction::kWithdrawn : UpdateAction::kFailed;
        r.reason = s.ok() ? "withdrawn: " + c.withdrawn : "withdrawn, but " + s.error().ToString();
        continue;
      }
      if (no) {
        r.reason = *no;
        continue;
      }
      if (taken) {
        r.reason = "a newer version of " + c.id + " is taken in this cycle";
        continue;
      }
      current = c.target.path;
      std::string package;
      Status s = Fetch(c, r, package);
      if (s.ok()) {
        auto installed = container_.InstallPackage(package, InstallAs::kStaged);
        if (!installed.ok()) s = installed.error();
      }
      std::error_code rm;
      if (!package.empty()) fs::remove(package, rm);
      if (!s.ok()) {
        r.action = UpdateAction::kFailed;
        r.reason = s.error().ToString();
        continue;
      }
      taken = true;
      (void)container_.NoteArtifact(c.kind, c.id, c.version,
                                    "staged from " + report_.repo_url + " (targets v" +
                                        std::to_string(report_.trusted.targets) +
                                        (r.via_delta ? ", delta" : "") + ")");
      r.action = UpdateAction::kStaged;
      r.reason = std::string(r.via_delta ? "delta from an installed version" : "full package") +
                 ", targets v" + std::to_string(report_.trusted.targets);
    }
  }
  report_.bytes_received = tuf_->bytes_received();
  report_.requests = tuf_->requests();
  return std::move(report_);
}

}  // namespace

Result<UpdateReport> RunUpdateCycle(Container& container, const UpdateOptions& options) {
  ATRIUM_ASSIGN_OR_RETURN(internal::UpdateSettings settings,
                          internal::ReadUpdateSettings(container.app()));
  const std::string lock_path = container.data_dir() + "/updates/lock";
  std::error_code ec;
  fs::create_directories(container.data_dir() + "/updates", ec);
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return internal::ErrnoError(lock_path, "cannot open the update lock", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return internal::FileError(ErrorCode::kState, lock_path, "another update cycle is running");
  }
  Cycle cycle(container, options, settings);
  auto report = cycle.Run();
  ::close(fd);
  return report;
}

}  // namespace atrium
