#!/usr/bin/env bash
# Risk limits (config `risk`): crossing one publishes a RISK_BREACH event caused by the
# bar, logs risk_breach, calls on_risk(ctx, info) and counts it in result.json; orders
# placed in on_risk are caused by the breach; every fill is followed by a PORTFOLIO event.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# The test strategy dofile()s strategies/sma_cross.lua, outside its directory: trusted.
export BTRUN_TRUST_STRATEGIES=1

cat >"$T/risk.lua" <<'LUA'
return { risk = { max_position_value = 9000 } }
LUA
cat >"$T/strat.lua" <<'LUA'
local s = dofile("strategies/sma_cross.lua")
s.on_risk = function(ctx, info)
  assert(info.rule == "max_position_value" and info.actual > info.limit, "breach info")
  assert(bt.trace.current() == info.event_id, "orders now are caused by the breach")
  ctx:close()
end
return s
LUA
bt_ok "$T/strat.lua" --config "$T/risk.lua" --out "$T/run"
n=$(res "$T/run" .risk_breaches)
[ "$n" -gt 0 ] || fail "no risk breach counted"
eq "$(grep -c '"event":"risk_breach"' "$T/out.log")" "$n" "one risk_breach record per breach"
rid=$(res "$T/run" .run_id)
"$BTRUN" events list --run "$rid" --type RISK_BREACH --format jsonl 2>/dev/null >"$T/breaches.jsonl"
eq "$(wc -l <"$T/breaches.jsonl")" "$n" "RISK_BREACH events stored"
first=$(head -1 "$T/breaches.jsonl")
eq "$(jq -r .data.rule <<<"$first")" max_position_value "breach rule"
cause=$(jq -r .causation_id <<<"$first")
eq "$("$BTRUN" events list --run "$rid" --format jsonl 2>/dev/null | jq -r --arg c "$cause" 'select(.event_id==$c) | .event_type')" \
  BAR "a breach is caused by its bar"
# the close placed in on_risk: its ORDER is caused by the breach, its FILL by the ORDER
"$BTRUN" trace lineage "$(jq -r .event_id <<<"$first")" --format json 2>/dev/null >"$T/lineage.json"
jq -e '[.. | objects | select(has("event_type")) | .event_type] | index("ORDER") and index("FILL") and index("PORTFOLIO")' \
  "$T/lineage.json" >/dev/null || fail "breach -> ORDER -> FILL -> PORTFOLIO lineage: $(head -c 600 "$T/lineage.json")"
fills=$("$BTRUN" events list --run "$rid" --type FILL --format csv 2>/dev/null | tail -n +2 | wc -l)
ports=$("$BTRUN" events list --run "$rid" --type PORTFOLIO --format csv 2>/dev/null | tail -n +2 | wc -l)
eq "$ports" "$fills" "one PORTFOLIO event per fill"
ok "risk breach: event, record, on_risk, lineage; PORTFOLIO per fill"

# a drawdown limit the sample run crosses once per episode
printf 'return { risk = { max_drawdown = 0.01 } }\n' >"$T/dd.lua"
bt_ok strategies/sma_cross.lua --config "$T/dd.lua" --out "$T/dd"
[ "$(res "$T/dd" .risk_breaches)" -gt 0 ] || fail "drawdown breach"
ok "max_drawdown breach"

for bad in 'risk = { max_drawdown = 1.5 }' 'risk = { max_drawdwn = 0.1 }' 'risk = 3'; do
  printf 'return { %s }\n' "$bad" >"$T/bad.lua"
  bt strategies/sma_cross.lua --config "$T/bad.lua" --out "$T/bad"
  eq "$RC" 1 "bad risk config ($bad): exit code"
  has "$T/err.log" "risk" "bad risk config ($bad) names the key"
done
ok "bad risk configs are errors naming the key"
