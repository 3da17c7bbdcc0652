#!/usr/bin/env bash
# Storage defaults (issue 15, item 11): every bar is stored by default, so the store's
# size is visible: `runs list` shows the size per run and the store's total with the
# prune command; a run ending with the store above trace.warn_size_mb warns once with
# the size and the prune command; 0 silences it; a bad value names the key.
set -euo pipefail
: "${BTRUN:?}" "${MARKET_DATA:?}"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/trace_storage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data" BTRUN_LOG_LEVEL=warning
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$MARKET_DATA/orcl-1995-2014.txt"
conf() { printf 'return { trace = { %s } }\n' "$1" >"$tmp/c.lua"; }
# the log (JSON records) is on stdout
backtest() { "$BTRUN" --log-format json --config "$tmp/c.lua" strategies/sma_cross.lua --data "$data" --out "$tmp/out" >"$tmp/log"; }

# default threshold (500 MB): a small store says nothing
conf ""
backtest
grep -q trace_store_large "$tmp/log" && fail "warned below the default threshold"
# a threshold below the store's size: one warning with the size and the prune command
conf "warn_size_mb = 0.1"
backtest
[ "$(grep -c '"event":"trace_store_large"' "$tmp/log")" -eq 1 ] || fail "no (single) size warning: $(cat "$tmp/log")"
line=$(grep trace_store_large "$tmp/log")
grep -qF "\"store\":\"$BTRUN_DATA_DIR/events.db\"" <<<"$line" || fail "warning lacks the store: $line"
grep -qF 'btrun events prune --keep-runs' <<<"$line" || fail "warning lacks the prune command: $line"
bytes=$(sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p' <<<"$line")
total=$(du -cb "$BTRUN_DATA_DIR"/events.db* | tail -1 | cut -f1)
[ "$bytes" -gt 100000 ] && [ "$bytes" -le "$total" ] || fail "size_bytes $bytes, du says $total"
conf "warn_size_mb = 0"
backtest
grep -q trace_store_large "$tmp/log" && fail "warned with warn_size_mb = 0"
conf "warn_size_mb = -1"
"$BTRUN" --config "$tmp/c.lua" runs list >/dev/null 2>"$tmp/err" && fail "warn_size_mb = -1 accepted"
grep -q "trace.warn_size_mb" "$tmp/err" || fail "bad warn_size_mb not named: $(cat "$tmp/err")"

# runs list: a SIZE per run (the run's segment file and links), the store's total
conf ""
"$BTRUN" --config "$tmp/c.lua" runs list --format jsonl >"$tmp/runs.jsonl"
[ "$(wc -l <"$tmp/runs.jsonl")" -eq 3 ] || fail "3 runs expected"
while read -r l; do
  id=$(sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' <<<"$l")
  size=$(sed -n 's/.*"size_bytes":\([0-9]*\).*/\1/p' <<<"$l")
  seg=$(stat -c %s "$BTRUN_DATA_DIR/events.db.chunks/$id.seg")
  [ "$size" -ge "$seg" ] && [ "$size" -le $((seg * 12 / 10)) ] || fail "run $id: size_bytes $size, segment $seg"
done <"$tmp/runs.jsonl"
"$BTRUN" --config "$tmp/c.lua" runs list >"$tmp/table"
head -1 "$tmp/table" | grep -q ' SIZE$' || fail "no SIZE column: $(head -1 "$tmp/table")"
sed -n 2p "$tmp/table" | grep -Eq ' [0-9.]+ (KB|MB)$' || fail "no size in a row: $(sed -n 2p "$tmp/table")"
tail -1 "$tmp/table" | grep -q "^store $BTRUN_DATA_DIR/events.db: .* on disk (free space: btrun events prune" ||
  fail "no store total: $(tail -1 "$tmp/table")"
"$BTRUN" runs show latest --format json | grep -q '"size_bytes":' || fail "runs show: size_bytes"
echo ok
