#!/usr/bin/env bash
# bench-pg.sh - btrun on PostgreSQL (docs/postgresql.md), on a throwaway local cluster
# (tests/tools/pg.sh) unless BENCH_DB names one:
#   1. the queue: empty jobs claimed and finished per second with 1, 2 and 4 claimers
#      (btrun db bench; goal >= 1,000/s), claim latency p50/p99
#   2. a sweep of SWEEP_RUNS (100) backtests through the queue with 2 workers, against
#      the same sweep run locally one after another (scripts/sweep.lua): the ratio
#   3. the events of one traced run of BARS (1,000,000) bars: written into the local
#      SQLite store (the run itself) then copied into PostgreSQL (btrun db sync), and
#      read back (btrun events list) from SQLite and from PostgreSQL: events/s
#   scripts/bench-pg.sh [build/btrun]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
btrun=$(realpath "${1:-$src/build/btrun}")
bars=${BARS:-1000000}
sweep_runs=${SWEEP_RUNS:-100}
tmp=$(mktemp -d /tmp/bench-pg.XXXXXX)
export BTRUN_LOG_LEVEL=error BTRUN_DATA_DIR="$tmp/data"
unset BTRUN_DB POSTHOG_API_KEY
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${PG_DIR:-}" ] && bash "$src/tests/tools/pg.sh" stop "$PG_DIR"
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${BENCH_DB:-}" ]; then
  url=$BENCH_DB
else
  eval "$(bash "$src/tests/tools/pg.sh" start --owner-pid $$ | sed 's/^/export /')"
  url=$PG_URL
fi
secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
now() { date +%s.%N; }

echo "== 1. queue: empty jobs claimed and finished (btrun db bench)"
for w in 1 2 4; do "$btrun" db bench --db "$url" --jobs 3000 --workers "$w" | tail -1; done

echo "== 2. a $sweep_runs-run sweep: through the queue (2 workers) vs locally in sequence"
if grep -q -- "--queue" "$src/scripts/sweep.lua"; then
  cd "$src"
  fasts=$(seq -s, 2 11)   # 10 x 10 = 100 runs (every fast < slow)
  slows=$(seq -s, 20 10 110)
  t0=$(now)
  "$btrun" scripts/sweep.lua --param "fast=$fasts" --param "slow=$slows" --out "$tmp/local" >/dev/null
  t1=$(now)
  for i in 1 2; do
    "$btrun" worker --db "$url" --concurrency 1 --data-dir "$tmp/w$i" >/dev/null 2>&1 &
    pids+=($!)
  done
  t2=$(now)
  "$btrun" scripts/sweep.lua --param "fast=$fasts" --param "slow=$slows" -- --queue "$url" >/dev/null
  t3=$(now)
  python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
local, queued = t1 - t0, t3 - t2
print(f"local sequential {local:.2f} s, through the queue with 2 workers {queued:.2f} s: "
      f"ratio {local / queued:.2f}x")
PY
else
  echo "(skipped: scripts/sweep.lua has no --queue flag in this build)"
fi

echo "== 3. events of one traced run of $bars bars: SQLite vs PostgreSQL"
data="$tmp/bars.csv"
lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data"
# The run writes SQLite (its own store); the database is unreachable, so the run is
# spooled, and `btrun db sync` then copies it: the PostgreSQL write on its own.
t0=$(now)
BTRUN_DB="postgresql://nobody@127.0.0.1:1/none" "$btrun" "$src/strategies/sma_cross.lua" \
  --data "$data" --out "$tmp/run" >/dev/null 2>&1
t1=$(now)
run=$(ls "$BTRUN_DATA_DIR/events.db.pg-spool")
events=$("$btrun" runs show "$run" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_stored"])')
t2=$(now)
BTRUN_DB="$url" "$btrun" db sync >/dev/null
t3=$(now)
"$btrun" events list --run "$run" --format csv >/dev/null
t4=$(now)
"$btrun" events list --run "$run" --format csv --db "$url" >/dev/null
t5=$(now)
python3 - "$events" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" <<'PY'
import sys
n = int(sys.argv[1]); t = list(map(float, sys.argv[2:]))
run, sync, local_read, pg_read = t[1] - t[0], t[3] - t[2], t[4] - t[3], t[5] - t[4]
print(f"{n} events stored")
print(f"write: SQLite (the whole traced run) {run:.2f} s = {n / run:,.0f} events/s; "
      f"copy into PostgreSQL {sync:.2f} s = {n / sync:,.0f} events/s")
print(f"read (events list --format csv): SQLite {local_read:.2f} s = {n / local_read:,.0f} events/s; "
      f"PostgreSQL {pg_read:.2f} s = {n / pg_read:,.0f} events/s")
PY
