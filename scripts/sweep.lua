-- sweep.lua: run strategies/sma_cross.lua over a grid of parameters, print a table
-- ranked by Sharpe ratio and write compare.html (the runs' figures side by side and their
-- equity curves overlaid, as `btrun runs compare --html`). Each run is a full backtest
-- with its own run directory and report.html.
--
--   btrun scripts/sweep.lua --data ../shared/data/nvda-1999-2014.txt
--   btrun scripts/sweep.lua --data ORCL=orcl.csv --param fast=5,10,20 --param slow=30,50
--
-- --param NAME=a,b,c sets the values swept for NAME (defaults below).

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

local results = {}
for _, fast in ipairs(fasts) do
  for _, slow in ipairs(slows) do
    if fast < slow then
      local r = bt.backtest {
        strategy = "strategies/sma_cross.lua",
        data = data,
        params = { fast = fast, slow = slow },
        out = string.format("%s/fast%s-slow%s", base_out, fast, slow),
      }
      r.fast, r.slow = fast, slow
      results[#results + 1] = r
    end
  end
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
  if r.status == "completed" then dirs[#dirs + 1] = r.out_dir end
end
if #dirs > 0 then
  print("comparison: " .. bt.perf.compare_html { dirs = dirs, out = base_out .. "/compare.html" })
end
print(string.format("%d runs in %s", #results, base_out))
