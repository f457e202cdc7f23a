// The safe globals of a LuaSandbox: the allowed standard libraries in their
// safe form (wrapped functions, read-only proxies), print, and the `host`
// table. See sandbox.cc for the invariants every function here keeps
// (no C++ object with a non-trivial destructor alive across a raising call;
// no sandboxed code with hooks off; a tripped budget is never caught).
//
// Concurrency: the functions run on the thread running the sandbox; no
// global mutable state (the static keys are used only for their addresses).
#include "safe_globals.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atrium/base/log.h"
#include "budget.h"
#include "metered.h"
#include "pattern.h"

namespace atrium::lua::detail {

namespace {

// A library function the sandbox provides in place of Lua's.
struct LibFunction {
  const char* name;
  lua_CFunction fn;
};

// Bytes per work unit for functions that decode their strings (utf8.len,
// tonumber): slower per byte than copying.
constexpr lua_Integer kScanBytesPerUnit = 8;

// Bytes of a print() line kept, and lines emitted per call and per state
// (200,000 print() calls in one call once wrote 200 MB in 0.35 s).
constexpr size_t kMaxPrintBytes = 1024;
constexpr uint32_t kMaxPrintLinesPerCall = 20;
constexpr uint64_t kMaxPrintLinesPerState = 1000;

// Metatable key marking the read-only proxies (address only).
const char kProxyMarkKey = 0;

// Base functions sandboxed code keeps (setmetatable and rawset are then
// wrapped; pcall, xpcall and print are replaced).
const char* const kBaseAllowList[] = {"assert",       "error",    "ipairs",       "pairs",
                                      "next",         "select",   "tonumber",     "tostring",
                                      "type",         "rawequal", "rawget",       "rawlen",
                                      "getmetatable", "_VERSION", "setmetatable", "rawset"};

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
// here) the sandboxed handler is skipped.
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
      return luaL_error(L, "setmetatable: __gc metamethods are not allowed in the sandbox");
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

// Sets field `name` of the safe globals at `globals` to a read-only proxy
// of the table at the top of the stack, and pops that table.
void PublishReadOnly(lua_State* L, int globals, const char* name) {
  PushProxy(L, -1, name);
  lua_setfield(L, globals, name);
  lua_pop(L, 1);
}

// Replaces field `name` of the table at `table` by closure(fn, old, extra...).
void Wrap(lua_State* L, int table, const char* name, lua_CFunction fn, int extra_upvalues) {
  table = lua_absindex(L, table);
  lua_getfield(L, table, name);
  lua_insert(L, -1 - extra_upvalues);
  lua_pushcclosure(L, fn, 1 + extra_upvalues);
  lua_setfield(L, table, name);
}

}  // namespace

void PushValueRaw(lua_State* L, const LuaValue& value) {
  switch (value.type) {
    case LuaValue::Type::kNil:
      lua_pushnil(L);
      return;
    case LuaValue::Type::kBool:
      lua_pushboolean(L, value.b);
      return;
    case LuaValue::Type::kInt:
      lua_pushinteger(L, value.i);
      return;
    case LuaValue::Type::kDouble:
      lua_pushnumber(L, value.d);
      return;
    case LuaValue::Type::kString:
      lua_pushlstring(L, value.s.data(), value.s.size());
      return;
  }
}

namespace {

// Runs a host function; C++ objects live only in here (invariant 1). True
// with budget->host_result set, or false with budget->host_error set.
bool InvokeHost(lua_State* L, const HostFunction* fn, int nargs, Budget* budget) noexcept {
  try {
    std::vector<LuaValue> args(static_cast<size_t>(nargs));
    for (int i = 1; i <= nargs; ++i) {
      std::string unused;
      // Only nil, numbers, booleans and strings get here (HostCall).
      LuaSandbox::Read(L, i, &args[static_cast<size_t>(i - 1)], &unused);
    }
    Result<LuaValue> result = (*fn)(args);
    if (!result.ok()) {
      budget->host_error = result.error().message;
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
  PushValueRaw(L, budget->host_result);  // a memory error is the call's fault
  budget->host_result.s.clear();
  return 1;
}

// Sends the string at stack index 1 to host.log when the host provides it
// (upvalue 1 of print: HostFunction* or nil), else to the runtime's log at
// info level, named "<label>".
void EmitPrintLine(lua_State* L, Budget* budget) {
  if (lua_type(L, lua_upvalueindex(1)) == LUA_TLIGHTUSERDATA) {
    const auto* log = static_cast<const HostFunction*>(lua_touserdata(L, lua_upvalueindex(1)));
    InvokeHost(L, log, 1, budget);  // a failing log is not the code's fault
    return;
  }
  size_t length = 0;
  const char* text = lua_tolstring(L, 1, &length);
  ::atrium::internal::Log(LogLevel::kInfo, budget->label, std::string_view(text, length));
}

// print(...): the arguments as one tab-separated line, cut at
// kMaxPrintBytes, emitted by EmitPrintLine. At most kMaxPrintLinesPerCall
// lines per call and kMaxPrintLinesPerState per state are emitted; the
// line that reaches a limit is followed by one saying so, and later lines
// are dropped (their arguments are not even converted).
int SafePrint(lua_State* L) {
  Budget* budget = BudgetOf(L);
  if (budget->printed_this_call >= kMaxPrintLinesPerCall ||
      budget->printed_total >= kMaxPrintLinesPerState) {
    return 0;
  }
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
    lua_pushlstring(L, text, kMaxPrintBytes);  // the full line stays anchored at 1 meanwhile
    lua_replace(L, 1);
  }
  ++budget->printed_this_call;
  ++budget->printed_total;
  EmitPrintLine(L, budget);
  if (budget->printed_total == kMaxPrintLinesPerState) {
    lua_pushfstring(L, "print: %d lines from this Lua state; its later lines are dropped",
                    static_cast<int>(kMaxPrintLinesPerState));
  } else if (budget->printed_this_call == kMaxPrintLinesPerCall) {
    lua_pushfstring(L, "print: %d lines in one call; the rest of this call's lines are dropped",
                    static_cast<int>(kMaxPrintLinesPerCall));
  } else {
    return 0;
  }
  lua_replace(L, 1);
  EmitPrintLine(L, budget);
  return 0;
}

}  // namespace

int SetUpState(lua_State* L) {
  const auto* spec = static_cast<const GlobalsSpec*>(lua_touserdata(L, 1));
  const HostFunctionTable* host = spec->host;
  const StandardLibraries libraries = spec->libraries;
  lua_settop(L, 0);
  constexpr int kGlobals = 1;
  lua_newtable(L);    // 1: safe globals
  const int lib = 2;  // each library's real table, while it is set up

  if (libraries.Has(StandardLibrary::kBase)) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
    for (const char* name : kBaseAllowList) {
      lua_getfield(L, lib, name);
      lua_setfield(L, kGlobals, name);
    }
    lua_pop(L, 1);
    lua_pushinteger(L, kScanBytesPerUnit);
    Wrap(L, kGlobals, "tonumber", ChargeArgumentsThenCall, 1);
    lua_pushinteger(L, static_cast<lua_Integer>(kBytesPerUnit));
    Wrap(L, kGlobals, "rawequal", ChargeArgumentsThenCall, 1);
    Wrap(L, kGlobals, "setmetatable", SafeSetmetatable, 0);
    Wrap(L, kGlobals, "rawset", SafeRawset, 0);
    lua_pushcfunction(L, SafePcall);
    lua_setfield(L, kGlobals, "pcall");
    lua_pushcfunction(L, SafeXpcall);
    lua_setfield(L, kGlobals, "xpcall");
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
    lua_setfield(L, kGlobals, "print");
  }

