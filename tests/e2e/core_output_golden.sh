#!/usr/bin/env bash
# core_output_golden.sh - the run files keep their exact bytes: equity.csv, trades.jsonl
# and result.json of three runs equal the files btrun wrote before its writers stopped
# using printf (tests/fixtures/outputs/, written by the printf version): daily and
# minute bars (generated: gen_bars.lua's output is fixed by its arguments) with long and
# short fractional trades under commission and slippage, and two symbols ending with an
# open position. Fields that differ per run (ids, timings, paths) are left out of
# result.json; trades.jsonl's run_id, when there is one, too.
source "$(dirname "$0")/../fixtures/core/lib.sh"
G="$BTRUN_SRC/tests/fixtures/outputs"
lua5.4 scripts/gen_bars.lua --bars 600 --seed 5 --price 40 --out "$T/day.csv"
lua5.4 scripts/gen_bars.lua --bars 6000 --seed 6 --freq minute --out "$T/min.csv"
for r in day min; do
  "$BTRUN" --log-level error --config "$FIX/commission.lua" --data "$T/$r.csv" --out "$T/$r" \
    "$STRAT/out_digits.lua" >"$T/$r.log" 2>&1 || { cat "$T/$r.log"; fail "$r run failed"; }
done
plan="5:buy:100:AAA,40:close:AAA,60:buy:100:AAA,90:close:AAA,100:buy:50:BBB,250:close:BBB,300:buy:10:AAA"
"$BTRUN" --log-level error --data AAA="$BTRUN_SRC/tests/fixtures/report/aaa.csv" \
  --data BBB="$BTRUN_SRC/tests/fixtures/report/bbb.csv" --param plan="$plan" --out "$T/two" \
  "$STRAT/core_plan.lua" >"$T/two.log" 2>&1 || { cat "$T/two.log"; fail "two-symbol run failed"; }
stable='del(.run_id, .correlation_id, .wall_ms, .bars_per_s, .strategy, .data)'
for r in day min two; do
  cmp "$T/$r/equity.csv" "$G/$r/equity.csv" || fail "$r: equity.csv differs from the golden file"
  sed -E 's/"run_id":"[^"]*",//' "$T/$r/trades.jsonl" >"$T/$r.trades"
  cmp "$T/$r.trades" "$G/$r/trades.jsonl" || fail "$r: trades.jsonl differs from the golden file"
  jq -S "$stable" "$T/$r/result.json" >"$T/$r.got"
  jq -S "$stable" "$G/$r/result.json" >"$T/$r.want"
  diff "$T/$r.got" "$T/$r.want" || fail "$r: result.json differs from the golden file"
done
ok "equity.csv, trades.jsonl and result.json byte-identical to the golden files"
