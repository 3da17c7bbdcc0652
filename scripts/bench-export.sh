#!/usr/bin/env bash
# bench-export.sh - how fast `btrun events list --format jsonl|csv` streams a run's events:
# a traced sma_cross run over generated minute bars, then each format exported to
# /dev/null, best of BENCH_ROUNDS: events/s by wall time and by CPU time, and the
# instructions per event (perf stat -e instructions where the CPU counters are readable;
# else callgrind over the first BENCH_IR_EVENTS events, minus a 1-event export's startup).
#   [BENCH_DATA=bars.csv] [BENCH_ROUNDS=3] [BENCH_IR_EVENTS=200000] scripts/bench-export.sh [BARS]
# BARS default 2,000,000 (~2.3M events). Target: >= 2M events/s (issue 15).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-2000000}"
build="$src/build-bench-export"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun -j2 >/dev/null
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
for fmt in jsonl csv; do
  best="" bestcpu=""
  for _ in $(seq "$rounds"); do
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$btrun" events list --store "$store" --run latest \
      --format "$fmt" >/dev/null
    read -r t u s <"$tmp/time"
    cpu=$(awk "BEGIN{print $u + $s}")
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    if [ -z "$bestcpu" ] || awk "BEGIN{exit !($cpu < $bestcpu)}"; then bestcpu=$cpu; fi
  done
  rate() { awk "BEGIN{printf \"%.2fM\", $events / ($1 > 0 ? $1 : 0.001) / 1e6}"; }
  if [ "$perf_ok" = 1 ]; then
    ins=$(perf stat -x, -e instructions "$btrun" events list --store "$store" --run latest \
      --format "$fmt" 2>&1 >/dev/null | awk -F, '/instructions/ {print $1}')
    irs="$(awk "BEGIN{printf \"%.0f\", $ins / $events}") instructions/event (perf stat, whole export)"
  elif command -v valgrind >/dev/null; then
    ir() { # instructions of an export of the first $1 events
      valgrind --tool=callgrind --callgrind-out-file=/dev/null "$btrun" events list \
        --store "$store" --run latest --format "$fmt" --limit "$1" 2>&1 >/dev/null |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
    }
    n=$((ir_events < events ? ir_events : events))
    a=$(ir 1) b=$(ir "$n")
    irs="$(awk "BEGIN{printf \"%.0f\", ($b - $a) / ($n - 1)}") instructions/event (callgrind, first $n events)"
  else
    irs="instructions: neither perf counters nor valgrind available"
  fi
  echo "  $fmt: ${best}s wall ($(rate "$best") events/s), ${bestcpu}s CPU ($(rate "$bestcpu") events/s), $irs"
done
