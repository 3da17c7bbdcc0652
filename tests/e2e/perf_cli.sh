#!/usr/bin/env bash
# `btrun perf` end to end: summaries and files, idempotence (mtimes), exit codes,
# alert de-duplication and ack, partial lines, backfill with missing days, path
# confinement, --export, watch, env overrides and a run's report.html.
set -u
T="${BT_TEST_TMP:-/tmp}/perf_cli.$$"
rm -rf "$T" && mkdir -p "$T/logs/trades" "$T/config"
trap 'rm -rf "$T"' EXIT
FX="$BTRUN_SRC/tests/fixtures/perf"
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
cd "$T"
export BTRUN_DATA_DIR="$T/data"   # keep other modules' stores out of the user's data dir
perf() { "$BTRUN" perf "$@" 2>"$T/err.log"; }

cp "$FX/basic.jsonl" logs/trades/2024-01.jsonl
# 1. healthy run with no targets file: exit 0, files written, hand-checked numbers
perf --window weekly >out.txt; rc=$?
[ $rc -eq 0 ] || { cat out.txt err.log; fail "healthy exit code $rc"; }
J=logs/performance/weekly-summary-2024-01-08.json
[ -f "$J" ] && [ -f logs/performance/weekly-summary-2024-01-08.md ] || fail "summary files missing"
[ -f logs/performance/performance-index.json ] || fail "index missing"
grep -q '"win_rate": 0.375,' "$J" || fail "win rate"
grep -q '"realized_pnl": "105.25"' "$J" || fail "realized pnl"
grep -q '"unrealized_pnl": "7.5"' "$J" || fail "unrealized pnl"
grep -q 'win rate         37.50%' out.txt || fail "printed win rate"
ok "weekly summary, exit 0"

