// Adding packages to the staged targets (with deltas from earlier versions)
// and withdrawing them.
#include <algorithm>
#include <filesystem>

#include "atrium/base/result_macros.h"
#include "atrium/delta_package.h"
#include "atrium/package.h"
#include "atrium/semver.h"
#include "repository_impl.h"

namespace atrium {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Ids and versions become path segments and file names.
bool SafeSegment(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// targets/<dir>/<sha256>.<name>: how a consistent-snapshot repository
// stores the target at path <dir>/<name>.
std::string StoredName(const std::string& repo, const std::string& path, const std::string& sha) {
  const size_t slash = path.rfind('/');
  return repo + "/targets/" + path.substr(0, slash + 1) + sha + "." + path.substr(slash + 1);
}

json::object TargetEntry(uint64_t length, const std::string& sha, json::object custom) {
  json::object t;
  t["length"] = static_cast<int64_t>(length);
  json::object h;
  h["sha256"] = sha;
  t["hashes"] = std::move(h);
  t["custom"] = std::move(custom);
  return t;
}

const json::object* AtriumCustom(const json::value& target) {
  if (!target.is_object()) return nullptr;
  const json::value* c = target.as_object().if_contains("custom");
  if (c == nullptr || !c->is_object()) return nullptr;
  const json::value* a = c->as_object().if_contains("atrium");
  return a && a->is_object() ? &a->as_object() : nullptr;
}

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

Result<ReleaseAddResult> ReleaseRepository::Add(const std::string& atb_path,
                                                const ReleaseAddOptions& options) {
  ATRIUM_ASSIGN_OR_RETURN(auto reader, PackageReader::Open(atb_path));
  ATRIUM_RETURN_IF_ERROR(reader->VerifyAllEntries());
  const PackageInfo& info = reader->info();
  ReleaseAddResult out;
  out.kind = ArtifactKindName(info.kind);
  out.id = info.id;
  out.version = info.version;
  if (!SafeSegment(out.id) || !SafeSegment(out.version) || out.kind == "unknown") {
    Error e = MakeError(ErrorCode::kValidation, "package id " + out.id + ", version " +
                                                    out.version + ", kind " + out.kind +
                                                    ": not usable in a target path");
    e.file = atb_path;
    return e;
  }
  // No device would install a package that names no app, or (with
  // --app-id) one whose signed app list leaves that app out.
  if (info.apps.empty()) {
    Error e = MakeError(ErrorCode::kValidation,
                        "the package names no app (format " + std::to_string(info.format_version) +
                            "), so no app would install it; pack it again with `atrium pack "
                            "--app`");
    e.file = atb_path;
    return e;
  }
  if (!options.app_id.empty()) ATRIUM_RETURN_IF_ERROR(reader->CheckApp(options.app_id));
  if (options.rollout_micro_percent < 0 || options.rollout_micro_percent > 100'000'000) {
    return MakeError(ErrorCode::kInvalidArgument, "rollout must be within 0..100%");
  }
  ATRIUM_ASSIGN_OR_RETURN(Version new_version, Version::Parse(out.version));
  out.target_path = out.kind + "/" + out.id + "-" + out.version + ".atb";
  ATRIUM_ASSIGN_OR_RETURN(out.sha256, tuf::Sha256OfFile(atb_path));
  out.length = info.file_size;
  const std::string role = options.role.empty() ? "targets" : options.role;
  if (role != "targets") {
    const json::value* list = impl_->config.if_contains("delegations");
    const json::object* found = nullptr;
    if (list != nullptr && list->is_array()) {
      for (const json::value& d : list->as_array()) {
        if (d.as_object().at("name").as_string() == role) found = &d.as_object();
      }
    }
    if (found == nullptr) {
      return MakeError(ErrorCode::kNotFound,
                       "no delegated role " + role + " (create it with `atrium release delegate`)");
    }
    bool inside = false;
    for (const json::value& p : found->at("paths").as_array()) {
      inside = inside || tuf::MatchPathPattern(p.as_string(), out.target_path);
    }
    if (!inside) {
      Error e = MakeError(ErrorCode::kValidation,
                          out.target_path + " is outside the paths of role " + role + " (" +
                              json::serialize(found->at("paths")) + ")");
      e.file = atb_path;
      return e;
    }
  }
  // The role's map first (it may be created), then every staged map: where
  // the path may already be, and where earlier versions may be.
  json::object& targets = impl_->StagedTargets(role);
  std::vector<json::object*> all_maps{&impl_->StagedTargets("targets")};
  if (json::value* roles = impl_->staged.if_contains("roles"); roles && roles->is_object()) {
    for (auto& kv : roles->as_object()) {
      if (kv.value().is_object()) all_maps.push_back(&kv.value().as_object());
    }
  }
  for (json::object* m : all_maps) {
    if (m != &targets && m->contains(out.target_path)) {
      return MakeError(ErrorCode::kAlreadyExists,
                       out.target_path + " is already listed by another role");
    }
  }
  if (const json::value* existing = targets.if_contains(out.target_path)) {
    const json::value* h = existing->as_object().if_contains("hashes");
    if (h && h->as_object().contains("sha256") &&
        h->as_object().at("sha256").as_string() == out.sha256) {
      out.unchanged = true;
      return out;
    }
    Error e = MakeError(ErrorCode::kAlreadyExists,
                        out.target_path +
                            " is already in the repository with other bytes: a "
                            "released version never changes (release a new version)");
    e.file = atb_path;
    return e;
  }
  const std::string stored = StoredName(impl_->repo, out.target_path, out.sha256);
  ATRIUM_RETURN_IF_ERROR(CopyFileAtomically(atb_path, stored));

  // Earlier versions of the same artifact still in the repository, newest first.
  struct Earlier {  // copied out: adding deltas below changes the maps
    Version version;
    std::string path, version_text, sha256;
  };
  std::vector<Earlier> earlier;
  for (json::object* m : all_maps) {
    for (const auto& kv : *m) {
      const json::object* a = AtriumCustom(kv.value());
      if (a == nullptr || Str(*a, "kind") != out.kind || Str(*a, "id") != out.id) continue;
      auto v = Version::Parse(Str(*a, "version"));
      if (v.ok() && *v < new_version) {
        earlier.push_back(
            Earlier{*v, std::string(kv.key()), Str(*a, "version"),
                    std::string(kv.value().as_object().at("hashes").at("sha256").as_string())});
      }
    }
  }
  std::sort(earlier.begin(), earlier.end(),
            [](const Earlier& a, const Earlier& b) { return b.version < a.version; });
  if (earlier.size() > static_cast<size_t>(std::max(0, options.max_deltas))) {
    earlier.resize(static_cast<size_t>(std::max(0, options.max_deltas)));
  }
  json::array deltas;
  for (const Earlier& e : earlier) {
    const std::string& base_path = e.path;
    const std::string& from_text = e.version_text;
    const std::string& base_sha = e.sha256;
    const std::string base_file = StoredName(impl_->repo, base_path, base_sha);
    const std::string delta_path =
        out.kind + "/" + out.id + "-" + from_text + "-to-" + out.version + ".atd";
    const std::string tmp = impl_->keys_dir + "/delta.tmp.atd";
    DiffOptions diff;
    if (options.progress) {
      diff.progress = [&](const DiffProgress& p) {
        options.progress(from_text, std::string(p.current_path), p.done_entries, p.total_entries);
      };
    }
    ReleaseDelta d;
    d.from_version = from_text;
    d.path = delta_path;
    auto stats = DiffPackages(base_file, stored, tmp, diff);
    if (!stats.ok()) return stats.error();
    d.length = stats->delta_size;
    d.kept = stats->delta_size < out.length;
    if (d.kept) {
      ATRIUM_ASSIGN_OR_RETURN(std::string dsha, tuf::Sha256OfFile(tmp));
      ATRIUM_RETURN_IF_ERROR(CopyFileAtomically(tmp, StoredName(impl_->repo, delta_path, dsha)));
      json::object dc;
      json::object da;
      da["kind"] = "delta";
      da["of"] = out.target_path;
      da["from"] = from_text;
      dc["atrium"] = std::move(da);
      targets[delta_path] = TargetEntry(d.length, dsha, std::move(dc));
      json::object entry;
      entry["from"] = from_text;
      entry["path"] = delta_path;
      entry["length"] = static_cast<int64_t>(d.length);
      json::object h;
      h["sha256"] = dsha;
      entry["hashes"] = std::move(h);
      deltas.push_back(std::move(entry));
    }
    std::error_code ec;
    fs::remove(tmp, ec);
    out.deltas.push_back(std::move(d));
  }

  json::object a;
  a["kind"] = out.kind;
  a["id"] = out.id;
  a["version"] = out.version;
  a["channel"] = options.channel.empty() ? "stable" : options.channel;
  if (!options.app_id.empty()) a["app_id"] = options.app_id;
  if (!options.compat.empty()) a["compat"] = options.compat;
  json::object rollout;
  rollout["micro_percent"] = options.rollout_micro_percent;
  rollout["seed"] = options.rollout_seed.empty() ? out.kind + "/" + out.id + "@" + out.version
                                                 : options.rollout_seed;
  a["rollout"] = std::move(rollout);
  a["deltas"] = std::move(deltas);
  json::object custom;
  custom["atrium"] = std::move(a);
  targets[out.target_path] = TargetEntry(out.length, out.sha256, std::move(custom));
  ATRIUM_RETURN_IF_ERROR(impl_->SaveStaged());
  return out;
}

Status ReleaseRepository::Remove(const std::string& kind, const std::string& id,
                                 const std::string& version, const std::string& reason) {
  if (reason.empty()) return MakeError(ErrorCode::kInvalidArgument, "a withdrawal needs a reason");
  const std::string path = kind + "/" + id + "-" + version + ".atb";
  json::value* t = impl_->StagedTargets("targets").if_contains(path);
  if (json::value* roles = impl_->staged.if_contains("roles"); t == nullptr && roles) {
    for (auto& kv : roles->as_object()) {
      if (t == nullptr && kv.value().is_object()) t = kv.value().as_object().if_contains(path);
    }
  }
  if (t == nullptr) {
    return MakeError(ErrorCode::kNotFound,
                     kind + "/" + id + "@" + version + " is not in the repository (" + path + ")");
  }
  json::object& a = t->as_object()["custom"].as_object()["atrium"].as_object();
  json::object w;
  w["reason"] = reason;
  w["at"] = tuf::FormatUtcTime(impl_->Now());
  a["withdrawn"] = std::move(w);
  return impl_->SaveStaged();
}

}  // namespace atrium
