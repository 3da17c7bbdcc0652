#!/usr/bin/env bash
# Fire times of `btrun schedules list --format json` against an independent reference
# (tests/tools/cron_reference.py: Python's zoneinfo and its own cron matcher) over years of
# DST transitions in America/New_York, Europe/London, Australia/Sydney, Asia/Kolkata and
# Australia/Lord_Howe (a 30-minute change), including far-future years that only the tz
# file's footer rule covers. Then the schedules file's errors.
set -u
T="${BT_TEST_TMP:-/tmp}/sched_reference.$$"
rm -rf "$T" && mkdir -p "$T" && cd "$T" || exit 1
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
export BTRUN_DATA_DIR="$T/data"
REF="$BTRUN_SRC/tests/tools/cron_reference.py"

zones=(America/New_York Europe/London Australia/Sydney Asia/Kolkata Australia/Lord_Howe)
# Around the changes (US/EU/AU change on Sunday mornings), plain market schedules, month
# ends, leap days, the OR rule.
exprs=("*/15 0-3 * * 0" "30 2 * * *" "30 1 * * *" "0 * * * SUN" "30 17 * * MON-FRI"
       "5 16 * * 1-5" "0 0 29 2 *" "0 12 31 * *" "0 0 13 * FRI" "@daily" "45 23 * * *")
specs=()
{
  echo "return {"
  i=0
  for z in "${zones[@]}"; do
    for e in "${exprs[@]}"; do
      echo "  { name = \"s$i\", cron = \"$e\", timezone = \"$z\", perf = { window = \"daily\" } },"
      specs+=("s$i=$z|$e")
      i=$((i + 1))
    done
  done
  echo "}"
} >schedules.lua

n=0
for from in 2024-01-01T00:00:00Z 2026-02-20T12:00:00Z 2027-10-01T00:00:00Z 2091-03-01T00:00:00Z; do
  "$BTRUN" schedules list --format json --from "$from" --count 200 --schedules schedules.lua \
    >got.json 2>err.txt || { cat err.txt; fail "list from $from"; }
  python3 "$REF" "$from" 200 "${specs[@]}" >want.json || fail "reference from $from"
  python3 - got.json want.json "$from" <<'PY' || fail "fire times differ from the reference (from $from)"
import json, sys
got = {s["name"]: s["next"] for s in json.load(open(sys.argv[1]))}
bad = 0
for s in json.load(open(sys.argv[2])):
    g = got.get(s["name"])
    # The reference looks 30 years ahead: sparse schedules (Feb 29) compare that far.
    if len(s["next"]) < 200 and g:
        g = g[:len(s["next"])]
    if not s["next"] or g != s["next"]:
        bad += 1
        i = next((k for k, (a, b) in enumerate(zip(g or [], s["next"])) if a != b), None)
        print(f"{s['name']}: first difference at {i}: got {g[i] if g and i is not None else len(g or [])} "
              f"want {s['next'][i] if i is not None else len(s['next'])}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  n=$((n + $(jq '[.[].next | length] | add' got.json)))
done
[ "$n" -gt 30000 ] || fail "only $n fire times compared"
ok "$n fire times equal to the zoneinfo reference"

# Errors name the file, the schedule and the field; exit 1.
bad() { # expected-substring lua-body
  printf 'return {\n%s\n}\n' "$2" >bad.lua
  "$BTRUN" schedules list --schedules bad.lua >/dev/null 2>err.txt && fail "accepted: $2"
  grep -qF -- "$1" err.txt || fail "error lacks '$1': $(cat err.txt)"
  grep -qF "bad.lua" err.txt || fail "error lacks the file: $(cat err.txt)"
}
bt='backtest = { strategy = "sma_cross" }'
bad 'schedule "n1": cron "30 17 * * MON-FRY": day-of-week: bad range' "{ name = \"n1\", cron = \"30 17 * * MON-FRY\", $bt },"
bad 'schedule "n2": timezone: unknown time zone "Mars/Base"' "{ name = \"n2\", cron = \"@daily\", timezone = \"Mars/Base\", $bt },"
bad 'schedule "n3": catch_up: expected "skip", "last" or "all"' "{ name = \"n3\", cron = \"@daily\", catch_up = \"some\", $bt },"
bad 'schedule "n4": backtest: a schedule has exactly one of' "{ name = \"n4\", cron = \"@daily\" },"
bad 'schedule "n5": backtest.data[0]' "{ name = \"n5\", cron = \"@daily\", backtest = { strategy = \"x\", data = { \"../etc\" } } },"
bad 'schedule "n6": perf.window: expected' "{ name = \"n6\", cron = \"@daily\", perf = { window = \"hourly\" } },"
bad 'schedule "n7": name: used by two schedules' "{ name = \"n7\", cron = \"@daily\", $bt }, { name = \"n7\", cron = \"@hourly\", $bt },"
bad 'schedule "#1": name: required' "{ cron = \"@daily\", $bt },"
bad 'schedule "n8": colour: unknown key' "{ name = \"n8\", cron = \"@daily\", colour = \"red\", $bt },"
bad 'schedule "n9": cron: required' "{ name = \"n9\", $bt },"
bad 'schedule "n10": cron "0 0 30 2 *": day-of-month: never fires' "{ name = \"n10\", cron = \"0 0 30 2 *\", $bt },"
"$BTRUN" schedules list --schedules missing.lua >/dev/null 2>err.txt && fail "missing explicit file accepted"
grep -q "missing.lua" err.txt || fail "missing file not named"
"$BTRUN" schedules list >out.txt 2>err.txt || fail "no default file is not an error"
grep -q "No schedules" out.txt || fail "empty list: $(cat out.txt)"
ok "schedule errors name the file, the schedule and the field"
