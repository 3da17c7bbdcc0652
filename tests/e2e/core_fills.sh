#!/usr/bin/env bash
# Fill rules through the real CLI, on tiny hand-made bars (tests/fixtures/core/up5.csv:
# open 10,11,12,13,14, high = open + 1, low = open - 1, close = open + 0.5; gap4.csv:
# 100, 100, then a gap down to 90) with tests/strategies/core_probe.lua, which submits one
# order on bar `at` and logs what it sees.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# The test strategies write what they see to files (or dofile a shipped one): trusted.
export BTRUN_TRUST_STRATEGIES=1

UP="$FIX/up5.csv"
GAP="$FIX/gap4.csv"
day() { date -u -d "$1" +%s; }
i=0
# probe DATA [NAME=VALUE | --OPTION VALUE]...: runs the probe; its log is $T/p$i.log, its run dir $T/r$i
probe() {
  local data="$1"; shift
  i=$((i + 1))
  local args=(--data "$data" --out "$T/r$i" --param "log=$T/p$i.log")
  while [ $# -gt 0 ]; do
    case "$1" in --*) args+=("$1" "$2"); shift ;; *) args+=(--param "$1") ;; esac
    shift
  done
  bt_ok "$STRAT/core_probe.lua" "${args[@]}"
  L="$T/p$i.log"; D="$T/r$i"
}
# expect_fill SIDE PRICE DATE WHAT: exactly one fill, at that price on that bar
expect_fill() {
  eq "$(grep -c '^fill' "$L")" 1 "$4: one fill"
  read -r _ _ side _ price _ time < <(grep '^fill' "$L")
  eq "$side" "$1" "$4: side"
  deceq "$price" "$2" "$4: fill price"
  eq "$time" "$(day "$3")" "$4: fill bar"
}
expect_no_fill() {
  hasnt "$L" '^fill' "$1: no fill"
  eq "$(jq -s length "$D/trades.jsonl")" 0 "$1: no trade"
}

# Market: never the signal bar, always the next bar's open.
probe "$UP" at=1
expect_fill buy 11 2020-01-02 "market buy on bar 1"
# Fills of a bar happen before its on_bar: bar 2 already sees the position and the cash.
eq "$(grep -n '' "$L" | sed -n 2p | cut -d: -f2 | cut -d' ' -f1)" fill "fill logged before bar 2's on_bar"
eq "$(awk '$1 == "bar" && $2 == 1 { print $4 }' "$L")" 0.00000000 "no position on the signal bar"
eq "$(awk '$1 == "bar" && $2 == 2 { print $4, $5 }' "$L")" "1.00000000 99989.00000000" \
  "ctx:position()/ctx:cash() in on_bar of the fill bar"
probe "$UP" at=3 side=sell
expect_fill sell 13 2020-01-06 "market sell (short) on bar 3"
eq "$(jq -r '"\(.side) \(.status) \(.entry_price) \(.exit_price) \(.pnl)"' "$D/trades.jsonl")" \
  "short open 13.0 14.5 -1.5" "open short marked at the last close"
ok "market orders fill at the next bar's open; on_bar sees the fill"

# Limit: at the limit when the bar trades through it, at the open when it opens better.
probe "$UP" at=1 type=limit price=10.5
expect_fill buy 10.5 2020-01-02 "limit buy 10.5 (low 10)"
probe "$UP" at=1 type=limit price=12
expect_fill buy 11 2020-01-02 "limit buy 12 with the open at 11: fills at the open"
probe "$UP" at=1 type=limit price=9.5
expect_no_fill "limit buy 9.5 never reached"
has "$L" '^finish pending$' "unfilled limit stays pending"
probe "$UP" at=1 side=sell type=limit price=11.5
expect_fill sell 11.5 2020-01-02 "limit sell 11.5 (high 12)"
probe "$GAP" at=2 type=limit price=95
expect_fill buy 90 2020-01-03 "limit buy 95 on a gap down to 90: fills at the open"
ok "limit orders"

# Stop: at the stop when reached, at the open when the bar gaps through it.
probe "$UP" at=1 type=stop stop=11.5
expect_fill buy 11.5 2020-01-02 "stop buy 11.5 (high 12)"
probe "$UP" at=1 type=stop stop=10.5
expect_fill buy 11 2020-01-02 "stop buy 10.5 with the open at 11: gap, fills at the open"
probe "$UP" at=1 type=stop stop=13.5
expect_fill buy 13.5 2020-01-06 "stop buy 13.5 first reached on bar 4"
probe "$UP" at=1 side=sell type=stop stop=10.5
expect_fill sell 10.5 2020-01-02 "stop sell 10.5 (low 10)"
probe "$GAP" at=2 side=sell type=stop stop=95
expect_fill sell 90 2020-01-03 "stop sell 95 on a gap down to 90: fills at the open"
ok "stop orders and gaps"

