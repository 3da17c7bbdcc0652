#!/usr/bin/env bash
# Many machines, simulated, on one PostgreSQL database: one `btrun serve --workers 0` and
# three `btrun worker`s, each with its own data dir. 300 tiny jobs are posted to the API;
# a random worker is killed -9 ten times while they run (and started again, as a
# machine's service manager would). Every job ends exactly once: one archived row, one
# final transition in its history, one completed run row, one backtest_job_completed or
# _failed event per run_id at the fake PostHog (a re-sent one has the same uuid); none is
# lost, none is left queued or running; all within 90 s.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
source "$BTRUN_SRC/tests/tools/pg.sh"
declare -A wpid=()
SERVE_PID=""
stop_all() {
  for i in "${!wpid[@]}"; do kill -9 "${wpid[$i]}" 2>/dev/null || true; done
  [ -n "$SERVE_PID" ] && kill -9 "$SERVE_PID" 2>/dev/null || true
  pg_stop
  cleanup
}
trap stop_all EXIT
pg_start
cd "$T"
head -41 "$BTRUN_SRC/data/sample-daily.csv" > tiny.csv
cat > cfg.lua <<LUA
return {
  analytics = { flush_interval_ms = 50 },
  service = {
    strategy_dirs = { "$BTRUN_SRC/strategies" },
    datasets = { tiny = "TINY=$T/tiny.csv" },
    max_attempts = 20,   -- ten kills never exhaust a job's attempts
    job_lease = 3,       -- a killed worker's jobs are requeued within ~4 s
    shutdown_grace = 5,
  },
}
LUA
start_server
export BTRUN_LOG_LEVEL=info
t0=$(date +%s)

"$BTRUN" serve --config cfg.lua --db "$PG_URL" --workers 0 --listen 127.0.0.1:0 \
  --data-dir "$T/serve" --log-format json > serve.log 2>&1 &
SERVE_PID=$!
for _ in $(seq 200); do grep -q '"service_listening"' serve.log && break; sleep 0.05; done
api=$(grep '"service_listening"' serve.log | jq -r .port)
[ -n "$api" ] || { cat serve.log; fail "serve did not start"; }

start_worker() {
  "$BTRUN" worker --config cfg.lua --db "$PG_URL" --concurrency 2 --data-dir "$T/w$1" \
    --worker-id "w$1-$RANDOM" --log-format json >> "w$1.log" 2>&1 &
  wpid[$1]=$!
}
for i in 1 2 3; do start_worker "$i"; done

# 300 jobs through the API, on one keep-alive connection.
"$PY" - "$api" > run_ids <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for i in range(300):
    c.request("POST", "/v1/backtests", json.dumps({"strategy": "sma_cross", "data": ["tiny"],
              "params": {"fast": 2 + i % 5, "slow": 10 + i % 7}}),
              {"Content-Type": "application/json", "X-Correlation-ID": "kill9-%d" % i})
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 202, (r.status, body)
    print(body["run_id"])
PY
[ "$(sort -u run_ids | wc -l)" = 300 ] || fail "not 300 jobs accepted"

# Ten kills -9 of a random worker while jobs run; each comes back at once.
for k in $(seq 10); do
  sleep "0.$((RANDOM % 5 + 3))"
  i=$((RANDOM % 3 + 1))
  kill -9 "${wpid[$i]}"
  wait "${wpid[$i]}" 2>/dev/null || true
  start_worker "$i"
done

left=300
while [ $(($(date +%s) - t0)) -lt 90 ]; do
  left=$(pg_sql -c "select count(*) from btrun.jobs")
  [ "$left" = 0 ] && break
  sleep 0.5
done
[ "$left" = 0 ] || fail "$left jobs still queued or running after 90 s"
elapsed=$(($(date +%s) - t0))

# Stop gracefully (each worker flushes its analytics), then deliver anything a killed
# worker's job processes left in their spools.
for i in 1 2 3; do kill -TERM "${wpid[$i]}"; done
for i in 1 2 3; do wait "${wpid[$i]}" 2>/dev/null || true; unset "wpid[$i]"; done
for i in 1 2 3; do
  BTRUN_DATA_DIR="$T/w$i" "$BTRUN" analytics flush --config cfg.lua > /dev/null 2>&1 || true
done

pg_sql -c "select run_id from btrun.jobs_archive" | sort > archived
cmp <(sort run_ids) archived || fail "archived jobs differ from the 300 posted"
[ "$(pg_sql -c "select count(*) from btrun.jobs_archive where state = 'succeeded'")" = 300 ] ||
  fail "not all succeeded: $(pg_sql -c "select state, count(*) from btrun.jobs_archive group by 1")"
[ "$(pg_sql -c "select count(*) from (select run_id from btrun.job_history
  where to_state in ('succeeded', 'failed', 'cancelled') group by run_id having count(*) = 1) x")" = 300 ] ||
  fail "a job ended other than once"
[ "$(pg_sql -c "select count(*) from backtest_analytics.backtest_runs where status = 'completed'")" = 300 ] ||
  fail "run rows: $(pg_sql -c "select status, count(*) from backtest_analytics.backtest_runs group by 1")"
rerun=$(pg_sql -c "select count(*) from btrun.jobs_archive where attempt > 1")
[ "$rerun" -ge 1 ] || fail "no job was running when its worker was killed: the test proves nothing"
py '
ids = set(open(T + "/run_ids").read().split())
ends = {}
for e in ev:
    if e["event"] in ("backtest_job_completed", "backtest_job_failed"):
        ends.setdefault(e["properties"]["run_id"], set()).add(e["uuid"])
missing = ids - set(ends)
assert not missing, "%d jobs without an end event, e.g. %s" % (len(missing), sorted(missing)[:3])
twice = [r for r, u in ends.items() if len(u) != 1]
assert not twice, "jobs with two different end events: %s" % twice[:3]
assert set(ends) == ids, "end events of runs nobody posted"
'
echo "ok: 300 jobs, 10 kills -9, $rerun jobs run again, each ended once, in ${elapsed}s"
