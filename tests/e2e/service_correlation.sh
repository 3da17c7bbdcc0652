#!/usr/bin/env bash
# Correlation through `btrun serve`, end to end: X-Correlation-ID reused / generated /
# echoed; every log line of one request and its job carries the same correlation_id; job
# lines carry user_id, strategy_id, run_id, origin; the job, its traced events and the
# PostHog lifecycle events (fake PostHog on loopback) carry it too; a failing strategy
# ends the job failed with a structured traceback; cancel is idempotent.
set -euo pipefail
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
mkdir -p "${BT_TEST_TMP:-/tmp}"
T=$(mktemp -d "${BT_TEST_TMP:-/tmp}/svc-corr.XXXXXX")
PH=""
trap '[ -n "$PH" ] && kill "$PH" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
"$PY" "$BTRUN_SRC/tests/tools/posthog_server.py" --port-file "$T/ph.port" \
  --events "$T/ph.jsonl" --requests "$T/ph.req" --lifetime 120 &
PH=$!
for _ in $(seq 100); do [ -s "$T/ph.port" ] && break; sleep 0.05; done
[ -s "$T/ph.port" ] || { echo "FAIL: fake PostHog did not start" >&2; exit 1; }
export T PH_PORT=$(cat "$T/ph.port")
"$PY" - <<'PY'  # not exec: the EXIT trap must stop the fake PostHog
import json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["BTRUN_SRC"], "tests", "tools"))
from svc import Server, check, fail

T = os.environ["T"]
env = {"POSTHOG_API_KEY": "phc_test", "POSTHOG_HOST": "http://127.0.0.1:" + os.environ["PH_PORT"]}
cfg = """return { analytics = { flush_interval_ms = 50 },
  service = { workers = 2, strategy_dirs = { "strategies", "tests/strategies" } } }"""
