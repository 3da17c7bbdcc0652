-- scripts/backfill.lua - a scripted backfill with bt.perf.summary: summarise every day
-- (or week/month) of a date range, write the summary files, print one line per window.
--
--   btrun scripts/backfill.lua [-- START END [WINDOW [TRADES]]]
--   btrun scripts/backfill.lua -- 2024-01-01 2024-01-31 daily logs/trades
--
-- Windows without trades are skipped (as `btrun perf --backfill` does).
local args = arg or {}
local start, stop = args[1], args[2]
local window = args[3] or "daily"
local trades = args[4]

local function day_number(s)
  local y, m, d = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  assert(y, "expected YYYY-MM-DD, got " .. tostring(s))
  return os.time{year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12} // 86400
end

local function date_of(n) return os.date("!%Y-%m-%d", n * 86400) end

-- Without a range: the last 7 days up to the most recent trade.
if not start then
  local latest = bt.perf.summary{window = "daily", trades = trades}
  stop = latest.period_end
  start = date_of(day_number(stop) - 6)
end

print(string.format("%-8s %-10s %7s %9s %14s %14s  %s", "window", "start", "trades", "win_rate",
  "realized", "max_drawdown", "targets"))
local seen = {}
for n = day_number(start), day_number(stop) do
  local s = bt.perf.summary{window = window, ["end"] = date_of(n), trades = trades, write = true}
  if not seen[s.period_start] and not s.no_trades then
    seen[s.period_start] = true
    local breaches = {}
    for _, t in ipairs(s.targets or {}) do
      if t.status == "breach" then breaches[#breaches + 1] = t.name end
    end
    print(string.format("%-8s %-10s %7d %8.2f%% %14s %14s  %s", s.window, s.period_start, s.trades,
      s.win_rate * 100, s.realized_pnl, s.max_drawdown,
      #breaches > 0 and ("BREACH " .. table.concat(breaches, ",")) or "ok"))
  end
end
