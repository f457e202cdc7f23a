// Tests for LuaSandbox: escape attempts are contained and reported, the
// memory/instruction/time budgets end runaway code (also code that catches
// errors), the time budget reads the injected clock, the standard libraries
// are chosen per use, host functions, LuaValue conversions, and that the
// sandbox stays usable with a balanced stack after every fault.
#include "atrium/lua/sandbox.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "atrium/base/clock.h"
#include "atrium/lua/value.h"

namespace atrium::lua {
namespace {

using std::chrono::steady_clock;

struct Outcome {
  Fault fault = Fault::kNone;
  std::string message;  // on a fault
  std::string result;   // otherwise: "<type>:<value>" of the first result
};

// Default limits, but a wall-clock budget no loaded CI machine hits: tests
// that expect another fault must not see kTime instead.
SandboxLimits TestLimits() {
  SandboxLimits limits;
  limits.time_us_per_call = 30'000'000;
  return limits;
}

SandboxOptions Options(const SandboxLimits& limits, const HostFunctionTable* host = nullptr) {
  SandboxOptions options;
  options.limits = limits;
  options.host = host;
  return options;
}

std::unique_ptr<LuaSandbox> MakeSandbox(SandboxOptions options) {
  auto sandbox = LuaSandbox::Create(std::move(options));
  if (!sandbox.ok()) {
    ADD_FAILURE() << sandbox.error().ToString();
    return nullptr;
  }
  return std::move(sandbox).value();
}

std::unique_ptr<LuaSandbox> MakeSandbox(const SandboxLimits& limits = TestLimits(),
                                        const HostFunctionTable* host = nullptr) {
  return MakeSandbox(Options(limits, host));
}

int Load(LuaSandbox& sandbox, std::string_view source) {
  auto env = sandbox.LoadChunk("chunk", source);
  EXPECT_TRUE(env.ok()) << env.error().ToString();
  return env.ok() ? *env : LUA_NOREF;
}

std::string Describe(lua_State* L, int index) {
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
Outcome Call(LuaSandbox& sandbox, int env, const char* name,
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
Outcome RunBody(LuaSandbox& sandbox, const std::string& body) {
  const int env = Load(sandbox, "function run()\n" + body + "\nend");
  if (env == LUA_NOREF) return {Fault::kError, "load failed", ""};
  return Call(sandbox, env, "run");
}

LuaValue Int(int64_t i) { return LuaValue::Int(i); }
LuaValue Str(std::string_view s) { return LuaValue::String(std::string(s)); }

TEST(LuaSandboxTest, FaultNames) {
  EXPECT_STREQ(FaultName(Fault::kNone), "none");
  EXPECT_STREQ(FaultName(Fault::kError), "error");
  EXPECT_STREQ(FaultName(Fault::kMemory), "memory");
  EXPECT_STREQ(FaultName(Fault::kInstructions), "instructions");
  EXPECT_STREQ(FaultName(Fault::kTime), "time");
}

TEST(LuaSandboxTest, CreateRejectsBadLimits) {
  SandboxLimits limits;
  limits.instructions_per_call = 0;
  EXPECT_FALSE(LuaSandbox::Create(Options(limits)).ok());
  limits = {};
  limits.time_us_per_call = 0;
  EXPECT_FALSE(LuaSandbox::Create(Options(limits)).ok());
  limits = {};
  limits.memory_bytes = 4096;  // too small for the libraries
  auto tiny = LuaSandbox::Create(Options(limits));
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.error().message.find("4096"), std::string::npos) << tiny.error().message;
}

TEST(LuaSandboxTest, RunsAFunction) {
  auto sandbox = MakeSandbox();
  ASSERT_TRUE(sandbox);
  const int env = Load(*sandbox, "function fee(cents, cur) return cents * 2 + #cur end");
  Outcome out = Call(*sandbox, env, "fee", {Int(100), Str("EUR")});
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "number:203");
  EXPECT_GT(sandbox->memory_used(), 0u);
  EXPECT_LE(sandbox->memory_used(), sandbox->limits().memory_bytes);
}

TEST(LuaSandboxTest, AllowedLibrariesWork) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, R"(
    local t = {3, 1, 2}
    table.sort(t)
    local parts = {}
    for _, v in ipairs(t) do parts[#parts + 1] = tostring(v) end
    local ok, err = pcall(error, "e", 0)
    local handled = select(2, xpcall(function() error("x", 0) end,
                                     function(m) return "handled " .. m end))
    return table.concat(parts, ",") .. " " .. string.upper("ab") .. " " ..
           ("cd"):rep(2) .. " " .. math.floor(2.5) .. " " .. utf8.char(72) .. " " ..
           tostring(ok) .. err .. " " .. handled .. " " .. type(print) .. " " .. _VERSION)");
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "string:1,2,3 AB cdcd 2 H falsee handled x function Lua 5.4");
}

