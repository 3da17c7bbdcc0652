#!/usr/bin/env bash
# Event ids and export (issue 15, items 9 and 10): the table's EVENT_ID is what
# `trace lineage` takes; `--run latest` wherever a run is named; `trace lineage --run X
# SEQ`; the lineage tree's columns line up; an unknown --type is an error listing the
# types; JSONL and CSV both carry every field, CSV with the payload flattened into
# data.<key> columns in the documented order; a closed pipe ends an export quietly.
set -euo pipefail
: "${BTRUN:?}" "${MARKET_DATA:?}"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/trace_export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data" BTRUN_LOG_LEVEL=error
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$MARKET_DATA/orcl-1995-2014.txt"

# a strategy with user events: nested payloads, commas and quotes in values
cat >"$tmp/notes.lua" <<'LUA'
local s = { n = 0 }
function s.on_bar(ctx, bar)
  s.n = s.n + 1
  if s.n % 250 == 0 then
    bt.trace.emit("note", { n = s.n, text = 'a,"b"', deep = { x = 1.5, y = "z" }, list = { 1, 2 } })
    if ctx:position() == 0 then ctx:buy(1) else ctx:close() end
  end
end
return s
LUA
"$BTRUN" "$tmp/notes.lua" --data "$data" --out "$tmp/notes" >/dev/null
"$BTRUN" strategies/sma_cross.lua --data "$data" --out "$tmp/run" >/dev/null
run=$("$BTRUN" runs list --format jsonl --limit 1 | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p')
notes=$("$BTRUN" runs list --format jsonl --limit 2 | sed -n '2s/.*"run_id":"\([^"]*\)".*/\1/p')
[ -n "$run" ] && [ -n "$notes" ] || fail "no runs"

# --- item 9: --run latest everywhere a run is named
"$BTRUN" runs show latest | grep -q "^run_id *$run\$" || fail "runs show latest"
"$BTRUN" trace latency --run latest | head -1 | grep -q "$run" || fail "trace latency --run latest"
"$BTRUN" events list --run latest --limit 1 | head -1 | grep -q "^run $run " || fail "events list --run latest"

# the table's EVENT_ID column is what trace lineage takes
"$BTRUN" events list --run latest --type FILL --limit 1 >"$tmp/table"
head -2 "$tmp/table" | tail -1 | grep -q '^EVENT_ID ' || fail "no EVENT_ID column: $(head -2 "$tmp/table")"
id=$(sed -n 3p "$tmp/table" | awk '{print $1}')
[[ "$id" == "${run:0:8}"*:* ]] || fail "EVENT_ID '$id' is not RUN_ID-prefix:SEQ of $run"
"$BTRUN" trace lineage "$id" >"$tmp/tree" || fail "trace lineage '$id' (from events list) failed"
grep -q '\* FILL ' "$tmp/tree" || fail "the queried FILL is not marked"
# --run X SEQ and latest:SEQ name the same event
"$BTRUN" trace lineage --run latest "${id#*:}" | cmp -s - "$tmp/tree" || fail "lineage --run latest SEQ differs"
"$BTRUN" trace lineage "latest:${id#*:}" | cmp -s - "$tmp/tree" || fail "lineage latest:SEQ differs"

# the tree's columns line up: every line's event id starts at the same display column
python3 - "$tmp/tree" <<'PY' || fail "lineage columns not aligned: $(cat "$tmp/tree")"
import re, sys
cols = set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r"\S+:\d+  ", line)
    cols.add(m.start())
sys.exit(0 if len(cols) == 1 and len(open(sys.argv[1]).readlines()) >= 4 else 1)
PY

# --type: a name that is neither an event type nor a user type of the run is an error
"$BTRUN" events list --run "$notes" --type NOPE >"$tmp/out" 2>"$tmp/err" && fail "--type NOPE accepted"
grep -q "'NOPE' is not an event type" "$tmp/err" && grep -q "BAR, SIGNAL, ORDER, FILL" "$tmp/err" &&
  grep -q "user types in this run: note" "$tmp/err" || fail "--type error: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "--type NOPE printed events"
