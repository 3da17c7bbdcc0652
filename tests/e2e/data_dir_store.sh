#!/usr/bin/env bash
# --data-dir moves the event store (docs/cli.md): the tracer opens <data_dir>/events.db
# as it is when the run starts, not as it was when the config was read, so a run with
# --data-dir B (and BTRUN_DATA_DIR=A) traces into B and leaves A alone; a store named in
# the config stays where the config says.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
A="$T/a" B="$T/b"
export BTRUN_DATA_DIR="$A"

bt_ok strategies/sma_cross.lua --data-dir "$B" --out "$T/run1"
[ -f "$B/events.db" ] || fail "no event store in the --data-dir ($B)"
[ ! -e "$A/events.db" ] || fail "the run traced into BTRUN_DATA_DIR ($A) despite --data-dir"
run_id=$(res "$T/run1" .run_id)
BTRUN_DATA_DIR="$B" "$BTRUN" events list --run "$run_id" --limit 1 > "$T/events.txt"
has "$T/events.txt" "$run_id" "events of the run are in the --data-dir store"
ok "--data-dir moves the event store"

printf 'return { trace = { store = "%s/named.db" } }\n' "$T" > "$T/cfg.lua"
bt_ok strategies/sma_cross.lua --config "$T/cfg.lua" --data-dir "$B" --out "$T/run2"
[ -f "$T/named.db" ] || fail "a store named in the config was not used"
ok "a store named in the config stays there"