TEST(LuaSandboxTest, PcallAndXpcallPassValuesThrough) {
  auto sandbox = MakeSandbox();
  EXPECT_EQ(RunBody(*sandbox, "return select('#', pcall(function() return 1, 2, 3 end))").result,
            "number:4");
  EXPECT_EQ(RunBody(*sandbox,
                    "local ok, v = xpcall(function(a, b) return a + b end, print, 1, 2) "
                    "return tostring(ok) .. v")
                .result,
            "string:true3");
  EXPECT_EQ(
      RunBody(*sandbox, "local ok, e = pcall(error) return tostring(ok) .. tostring(e)").result,
      "string:falsenil");
  EXPECT_EQ(RunBody(*sandbox, "return pcall()").fault, Fault::kError);
  EXPECT_EQ(RunBody(*sandbox, "return xpcall(print)").fault, Fault::kError);
}

TEST(LuaSandboxTest, RandomIsSeededPerState) {
  auto a = MakeSandbox();
  auto b = MakeSandbox();
  const char* body = "return math.random(1, 1000000000)";
  Outcome first = RunBody(*a, body);
  Outcome second = RunBody(*b, body);
  EXPECT_EQ(first.fault, Fault::kNone);
  EXPECT_EQ(first.result, second.result);
}

// Each of these must fail as an ordinary error: the name is not reachable.
class EscapeTest : public ::testing::TestWithParam<const char*> {};

TEST_P(EscapeTest, IsContainedAndReported) {
  auto sandbox = MakeSandbox();
  ASSERT_TRUE(sandbox);
  Outcome out = RunBody(*sandbox, GetParam());
  EXPECT_EQ(out.fault, Fault::kError) << GetParam() << " gave " << out.result;
  EXPECT_FALSE(out.message.empty());
  // Still usable.
  EXPECT_EQ(RunBody(*sandbox, "return 1 + 1").result, "number:2");
}

INSTANTIATE_TEST_SUITE_P(
    Escapes, EscapeTest,
    ::testing::Values("return io.open('/etc/passwd')", "return os.execute('true')",
                      "return os.getenv('HOME')", "return require('io')",
                      "return package.loadlib('libc.so.6', 'system')", "return load('return 1')()",
                      "return loadstring('return 1')()", "return dofile('/etc/passwd')",
                      "return loadfile('/etc/passwd')", "return string.dump(function() end)",
                      "return (''):dump()", "return debug.getinfo(1)", "return debug.getregistry()",
                      "return collectgarbage('stop')", "return collectgarbage('count')",
                      "return getmetatable('').__index.dump", "return getmetatable(_ENV).__index",
                      "return coroutine.create(print)", "return warn('@on')",
                      "return setmetatable({}, {__gc = function() end})", "string.upper = nil",
                      "host = nil; return host.x", "math.floor = print",
                      "rawset(string, 'upper', print)", "setmetatable(string, {})",
                      "table.insert(string, 1)"));

TEST(LuaSandboxTest, UnreachableNamesAreNil) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, R"(
    local names = {"io", "os", "debug", "package", "require", "load", "loadfile",
                   "dofile", "collectgarbage", "coroutine", "warn", "loadstring", "host"}
    local found = {}
    for _, n in ipairs(names) do
      if _ENV[n] ~= nil or rawget(_G, n) ~= nil then found[#found + 1] = n end
    end
    if string.dump ~= nil or (""):len() ~= 0 then found[#found + 1] = "string.dump" end
    return table.concat(found, ",") .. "|" .. tostring(getmetatable("")) .. "|" ..
           tostring(getmetatable(string)) .. "|" .. tostring(getmetatable(_ENV)) .. "|" ..
           tostring(rawget(_G, "io")))");
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "string:|false|false|false|nil");
}

TEST(LuaSandboxTest, LibraryIterationDoesNotExposeTheRealTable) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, R"(
    local n = 0
    for k, v in pairs(string) do n = n + 1 end
    local _, state = pairs(string)
    return n > 10 and state == nil and next(string) == nil)");
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "boolean:true");
}

