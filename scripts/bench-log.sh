#!/usr/bin/env bash
# bench-log.sh - structured logging costs: ns per disabled call (C and Lua) and
# records/s written to /dev/null (JSON, console, two threads, from Lua).
#   scripts/bench-log.sh [RECORDS]   (default 1,000,000 per measurement)
# Builds btcore (default build type, as shipped) in build-bench-log/.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000000}"
build="$src/build-bench-log"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" --target btcore -j2 >/dev/null
pc_libs="$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls)"
pc_cflags="$(pkg-config --cflags lua5.4 libcjson)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(printf -- '-I%s ' "$src"/runtime/*/) $pc_cflags "$src/scripts/bench/log_bench.c" \
  "$build/libbtcore.a" $pc_libs -lpthread -lm -o "$build/log_bench"
"$build/log_bench" "$n"