# Stop-limit: the stop arms a limit order.
probe "$UP" at=1 type=stop_limit stop=11.5 price=11.8
expect_fill buy 11.5 2020-01-02 "stop_limit: triggered at 11.5 inside the 11.8 limit"
probe "$UP" at=1 type=stop_limit stop=11.5 price=11.2
expect_fill buy 11.2 2020-01-02 "stop_limit: triggered at 11.5, bar trades down to the 11.2 limit"
probe "$UP" at=1 type=stop_limit stop=13.5 price=12.5
expect_fill buy 12.5 2020-01-06 "stop_limit: triggered on bar 4, limit 12.5 (low 12)"
# triggered on bar 2 (high 12 >= 11.5) without reaching the 10.2 limit (low 10.5); the armed
# limit fills on bar 3 (low 10) although bar 3 never reaches the stop again
probe "$FIX/stop_limit3.csv" at=1 type=stop_limit stop=11.5 price=10.2
expect_fill buy 10.2 2020-01-03 "stop_limit: armed on bar 2, filled at the limit on bar 3"
probe "$UP" at=1 type=stop_limit stop=20 price=21
expect_no_fill "stop_limit never triggered"
ok "stop_limit orders"

# A signal on the last bar never fills.
probe "$UP" at=5
expect_no_fill "market buy on the last bar"
has "$L" '^finish pending$' "the last bar's order is still pending at on_finish"
eq "$(res "$D" .trades)" 0 "no trades"
deceq "$(res "$D" .final_equity)" 100000 "equity untouched"
ok "a signal on the last bar never fills"

# An open position at the end stays open, marked at the last close.
probe "$UP" at=1
eq "$(jq -s length "$D/trades.jsonl")" 1 "one trade line"
eq "$(jq -r '"\(.status) \(.exit_time) \(.entry_time) \(.entry_price) \(.exit_price) \(.pnl)"' "$D/trades.jsonl")" \
  "open null 2020-01-02T00:00:00Z 11.0 14.5 3.5" "open trade marked at the last close"
eq "$(res "$D" .trades)" 0 "open trades are not counted as closed trades"
deceq "$(res "$D" .final_equity)" 100003.5 "final equity marks the open position"
probe "$UP" at=1 close_at=3
eq "$(jq -r '"\(.status) \(.entry_price) \(.exit_time) \(.exit_price) \(.pnl)"' "$D/trades.jsonl")" \
  "closed 11.0 2020-01-06T00:00:00Z 13.0 2.0" "ctx:close() on bar 3 exits at bar 4's open"
eq "$(res "$D" .trades)" 1 "one closed trade"
ok "open position at the end; ctx:close()"

# Insufficient cash: rejected (on_reject, one orders_rejected warning per kind at the end,
# order_rejected per order at debug), never negative cash.
probe "$UP" at=1 qty=100 --cash 1000
expect_no_fill "buy 100 x 11 with 1000 cash"
has "$L" '^reject 1 rejected insufficient cash' "on_reject called with the order"
has "$L" '^finish rejected$' "ctx:order() says rejected"
rec=$(log_event orders_rejected)
[ -n "$rec" ] || fail "orders_rejected log record"
eq "$(jq -r '"\(.level) \(.count) \(.reason) \(.first_order_id) \(.first_symbol) \(.first_time)"' <<<"$rec")" \
  "warning 1 insufficient cash 1 UP5 2020-01-02T00:00:00Z" "orders_rejected: how many, why, the first one"
[ -z "$(log_event order_rejected)" ] || fail "no per-order record at info"
eq "$(res "$D" .rejected_orders)" 1 "result.json rejected_orders"
deceq "$(res "$D" .final_equity)" 1000 "cash untouched"
awk -F, 'NR > 1 && $3 ~ /^-/ { exit 1 }' "$D/equity.csv" || fail "cash never negative"
probe "$UP" at=1 qty=100 --cash 1100
expect_fill buy 11 2020-01-02 "exactly enough cash (1100 for 100 x 11) fills"
eq "$(awk '$1 == "bar" && $2 == 2 { print $5 }' "$L")" 0.00000000 "cash down to exactly zero"
probe "$UP" at=1 qty=100 --cash 1099.99999999
expect_no_fill "one 1e-8 short of the price"
has "$L" '^reject 1 rejected' "rejected by 1e-8"
ok "rejections for insufficient cash, exact at the boundary"