n=$("$BTRUN" events list --run "$notes" --type note --format jsonl | wc -l)
[ "$n" -eq $((5036 / 250)) ] || fail "--type note: $n events"

# --- item 10: every field in both forms, the same values
for r in "$run" "$notes"; do
  "$BTRUN" events list --run "$r" --format jsonl >"$tmp/ev.jsonl"
  "$BTRUN" events list --run "$r" --format csv >"$tmp/ev.csv"
  python3 - "$tmp/ev.jsonl" "$tmp/ev.csv" <<'PY' || fail "jsonl/csv check failed for run $r"
import csv, json, sys
FIXED = ["event_id", "seq", "event_type", "user_type", "timestamp", "symbol", "causation_id",
         "correlation_id", "source", "created_at", "emitted_at", "received_at", "processed_at",
         "latency_ns", "queue_time_ns"]
def flat(d, pre=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flat(v, pre + k + "."))
        else:
            out["data." + pre + k] = v
    return out
def text(v):
    if v is None: return ""
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (list, dict)): return json.dumps(v, separators=(",", ":"))
    return str(v)
js = [json.loads(l) for l in open(sys.argv[1])]
rows = list(csv.reader(open(sys.argv[2], newline="")))
head, rows = rows[0], rows[1:]
assert len(js) == len(rows) > 1000, (len(js), len(rows))
assert head[:len(FIXED)] == FIXED, head
assert all(c.startswith("data.") for c in head[len(FIXED):]), head
for j, row in zip(js, rows):
    assert list(j) == FIXED + ["data"], list(j)
    assert j["latency_ns"] == j["processed_at"] - j["created_at"]
    assert j["queue_time_ns"] == j["received_at"] - j["emitted_at"]
    c = dict(zip(head, row))
    for k in FIXED:
        assert c[k] == text(j[k]), (k, c[k], j[k])
    want = flat(j["data"])
    got = {k: v for k, v in c.items() if k.startswith("data.") and v != ""}
    assert set(k for k, v in want.items() if text(v) != "") == set(got), (j, got)
    for k, v in want.items():
        assert k in head, ("no column", k)
        same = float(c[k]) == v if isinstance(v, float) else c[k] == text(v)
        assert same, (k, c[k], v)
types = {j["event_type"] for j in js}
if "USER" in types:
    u = next(j for j in js if j["event_type"] == "USER")
    assert u["user_type"] == "note" and u["data"]["deep"]["y"] == "z"
    assert "data.deep.x" in head and "data.list" in head
PY
done
# the CSV column order is the documented one (docs/events.md "Export")
want="event_id,seq,event_type,user_type,timestamp,symbol,causation_id,correlation_id,source,created_at,emitted_at,received_at,processed_at,latency_ns,queue_time_ns,data.open,data.high,data.low,data.close,data.volume,data.fast,data.side,data.slow,data.order_id,data.order_type,data.qty,data.limit,data.stop,data.status,data.reason,data.price,data.commission,data.cash,data.equity,data.position,data.position_value"
[ "$("$BTRUN" events list --run "$run" --format csv | head -1)" = "$want" ] ||
  fail "csv header: $("$BTRUN" events list --run "$run" --format csv | head -1)"
# only the selected types' columns
[ "$("$BTRUN" events list --run "$run" --type FILL --format csv | head -1 | tr , '\n' | grep -c '^data\.')" -eq 5 ] ||
  fail "FILL columns"
# a reader that stops early (| head) ends the export quietly
set +o pipefail
"$BTRUN" events list --run "$run" --format jsonl 2>"$tmp/err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
set -o pipefail
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] || fail "export into a closed pipe: rc $rc, $(cat "$tmp/err")"
echo ok
