// LuaSandbox implementation: a Lua 5.4 state with an allow-listed library
// set, a byte-counting allocator and an instruction/time count hook.
//
// Concurrency: as the header says, one thread at a time per sandbox; the
// functions here keep no global mutable state (the static keys below are
// only used for their addresses).
//
// Invariants this file relies on:
//  1. Liblua5.4 is a C build: Lua errors are longjmps. Every function Lua
//     can call (and every function that calls a raising Lua API) keeps no
//     C++ object with a non-trivial destructor alive across a call that may
//     raise; data crossing such a point lives in Budget (heap, owned by the
//     sandbox) or in trivially destructible locals.
//  2. Host-side entry points (LoadChunk, PushFunction, Push, PCall) never
//     call an allocating Lua API outside a protected call, so hitting the
//     memory cap is reported as a fault instead of reaching the panic
//     handler (which aborts).
//  3. No patch code runs with hooks off. Lua turns hooks off while a hook
//     runs (and leaves them off while the message handler of an error the
//     hook raised runs) and while __gc finalizers run, so: setmetatable
//     refuses metatables with __gc, and xpcall's handler is skipped once
//     the budget is exceeded.
//  4. Once a call exceeds its budget (instructions, time, or a memory error
//     Lua raised), `tripped` stays set until the call returns: the hook
//     raises at every firing and the pcall/xpcall wrappers re-raise instead
//     of catching, so a patch cannot swallow the fault.
//  5. Patches cannot write state another patch sees: globals go to the
//     chunk's own environment; the shared globals table is reachable only
//     through the environment's locked metatable; the library tables and
//     `host` are read-only proxies (rawset refuses them); the string
//     metatable is locked.
#include "lua_sandbox.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <lua.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atrium::hotpatch::internal {

namespace {

using Clock = std::chrono::steady_clock;

// Instructions between two hook firings (fewer when the budget is smaller).
constexpr int kHookInterval = 1000;
// Bytes of a patch's print() line and of a fault message kept.
constexpr size_t kMaxPrintBytes = 1024;
constexpr size_t kMaxMessageBytes = 4096;

// Registry and metatable keys (addresses only).
const char kEnvMetatableKey = 0;
const char kProxyMarkKey = 0;

// Base functions patches keep (setmetatable and rawset are then wrapped;
// pcall, xpcall and print are replaced).
const char* const kBaseAllowList[] = {"assert",       "error",    "ipairs",       "pairs",
                                      "next",         "select",   "tonumber",     "tostring",
                                      "type",         "rawequal", "rawget",       "rawlen",
                                      "getmetatable", "_VERSION", "setmetatable", "rawset"};

// Allocator and hook state of one sandbox (LuaSandbox::Budget is this;
// the allocator's user data points at it).
struct SandboxBudget {
  // Allocator (invariant: used <= cap).
  size_t cap = 0;
  size_t used = 0;

  // Per-call budget.
  uint64_t instruction_limit = 0;
  int64_t time_limit_us = 0;
  int hook_interval = kHookInterval;
  bool running = false;
  uint64_t instructions = 0;
  bool clock_started = false;
  Clock::time_point started;
  Fault tripped = Fault::kNone;

  // A host-side push failed for lack of memory: the next PCall reports it.
  bool push_failed = false;

  // Host function results cross the longjmp boundary here (invariant 1).
  HostValue host_result;
  std::string host_error;
};
using Budget = SandboxBudget;

void* CappedAlloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* budget = static_cast<Budget*>(ud);
  const size_t old_size = ptr != nullptr ? osize : 0;  // else osize is a type tag
  if (nsize == 0) {
    std::free(ptr);
    budget->used -= old_size;
    return nullptr;
  }
  if (nsize > old_size && nsize - old_size > budget->cap - budget->used) return nullptr;
  void* block = std::realloc(ptr, nsize);
  if (block == nullptr) return nullptr;
  budget->used = budget->used - old_size + nsize;
  return block;
}

// The sandbox's budget, or null for a state not made by LuaSandbox.
Budget* BudgetOf(lua_State* L) {
  void* ud = nullptr;
  if (lua_getallocf(L, &ud) != &CappedAlloc) return nullptr;
  return static_cast<Budget*>(ud);
}

int Panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  std::fprintf(stderr, "atrium: hotpatch: unprotected Lua error: %s\n",
               message != nullptr ? message : "(not a string)");
  std::abort();
}

