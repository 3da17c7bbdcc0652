-- momentum_rotation.lua: hold whichever of several symbols has the strongest
-- momentum, switching when the leader changes.
--
-- One rate-of-change indicator per symbol (bt.ta.per_symbol). Bars of one timestamp
-- arrive one symbol at a time; the decision is taken on the bar of the last symbol
-- (ctx.symbols order), when every symbol's ROC for that time is known. The leader
-- must beat `min_roc` (percent), else the strategy stays in cash.
--
--   btrun strategies/momentum_rotation.lua --data data/orcl-2010-2014.csv --data data/yhoo-2010-2014.csv

local strategy = {
  params = { period = 60, min_roc = 0, qty = 100 },
}

local roc, last, p, stamp

function strategy.on_start(ctx)
  p = ctx.params
  assert(#ctx.symbols >= 2, "momentum_rotation needs two or more --data files")
  roc = bt.ta.per_symbol(function() return bt.ta.roc(p.period) end)
  last = ctx.symbols[#ctx.symbols]
  stamp = {}
end

function strategy.on_bar(ctx, bar)
  roc[bar.symbol]:update(bar.close)
  stamp[bar.symbol] = bar.time
  if bar.symbol ~= last then return end

  local best, best_roc = nil, p.min_roc
  for _, sym in ipairs(ctx.symbols) do
    local r = roc[sym]:value()
    if stamp[sym] == bar.time and r and r > best_roc then best, best_roc = sym, r end
  end
  for _, sym in ipairs(ctx.symbols) do
    if sym ~= best and ctx:position(sym) > 0 then ctx:close(sym) end
  end
  if best and ctx:position(best) == 0 then
    bt.trace.signal { side = "buy", symbol = best, roc = best_roc }
    ctx:buy(p.qty, { symbol = best })
  end
end

return strategy
