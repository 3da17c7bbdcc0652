#!/usr/bin/env bash
# bench-serve.sh - throughput and latency of `btrun serve` (figures in docs/service.md):
#   1. wrk on GET /v1/backtests/{run_id} and GET /healthz: req/s and p99
#      (goal for the status GET: >= 20,000 req/s, p99 < 10 ms on 2 cores)
#   2. enqueue rate: POST /v1/backtests with wrk (goal >= 2,000/s)
#   3. end-to-end latency of a tiny backtest, POST -> succeeded (goal p50 < 50 ms)
#   4. N short backtests through the service vs the same N with `btrun` one after another
#      in a shell loop (the ratio; goal: the service is faster, using every core)
#   scripts/bench-serve.sh [SECONDS_PER_WRK_RUN] [N]     (default 5 s, N = 200)
# The server's http_request records are kept (as in production) but go to a file.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-5}"
n="${2:-200}"
build="$src/build-bench-serve"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target btrun -j2 >/dev/null
btrun="$build/btrun"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "bench-serve: wrk is not installed" >&2; exit 1; }
tmp="$(mktemp -d)"
pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap 'stop; rm -rf "$tmp"' EXIT
cd "$src"

# A tiny dataset (60 daily bars) for the latency and batch runs.
lua5.4 scripts/gen_bars.lua --bars 60 --seed 3 --out "$tmp/tiny.csv" >/dev/null
cat >"$tmp/cfg.lua" <<EOF
return { service = { max_queued_per_user = 100000000, max_body = 65536,
                     datasets = { tiny = "TINY=$tmp/tiny.csv", sample = "SAMPLE=$src/data/sample-daily.csv" } } }
EOF

# start WORKERS: a fresh server (own data dir), sets port
start() {
  rm -rf "$tmp/data" "$tmp/serve.log"
  "$btrun" serve --config "$tmp/cfg.lua" --listen 127.0.0.1:0 --data-dir "$tmp/data" \
    --workers "$1" --log-format json >"$tmp/serve.log" 2>"$tmp/serve.err" &
  pid=$!
  port=""
  for _ in $(seq 200); do
    port=$(grep -o '"event":"service_listening".*"port":[0-9]*' "$tmp/serve.log" 2>/dev/null |
      grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$tmp/serve.err" >&2; exit 1; }
}

# wrk_run NAME URL [SCRIPT]: prints req/s, p50, p99, non-2xx
wrk_run() {
  local out
  out=$(wrk -t2 -c32 -d"${secs}s" --latency ${3:+-s "$3"} "$2")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${bad:-0}"
}

echo "== 1. reads (wrk: 2 threads, 32 connections, ${secs} s; $(nproc) cores)"
start 1
run_id=$(curl -s -XPOST "localhost:$port/v1/backtests" -d '{"strategy":"sma_cross","data":["tiny"]}' |
  $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
wrk_run "GET /v1/backtests/{id}" "http://127.0.0.1:$port/v1/backtests/$run_id"
wrk_run "GET /healthz" "http://127.0.0.1:$port/healthz"

echo "== 2. enqueue (POST /v1/backtests, 1 worker draining meanwhile)"
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"strategy":"sma_cross","data":["tiny"],"user_id":"bench"}'
wrk.headers["Content-Type"] = "application/json"
EOF
wrk_run "POST /v1/backtests" "http://127.0.0.1:$port/v1/backtests" "$tmp/post.lua"
stop

echo "== 3. end to end: POST -> succeeded, one at a time ($(nproc) workers)"
start "$(nproc)"
$PY - "$port" <<'EOF'
import http.client, json, sys, time
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def req(m, p, body=None):
    c.request(m, p, body=body)
    r = c.getresponse()
    return r.status, json.loads(r.read())
lat = []
for i in range(40):
    t0 = time.perf_counter()
    st, j = req("POST", "/v1/backtests", '{"strategy":"sma_cross","data":["tiny"]}')
    assert st == 202, (st, j)
    while True:
        st, j = req("GET", "/v1/backtests/" + j["run_id"])
        if j["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.001)
    assert j["status"] == "succeeded", j
    lat.append((time.perf_counter() - t0) * 1000)
lat = sorted(lat[5:])  # the first runs warm the page cache
print("POST -> succeeded             p50 %6.1f ms   p90 %6.1f ms   max %6.1f ms   (%d jobs)" %
      (lat[len(lat) // 2], lat[int(len(lat) * 0.9)], lat[-1], len(lat)))
EOF

echo "== 4. $n short backtests (sma_cross on data/sample-daily.csv, 2,500 bars)"
t0=$(date +%s.%N)
$PY - "$port" "$n" <<'EOF'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
ids = []
for i in range(n):
    c.request("POST", "/v1/backtests", json.dumps({"strategy": "sma_cross", "data": ["sample"],
                                                   "params": {"fast": 5 + i % 10}}))
    r = c.getresponse()
    ids.append(json.loads(r.read())["run_id"])
deadline = time.time() + 600
for rid in ids:
    while time.time() < deadline:
        c.request("GET", "/v1/backtests/" + rid)
        j = json.loads(c.getresponse().read())
        if j["status"] in ("succeeded", "failed", "cancelled"):
            assert j["status"] == "succeeded", j
            break
        time.sleep(0.01)
EOF
t1=$(date +%s.%N)
stop
mkdir -p "$tmp/loop"
for i in $(seq "$n"); do
  BTRUN_DATA_DIR="$tmp/loop-data" "$btrun" strategies/sma_cross.lua --config "$tmp/cfg.lua" \
    --param fast=$((5 + i % 10)) --out "$tmp/loop/$i" --log-format json >/dev/null
done
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$n" 'BEGIN {
  s = b - a; l = c - b
  printf "service   %6.2f s  (%5.1f backtests/s)\n", s, n / s
  printf "loop      %6.2f s  (%5.1f backtests/s)\n", l, n / l
  printf "ratio     %6.2f x  (loop time / service time)\n", l / s }'
