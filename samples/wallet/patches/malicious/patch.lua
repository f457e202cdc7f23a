-- Everything here is something a patch must not be able to do.
local function try(what, fn)
  local ok, err = pcall(fn)
  if host and host.log then
    host.log(what .. ": " .. (ok and "REACHED" or ("blocked (" .. tostring(err) .. ")")))
  end
end

function probe_and_spin(cents, currency)
  try("read /etc/passwd", function() return io.open("/etc/passwd"):read("a") end)
  try("run a shell", function() return os.execute("id") end)
  try("load a module", function() return require("socket") end)
  try("compile code", function() return load("return 1")() end)
  try("binary chunk", function() return load(string.dump(print)) end)
  try("stop the collector", function() return collectgarbage("stop") end)
  try("debug library", function() return debug.getinfo(1) end)
  -- Then never return (and keep catching the budget error, in vain).
  while true do pcall(function() while true do end end) end
end

function hog_memory(original, holder)
  local t = {}
  while true do
    t[#t + 1] = string.rep("x", 4096) .. #t
  end
end