const char* TripMessage(Fault fault) {
  switch (fault) {
    case Fault::kInstructions:
      return "instruction budget exceeded";
    case Fault::kTime:
      return "time budget exceeded";
    case Fault::kMemory:
      return "not enough memory";
    default:
      return "budget exceeded";
  }
}

[[noreturn]] void RaiseTripped(lua_State* L, Fault fault) {
  lua_pushstring(L, TripMessage(fault));
  lua_error(L);
  std::abort();  // lua_error does not return
}

void CountHook(lua_State* L, lua_Debug* /*ar*/) {
  Budget* budget = BudgetOf(L);
  if (budget == nullptr || !budget->running) return;
  if (budget->tripped == Fault::kNone) {
    budget->instructions += static_cast<uint64_t>(budget->hook_interval);
    if (budget->instructions > budget->instruction_limit) {
      budget->tripped = Fault::kInstructions;
    } else if (!budget->clock_started) {
      budget->clock_started = true;
      budget->started = Clock::now();
    } else {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - budget->started);
      if (elapsed.count() > budget->time_limit_us) budget->tripped = Fault::kTime;
    }
  }
  if (budget->tripped != Fault::kNone) RaiseTripped(L, budget->tripped);
}

// Marks a memory error Lua raised inside a patch's pcall as a fault of the
// whole call (invariant 4). True when the call has tripped.
bool NoteStatus(lua_State* L, int status) {
  Budget* budget = BudgetOf(L);
  if (budget == nullptr) return false;
  if (status == LUA_ERRMEM && budget->running && budget->tripped == Fault::kNone) {
    budget->tripped = Fault::kMemory;
  }
  return budget->tripped != Fault::kNone;
}

// Wraps the real function in upvalue 1: calls it with all arguments.
int CallUpvalue(lua_State* L, int nresults) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, nresults);
  return nresults == LUA_MULTRET ? lua_gettop(L) : nresults;
}

// pcall(f, ...): as the base one, but a tripped budget is re-raised.
int SafePcall(lua_State* L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  const int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (NoteStatus(L, status)) return lua_error(L);
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_replace(L, 1);
    return 2;
  }
  return lua_gettop(L);
}

// Message handler wrapper: once the budget is exceeded (hooks may be off
// here) the patch's handler is skipped.
int GuardedHandler(lua_State* L) {
  Budget* budget = BudgetOf(L);
  if (budget != nullptr && budget->tripped != Fault::kNone) return 1;
  lua_settop(L, 1);
  return CallUpvalue(L, 1);
}

// xpcall(f, handler, ...).
int SafeXpcall(lua_State* L) {
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, GuardedHandler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // f, handler, true, f, args...
  const int status = lua_pcall(L, lua_gettop(L) - 4, LUA_MULTRET, 2);
  if (NoteStatus(L, status)) return lua_error(L);
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_replace(L, 3);
    return 2;
  }
  return lua_gettop(L) - 2;
}

// setmetatable(t, mt): refuses __gc (finalizers run with hooks off).
int SafeSetmetatable(lua_State* L) {
  lua_settop(L, 2);
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return luaL_error(L, "setmetatable: __gc metamethods are not allowed in patches");
    }
    lua_pop(L, 1);
  }
  return CallUpvalue(L, 1);
}

bool IsProxy(lua_State* L, int index) {
  if (!lua_getmetatable(L, index)) return false;
  const bool proxy = lua_rawgetp(L, -1, &kProxyMarkKey) != LUA_TNIL;
  lua_pop(L, 2);
  return proxy;
}

// rawset(t, k, v): refuses the read-only library proxies.
int SafeRawset(lua_State* L) {
  lua_settop(L, 3);
  if (lua_type(L, 1) == LUA_TTABLE && IsProxy(L, 1)) {
    return luaL_error(L, "rawset: table is read-only");
  }
  return CallUpvalue(L, 1);
}

// string.rep(s, n, sep): an empty result is built without looping n times.
int SafeRep(lua_State* L) {
  size_t length = 0;
  size_t sep_length = 0;
  luaL_checklstring(L, 1, &length);
  const lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &sep_length);
  if (n <= 0 || length + sep_length == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  return CallUpvalue(L, 1);
}

