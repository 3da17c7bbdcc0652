#!/usr/bin/env bash
# `btrun perf` explains itself (issue 15 item 8): rolling targets print the exit dates of
# the trades they judged, --run DIR|latest reads a run's trades.jsonl, a missing trade
# log names the paths tried, --all prints every window (empty ones too), and alerts are
# one per (log, metric, rolling window end) whichever window saw them, listed by
# `perf alerts`, acknowledged by `perf ack --all`, kept apart per trade log.
set -u
T="${BT_TEST_TMP:-/tmp}/perf_explain.$$"
rm -rf "$T" && mkdir -p "$T/config" "$T/runs"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
cd "$T"
export BTRUN_DATA_DIR="$T/data" NO_COLOR=1
perf() { "$BTRUN" perf "$@" 2>"$T/err.log"; }

# A log with trades in January, March and April 2024 (February has none).
trade() { # ID EXIT_DAY PNL
  printf '{"trade_id":%s,"run_id":"r","symbol":"X","side":"long","qty":"1","entry_time":"%sT10:00:00Z","exit_time":"%sT15:00:00Z","pnl":"%s","commission":"0.0","status":"closed","extra":{"new":"field"}}\n' "$1" "$2" "$2" "$3"
}
mkrun() { # DIR: a finished run directory (result.json + trades.jsonl)
  mkdir -p "$1"
  { trade 1 2024-01-03 10; trade 2 2024-01-04 -5; trade 3 2024-01-05 -6
    trade 4 2024-03-04 7; trade 5 2024-03-05 -4; trade 6 2024-04-02 -3; trade 7 2024-04-03 2; } >"$1/trades.jsonl"
  echo '{}' >"$1/result.json"
}
mkrun runs/a
cat >config/targets.lua <<'LUA'
return { win_rate = { min = 0.9, window = 3 }, risk_reward = { min = 5.0, window = 4 } }
LUA

# 1. a missing trade log names the paths tried (exit 1, nothing created)
perf >out.txt; rc=$?
[ $rc -eq 1 ] || fail "missing default log: exit $rc"
grep -q "no trade log found: tried logs/trades" err.log || { cat err.log; fail "default log message"; }
[ ! -e logs ] || fail "a missing log created $(ls -R logs)"
mkdir -p empty && (cd empty && "$BTRUN" perf --run latest 2>"$T/err.log"); rc=$?
[ $rc -eq 1 ] || fail "--run latest with no run: exit $rc"
grep -q "no run found: tried runs/\*/result.json" err.log || { cat err.log; fail "latest message"; }
mkdir -p runs/norun && echo '{}' >runs/norun/result.json
perf --run runs/norun >out.txt; rc=$?
[ $rc -eq 1 ] && grep -q "tried runs/norun/trades.jsonl" err.log || { cat err.log; fail "run dir without trades.jsonl"; }
rm -rf runs/norun
ok "missing trade logs name the paths tried"

# 2. --run DIR: reads DIR/trades.jsonl, writes DIR/performance; rolling ranges printed
perf --run runs/a --window monthly >out.txt; rc=$?
[ $rc -eq 2 ] || { cat out.txt err.log; fail "--run breach exit $rc"; }
grep -q "trade log        runs/a/trades.jsonl, exits 2024-01-03 .. 2024-04-03" out.txt || { cat out.txt; fail "log line"; }
# win_rate: the last 3 trades exit 2024-03-05 .. 2024-04-03; risk_reward's last 4 from 2024-03-04
grep -A1 "^  win_rate" out.txt | grep -q "over the last 3 closed trades, exits 2024-03-05 .. 2024-04-03" ||
  { cat out.txt; fail "win_rate rolling range"; }
grep -A1 "^  risk_reward" out.txt | grep -q "exits 2024-03-04 .. 2024-04-03" || { cat out.txt; fail "risk_reward rolling range"; }
[ -f runs/a/performance/monthly-summary-2024-04-01.json ] || fail "summary not in the run dir"
grep -q '"rolling_start": "2024-03-05", "rolling_end": "2024-04-03"' runs/a/performance/monthly-summary-2024-04-01.json ||
  fail "rolling range in the summary JSON"
grep -q "over the last 3 closed trades, exits 2024-03-05 .. 2024-04-03" runs/a/performance/monthly-summary-2024-04-01.md ||
  fail "rolling range in the summary Markdown"
ok "--run DIR, rolling window ranges next to the targets"

