-- formats/summary_md.lua - the Markdown performance summary.
-- Receives the summary table (docs/performance.md) and returns the document text.
local lib = require "formats.lib"

return function(s)
  local out = {}
  local function add(line) out[#out + 1] = line end
  local period = s.period_start == s.period_end and s.period_start
                 or (s.period_start .. " to " .. s.period_end)
  add(string.format("# Performance summary: %s %s", s.window, period))
  add("")
  add(string.format("Market timezone %s. Generated %s.", lib.zone(s.timezone), s.generated_at or ""))
  if s.partial then
    add("")
    add("> **Partial:** a trade log ends with an incomplete line; it was skipped.")
  end
  add("")
  if s.no_trades then
    add("**No trades in window.**" .. (s.open_trades > 0 and string.format(" %d open trade(s).", s.open_trades) or ""))
    add("")
  end
  add("| Metric | Value |")
  add("|---|---|")
  local rows = {
    {"Trades", string.format("%d (%d wins, %d losses, %d breakeven)", s.trades, s.wins, s.losses, s.breakeven)},
    {"Open trades", tostring(s.open_trades)},
    {"Win rate", lib.pct(s.win_rate)},
    {"Current streak", lib.streak(s.current_streak)},
    {"Longest win / loss streak", string.format("%d / %d", s.longest_win_streak, s.longest_loss_streak)},
    {"Average win", lib.money(s.avg_win)},
    {"Average loss", lib.money(s.avg_loss)},
    {"Payoff ratio (avg win / abs avg loss)", lib.num(s.payoff_ratio)},
    {"Average R-multiple", s.avg_r_multiple and string.format("%s (%d trades)", lib.num(s.avg_r_multiple), s.r_trades) or "n/a"},
    {"Profit factor", lib.num(s.profit_factor)},
    {"Expectancy", lib.money(s.expectancy)},
    {"Realized P&L", lib.money(s.realized_pnl)},
    {"Unrealized P&L", lib.money(s.unrealized_pnl)},
    {"Total P&L", lib.money(s.total_pnl)},
    {"Max drawdown", lib.money(s.max_drawdown)},
    {"Commission", lib.money(s.commission)},
  }
  for _, r in ipairs(rows) do add(string.format("| %s | %s |", lib.md(r[1]), lib.md(r[2]))) end
  -- a rolling target's trades often start long before the window: name their exit dates
  local function over(t)
    local note = t.note or ""
    if t.rolling_start then note = note .. ", exits " .. t.rolling_start .. " .. " .. t.rolling_end end
    return note
  end
  if s.targets and #s.targets > 0 then
    add("")
    add("## Targets")
    add("")
    add("| Target | Actual | Goal | Variance | Status | Note |")
    add("|---|---|---|---|---|---|")
    for _, t in ipairs(s.targets) do
      local status = t.status == "breach" and "**BREACH**" or t.status
      if t.alert_id then status = status .. " (" .. t.alert_id .. ")" end
      add(string.format("| %s | %s | %s %s | %s | %s | %s |", lib.md(t.name),
        lib.md(t.actual ~= nil and tostring(t.actual) or "-"), t.op or "", lib.md(tostring(t.target)),
        t.variance and string.format("%+.4f", t.variance) or "-", status, lib.md(over(t))))
    end
  end
  if s.days and #s.days > 1 then
    add("")
    add("## Days")
    add("")
    add("| Date | Trades | Wins | Losses | P&L | Equity | Drawdown |")
    add("|---|---|---|---|---|---|---|")
    for _, d in ipairs(s.days) do
      add(string.format("| %s | %d | %d | %d | %s | %s | %s |", d.date, d.trades, d.wins, d.losses,
        d.pnl, d.equity, d.drawdown))
    end
  end
  add("")
  add(string.format("<!-- source_checksum %s -->", s.source_checksum))
  return table.concat(out, "\n") .. "\n"
end
