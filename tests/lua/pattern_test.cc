// The sandbox's own pattern matcher (lua/src/pattern.cc) agrees with Lua
// 5.4's string library: thousands of generated find/match/gmatch/gsub calls
// run in a sandbox and in a plain Lua state with the real library, and
// their results (values and types, or "error") must be the same. Patterns
// are built from every construct of the pattern language, malformed ones
// included; subjects from the characters those constructs care about.
#include <gtest/gtest.h>

#include <cstdint>
#include <lua.hpp>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "atrium/lua/sandbox.h"
#include "pattern_harness.h"

namespace atrium::lua {
namespace {

using testing::kPatternHarness;

struct Call {
  std::string fn;
  std::string subject;
  std::string pattern;
  std::optional<std::string> a;  // init, or gsub's replacement
  std::optional<int64_t> init;   // find/match/gmatch init
  std::optional<int64_t> b;      // gsub's n, or 1 for find's plain
};

std::string Describe(const Call& c) {
  std::string out = c.fn + "(\"" + c.subject + "\", \"" + c.pattern + "\"";
  if (c.init) out += ", " + std::to_string(*c.init);
  if (c.a) out += ", \"" + *c.a + "\"";
  if (c.b) out += ", " + std::to_string(*c.b);
  return out + ")";
}

// Pushes run's five arguments.
void PushArguments(lua_State* L, const Call& c) {
  lua_pushlstring(L, c.fn.data(), c.fn.size());
  lua_pushlstring(L, c.subject.data(), c.subject.size());
  lua_pushlstring(L, c.pattern.data(), c.pattern.size());
  if (c.fn == "gsub") {
    if (c.a) {
      lua_pushlstring(L, c.a->data(), c.a->size());
    } else {
      lua_pushnil(L);
    }
  } else if (c.init) {
    lua_pushinteger(L, *c.init);
  } else {
    lua_pushnil(L);
  }
  if (c.b) {
    if (c.fn == "find") {
      lua_pushboolean(L, 1);
    } else {
      lua_pushinteger(L, *c.b);
    }
  } else {
    lua_pushnil(L);
  }
}

class Reference {
 public:
  Reference() : L_(luaL_newstate()) {
    luaL_openlibs(L_);
    if (luaL_dostring(L_, kPatternHarness) != LUA_OK) ADD_FAILURE() << lua_tostring(L_, -1);
  }
  ~Reference() { lua_close(L_); }
  Reference(const Reference&) = delete;
  Reference& operator=(const Reference&) = delete;

  std::string Run(const Call& c) {
    lua_getglobal(L_, "run");
    PushArguments(L_, c);
    if (lua_pcall(L_, 5, 1, 0) != LUA_OK) {
      std::string error = lua_tostring(L_, -1);
      lua_pop(L_, 1);
      return "harness error: " + error;
    }
    std::string out = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return out;
  }

 private:
  lua_State* L_;
};

class Sandboxed {
 public:
  Sandboxed() {
    SandboxOptions options;
    options.limits.memory_bytes = 16u << 20;
    options.limits.instructions_per_call = uint64_t{1} << 40;
    options.limits.time_us_per_call = int64_t{1} << 40;
    auto sandbox = LuaSandbox::Create(std::move(options));
    if (!sandbox.ok()) {
      ADD_FAILURE() << sandbox.error().ToString();
      return;
    }
    sandbox_ = std::move(sandbox).value();
    auto env = sandbox_->LoadChunk("harness", kPatternHarness);
    if (!env.ok()) ADD_FAILURE() << env.error().ToString();
    env_ = env.ok() ? *env : LUA_NOREF;
  }

  std::string Run(const Call& c) {
    if (!sandbox_ || !sandbox_->PushFunction(env_, "run")) return "no sandbox";
    lua_State* L = sandbox_->L();
    lua_checkstack(L, 8);
    PushArguments(L, c);
    std::string message;
    const Fault fault = sandbox_->PCall(5, 1, &message);
    if (fault != Fault::kNone) return std::string("fault ") + FaultName(fault) + ": " + message;
    std::string out = lua_tostring(L, -1);
    lua_pop(L, 1);
    return out;
  }