# 2. idempotence: a second run rewrites nothing
m1=$(stat -c '%Y.%y' logs/performance/*summary*)
sleep 1.1
perf --window weekly >out2.txt || fail "second run"
m2=$(stat -c '%Y.%y' logs/performance/*summary*)
[ "$m1" = "$m2" ] || fail "second run rewrote summaries"
grep -q '(unchanged)' out2.txt || fail "second run not reported unchanged"
[ "$(ls logs/performance | wc -l)" -eq 3 ] || fail "duplicate files: $(ls logs/performance)"
ok "second run rewrites nothing"

# 3. targets breached: alerts appended once, exit 2, ack -> exit 0
cat >config/targets.lua <<'LUA'
return {
  win_rate = { min = 0.6, window = 5 },
  risk_reward = { min = 3.0, window = 4 },
  rules = { { name = "pnl_floor", severity = "critical",
              check = function(s) return tonumber(s.realized_pnl) >= 0, tonumber(s.realized_pnl), 0 end } },
}
LUA
perf --window weekly >out3.txt; rc=$?
[ $rc -eq 2 ] || { cat out3.txt err.log; fail "breach exit code $rc, want 2"; }
A=logs/performance-alerts.jsonl
[ "$(grep -c '"event":"performance.alert"' $A)" -eq 2 ] || fail "want 2 alerts: $(cat $A)"
grep -q '"type":"risk_reward_breach"' $A || fail "risk_reward_breach type"
grep -q '"acknowledged_at":null' $A || fail "acknowledged_at null"
grep -q 'BREACH' out3.txt || fail "variance not highlighted"
m1=$(stat -c '%Y.%y' logs/performance/*summary*)
perf --window weekly >/dev/null; rc=$?
[ $rc -eq 2 ] || fail "still degraded"
[ "$(grep -c performance.alert $A)" -eq 2 ] || fail "alert raised twice"
[ "$m1" = "$(stat -c '%Y.%y' logs/performance/*summary*)" ] || fail "rewrite without change"
for id in $(grep -o '"id":"pa-[0-9a-f]*"' $A | cut -d'"' -f4); do
  perf ack "$id" >/dev/null || fail "ack $id"
done
perf --window weekly >/dev/null; rc=$?
[ $rc -eq 0 ] || fail "exit $rc after ack, want 0"
perf ack pa-0000000000000000 >/dev/null; [ $? -eq 1 ] || fail "unknown alert id must exit 1"
ok "alerts: raised once, exit 2, ack"

# 4. appended data: incremental refresh, new window content rewritten
printf '%s\n' '{"trade_id":20,"run_id":"r1","symbol":"ORCL","exit_time":"2024-01-11T15:00:00Z","entry_time":"2024-01-11T14:00:00Z","pnl":"50","status":"closed"}' >>logs/trades/2024-01.jsonl
perf --window weekly --stats >out4.txt || true
grep -q 'incremental' err.log || fail "refresh not incremental: $(cat err.log)"
grep -q '1 lines read' err.log || fail "read more than the appended line: $(cat err.log)"
grep -q '"trades": 9,' "$J" || fail "appended trade not counted"
grep -q '(written)' out4.txt || fail "changed window not rewritten"
ok "incremental refresh after append"

# 5. partial last line: skipped, report marked partial
printf '%s' '{"trade_id":21,"exit_time":"2024-01-12T15:00:00Z","pnl":"5' >>logs/trades/2024-01.jsonl
perf --window weekly >out5.txt; rc=$?
[ $rc -eq 2 ] || [ $rc -eq 0 ] || fail "partial line exit $rc"
grep -q '"partial": true' "$J" || fail "not marked partial"
grep -q '"trades": 9,' "$J" || fail "partial line counted"
grep -q 'partial' out5.txt || fail "partial not shown"
printf '%s\n' '","status":"closed"}' >>logs/trades/2024-01.jsonl
perf --window weekly >/dev/null
grep -q '"partial": false' "$J" && grep -q '"trades": 10,' "$J" || fail "completed line not read"
ok "partial last line"

# 6. daily backfill: missing days skipped with a warning; empty window text
rm -f config/targets.lua logs/performance-alerts.jsonl
perf --window daily --backfill 7 --end 2024-01-14 >out6.txt || fail "backfill: $(cat err.log)"
ls logs/performance/daily-summary-2024-01-0{8,9}.json logs/performance/daily-summary-2024-01-1{0,1,2}.json >/dev/null || fail "backfilled days"
[ ! -e logs/performance/daily-summary-2024-01-13.json ] || fail "missing day not skipped"
grep -q 'perf_missing_days' out6.txt err.log || fail "no missing-days warning"
perf --window daily --end 2024-02-01 >out7.txt || fail "empty window"
grep -q 'No trades in window' out7.txt || fail "empty window text"
grep -q 'No trades in window' logs/performance/daily-summary-2024-02-01.md || fail "empty window md"
grep -q '"no_trades": true' logs/performance/daily-summary-2024-02-01.json || fail "empty window json"
ok "backfill, missing days, empty window"

# 7. bad input with --strict: exit 1 naming file, line and field (the default skips the
#    line and counts it: tests/e2e/rel_perf.sh)
mkdir -p bad && printf '%s\n' '{"exit_time":"2024-01-08T15:00:00Z","pnl":"abc"}' >bad/x.jsonl
perf --trades bad --out badout --strict >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "bad line exit $rc"
grep -q 'bad/x.jsonl:1: pnl' err.log || fail "error message: $(cat err.log)"
perf --window hourly >/dev/null; [ $? -eq 1 ] || fail "bad window must exit 1"
ok "errors exit 1 with file:line:field"

# 8. path confinement: '..' refused, planted symlink refused and its target untouched
perf --out "logs/../escape" >/dev/null; [ $? -eq 1 ] || fail "'..' accepted"
[ ! -e escape ] || fail "escape dir created"
echo keep >victim.txt
mkdir -p conf && ln -s "$T/victim.txt" conf/weekly-summary-2024-01-08.json
perf --window weekly --out conf >/dev/null; [ $? -eq 1 ] || fail "symlink not refused"
grep -q symlink err.log || fail "symlink message: $(cat err.log)"
[ "$(cat victim.txt)" = keep ] || fail "symlink target modified"
ok "path confinement"

# 9. export formats, custom window, timezone env
perf --window weekly --export html >page.html || fail "export html"
grep -q '<svg' page.html && ! grep -q 'src="http' page.html || fail "html not self-contained with svg"
[ -f logs/performance/weekly-summary-2024-01-08.html ] || fail "html file not written"
perf --window weekly --export md | grep -q '^# Performance summary: weekly' || fail "export md"
perf --start 2024-01-08 --end 2024-01-09 --export json | grep -q '"window": "custom"' || fail "custom window"
[ -f logs/performance/custom-summary-2024-01-08--2024-01-09.json ] || fail "custom file"
PERFORMANCE_SUMMARY_TIMEZONE=+01:00 perf --window daily --end 2024-01-09 --out tzout --export json >tz.json || fail "tz env"
grep -q '"timezone": "+01:00"' tz.json || fail "tz env ignored"
PERFORMANCE_SUMMARY_TIMEZONE=Mars/Base perf >/dev/null; [ $? -eq 1 ] || fail "bad tz accepted"
ok "exports, custom window, timezone"

# 10. watch: evaluations with a bounded count, degraded exit code
cat >config/targets.lua <<'LUA'
return { win_rate = { min = 0.99, window = 3 } }
LUA
PERFORMANCE_ALERT_ROLLING_WINDOW=4 perf watch --every 0.05 --count 2 >watch.txt; rc=$?
[ $rc -eq 2 ] || fail "watch exit $rc: $(cat watch.txt err.log)"
[ "$(grep -c 'eval_ms' watch.txt)" -eq 2 ] || fail "watch evaluations: $(cat watch.txt)"
grep -q '"window_trades":4' logs/performance-alerts.jsonl || fail "rolling window env override"
ok "watch"

# 11. config section: values used, unknown keys rejected by name
rm -f config/targets.lua
cat >perf.lua <<'LUA'
return { perf = { trades = "logs/trades", out_dir = "cfgout", timezone = "-05:00", html = true,
                  targets = "config/none.lua" } }
LUA
perf --config perf.lua >/dev/null; [ $? -eq 1 ] && grep -q 'config/none.lua' err.log || fail "explicit missing targets file"
sed -i 's|targets = "config/none.lua"|alerts_file = "cfgout/alerts.jsonl"|' perf.lua
perf --config perf.lua --window weekly >/dev/null || fail "config run: $(cat err.log)"
grep -q '"timezone": "-05:00"' cfgout/weekly-summary-2024-01-08.json || fail "config timezone"
[ -f cfgout/weekly-summary-2024-01-08.html ] || fail "config html"
printf 'return { perf = { trade = "x" } }\n' >typo.lua
perf --config typo.lua >/dev/null; [ $? -eq 1 ] && grep -q 'perf.trade' err.log || fail "unknown key: $(cat err.log)"
ok "config section"

# 12. help
"$BTRUN" perf --help | grep -q 'btrun perf ack ALERT_ID' || fail "help"
ok "help"

# 13. a run's report.html (same format machinery)
BTRUN_DATA_DIR="$T/data" "$BTRUN" "$BTRUN_SRC/strategies/sma_cross.lua" --out run >run.log 2>&1 || { tail -3 run.log; fail "example run"; }
grep -q '<svg' run/report.html && grep -q 'Equity' run/report.html || fail "report.html"
ok "run report"
