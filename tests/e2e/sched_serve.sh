#!/usr/bin/env bash
# `btrun serve` fires schedules on a simulated clock (BTRUN_TEST_NOW/SPEED/ANCHOR_MS):
# two serve processes share one data dir (queue + ledger) across the New York
# spring-forward change (2027-03-14 02:00 EST -> 03:00 EDT = 07:00Z), then one restarts
# after four simulated hours of downtime. Each fire is enqueued / run exactly once;
# catch_up skip, last and all; the hourly perf job breaches its target (alert record, WARN
# log, outcome degraded); a bad edit of the schedules file keeps the old ones running.
set -u
T="${BT_TEST_TMP:-/tmp}/sched_serve.$$"
rm -rf "$T" && mkdir -p "$T/trades" && cd "$T" || exit 1
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in serve*.log; do echo "--- $f" >&2; grep -v '"level":"debug"' "$f" | tail -15 >&2; done; exit 1; }
ok() { echo "ok - $*"; }
export BTRUN_DATA_DIR="$T/state"
ln -s "$BTRUN_SRC/strategies" strategies && ln -s "$BTRUN_SRC/data" data
cp "$BTRUN_SRC/tests/fixtures/perf/dst_ny.jsonl" trades/
printf 'return { avg_win = { min = "50.00" } }\n' >targets.lua
cat >schedules.lua <<'LUA'
local bt = { strategy = "sma_cross" }
return {
  { name = "half", cron = "*/30 * * * *", timezone = "America/New_York", backtest = bt },
  { name = "hourly-all", cron = "0 * * * *", timezone = "America/New_York", backtest = bt,
    catch_up = "all", catch_up_max = 3 },
  { name = "quarter-last", cron = "45 * * * *", timezone = "America/New_York", backtest = bt,
    catch_up = "last" },
  { name = "perf-hourly", cron = "0 * * * *", timezone = "America/New_York",
    perf = { window = "daily", trades = "trades", out_dir = "perfout", targets = "targets.lua",
             alerts_file = "alerts.jsonl" } },
}
LUA

now_ms() { date +%s%3N; }
serve() { # LOG NOW ANCHOR [SPEED]
  BTRUN_TEST_NOW="$2" BTRUN_TEST_ANCHOR_MS="$3" BTRUN_TEST_SPEED="${4:-1200}" \
    "$BTRUN" serve --listen 127.0.0.1:0 --workers 1 --schedules "$T/schedules.lua" >"$1" 2>&1 &
  pids+=($!)
}
port_of() { # LOG -> port from service_listening
  for _ in $(seq 100); do
    p=$(grep -o '"event":"service_listening".*' "$1" 2>/dev/null | grep -o '"port":[0-9]*' | cut -d: -f2)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.1
  done
  return 1
}
history() { "$BTRUN" schedules history --limit 500 --format json; }
fired() { # SCHEDULE FIRE_TIME -> 0 when the ledger has it
  history | jq -e --arg s "$1" --arg t "$2" 'any(.[]; .schedule == $s and .fire_time == $t)' >/dev/null
}
wait_fired() { # SCHEDULE FIRE_TIME
  for _ in $(seq 300); do fired "$1" "$2" && return 0; sleep 0.1; done
  fail "no fire of $1 at $2"
}
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait; pids=(); }

# 1. Two processes, one timeline: 05:50Z (00:50 EST) to just after 08:00Z (04:00 EDT).
# At 600x the next fire (08:30Z) comes 3 s after 08:00Z: the time to see the 08:00Z fires,
# read the API and stop, even under ASan on a loaded machine (part 2 expects 08:30Z missed).
anchor=$(now_ms)
serve serve1.log 2027-03-14T05:50:00Z "$anchor" 600
serve serve2.log 2027-03-14T05:50:00Z "$anchor" 600
port=$(port_of serve1.log) || fail "serve 1 did not start"
port_of serve2.log >/dev/null || fail "serve 2 did not start"
wait_fired half 2027-03-14T08:00:00Z
wait_fired hourly-all 2027-03-14T08:00:00Z
wait_fired perf-hourly 2027-03-14T08:00:00Z
curl -sf "http://127.0.0.1:$port/v1/backtests?limit=1000" >jobs1.json || fail "GET /v1/backtests"
curl -sf "http://127.0.0.1:$port/v1/schedules/fires?schedule=perf-hourly" >fires1.json || fail "GET /v1/schedules/fires"
stop_all

