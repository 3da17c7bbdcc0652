-- sweep.lua: run strategies/sma_cross.lua over a grid of parameters, print a table
-- ranked by Sharpe ratio and write compare.html (the runs' figures side by side and their
-- equity curves overlaid, as `btrun runs compare --html`). Each run is a full backtest
-- with its own run directory (<out>/fast5-slow30) and report.html; the runs share every
-- core (bt.sweep; BTRUN_SWEEP_WORKERS=N sets how many run at once).
--
--   btrun scripts/sweep.lua --data ../shared/data/nvda-1999-2014.txt
--   btrun scripts/sweep.lua --data ORCL=orcl.csv --param fast=5,10,20 --param slow=30,50
--   btrun scripts/sweep.lua -- --queue postgresql://btrun@db/btrun --dataset orcl
--
-- --param NAME=a,b,c sets the values swept for NAME (defaults below).
-- After `--`, --queue URL submits the runs as jobs to that queue (postgresql://...,
-- sqlite:PATH, or "local" for this data dir's) and waits for them: every worker of
-- every machine takes part (docs/postgresql.md). Jobs name datasets (--dataset NAME, repeatable; default:
-- the workers' default dataset), not files; there is no compare.html then (the run
-- directories are on the workers' machines).

local function list(v, default)
  if v == nil then return default end
  local out = {}
  for item in tostring(v):gmatch("[^,]+") do out[#out + 1] = tonumber(item) or item end
  return out
end

local opts = bt.options
local fasts = list(opts.params.fast, { 5, 10, 20 })
local slows = list(opts.params.slow, { 30, 50, 100 })
local data = #opts.data > 0 and opts.data or nil
local base_out = opts.out or ("runs/sweep-" .. os.date("!%Y%m%dT%H%M%S"))

-- Script arguments (after `--`): --queue URL, --dataset NAME.
local queue_url, datasets = nil, {}
do
  local i = 1
  while arg and arg[i] do
    if arg[i] == "--queue" and arg[i + 1] then
      queue_url = arg[i + 1] == "local" and "" or arg[i + 1]
      i = i + 2
    elseif arg[i] == "--dataset" and arg[i + 1] then
      datasets[#datasets + 1] = arg[i + 1]
      i = i + 2
    else
      i = i + 1
    end
  end
end

local grid = {}
for _, fast in ipairs(fasts) do
  for _, slow in ipairs(slows) do
    if fast < slow then grid[#grid + 1] = { fast = fast, slow = slow } end
  end
end

local results = {}
if queue_url then
  local q = assert(bt.jobs.queue(queue_url))
  local ids = {}
  for i, g in ipairs(grid) do
    ids[i] = q:submit { strategy = "sma_cross", data = #datasets > 0 and datasets or nil,
                        params = { fast = g.fast, slow = g.slow } }
  end
  local done = assert(q:wait(ids, 24 * 3600))
  q:close()
  for i, j in ipairs(done) do
    local m = j.result and j.result.metrics or {}
    results[i] = {
      fast = grid[i].fast, slow = grid[i].slow, run_id = j.run_id, trades = m.trades,
      final_equity = m.final_equity, total_return = m.total_return, sharpe = m.sharpe,
      max_drawdown = m.max_drawdown, win_rate = m.win_rate,
      status = j.status == "succeeded" and "completed" or j.status,
      error = j.error and j.error.message,
    }
  end
else
  -- every core takes part (bt.sweep, docs/sweeps.md); results come back in grid order
  results = bt.sweep {
    strategy = "strategies/sma_cross.lua",
    data = data,
    grid = { fast = fasts, slow = slows },
    filter = function(p) return p.fast < p.slow end,
    workers = tonumber(os.getenv("BTRUN_SWEEP_WORKERS")),
    out = base_out,
  }
  for _, r in ipairs(results) do r.fast, r.slow = r.params.fast, r.params.slow end
end

table.sort(results, function(a, b)
  return (a.sharpe or -math.huge) > (b.sharpe or -math.huge)
end)

local function fmt(x, pattern) return x and string.format(pattern, x) or "n/a" end
print(string.format("%-5s %-5s %7s %14s %9s %8s %9s %8s  %s",
  "fast", "slow", "trades", "final_equity", "return", "sharpe", "max_dd", "win", "status"))
for _, r in ipairs(results) do
  print(string.format("%-5s %-5s %7s %14s %9s %8s %9s %8s  %s",
    r.fast, r.slow, r.trades or "-", r.final_equity or "-",
    fmt(r.total_return and r.total_return * 100, "%.2f%%"), fmt(r.sharpe, "%.3f"),
    fmt(r.max_drawdown and r.max_drawdown * 100, "%.2f%%"),
    fmt(r.win_rate and r.win_rate * 100, "%.1f%%"), r.status .. (r.error and (": " .. r.error) or "")))
end
local dirs = {}
for _, r in ipairs(results) do
  if r.status == "completed" and r.out_dir then dirs[#dirs + 1] = r.out_dir end
end
if #dirs > 0 then
  print("comparison: " .. bt.perf.compare_html { dirs = dirs, out = base_out .. "/compare.html" })
end
print(string.format("%d runs in %s", #results, base_out))
