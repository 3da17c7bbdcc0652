#!/usr/bin/env bash
# bench-analytics.sh - cost of product analytics:
#   1. ns per bt_analytics_capture call from C (validate + stamp + queue),
#   2. ns per bt.analytics.capture call from a Lua on_bar (one event every bar),
#   3. run-time overhead of analytics on strategies/sma_cross.lua (target < 1 %).
# Events go to the loopback test server (tests/tools/posthog_server.py).
#   scripts/bench-analytics.sh [BARS]     (default 1,000,000 for the overhead runs)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bars="${1:-1000000}"
build="$src/build-bench-analytics"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target btrun -j2 >/dev/null
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp="$(mktemp -d)"
server_pid=""
trap '[ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
data="$tmp/minute.csv"
small="$tmp/minute-small.csv"
lua5.4 "$src/scripts/gen_bars.lua" --bars "$bars" --freq minute --out "$data"
lua5.4 "$src/scripts/gen_bars.lua" --bars 200000 --freq minute --out "$small"

"$PY" "$src/tests/tools/posthog_server.py" --port-file "$tmp/port" --events /dev/null \
  --requests /dev/null --lifetime 600 &
server_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
export POSTHOG_HOST="http://127.0.0.1:$(cat "$tmp/port")"
export BTRUN_DATA_DIR="$tmp/data"
cd "$src"

# 1. C: capture calls on one thread, the sender running.
cat > "$tmp/bench.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "analytics.h"
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
int main(int argc, char **argv) {
  (void)argc;
  bt_analytics_opts o;
  bt_analytics_opts_default(&o);
  snprintf(o.api_key, sizeof o.api_key, "phc_test");
  snprintf(o.host, sizeof o.host, "%s", getenv("POSTHOG_HOST"));
  snprintf(o.data_dir, sizeof o.data_dir, "%s", getenv("BTRUN_DATA_DIR"));
  bt_an_schemas *s = bt_an_schemas_new();
  bt_err err = {0};
  bt_an_schemas_load_dir(s, argv[1], &err);
  bt_analytics *a = bt_analytics_open(&o, s, &err);
  if (!a) { fprintf(stderr, "%s\n", err.msg); return 1; }
  bt_analytics_capture_opts co = {.user_id = "bench"};
  /* Bursts of 1000 events with pauses, as a run emits them: the ring never overflows. */
  enum { ROUNDS = 20, PER = 1000 };
  double ns[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    uint64_t t0 = bt_now_ns();
    for (int i = 0; i < PER; i++) {
      cJSON *p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "correlation_id", "c");
      cJSON_AddStringToObject(p, "strategy_id", "s");
      cJSON_AddStringToObject(p, "run_id", "r");
      cJSON_AddStringToObject(p, "origin", "cli");
      bt_analytics_capture(a, "backtest_job_started", p, &co, NULL, NULL);
    }
    ns[r] = (double)(bt_now_ns() - t0) / PER;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  qsort(ns, ROUNDS, sizeof ns[0], cmp);
  printf("C capture (props built + validated + stamped + queued): best %.0f ns/call, median %.0f ns/call\n",
         ns[0], ns[ROUNDS / 2]);
  bt_analytics_close(a);
  return 0;
}
C
libs=$(pkg-config --libs lua5.4 libcurl libcjson uuid sqlite3 zlib libmicrohttpd libpq gnutls)
cc -O2 -std=gnu11 $(printf -- '-I%s ' "$src"/runtime/*/) $(pkg-config --cflags lua5.4 libcjson) "$tmp/bench.c" \
  "$build/libbtcore.a" $libs -lpthread -lm -o "$tmp/bench"
BTRUN_DATA_DIR="$tmp/data-c" "$tmp/bench" "$src/lua/schemas" | grep -v '^{'

# 2. Lua: one capture per bar vs the same loop without it.
cat > "$tmp/cfg.lua" <<'LUA'
return { analytics = { schemas = { { name = "bar_seen", version = 1,
  required = { close = "number", i = "integer" } } } } }
LUA
cat > "$tmp/capture.lua" <<'LUA'
local capture = os.getenv("CAPTURE") == "1" and bt.analytics.capture or function() end
local i, props = 0, { close = 0, i = 0 }
return { on_bar = function(ctx, bar)
  i = i + 1
  props.close, props.i = bar.close, i
  capture("bar_seen", props)
end }
LUA
dur() { jq -r 'select(.event=="backtest_completed") | .duration_ms' "$1"; }
for mode in 0 1; do
  CAPTURE=$mode POSTHOG_API_KEY=phc_test BTRUN_DATA_DIR="$tmp/data-lua" "$build/btrun" "$tmp/capture.lua" --config "$tmp/cfg.lua" \
    --data "B=$small" --out "$tmp/o" --log-format json > "$tmp/cap$mode.log" 2>/dev/null
done
off=$(dur "$tmp/cap0.log"); on=$(dur "$tmp/cap1.log")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures scale with it)"
echo "Lua capture from on_bar: 200000 bars, ${off} ms without, ${on} ms with = $(( (on - off) * 1000000 / 200000 )) ns/call"

# 3. sma_cross overhead: analytics off vs on (server up), alternating, median of 5.
for i in 1 2 3 4 5; do
  for mode in off on; do
    key=""; [ $mode = on ] && key=phc_test
    t0=$(date +%s%N)
    POSTHOG_API_KEY=$key BTRUN_DATA_DIR="$tmp/data-sma" "$build/btrun" strategies/sma_cross.lua --data "B=$data" --param qty=1 \
      --out "$tmp/o" --log-format json > "$tmp/sma-$mode-$i.log" 2>/dev/null
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $(dur "$tmp/sma-$mode-$i.log")" >> "$tmp/sma-$mode"
  done
done
median() { sort -n -k"$2" "$1" | sed -n 3p | cut -d' ' -f"$2"; }
for col in 2 1; do
  off=$(median "$tmp/sma-off" $col); on=$(median "$tmp/sma-on" $col)
  what=$([ $col = 2 ] && echo "backtest duration" || echo "process wall time")
  echo "sma_cross $bars bars, $what (median of 5): off ${off} ms, on ${on} ms, overhead" \
    "$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%+.2f %%", (b - a) * 100 / a }')"
done
