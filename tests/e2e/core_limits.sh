#!/usr/bin/env bash
# Safety limits: a Lua error becomes exit 1 with the traceback (backtest_failed record and
# result.json), --timeout stops an endless loop, --max-memory caps the Lua heap, SIGINT
# stops a run; no failed run leaves files that look complete.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
UP="$FIX/up5.csv"

# failed_run DIR TYPE: the common shape of a failed run
failed_run() {
  no_sanitizer_report "($2)"
  eq "$RC" 1 "$2: exit code"
  eq "$(res "$1" .status)" failed "$2: result.json status"
  eq "$(res "$1" .error.type)" "$2" "$2: result.json error.type"
  [ ! -e "$1/trades.jsonl" ] && [ ! -e "$1/equity.csv" ] || fail "$2: no complete-looking trades.jsonl/equity.csv"
  for k in trades final_equity total_return; do
    eq "$(res "$1" "has(\"$k\")")" false "$2: no $k in a failed result.json"
  done
  local rec
  rec=$(log_event backtest_failed)
  [ -n "$rec" ] || fail "$2: backtest_failed log record"
  eq "$(jq -r .exception.type <<<"$rec")" "$2" "$2: exception.type in the log"
  eq "$(jq -r .run_id <<<"$rec")" "$(res "$1" .run_id)" "$2: the record names the run"
}

# 1. A Lua error in on_bar: message with file:line, traceback frames, the failing bar.
S="$STRAT/core_error.lua"
bt "$S" --data "$UP" --out "$T/err"
failed_run "$T/err" lua_error
has "$T/err.log" "core_error.lua:6: boom at bar 3" "stderr: the Lua message"
rec=$(log_event backtest_failed)
jq -r .exception.message <<<"$rec" | grep -q "core_error.lua:6: boom at bar 3$" || fail "exception.message"
eq "$(jq -r '[.exception.frames[].function] | map(select(. == "inner" or . == "outer")) | join(",")' <<<"$rec")" \
  inner,outer "traceback frames name the functions"
eq "$(jq -r '.exception.frames[] | select(.function == "outer") | .line' <<<"$rec")" 7 "frame line"
eq "$(jq -r '"\(.bars_done) \(.bar_time) \(.bar_symbol)"' <<<"$rec")" "3 2020-01-03T00:00:00Z UP5" "the failing bar"
res "$T/err" .error.traceback | grep -q "in .*'outer'" || fail "result.json error.traceback"
for where in on_start on_fill on_finish; do
  bt "$S" --data "$UP" --param where=$where --out "$T/err-$where"
  failed_run "$T/err-$where" lua_error
done
# a strategy file that does not even compile
printf 'return {\n  on_bar = function(ctx, bar)\n    if then\n  end,\n}\n' >"$T/syntax.lua"
bt "$T/syntax.lua" --data "$UP" --out "$T/syntax"
eq "$RC" 1 "syntax error: exit 1"
has "$T/err.log" "syntax.lua:3:" "syntax error names file:line"
ok "Lua errors: exit 1 with message and traceback"

# 2. --timeout: an endless loop in on_bar stops within about timeout + 1 s.
start=$(date +%s%N)
set +e
timeout -s KILL 20 "$BTRUN" --log-format json "$STRAT/core_hang.lua" --data "$UP" --timeout 1 \
  --out "$T/loop" >"$T/out.log" 2>"$T/err.log"
RC=$?
set -e
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2500 ] || fail "timeout 1 s: stopped after $ms ms"
[ "$ms" -ge 900 ] || fail "timeout 1 s: stopped too early ($ms ms)"
failed_run "$T/loop" timeout
has "$T/err.log" "time limit of 1 s" "timeout message"
# the config key works too
printf 'return { timeout = 0.5 }\n' >"$T/t.lua"
set +e
timeout -s KILL 20 "$BTRUN" --log-format json "$STRAT/core_hang.lua" --config "$T/t.lua" --data "$UP" \
  --out "$T/loop2" >"$T/out.log" 2>"$T/err.log"
RC=$?
set -e
failed_run "$T/loop2" timeout
ok "--timeout stops an endless loop"

# 3. --max-memory: unbounded allocation fails cleanly.
set +e
timeout -s KILL 30 "$BTRUN" --log-format json "$STRAT/core_hang.lua" --data "$UP" --param mode=alloc \
  --max-memory 16M --out "$T/mem" >"$T/out.log" 2>"$T/err.log"
RC=$?
set -e
failed_run "$T/mem" memory_limit
has "$T/err.log" "memory limit" "memory limit message"
ok "--max-memory caps the Lua heap"

# 4. SIGINT stops a run (with a long timeout): exit 1, type interrupted.
"$BTRUN" --log-format json "$STRAT/core_hang.lua" --data "$UP" --timeout 60 --out "$T/int" \
  >"$T/out.log" 2>"$T/err.log" &
pid=$!
sleep 0.5
kill -INT "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fail "SIGINT did not stop the run within 5 s"; fi
set +e; wait "$pid"; RC=$?; set -e
failed_run "$T/int" interrupted
ok "SIGINT stops a run"

# 5. A strategy that catches the timeout with pcall and loops again still stops.
set +e
timeout -s KILL 20 "$BTRUN" --log-format json "$STRAT/core_hang.lua" --data "$UP" --param mode=pcall \
  --timeout 1 --out "$T/pcall" >"$T/out.log" 2>"$T/err.log"
RC=$?
set -e
[ "$RC" -ne 137 ] || fail "pcall swallowed the timeout: killed after 20 s"
failed_run "$T/pcall" timeout
ok "pcall cannot swallow the timeout"

# 6. SIGINT stops a script that loops outside any backtest.
printf 'while true do end\n' >"$T/spin.lua"
"$BTRUN" --log-format json "$T/spin.lua" >"$T/out.log" 2>"$T/err.log" &
pid=$!
sleep 0.5
kill -INT "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fail "SIGINT did not stop the script within 5 s"; fi
set +e; wait "$pid"; RC=$?; set -e
eq "$RC" 1 "interrupted script: exit code"
has "$T/err.log" "interrupted by signal" "interrupted script: message"
eq "$(log_event script_failed | jq -r .exception.type)" interrupted "script_failed exception.type"
ok "SIGINT stops a script"

# 7. A failed run into a reused --out directory leaves none of the earlier run's files.
bt_ok "$BTRUN_SRC/strategies/sma_cross.lua" --out "$T/reuse"
[ -e "$T/reuse/trades.jsonl" ] || fail "first run wrote trades.jsonl"
bt "$STRAT/core_error.lua" --data "$UP" --out "$T/reuse"
failed_run "$T/reuse" lua_error
[ ! -e "$T/reuse/report.html" ] || fail "stale report.html next to a failed result"
ok "a reused run directory starts clean"
