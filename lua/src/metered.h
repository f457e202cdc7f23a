// Library functions of the sandbox whose C loops are charged to the call's
// budget (budget.h): the table functions that loop over elements, and a
// wrapper charging a function's scan of its string arguments before it runs.
// The pattern functions are in pattern.h.
//
// Each keeps Lua 5.4's arguments, results and errors, except table.sort: a
// heap sort (n log n comparisons at worst, none of Lua's quicksort's
// "invalid order function" errors; like Lua's, not stable).
//
// Concurrency: the functions run on the thread running the sandbox and keep
// no state.
#ifndef ATRIUM_LUA_METERED_H_
#define ATRIUM_LUA_METERED_H_

#include <lua.hpp>

namespace atrium::lua::detail {

// table.sort(list [, comp]): kUnitsPerComparison units per comparison.
int MeteredSort(lua_State* L);
// table.insert(list, [pos,] value) and table.remove(list [, pos]): a unit
// per element moved.
int MeteredInsert(lua_State* L);
int MeteredRemove(lua_State* L);
// table.concat(list [, sep [, i [, j]]]): a unit per element (bytes are
// charged by the allocator).
int MeteredConcat(lua_State* L);
// table.unpack(list [, i [, j]]): a unit per value.
int MeteredUnpack(lua_State* L);
// table.move(a1, f, e, t [, a2]): a unit per element, charged up front.
int MeteredMove(lua_State* L);

// Upvalue 1: the real function; upvalue 2: bytes per unit. Charges one unit
// plus the bytes of its string arguments, then calls the real function with
// every argument and returns all its results. For functions that scan their
// strings without allocating as much (utf8.len, tonumber, rawequal, ...).
int ChargeArgumentsThenCall(lua_State* L);

// string.byte(s [, i [, j]]) and utf8.codepoint(s [, i [, j]]): a unit per
// byte of the range (at most one value each), then the real function
// (upvalue 1).
int ChargedRange(lua_State* L);

}  // namespace atrium::lua::detail

#endif  // ATRIUM_LUA_METERED_H_