# The queue: every scheduled job once, keyed by its correlation id. 02:00 and 02:30 EST do
# not exist: "*/30" fires once at 03:00 EDT (07:00Z), and so does "45 *" for 02:45.
jq -r '.backtests[] | select(.origin == "schedule") | .correlation_id
        | select(split("@")[1] <= "2027-03-14T08:00:00Z")' jobs1.json | sort >got1.txt
cat >want1.txt <<'TXT'
schedule:half@2027-03-14T06:00:00Z
schedule:half@2027-03-14T06:30:00Z
schedule:half@2027-03-14T07:00:00Z
schedule:half@2027-03-14T07:30:00Z
schedule:half@2027-03-14T08:00:00Z
schedule:hourly-all@2027-03-14T06:00:00Z
schedule:hourly-all@2027-03-14T07:00:00Z
schedule:hourly-all@2027-03-14T08:00:00Z
schedule:quarter-last@2027-03-14T06:45:00Z
schedule:quarter-last@2027-03-14T07:00:00Z
schedule:quarter-last@2027-03-14T07:45:00Z
TXT
diff want1.txt got1.txt >/dev/null || fail "scheduled jobs across the DST change: $(diff want1.txt got1.txt | tr "\n" " ")"
# Counted up to 08:00Z only: under load the next fire can still come before stop_all,
# after the job list above was read.
upto() { # EVENT -> the log lines of EVENT with fire_time <= 08:00Z
  cat serve1.log serve2.log |
    jq -R -c --arg e "$1" 'fromjson? | select(.event? == $e and .fire_time <= "2027-03-14T08:00:00Z")' 
}
[ "$(upto schedule_fired | grep -c '"kind":"backtest"')" -eq 11 ] ||
  fail "schedule_fired log lines for backtests: not 11"
grep -q '"origin":"schedule"' jobs1.json || fail "origin"
ok "two serve processes across spring-forward: 11 jobs, each once"

# The perf job: 01:00 EST, 03:00 EDT, 04:00 EDT fires, each run by one process only; the
# local day is 2027-03-14 (one trade of 8.0 < avg_win 50: breach, degraded).
[ "$(upto perf_job_completed | wc -l)" -eq 3 ] ||
  fail "perf jobs run $(upto perf_job_completed | wc -l) times, want 3"
upto perf_job_completed | grep -q '"level":"warning".*"outcome":"degraded"' ||
  fail "perf outcome not degraded in the log"
history | jq -e '[.[] | select(.schedule == "perf-hourly" and .fire_time <= "2027-03-14T08:00:00Z")] | length == 3 and all(.state == "done" and .outcome == "degraded" and .detail.period_start == "2027-03-14")' >/dev/null ||
  fail "perf ledger: $(history | jq -c '[.[] | select(.schedule == "perf-hourly")]')"
jq -e '[.fires[] | select(.fire_time <= "2027-03-14T08:00:00Z") | .outcome] == ["degraded", "degraded", "degraded"]' fires1.json >/dev/null ||
  fail "API fires: $(cat fires1.json)"
[ "$(jq -r .realized_pnl perfout/daily-summary-2027-03-14.json)" = 8.0 ] || fail "perf summary"
[ "$(grep -c '"type":"performance.alert"\|performance.alert' alerts.jsonl)" -ge 1 ] || fail "no alert record"
grep -h '"level":"warning"' serve1.log serve2.log | grep -q 'avg_win' || fail "no WARN line for the breach"
ok "perf job once per fire, breach recorded, outcome degraded (log, ledger, API)"

