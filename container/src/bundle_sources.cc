// Where bundles come from: the bundle index built from the baseline folders
// and packages, the store's updates and development installs (and its
// fingerprint); installs and uninstalls.
#include <map>

#include "container_impl.h"

namespace fs = std::filesystem;

namespace atrium::internal {

uint64_t ContainerImpl::Fingerprint() const {
  uint64_t h = Hash64(app_json_, 1);
  h = Hash64(app_dir_, h);
  // app.json's mtime when Open read it (with the bytes hashed above).
  const uint64_t mt = app_json_mtime_ns_;
  h = Hash64(std::string_view(reinterpret_cast<const char*>(&mt), sizeof mt), h);
  if (store_ != nullptr) {
    uint64_t g = store_->generation();
    h = Hash64(std::string_view(reinterpret_cast<const char*>(&g), sizeof g), h);
  }
  return h ^ (uint64_t{BundleIndex::kFormatVersion} << 56);
}

Status ContainerImpl::RebuildIndexLocked(const std::string& why) {
  Log(LogLevel::kInfo, "", "building bundle index (" + why + ")");
  std::vector<IndexInput> inputs;
  auto add = [&](const fs::path& dir, bool baseline) {
    IndexInput in;
    in.dir = fs::absolute(dir).lexically_normal().string();
    in.baseline = baseline;
    std::string manifest_path = (dir / "bundle.json").string();
    std::ifstream f(manifest_path, std::ios::binary);
    if (!f) {
      in.error = manifest_path + ": cannot read bundle.json";
    } else {
      std::ostringstream ss;
      ss << f.rdbuf();
      auto m = ParseManifest(ss.str(), manifest_path);
      if (m.ok()) {
        in.manifest = std::move(m).value();
      } else {
        in.error = m.error().ToString();
      }
    }
    in.fallback_name = "(invalid) " + in.dir;
    if (!in.error.empty()) Log(LogLevel::kWarning, "", in.error);
    inputs.push_back(std::move(in));
  };
  for (const auto& rel : app().baseline) {
    if (rel.size() > 4 && rel.compare(rel.size() - 4, 4, ".atb") == 0) {
      // A signed baseline package: installed once into the artifact store
      // (a no-op when the same package is already there), run from there.
      const std::string package = (fs::path(app_dir_) / rel).string();
      auto record = store_->Install(package, InstallAs::kBaseline,
                                    "shipped with " + app_.id + " " + app_.version.ToString());
      if (!record.ok()) {
        IndexInput in;
        in.dir = package;
        in.baseline = true;
        in.error = record.error().ToString();
        in.fallback_name = "(invalid) " + package;
        Log(LogLevel::kError, "", in.error);
        inputs.push_back(std::move(in));
        continue;
      }
      add(record->dir, true);
    } else {
      add(fs::path(app_dir_) / rel, true);
    }
  }
  // Updates: the active version of each native bundle in the store (the
  // resolver prefers the higher version, so a rollback below the baseline
  // version is not expressible; see docs/artifacts.md).
  if (auto records = store_->List(); records.ok()) {
    for (const auto& r : *records) {
      if (r.kind == ArtifactKind::kNativeBundle && r.state == ArtifactState::kActive) {
        add(r.dir, false);
      }
    }
  } else {
    return records.error();
  }
  std::error_code ec;
  fs::path installed = fs::path(data_dir_) / "bundles";
  if (fs::is_directory(installed, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(installed, ec)) {
      if (entry.is_directory()) dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) add(d, false);
  }
  const std::string index_path = (fs::path(data_dir_) / "bundle_index.bin").string();
  Status s = BundleIndex::Write(index_path, Fingerprint(), app_, inputs);
  if (!s.ok()) return s;
  auto idx = BundleIndex::Read(index_path, Fingerprint());
  if (!idx.ok()) return idx.error();

  // Carry runtime state over to the new index by (name, version, dir); a
  // detached runtime (its version left the index while running) comes back
  // when its version does.
  auto fresh = std::make_unique<BundleIndex>(std::move(idx).value());
  std::vector<std::shared_ptr<BundleRuntime>> runtimes(fresh->size());
  for (auto& rt : detached_) runtimes_.push_back(std::move(rt));
  detached_.clear();
  for (auto& rt : runtimes_) {
    if (!rt) continue;
    bool placed = false;
    for (uint32_t i = 0; i < fresh->size(); ++i) {
      auto b = fresh->bundle(i);
      if (!runtimes[i] && b.name == rt->name && b.version == rt->version && b.dir == rt->dir) {
        runtimes[i] = std::move(rt);
        placed = true;
        break;
      }
    }
    // Active, or being started or stopped by a thread that still holds it.
    if (!placed && rt &&
        (rt->state == BundleState::kActive || rt->state == BundleState::kLoading ||
         rt->state == BundleState::kStopping)) {
      detached_.push_back(std::move(rt));
    }
  }
  index_ = std::move(fresh);
  runtimes_ = std::move(runtimes);
  active_.clear();
  for (uint32_t i = 0; i < runtimes_.size(); ++i) {
    if (runtimes_[i] && runtimes_[i]->state == BundleState::kActive) active_.push_back(i);
  }
  std::sort(active_.begin(), active_.end(), [&](uint32_t a, uint32_t b) {
    return runtimes_[a]->activation_seq < runtimes_[b]->activation_seq;
  });
  return Status::Ok();
}

std::vector<std::string> ContainerImpl::BrokenBy(const Manifest& candidate) {
  std::vector<Manifest> installed;
  {
    std::lock_guard lock(lifecycle_mu_);
    for (uint32_t i = 0; i < index_->size(); ++i) {
      auto b = index_->bundle(i);
      if (b.broken) continue;
      auto m = LoadManifestFile((fs::path(std::string(b.dir)) / "bundle.json").string());
      if (m.ok()) installed.push_back(std::move(m).value());
    }
  }
  std::vector<const Manifest*> before;
  for (const Manifest& m : installed) before.push_back(&m);
  std::vector<const Manifest*> after = before;
  after.push_back(&candidate);
  const ResolveResult was = Resolve(before), will = Resolve(after);
  std::map<std::string, std::string> lost;  // name -> why, for names resolved before
  for (size_t i = 0; i < before.size(); ++i) {
    if (was.bundles[i].resolution == Resolution::kResolved) lost.emplace(before[i]->name, "");
  }
  for (size_t i = 0; i < after.size(); ++i) {
    auto it = lost.find(after[i]->name);
    if (it == lost.end()) continue;
    if (will.bundles[i].resolution == Resolution::kResolved) {
      lost.erase(it);
    } else if (will.bundles[i].resolution == Resolution::kUnresolved) {
      it->second =
          after[i]->name + " " + after[i]->version.ToString() + ": " + will.bundles[i].reason;
    }
  }
  std::vector<std::string> out;
  for (auto& [name, why] : lost) out.push_back(why.empty() ? name : why);
  return out;
}

Result<ArtifactRecord> ContainerImpl::InstallPackage(const std::string& package_path, InstallAs as,
                                                     bool force) {
  auto reader = PackageReader::Open(package_path);
  if (!reader.ok()) return reader.error();
  const ArtifactKind kind = (*reader)->info().kind;
  if (kind == ArtifactKind::kNativeBundle && !force) {
    // The package's signature is checked by the store; this only reads its
    // manifest to see what the app would resolve to with it.
    auto candidate = ParseManifest((*reader)->info().manifest, package_path + "!bundle.json");
    if (!candidate.ok()) return candidate.error();
    std::vector<std::string> broken = BrokenBy(*candidate);
    if (!broken.empty()) {
      std::string list;
      for (const std::string& b : broken) list += "\n  " + b;
      Error e = MakeError(ErrorCode::kValidation,
                          "installing " + candidate->name + " " + candidate->version.ToString() +
                              " would leave " + std::to_string(broken.size()) +
                              (broken.size() == 1 ? " bundle" : " bundles") +
                              " that resolve now unresolved (--force stages it anyway):" + list);
      e.file = package_path;
      e.bundle = candidate->name;
      return e;
    }
  }
  reader->reset();
  // The layer registered for the package's kind installs it (native bundle
  // updates: dynamic/native).
  const std::string name = ArtifactKindName(kind);
  for (const auto& layer : layers_) {
    if (layer->kind() == name) return layer->Install(package_path, as);
  }
  Error e = MakeError(ErrorCode::kNotFound,
                      "no dynamic layer for packages of kind " + name + " is registered");
  e.file = package_path;
  return e;
}

Status ContainerImpl::Install(const std::string& bundle_dir) {
  std::string manifest_path = (fs::path(bundle_dir) / "bundle.json").string();
  auto m = LoadManifestFile(manifest_path);
  if (!m.ok()) return m.error();
  std::lock_guard lock(lifecycle_mu_);
  fs::path target = fs::path(data_dir_) / "bundles" / (m->name + "-" + m->version.ToString());
  fs::path staging = target;
  staging += ".installing";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging.parent_path(), ec);
  fs::copy(bundle_dir, staging, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    Error e = MakeError(ErrorCode::kIo, "cannot copy bundle: " + ec.message());
    e.file = bundle_dir;
    return e;
  }
  if (fs::exists(target)) {
    Error e = MakeError(ErrorCode::kAlreadyExists,
                        m->name + " " + m->version.ToString() + " is already installed");
    e.bundle = m->name;
    fs::remove_all(staging, ec);
    return e;
  }
  fs::rename(staging, target, ec);
  if (ec) {
    Error e = MakeError(ErrorCode::kIo, "cannot move bundle into place: " + ec.message());
    e.file = target.string();
    return e;
  }
  return RebuildIndexLocked("installed " + m->name + " " + m->version.ToString());
}

