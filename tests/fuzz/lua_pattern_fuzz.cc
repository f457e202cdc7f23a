// Fuzz target for the sandbox's own Lua pattern matcher (lua/src/pattern.cc).
// Input: one byte choosing the function ('f' find, 'm' match, 'g' gmatch,
// anything else gsub with the replacement "<%0>"), the subject up to the
// first newline, the pattern after it. Checked invariants:
//   1. A call never crashes and ends as a result, an error, or a budget
//      fault (a 2,000,000-unit instruction budget): never another fault.
//   2. When the subject has at most 24 bytes and the pattern at most 3
//      quantifiers (so Lua's own matcher finishes quickly), the result
//      agrees with Lua 5.4's string library in a plain state, unless the
//      sandbox ran out of budget: values and types, or both an error.
//
// Concurrency: the entry point is called from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <lua.hpp>
#include <memory>
#include <string>
#include <utility>

#include "../lua/pattern_harness.h"
#include "atrium/lua/sandbox.h"

namespace {

using atrium::lua::Fault;
using atrium::lua::LuaSandbox;

using atrium::lua::testing::kPatternHarness;

void Require(bool cond, const char* what, const std::string& detail) {
  if (!cond) {
    std::fprintf(stderr, "lua_pattern_fuzz: invariant violated: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

// run(fn, s, p, "<%0>", nil): gsub gets that replacement, the others no init.
void PushArgs(lua_State* L, char fn, const std::string& s, const std::string& p) {
  lua_pushstring(L, fn == 'f' ? "find" : fn == 'm' ? "match" : fn == 'g' ? "gmatch" : "gsub");
  lua_pushlstring(L, s.data(), s.size());
  lua_pushlstring(L, p.data(), p.size());
  if (fn == 'f' || fn == 'm' || fn == 'g') {
    lua_pushnil(L);
  } else {
    lua_pushliteral(L, "<%0>");
  }
  lua_pushnil(L);
}

struct States {
  std::unique_ptr<LuaSandbox> sandbox;
  int env = LUA_NOREF;
  lua_State* reference = nullptr;
};

States& Get() {
  static States* states = [] {
    auto* st = new States();
    atrium::lua::SandboxOptions options;
    options.limits.memory_bytes = 4u << 20;
    options.limits.instructions_per_call = 2'000'000;
    options.limits.time_us_per_call = int64_t{1} << 40;
    auto sandbox = LuaSandbox::Create(std::move(options));
    Require(sandbox.ok(), "sandbox", "");
    st->sandbox = std::move(sandbox).value();
    auto env = st->sandbox->LoadChunk("harness", kPatternHarness);
    Require(env.ok(), "harness loads", "");
    st->env = *env;
    st->reference = luaL_newstate();
    luaL_openlibs(st->reference);
    Require(luaL_dostring(st->reference, kPatternHarness) == LUA_OK, "reference harness", "");
    return st;
  }();
  return *states;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 512) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const char fn = static_cast<char>(data[0]);
  const size_t newline = input.find('\n');
  if (newline == std::string::npos) return 0;
  const std::string subject = input.substr(0, newline);
  const std::string pattern = input.substr(newline + 1);
  States& st = Get();

  lua_State* L = st.sandbox->L();
  Require(st.sandbox->PushFunction(st.env, "run"), "run()", "");
  PushArgs(L, fn, subject, pattern);
  std::string message;
  const Fault fault = st.sandbox->PCall(5, 1, &message);
  Require(fault == Fault::kNone || fault == Fault::kInstructions, "fault kind", message);
  if (fault != Fault::kNone) return 0;
  std::string got = lua_tostring(L, -1);
  lua_pop(L, 1);

  int quantifiers = 0;
  for (char c : pattern) quantifiers += (c == '*' || c == '+' || c == '-' || c == '?') ? 1 : 0;
  if (subject.size() > 24 || quantifiers > 3) return 0;
  lua_getglobal(st.reference, "run");
  PushArgs(st.reference, fn, subject, pattern);
  Require(lua_pcall(st.reference, 5, 1, 0) == LUA_OK, "reference run", "");
  std::string want = lua_tostring(st.reference, -1);
  lua_pop(st.reference, 1);
  Require(got == want, "agrees with Lua",
          "subject: " + subject + "\npattern: " + pattern + "\nLua: " + want + "\nsandbox: " + got);
  return 0;
}