  if (libraries.Has(StandardLibrary::kString)) {
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);  // also the string metatable
    lua_pushnil(L);
    lua_setfield(L, lib, "dump");
    Wrap(L, lib, "rep", SafeRep, 0);
    Wrap(L, lib, "byte", ChargedRange, 0);
    // Lua's matcher backtracks in C, where no hook runs: the sandbox's own
    // matcher charges every step.
    for (const auto& [name, fn] : {LibFunction{"find", PatternFind},
                                   {"match", PatternMatch},
                                   {"gmatch", PatternGmatch},
                                   {"gsub", PatternGsub}}) {
      lua_pushcfunction(L, fn);
      lua_setfield(L, lib, name);
    }
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
      lua_pushboolean(L, 0);
      lua_setfield(L, -2, "__metatable");
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    PublishReadOnly(L, kGlobals, LUA_STRLIBNAME);
  }

  if (libraries.Has(StandardLibrary::kTable)) {
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    // Lua's loops over elements run in C: these charge every element.
    for (const auto& [name, fn] : {LibFunction{"sort", MeteredSort},
                                   {"move", MeteredMove},
                                   {"insert", MeteredInsert},
                                   {"remove", MeteredRemove},
                                   {"concat", MeteredConcat},
                                   {"unpack", MeteredUnpack}}) {
      lua_pushcfunction(L, fn);
      lua_setfield(L, lib, name);
    }
    PublishReadOnly(L, kGlobals, LUA_TABLIBNAME);
  }

  if (libraries.Has(StandardLibrary::kMath)) {
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    lua_getfield(L, lib, "randomseed");
    lua_pushinteger(L, 1);
    lua_call(L, 1, 0);
    PublishReadOnly(L, kGlobals, LUA_MATHLIBNAME);
  }

  if (libraries.Has(StandardLibrary::kUtf8)) {
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    Wrap(L, lib, "codepoint", ChargedRange, 0);
    for (const char* name : {"len", "offset"}) {  // scan without allocating
      lua_pushinteger(L, kScanBytesPerUnit);
      Wrap(L, lib, name, ChargeArgumentsThenCall, 1);
    }
    PublishReadOnly(L, kGlobals, LUA_UTF8LIBNAME);
  }

  if (host != nullptr) {
    lua_createtable(L, 0, static_cast<int>(host->size()));
    for (const auto& [name, fn] : *host) {
      lua_pushlightuserdata(L, const_cast<HostFunction*>(&fn));
      lua_pushlstring(L, name.data(), name.size());
      lua_pushcclosure(L, HostCall, 2);
      lua_setfield(L, lib, name.c_str());
    }
    PublishReadOnly(L, kGlobals, "host");
  }

  // Environments of chunks: reads fall through to the safe globals.
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, kGlobals);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvMetatableKey);

  lua_pushvalue(L, kGlobals);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  return 0;
}

}  // namespace atrium::lua::detail
