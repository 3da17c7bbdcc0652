-- sma_cross_update.lua: strategies/sma_cross.lua with its bt.ta averages updated by
-- hand (ind:update(x) in on_bar) instead of bound with ctx:indicator. Same trades
-- (tests/e2e/ta_strategies.sh); the middle column of scripts/bench-ta.sh.

local strategy = {
  params = { fast = 10, slow = 30, qty = 100 },
}

local fast_ma, slow_ma, qty

function strategy.on_start(ctx)
  local p = ctx.params
  assert(p.fast >= 1 and p.slow > p.fast, "need 1 <= fast < slow")
  fast_ma, slow_ma, qty = bt.ta.sma(p.fast), bt.ta.sma(p.slow), p.qty
end

function strategy.on_bar(ctx, bar)
  local fast, slow = fast_ma:update(bar.close), slow_ma:update(bar.close)
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
