-- strategies/up_bar.lua: buy after an up bar, sell on the next bar
return {
  params = { qty = 10 },                    -- defaults; --param qty=5 overrides
  on_bar = function(ctx, bar)
    if ctx:position() == 0 and bar.close > bar.open then
      bt.trace.signal { reason = "up bar", close = bar.close }
      ctx:buy(ctx.params.qty)                -- fills at the NEXT bar's open
    elseif ctx:position() > 0 then
      ctx:close()
    end
  end,
}
