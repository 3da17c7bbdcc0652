#!/usr/bin/env bash
# The bar cache end to end: a run from the cache writes byte-identical trades.jsonl,
# equity.csv and result.json figures to a run from the CSV; --no-cache and config
# bar_cache = false bypass it; `btrun cache path|clear`; a sweep's runs build it once.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
CACHE="$BTRUN_DATA_DIR/cache/bars"
printf 'return { bar_cache_min_bytes = 0 }\n' >"$T/cache.lua"
printf 'return { bar_cache_min_bytes = 0, bar_cache = false }\n' >"$T/off.lua"
DATA="$FIX/walk-300.csv"
ncache() { find "$CACHE" -name '*.bars' 2>/dev/null | wc -l; }

# 1. First run builds the cache, the second reads it, --no-cache parses the CSV.
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --data "$DATA" --out "$T/built"
[ -n "$(log_event bar_cache_built)" ] || fail "first run: bar_cache_built"
eq "$(ncache)" 1 "one cache file"
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --data "$DATA" --out "$T/cached"
[ -z "$(log_event bar_cache_built)" ] || fail "second run: no rebuild"
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --no-cache --data "$DATA" --out "$T/csv"
for d in built cached; do
  same_trades "$T/$d/trades.jsonl" "$T/csv/trades.jsonl" || fail "$d: trades.jsonl differs from the CSV run"
  cmp -s "$T/$d/equity.csv" "$T/csv/equity.csv" || fail "$d: equity.csv differs from the CSV run"
  f='del(.run_id, .correlation_id, .out_dir, .started_at, .completed_at, .duration_ms, .wall_ms, .bars_per_s)'
  cmp -s <(jq -S "$f" "$T/$d/result.json") <(jq -S "$f" "$T/csv/result.json") ||
    fail "$d: result.json differs from the CSV run"
done
[ "$(jq -r .trades "$T/csv/result.json")" -gt 0 ] || fail "the runs trade"
ok "a run from the cache is byte-identical to a run from the CSV"

# 2. The cache file is damaged: the run is still right (read around from the CSV), and
#    the next run rebuilds it.
f=$(find "$CACHE" -name '*.bars')
printf '\x7f' | dd of="$f" bs=1 seek=$((4096 + 100)) conv=notrunc status=none
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --data "$DATA" --out "$T/damaged"
[ -n "$(log_event bar_cache_corrupt)" ] || fail "damaged cache: bar_cache_corrupt warning"
same_trades "$T/damaged/trades.jsonl" "$T/csv/trades.jsonl" || fail "damaged cache: trades differ"
cmp -s "$T/damaged/equity.csv" "$T/csv/equity.csv" || fail "damaged cache: equity differs"
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --data "$DATA" --out "$T/rebuilt"
[ -n "$(log_event bar_cache_built)" ] || fail "after damage: rebuilt"
ok "a damaged cache is detected, read around and rebuilt"

# 3. btrun cache path / clear; bar_cache = false writes nothing.
eq "$("$BTRUN" cache path)" "$CACHE" "cache path"
eq "$("$BTRUN" cache clear)" "removed 1 cache file from $CACHE" "cache clear"
eq "$(ncache)" 0 "cleared"
bt_ok strategies/sma_cross.lua --config "$T/off.lua" --data "$DATA" --out "$T/off"
eq "$(ncache)" 0 "bar_cache = false: no cache file"
bt_ok strategies/sma_cross.lua --config "$T/cache.lua" --no-cache --data "$DATA" --out "$T/off2"
eq "$(ncache)" 0 "--no-cache: no cache file"
set +e; "$BTRUN" cache frob >/dev/null 2>"$T/err.log"; RC=$?; set -e
eq "$RC" 1 "cache: unknown action"
ok "btrun cache path/clear, --no-cache, bar_cache = false"

# 4. A sweep's runs share one cache: built once for four runs.
cat >"$T/sweep.lua" <<LUA
local rs = bt.sweep { strategy = "strategies/sma_cross.lua", data = "$DATA", workers = 2,
                      grid = { fast = { 3, 5 }, slow = { 8, 12 } }, write_files = false }
for _, r in ipairs(rs) do assert(r.status == "completed", r.error) end
LUA
bt_ok --config "$T/cache.lua" "$T/sweep.lua"
eq "$(grep -c '"event":"bar_cache_built"' "$T/out.log")" 1 "one build for the sweep"
ok "a sweep builds the cache once"
