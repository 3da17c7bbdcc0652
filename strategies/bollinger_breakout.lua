-- bollinger_breakout.lua: buy a close above the upper Bollinger band, then let a stop
-- and a take-profit order manage the exit.
--
-- When the entry fills, two sell orders go in at once: a stop `stop_pct` below the
-- fill price and a limit `take_pct` above it. Whichever fills first cancels the other
-- (one-cancels-other, done here in on_fill). A bar wide enough to reach both fills
-- both; the strategy then closes the short that leaves. See docs/fills.md for when
-- stops and limits fill (gaps fill at the open).
--
--   btrun strategies/bollinger_breakout.lua --param take_pct=0.08

local strategy = {
  params = { period = 20, k = 2, stop_pct = 0.03, take_pct = 0.06, qty = 100 },
}

local bands, p
local entry, stop, take  -- order ids in flight

function strategy.on_start(ctx)
  p = ctx.params
  assert(p.stop_pct > 0 and p.stop_pct < 1 and p.take_pct > 0, "need 0 < stop_pct < 1, take_pct > 0")
  bands = bt.ta.bollinger(p.period, p.k)
  entry, stop, take = nil, nil, nil
end

function strategy.on_bar(ctx, bar)
  local mid, upper = bands:update(bar.close)
  if not mid then return end
  if ctx:position() == 0 and not entry and not stop and bar.close > upper then
    bt.trace.signal { side = "buy", close = bar.close, upper = upper, mid = mid }
    entry = ctx:buy(p.qty)
  end
end

function strategy.on_fill(ctx, fill)
  if fill.order_id == entry then
    entry = nil
    stop = ctx:sell(fill.qty, { type = "stop", stop = fill.price * (1 - p.stop_pct) })
    take = ctx:sell(fill.qty, { type = "limit", price = fill.price * (1 + p.take_pct) })
  elseif fill.order_id == stop or fill.order_id == take then
    local other = fill.order_id == stop and take or stop
    if not ctx:cancel(other) and ctx:position() < 0 then ctx:close() end
    stop, take = nil, nil
  end
end

function strategy.on_reject(ctx, order)
  if order.id == entry then entry = nil end
end

return strategy
