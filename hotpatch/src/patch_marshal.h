// Marshalling between hotpatch's values and a Lua sandbox: PatchValues
// (scalars, strings and records, which become tables of their fields) to
// and from the Lua stack, and the app's host functions (HostValue) to the
// sandbox's neutral ones (LuaValue).
//
// Concurrency: the stack functions run on the thread using the sandbox that
// owns L; AdaptHostFunction's result is as thread-safe as the function it
// wraps.
#ifndef ATRIUM_HOTPATCH_PATCH_MARSHAL_H_
#define ATRIUM_HOTPATCH_PATCH_MARSHAL_H_

#include <lua.hpp>
#include <string>

#include "atrium/hotpatch.h"
#include "atrium/lua/sandbox.h"
#include "atrium/lua/value.h"
#include "atrium/patch_point.h"

namespace atrium::hotpatch::internal {

// "nil", "int", "double", "bool", "string", "record": as signatures and
// type mismatches spell them.
const char* ValueTypeName(ValueType type);

// Pushes a string or record (which becomes a table of its fields) in a
// slot the caller ensured. A push that fails for lack of memory pushes nil
// and makes the sandbox's next PCall a memory fault.
void PushAllocatingPatchValue(lua_State* L, const PatchValue& value);

// Pushes `value` in a slot the caller ensured. Scalars push inline (no
// allocation); see PushAllocatingPatchValue for the rest.
inline void PushPatchValue(lua_State* L, const PatchValue& value) {
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
    case ValueType::kRecord:
      break;
  }
  PushAllocatingPatchValue(L, value);
}

// Reads stack slot `index` when it holds exactly what a scalar `expected`
// reads without conversion checks (an integer or integral float for kInt,
// a number for kDouble, a boolean for kBool). False, with *out untouched,
// for anything else: ReadPatchValue then converts or names the mismatch.
inline bool ReadScalarPatchValue(lua_State* L, int index, ValueType expected, PatchValue* out) {
  switch (expected) {
    case ValueType::kInt: {
      if (lua_type(L, index) != LUA_TNUMBER) return false;
      int exact = 0;
      const lua_Integer i = lua_tointegerx(L, index, &exact);  // no string: typed above
      if (exact == 0) return false;
      *out = PatchValue{};
      out->type = ValueType::kInt;
      out->i = i;
      return true;
    }
    case ValueType::kDouble:
      if (lua_type(L, index) != LUA_TNUMBER) return false;
      *out = PatchValue{};
      out->type = ValueType::kDouble;
      out->d = lua_tonumberx(L, index, nullptr);
      return true;
    case ValueType::kBool:
      if (lua_type(L, index) != LUA_TBOOLEAN) return false;
      *out = PatchValue{};
      out->type = ValueType::kBool;
      out->b = lua_toboolean(L, index) != 0;
      return true;
    default:
      return false;
  }
}

// Reads stack slot `index` as `expected` (and `record` for kRecord; a
// kDouble accepts integers; a kInt accepts floats with an exact integer
// value). Strings are copied into *string_storage (the PatchValue views
// it); a record is created with record->create into *record_storage (the
// caller owns it). False with *error naming the expected and actual type.
// Metamethods are never run.
bool ReadPatchValue(lua_State* L, int index, ValueType expected, const RecordType* record,
                    PatchValue* out, std::string* string_storage, void** record_storage,
                    std::string* error);

// The app's host function as the sandbox calls it: arguments converted to
// HostValues, the result back (a record result is an error: records are
// not supported as host results).
lua::HostFunction AdaptHostFunction(HostFunction fn);

}  // namespace atrium::hotpatch::internal

#endif  // ATRIUM_HOTPATCH_PATCH_MARSHAL_H_
