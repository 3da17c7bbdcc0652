#!/usr/bin/env bash
# A Lua error in a strategy becomes one backtest_failed record whose `exception`
# holds the error type, message and traceback frames that point at the strategy
# file and the line that raised, plus the bar being processed; the run is marked
# failed. Also: records from bt.log in the strategy carry the run's context, a
# bt.log.scoped binding does not leak into the failure record, and a failing script
# gets the same structured exception.
set -u
T=$(mktemp -d "${BT_TEST_TMP:-/tmp}/log_traceback.XXXXXX")
export BTRUN_DATA_DIR="$T/data"
unset BTRUN_LOG_LEVEL BTRUN_LOG_FORMAT BTRUN_CONFIG
cd "$BTRUN_SRC"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ev() { jq -c --arg e "$2" 'select(.event == $e)' "$1"; }

S="$T/strategies/exploding.lua"
mkdir -p "$(dirname "$S")"
cat >"$S" <<'EOF'
local M = {}

local function check(bar)
  if M.n == 5 then
    local t = nil
    return t.missing
  end
end

function M.on_bar(ctx, bar)
  M.n = (M.n or 0) + 1
  bt.log.info("bar_seen", { n = M.n, access_token = "SECRET_TOKEN_VALUE" })
  bt.log.scoped({ phase = "check" }, check, bar)
end

return M
EOF
# Lines of interest: 6 raises, 13 calls check through bt.log.scoped. Run from the
# strategy's project directory with a relative path, as a user does. (Lua shortens
# sources longer than 60 bytes to ".../tail"; docs/logging.md says so.)
CID="corr-$$-tb"
(cd "$T" && "$BTRUN" strategies/exploding.lua --log-format json --correlation-id "$CID" \
  --data "$BTRUN_SRC/data/sample-daily.csv" --out "$T/run" >"$T/out" 2>"$T/err")
rc=$?
S=strategies/exploding.lua
[ "$rc" = 1 ] || fail "exit status $rc, want 1"
jq -c . "$T/out" >/dev/null 2>&1 || fail "a stdout line is not JSON"
bad=$(jq -c --arg c "$CID" 'select(.correlation_id != $c) | .event' "$T/out")
[ -z "$bad" ] || fail "lines without the correlation id: $bad"
[ "$(ev "$T/out" bar_seen | wc -l)" = 5 ] || fail "five bar_seen records before the failure"
ev "$T/out" bar_seen | jq -e -s 'all(.[]; .logger == "strategy" and .strategy_id == "exploding"
  and (.run_id | type == "string") and .access_token == "[REDACTED]" and .phase == null)' >/dev/null \
  || fail "bar_seen records: context and redaction: $(ev "$T/out" bar_seen | head -1)"
grep -q SECRET_TOKEN_VALUE "$T/out" && fail "the token reached the log"

F=$(ev "$T/out" backtest_failed)
[ "$(printf '%s\n' "$F" | grep -c .)" = 1 ] || fail "exactly one backtest_failed record"
printf '%s\n' "$F" | jq -e '.level == "error" and .logger == "run" and .exception.type == "lua_error"
  and (.exception.message | endswith("exploding.lua:6: attempt to index a nil value (local '"'"'t'"'"')"))
  and (.exception.frames | type == "array" and length >= 3)
  and all(.exception.frames[]; has("source") and has("line") and has("function"))
  and .bar_symbol == "SAMPLE" and (.bar_time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))
  and (.duration_ms | type == "number") and .phase == null' >/dev/null \
  || fail "backtest_failed record: $F"
# The innermost Lua frame is the raising line; the next Lua frame is the call site.
lua_frames=$(printf '%s\n' "$F" | jq -c '[.exception.frames[] | select(.line != null)]')
printf '%s\n' "$lua_frames" | jq -e --arg s "$S" '.[0].source == $s and .[0].line == 6
  and .[1].source == $s and .[1].line == 13' >/dev/null \
  || fail "frames do not point at $S:6 then :13: $lua_frames"
# jq recipe from the docs
printf '%s\n' "$F" | jq -e 'select(.level == "error") | .exception | .frames[0] | has("source")' >/dev/null \
  || fail "docs recipe select(.level==\"error\") | .exception"
[ "$(jq -r .status "$T/run/result.json" 2>/dev/null)" = failed ] || fail "result.json status failed"
[ -z "$(ev "$T/out" backtest_completed)" ] || fail "no backtest_completed"

# A script (no strategy table) that fails: script_failed with frames at its line.
cat >"$T/script.lua" <<'EOF'
local function helper(x)
  error("script went wrong: " .. x)
end
helper("boom")
EOF
CID="corr-$$-script"
(cd "$T" && "$BTRUN" script.lua --log-format json --correlation-id "$CID" >"$T/sout" 2>"$T/serr")
[ $? = 1 ] || fail "failing script exit status"
S2=$(jq -c 'select(.level == "error")' "$T/sout")
printf '%s\n' "$S2" | jq -e --arg s script.lua '.exception.type == "lua_error"
  and (.exception.message | endswith("script.lua:2: script went wrong: boom"))
  and ([.exception.frames[] | select(.line != null)] | .[0].source == $s and .[0].line == 2 and .[1].line == 4)' >/dev/null \
  || fail "script failure record: $S2"
printf '%s\n' "$S2" | jq -e --arg c "$CID" '.correlation_id == $c' >/dev/null || fail "script failure carries the correlation id"

[ $fails = 0 ] || { echo "$fails failure(s); files in $T" >&2; exit 1; }
rm -rf "$T"
