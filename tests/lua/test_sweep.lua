-- test_sweep.lua: bt.sweep runs a grid's backtests on worker threads; the results come
-- back in grid order and are the runs bt.backtest makes one by one, file for file.
local T = dofile("tests/lua/check.lua")
local check, eq = T.check, T.eq
local DATA = "tests/fixtures/core/walk-300.csv"
local STRAT = "strategies/sma_cross.lua"
local base = assert(os.getenv("BTRUN_DATA_DIR"), "BTRUN_DATA_DIR") .. "/sweep"
os.execute("rm -rf '" .. base .. "'")

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- 1. Grid order (names sorted, the last one fastest), per-run directories, and every
-- run identical to the same run made alone with bt.backtest.
do
  local rs = bt.sweep { strategy = STRAT, data = DATA, workers = 2,
                        grid = { slow = { 8, 12, 20 }, fast = { 3, 5 } },
                        out = base .. "/grid" }
  eq(#rs, 6, "one result per grid point")
  local want = { { 3, 8 }, { 3, 12 }, { 3, 20 }, { 5, 8 }, { 5, 12 }, { 5, 20 } }
  for i, r in ipairs(rs) do
    eq(r.params.fast, want[i][1], "run " .. i .. " fast")
    eq(r.params.slow, want[i][2], "run " .. i .. " slow")
    eq(r.status, "completed", "run " .. i .. " status")
    eq(r.out_dir, string.format("%s/grid/fast%d-slow%d", base, want[i][1], want[i][2]),
       "run " .. i .. " out_dir")
    local one = bt.backtest { strategy = STRAT, data = DATA, out = base .. "/one" .. i,
                              params = { fast = want[i][1], slow = want[i][2] } }
    check(one.trades > 0, "run %d trades at all (%s)", i, one.trades)
    eq(r.trades, one.trades, "run " .. i .. " trades as alone")
    eq(r.final_equity, one.final_equity, "run " .. i .. " final equity as alone")
    eq(r.sharpe, one.sharpe, "run " .. i .. " sharpe as alone")
    check(r.run_id ~= one.run_id and #r.run_id > 0, "run %d has its own run id", i)
    -- byte for byte, but for the run id trades.jsonl names
    local function esc(id) return (id:gsub("%p", "%%%0")) end
    for _, f in ipairs { "trades.jsonl", "equity.csv" } do
      local a, b = slurp(r.out_dir .. "/" .. f), slurp(one.out_dir .. "/" .. f)
      a, b = a and a:gsub(esc(r.run_id), "RUN"), b and b:gsub(esc(one.run_id), "RUN")
      check(a and a == b, "run %d %s byte-identical to the run alone", i, f)
    end
  end
  -- the sweep's runs differ from each other (the grid reached the strategy)
  check(rs[1].final_equity ~= rs[6].final_equity, "grid points give different results")
end

-- 2. A failing run is reported without stopping the others; filter drops points in the
-- caller's state; a strategy can be named as a module.
do
  local seen = 0
  local rs = bt.sweep { strategy = "strategies.sma_cross", data = DATA, workers = 2,
                        grid = { fast = { 5, 30 }, slow = { 20 } }, write_files = false }
  eq(#rs, 2, "module strategy: two runs")
  eq(rs[1].status, "completed", "fast 5 < slow 20 completes")
  eq(rs[2].status, "failed", "fast 30 > slow 20 fails (the strategy asserts)")
  eq(rs[2].error_type, "lua_error", "failed run's error type")
  check(rs[2].error and rs[2].error:find("fast < slow", 1, true), "failed run's message: %s",
        rs[2].error)
  rs = bt.sweep { strategy = STRAT, data = DATA, write_files = false,
                  grid = { fast = { 5, 10, 30 }, slow = { 20, 40 } },
                  filter = function(p) seen = seen + 1; return p.fast < p.slow end }
  eq(seen, 6, "filter sees every grid point")
  eq(#rs, 5, "filter drops fast 30 slow 20")
  for _, r in ipairs(rs) do eq(r.status, "completed", "filtered run " .. r.params.fast .. "/" .. r.params.slow) end
  eq(rs[5].params.fast .. "/" .. rs[5].params.slow, "30/40", "filtered order")
end

-- 3. Workers change nothing but the time: one worker (runs one after another) and three
-- (runs ended by whichever worker is free, while others loop) give the same result
-- tables in the same order and the same files, byte for byte but for the run ids and
-- the wall times.
do
  local function sweep(w)
    return bt.sweep { strategy = STRAT, data = DATA, workers = w, correlation_id = "cid-sweep",
                      grid = { slow = { 8, 12, 20 }, fast = { 3, 5, 7 } },
                      out = base .. "/w" .. w }
  end
  local one, three = sweep(1), sweep(3)
  eq(#three, #one, "as many results")
  local timing = { run_id = true, out_dir = true, wall_ms = true, bars_per_s = true, params = true }
  local function masked(r, f)
    local s = slurp(r.out_dir .. "/" .. f)
    if not s then return nil end
    local id = r.run_id:gsub("%p", "%%%0")
    s = s:gsub(id, "RUN"):gsub(id:sub(1, 8), "RUN")
    return (s:gsub('\n%s*"wall_ms": %d+,', ""):gsub('\n%s*"bars_per_s": [%d.e+-]+', ""))
  end
  for i, a in ipairs(one) do
    local b = three[i]
    eq(b.params.fast .. "/" .. b.params.slow, a.params.fast .. "/" .. a.params.slow, "run " .. i .. " grid point")
    eq(b.status, "completed", "run " .. i .. " status")
    for k, v in pairs(a) do
      if not timing[k] then eq(b[k], v, "run " .. i .. " " .. k) end
    end
    for k in pairs(b) do check(a[k] ~= nil, "run %d: %s only with three workers", i, k) end
    for _, f in ipairs { "report.html", "trades.jsonl", "equity.csv", "result.json" } do
      local x, y = masked(a, f), masked(b, f)
      check(x and #x > 0 and x == y, "run %d %s identical with one and three workers", i, f)
    end
  end
end

-- 4. Argument errors raise.
do
  local function raises(args, pat, what)
    local ok, e = pcall(bt.sweep, args)
    check(not ok and tostring(e):find(pat, 1, true), "%s: got %s", what, tostring(e))
  end
  raises({ strategy = { on_bar = function() end }, grid = { a = { 1 } } }, "file path", "table strategy")
  raises({ strategy = STRAT, grid = {} }, "grid has no parameters", "empty grid")
  raises({ strategy = STRAT, grid = { fast = {} } }, "non-empty list", "empty values")
  raises({ strategy = STRAT, grid = { fast = { 5 } }, workers = 0 }, "workers", "workers 0")
  raises({ strategy = STRAT, grid = { fast = { 5 } }, params = { fast = 3 } }, "both in params",
         "param in both")
  raises({ strategy = STRAT, grid = { fast = { 5, 5 } } }, "has 5 twice", "duplicate value")
  raises({ strategy = "no/such/strategy", grid = { fast = { 5 } } }, "neither a file", "missing file")
end

T.done()
