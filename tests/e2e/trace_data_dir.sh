#!/usr/bin/env bash
# trace_data_dir.sh - `btrun events|trace|runs ... --data-dir DIR` read the default store
# of DIR (DIR/events.db), the one a backtest given the same --data-dir writes, over
# BTRUN_DATA_DIR; --store still names a file; a config's trace.store stays where it is
# for both; --data-dir is in every command's --help; an empty one is refused.
source "$(dirname "$0")/../fixtures/core/lib.sh"
d1="$T/d1" d2="$T/d2"
for i in 1 2; do
  "$BTRUN" --log-level error strategies/sma_cross.lua --data "$FIX/walk-300.csv" \
    --param fast=3 --param slow=8 --data-dir "$d1" --out "$T/run$i" >"$T/run.log" 2>&1 ||
    { cat "$T/run.log"; fail "backtest $i with --data-dir failed"; }
done
[ -s "$d1/events.db" ] || fail "the backtest wrote no $d1/events.db"
[ ! -e "$BTRUN_DATA_DIR/events.db" ] || fail "the backtest wrote into BTRUN_DATA_DIR"
run=$(jq -r .run_id "$T/run2/result.json")

# every store command reads DIR/events.db
"$BTRUN" runs list --data-dir "$d1" --format jsonl >"$T/list" || fail "runs list --data-dir"
eq "$(wc -l <"$T/list")" 2 "runs in $d1"
"$BTRUN" runs list >"$T/none" || fail "runs list without --data-dir"
has "$T/none" "no runs: no event store at $BTRUN_DATA_DIR/events.db" "the default data dir is untouched"
"$BTRUN" runs show latest --data-dir "$d1" --format json | jq -e --arg r "$run" '.run_id == $r' \
  >/dev/null || fail "runs show --data-dir"
"$BTRUN" events list --run latest --data-dir "$d1" --type FILL --format jsonl >"$T/fills"
[ -s "$T/fills" ] && jq -e --arg r "$run" '.event_id | startswith($r + ":")' "$T/fills" >/dev/null ||
  fail "events list --data-dir: $(head -2 "$T/fills")"
seq=$(head -1 "$T/fills" | jq -r .seq)
"$BTRUN" trace lineage --data-dir "$d1" "latest:$seq" >"$T/tree" || fail "trace lineage --data-dir"
has "$T/tree" '\* FILL' "lineage of the FILL"
"$BTRUN" trace latency --run latest --data-dir "$d1" >"$T/lat" || fail "trace latency --data-dir"
has "$T/lat" "FILL" "latency table"
"$BTRUN" runs compare latest "$(jq -r .run_id "$T/run1/result.json")" --data-dir "$d1" >"$T/cmp" ||
  fail "runs compare --data-dir"
# the option may stand anywhere after the subcommand; --store names a file and wins
"$BTRUN" events list --data-dir "$d1" --run latest --limit 1 >/dev/null || fail "--data-dir first"
"$BTRUN" runs list --data-dir "$T/nowhere" --store "$d1/events.db" --format jsonl >"$T/st"
eq "$(wc -l <"$T/st")" 2 "--store with --data-dir"
# prune works on that store
"$BTRUN" events prune --keep-runs 1 --data-dir "$d1" >/dev/null || fail "events prune --data-dir"
eq "$("$BTRUN" runs list --data-dir "$d1" --format jsonl | wc -l)" 1 "runs after prune"

# a configured trace.store stays where it is, for the backtest and for the commands
printf 'return { trace = { store = "%s" } }\n' "$T/fixed.db" >"$T/conf.lua"
"$BTRUN" --log-level error --config "$T/conf.lua" strategies/sma_cross.lua --data "$FIX/walk-300.csv" \
  --data-dir "$d2" --out "$T/run3" >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "configured run"; }
[ -s "$T/fixed.db" ] && [ ! -e "$d2/events.db" ] || fail "trace.store moved with --data-dir"
eq "$("$BTRUN" runs list --config "$T/conf.lua" --data-dir "$d2" --format jsonl | wc -l)" 1 \
  "runs list of the configured store"

# refused when empty; documented in each command's help
"$BTRUN" runs list --data-dir "" >"$T/out" 2>"$T/err" && fail "an empty --data-dir was accepted"
has "$T/err" "--data-dir: empty" "empty --data-dir message"
for c in events trace runs; do
  "$BTRUN" "$c" --help >"$T/help" || fail "$c --help"
  has "$T/help" "--data-dir DIR" "$c --help mentions --data-dir"
done
ok "events, trace and runs read <--data-dir>/events.db"