// string.find/match/gmatch/gsub: Lua's matcher backtracks in C, where no
// hook runs, so its work is bounded up front. A pattern with q quantifiers
// costs up to about n^(q+1) steps on an n-byte subject; matching is refused
// when that bound passes ~1e8 (e.g. one quantifier: 10,000 bytes; two: 464).
// Plain find (4th argument true) and quantifier-free patterns are linear.
int SafePattern(lua_State* L) {
  size_t n = 0, plen = 0;
  luaL_checklstring(L, 1, &n);
  const char* pattern = luaL_checklstring(L, 2, &plen);
  const bool plain = lua_toboolean(L, 4) && lua_tointeger(L, lua_upvalueindex(2)) == 1;
  if (!plain) {
    int quantifiers = 0;
    for (size_t i = 0; i < plen; ++i) {
      if (pattern[i] == '%') {
        ++i;
      } else if (pattern[i] == '*' || pattern[i] == '+' || pattern[i] == '-' || pattern[i] == '?') {
        ++quantifiers;
      }
    }
    double cost = 1;
    for (int k = 0; k <= quantifiers && cost <= 1e8; ++k) cost *= static_cast<double>(n);
    if (quantifiers > 0 && cost > 1e8) {
      return luaL_error(L,
                        "pattern with %d quantifier(s) on a %d-byte string is too expensive "
                        "for a patch",
                        quantifiers, static_cast<int>(n));
    }
  }
  return CallUpvalue(L, LUA_MULTRET);
}

// Upvalue 2 of the table wrappers: the largest element count a C loop of
// the table library may walk (no real table in the cap can be longer).
lua_Integer LoopLimit(lua_State* L) { return lua_tointeger(L, lua_upvalueindex(2)); }

// table.move(a1, f, e, t [,a2]): the range is bounded.
int SafeMove(lua_State* L) {
  const lua_Integer first = luaL_checkinteger(L, 2);
  const lua_Integer last = luaL_checkinteger(L, 3);
  if (last >= first && static_cast<lua_Unsigned>(last) - static_cast<lua_Unsigned>(first) >=
                           static_cast<lua_Unsigned>(LoopLimit(L))) {
    return luaL_error(L, "table.move: too many elements");
  }
  return CallUpvalue(L, LUA_MULTRET);
}

// table.insert / table.remove: a __len metamethod cannot make them loop
// over a length no table in the cap could have.
int SafeShift(lua_State* L) {
  if (lua_type(L, 1) == LUA_TTABLE && luaL_getmetafield(L, 1, "__len") != LUA_TNIL) {
    lua_pop(L, 1);
    const lua_Integer length = luaL_len(L, 1);
    if (length > LoopLimit(L)) return luaL_error(L, "table: length %I too large", length);
  }
  return CallUpvalue(L, LUA_MULTRET);
}

// Read-only proxy metamethods (upvalue 1: the real table or the name).
int ReadOnlyNewindex(lua_State* L) {
  return luaL_error(L, "%s is read-only", lua_tostring(L, lua_upvalueindex(1)));
}
int ProxyNext(lua_State* L) {
  lua_settop(L, 2);
  if (lua_next(L, lua_upvalueindex(1)) != 0) return 2;
  lua_pushnil(L);
  return 1;
}
int ProxyPairs(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, ProxyNext, 1);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}

// Replaces the table at `real` with a read-only proxy of it on the stack.
void PushProxy(lua_State* L, int real, const char* name) {
  real = lua_absindex(L, real);
  lua_newtable(L);
  lua_createtable(L, 0, 5);
  lua_pushvalue(L, real);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, ReadOnlyNewindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, real);
  lua_pushcclosure(L, ProxyPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, &kProxyMarkKey);
  lua_setmetatable(L, -2);
}

// Replaces field `name` of the table at `table` by closure(fn, old, extra...).
void Wrap(lua_State* L, int table, const char* name, lua_CFunction fn, int extra_upvalues) {
  table = lua_absindex(L, table);
  lua_getfield(L, table, name);
  lua_insert(L, -1 - extra_upvalues);
  lua_pushcclosure(L, fn, 1 + extra_upvalues);
  lua_setfield(L, table, name);
}

