#!/usr/bin/env bash
# Lineage from EVERY FILL of a real run (ORCL 1995-2014, sma_cross) back to the BAR or
# SIGNAL it started from, through `btrun trace lineage`; fill count against trades.jsonl.
set -euo pipefail
: "${BTRUN:?}" "${MARKET_DATA:?}"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/trace_lineage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data" BTRUN_LOG_LEVEL=error
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BTRUN" strategies/sma_cross.lua --data "$MARKET_DATA/orcl-1995-2014.txt" --out "$tmp/run" >/dev/null
run=$("$BTRUN" runs list --format jsonl --limit 1 | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
[ -n "$run" ] || fail "no run in the store"
grep -q "\"run_id\":[[:space:]]*\"$run\"" "$tmp/run/result.json" || fail "store run $run is not the run in result.json"
"$BTRUN" runs show "$run" | grep -q '^status *completed$' || fail "run not completed"

# every FILL in the store; the broker's fills are the trades' entries and exits
"$BTRUN" events list --run "$run" --type FILL --format csv | tail -n +2 | cut -d, -f1 >"$tmp/fills"
nfills=$(wc -l <"$tmp/fills")
closed=$(grep -c '"status":"closed"' "$tmp/run/trades.jsonl" || true)
open=$(grep -c '"status":"open"' "$tmp/run/trades.jsonl" || true)
[ "$nfills" -gt 50 ] || fail "only $nfills fills"
[ "$nfills" -eq $((2 * closed + open)) ] || fail "$nfills FILL events, trades.jsonl says $((2 * closed + open)) fills"

# one lineage per FILL (blank-line separated), each checked: root first, BAR -> SIGNAL ->
# ORDER -> * FILL (the queried event)
# shellcheck disable=SC2046
"$BTRUN" trace lineage $(cat "$tmp/fills") >"$tmp/trees" || fail "trace lineage failed"
n=$(awk -v ids="$(tr '\n' ' ' <"$tmp/fills")" '
  function check() {
    if (!nl) return
    k++
    if (root != "BAR" && root != "SIGNAL") bad("lineage starts at " root ", not a BAR or SIGNAL")
    # the tree prints the run id shortened to a unique prefix (as `events list` does)
    split(fid, f, ":"); split(want[k], w, ":")
    if (f[2] != w[2] || index(w[1], f[1]) != 1 || length(f[1]) < 8)
      bad("the queried FILL is " fid ", expected " want[k])
    if (otime == "") bad("no ORDER before the FILL")
    if (otime != rtime) bad("order at " otime ", its bar at " rtime)
    if (!(ftime > otime)) bad("fill at " ftime " is not after its order (" otime ")")
    nl = 0; root = ""; fid = ""; otime = ""; rtime = ""; ftime = ""
  }
  function bad(msg) { print "FAIL: " want[k] ": " msg > "/dev/stderr"; failed = 1 }
  BEGIN { split(ids, want, " ") }
  /^$/ { check(); next }
  {
    sub(/^[ └├│─]*/, "")
    star = sub(/^\* /, "")
    nl++
    if (nl == 1) { root = $1; rtime = $3 }
    if ($1 == "ORDER" && fid == "") otime = $3
    if (star) { fid = ($1 == "FILL") ? $2 : "a " $1; ftime = $3 }
  }
  END { check(); if (failed) exit 1; print k }' "$tmp/trees") || fail "lineage checks failed"
[ "$n" -eq "$nfills" ] || fail "checked $n of $nfills fills"

# JSON form of one lineage: nested "caused" from the root down to the FILL
first=$(head -1 "$tmp/fills")
"$BTRUN" trace lineage "$first" --format json >"$tmp/lineage.json"
grep -q '"event_type":[[:space:]]*"BAR"' "$tmp/lineage.json" || fail "json lineage lacks the BAR"
grep -q '"query":[[:space:]]*true' "$tmp/lineage.json" || fail "json lineage does not mark the queried event"
echo "ok: $nfills fills traced back to their bars"
