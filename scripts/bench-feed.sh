#!/usr/bin/env bash
# bench-feed.sh - CSV feed parse throughput on generated bars.
#   scripts/bench-feed.sh [BARS]   (default 10,000,000 minute bars)
# Builds btcore (default build type, as shipped) in build-bench-feed/, generates the file once into
# build-bench-feed/bench-data/ (kept for reuse), and times reading every bar three times
# (the first run may include reading the file from disk; later ones hit the page cache).
# Target: well above the end-to-end 3M bars/s, since the strategy shares that budget.
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
