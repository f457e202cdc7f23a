// LuaSandbox: one Lua 5.4 state locked down for running code the host does
// not trust (hotpatches, template logic).
//
// What sandboxed code can reach: the standard libraries its user allows
// (StandardLibraries; all five by default) in their safe form, and the
// `host` table of the host functions its user passes:
//  - base: assert, error, ipairs, pairs, next, select, tonumber, tostring,
//    type, pcall, xpcall, rawequal, rawget, rawset, rawlen, setmetatable,
//    getmetatable, _VERSION, print (-> host.log, else the runtime's log at
//    info level; 1 KiB per line, 20 lines per call, 1,000 per state);
//  - string (without string.dump; find/match/gmatch/gsub by the sandbox's
//    own metered matcher), table (sort, insert, remove, move, concat and
//    unpack metered), math (math.random seeded per state), utf8.
// Never reachable, whatever the user allows: io, os, debug, package/require,
// load/loadfile/dofile, collectgarbage, string.dump, coroutine (yields
// across the C boundary), warn. Chunks are loaded as text only ("t" mode);
// binary chunks are refused. Each chunk runs in its own environment; the
// library tables and `host` are read-only proxies.
//
// Limits, per state: memory (a custom lua_Alloc refuses to grow past the
// cap: the code sees "not enough memory"), and per call an instruction
// budget and a wall-clock budget, enforced by a count hook and by the
// library's C functions, which charge their work (pattern steps, sort
// comparisons, elements moved, bytes allocated) as work units against the
// instruction budget and read the clock as often as the hook does; pcall
// and xpcall cannot swallow an exceeded budget. Time is read from the
// injected Clock (SteadyNs) once per 1,000 work units, so short calls never
// read it.
//
// Concurrency: a LuaSandbox is used by one thread at a time (a user that
// runs Lua on several threads keeps one sandbox per thread); nothing in it
// is shared. The host function table and the clock are shared read-only.
#ifndef ATRIUM_LUA_SANDBOX_H_
#define ATRIUM_LUA_SANDBOX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "atrium/base/clock.h"
#include "atrium/lua/value.h"
#include "atrium/result.h"

struct lua_State;

namespace atrium::lua {

// The safe standard libraries a sandbox opens. The unsafe ones have no
// member here: no use can ask for them.
enum class StandardLibrary : uint8_t { kBase, kString, kTable, kMath, kUtf8 };

// A set of StandardLibrary, e.g.
//   StandardLibraries::None().With(StandardLibrary::kMath)
class StandardLibraries {
 public:
  static constexpr StandardLibraries All() { return StandardLibraries(0x1f); }
  static constexpr StandardLibraries None() { return StandardLibraries(0); }
  constexpr StandardLibraries() = default;  // All()

  constexpr StandardLibraries With(StandardLibrary lib) const {
    return StandardLibraries(static_cast<uint8_t>(bits_ | Bit(lib)));
  }
  constexpr StandardLibraries Without(StandardLibrary lib) const {
    return StandardLibraries(static_cast<uint8_t>(bits_ & ~Bit(lib)));
  }
  constexpr bool Has(StandardLibrary lib) const { return (bits_ & Bit(lib)) != 0; }

 private:
  constexpr explicit StandardLibraries(uint8_t bits) : bits_(bits) {}
  static constexpr uint8_t Bit(StandardLibrary lib) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(lib));
  }
  uint8_t bits_ = 0x1f;
};

struct SandboxLimits {
  size_t memory_bytes = 1u << 20;            // per state
  uint64_t instructions_per_call = 1000000;  // work units (VM instructions and C work)
  int64_t time_us_per_call = 50000;          // wall clock, read from the Clock
};

struct SandboxOptions {
  SandboxLimits limits;
  StandardLibraries libraries;
  // host.<name> functions; null: no `host` table. host->at("log"), when
  // present, receives print()'s lines. Must outlive the sandbox.
  const HostFunctionTable* host = nullptr;
  // Where the time budget reads time; null: RealClock(). Must outlive the
  // sandbox.
  const ::atrium::internal::Clock* clock = nullptr;
  // Names the sandbox's user in the log lines print() writes when there is
  // no host.log.
  std::string label = "lua";
};

enum class Fault { kNone, kError, kMemory, kInstructions, kTime };
// "none", "error", "memory", "instructions", "time".
const char* FaultName(Fault fault);

// How PCall meters a call (see LuaSandbox::IsStraightLine).
enum class CallHook { kCounted, kStraightLine };

class LuaSandbox {
 public:
  static Result<std::unique_ptr<LuaSandbox>> Create(SandboxOptions options);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // For marshalling values to and from the stack; the user keeps the stack
  // balanced and calls only non-raising Lua APIs on it outside PCall (an
  // allocating push goes through PushGuarded).
  lua_State* L() const { return L_; }

  // Compiles `source` (text only) named `chunk_name` and runs it once in a
  // fresh environment table whose __index is the safe globals, under the
  // per-call budget. Returns a registry reference (luaL_ref) to that
  // environment; the chunk's functions are its fields. A chunk that does
  // not compile is kParse; a fault while it runs is kActivation with
  // "<fault name>: <message>".
  Result<int> LoadChunk(std::string_view chunk_name, std::string_view source);

  // Pushes environment `env_ref`'s own field `name` if it is a function and
  // returns true; pushes nothing and returns false otherwise.
  bool PushFunction(int env_ref, std::string_view name);

  // True when the function at `index` is straight-line Lua code shorter
  // than the count hook's interval: no loop, call, upvalue, global or table
  // access, closure, string constant or varargs (lua/src/bytecode.h). A
  // call of it cannot reach the count hook, so PCall may run it with
  // CallHook::kStraightLine. Reads the function's code (lua_dump); call it
  // once per function, not per call.
  bool IsStraightLine(int index);

  // lua_pcall(nargs, nresults) under the per-call budget (instructions and
  // time reset at each call). On a fault the error value is popped, a
  // message written to *message, and the stack is as before the function
  // and its arguments were pushed. A push that failed for lack of memory
  // since PushFunction is reported here as a memory fault.
  // kStraightLine runs the call without the count hook; only for a function
  // IsStraightLine accepted (the memory cap, and the work the allocator
  // charges, still apply).
  Fault PCall(int nargs, int nresults, std::string* message, CallHook hook = CallHook::kCounted);

  // Pushes one value, in a slot the caller ensured (lua_checkstack).
  static void Push(lua_State* L, const LuaValue& value);
  // Runs `push` (which pushes exactly one value and may allocate, so may
  // raise) protected. When it fails for lack of memory, nil is pushed
  // instead and the next PCall of the sandbox owning L is a memory fault.
  // `push` receives `data` as a light userdata at stack index 1.
  static void PushGuarded(lua_State* L, int (*push)(lua_State* L), const void* data);
  // Reads stack slot `index` as a LuaValue; false with *error for a table,
  // function, userdata or thread.
  static bool Read(lua_State* L, int index, LuaValue* out, std::string* error);

  size_t memory_used() const;
  const SandboxLimits& limits() const;

 private:
  LuaSandbox() = default;
  struct Budget;  // allocator, hook and host call state
  lua_State* L_ = nullptr;
  std::unique_ptr<Budget> budget_;
};

}  // namespace atrium::lua

#endif  // ATRIUM_LUA_SANDBOX_H_
