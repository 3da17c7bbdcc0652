-- btrun configuration: a Lua file returning a table. Edit freely; unknown keys and
-- wrong types are errors that name the key. Command-line flags override these values.
-- Every key is documented in docs/config.md.
return {
  cash = 100000,            -- starting cash (number or decimal string, e.g. "100000.00")
  commission = {            -- per fill: qty * per_unit + notional * percent, at least
                            -- minimum (the minimum applies once per_unit or percent is set)
    per_unit = 0,
    percent = 0,            -- 0.001 = 0.1 %
    minimum = 0,
  },
  slippage_bps = 0,         -- worsens every fill price by this many basis points
  out_dir = "runs",         -- run directories go to <out_dir>/<run_id> unless --out is given
  timeout = 600,            -- seconds a run may take before it is stopped
  max_memory = 512 * 1024 * 1024, -- bytes of Lua heap a strategy may use
  skip_bad_rows = false,    -- true: skip and count malformed CSV rows instead of failing
  trust_strategies = false, -- true: strategies run unsandboxed (docs/sandbox.md)
  progress_every = 1000000, -- bars between backtest_progress log records (0 = off)
  risk = {                  -- limits; crossing one publishes a RISK_BREACH event, logs
                            -- risk_breach and calls the strategy's on_risk (0 = no limit)
    max_drawdown = 0,       -- fraction of the equity peak, e.g. 0.2
    max_position_value = 0, -- money held in positions (absolute value)
  },

  -- The sections below are shown with their defaults, commented out; uncomment to change.

  -- Structured logging (docs/logging.md)
  -- log = {
  --   level = "info",           -- debug | info | warning | error | off
  --   format = "auto",          -- auto (console on a terminal, else json) | json | console
  --   loggers = { broker = "debug" },  -- per-logger levels
  -- },

  -- Tracing bus and event store (docs/events.md)
  -- trace = {
  --   enabled = true,           -- false: no store, no overhead
  --   bars = "all",             -- "all" | "sampled" | "none"
  --   sample_rate = 1.0,        -- share of non-critical events kept
  --   context_window = 5,       -- events kept before and after each critical event
  --   critical = { "SIGNAL", "ORDER", "FILL", "RISK_BREACH", "PORTFOLIO" },
  --   seed = 1,
  --   ring_size = 65536,        -- buffer between the run and the store writer, in
  --                             -- events of 128 bytes (a bar takes 88)
  --   full_policy = "block",    -- "block" | "drop" (non-critical events, counted)
  --   commit_ms = 100,          -- what a killed process loses at most
  --   warn_size_mb = 500,       -- warn when a run ends with the store above this (0 = never)
  -- },

  -- Product analytics to PostHog (docs/analytics.md); off without an API key
  -- analytics = {
  --   enabled = true,
  --   api_key = nil,            -- or env POSTHOG_API_KEY
  --   host = "https://us.i.posthog.com",  -- or env POSTHOG_HOST
  --   shutdown_timeout_ms = 2000,
  -- },

  -- Service mode, `btrun serve` (docs/service.md)
  -- service = {
  --   listen = "127.0.0.1:8080",  -- a non-loopback address needs api_keys
  --   queue = "",               -- "" = SQLite <data_dir>/queue.db | "sqlite:PATH" | "postgresql://..."
  --   workers = 0,              -- backtests at once (0 = CPU cores)
  --   http_threads = 0,         -- HTTP thread pool (0 = CPU cores)
  --   max_body = 65536,         -- bytes per request body (413 above)
  --   max_queued_per_user = 1000, -- queued jobs per user (429 above)
  --   connection_timeout = 10,  -- seconds before an idle or trickling connection is cut
  --   strategy_dirs = { "strategies" },
  --   datasets = { orcl = "data/market/orcl-1995-2014.txt" },  -- default: bundled data
  --   api_keys = { { user_id = "u1", sha256 = "<sha256 hex of the token>" } },
  -- },

  -- Performance summaries and alerts (docs/performance.md; targets in config/targets.lua)
  -- perf = {
  --   trades = "logs/trades",
  --   out_dir = "logs/performance",
  --   alerts_file = "logs/performance-alerts.jsonl",
  --   timezone = "UTC",         -- fixed offset such as "-05:00"
  -- },
}
