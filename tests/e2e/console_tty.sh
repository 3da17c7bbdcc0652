#!/usr/bin/env bash
# The console a person sees (issue 15, item 7), on a pseudo-terminal 80 columns wide
# (tests/tools/pty_run.py): short lines, no analytics line, a live progress line for
# runs longer than a second that leaves nothing behind, repeated rejections told once,
# print() above the progress line, the summary table with per-symbol rows. Without a
# terminal and in JSON: no progress line, backtest_progress records, full records.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

SLOW="$STRAT/console_slow.lua"
AB=(--data "A=$BTRUN_SRC/data/sample-daily.csv" --data "B=$BTRUN_SRC/data/sample-daily.csv")
pty() { python3 "$BTRUN_SRC/tests/tools/pty_run.py" 80 120 "$T/raw" "$T/screen" -- "$@"; }
# every line the program wrote (split at \n and \r, colours removed) fits 80 columns
fits80() {
  python3 - "$T/raw" <<'PY' || fail "a console line is wider than 80 columns"
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
raw = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw)
bad = [s for s in re.split(r"[\r\n]", raw) if len(s) > 80]
if bad:
    print("too wide:", bad[:3], file=sys.stderr)
    sys.exit(1)
PY
}

# 1. A run of ~1.5 s on a terminal: the progress line is drawn in place and cleared.
#    (Run from $T with a relative --out: the paths in the table are as given, and a long
#    temp dir would not fit 80 columns.)
(cd "$T" && pty "$BTRUN" "$SLOW" "${AB[@]}" --out slow) || fail "slow run on a terminal: exit $?"
grep -q $'\r *[0-9.]*% \\[[#-]*\\] [0-9,.kM]* bars, [0-9,.kM]* bars/s, ETA [0-9:]*, at 20[0-9-]*\033\\[K' "$T/raw" \
  || { cat -v "$T/raw" | head -20 >&2; fail "a live progress line (%, bars, bars/s, ETA, bar date) drawn with \\r and clear-to-end"; }
hasnt "$T/screen" "ETA|bars/s," "the progress line leaves nothing behind"
hasnt "$T/screen" "backtest_progress" "no progress records on a terminal"
has "$T/screen" '^hello from on_bar$' "print() gets its own line above the progress line"
fits80
# the screen, top to bottom
has "$T/screen" '^[0-9:]{8} info  backtest console_slow on A, B: per_bar=0.0003 print_at=4500 \.\.\.$' "started line, cut to fit"
hasnt "$T/screen" "analytics" "analytics_disabled is not shown at info"
has "$T/screen" '^[0-9:]{8} warn  9 orders rejected: insufficient cash; first B 2015-12-18$' "nine rejections told in one line"
eq "$(grep -c 'rejected' "$T/screen")" 2 "one rejection line and the table's row, not one per order"
has "$T/screen" '^[0-9:]{8} info  backtest done in [0-9.]+ s \([0-9]+ bars/s\)$' "completed line without metrics"
has "$T/screen" '^  console_slow.lua  2015-01-02 \.\. [0-9-]{10} \(5,000 bars, 2 symbols\)$' "summary title"
has "$T/screen" '^  sortino +n/a +rejected orders 9$' "rejected orders in the table"
has "$T/screen" '^  symbol +bars +trades +win rate +realized pnl +open pnl$' "per-symbol header"
has "$T/screen" '^  A +2,500 +0 +n/a +0\.00 +-$' "per-symbol row A"
has "$T/screen" '^  B +2,500 +0 +n/a +0\.00 +-$' "per-symbol row B"
has "$T/screen" "^  report +slow/report.html$" "report path"
has "$T/screen" "^  run dir +slow$" "run dir"
eq "$(res "$T/slow" .rejected_orders)" 9 "result.json counts every rejection"
ok "terminal: progress line in place, aggregated rejections, summary table"

# 2. A short run on a terminal draws no progress line at all.
(cd "$T" && pty "$BTRUN" "$BTRUN_SRC/strategies/sma_cross.lua" --out short) || fail "short run: exit $?"
grep -q $'\033\\[K' "$T/raw" && fail "a run under a second draws no progress line"
has "$T/screen" '^  trades +50 +win rate +36\.0%$' "summary"
fits80
ok "terminal: no progress line for a short run"

# 3. Not a terminal, console format: no \r, no colour; the same summary.
"$BTRUN" "$SLOW" "${AB[@]}" --param per_bar=0 --log-format console --out "$T/file" >"$T/file.out" 2>&1
grep -q $'[\r\033]' "$T/file.out" && fail "no progress line or colour into a file"
has "$T/file.out" '^  A +2,500 +0 ' "summary rows into a file too"
ok "console into a file: no progress line"

# 4. JSON: backtest_progress records (progress_every), one orders_rejected record with
#    the details, per-order records at debug, the full backtest_completed record.
printf 'return { progress_every = 1000 }\n' >"$T/cfg.lua"
"$BTRUN" "$SLOW" "${AB[@]}" --param per_bar=0 --config "$T/cfg.lua" --log-format json --out "$T/js" >"$T/js.out"
eq "$(grep -c '"event":"backtest_progress"' "$T/js.out")" 5 "a backtest_progress record every 1000 bars"
jq -se 'map(select(.event == "orders_rejected")) | length == 1 and (.[0] | .count == 9 and .reason == "insufficient cash"
  and .first_symbol == "B" and .first_time == "2015-12-18T00:00:00Z" and .first_order_id == 1 and (.first_reason | startswith("insufficient cash"))
  and .level == "warning" and (.run_id | length) == 36 and (has("text") | not))' "$T/js.out" >/dev/null \
  || fail "orders_rejected JSON record: $(grep orders_rejected "$T/js.out")"
grep -q '"event":"order_rejected"' "$T/js.out" && fail "per-order records are debug"
jq -se 'map(select(.event == "backtest_completed")) | .[0] | .metrics.bars == 5000 and (.metrics.total_return | type) == "number"
  and .out_dir != null and .duration_ms != null' "$T/js.out" >/dev/null || fail "backtest_completed keeps its fields"
jq -se 'map(select(.event == "backtest_started")) | .[0] | .strategy != null and (.data | length) == 2 and .params.per_bar == 0' \
  "$T/js.out" >/dev/null || fail "backtest_started keeps its fields"
"$BTRUN" "$SLOW" "${AB[@]}" --param per_bar=0 --log-format json --log-level debug --out "$T/js2" >"$T/js2.out"
eq "$(grep -c '"event":"order_rejected"' "$T/js2.out")" 9 "one order_rejected record per order at debug"
ok "JSON: progress records, aggregated and per-order rejections"
