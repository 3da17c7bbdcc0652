#!/usr/bin/env bash
# A custom target rule that returns NaN/inf still yields valid JSON (null), and the
# breach is raised (exit 2).
set -euo pipefail
T=$(mktemp -d "${BT_TEST_TMP:-/tmp}/perf_nonfinite.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
export BTRUN_DATA_DIR="$T/data"
mkdir -p logs/trades
cp "$BTRUN_SRC/tests/fixtures/perf/basic.jsonl" logs/trades/a.jsonl
cat >targets.lua <<'LUA'
return { rules = { { name = "nan_rule", check = function(s) return false, 0/0, math.huge end } } }
LUA
printf 'return { perf = { targets = "targets.lua" } }\n' >cfg.lua
set +e
"$BTRUN" perf --config cfg.lua --window weekly >out.txt 2>err.log
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat out.txt err.log; echo "FAIL: exit $rc, want 2"; exit 1; }
for f in logs/performance/weekly-summary-2024-01-08.json logs/performance-alerts.jsonl; do
  jq -c . "$f" >/dev/null || { echo "FAIL: $f is not valid JSON"; exit 1; }
done
jq -e '.. | objects | select(.name? == "nan_rule") | .actual == null and .target == null' \
  logs/performance/weekly-summary-2024-01-08.json >/dev/null || { echo "FAIL: nan_rule values"; exit 1; }
echo "ok - non-finite rule values render as null"
