#!/usr/bin/env bash
# Lifecycle events of real runs reach a PostHog-compatible server with exact properties;
# Lua captures are validated (invalid ones skipped with a warning); no-config is a no-op.
source "$BTRUN_SRC/tests/tools/analytics_lib.sh"
cd "$T"
cp -r "$BTRUN_SRC/strategies" "$T/strategies"
cat > "$T/cfg.lua" <<'LUA'
return {
  analytics = {
    flush_interval_ms = 50,
    schemas = {
      { name = "sweep_point", version = 3,
        required = { fast = "integer", score = "number" },
        optional = { label = "string" } },
    },
  },
}
LUA
start_server

# --- a completed CLI run -------------------------------------------------------------
"$BTRUN" strategies/sma_cross.lua --config "$T/cfg.lua" --out "$T/run1" --user-id alice \
  --correlation-id corr-123 --log-format json > "$T/run1.log"
py '
done = [e for e in ev if e["event"].startswith("backtest_job")]
names = [e["event"] for e in done]
assert names == ["backtest_job_started", "backtest_job_completed"], names
res = json.load(open(T + "/run1/result.json"))
s, c = done
base = {"correlation_id": "corr-123", "user_id": "alice", "strategy_id": "sma_cross",
        "run_id": res["run_id"], "origin": "cli", "schema_version": 1,
        "$lib": "btrun"}
for e in done:
    for k, v in base.items():
        assert e["properties"][k] == v, (e["event"], k, e["properties"].get(k), v)
    assert e["distinct_id"] == "alice"
    assert "$process_person_profile" not in e["properties"]
    if e["event"] == "backtest_job_completed": # one uuid per run end, however often sent
        import uuid
        ns = uuid.UUID("6b1f520e-3c94-4d1a-9a57-2e0c8144d360")
        assert e["uuid"] == str(uuid.uuid5(ns, "backtest_job_end:" + res["run_id"])), e["uuid"]
    else:
        assert len(e["uuid"]) == 36 and e["uuid"][14] == "4", e["uuid"]
    assert e["timestamp"].endswith("Z") and len(e["timestamp"]) == 24, e["timestamp"]
    assert e["properties"]["$session_id"][14] == "7"
assert s["properties"]["duration_ms"] is None
p = c["properties"]
assert isinstance(p["duration_ms"], int) and p["duration_ms"] >= 0
assert p["bars"] == res["bars"] and p["trades"] == res["trades"], p
assert float(p["final_equity"]) == float(res["final_equity"]), p["final_equity"]
for k in ("total_return", "max_drawdown", "sharpe", "win_rate"):
    assert abs(p[k] - res[k]) < 1e-12, k
assert s["timestamp"] <= c["timestamp"]
sess = [e for e in ev if e["event"] == "session_start"]
assert len(sess) == 1 and sess[0]["properties"]["$session_id"] == s["properties"]["$session_id"]
assert all(r["content_encoding"] == "gzip" and r["user_agent"].startswith("btrun/") for r in req)
assert all(e["_historical_migration"] is False for e in ev)
'
pass "completed run: started + completed with exact properties"

# --- a failed run: same session, error_type --------------------------------------------
cat > "$T/bad.lua" <<'LUA'
return { on_bar = function(ctx, bar) error("boom") end }
LUA
"$BTRUN" "$T/bad.lua" --config "$T/cfg.lua" --out "$T/run2" --user-id alice --log-format json \
  > "$T/run2.log" && fail "the failing strategy should exit non-zero"
py '
f = [e for e in ev if e["event"] == "backtest_job_failed"]
assert len(f) == 1, f
p = f[0]["properties"]
assert p["error_type"] == "lua_error", p
assert p["strategy_id"] == "bad" and p["origin"] == "cli" and isinstance(p["duration_ms"], int)
first = [e for e in ev if e["event"] == "backtest_job_started"][0]
assert p["$session_id"] == first["properties"]["$session_id"], "consecutive runs share a session"
assert len([e for e in ev if e["event"] == "session_start"]) == 1
'
pass "failed run: backtest_job_failed with error_type, same session"

# --- a script: origin script, anonymous, Lua captures validated ---------------------------
cat > "$T/script.lua" <<'LUA'
local r = bt.backtest{ strategy = "strategies/sma_cross.lua", params = { fast = 5, slow = 20 },
                       out = os.getenv("OUT") }
