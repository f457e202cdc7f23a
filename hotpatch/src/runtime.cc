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
#include "atrium/container.h"
#include "atrium/hotpatch.h"
#include "atrium/lua/sandbox.h"
#include "atrium/package.h"
#include "atrium/thread_activity.h"
#include "patch_marshal.h"
#include "patch_package.h"
#include "patch_store.h"

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

using lua::Fault;
using lua::FaultName;
using lua::HostFunctionTable;
using lua::LuaSandbox;
using lua::SandboxLimits;

constexpr size_t kMaxArgs = 16;

class RuntimeImpl;

// One enabled patch version as loaded in memory.
struct LoadedPatch {
  uint32_t slot = 0;  // dense index for per-thread sandboxes
  StoredPatch stored;
  std::string activity;  // "lua_patch:<id>", the thread's artifact while it runs
  PatchPackage package;
  SandboxLimits limits;
};

struct ChainEntry {
  const LoadedPatch* patch;
  PatchMode mode;
  std::string function;
  size_t decl;  // index in the patch manifest's points: its function ref slot
};

struct Chain {
  uint64_t generation = 0;
  std::vector<ChainEntry> befores, replaces, afters;
};

class PointCore final : public PatchPointCore {
 public:
  PointCore(RuntimeImpl* rt, std::string id, std::string signature_string)
      : rt_(rt), id_(std::move(id)), signature_string_(std::move(signature_string)) {}
  bool Invoke(std::span<const PatchValue> args, PatchValue* result, std::string* string_storage,
              void** record_storage, const void* point, OriginalThunk original) override;

  const std::string& id() const { return id_; }
  const std::string& signature_string() const { return signature_string_; }
  // Refreshed at each Declare (record types live in the declaring library).
  Signature signature{};
  std::vector<ValueType> params;
  std::vector<const RecordType*> param_records;

 private:
  RuntimeImpl* const rt_;
  const std::string id_;
  const std::string signature_string_;
};

// A call in progress on this thread (for `original`).
struct Frame {
  PointCore* core;
  const Chain* chain;
  size_t replace_index;  // the replace whose `original` this frame serves
  const void* point;
  OriginalThunk native;
  std::list<std::string>* strings;  // stable addresses; no allocation while empty
  std::vector<std::pair<const RecordType*, void*>>* records;
  std::string fault;            // set when `original` failed; the call falls back
  bool fault_recorded = false;  // the fault was an inner patch's, already recorded
};

struct PatchSandbox {
  uint64_t key = 0;  // stored.install_seq of the loaded version
  std::unique_ptr<LuaSandbox> sandbox;
  int env_ref = LUA_NOREF;
  int original_ref = LUA_NOREF;
  std::vector<int> functions;  // registry ref per manifest point declaration
};

struct ThreadState {
  uint64_t runtime_uid = 0;
  uint64_t host_generation = 0;
  std::vector<PatchSandbox> slots;
  std::deque<Frame> frames;  // deque: pushing keeps references to outer frames valid
};

thread_local ThreadState tls_state;
std::atomic<uint64_t> next_runtime_uid{1};

class RuntimeImpl final : public Runtime, public std::enable_shared_from_this<RuntimeImpl> {
 public:
  explicit RuntimeImpl(RuntimeOptions options)
      : options_(std::move(options)), uid_(next_runtime_uid.fetch_add(1)) {}
  ~RuntimeImpl() override {
    for (auto& [id, core] : points_) core->active.store(nullptr);
  }

  Status Init();

  PatchPointCore* Declare(std::string_view id, const Signature& signature) override;
  Status ExposeFunction(std::string_view name, HostFunction fn) override;
  Result<PatchInfo> Install(const std::string& package_path) override;
  Status Enable(std::string_view id) override;
  Status Disable(std::string_view id, std::string_view reason) override;
  Status Rollback(std::string_view id) override;
  Status DisableAll(std::string_view reason) override;
  std::vector<PatchInfo> List() override;
  std::vector<PointInfo> Points() override;

  bool Invoke(PointCore* core, std::span<const PatchValue> args, PatchValue* result,
              std::string* string_storage, void** record_storage, const void* point,
              OriginalThunk original);

