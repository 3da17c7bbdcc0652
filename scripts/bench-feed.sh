#!/usr/bin/env bash
# bench-feed.sh - CSV feed parse throughput on generated bars.
#   scripts/bench-feed.sh [BARS]   (default 10,000,000 minute bars)
# Builds btcore (default build type, as shipped) in build-bench/, generates the file once into
# build-bench/bench-data/ (kept for reuse), and times iterating every bar twice: a cold
# run (file just generated or first read) and a warm one (page cache hot).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-10000000}"
build="$src/build-bench"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" --target btcore -j2 >/dev/null
pc_libs="$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$src/runtime" "$src/scripts/bench/feed_bench.c" \
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
"$build/feed_bench" "$data"
"$build/feed_bench" "$data"
