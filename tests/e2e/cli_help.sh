#!/usr/bin/env bash
# Every command and subcommand answers --help and -h with its usage on stdout, exit 0,
# and does nothing else (issue 15 item 4): `analytics opt-out --help` opts nobody out,
# `serve --help` starts nothing, and no file appears in the data dir or the working dir
# even with analytics configured (its set-up would write the installation id).
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
export POSTHOG_API_KEY=phc_help_test POSTHOG_HOST=http://127.0.0.1:9
unset BTRUN_DB
mkdir -p "$BTRUN_DATA_DIR" "$T/cwd"
cd "$T/cwd"
snapshot() { find "$BTRUN_DATA_DIR" "$T/cwd" -printf '%y %p %s %T@\n' | sort; }
snapshot >"$T/before"

# The commands `btrun --help` lists: a new command must be added to the walk below.
"$BTRUN" --help | awk '/^Commands:/ { on = 1; next } on && NF { print $1 }' | sort >"$T/listed"
printf '%s\n' analytics cache db events jobs perf runs schedules serve trace worker >"$T/walked"
diff "$T/walked" "$T/listed" >&2 || fail "the commands btrun --help lists are the ones walked here"

# Each line: a command line; --help and -h are appended to it.
walk=(
  "analytics" "analytics flush" "analytics flush --timeout 5" "analytics status"
  "analytics opt-out" "analytics opt-out alice" "analytics opt-in" "analytics opt-in alice"
  "cache" "cache clear" "cache path"
  "perf" "perf --window weekly" "perf watch" "perf ack" "perf ack pa-0123456789abcdef"
  "perf alerts"
  "events" "events list" "events list --run r1" "events prune"
  "trace" "trace lineage" "trace lineage r1:1" "trace latency" "trace latency --run r1"
  "runs" "runs list" "runs show" "runs show r1" "runs compare" "runs compare a b"
  "serve" "serve --listen 127.0.0.1:0"
  "db" "db migrate" "db status" "db sync" "db bench"
  "worker" "worker --concurrency 1"
  "jobs" "jobs submit" "jobs submit {}" "jobs list" "jobs show" "jobs show r1"
  "jobs cancel r1"
  "schedules" "schedules list" "schedules run" "schedules run nightly" "schedules history"
)
n=0
for line in "${walk[@]}"; do
  read -ra words <<<"$line"
  for h in --help -h; do
    set +e
    "$BTRUN" "${words[@]}" "$h" >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    what="btrun $line $h"
    eq "$rc" 0 "$what: exit status (stderr: $(head -c 300 "$T/err"))"
    [ -s "$T/out" ] || fail "$what: usage on stdout"
    grep -qi usage "$T/out" || fail "$what: stdout has no usage: $(head -c 300 "$T/out")"
    [ ! -s "$T/err" ] || fail "$what: stderr not empty: $(head -c 300 "$T/err")"
    n=$((n + 1))
  done
done
snapshot >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "a --help changed the data dir or the working dir"
ok "$n --help/-h invocations: usage on stdout, exit 0, nothing changed"

# The same words without --help do act: the walk would have seen a side effect.
"$BTRUN" analytics opt-out alice >/dev/null 2>&1 || fail "opt-out alice"
snapshot >"$T/acted"
! diff -q "$T/before" "$T/acted" >/dev/null || fail "opt-out changed nothing: the snapshot cannot see side effects"
"$BTRUN" analytics status 2>/dev/null | grep -qx "  alice" || fail "alice is opted out"
! "$BTRUN" analytics status 2>/dev/null | grep -q -- "--help\|^  -h$" || fail "nobody named --help or -h opted out"
ok "the walked commands act without --help (the check can fail)"

# Help is answered before a command parses anything (bt_cli_main, for all commands): an
# option that would swallow "-h" as its value still gets the usage and acts on nothing,
# and an unknown subcommand with --help gets its command's usage.
mkdir -p "$T/cwd/-h/cache/bars"
touch "$T/cwd/-h/cache/bars/x.bars"
"$BTRUN" cache --data-dir -h clear >"$T/out" 2>"$T/err" || fail "cache --data-dir -h clear: exit 0"
grep -q "^usage: btrun cache" "$T/out" || fail "cache --data-dir -h clear: the usage"
[ -e "$T/cwd/-h/cache/bars/x.bars" ] || fail "cache --data-dir -h clear cleared a cache"
# "--" as an option's value hides a later -h from the help check: refused, nothing done.
"$BTRUN" jobs list --data-dir -- -h >"$T/out" 2>"$T/err" && fail "jobs list --data-dir -- -h: exit 1"
grep -q "is not a request for help; for help: btrun jobs --help" "$T/err" || fail "-- -h message: $(cat "$T/err")"
[ ! -e "$T/cwd/--" ] || fail "jobs list --data-dir -- -h created a data dir named --"
for cmd in "events export" "trace tree" "jobs frobnicate" "db nothing"; do
  read -ra words <<<"$cmd"
  "$BTRUN" "${words[@]}" --help >"$T/out" 2>"$T/err" || fail "btrun $cmd --help: exit 0"
  grep -q "^usage: btrun ${words[0]}" "$T/out" || fail "btrun $cmd --help: ${words[0]}'s usage"
done
ok "help comes before any parsing, for every subcommand word"
