#!/usr/bin/env bash
# `btrun serve` refuses bad requests with the right 4xx and a JSON error naming the field,
# and keeps serving after each one: bad JSON, bodies over the limit (Content-Length and
# chunked), paths instead of names, unknown strategy/dataset, wrong types, unknown fields,
# bad run ids, bad methods, bad query arguments, the per-user cap, Idempotency-Key reuse,
# a slowloris client, bad X-Correlation-ID values; with API keys: missing/invalid token
# (401) and another user's job (403); a non-loopback listen address without keys.
set -euo pipefail
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
mkdir -p "${BT_TEST_TMP:-/tmp}"
T=$(mktemp -d "${BT_TEST_TMP:-/tmp}/svc-bad.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export T
exec "$PY" - <<'PY'
import hashlib, json, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["BTRUN_SRC"], "tests", "tools"))
from svc import Server, check, fail, BTRUN, SRC

T = os.environ["T"]
# workers: jobs stay queued long enough for the cap test; strategies resolve from the repo.
cfg = """return { service = { max_body = 4096, connection_timeout = 1, max_queued_per_user = 3,
  workers = 1, strategy_dirs = { "strategies", "tests/strategies" } } }"""
s = Server(T, "open", cfg)
try:
    good = {"strategy": "sma_cross", "data": ["sample"], "user_id": "capped"}
    cases = [
        # (name, method, path, body, headers, status, error type, field)
        ("bad JSON", "POST", "/v1/backtests", '{"strategy":', {}, 400, "invalid_json", None),
        ("body not an object", "POST", "/v1/backtests", "[1,2]", {}, 400, "invalid_request", None),
        ("empty body", "POST", "/v1/backtests", "", {}, 400, "invalid_json", None),
        ("body over max_body", "POST", "/v1/backtests",
         json.dumps({"strategy": "sma_cross", "params": {"x": "y" * 5000}}), {}, 413,
         "payload_too_large", None),
        ("strategy ../ path", "POST", "/v1/backtests", {"strategy": "../etc/passwd"}, {}, 400,
         None, "strategy"),
        ("strategy absolute path", "POST", "/v1/backtests", {"strategy": "/etc/passwd"}, {}, 400,
         None, "strategy"),
        ("strategy with a slash", "POST", "/v1/backtests", {"strategy": "tests/x"}, {}, 400,
         None, "strategy"),
        ("dataset path", "POST", "/v1/backtests",
         {"strategy": "sma_cross", "data": ["sample", "../../etc/passwd"]}, {}, 400, None,
         "data[1]"),
        ("unknown strategy", "POST", "/v1/backtests", {"strategy": "nope"}, {}, 400,
         "unknown_strategy", "strategy"),
        ("unknown dataset", "POST", "/v1/backtests", {"strategy": "sma_cross", "data": ["nope"]},
         {}, 400, "unknown_dataset", "data[0]"),
        ("strategy wrong type", "POST", "/v1/backtests", {"strategy": 5}, {}, 400, None,
         "strategy"),
        ("data wrong type", "POST", "/v1/backtests", {"strategy": "sma_cross", "data": "orcl"},
         {}, 400, None, "data"),
        ("params wrong type", "POST", "/v1/backtests", {"strategy": "sma_cross", "params": 3},
         {}, 400, None, "params"),
        ("param value wrong type", "POST", "/v1/backtests",
         {"strategy": "sma_cross", "params": {"fast": [1]}}, {}, 400, None, "params.fast"),
        ("unknown field", "POST", "/v1/backtests", {"strategy": "sma_cross", "bogus": 1}, {},
         400, None, "bogus"),
        ("missing strategy", "POST", "/v1/backtests", {"data": ["sample"]}, {}, 400, None,
         "strategy"),
        ("inline source refused", "POST", "/v1/backtests",
         {"strategy": "sma_cross", "source": "return {}"}, {}, 400, None, "source"),
        ("user_id wrong type", "POST", "/v1/backtests", {"strategy": "sma_cross", "user_id": 7},
         {}, 400, None, "user_id"),
        ("bad Idempotency-Key", "POST", "/v1/backtests", {"strategy": "sma_cross"},
         {"Idempotency-Key": "k" * 300}, 400, None, "Idempotency-Key"),
        ("bad method on collection", "DELETE", "/v1/backtests", None, {}, 405,
         "method_not_allowed", None),
        ("GET on cancel", "GET", "/v1/backtests/00000000-0000-4000-8000-000000000000/cancel",
         None, {}, 405, "method_not_allowed", None),
        ("bad run id", "GET", "/v1/backtests/not-a-uuid", None, {}, 400, None, "run_id"),
        ("run id with traversal", "GET", "/v1/backtests/..%2F..%2Fetc/result", None, {}, 400,
         None, "run_id"),
        ("unknown run id", "GET", "/v1/backtests/00000000-0000-4000-8000-000000000000", None, {},
         404, "not_found", "run_id"),
        ("unknown artifact", "GET",
         "/v1/backtests/00000000-0000-4000-8000-000000000000/passwd", None, {}, 404,
         "not_found", None),
        ("unknown endpoint", "GET", "/v2/anything", None, {}, 404, "not_found", None),
        ("bad status filter", "GET", "/v1/backtests?status=bogus", None, {}, 400, None, "status"),
        ("bad limit", "GET", "/v1/backtests?limit=0", None, {}, 400, None, "limit"),
        ("unknown query parameter", "GET", "/v1/backtests?sort=x", None, {}, 400, None, "sort"),
        ("bad cursor", "GET", "/v1/backtests?cursor=zzz", None, {}, 400, None, "cursor"),
    ]
    for name, method, path, body, headers, status, etype, field in cases:
        st, h, b = s.request(method, path, body, headers)
        ok = st == status and isinstance(b, dict) and "error" in b
        if ok:
            e = b["error"]
            ok = set(e) == {"type", "message", "field"} and e["message"]
            ok = ok and (etype is None or e["type"] == etype) and (field is None or e["field"] == field)
        if not ok:
            fail("%s: got %s %s, want %s %s field %s" % (name, st, b, status, etype, field))
        if not h.get("x-correlation-id"):
            fail("%s: no X-Correlation-ID on the error" % name)
        if not s.alive():
            fail("%s: server stopped serving" % name)
        print("ok: %s -> %s" % (name, status))

    # chunked upload over the limit: no Content-Length to refuse up front
    chunk = b"x" * 1000
    payload = (b"POST /v1/backtests HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n" + (b"3e8\r\n" + chunk + b"\r\n") * 6 + b"0\r\n\r\n")
    resp, _ = s.raw(payload)
    check(resp.startswith(b"HTTP/1.1 413"), "chunked body over max_body -> 413")
    check(s.alive(), "serving after the chunked 413")

    # per-user cap (3 queued) -> 429; another user is not affected. A hanging job holds
    # the only worker, so the capped user's jobs stay queued.
    st, _, blk = s.request("POST", "/v1/backtests", {"strategy": "core_hang", "user_id": "blocker"})
    s.wait_job(blk["run_id"], states=("running",))
    ids = []
    for i in range(3):
        st, h, b = s.request("POST", "/v1/backtests", dict(good, params={"fast": i + 2}))
        check(st == 202 and b["status"] == "queued", "capped user: job %d queued" % (i + 1))
        ids.append(b["run_id"])
    st, h, b = s.request("POST", "/v1/backtests", good)
    check(st == 429 and b["error"]["type"] == "too_many_queued" and h.get("retry-after"),
          "4th queued job of one user -> 429 with Retry-After")
    st, _, b = s.request("POST", "/v1/backtests", dict(good, user_id="other"))
    check(st == 202, "another user still gets 202")
    for rid in ids + [b["run_id"], blk["run_id"]]:
        st, _, c = s.request("POST", "/v1/backtests/%s/cancel" % rid)
        if st != 200:
            fail("cancel %s: %s %s" % (rid, st, c))
    check(s.wait_job(blk["run_id"])["status"] == "cancelled", "the hanging job is cancelled")

    # Idempotency-Key: the same request -> the same job; a different body -> 409
    k = {"Idempotency-Key": "retry-1"}
    st1, h1, b1 = s.request("POST", "/v1/backtests", {"strategy": "sma_cross", "user_id": "i"}, k)
    st2, h2, b2 = s.request("POST", "/v1/backtests", {"strategy": "sma_cross", "user_id": "i"}, k)
    check(st1 == 202 and st2 == 202 and b1["run_id"] == b2["run_id"]
          and h1["location"] == h2["location"], "a retried POST returns the same job")
    st, _, b = s.request("POST", "/v1/backtests",
                         {"strategy": "sma_cross", "user_id": "i", "params": {"fast": 3}}, k)
    check(st == 409 and b["error"]["field"] == "Idempotency-Key",
          "the key with a different request -> 409")

    # X-Correlation-ID: reused when printable and short, else replaced (and a warning)
    st, h, _ = s.request("GET", "/healthz", headers={"X-Correlation-ID": "req 42/ok"})
    check(h["x-correlation-id"] == "req 42/ok", "a printable X-Correlation-ID is echoed as is")
    for bad, why in (("c" * 101, "too long"), ("caf\u00e9", "not ASCII")):
        st, h, _ = s.request("GET", "/healthz", headers={"X-Correlation-ID": bad.encode("utf-8")})
        cid = h["x-correlation-id"]
        check(st == 200 and cid != bad and len(cid) == 36 and cid[14] == "4",
              "X-Correlation-ID %s -> a new UUID" % why)
        time.sleep(0.05)
        warn = [r for r in s.logs() if r["event"] == "correlation_id_replaced"
                and r["correlation_id"] == cid]
        check(len(warn) == 1 and warn[0]["level"] == "warning", "  and a warning is logged")

    # slowloris: headers trickle in and never end; the connection is cut after ~1 s while
    # other clients are served
    import socket
    sl = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sl.sendall(b"POST /v1/backtests HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n")
    t0 = time.time()
    check(s.alive(), "served while a slowloris connection is open")
    closed = None
    try:
        while time.time() - t0 < 8:
            sl.sendall(b"")
            if sl.recv(100) == b"":
                closed = time.time() - t0
                break
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        closed = time.time() - t0
    sl.close()
    check(closed is not None and closed < 5, "slowloris connection cut after %.1f s" % (closed or -1))
    time.sleep(0.1)
    ab = [r for r in s.logs() if r["event"] == "http_request_aborted" and r["reason"] == "timeout"]
    check(len(ab) >= 1, "the cut request is logged as http_request_aborted (timeout)")

    # every answered request has exactly one http_request record
    recs = [r for r in s.logs() if r["event"] == "http_request"]
    check(all(set(("method", "path", "status_code", "duration_ms", "correlation_id", "user_id"))
              <= set(r) for r in recs) and len(recs) >= len(cases) * 2,
          "every request logged as http_request with its fields (%d)" % len(recs))
    check(s.alive(), "still serving at the end")