TEST(LuaSandboxTest, BinaryChunksAreRefused) {
  // A real binary chunk, dumped by an ordinary state.
  lua_State* plain = luaL_newstate();
  ASSERT_EQ(luaL_loadstring(plain, "return 42"), LUA_OK);
  std::string binary;
  lua_dump(
      plain,
      [](lua_State*, const void* p, size_t size, void* ud) {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(p), size);
        return 0;
      },
      &binary, 0);
  lua_close(plain);
  ASSERT_EQ(binary.substr(0, 4), "\x1bLua");

  auto sandbox = MakeSandbox();
  const int top = lua_gettop(sandbox->L());
  auto env = sandbox->LoadChunk("bin", binary);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, ErrorCode::kParse);
  EXPECT_NE(env.error().message.find("binary"), std::string::npos) << env.error().message;
  EXPECT_EQ(lua_gettop(sandbox->L()), top);
}

TEST(LuaSandboxTest, SyntaxErrorsAreParseErrors) {
  auto sandbox = MakeSandbox();
  auto env = sandbox->LoadChunk("broken", "function (");
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.error().code, ErrorCode::kParse);
  EXPECT_NE(env.error().message.find("broken:1:"), std::string::npos) << env.error().message;
}

TEST(LuaSandboxTest, TopLevelFaultsFailTheLoad) {
  SandboxLimits limits = TestLimits();
  limits.instructions_per_call = 100000;
  auto sandbox = MakeSandbox(limits);
  const int top = lua_gettop(sandbox->L());
  auto looping = sandbox->LoadChunk("loop", "while true do end");
  ASSERT_FALSE(looping.ok());
  EXPECT_EQ(looping.error().code, ErrorCode::kActivation);
  EXPECT_EQ(looping.error().message, "instructions: instruction budget exceeded");
  auto failing = sandbox->LoadChunk("fail", "error('top')");
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.error().message, "error: fail:1: top");
  EXPECT_EQ(lua_gettop(sandbox->L()), top);
}

TEST(LuaSandboxTest, ChunksDoNotSeeEachOthersGlobals) {
  auto sandbox = MakeSandbox();
  const int a = Load(*sandbox, R"(
    counter = 41
    _G.shared = "a"
    print = nil
    function bump() counter = counter + 1; return counter end)");
  const int b = Load(*sandbox, R"(
    function peek() return tostring(counter) .. tostring(shared) .. type(print) end)");
  EXPECT_EQ(Call(*sandbox, a, "bump").result, "number:42");
  EXPECT_EQ(Call(*sandbox, b, "peek").result, "string:nilnilfunction");
  EXPECT_EQ(Call(*sandbox, a, "bump").result, "number:43");
}

TEST(LuaSandboxTest, PushFunctionFindsOnlyOwnFunctions) {
  auto sandbox = MakeSandbox();
  lua_State* L = sandbox->L();
  const int env = Load(*sandbox, "value = 3 function f() end");
  const int top = lua_gettop(L);
  EXPECT_FALSE(sandbox->PushFunction(env, "missing"));
  EXPECT_FALSE(sandbox->PushFunction(env, "value"));
  EXPECT_FALSE(sandbox->PushFunction(env, "print"));  // inherited, not the chunk's
  EXPECT_FALSE(sandbox->PushFunction(LUA_NOREF, "f"));
  EXPECT_EQ(lua_gettop(L), top);
  ASSERT_TRUE(sandbox->PushFunction(env, "f"));
  EXPECT_EQ(lua_gettop(L), top + 1);
  lua_pop(L, 1);
}

TEST(LuaSandboxTest, ErrorsAreReported) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, "error('boom')");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_EQ(out.message, "chunk:2: boom");
  out = RunBody(*sandbox, "error(setmetatable({}, {__tostring = function() return 'x' end}))");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_EQ(out.message, "(error object is a table value)");
  out = RunBody(*sandbox, "error(42)");
  EXPECT_EQ(out.message, "42");
  out = RunBody(*sandbox, "local x = nil; return x.y");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_NE(out.message.find("attempt to index a nil value"), std::string::npos);
}

TEST(LuaSandboxTest, InfiniteLoopHitsTheInstructionBudget) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, "while true do end");
  EXPECT_EQ(out.fault, Fault::kInstructions);
  EXPECT_EQ(out.message, "instruction budget exceeded");
  EXPECT_EQ(RunBody(*sandbox, "return 'fine'").result, "string:fine");
}