# 2. Downtime: restart at 12:25Z (08:25 EDT), over four simulated hours later (beyond the
# grace period of 20 ticks = 20 simulated minutes, 12:00Z was missed too).
anchor=$(now_ms)
serve serve3.log 2027-03-14T12:25:00Z "$anchor"
port=$(port_of serve3.log) || fail "serve 3 did not start"
wait_fired half 2027-03-14T12:30:00Z
# A bad edit is reported and the previous schedules keep running.
cp schedules.lua good.lua
printf 'return { { name = "broken", cron = "61 * * * *", backtest = { strategy = "x" } } }\n' >schedules.lua
for _ in $(seq 100); do grep -q '"event":"schedules_reload_failed"' serve3.log && break; sleep 0.1; done
grep '"event":"schedules_reload_failed"' serve3.log | grep -q 'schedule \\"broken\\": cron' || fail "bad edit not reported"
wait_fired half 2027-03-14T13:00:00Z
# A good edit (and SIGHUP) takes effect without a restart: a new schedule starts firing.
sed 's|^}$|  { name = "added", cron = "*/5 * * * *", timezone = "UTC", backtest = bt },\n}|' good.lua >schedules.lua
kill -HUP "${pids[0]}"
for _ in $(seq 100); do [ "$(grep -c '"event":"schedules_reloaded".*"schedules":5' serve3.log)" -ge 1 ] && break; sleep 0.1; done
grep -q '"event":"schedules_reloaded".*"schedules":5' serve3.log || fail "good edit not reloaded"
for _ in $(seq 100); do history | jq -e 'any(.[]; .schedule == "added")' >/dev/null && break; sleep 0.1; done
history | jq -e 'any(.[]; .schedule == "added" and .origin == "schedule")' >/dev/null || fail "added schedule never fired"
curl -sf "http://127.0.0.1:$port/v1/backtests?limit=1000" >jobs2.json || fail "GET /v1/backtests (2)"
stop_all
jq -r '.backtests[] | select(.origin == "schedule") | .correlation_id' jobs2.json | sort >got2.txt
comm -13 want1.txt got2.txt | grep -v 'T13:\|quarter-last@2027-03-14T12:45:00Z\|schedule:added@' >new2.txt
cat >want2.txt <<'TXT'
schedule:half@2027-03-14T12:30:00Z
schedule:hourly-all@2027-03-14T10:00:00Z
schedule:hourly-all@2027-03-14T11:00:00Z
schedule:hourly-all@2027-03-14T12:00:00Z
schedule:quarter-last@2027-03-14T11:45:00Z
TXT
diff want2.txt new2.txt >/dev/null || fail "after downtime: $(diff want2.txt new2.txt)"
[ "$(sort got2.txt | uniq -d | wc -l)" -eq 0 ] || fail "a job enqueued twice"
grep '"event":"schedule_missed_fires"' serve3.log | grep -q '"schedule":"half".*"missed":8.*"catch_up":"skip"' ||
  fail "skip not logged"
ok "downtime: skip drops 8 (08:30Z-12:00Z), last runs 11:45Z, all runs the last 3; bad edit kept the old schedules"

# 3. `btrun schedules run NAME`: origin manual; a perf job prints its outcome (exit 2 when
# degraded, as btrun perf), a backtest is enqueued.
BTRUN_TEST_NOW=2027-03-14T14:00:00Z "$BTRUN" schedules run perf-hourly --schedules good.lua >run.txt 2>err.txt
rc=$?
[ $rc -eq 2 ] || fail "schedules run perf: exit $rc: $(cat run.txt err.txt)"
grep -q '^perf-hourly: degraded  daily 2027-03-14..2027-03-14  trades 1' run.txt || fail "run output: $(cat run.txt)"
"$BTRUN" schedules run half --schedules good.lua >run.txt 2>err.txt || fail "schedules run half: $(cat err.txt)"
grep -q '^half: enqueued job .* (origin manual, correlation id manual:half@' run.txt || fail "run output: $(cat run.txt)"
history | jq -e '[.[] | select(.origin == "manual")] | length >= 2 and any(.[]; .kind == "backtest" and (.run_id | length) == 36)' >/dev/null ||
  fail "manual fires not in the ledger"
# ... into the queue serve uses: config service.queue.
printf 'return { service = { queue = "sqlite:%s/other-queue.db" } }\n' "$T" >cfg.lua
"$BTRUN" schedules run half --schedules good.lua --config cfg.lua >run.txt 2>err.txt || fail "run with service.queue: $(cat err.txt)"
rid=$(grep -o 'enqueued job [0-9a-f-]*' run.txt | cut -d' ' -f3)
python3 -c 'import sqlite3, sys; sys.exit(0 if sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM jobs WHERE run_id = ?", (sys.argv[2],)).fetchone()[0] == 1 else 1)' \
  "$T/other-queue.db" "$rid" || fail "manual job not in service.queue"
"$BTRUN" schedules run nope --schedules good.lua >/dev/null 2>err.txt && fail "unknown schedule ran"
grep -q 'no schedule named "nope"' err.txt || fail "unknown schedule error: $(cat err.txt)"
ok "schedules run: manual perf job (exit 2, degraded) and backtest enqueue (service.queue honoured)"
