#!/usr/bin/env bash
# bench-sweep.sh - bt.sweep's speed-up: a 9-run sweep (strategies/sma_cross.lua,
# fast 5,10,20 x slow 30,50,100) on generated daily bars, with `workers = 1` (one run
# after another) and with every core, alternated in the same invocation.
#   scripts/bench-sweep.sh [BARS] [ROUNDS]   (default 100,000 daily bars, 3 rounds)
# Prints per round the wall and CPU (user + sys) seconds of each mode and the ratio
# parallel / sequential, then the median ratio. Goal on 2 cores: <= 0.55x. On a shared
# machine wall time drifts with the neighbours' load: read the ratio of one round (both
# modes ran back to back) and the CPU times (the work done; equal CPU means no overhead).
# Load-independent: instructions (valgrind callgrind, workers=1; BENCH_CALLGRIND=0 skips)
# of each run's loop (bt_run_start) and end (bt_run_finish); each run's thread CPU time in
# its two phases (the loop, and the end:
# files, observers, report.html; the sweep's debug record sweep_run_cpu), and the ratio
# those times allow on the cores when nobody else runs, for whole runs one per worker and
# for bt.sweep's schedule, which ends runs apart from their loops
# (scripts/bench/sweep_makespan.lua).
# Uses build/btrun (built if missing; BTRUN=path overrides). NO_TRACE=1 runs with tracing
# off: every run of a process writes its events into the one event store (SQLite, one
# writer at a time), which limits the speed-up with tracing on.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-100000}"
rounds="${2:-3}"
btrun="${BTRUN:-$src/build/btrun}"
if [ -z "${BTRUN:-}" ]; then
  cmake -S "$src" -B "$src/build" >/dev/null
  cmake --build "$src/build" --target btrun -j2 >/dev/null
fi
data="$src/build/bench-data/daily-$bars.csv"
if [ ! -s "$data" ]; then
  mkdir -p "$(dirname "$data")"
  lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq day --start 1800-01-01 --out "$data.tmp"
  mv "$data.tmp" "$data"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data"
trace=""
[ -n "${NO_TRACE:-}" ] && trace=", trace = { enabled = false }"
printf 'return { log = { loggers = { sweep = "debug" } }%s }\n' "$trace" >"$tmp/conf.lua"
conf=(--config "$tmp/conf.lua")
cat >"$tmp/sweep.lua" <<LUA
local rs = bt.sweep { strategy = "$src/strategies/sma_cross.lua", data = "$data",
                      grid = { fast = { 5, 10, 20 }, slow = { 30, 50, 100 } },
                      workers = tonumber(os.getenv("W")), out = "$tmp/runs/" .. os.getenv("W") }
for _, r in ipairs(rs) do assert(r.status == "completed", r.error) end
LUA
cores=$(getconf _NPROCESSORS_ONLN)
echo "bench-sweep: 9 runs x $bars daily bars, sequential (workers=1) vs parallel (workers=$cores)${NO_TRACE:+, tracing off}"
one() { # workers -> "wall cpu"; each run's "loop_ms end_ms" appended to $tmp/phases.<workers>
  rm -rf "$tmp/runs"
  W=$1 /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$btrun" "${conf[@]}" --log-format json \
    --log-level error "$tmp/sweep.lua" >"$tmp/log"
  jq -r 'select(.event == "sweep_run_cpu") | "\(.loop_cpu_us / 1000) \(.end_cpu_us / 1000)"' \
    "$tmp/log" | awk '{ print NR, $0 }' >>"$tmp/phases.$1"
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$tmp/time"
}
ratios=()
for r in $(seq "$rounds"); do
  read -r sw sc <<<"$(one 1)"
  read -r pw pc <<<"$(one "$cores")"
  ratio=$(awk -v p="$pw" -v s="$sw" 'BEGIN { printf "%.3f", p / s }')
  ratios+=("$ratio")
  echo "round $r: sequential ${sw}s wall ${sc}s cpu | parallel ${pw}s wall ${pc}s cpu | ratio ${ratio}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
# Loops are not split: running whole runs, the busiest of W workers does ceil(9/W) of 9
# equal runs, ceil(9/W)/9 (0.556x on 2 cores). bt.sweep ends runs apart from their loops,
# where only the whole work over the cores bounds it: 1/W.
bound=$(awk -v w="$cores" 'BEGIN { n = int((9 + w - 1) / w); printf "%.3f", n / 9 }')
echo "median ratio parallel/sequential: ${median}x (goal <= 0.55x on 2 cores); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bound for 9 equal runs on $cores workers: ${bound}x as whole runs, $(awk -v w="$cores" 'BEGIN { printf "%.3f", 1 / w }')x with ends apart"
# Each phase's thread CPU time per run (with workers=1 in grid order; median over the
# rounds) and the ratio those times allow on idle cores.
read -r sl se whole split < <(lua5.4 "$src/scripts/bench/sweep_makespan.lua" "$cores" <"$tmp/phases.1")
read -r pl pe _ < <(lua5.4 "$src/scripts/bench/sweep_makespan.lua" "$cores" <"$tmp/phases.$cores")
echo "thread CPU per run: sequential loop ${sl} ms + end ${se} ms ($(awk -v l="$sl" -v e="$se" 'BEGIN { printf "%.0f", 100 * e / (l + e) }')% end); parallel loop ${pl} ms + end ${pe} ms"
echo "ratio these sequential times allow on $cores idle cores: ${whole}x running whole runs, ${split}x with bt.sweep's schedule (ends apart from loops)"
[ "${BENCH_CALLGRIND:-1}" = 0 ] && exit 0
command -v valgrind >/dev/null || { echo "instructions: valgrind not installed, skipped"; exit 0; }
rm -rf "$tmp/runs"
W=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$btrun" "${conf[@]}" --log-level error \
  "$tmp/sweep.lua" >/dev/null 2>"$tmp/cg.err" || { cat "$tmp/cg.err"; exit 1; }
read -r total loop end < <(callgrind_annotate --inclusive=yes "$tmp/cg.out" | tr -d , | awk '
  /PROGRAM TOTALS/ { t = $1 }
  /^ *[0-9]+ \([0-9.]+%\) +[^ ]*run\.c:bt_run_start \[/ { l = $1 }
  /^ *[0-9]+ \([0-9.]+%\) +[^ ]*run\.c:bt_run_finish \[/ { e = $1 }
  END { print t, l, e }')
read -r il ie iwhole isplit < <(for i in $(seq 9); do echo "$i $((loop / 9000000)) $((end / 9000000))"; done |
  lua5.4 "$src/scripts/bench/sweep_makespan.lua" "$cores")
echo "instructions (callgrind, workers=1): $((total / 1000000))M in all; per run loop ${il}M + end ${ie}M ($(awk -v l="$il" -v e="$ie" 'BEGIN { printf "%.0f", 100 * e / (l + e) }')% end); 9 such runs on $cores idle cores: ${iwhole}x as whole runs, ${isplit}x with bt.sweep's schedule"