TEST(LuaSandboxTest, InstructionBudgetIsPerCall) {
  SandboxLimits limits = TestLimits();
  limits.instructions_per_call = 20000;
  auto sandbox = MakeSandbox(limits);
  const int env = Load(*sandbox,
                       "function work() local n = 0 for i = 1, 2000 do n = n + i end "
                       "return n end");
  for (int i = 0; i < 50; ++i) {
    Outcome out = Call(*sandbox, env, "work");
    ASSERT_EQ(out.fault, Fault::kNone) << i << ": " << out.message;
  }
}

TEST(LuaSandboxTest, TimeBudgetEndsAnInstructionCheapLoop) {
  SandboxLimits limits;
  limits.instructions_per_call = uint64_t{1} << 50;
  limits.time_us_per_call = 20000;
  auto sandbox = MakeSandbox(limits);
  const auto start = steady_clock::now();
  Outcome out = RunBody(*sandbox, "while true do end");
  EXPECT_EQ(out.fault, Fault::kTime);
  EXPECT_EQ(out.message, "time budget exceeded");
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(RunBody(*sandbox, "return 1").result, "number:1");
}

TEST(LuaSandboxTest, TimeBudgetEndsExpensiveStringWork) {
  // Few instructions, each copying 256 KiB: instructions never run out and
  // the collector recycles the memory, so only the clock stops it. (The
  // clock starts at the first hook firing and is checked every 1000
  // instructions, so the bound below only says "it ends".)
  SandboxLimits limits;
  limits.memory_bytes = 64u << 20;
  limits.instructions_per_call = uint64_t{1} << 50;
  limits.time_us_per_call = 30000;
  auto sandbox = MakeSandbox(limits);
  const auto start = steady_clock::now();
  Outcome out = RunBody(*sandbox, R"(
    local s = string.rep("x", 256 << 10)
    local n = 0
    while true do n = n + #(s .. n) end)");
  EXPECT_EQ(out.fault, Fault::kTime) << out.message;
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(LuaSandboxTest, UnboundedAllocationHitsTheMemoryCap) {
  SandboxLimits limits = TestLimits();
  limits.memory_bytes = 512u << 10;
  auto sandbox = MakeSandbox(limits);
  Outcome out = RunBody(*sandbox, R"(
    local t = {}
    while true do t[#t + 1] = string.rep("x", 1000) .. #t end)");
  EXPECT_EQ(out.fault, Fault::kMemory);
  EXPECT_EQ(out.message, "not enough memory");
  EXPECT_LE(sandbox->memory_used(), limits.memory_bytes);
  EXPECT_EQ(RunBody(*sandbox, "return ('ok'):upper()").result, "string:OK");

  out = RunBody(*sandbox, "return string.rep('x', 1 << 30)");
  EXPECT_EQ(out.fault, Fault::kMemory);
  EXPECT_EQ(RunBody(*sandbox, "return 2").result, "number:2");
}

TEST(LuaSandboxTest, CatchingDoesNotDefeatTheBudgets) {
  SandboxLimits limits = TestLimits();
  limits.memory_bytes = 512u << 10;
  limits.instructions_per_call = 200000;
  auto sandbox = MakeSandbox(limits);

  Outcome out = RunBody(*sandbox, "while true do pcall(function() while true do end end) end");
  EXPECT_EQ(out.fault, Fault::kInstructions);
  out = RunBody(*sandbox, R"(
    while true do
      xpcall(function() while true do end end, function() while true do end end)
    end)");
  EXPECT_EQ(out.fault, Fault::kInstructions);
  out = RunBody(*sandbox, R"(
    local ok = pcall(function() while true do end end)
    return "caught")");
  EXPECT_EQ(out.fault, Fault::kInstructions);
  out = RunBody(*sandbox, R"(
    while true do
      pcall(function() local t = {} while true do t[#t + 1] = {} end end)
    end)");
  EXPECT_EQ(out.fault, Fault::kMemory);
  out = RunBody(*sandbox, "local ok, e = pcall(string.rep, 'x', 1 << 30) return tostring(ok)");
  EXPECT_EQ(out.fault, Fault::kMemory);
  out = RunBody(*sandbox, R"(
    local function f() pcall(f) end
    while true do pcall(f) end)");
  EXPECT_NE(out.fault, Fault::kNone);
  EXPECT_EQ(RunBody(*sandbox, "return 3").result, "number:3");
}

TEST(LuaSandboxTest, TimeBudgetSurvivesCatching) {
  SandboxLimits limits;
  limits.instructions_per_call = uint64_t{1} << 50;
  limits.time_us_per_call = 20000;
  auto sandbox = MakeSandbox(limits);
  Outcome out = RunBody(*sandbox, "while true do pcall(function() while true do end end) end");
  EXPECT_EQ(out.fault, Fault::kTime);
}

TEST(LuaSandboxTest, MetamethodsRunUnderTheBudget) {
  auto sandbox = MakeSandbox();
  Outcome out = RunBody(*sandbox, R"(
    local t = setmetatable({}, {__tostring = function() while true do end end})
    return string.format("%s", t))");
  EXPECT_EQ(out.fault, Fault::kInstructions);
  out = RunBody(*sandbox, R"(
    do local x <close> = setmetatable({}, {__close = function() while true do end end}) end)");
  EXPECT_EQ(out.fault, Fault::kInstructions);
}

TEST(LuaSandboxTest, CheapLookingCLoopsAreBounded) {
  auto sandbox = MakeSandbox();
  const auto start = steady_clock::now();
  EXPECT_EQ(RunBody(*sandbox, "return #string.rep('', 1 << 50)").result, "number:0");
  EXPECT_EQ(RunBody(*sandbox, "return #(''):rep(1 << 50, '')").result, "number:0");
  EXPECT_EQ(RunBody(*sandbox, "return #string.rep('ab', 3, ',')").result, "number:8");
  EXPECT_EQ(RunBody(*sandbox,
                    "local t = {1, 2} table.insert(t, 1, 0) table.remove(t) "
                    "return table.concat(table.move(t, 1, 2, 2), ',')")
                .result,
            "string:0,0,1");
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(LuaSandboxTest, StateStaysUsableWhenAChunkHoldsAllMemory) {
  SandboxLimits limits = TestLimits();
  limits.memory_bytes = 256u << 10;
  auto sandbox = MakeSandbox(limits);
  lua_State* L = sandbox->L();
  const int env = Load(*sandbox, R"(
    hog = {}
    function fill() while true do hog[#hog + 1] = {} end end
    function echo(s) return s end
    function free() hog = nil return "freed" end)");
  EXPECT_EQ(Call(*sandbox, env, "fill").fault, Fault::kMemory);
  const int top = lua_gettop(L);

  // Arguments that no longer fit are a memory fault, not an abort.
  std::string big(200u << 10, 'x');
  Outcome out = Call(*sandbox, env, "echo", {Str(big)});
  EXPECT_EQ(out.fault, Fault::kMemory);
  EXPECT_EQ(out.message, "not enough memory to pass the arguments");
  EXPECT_EQ(lua_gettop(L), top);

  // So is loading another chunk.
  auto more = sandbox->LoadChunk("more", "local t = {} for i = 1, 10000 do t[i] = {} end");
  EXPECT_FALSE(more.ok());
  EXPECT_EQ(lua_gettop(L), top);

  EXPECT_EQ(Call(*sandbox, env, "free").result, "string:freed");
  EXPECT_EQ(Call(*sandbox, env, "echo", {Str("small")}).result, "string:small");
}

// ---- host functions ----

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_["add"] = [](const std::vector<LuaValue>& args) -> Result<LuaValue> {
      LuaValue out;
      out.type = LuaValue::Type::kInt;
      for (const LuaValue& a : args) out.i += a.i;
      return out;
    };
    host_["describe"] = [](const std::vector<LuaValue>& args) -> Result<LuaValue> {
      LuaValue out;
      out.type = LuaValue::Type::kString;
      for (const LuaValue& a : args) {
        switch (a.type) {
          case LuaValue::Type::kNil:
            out.s += "nil ";
            break;
          case LuaValue::Type::kInt:
            out.s += "int" + std::to_string(a.i) + " ";
            break;
          case LuaValue::Type::kDouble:
            out.s += "double" + std::to_string(a.d) + " ";
            break;
          case LuaValue::Type::kBool:
            out.s += a.b ? "true " : "false ";
            break;
          case LuaValue::Type::kString:
            out.s += "'" + a.s + "' ";
            break;
          default:
            out.s += "? ";
            break;
        }
      }
      return out;
    };
    host_["fail"] = [](const std::vector<LuaValue>&) -> Result<LuaValue> {
      return MakeError(ErrorCode::kNotFound, "no such account");
    };
    host_["throws"] = [](const std::vector<LuaValue>&) -> Result<LuaValue> {
      throw std::runtime_error("kaboom");
    };
    host_["flag"] = [](const std::vector<LuaValue>&) -> Result<LuaValue> {
      LuaValue out;
      out.type = LuaValue::Type::kBool;
      out.b = true;
      return out;
    };
    host_["log"] = [this](const std::vector<LuaValue>& args) -> Result<LuaValue> {
      logged_.push_back(args.empty() ? "" : args[0].s);
      return LuaValue{};
    };
    sandbox_ = MakeSandbox(TestLimits(), &host_);
  }

  HostFunctionTable host_;
  std::vector<std::string> logged_;
  std::unique_ptr<LuaSandbox> sandbox_;
};

TEST_F(HostTest, AllowListedFunctionsAreCallable) {
  EXPECT_EQ(RunBody(*sandbox_, "return host.add(1, 2, 39)").result, "number:42");
  EXPECT_EQ(RunBody(*sandbox_, "return host.describe(nil, 7, 1.5, false, 'x')").result,
            "string:nil int7 double1.500000 false 'x' ");
  EXPECT_EQ(RunBody(*sandbox_, "return host.flag()").result, "boolean:true");
  EXPECT_EQ(RunBody(*sandbox_, "return host.missing").result, "nil:");
  EXPECT_EQ(RunBody(*sandbox_, "return host.os_execute == nil and os == nil").result,
            "boolean:true");
}

TEST_F(HostTest, UnsupportedArgumentsAreErrors) {
  Outcome out = RunBody(*sandbox_, "return host.add(1, {})");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_NE(out.message.find("host.add: argument 2: unsupported type table"), std::string::npos)
      << out.message;
  out = RunBody(*sandbox_, "return host.add(print)");
  EXPECT_NE(out.message.find("host.add: argument 1: unsupported type function"), std::string::npos)
      << out.message;
}

TEST_F(HostTest, HostErrorsSurface) {
  Outcome out = RunBody(*sandbox_, "return host.fail()");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_EQ(out.message, "chunk:2: host.fail: no such account");
  out = RunBody(*sandbox_, "local ok, e = pcall(host.fail) return e");
  EXPECT_EQ(out.result, "string:host.fail: no such account");
  out = RunBody(*sandbox_, "return host.throws()");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_NE(out.message.find("host.throws: host function threw: kaboom"), std::string::npos)
      << out.message;
}

TEST_F(HostTest, HostTableIsReadOnly) {
  Outcome out = RunBody(*sandbox_, "host.add = function() return 0 end");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_NE(out.message.find("host is read-only"), std::string::npos) << out.message;
  EXPECT_EQ(RunBody(*sandbox_, "host.evil = 1").fault, Fault::kError);
  EXPECT_EQ(RunBody(*sandbox_, "rawset(host, 'add', print)").fault, Fault::kError);
  EXPECT_EQ(RunBody(*sandbox_, "setmetatable(host, nil)").fault, Fault::kError);
  EXPECT_EQ(RunBody(*sandbox_, "return getmetatable(host)").result, "boolean:false");
  // A chunk's own `host` global shadows it only in its own environment.
  const int a = Load(*sandbox_, "host = {add = function() return -1 end}");
  (void)a;
  EXPECT_EQ(RunBody(*sandbox_, "return host.add(1)").result, "number:1");
}

TEST_F(HostTest, PrintGoesToTheHostLog) {
  EXPECT_EQ(RunBody(*sandbox_, "print('fee', 3, nil, true)").fault, Fault::kNone);
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0], "fee\t3\tnil\ttrue");
  EXPECT_EQ(RunBody(*sandbox_, "print(string.rep('y', 5000))").fault, Fault::kNone);
  ASSERT_EQ(logged_.size(), 2u);
  EXPECT_EQ(logged_[1].size(), 1024u);
}

TEST_F(HostTest, PrintIsCappedPerCallAndPerState) {
  // 200,000 lines in one call: 20 reach the log, then one line saying so.
  EXPECT_EQ(RunBody(*sandbox_, "for i = 1, 200000 do print(i) end return 1").result, "number:1");
  ASSERT_EQ(logged_.size(), 21u);
  EXPECT_EQ(logged_[19], "20");
  EXPECT_EQ(logged_[20], "print: 20 lines in one call; the rest of this call's lines are dropped");
  // The next call may print again, until the state has printed 1,000 lines.
  for (int call = 0; call < 60; ++call) {
    EXPECT_EQ(RunBody(*sandbox_, "for i = 1, 30 do print('x') end").fault, Fault::kNone);
  }
  size_t lines = 0;
  for (const std::string& line : logged_) lines += line.rfind("print: ", 0) == 0 ? 0 : 1;
  EXPECT_EQ(lines, 1000u);
  EXPECT_EQ(logged_.back(), "print: 1000 lines from this Lua state; its later lines are dropped");
}

TEST(LuaSandboxTest, PrintWithoutHostLogGoesToTheLog) {
  auto sandbox = MakeSandbox();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunBody(*sandbox, "print('to the log') return 1").result, "number:1");
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");  // never stdout
}

TEST(LuaSandboxTest, NoHostTableWithoutHost) {
  auto sandbox = MakeSandbox();
  EXPECT_EQ(RunBody(*sandbox, "return host").result, "nil:");
}

// ---- the injected clock ----

// The time budget reads the sandbox's Clock, so a FakeClock decides it
// exactly, however fast or slow the machine runs the code.
class FakeClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_["advance_ms"] = [this](const std::vector<LuaValue>& args) -> Result<LuaValue> {
      clock_.AdvanceMs(args.at(0).i);
      return LuaValue::Nil();
    };
    SandboxOptions options = Options(SandboxLimits{}, &host_);
    options.limits.instructions_per_call = uint64_t{1} << 50;
    options.limits.time_us_per_call = 5000;
    options.clock = &clock_;
    sandbox_ = MakeSandbox(std::move(options));
    // The clock starts at the hook's first firing (after 1000 instructions),
    // so each step runs a loop before and after moving it.
    env_ = Load(*sandbox_, R"(
      local function spin() for i = 1, 3000 do end end
      function step(ms) spin() host.advance_ms(ms) spin() return "done" end)");
  }

  ::atrium::internal::FakeClock clock_;
  HostFunctionTable host_;
  std::unique_ptr<LuaSandbox> sandbox_;
  int env_ = LUA_NOREF;
};

TEST_F(FakeClockTest, TheBudgetTripsExactlyPastTheLimit) {
  Outcome out = Call(*sandbox_, env_, "step", {Int(4)});
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  out = Call(*sandbox_, env_, "step", {Int(5)});  // 5000 us is not over 5000 us
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "string:done");
  out = Call(*sandbox_, env_, "step", {Int(6)});
  EXPECT_EQ(out.fault, Fault::kTime);
  EXPECT_EQ(out.message, "time budget exceeded");
  // The budget is per call: the next call starts from the clock's new time.
  EXPECT_EQ(Call(*sandbox_, env_, "step", {Int(1)}).fault, Fault::kNone);
  EXPECT_EQ(clock_.SteadyNs(), 16'000'000);
}

