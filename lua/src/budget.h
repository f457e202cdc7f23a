// The per-state budget of a LuaSandbox: the byte-counting allocator, the
// instruction/time count hook and the state the sandbox's C functions share
// across Lua's longjmps.
//
// Concurrency: a Budget belongs to one sandbox and is touched only by the
// thread running it.
#ifndef ATRIUM_LUA_BUDGET_H_
#define ATRIUM_LUA_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <lua.hpp>
#include <string>

#include "atrium/base/clock.h"
#include "atrium/lua/sandbox.h"
#include "atrium/lua/value.h"

namespace atrium::lua::detail {

// Instructions between two hook firings (fewer when the budget is smaller).
inline constexpr int kHookInterval = 1000;

// Work units: the instruction budget counts VM instructions and the work
// the library's C functions do, in units of about one instruction's cost:
// one pattern-matching step, a quarter of a sort comparison, kBytesPerUnit
// bytes allocated, copied or scanned.
inline constexpr uint64_t kBytesPerUnit = 32;
inline constexpr uint64_t kUnitsPerComparison = 4;

// Allocator and hook state of one sandbox; the allocator's user data points
// at it. Invariant: used <= cap.
struct Budget {
  // Allocator.
  size_t cap = 0;
  size_t used = 0;

  // Per-call budget.
  SandboxLimits limits;
  const ::atrium::internal::Clock* clock = nullptr;
  int hook_interval = kHookInterval;
  bool hook_set = false;  // the count hook is set on the state
  bool running = false;
  uint64_t instructions = 0;
  bool clock_started = false;
  int64_t started_ns = 0;
  // Work units charged by C code since the clock was last read.
  uint64_t unclocked_work = 0;
  Fault tripped = Fault::kNone;

  // A host-side push failed for lack of memory: the next PCall reports it.
  bool push_failed = false;

  // Host function results cross the longjmp boundary here (see sandbox.cc,
  // invariant 1).
  LuaValue host_result;
  std::string host_error;

  // SandboxOptions::label, naming print()'s lines in the log.
  std::string label;

  // print() lines emitted in the current call and in the state's life.
  uint32_t printed_this_call = 0;
  uint64_t printed_total = 0;
};

// lua_Alloc refusing to grow past budget->cap (ud: Budget*).
void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize);

// The sandbox's budget, or null for a state not made by LuaSandbox.
Budget* BudgetOf(lua_State* L);

// The count hook: trips the instruction or time budget and, once tripped,
// raises at every firing until the call returns.
void CountHook(lua_State* L, lua_Debug* ar);

// Charges `units` of work done (or about to be done) in C to the running
// call: they count against the instruction budget, and the clock is read
// once at least a hook interval's worth of units accumulated, so C work is
// timed as often as VM instructions are. Never raises: false when the call
// has tripped a budget (now or before). Does nothing outside a call.
bool ChargeWork(Budget* budget, uint64_t units);

// ChargeWork for the sandbox state L; raises the trip (no C++ object with a
// non-trivial destructor may be alive in the caller, sandbox.cc invariant 1).
void ChargeOrRaise(lua_State* L, uint64_t units);

// Raises the budget's tripped fault as a Lua error.
[[noreturn]] void RaiseTripped(lua_State* L, Fault fault);

// "instruction budget exceeded", "time budget exceeded", "not enough memory".
const char* TripMessage(Fault fault);

// Marks a memory error Lua raised inside a pcall of sandboxed code as a
// fault of the whole call. True when the call has tripped (the caller
// re-raises instead of catching).
bool NoteStatus(lua_State* L, int status);

}  // namespace atrium::lua::detail

#endif  // ATRIUM_LUA_BUDGET_H_
