-- rel_spin.lua: a strategy that never returns from its first on_bar, in the ways a hook
-- on the main thread alone cannot stop (mode): "co" a loop inside a coroutine, "wrap"
-- the same through coroutine.wrap, "nested" a pcall-ing loop two coroutines deep,
-- "pattern" a catastrophic string.find (C code, never reaches a hook), "yield" a
-- coroutine that yields normally (must still work). Used by tests/e2e/rel_limits.sh.
local s = { params = { mode = "co" } }

function s.on_bar(ctx)
  local m = ctx.params.mode
  if m == "co" then
    local co = coroutine.create(function() while true do end end)
    coroutine.resume(co)
  elseif m == "wrap" then
    coroutine.wrap(function() while true do end end)()
  elseif m == "nested" then
    coroutine.wrap(function()
      coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()
    end)()
  elseif m == "pattern" then
    string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")
  elseif m == "yield" then
    local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end return 4 end)
    local sum = co() + co() + co() + co()
    error("yield sum " .. sum)
  end
end

return s
