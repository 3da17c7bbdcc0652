-- formats/run_report.lua - report.html of one backtest run: result metrics, equity and
-- drawdown curves (downsampled to a bounded number of points), trade statistics and the
-- first trades. Input: {result=, summary=, trades=, equity={rows=,
-- downsampled=, points={{time, equity, drawdown}, ...}}}.
local lib = require "formats.lib"
local esc = lib.esc

local function scalar(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. scalar(x) end
    table.sort(parts)
    return table.concat(parts, ", ")
  end
  return tostring(v)
end

return function(d)
  local r, s = d.result or {}, d.summary or {}
  local out = {}
  local function add(x) out[#out + 1] = x end
  add("<!DOCTYPE html><html><head><meta charset=\"utf-8\">")
  add("<title>btrun run " .. esc(r.run_id or "") .. "</title>")
  add("<style>" .. lib.css .. "</style></head><body>")
  add("<h1>Backtest " .. esc(r.strategy or "") .. "</h1>")
  add("<p class=\"note\">run_id " .. esc(r.run_id or "") .. " &middot; correlation_id " .. esc(r.correlation_id or "") .. "</p>")
  add("<h2>Result</h2><table>")
  local keys = {}
  for k in pairs(r) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if k ~= "run_id" and k ~= "correlation_id" then
      add("<tr><th>" .. esc(k) .. "</th><td>" .. esc(scalar(r[k])) .. "</td></tr>")
    end
  end
  add("</table>")
  local eq, dd = {}, {}
  for _, p in ipairs(d.equity and d.equity.points or {}) do
    eq[#eq + 1] = tonumber(p[2])
    dd[#dd + 1] = -tonumber(p[3])
  end
  add("<h2>Equity</h2>")
  add(lib.line_chart(eq, {title = "Equity"}))
  add(lib.line_chart(dd, {title = "Drawdown (fraction of peak)", color = "#d62728", hi = 0}))
  if d.equity and d.equity.downsampled then
    add(string.format("<p class=\"note\">%d equity rows drawn as %d points (lowest and highest of each bucket).</p>",
      d.equity.rows, #eq))
  end
  add("<h2>Trades</h2>")
  if s.no_trades then add("<p>No closed trades.</p>") end
  add("<table>")
  local rows = {
    {"Closed trades", string.format("%d (%d wins, %d losses)", s.trades or 0, s.wins or 0, s.losses or 0)},
    {"Open trades", s.open_trades or 0},
    {"Win rate", lib.pct(s.win_rate)},
    {"Average win / loss", lib.money(s.avg_win) .. " / " .. lib.money(s.avg_loss)},
    {"Payoff ratio", lib.num(s.payoff_ratio)},
    {"Profit factor", lib.num(s.profit_factor)},
    {"Expectancy", lib.money(s.expectancy)},
    {"Longest win / loss streak", (s.longest_win_streak or 0) .. " / " .. (s.longest_loss_streak or 0)},
    {"Realized / unrealized P&L", lib.money(s.realized_pnl) .. " / " .. lib.money(s.unrealized_pnl)},
  }
  for _, row in ipairs(rows) do add("<tr><th>" .. esc(row[1]) .. "</th><td>" .. esc(row[2]) .. "</td></tr>") end
  add("</table>")
  local pnl = {}
  for _, day in ipairs(s.days or {}) do pnl[#pnl + 1] = tonumber(day.pnl) end
  if #pnl > 0 then add(lib.bar_chart(pnl, {title = "P&L per exit day"})) end
  local trades = d.trades or {}
  if #trades > 0 then
    add("<table><tr><th>#</th><th>symbol</th><th>side</th><th>qty</th><th>entry</th><th>entry price</th><th>exit</th><th>exit price</th><th>pnl</th><th>status</th></tr>")
    for _, t in ipairs(trades) do
      add(string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
        esc(t.trade_id), esc(t.symbol), esc(t.side), esc(t.qty), esc(t.entry_time), esc(t.entry_price),
        esc(t.exit_time or ""), esc(t.exit_price), esc(t.pnl), esc(t.status)))
    end
    add("</table>")
    if (s.trades or 0) + (s.open_trades or 0) > #trades then
      add(string.format("<p class=\"note\">First %d trades shown; all are in trades.jsonl.</p>", #trades))
    end
  end
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end
