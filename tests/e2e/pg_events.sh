#!/usr/bin/env bash
# Runs and their events in PostgreSQL (BTRUN_DB): a run on one "machine" (data dir) is
# read whole from another (runs list/show, events list, trace lineage and latency give
# what the local store gives); the run tables hold the tracing plan's columns; the
# password never shows; with the database down the run completes, is spooled, and
# `btrun db sync` copies it later, once.
set -euo pipefail
: "${BTRUN:?}" "${MARKET_DATA:?}"
source "$BTRUN_SRC/tests/tools/pg.sh"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/pg_events.XXXXXX")
trap 'pg_stop; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export BTRUN_LOG_LEVEL=warning
unset BTRUN_DB
pg_start
data="$MARKET_DATA/orcl-1995-2014.txt"

# Machine A runs a backtest with the database set.
BTRUN_DATA_DIR="$tmp/a" BTRUN_DB="$PG_URL" "$BTRUN" strategies/sma_cross.lua --data "$data" \
  --out "$tmp/run1" >"$tmp/a.out" 2>&1 || { cat "$tmp/a.out"; fail "run on A"; }
run=$(BTRUN_DATA_DIR="$tmp/a" "$BTRUN" runs list --format jsonl --limit 1 |
  sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
[ -n "$run" ] || fail "no run in A's local store"
[ "$(pg_sql -c "select status from backtest_analytics.backtest_runs where run_id = '$run'")" = completed ] ||
  fail "backtest_runs row"
row=$(pg_sql -c "select strategy_type, total_trades > 0, event_count > 5036, sharpe_ratio is not null,
  max_drawdown between 0 and 1, completed_at > created_at, event_storage_path, user_id is null
  from backtest_analytics.backtest_runs where run_id = '$run'")
[ "$row" = "sma_cross|t|t|t|t|t|postgresql:btrun.event_chunks|t" ] || fail "row: $row"
[ "$(pg_sql -c "select count(*) > 0 from backtest_analytics.event_latencies where run_id = '$run'
  and event_type = 'BAR' and p95_latency_ms >= 0 and event_count = 5036")" = t ] ||
  fail "event_latencies"

# Machine B has no local store: it reads A's run from the database, as A reads it locally.
for cmd in "runs show $run --format json" "events list --run ${run:0:8} --format jsonl" \
  "events list --run $run --type ORDER,FILL --format csv" "trace latency --run $run --format json"; do
  BTRUN_DATA_DIR="$tmp/a" "$BTRUN" $cmd >"$tmp/local" || fail "local: $cmd"
  BTRUN_DATA_DIR="$tmp/b" "$BTRUN" $cmd --db "$PG_URL" >"$tmp/remote" || fail "remote: $cmd"
  if [ "${cmd%% *}" = runs ]; then
    # size_bytes is the local store's disk usage: null when read from the database
    jq -e '.size_bytes > 0' "$tmp/local" >/dev/null && jq -e '.size_bytes == null' "$tmp/remote" >/dev/null ||
      fail "size_bytes: local $(jq .size_bytes "$tmp/local"), database $(jq .size_bytes "$tmp/remote")"
    cmp <(jq -S 'del(.size_bytes)' "$tmp/local") <(jq -S 'del(.size_bytes)' "$tmp/remote") || fail "runs show differs"
  elif [ "${cmd%% *}" = trace ]; then # latency goes through milliseconds (double): to 1/1000 ns
    round='walk(if type == "number" then (. * 1000 | round) else . end)'
    cmp <(jq -S "$round" "$tmp/local") <(jq -S "$round" "$tmp/remote") || fail "latency differs"
  else
    cmp "$tmp/local" "$tmp/remote" || { diff "$tmp/local" "$tmp/remote" | head; fail "$cmd differs"; }
  fi
done
[ "$(wc -l <"$tmp/remote")" -ge 1 ] || fail "empty output"
fill=$(BTRUN_DATA_DIR="$tmp/a" "$BTRUN" events list --run "$run" --type FILL --format jsonl |
  head -1 | jq -r .event_id)
BTRUN_DATA_DIR="$tmp/a" "$BTRUN" trace lineage "$fill" >"$tmp/local"
BTRUN_DATA_DIR="$tmp/b" BTRUN_DB="$PG_URL" "$BTRUN" trace lineage "$fill" >"$tmp/remote"
cmp "$tmp/local" "$tmp/remote" || fail "lineage differs"
grep -q "FILL" "$tmp/remote" && grep -q "ORDER" "$tmp/remote" || fail "lineage content"
BTRUN_DATA_DIR="$tmp/b" "$BTRUN" runs list --db "$PG_URL" >"$tmp/list"
grep -q "^$run  completed" "$tmp/list" || { cat "$tmp/list"; fail "runs list --db"; }
[ ! -e "$tmp/b/events.db" ] || fail "B wrote a local store"
ls "${TMPDIR:-/tmp}"/btrun-db.* >/dev/null 2>&1 && fail "temporary copies left behind"

# The password shows nowhere: not in outputs, errors, or a refused connection.
bad="postgresql://postgres:wrong-$PG_PASSWORD@127.0.0.1:$PG_PORT/btrun"
BTRUN_DATA_DIR="$tmp/b" "$BTRUN" runs list --db "$bad" >"$tmp/bad.out" 2>&1 && fail "wrong password accepted"
grep -q "password authentication failed" "$tmp/bad.out" || fail "no reason given: $(cat "$tmp/bad.out")"
cat "$tmp"/*.out "$tmp/list" | grep -q "$PG_PASSWORD" && fail "password printed"
BTRUN_DATA_DIR="$tmp/b" "$BTRUN" db status --db "$PG_URL" >"$tmp/status.out"
grep -q "schema    version 3" "$tmp/status.out" || fail "db status: $(cat "$tmp/status.out")"
grep -q "$PG_PASSWORD" "$tmp/status.out" && fail "password in db status"

# The database goes away: the run still completes, is spooled, and is copied by sync.
bash "$PG_SH" kill "$PG_DIR"
BTRUN_DATA_DIR="$tmp/a" BTRUN_DB="$PG_URL" BTRUN_LOG_FORMAT=json "$BTRUN" strategies/sma_cross.lua \
  --data "$data" --out "$tmp/run2" >"$tmp/down.out" 2>&1 || { cat "$tmp/down.out"; fail "run with the database down"; }
grep -q '"pg_unavailable"' "$tmp/down.out" || fail "no pg_unavailable warning"
grep -q "$PG_PASSWORD" "$tmp/down.out" && fail "password in the warning"
[ "$(ls "$tmp/a/events.db.pg-spool" | wc -l)" = 1 ] || fail "not spooled"
run2=$(ls "$tmp/a/events.db.pg-spool")
bash "$PG_SH" up "$PG_DIR"
BTRUN_DATA_DIR="$tmp/a" BTRUN_DB="$PG_URL" "$BTRUN" db sync | grep -qx "copied 1 spooled run(s), 0 left" ||
  fail "db sync"
BTRUN_DATA_DIR="$tmp/a" BTRUN_DB="$PG_URL" "$BTRUN" db sync | grep -qx "copied 0 spooled run(s), 0 left" ||
  fail "db sync twice"
BTRUN_DATA_DIR="$tmp/a" "$BTRUN" events list --run "$run2" --format csv >"$tmp/local"
BTRUN_DATA_DIR="$tmp/b" "$BTRUN" events list --run "$run2" --format csv --db "$PG_URL" >"$tmp/remote"
cmp "$tmp/local" "$tmp/remote" || fail "the synced run differs"
[ "$(pg_sql -c "select count(*) from backtest_analytics.backtest_runs")" = 2 ] || fail "run count"
echo "ok: runs and events through PostgreSQL"
