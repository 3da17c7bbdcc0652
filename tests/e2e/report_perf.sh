#!/usr/bin/env bash
# report_perf.sh - perf summary pages (`btrun perf --export html`): a one-trade window
# gets a sentence, not degenerate charts; a window with several days has dated axes, the
# rolling win-rate target drawn as a line with the breach marked, and lists the window's
# alerts with their ack state (active, then acknowledged after `btrun perf ack`).
source "$(dirname "$0")/../fixtures/core/lib.sh"
cd "$T"
mkdir -p logs/trades one/logs/trades
cp "$BTRUN_SRC/tests/fixtures/perf/basic.jsonl" logs/trades/
head -1 "$BTRUN_SRC/tests/fixtures/perf/basic.jsonl" >one/logs/trades/t.jsonl
printf 'return { win_rate = { min = 0.6, window = 3, severity = "warning" } }\n' >targets.lua
cp targets.lua one/

(cd one && "$BTRUN" perf --targets targets.lua --window daily --export html >page.html 2>/dev/null) || fail "one-trade export"
has one/page.html "One trading day in this window \(2024-01-08\): 1 trade" "one-trade sentence"
hasnt one/page.html "<polyline|<polygon" "no degenerate line charts"
ok "one-trade window: a sentence instead of charts"

"$BTRUN" perf --targets targets.lua --window weekly --end 2024-01-10 >perf.txt 2>&1 && fail "breach should exit 2"
id=$(grep -o 'pa-[0-9a-f]\{16\}' perf.txt | head -1)
[ -n "$id" ] || fail "no alert raised"
"$BTRUN" perf --targets targets.lua --window weekly --end 2024-01-10 --export html >week.html 2>/dev/null || true
has week.html "<code>$id</code>.*ACTIVE" "active alert listed"
has week.html 'class="cl" text-anchor="[a-z]+">2024-01-09<' "dated x axis"
has week.html 'target &gt;= 60.00% \(last 3 trades\)' "rolling target line"
has week.html 'rolling \(last 3 trades\) at the period end: 33.33% \(breach\)' "breach point marked"
"$BTRUN" perf ack "$id" >/dev/null 2>&1 || fail "ack"
"$BTRUN" perf --targets targets.lua --window weekly --end 2024-01-10 --export html >week2.html 2>/dev/null || true
has week2.html "<code>$id</code>.*acknowledged 20" "acknowledged alert listed"
ok "weekly window: dated axes, target line, breach point, alerts with ack state"