 private:
  std::unique_ptr<LuaSandbox> sandbox_;
  int env_ = LUA_NOREF;
};

// Pattern pieces: every construct, plus malformed ones.
const char* const kPieces[] = {
    "a",     "b",      "x",    ".",    "%a",   "%d",   "%s",   "%w",     "%W",     "%p",    "%l",
    "%u",    "%x",     "%c",   "%g",   "%S",   "%.",   "%%",   "%(",     "[ab]",   "[^a]",  "[a-c]",
    "[%a_]", "[]]",    "[^]]", "[%]]", "[a-]", "[-a]", "*",    "+",      "-",      "?",     "(",
    ")",     "()",     "%1",   "%2",   "%0",   "%b()", "%bab", "%f[%w]", "%f[%W]", "%f[a]", "^",
    "$",     "%",      "[",    "[a",   "%b",   "%f",   "%fa",  "%z",     "%Z",     "(a*)",  "(.-)",
    "(%w+)", "([ab])", "%b[]", "1",    " ",    "]",    "$$"};

const char kSubjectChars[] = "aabbx1 ()[]%.-^$ABc\0z";

const char* const kReplacements[] = {"%0",    "<%1>", "%%", "x%2",  "[%0]", "%", "%z", "#table",
                                     "#func", "#bad", "",   "%1%1", "-%0-", "a", "%9"};

std::vector<Call> GenerateCalls(uint32_t seed, int count) {
  std::mt19937 rng(seed);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const char* const fns[] = {"find", "match", "gmatch", "gsub"};
  const int64_t inits[] = {1, 2, 3, -1, -3, 0, 5, 20, -100};
  std::vector<Call> calls;
  for (int i = 0; i < count; ++i) {
    Call c;
    c.fn = fns[pick(4)];
    const int subject_length = pick(13);
    for (int k = 0; k < subject_length; ++k) {
      c.subject += kSubjectChars[pick(sizeof kSubjectChars - 1)];
    }
    const int pieces = 1 + pick(6);
    for (int k = 0; k < pieces; ++k) {
      c.pattern += kPieces[pick(static_cast<int>(std::size(kPieces)))];
    }
    if (c.fn == "gsub") {
      c.a = kReplacements[pick(static_cast<int>(std::size(kReplacements)))];
      if (pick(3) == 0) c.b = pick(4);
    } else {
      if (pick(2) == 0) c.init = inits[pick(static_cast<int>(std::size(inits)))];
      if (c.fn == "find" && pick(4) == 0) c.b = 1;  // plain
    }
    calls.push_back(std::move(c));
  }
  return calls;
}

TEST(PatternTest, AgreesWithLuaOnGeneratedCalls) {
  Reference reference;
  Sandboxed sandboxed;
  int mismatches = 0;
  int errors = 0;
  for (const Call& c : GenerateCalls(20261206, 20000)) {
    const std::string want = reference.Run(c);
    const std::string got = sandboxed.Run(c);
    if (want.find("error") != std::string::npos) ++errors;
    if (want != got && ++mismatches <= 20) {
      ADD_FAILURE() << Describe(c) << "\n  Lua:     " << want << "\n  sandbox: " << got;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The generator reaches malformed patterns and bad replacements too.
  EXPECT_GT(errors, 1000);
}

TEST(PatternTest, AgreesWithLuaOnTheManualsExamples) {
  Reference reference;
  Sandboxed sandboxed;
  const std::vector<Call> calls = {
      {"gsub", "hello world", "(%w+)", "%1 %1", {}, {}},
      {"gsub", "hello world", "%w+", "%0 %0", {}, 1},
      {"gsub", "hello world from Lua", "(%w+)%s*(%w+)", "%2 %1", {}, {}},
      {"gsub", "abc", "%w", "%1", {}, {}},
      {"gsub", "abc", "", "-", {}, {}},
      {"gsub", "THE (quick) fox", "%f[%a]%a+", "#func", {}, {}},
      {"find", "THE (quick) fox", "%f[%a]%a+", {}, {}, {}},
      {"match", "  key = value  ", "^%s*(%S+)%s*=%s*(%S+)%s*$", {}, {}, {}},
      {"match", "[[nested [brackets] here]]", "%b[]", {}, {}, {}},
      {"match", "hello", "()ll()", {}, {}, {}},
      {"gmatch", "one two  three", "%a+", {}, {}, {}},
      {"gmatch", "abc", "", {}, {}, {}},
      {"gmatch", "key=val, k2=v2", "(%w+)=(%w+)", {}, {}, {}},
      {"gmatch", "hello world", "%a+", {}, 3, {}},
      {"find", "a.b.c", ".", {}, {}, 1},
      {"find", "abc", "b", {}, -1, {}},
      {"find", "", "", {}, {}, {}},
      {"find", "abc", "", {}, 10, {}},
      {"match", "aaa", "(a)%1", {}, {}, {}},
      {"match", "x = x", "(%w+) = %1", {}, {}, {}},
  };
  for (const Call& c : calls) {
    EXPECT_EQ(sandboxed.Run(c), reference.Run(c)) << Describe(c);
  }
}

TEST(PatternTest, DeepRecursionIsAnErrorNotACrash) {
  Sandboxed sandboxed;
  // 300 optional items recurse deeper than the matcher's limit.
  std::string pattern;
  for (int i = 0; i < 300; ++i) pattern += "a?";
  EXPECT_EQ(sandboxed.Run({"match", std::string(300, 'a'), pattern, {}, {}, {}}), "error");
  std::string captures;
  for (int i = 0; i < 40; ++i) captures += "()";
  EXPECT_EQ(sandboxed.Run({"match", "a", captures, {}, {}, {}}), "error");  // too many captures
}

}  // namespace
}  // namespace atrium::lua