s = Server(T, "corr", cfg, env=env)
try:
    # --- header reused, echoed, stored; the job succeeds --------------------------------
    body = {"strategy": "sma_cross", "data": ["orcl"], "params": {"fast": 10}, "user_id": "u1"}
    st, h, job = s.request("POST", "/v1/backtests", body, {"X-Correlation-ID": "bug-4711"})
    check(st == 202 and h["x-correlation-id"] == "bug-4711", "POST: 202, X-Correlation-ID echoed")
    check(h["location"] == "/v1/backtests/" + job["run_id"] and job["status"] == "queued",
          "Location names the job, status queued")
    rid = job["run_id"]
    done = s.wait_job(rid)
    check(done["status"] == "succeeded" and done["correlation_id"] == "bug-4711",
          "the job succeeded and carries the correlation id")
    check(done["metrics"]["bars"] == 5036 and done["bars_done"] == 5036 and done["progress"] == 1
          and done["attempt"] == 1
          and done["origin"] == "api" and done["started_at"] and done["finished_at"],
          "the job shows metrics, progress, attempt, origin, timestamps")
    st, h, _ = s.request("GET", "/v1/backtests/" + rid, headers={"X-Correlation-ID": "look-1"})
    check(h["x-correlation-id"] == "look-1", "a GET echoes its own correlation id")
    st, h, res = s.request("GET", "/v1/backtests/%s/result" % rid)
    check(st == 200 and res["run_id"] == rid, "result.json of the run")
    st, h, ev = s.request("GET", "/v1/backtests/%s/events?limit=50" % rid)
    lines = [json.loads(l) for l in ev.splitlines()]
    check(st == 200 and len(lines) == 50 and all(e["correlation_id"] == "bug-4711" for e in lines),
          "the run's traced events carry the correlation id")

    # --- no header: a UUID is generated, echoed and stored ------------------------------
    st, h, j2 = s.request("POST", "/v1/backtests", {"strategy": "sma_cross", "user_id": "u2"})
    cid = h["x-correlation-id"]
    check(st == 202 and len(cid) == 36 and cid[14] == "4" and j2["correlation_id"] == cid,
          "no header: a UUID v4 is generated, echoed and stored on the job")
    d2 = s.wait_job(j2["run_id"])
    check(d2["status"] == "succeeded" and d2["request"]["data"] == ["sample"],
          "a request without data ran on the default dataset")

    # --- a failing strategy: failed with a structured traceback --------------------------
    st, h, j3 = s.request("POST", "/v1/backtests", {"strategy": "core_error", "user_id": "u3"},
                          {"X-Correlation-ID": "fail-1"})
    d3 = s.wait_job(j3["run_id"])
    e = d3["error"]
    check(d3["status"] == "failed" and e["type"] == "lua_error" and "boom at bar 3" in e["message"],
          "a failing strategy ends failed with its error")
    frames = e.get("frames") or []
    check(any(f.get("function") == "inner" for f in frames)
          and all({"source", "line", "function"} <= set(f) for f in frames),
          "the error has a structured traceback (frames with source, line, function)")

    # --- cancel is idempotent ---------------------------------------------------------
    st1, _, c1 = s.request("POST", "/v1/backtests/%s/cancel" % rid)
    st2, _, c2 = s.request("POST", "/v1/backtests/%s/cancel" % rid)
    check(st1 == st2 == 200 and c1["status"] == c2["status"] == "succeeded",
          "cancel of a finished job: 200, unchanged, twice")

    # --- the log: one filter finds the request and its job --------------------------------
    time.sleep(0.3)
    logs = s.logs()
    mine = [r for r in logs if r.get("correlation_id") == "bug-4711"]
    events = [r["event"] for r in mine]
    for want in ("http_request", "backtest_queued", "backtest_started", "backtest_completed"):
        check(want in events, "correlation_id filter finds %s" % want)
    req = [r for r in mine if r["event"] == "http_request" and r["method"] == "POST"]
    check(len(req) == 1 and req[0]["status_code"] == 202 and req[0]["path"] == "/v1/backtests"
          and req[0]["user_id"] == "u1" and req[0]["duration_ms"] >= 0,
          "http_request: method, path, status_code, duration_ms, user_id")
    # (the cancel requests above are requests of their own, with their own ids)
    job_lines = [r for r in logs if r.get("run_id") == rid
                 and r["event"] != "backtest_cancel_requested"]
    check(job_lines and all(r.get("correlation_id") == "bug-4711" for r in job_lines),
          "every line of the job (%d) has the request's correlation_id" % len(job_lines))
    for r in mine:
        if r["event"].startswith("backtest_"):
            if not (r.get("user_id") == "u1" and r.get("strategy_id") == "sma_cross"
                    and r.get("run_id") == rid and r.get("origin") == "api"):
                fail("job line without its ids: %s" % r)
    print("ok: job lines carry user_id, strategy_id, run_id, origin")
    failed = [r for r in logs if r.get("correlation_id") == "fail-1" and r["event"] == "backtest_failed"]
    check(len(failed) == 1 and failed[0]["exception"]["frames"], "backtest_failed with frames")
    others = [r for r in logs if r.get("correlation_id") == "bug-4711"
              and r.get("run_id") not in (None, rid)]
    check(not others, "no other job's line carries the correlation id")
finally:
    rc = s.stop()
check(rc == 0, "SIGTERM: serve exits 0")

# --- PostHog: the lifecycle events of each job, from the worker ------------------------------
deadline = time.time() + 20
want = {(rid, "backtest_job_started"), (rid, "backtest_job_completed"),
        (j3["run_id"], "backtest_job_started"), (j3["run_id"], "backtest_job_failed")}
got = {}
while time.time() < deadline:
    got = {}
    if os.path.exists(T + "/ph.jsonl"):
        for line in open(T + "/ph.jsonl"):
            ev = json.loads(line)
            got[(ev["properties"].get("run_id"), ev["event"])] = ev
    if want <= set(got):
        break
    time.sleep(0.1)
check(want <= set(got), "PostHog received started/completed and started/failed")
for (run, name), ev in got.items():
    if (run, name) not in want:
        continue
    p = ev["properties"]
    cid = "bug-4711" if run == rid else "fail-1"
    user = "u1" if run == rid else "u3"
    if not (p["correlation_id"] == cid and p["user_id"] == user and p["origin"] == "api"
            and p["strategy_id"] in ("sma_cross", "core_error") and ev["distinct_id"] == user):
        fail("%s: wrong properties %s" % (name, p))
    if name == "backtest_job_started" and p["duration_ms"] is not None:
        fail("started: duration_ms must be null")
    if name != "backtest_job_started" and not isinstance(p["duration_ms"], int):
        fail("%s: duration_ms must be an integer" % name)
print("ok: lifecycle events carry correlation_id, user_id, strategy_id, run_id, origin, duration_ms")
check(got[(j3["run_id"], "backtest_job_failed")]["properties"]["error_type"] == "lua_error",
      "backtest_job_failed has error_type")
PY
