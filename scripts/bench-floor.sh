#!/usr/bin/env bash
# bench-floor.sh - btrun against the floor: the whole process of a backtest with tracing
# off and with tracing on (every event), as a ratio to scripts/bench/floor_bench.c (mmap
# + strtod + the same Lua on_bar with a minimal ctx, nothing else), on daily and on minute
# bars, same strategy (scripts/bench/sma_o1.lua), measured in the same run.
#   [BENCH_ROUNDS=3] [BENCH_CALLGRIND=1] [BENCH_BTRUN=path] [BENCH_RSS="1000000 ..."] \
#     scripts/bench-floor.sh [BARS]
# (default 1,000,000 bars; BENCH_BTRUN: measure that binary, e.g. an older build, instead
# of building this tree's; BENCH_RSS: also the peak RSS of one run with tracing on over
# each of these numbers of minute bars, which must stay flat: <= 64 MB at 10M).
# Wall and CPU time: median of each round's own ratio (floor and btrun back to back), so
# a machine that slows down between rounds moves both. Peak RSS and page faults (minor +
# major, /usr/bin/time): of the last round; they do not depend on the load, and the
# faults are most of the kernel time a run spends on memory. Instructions (valgrind callgrind,
# the first 100,000 bars, BENCH_CALLGRIND=0 skips): exact and independent of load; btrun
# is counted once its bar cache is built (the steady state of repeated runs) and on the
# first run of the file, which builds the cache.
# Budget (issue 18): btrun with tracing off <= 1.2x the floor on daily and minute bars.
# Data is generated once into build-bench/bench-data/ (daily: --revert keeps a series of
# a million days in a realistic price range).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-1000000}"
rounds="${BENCH_ROUNDS:-3}"
build="$src/build-bench"
btrun="${BENCH_BTRUN:-$build/btrun}"
if [ -z "${BENCH_BTRUN:-}" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target btrun -j2 >/dev/null
fi
mkdir -p "$build"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -Wall -Wextra -Werror $(pkg-config --cflags lua5.4) "$src/scripts/bench/floor_bench.c" \
  $(pkg-config --libs lua5.4) -lm -o "$build/floor_bench"
strategy="$src/scripts/bench/sma_o1.lua"
gen() { # freq bars -> path
  local f="$build/bench-data/$1-$2.csv"
  if [ ! -s "$f" ]; then
    mkdir -p "$(dirname "$f")"
    if [ "$1" = day ]; then lua5.4 "$src/scripts/gen_bars.lua" --bars "$2" --revert 0.01 --out "$f.tmp"
    else lua5.4 "$src/scripts/gen_bars.lua" --bars "$2" --freq minute --out "$f.tmp"; fi
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}
tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-floor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data" BTRUN_LOG_LEVEL=error
printf 'return { trace = { enabled = false } }\n' >"$tmp/off.lua"
printf 'return { trace = { store = "%s/trace.db" } }\n' "$tmp" >"$tmp/on.lua"

# run NAME CSV: one process; sets wall cpu rss faults (minor + major page faults)
run() {
  local name=$1 csv=$2
  rm -rf "$tmp/out" "$tmp/trace.db"*
  case $name in
    floor) set -- "$build/floor_bench" "$strategy" "$csv" ;;
    off | on) set -- "$btrun" "$strategy" --data "BENCH=$csv" --out "$tmp/out" --config "$tmp/$name.lua" ;;
  esac
  /usr/bin/time -f "%e %U %S %M %R %F" -o "$tmp/time" "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  read -r wall u s rss minor major <"$tmp/time"
  cpu=$(awk "BEGIN{print $u + $s}") faults=$((minor + major))
}
median() { sort -g | awk '{v[NR]=$1} END{printf "%.2f", NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk "BEGIN{printf \"%.4f\", $1 / ($2 > 0 ? $2 : 0.001)}"; }

echo "bench-floor: $bars bars, $rounds rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for freq in day minute; do
  csv=$(gen "$freq" "$bars")
  declare -A w c r pf
  w=() c=() r=() pf=()
  for _ in $(seq "$rounds"); do
    run floor "$csv"; fw=$wall fc=$cpu; r[floor]=$rss pf[floor]=$faults
    for name in off on; do
      run "$name" "$csv"
      w[$name]="${w[$name]:-} $(ratio "$wall" "$fw")"
      c[$name]="${c[$name]:-} $(ratio "$cpu" "$fc")"
      r[$name]=$rss pf[$name]=$faults
    done
    w[floor]="${w[floor]:-} $fw" c[floor]="${c[floor]:-} $fc"
  done
  echo "$freq bars ($(du -h "$csv" | cut -f1) CSV):"
  printf '  %-22s wall %6ss  CPU %6ss  peak RSS %4d MB  page faults %7d\n' "floor" \
    "$(printf '%s\n' ${w[floor]} | median)" "$(printf '%s\n' ${c[floor]} | median)" $((r[floor] / 1024)) "${pf[floor]}"
  for name in off on; do
    label="btrun, tracing $name"
    printf '  %-22s wall %6sx CPU %6sx peak RSS %4d MB  page faults %7d\n' "$label" \
      "$(printf '%s\n' ${w[$name]} | median)" "$(printf '%s\n' ${c[$name]} | median)" $((r[$name] / 1024)) "${pf[$name]}"
  done
done

if [ -n "${BENCH_RSS:-}" ]; then
  echo "peak RSS, tracing on (every event), minute bars (budget: <= 64 MB at 10M, flat in bars):"
  for n in $BENCH_RSS; do
    csv=$(gen minute "$n")
    run on "$csv"
    run on "$csv" # the first run of a file also builds its bar cache
    printf '  %11s bars  peak RSS %4d MB  wall %6ss\n' "$n" $((rss / 1024)) "$wall"
  done
fi

[ "${BENCH_CALLGRIND:-1}" = 0 ] && exit 0
command -v valgrind >/dev/null || { echo "instructions: valgrind not installed, skipped"; exit 0; }
echo "instructions (callgrind, whole process, first 100,000 bars):"
for freq in day minute; do
  small="$tmp/$freq-100k.csv"
  head -n 100001 "$(gen "$freq" "$bars")" >"$small"
  ir() { # command... -> instruction count
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" >/dev/null 2>"$tmp/cg.err" ||
      { cat "$tmp/cg.err"; exit 1; }
    awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out"
  }
  rm -rf "$tmp/out"
  f=$(ir "$build/floor_bench" "$strategy" "$small")
  first=$(ir "$btrun" "$strategy" --data "BENCH=$small" --out "$tmp/out" --config "$tmp/off.lua")
  b=$(ir "$btrun" "$strategy" --data "BENCH=$small" --out "$tmp/out" --config "$tmp/off.lua")
  printf '  %-7s floor %6dM  btrun (tracing off) %6dM = %sx  (first run, builds the bar cache: %dM = %sx)\n' \
    "$freq" $((f / 1000000)) $((b / 1000000)) "$(awk "BEGIN{printf \"%.2f\", $b / $f}")" \
    $((first / 1000000)) "$(awk "BEGIN{printf \"%.2f\", $first / $f}")"
done
