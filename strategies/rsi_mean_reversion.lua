-- rsi_mean_reversion.lua: buy when RSI says oversold, sell when it has recovered.
--
-- Wilder's RSI from bt.ta (first value on bar period+1). Enter long when RSI drops
-- below `low`; exit when it rises above `exit`, or after `max_bars` bars in the trade
-- so a position that never recovers is not held forever.
--
--   btrun strategies/rsi_mean_reversion.lua --param low=25 --param exit=55

local strategy = {
  params = { period = 14, low = 30, exit = 55, max_bars = 20, qty = 100 },
}

local rsi, p, held

function strategy.on_start(ctx)
  p = ctx.params
  assert(p.low < p.exit, "need low < exit")
  rsi, held = bt.ta.rsi(p.period), 0
end

function strategy.on_bar(ctx, bar)
  local r = rsi:update(bar.close)
  if not r then return end
  if ctx:position() == 0 then
    if r < p.low then
      bt.trace.signal { side = "buy", rsi = r }
      ctx:buy(p.qty)
      held = 0
    end
  else
    held = held + 1
    if r > p.exit or held >= p.max_bars then
      bt.trace.signal { side = "sell", rsi = r, bars = held }
      ctx:close()
    end
  end
end

return strategy
