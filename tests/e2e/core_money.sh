#!/usr/bin/env bash
# Exact money through the CLI: decimal sums without float drift, commission and slippage
# from --config exactly as computed by hand, half-even rounding, and every metric of
# result.json against values computed here from the documented formulas.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# The test strategies write what they see to files (or dofile a shipped one): trusted.
export BTRUN_TRUST_STRATEGIES=1

# 1. Ten buys of 1 unit at 0.1 with 0.01 commission each, 100 cash: as floats this is
#    100 - 0.1*10 - 0.01*10 = 98.89999999999999; exact decimals give 98.9.
D="$T/dime"
bt_ok "$STRAT/core_probe.lua" --data "$FIX/dime11.csv" --config "$FIX/per_unit.lua" \
  --param at=1 --param every=1 --out "$D"
eq "$(tail -1 "$D/equity.csv")" "2021-03-11T00:00:00Z,99.9,98.9,1.0,0.00100000" \
  "last equity row: equity 99.9, cash 98.9, position 1.0"
eq "$(jq -r '"\(.qty) \(.entry_price) \(.exit_price) \(.commission) \(.pnl) \(.status)"' "$D/trades.jsonl")" \
  "10.0 0.1 0.1 0.1 -0.1 open" "one open trade of 10 at 0.1, 0.1 commission"
deceq "$(res "$D" .final_equity)" 99.9 "final_equity"
deceq "$(res "$D" .initial_cash)" 100 "initial_cash from config"
ok "10 x 0.1 + commission reconcile exactly"

# 2. Commission (per unit + percent, minimum) and slippage from a custom config.
#    Buy 10 on bar 1 -> bar 2 open 11, slipped 10 bps: 11.011; notional 110.11.
#    Sell on bar 3  -> bar 4 open 13, slipped: 12.987; notional 129.87.
#    commission = 10 * 0.01 + notional * 0.001: 0.21011 and 0.22987 (minimum 1 -> 1 and 1).
D="$T/costs-min"
bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --config "$FIX/commission_min.lua" \
  --param qty=10 --param close_at=3 --out "$D"
eq "$(jq -r '"\(.entry_price) \(.exit_price) \(.commission) \(.pnl)"' "$D/trades.jsonl")" \
  "11.011 12.987 2.0 17.76" "minimum commission: 129.87 - 110.11 - 2"
deceq "$(res "$D" .final_equity)" 100017.76 "final equity with minimum commission"
D="$T/costs"
bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --config "$FIX/commission.lua" \
  --param qty=10 --param close_at=3 --param "log=$T/costs.log" --out "$D"
eq "$(jq -r '"\(.entry_price) \(.exit_price) \(.commission) \(.pnl)"' "$D/trades.jsonl")" \
  "11.011 12.987 0.43998 19.32002" "0.21011 + 0.22987 commission"
deceq "$(res "$D" .final_equity)" 100019.32002 "final equity"
eq "$(grep '^fill' "$T/costs.log" | cut -d' ' -f5,6 | tr '\n' ' ')" \
  "11.01100000 0.21011000 12.98700000 0.22987000 " "on_fill sees slipped prices and each commission"
# cash after the buy: 100000 - 110.11 - 0.21011
eq "$(sed -n 3p "$D/equity.csv" | cut -d, -f3)" "99889.67989" "cash after the buy"
# the same run without a config: no costs
bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --param qty=10 --param close_at=3 --out "$T/free"
eq "$(jq -r '"\(.commission) \(.pnl)"' "$T/free/trades.jsonl")" "0.0 20.0" "defaults: no commission or slippage"
ok "commission and slippage from config, exactly"

# 3. Percent commission rounds half to even at 1e-8: 1.5 -> 0.000000015 -> 0.00000002,
#    2.5 -> 0.000000025 -> 0.00000002, 3.5 -> 0.000000035 -> 0.00000004.
D="$T/halves"
bt_ok "$STRAT/core_probe.lua" --data "$FIX/halves.csv" --config "$FIX/tiny_percent.lua" \
  --param at=1 --param every=1 --param "log=$T/halves.log" --out "$D"
