// Tests for the straight-line proof (lua/src/bytecode.h) and the calls
// LuaSandbox runs without the count hook: the opcodes read from the
// installed Lua's own dumps, which functions qualify, malformed images, and
// that the budgets hold for every other call before and after one.
#include <gtest/gtest.h>

#include <lua.hpp>
#include <string>
#include <vector>

#include "bytecode.h"
#include "sandbox_test_util.h"

namespace atrium::lua::sandbox_test {
namespace {

using detail::DumpedFunction;
using detail::OpcodeOf;
using detail::ReadDumpedFunction;

int Append(lua_State*, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}

// The image lua_dump writes (stripped) for the function `source` returns,
// in a plain state of the installed Lua.
std::string Dump(const std::string& source) {
  lua_State* L = luaL_newstate();
  std::string image;
  if (luaL_loadstring(L, source.c_str()) == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK) {
    lua_dump(L, &Append, &image, 1);
  }
  lua_close(L);
  return image;
}

std::vector<int> Opcodes(const std::string& source) {
  const DumpedFunction f = ReadDumpedFunction(Dump(source));
  EXPECT_TRUE(f.ok) << f.error;
  std::vector<int> ops;
  for (uint32_t i : f.code) ops.push_back(OpcodeOf(i));
  return ops;
}

// The opcode numbers the proof relies on, as the installed Lua compiles:
// MUL 36, MMBIN 46, IDIVK 28, MMBINK 48, RETURN1 72, RETURN0 71; JMP 56;
// FORPREP 74, FORLOOP 73; GETTABUP 11, TAILCALL 69; NEWTABLE 19, EXTRAARG
// 82; LOADK 3; LT 58; VARARGPREP 81; LEN 52; GETUPVAL 9.
TEST(StraightLineTest, OpcodesAreTheInstalledLuas) {
  EXPECT_EQ(Opcodes("return function(o, a, b) return a * b // 1000 end"),
            (std::vector<int>{36, 46, 28, 48, 72, 71}));
  EXPECT_EQ(Opcodes("return function() while true do end end"), (std::vector<int>{56, 71}));
  EXPECT_EQ(Opcodes("return function() for i = 1, 10 do end end"),
            (std::vector<int>{1, 1, 1, 74, 73, 71}));
  EXPECT_EQ(Opcodes("return function(a) return f(a) end"), (std::vector<int>{11, 0, 69, 70, 71}));
  EXPECT_EQ(Opcodes("return function() local t = {} end"), (std::vector<int>{19, 82, 71}));
  EXPECT_EQ(Opcodes("return function() return 'x' end"), (std::vector<int>{3, 72, 71}));
  EXPECT_EQ(Opcodes("return function(a, b) if a < b then return 1 end return 2 end"),
            (std::vector<int>{58, 56, 1, 72, 1, 72, 71}));
  EXPECT_EQ(Opcodes("return function(...) return 1 end"), (std::vector<int>{81, 1, 70, 70}));
  EXPECT_EQ(Opcodes("return function(a) return #a end"), (std::vector<int>{52, 72, 71}));
  EXPECT_EQ(Opcodes("local x = 1 return function(a) return a + x end"),
            (std::vector<int>{9, 34, 46, 72, 71}));
}

TEST(StraightLineTest, WhichFunctionsQualify) {
  struct Case {
    const char* source;
    bool straight;
  } cases[] = {
      {"return function(o, a, b) return a * b // 1000 end", true},
      {"return function(a, b) if a < b then return 1 end return 2.5 end", true},
      {"return function(a) return a ~= nil and not a or -a end", true},
      {"return function(a, b) local c = a & b return c << 2, c ~ 3, a / b, a ^ 2 end", true},
      {"return function() end", true},
      {"return function() while true do end end", false},  // a backward jump
      {"return function() repeat until false end", false},
      {"return function() for i = 1, 10 do end end", false},
      {"return function(t) for k in pairs(t) do end end", false},
      {"return function(a) return f(a) end", false},  // a global and a call
      {"return function(o, a) return o(a) end", false},
      {"return function(a) return a.x end", false},  // a table read (__index)
      {"return function(a) a.x = 1 end", false},
      {"return function() return {} end", false},
      {"return function() return function() end end", false},
      {"return function() return 'x' end", false},      // a string constant
      {"return function(a) return a .. 1 end", false},  // concat
      {"return function(a) return #a end", false},
      {"return function(...) return 1 end", false},
      {"local x = 1 return function(a) return a + x end", false},  // an upvalue
      {"return function(a) local c <close> = a end", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(detail::IsStraightLine(Dump(c.source), 1000), c.straight) << c.source;
  }
  // As long as the hook interval or longer, it could reach the hook.
  const std::string fee = Dump("return function(o, a, b) return a * b // 1000 end");  // 6
  EXPECT_TRUE(detail::IsStraightLine(fee, 7));
  EXPECT_FALSE(detail::IsStraightLine(fee, 6));
  EXPECT_FALSE(detail::IsStraightLine(fee, 0));
  // Unstripped images read the same.
  lua_State* L = luaL_newstate();
  ASSERT_EQ(luaL_loadstring(L, "return function(a) return a + 1 end"), LUA_OK);
  ASSERT_EQ(lua_pcall(L, 0, 1, 0), LUA_OK);
  std::string full;
  lua_dump(L, &Append, &full, 0);
  lua_close(L);
  EXPECT_TRUE(detail::IsStraightLine(full, 1000));
}

// Every truncation, and damaged header fields, read as errors naming the
// field and offset, and never as straight-line code.
TEST(StraightLineTest, MalformedImagesAreNotStraight) {
  const std::string image = Dump("return function(o, a, b) return a * b // 1000 + 0.5 end");
  ASSERT_TRUE(detail::IsStraightLine(image, 1000));
  const DumpedFunction whole = ReadDumpedFunction(image);
  ASSERT_TRUE(whole.ok) << whole.error;
  EXPECT_EQ(whole.constant_count, 2u);  // 1000 and 0.5
  // The constants end the part read: every shorter prefix fails.
  size_t needed = 0;
  for (size_t n = 0; n < image.size(); ++n) {
    const DumpedFunction f = ReadDumpedFunction(image.substr(0, n));
    if (f.ok) {
      needed = n;
      break;
    }
    EXPECT_NE(f.error.find(" at offset "), std::string::npos) << n << ": " << f.error;
    EXPECT_FALSE(detail::IsStraightLine(image.substr(0, n), 1000)) << n;
  }
  EXPECT_GT(needed, 40u);
  struct Damage {
    size_t offset;
    char byte;
    const char* error;
  } damages[] = {
      {0, 'X', "not a Lua image: signature at offset 4"},
      {4, 0x53, "not Lua 5.4: version at offset 5"},
      {5, 1, "unknown format at offset 6"},
      {7, 0, "corrupt check data at offset 12"},
      {12, 8, "other type sizes at offset 13"},
      {15, 1, "other integer format at offset 23"},
      {23, 1, "other number format at offset 31"},
  };
  for (const Damage& d : damages) {
    std::string bad = image;
    bad[d.offset] = d.byte;
    const DumpedFunction f = ReadDumpedFunction(bad);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, d.error);
    EXPECT_FALSE(detail::IsStraightLine(bad, 1000));
  }
  // A size that never ends, and an instruction count beyond the image.
  std::string endless = image.substr(0, 32) + std::string(12, '\x01');
  EXPECT_NE(ReadDumpedFunction(endless).error.find("source at offset"), std::string::npos);
  // Stripped source (offset 32), lines 0 and 0, 3 parameters, no varargs,
  // stack 5, then 2^28 - 1 instructions.
  std::string huge = image.substr(0, 33) + std::string("\x80\x80\x03\x00\x05\x7f\x7f\x7f\xff", 9);
  EXPECT_EQ(ReadDumpedFunction(huge).error, "instruction count beyond the image at offset 42");
  EXPECT_FALSE(detail::IsStraightLine("", 1000));
}

// The same function gives the same results either way; a counted call
// after a straight one still trips its budget (the hook is set again), and
// errors in a straight call are errors.
TEST(StraightLineTest, SandboxRunsStraightCallsAndKeepsBudgetsForTheRest) {
  SandboxLimits limits = TestLimits();
  limits.instructions_per_call = 20000;
  auto sandbox = MakeSandbox(limits);
  ASSERT_TRUE(sandbox);
  const int env = Load(*sandbox,
                       "function fee(a, b) return a * b // 1000 end\n"
                       "function spin() while true do end end\n"
                       "function bad(a) return a + 1 end");
  lua_State* L = sandbox->L();
  ASSERT_TRUE(sandbox->PushFunction(env, "fee"));
  EXPECT_TRUE(sandbox->IsStraightLine(-1));
  lua_pop(L, 1);
  ASSERT_TRUE(sandbox->PushFunction(env, "spin"));
  EXPECT_FALSE(sandbox->IsStraightLine(-1));
  lua_pop(L, 1);
  lua_pushcfunction(L, [](lua_State*) { return 0; });
  EXPECT_FALSE(sandbox->IsStraightLine(-1));  // not Lua code
  lua_pop(L, 1);
  lua_pushinteger(L, 1);
  EXPECT_FALSE(sandbox->IsStraightLine(-1));
  lua_pop(L, 1);

  const int top = lua_gettop(L);
  for (int round = 0; round < 3; ++round) {
    for (CallHook hook : {CallHook::kStraightLine, CallHook::kCounted}) {
      ASSERT_TRUE(sandbox->PushFunction(env, "fee"));
      lua_pushinteger(L, 1999);
      lua_pushinteger(L, 7);
      std::string message;
      ASSERT_EQ(sandbox->PCall(2, 1, &message, hook), Fault::kNone) << message;
      EXPECT_EQ(lua_tointeger(L, -1), 13);
      lua_pop(L, 1);
    }
    Outcome spun = Call(*sandbox, env, "spin");
    EXPECT_EQ(spun.fault, Fault::kInstructions) << round;
    ASSERT_TRUE(sandbox->PushFunction(env, "bad"));
    lua_pushboolean(L, 1);
    std::string message;
    EXPECT_EQ(sandbox->PCall(1, 1, &message, CallHook::kStraightLine), Fault::kError);
    EXPECT_NE(message.find("arithmetic on a boolean value"), std::string::npos) << message;
    EXPECT_EQ(lua_gettop(L), top);
  }
}

// An argument with a metatable could run Lua metamethods from the
// function's arithmetic: such a call is counted, and its loop ends.
TEST(StraightLineTest, AnArgumentWithAMetatableIsCounted) {
  auto sandbox = MakeSandbox();
  ASSERT_TRUE(sandbox);
  const int env = Load(*sandbox,
                       "local spin = setmetatable({}, {__add = function() while true do end end})\n"
                       "function make() return spin end\n"
                       "function add(a) return a + 1 end");
  lua_State* L = sandbox->L();
  const int top = lua_gettop(L);
  ASSERT_TRUE(sandbox->PushFunction(env, "add"));
  EXPECT_TRUE(sandbox->IsStraightLine(-1));
  lua_pop(L, 1);
  ASSERT_TRUE(sandbox->PushFunction(env, "make"));
  std::string message;
  ASSERT_EQ(sandbox->PCall(0, 1, &message), Fault::kNone) << message;
  const int spin = lua_gettop(L);
  ASSERT_TRUE(sandbox->PushFunction(env, "add"));
  lua_pushvalue(L, spin);
  EXPECT_EQ(sandbox->PCall(1, 1, &message, CallHook::kStraightLine), Fault::kInstructions);
  EXPECT_EQ(message, "instruction budget exceeded");
  EXPECT_EQ(lua_gettop(L), spin);
  // A table without one is an error, as counted.
  lua_newtable(L);
  const int plain = lua_gettop(L);
  ASSERT_TRUE(sandbox->PushFunction(env, "add"));
  lua_pushvalue(L, plain);
  EXPECT_EQ(sandbox->PCall(1, 1, &message, CallHook::kStraightLine), Fault::kError);
  EXPECT_NE(message.find("arithmetic on a table value"), std::string::npos) << message;
  lua_settop(L, top);
}

}  // namespace
}  // namespace atrium::lua::sandbox_test
