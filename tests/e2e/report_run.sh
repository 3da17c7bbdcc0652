#!/usr/bin/env bash
# report_run.sh - report.html of a run: the numbers embedded in the page (the JSON block
# id="report-data") equal result.json's, the open positions equal trades.jsonl's open
# lines (including one entered after the last exit), the buy-and-hold benchmark equals a
# hand computation from the fixture CSVs (BBB starts six weeks late: its share waits as
# cash), --benchmark's series likewise, and the monthly returns equal those computed
# here from equity.csv. Then the page is rendered in headless Chromium: no console
# errors, every main section present. Without chromium the render check is skipped
# (with a message), except under CI where it fails.
source "$(dirname "$0")/../fixtures/core/lib.sh"
command -v python3 >/dev/null || fail "python3 is required"
RF="$BTRUN_SRC/tests/fixtures/report"

# AAA: two round trips then a buy after the last exit (open at the end); BBB: one round trip
plan="5:buy:100:AAA,40:close:AAA,60:buy:100:AAA,90:close:AAA,100:buy:50:BBB,250:close:BBB,300:buy:10:AAA"
"$BTRUN" --log-level error --data AAA="$RF/aaa.csv" --data BBB="$RF/bbb.csv" --benchmark IDX="$RF/idx.csv" \
  --param plan="$plan" --out "$T/run" "$STRAT/core_plan.lua" >"$T/out.txt" 2>&1 || { cat "$T/out.txt"; fail "run failed"; }
[ -s "$T/run/report.html" ] || fail "no report.html"

python3 - "$T/run" "$RF" <<'PY' || fail "report numbers differ (see above)"
import csv, json, re, sys
run, fx = sys.argv[1], sys.argv[2]
html = open(run + "/report.html").read()
m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
assert m, "no report-data block"
d = json.loads(m.group(1).replace("<\\/", "</"))
res = json.load(open(run + "/result.json"))
bad = []
def eq(got, want, what):
    if got != want: bad.append(f"{what}: report {got!r} != {want!r}")
def near(got, want, what, eps=1e-12):
    if got is None or abs(got - want) > eps * max(1, abs(want)): bad.append(f"{what}: report {got!r} != {want!r}")
k = d["kpi"]
for key in ["total_return", "cagr", "sharpe", "sortino", "max_drawdown", "win_rate", "profit_factor",
            "expectancy", "exposure", "trades", "rejected_orders", "final_equity", "initial_cash"]:
    eq(k.get(key), res.get(key), "kpi " + key)
eq(d["run_id"], res["run_id"], "run_id")
# open positions = trades.jsonl's open lines (AAA was bought after the last exit)
trades = [json.loads(l) for l in open(run + "/trades.jsonl") if l.strip()]
opened = [t for t in trades if t["status"] == "open"]
if len(opened) != 1: bad.append(f"fixture should leave 1 open trade, has {len(opened)}")
last_exit = max(t["exit_time"] for t in trades if t["status"] == "closed")
if not all(t["entry_time"] > last_exit for t in opened): bad.append("open trade not entered after the last exit")
eq(len(d["open_positions"]), len(opened), "open positions count")
eq(k["open_trades"], len(opened), "kpi open_trades")
for p, t in zip(d["open_positions"], opened):
    for a, b in [("symbol", "symbol"), ("qty", "qty"), ("entry_price", "entry_price"), ("mark", "exit_price"), ("pnl", "pnl")]:
        eq(p[a], t[b], "open position " + a)
# buy and hold by hand: half the cash in each symbol at its first close, held to the end
def closes(path):
    return [(r["Date"], float(r["Close"])) for r in csv.DictReader(open(path))]
a, b = closes(fx + "/aaa.csv"), closes(fx + "/bbb.csv")
bh = (a[-1][1] / a[0][1] + b[-1][1] / b[0][1]) / 2 - 1
near(d["benchmark"]["total_return"], bh, "benchmark total_return")
# --benchmark IDX: from its close on the run's first day to its close on the run's last day
ix = dict(closes(fx + "/idx.csv"))
first_day, last_day = a[0][0], max(a[-1][0], b[-1][0])
near(d["benchmark_extra"]["total_return"], ix[last_day] / ix[first_day] - 1, "--benchmark total_return")
# monthly returns from equity.csv: month-end equity over the previous month-end (initial cash first)
prev, last, monthly = float(res["initial_cash"]), {}, {}
rows = list(csv.DictReader(open(run + "/equity.csv")))
for r in rows: last[r["time"][:7]] = float(r["equity"])
for mo in sorted(last):
    monthly[mo] = last[mo] / prev - 1
    prev = last[mo]
eq(sorted(d["monthly"]), sorted(monthly), "heatmap months")
for mo, v in monthly.items(): near(d["monthly"].get(mo), v, "monthly " + mo)
if len(monthly) < 6: bad.append("fixture should span 6+ months")
# each listed trade carries its fill's lineage
m2 = re.search(r'btrun trace lineage ([0-9a-f]{8}):(\d+)"', html)
if not m2 or m2.group(1) != res["run_id"][:8]: bad.append("no lineage command for the run")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "report numbers equal result.json, trades.jsonl, hand-computed benchmark and monthly returns"

# the lineage ids point at the run's FILL events
fill=$(grep -oE 'btrun trace lineage [0-9a-f]{8}:[0-9]+' "$T/run/report.html" | head -1 | awk '{print $4}')
"$BTRUN" trace lineage "$fill" --format json 2>/dev/null | jq -e '.. | objects | select(.event_type? == "FILL")' >/dev/null \
  || fail "lineage id $fill is not a FILL"
ok "lineage ids are the trades' FILL events"

# a bad --benchmark is a usage error naming the path
"$BTRUN" --benchmark IDX="$T/nope.csv" "$STRAT/core_plan.lua" >"$T/bad.txt" 2>&1 && fail "missing benchmark file accepted"
has "$T/bad.txt" "nope.csv" "benchmark error names the file"
ok "bad --benchmark rejected"

# render in headless Chromium
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
  [ -n "${CI:-}" ] && fail "chromium is required under CI"
  echo "SKIP: chromium not installed; the rendering check did not run"
  exit 0
fi
prof=$(mktemp -d "$T/chrome.XXXXXX")
timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$prof" \
  --enable-logging=stderr --v=0 --dump-dom "file://$T/run/report.html" >"$T/dom.html" 2>"$T/chrome.err" \
  || { tail -20 "$T/chrome.err" >&2; fail "chromium failed"; }
hasnt "$T/chrome.err" "CONSOLE|Uncaught|SyntaxError" "console errors"
for id in summary kpis equity drawdowns returns rolling trade-stats trades open-positions report-data; do
  has "$T/dom.html" "id=\"$id\"" "section $id rendered"
done
[ "$(grep -o '<svg' "$T/dom.html" | wc -l)" -ge 6 ] || fail "charts missing from the DOM"
ok "rendered in headless chromium without console errors"
