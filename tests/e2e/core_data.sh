#!/usr/bin/env bash
# Data through the CLI: every shared sample file (incl. the CRLF minute file with a short
# header), several --data files merged in time order, bad CSV (file:line:field, exit 1,
# status failed, no complete-looking files), --skip-bad-rows, header-only data.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# The test strategies write what they see to files (or dofile a shipped one): trusted.
export BTRUN_TRUST_STRATEGIES=1

# 1. Every file in $MARKET_DATA (data/market: copies of the real OHLCV files
#    described in its README) loads as written.
[ -d "${MARKET_DATA:-}" ] || fail "MARKET_DATA ($MARKET_DATA) is absent"
{
  n=0
  for f in "$MARKET_DATA"/*.txt "$MARKET_DATA"/*.csv; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f")
    rows=$(($(grep -c . "$f") - 1))
    D="$T/shared-$n"
    case "$name" in
    *-min-*)  # ~3600 a unit: trade 10 units; name the symbol with SYM=path
      bt_ok strategies/sma_cross.lua --data "FESX=$f" --param qty=10 --out "$D"
      eq "$(res "$D" '.data[0].symbol')" FESX "$name: SYM= names the symbol"
      days=$(tail -n +2 "$f" | cut -d, -f1 | sort -u | wc -l)
      eq "$(($(wc -l <"$D/equity.csv") - 1))" "$days" "$name: one equity row per day"
      eq "$(res "$D" .rejected_orders)" 0 "$name: 10 units are affordable"
      [ "$(res "$D" .trades)" -gt 0 ] || fail "$name: trades"
      eq "$(jq -r .qty "$D/trades.jsonl" | sort -u)" 10.0 "$name: qty 10"
      # each row is the day's last bar
      tail -n +2 "$f" | tr -d '\r' | awk -F, '{ last[$1] = $1 "T" $2 "Z" } END { for (d in last) print last[d] }' \
        | sort | diff - <(tail -n +2 "$D/equity.csv" | cut -d, -f1) >/dev/null \
        || fail "$name: equity rows are at each day's last bar"
      # 100 units cannot be paid for: rejected, never negative cash
      bt_ok strategies/sma_cross.lua --data "FESX=$f" --param qty=100 --out "$D-100"
      [ "$(res "$D-100" .rejected_orders)" -gt 0 ] || fail "$name: 100 units rejected"
      eq "$(res "$D-100" .trades)" 0 "$name: no trades at 100 units"
      awk -F, 'NR > 1 && $3 ~ /^-/ { exit 1 }' "$D-100/equity.csv" || fail "$name: cash never negative"
      ;;
    *)
      bt_ok strategies/sma_cross.lua --data "$f" --param qty=10 --out "$D"  # 10 x ~4000 fits the cash
      sym=$(echo "$name" | sed 's/[-_.].*//' | tr a-z A-Z)
      eq "$(res "$D" '.data[0].symbol')" "$sym" "$name: symbol from the file name"
      eq "$(($(wc -l <"$D/equity.csv") - 1))" "$rows" "$name: one equity row per daily bar"
      eq "$(tail -1 "$D/equity.csv" | cut -d, -f1)" "$(tail -1 "$f" | cut -d, -f1)T00:00:00Z" "$name: last day"
      # prices are parsed exactly: every entry price is the file's open of that day,
      # digit for digit ("2.370370" -> "2.37037")
      jq -r '"\(.entry_time[0:10]) \(.entry_price)"' "$D/trades.jsonl" | awk -F'[, ]' '
        function canon(s) { if (index(s, ".") == 0) return s ".0"; sub(/0+$/, "", s); return s ~ /\.$/ ? s "0" : s }
        NR == FNR { if (FNR > 1) open[$1] = canon($2); next }
        { n++; if (open[$1] != $2) { print "entry " $1 " " $2 " but open " open[$1] > "/dev/stderr"; bad = 1 } }
        END { exit bad || n == 0 }' "$f" - || fail "$name: entry prices are the exact opens"
      ;;
    esac
    eq "$(res "$D" .status)" completed "$name: completed"
    eq "$(res "$D" .bars)" "$rows" "$name: every row is a bar"
    eq "$(res "$D" .skipped_rows)" 0 "$name: nothing skipped"
    eq "$(res "$D" '.data[0].path')" "$f" "$name: path in result.json"
  done
  [ "$n" -ge 5 ] || fail "expected the 5 shared data files, found $n"
  ok "every file in $MARKET_DATA"
}

# 2. Several feeds merged in time order (ties in --data order), symbols from file names
#    (aaa.csv -> AAA, bbb.csv -> BBB; bbb uses a Datetime column).
bt_ok "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "$FIX/bbb.csv" --param "log=$T/m.log" --out "$T/m"
d() { date -u -d "$1" +%s; }
printf '%s\n' "AAA $(d 2020-01-01) 10 10" "AAA $(d 2020-01-02) 11 11" "BBB $(d 2020-01-02) 50 50" \
  "AAA $(d 2020-01-03) 12 12" "BBB $(d 2020-01-03) 51 51" "AAA $(d 2020-01-06) 13 13" \
  "BBB $(d 2020-01-07) 52 52" | diff - "$T/m.log" || fail "merged bars in time order, ties in feed order"