# 3. the same breach seen daily, weekly and monthly is one alert per rolling target
perf --run runs/a --window weekly >/dev/null
perf --run runs/a --window daily >/dev/null
A=logs/performance-alerts.jsonl
n=$(grep -c '"event":"performance.alert"' "$A")
[ "$n" -eq 2 ] || { cat "$A"; fail "daily/weekly/monthly raised $n alerts, want 2"; }
grep -q "\"source\":\"$T/runs/a/trades.jsonl\"" "$A" || { cat "$A"; fail "alert without its source"; }
grep -q '"rolling_end":"2024-04-03"' "$A" || fail "alert without its rolling window end"
ok "one alert per (metric, rolling window end)"

# 4. --run latest = the newest run (a sweep's nested runs count); another log's alerts apart
sleep 1.1
mkrun runs/sweep-1/fast5-slow20
perf --run latest --window monthly >out.txt; rc=$?
[ $rc -eq 2 ] || { cat out.txt err.log; fail "latest exit $rc"; }
grep -q "runs/sweep-1/fast5-slow20/trades.jsonl" out.txt || { cat out.txt; fail "latest is not the newest run"; }
grep -q "Alerts: 2 active for this trade log (2 new)" out.txt || { cat out.txt; fail "second log's alerts"; }
grep -q "2 active alerts of other or earlier trade logs" out.txt || { cat out.txt; fail "other logs message"; }
[ "$(grep -c '"event":"performance.alert"' "$A")" -eq 4 ] || fail "second log's alerts merged with the first's"
perf alerts >out.txt; rc=$?
[ $rc -eq 2 ] && [ "$(grep -c '^pa-' out.txt)" -eq 4 ] || { cat out.txt; fail "perf alerts: exit $rc"; }
grep -q "log $T/runs/a/trades.jsonl" out.txt && grep -q "over the last 3 trades, exits 2024-03-05 .. 2024-04-03" out.txt ||
  { cat out.txt; fail "perf alerts details"; }
perf alerts --run runs/a >out.txt
[ "$(grep -c '^pa-' out.txt)" -eq 2 ] && ! grep -q sweep-1 out.txt || { cat out.txt; fail "alerts --run filter"; }
ok "--run latest, alerts listed per trade log"

# 5. ack --all for one log leaves the other's; the summary's exit follows its own log
perf ack --all --run latest >out.txt || fail "ack --all --run"
grep -q "2 alerts acknowledged for this trade log" out.txt || { cat out.txt; fail "ack --all count"; }
perf --run latest --window monthly >out.txt; rc=$?
[ $rc -eq 0 ] || { cat out.txt; fail "acknowledged log exit $rc"; }
grep -q "Alerts: none active for this trade log" out.txt && grep -q "2 active alerts of other" out.txt ||
  { cat out.txt; fail "status lines after ack"; }
perf ack --all >out.txt && grep -q "2 alerts acknowledged" out.txt || { cat out.txt; fail "ack --all"; }
perf alerts >out.txt; rc=$?
[ $rc -eq 0 ] && grep -q "No active alerts" out.txt || { cat out.txt; fail "alerts after ack: $rc"; }
perf alerts --all >out.txt
[ "$(grep -c '^    acknowledged 20' out.txt)" -eq 4 ] || { cat out.txt; fail "alerts --all"; }
ok "ack --all, per log"

# 6. --all: one row per month of the range, February empty, a total row
perf --run runs/a --window monthly --all >out.txt; rc=$?
[ $rc -eq 0 ] || { cat out.txt err.log; fail "--all exit $rc"; }
rows=$(grep -cE '^2024-0[1-4]-01\.\.' out.txt)
[ "$rows" -eq 4 ] || { cat out.txt; fail "--all rows: $rows, want 4"; }
grep -qE '^2024-02-01\.\.2024-02-29 +0$' out.txt || { cat out.txt; fail "empty February row"; }
grep -qE '^2024-01-01\.\.2024-01-31 +3 +1 +2 +33\.33% +-1\.0 ' out.txt || { cat out.txt; fail "January row"; }
grep -qE '^total +7 +3 +4 +42\.86% +1\.0 ' out.txt || { cat out.txt; fail "total row"; }
perf --run runs/a --all --start 2024-03-01 --end 2024-03-31 >out.txt
[ "$(grep -cE '^2024-03-[0-9][0-9] ' out.txt)" -eq 31 ] || { cat out.txt; fail "daily --all rows"; }
perf --run runs/a --all --export md >out.txt; [ $? -eq 1 ] || fail "--all --export accepted"
ok "--all: every window, empty ones as empty rows"
