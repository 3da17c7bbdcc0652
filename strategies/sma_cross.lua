-- sma_cross.lua: long when the fast simple moving average is above the slow one.
--
-- The averages come from bt.ta (docs/indicators.md), bound in on_start with
-- ctx:indicator: btrun feeds them each bar's close before on_bar and puts their values
-- in bar.fast and bar.slow (nil until warm, exact: no running-sum drift). Copy this file
-- to start your own strategy.
--
--   btrun strategies/sma_cross.lua --param fast=10 --param slow=30

local strategy = {
  params = { fast = 10, slow = 30, qty = 100 },
}

local qty

function strategy.on_start(ctx)
  local p = ctx.params
  assert(p.fast >= 1 and p.slow > p.fast, "need 1 <= fast < slow")
  ctx:indicator("fast", bt.ta.sma(p.fast))
  ctx:indicator("slow", bt.ta.sma(p.slow))
  qty = p.qty
end

function strategy.on_bar(ctx, bar)
  local fast, slow = bar.fast, bar.slow
  if not slow then return end

  local above = fast > slow
  local pos = ctx:position()
  if above and pos == 0 then
    bt.trace.signal { side = "buy", fast = fast, slow = slow }
    ctx:buy(qty)
  elseif not above and pos > 0 then
    bt.trace.signal { side = "sell", fast = fast, slow = slow }
    ctx:close()
  end
end

return strategy
