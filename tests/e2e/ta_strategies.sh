#!/usr/bin/env bash
# The example strategies on the bundled data (data/): each runs and trades, and each
# does what its file says. sma_cross on bt.ta makes exactly the trades of the
# hand-rolled running-sum version it replaced (tests/strategies/sma_cross_manual.lua).
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
ORCL=data/orcl-2010-2014.csv
YHOO=data/yhoo-2010-2014.csv

# run NAME STRATEGY [ARGS...]: a completed run with trades in $T/NAME
run() {
  local name=$1 strategy=$2
  shift 2
  bt_ok "$strategy" --out "$T/$name" "$@"
  eq "$(res "$T/$name" .status)" completed "$name status"
  [ "$(res "$T/$name" .trades)" -gt 0 ] || fail "$name makes no trades"
}

# 1. sma_cross: bt.ta vs hand-rolled running sums, same trades, several data and params
for args in "" "--data $ORCL --param fast=5 --param slow=20" "--data $YHOO --param fast=10 --param slow=30"; do
  # shellcheck disable=SC2086
  run new strategies/sma_cross.lua $args
  # shellcheck disable=SC2086
  run old "$STRAT/sma_cross_manual.lua" $args
  same_trades "$T/new/trades.jsonl" "$T/old/trades.jsonl" \
    || { diff "$T/old/trades.jsonl" "$T/new/trades.jsonl" | head >&2; fail "sma_cross trades differ ($args)"; }
  eq "$(res "$T/new" .final_equity)" "$(res "$T/old" .final_equity)" "sma_cross final equity ($args)"
  # shellcheck disable=SC2086
  run upd "$STRAT/sma_cross_update.lua" $args
  same_trades "$T/new/trades.jsonl" "$T/upd/trades.jsonl" \
    || { diff "$T/upd/trades.jsonl" "$T/new/trades.jsonl" | head >&2; fail "bound vs updated by hand: trades differ ($args)"; }
  rm -rf "$T/new" "$T/old" "$T/upd"
done
ok "sma_cross on bt.ta (bound, and updated by hand) trades exactly like the running-sum version"

# ... except where the running sums had drifted: YHOO 2012-06-13, SMA(20) and SMA(50) of
# the closes are both exactly 15.3 (math.fsum), so fast > slow is false and the exact
# version exits (fills 06-14); the running sums saw fast a hair above slow and held on.
run new strategies/sma_cross.lua --data "$YHOO" --param fast=20 --param slow=50
run old "$STRAT/sma_cross_manual.lua" --data "$YHOO" --param fast=20 --param slow=50
has "$T/new/trades.jsonl" '"exit_time":"2012-06-14T00:00:00Z"' "bt.ta sma_cross exits after the exact tie"
hasnt "$T/old/trades.jsonl" '"exit_time":"2012-06-14T00:00:00Z"' "running sums miss the tie"
ok "sma_cross on bt.ta sees an exact tie of the averages that running sums miss"

# 2. up_bar (docs/strategy-api.md): every trade is held for exactly one bar
run up strategies/up_bar.lua
dates=$(tail -n +2 data/sample-daily.csv | cut -d, -f1 | tr '\n' ' ')
bad=$(jq -r 'select(.status == "closed") | "\(.entry_time[0:10]) \(.exit_time[0:10])"' "$T/up/trades.jsonl" |
  awk -v d="$dates" 'BEGIN { n = split(d, a, " "); for (i = 1; i < n; i++) next_of[a[i]] = a[i + 1] }
    next_of[$1] != $2 { print; exit }')
[ -z "$bad" ] || fail "up_bar held a trade for more than one bar: $bad"
ok "up_bar: buy after an up bar, sell on the next"

# 3. rsi_mean_reversion: long only, and no trade outlives max_bars (+1 bar to fill the exit)
run rsi strategies/rsi_mean_reversion.lua --param max_bars=5
eq "$(jq -r .side "$T/rsi/trades.jsonl" | sort -u)" long "rsi_mean_reversion sides"
long=$(jq -r 'select(.status == "closed") | "\(.entry_time[0:10]) \(.exit_time[0:10])"' "$T/rsi/trades.jsonl" |
  awk -v d="$dates" 'BEGIN { n = split(d, a, " "); for (i = 1; i <= n; i++) idx[a[i]] = i }
    idx[$2] - idx[$1] > 6 { print; exit }')
[ -z "$long" ] || fail "rsi_mean_reversion held a trade past max_bars: $long"
ok "rsi_mean_reversion: long only, exits within max_bars"

# 4. bollinger_breakout: every long trade leaves through its stop (at or below entry *
#    0.97) or its take-profit (at or above entry * 1.06), and both kinds happen.
run bb strategies/bollinger_breakout.lua
kinds=$(jq -r 'select(.status == "closed" and .side == "long") | "\(.entry_price) \(.exit_price)"' "$T/bb/trades.jsonl" |
  awk '{ if ($2 <= $1 * 0.97 + 1e-6) s++; else if ($2 >= $1 * 1.06 - 1e-6) t++; else { print "bad " $0; exit } }
    END { print "stops=" s + 0, "takes=" t + 0 }')
case "$kinds" in bad*) fail "bollinger_breakout exit neither stop nor take-profit: $kinds" ;; esac
[[ "$kinds" =~ stops=[1-9].*takes=[1-9] ]] || fail "bollinger_breakout: expected both exits, got $kinds"
ok "bollinger_breakout: exits by stop and take-profit orders ($kinds)"

# 5. momentum_rotation on two symbols: trades both, never holds both at once
run rot strategies/momentum_rotation.lua --data "$ORCL" --data "$YHOO"
eq "$(jq -r .symbol "$T/rot/trades.jsonl" | sort -u | tr '\n' ' ')" "ORCL YHOO " "rotation trades both symbols"
overlap=$(jq -r '"\(.entry_time) \(.exit_time // "9999")"' "$T/rot/trades.jsonl" | sort |
  awk 'NR > 1 && $1 < prev_exit { print; exit } { prev_exit = $2 }')
[ -z "$overlap" ] || fail "rotation held two symbols at once: $overlap"
ok "momentum_rotation: one symbol at a time"

# 6. sma_cross with slow <= fast is refused with the strategy's message
bt strategies/sma_cross.lua --param fast=30 --param slow=10 --out "$T/bad"
[ "$RC" -ne 0 ] || fail "sma_cross with slow < fast should fail"
has "$T/err.log" "need 1 <= fast < slow" "sma_cross parameter check"
ok "sma_cross rejects slow <= fast"
