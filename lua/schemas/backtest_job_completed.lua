-- Emitted by the runtime when a backtest completed, with its key metrics.
return {
  name = "backtest_job_completed",
  version = 1,
  required = {
    correlation_id = "string",
    user_id = "string?",
    strategy_id = "string",
    run_id = "string",
    duration_ms = "integer",
    origin = "string",
    bars = "integer",
    trades = "integer",
    final_equity = "number",   -- exact decimal rendered as a JSON number
    total_return = "number",
    max_drawdown = "number",
    sharpe = "number?",        -- null when undefined (fewer than two daily returns)
    win_rate = "number?",      -- null when no trade closed
  },
}
