#!/usr/bin/env bash
# The event store through the CLI and Lua: events list (types, time range, formats),
# runs list/show, trace latency, bt.events.query, sampling (critical events and lineage
# kept, reproducible with a seed), config errors, SIGINT flush, SIGKILL -> incomplete,
# prune.
set -euo pipefail
: "${BTRUN:?}" "${MARKET_DATA:?}"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/trace_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export BTRUN_DATA_DIR="$tmp/data" BTRUN_LOG_LEVEL=error
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$MARKET_DATA/orcl-1995-2014.txt"
last_run() { "$BTRUN" runs list --format jsonl --limit 1 "$@" | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p'; }
field() { "$BTRUN" runs show "$1" "${@:3}" | awk -v k="$2" '$1 == k {print $2}'; }

# --- a full run: lists, filters, formats
"$BTRUN" strategies/sma_cross.lua --data "$data" --out "$tmp/run1" >/dev/null
run=$(last_run)
[ "$(field "$run" status)" = completed ] || fail "status $(field "$run" status)"
published=$(field "$run" event_count)
[ "$(field "$run" events_stored)" = "$published" ] || fail "not every event stored"
[ "$(field "$run" bars)" = 5036 ] || fail "bars"
total=$("$BTRUN" events list --run "$run" --format csv | tail -n +2 | wc -l)
[ "$total" -eq "$published" ] || fail "events list: $total of $published events"
"$BTRUN" events list --run "${run:0:8}" | tail -1 | grep -qx "$published event(s)" ||
  fail "table footer (run id prefix)"
bars=$("$BTRUN" events list --run "$run" --type BAR --format csv | tail -n +2 | wc -l)
[ "$bars" -eq 5036 ] || fail "$bars BAR events"
ords=$("$BTRUN" events list --run "$run" --type ORDER,FILL --format jsonl | wc -l)
fills=$("$BTRUN" events list --run "$run" --type fill --format jsonl | wc -l)
[ "$ords" -eq $((2 * fills)) ] || fail "ORDER+FILL $ords, FILL $fills (every order filled)"
# time range: 1995-03 only, inclusive bounds, everything in range
"$BTRUN" events list --run "$run" --from 1995-03-01 --to 1995-03-31 --format csv |
  tail -n +2 | cut -d, -f5 >"$tmp/times"
[ "$(wc -l <"$tmp/times")" -ge 22 ] || fail "March 1995 has $(wc -l <"$tmp/times") events"
grep -qv '^1995-03-' "$tmp/times" && fail "event outside the time range"
head -1 "$tmp/times" | grep -q '^1995-03-01T' || fail "from bound not inclusive"
# jsonl carries identity, lineage and timing fields
line=$("$BTRUN" events list --run "$run" --type FILL --format jsonl | head -1)
for k in event_id event_type user_type timestamp causation_id correlation_id source created_at \
  emitted_at received_at processed_at latency_ns queue_time_ns data; do
  grep -q "\"$k\":" <<<"$line" || fail "jsonl lacks $k"
done
# a name that is not a built-in type selects USER events of that user type; none here, so
# it is an error naming the types (tests/e2e/trace_export.sh checks the user type case)
"$BTRUN" events list --run "$run" --type NOPE >/dev/null 2>&1 && fail "unknown user type accepted"
"$BTRUN" events list --run "$run" --from yesterday >/dev/null 2>&1 && fail "bad time accepted"
"$BTRUN" events list --run ffffffff >/dev/null 2>"$tmp/err" && fail "unknown run accepted"
grep -q "no run 'ffffffff'" "$tmp/err" || fail "unknown run message"
"$BTRUN" events --help | grep -q "events prune" || fail "events --help"
"$BTRUN" trace --help | grep -q "lineage" || fail "trace --help"
"$BTRUN" runs --help | grep -q "incomplete" || fail "runs --help"

# latency statistics per type, stored with the run
"$BTRUN" trace latency --run "$run" >"$tmp/lat"
for t in BAR SIGNAL ORDER FILL; do
  grep -q "^$t  *latency  *[0-9]" "$tmp/lat" || fail "no $t latency"
  grep -q "^$t  *queue_time" "$tmp/lat" || fail "no $t queue_time"
done
grep -q '^BAR  *latency  *5036 ' "$tmp/lat" || fail "BAR latency count"
"$BTRUN" trace latency --run "$run" --format json | grep -q '"median_ns"' || fail "latency json"
"$BTRUN" runs show "$run" --format json | grep -q '"sharpe"' || fail "runs show: metrics"

# --- every run of a correlation id
for sym in orcl nvda; do
  "$BTRUN" strategies/sma_cross.lua --data "$MARKET_DATA/$sym-"*.txt --correlation-id corr-e2e \
    --out "$tmp/corr-$sym" >/dev/null
done
"$BTRUN" runs list --correlation corr-e2e --format jsonl >"$tmp/corr_runs"
[ "$(wc -l <"$tmp/corr_runs")" -eq 2 ] || fail "runs list --correlation"
want=0
while read -r r; do
  want=$((want + $("$BTRUN" events list --run "$r" --type FILL --format csv | tail -n +2 | wc -l)))
done < <(sed 's/.*"run_id":"\([^"]*\)".*/\1/' "$tmp/corr_runs")
got=$("$BTRUN" events list --correlation corr-e2e --type FILL --format csv | tail -n +2 | wc -l)
[ "$got" -eq "$want" ] && [ "$got" -gt "$fills" ] || fail "events of the correlation id: $got, want $want"

# --- Lua: bt.events.query on a run made by bt.backtest
cat >"$tmp/query.lua" <<LUA
local r = bt.backtest{ strategy = "strategies/sma_cross.lua", data = { "$data" } }
local n, fills, prev, buys = 0, 0, 0, 0
for ev in bt.events.query{ run = r } do
  n = n + 1
  assert(ev.seq > prev, "seq order")
  prev = ev.seq
  if ev.type == "FILL" then
    fills = fills + 1
    assert(ev.cause and ev.causation_id == r.run_id .. ":" .. ev.cause, "fill cause")
    assert(type(ev.data.price) == "number" and ev.data.price > 0, "fill price")
    if ev.data.side == "buy" then buys = buys + 1 end
  end
end
local m = 0
for ev in bt.events.query{ run = r.run_id, type = { "FILL" }, from = "1996-01-01", to = 820540799 } do
  assert(ev.type == "FILL" and ev.time >= 820454400 and ev.time <= 820540799 + 86400 * 366)
  m = m + 1
end
local ok, err = pcall(bt.events.query, { run = r, colour = "red" })
assert(not ok and tostring(err):find("colour"), "unknown option not rejected")
io.write(n, " ", fills, " ", buys, " ", m, "\n")
LUA
read -r n qfills buys m < <("$BTRUN" "$tmp/query.lua")
qrun=$(last_run)
[ "$n" = "$(field "$qrun" events_stored)" ] || fail "bt.events.query returned $n events"
[ "$qfills" = "$fills" ] || fail "bt.events.query: $qfills fills, CLI $fills"
[ "$buys" -gt 0 ] && [ "$m" -ge 0 ] || fail "query by type/time"

# --- sampling: bars sampled at 2%, seeded
cat >"$tmp/sampled.lua" <<'LUA'
return { trace = { bars = "sampled", sample_rate = 0.02, context_window = 2, seed = 7 } }
LUA
for i in 1 2; do
  "$BTRUN" --config "$tmp/sampled.lua" strategies/sma_cross.lua --data "$data" --out "$tmp/s$i" >/dev/null
  srun[$i]=$(last_run)
  "$BTRUN" events list --run "${srun[$i]}" --format csv | tail -n +2 | cut -d, -f2,3 >"$tmp/kept$i"
done
cmp -s "$tmp/kept1" "$tmp/kept2" || fail "the same seed kept different events"
stored=$(wc -l <"$tmp/kept1")
[ "$stored" -lt $((published / 2)) ] || fail "sampling kept $stored of $published"
[ "$(field "${srun[1]}" events_sampled_out)" -eq $((published - stored)) ] || fail "sampled_out count"
[ "$(field "${srun[1]}" lineage_gaps)" = 0 ] || fail "lineage gaps"
for t in SIGNAL ORDER FILL; do # every critical event kept
  a=$(grep -c ",$t\$" "$tmp/kept1" || true)
  b=$("$BTRUN" events list --run "$run" --type "$t" --format csv | tail -n +2 | wc -l)
  [ "$a" -eq "$b" ] || fail "sampling kept $a of $b $t events"
done
# context: the 2 events before and after each ORDER are kept (sequence numbers)
max=$(field "${srun[1]}" event_count)
awk -F, -v max="$max" '$2 == "ORDER" { for (d = -2; d <= 2; d++) if (d && $1 + d >= 1 && $1 + d <= max) print $1 + d }' \
  "$tmp/kept1" | sort -u >"$tmp/ctx_want"
cut -d, -f1 "$tmp/kept1" | sort -u >"$tmp/kept_seqs"
[ -s "$tmp/ctx_want" ] || fail "no context expected?"
missing=$(comm -23 "$tmp/ctx_want" "$tmp/kept_seqs" | head -3)
[ -z "$missing" ] || fail "context events of an ORDER were dropped: $missing"
# lineage of every kept FILL still reaches its bar
"$BTRUN" events list --run "${srun[1]}" --type FILL --format csv | tail -n +2 | cut -d, -f1 >"$tmp/sfills"
# shellcheck disable=SC2046
"$BTRUN" trace lineage $(cat "$tmp/sfills") | grep -c '^BAR ' >"$tmp/roots" || true
[ "$(cat "$tmp/roots")" -eq "$(wc -l <"$tmp/sfills")" ] || fail "sampled lineage lost bars"
"$BTRUN" events list --run "${srun[1]}" | tail -1 | grep -q "gap(s) in the sequence" ||
  fail "gaps not reported"

# --- config errors name the key
printf 'return { trace = { sample_rat = 0.5 } }\n' >"$tmp/bad.lua"
"$BTRUN" --config "$tmp/bad.lua" strategies/sma_cross.lua --data "$data" >/dev/null 2>"$tmp/err" &&
  fail "unknown trace key accepted"
grep -q "trace.sample_rat\|sample_rat" "$tmp/err" || fail "unknown key not named: $(cat "$tmp/err")"
printf 'return { trace = { bars = "some" } }\n' >"$tmp/bad.lua"
"$BTRUN" --config "$tmp/bad.lua" runs list >/dev/null 2>"$tmp/err" && fail "bad bars accepted"
grep -q "trace.bars" "$tmp/err" || fail "bad value not named"

# --- a slow strategy interrupted by SIGINT: flushed, marked interrupted
cat >"$tmp/slow.lua" <<'LUA'
return { on_bar = function(ctx, bar)
  local t = os.clock() + 0.002
  while os.clock() < t do end
  if bar.close > 0 and ctx:position() == 0 then ctx:buy(1) end
end }
LUA
"$BTRUN" "$tmp/slow.lua" --data "$data" --out "$tmp/slow" >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -INT "$pid"
wait "$pid" && fail "interrupted run exited 0"
irun=$(last_run)
[ "$(field "$irun" status)" = interrupted ] || fail "status after SIGINT: $(field "$irun" status)"
ie=$(field "$irun" event_count)
[ "$ie" -gt 10 ] && [ "$(field "$irun" events_stored)" = "$ie" ] || fail "SIGINT: not flushed"

# --- SIGKILL mid-run: readable, incomplete
"$BTRUN" "$tmp/slow.lua" --data "$data" --out "$tmp/killed" >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
krun=$(last_run)
"$BTRUN" runs list | grep "^$krun" | grep -q incomplete || fail "killed run not incomplete"
kn=$("$BTRUN" events list --run "$krun" --format csv | tail -n +2 | wc -l)
[ "$kn" -gt 10 ] || fail "killed run: only $kn events readable"

# --- prune
before=$("$BTRUN" runs list --format jsonl | wc -l)
[ "$before" -ge 6 ] || fail "$before runs"
"$BTRUN" events prune --keep-runs 2 | grep -q "pruned $((before - 2)) run" || fail "prune count"
[ "$("$BTRUN" runs list --format jsonl | wc -l)" -eq 2 ] || fail "prune left other than 2 runs"
"$BTRUN" events list --run "$run" >/dev/null 2>&1 && fail "pruned run still listed"
"$BTRUN" events prune --before 2000-01-01 | grep -q "pruned 0 run" || fail "prune --before"
"$BTRUN" events prune >/dev/null 2>&1 && fail "prune without criteria accepted"
echo ok