// Runs a host function; C++ objects live only in here (invariant 1). True
// with budget->host_result set, or false with budget->host_error set.
bool InvokeHost(lua_State* L, const HostFunction* fn, int nargs, Budget* budget) noexcept {
  try {
    std::vector<HostValue> args(static_cast<size_t>(nargs));
    for (int i = 1; i <= nargs; ++i) {
      HostValue& arg = args[static_cast<size_t>(i - 1)];
      switch (lua_type(L, i)) {
        case LUA_TNUMBER:
          if (lua_isinteger(L, i)) {
            arg.type = ValueType::kInt;
            arg.i = lua_tointeger(L, i);
          } else {
            arg.type = ValueType::kDouble;
            arg.d = lua_tonumber(L, i);
          }
          break;
        case LUA_TBOOLEAN:
          arg.type = ValueType::kBool;
          arg.b = lua_toboolean(L, i) != 0;
          break;
        case LUA_TSTRING: {
          size_t length = 0;
          const char* data = lua_tolstring(L, i, &length);  // a string: no conversion
          arg.type = ValueType::kString;
          arg.s.assign(data, length);
          break;
        }
        default:
          break;  // nil (other types were refused before)
      }
    }
    Result<HostValue> result = (*fn)(args);
    if (!result.ok()) {
      budget->host_error = result.error().message;
      return false;
    }
    if (result.value().type == ValueType::kRecord) {
      budget->host_error = "records are not supported as host results";
      return false;
    }
    budget->host_result = std::move(result.value());
    return true;
  } catch (const std::exception& e) {
    budget->host_error = std::string("host function threw: ") + e.what();
  } catch (...) {
    budget->host_error = "host function threw";
  }
  return false;
}

// host.<name>(...) (upvalues: HostFunction*, name).
int HostCall(lua_State* L) {
  const auto* fn = static_cast<const HostFunction*>(lua_touserdata(L, lua_upvalueindex(1)));
  const char* name = lua_tostring(L, lua_upvalueindex(2));
  const int nargs = lua_gettop(L);
  for (int i = 1; i <= nargs; ++i) {
    const int type = lua_type(L, i);
    if (type != LUA_TNIL && type != LUA_TNUMBER && type != LUA_TBOOLEAN && type != LUA_TSTRING) {
      return luaL_error(L, "host.%s: argument %d: unsupported type %s", name, i,
                        lua_typename(L, type));
    }
  }
  Budget* budget = BudgetOf(L);
  if (!InvokeHost(L, fn, nargs, budget)) {
    luaL_where(L, 1);
    lua_pushfstring(L, "host.%s: ", name);
    lua_pushlstring(L, budget->host_error.data(), budget->host_error.size());
    lua_concat(L, 3);
    return lua_error(L);
  }
  const HostValue& value = budget->host_result;
  switch (value.type) {
    case ValueType::kInt:
      lua_pushinteger(L, value.i);
      break;
    case ValueType::kDouble:
      lua_pushnumber(L, value.d);
      break;
    case ValueType::kBool:
      lua_pushboolean(L, value.b);
      break;
    case ValueType::kString:
      lua_pushlstring(L, value.s.data(), value.s.size());
      budget->host_result.s.clear();
      break;
    default:
      lua_pushnil(L);
      break;
  }
  return 1;
}

// print(...): the arguments as one tab-separated line, cut at
// kMaxPrintBytes, passed to host.log when the app provides it (upvalue 1:
// HostFunction* or nil), else written to stderr as "patch: <line>".
int SafePrint(lua_State* L) {
  const int nargs = lua_gettop(L);
  luaL_Buffer line;
  luaL_buffinit(L, &line);
  for (int i = 1; i <= nargs; ++i) {
    if (i > 1) luaL_addchar(&line, '\t');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&line);
  }
  luaL_pushresult(&line);
  lua_insert(L, 1);
  lua_settop(L, 1);
  size_t length = 0;
  const char* text = lua_tolstring(L, 1, &length);
  if (length > kMaxPrintBytes) {
    length = kMaxPrintBytes;
    lua_pushlstring(L, text, length);  // the full line stays anchored at 1 meanwhile
    lua_replace(L, 1);
    text = lua_tostring(L, 1);
  }
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TLIGHTUSERDATA) {
    const auto* log = static_cast<const HostFunction*>(lua_touserdata(L, lua_upvalueindex(1)));
    InvokeHost(L, log, 1, BudgetOf(L));  // a failing log is not the patch's fault
    return 0;
  }
  std::fprintf(stderr, "patch: %.*s\n", static_cast<int>(length), text);
  return 0;
}

