#!/usr/bin/env bash
# `btrun perf` with an IANA zone: trades around midnight and the 2027 US DST changes land
# on the right New York day (hand-computed from tests/fixtures/perf/dst_ny.jsonl), fixed
# offsets keep their old meaning, config/env/flag precedence, bad zones are named.
set -u
T="${BT_TEST_TMP:-/tmp}/perf_timezone.$$"
rm -rf "$T" && mkdir -p "$T/logs/trades" "$T/config"
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
cd "$T"
export BTRUN_DATA_DIR="$T/data"
unset PERFORMANCE_SUMMARY_TIMEZONE
cp "$BTRUN_SRC/tests/fixtures/perf/dst_ny.jsonl" logs/trades/2027.jsonl

# pnl of the daily summary of DAY in OUT_DIR ("-" when the file is missing)
pnl() { local f="$1/daily-summary-$2.json"; [ -f "$f" ] && jq -r .realized_pnl "$f" || echo -; }
expect() { # OUT DAY PNL
  local got; got=$(pnl "$1" "$2")
  [ "$got" = "$3" ] || fail "$1 $2: realized_pnl $got, want $3"
}

# Local days in America/New_York (EST = UTC-5 until 2027-03-14T07:00Z, then EDT = UTC-4
# until 2027-11-07T06:00Z):
#   t1 03-13T04:59Z = 03-12 23:59 EST -> 03-12: 1
#   t2 03-13T05:00Z = 03-13 00:00 EST, t3 03-14T04:30Z = 03-13 23:30 EST -> 03-13: 2+4 = 6
#   t4 03-15T03:59Z = 03-14 23:59 EDT -> 03-14: 8
#   t5 03-15T04:30Z = 03-15 00:30 EDT -> 03-15: 16
#   t6 11-07T04:30Z = 11-07 00:30 EDT, t9 11-07T05:30Z = 01:30 EDT, t10 11-07T06:30Z = 01:30 EST,
#   t7 11-08T04:30Z = 11-07 23:30 EST -> 11-07: 32+256+512+64 = 864
#   t8 11-08T05:00Z = 11-08 00:00 EST -> 11-08: 128
"$BTRUN" perf --timezone America/New_York --window daily --start 2027-03-12 --end 2027-03-15 \
  --out ny >out.txt 2>err.txt || { cat out.txt err.txt; fail "perf --timezone America/New_York"; }
expect ny 2027-03-12 1.0; expect ny 2027-03-13 6.0; expect ny 2027-03-14 8.0; expect ny 2027-03-15 16.0
"$BTRUN" perf --timezone America/New_York --window daily --start 2027-11-06 --end 2027-11-08 \
  --out ny >out.txt 2>err.txt || { cat out.txt err.txt; fail "perf fall back"; }
expect ny 2027-11-07 864.0; expect ny 2027-11-08 128.0
[ "$(pnl ny 2027-11-06)" = - ] || fail "no trade on 2027-11-06 in New York"
[ "$(jq -r .timezone ny/daily-summary-2027-11-07.json)" = America/New_York ] || fail "summary timezone"
grep -q "(America/New_York)" out.txt || fail "printed zone: $(head -1 out.txt)"
grep -q "Market timezone America/New_York" ny/daily-summary-2027-11-07.md || fail "md zone"
ok "New York days across midnight and both DST changes"

# A fixed -05:00 is EST all year: t5 falls on 03-14 and t6 on 11-06.
"$BTRUN" perf --timezone -05:00 --window daily --start 2027-03-14 --end 2027-03-15 --out est \
  >/dev/null 2>err.txt || { cat err.txt; fail "perf -05:00"; }
expect est 2027-03-14 24.0
"$BTRUN" perf --timezone -05:00 --window daily --start 2027-11-06 --end 2027-11-07 --out est \
  >/dev/null 2>err.txt || { cat err.txt; fail "perf -05:00 fall"; }
expect est 2027-11-06 32.0; expect est 2027-11-07 832.0
[ "$(jq -r .timezone est/daily-summary-2027-11-07.json)" = -05:00 ] || fail "fixed label"
ok "fixed offsets unchanged"

# Precedence: config perf.timezone < PERFORMANCE_SUMMARY_TIMEZONE < --timezone; the index
# is rebuilt when the zone changes.
printf 'return { perf = { timezone = "America/New_York", out_dir = "cfg" } }\n' >config/btrun.lua
"$BTRUN" perf --window daily --start 2027-03-15 --end 2027-03-15 >/dev/null 2>err.txt || fail "config zone"
expect cfg 2027-03-15 16.0
rm -rf cfg
PERFORMANCE_SUMMARY_TIMEZONE=UTC "$BTRUN" perf --window daily --start 2027-03-15 --end 2027-03-15 \
  >/dev/null 2>err.txt || fail "env zone"
expect cfg 2027-03-15 24.0 # t4 03:59Z + t5 04:30Z in UTC
rm -rf cfg
PERFORMANCE_SUMMARY_TIMEZONE=UTC "$BTRUN" perf --timezone America/New_York --window daily \
  --start 2027-03-15 --end 2027-03-15 >/dev/null 2>err.txt || fail "flag zone"
expect cfg 2027-03-15 16.0
ok "config, env and flag precedence"

# Bad zones: named in the error, exit 1.
"$BTRUN" perf --timezone Mars/Olympus >/dev/null 2>err.txt && fail "unknown zone accepted"
grep -q 'Mars/Olympus' err.txt || fail "flag error: $(cat err.txt)"
PERFORMANCE_SUMMARY_TIMEZONE=../etc/passwd "$BTRUN" perf >/dev/null 2>err.txt && fail "path accepted"
grep -q 'PERFORMANCE_SUMMARY_TIMEZONE' err.txt || fail "env error: $(cat err.txt)"
printf 'return { perf = { timezone = "Nowhere/Town" } }\n' >config/btrun.lua
"$BTRUN" perf >/dev/null 2>err.txt && fail "config zone accepted"
grep -q 'perf.timezone' err.txt && grep -q 'Nowhere/Town' err.txt || fail "config error: $(cat err.txt)"
ok "bad zones rejected with their name"
