#!/usr/bin/env bash
# run_write_error.sh - a run whose files cannot be written completely fails and says so:
# with the file size limit (ulimit -f, SIGXFSZ ignored so write(2) returns EFBIG) below
# equity.csv's size, the run exits 1, result.json says failed with an io_error naming the
# .part file, and no equity.csv or trades.jsonl looks complete. The run files go out
# through run_output.c's own buffer, so the error must come from its write calls.
source "$(dirname "$0")/../fixtures/core/lib.sh"
lua5.4 scripts/gen_bars.lua --bars 20000 --seed 3 --out "$T/day.csv"
printf 'return { trace = { enabled = false } }\n' >"$T/notrace.lua" # the event store stays small
(
  trap '' XFSZ
  ulimit -f 256 # KiB: equity.csv of 20,000 days is ~1 MB
  exec "$BTRUN" --log-format json strategies/sma_cross.lua --data "$T/day.csv" --out "$T/run" \
    --config "$T/notrace.lua" >"$T/out.log" 2>"$T/err.log"
) && fail "a run that could not write its files exited 0"
no_sanitizer_report "over the file size limit"
eq "$(jq -r .status "$T/run/result.json")" failed "result.json status"
eq "$(jq -r .error.type "$T/run/result.json")" io_error "error type"
jq -r .error.message "$T/run/result.json" | grep -qE 'equity\.csv\.part.*cannot write: File too large' \
  || fail "message: $(jq -r .error.message "$T/run/result.json")"
[ ! -e "$T/run/equity.csv" ] && [ ! -e "$T/run/trades.jsonl" ] || fail "a file looks complete: $(ls "$T/run")"
ok "a write error fails the run, naming the file"