// Builds the safe globals (protected; argument 1: HostFunctionTable* or nil).
int SetUpState(lua_State* L) {
  const auto* host = static_cast<const HostFunctionTable*>(lua_touserdata(L, 1));
  Budget* budget = BudgetOf(L);
  const lua_Integer loop_limit =
      static_cast<lua_Integer>(std::max<size_t>(budget->cap / sizeof(lua_Number), 1024));
  lua_settop(L, 0);

  luaL_requiref(L, LUA_GNAME, luaopen_base, 0);  // 1: base
  lua_newtable(L);                               // 2: safe globals
  for (const char* name : kBaseAllowList) {
    lua_getfield(L, 1, name);
    lua_setfield(L, 2, name);
  }
  Wrap(L, 2, "setmetatable", SafeSetmetatable, 0);
  Wrap(L, 2, "rawset", SafeRawset, 0);
  lua_pushcfunction(L, SafePcall);
  lua_setfield(L, 2, "pcall");
  lua_pushcfunction(L, SafeXpcall);
  lua_setfield(L, 2, "xpcall");
  const HostFunction* log = nullptr;
  if (host != nullptr) {
    auto it = host->find("log");
    if (it != host->end()) log = &it->second;
  }
  if (log != nullptr) {
    lua_pushlightuserdata(L, const_cast<HostFunction*>(log));
  } else {
    lua_pushnil(L);
  }
  lua_pushcclosure(L, SafePrint, 1);
  lua_setfield(L, 2, "print");

  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);  // 3
  lua_pushnil(L);
  lua_setfield(L, 3, "dump");
  Wrap(L, 3, "rep", SafeRep, 0);
  for (const char* fn : {"find", "match", "gmatch", "gsub"}) {
    lua_pushinteger(L, std::string_view(fn) == "find" ? 1 : 0);  // honours `plain`
    Wrap(L, 3, fn, SafePattern, 1);
  }
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  PushProxy(L, 3, "string");
  lua_setfield(L, 2, LUA_STRLIBNAME);

  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);  // 4
  lua_pushinteger(L, loop_limit);
  Wrap(L, 4, "move", SafeMove, 1);
  lua_pushinteger(L, loop_limit);
  Wrap(L, 4, "insert", SafeShift, 1);
  lua_pushinteger(L, loop_limit);
  Wrap(L, 4, "remove", SafeShift, 1);
  PushProxy(L, 4, "table");
  lua_setfield(L, 2, LUA_TABLIBNAME);

  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);  // 5
  lua_getfield(L, 5, "randomseed");
  lua_pushinteger(L, 1);
  lua_call(L, 1, 0);
  PushProxy(L, 5, "math");
  lua_setfield(L, 2, LUA_MATHLIBNAME);

  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);  // 6
  PushProxy(L, 6, "utf8");
  lua_setfield(L, 2, LUA_UTF8LIBNAME);

  if (host != nullptr) {
    lua_createtable(L, 0, static_cast<int>(host->size()));  // 7
    for (const auto& [name, fn] : *host) {
      lua_pushlightuserdata(L, const_cast<HostFunction*>(&fn));
      lua_pushlstring(L, name.data(), name.size());
      lua_pushcclosure(L, HostCall, 2);
      lua_setfield(L, 7, name.c_str());
    }
    PushProxy(L, 7, "host");
    lua_setfield(L, 2, "host");
  }

  // Environments of chunks: reads fall through to the safe globals.
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetatableKey);

  lua_pushvalue(L, 2);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  return 0;
}

// Copies the error value at the top of the stack without running metamethods
// or allocating in Lua.
std::string ErrorText(lua_State* L) {
  std::string text;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t length = 0;
      const char* data = lua_tolstring(L, -1, &length);
      text.assign(data, std::min(length, kMaxMessageBytes));
      break;
    }
    case LUA_TNUMBER: {
      char buffer[64];
      if (lua_isinteger(L, -1)) {
        std::snprintf(buffer, sizeof buffer, "%" PRId64,
                      static_cast<int64_t>(lua_tointeger(L, -1)));
      } else {
        std::snprintf(buffer, sizeof buffer, "%.14g", static_cast<double>(lua_tonumber(L, -1)));
      }
      text = buffer;
      break;
    }
    default:
      text = std::string("(error object is a ") + luaL_typename(L, -1) + " value)";
  }
  return text;
}

struct LoadArgs {
  const char* source;
  size_t size;
  const char* chunk_name;
  bool compiled;
  int ref;
};

