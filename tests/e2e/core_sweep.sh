#!/usr/bin/env bash
# bt.sweep and signals: SIGINT stops every run of a sweep (each started run fails as
# "interrupted", no new run starts) and the process ends; scripts/sweep.lua runs its grid
# through bt.sweep.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

# 1. SIGINT during a sweep of endless runs on 2 workers.
cat >"$T/spin.lua" <<'LUA'
return { params = { k = 0 }, on_bar = function() while true do end end }
LUA
cat >"$T/sweep.lua" <<LUA
bt.sweep { strategy = "$T/spin.lua", data = "$FIX/up5.csv", grid = { k = { 1, 2, 3, 4 } },
           workers = 2, out = "$T/int" }
print("not reached")
LUA
"$BTRUN" --log-format json --timeout 120 "$T/sweep.lua" >"$T/out.log" 2>"$T/err.log" &
pid=$!
# wait (bounded) until both workers are inside a run
for _ in $(seq 300); do
  [ "$(grep -c '"backtest_started"' "$T/out.log" || true)" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c '"backtest_started"' "$T/out.log" || true)" -ge 2 ] || { kill -KILL "$pid"; fail "the sweep's runs did not start"; }
kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fail "SIGINT did not stop the sweep within 30 s"; fi
set +e; wait "$pid"; RC=$?; set -e
no_sanitizer_report "(sweep interrupt)"
eq "$RC" 1 "interrupted sweep: exit code"
hasnt "$T/out.log" "not reached" "the script stops after the sweep"
n=0
for k in 1 2 3 4; do
  [ -e "$T/int/k$k/result.json" ] || continue
  n=$((n + 1))
  eq "$(jq -r .error.type "$T/int/k$k/result.json")" interrupted "run k$k: error type"
done
eq "$n" 2 "the two started runs were interrupted, the others never started"
ok "SIGINT stops every run of a sweep"

# 2. scripts/sweep.lua: a 2x2 grid through bt.sweep, ranked, with compare.html.
"$BTRUN" --log-format console "$BTRUN_SRC/scripts/sweep.lua" --data "$FIX/walk-300.csv" --param fast=3,5 \
  --param slow=8,12 --out "$T/sw" >"$T/out.log" 2>"$T/err.log"
has "$T/out.log" "^4 runs in $T/sw" "sweep.lua: 4 runs"
[ "$(grep -cE '  completed$' "$T/out.log")" -eq 4 ] || fail "sweep.lua: 4 completed rows"
for d in fast3-slow8 fast3-slow12 fast5-slow8 fast5-slow12; do
  eq "$(jq -r .status "$T/sw/$d/result.json")" completed "sweep.lua: $d"
done
[ -s "$T/sw/compare.html" ] || fail "sweep.lua: compare.html"
ok "scripts/sweep.lua runs its grid with bt.sweep"
