#!/usr/bin/env bash
# report_compare.sh - `btrun runs list` shows each run's return, Sharpe and max drawdown;
# `btrun runs compare` puts runs side by side (by run id prefix or run directory) and
# --html writes one page whose embedded figures equal each run's result.json;
# scripts/sweep.lua writes that page for its runs.
source "$(dirname "$0")/../fixtures/core/lib.sh"
RF="$BTRUN_SRC/tests/fixtures/report"

run() { # run OUT PLAN
  "$BTRUN" --log-level error --data AAA="$RF/aaa.csv" --param plan="$2" --out "$T/$1" "$STRAT/core_plan.lua" \
    >"$T/$1.log" 2>&1 || { cat "$T/$1.log"; fail "run $1 failed"; }
}
run a "3:buy:100,60:close,90:buy:50,150:close"
run b "10:buy:20,170:close"
ida=$(jq -r .run_id "$T/a/result.json")
idb=$(jq -r .run_id "$T/b/result.json")

# runs list: RETURN SHARPE MAX_DD columns with the run's figures
"$BTRUN" runs list >"$T/list.txt" 2>/dev/null
has "$T/list.txt" "RETURN +SHARPE +MAX_DD" "runs list header"
ret=$(printf '%.2f%%' "$(jq -r '.total_return * 100' "$T/a/result.json")")
dd=$(printf '%.2f%%' "$(jq -r '.max_drawdown * 100' "$T/a/result.json")")
has "$T/list.txt" "^$ida .* $ret +[-0-9.]+ +$dd " "runs list figures of run a"
ok "runs list shows return, Sharpe, max drawdown"

# compare: a by id prefix, b by directory
"$BTRUN" runs compare "${ida:0:8}" "$T/b" --html "$T/cmp/compare.html" >"$T/cmp.txt" 2>"$T/cmp.err" \
  || { cat "$T/cmp.err"; fail "runs compare failed"; }
has "$T/cmp.txt" "^ +${ida:0:8} +${idb:0:8}$" "compare header: both runs"
for k in total_return max_drawdown; do
  a=$(printf '%.2f%%' "$(jq -r ".$k * 100" "$T/a/result.json")")
  b=$(printf '%.2f%%' "$(jq -r ".$k * 100" "$T/b/result.json")")
  has "$T/cmp.txt" "^$k +$a +$b$" "compare row $k"
done
has "$T/cmp.txt" "^param plan " "compare shows parameters"
python3 - "$T/cmp/compare.html" "$T/a/result.json" "$T/b/result.json" <<'PY' || fail "compare page figures differ"
import json, re, sys
html = open(sys.argv[1]).read()
d = json.loads(re.search(r'id="compare-data">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))
want = [json.load(open(p)) for p in sys.argv[2:]]
assert len(d["runs"]) == 2, d["runs"]
for got, w in zip(d["runs"], want):
    for k in ["run_id", "total_return", "sharpe", "max_drawdown", "final_equity", "trades"]:
        assert got.get(k) == w.get(k), (k, got.get(k), w.get(k))
assert html.count("<polyline") >= 2, "equity curves missing"
PY
ok "runs compare: terminal table and --html page"

"$BTRUN" runs compare "$T/a" >"$T/one.txt" 2>&1 && fail "compare of one run accepted"
"$BTRUN" runs compare "$T/a" "$T/nope" >"$T/bad.txt" 2>&1 && fail "compare of a missing run accepted"
ok "runs compare: bad arguments rejected"

# sweep.lua writes compare.html for its runs
"$BTRUN" --log-level error scripts/sweep.lua --data AAA="$RF/aaa.csv" --param fast=5 --param slow=10,20 \
  --out "$T/sweep" >/dev/null 2>"$T/sweep.err" || { cat "$T/sweep.err"; fail "sweep failed"; }
[ "$(grep -o '"run_id":' "$T/sweep/compare.html" | wc -l)" -eq 2 ] || fail "sweep compare.html lacks its 2 runs"
ok "sweep.lua writes compare.html"