TEST_F(FakeClockTest, RealTimeDoesNotCount) {
  // A million instructions against a 1 us budget: over on any real clock,
  // within it on a clock that stands still.
  SandboxOptions options = Options(SandboxLimits{}, &host_);
  options.limits.instructions_per_call = uint64_t{1} << 50;
  options.limits.time_us_per_call = 1;
  options.clock = &clock_;
  auto sandbox = MakeSandbox(std::move(options));
  Outcome out = RunBody(*sandbox, "local n = 0 for i = 1, 250000 do n = n + i end return n");
  EXPECT_EQ(out.fault, Fault::kNone) << out.message;
  EXPECT_EQ(out.result, "number:31250125000");
}

// ---- the standard libraries each use chooses ----

TEST(LuaSandboxTest, AllSafeLibrariesByDefault) {
  constexpr StandardLibraries libraries;
  static_assert(libraries.Has(StandardLibrary::kBase) && libraries.Has(StandardLibrary::kString) &&
                libraries.Has(StandardLibrary::kTable) && libraries.Has(StandardLibrary::kMath) &&
                libraries.Has(StandardLibrary::kUtf8));
  static_assert(!StandardLibraries::None().Has(StandardLibrary::kBase));
  static_assert(
      !StandardLibraries::All().Without(StandardLibrary::kMath).Has(StandardLibrary::kMath));
}