// Compiles, runs and references a chunk (protected; argument 1: LoadArgs*).
int LoadAndRun(lua_State* L) {
  auto* args = static_cast<LoadArgs*>(lua_touserdata(L, 1));
  if (luaL_loadbufferx(L, args->source, args->size, args->chunk_name, "t") != LUA_OK) {
    return lua_error(L);
  }
  args->compiled = true;
  lua_createtable(L, 0, 4);  // 3: env
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvMetatableKey);
  lua_setmetatable(L, 3);
  lua_pushvalue(L, 3);
  lua_setfield(L, 3, LUA_GNAME);  // _G is the chunk's own environment
  lua_pushvalue(L, 3);
  if (lua_setupvalue(L, 2, 1) == nullptr) return luaL_error(L, "chunk has no _ENV upvalue");
  lua_pushvalue(L, 2);
  lua_call(L, 0, 0);
  lua_settop(L, 3);
  args->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct NameArg {
  const char* data;
  size_t size;
};

// env[name] without metamethods (protected; arguments: env, NameArg*).
int RawField(lua_State* L) {
  const auto* name = static_cast<const NameArg*>(lua_touserdata(L, 2));
  if (lua_type(L, 1) != LUA_TTABLE) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, name->data, name->size);
  lua_rawget(L, 1);
  return 1;
}

// Pushes a value that may allocate (unprotected: run under lua_pcall).
void PushUnprotected(lua_State* L, const PatchValue& value) {
  switch (value.type) {
    case ValueType::kNil:
      lua_pushnil(L);
      return;
    case ValueType::kInt:
      lua_pushinteger(L, value.i);
      return;
    case ValueType::kDouble:
      lua_pushnumber(L, value.d);
      return;
    case ValueType::kBool:
      lua_pushboolean(L, value.b);
      return;
    case ValueType::kString:
      lua_pushlstring(L, value.s.data(), value.s.size());
      return;
    case ValueType::kRecord: {
      const RecordType* type = value.record_type;
      luaL_checkstack(L, 2, "record nesting too deep");
      lua_createtable(L, 0, static_cast<int>(type->field_count));
      for (size_t i = 0; i < type->field_count; ++i) {
        const FieldDesc& field = type->fields[i];
        PushUnprotected(L, field.get(value.record));
        lua_setfield(L, -2, field.name);
      }
      return;
    }
  }
}

int PushProtected(lua_State* L) {
  PushUnprotected(L, *static_cast<const PatchValue*>(lua_touserdata(L, 1)));
  return 1;
}

const char* ExpectedName(ValueType type) {
  switch (type) {
    case ValueType::kNil:
      return "nil";
    case ValueType::kInt:
      return "int";
    case ValueType::kDouble:
      return "double";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kRecord:
      return "record";
  }
  return "?";
}

std::string Mismatch(lua_State* L, int index, ValueType expected, const RecordType* record) {
  std::string text = "expected ";
  text += ExpectedName(expected);
  if (expected == ValueType::kRecord && record != nullptr) {
    text += " ";
    text += record->name;
  }
  text += ", got ";
  text += luaL_typename(L, index);
  return text;
}

// Finds string key `name` in the table at `table` by iteration (no Lua
// allocation) and pushes its value (nil when absent).
void PushRawField(lua_State* L, int table, const char* name) {
  const size_t name_length = std::strlen(name);
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t length = 0;
      const char* key = lua_tolstring(L, -2, &length);
      if (length == name_length && std::memcmp(key, name, length) == 0) {
        lua_remove(L, -2);
        return;
      }
    }
    lua_pop(L, 1);
  }
  lua_pushnil(L);
}

bool ReadValue(lua_State* L, int index, ValueType expected, const RecordType* record,
               PatchValue* out, std::string* string_storage, void** record_storage,
               std::string* error);

// Reads the table at `index` into a new `record` object.
bool ReadRecord(lua_State* L, int index, const RecordType* record, void** object_out,
                std::string* error) {
  if (!lua_checkstack(L, 4)) {
    *error = "stack overflow reading a record";
    return false;
  }
  void* object = record->create();
  for (size_t i = 0; i < record->field_count; ++i) {
    const FieldDesc& field = record->fields[i];
    PushRawField(L, index, field.name);
    PatchValue value;
    std::string field_error;
    void* nested = nullptr;
    const RecordType* nested_type =
        field.type == ValueType::kRecord ? field.get(object).record_type : nullptr;
    bool ok = ReadValue(L, lua_gettop(L), field.type, nested_type, &value, nullptr, &nested,
                        &field_error);
    if (ok && !field.set(object, value)) {
      ok = false;
      field_error = "value out of range for the field";
    }
    if (nested != nullptr) nested_type->destroy(nested);
    lua_pop(L, 1);
    if (!ok) {
      record->destroy(object);
      *error = std::string("field '") + field.name + "': " + field_error;
      return false;
    }
  }
  *object_out = object;
  return true;
}

