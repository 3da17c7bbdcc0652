-- compare.lua: strategies/sma_cross.lua with three slow-average lengths, each a full
-- backtest with its own run directory, and one line per run. The bt.backtest example of
-- docs/strategy-api.md (which shows this loop); scripts/sweep.lua is the full grid.
--
--   btrun scripts/compare.lua --data data/market/nvda-1999-2014.txt
--   btrun runs compare runs/compare/slow30 runs/compare/slow50 runs/compare/slow100
--
-- print() writes text in console mode; with --log-format json each line becomes a
-- "print" record (docs/logging.md).
for _, slow in ipairs { 30, 50, 100 } do
  local r = bt.backtest {
    strategy = "strategies/sma_cross.lua",
    data = bt.options.data,                 -- the --data given on the command line
    params = { fast = 10, slow = slow },
    out = "runs/compare/slow" .. slow,
  }
  print(slow, r.status, r.trades, r.final_equity, r.sharpe)
end