assert(bt.analytics.enabled())
local id = assert(bt.analytics.capture("sweep_point", { fast = 5, score = 1.5, label = "x" }))
assert(#id == 36)
local ok, err = bt.analytics.capture("sweep_point", { fast = "five", score = 1 })
assert(ok == nil and err:find("fast"), err)
ok, err = bt.analytics.capture("sweep_point", { fast = 1 })
assert(ok == nil and err:find("score"), err)
ok, err = bt.analytics.capture("no_such_event", {})
assert(ok == nil and err:find("no schema"), err)
ok, err = bt.analytics.capture("sweep_point", { fast = 1, score = 0/0 })
assert(ok == nil, "NaN must be refused")
local cyc = {}; cyc.self = cyc
ok, err = bt.analytics.capture("sweep_point", { fast = 1, score = 1, label = cyc })
assert(ok == nil and err:find("label") and err:find("deeper"), err)
ok, err = bt.analytics.capture("sweep_point", { fast = 1, score = 1, label = "\xff\xfe" })
assert(ok == nil and err:find("UTF%-8"), err)
ok, err = bt.analytics.capture("sweep_point", { fast = 1, score = 1, [print] = 1 })
assert(ok == nil and err:find("keys must be strings"), err)
assert(bt.analytics.flush(5000))
LUA
OUT="$T/run3" "$BTRUN" "$T/script.lua" --config "$T/cfg.lua" --log-format json > "$T/run3.log"
py '
logs = [json.loads(l) for l in open(T + "/run3.log")]
warn = [l for l in logs if l["event"] == "analytics_invalid_event"]
assert [w.get("field") for w in warn][:3] == ["fast", "score", ""], warn
assert len(warn) == 7, warn
inst = open(T + "/data/analytics/installation_id").read().strip()
sp = [e for e in ev if e["event"] == "sweep_point"]
assert len(sp) == 1, sp
p = sp[0]["properties"]
assert p["fast"] == 5 and p["score"] == 1.5 and p["label"] == "x" and p["schema_version"] == 3
assert sp[0]["distinct_id"] == inst and p["$process_person_profile"] is False
st = [e for e in ev if e["event"] == "backtest_job_started" and e["properties"]["origin"] == "script"]
assert len(st) == 1 and st[0]["properties"]["user_id"] is None and st[0]["distinct_id"] == inst
uu = [e["uuid"] for e in ev]
assert len(uu) == len(set(uu)), "duplicate uuid"
'
pass "script: origin script, anonymous distinct id, invalid Lua events skipped with warnings"

# --data-dir on the command line decides where the spool and ids live
"$BTRUN" strategies/sma_cross.lua --config "$T/cfg.lua" --out "$T/run5" --data-dir "$T/alt" \
  --log-format json > /dev/null
[ -s "$T/alt/analytics/installation_id" ] || fail "--data-dir not honoured by analytics"
pass "--data-dir honoured"

# --- not configured: one debug record, nothing written, same results ------------------------
stop_server
unset POSTHOG_API_KEY POSTHOG_HOST
export BTRUN_DATA_DIR="$T/data-off"
"$BTRUN" strategies/sma_cross.lua --out "$T/run4" --log-format json --log-level debug > "$T/run4.log"
[ "$(grep -c '"analytics_disabled"' "$T/run4.log")" = 1 ] || fail "expected one analytics_disabled record"
[ "$(grep -c '"logger":"analytics"' "$T/run4.log")" = 1 ] || fail "analytics logged more than once"
"$BTRUN" strategies/sma_cross.lua --out "$T/run4b" --log-format json > "$T/run4b.log"
! grep -q '"logger":"analytics"' "$T/run4b.log" || fail "analytics_disabled is a debug record, not shown at info"
[ ! -e "$T/data-off/analytics" ] || fail "disabled analytics must not touch the data dir"
cmp <(jq -c "del(.run_id)" "$T/run1/trades.jsonl") <(jq -c "del(.run_id)" "$T/run4/trades.jsonl") || fail "analytics changed the run's trades"
cmp "$T/run1/equity.csv" "$T/run4/equity.csv" || fail "analytics changed the equity curve"
pass "no config: one debug record, no files, identical results"