TEST(LuaSandboxTest, OnlyTheAllowedLibrariesAreReachable) {
  HostFunctionTable host;
  host["one"] = [](const std::vector<LuaValue>&) -> Result<LuaValue> { return LuaValue::Int(1); };
  SandboxOptions options = Options(TestLimits(), &host);
  options.libraries = StandardLibraries::None().With(StandardLibrary::kMath);
  auto math_only = MakeSandbox(std::move(options));
  ASSERT_TRUE(math_only);
  // Only operators here: without base there is no type() or tostring().
  EXPECT_EQ(RunBody(*math_only, "return math.floor(2.5) + host.one()").result, "number:3");
  EXPECT_EQ(RunBody(*math_only,
                    "return string == nil and table == nil and utf8 == nil and print == nil and "
                    "pcall == nil and type == nil and setmetatable == nil and _VERSION == nil and "
                    "io == nil and os == nil and debug == nil and load == nil")
                .result,
            "boolean:true");
  // No string library: strings have no methods either.
  Outcome out = RunBody(*math_only, "return ('x'):upper()");
  EXPECT_EQ(out.fault, Fault::kError);
  EXPECT_NE(out.message.find("attempt to index a string value"), std::string::npos) << out.message;

  options = Options(TestLimits());
  options.libraries = StandardLibraries::All().Without(StandardLibrary::kString);
  auto no_string = MakeSandbox(std::move(options));
  ASSERT_TRUE(no_string);
  EXPECT_EQ(RunBody(*no_string,
                    "return type(string) .. type(table) .. type(math) .. type(utf8) .. type(pcall)")
                .result,
            "string:niltabletabletablefunction");

  options = Options(TestLimits());
  options.libraries = StandardLibraries::None();
  auto bare = MakeSandbox(std::move(options));
  ASSERT_TRUE(bare);
  EXPECT_EQ(RunBody(*bare, "local t = {1, 2} return #t + 40").result, "number:42");
  EXPECT_EQ(RunBody(*bare, "return host").result, "nil:");
}

