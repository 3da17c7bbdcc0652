#!/usr/bin/env bash
# bench-ta.sh - speed of bt.ta (docs/indicators.md#speed):
#   1. each indicator's update cost in C (ns/update), and SMA(1000) against the exactly
#      rounded mean at every one of SMA_BARS bars of a series built to make running
#      sums drift (exits non-zero if any bar differs);
#   2. strategies/sma_cross.lua (bt.ta) and tests/strategies/sma_cross_manual.lua (the
#      same strategy with hand-rolled running sums) side by side, bars/s, on generated
#      minute bars from CSV, alternating, twice each.
#   scripts/bench-ta.sh [BARS [UPDATES [SMA_BARS]]]   (defaults 2,000,000 / 10,000,000 / 10,000,000)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-2000000}" updates="${2:-10000000}" sma_bars="${3:-10000000}"
build="$src/build-bench-ta"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun -j2 >/dev/null
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$src/runtime/ta" -I"$src/runtime/base" \
  "$src/scripts/bench/ta_bench.c" "$src"/runtime/ta/ta_*.c -lm -o "$build/ta_bench"
"$build/ta_bench" "$updates" "$sma_bars"

data="$build/bench-data/minute-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'return { trace = { enabled = false } }\n' > "$tmp/core.lua"
export BTRUN_DATA_DIR="$tmp/data"
cd "$src"
run() { # name strategy
  "$build/btrun" "$2" --data "BENCH=$data" --out "$tmp/out-$1" --log-format json \
    --config "$tmp/core.lua" --param qty=1 > "$tmp/log-$1.jsonl" 2>/dev/null \
    || { echo "$1: run failed"; cat "$tmp/log-$1.jsonl"; exit 1; }
  jq -r --arg name "$1" 'select(.event=="backtest_completed") |
     "  \($name): \(.metrics.bars) bars in \(.duration_ms) ms = \(.bars_per_s | floor) bars/s, trades \(.metrics.trades)"' \
    "$tmp/log-$1.jsonl"
}
echo "sma_cross (10/30) on $bars minute bars from CSV, $(nproc) cores, trace off:"
for i in 1 2; do
  run "bt.ta      " "$src/strategies/sma_cross.lua"
  run "running sums" "$src/tests/strategies/sma_cross_manual.lua"
done