finally:
    rc = s.stop()
check(rc == 0, "SIGTERM: serve exits 0")

# ---- with API keys ---------------------------------------------------------------------
def sha(t):
    return hashlib.sha256(t.encode()).hexdigest()

cfg = """return { service = { workers = 1, api_keys = {
  { user_id = "u1", sha256 = "%s" }, { user_id = "u2", sha256 = "%s" } } } }""" % (
    sha("tok-u1"), sha("tok-u2"))
a = Server(T, "auth", cfg)
try:
    u1 = {"Authorization": "Bearer tok-u1"}
    u2 = {"Authorization": "Bearer tok-u2"}
    st, h, b = a.request("POST", "/v1/backtests", {"strategy": "sma_cross"})
    check(st == 401 and h.get("www-authenticate") == "Bearer", "no token -> 401")
    st, _, b = a.request("GET", "/v1/backtests", headers={"Authorization": "Bearer nope"})
    check(st == 401 and b["error"]["type"] == "unauthorized", "unknown token -> 401")
    st, _, _ = a.request("GET", "/metrics", headers={"Authorization": "Basic dTE6eA=="})
    check(st == 401, "not a bearer token -> 401")
    check(a.request("GET", "/healthz")[0] == 200, "/healthz needs no token")
    st, _, job = a.request("POST", "/v1/backtests", {"strategy": "sma_cross"}, u1)
    check(st == 202 and job["user_id"] == "u1", "u1's POST -> 202, the job is u1's")
    rid = job["run_id"]
    st, _, b = a.request("GET", "/v1/backtests/" + rid, headers=u2)
    check(st == 403 and b["error"]["type"] == "forbidden", "u2 reading u1's job -> 403")
    st, _, b = a.request("POST", "/v1/backtests/%s/cancel" % rid, headers=u2)
    check(st == 403, "u2 cancelling u1's job -> 403")
    st, _, b = a.request("POST", "/v1/backtests", {"strategy": "sma_cross", "user_id": "u1"}, u2)
    check(st == 403 and b["error"]["field"] == "user_id", "u2 posting as u1 -> 403")
    st, _, b = a.request("GET", "/v1/backtests?user_id=u1", headers=u2)
    check(st == 403, "u2 listing u1's jobs -> 403")
    st, _, b = a.request("GET", "/v1/backtests", headers=u2)
    check(st == 200 and all(j["user_id"] == "u2" for j in b["backtests"]),
          "u2's list has only u2's jobs")
    st, _, b = a.request("GET", "/v1/backtests/" + rid, headers=u1)
    check(st == 200 and b["run_id"] == rid, "u1 reads its own job")
    recs = [r for r in a.logs() if r["event"] == "http_request" and r["user_id"] == "u1"]
    check(recs, "authenticated requests log the key's user_id")
    check("tok-u1" not in open(a.log_path).read(), "tokens never reach the log")
    check(a.alive(), "still serving")