 private:
  // Reloads patches_ from the store and republishes every chain. Requires mu_.
  Status ReloadLocked();
  void PublishLocked(PointCore* core);
  Status TargetsMatch(const PatchManifest& m) const;
  PatchInfo InfoOf(const StoredPatch& p) const;
  void RecordFault(const LoadedPatch* patch, const std::string& what);

  ThreadState& Tls();
  PatchSandbox* SandboxFor(ThreadState& ts, const LoadedPatch* patch, std::string* error);
  // Runs one replace (by index) or the native original when index is -1.
  bool CallReplace(ThreadState& ts, Frame& frame, long index, std::span<const PatchValue> args,
                   PatchValue* result, std::string* error);
  static int LuaOriginal(lua_State* L);

  const RuntimeOptions options_;
  const uint64_t uid_;
  std::atomic<uint64_t> host_generation_{1};

  std::mutex mu_;
  std::unique_ptr<ArtifactStore> own_store_;  // when the options name no store
  std::vector<PublicKey> keys_;               // the trusted keys, parsed at Init
  std::unique_ptr<PatchStore> store_;         // guarded by mu_
  std::map<std::string, std::unique_ptr<PointCore>, std::less<>> points_;  // guarded by mu_
  std::vector<std::unique_ptr<LoadedPatch>> patches_;          // enabled, guarded by mu_
  std::vector<std::unique_ptr<LoadedPatch>> retired_patches_;  // kept for in-flight calls
  std::vector<std::unique_ptr<Chain>> chains_;                 // all ever published; guarded by mu_
  uint64_t chain_generation_ = 0;                              // guarded by mu_
  uint32_t next_slot_ = 0;                                     // guarded by mu_
  std::map<uint64_t, uint32_t> slot_of_seq_;                   // guarded by mu_
  std::shared_ptr<HostFunctionTable> host_ = std::make_shared<HostFunctionTable>();  // guarded
};

bool PointCore::Invoke(std::span<const PatchValue> args, PatchValue* result,
                       std::string* string_storage, void** record_storage, const void* point,
                       OriginalThunk original) {
  return rt_->Invoke(this, args, result, string_storage, record_storage, point, original);
}

