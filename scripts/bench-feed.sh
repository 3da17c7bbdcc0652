#!/usr/bin/env bash
# bench-feed.sh - CSV feed parse throughput on generated bars.
#   scripts/bench-feed.sh [BARS]   (default 10,000,000 minute bars)
# Builds btcore (default build type, as shipped) in build-bench-feed/, generates the file once into
# build-bench-feed/bench-data/ (kept for reuse), and times reading every bar three times
# (the first run may include reading the file from disk; later ones hit the page cache).
# Target: well above the end-to-end 3M bars/s, since the strategy shares that budget.
# Then the same bars from the bar cache (docs/data.md#bar-cache): its build time once and
# its read rate (goal >= 50M bars/s), and, when valgrind is installed, instructions per
# bar of the read loop for the CSV and for the cache on the file's first 1M bars.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-10000000}"
build="$src/build-bench-feed"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" --target btcore -j2 >/dev/null
pc_libs="$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(printf -- '-I%s ' "$src"/runtime/*/) "$src/scripts/bench/feed_bench.c" \
  "$build/libbtcore.a" $pc_libs -lpthread -lm -o "$build/feed_bench"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(printf -- '-I%s ' "$src"/runtime/*/) "$src/scripts/bench/barcache_bench.c" \
  "$build/libbtcore.a" $pc_libs -lpthread -lm -o "$build/barcache_bench"
data="$build/bench-data/minute-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  start=$(date +%s%N)
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data.tmp"
  mv "$data.tmp" "$data"
  ms=$((($(date +%s%N) - start) / 1000000))
  echo "generate: $bars bars in $((ms / 1000)).$(printf %03d $((ms % 1000))) s ($(du -h "$data" | cut -f1))"
fi
for _ in 1 2 3; do "$build/feed_bench" "$data"; done
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
BTRUN_LOG_LEVEL=warning "$build/barcache_bench" "$cache" "$data" 3
if command -v valgrind >/dev/null; then
  head -n 1000001 "$data" >"$cache/1m.csv"
  for mode in csv "$cache/c"; do
    BTRUN_LOG_LEVEL=warning "$build/barcache_bench" "$mode" "$cache/1m.csv" 0 >/dev/null # builds the cache
    ir=$(BTRUN_LOG_LEVEL=warning valgrind --tool=callgrind '--toggle-collect=read_all*' \
      --callgrind-out-file=/dev/null "$build/barcache_bench" "$mode" "$cache/1m.csv" 1 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "instructions per bar, read loop, $([ "$mode" = csv ] && echo csv || echo cache): $((ir / 1000000))"
  done
fi
