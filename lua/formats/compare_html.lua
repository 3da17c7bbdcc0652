-- formats/compare_html.lua - one page comparing runs (`btrun runs compare --html`,
-- bt.perf.compare_html): a row of key figures per run (best of each column marked) and
-- the equity curves overlaid as returns on each run's starting capital, so runs with
-- different cash compare. Numbers also embedded as JSON (id="compare-data").
-- Input: {runs = {{dir=, result=, series={rows=, stride=, points={{time, equity, ...}}}}, ...}}
local lib = require "formats.lib"
local charts = require "formats.charts"
local esc = lib.esc

local PALETTE = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"}
local DASHES = {nil, "6 3", "2 2"}

local function pct(x) return x == nil and "n/a" or string.format("%.2f%%", x * 100) end
local function num(x) return x == nil and "n/a" or string.format("%.2f", x) end

local function params_text(p)
  local parts = {}
  for k, v in pairs(p or {}) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  return table.concat(parts, " ")
end

return function(d)
  local runs = d.runs or {}
  local out = {}
  local function add(x) out[#out + 1] = x end
  local cols = {
    {"Total return", "total_return", pct, true}, {"CAGR", "cagr", pct, true}, {"Sharpe", "sharpe", num, true},
    {"Sortino", "sortino", num, true}, {"Max drawdown", "max_drawdown", pct, false},
    {"Win rate", "win_rate", pct, true}, {"Profit factor", "profit_factor", num, true},
    {"Exposure", "exposure", pct, nil},
  }
  local best = {}
  for _, c in ipairs(cols) do
    if c[4] ~= nil then
      for i, r in ipairs(runs) do
        local v = r.result[c[2]]
        if v ~= nil and (best[c[2]] == nil or (c[4] and v > runs[best[c[2]]].result[c[2]])
                         or (not c[4] and v < runs[best[c[2]]].result[c[2]])) then
          best[c[2]] = i
        end
      end
    end
  end
  local data = {runs = lib.array({})}
  add('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
  add('<meta name="viewport" content="width=device-width,initial-scale=1">')
  add("<title>btrun: " .. #runs .. " runs compared</title>")
  add("<style>" .. charts.css .. "</style></head><body>")
  add('<header id="summary"><h1>' .. #runs .. " runs compared</h1>")
  add('<p class="sub">Best value of each column in bold. Each run\'s report.html has the details.</p></header>')
  add('<section id="table"><div class="tw"><table><tr><th>#</th><th class="l">Run</th><th class="l">Strategy</th><th class="l">Parameters</th><th class="l">Period</th><th>Trades</th><th>Final equity</th>')
  for _, c in ipairs(cols) do add("<th>" .. esc(c[1]) .. "</th>") end
  add("</tr>")
  local series = {}
  for i, run in ipairs(runs) do
    local r = run.result or {}
    local pts = run.series and run.series.points or {}
    local t0, t1 = pts[1] and pts[1][1], pts[#pts] and pts[#pts][1]
    add(string.format('<tr><td>%d</td><td class="l"><span style="color:%s">&#9632;</span> <a href="%s/report.html">%s</a></td><td class="l">%s</td><td class="l">%s</td><td class="l">%s</td><td>%s</td><td>%s</td>',
      i, PALETTE[(i - 1) % #PALETTE + 1], esc(run.dir), esc((r.run_id or "?"):sub(1, 8)), esc(r.strategy_id or r.strategy or ""),
      esc(params_text(r.params)), t0 and (charts.date(t0) .. " to " .. charts.date(t1)) or "", esc(r.trades or ""),
      esc(r.final_equity or "")))
    for _, c in ipairs(cols) do
      local v = r[c[2]]
      add(string.format("<td>%s%s%s</td>", best[c[2]] == i and "<b>" or "", c[3](v), best[c[2]] == i and "</b>" or ""))
    end
    add("</tr>")
    local init = tonumber(r.initial_cash) or (pts[1] and tonumber(pts[1][2])) or 1
    local xs, ys = {}, {}
    for k, p in ipairs(pts) do xs[k], ys[k] = p[1], tonumber(p[2]) / init - 1 end
    series[#series + 1] = {xs = xs, ys = ys, color = PALETTE[(i - 1) % #PALETTE + 1],
      dash = DASHES[((i - 1) // #PALETTE) % #DASHES + 1],
      name = #runs <= 6 and ((r.run_id or "?"):sub(1, 8)) or nil}
    local row = {run_id = r.run_id, dir = run.dir, params = r.params}
    for _, c in ipairs(cols) do row[c[2]] = r[c[2]] end
    row.final_equity, row.trades = r.final_equity, r.trades
    data.runs[#data.runs + 1] = row
  end
  add("</table></div></section>")
  add('<section id="equity"><h2>Equity curves</h2>')
  add(charts.chart({title = "Return on starting capital", series = series, y_fmt = charts.pct_axis, height = 320}))
  if #runs > 6 then add('<p class="note">Colours follow the # column (the legend is left out beyond 6 runs).</p>') end
  add("</section>")
  add('<script type="application/json" id="compare-data">' .. lib.json(data) .. "</script>")
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end
