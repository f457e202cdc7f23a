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

#include <string>

#include "atrium/hotpatch.h"
#include "atrium/lua/sandbox.h"
#include "atrium/lua/value.h"
#include "atrium/patch_point.h"

struct lua_State;

namespace atrium::hotpatch::internal {

// "nil", "int", "double", "bool", "string", "record": as signatures and
// type mismatches spell them.
const char* ValueTypeName(ValueType type);

// Pushes `value` in a slot the caller ensured (records become tables of
// their fields). A push that fails for lack of memory pushes nil and makes
// the sandbox's next PCall a memory fault.
void PushPatchValue(lua_State* L, const PatchValue& value);

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
