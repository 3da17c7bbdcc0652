-- Emitted by the runtime when a backtest starts (every origin: cli, script, scheduled, api).
return {
  name = "backtest_job_started",
  version = 1,
  required = {
    correlation_id = "string",
    user_id = "string?",       -- null when the user is unknown
    strategy_id = "string",
    run_id = "string",
    duration_ms = "integer?",  -- always null on started
    origin = "string",
  },
}
