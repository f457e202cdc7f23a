// The sandbox's metered table functions and argument-charging wrappers (see
// metered.h).
//
// Concurrency: as metered.h says. Invariant 1 of sandbox.cc holds: only
// trivially destructible locals; every charge may raise.
#include "metered.h"

#include <climits>
#include <cstdint>

#include "budget.h"

namespace atrium::lua::detail {

namespace {

// Units charged at once by the element loops (fewer per element would only
// add overhead; the clock is read once per hook interval of units anyway).
constexpr uint64_t kElementsPerCharge = 64;

// Counts elements and charges them in batches.
struct ElementMeter {
  lua_State* L;
  uint64_t pending;
  void Count() {
    if (++pending == kElementsPerCharge) {
      pending = 0;
      ChargeOrRaise(L, kElementsPerCharge);
    }
  }
  void Flush() {
    if (pending > 0) ChargeOrRaise(L, pending);
    pending = 0;
  }
};

constexpr int kRead = 1;
constexpr int kWrite = 2;
constexpr int kLength = 4;

// A table, or a value whose metatable has the fields `what` needs (as Lua's
// table library accepts).
void CheckTable(lua_State* L, int arg, int what) {
  if (lua_type(L, arg) == LUA_TTABLE) return;
  if (lua_getmetatable(L, arg)) {
    const int mt = lua_gettop(L);
    const bool ok = ((what & kRead) == 0 || lua_getfield(L, mt, "__index") != LUA_TNIL) &&
                    ((what & kWrite) == 0 || lua_getfield(L, mt, "__newindex") != LUA_TNIL) &&
                    ((what & kLength) == 0 || lua_getfield(L, mt, "__len") != LUA_TNIL);
    lua_settop(L, mt - 1);
    if (ok) return;
  }
  luaL_checktype(L, arg, LUA_TTABLE);  // raises the usual message
}

// The metered "less than" of values at stack slots a and b: the comparator
// at slot 2 if any, else the < operator (metamethods included).
bool Less(lua_State* L, int a, int b, bool has_comparator) {
  if (!has_comparator) return lua_compare(L, a, b, LUA_OPLT) != 0;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, a - 1);  // a and b are negative: one more value is above them now
  lua_pushvalue(L, b - 2);
  lua_call(L, 2, 1);
  const bool less = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);
  return less;
}

// list[i] < list[j], charged.
bool LessAt(lua_State* L, lua_Integer i, lua_Integer j, bool has_comparator) {
  ChargeOrRaise(L, kUnitsPerComparison);
  lua_geti(L, 1, i);
  lua_geti(L, 1, j);
  const bool less = Less(L, -2, -1, has_comparator);
  lua_pop(L, 2);
  return less;
}

void Swap(lua_State* L, lua_Integer i, lua_Integer j) {
  lua_geti(L, 1, i);
  lua_geti(L, 1, j);
  lua_seti(L, 1, i);
  lua_seti(L, 1, j);
}

// Restores the max-heap property of list[root..last] below root.
void SiftDown(lua_State* L, lua_Integer root, lua_Integer last, bool has_comparator) {
  for (;;) {
    lua_Integer child = 2 * root;
    if (child > last) return;
    if (child < last && LessAt(L, child, child + 1, has_comparator)) ++child;
    if (!LessAt(L, root, child, has_comparator)) return;
    Swap(L, root, child);
    root = child;
  }
}

void AddField(lua_State* L, luaL_Buffer* b, lua_Integer i) {
  lua_geti(L, 1, i);
  if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid value (at index %I) in table for 'concat'", static_cast<LUAI_UACINT>(i));
  }
  luaL_addvalue(b);
}

}  // namespace

int MeteredSort(lua_State* L) {
  CheckTable(L, 1, kRead | kWrite | kLength);
  const lua_Integer n = luaL_len(L, 1);
  if (n > 1) {
    luaL_argcheck(L, n < INT_MAX, 1, "array too big");
    const bool has_comparator = !lua_isnoneornil(L, 2);
    if (has_comparator) luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    luaL_checkstack(L, 8, "table.sort");
    for (lua_Integer root = n / 2; root >= 1; --root) SiftDown(L, root, n, has_comparator);
    for (lua_Integer last = n; last > 1; --last) {
      Swap(L, 1, last);
      SiftDown(L, 1, last - 1, has_comparator);
    }
  }
  return 0;
}

int MeteredInsert(lua_State* L) {
  CheckTable(L, 1, kRead | kWrite | kLength);
  const lua_Integer first_empty = luaL_intop(+, luaL_len(L, 1), 1);
  lua_Integer pos = first_empty;
  switch (lua_gettop(L)) {
    case 2:
      break;
    case 3: {
      pos = luaL_checkinteger(L, 2);
      luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u < static_cast<lua_Unsigned>(first_empty),
                    2, "position out of bounds");
      ElementMeter meter{L, 0};
      for (lua_Integer i = first_empty; i > pos; --i) {
        meter.Count();
        lua_geti(L, 1, i - 1);
        lua_seti(L, 1, i);
      }
      meter.Flush();
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, pos);
  return 0;
}

