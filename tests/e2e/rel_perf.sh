#!/usr/bin/env bash
# `btrun perf` robustness (issue 11, items 12 and 13): one bad record never aborts the
# summary (skipped, counted with its line, logged, partial; an open trade with
# "pnl": null is open with unknown unrealized P&L); --strict fails fast; outputs are never
# written through a planted hard link or a symlinked directory; stale temp files of
# killed runs are removed.
set -u
T="${BT_TEST_TMP:-/tmp}/rel_perf.$$"
rm -rf "$T" && mkdir -p "$T/logs/trades"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
cd "$T"
export BTRUN_DATA_DIR="$T/data"
export BTRUN_LOG_FORMAT=json
perf() { "$BTRUN" perf "$@" 2>"$T/err.log"; }

cat >logs/trades/t.jsonl <<'J'
{"trade_id":"1","symbol":"X","entry_time":"2024-01-08T10:00:00Z","exit_time":"2024-01-08T15:00:00Z","pnl":"10","status":"closed"}
{"trade_id":"2","symbol":"X","entry_time":"2024-01-08T10:00:00Z","exit_time":"2024-01-08T15:30:00Z","pnl":"oops","status":"closed"}
{"trade_id":"3","symbol":"Y","entry_time":"2024-01-08T11:00:00Z","pnl":null,"status":"open"}
{"trade_id":"4","symbol":"Z","entry_time":"2024-01-08T12:00:00Z","pnl":"-1.5","status":"open"}
{"trade_id":"5","symbol":"X","entry_time":"2024-01-08T13:00:00Z","exit_time":"2024-01-08T16:00:00Z","pnl":"-4","status":"closed"}
J
# 1. default: the summary is written, partial, with what was skipped and flagged
perf --trades logs/trades --out out >out.log; rc=$?
[ $rc -eq 0 ] || { cat out.log err.log; fail "a bad line aborted the summary (exit $rc)"; }
J=out/daily-summary-2024-01-08.json
[ -f "$J" ] || fail "no summary"
[ "$(jq -r .partial "$J")" = true ] || fail "not partial"
[ "$(jq -r .trades "$J")" = 2 ] || fail "trades $(jq -r .trades "$J")"
[ "$(jq -r .skipped_lines "$J")" = 1 ] || fail "skipped_lines"
jq -r '.skipped_line_numbers[0]' "$J" | grep -q 't.jsonl:2$' || fail "skipped line number"
[ "$(jq -r .open_trades "$J")" = 2 ] || fail "open trades"
[ "$(jq -r .open_trades_unknown_pnl "$J")" = 1 ] || fail "unknown pnl not flagged"
[ "$(jq -r .unrealized_pnl "$J")" = "-1.5" ] || fail "unrealized $(jq -r .unrealized_pnl "$J")"
grep -q '"event":"trade_line_skipped".*"line":2' out.log err.log || fail "no trade_line_skipped log record"
ok "a bad line is skipped and counted, pnl null is open with unknown P&L, report partial"

# 2. --strict: fail fast, naming file, line and field
perf --trades logs/trades --out out2 --strict >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "--strict exit $rc"
grep -q 't.jsonl:2: pnl' err.log || fail "--strict message: $(cat err.log)"
ok "--strict fails on the first unusable line"

# 3. a hard link planted at the temp name: tests/unit/test_rel_perf.c (it knows the pid)

# 4. a symlinked output directory (or a symlink inside a relative path) is refused
mkdir -p elsewhere && ln -s elsewhere linked
perf --trades logs/trades --out linked >out.log; rc=$?
[ $rc -eq 1 ] || fail "symlinked out dir: exit $rc"
grep -q 'is a symlink' out.log err.log || fail "symlink message: $(cat out.log err.log)"
perf --trades logs/trades --out linked/sub >/dev/null; rc=$?
[ $rc -eq 1 ] && [ ! -e elsewhere/sub ] || fail "symlink inside the path followed"
[ -z "$(ls elsewhere)" ] || fail "something was written through the symlink"
ok "a symlinked output directory is not followed"

# 5. stale temp files of killed runs are cleaned; a live process's are kept
sleep 30 & live=$!
touch "out/.weekly-summary-2024-01-08.json.999999.tmp" "out/.x.json.$live.tmp"
perf --trades logs/trades --out out >/dev/null || fail "rerun"
[ ! -e "out/.weekly-summary-2024-01-08.json.999999.tmp" ] || fail "stale temp file left"
[ -e "out/.x.json.$live.tmp" ] || fail "a live process's temp file was removed"
kill $live
ok "stale temp files are removed"

# 6. the alerts file is not appended to through a hard link
cat >targets.lua <<'L'
return { win_rate = { min = 0.99 } }
L
echo precious >precious.txt
ln precious.txt alerts.jsonl
perf --trades logs/trades --out out4 --targets targets.lua >/dev/null
[ "$(cat precious.txt)" = precious ] || fail "alerts appended through a hard link"
ok "hard-linked alerts file refused"
