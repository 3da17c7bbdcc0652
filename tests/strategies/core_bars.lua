-- core_bars.lua: a test strategy that writes every bar it sees to the file `log`
-- ("<symbol> <time> <open> <close>") and can submit one market buy of `qty` units of
-- `symbol` on bar `at` (0 = never). Used by tests/e2e/core_data.sh.
local s = { params = { log = "", at = 0, qty = 1, symbol = "" } }
local out, n

function s.on_start(ctx)
  n = 0
  out = assert(io.open(ctx.params.log, "w"))
end

function s.on_bar(ctx, bar)
  n = n + 1
  out:write(bar.symbol, " ", bar.time, " ", bar.open, " ", bar.close, "\n")
  if n == ctx.params.at then
    ctx:buy(ctx.params.qty, { symbol = ctx.params.symbol ~= "" and ctx.params.symbol or nil })
  end
end

function s.on_finish() out:close() end

return s
