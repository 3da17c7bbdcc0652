#!/usr/bin/env bash
# `btrun jobs` and `btrun worker` end to end, real processes: jobs submitted from the
# command line run in a worker's job processes; a good job succeeds and `btrun runs show`
# finds its run under the job's run_id; a failing strategy ends failed with a structured
# traceback; every job log line carries correlation_id, user_id, strategy_id, run_id and
# origin; the fake PostHog receives the lifecycle events with the job's correlation id;
# bad specs and paths are refused naming the field; cancel of a queued job is immediate;
# SIGTERM hands a running job back to the queue.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
mkdir -p strategies
cat > strategies/buy_once.lua <<'LUA'
local s = { params = { qty = 1 } }
function s.on_bar(ctx, bar) if ctx:position() == 0 then ctx:buy(ctx.params.qty) end end
return s
LUA
cat > strategies/broken.lua <<'LUA'
local s = {}
local function inner() error("broken on purpose") end
function s.on_bar(ctx, bar) inner() end
return s
LUA
cat > strategies/slow.lua <<'LUA'
local s = {}
function s.on_bar(ctx, bar) local t = os.clock() + 0.05; while os.clock() < t do end end
return s
LUA
head -31 "$BTRUN_SRC/data/sample-daily.csv" > tiny.csv
cat > cfg.lua <<LUA
return {
  analytics = { flush_interval_ms = 50 },
  service = {
    strategy_dirs = { "$T/strategies" },
    datasets = { tiny = "TINY=$T/tiny.csv" },
    max_attempts = 2,
    shutdown_grace = 1,
  },
}
LUA
start_server
J() { "$BTRUN" jobs --config "$T/cfg.lua" "$@"; }
W() { timeout 60 "$BTRUN" worker --config "$T/cfg.lua" --log-format json "$@"; }

"$BTRUN" worker --help | grep -q -- "--concurrency" || fail "worker --help"
"$BTRUN" jobs --help | grep -q "submit SPEC_JSON" || fail "jobs --help"

# --- refused specs name the field, nothing is queued ------------------------------------
for bad in '{"strategy":"../etc/passwd"}' '{"strategy":"/abs/x"}' \
           '{"strategy":"buy_once","data":["../tiny.csv"]}' '{"strategy":"buy_once","path":"x"}' \
           '{"strategy":"nope"}' '{"strategy":"buy_once","data":["missing"]}' 'not json'; do
  if J submit "$bad" 2> err.txt; then fail "accepted $bad"; fi
  grep -q "strategy\|data\|path\|JSON" err.txt || fail "no field named for $bad: $(cat err.txt)"
done
[ -z "$(J list)" ] || fail "a refused spec was queued"
pass "bad specs refused"

# --- a good and a failing job -----------------------------------------------------------
good=$(J submit '{"strategy":"buy_once","data":["tiny"],"params":{"qty":3}}' --user-id u1 \
       --correlation-id corr-e2e)
bad=$(J submit '{"strategy":"broken","data":["tiny"]}' --user-id u1 --correlation-id corr-e2e)
gone=$(J submit '{"strategy":"buy_once"}' --user-id u2)
[ "$(J cancel "$gone" | jq -r .status)" = cancelled ] || fail "cancel of a queued job"
[ "$(J show "$good" | jq -r .status)" = queued ] || fail "queued"

W --concurrency 2 --exit-when-idle 1 > worker.log
J show "$good" > good.json
jq -e '.status == "succeeded" and .attempt == 1 and .metrics.trades >= 0 and
       .user_id == "u1" and .origin == "manual" and .correlation_id == "corr-e2e"' good.json \
  > /dev/null || fail "good job: $(cat good.json)"
jq -e '[.history[].reason] == ["enqueued", "claimed", "finished"]' good.json > /dev/null \
  || fail "history: $(jq -c .history good.json)"
J show "$bad" > bad.json
jq -e '.status == "failed" and .error.type == "lua_error" and
       (.error.message | contains("broken on purpose")) and
       ([.error.frames[].function] | index("inner") != null)' bad.json > /dev/null \
  || fail "failed job: $(cat bad.json)"