int MeteredRemove(lua_State* L) {
  CheckTable(L, 1, kRead | kWrite | kLength);
  const lua_Integer size = luaL_len(L, 1);
  lua_Integer pos = luaL_optinteger(L, 2, size);
  if (pos != size) {
    luaL_argcheck(L, static_cast<lua_Unsigned>(pos) - 1u <= static_cast<lua_Unsigned>(size), 2,
                  "position out of bounds");
  }
  lua_geti(L, 1, pos);
  ElementMeter meter{L, 0};
  for (; pos < size; ++pos) {
    meter.Count();
    lua_geti(L, 1, pos + 1);
    lua_seti(L, 1, pos);
  }
  meter.Flush();
  lua_pushnil(L);
  lua_seti(L, 1, pos);
  return 1;
}

int MeteredConcat(lua_State* L) {
  CheckTable(L, 1, kRead | kLength);
  size_t sep_length = 0;
  const char* sep = luaL_optlstring(L, 2, "", &sep_length);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  const lua_Integer last = luaL_opt(L, luaL_checkinteger, 4, luaL_len(L, 1));
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  ElementMeter meter{L, 0};
  for (; i < last; ++i) {
    meter.Count();
    AddField(L, &b, i);
    luaL_addlstring(&b, sep, sep_length);
  }
  if (i == last) AddField(L, &b, i);
  meter.Flush();
  luaL_pushresult(&b);
  return 1;
}

int MeteredUnpack(lua_State* L) {
  lua_Integer i = luaL_optinteger(L, 2, 1);
  const lua_Integer last = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
  if (i > last) return 0;
  lua_Unsigned n = static_cast<lua_Unsigned>(last) - static_cast<lua_Unsigned>(i);
  if (n >= static_cast<unsigned int>(INT_MAX) || !lua_checkstack(L, static_cast<int>(++n))) {
    return luaL_error(L, "too many results to unpack");
  }
  ChargeOrRaise(L, n);
  for (; i < last; ++i) lua_geti(L, 1, i);
  lua_geti(L, 1, last);
  return static_cast<int>(n);
}

int MeteredMove(lua_State* L) {
  const lua_Integer first = luaL_checkinteger(L, 2);
  const lua_Integer last = luaL_checkinteger(L, 3);
  const lua_Integer to = luaL_checkinteger(L, 4);
  const int target = !lua_isnoneornil(L, 5) ? 5 : 1;
  CheckTable(L, 1, kRead);
  CheckTable(L, target, kWrite);
  if (last >= first) {
    luaL_argcheck(L, first > 0 || last < LUA_MAXINTEGER + first, 3, "too many elements to move");
    const lua_Integer n = last - first + 1;
    luaL_argcheck(L, to <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    ElementMeter meter{L, 0};
    // Forwards unless the ranges overlap with the destination after the source.
    if (to > last || to <= first || (target != 1 && !lua_compare(L, 1, target, LUA_OPEQ))) {
      for (lua_Integer i = 0; i < n; ++i) {
        meter.Count();
        lua_geti(L, 1, first + i);
        lua_seti(L, target, to + i);
      }
    } else {
      for (lua_Integer i = n - 1; i >= 0; --i) {
        meter.Count();
        lua_geti(L, 1, first + i);
        lua_seti(L, target, to + i);
      }
    }
    meter.Flush();
  }
  lua_pushvalue(L, target);
  return 1;
}

int ChargeArgumentsThenCall(lua_State* L) {
  const auto bytes_per_unit = static_cast<uint64_t>(lua_tointeger(L, lua_upvalueindex(2)));
  const int nargs = lua_gettop(L);
  uint64_t bytes = 0;
  for (int i = 1; i <= nargs; ++i) {
    if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
  }
  ChargeOrRaise(L, 1 + static_cast<uint64_t>(nargs) + bytes / bytes_per_unit);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L);
}

int ChargedRange(lua_State* L) {
  size_t length = 0;
  luaL_checklstring(L, 1, &length);
  const auto position = [length](lua_Integer pos) -> lua_Integer {  // 1-based, from the end if < 0
    const auto len = static_cast<lua_Integer>(length);
    if (pos < 0) pos = pos < -len ? 0 : len + pos + 1;
    return pos > len ? len : pos;
  };
  const lua_Integer i = position(luaL_optinteger(L, 2, 1));
  const lua_Integer j = position(luaL_optinteger(L, 3, luaL_optinteger(L, 2, 1)));
  ChargeOrRaise(L, 1 + (j >= i ? static_cast<uint64_t>(j - i) + 1 : 0));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

}  // namespace atrium::lua::detail
