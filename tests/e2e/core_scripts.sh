#!/usr/bin/env bash
# Scripts: a file that returns no strategy table runs with the bt module; bt.backtest
# with a strategy path and a strategy table; script errors; scripts/sweep.lua's table.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# In JSON log mode print() is a log record ("event": "print"); its text is in message.
printed() { jq -r 'select(.event == "print") | .message' "$T/out.log"; }

# 1. bt.backtest from a script, arg and bt.options.
bt_ok "$FIX/script_backtest.lua" --param extra=7 -- "$T/s" extra-arg --data x.csv
printed >"$T/printed"
eq "$(sed -n 1p "$T/printed")" "completed $T/s/path 1 1004.0 -" "path strategy: (13 - 11) * 2 on 1000"
eq "$(sed -n 2p "$T/printed")" "completed $T/s/table 0 100006.0 -" "table strategy: open trade, 3 AAA from 11 to 13"
eq "$(sed -n 3p "$T/printed")" "failed $T/s/failed - - lua_error" "a failed run returns status failed"
eq "$(sed -n 4p "$T/printed")" "table bars	7" "the table strategy ran in the script's state over both feeds"
eq "$(sed -n 5p "$T/printed")" "options	0	7	extra-arg	--data	x.csv" "bt.options.data/params and arg[]: the words after -- are the script's"
eq "$(res "$T/s/path" .strategy)" tests/strategies/core_probe.lua "strategy path in result.json"
eq "$(res "$T/s/path" .params.qty)" 2 "params reach a path strategy"
eq "$(res "$T/s/table" .strategy)" inline "name= names a table strategy"
eq "$(res "$T/s/table" .correlation_id)" script-corr "correlation_id="
eq "$(jq -r '"\(.symbol) \(.qty) \(.status)"' "$T/s/table/trades.jsonl")" "AAA 3.0 open" "params reach a table strategy"
eq "$(res "$T/s/failed" .status)" failed "failed run's result.json"
[ ! -e "$T/s/failed/trades.jsonl" ] || fail "failed run: no trades.jsonl"
eq "$(grep -c '"event":"backtest_completed"' "$T/out.log")" 2 "two completed records"
grep '"event":"backtest_started"' "$T/out.log" | jq -e 'select(.origin != "script")' >/dev/null \
  && fail "runs started by a script have origin script"
ok "bt.backtest with a path and a table, arg, bt.options"

# 2. A script error: exit 1, message and traceback.
printf 'local function f() error("script boom") end\nf()\n' >"$T/bad.lua"
bt "$T/bad.lua"
eq "$RC" 1 "script error: exit 1"
has "$T/err.log" "bad.lua:1: script boom" "script error on stderr"
rec=$(log_event script_failed)
jq -r .exception.message <<<"$rec" | grep -q "bad.lua:1: script boom$" || fail "script_failed message"
jq -e '.exception.frames | map(.line) | index(2) != null' <<<"$rec" >/dev/null || fail "traceback frames"
# a script that returns nothing succeeds
printf 'print("hello from a script")\n' >"$T/hello.lua"
bt_ok "$T/hello.lua"
eq "$(printed)" "hello from a script" "script output"
ok "script errors"

# 3. scripts/sweep.lua: a grid of runs ranked by Sharpe.
bt_ok scripts/sweep.lua --data "$FIX/walk-300.csv" --param fast=5,10 --param slow=20,30 --out "$T/sweep"
printed >"$T/table"
has "$T/table" "^fast +slow +trades +final_equity +return +sharpe +max_dd +win +status$" "sweep header"
eq "$(grep -c completed "$T/table")" 4 "four runs"
has "$T/table" "^4 runs in $T/sweep$" "sweep footer"
# rows are sorted by sharpe, and each row matches its run's result.json
prev=""
while read -r fast slow trades equity _ sharpe _; do
  D="$T/sweep/fast$fast-slow$slow"
  eq "$(res "$D" .trades)" "$trades" "fast=$fast slow=$slow trades"
  eq "$(res "$D" .final_equity)" "$equity" "fast=$fast slow=$slow final_equity"
  eq "$(res "$D" '.sharpe * 1000 | round / 1000 | tostring')" "$(awk -v s="$sharpe" 'BEGIN { print s + 0 }')" \
    "fast=$fast slow=$slow sharpe"
  [ -z "$prev" ] || awk -v a="$prev" -v b="$sharpe" 'BEGIN { exit !(a >= b) }' || fail "ranked by sharpe"
  prev=$sharpe
done < <(grep completed "$T/table")
ok "sweep.lua prints a ranked table"
