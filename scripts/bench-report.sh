#!/usr/bin/env bash
# bench-report.sh - size and cost of report.html for a long run: N synthetic minute bars
# (default 10,000,000, from scripts/gen_bars.lua; about 19 years, so ~7,000 equity rows)
# through strategies/sma_cross.lua with tracing off, then the report's size (target
# < 300 KB), the run's wall time, and the time the report took (its log record).
#   scripts/bench-report.sh [BARS]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-10000000}"
build="$src/build"
[ -x "$build/btrun" ] || "$src/scripts/setup.sh" >/dev/null
work="${TMPDIR:-/tmp}/btrun-bench-report"
mkdir -p "$work"
bars="$work/bars-$n.csv"
if [ ! -s "$bars" ]; then
  echo "generating $n minute bars (once; kept in $work)..."
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$n" --freq minute --out "$bars"
fi
printf 'return { trace = { enabled = false } }\n' >"$work/config.lua"
rm -rf "$work/run"
start=$(date +%s%N)
(cd "$src" && BTRUN_DATA_DIR="$work/data" "$build/btrun" --config "$work/config.lua" --log-format json \
  --data BENCH="$bars" --out "$work/run" strategies/sma_cross.lua >"$work/run.log" 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
size=$(stat -c %s "$work/run/report.html")
rows=$(($(wc -l <"$work/run/equity.csv") - 1))
trades=$(wc -l <"$work/run/trades.jsonl")
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "run: $n bars, $rows equity rows, $trades trades in ${ms} ms wall (run + report)"
printf 'report.html: %d bytes (%d KB)   target < 300 KB: %s\n' "$size" "$((size / 1000))" \
  "$([ "$size" -lt 300000 ] && echo ok || echo OVER)"
