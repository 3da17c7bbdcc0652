-- test_core_api.lua: the strategy API seen from Lua (run as `btrun FILE`): callbacks and
-- their order, bar fields and types, ctx methods and their errors, ctx.params,
-- ctx.symbols, and what bt.backtest returns. Strategies are tables in this script, so
-- they can record what they see into locals.
local FIX = "tests/fixtures/core/"
local T = dofile("tests/lua/check.lua")
local check, eq = T.check, T.eq
local function run(strategy, opts)
  opts = opts or {}
  opts.strategy = strategy
  opts.data = opts.data or FIX .. "up5.csv"
  if opts.write_files == nil then opts.write_files = false end
  return bt.backtest(opts)
end
local function day(y, m, d) return os.time { year = y, month = m, day = d, hour = 0 } -
  os.time { year = 1970, month = 1, day = 1, hour = 0 } end

-- 1. Order of callbacks; fills of a bar come before its on_bar; on_finish is last.
do
  local seen = {}
  local r = run {
    on_start = function(ctx) seen[#seen + 1] = "start" end,
    on_bar = function(ctx, bar)
      seen[#seen + 1] = "bar" .. #seen
      if bar.time == day(2020, 1, 1) then ctx:buy(1) end
    end,
    on_fill = function(ctx, fill) seen[#seen + 1] = "fill" end,
    on_finish = function(ctx) seen[#seen + 1] = "finish" end,
  }
  eq(r.status, "completed", "callbacks run")
  eq(table.concat(seen, " "), "start bar1 fill bar3 bar4 bar5 bar6 finish", "callback order")
end

-- 2. Bar fields and types; the bar table is reused (do not keep it).
do
  local bars, tables = {}, {}
  run {
    on_bar = function(ctx, bar)
      bars[#bars + 1] = { symbol = bar.symbol, time = bar.time, open = bar.open, high = bar.high,
                          low = bar.low, close = bar.close, volume = bar.volume }
      tables[bar] = true
    end,
  }
  eq(#bars, 5, "five bars")
  local b = bars[1]
  eq(b.symbol, "UP5", "bar.symbol from the file name")
  eq(math.type(b.time), "integer", "bar.time is an integer")
  eq(b.time, 1577836800, "bar.time is epoch seconds UTC (2020-01-01)")
  eq(bars[4].time, day(2020, 1, 6), "fourth bar is 2020-01-06")
  eq(b.open, 10, "open") eq(b.high, 11, "high") eq(b.low, 9, "low") eq(b.close, 10.5, "close")
  eq(b.volume, 100, "volume")
  for _, k in ipairs { "open", "high", "low", "close", "volume" } do
    eq(type(b[k]), "number", "bar." .. k .. " type")
  end
  local n = 0
  for _ in pairs(tables) do n = n + 1 end
  eq(n, 1, "one bar table reused for every bar")
  -- time parsing: Datetime column, and 'T'/zone forms go through the same field
  local t
  run({ on_bar = function(ctx, bar) t = t or bar.time end }, { data = FIX .. "bbb.csv" })
  eq(t, day(2020, 1, 2), "Datetime column")
  -- every accepted time form gives integer epoch seconds in UTC
  local function times(file)
    local out = {}
    run({ on_bar = function(ctx, bar) out[#out + 1] = bar.time end }, { data = FIX .. file })
    return table.concat(out, " ")
  end
  local d2 = day(2020, 1, 2)
  eq(times("tz_iso.csv"), string.format("%d %d %d", d2 + 14 * 3600 + 1800, d2 + 15 * 3600, d2 + 16 * 3600),
    "ISO-8601 with zones -> UTC")
  eq(times("epoch.csv"), "1577977200 1577977260", "epoch seconds")
  eq(times("date_time.csv"), string.format("%d %d", d2 + 9 * 3600 + 1800, d2 + 9 * 3600 + 1860),
    "separate Date and Time columns (UTC)")
end

-- 3. ctx.params, ctx.symbols, ctx.run_id / correlation_id.
do
  local params, symbols, ids
  local r = run({
    params = { fast = 3, name = "x", flag = false },
    on_start = function(ctx)
      params = { fast = ctx.params.fast, name = ctx.params.name, flag = ctx.params.flag,
                 extra = ctx.params.extra }
      symbols = table.concat(ctx.symbols, ",")
      ids = { ctx.run_id, ctx.correlation_id }
    end,
  }, { params = { fast = 7 }, correlation_id = "corr-api" })
  eq(params.fast, 7, "params override")
  eq(math.type(params.fast), "integer", "an integer param stays an integer")
  eq(params.name, "x", "string default") eq(params.flag, false, "boolean default")
  eq(symbols, "UP5", "ctx.symbols")
  eq(ids[1], r.run_id, "ctx.run_id = result.run_id")
  eq(ids[2], "corr-api", "ctx.correlation_id") eq(r.correlation_id, "corr-api", "result correlation_id")
  local r2 = run({ params = { fast = 3 } }, { params = { slow = 1 } })
  eq(r2.status, "failed", "unknown param fails the run")
  check(tostring(r2.error):find("slow", 1, true), "unknown param named: %s", tostring(r2.error))
  eq(r2.error_type, "usage_error", "unknown param error_type")
  local multi
  run({ on_start = function(ctx) multi = table.concat(ctx.symbols, ",") end },
    { data = { FIX .. "aaa.csv", "X=" .. FIX .. "bbb.csv" } })
  eq(multi, "AAA,X", "ctx.symbols with two feeds and SYM=path")
end

-- 4. ctx methods: buy/sell/close/cancel/order/position/cash/equity.
do
  local log = {}
  local ids = {}
  local r = run({
    on_bar = function(ctx, bar)
      local n = #log + 1
      log[n] = { pos = ctx:position(), pos_sym = ctx:position("UP5"), cash = ctx:cash(),
                 equity = ctx:equity() }
      if n == 1 then
        eq(ctx:close(), nil, "close when flat returns nil")
        ids.buy = ctx:buy(2)
        ids.limit = ctx:buy(1, { type = "limit", price = 1 })   -- never reached
        eq(math.type(ids.buy), "integer", "buy returns an integer id")
        check(ids.limit > ids.buy, "order ids increase")
        local o = ctx:order(ids.buy)
        eq(o.id, ids.buy, "order.id") eq(o.symbol, "UP5", "order.symbol")
        eq(o.side, "buy", "order.side") eq(o.type, "market", "order.type")
        eq(o.qty, 2, "order.qty") eq(o.status, "pending", "order.status pending")
        eq(o.reason, nil, "no reason while pending")
        eq(ctx:order(9999), nil, "unknown order id -> nil")
      elseif n == 2 then
        eq(ctx:order(ids.buy).status, "filled", "filled order")
        eq(ctx:cancel(ids.limit), true, "cancel a pending order")
        eq(ctx:cancel(ids.limit), false, "cancel twice")
        eq(ctx:cancel(ids.buy), false, "cancel a filled order")
        eq(ctx:order(ids.limit).status, "cancelled", "cancelled status")
        ids.sell = ctx:sell(1, { type = "limit", price = 12.5 })
      elseif n == 3 then
        eq(ctx:order(ids.sell).status, "filled", "limit sell filled on bar 3 (high 13)")
        ids.close = ctx:close()
        eq(math.type(ids.close), "integer", "close returns an order id")
        eq(ctx:order(ids.close).side, "sell", "close of a long sells")
        eq(ctx:order(ids.close).qty, 1, "close sells the whole position")
      end
    end,
  }, { cash = 1000 })
  eq(r.status, "completed", "ctx run")
  eq(log[1].pos, 0, "flat on bar 1") eq(log[1].cash, 1000, "cash on bar 1")
  eq(log[2].pos, 2, "position 2 on bar 2") eq(log[2].pos_sym, 2, "ctx:position(symbol)")
  eq(log[2].cash, 1000 - 22, "cash after buying 2 at 11")
  eq(log[2].equity, 1000 - 22 + 2 * 11.5, "equity marks at the close")
  eq(log[3].pos, 1, "sold 1 at 12.5 on bar 3")
  eq(log[3].cash, 1000 - 22 + 12.5, "cash after the limit sell")
  eq(log[4].pos, 0, "closed at bar 4")
  eq(r.trades, 1, "one round trip")
  eq(r.final_equity, "1003.5", "final equity: 1000 - 22 + 12.5 + 13 (exact decimal string)")
end

-- 5. Errors from ctx methods are Lua errors with a clear message.
do
  local msgs = {}
  local function try(name, f, ...)
    local ok, err = pcall(f, ...)
    msgs[name] = ok and "no error" or tostring(err)
  end
  run({
    on_bar = function(ctx, bar)
      if next(msgs) then return end
      try("zero", ctx.buy, ctx, 0)
      try("negative", ctx.sell, ctx, -1)
      try("type", ctx.buy, ctx, 1, { type = "iceberg" })
      try("noprice", ctx.buy, ctx, 1, { type = "limit" })
      try("nostop", ctx.buy, ctx, 1, { type = "stop" })
      try("sl", ctx.buy, ctx, 1, { type = "stop_limit", stop = 5 })
      try("symbol", ctx.buy, ctx, 1, { symbol = "NOPE" })
      try("qtytype", ctx.buy, ctx, "lots")
      try("optstype", ctx.sell, ctx, 1, 5)
      try("optsnil", ctx.buy, ctx, 1, nil)
    end,
  })
  check(msgs.zero:find("qty must be > 0", 1, true), "buy(0): %s", msgs.zero)
  check(msgs.negative:find("qty must be > 0", 1, true), "sell(-1): %s", msgs.negative)
  check(msgs.type:find("unknown order type 'iceberg'", 1, true), "bad type: %s", msgs.type)
  check(msgs.noprice:find("needs price=", 1, true), "limit without price: %s", msgs.noprice)
  check(msgs.nostop:find("needs stop=", 1, true), "stop without stop: %s", msgs.nostop)
  check(msgs.sl:find("needs price=", 1, true), "stop_limit without price: %s", msgs.sl)
  check(msgs.symbol:find("unknown symbol 'NOPE'", 1, true), "unknown symbol: %s", msgs.symbol)
  check(msgs.qtytype ~= "no error", "buy('lots') is an error")
  check(msgs.optstype:find("table of order options expected", 1, true), "sell(1, 5): %s", msgs.optstype)
  eq(msgs.optsnil, "no error", "buy(1, nil) is a plain market order")
end

-- 6. on_fill and on_reject tables.
do
  local fills, rejects = {}, {}
  local r = run({
    on_bar = function(ctx, bar)
      if bar.time == day(2020, 1, 1) then ctx:buy(50); ctx:buy(1000) end
    end,
    on_fill = function(ctx, f)
      fills[#fills + 1] = { order_id = f.order_id, symbol = f.symbol, side = f.side, qty = f.qty,
                            price = f.price, commission = f.commission, time = f.time,
                            pos = ctx:position() }
    end,
    on_reject = function(ctx, o)
      rejects[#rejects + 1] = { id = o.id, status = o.status, reason = o.reason, qty = o.qty }
    end,
  }, { cash = 1000 })
  eq(#fills, 1, "one fill") eq(#rejects, 1, "one rejection")
  local f = fills[1]
  eq(f.order_id, 1, "fill.order_id") eq(f.symbol, "UP5", "fill.symbol") eq(f.side, "buy", "fill.side")
  eq(f.qty, 50, "fill.qty") eq(f.price, 11, "fill.price") eq(f.commission, 0, "fill.commission")
  eq(f.time, day(2020, 1, 2), "fill.time") eq(math.type(f.time), "integer", "fill.time integer")
  eq(f.pos, 50, "on_fill sees the new position")
  local o = rejects[1]
  eq(o.id, 2, "rejected order id") eq(o.status, "rejected", "rejected status") eq(o.qty, 1000, "qty")
  check(type(o.reason) == "string" and o.reason:find("insufficient cash", 1, true), "reason: %s", tostring(o.reason))
  eq(r.trades, 0, "the position stays open")
end

-- 7. bt.backtest: strategy as a path, result fields, files, failures.
do
  local out = (os.getenv("BT_TEST_TMP") or "/tmp") .. "/test_core_api-" .. os.time() .. "-" .. math.random(1e9)
  local r = bt.backtest { strategy = "strategies/sma_cross.lua", data = FIX .. "walk-300.csv",
                          params = { fast = 5, slow = 20 }, cash = 50000, out = out }
  eq(r.status, "completed", "path strategy")
  for _, k in ipairs { "run_id", "correlation_id", "out_dir", "status", "final_equity", "expectancy" } do
    eq(type(r[k]), "string", "result." .. k)
  end
  for _, k in ipairs { "bars", "skipped_rows", "wall_ms", "trades" } do
    eq(math.type(r[k]), "integer", "result." .. k)
  end
  for _, k in ipairs { "bars_per_s", "total_return", "max_drawdown", "exposure", "sharpe", "win_rate" } do
    eq(type(r[k]), "number", "result." .. k)
  end
  eq(r.bars, 300, "bars") eq(r.out_dir, out, "out_dir")
  check(r.trades > 0, "sma_cross trades on walk-300")
  local f = io.open(out .. "/result.json")
  check(f, "result.json written to out")
  if f then
    local text = f:read("a"); f:close()
    check(text:find(r.run_id, 1, true), "result.json names the run")
    check(text:find('"initial_cash":%s*"50000.0"'), "cash reaches the run")
  end
  os.remove(out .. "/result.json"); os.remove(out .. "/trades.jsonl"); os.remove(out .. "/equity.csv")
  os.remove(out)
  assert(math.abs(r.total_return - (tonumber(r.final_equity) / 50000 - 1)) < 1e-12,
    "total_return consistent with final_equity")

  local bad = bt.backtest { strategy = { on_bar = function() error("kaboom") end },
                            data = FIX .. "up5.csv", write_files = false }
  eq(bad.status, "failed", "failed run returns status failed")
  eq(bad.error_type, "lua_error", "error_type")
  check(tostring(bad.error):find("kaboom", 1, true), "error message: %s", tostring(bad.error))
  eq(bad.trades, nil, "no metrics for a failed run")
  local missing = bt.backtest { strategy = { }, data = FIX .. "nope.csv", write_files = false }
  eq(missing.status, "failed", "missing data file")
  check(tostring(missing.error):find("nope.csv", 1, true), "names the file: %s", tostring(missing.error))
  check(not pcall(bt.backtest, { strategy = 42 }), "strategy must be a path or table")
  check(not pcall(bt.backtest, { strategy = {}, data = 5 }), "data must be a path or list")
  check(not pcall(bt.backtest, "x"), "bt.backtest wants a table")
  -- not from inside a run
  local inner_ok, inner_err
  run { on_start = function() inner_ok, inner_err = pcall(bt.backtest, { strategy = {} }) end }
  eq(inner_ok, false, "bt.backtest inside a run is an error")
  check(tostring(inner_err):find("during a run", 1, true), "message: %s", tostring(inner_err))
  eq(type(bt.version), "string", "bt.version")
end

-- 8. Edge cases: reversal splits trades, non-finite numbers are refused, an error in
--    on_reject fails the run, fractional quantities are exact.
do
  local pos
  local r = run({
    on_bar = function(ctx, bar)
      if bar.time == day(2020, 1, 1) then ctx:buy(10)
      elseif bar.time == day(2020, 1, 2) then ctx:sell(15)      -- fills at 12: long 10 -> short 5
      elseif bar.time == day(2020, 1, 3) then pos = ctx:position(); ctx:close() end
    end,
  })
  eq(pos, -5, "a reversing fill leaves the remainder short")
  eq(r.trades, 2, "the reversal closes one trade and opens another")
  eq(r.final_equity, "100005.0", "long 10 from 11 to 12 (+10), short 5 from 12 to 13 (-5)")
  for _, bad in ipairs { 0 / 0, math.huge, -math.huge, 1e300 } do
    local rr = run { on_bar = function(ctx, bar) ctx:buy(bad) end }
    eq(rr.status, "failed", "qty " .. tostring(bad) .. " is refused")
    check(tostring(rr.error):find("qty out of range", 1, true), "qty %s: %s", tostring(bad), tostring(rr.error))
  end
  local rp = run { on_bar = function(ctx, bar) ctx:buy(1, { type = "limit", price = 0 / 0 }) end }
  check(tostring(rp.error):find("price out of range", 1, true), "NaN price: %s", tostring(rp.error))
  local rj = run({ on_bar = function(ctx, bar) if bar.time == day(2020, 1, 1) then ctx:buy(1) end end,
                   on_reject = function() error("in on_reject") end }, { cash = 1 })
  eq(rj.status, "failed", "an error in on_reject fails the run")
  eq(rj.error_type, "lua_error", "on_reject error type")
  local rf = run { on_bar = function(ctx, bar) if bar.time == day(2020, 1, 1) then ctx:buy(0.1) end end }
  eq(rf.final_equity, "100000.35", "0.1 units from 11 to 14.5, exactly")
end

T.done()
print("ok - test_core_api")
