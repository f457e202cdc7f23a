// PatchValue and HostValue marshalling for the Lua sandbox (see
// patch_marshal.h).
//
// Like the sandbox's own functions, the ones Lua calls here (the protected
// push) keep no C++ object with a non-trivial destructor alive across a
// raising Lua call: Lua errors are longjmps.
#include "patch_marshal.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <lua.hpp>
#include <utility>
#include <vector>

namespace atrium::hotpatch::internal {

namespace {

// Pushes a value that may allocate (unprotected: run under lua_pcall).
void PushUnprotected(lua_State* L, const PatchValue& value) {
  if (value.type == ValueType::kString) {
    lua_pushlstring(L, value.s.data(), value.s.size());
  } else if (value.type == ValueType::kRecord) {
    const RecordType* type = value.record_type;
    luaL_checkstack(L, 2, "record nesting too deep");
    lua_createtable(L, 0, static_cast<int>(type->field_count));
    for (size_t i = 0; i < type->field_count; ++i) {
      const FieldDesc& field = type->fields[i];
      PushUnprotected(L, field.get(value.record));
      lua_setfield(L, -2, field.name);
    }
  } else {
    PushPatchValue(L, value);  // a scalar: no allocation
  }
}

int PushProtected(lua_State* L) {
  PushUnprotected(L, *static_cast<const PatchValue*>(lua_touserdata(L, 1)));
  return 1;
}

std::string Mismatch(lua_State* L, int index, ValueType expected, const RecordType* record) {
  std::string text = "expected ";
  text += ValueTypeName(expected);
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

const char* ValueTypeName(ValueType type) {
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

void PushAllocatingPatchValue(lua_State* L, const PatchValue& value) {
  lua::LuaSandbox::PushGuarded(L, &PushProtected, &value);
}

bool ReadPatchValue(lua_State* L, int index, ValueType expected, const RecordType* record,
                    PatchValue* out, std::string* string_storage, void** record_storage,
                    std::string* error) {
  return ReadValue(L, lua_absindex(L, index), expected, record, out, string_storage, record_storage,
                   error);
}

lua::HostFunction AdaptHostFunction(HostFunction fn) {
  return [fn = std::move(fn)](const std::vector<lua::LuaValue>& args) -> Result<lua::LuaValue> {
    std::vector<HostValue> host_args(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      const lua::LuaValue& in = args[i];
      HostValue& out = host_args[i];
      switch (in.type) {
        case lua::LuaValue::Type::kNil:
          break;
        case lua::LuaValue::Type::kBool:
          out.type = ValueType::kBool;
          out.b = in.b;
          break;
        case lua::LuaValue::Type::kInt:
          out.type = ValueType::kInt;
          out.i = in.i;
          break;
        case lua::LuaValue::Type::kDouble:
          out.type = ValueType::kDouble;
          out.d = in.d;
          break;
        case lua::LuaValue::Type::kString:
          out.type = ValueType::kString;
          out.s = in.s;
          break;
      }
    }
    Result<HostValue> result = fn(host_args);
    if (!result.ok()) return result.error();
    HostValue& value = result.value();
    switch (value.type) {
      case ValueType::kNil:
        return lua::LuaValue::Nil();
      case ValueType::kBool:
        return lua::LuaValue::Bool(value.b);
      case ValueType::kInt:
        return lua::LuaValue::Int(value.i);
      case ValueType::kDouble:
        return lua::LuaValue::Double(value.d);
      case ValueType::kString:
        return lua::LuaValue::String(std::move(value.s));
      case ValueType::kRecord:
        break;
    }
    return MakeError(ErrorCode::kInvalidArgument, "records are not supported as host results");
  };
}

}  // namespace atrium::hotpatch::internal
