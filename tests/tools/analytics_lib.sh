# Shared helpers for tests/e2e/analytics_*.sh (sourced). Needs BTRUN, BTRUN_SRC.
set -euo pipefail

SERVER_PY="$BTRUN_SRC/tests/tools/posthog_server.py"
# The system interpreter starts fast; version-manager shims can take seconds.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP_ROOT="${BT_TEST_TMP:-/tmp}"
mkdir -p "$TMP_ROOT"
T=$(mktemp -d "$TMP_ROOT/analytics.XXXXXX")
export BTRUN_DATA_DIR="$T/data"
export POSTHOG_API_KEY=phc_test
unset POSTHOG_HOST SESSION_TIMEOUT_MINUTES BTRUN_CONFIG
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_server [--port N] [server args...]: sets PORT, SERVER_PID; files in $T/ev.jsonl, $T/req.jsonl
start_server() {
  rm -f "$T/port"
  "$PY" "$SERVER_PY" --port-file "$T/port" --events "$T/ev.jsonl" --requests "$T/req.jsonl" \
    --lifetime 120 "$@" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] || fail "test server did not start"
  PORT=$(cat "$T/port")
  export POSTHOG_HOST="http://127.0.0.1:$PORT"
}

stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# A loopback port nobody listens on (bound then released).
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# py EXPR-SCRIPT: run python with events loaded as `ev` (list) and requests as `req`.
py() {
  "$PY" - "$T" "$@" <<'PYEOF'
import json, os, sys
T = sys.argv[1]
def load(name):
    p = os.path.join(T, name)
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
ev, req = load("ev.jsonl"), load("req.jsonl")
exec(sys.argv[2], {"ev": ev, "req": req, "T": T, "json": json, "os": os, "args": sys.argv[3:]})
PYEOF
}
