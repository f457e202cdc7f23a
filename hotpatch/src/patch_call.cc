// The patched call path: a point's published chain run on the calling
// thread, with per-thread sandboxes per patch, the marshalling of arguments
// and results, replace / before / after, the `original` frames, and faults
// recorded against the patch. Its lock-free invariants are in
// runtime_impl.h.
#include "runtime_impl.h"

namespace atrium::hotpatch::internal {
namespace {

// Reads `count` values at the top of L as the point's parameters.
bool ReadArgs(lua_State* L, int first, const Chain& types, PatchValue* out, Frame& frame,
              std::string* error) {
  for (size_t i = 0; i < types.params.size(); ++i) {
    if (ReadScalarPatchValue(L, first + static_cast<int>(i), types.params[i], &out[i])) continue;
    std::string scratch;
    std::string* storage =
        types.params[i] == ValueType::kString ? &frame.strings->emplace_back() : &scratch;
    void* record = nullptr;
    if (!ReadPatchValue(L, first + static_cast<int>(i), types.params[i], types.param_records[i],
                        &out[i], storage, &record, error)) {
      *error = "argument " + std::to_string(i + 1) + ": " + *error;
      return false;
    }
    if (record) frame.records->push_back({types.param_records[i], record});
  }
  return true;
}

bool ReadResult(lua_State* L, int index, const Chain& types, PatchValue* out, Frame& frame,
                std::string* error) {
  if (types.result == ValueType::kNil) {
    *out = PatchValue{};
    return true;
  }
  if (ReadScalarPatchValue(L, index, types.result, out)) return true;
  std::string scratch;
  std::string* storage =
      types.result == ValueType::kString ? &frame.strings->emplace_back() : &scratch;
  void* record = nullptr;
  if (!ReadPatchValue(L, index, types.result, types.result_record, out, storage, &record, error)) {
    *error = "result: " + *error;
    return false;
  }
  if (record) frame.records->push_back({types.result_record, record});
  return true;
}

}  // namespace

bool PointCore::Invoke(std::span<const PatchValue> args, PatchValue* result,
                       std::string* string_storage, void** record_storage, const void* point,
                       OriginalThunk original) {
  if (tls_state_gone) return false;  // a call from a thread's exit: the original runs
  const Chain* chain = static_cast<const Chain*>(active.load(std::memory_order_acquire));
  if (chain != nullptr && chain->scalar_replace && args.size() <= kMaxArgs) {
    return rt_->InvokeScalarReplace(rt_->Tls(), this, chain, args, result, point, original);
  }
  return rt_->Invoke(this, args, result, string_storage, record_storage, point, original);
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

ThreadState& MakeThreadState() {
  // Destroyed at thread exit; the pointer is cleared first so nothing on
  // this thread uses the state while it goes.
  struct Owner {
    ThreadState state;
    ~Owner() {
      tls_state = nullptr;
      tls_state_gone = true;  // later calls on this thread run the original
    }
  };
  static thread_local Owner owner;
  tls_state = &owner.state;
  return owner.state;
}

void RuntimeImpl::ResetThreadState(ThreadState& ts, uint64_t host_generation) {
  ts.slots.clear();
  ts.runtime_uid = uid_;
  ts.host_generation = host_generation;
}

PatchSandbox* RuntimeImpl::MakeSandbox(ThreadState& ts, const LoadedPatch* patch,
                                       std::string* error) {
  if (ts.slots.size() <= patch->slot) ts.slots.resize(patch->slot + 1);
  {
    PatchSandbox& existing = ts.slots[patch->slot];
    if (existing.sandbox && existing.key == patch->stored.install_seq) return &existing;
  }
  // Built aside and moved into its slot at the end: the chunk's top-level
  // code may reach another patched point, whose sandbox may grow ts.slots.
  PatchSandbox ps;
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
  options.label = "lua_patch:" + patch->stored.id;
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
    ps.hooks.push_back((*sb)->IsStraightLine(-1) ? lua::CallHook::kStraightLine
                                                 : lua::CallHook::kCounted);
    ps.functions.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
  }
  // The functions and `original` stay on the stack for the state's life:
  // `original` at first_slot - 1, then one slot per declaration.
  const size_t count = ps.functions.size();
  if (!lua_checkstack(L, static_cast<int>(count + kMaxArgs) + 8)) {
    *error = "not enough memory for the patch's stack";
    return nullptr;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, ps.original_ref);
  ps.first_slot = lua_gettop(L) + 1;
  for (int ref : ps.functions) lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  ps.env_ref = *env;
  ps.key = patch->stored.install_seq;
  ps.sandbox = std::move(sb).value();
  if (ts.slots.size() <= patch->slot) ts.slots.resize(patch->slot + 1);
  ts.slots[patch->slot] = std::move(ps);
  return &ts.slots[patch->slot];
}

int RuntimeImpl::LuaOriginal(lua_State* L) {
  auto* self = static_cast<RuntimeImpl*>(lua_touserdata(L, lua_upvalueindex(1)));
  bool ok = false;
  {
    ThreadState& ts = CurrentThreadState();
    if (ts.top != nullptr) {
      Frame& frame = *ts.top;
      PatchValue args[kMaxArgs];
      PatchValue result;
      std::string error;
      const int n = lua_gettop(L);
      if (n != static_cast<int>(frame.chain->params.size())) {
        error = "original: expected " + std::to_string(frame.chain->params.size()) +
                " arguments, got " + std::to_string(n);
      } else if (ReadArgs(L, 1, *frame.chain, args, frame, &error) &&
                 self->CallReplace(ts, frame, static_cast<long>(frame.replace_index) - 1,
                                   std::span<const PatchValue>(args, frame.chain->params.size()),
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
    std::string& s =
        frame.chain->result == ValueType::kString ? frame.strings->emplace_back() : scratch;
    void* record = nullptr;
    if (!frame.native(frame.point, args, result, &s, &record)) {
      *error = "original: arguments do not convert to the native types";
      return false;
    }
    if (record) frame.records->push_back({frame.chain->result_record, record});
    return true;
  }
  const ChainEntry& e = frame.chain->replaces[static_cast<size_t>(index)];
  PatchSandbox* ps = SandboxFor(ts, e.patch, error);
  if (ps == nullptr) {
    RecordFault(e.patch, "load: " + *error);  // like a before or after that fails to load
    return false;
  }
  lua_State* L = ps->sandbox->L();
  const int top = lua_gettop(L);
  PushReplace(L, *ps, e.decl);
  for (const auto& a : args) PushPatchValue(L, a);
  // Frame for this replace's `original`.
  Frame inner{frame.core,
              frame.chain,
              static_cast<size_t>(index),
              frame.point,
              frame.native,
              frame.strings,
              frame.records,
              {}};
  Fault f;
  {
    FrameScope scope(&ts.top, &inner);
    // The crash handler names the patch running on this thread.
    ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
    f = ps->sandbox->PCall(static_cast<int>(args.size()) + 1, 1, error, ps->hooks[e.decl]);
  }
  if (f != Fault::kNone) {
    if (!inner.fault.empty()) *error = std::move(inner.fault);
    if (!inner.fault_recorded) RecordFault(e.patch, std::string(FaultName(f)) + ": " + *error);
    return false;
  }
  bool ok = ReadResult(L, -1, *frame.chain, result, frame, error);
  lua_settop(L, top);
  if (!ok) RecordFault(e.patch, *error);
  return ok;
}

bool RuntimeImpl::InvokeScalarReplace(ThreadState& ts, PointCore* core, const Chain* chain,
                                      std::span<const PatchValue> args, PatchValue* result,
                                      const void* point, OriginalThunk original) {
  CallDepth depth(&ts.depth);
  const size_t index = chain->replaces.size() - 1;
  const ChainEntry& e = chain->replaces[index];
  std::string& error = ts.error;  // written only on a fault: no string made per call
  PatchSandbox* ps = SandboxFor(ts, e.patch, &error);
  if (ps == nullptr) {
    RecordFault(e.patch, "load: " + error);
    return false;
  }
  lua_State* L = ps->sandbox->L();
  const int top = lua_gettop(L);
  PushReplace(L, *ps, e.decl);
  for (const PatchValue& a : args) PushPatchValue(L, a);
  // The frame `original` uses. With scalar arguments and result nothing on
  // this call reads or stores a string or record (ReadArgs, ReadResult and
  // CallReplace's native call take their scalar branches), so the frame
  // has no storage for them.
  Frame frame{core, chain, index, point, original, nullptr, nullptr, {}};
  Fault f;
  {
    FrameScope scope(&ts.top, &frame);
    ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
    f = ps->sandbox->PCall(static_cast<int>(args.size()) + 1, 1, &error, ps->hooks[e.decl]);
  }
  if (f != Fault::kNone) {
    if (!frame.fault.empty()) error = std::move(frame.fault);
    if (!frame.fault_recorded) RecordFault(e.patch, std::string(FaultName(f)) + ": " + error);
    return false;
  }
  const ValueType type = chain->result;
  bool ok = true;
  if (type == ValueType::kNil) {
    *result = PatchValue{};
  } else if (!ReadScalarPatchValue(L, -1, type, result)) {
    // Not the type: ReadPatchValue names what it got.
    std::string unused;
    void* no_record = nullptr;
    ok = ReadPatchValue(L, -1, type, nullptr, result, &unused, &no_record, &error);
    if (!ok) error = "result: " + error;
  }
  lua_settop(L, top);
  if (!ok) RecordFault(e.patch, error);
  return ok;
}

bool RuntimeImpl::Invoke(PointCore* core, std::span<const PatchValue> in, PatchValue* result,
                         std::string* string_storage, void** record_storage, const void* point,
                         OriginalThunk original) {
  const Chain* chain = static_cast<const Chain*>(core->active.load(std::memory_order_acquire));
  if (chain == nullptr || in.size() > kMaxArgs) return false;
  ThreadState& ts = Tls();  // a scalar_replace chain took PointCore::Invoke's short path
  CallDepth depth(&ts.depth);
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
    lua_pushvalue(L, ps->first_slot + static_cast<int>(e.decl));
    for (const auto& a : cur) PushPatchValue(L, a);
    Fault f;
    {
      ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
      f = ps->sandbox->PCall(static_cast<int>(cur.size()), LUA_MULTRET, &error, ps->hooks[e.decl]);
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
        rewritten.assign(chain->params.size(), PatchValue{});
        if (nres - 1 != static_cast<int>(chain->params.size()) ||
            !ReadArgs(L, top + 2, *chain, rewritten.data(), frame, &error)) {
          if (error.empty()) {
            error = "before: \"args\" needs " + std::to_string(chain->params.size()) + " values";
          }
          ok = false;
        } else {
          cur = std::span<const PatchValue>(rewritten);
        }
      } else if (tag == "result") {
        if (nres != 2 || !ReadResult(L, top + 2, *chain, &res, frame, &error)) {
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
      lua_pushvalue(L, ps->first_slot + static_cast<int>(e.decl));
      PushPatchValue(L, res);
      for (const auto& a : cur) PushPatchValue(L, a);
      Fault f;
      {
        ActivityScope activity(ActivityField::kArtifact, e.patch->activity);
        f = ps->sandbox->PCall(static_cast<int>(cur.size()) + 1, 1, &error, ps->hooks[e.decl]);
      }
      if (f != Fault::kNone) {
        RecordFault(e.patch, std::string(FaultName(f)) + ": " + error);
        ok = false;
        break;
      }
      if (!lua_isnil(L, -1)) {
        PatchValue next;
        if (!ReadResult(L, -1, *chain, &next, frame, &error)) {
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
      const RecordType* rt = chain->result_record;
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

}  // namespace atrium::hotpatch::internal
