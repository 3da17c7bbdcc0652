#!/usr/bin/env bash
# The strict command line (issue 15): options after FILE.lua are parsed like options
# before it, a script's own arguments follow "--", unknown options and commands are
# errors with a "did you mean", run options nothing used are an error, and strategy keys
# that look like misspelled callbacks are warned about.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"

# usage_err PATTERN ARGS...: exit 1, PATTERN on stderr, nothing run (no run directory).
usage_err() {
  local pattern="$1"; shift
  bt "$@"
  eq "$RC" 1 "btrun $*: exit code"
  has "$T/err.log" "$pattern" "btrun $*: message"
  hasnt "$T/out.log" backtest_started "btrun $*: nothing runs"
  [ ! -e "$T/u" ] || fail "btrun $*: a run directory was made"
}

# 1. Options after FILE.lua: typos are errors with the closest option, as before FILE.
usage_err "unknown option '--parm'; did you mean '--param'\?" \
  strategies/sma_cross.lua --parm fast=5 --out "$T/u"
usage_err "unknown option '--cahs'; did you mean '--cash'\?" \
  strategies/sma_cross.lua --cahs 5000 --out "$T/u"
usage_err "unknown option '--parm'; did you mean '--param'\?" \
  --parm fast=5 strategies/sma_cross.lua --out "$T/u"
usage_err "unknown option '--verbose'$" strategies/sma_cross.lua --verbose --out "$T/u"
usage_err "unexpected argument 'extra' after strategies/sma_cross.lua .*follow '--'" \
  strategies/sma_cross.lua extra --out "$T/u"
# the same options after FILE take effect (a valid --param and --cash after the file)
bt_ok strategies/sma_cross.lua --param fast=5 --cash 5000 --out "$T/after"
eq "$(res "$T/after" .params.fast)" 5 "--param after FILE.lua applies"
eq "$(res "$T/after" .initial_cash)" 5000.0 "--cash after FILE.lua applies"
# --help after FILE.lua is btrun's help, not a run
bt strategies/sma_cross.lua --help
eq "$RC" 0 "FILE --help: exit 0"
has "$T/out.log" "^usage: btrun" "FILE --help prints the usage"
hasnt "$T/out.log" backtest_started "FILE --help runs nothing"
# a script gets the words after "--" (options there are not btrun's), btrun's before it
printf 'print("arg", #arg, table.concat(arg, " ", 1), bt.options.params.k, bt.options.out)\n' \
  >"$T/args.lua"
bt_ok "$T/args.lua" --param k=3 -- --parm x --out y
jq -r 'select(.event == "print") | .message' "$T/out.log" >"$T/printed"
eq "$(cat "$T/printed")" "arg	4	--parm x --out y	3	nil" "script arguments after --"
ok "options after FILE.lua, unknown options, script arguments after --"

# 2. A file given run options that returns no strategy table, runs no backtest and
# never reads bt.options: an error naming the file and the missing return.
cat >"$T/noreturn.lua" <<'EOF'
local strategy = { params = { n = 1 } }
function strategy.on_bar(ctx, bar) ctx:buy(1) end
EOF
usage_err "noreturn.lua: the file returned no strategy table and ran no backtest, so --data, --out had no effect: a strategy file must end with .return \{ on_bar = \.\.\. \}." \
  "$T/noreturn.lua" --data "$FIX/up5.csv" --out "$T/u"
rec=$(log_event backtest_started)
[ -z "$rec" ] || fail "noreturn: nothing ran"
# without run options a script that does nothing still succeeds
bt_ok "$T/noreturn.lua"
# a script that reads bt.options or runs a backtest used them
printf 'local d = bt.options.data\n' >"$T/reads.lua"
bt_ok "$T/reads.lua" --data "$FIX/up5.csv"
printf 'for k, v in pairs(bt.options) do print(k, type(v)) end\n' >"$T/pairs.lua"
bt_ok "$T/pairs.lua" --out "$T/u2"
eq "$(jq -r 'select(.event == "print") | .message' "$T/out.log" | sort | tr '\n' ' ')" \
  "data	table out	string params	table " "pairs(bt.options) lists the options"
printf 'bt.backtest { strategy = { on_bar = function() end }, data = "%s", write_files = false }\n' \
  "$FIX/up5.csv" >"$T/runs.lua"
bt_ok "$T/runs.lua" --cash 5000
ok "run options nothing used are an error"

