#!/usr/bin/env bash
# A data file truncated while a run reads it (issue 11, item 6): an I/O error naming the
# file (exit 1, result.json failed), never a SIGBUS; the store marks the run failed.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
lua5.4 scripts/gen_bars.lua --bars 200000 --freq minute --seed 3 --out "$T/bars.csv"
cat >"$T/slow.lua" <<'LUA'
local s = {}
function s.on_bar() for _ = 1, 3000 do end end
return s
LUA
set +e
# --no-cache: the CSV reader itself (from the bar cache the CSV is not read during the run)
"$BTRUN" --log-format json --no-cache "$T/slow.lua" --data "$T/bars.csv" --out "$T/run" >"$T/out.log" 2>"$T/err.log" &
pid=$!
sleep 0.5
truncate -s 20000 "$T/bars.csv"
wait "$pid"
RC=$?
set -e
no_sanitizer_report "truncated data"
[ "$RC" -ne 135 ] || fail "killed by SIGBUS"
[ "$RC" -eq 1 ] || { tail -3 "$T/out.log" >&2; fail "exit $RC (the run may have finished before the truncation)"; }
eq "$(res "$T/run" .status)" failed "status"
eq "$(res "$T/run" .error.type)" io_error "error type"
res "$T/run" .error.message | grep -q "bars.csv.*truncated while it was read" \
  || fail "message: $(res "$T/run" .error.message)"
ok "a data file truncated under the run is an I/O error naming it"