Status ContainerImpl::Uninstall(std::string_view bundle) {
  std::lock_guard lock(lifecycle_mu_);
  std::vector<std::string> dirs;  // every installed version of it
  for (uint32_t i = 0; i < index_->size(); ++i) {
    auto b = index_->bundle(i);
    if (b.name != bundle) continue;
    if (b.baseline) {
      Error e = MakeError(ErrorCode::kState, "bundle " + std::string(bundle) +
                                                 " ships with the app (baseline); it cannot be "
                                                 "uninstalled");
      e.bundle = std::string(bundle);
      return e;
    }
    dirs.emplace_back(b.dir);
  }
  if (dirs.empty()) return NotInstalled(bundle);
  for (const std::string& dir : dirs) {
    // Found again each time: a stop releases the lock.
    for (uint32_t i = 0; i < index_->size(); ++i) {
      if (index_->bundle(i).dir == dir) {
        (void)StopLocked(i);
        break;
      }
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return RebuildIndexLocked("uninstalled " + std::string(bundle));
}

}  // namespace atrium::internal

namespace atrium::internal {

Status ContainerImpl::DisableArtifact(std::string_view kind, std::string_view id,
                                      std::string_view version, std::string_view reason) {
  for (const auto& layer : layers_) {
    if (layer->kind() != kind) continue;
    return layer->Disable(ArtifactRef{std::string(kind), std::string(id), std::string(version)},
                          reason);
  }
  return MakeError(ErrorCode::kNotFound, "no dynamic layer for artifacts of kind " +
                                             std::string(kind) + " is registered");
}

Status ContainerImpl::EnableArtifact(std::string_view kind, std::string_view id,
                                     std::string_view version, std::string_view reason) {
  const std::string what = std::string(kind) + ":" + std::string(id) + "@" + std::string(version);
  for (const auto& layer : layers_) {
    if (layer->kind() != kind) continue;
    Status s = layer->Reenable(
        ArtifactRef{std::string(kind), std::string(id), std::string(version)}, reason);
    if (s.ok()) return s;
    Error e = s.error();
    e.message = "cannot enable " + what + ": " + e.message;
    return e;
  }
  return MakeError(ErrorCode::kNotFound, "no dynamic layer for artifacts of kind " +
                                             std::string(kind) + " is registered");
}

Status ContainerImpl::NoteArtifact(std::string_view kind, std::string_view id,
                                   std::string_view version, std::string_view note) {
  auto parsed = ParseArtifactKind(kind);
  if (!parsed) return MakeError(ErrorCode::kInvalidArgument, "unknown kind " + std::string(kind));
  return store_->AddNote(*parsed, id, version, note);
}

}  // namespace atrium::internal
