// The hotpatch runtime's private declarations, shared by its two files:
// runtime.cc (the registry of points, the durable patch set, install and
// state changes, publishing chains) and patch_call.cc (the patched call
// path: per-thread sandboxes, marshalling, replace/before/after, faults).
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
#ifndef ATRIUM_HOTPATCH_RUNTIME_IMPL_H_
#define ATRIUM_HOTPATCH_RUNTIME_IMPL_H_

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

namespace atrium::hotpatch::internal {

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
  // The point's types when the chain was published (Declare refreshes the
  // point's own copy under the lock; calls read these, which never change).
  std::vector<ValueType> params;
  std::vector<const RecordType*> param_records;
  ValueType result = ValueType::kNil;
  const RecordType* result_record = nullptr;
  // Replaces only, and the point's arguments and result are scalars (int,
  // double, bool; a nil result): the call takes RuntimeImpl's short path.
  bool scalar_replace = false;
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
  Frame* outer = nullptr;       // the frame below on this thread
};

// Makes `frame` the thread's innermost for its scope. Frames live on the
// C++ stack of the call that pushed them (a patch's `original` runs inside
// that call), so pushing allocates nothing.
class FrameScope {
 public:
  FrameScope(Frame** top, Frame* frame) : top_(top), frame_(frame) {
    frame->outer = *top;
    *top = frame;
  }
  ~FrameScope() { *top_ = frame_->outer; }
  FrameScope(const FrameScope&) = delete;
  FrameScope& operator=(const FrameScope&) = delete;

 private:
  Frame** top_;
  Frame* frame_;
};

struct PatchSandbox {
  uint64_t key = 0;  // stored.install_seq of the loaded version
  std::unique_ptr<LuaSandbox> sandbox;
  int env_ref = LUA_NOREF;
  int original_ref = LUA_NOREF;
  std::vector<int> functions;  // registry ref per manifest point declaration
  // The same functions kept on the state's stack (from first_slot, in
  // declaration order), pushed with lua_pushvalue on each call.
  int first_slot = 0;
  // Per declaration: the function is straight-line (LuaSandbox::IsStraightLine)
  // and runs without the count hook.
  std::vector<lua::CallHook> hooks;
};

struct ThreadState {
  uint64_t runtime_uid = 0;
  uint64_t host_generation = 0;
  std::vector<PatchSandbox> slots;
  Frame* top = nullptr;  // the innermost patched call in progress (FrameScope)
  int depth = 0;         // patched calls in progress (CallDepth): no reset under one
  std::string error;     // the short path's fault text (kept: no string per call)
};

// The calling thread's state. The pointer is constant-initialized, so a
// call reads it without a thread_local init guard; the owner (with the
// destructor that closes the thread's Lua states) is made on first use.
inline thread_local ThreadState* tls_state = nullptr;
// Set once the thread's state is destroyed at its exit (see PointCore::Invoke).
inline thread_local bool tls_state_gone = false;

// Counts a patched call in progress on this thread for its scope: Tls()
// never drops the thread's sandboxes under one (a before, after or a chunk
// loading may reach another patched point through a host function).
class CallDepth {
 public:
  explicit CallDepth(int* depth) : depth_(depth) { ++*depth_; }
  ~CallDepth() { --*depth_; }
  CallDepth(const CallDepth&) = delete;
  CallDepth& operator=(const CallDepth&) = delete;

 private:
  int* depth_;
};
ThreadState& MakeThreadState();
inline ThreadState& CurrentThreadState() {
  ThreadState* ts = tls_state;
  return ts != nullptr ? *ts : MakeThreadState();
}
inline std::atomic<uint64_t> next_runtime_uid{1};

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
  // Runs the host's first bundle-version lookup outside mu_ (see runtime.cc).
  void WarmBundleVersions() const;
  Status TargetsMatch(const PatchManifest& m) const;
  PatchInfo InfoOf(const StoredPatch& p) const;
  void RecordFault(const LoadedPatch* patch, const std::string& what);

  friend class PointCore;  // takes the short path itself

  // The calling thread's state for this runtime: its sandboxes are dropped
  // when another runtime used the thread or the host functions changed
  // (never under a call in progress: a host function may call another
  // patched point).
  ThreadState& Tls() {
    ThreadState& ts = CurrentThreadState();
    const uint64_t hg = host_generation_.load(std::memory_order_acquire);
    if ((ts.runtime_uid != uid_ || ts.host_generation != hg) && ts.depth == 0) {
      ResetThreadState(ts, hg);
    }
    return ts;
  }
  void ResetThreadState(ThreadState& ts, uint64_t host_generation);
  // The thread's sandbox of `patch`, made (its chunk loaded) on first use.
  PatchSandbox* SandboxFor(ThreadState& ts, const LoadedPatch* patch, std::string* error) {
    if (patch->slot < ts.slots.size()) {
      PatchSandbox& ps = ts.slots[patch->slot];
      if (ps.sandbox && ps.key == patch->stored.install_seq) return &ps;
    }
    return MakeSandbox(ts, patch, error);
  }
  PatchSandbox* MakeSandbox(ThreadState& ts, const LoadedPatch* patch, std::string* error);
  // Pushes declaration `decl`'s replace function and `original`.
  static void PushReplace(lua_State* L, const PatchSandbox& ps, size_t decl) {
    lua_pushvalue(L, ps.first_slot + static_cast<int>(decl));
    lua_pushvalue(L, ps.first_slot - 1);
  }
  // Invoke for a chain with scalar_replace: the same semantics with no
  // per-call containers (scalars need no string or record storage).
  bool InvokeScalarReplace(ThreadState& ts, PointCore* core, const Chain* chain,
                           std::span<const PatchValue> args, PatchValue* result, const void* point,
                           OriginalThunk original);
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

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_RUNTIME_IMPL_H_
