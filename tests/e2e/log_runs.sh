#!/usr/bin/env bash
# Structured logs of real runs (docs/logging.md): with --log-format json every stdout
# line is a JSON object with the fixed keys first and the run's correlation_id, for a
# successful run, a bad CSV and a bad config; the lifecycle records carry their
# fields; levels, per-logger config, console format and a closed stdout pipe.
set -u
T=$(mktemp -d "${BT_TEST_TMP:-/tmp}/log_runs.XXXXXX")
export BTRUN_DATA_DIR="$T/data"
unset BTRUN_LOG_LEVEL BTRUN_LOG_FORMAT BTRUN_CONFIG
cd "$BTRUN_SRC"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# check_stream FILE CID WHAT: every line a JSON object, fixed keys first, the id on each.
check_stream() {
  local f=$1 cid=$2 what=$3
  [ -s "$f" ] || { fail "$what: no log output"; return; }
  jq -c . "$f" >/dev/null 2>&1 || { fail "$what: a stdout line is not JSON"; grep -v '^{' "$f" | head -3 >&2; return; }
  jq -e -s 'all(.[]; type == "object" and (keys_unsorted[0:4] == ["timestamp", "level", "event", "logger"])
      and (.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
      and (.level | IN("debug", "info", "warning", "error"))
      and (.event | test("^[a-z0-9_]+$")) and (.logger | type == "string"))' "$f" >/dev/null \
    || fail "$what: fixed keys (timestamp, level, event, logger) missing, misplaced or malformed"
  local bad
  bad=$(jq -c --arg c "$cid" 'select(.correlation_id != $c) | {event, logger, correlation_id}' "$f" | head -3)
  [ -z "$bad" ] || fail "$what: lines without correlation_id $cid: $bad"
  # no key twice on a line (a parser would silently keep one of them)
  local k
  for k in timestamp level event logger correlation_id run_id strategy_id; do
    awk -v k="\"$k\":" '{ n = gsub(k, "&"); if (n > 1) { print; exit 1 } }' "$f" >/dev/null \
      || fail "$what: key $k twice on a line"
  done
}
ev() { jq -c --arg e "$2" 'select(.event == $e)' "$1"; }

# 1. A successful run with progress checkpoints, a user id and a given correlation id.
cat >"$T/progress.lua" <<'EOF'
return { progress_every = 500 }
EOF
CID="corr-$$-ok"
"$BTRUN" strategies/sma_cross.lua --config "$T/progress.lua" --log-format json --correlation-id "$CID" \
  --user-id user-7 --out "$T/ok" >"$T/ok.out" 2>"$T/ok.err"
rc=$?
[ "$rc" = 0 ] || fail "successful run exit status $rc: $(cat "$T/ok.err")"
check_stream "$T/ok.out" "$CID" "successful run"
RUN_ID=$(jq -r .run_id "$T/ok/result.json")
[ "$(jq -r .correlation_id "$T/ok/result.json")" = "$CID" ] || fail "result.json correlation_id"
for e in backtest_started backtest_completed; do
  [ "$(ev "$T/ok.out" $e | wc -l)" = 1 ] || fail "exactly one $e"
done
ev "$T/ok.out" backtest_started | jq -e --arg r "$RUN_ID" '.run_id == $r and .strategy_id == "sma_cross"
  and .user_id == "user-7" and (.strategy | endswith("sma_cross.lua"))
  and (.data | type == "array" and length == 1 and (.[0].path | endswith("sample-daily.csv")))
  and .params.fast == 10 and .params.slow == 30' >/dev/null || fail "backtest_started fields: $(ev "$T/ok.out" backtest_started)"
ev "$T/ok.out" backtest_completed | jq -e --arg r "$RUN_ID" '.run_id == $r and .level == "info"
  and (.duration_ms | type == "number") and (.metrics | type == "object")
  and .metrics.bars == 2500 and (.metrics.trades | type == "number")
  and (.metrics.final_equity | type == "string")' >/dev/null \
  || fail "backtest_completed fields: $(ev "$T/ok.out" backtest_completed | cut -c1-300)"
[ "$(ev "$T/ok.out" backtest_completed | jq -r .metrics.final_equity)" = "$(jq -r .final_equity "$T/ok/result.json")" ] \
  || fail "backtest_completed metrics match result.json"
# progress every 500 bars of 2500: bars_done, percent and bars/s at each checkpoint
np=$(ev "$T/ok.out" backtest_progress | wc -l)
[ "$np" -ge 4 ] || fail "backtest_progress records: $np, want >= 4"
jq -e -s '[.[] | select(.event == "backtest_progress")] | (map(.bars_done) == [500, 1000, 1500, 2000, 2500][0:length])
  and all(.[]; (.bars_per_s | type == "number" and . > 0) and (.percent | type == "number" and . > 0 and . <= 100))' \
  "$T/ok.out" >/dev/null || fail "backtest_progress fields (bars_done, percent, bars_per_s): $(ev "$T/ok.out" backtest_progress | head -1)"
