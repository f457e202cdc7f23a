// LuaSandbox: one Lua 5.4 state locked down for running hotpatches.
//
// What a patch can reach: the base functions that cannot escape (assert,
// error, ipairs, pairs, next, select, tonumber, tostring, type, pcall,
// xpcall, rawequal, rawget, rawset, rawlen, setmetatable, getmetatable,
// print -> host log), the `string` (without string.dump), `table`, `math`
// (math.random seeded per state) and `utf8` libraries, and the `host` table
// of allow-listed functions the app exposes. Not reachable: io, os, debug,
// package/require, load/loadfile/dofile, collectgarbage, string.dump,
// coroutine (kept out: yields across the C boundary). Chunks are loaded as
// text only ("t" mode); binary chunks are refused.
//
// Limits, per state: memory (a custom lua_Alloc refuses to grow past the
// cap: the patch sees "not enough memory"), and per call an instruction
// budget and a wall-clock budget, both enforced by a count hook (the clock
// is read only when the hook fires, so short calls never read it).
//
// Concurrency: a LuaSandbox is used by one thread at a time (the hotpatch
// runtime keeps one per thread); nothing in it is shared.
#ifndef ATRIUM_HOTPATCH_LUA_SANDBOX_H_
#define ATRIUM_HOTPATCH_LUA_SANDBOX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atrium/hotpatch.h"
#include "atrium/patch_point.h"
#include "atrium/result.h"

struct lua_State;

namespace atrium::hotpatch::internal {

// Owning values and host functions are the public ones (atrium/hotpatch.h).
using HostValue = ::atrium::hotpatch::HostValue;
using HostFunction = ::atrium::hotpatch::HostFunction;
using HostFunctionTable = std::map<std::string, HostFunction, std::less<>>;

struct SandboxLimits {
  size_t memory_bytes = 1u << 20;            // per state
  uint64_t instructions_per_call = 1000000;  // VM instructions
  int64_t time_us_per_call = 50000;          // wall clock
};

enum class Fault { kNone, kError, kMemory, kInstructions, kTime };
const char* FaultName(Fault fault);

class LuaSandbox {
 public:
  // `host` must outlive the sandbox (may be null: no host table).
  static Result<std::unique_ptr<LuaSandbox>> Create(const SandboxLimits& limits,
                                                    const HostFunctionTable* host);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  lua_State* L() const { return L_; }

  // Compiles `source` (text only) named `chunk_name` and runs it once in a
  // fresh environment table whose __index is the safe globals, under the
  // per-call budget. Returns a registry reference (luaL_ref) to that
  // environment; the patch's functions are its fields.
  Result<int> LoadChunk(std::string_view chunk_name, std::string_view source);

  // Pushes environment `env_ref`'s field `name` if it is a function and
  // returns true; pushes nothing and returns false otherwise.
  bool PushFunction(int env_ref, std::string_view name);

  // lua_pcall(nargs, nresults) under the per-call budget (instructions and
  // time reset at each call). On a fault the error value is popped, a
  // message written to *message, and the stack is as before the function
  // and its arguments were pushed.
  Fault PCall(int nargs, int nresults, std::string* message);

  // Value conversion. Push: records become tables of their fields.
  static void Push(lua_State* L, const PatchValue& value);
  // Reads stack slot `index` as `expected` (and `record` for kRecord; a
  // kDouble accepts integers; a kInt accepts floats with an exact integer
  // value). Strings are copied into *string_storage (the PatchValue views
  // it); a record is created with record->create into *record_storage (the
  // caller owns it). False with *error naming the expected and actual type.
  static bool Read(lua_State* L, int index, ValueType expected, const RecordType* record,
                   PatchValue* out, std::string* string_storage, void** record_storage,
                   std::string* error);

  size_t memory_used() const;
  const SandboxLimits& limits() const { return limits_; }

 private:
  LuaSandbox() = default;
  lua_State* L_ = nullptr;
  SandboxLimits limits_;
  struct Budget;  // allocator and hook state
  std::unique_ptr<Budget> budget_;
};

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_LUA_SANDBOX_H_