finally:
    a.stop()

# ---- a non-loopback address needs keys (refused before anything is bound) ----------------
cfgp = os.path.join(T, "nokeys.lua")
open(cfgp, "w").write("return {}")
p = subprocess.run([BTRUN, "serve", "--config", cfgp, "--listen", "0.0.0.0:0", "--data-dir",
                    os.path.join(T, "nk")], capture_output=True, text=True, timeout=20, cwd=SRC)
check(p.returncode == 1 and "api_keys" in p.stderr, "--listen 0.0.0.0 without api_keys -> exit 1")

# ---- config errors name the key; the server does not start -------------------------------
for text, key in (
        ('return { service = { api_keys = { { user_id = "u", sha256 = "secret-token" } } } }',
         "service.api_keys[1].sha256"),
        ('return { service = { max_body = 0 } }', "service.max_body"),
        ('return { service = { listen = 8080 } }', "service.listen"),
        ('return { service = { datasets = { ["../x"] = "/etc/passwd" } } }', "service.datasets"),
        ('return { service = { bogus = 1 } }', "service.bogus")):
    open(cfgp, "w").write(text)
    p = subprocess.run([BTRUN, "serve", "--config", cfgp, "--listen", "127.0.0.1:0", "--data-dir",
                        os.path.join(T, "nk")], capture_output=True, text=True, timeout=20, cwd=SRC)
    check(p.returncode == 1 and key in p.stderr and "secret-token" not in p.stderr + p.stdout,
          "config %s -> exit 1 naming %s" % (text[18:60], key))
PY