bool ReadValue(lua_State* L, int index, ValueType expected, const RecordType* record,
               PatchValue* out, std::string* string_storage, void** record_storage,
               std::string* error) {
  const int type = lua_type(L, index);
  PatchValue value;
  value.type = expected;
  switch (expected) {
    case ValueType::kNil:
      if (type != LUA_TNIL) break;
      *out = value;
      return true;
    case ValueType::kInt:
      if (type != LUA_TNUMBER) break;
      if (lua_isinteger(L, index)) {
        value.i = lua_tointeger(L, index);
      } else {
        const double d = lua_tonumber(L, index);
        // [-2^63, 2^63) and integral.
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::floor(d) != d) {
          char buffer[64];
          std::snprintf(buffer, sizeof buffer, "%.17g", d);
          *error = std::string("expected int, got non-integer number ") + buffer;
          return false;
        }
        value.i = static_cast<int64_t>(d);
      }
      *out = value;
      return true;
    case ValueType::kDouble:
      if (type != LUA_TNUMBER) break;
      value.d = lua_tonumber(L, index);
      *out = value;
      return true;
    case ValueType::kBool:
      if (type != LUA_TBOOLEAN) break;
      value.b = lua_toboolean(L, index) != 0;
      *out = value;
      return true;
    case ValueType::kString: {
      if (type != LUA_TSTRING) break;
      size_t length = 0;
      const char* data = lua_tolstring(L, index, &length);  // a string: no conversion
      if (string_storage != nullptr) {
        string_storage->assign(data, length);
        value.s = *string_storage;
      } else {
        // Record fields: valid while the value is on the stack (set() copies it).
        value.s = std::string_view(data, length);
      }
      *out = value;
      return true;
    }
    case ValueType::kRecord: {
      ATRIUM_CHECK(record != nullptr && record_storage != nullptr,
                   "Read of a record needs its RecordType and storage");
      if (type != LUA_TTABLE) break;
      void* object = nullptr;
      if (!ReadRecord(L, index, record, &object, error)) return false;
      value.record_type = record;
      value.record = object;
      *record_storage = object;
      *out = value;
      return true;
    }
  }
  *error = Mismatch(L, index, expected, record);
  return false;
}

}  // namespace

struct LuaSandbox::Budget : SandboxBudget {};

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kError:
      return "error";
    case Fault::kMemory:
      return "memory";
    case Fault::kInstructions:
      return "instructions";
    case Fault::kTime:
      return "time";
  }
  return "unknown";
}

Result<std::unique_ptr<LuaSandbox>> LuaSandbox::Create(const SandboxLimits& limits,
                                                       const HostFunctionTable* host) {
  if (limits.memory_bytes == 0 || limits.instructions_per_call == 0 ||
      limits.time_us_per_call <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "sandbox limits must be positive");
  }
  std::unique_ptr<LuaSandbox> sandbox(new LuaSandbox());
  sandbox->limits_ = limits;
  sandbox->budget_ = std::make_unique<Budget>();
  Budget& budget = *sandbox->budget_;
  budget.cap = limits.memory_bytes;
  budget.instruction_limit = limits.instructions_per_call;
  budget.time_limit_us = limits.time_us_per_call;
  budget.hook_interval =
      static_cast<int>(std::min<uint64_t>(kHookInterval, limits.instructions_per_call));

  lua_State* L = lua_newstate(&CappedAlloc, static_cast<SandboxBudget*>(&budget));
  if (L == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "memory limit of " +
                                                      std::to_string(limits.memory_bytes) +
                                                      " bytes is too small for a Lua state");
  }
  sandbox->L_ = L;  // closed by the destructor from here on
  lua_atpanic(L, &Panic);
  lua_setwarnf(L, nullptr, nullptr);  // warnings off (and `warn` is not reachable)
  lua_pushcfunction(L, &SetUpState);
  lua_pushlightuserdata(L, const_cast<HostFunctionTable*>(host));
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::string message = ErrorText(L);
    return MakeError(ErrorCode::kInvalidArgument, "cannot set up the Lua sandbox within " +
                                                      std::to_string(limits.memory_bytes) +
                                                      " bytes: " + message);
  }
  lua_sethook(L, &CountHook, LUA_MASKCOUNT, budget.hook_interval);
  return sandbox;
}

LuaSandbox::~LuaSandbox() {
  if (L_ != nullptr) lua_close(L_);  // before budget_: the allocator uses it
}

