#!/usr/bin/env bash
# bench.sh - end-to-end speed and memory of the core: bars/s and peak RSS for a no-op
# strategy and for strategies/sma_cross.lua, from CSV, on generated minute bars.
#   scripts/bench.sh [BARS]        (default 10,000,000)
# Targets (2-core machine): no-op >= 6M bars/s, sma_cross >= 3M bars/s, peak RSS flat
# in the number of bars. The data file is generated once and kept in build-bench/.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-10000000}"
build="$src/build-bench"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun -j2 >/dev/null
data="$build/bench-data/minute-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
cd "$src"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/noop.lua" <<'LUA'
return { on_bar = function(ctx, bar) end }
LUA
# The core alone: the event store is measured by scripts/bench-trace.sh.
printf 'return { trace = { enabled = false } }\n' > "$tmp/core.lua"
export BTRUN_DATA_DIR="$tmp/data"
run() { # name strategy [args...]
  local name=$1 strategy=$2
  shift 2
  /usr/bin/time -f "%M" -o "$tmp/rss" "$build/btrun" "$strategy" --data "BENCH=$data" \
    --out "$tmp/out-$name" --log-format json --config "$tmp/core.lua" "$@" > "$tmp/log-$name.jsonl" 2>/dev/null \
    || { echo "$name: run failed"; cat "$tmp/log-$name.jsonl"; exit 1; }
  jq -r --arg name "$name" --arg rss "$(cat "$tmp/rss")" \
    'select(.event=="backtest_completed") |
     "\($name): \(.metrics.bars) bars in \(.duration_ms) ms = \(.bars_per_s | floor) bars/s, trades \(.metrics.trades), peak RSS \(($rss|tonumber)/1024|floor) MB"' \
    "$tmp/log-$name.jsonl"
}
echo "bench: $bars minute bars from $(du -h "$data" | cut -f1) of CSV, $(nproc) cores"
for i in 1 2; do
  run noop "$tmp/noop.lua"
  run sma_cross "$src/strategies/sma_cross.lua" --param qty=1
done
