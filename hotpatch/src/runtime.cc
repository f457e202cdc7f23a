// The hotpatch Runtime: point registry, durable patch set, per-point chains
// and the patched call path. See atrium/hotpatch.h for the execution model.
//
// Concurrency contract:
//  1. mu_ guards points_, patches_, host_, chains_ retired list and all
//     store writes. It is never taken on a call path except to record a
//     fault.
//  2. A PointCore's `active` holds the published Chain (or null). Chains are
//     immutable and never freed before the runtime (retired_), so a call may
//     use one without a reference count.
//  3. Per-thread state (sandboxes per patch, the `original` call frames) is
//     thread_local and keyed by the runtime's uid; generation_ tells a
//     thread when to reload.
#include <algorithm>
#include <atomic>
#include <deque>
#include <list>
#include <lua.hpp>
#include <map>
#include <mutex>
#include <unordered_map>

#include "atrium/artifact_store.h"
#include "atrium/base/strict_json.h"
#include "atrium/container.h"
#include "atrium/hotpatch.h"
#include "atrium/lua/sandbox.h"
#include "atrium/package.h"
#include "atrium/thread_activity.h"
#include "patch_marshal.h"
#include "patch_package.h"
#include "patch_store.h"
#include "runtime_impl.h"

namespace atrium::hotpatch {

std::string SignatureString(const Signature& sig) {
  auto one = [](ValueType t, const RecordType* r) {
    if (t == ValueType::kRecord) return std::string("record:") + (r ? r->name : "?");
    return std::string(internal::ValueTypeName(t));
  };
  std::string out = one(sig.result, sig.result_record) + "(";
  for (size_t i = 0; i < sig.param_count; ++i) {
    if (i) out += ",";
    out += one(sig.params[i], sig.param_records[i]);
  }
  return out + ")";
}

namespace internal {

namespace {

lua::SandboxLimits LimitsOf(const PatchManifest& m) {
  lua::SandboxLimits limits;
  limits.memory_bytes = size_t{m.memory_kb} * 1024;
  limits.instructions_per_call = m.instructions;
  limits.time_us_per_call = int64_t{m.time_ms} * 1000;
  return limits;
}

// A patch that could never run is refused at install: its source must
// compile and run its top level within the patch's own limits (with the
// app's host functions), and define every function its points name.
Status CheckLoads(const PatchPackage& pkg, const std::string& package_path,
                  const HostFunctionTable* host) {
  const PatchManifest& m = pkg.manifest;
  lua::SandboxOptions options;
  options.limits = LimitsOf(m);
  options.host = host;
  options.label = "lua_patch:" + m.id;
  auto sandbox = lua::LuaSandbox::Create(std::move(options));
  if (!sandbox.ok()) return sandbox.error();
  auto env = (*sandbox)->LoadChunk(m.source, pkg.source);
  if (!env.ok()) {
    Error e = MakeError(
        ErrorCode::kValidation,
        (env.error().code == ErrorCode::kParse ? "does not compile: " : "fails as it loads: ") +
            env.error().message);
    e.file = package_path + ":" + m.source;
    return e;
  }
  for (size_t i = 0; i < m.points.size(); ++i) {
    const PatchPointDecl& d = m.points[i];
    if (!(*sandbox)->PushFunction(*env, d.function)) {
      return ::atrium::internal::MakeLocated(
          ErrorCode::kValidation, package_path + ":patch.json",
          "/points/" + std::to_string(i) + "/function",
          m.source + " defines no function '" + d.function + "' for point " + d.point);
    }
    lua_pop((*sandbox)->L(), 1);
  }
  return Status::Ok();
}

}  // namespace

Status RuntimeImpl::Init() {
  for (const std::string& hex : options_.trusted_keys) {
    Result<PublicKey> key = ParsePublicKeyHex(hex, "trusted key");
    if (!key.ok()) return key.error();
    keys_.push_back(*key);
  }
  ArtifactStore* artifacts = options_.store;
  if (artifacts == nullptr) {
    auto opened = ArtifactStore::Open({options_.data_dir, keys_, options_.app_id});
    if (!opened.ok()) return opened.error();
    own_store_ = std::move(opened).value();
    artifacts = own_store_.get();
  }
  auto store = PatchStore::Open(artifacts);
  if (!store.ok()) return store.error();
  if (auto enabled = (*store)->Enabled(); enabled.ok() && !enabled->empty()) {
    WarmBundleVersions();
  }
  std::lock_guard lock(mu_);
  store_ = std::move(store).value();
  return ReloadLocked();
}

void RuntimeImpl::WarmBundleVersions() const {
  // The host's lookup may take the container's lifecycle lock, which a
  // bundle's Start holds while it declares patch points (taking mu_): the
  // first lookup (the host snapshots then) happens before mu_ is taken.
  if (options_.bundle_version) (void)options_.bundle_version("");
  if (options_.declared_point) (void)options_.declared_point("");
}

Status RuntimeImpl::TargetsMatch(const PatchManifest& m) const {
  auto fail = [&](std::string msg) {
    return MakeError(ErrorCode::kValidation, "patch " + m.id + " " + m.version.ToString() +
                                                 " does not target this app: " + msg);
  };
  if (m.app_id != options_.app_id) {
    return fail("it targets app " + m.app_id + ", this is " + options_.app_id);
  }
  if (!m.app_versions.Matches(options_.app_version)) {
    return fail("it targets app versions " + m.app_versions.text() + ", this is " +
                options_.app_version.ToString());
  }
  for (const auto& b : m.bundles) {
    std::optional<Version> v =
        options_.bundle_version ? options_.bundle_version(b.name) : std::nullopt;
    if (!v) return fail("it targets bundle " + b.name + ", which is not installed");
    if (!b.range.Matches(*v)) {
      return fail("it targets " + b.name + " " + b.range.text() + ", installed is " +
                  v->ToString());
    }
  }
  if (options_.declared_point) {
    for (const PatchPointDecl& d : m.points) {
      std::optional<DeclaredPatchPoint> declared = options_.declared_point(d.point);
      if (!declared) {
        return fail("it patches point " + d.point +
                    ", which no installed bundle declares (bundle.json \"patch_points\")");
      }
      if (declared->signature != d.signature) {
        return fail("point " + d.point + " is " + declared->signature + " in " + declared->bundle +
                    "'s bundle.json, the patch declares " + d.signature);
      }
    }
  }
  return Status::Ok();
}

Status RuntimeImpl::ReloadLocked() {
  // The enabled versions that may run: each installed copy re-hashed against
  // its signed package (a copy changed on disk never runs) and its targets
  // checked. A version refused here fails or is disabled, which may enable
  // its previous version: checked in the next round.
  std::vector<std::pair<StoredPatch, PatchPackage>> usable;
  for (int round = 0; round < 8; ++round) {
    auto list = store_->Enabled();
    if (!list.ok()) return list.error();
    usable.clear();
    bool changed = false;
    for (StoredPatch& sp : *list) {
      Status verified = store_->artifacts().VerifyFiles(sp.record);
      Result<PatchPackage> pkg = verified.ok() ? ReadPatchDir(sp.dir, /*installed_copy=*/true)
                                               : Result<PatchPackage>(verified.error());
      if (!pkg.ok()) {
        changed |= store_
                       ->SetState(sp.id, PatchState::kFailed,
                                  "installed copy no longer verifies: " + pkg.error().ToString())
                       .ok();
        continue;
      }
      if (Status t = TargetsMatch(pkg->manifest); !t.ok()) {
        changed |= store_->SetState(sp.id, PatchState::kDisabled, t.error().message).ok();
        continue;
      }
      usable.emplace_back(std::move(sp), std::move(pkg).value());
    }
    if (!changed) break;
  }
  for (auto& p : patches_) retired_patches_.push_back(std::move(p));
  patches_.clear();
  for (auto& [sp, pkg] : usable) {
    auto lp = std::make_unique<LoadedPatch>();
    // One slot per installed version, stable across reloads, so threads keep
    // their loaded sandboxes when an unrelated patch changes.
    auto [slot, fresh] = slot_of_seq_.emplace(sp.install_seq, next_slot_);
    if (fresh) ++next_slot_;
    lp->slot = slot->second;
    lp->stored = std::move(sp);
    lp->activity = "lua_patch:" + lp->stored.id;
    lp->package = std::move(pkg);
    lp->limits = LimitsOf(lp->package.manifest);
    patches_.push_back(std::move(lp));
  }
  ++chain_generation_;
  for (auto& [id, core] : points_) PublishLocked(core.get());
  return Status::Ok();
}

void RuntimeImpl::PublishLocked(PointCore* core) {
  struct Ordered {
    int order;
    uint64_t seq;
    ChainEntry entry;
  };
  std::vector<Ordered> all;
  for (const auto& p : patches_) {
    for (const auto& decl : p->package.manifest.points) {
      if (decl.point != core->id()) continue;
      if (decl.signature != core->signature_string()) continue;  // refused at install
      const size_t index = static_cast<size_t>(&decl - p->package.manifest.points.data());
      all.push_back(
          {decl.order, p->stored.install_seq, {p.get(), decl.mode, decl.function, index}});
    }
  }
  if (all.empty()) {
    core->active.store(nullptr, std::memory_order_release);
    return;
  }
  std::sort(all.begin(), all.end(), [](const Ordered& a, const Ordered& b) {
    return a.order != b.order ? a.order < b.order : a.seq < b.seq;
  });
  auto chain = std::make_unique<Chain>();
  chain->generation = chain_generation_;
  for (auto& o : all) {
    auto& list = o.entry.mode == PatchMode::kBefore    ? chain->befores
                 : o.entry.mode == PatchMode::kReplace ? chain->replaces
                                                       : chain->afters;
    list.push_back(std::move(o.entry));
  }
  const auto scalar = [](ValueType t) {
    return t == ValueType::kInt || t == ValueType::kDouble || t == ValueType::kBool;
  };
  chain->params = core->params;
  chain->param_records = core->param_records;
  chain->result = core->signature.result;
  chain->result_record = core->signature.result_record;
  chain->scalar_replace = chain->befores.empty() && chain->afters.empty() &&
                          !chain->replaces.empty() &&
                          std::all_of(chain->params.begin(), chain->params.end(), scalar) &&
                          (chain->result == ValueType::kNil || scalar(chain->result));
  core->active.store(chain.get(), std::memory_order_release);
  chains_.push_back(std::move(chain));
}

PatchPointCore* RuntimeImpl::Declare(std::string_view id, const Signature& signature) {
  std::string sig = SignatureString(signature);
  std::lock_guard lock(mu_);
  auto it = points_.find(id);
  if (it == points_.end()) {
    it = points_.emplace(std::string(id), std::make_unique<PointCore>(this, std::string(id), sig))
             .first;
  } else if (it->second->signature_string() != sig) {
    std::fprintf(stderr, "atrium hotpatch: point %.*s declared as %s, already declared as %s\n",
                 static_cast<int>(id.size()), id.data(), sig.c_str(),
                 it->second->signature_string().c_str());
    return nullptr;
  }
  PointCore* core = it->second.get();
  core->params.assign(signature.params, signature.params + signature.param_count);
  core->param_records.assign(signature.param_records,
                             signature.param_records + signature.param_count);
  core->signature = signature;
  core->signature.params = core->params.data();
  core->signature.param_records = core->param_records.data();
  PublishLocked(core);
  return core;
}

Status RuntimeImpl::ExposeFunction(std::string_view name, HostFunction fn) {
  if (name.empty() || !fn)
    return MakeError(ErrorCode::kInvalidArgument, "host function needs a name and a body");
  std::lock_guard lock(mu_);
  auto table = std::make_shared<HostFunctionTable>(*host_);
  (*table)[std::string(name)] = AdaptHostFunction(std::move(fn));
  host_ = std::move(table);
  host_generation_.fetch_add(1);
  return Status::Ok();
}

Result<PatchInfo> RuntimeImpl::Install(const std::string& package_path) {
  // Checked before the store is touched: signature, kind, manifest, source,
  // targets and the points' signatures; the store verifies again as it
  // installs.
  auto reader = PackageReader::Open(package_path);
  if (!reader.ok()) return reader.error();
  if (Status v = (*reader)->Verify(keys_); !v.ok()) return v.error();
  if (Status a = (*reader)->CheckApp(options_.app_id); !a.ok()) return a.error();
  auto pkg = ReadPatchPackage(**reader);
  if (!pkg.ok()) return pkg.error();
  if (Status t = TargetsMatch(pkg->manifest); !t.ok()) return t.error();
  std::shared_ptr<HostFunctionTable> host;
  {
    std::lock_guard lock(mu_);
    host = host_;
  }
  if (Status c = CheckLoads(*pkg, package_path, host.get()); !c.ok()) return c.error();
  WarmBundleVersions();  // a reload checks bundle targets: not under mu_
  std::lock_guard lock(mu_);
  for (const auto& decl : pkg->manifest.points) {
    auto it = points_.find(decl.point);
    if (it != points_.end() && it->second->signature_string() != decl.signature) {
      Error e = MakeError(ErrorCode::kValidation, "patch point " + decl.point + " is " +
                                                      it->second->signature_string() +
                                                      ", the patch declares " + decl.signature);
      e.file = package_path + ":patch.json";
      return e;
    }
  }
  reader->reset();  // the store opens the package itself
  auto stored = store_->Install(package_path);
  if (!stored.ok()) return stored.error();
  Status s = ReloadLocked();
  if (!s.ok()) return s.error();
  // The state now (a version refused at load is no longer enabled).
  auto list = store_->List();
  if (list.ok()) {
    for (const StoredPatch& p : *list) {
      if (p.id == stored->id && p.version == stored->version) return InfoOf(p);
    }
  }
  return InfoOf(*stored);
}

Status RuntimeImpl::Enable(std::string_view id) {
  WarmBundleVersions();  // a reload checks bundle targets: not under mu_
  std::lock_guard lock(mu_);
  Status s = store_->SetState(std::string(id), PatchState::kEnabled, "enabled");
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::Disable(std::string_view id, std::string_view reason) {
  WarmBundleVersions();  // a reload checks bundle targets: not under mu_
  std::lock_guard lock(mu_);
  Status s = store_->SetState(std::string(id), PatchState::kDisabled, std::string(reason));
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::Rollback(std::string_view id) {
  WarmBundleVersions();  // a reload checks bundle targets: not under mu_
  std::lock_guard lock(mu_);
  Status s = store_->Rollback(std::string(id), "rolled back");
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::DisableAll(std::string_view reason) {
  WarmBundleVersions();  // a reload checks bundle targets: not under mu_
  std::lock_guard lock(mu_);
  Status s = store_->DisableAll(std::string(reason));
  return s.ok() ? ReloadLocked() : s;
}

PatchInfo RuntimeImpl::InfoOf(const StoredPatch& p) const {
  PatchInfo info;
  info.id = p.id;
  info.version = p.version;
  info.state = PatchStateName(p.state);
  info.reason = p.reason;
  info.faults = p.faults;
  auto pkg = ReadPatchDir(p.dir, /*installed_copy=*/true);
  if (pkg.ok()) {
    for (const auto& d : pkg->manifest.points) {
      info.points.push_back(d.point + " (" + PatchModeName(d.mode) + ")");
    }
  }
  return info;
}

std::vector<PatchInfo> RuntimeImpl::List() {
  std::lock_guard lock(mu_);
  std::vector<PatchInfo> out;
  auto list = store_->List();
  if (!list.ok()) return out;
  for (const auto& p : *list) out.push_back(InfoOf(p));
  return out;
}

std::vector<PointInfo> RuntimeImpl::Points() {
  std::lock_guard lock(mu_);
  std::vector<PointInfo> out;
  for (const auto& [id, core] : points_) {
    PointInfo info{id, core->signature_string(), {}};
    if (auto* chain = static_cast<const Chain*>(core->active.load())) {
      for (const auto* list : {&chain->befores, &chain->replaces, &chain->afters}) {
        for (const auto& e : *list) {
          info.patches.push_back(e.patch->stored.id + " (" + PatchModeName(e.mode) + ")");
        }
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::shared_ptr<Runtime>> OpenRuntime(RuntimeOptions options) {
  auto rt = std::make_shared<RuntimeImpl>(std::move(options));
  Status s = rt->Init();
  if (!s.ok()) return s.error();
  return std::shared_ptr<Runtime>(std::move(rt));
}

}  // namespace internal

Result<std::shared_ptr<Runtime>> Runtime::Open(RuntimeOptions options) {
  return internal::OpenRuntime(std::move(options));
}

std::shared_ptr<Runtime> Runtime::Of(Container& container) {
  return std::dynamic_pointer_cast<Runtime>(container.services().Get<PatchPointRegistry>());
}

namespace internal {

Result<std::shared_ptr<Runtime>> OpenForContainer(Container& container, ArtifactStore* store) {
  RuntimeOptions options;
  options.data_dir = container.data_dir();
  options.trusted_keys = container.app().release_keys;
  options.store = store;
  options.app_id = container.app().id;
  options.app_version = container.app().version;
  // A snapshot of the installed bundle versions, taken when a patch's bundle
  // targets are first checked (an app without patches never pays for it):
  // at open when patches are installed (the opening thread, before any
  // bundle runs), else at the first install of a patch with bundle targets.
  // The snapshot is taken on the first lookup, which the runtime makes
  // before its own lock (WarmBundleVersions): a bundle's Start declares
  // points under the container's lifecycle lock, then takes the runtime's.
  // Bundles installed later are seen at the next launch, which is when a
  // newly installed native bundle takes effect anyway.
  struct Versions {
    std::once_flag once;
    std::map<std::string, Version, std::less<>> map;
  };
  auto versions = std::make_shared<Versions>();
  Container* c = &container;
  options.bundle_version = [versions, c](std::string_view name) -> std::optional<Version> {
    std::call_once(versions->once, [&] {
      for (const BundleStatus& b : c->Bundles()) {
        if (b.state == BundleState::kUnresolved || b.state == BundleState::kInstalled) continue;
        if (auto v = Version::Parse(b.version); v.ok()) {
          versions->map.emplace(b.name, std::move(v).value());
        }
      }
    });
    auto it = versions->map.find(name);
    if (it == versions->map.end()) return std::nullopt;
    return it->second;
  };
  // The patch points the same bundles declare in bundle.json, snapshot
  // likewise.
  struct Points {
    std::once_flag once;
    std::map<std::string, DeclaredPatchPoint, std::less<>> map;
  };
  auto points = std::make_shared<Points>();
  options.declared_point = [points,
                            c](std::string_view point) -> std::optional<DeclaredPatchPoint> {
    std::call_once(points->once, [&] {
      for (const BundleStatus& b : c->Bundles()) {
        if (b.state == BundleState::kUnresolved || b.state == BundleState::kInstalled) continue;
        auto m = c->BundleManifest(b.name);
        if (!m.ok()) continue;
        auto section = m->sections.find("patch_points");
        if (section == m->sections.end()) continue;
        auto doc = ::atrium::internal::ParseStrictJson(section->second, "bundle.json", {});
        if (!doc.ok()) continue;
        auto declared = ReadBundlePatchPoints(*doc, "bundle.json", "/patch_points");
        if (!declared.ok()) continue;  // validated when the bundle was indexed
        for (BundlePatchPoint& p : *declared) {
          points->map.emplace(std::move(p.point),
                              DeclaredPatchPoint{b.name, std::move(p.signature)});
        }
      }
    });
    auto it = points->map.find(point);
    if (it == points->map.end()) return std::nullopt;
    return it->second;
  };
  return Runtime::Open(std::move(options));
}

}  // namespace internal

}  // namespace atrium::hotpatch
