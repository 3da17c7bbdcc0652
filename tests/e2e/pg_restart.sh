#!/usr/bin/env bash
# PostgreSQL restarts in the middle of a run: `serve` and two workers keep going (they
# reconnect with backoff), every job completes or is retried and completes, once; each
# completed run's events are all in the database (no critical event lost).
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
source "$BTRUN_SRC/tests/tools/pg.sh"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pg_stop
  cleanup
}
trap stop_all EXIT
pg_start
cd "$T"
head -201 "$BTRUN_SRC/data/sample-daily.csv" > small.csv
cat > cfg.lua <<LUA
return {
  service = {
    strategy_dirs = { "$BTRUN_SRC/strategies" },
    datasets = { small = "SMALL=$T/small.csv" },
    max_attempts = 10,
    job_lease = 5,
    shutdown_grace = 5,
  },
}
LUA
export BTRUN_LOG_LEVEL=info
"$BTRUN" serve --config cfg.lua --db "$PG_URL" --workers 0 --listen 127.0.0.1:0 \
  --data-dir "$T/serve" --log-format json > serve.log 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q '"service_listening"' serve.log && break; sleep 0.05; done
api=$(grep '"service_listening"' serve.log | jq -r .port)
[ -n "$api" ] || { cat serve.log; fail "serve did not start"; }
for i in 1 2; do
  "$BTRUN" worker --config cfg.lua --db "$PG_URL" --concurrency 2 --data-dir "$T/w$i" \
    --log-format json > "w$i.log" 2>&1 &
  pids+=($!)
done
post() { # post N: N jobs through the API; prints their run ids
  "$PY" - "$api" "$1" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for i in range(int(sys.argv[2])):
    c.request("POST", "/v1/backtests", json.dumps({"strategy": "sma_cross", "data": ["small"],
              "params": {"fast": 2 + i % 5, "slow": 10 + i % 7}}), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 202, (r.status, body)
    print(body["run_id"])
PY
}
post 40 > run_ids
sleep 1
bash "$PG_SH" restart "$PG_DIR"   # fast shutdown: every connection is cut
post 40 >> run_ids || fail "the API did not recover after the restart"
t0=$(date +%s)
left=80
while [ $(($(date +%s) - t0)) -lt 60 ]; do
  left=$(pg_sql -c "select count(*) from btrun.jobs")
  [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$left" = 0 ] || fail "$left jobs not done 60 s after the restart"
[ "$(pg_sql -c "select count(*) from btrun.jobs_archive where state = 'succeeded'")" = 80 ] ||
  fail "$(pg_sql -c "select state, count(*) from btrun.jobs_archive group by 1")"
# Runs that ended while the server was down wait in the spool next to the event store
# the workers' job processes write (the data dir they started with): the next runs copy
# them; `db sync` does it now.
"$BTRUN" db sync --db "$PG_URL" >/dev/null
[ "$(pg_sql -c "select count(*) from backtest_analytics.backtest_runs where status = 'completed'")" = 80 ] ||
  fail "run rows: $(pg_sql -c "select status, count(*) from backtest_analytics.backtest_runs group by 1")"
# Every completed run's events are all there: as many stored as were published.
[ "$(pg_sql -c "select count(*) from backtest_analytics.backtest_runs r where events_stored <> event_count
  or events_stored <> (select coalesce(sum(n), 0) from btrun.event_chunks c where c.run_id = r.run_id)")" = 0 ] ||
  fail "a run's events are missing in the database"
grep -q "$PG_PASSWORD" serve.log w1.log w2.log && fail "password in a log"
echo "ok: PostgreSQL restarted mid-run; 80 jobs completed once, their events all stored"