eq "$(res "$T/m" '[.data[].symbol] | join(",")')" AAA,BBB "symbols in result.json"
eq "$(res "$T/m" .bars)" 7 "bars of both feeds"
# the reverse --data order only changes the order of ties
bt_ok "$STRAT/core_bars.lua" --data "$FIX/bbb.csv" --data "$FIX/aaa.csv" --param "log=$T/m2.log" --out "$T/m2"
eq "$(sed -n 2,3p "$T/m2.log" | cut -d' ' -f1 | tr '\n' ' ')" "BBB AAA " "ties follow --data order"
# ctx:buy(qty, {symbol = "BBB"}) on AAA's first bar fills at BBB's next bar (its first, 50)
bt_ok "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "$FIX/bbb.csv" --param "log=$T/m3.log" \
  --param at=1 --param symbol=BBB --out "$T/m3"
eq "$(jq -r '"\(.symbol) \(.entry_time) \(.entry_price)"' "$T/m3/trades.jsonl")" \
  "BBB 2020-01-02T00:00:00Z 50.0" "cross-symbol order fills at that symbol's next bar"
# placed on AAA's 2020-01-02 bar: BBB's bar at the same time is not 'next' (no look-ahead)
bt_ok "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "$FIX/bbb.csv" --param "log=$T/m4.log" \
  --param at=2 --param symbol=BBB --out "$T/m4"
eq "$(jq -r '"\(.symbol) \(.entry_time) \(.entry_price)"' "$T/m4/trades.jsonl")" \
  "BBB 2020-01-03T00:00:00Z 51.0" "an order placed at time t never fills at another symbol's bar at t"
# without symbol= in a multi-feed run the order goes to the current bar's symbol
bt_ok "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "$FIX/bbb.csv" --param "log=$T/m5.log" \
  --param at=3 --out "$T/m5"
eq "$(jq -r '"\(.symbol) \(.entry_price)"' "$T/m5/trades.jsonl")" "BBB 51.0" "default symbol = the bar's"
# the same symbol twice is an error; SYM= resolves it
bt "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "$FIX/aaa.csv" --param "log=$T/x.log" --out "$T/m6"
eq "$RC" 1 "same symbol twice: exit 1"
has "$T/err.log" "AAA given twice" "same symbol twice: message"
bt_ok "$STRAT/core_bars.lua" --data "$FIX/aaa.csv" --data "A2=$FIX/aaa.csv" --param "log=$T/m7.log" --out "$T/m7"
eq "$(res "$T/m7" '[.data[].symbol] | join(",")')" AAA,A2 "SYM=path"
ok "multi-feed merge"

# 3. Bad CSV: file:line:field, exit 1, result.json failed, no finished-looking files.
BAD="$FIX/bad_price.csv"
bt strategies/sma_cross.lua --data "$BAD" --out "$T/bad"
eq "$RC" 1 "bad CSV: exit 1"
has "$T/err.log" "$BAD:4: High: not a number: '1x3'" "bad CSV: file:line: field"
eq "$(res "$T/bad" .status)" failed "bad CSV: status failed"
eq "$(res "$T/bad" .error.type)" csv_error "bad CSV: error type"
res "$T/bad" .error.message | grep -qF "$BAD:4: High" || fail "bad CSV: message in result.json"
for k in trades final_equity sharpe; do
  eq "$(res "$T/bad" "has(\"$k\")")" false "a failed result.json has no $k"
done
[ ! -e "$T/bad/trades.jsonl" ] && [ ! -e "$T/bad/equity.csv" ] || fail "bad CSV: no trades.jsonl/equity.csv"
log_event backtest_failed | jq -e '.exception.type == "csv_error"' >/dev/null || fail "backtest_failed record"
bt_ok strategies/sma_cross.lua --data "$BAD" --skip-bad-rows --out "$T/skip"
eq "$(res "$T/skip" '"\(.status) \(.bars) \(.skipped_rows)"')" "completed 3 1" "--skip-bad-rows: skipped and counted"
bt_ok "$STRAT/core_bars.lua" --data "$FIX/two_bad_rows.csv" --skip-bad-rows --param "log=$T/s.log" --out "$T/skip2"
eq "$(res "$T/skip2" '"\(.bars) \(.skipped_rows)"')" "2 2" "two bad rows (bad number, short row, CRLF) skipped"
eq "$(cut -d' ' -f3 "$T/s.log" | tr '\n' ' ')" "1 2 " "the good rows are the bars"
log_event backtest_completed | jq -e '.skipped_rows == 2' >/dev/null || fail "skipped_rows in the log"
bt strategies/sma_cross.lua --data "$FIX/unsorted.csv" --out "$T/uns"
eq "$RC" 1 "unsorted: exit 1"
has "$T/err.log" "unsorted.csv:3: Date: time not after previous row" "unsorted: file:line:field"
bt strategies/sma_cross.lua --data "$FIX/duplicate.csv" --out "$T/dup"
eq "$RC" 1 "duplicate: exit 1"
has "$T/err.log" "duplicate.csv:3: Date: .*duplicates" "duplicate: file:line:field"
bt strategies/sma_cross.lua --data "$FIX/duplicate.csv" --skip-bad-rows --out "$T/dup2"
eq "$RC" 1 "duplicate timestamps are an error even with --skip-bad-rows"
ok "bad CSV"

# 4. Header only: a valid result with zero trades.
bt_ok strategies/sma_cross.lua --data "$FIX/header_only.csv" --out "$T/empty"
eq "$(res "$T/empty" '"\(.status) \(.bars) \(.trades) \(.total_return) \(.max_drawdown)"')" "completed 0 0 0 0" "empty data"
deceq "$(res "$T/empty" .final_equity)" 100000 "empty data: final equity = cash"
eq "$(cat "$T/empty/equity.csv")" "time,equity,cash,position_value,drawdown" "empty data: equity.csv header only"
[ -f "$T/empty/trades.jsonl" ] && [ ! -s "$T/empty/trades.jsonl" ] || fail "empty data: empty trades.jsonl"
ok "header-only data"
