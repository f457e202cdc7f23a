// The sandbox's own Lua pattern matcher: string.find, string.match,
// string.gmatch and string.gsub with the semantics of Lua 5.4's, but every
// matching step, every byte compared and every replacement charged to the
// call's budget (budget.h), so no pattern, however much it backtracks,
// runs past the instruction or time budget by more than one charge
// interval. Lua's own matcher runs in C where no hook fires: a pattern such
// as ".-b" on a 10,000-byte subject took 0.4 s per call there.
//
// Differences from Lua 5.4 a caller can see: error messages for malformed
// patterns are worded alike but not always byte for byte; everything else
// (results, captures, anchors, %b, %f, back references, gsub's replacement
// forms and counts, gmatch's init and its rule against an empty match right
// after a match) is the same, and tests/lua/pattern_test.cc checks it
// against the real library on generated cases.
//
// Concurrency: the functions run on the thread running the sandbox and keep
// no state between calls except in their Lua closures.
#ifndef ATRIUM_LUA_PATTERN_H_
#define ATRIUM_LUA_PATTERN_H_

#include <lua.hpp>

namespace atrium::lua::detail {

// string.find(s, pattern [, init [, plain]]).
int PatternFind(lua_State* L);
// string.match(s, pattern [, init]).
int PatternMatch(lua_State* L);
// string.gmatch(s, pattern [, init]).
int PatternGmatch(lua_State* L);
// string.gsub(s, pattern, repl [, n]).
int PatternGsub(lua_State* L);

}  // namespace atrium::lua::detail

#endif  // ATRIUM_LUA_PATTERN_H_
