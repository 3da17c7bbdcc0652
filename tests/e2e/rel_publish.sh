#!/usr/bin/env bash
# Publishing a run (issue 11, item 5) and kill -9 at random points: trades.jsonl and
# equity.csv never exist without a result.json saying completed (result.json is written,
# fsync'd, before they get their final names; a kill in between leaves their complete
# .part files beside it); a failed publish (a
# directory named result.json.part in the way) leaves only .part files. The event store
# stays readable after every kill; the killed run shows as incomplete.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
lua5.4 scripts/gen_bars.lua --bars 60000 --freq minute --seed 11 --out "$T/bars.csv"

# 1. result.json cannot be written: exit 1, nothing looks complete.
mkdir -p "$T/blocked/result.json.part"
bt strategies/sma_cross.lua --data "$FIX/up5.csv" --out "$T/blocked"
[ "$RC" -eq 1 ] || fail "blocked publish: exit $RC"
[ ! -e "$T/blocked/trades.jsonl" ] && [ ! -e "$T/blocked/equity.csv" ] \
  || fail "blocked publish left final-looking files: $(ls "$T/blocked")"
[ ! -e "$T/blocked/result.json" ] || fail "a result.json after a failed publish"
[ -e "$T/blocked/trades.jsonl.part" ] && [ -e "$T/blocked/equity.csv.part" ] \
  || fail "the .part files are gone: $(ls "$T/blocked")"
has "$T/out.log" '"event":"backtest_failed"' "failed publish logged"
ok "a failed publish leaves only .part files"

# 2. kill -9 at random points (8 kills, each within 1.5 s): never a half-published run.
RANDOM=42
for i in 1 2 3 4 5 6 7 8; do
  d="$T/k$i"
  "$BTRUN" --log-format json strategies/sma_cross.lua --data "$T/bars.csv" --out "$d" \
    --correlation-id "kill-$i" >"$T/k$i.log" 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -e "$d/result.json" ]; then
    # completed: its files, final or (killed just after result.json) complete .part files
    eq "$(jq -r .status "$d/result.json")" completed "kill $i: result.json status"
    tr="$d/trades.jsonl" eqf="$d/equity.csv"
    [ -e "$tr" ] || tr="$tr.part"
    [ -e "$eqf" ] || eqf="$eqf.part"
    [ -s "$eqf" ] && [ -e "$tr" ] || fail "kill $i: result.json without its files: $(ls "$d")"
    [ "$(jq -r .trades "$d/result.json")" -le "$(wc -l <"$tr")" ] \
      || fail "kill $i: $tr shorter than result.json says"
  else
    for f in trades.jsonl equity.csv report.html; do
      [ ! -e "$d/$f" ] || fail "kill $i: $f looks complete without result.json"
    done
  fi
  "$BTRUN" runs list --format jsonl >"$T/runs.jsonl" 2>"$T/err.log" || { cat "$T/err.log" >&2; fail "kill $i: store unreadable"; }
  st=$(jq -r "select(.correlation_id == \"kill-$i\") | .status" "$T/runs.jsonl")
  case "$st" in
  "" | incomplete | completed) ;;
  *) fail "kill $i: run status '$st'" ;;
  esac
  if [ -n "$st" ]; then
    "$BTRUN" events list --correlation "kill-$i" --format jsonl >/dev/null 2>"$T/err.log" \
      || { cat "$T/err.log" >&2; fail "kill $i: events unreadable"; }
  fi
done
ok "kill -9 at 8 random points: complete runs or nothing final-looking; the store reads"