// ---- LuaValue on the stack ----

TEST(LuaValueTest, TypeNames) {
  EXPECT_STREQ(TypeName(LuaValue::Type::kNil), "nil");
  EXPECT_STREQ(TypeName(LuaValue::Type::kBool), "bool");
  EXPECT_STREQ(TypeName(LuaValue::Type::kInt), "int");
  EXPECT_STREQ(TypeName(LuaValue::Type::kDouble), "double");
  EXPECT_STREQ(TypeName(LuaValue::Type::kString), "string");
}

TEST(LuaValueTest, PushAndReadRoundTrip) {
  auto sandbox = MakeSandbox();
  lua_State* L = sandbox->L();
  const int env = Load(*sandbox, "function echo(...) return ... end");
  const std::vector<LuaValue> values = {LuaValue::Nil(), LuaValue::Bool(true), LuaValue::Int(-7),
                                        LuaValue::Double(2.5),
                                        LuaValue::String(std::string("a\0b", 3))};
  const int top = lua_gettop(L);
  ASSERT_TRUE(sandbox->PushFunction(env, "echo"));
  for (const LuaValue& v : values) LuaSandbox::Push(L, v);
  std::string message;
  ASSERT_EQ(sandbox->PCall(static_cast<int>(values.size()), LUA_MULTRET, &message), Fault::kNone)
      << message;
  ASSERT_EQ(lua_gettop(L), top + static_cast<int>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    LuaValue read;
    std::string error;
    ASSERT_TRUE(LuaSandbox::Read(L, top + 1 + static_cast<int>(i), &read, &error)) << error;
    EXPECT_EQ(read, values[i]) << i;
  }
  lua_settop(L, top);
}

TEST(LuaValueTest, TablesAndFunctionsDoNotCross) {
  auto sandbox = MakeSandbox();
  lua_State* L = sandbox->L();
  const int env = Load(*sandbox, "function get() return {}, print end");
  const int top = lua_gettop(L);
  ASSERT_TRUE(sandbox->PushFunction(env, "get"));
  std::string message;
  ASSERT_EQ(sandbox->PCall(0, 2, &message), Fault::kNone) << message;
  LuaValue read;
  std::string error;
  EXPECT_FALSE(LuaSandbox::Read(L, -2, &read, &error));
  EXPECT_EQ(error, "unsupported type table");
  EXPECT_FALSE(LuaSandbox::Read(L, -1, &read, &error));
  EXPECT_EQ(error, "unsupported type function");
  lua_settop(L, top);
}

}  // namespace
}  // namespace atrium::lua
