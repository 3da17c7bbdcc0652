#!/usr/bin/env bash
# bench-trace.sh - what tracing costs: wall time of strategies/sma_cross.lua with tracing
# off and on (every event incl. every BAR; sampled bars; no bars), bytes per stored
# event, and query times on the resulting store (all events of a run/correlation id,
# by type, by time range, lookups by seq).
#   scripts/bench-trace.sh [BARS]        (default 10,000,000)
# Budgets: tracing everything <= 5% wall time (stretch 3%), <= 100 bytes/event
# (stretch 50), all events of one correlation id from 10M events < 1 s (stretch 50 ms).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-10000000}"
build="$src/build-bench-trace"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun btcore -j2 >/dev/null
# the query bench links against the core library like a unit test
cc -std=gnu11 -O2 -I"$src/runtime" "$src/scripts/bench/trace_query_bench.c" "$build/libbtcore.a" \
  $(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib) -lpthread -lm \
  -o "$build/trace_query_bench"
cc -std=gnu11 -O2 -I"$src/runtime" "$src/scripts/bench/trace_pipeline_bench.c" "$build/libbtcore.a" \
  $(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib) -lpthread -lm \
  -o "$build/trace_pipeline_bench"

data="$src/build-bench/bench-data/minute-$bars.csv" # shared with scripts/bench.sh
[ -s "$data" ] || data="$build/bench-data/minute-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-trace.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$src"
export BTRUN_LOG_LEVEL=error

conf() { # name trace-table
  printf 'return { trace = %s }\n' "$2" >"$tmp/$1.lua"
}
conf off '{ enabled = false }'
conf all '{ store = "'"$tmp"'/all.db" }'
conf sampled '{ store = "'"$tmp"'/sampled.db", bars = "sampled", sample_rate = 0.01 }'
conf none '{ store = "'"$tmp"'/none.db", bars = "none" }'

declare -A best bestcpu
run() { # name
  local name=$1 t u sy rss cpu
  rm -f "$tmp/$name.db"*
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$build/btrun" --config "$tmp/$name.lua" \
    strategies/sma_cross.lua --data "BENCH=$data" --param qty=1 --out "$tmp/out-$name" \
    >/dev/null 2>"$tmp/err" || { echo "$name: run failed"; cat "$tmp/err"; exit 1; }
  read -r t u sy rss <"$tmp/time"
  cpu=$(awk "BEGIN{print $u + $sy}")
  if [ -z "${best[$name]:-}" ] || awk "BEGIN{exit !($t < ${best[$name]})}"; then best[$name]=$t; fi
  if [ -z "${bestcpu[$name]:-}" ] || awk "BEGIN{exit !($cpu < ${bestcpu[$name]})}"; then
    bestcpu[$name]=$cpu
  fi
  echo "  $name: ${t}s wall, ${cpu}s CPU (user+sys, both threads), peak RSS $((rss / 1024)) MB"
}
echo "bench-trace: sma_cross on $bars minute bars ($(du -h "$data" | cut -f1) CSV), $(nproc) cores"
echo "wall time of the whole process (run + final flush), 2 rounds, best kept:"
for round in 1 2; do
  for name in off all sampled none; do run "$name"; done
done
pct() { awk "BEGIN{printf \"%+.1f%%\", ($1 / $2 - 1) * 100}"; }
echo "tracing overhead, wall (best of 2 vs tracing off ${best[off]}s; meaningful only on an"
echo "otherwise idle machine: the writer thread needs the second core; load now: $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  every event incl. every BAR : ${best[all]}s  $(pct "${best[all]}" "${best[off]}")"
echo "  bars sampled at 1%          : ${best[sampled]}s  $(pct "${best[sampled]}" "${best[off]}")"
echo "  no bars (only their causes) : ${best[none]}s  $(pct "${best[none]}" "${best[off]}")"
echo "tracing overhead, CPU of both threads (best of 2 vs ${bestcpu[off]}s):"
echo "  every event incl. every BAR : ${bestcpu[all]}s  $(pct "${bestcpu[all]}" "${bestcpu[off]}")"
echo "  bars sampled at 1%          : ${bestcpu[sampled]}s  $(pct "${bestcpu[sampled]}" "${bestcpu[off]}")"
echo "  no bars (only their causes) : ${bestcpu[none]}s  $(pct "${bestcpu[none]}" "${bestcpu[off]}")"

echo "storage:"
for name in all sampled none; do
  db="$tmp/$name.db"
  run_id=$("$build/btrun" runs list --store "$db" --format jsonl --limit 1 |
    sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
  stored=$("$build/btrun" runs show "$run_id" --store "$db" | awk '$1 == "events_stored" {print $2}')
  published=$("$build/btrun" runs show "$run_id" --store "$db" | awk '$1 == "event_count" {print $2}')
  size=$(stat -c %s "$db")
  echo "  $name: $stored of $published events stored, $((size / 1024 / 1024)) MB," \
    "$(awk "BEGIN{printf \"%.1f\", $size / ($stored > 0 ? $stored : 1)}") bytes/event"
  [ "$name" = all ] && all_run=$run_id
done
echo "the tracer alone (no Lua, no CSV), $bars bars + a SIGNAL/ORDER/FILL every 26 bars:"
"$build/trace_pipeline_bench" "$tmp/pipeline.db" "$bars" | tail -n +2 | sed 's/^/  /'
echo "queries on the store holding every event of the run:"
"$build/trace_query_bench" "$tmp/all.db" "$all_run" | sed 's/^/  /'
echo "latency inside the tracer (run with every event):"
"$build/btrun" trace latency --run "$all_run" --store "$tmp/all.db" | tail -n +2 | sed 's/^/  /'
