#!/usr/bin/env bash
# bench-perf.sh - performance tracking speed: cold summary of 1,000,000 trades (< 1 s),
# incremental refresh after appending 1,000 trades (< 10 ms), a watch evaluation on
# 100,000 trades (< 150 ms), report.html for a 10M-row equity curve; then the same
# refresh through the CLI (`btrun perf --stats`, including process start).
#   scripts/bench-perf.sh [TRADES]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000000}"
build="$src/build-bench"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" --target btcore btrun -j2 >/dev/null
pc_libs="$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(printf -- '-I%s ' "$src"/runtime/*/) $(pkg-config --cflags lua5.4) \
  "$src/scripts/bench/perf_bench.c" "$build/libbtcore.a" $pc_libs -lpthread -lm -o "$build/perf_bench"
work="$build/bench-perf"
"$build/perf_bench" "$work" "$n"
# CLI: one more appended trade, then `btrun perf` as cron would run it
printf '%s\n' '{"trade_id":0,"exit_time":"2030-01-01T15:00:00Z","pnl":"1.0","status":"closed"}' \
  >>"$work/big/trades.jsonl"
start=$(date +%s%N)
(cd "$work" && BTRUN_LOG_LEVEL=error "$build/btrun" perf --trades "$work/big/trades.jsonl" --out "$work/big/out" \
  --stats >/dev/null 2>"$work/cli.err") || true
ms=$((($(date +%s%N) - start) / 1000))
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "cli incremental:     btrun perf wall $((ms / 1000)).$(printf %03d $((ms % 1000))) ms; $(grep -o 'refresh.*' "$work/cli.err")"