Status RuntimeImpl::Init() {
  for (const std::string& hex : options_.trusted_keys) {
    Result<PublicKey> key = ParsePublicKeyHex(hex, "trusted key");
    if (!key.ok()) return key.error();
    keys_.push_back(*key);
  }
  ArtifactStore* artifacts = options_.store;
  if (artifacts == nullptr) {
    auto opened = ArtifactStore::Open({options_.data_dir, keys_});
    if (!opened.ok()) return opened.error();
    own_store_ = std::move(opened).value();
    artifacts = own_store_.get();
  }
  auto store = PatchStore::Open(artifacts);
  if (!store.ok()) return store.error();
  std::lock_guard lock(mu_);
  store_ = std::move(store).value();
  return ReloadLocked();
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
    const auto& m = lp->package.manifest;
    lp->limits.memory_bytes = size_t{m.memory_kb} * 1024;
    lp->limits.instructions_per_call = m.instructions;
    lp->limits.time_us_per_call = int64_t{m.time_ms} * 1000;
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
  auto pkg = ReadPatchPackage(**reader);
  if (!pkg.ok()) return pkg.error();
  if (Status t = TargetsMatch(pkg->manifest); !t.ok()) return t.error();
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
  std::lock_guard lock(mu_);
  Status s = store_->SetState(std::string(id), PatchState::kEnabled, "enabled");
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::Disable(std::string_view id, std::string_view reason) {
  std::lock_guard lock(mu_);
  Status s = store_->SetState(std::string(id), PatchState::kDisabled, std::string(reason));
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::Rollback(std::string_view id) {
  std::lock_guard lock(mu_);
  Status s = store_->Rollback(std::string(id), "rolled back");
  return s.ok() ? ReloadLocked() : s;
}

Status RuntimeImpl::DisableAll(std::string_view reason) {
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

void RuntimeImpl::RecordFault(const LoadedPatch* patch, const std::string& what) {
  std::lock_guard lock(mu_);
  auto n = store_->RecordFault(patch->stored.id, what);
  std::fprintf(stderr, "atrium hotpatch: patch %s fault: %s\n", patch->stored.id.c_str(),
               what.c_str());
  if (n.ok() && *n >= patch->package.manifest.max_faults) {
    (void)store_->SetState(patch->stored.id, PatchState::kFailed,
                           "disabled after " + std::to_string(*n) + " faults; last: " + what);
    (void)ReloadLocked();
  }
}

ThreadState& RuntimeImpl::Tls() {
  ThreadState& ts = tls_state;
  uint64_t hg = host_generation_.load(std::memory_order_acquire);
  // Never drop sandboxes under a call in progress on this thread (a host
  // function may call another patched point).
  if ((ts.runtime_uid != uid_ || ts.host_generation != hg) && ts.frames.empty()) {
    ts.slots.clear();
    ts.runtime_uid = uid_;
    ts.host_generation = hg;
  }
  return ts;
}

PatchSandbox* RuntimeImpl::SandboxFor(ThreadState& ts, const LoadedPatch* patch,
                                      std::string* error) {
  if (ts.slots.size() <= patch->slot) ts.slots.resize(patch->slot + 1);
  PatchSandbox& ps = ts.slots[patch->slot];
  if (ps.sandbox && ps.key == patch->stored.install_seq) return &ps;
  ps = PatchSandbox{};
  std::shared_ptr<HostFunctionTable> host;
  {
    std::lock_guard lock(mu_);
    host = host_;
  }
  // The table must outlive the sandbox: keep it in the Lua registry's
  // lifetime by holding it in a static list of tables (tables are tiny and
  // only replaced when the app exposes a new function).
  static std::mutex keep_mu;
  static auto* keep = new std::vector<std::shared_ptr<HostFunctionTable>>();
  {
    std::lock_guard lock(keep_mu);
    if (keep->empty() || keep->back() != host) keep->push_back(host);
  }
  lua::SandboxOptions options;
  options.limits = patch->limits;
  options.host = host.get();
  options.label = "patch";
  auto sb = LuaSandbox::Create(std::move(options));
  if (!sb.ok()) {
    *error = sb.error().message;
    return nullptr;
  }
  auto env = (*sb)->LoadChunk("=" + patch->stored.id, patch->package.source);
  if (!env.ok()) {
    *error = env.error().message;
    return nullptr;
  }
  lua_State* L = (*sb)->L();
  lua_pushlightuserdata(L, this);
  lua_pushcclosure(L, &RuntimeImpl::LuaOriginal, 1);
  ps.original_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  for (const auto& d : patch->package.manifest.points) {
    if (!(*sb)->PushFunction(*env, d.function)) {
      *error = "patch defines no function '" + d.function + "'";
      return nullptr;
    }
    ps.functions.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
  }
  ps.env_ref = *env;
  ps.key = patch->stored.install_seq;
  ps.sandbox = std::move(sb).value();
  return &ps;
}

// Reads `count` values at the top of L as the point's parameters.
bool ReadArgs(lua_State* L, int first, const PointCore& core, PatchValue* out, Frame& frame,
              std::string* error) {
  for (size_t i = 0; i < core.params.size(); ++i) {
    std::string scratch;
    std::string* storage =
        core.params[i] == ValueType::kString ? &frame.strings->emplace_back() : &scratch;
    void* record = nullptr;
    if (!ReadPatchValue(L, first + static_cast<int>(i), core.params[i], core.param_records[i],
                        &out[i], storage, &record, error)) {
      *error = "argument " + std::to_string(i + 1) + ": " + *error;
      return false;
    }
    if (record) frame.records->push_back({core.param_records[i], record});
  }
  return true;
}

bool ReadResult(lua_State* L, int index, const PointCore& core, PatchValue* out, Frame& frame,
                std::string* error) {
  if (core.signature.result == ValueType::kNil) {
    *out = PatchValue{};
    return true;
  }
  std::string scratch;
  std::string* storage =
      core.signature.result == ValueType::kString ? &frame.strings->emplace_back() : &scratch;
  void* record = nullptr;
  if (!ReadPatchValue(L, index, core.signature.result, core.signature.result_record, out, storage,
                      &record, error)) {
    *error = "result: " + *error;
    return false;
  }
  if (record) frame.records->push_back({core.signature.result_record, record});
  return true;
}

int RuntimeImpl::LuaOriginal(lua_State* L) {
  auto* self = static_cast<RuntimeImpl*>(lua_touserdata(L, lua_upvalueindex(1)));
  bool ok = false;
  {
    ThreadState& ts = tls_state;
    if (!ts.frames.empty()) {
      Frame& frame = ts.frames.back();
      PatchValue args[kMaxArgs];
      PatchValue result;
      std::string error;
      const int n = lua_gettop(L);
      if (n != static_cast<int>(frame.core->params.size())) {
        error = "original: expected " + std::to_string(frame.core->params.size()) +
                " arguments, got " + std::to_string(n);
      } else if (ReadArgs(L, 1, *frame.core, args, frame, &error) &&
                 self->CallReplace(ts, frame, static_cast<long>(frame.replace_index) - 1,
                                   std::span<const PatchValue>(args, frame.core->params.size()),
                                   &result, &error)) {
        PushPatchValue(L, result);
        ok = true;
      }
      if (!ok) {
        frame.fault = error;
        // An inner replace that failed recorded its own fault; bad arguments
        // from this patch are this patch's fault.
        frame.fault_recorded = frame.replace_index > 0 && error.rfind("original:", 0) != 0 &&
                               error.rfind("argument", 0) != 0;
        lua_pushlstring(L, error.data(), error.size());
      }
    } else {
      lua_pushstring(L, "original called outside a patched call");
    }
  }
  // C++ objects above are gone: safe to raise.
  if (!ok) return lua_error(L);
  return 1;
}

bool RuntimeImpl::CallReplace(ThreadState& ts, Frame& frame, long index,
                              std::span<const PatchValue> args, PatchValue* result,
                              std::string* error) {
  if (index < 0) {  // the native implementation
    std::string scratch;
    std::string& s = frame.core->signature.result == ValueType::kString
                         ? frame.strings->emplace_back()
                         : scratch;
    void* record = nullptr;
    if (!frame.native(frame.point, args, result, &s, &record)) {
      *error = "original: arguments do not convert to the native types";
      return false;
    }
    if (record) frame.records->push_back({frame.core->signature.result_record, record});
    return true;
  }
  const ChainEntry& e = frame.chain->replaces[static_cast<size_t>(index)];
  PatchSandbox* ps = SandboxFor(ts, e.patch, error);
  if (ps == nullptr) return false;
  lua_State* L = ps->sandbox->L();
  const int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ps->functions[e.decl]);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ps->original_ref);
  for (const auto& a : args) PushPatchValue(L, a);
  // Frame for this replace's `original`.
  ts.frames.push_back(frame);
  ts.frames.back().replace_index = static_cast<size_t>(index);
  ts.frames.back().fault.clear();
  // The crash handler names the patch running on this thread.
  ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
  Fault f = ps->sandbox->PCall(static_cast<int>(args.size()) + 1, 1, error);
  std::string inner_fault = std::move(ts.frames.back().fault);
  const bool inner_recorded = ts.frames.back().fault_recorded;
  ts.frames.pop_back();
  if (f != Fault::kNone) {
    if (!inner_fault.empty()) *error = inner_fault;
    if (!inner_recorded) RecordFault(e.patch, std::string(FaultName(f)) + ": " + *error);
    return false;
  }
  bool ok = ReadResult(L, -1, *frame.core, result, frame, error);
  lua_settop(L, top);
  if (!ok) RecordFault(e.patch, *error);
  return ok;
}

bool RuntimeImpl::Invoke(PointCore* core, std::span<const PatchValue> in, PatchValue* result,
                         std::string* string_storage, void** record_storage, const void* point,
                         OriginalThunk original) {
  const Chain* chain = static_cast<const Chain*>(core->active.load(std::memory_order_acquire));
  if (chain == nullptr || in.size() > kMaxArgs) return false;
  ThreadState& ts = Tls();
  std::list<std::string> strings;
  std::vector<std::pair<const RecordType*, void*>> records;
  Frame frame{core, chain, 0, point, original, &strings, &records, {}};
  std::vector<PatchValue> rewritten;  // only when a `before` replaces the arguments
  std::span<const PatchValue> cur = in;
  PatchValue res;
  bool have_result = false;
  bool ok = true;
  std::string error;

  for (const ChainEntry& e : chain->befores) {
    PatchSandbox* ps = SandboxFor(ts, e.patch, &error);
    if (ps == nullptr) {
      ok = false;
      RecordFault(e.patch, error);
      break;
    }
    lua_State* L = ps->sandbox->L();
    const int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->functions[e.decl]);
    for (const auto& a : cur) PushPatchValue(L, a);
    Fault f;
    {
      ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
      f = ps->sandbox->PCall(static_cast<int>(cur.size()), LUA_MULTRET, &error);
    }
    if (f != Fault::kNone) {
      RecordFault(e.patch, std::string(FaultName(f)) + ": " + error);
      ok = false;
      break;
    }
    const int nres = lua_gettop(L) - top;
    if (nres >= 1 && lua_type(L, top + 1) == LUA_TSTRING) {
      std::string_view tag = lua_tostring(L, top + 1);
      if (tag == "args") {
        rewritten.assign(core->params.size(), PatchValue{});
        if (nres - 1 != static_cast<int>(core->params.size()) ||
            !ReadArgs(L, top + 2, *core, rewritten.data(), frame, &error)) {
          if (error.empty()) {
            error = "before: \"args\" needs " + std::to_string(core->params.size()) + " values";
          }
          ok = false;
        } else {
          cur = std::span<const PatchValue>(rewritten);
        }
      } else if (tag == "result") {
        if (nres != 2 || !ReadResult(L, top + 2, *core, &res, frame, &error)) {
          if (error.empty()) error = "before: \"result\" needs one value";
          ok = false;
        } else {
          have_result = true;
        }
      } else {
        error = "before: unknown directive '" + std::string(tag) + "' (use \"args\" or \"result\")";
        ok = false;
      }
    } else if (nres >= 1 && !lua_isnil(L, top + 1)) {
      error = "before: return nothing, \"args\", ... or \"result\", r";
      ok = false;
    }
    lua_settop(L, top);
    if (!ok) {
      RecordFault(e.patch, error);
      break;
    }
    if (have_result) break;
  }
  if (ok && !have_result) {
    ok = CallReplace(ts, frame, static_cast<long>(chain->replaces.size()) - 1, cur, &res, &error);
  }
  if (ok) {
    for (const ChainEntry& e : chain->afters) {
      PatchSandbox* ps = SandboxFor(ts, e.patch, &error);
      if (ps == nullptr) {
        ok = false;
        RecordFault(e.patch, error);
        break;
      }
      lua_State* L = ps->sandbox->L();
      const int top = lua_gettop(L);
      lua_rawgeti(L, LUA_REGISTRYINDEX, ps->functions[e.decl]);
      PushPatchValue(L, res);
      for (const auto& a : cur) PushPatchValue(L, a);
      Fault f;
      {
        ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
        f = ps->sandbox->PCall(static_cast<int>(cur.size()) + 1, 1, &error);
      }
      if (f != Fault::kNone) {
        RecordFault(e.patch, std::string(FaultName(f)) + ": " + error);
        ok = false;
        break;
      }
      if (!lua_isnil(L, -1)) {
        PatchValue next;
        if (!ReadResult(L, -1, *core, &next, frame, &error)) {
          lua_settop(L, top);
          RecordFault(e.patch, error);
          ok = false;
          break;
        }
        res = next;
      }
      lua_settop(L, top);
    }
  }
  if (ok) {
    // Hand the result over in storage the caller owns.
    if (res.type == ValueType::kString) {
      *string_storage = std::string(res.s);
      res.s = *string_storage;
    } else if (res.type == ValueType::kRecord) {
      // Copy the record out through its field table into a fresh object.
      const RecordType* rt = core->signature.result_record;
      void* obj = rt->create();
      for (size_t i = 0; i < rt->field_count; ++i) {
        rt->fields[i].set(obj, rt->fields[i].get(res.record));
      }
      *record_storage = obj;
      res.record = obj;
    }
    *result = res;
  }
  for (auto& [rt, obj] : records) rt->destroy(obj);
  return ok;
}

}  // namespace

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
  // The runtime must not call back into the container while holding its own
  // lock while a bundle's Start declares points under the container's
  // lifecycle lock; installing patches while bundles start is the host's
  // to avoid. Bundles installed later are seen at the next launch, which is
  // when a newly installed native bundle takes effect anyway.
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
  return Runtime::Open(std::move(options));
}

}  // namespace internal

}  // namespace atrium::hotpatch