eq "$(grep '^fill' "$T/halves.log" | cut -d' ' -f6 | tr '\n' ' ')" \
  "0.00000002 0.00000002 0.00000004 " "half-even commissions"
eq "$(jq -r .commission "$D/trades.jsonl")" "0.00000008" "trade commission is their exact sum"
ok "half-even rounding of products"

# 4. Metrics against a hand-computed equity curve (tests/fixtures/core/metrics8.csv, 1000 cash):
#    bar 1..8 closes 10 12 11 11 9 8 9 9; trades: long 10 @10 -> @12 (+20),
#    long 10 @11 -> @8 (-30), short 5 @8 -> @9 (-5). Equity after each bar:
eqs="1000 1020 1020 1020 1000 990 985 985"
exposed="0 1 0 1 1 0 1 0"
D="$T/metrics"
bt_ok "$STRAT/core_plan.lua" --data "$FIX/metrics8.csv" --cash 1000 \
  --param plan=1:buy:10,2:close,3:buy:10,5:close,6:sell:5,7:close --out "$D"
eq "$(tail -n +2 "$D/equity.csv" | cut -d, -f2 | tr '\n' ' ')" "1000.0 1020.0 1020.0 1020.0 1000.0 990.0 985.0 985.0 " \
  "equity curve"
eq "$(jq -r .pnl "$D/trades.jsonl" | tr '\n' ' ')" "20.0 -30.0 -5.0 " "trade pnl"
eq "$(res "$D" .trades)" 3 "trades"
deceq "$(res "$D" .final_equity)" 985 "final_equity"
deceq "$(res "$D" .expectancy)" -5 "expectancy = -15 / 3"
expect=$(awk -v eqs="$eqs" -v ex="$exposed" 'BEGIN {
  n = split(eqs, e, " "); split(ex, x, " ");
  peak = 1000; mdd = 0; expo = 0
  for (i = 1; i <= n; i++) {
    if (e[i] > peak) peak = e[i]
    dd = 1 - e[i] / peak; if (dd > mdd) mdd = dd
    expo += x[i]
  }
  m = 0; for (i = 2; i <= n; i++) { r[i] = e[i] / e[i-1] - 1; m += r[i] }
  k = n - 1; m /= k
  v = 0; dn = 0
  for (i = 2; i <= n; i++) { v += (r[i] - m)^2; if (r[i] < 0) dn += r[i]^2 }
  years = 7 / 365.25
  printf "%.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n",
    e[n] / 1000 - 1, (e[n] / 1000)^(1 / years) - 1, m / sqrt(v / (k - 1)) * sqrt(252),
    m / sqrt(dn / k) * sqrt(252), mdd, 1 / 3, 20 / 35, expo / n, mdd
}')
read -r tr cagr sharpe sortino mdd win pf expo _ <<<"$expect"
near "$(res "$D" .total_return)" "$tr" "total_return"
near "$(res "$D" .cagr)" "$cagr" "cagr"
near "$(res "$D" .sharpe)" "$sharpe" "sharpe"
near "$(res "$D" .sortino)" "$sortino" "sortino"
near "$(res "$D" .max_drawdown)" "$mdd" "max_drawdown = 35/1020"
near "$(res "$D" .win_rate)" "$win" "win_rate"
near "$(res "$D" .profit_factor)" "$pf" "profit_factor = 20/35"
near "$(res "$D" .exposure)" "$expo" "exposure"
ok "metrics match the hand-computed values"

# Undefined metrics are null: no trades -> win_rate null; no loss -> profit_factor null.
D="$T/flat"
bt_ok "$STRAT/core_plan.lua" --data "$FIX/metrics8.csv" --cash 1000 --out "$D"
eq "$(res "$D" '"\(.win_rate) \(.profit_factor) \(.sharpe) \(.sortino) \(.max_drawdown) \(.total_return)"')" \
  "null null null null 0 0" "a flat run: undefined ratios are null"
D="$T/win"
bt_ok "$STRAT/core_plan.lua" --data "$FIX/metrics8.csv" --cash 1000 --param plan=1:buy:10,2:close --out "$D"
eq "$(res "$D" '"\(.win_rate) \(.profit_factor) \(.expectancy)"')" "1 null 20.0" "one winner: profit_factor null"
ok "undefined metrics are null"
