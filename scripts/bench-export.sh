#!/usr/bin/env bash
# bench-export.sh - how fast `btrun events list --format jsonl|csv` streams a run's events:
# a traced sma_cross run over generated minute bars, then each format exported to
# /dev/null, best of BENCH_ROUNDS: events/s by wall time and by CPU time, and the
# instructions per event (perf stat -e instructions where the CPU counters are readable;
# else callgrind over the first BENCH_IR_EVENTS events, minus a 1-event export's startup).
# Baselines measured in the same run, since wall time on a shared machine is noisy: the
# bare store read (scripts/bench/export_scan_bench.c: the same query, nothing formatted)
# and, for CSV, the JSONL export; each line ends with its ratios against them.
#   [BENCH_DATA=bars.csv] [BENCH_ROUNDS=3] [BENCH_IR_EVENTS=200000] scripts/bench-export.sh [BARS]
# BARS default 2,000,000 (~2.3M events). Target: >= 2M events/s (issue 15).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-2000000}"
build="$src/build-bench-export"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun btcore -j2 >/dev/null
cc -std=gnu11 -O2 $(printf -- '-I%s ' "$src"/runtime/*/) "$src/scripts/bench/export_scan_bench.c" \
  "$build/libbtcore.a" $(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls) \
  -lpthread -lm -o "$build/export_scan_bench"
data="${BENCH_DATA:-$src/build-bench/bench-data/minute-$bars.csv}" # shared with scripts/bench.sh
[ -s "$data" ] || data="$build/bench-data/minute-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-export.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$src"
export BTRUN_LOG_LEVEL=error BTRUN_DATA_DIR="$tmp/data"
btrun="$build/btrun"
store="$tmp/events.db"
printf 'return { trace = { store = "%s" } }\n' "$store" >"$tmp/conf.lua"
"$btrun" --config "$tmp/conf.lua" strategies/sma_cross.lua --data "BENCH=$data" --param qty=1 \
  --out "$tmp/out" >/dev/null
events=$("$btrun" runs show latest --store "$store" | awk '$1 == "events_stored" {print $2}')
echo "bench-export: $events events ($bars minute bars, sma_cross), $(nproc) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
rounds="${BENCH_ROUNDS:-3}"
ir_events="${BENCH_IR_EVENTS:-200000}"
perf_ok=0
if command -v perf >/dev/null && perf stat -x, -e instructions true 2>&1 >/dev/null | grep -q '^[0-9]'; then
  perf_ok=1
fi
# cmd WHAT LIMIT: the command line of one measured thing (LIMIT 0 = every event)
cmd() {
  case "$1" in
  scan) echo "$build/export_scan_bench $store latest $2" ;;
  *) echo "$btrun events list --store $store --run latest --format $1 $([ "$2" = 0 ] || echo "--limit $2")" ;;
  esac
}
declare -A wall cpu ins
for what in scan jsonl csv; do
  best="" bestcpu=""
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2046 # the command line is split on purpose
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" $(cmd "$what" 0) >/dev/null
    read -r t u s <"$tmp/time"
    c=$(awk "BEGIN{print $u + $s}")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    if [ -z "$bestcpu" ] || awk "BEGIN{exit !($c < $bestcpu)}"; then bestcpu=$c; fi
  done
  wall[$what]=$best cpu[$what]=$bestcpu
  if [ "$perf_ok" = 1 ]; then
    # shellcheck disable=SC2046
    n=$(perf stat -x, -e instructions $(cmd "$what" 0) 2>&1 >/dev/null | awk -F, '/instructions/ {print $1}')
    ins[$what]=$(awk "BEGIN{printf \"%.0f\", $n / $events}") how="perf stat, whole export"
  elif command -v valgrind >/dev/null; then
    ir() { # instructions of the first $1 events
      # shellcheck disable=SC2046
      valgrind --tool=callgrind --callgrind-out-file=/dev/null $(cmd "$what" "$1") 2>&1 >/dev/null |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
    }
    n=$((ir_events < events ? ir_events : events))
    a=$(ir 1) b=$(ir "$n")
    ins[$what]=$(awk "BEGIN{printf \"%.0f\", ($b - $a) / ($n - 1)}") how="callgrind, first $n events"
  else
    ins[$what]="" how="neither perf counters nor valgrind available"
  fi
done
rate() { awk "BEGIN{printf \"%.2fM\", $events / ($1 > 0 ? $1 : 0.001) / 1e6}"; }
ratio() { awk "BEGIN{printf \"%.2fx\", ($2 > 0 ? $1 / $2 : 0)}"; }
for what in scan jsonl csv; do
  line="  $(printf '%-5s' "$what"): ${wall[$what]}s wall ($(rate "${wall[$what]}") events/s)"
  line+=", ${cpu[$what]}s CPU ($(rate "${cpu[$what]}") events/s)"
  [ -n "${ins[$what]}" ] && line+=", ${ins[$what]} instructions/event"
  echo "$line"
done
echo "  instructions: $how"
for what in jsonl csv; do
  line="  $what vs scan: wall $(ratio "${wall[$what]}" "${wall[scan]}"), CPU $(ratio "${cpu[$what]}" "${cpu[scan]}")"
  [ -n "${ins[$what]}" ] && line+=", instructions $(ratio "${ins[$what]}" "${ins[scan]}")"
  echo "$line"
done
line="  csv vs jsonl: wall $(ratio "${wall[csv]}" "${wall[jsonl]}"), CPU $(ratio "${cpu[csv]}" "${cpu[jsonl]}")"
[ -n "${ins[csv]}" ] && line+=", instructions $(ratio "${ins[csv]}" "${ins[jsonl]}")"
echo "$line"
