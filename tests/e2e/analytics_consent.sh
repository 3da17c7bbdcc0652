#!/usr/bin/env bash
# Opted-out users' events never leave the machine (not even spooled ones);
# analytics.enabled = false turns everything off.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
cp -r "$BTRUN_SRC/strategies" "$T/strategies"
run() { "$BTRUN" strategies/sma_cross.lua --out "$T/o" --log-format json --user-id "$@" > /dev/null; }
start_server

"$BTRUN" analytics opt-out alice | grep -q "alice opted out" || fail "opt-out output"
"$BTRUN" analytics opt-out alice | grep -q "no change" || fail "repeated opt-out"
run alice
run bob
py '
ids = {e["distinct_id"] for e in ev}
assert ids == {"bob"}, ids
assert not any(e["properties"].get("user_id") == "alice" for e in ev)
'
grep -rq alice "$T/data/analytics/spool" && fail "opted-out events were written to the spool"
"$BTRUN" analytics status | grep -q "^  alice$" || fail "status lists opted-out users"
pass "opted-out user never sent, never spooled"

"$BTRUN" analytics opt-in alice | grep -q "alice opted in" || fail "opt-in output"
run alice
py '
assert any(e["distinct_id"] == "alice" for e in ev)
'
pass "opt-in restores tracking"

# Spooled while opted in, opted out before delivery: still never sent.
stop_server
rm -f "$T/ev.jsonl"
PORT=$(free_port)
export POSTHOG_HOST="http://127.0.0.1:$PORT"
run carol
"$BTRUN" analytics status | grep -q "spool: *[1-9]" || fail "carol's events should be spooled"
# The server is back before the opt-out: even the opt-out command itself (which adopts
# and flushes the spool at exit, like every btrun process) must not send carol's events.
start_server --port "$PORT"
"$BTRUN" analytics opt-out carol > /dev/null
"$BTRUN" analytics flush > /dev/null || fail "flush"
py '
assert not any(e["distinct_id"] == "carol" for e in ev), "spooled events of an opted-out user were sent"
'
"$BTRUN" analytics status | grep -q "spool: *0 event" || fail "opted-out spool entries not discarded"
pass "spooled events of a user who opted out meanwhile are discarded"

cat > "$T/off.lua" <<'LUA'
return { analytics = { enabled = false } }
LUA
rm -f "$T/ev.jsonl"
"$BTRUN" strategies/sma_cross.lua --config "$T/off.lua" --out "$T/o" --user-id dave --log-format json --log-level debug > "$T/off.log"
grep -q '"analytics_disabled".*enabled = false' "$T/off.log" || fail "disabled record"
sleep 0.2
py '
assert ev == [], ev
'
pass "analytics.enabled = false sends nothing"

cat > "$T/badkey.lua" <<'LUA'
return { analytics = { batch_sise = 10 } }
LUA
"$BTRUN" strategies/sma_cross.lua --config "$T/badkey.lua" --out "$T/o" > "$T/bad.out" 2>&1 && fail "unknown key accepted"
grep -q "analytics.batch_sise" "$T/bad.out" || { cat "$T/bad.out"; fail "error must name the key"; }
pass "unknown analytics config key is an error naming it"
