-- formats/summary_html.lua - self-contained HTML summary with inline SVG charts:
-- equity (running realized P&L), drawdown, daily P&L bars, win rate over time.
local lib = require "formats.lib"
local esc = lib.esc

return function(s)
  local out = {}
  local function add(x) out[#out + 1] = x end
  local period = s.period_start == s.period_end and s.period_start
                 or (s.period_start .. " to " .. s.period_end)
  add("<!DOCTYPE html><html><head><meta charset=\"utf-8\">")
  add("<title>" .. esc(s.window .. " performance " .. period) .. "</title>")
  add("<style>" .. lib.css .. "</style></head><body>")
  add("<h1>Performance summary: " .. esc(s.window) .. " " .. esc(period) .. "</h1>")
  add("<p class=\"note\">Market timezone " .. esc(lib.zone(s.timezone)) .. ". Generated " .. esc(s.generated_at or "") .. ".</p>")
  if s.partial then
    add("<p class=\"partial\">Partial: a trade log ends with an incomplete line; it was skipped.</p>")
  end
  if s.no_trades then add("<p><strong>No trades in window.</strong></p>") end
  add("<table>")
  local rows = {
    {"Trades", string.format("%d (%d wins, %d losses, %d breakeven)", s.trades, s.wins, s.losses, s.breakeven)},
    {"Open trades", s.open_trades},
    {"Win rate", lib.pct(s.win_rate)},
    {"Current streak", lib.streak(s.current_streak)},
    {"Longest win / loss streak", s.longest_win_streak .. " / " .. s.longest_loss_streak},
    {"Average win / loss", lib.money(s.avg_win) .. " / " .. lib.money(s.avg_loss)},
    {"Payoff ratio", lib.num(s.payoff_ratio)},
    {"Average R-multiple", lib.num(s.avg_r_multiple)},
    {"Profit factor", lib.num(s.profit_factor)},
    {"Expectancy", lib.money(s.expectancy)},
    {"Realized / unrealized / total P&L", lib.money(s.realized_pnl) .. " / " .. lib.money(s.unrealized_pnl) .. " / " .. lib.money(s.total_pnl)},
    {"Max drawdown", lib.money(s.max_drawdown)},
  }
  for _, r in ipairs(rows) do add("<tr><th>" .. esc(r[1]) .. "</th><td>" .. esc(r[2]) .. "</td></tr>") end
  add("</table>")
  if s.targets and #s.targets > 0 then
    add("<h2>Targets</h2><table><tr><th>Target</th><th>Actual</th><th>Goal</th><th>Variance</th><th>Status</th><th>Note</th></tr>")
    for _, t in ipairs(s.targets) do
      add(string.format('<tr><td>%s</td><td>%s</td><td>%s %s</td><td>%s</td><td class="%s">%s</td><td>%s</td></tr>',
        esc(t.name), esc(t.actual ~= nil and tostring(t.actual) or "-"), esc(t.op or ""), esc(tostring(t.target)),
        t.variance and string.format("%+.4f", t.variance) or "-", esc(t.status),
        esc(t.status == "breach" and "BREACH" or t.status), esc((t.note or "") .. (t.alert_id and (" " .. t.alert_id) or ""))))
    end
    add("</table>")
  end
  -- equity and drawdown start from 0 at the window start
  local eq, dd, pnl, wr = {0}, {0}, {}, {}
  for _, d in ipairs(s.days or {}) do
    eq[#eq + 1] = tonumber(d.equity)
    dd[#dd + 1] = -tonumber(d.drawdown)
    pnl[#pnl + 1] = tonumber(d.pnl)
    wr[#wr + 1] = d.win_rate
  end
  add("<h2>Charts</h2>")
  add(lib.line_chart(eq, {title = "Equity (running realized P&L)", zero = true}))
  add(lib.line_chart(dd, {title = "Drawdown", color = "#d62728", hi = 0}))
  add(lib.bar_chart(pnl, {title = "Daily P&L"}))
  add(lib.line_chart(wr, {title = "Win rate over time (cumulative)", color = "#9467bd", lo = 0, hi = 1}))
  add("<p class=\"note\">source_checksum " .. esc(s.source_checksum) .. "</p>")
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end
