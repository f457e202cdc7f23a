// Tests for LuaSandbox's surroundings: host functions (allow-listed,
// read-only, capped print), the time budget read from the injected clock,
// the standard libraries chosen per use, and LuaValue on the stack.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "sandbox_test_util.h"

namespace atrium::lua::sandbox_test {
namespace {

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
}  // namespace atrium::lua::sandbox_test
