// LuaValue: an owning value that crosses between the host and sandboxed Lua
// code (host function arguments and results, values pushed to and read from
// a sandbox's stack), and HostFunction, a host function Lua code may call.
//
// A LuaValue is nil, a boolean, an integer, a double or a string; tables,
// functions and userdata do not cross (a layer that needs structured values
// marshals them itself, as hotpatch does for its records).
//
// Concurrency: plain values; a HostFunction is called on the thread running
// the sandbox that calls it, so one shared by several sandboxes on several
// threads must be thread-safe.
#ifndef ATRIUM_LUA_VALUE_H_
#define ATRIUM_LUA_VALUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "atrium/result.h"

namespace atrium::lua {

struct LuaValue {
  enum class Type : uint8_t { kNil, kBool, kInt, kDouble, kString };

  static LuaValue Nil() { return {}; }
  static LuaValue Bool(bool b) {
    LuaValue v;
    v.type = Type::kBool;
    v.b = b;
    return v;
  }
  static LuaValue Int(int64_t i) {
    LuaValue v;
    v.type = Type::kInt;
    v.i = i;
    return v;
  }
  static LuaValue Double(double d) {
    LuaValue v;
    v.type = Type::kDouble;
    v.d = d;
    return v;
  }
  static LuaValue String(std::string s) {
    LuaValue v;
    v.type = Type::kString;
    v.s = std::move(s);
    return v;
  }

  friend bool operator==(const LuaValue&, const LuaValue&) = default;

  Type type = Type::kNil;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

// "nil", "bool", "int", "double", "string".
const char* TypeName(LuaValue::Type type);

// A function Lua code may call as host.<name>(...). Its arguments are the
// call's arguments (a table or function argument is refused before it is
// called); an Error result raises a Lua error with its message, and so does
// an exception it throws.
using HostFunction = std::function<Result<LuaValue>(const std::vector<LuaValue>& args)>;
using HostFunctionTable = std::map<std::string, HostFunction, std::less<>>;

}  // namespace atrium::lua

#endif  // ATRIUM_LUA_VALUE_H_
