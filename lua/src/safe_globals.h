// The safe globals of a LuaSandbox (see atrium/lua/sandbox.h for what
// sandboxed code can reach).
//
// Concurrency: run on the thread setting up or running the sandbox.
#ifndef ATRIUM_LUA_SAFE_GLOBALS_H_
#define ATRIUM_LUA_SAFE_GLOBALS_H_

#include <lua.hpp>

#include "atrium/lua/sandbox.h"
#include "atrium/lua/value.h"

namespace atrium::lua::detail {

// Registry key of the metatable every chunk environment gets (address only).
inline const char kEnvMetatableKey = 0;

struct GlobalsSpec {
  const HostFunctionTable* host = nullptr;  // may be null: no `host` table
  StandardLibraries libraries;
};

// Builds the safe globals and the environment metatable (a lua_CFunction:
// run under lua_pcall; argument 1: a light userdata GlobalsSpec*).
int SetUpState(lua_State* L);

// Pushes `value`; raises on a memory error (call it under a pcall, or from
// a C function Lua called).
void PushValueRaw(lua_State* L, const LuaValue& value);

}  // namespace atrium::lua::detail

#endif  // ATRIUM_LUA_SAFE_GLOBALS_H_
