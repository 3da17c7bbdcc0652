-- test_ta_bound.lua - ctx:indicator (docs/indicators.md "Bound indicators"): btrun
-- updates a bound indicator with every bar of its symbol before on_bar and puts its
-- outputs in the bar. Checked against the same indicators updated by hand on the same
-- bars: one number or a table of named outputs, nil until warm, per symbol with a
-- factory, hand updates refused while bound and allowed again after the run, and the
-- binding errors.
local T = dofile("tests/lua/check.lua")
local check, eq = T.check, T.eq
local ta = bt.ta
local ORCL = "tests/fixtures/ta/orcl-1995-2002.csv"
local FIX = "tests/fixtures/core/"

local function same(a, b) return a == b or (a ~= a and b ~= b) end

-- 1. One symbol: every kind of indicator, bound and by hand, agree on every bar.
do
  local kinds = {
    sma = function() return ta.sma(10) end,
    ema = function() return ta.ema(12) end,
    rsi = function() return ta.rsi(14) end,
    atr = function() return ta.atr(14) end,
    obv = function() return ta.obv() end,
    macd = function() return ta.macd(12, 26, 9) end,
    bands = function() return ta.bollinger(20, 2) end,
    stoch = function() return ta.stochastic(14, 3, 3) end,
    adx = function() return ta.adx(14) end,
  }
  local outputs = { macd = { "line", "signal", "hist" }, bands = { "mid", "upper", "lower" },
                    stoch = { "k", "d" }, adx = { "adx", "plus_di", "minus_di" } }
  local bar_input = { atr = true, obv = true, stoch = true, adx = true }
  local hand, bound_sma, bars, diffs, warm_at = {}, nil, 0, {}, {}
  local r = bt.backtest {
    data = ORCL, write_files = false,
    strategy = {
      on_start = function(ctx)
        for name, make in pairs(kinds) do
          hand[name] = make()
          local ind = make()
          local back = ctx:indicator(name, ind)
          if name == "sma" then bound_sma = back; check(back == ind, "ctx:indicator returns the indicator") end
        end
      end,
      on_bar = function(ctx, bar)
        bars = bars + 1
        for name in pairs(kinds) do
          local want = table.pack(hand[name]:update(bar_input[name] and bar or bar.close))
          local got = bar[name]
          if outputs[name] then
            check(type(got) == "table", "%s: a table of outputs, got %s", name, type(got))
            for i, out in ipairs(outputs[name]) do
              if not same(got[out], want[i]) then diffs[#diffs + 1] = name .. "." .. out .. "@" .. bars end
            end
          elseif not same(got, want[1]) then
            diffs[#diffs + 1] = name .. "@" .. bars .. ": " .. tostring(got) .. " vs " .. tostring(want[1])
          end
          if got ~= nil and not warm_at[name] then warm_at[name] = bars end
        end
        if bars == 1 then
          local ok, err = pcall(bound_sma.update, bound_sma, 1.0)
          check(not ok and tostring(err):find("bound with ctx:indicator", 1, true),
                "a bound indicator refuses hand updates: %s", tostring(err))
        end
      end,
    },
  }
  eq(r.status, "completed", "bound run: " .. tostring(r.error))
  eq(bars, 2000, "bars seen")
  eq(#diffs, 0, "bound vs by hand (first: " .. tostring(diffs[1]) .. ")")
  eq(warm_at.sma, 10, "sma(10) first value on bar")
  eq(warm_at.rsi, 15, "rsi(14) first value on bar")
  eq(bound_sma:value(), hand.sma:value(), "value() of the bound indicator")
  -- the run ended: the indicator is the user's again
  check(pcall(bound_sma.update, bound_sma, 1.0), "hand updates allowed after the run")
end

-- 2. Several symbols: a factory makes one indicator per symbol; an indicator bound for
--    one symbol leaves its name nil on the other symbol's bars.
do
  local made, seen, hand, diffs, only = {}, {}, {}, 0, { AAA = 0, X = 0 }
  local r = bt.backtest {
    data = { FIX .. "aaa.csv", "X=" .. FIX .. "bbb.csv" }, write_files = false,
    strategy = {
      on_start = function(ctx)
        ctx:indicator("ma", function(symbol)
          made[#made + 1] = symbol
          hand[symbol] = ta.sma(2)
          return ta.sma(2)
        end)
        ctx:indicator("xonly", ta.ema(2), "X")
      end,
      on_bar = function(ctx, bar)
        seen[bar.symbol] = true
        if not same(bar.ma, hand[bar.symbol]:update(bar.close)) then diffs = diffs + 1 end
        if bar.xonly ~= nil then only[bar.symbol] = only[bar.symbol] + 1 end
      end,
    },
  }
  eq(r.status, "completed", "factory run: " .. tostring(r.error))
  eq(table.concat(made, ","), "AAA,X", "the factory is called once per symbol, in order")
  check(seen.AAA and seen.X, "both symbols traded")
  eq(diffs, 0, "per-symbol values")
  eq(only.AAA, 0, "xonly is nil on AAA bars")
  check(only.X > 0, "xonly has values on X bars")
end

-- 3. Binding errors name the problem.
do
  local function bind_error(setup, data)
    local msg
    local r = bt.backtest {
      data = data or FIX .. "up5.csv", write_files = false,
      strategy = { on_start = function(ctx)
        local ok, err = pcall(setup, ctx)
        msg = ok and "no error" or tostring(err)
      end },
    }
    eq(r.status, "completed", "error run")
    return msg
  end
  local cases = {
    { function(ctx) ctx:indicator("1x", ta.sma(2)) end, "must be an identifier" },
    { function(ctx) ctx:indicator("close", ta.sma(2)) end, "is a bar field" },
    { function(ctx) ctx:indicator("x", 42) end, "expected an indicator" },
    { function(ctx) ctx:indicator("x", {}) end, "expected an indicator" },
    { function(ctx) ctx:indicator("x", ta.crossover(ta.sma(2), ta.sma(3))) end, "crossover cannot be bound" },
    { function(ctx) local s = ta.sma(2); ctx:indicator("a", s); ctx:indicator("b", s) end, "already bound" },
    { function(ctx) ctx:indicator("a", ta.sma(2)); ctx:indicator("a", ta.ema(2)) end, "'a' is already bound" },
    { function(ctx) ctx:indicator("a", ta.sma(2), "NOPE") end, "unknown symbol" },
    { function(ctx) ctx:indicator("a", function() return 1 end) end, "expected an indicator" },
  }
  for _, c in ipairs(cases) do
    local msg = bind_error(c[1])
    check(msg:find(c[2], 1, true), "expected '%s' in: %s", c[2], msg)
  end
  local multi = bind_error(function(ctx) ctx:indicator("a", ta.sma(2)) end,
                           { FIX .. "aaa.csv", "X=" .. FIX .. "bbb.csv" })
  check(multi:find("the run has 2 symbols", 1, true), "two symbols need a symbol or factory: %s", multi)
  -- a ctx kept past its run cannot bind
  local saved
  bt.backtest { data = FIX .. "up5.csv", write_files = false,
                strategy = { on_start = function(ctx) saved = ctx end } }
  local ok, err = pcall(function() saved:indicator("late", ta.sma(2)) end)
  check(not ok and tostring(err):find("after its run ended", 1, true), "late bind: %s", tostring(err))
end

T.done()
