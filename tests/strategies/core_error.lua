-- core_error.lua: a test strategy that raises a Lua error on bar `at`, two calls deep
-- (so the traceback has frames), or in the callback named by `where`.
local s = { params = { at = 3, where = "on_bar" } }
local n = 0

local function inner(x) error("boom at bar " .. x) end
local function outer(x) inner(x) end

function s.on_start(ctx) if ctx.params.where == "on_start" then outer(0) end end
function s.on_bar(ctx, bar)
  n = n + 1
  if ctx.params.where == "on_bar" and n == ctx.params.at then outer(n) end
  if n == 1 then ctx:buy(1) end
end
function s.on_fill(ctx) if ctx.params.where == "on_fill" then outer(n) end end
function s.on_finish(ctx) if ctx.params.where == "on_finish" then outer(n) end end

return s
