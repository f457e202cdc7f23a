// Tests for LuaSandbox: escape attempts are contained and reported, the
// memory/instruction/time budgets end runaway code (also code that catches
// errors), and the sandbox stays usable with a balanced stack after every
// fault. Host functions, the injected clock, the libraries and LuaValue:
// sandbox_host_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "sandbox_test_util.h"

namespace atrium::lua::sandbox_test {
namespace {

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

// A clock that moves 1 ms each time it is read: a budget of N ms ends the
// call after a number of reads fixed by how often the sandbox looks, however
// fast the machine runs the code.
class TickingClock final : public ::atrium::internal::Clock {
 public:
  int64_t NowUnixMs() const override { return 1'700'000'000'000; }
  int64_t SteadyNs() const override { return reads_.fetch_add(1) * 1'000'000; }
  int64_t reads() const { return reads_.load(); }

 private:
  mutable std::atomic<int64_t> reads_{0};
};

TEST(LuaSandboxTest, TimeBudgetEndsAnInstructionCheapLoop) {
  TickingClock clock;
  SandboxOptions options = Options(SandboxLimits{});
  options.limits.instructions_per_call = uint64_t{1} << 50;
  options.limits.time_us_per_call = 20000;
  options.clock = &clock;
  auto sandbox = MakeSandbox(std::move(options));
  Outcome out = RunBody(*sandbox, "while true do end");
  EXPECT_EQ(out.fault, Fault::kTime);
  EXPECT_EQ(out.message, "time budget exceeded");
  // Read when the hook first fires (the start), then every 1000
  // instructions: the 22nd read is 21 ms past the start, the first over 20.
  EXPECT_EQ(clock.reads(), 22);
  EXPECT_EQ(RunBody(*sandbox, "return 1").result, "number:1");
}

TEST(LuaSandboxTest, TimeBudgetEndsExpensiveStringWork) {
  // Few instructions, each copying 256 KiB: instructions never run out and
  // the collector recycles the memory, so only the clock stops it; the
  // allocator's work units make the sandbox look at the clock.
  TickingClock clock;
  SandboxOptions options = Options(SandboxLimits{});
  options.limits.memory_bytes = 64u << 20;
  options.limits.instructions_per_call = uint64_t{1} << 50;
  options.limits.time_us_per_call = 30000;
  options.clock = &clock;
  auto sandbox = MakeSandbox(std::move(options));
  Outcome out = RunBody(*sandbox, R"(
    local s = string.rep("x", 256 << 10)
    local n = 0
    while true do n = n + #(s .. n) end)");
  EXPECT_EQ(out.fault, Fault::kTime) << out.message;
  EXPECT_EQ(clock.reads(), 32);  // the start, then 31 ms later: the first over 30
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
  // 2^50 empty pieces: a loop over them would trip the budget (each piece is
  // charged as work) or never end, and either fails the results below; no
  // clock is needed to tell.
  auto sandbox = MakeSandbox();
  EXPECT_EQ(RunBody(*sandbox, "return #string.rep('', 1 << 50)").result, "number:0");
  EXPECT_EQ(RunBody(*sandbox, "return #(''):rep(1 << 50, '')").result, "number:0");
  EXPECT_EQ(RunBody(*sandbox, "return #string.rep('ab', 3, ',')").result, "number:8");
  EXPECT_EQ(RunBody(*sandbox,
                    "local t = {1, 2} table.insert(t, 1, 0) table.remove(t) "
                    "return table.concat(table.move(t, 1, 2, 2), ',')")
                .result,
            "string:0,0,1");
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

}  // namespace
}  // namespace atrium::lua::sandbox_test
