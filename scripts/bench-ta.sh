#!/usr/bin/env bash
# bench-ta.sh - speed of bt.ta (docs/indicators.md#speed):
#   1. each indicator's update cost in C (ns/update), and SMA(1000) against the exactly
#      rounded mean at every one of SMA_BARS bars of a series built to make running
#      sums drift (exits non-zero if any bar differs);
#   2. the same SMA cross three ways, side by side: strategies/sma_cross.lua (bt.ta
#      bound with ctx:indicator), tests/strategies/sma_cross_update.lua (bt.ta updated
#      by hand) and tests/strategies/sma_cross_manual.lua (hand-rolled running sums):
#      bars/s on generated minute bars from CSV, alternating, twice each; then, when
#      valgrind is installed, instructions per run on the first 200,000 bars (callgrind,
#      deterministic where wall time on a shared machine is not) as ratios to the
#      running sums.
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
  run "bt.ta bound " "$src/strategies/sma_cross.lua"
  run "bt.ta update" "$src/tests/strategies/sma_cross_update.lua"
  run "running sums" "$src/tests/strategies/sma_cross_manual.lua"
done

command -v valgrind >/dev/null || { echo "(valgrind not installed: no instruction counts)"; exit 0; }
head -n 200001 "$data" > "$tmp/200k.csv"
instr() { # strategy -> instructions of the whole process
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$build/btrun" "$1" \
    --data "BENCH=$tmp/200k.csv" --out "$tmp/out-cg" --config "$tmp/core.lua" --param qty=1 \
    --log-format json 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
manual=$(instr "$src/tests/strategies/sma_cross_manual.lua")
echo "instructions, 200,000 bars (callgrind), ratio to running sums:"
for v in "bt.ta bound :$src/strategies/sma_cross.lua" "bt.ta update:$src/tests/strategies/sma_cross_update.lua"; do
  n=$(instr "${v#*:}")
  awk -v name="${v%%:*}" -v n="$n" -v m="$manual" 'BEGIN { printf "  %s: %.0fM = %.3f\n", name, n / 1e6, n / m }'
done
awk -v m="$manual" 'BEGIN { printf "  running sums: %.0fM = 1\n", m / 1e6 }'
