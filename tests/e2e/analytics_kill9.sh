#!/usr/bin/env bash
# kill -9 in the middle of a scripted backfill with PostHog down: what was journaled
# is replayed by `btrun analytics flush`, each event exactly once.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
cp -r "$BTRUN_SRC/strategies" "$T/strategies"
PORT=$(free_port)
export POSTHOG_HOST="http://127.0.0.1:$PORT"
cat > "$T/cfg.lua" <<'LUA'
return { analytics = { sync_interval_ms = 20, flush_interval_ms = 50, retry_base_ms = 20 } }
LUA
cat > "$T/loop.lua" <<'LUA'
for i = 1, 100000 do
  bt.backtest{ strategy = "strategies/sma_cross.lua", out = os.getenv("OUT") }
end
LUA
OUT="$T/o" "$BTRUN" "$T/loop.lua" --config "$T/cfg.lua" --user-id u --log-format json > "$T/run.log" &
pid=$!
for _ in $(seq 100); do
  [ "$(grep -c '"backtest_completed"' "$T/run.log" 2>/dev/null)" -ge 5 ] && break
  sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
runs=$(grep -c '"backtest_completed"' "$T/run.log")
[ "$runs" -ge 5 ] || fail "the loop did not get going ($runs runs)"
"$BTRUN" analytics status --config "$T/cfg.lua" > "$T/status"
pending=$(sed -n 's/^spool: *\([0-9]*\) event.*/\1/p' "$T/status")
echo "killed after $runs runs; $pending events in the spool"
# Crash window: at most the events of the last sync interval are lost.
[ "$pending" -ge $((2 * runs - 4)) ] || fail "only $pending events spooled for $runs runs"
start_server --port "$PORT"
"$BTRUN" analytics flush --config "$T/cfg.lua" > "$T/flush.out" || { cat "$T/flush.out"; fail "flush"; }
py '
pending = int(args[0])
assert len(ev) == pending, (len(ev), pending)
assert len({e["uuid"] for e in ev}) == len(ev), "duplicates"
started = {e["properties"]["run_id"] for e in ev if e["event"] == "backtest_job_started"}
done = {e["properties"]["run_id"] for e in ev if e["event"] == "backtest_job_completed"}
assert done <= started, "completed without started"
assert all(e["properties"]["origin"] == "script" for e in ev if e["event"].startswith("backtest"))
' "$pending"
"$BTRUN" analytics status | grep -q "spool: *0 event(s) pending" || fail "spool not empty"
pass "kill -9: journaled events replayed exactly once"
