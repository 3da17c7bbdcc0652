#!/usr/bin/env bash
# trace_export_golden.sh - `events list --format csv` keeps its exact values and quoting:
# the export of tests/strategies/export_payloads.lua (flat payloads of every kind:
# doubles, NaN/inf, secrets under secret-named keys and inside strings, quotes, line
# breaks, control bytes, invalid UTF-8, NUL bytes, odd keys; JSON-text payloads: nested,
# arrays, too long to be flat; ORDER, FILL and PORTFOLIO events) equals
# tests/fixtures/events/export_payloads.csv, written by the export that rendered each
# payload to JSON and parsed it back with cJSON (before the flat-field iterator). The
# columns that differ per run (ids with the run id, correlation_id, the timings) are
# left out; every other column, header included, is compared, and the quoting of the
# whole file is checked against RFC 4180 as the export applies it.
source "$(dirname "$0")/../fixtures/core/lib.sh"
"$BTRUN" --log-level error "$STRAT/export_payloads.lua" --data "$FIX/walk-300.csv" \
  --out "$T/run" >"$T/run.log" 2>&1 || { cat "$T/run.log"; fail "run failed"; }
"$BTRUN" events list --run latest --format csv >"$T/events.csv" || fail "csv export failed"
python3 - "$T/events.csv" "$T/kept.csv" <<'PY' || fail "the CSV's quoting is not the export's rule"
import csv, sys
raw = open(sys.argv[1], encoding="utf-8", newline="").read()
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
def q(s):
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n\r') else s
assert raw == "".join(",".join(q(f) for f in r) + "\n" for r in rows), "quoting"
drop = {"event_id", "causation_id", "correlation_id", "created_at", "emitted_at",
        "received_at", "processed_at", "latency_ns", "queue_time_ns"}
keep = [i for i, h in enumerate(rows[0]) if h not in drop]
with open(sys.argv[2], "w", encoding="utf-8", newline="") as f:
    for r in rows:
        f.write(",".join(q(r[i]) for i in keep) + "\n")
PY
want="$BTRUN_SRC/tests/fixtures/events/export_payloads.csv"
if ! cmp -s "$T/kept.csv" "$want"; then
  diff "$want" "$T/kept.csv" | head -20 >&2
  fail "the CSV export differs from $want"
fi
[ "$(wc -l <"$T/kept.csv")" -gt 700 ] || fail "too few rows"
ok "CSV export identical to the golden file ($(wc -l <"$T/kept.csv") lines)"
