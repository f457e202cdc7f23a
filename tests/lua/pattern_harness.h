// The Lua harness shared by tests/lua/pattern_test.cc and
// tests/fuzz/lua_pattern_fuzz.cc: run(fn, s, p, a, b) calls string.<fn> and
// describes its results the same way in a sandbox and in a plain Lua state.
#ifndef ATRIUM_TESTS_LUA_PATTERN_HARNESS_H_
#define ATRIUM_TESTS_LUA_PATTERN_HARNESS_H_

namespace atrium::lua::testing {

// Runs one library call and describes its results, the same way in both
// states ("error" for any error: the wording may differ).
inline constexpr const char* kPatternHarness = R"lua(
local function describe(ok, ...)
  if not ok then return "error" end
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[#out + 1] = type(v) .. ":" .. tostring(v)
  end
  return table.concat(out, "|")
end

local function replacement(r)
  if r == "#table" then return {a = "A", b = false, ab = 7, ["1"] = "one"} end
  if r == "#func" then
    return function(x, y)
      if x == "b" then return nil end
      return "<" .. tostring(x) .. "," .. tostring(y) .. ">"
    end
  end
  if r == "#bad" then return function() return {} end end
  return r
end

function run(fn, s, p, a, b)
  if fn == "gmatch" then
    local ok, it = pcall(string.gmatch, s, p, a)
    if not ok then return "error" end
    local all = {}
    for k = 1, 40 do
      local r = table.pack(pcall(it))
      if not r[1] then all[#all + 1] = "error" break end
      if r.n == 1 then break end
      all[#all + 1] = describe(table.unpack(r, 1, r.n))
    end
    return table.concat(all, ";")
  end
  if fn == "gsub" then return describe(pcall(string.gsub, s, p, replacement(a), b)) end
  return describe(pcall(string[fn], s, p, a, b))
end
)lua";

}  // namespace atrium::lua::testing

#endif  // ATRIUM_TESTS_LUA_PATTERN_HARNESS_H_
