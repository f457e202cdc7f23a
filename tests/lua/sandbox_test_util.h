// What the LuaSandbox tests share (sandbox_test.cc: containment and budgets;
// sandbox_host_test.cc: host functions, the injected clock, the libraries,
// LuaValue): sandboxes with test limits, loading chunks and calling their
// functions, and a printable outcome of each call.
#ifndef ATRIUM_TESTS_LUA_SANDBOX_TEST_UTIL_H_
#define ATRIUM_TESTS_LUA_SANDBOX_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/lua/sandbox.h"
#include "atrium/lua/value.h"

namespace atrium::lua::sandbox_test {

struct Outcome {
  Fault fault = Fault::kNone;
  std::string message;  // on a fault
  std::string result;   // otherwise: "<type>:<value>" of the first result
};

// Default limits, but a wall-clock budget no loaded CI machine hits: tests
// that expect another fault must not see kTime instead.
inline SandboxLimits TestLimits() {
  SandboxLimits limits;
  limits.time_us_per_call = 30'000'000;
  return limits;
}

inline SandboxOptions Options(const SandboxLimits& limits,
                              const HostFunctionTable* host = nullptr) {
  SandboxOptions options;
  options.limits = limits;
  options.host = host;
  return options;
}

inline std::unique_ptr<LuaSandbox> MakeSandbox(SandboxOptions options) {
  auto sandbox = LuaSandbox::Create(std::move(options));
  if (!sandbox.ok()) {
    ADD_FAILURE() << sandbox.error().ToString();
    return nullptr;
  }
  return std::move(sandbox).value();
}

inline std::unique_ptr<LuaSandbox> MakeSandbox(const SandboxLimits& limits = TestLimits(),
                                               const HostFunctionTable* host = nullptr) {
  return MakeSandbox(Options(limits, host));
}

inline int Load(LuaSandbox& sandbox, std::string_view source) {
  auto env = sandbox.LoadChunk("chunk", source);
  EXPECT_TRUE(env.ok()) << env.error().ToString();
  return env.ok() ? *env : LUA_NOREF;
}

inline std::string Describe(lua_State* L, int index) {
  std::string out = luaL_typename(L, index);
  out += ":";
  switch (lua_type(L, index)) {
    case LUA_TSTRING:
      out += lua_tostring(L, index);
      break;
    case LUA_TBOOLEAN:
      out += lua_toboolean(L, index) ? "true" : "false";
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        out += std::to_string(lua_tointeger(L, index));
      } else {
        out += std::to_string(lua_tonumber(L, index));
      }
      break;
    default:
      break;
  }
  return out;
}

// Calls env.<name>(args...) for one result and checks the stack is balanced.
inline Outcome Call(LuaSandbox& sandbox, int env, const char* name,
                    const std::vector<LuaValue>& args = {}) {
  lua_State* L = sandbox.L();
  const int top = lua_gettop(L);
  Outcome outcome;
  if (!sandbox.PushFunction(env, name)) {
    ADD_FAILURE() << "no function " << name;
    outcome.fault = Fault::kError;
    return outcome;
  }
  for (const LuaValue& arg : args) LuaSandbox::Push(L, arg);
  outcome.fault = sandbox.PCall(static_cast<int>(args.size()), 1, &outcome.message);
  if (outcome.fault == Fault::kNone) {
    outcome.result = Describe(L, -1);
    lua_pop(L, 1);
  }
  EXPECT_EQ(lua_gettop(L), top) << "stack not balanced after " << name;
  return outcome;
}

// Runs `body` as the body of a chunk's function and returns its outcome.
inline Outcome RunBody(LuaSandbox& sandbox, const std::string& body) {
  const int env = Load(sandbox, "function run()\n" + body + "\nend");
  if (env == LUA_NOREF) return {Fault::kError, "load failed", ""};
  return Call(sandbox, env, "run");
}

inline LuaValue Int(int64_t i) { return LuaValue::Int(i); }
inline LuaValue Str(std::string_view s) { return LuaValue::String(std::string(s)); }

}  // namespace atrium::lua::sandbox_test

#endif  // ATRIUM_TESTS_LUA_SANDBOX_TEST_UTIL_H_
