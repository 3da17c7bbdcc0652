#!/usr/bin/env bash
# bt.sweep: the ends of runs (observers' on_end: here the report render) are not
# serialised. Two runs on two workers render their report.html at the same time: each
# render (a format script from perf.formats_dir) opens a FIFO for reading and reads it to
# the end; this test holds both FIFOs open for writing at once, which is possible only
# while both renders wait in them. With ends serialised (a lock around the report
# observer, one formats state for all, one thread finishing runs) the second render
# never starts while the first waits, and the opens time out.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

mkdir -p "$T/formats"
mkfifo "$T/formats/gate1" "$T/formats/gate2"
cat >"$T/formats/run_report.lua" <<LUA
return function(d)
  local k = d.result.params.k
  local f = assert(io.open("$T/formats/gate" .. k, "r"))
  f:read("a")
  f:close()
  return "report k=" .. k .. "\n"
end
LUA
printf 'return { perf = { formats_dir = "%s" } }\n' "$T/formats" >"$T/conf.lua"
cat >"$T/k.lua" <<'LUA'
return { params = { k = 0 }, on_bar = function() end }
LUA
cat >"$T/sweep.lua" <<LUA
local rs = bt.sweep { strategy = "$T/k.lua", data = "$FIX/walk-300.csv", grid = { k = { 1, 2 } },
                      workers = 2, out = "$T/runs" }
for _, r in ipairs(rs) do assert(r.status == "completed", r.error) end
LUA
"$BTRUN" --config "$T/conf.lua" --log-format json "$T/sweep.lua" >"$T/out.log" 2>"$T/err.log" &
pid=$!
overlap=0
timeout 30 bash -c 'exec 3>"$1" 4>"$2"' _ "$T/formats/gate1" "$T/formats/gate2" && overlap=1
if [ "$overlap" = 0 ]; then # let the renders still waiting go, one after the other
  for g in 1 2; do timeout 30 bash -c 'exec 3>"$1"' _ "$T/formats/gate$g" || true; done
fi
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fail "the sweep did not end"; fi
set +e; wait "$pid"; RC=$?; set -e
no_sanitizer_report "(sweep ends)"
[ "$RC" -eq 0 ] || { cat "$T/err.log" >&2; fail "the sweep exited $RC"; }
eq "$overlap" 1 "two runs' report renders in progress at once"
eq "$(cat "$T/runs/k1/report.html")" "report k=1" "k1 report.html"
eq "$(cat "$T/runs/k2/report.html")" "report k=2" "k2 report.html"
ok "a sweep's runs render their reports at the same time"
