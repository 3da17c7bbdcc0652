-- Emitted by the runtime when a backtest failed; error_type is the bt_err type
-- ("lua_error", "csv_error", "limit_error", ...), never the message (it may hold paths).
return {
  name = "backtest_job_failed",
  version = 1,
  required = {
    correlation_id = "string",
    user_id = "string?",
    strategy_id = "string",
    run_id = "string",
    duration_ms = "integer",
    origin = "string",
    error_type = "string",
  },
  optional = {
    bars = "integer",          -- bars processed before the failure
  },
}
