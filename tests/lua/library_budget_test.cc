// The library's C functions cannot escape a sandbox's budgets: each case
// below does heavy work inside C functions called from a handful of VM
// instructions (far fewer than the instruction budget), so only the work
// those functions charge can end it. Each case runs twice: against the
// instruction budget (the call must fault with kInstructions), and against
// a time budget on a clock that moves 1 ms at every read (it must fault with
// kTime, which proves the C work reads the clock while it runs). Neither
// depends on the machine's speed.
//
// Before the budget was charged from C, every case here ran to the end: the
// first (".-b" on 10,000 bytes, 150 times) took about 55 s with a 20 ms
// time budget.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <string>
#include <utility>

#include "atrium/base/clock.h"
#include "atrium/lua/sandbox.h"

namespace atrium::lua {
namespace {

// A clock that moves forward by 1 ms every time it is read.
class TickingClock final : public ::atrium::internal::Clock {
 public:
  int64_t NowUnixMs() const override { return 0; }
  int64_t SteadyNs() const override { return ticks_.fetch_add(1) * 1'000'000; }
  int64_t reads() const { return ticks_.load(); }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

struct Case {
  const char* name;
  const char* body;  // a function body; its VM instructions stay well below kVmBudget
};

// The instruction budget of the instruction runs. No body runs more than
// about 50,000 VM instructions (loops of at most 150 iterations, and one of
// 6,933 in sort_strings); the work they ask of C is millions of units.
constexpr uint64_t kVmBudget = 200'000;

// Bodies share a few inputs made cheaply in C (rep, byte).
constexpr const char* kPrelude = R"lua(
  local letters = ("qwertyuiopasdfghjklzxcvbnm"):rep(800)   -- 20,800 bytes
  local t = {string.byte(letters, 1, -1)}                    -- 20,800 numbers
)lua";

const Case kCases[] = {
    {"find_backtracking", R"lua(local s = ("a"):rep(10000)
       for i = 1, 150 do s:find(".-b") end)lua"},
    {"match_backtracking", R"lua(return (("a"):rep(3000)):match("(.-)(.-)b"))lua"},
    {"gmatch_backtracking", R"lua(for w in (("a"):rep(10000)):gmatch(".-b") do end)lua"},
    {"gsub_backtracking", R"lua(return (("a"):rep(10000)):gsub(".-b", ""))lua"},
    {"gsub_many_matches", R"lua(return (("a"):rep(100000)):gsub("a", "%0%0"))lua"},
    {"find_plain", R"lua(local s = ("a"):rep(100000)
       local p = ("a"):rep(5000) .. "b"
       for i = 1, 10 do s:find(p, 1, true) end)lua"},
    {"find_balanced", R"lua(local s = "(" .. ("()"):rep(20000)
       for i = 1, 20 do s:find("%b()") end)lua"},
    {"sort", "table.sort(t)"},
    {"sort_strings", R"lua(local words = {}
       for w in letters:gmatch("...") do words[#words + 1] = w end
       table.sort(words))lua"},
    {"concat", R"lua(for i = 1, 20 do table.concat(t, ",") end)lua"},
    {"insert_front", R"lua(for i = 1, 30 do table.insert(t, 1, 0) end)lua"},
    {"remove_front", R"lua(for i = 1, 30 do table.remove(t, 1) end)lua"},
    {"unpack", R"lua(for i = 1, 20 do local n = select("#", table.unpack(t)) end)lua"},
    {"move", R"lua(for i = 1, 20 do table.move(t, 1, #t, 2) end)lua"},
    {"move_huge_range", "table.move({}, 1, 1 << 50, 2)"},
    {"insert_huge_length",
     "table.insert(setmetatable({}, {__len = function() return 1 << 50 end}), 1, 'x')"},
    {"remove_huge_length",
     "table.remove(setmetatable({}, {__len = function() return 1 << 50 end}), 1)"},
    {"rep", R"lua(for i = 1, 100 do local x = ("x"):rep(100000) end)lua"},
    {"format", R"lua(local b = ("x"):rep(50000)
       for i = 1, 100 do local x = string.format("%s%s", b, b) end)lua"},
    {"upper", R"lua(local b = ("x"):rep(100000) for i = 1, 100 do local x = b:upper() end)lua"},
    {"lower", R"lua(local b = ("X"):rep(100000) for i = 1, 100 do local x = b:lower() end)lua"},
    {"reverse", R"lua(local b = letters:rep(5) for i = 1, 100 do local x = b:reverse() end)lua"},
    {"sub", R"lua(local b = ("x"):rep(100000) for i = 1, 100 do local x = b:sub(2) end)lua"},
    {"byte", R"lua(for i = 1, 20 do local n = select("#", letters:byte(1, -1)) end)lua"},
    {"char", R"lua(for i = 1, 20 do local s = string.char(table.unpack(t)) end)lua"},
    {"utf8_len", R"lua(local b = ("x"):rep(100000) for i = 1, 20 do utf8.len(b) end)lua"},
    {"utf8_codepoint",
     R"lua(for i = 1, 20 do local n = select("#", utf8.codepoint(letters, 1, -1)) end)lua"},
    {"utf8_offset", R"lua(local b = ("x"):rep(100000) for i = 1, 20 do utf8.offset(b, -1) end)lua"},
    {"tonumber", R"lua(local d = ("1"):rep(100000) for i = 1, 20 do tonumber(d) end)lua"},
    {"rawequal", R"lua(local a = ("x"):rep(100000)
       local b = ("x"):rep(99999) .. "x"
       for i = 1, 50 do rawequal(a, b) end)lua"},
    {"string_concat_operator", R"lua(local b = ("x"):rep(100000)
       for i = 1, 100 do local x = b .. i end)lua"},
};

std::string Body(const Case& c) { return std::string(kPrelude) + c.body; }

SandboxOptions Options() {
  SandboxOptions options;
  options.limits.memory_bytes = 8u << 20;
  options.limits.instructions_per_call = uint64_t{1} << 50;
  options.limits.time_us_per_call = int64_t{1} << 40;
  return options;
}

// Loads `body` as function run() and calls it; the fault and its message.
std::pair<Fault, std::string> RunBody(LuaSandbox& sandbox, const std::string& body) {
  auto env = sandbox.LoadChunk("case", "function run()\n" + body + "\nend");
  if (!env.ok()) return {Fault::kError, env.error().ToString()};
  if (!sandbox.PushFunction(*env, "run")) return {Fault::kError, "no run()"};
  std::string message;
  const Fault fault = sandbox.PCall(0, 0, &message);
  return {fault, message};
}

class LibraryBudgetTest : public ::testing::TestWithParam<Case> {};

TEST_P(LibraryBudgetTest, InstructionBudgetCountsTheWorkInC) {
  SandboxOptions options = Options();
  options.limits.instructions_per_call = kVmBudget;
  auto sandbox = LuaSandbox::Create(std::move(options));
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().ToString();
  auto [fault, message] = RunBody(**sandbox, Body(GetParam()));
  EXPECT_EQ(fault, Fault::kInstructions) << FaultName(fault) << ": " << message;
  EXPECT_EQ(message, "instruction budget exceeded");
  // The state is still usable.
  EXPECT_EQ(RunBody(**sandbox, "return ('ok'):find('k')").first, Fault::kNone);
}

TEST_P(LibraryBudgetTest, TimeBudgetIsCheckedWhileCWorks) {
  TickingClock clock;
  SandboxOptions options = Options();
  options.limits.instructions_per_call = UINT64_MAX;
  options.limits.time_us_per_call = 20'000;
  options.clock = &clock;
  auto sandbox = LuaSandbox::Create(std::move(options));
  ASSERT_TRUE(sandbox.ok()) << sandbox.error().ToString();
  auto [fault, message] = RunBody(**sandbox, Body(GetParam()));
  EXPECT_EQ(fault, Fault::kTime) << FaultName(fault) << ": " << message;
  EXPECT_EQ(message, "time budget exceeded");
  // Read at the start and then once per 1,000 units of work: the fault came
  // at the 22nd read (the first one past 20 ms), not later.
  EXPECT_EQ(clock.reads(), 22);
}

INSTANTIATE_TEST_SUITE_P(EachFunction, LibraryBudgetTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A budget charged from C is a fault like any other: pcall cannot catch it.
TEST(LibraryBudgetTest, PcallDoesNotCatchABudgetTrippedInC) {
  SandboxOptions options = Options();
  options.limits.instructions_per_call = kVmBudget;
  auto sandbox = LuaSandbox::Create(std::move(options));
  ASSERT_TRUE(sandbox.ok());
  auto [fault, message] = RunBody(**sandbox, R"lua(
    local s = ("a"):rep(10000)
    for i = 1, 1000 do pcall(string.find, s, ".-b") end
    return "swallowed")lua");
  EXPECT_EQ(fault, Fault::kInstructions) << message;
}

}  // namespace
}  // namespace atrium::lua
