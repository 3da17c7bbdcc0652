-- console_slow.lua - a backtest that takes about per_bar CPU seconds per bar (tests of
-- the live progress line need a run longer than a second); it places an order no cash
-- can pay every `reject_every` bars and prints once near the end.
local t0, n = 0, 0
return {
  params = { per_bar = 0.0003, reject_every = 500, print_at = 4500 },
  on_start = function() t0 = os.clock() end,
  on_bar = function(ctx, bar)
    n = n + 1
    while os.clock() < t0 + n * ctx.params.per_bar do end
    if n % ctx.params.reject_every == 0 then ctx:buy(1e9) end
    if n == ctx.params.print_at then print("hello from on_bar") end
  end,
}
