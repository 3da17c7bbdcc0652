-- formats/summary_html.lua - self-contained HTML performance summary of one window: key
-- figures, targets (with the rolling ones drawn as lines and breaches marked), the
-- window's alerts with their ack state, and dated charts of running realized P&L,
-- drawdown, daily P&L and win rate. A window with fewer than two trading days gets a
-- sentence instead of charts that would be a single point.
local lib = require "formats.lib"
local charts = require "formats.charts"
local esc = lib.esc

local function money(s)
  if s == nil then return "n/a" end
  return tostring(s)
end

local function day_time(d) return charts.iso_time((d or "") .. "T00:00:00") end

return function(s)
  local out = {}
  local function add(x) out[#out + 1] = x end
  local period = s.period_start == s.period_end and s.period_start
                 or (s.period_start .. " to " .. s.period_end)
  add('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
  add('<meta name="viewport" content="width=device-width,initial-scale=1">')
  add("<title>" .. esc(s.window .. " performance " .. period) .. "</title>")
  add("<style>" .. charts.css .. "</style></head><body>")
  add('<header id="summary"><h1>Performance summary: ' .. esc(s.window) .. " " .. esc(period) .. "</h1>")
  add('<p class="sub">Market timezone ' .. esc(lib.zone(s.timezone)) .. ". Generated " .. esc(s.generated_at or "") .. ".</p></header>")
  if s.partial then
    add('<p class="warn">Partial: a trade log ends with an incomplete line; it was skipped.</p>')
  end
  if s.no_trades then add("<p><strong>No trades in window.</strong></p>") end

  local cards = {
    {"Trades", string.format("%d", s.trades), string.format("%d wins, %d losses, %d breakeven", s.wins, s.losses, s.breakeven)},
    {"Win rate", lib.pct(s.win_rate)}, {"Profit factor", lib.num(s.profit_factor, 2)},
    {"Payoff", lib.num(s.payoff_ratio, 2)}, {"Avg R", lib.num(s.avg_r_multiple, 2)},
    {"Expectancy", money(s.expectancy), "per trade"},
    {"Realized P&L", money(s.realized_pnl)}, {"Unrealized P&L", money(s.unrealized_pnl), s.open_trades .. " open trades"},
    {"Total P&L", money(s.total_pnl)}, {"Max drawdown", money(s.max_drawdown)},
    {"Current streak", lib.streak(s.current_streak), "longest " .. s.longest_win_streak .. " wins / " .. s.longest_loss_streak .. " losses"},
    {"Average win / loss", money(s.avg_win) .. " / " .. money(s.avg_loss)},
  }
  add('<section id="kpis"><div class="cards">')
  for _, c in ipairs(cards) do
    add(string.format('<div class="card"><div class="k">%s</div><div class="v">%s</div>%s</div>', esc(c[1]), esc(c[2]),
      c[3] and ('<div class="d">' .. esc(c[3]) .. "</div>") or ""))
  end
  add("</div></section>")

  local targets = s.targets or {}
  if #targets > 0 then
    add('<section id="targets"><h2>Targets</h2><div class="tw"><table><tr><th class="l">Target</th><th>Actual</th><th>Goal</th><th>Variance</th><th class="l">Over</th><th class="l">Status</th><th class="l">Note</th></tr>')
    for _, t in ipairs(targets) do
      add(string.format('<tr><td class="l">%s</td><td>%s</td><td>%s %s</td><td>%s</td><td class="l">%s</td><td class="l %s">%s</td><td class="l">%s</td></tr>',
        esc(t.name), esc(t.actual ~= nil and tostring(t.actual) or "-"), esc(t.op or ""), esc(tostring(t.target)),
        t.variance and string.format("%+.4f", t.variance) or "-",
        (t.window_trades or 0) > 0 and ("last " .. t.window_trades .. " trades" ..
          (t.rolling_start and (", exits " .. t.rolling_start .. " .. " .. t.rolling_end) or "")) or "the window",
        esc(t.status), esc(t.status == "breach" and "BREACH" or t.status),
        esc((t.note or "") .. (t.alert_id and (" " .. t.alert_id) or ""))))
    end
    add("</table></div></section>")
  end

  local alerts = s.alerts or {}
  add('<section id="alerts"><h2>Alerts</h2>')
  if #alerts == 0 then
    add("<p>No alert was raised for this period.</p>")
  else
    add('<div class="tw"><table><tr><th class="l">Alert</th><th class="l">Type</th><th class="l">Period</th><th>Actual</th><th>Target</th><th class="l">Severity</th><th class="l">Raised</th><th class="l">State</th></tr>')
    for _, a in ipairs(alerts) do
      local acked = a.acknowledged_at ~= nil
      add(string.format('<tr><td class="l"><code>%s</code></td><td class="l">%s</td><td class="l">%s</td><td>%s</td><td>%s %s</td><td class="l">%s</td><td class="l">%s</td><td class="l %s">%s</td></tr>',
        esc(a.id), esc(a.type), esc(a.window .. " " .. a.period_start .. (a.period_end ~= a.period_start and (" to " .. a.period_end) or "")),
        esc(tostring(a.actual)), esc(a.op or ""), esc(tostring(a.target)), esc(a.severity), esc(a.raised_at),
        acked and "ok" or "breach", acked and ("acknowledged " .. esc(a.acknowledged_at)) or "ACTIVE (btrun perf ack " .. esc(a.id) .. ")"))
    end
    add("</table></div>")
  end
  add("</section>")

  -- charts: equity and drawdown start from 0 at the window start (the day before the first)
  local days = s.days or {}
  add('<section id="charts"><h2>Charts</h2>')
  if #days < 2 then
    if #days == 0 then
      add("<p>No trading day in this window: nothing to chart.</p>")
    else
      local d = days[1]
      add(string.format("<p>One trading day in this window (%s): %d trade%s, P&amp;L %s, win rate %s. Charts need at least two trading days.</p>",
        esc(d.date), d.trades, d.trades == 1 and "" or "s", esc(money(d.pnl)), esc(lib.pct(d.win_rate))))
    end
  else
    local ts, eq, dd, wr = {}, {}, {}, {}
    local bars = {}
    local t0 = day_time(days[1].date)
    ts[1], eq[1], dd[1] = t0 and t0 - 86400, 0, 0
    for i, d in ipairs(days) do
      ts[i + 1] = day_time(d.date)
      eq[i + 1] = tonumber(d.equity)
      dd[i + 1] = -tonumber(d.drawdown)
      wr[i] = d.win_rate
      bars[i] = {label = d.date:sub(6), value = tonumber(d.pnl),
        title = string.format("%s: %s (%d trades)", d.date, money(d.pnl), d.trades)}
    end
    local tip = function(i) return string.format("%s \u{b7} P&L %s", charts.date(ts[i]), money(days[i - 1] and days[i - 1].equity or "0")) end
    add(charts.chart({title = "Running realized P&L", series = {{xs = ts, ys = eq, color = "#1f77b4"}},
      tips = {xs = ts, text = tip}}))
    add(charts.chart({title = "Drawdown (from the running P&L peak)", series = {{xs = ts, ys = dd, color = "#b3261e", area = 0}},
      y_hi = 0, tips = {xs = ts, text = function(i) return charts.date(ts[i]) .. " \u{b7} " .. tostring(dd[i]) end}}))
    add(charts.bars(bars, {title = "Daily P&L"}))
    -- win rate with the rolling targets as lines; days below a >= goal (above a <=) marked
    local wts = {}
    for i = 1, #days do wts[i] = ts[i + 1] end
    local hlines, points = {}, {}
    for _, t in ipairs(targets) do
      if t.name == "win_rate" and type(t.target) == "number" then
        local over = (t.window_trades or 0) > 0 and (" (last " .. t.window_trades .. " trades)") or ""
        hlines[#hlines + 1] = {y = t.target, color = "#ff7f0e", label = "target " .. (t.op or "") .. " " .. lib.pct(t.target) .. over}
        for i, v in ipairs(wr) do
          local bad = (t.op == ">=" and v < t.target) or (t.op == "<=" and v > t.target)
          if bad then points[#points + 1] = {x = wts[i], y = v, color = "#b3261e",
            title = string.format("%s: win rate %s below target %s", days[i].date, lib.pct(v), lib.pct(t.target))} end
        end
        if type(t.actual) == "number" then
          points[#points + 1] = {x = wts[#wts], y = t.actual, color = t.status == "breach" and "#b3261e" or "#1b7f3b",
            title = string.format("rolling%s at the period end: %s (%s)", over, lib.pct(t.actual), t.status)}
        end
      end
    end
    add(charts.chart({title = "Win rate (cumulative over the window)", series = {{xs = wts, ys = wr, color = "#9467bd"}},
      y_lo = 0, y_hi = 1, y_fmt = charts.pct_axis, hlines = hlines, points = points,
      tips = {xs = wts, text = function(i) return days[i].date .. " \u{b7} " .. lib.pct(wr[i]) end}}))
    if #points > 0 then add('<p class="note">Red points: days below a win-rate target, and the rolling value at the period end.</p>') end
  end
  add("</section>")
  add('<p class="note">source_checksum ' .. esc(s.source_checksum) .. "</p>")
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end
