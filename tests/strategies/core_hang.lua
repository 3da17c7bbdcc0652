-- core_hang.lua: a test strategy that never returns from on_bar (mode = "loop": a busy
-- loop; mode = "pcall": a busy loop that catches every error and loops again;
-- mode = "alloc": grows a table without bound, for the memory cap).
local s = { params = { mode = "loop" } }

function s.on_bar(ctx, bar)
  if ctx.params.mode == "loop" then
    local x = 0
    while true do x = x + 1 end
  elseif ctx.params.mode == "pcall" then
    while true do pcall(function() while true do end end) end
  else
    local t = {}
    local i = 0
    while true do
      i = i + 1
      t[i] = string.rep("x", 64) .. i
    end
  end
end

return s
