#!/usr/bin/env bash
# report_trades.sh - report.html's trade sections of a run with many trades (the report
# reads trades.jsonl once, a chunk at a time): 20,002 closed trades of X and positions
# in X and Y open at the end. The trade list shows the first 25 and last 25 closed trades and
# says how many are not listed; the open position is listed; the returns histogram takes
# every 2nd closed trade (more than 20,000); per-symbol results equal exact sums of
# trades.jsonl; the data block counts every line.
source "$(dirname "$0")/../fixtures/core/lib.sh"
command -v python3 >/dev/null || fail "python3 is required"
lua5.4 scripts/gen_bars.lua --bars 40006 --seed 3 --freq minute --out "$T/x.csv"
lua5.4 scripts/gen_bars.lua --bars 40006 --seed 4 --freq minute --out "$T/y.csv"
cat >"$T/flip.lua" <<'EOF'
-- X: buy on odd bars, close on even ones (a closed trade every two bars); Y: bought once
local s, n = {}, 0
function s.on_bar(ctx, bar)
  if bar.symbol == "Y" then
    if n == 1 and ctx:position("Y") == 0 then ctx:buy(2, { symbol = "Y" }) end
    return
  end
  n = n + 1
  if n % 2 == 1 then ctx:buy(1, { symbol = "X" }) else ctx:close("X") end
end
return s
EOF
"$BTRUN" --log-level error --data X="$T/x.csv" --data Y="$T/y.csv" --out "$T/run" "$T/flip.lua" \
  >"$T/out.txt" 2>&1 || { cat "$T/out.txt"; fail "run failed"; }
[ -s "$T/run/report.html" ] || fail "no report.html"

python3 - "$T/run" <<'PY' || fail "report trade sections differ (see above)"
import json, re, sys
from decimal import Decimal
run = sys.argv[1]
html = open(run + "/report.html").read()
d = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))
lines = [json.loads(l) for l in open(run + "/trades.jsonl") if l.strip()]
closed = [t for t in lines if t["status"] == "closed"]
opened = [t for t in lines if t["status"] == "open"]
bad = []
def eq(got, want, what):
    if got != want: bad.append(f"{what}: report {got!r} != {want!r}")
eq(len(closed), 20002, "fixture: closed trades")
eq(sorted(t["symbol"] for t in opened), ["X", "Y"], "fixture: open at the end")
eq([t["status"] for t in lines[-2:]], ["open", "open"], "fixture: the open trades end the file")
eq(d["trades_total"], len(lines), "trades_total")
eq(d["trades_shown"], 50, "trades_shown")
sec = re.search(r'<section id="trades">(.*?)</section>', html, re.S).group(1)
ids = [int(x) for x in re.findall(r'<tr><td>(\d+)</td><td class="l">', sec)]
want = [t["trade_id"] for t in closed[:25] + closed[-25:]]
eq(ids, want, "listed trade ids")
m = re.search(r'(\d+) trades not listed', sec)
eq(int(m.group(1)) if m else None, len(closed) - 50, "trades not listed")
eq([(p["symbol"], p["qty"], p["entry_price"], p["pnl"]) for p in d["open_positions"]],
   [(t["symbol"], t["qty"], t["entry_price"], t["pnl"]) for t in opened], "open positions")
stride = len(closed) // 20000 + 1
drawn = [t for t in closed[::stride] if Decimal(t["qty"]) * Decimal(t["entry_price"]) != 0]
m = re.search(r'Distribution of trade returns \((\d+) closed trades\)', html)
eq(int(m.group(1)) if m else None, len(drawn), "histogram trades")
if f"Every {stride}-th closed trade is in the histogram" not in html: bad.append("no stride note")
for b in d["by_symbol"]:
    c = [t for t in closed if t["symbol"] == b["symbol"]]
    o = [t for t in opened if t["symbol"] == b["symbol"]]
    eq(b["trades"], len(c), b["symbol"] + " trades")
    eq(b["wins"], sum(Decimal(t["pnl"]) > 0 for t in c), b["symbol"] + " wins")
    eq(Decimal(b["pnl"]), sum((Decimal(t["pnl"]) for t in c), Decimal(0)), b["symbol"] + " pnl")
    eq(b["open"], len(o), b["symbol"] + " open")
    eq(Decimal(b["unrealized"]), sum((Decimal(t["pnl"]) for t in o), Decimal(0)), b["symbol"] + " unrealized")
eq(sorted(b["symbol"] for b in d["by_symbol"]), ["X", "Y"], "by_symbol symbols")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "trade list (first and last 25), open position, histogram stride, per-symbol sums of 20,004 trades"