# order: started, progress..., completed last
[ "$(jq -r 'select(.logger == "run") | .event' "$T/ok.out" | head -1)" = backtest_started ] || fail "started comes first"
[ "$(jq -r .event "$T/ok.out" | tail -1)" = backtest_completed ] || fail "completed comes last"
[ $fails = 0 ] && ok "successful run: JSON stream, correlation id, lifecycle records"

# 2. The recipe from the docs selects exactly this run's lines.
n1=$(jq -c --arg c "$CID" 'select(.correlation_id == $c)' "$T/ok.out" | wc -l)
[ "$n1" = "$(wc -l <"$T/ok.out")" ] || fail "jq correlation recipe"

# 3. Bad CSV: a failed run, the error structured with file:line and the field.
printf 'Date,Open,High,Low,Close,Volume\n2020-01-01,1,2,0.5,1.5,100\n2020-01-02,1,2,0.5,abc,100\n' >"$T/bad.csv"
CID="corr-$$-csv"
"$BTRUN" strategies/sma_cross.lua --data "$T/bad.csv" --log-format json --correlation-id "$CID" \
  --out "$T/csv" >"$T/csv.out" 2>"$T/csv.err"
rc=$?
[ "$rc" = 1 ] || fail "bad CSV exit status $rc"
check_stream "$T/csv.out" "$CID" "bad CSV run"
ev "$T/csv.out" backtest_failed | jq -e '.level == "error" and .exception.type == "csv_error"
  and (.exception.message | contains("bad.csv:3") and contains("Close"))
  and (.exception.frames | type == "array") and (.run_id | type == "string")' >/dev/null \
  || fail "backtest_failed for bad CSV: $(ev "$T/csv.out" backtest_failed)"
[ "$(jq -r .status "$T/csv/result.json" 2>/dev/null)" = failed ] || fail "bad CSV result.json status failed"
[ -z "$(ev "$T/csv.out" backtest_completed)" ] || fail "no backtest_completed for a failed run"
ok "bad CSV run"

# 4. Bad config: an error naming the key, still pure JSON with the correlation id.
printf 'return { log = { level = "debug", bogus = 1 } }\n' >"$T/badcfg.lua"
CID="corr-$$-cfg"
"$BTRUN" strategies/sma_cross.lua --config "$T/badcfg.lua" --log-format json --correlation-id "$CID" \
  --out "$T/cfg" >"$T/cfg.out" 2>"$T/cfg.err"
rc=$?
[ "$rc" = 1 ] || fail "bad config exit status $rc"
check_stream "$T/cfg.out" "$CID" "bad config run"
jq -e -s 'any(.[]; .level == "error" and (tostring | contains("log.bogus")))' "$T/cfg.out" >/dev/null \
  || fail "bad config: an error record naming log.bogus: $(cat "$T/cfg.out")"
grep -q 'log.bogus' "$T/cfg.err" || fail "bad config: message on stderr names the key"
printf 'return { log = { loggers = { broker = "loud" } } }\n' >"$T/badlvl.lua"
"$BTRUN" strategies/sma_cross.lua --config "$T/badlvl.lua" --log-format json --out "$T/cfg2" >"$T/cfg2.out" 2>&1
[ $? = 1 ] && grep -q 'log.loggers.broker' "$T/cfg2.out" || fail "bad per-logger level names log.loggers.broker"
BTRUN_LOG_LEVEL=loud "$BTRUN" strategies/sma_cross.lua --log-format json --out "$T/cfg3" >"$T/cfg3.out" 2>&1
[ $? = 1 ] && grep -q 'BTRUN_LOG_LEVEL' "$T/cfg3.out" || fail "a bad BTRUN_LOG_LEVEL is an error naming it"
ok "bad config"

# 5. Levels: --log-level, BTRUN_LOG_LEVEL and per-logger levels from config.
cat >"$T/chatty.lua" <<'EOF'
local M = {}
function M.on_bar(ctx, bar)
  if bar.time % 7 == 0 then bt.log.debug("strategy_debug", { close = bar.close }) end
  if ctx.bars == nil then ctx.bars = 0 end
end
function M.on_start(ctx)
  bt.log.info("strategy_info", { api_key = "sk-live-SECRET1", note = "Authorization: Bearer SECRET2" })
  bt.log.warning("strategy_warning", {})
end
return M
EOF
"$BTRUN" "$T/chatty.lua" --log-format json --log-level warning --out "$T/lv1" >"$T/lv1.out" 2>/dev/null
[ "$(jq -r .event "$T/lv1.out" | sort -u | tr '\n' ' ')" = "strategy_warning " ] \
  || fail "--log-level warning keeps only warnings: $(jq -r .event "$T/lv1.out" | sort -u | tr '\n' ' ')"