namespace {

void BeginCall(lua_State* L, Budget* budget) {
  ATRIUM_CHECK(!budget->running, "LuaSandbox is not reentrant (host function called back?)");
  budget->running = true;
  budget->instructions = 0;
  budget->clock_started = false;
  budget->tripped = Fault::kNone;
  lua_sethook(L, &CountHook, LUA_MASKCOUNT, budget->hook_interval);  // restarts the count
}

Fault EndCall(Budget* budget, int status) {
  budget->running = false;
  if (budget->tripped != Fault::kNone) return budget->tripped;
  if (status == LUA_ERRMEM) return Fault::kMemory;
  if (status != LUA_OK) return Fault::kError;
  return Fault::kNone;
}

}  // namespace

Result<int> LuaSandbox::LoadChunk(std::string_view chunk_name, std::string_view source) {
  const std::string name = "=" + std::string(chunk_name);
  LoadArgs args{source.data(), source.size(), name.c_str(), false, LUA_NOREF};
  const int top = lua_gettop(L_);
  if (!lua_checkstack(L_, 2)) {
    return MakeError(ErrorCode::kActivation, "memory: not enough memory to load the chunk");
  }
  lua_pushcfunction(L_, &LoadAndRun);
  lua_pushlightuserdata(L_, &args);
  BeginCall(L_, budget_.get());
  const int status = lua_pcall(L_, 1, 0, 0);
  const Fault fault = EndCall(budget_.get(), status);
  if (fault == Fault::kNone) return args.ref;
  std::string message =
      fault == Fault::kError || fault == Fault::kMemory ? ErrorText(L_) : TripMessage(fault);
  lua_settop(L_, top);
  if (!args.compiled && fault == Fault::kError) {
    return MakeError(ErrorCode::kParse, std::move(message));
  }
  return MakeError(ErrorCode::kActivation, std::string(FaultName(fault)) + ": " + message);
}

bool LuaSandbox::PushFunction(int env_ref, std::string_view name) {
  budget_->push_failed = false;  // a new call starts here
  if (!lua_checkstack(L_, 3)) return false;
  NameArg arg{name.data(), name.size()};
  lua_pushcfunction(L_, &RawField);
  lua_rawgeti(L_, LUA_REGISTRYINDEX, env_ref);
  lua_pushlightuserdata(L_, &arg);
  if (lua_pcall(L_, 2, 1, 0) == LUA_OK && lua_type(L_, -1) == LUA_TFUNCTION) return true;
  lua_pop(L_, 1);
  return false;
}

Fault LuaSandbox::PCall(int nargs, int nresults, std::string* message) {
  const int base = lua_gettop(L_) - nargs - 1;
  ATRIUM_CHECK(nargs >= 0 && base >= 0, "PCall: function and arguments must be on the stack");
  Budget* budget = budget_.get();
  if (budget->push_failed) {
    budget->push_failed = false;
    lua_settop(L_, base);
    *message = "not enough memory to pass the arguments";
    return Fault::kMemory;
  }
  BeginCall(L_, budget);
  const int status = lua_pcall(L_, nargs, nresults, 0);
  const Fault fault = EndCall(budget, status);
  if (fault == Fault::kNone) return fault;
  if (status == LUA_OK) {
    *message = TripMessage(fault);
  } else if (fault == Fault::kError || fault == Fault::kMemory) {
    *message = ErrorText(L_);
  } else {
    *message = TripMessage(fault);
  }
  lua_settop(L_, base);
  return fault;
}

void LuaSandbox::Push(lua_State* L, const PatchValue& value) {
  if (value.type != ValueType::kString && value.type != ValueType::kRecord) {
    PushUnprotected(L, value);  // no allocation: uses the slot the caller ensured
    return;
  }
  SandboxBudget* budget = BudgetOf(L);
  if (lua_checkstack(L, 2)) {
    lua_pushcfunction(L, &PushProtected);
    lua_pushlightuserdata(L, const_cast<PatchValue*>(&value));
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) return;
    lua_pop(L, 1);
  }
  if (budget != nullptr) budget->push_failed = true;
  lua_pushnil(L);
}

bool LuaSandbox::Read(lua_State* L, int index, ValueType expected, const RecordType* record,
                      PatchValue* out, std::string* string_storage, void** record_storage,
                      std::string* error) {
  return ReadValue(L, lua_absindex(L, index), expected, record, out, string_storage, record_storage,
                   error);
}

size_t LuaSandbox::memory_used() const { return budget_->used; }

}  // namespace atrium::hotpatch::internal
