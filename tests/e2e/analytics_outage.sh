#!/usr/bin/env bash
# PostHog down for whole runs: run time unchanged, every event spooled, then delivered
# exactly once (by uuid) by the next btrun process and by `btrun analytics flush`.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
cp -r "$BTRUN_SRC/strategies" "$T/strategies"
PORT=$(free_port)
export POSTHOG_HOST="http://127.0.0.1:$PORT"

run() { "$BTRUN" strategies/sma_cross.lua --out "$T/out" --user-id u1 --log-format json "$@"; }

# Wall time of the whole process, best of 3, analytics off vs. on with the server down.
best() {
  local best=999999 t0 t1
  for _ in 1 2 3; do
    t0=$(now_ms); "$@" > /dev/null; t1=$(now_ms)
    [ $((t1 - t0)) -lt "$best" ] && best=$((t1 - t0))
  done
  echo "$best"
}
off=$(POSTHOG_API_KEY= BTRUN_DATA_DIR="$T/off" best run)
on=$(best run)
echo "process wall time: analytics off ${off} ms, on with server down ${on} ms"
[ "$on" -le $((off * 3 / 2 + 250)) ] || fail "server outage slowed the run: ${on} ms vs ${off} ms"
pass "run time unchanged while PostHog is down"

"$BTRUN" analytics status > "$T/status1"
grep -q "spool: *7 event(s) pending" "$T/status1" || { cat "$T/status1"; fail "expected 7 spooled events (3 runs x 2 + session_start)"; }
pass "every event spooled"

start_server --port "$PORT"
run > "$T/run4.log"   # the next process replays the spool, then sends its own events
py '
assert len(ev) == 9, len(ev)
uu = [e["uuid"] for e in ev]
assert len(set(uu)) == 9, "duplicate delivery"
names = sorted(e["event"] for e in ev)
assert names.count("backtest_job_started") == 4 and names.count("backtest_job_completed") == 4
# spooled events keep the time they happened, not the send time
runs = [e for e in ev if e["event"] == "backtest_job_started"]
ts = [e["timestamp"] for e in runs]
assert ts == sorted(ts), "replayed in order"
'
"$BTRUN" analytics status | grep -q "spool: *0 event(s) pending" || fail "spool not empty after replay"
pass "next process replayed the spool: delivered exactly once, in order"

# Outage again, then an explicit flush.
stop_server
rm -f "$T/ev.jsonl" "$T/req.jsonl"
run > /dev/null
start_server --port "$PORT"
"$BTRUN" analytics flush > "$T/flush.out" || { cat "$T/flush.out"; fail "flush reported undelivered events"; }
grep -q "delivered 2 event" "$T/flush.out" || { cat "$T/flush.out"; fail "flush output"; }
"$BTRUN" analytics flush > "$T/flush2.out"
grep -q "delivered 0 event" "$T/flush2.out" || fail "second flush resent something"
py '
assert len(ev) == 2, len(ev)
'
pass "btrun analytics flush delivers the spool once"