BTRUN_LOG_LEVEL=debug "$BTRUN" "$T/chatty.lua" --log-format json --out "$T/lv2" >"$T/lv2.out" 2>/dev/null
[ -n "$(ev "$T/lv2.out" strategy_debug)" ] || fail "BTRUN_LOG_LEVEL=debug shows debug records"
BTRUN_LOG_LEVEL=debug "$BTRUN" "$T/chatty.lua" --log-format json --log-level info --out "$T/lv3" >"$T/lv3.out" 2>/dev/null
[ -z "$(ev "$T/lv3.out" strategy_debug)" ] || fail "--log-level wins over BTRUN_LOG_LEVEL"
printf 'return { log = { level = "debug", loggers = { strategy = "warning" } } }\n' >"$T/perlogger.lua"
"$BTRUN" "$T/chatty.lua" --config "$T/perlogger.lua" --log-format json --out "$T/lv4" >"$T/lv4.out" 2>/dev/null
[ -z "$(ev "$T/lv4.out" strategy_debug)$(ev "$T/lv4.out" strategy_info)" ] && [ -n "$(ev "$T/lv4.out" strategy_warning)" ] \
  && [ -n "$(ev "$T/lv4.out" backtest_completed)" ] || fail "per-logger level from config"
grep -q SECRET "$T/lv2.out" && fail "a secret reached the log"
ev "$T/lv2.out" strategy_info | jq -e '.api_key == "[REDACTED]" and .note == "Authorization: [REDACTED]"
  and .logger == "strategy" and (.run_id | type == "string") and .strategy_id == "chatty"' >/dev/null \
  || fail "strategy records: redaction and bound context: $(ev "$T/lv2.out" strategy_info)"
ok "levels, per-logger levels, redaction"

# 6. Console format: short lines for a person (the run's identity and detail are in
#    JSON), no JSON, no colour and no progress line when stdout is not a terminal.
"$BTRUN" strategies/sma_cross.lua --log-format console --correlation-id corr-console --out "$T/con" >"$T/con.out" 2>/dev/null
grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2} info  backtest sma_cross on SAMPLE: fast=10 qty=100 slow=30$' "$T/con.out" \
  || fail "console line for backtest_started: $(head -2 "$T/con.out")"
grep -Eq '^[0-9:]{8} info  backtest done in [0-9.]+ s \([0-9]+ bars/s\)$' "$T/con.out" \
  || fail "console line for backtest_completed: $(head -3 "$T/con.out")"
grep -q 'corr-console\|logger=\|"metrics"' "$T/con.out" && fail "console lines leave out ids, logger and JSON detail"
grep -q $'\033' "$T/con.out" && fail "no colour when stdout is not a terminal"
grep -q $'\r' "$T/con.out" && fail "no progress line when stdout is not a terminal"
ok "console format"

# 7. A reader that goes away: btrun neither dies of SIGPIPE nor fails the run.
cat >"$T/loud.lua" <<'EOF'
local M = {}
function M.on_bar(ctx, bar) bt.log.info("tick", { close = bar.close, pad = string.rep("x", 200) }) end
return M
EOF
"$BTRUN" "$T/loud.lua" --log-format json --out "$T/pipe" 2>"$T/pipe.err" | head -n 1 >"$T/pipe.head"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "closed stdout: exit status $rc (stderr: $(head -3 "$T/pipe.err"))"
jq -e . "$T/pipe.head" >/dev/null || fail "closed stdout: the first line is JSON"
[ "$(jq -r .status "$T/pipe/result.json" 2>/dev/null)" = completed ] || fail "closed stdout: the run completes"
ok "closed stdout pipe"

# 8. A script: bt.backtest binds the run's identity over the script's context for
#    the strategy and the run's records, then gives the script its context back.
cat >"$T/script.lua" <<'EOF'
bt.log.bind({ correlation_id = "script-corr", experiment = "grid" })
local seen
for i = 1, 2 do
  bt.backtest({
    strategy = { on_start = function(ctx) seen = bt.log.context(); bt.log.info("in_run", { i = i }) end },
    write_files = false, correlation_id = "run-corr-" .. i,
  })
  assert(seen.correlation_id == "run-corr-" .. i and #seen.run_id == 36 and seen.experiment == "grid")
end
local after = bt.log.context()
assert(after.correlation_id == "script-corr" and after.run_id == nil and after.experiment == "grid")
bt.log.info("script_done")
EOF
"$BTRUN" "$T/script.lua" --log-format json >"$T/script.out" 2>"$T/script.err" || fail "script with bt.backtest: $(cat "$T/script.err")"
jq -e -s '[.[] | select(.event == "in_run")] | length == 2
  and all(.[]; .correlation_id == "run-corr-\(.i)" and .experiment == "grid" and (.run_id | length == 36))
  and (map(.run_id) | unique | length == 2)' "$T/script.out" >/dev/null \
  || fail "records inside bt.backtest carry the run's ids: $(jq -c 'select(.event == "in_run")' "$T/script.out")"
ev "$T/script.out" script_done | jq -e '.correlation_id == "script-corr" and .experiment == "grid" and .run_id == null' >/dev/null \
  || fail "the script's context after bt.backtest: $(ev "$T/script.out" script_done)"
ok "bt.backtest from a script: run context bound and restored"

[ $fails = 0 ] || { echo "$fails failure(s); files in $T" >&2; exit 1; }
rm -rf "$T"
