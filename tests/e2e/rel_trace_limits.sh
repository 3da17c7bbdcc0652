#!/usr/bin/env bash
# Traced payloads and strings (issue 11, items 10 and 11): an event's data is bounded
# (BT_TRACE_PAYLOAD_MAX, 64 KiB as JSON) with a clear error; large payloads in flight are
# bounded too, so a strategy tracing big data runs in bounded memory; strings are
# length-counted: print and bt.trace keep bytes after a NUL (JSON \u0000), an event type
# with a NUL is refused.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
S="$T/s.lua"
cat >"$S" <<'LUA'
local s = { params = { mode = "" } }
function s.on_bar(ctx)
  local m = ctx.params.mode
  if m == "blob" then
    bt.trace.emit("blob", { s = string.rep("x", 1 << 20) })
  elseif m == "big" then
    bt.trace.emit("big", { s = string.rep("y", 60000) }) -- under the limit, every bar
  elseif m == "nul" then
    print("a\0b", 42)
    bt.trace.signal { v = "x\0y" }
    bt.trace.emit("tick", { note = string.rep("z", 300) .. "\0end" })
  elseif m == "nultype" then
    bt.trace.emit("ti\0ck", {})
  end
end
return s
LUA
lua5.4 scripts/gen_bars.lua --bars 3000 --out "$T/bars.csv"

bt "$S" --data "$T/bars.csv" --param mode=blob --out "$T/blob"
[ "$RC" -eq 1 ] || fail "1 MB payload: exit $RC"
has "$T/blob/result.json" "more than the limit of 65536 bytes" "payload limit message"
ok "a 1 MB traced payload is refused with a clear error"

t0=$(date +%s)
bt_ok "$S" --data "$T/bars.csv" --param mode=big --out "$T/big" --max-memory 64M --correlation-id big
rid=$(res "$T/big" .run_id)
n=$("$BTRUN" events list --run "$rid" --type big --format jsonl 2>/dev/null | wc -l)
eq "$n" 3000 "every 60 KB payload stored"
ok "3000 payloads of 60 KB traced and stored ($(($(date +%s) - t0)) s)"

bt_ok "$S" --data "$FIX/up5.csv" --param mode=nul --out "$T/nul" --correlation-id nul
grep -F '"event":"print"' "$T/out.log" | grep -qF '"message":"a\u0000b\t42"' \
  || { grep -F '"event":"print"' "$T/out.log" >&2; fail "print lost the bytes after NUL"; }
"$BTRUN" events list --correlation nul --format jsonl >"$T/ev.jsonl" 2>/dev/null
grep -F '"SIGNAL"' "$T/ev.jsonl" | grep -qF 'x\u0000y' || { cat "$T/ev.jsonl" | head -3 >&2; fail "signal value cut at NUL"; }
grep -qF 'z\u0000end' "$T/ev.jsonl" || fail "emit data cut at NUL"
bt "$S" --data "$FIX/up5.csv" --param mode=nultype --out "$T/nt"
[ "$RC" -eq 1 ] && has "$T/nt/result.json" "without NUL" "NUL in an event type refused"
ok "NUL bytes are kept (JSON \\u0000) in print and traced data; refused in a type name"
