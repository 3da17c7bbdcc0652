#!/usr/bin/env bash
# bench-broker.sh - per-bar throughput of broker -> ledger mark -> metrics (no Lua, no I/O).
#   scripts/bench-broker.sh [BARS]   (default 10,000,000 synthetic minute bars, in memory)
# Target: well above 3M bars/s, so the core run's budget goes to Lua and the feed.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-10000000}"
build="$src/build-bench-broker"
cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" --target btcore -j2 >/dev/null
pc_libs="$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls)"
# shellcheck disable=SC2086
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(printf -- '-I%s ' "$src"/runtime/*/) "$src/scripts/bench/broker_bench.c" \
  "$build/libbtcore.a" $pc_libs -lpthread -lm -o "$build/broker_bench"
"$build/broker_bench" "$bars"