# 2b. Strategy keys that look like misspelled callbacks get a warning naming the closest.
cat >"$T/typo.lua" <<'EOF'
local s = { params = {}, threshold = 3 }
function s.onBar(ctx, bar) end
function s.on_tick(ctx, bar) end
function s.on_fills(ctx, fill) end
function s.helper() end
function s.on_bar(ctx, bar) end
return s
EOF
bt_ok "$T/typo.lua" --data "$FIX/up5.csv" --out "$T/typo"
warned() { grep -F '"event":"strategy_key_unknown"' "$T/out.log" | jq -r "select(.key == \"$1\") | .message"; }
eq "$(warned onBar)" "strategy key 'onBar' is not a callback; did you mean 'on_bar'?" "onBar warning"
eq "$(warned on_fills)" "strategy key 'on_fills' is not a callback; did you mean 'on_fill'?" "on_fills warning"
[ -n "$(warned on_tick)" ] || fail "on_tick (starts with on) is warned about"
eq "$(warned helper)" "" "a helper function far from every callback is not warned about"
eq "$(warned threshold)" "" "a data key is not warned about"
eq "$(grep -c '"event":"strategy_key_unknown"' "$T/out.log")" 3 "three warnings"
grep -F '"event":"strategy_key_unknown"' "$T/out.log" | jq -e 'select(.level == "warning")' >/dev/null ||
  fail "strategy_key_unknown is a warning"
bt_ok strategies/sma_cross.lua --out "$T/clean"
hasnt "$T/out.log" strategy_key_unknown "a correct strategy gets no warning"
ok "misspelled callback keys are warned about"

# 6. A first argument that is neither a command nor an existing file.
usage_err "unknown command 'backtest' and no such file \(commands: analytics, .*runs" backtest x
usage_err "unknown command 'evnts'; did you mean 'events'\?" evnts list
usage_err "unknown command 'backtest'" --log-format json backtest x
usage_err "cannot open $T/none.lua: No such file or directory" "$T/none.lua"
usage_err "cannot open nope.lua: No such file or directory" nope.lua --out "$T/u"
usage_err "'events' is a command: give it first" events list
ok "unknown commands and missing files"

# Commands' own parsers suggest too (one helper, cli_opts), and unknown subcommands.
cmd_err() {
  local pattern="$1"; shift
  set +e; "$BTRUN" "$@" >"$T/out.log" 2>"$T/err.log"; RC=$?; set -e
  eq "$RC" 1 "btrun $*: exit code"
  has "$T/err.log" "$pattern" "btrun $*: message"
}
cmd_err "unknown option --typ .*did you mean '--type'\?" events list --typ BAR
cmd_err "unknown argument '--windw'; did you mean '--window'\?" perf --windw weekly
cmd_err "unknown option '--timout'; did you mean '--timeout'\?" analytics flush --timout 5
cmd_err "unknown command 'flsh'; did you mean 'flush'\?" analytics flsh
# every command with subcommands checks them alike (bt_cli_main, from cli_table.c)
cmd_err "btrun events: unknown command 'lst'; did you mean 'list'\?" events lst
has "$T/err.log" "^Commands: list, prune. Try 'btrun events --help'.$" "events lst: the subcommands"
cmd_err "btrun db: unknown command 'migrat'; did you mean 'migrate'\?" db migrat
cmd_err "btrun jobs: unknown command 'cancl'; did you mean 'cancel'\?" jobs cancl
cmd_err "btrun runs: unknown command 'export'$" runs export
cmd_err "btrun trace: unknown command 'lineag'; did you mean 'lineage'\?" trace lineag
cmd_err "btrun schedules: unknown command 'histroy'; did you mean 'history'\?" schedules histroy
cmd_err "status: unexpected argument 'x'" analytics status x
cmd_err "unknown argument '--formt'; did you mean '--format'\?" schedules list --formt json
cmd_err "unknown argument '--dbb'; did you mean '--db'\?" db status --dbb x
cmd_err "unknown option --lisen; did you mean '--listen'\?" serve --lisen 127.0.0.1:0
cmd_err "unknown option --concurency; did you mean '--concurrency'\?" worker --concurency 2
cmd_err "unknown option --statu; did you mean '--status'\?" jobs list --statu queued
ok "commands suggest the closest option"

# Whole-number option values go through one check (bt_cli_long): empty, trailing junk
# and out-of-range values (overflow included) are refused by every command.
cmd_err "--count: expected a number >= 0, got ''" perf --count ''
cmd_err "--concurrency: want 1..1024, got 99999999999999999999" worker --concurrency 99999999999999999999
cmd_err "--limit: want 1..1000, got 5x" jobs list --limit 5x
cmd_err "--workers: want 0..1024, got -1" serve --workers -1
ok "number options are checked alike"
