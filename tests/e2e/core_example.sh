#!/usr/bin/env bash
# The README's first command and the files it writes: every documented field of
# result.json, trades.jsonl and equity.csv, and how they reconcile with each other.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

# 1. `btrun strategies/sma_cross.lua` with no options (run from a scratch dir, so the
#    default run directory runs/<run_id> lands there and not in the source tree).
mkdir -p "$T/cwd"
(cd "$T/cwd" && "$BTRUN" "$BTRUN_SRC/strategies/sma_cross.lua" --log-format console \
  >"$T/summary.txt" 2>"$T/err.log") || { cat "$T/err.log"; fail "example run failed"; }
n=$(ls "$T/cwd/runs" | wc -l)
eq "$n" 1 "one run directory under the default out_dir"
D="$T/cwd/runs/$(ls "$T/cwd/runs")"
[[ "$(basename "$D")" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] \
  || fail "run dir is not named by a UUID v4: $D"
# The summary table: the run's figures from result.json, rounded for a person.
pc() { jq -r ".$1 * 100" "$D/result.json"; }
fx() { awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
has "$T/summary.txt" "^  sma_cross.lua  2015-01-02 \.\. [0-9-]{10} \(2,500 bars, SAMPLE\)$" "title: period, bars, symbol"
has "$T/summary.txt" "^  trades +$(res "$D" .trades) +win rate +$(fx "$(pc win_rate 1)" 1)%$" "trades, win rate"
has "$T/summary.txt" "^  total return +$(fx "$(pc total_return 2)" 2)% +profit factor +$(fx "$(res "$D" .profit_factor)" 2)$" "return, profit factor"
has "$T/summary.txt" "^  CAGR +$(fx "$(pc cagr 2)" 2)% +max drawdown +$(fx "$(pc max_drawdown 2)" 2)%$" "CAGR, max drawdown"
has "$T/summary.txt" "^  sharpe +$(fx "$(res "$D" .sharpe)" 2) +exposure +$(fx "$(pc exposure 1)" 1)%$" "sharpe, exposure"
has "$T/summary.txt" "^  sortino +$(fx "$(res "$D" .sortino)" 2) +rejected orders +0$" "sortino, rejected orders"
has "$T/summary.txt" "^  final equity +105,015.00$" "final equity with thousands separators"
has "$T/summary.txt" "^  report +runs/$(basename "$D")/report.html$" "summary names report.html"
has "$T/summary.txt" "^  run dir +runs/$(basename "$D")$" "summary names the run dir"
hasnt "$T/summary.txt" "^  symbol " "no per-symbol rows for one symbol"
awk 'length > 80 { exit 1 }' "$T/summary.txt" || fail "console output fits 80 columns"
ok "example run from a scratch directory writes runs/<run_id>"

# 2. The same with JSON logs into an explicit --out: inspect every file.
D="$T/example"
bt_ok strategies/sma_cross.lua --out "$D"
for f in result.json trades.jsonl equity.csv; do [ -f "$D/$f" ] || fail "run dir lacks $f"; done
ls "$D" | grep -q '\.part$' && fail "a completed run leaves no .part files"

R="$D/result.json"
jq -e . "$R" >/dev/null || fail "result.json is valid JSON"
for k in run_id correlation_id status strategy strategy_id params data initial_cash bars \
  skipped_rows trades final_equity total_return cagr sharpe sortino max_drawdown win_rate \
  profit_factor expectancy exposure rejected_orders wall_ms bars_per_s; do
  jq -e --arg k "$k" 'has($k)' "$R" >/dev/null || fail "result.json lacks $k"
done
eq "$(res "$D" .status)" completed "status"
eq "$(res "$D" .strategy)" strategies/sma_cross.lua "strategy"
eq "$(res "$D" .strategy_id)" sma_cross "strategy_id"
eq "$(res "$D" '.params | "\(.fast) \(.slow) \(.qty)"')" "10 30 100" "default params"
eq "$(res "$D" '.data[0].symbol')" SAMPLE "bundled sample symbol"
[ -f "$(res "$D" '.data[0].path')" ] || fail "data path points at the bundled sample"
rows=$(($(wc -l <"$(res "$D" '.data[0].path')") - 1))
eq "$(res "$D" .bars)" "$rows" "bars = rows of the sample"
deceq "$(res "$D" .initial_cash)" 100000 "initial_cash"
eq "$(res "$D" .skipped_rows)" 0 "skipped_rows"
for k in initial_cash final_equity expectancy; do
  eq "$(res "$D" ".$k | type")" string "$k is a decimal string"
  [[ "$(res "$D" ".$k")" =~ ^-?[0-9]+\.[0-9]+$ ]] || fail "$k is a plain decimal"
done
for k in total_return cagr sharpe sortino max_drawdown win_rate profit_factor exposure wall_ms bars_per_s; do
  eq "$(res "$D" ".$k | type")" number "$k is a number"
done
[ "$(res "$D" .trades)" -gt 0 ] || fail "the example makes trades"
run_id=$(res "$D" .run_id)
[[ "$run_id" =~ ^[0-9a-f-]{36}$ ]] || fail "run_id is a UUID"
[[ "$(res "$D" .correlation_id)" =~ ^[0-9a-f-]{36}$ ]] || fail "correlation_id generated as a UUID"
[ "$(res "$D" .correlation_id)" != "$run_id" ] || fail "correlation_id differs from run_id"
log_event backtest_completed | jq -e --arg r "$run_id" '.run_id == $r' >/dev/null \
  || fail "backtest_completed log record carries the run_id"
# Indented like jq prints it (two spaces), the same for a failed run.
eq "$(sed -n 2p "$R")" "  \"run_id\": \"$(res "$D" .run_id)\"," "result.json: two-space indent, \": \""
hasnt "$R" $'\t' "no tab in result.json"
bt strategies/sma_cross.lua --data "$T/none.csv" --out "$T/failed"
eq "$(res "$T/failed" .status)" failed "a failed run writes result.json"
hasnt "$T/failed/result.json" $'\t' "no tab in a failed run's result.json"
has "$T/failed/result.json" '^  "error": \{$' "failed result.json indented like a completed one"
has "$T/failed/result.json" '^    "type": "' "nested objects indented by two more spaces"
ok "result.json has every documented field with the documented types"

# trades.jsonl: keys in the documented order, types, and reconciliation.
TR="$D/trades.jsonl"
want='["trade_id","run_id","symbol","side","qty","entry_time","entry_price","exit_time","exit_price","pnl","commission","status"]'
bad=$(jq -c -s --argjson w "$want" 'map(select(keys_unsorted != $w)) | first // empty' "$TR")
[ -z "$bad" ] || fail "trades.jsonl key order: $bad"
closed=$(jq -r 'select(.status == "closed") | .trade_id' "$TR" | wc -l)
eq "$closed" "$(res "$D" .trades)" "result trades = closed trades in trades.jsonl"
eq "$(jq -r '.trade_id' "$TR" | tr '\n' ' ')" "$(seq -s ' ' 1 "$(wc -l <"$TR")") " "trade ids 1..n in order"
iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
dec='^-?[0-9]+\.[0-9]+$'
jq -e --arg iso "$iso" --arg dec "$dec" -s 'all(.[];
    .symbol == "SAMPLE" and (.side == "long" or .side == "short")
    and (.trade_id | type) == "number"
    and (.entry_time | test($iso))
    and ([.qty, .entry_price, .exit_price, .pnl, .commission] | all(type == "string" and test($dec)))
    and ((.status == "closed" and (.exit_time | test($iso)) and .exit_time >= .entry_time)
         or (.status == "open" and .exit_time == null)))' "$TR" >/dev/null \
  || fail "every trade has the documented types"
# pnl of a long with no commission is (exit - entry) * qty, exactly
while read -r q e x p; do
  # qty has at most 4 decimals here: scale in two steps to stay inside int64
  eq "$(dec2int "$p")" "$(( ($(dec2int "$x") - $(dec2int "$e")) * ($(dec2int "$q") / 10000) / 10000 ))" "trade pnl"
done < <(jq -r 'select(.side == "long") | "\(.qty) \(.entry_price) \(.exit_price) \(.pnl)"' "$TR")
# money reconciles exactly: initial cash + every trade's pnl (open ones unrealized) = final equity
sum=$(dec2int "$(res "$D" .initial_cash)")
while read -r p; do sum=$((sum + $(dec2int "$p"))); done < <(jq -r .pnl "$TR")
eq "$sum" "$(dec2int "$(res "$D" .final_equity)")" "initial cash + sum of trade pnl = final equity"
ok "trades.jsonl: documented fields, order and exact pnl"

# equity.csv: header, one row per UTC day, equity = cash + position value exactly.
EQ="$D/equity.csv"
eq "$(head -1 "$EQ")" "time,equity,cash,position_value,drawdown" "equity.csv header"
eq "$(($(wc -l <"$EQ") - 1))" "$rows" "one equity row per daily bar"
tail -n +2 "$EQ" | cut -d, -f1 | sort -c -u || fail "equity.csv times strictly increasing"
tail -n +2 "$EQ" | cut -d, -f1 | grep -vqE "$iso" && fail "equity.csv times are ISO-8601 UTC"
# Checked in one awk pass (forks per row are slow): values here stay far below 2^53
# units of 1e-8, so awk's doubles hold them exactly as integers.
maxdd=$(tail -n +2 "$EQ" | awk -F, '
  function dec(s,   neg, i, f) {
    neg = sub(/^-/, "", s); i = s; f = ""
    if (index(s, ".")) { i = substr(s, 1, index(s, ".") - 1); f = substr(s, index(s, ".") + 1) }
    f = substr(f "00000000", 1, 8)
    return (neg ? -1 : 1) * (i * 100000000 + f)
  }
  {
    if (dec($2) != dec($3) + dec($4)) { print "equity != cash + position_value at " $1 > "/dev/stderr"; exit 1 }
    if ($5 !~ /^[0-9]\.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$/) { print "bad drawdown " $5 > "/dev/stderr"; exit 1 }
    if ($3 ~ /^-/) { print "negative cash at " $1 > "/dev/stderr"; exit 1 }
    if ($5 > m) m = $5
  }
  END { printf "%.8f\n", m }') || fail "equity.csv rows"
deceq "$(tail -1 "$EQ" | cut -d, -f2)" "$(res "$D" .final_equity)" "last equity row = final_equity"
awk -v a="$maxdd" -v b="$(res "$D" .max_drawdown)" 'BEGIN { d = a - b; exit !(d < 1e-8 && d > -1e-8) }' \
  || fail "max of the drawdown column ($maxdd) = max_drawdown"
ok "equity.csv: one row per day, exact equity = cash + position value"
