-- test_ctx_lifetime.lua: a ctx is valid only during its run. A script that keeps the ctx
-- of a finished bt.backtest and calls it gets a Lua error naming the problem, not a read
-- of the freed run (issue 10: this was a heap-use-after-free in order submission).
local T = dofile("tests/lua/check.lua")
local check, eq = T.check, T.eq
local DATA = "tests/fixtures/core/up5.csv"

local saved
local r = bt.backtest { strategy = { on_bar = function(ctx) saved = ctx end }, data = DATA,
                        write_files = false }
eq(r.status, "completed", "the run completes")
check(saved ~= nil, "the strategy kept its ctx")

-- Every method refuses once the run is over.
for _, call in ipairs {
  function() return saved:buy(1) end, function() return saved:sell(1) end,
  function() return saved:close() end, function() return saved:cancel(1) end,
  function() return saved:position() end, function() return saved:cash() end,
  function() return saved:equity() end, function() return saved:order(1) end,
} do
  local ok, err = pcall(call)
  check(not ok, "a method of an ended ctx fails")
  check(tostring(err):find("ctx used after its run ended", 1, true),
        "the error names the problem: " .. tostring(err))
end

-- Fields stay readable: they are plain values.
eq(saved.symbols[1], "UP5", "fields survive the run")
check(type(saved.run_id) == "string", "run_id survives the run")

-- A ctx kept from one run does not act on the next.
local r2 = bt.backtest { strategy = { on_bar = function(ctx, bar)
  local ok = pcall(function() return saved:buy(1) end)
  check(not ok, "an old ctx fails inside another run")
  saved.note = "written"
end }, data = DATA, write_files = false }
eq(r2.status, "completed", "the second run completes")
eq(r2.trades, 0, "the old ctx placed no order in the second run")
eq(saved.note, "written", "fields can still be set")
print("ctx lifetime: ok")
