#!/usr/bin/env bash
# A server that takes 10 s per response: the CLI still exits within the shutdown
# deadline and the undelivered events stay spooled.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
cp -r "$BTRUN_SRC/strategies" "$T/strategies"
start_server --script "sleep10000,sleep10000,sleep10000,sleep10000"
cat > "$T/cfg.lua" <<'LUA'
return { analytics = { shutdown_timeout_ms = 1000, flush_interval_ms = 10 } }
LUA
"$BTRUN" strategies/sma_cross.lua --config "$T/cfg.lua" --out "$T/o" --user-id u --log-format json > "$T/run.log"
t1=$(now_ms)
# Time from the end of the backtest (its log record) to the end of the process.
done_ms=$("$PY" -c '
import json, sys, datetime
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["event"] == "backtest_completed":
        t = datetime.datetime.strptime(r["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))
' "$T/run.log")
echo "exit $((t1 - done_ms)) ms after the backtest ended (deadline 1000 ms)"
[ $((t1 - done_ms)) -lt 1600 ] || fail "exit took $((t1 - done_ms)) ms after the run, deadline 1000 ms"
grep -q '"analytics_spooled"' "$T/run.log" || fail "expected an analytics_spooled record"
stop_server
"$BTRUN" analytics status | grep -q "spool: *3 event(s) pending" || fail "events not spooled"
pass "slow server: exit within the deadline, events spooled"

# Default deadline (2 s) too, without a config file.
start_server --script "sleep10000,sleep10000"
t0=$(now_ms)
"$BTRUN" strategies/sma_cross.lua --out "$T/o2" --log-format json > /dev/null
t1=$(now_ms)
echo "default deadline: $((t1 - t0)) ms in total"
[ $((t1 - t0)) -ge 1900 ] || fail "exit after $((t1 - t0)) ms: the 10 s server should have held it to the deadline"
[ $((t1 - t0)) -lt 4000 ] || fail "exit took $((t1 - t0)) ms with the default 2 s deadline"
pass "default 2 s shutdown deadline honoured"