[ "$(J show "$gone" | jq -r .status)" = cancelled ] || fail "a cancelled job ran"
pass "jobs ran: succeeded, failed with traceback, cancelled untouched"

# the run is the job: `btrun runs show` reads it under the same run_id
"$BTRUN" runs show "$good" --config "$T/cfg.lua" > runs.txt 2>&1 || fail "runs show: $(cat runs.txt)"
grep -q "$good" runs.txt && grep -q "corr-e2e" runs.txt || fail "runs show: $(cat runs.txt)"
[ -s "$T/data/runs/$good/result.json" ] || fail "no run directory under the data dir"
jq -e '.params.qty == 3' "$T/data/runs/$good/result.json" > /dev/null || fail "params not applied"
pass "runs show finds the job's run"

# every job line carries the job's ids
for id in "$good" "$bad"; do
  strat=$([ "$id" = "$good" ] && echo buy_once || echo broken)
  jq -s -e --arg id "$id" --arg s "$strat" '[.[] | select(.run_id == $id)] |
      length >= 2 and all(.correlation_id == "corr-e2e" and .user_id == "u1" and
                          .strategy_id == $s and .origin == "manual")' worker.log > /dev/null \
    || fail "job lines of $id: $(jq -c --arg id "$id" 'select(.run_id == $id)' worker.log | head -3)"
done
jq -s -e --arg g "$good" --arg b "$bad" \
  'any(.[]; .run_id == $g and .event == "backtest_completed") and
   any(.[]; .run_id == $b and .event == "backtest_failed")' worker.log > /dev/null \
  || fail "no backtest_completed / backtest_failed"
pass "job log lines carry correlation_id, user_id, strategy_id, run_id, origin"

# PostHog lifecycle events from the job processes, with the job's correlation id
for _ in $(seq 100); do
  py "
n = [e['event'] for e in ev if e['properties'].get('correlation_id') == 'corr-e2e']
assert sorted(n) == ['backtest_job_completed', 'backtest_job_failed', 'backtest_job_started',
                     'backtest_job_started'], n
" 2>/dev/null && break
  sleep 0.1
done
py "
good, bad = args
by = {(e['properties']['run_id'], e['event']): e for e in ev if e['event'].startswith('backtest_job')}
for rid, end in ((good, 'backtest_job_completed'), (bad, 'backtest_job_failed')):
    for name in ('backtest_job_started', end):
        p = by[(rid, name)]['properties']
        assert p['correlation_id'] == 'corr-e2e' and p['user_id'] == 'u1', p
        assert p['origin'] == 'manual' and p['run_id'] == rid, p
    assert by[(rid, 'backtest_job_started')]['properties']['duration_ms'] is None
assert by[(bad, 'backtest_job_failed')]['properties']['error_type'] == 'lua_error'
" "$good" "$bad"
pass "PostHog lifecycle events from the worker"

# --- SIGTERM: the running job goes back to the queue, attempt not counted --------------
slow=$(J submit '{"strategy":"slow","data":["tiny"]}')
"$BTRUN" worker --config "$T/cfg.lua" --log-format json --concurrency 1 > worker2.log &
wp=$!
for _ in $(seq 100); do [ "$(J show "$slow" | jq -r .status)" = running ] && break; sleep 0.05; done
[ "$(J show "$slow" | jq -r .status)" = running ] || fail "slow job never ran"
t0=$(now_ms)
kill -TERM "$wp"
( sleep 30; kill -9 "$wp" 2>/dev/null ) &  # bounded even if the worker hangs
guard=$!
wait "$wp" || fail "worker exit status $?"
kill "$guard" 2>/dev/null || true
[ $(( $(now_ms) - t0 )) -lt 5000 ] || fail "worker took too long to stop"
J show "$slow" | jq -e '.status == "queued" and .attempt == 0 and
    .history[-1].reason == "shutdown"' > /dev/null || fail "handed back: $(J show "$slow")"
pass "SIGTERM hands the running job back"
