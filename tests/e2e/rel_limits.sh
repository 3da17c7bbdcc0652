#!/usr/bin/env bash
# Issue 11, item 7: the wall-clock limit and SIGINT hold whatever the strategy does: a
# loop inside a coroutine (create/resume, wrap, nested, catching errors) is stopped like
# one on the main thread; a strategy stuck in C (a catastrophic pattern) ends the process
# BT_RUN_STUCK_GRACE_S (3 s) after the limit with a run_stuck record.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
SPIN="$STRAT/rel_spin.lua"

# spin MODE ARGS...: run with a 20 s SIGKILL backstop; sets RC and SECS.
spin() {
  local mode=$1
  shift
  local t0=$(date +%s%N)
  set +e
  timeout -s KILL 20 "$BTRUN" --log-format json "$SPIN" --data "$FIX/up5.csv" --param "mode=$mode" \
    --out "$T/o-$mode" "$@" >"$T/out.log" 2>"$T/err.log"
  RC=$?
  set -e
  SECS=$((($(date +%s%N) - t0) / 1000000000))
  no_sanitizer_report "$mode"
}

for mode in co wrap nested; do
  spin "$mode" --timeout 1
  [ "$RC" -eq 1 ] || fail "$mode: exit $RC (137 = only SIGKILL stopped it)"
  [ "$SECS" -le 4 ] || fail "$mode: took ${SECS}s with --timeout 1"
  eq "$(res "$T/o-$mode" .error.type)" timeout "$mode: error type"
done
ok "a loop inside a coroutine (resume, wrap, nested with pcall) stops at the time limit"

# SIGINT reaches a coroutine too.
set +e
"$BTRUN" --log-format json "$SPIN" --data "$FIX/up5.csv" --param mode=nested --out "$T/o-int" \
  >"$T/out.log" 2>"$T/err.log" &
pid=$!
sleep 1
kill -INT "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fail "SIGINT did not stop a coroutine loop in 5 s"; fi
wait "$pid"
RC=$?
set -e
[ "$RC" -eq 1 ] || fail "SIGINT: exit $RC"
eq "$(res "$T/o-int" .error.type)" interrupted "SIGINT: error type"
ok "SIGINT stops a loop inside a coroutine"

# Coroutines still work: yields and returns through the tracking wrappers.
spin yield --timeout 5
has "$T/o-yield/result.json" "yield sum 10" "coroutine.wrap yields and returns"
ok "coroutines that yield are unaffected"

# Stuck in C: the process ends 3 s after the limit, saying so; nothing looks complete.
spin pattern --timeout 1
[ "$RC" -eq 1 ] || fail "pattern: exit $RC"
[ "$SECS" -le 8 ] || fail "pattern: took ${SECS}s"
has "$T/out.log" '"event":"run_stuck"' "run_stuck record"
has "$T/err.log" "stuck in a C function" "stderr says why"
[ ! -e "$T/o-pattern/result.json" ] || fail "pattern: a result.json that looks complete"
ok "a strategy stuck in C ends the process after the grace period"
