-- Performance targets for `btrun perf` (docs/performance.md). Edit freely: every
-- section is optional, unknown keys and wrong types are errors naming the key.
-- A breach appends a performance.alert record to perf.alerts_file and makes
-- `btrun perf` exit 2 until acknowledged with `btrun perf ack ALERT_ID`.
return {
  -- Win rate (wins / closed trades) over the last `window` closed trades up to the end of
  -- the summary window. PERFORMANCE_ALERT_ROLLING_WINDOW overrides `window`.
  win_rate = { min = 0.60, window = 20, severity = "warning" },

  -- Average risk-reward over the last `window` closed trades:
  --   measure = "payoff"     : average win / |average loss|
  --   measure = "r_multiple" : mean of pnl / risk over trades that carry "risk"
  -- A breach is raised as type risk_reward_breach.
  risk_reward = { min = 1.0, window = 10, measure = "payoff", severity = "warning" },

  -- Optional money targets on the summary window itself (decimal strings or numbers):
  -- avg_win = { min = "50.00" },
  -- avg_loss = { max = "40.00" },     -- compared with |average loss|

  -- Custom rules: check(summary) gets the summary table (money fields are decimal
  -- strings: use tonumber to compare) and returns ok [, actual [, target]].
  rules = {
    -- { name = "daily_loss_limit", severity = "critical",
    --   check = function(s)
    --     local pnl = tonumber(s.realized_pnl)
    --     return pnl >= -500, pnl, -500
    --   end },
  },
}
