#!/usr/bin/env bash
# The run command's options and exit codes: --help/--version, --param, --cash, --out,
# --correlation-id, usage errors, and determinism of the run files.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
# The test strategies write what they see to files (or dofile a shipped one): trusted.
export BTRUN_TRUST_STRATEGIES=1
WALK="$FIX/walk-300.csv"  # generated: scripts/gen_bars.lua --bars 300 --seed 7 --start 2014-01-02 --price 40

# --help / --version / no arguments
"$BTRUN" --help >"$T/help" || fail "--help exits 0"
for opt in --data --param --cash --out --config --correlation-id --user-id --timeout \
  --max-memory --skip-bad-rows --log-format --log-level --data-dir --help --version; do
  has "$T/help" "^ +(-h, )?$opt\b" "--help lists $opt"
done
has "$T/help" "Exit status" "--help documents exit codes"
"$BTRUN" -h | cmp -s - "$T/help" || fail "-h = --help"
"$BTRUN" --version >"$T/version" || fail "--version exits 0"
has "$T/version" '^btrun [0-9]+\.[0-9]+\.[0-9]+' "--version prints btrun X.Y.Z"
set +e; "$BTRUN" >"$T/out.log" 2>"$T/err.log"; RC=$?; set -e
eq "$RC" 1 "no arguments: exit 1"
has "$T/err.log" usage "no arguments: usage on stderr"
[ ! -s "$T/out.log" ] || fail "no arguments: nothing on stdout"
ok "--help, --version, no arguments"

# usage errors: exit 1, a message naming the culprit on stderr, no run directory
usage_err() {
  local pattern="$1"; shift
  bt "$@"
  eq "$RC" 1 "btrun $*: exit code"
  has "$T/err.log" "$pattern" "btrun $*: message"
}
usage_err "unknown option '--bogus'" --bogus strategies/sma_cross.lua
usage_err "option --data needs a value" strategies/sma_cross.lua --data
usage_err "--param wants NAME=VALUE" strategies/sma_cross.lua --param fast
usage_err "--cash: not a positive amount: '-5'" strategies/sma_cross.lua --cash -5 --out "$T/u"
usage_err "--cash: not a positive amount: 'lots'" strategies/sma_cross.lua --cash lots --out "$T/u"
usage_err "--timeout: not a positive number: '0'" strategies/sma_cross.lua --timeout 0 --out "$T/u"
usage_err "--max-memory" strategies/sma_cross.lua --max-memory 10k --out "$T/u"
usage_err "--log-level" strategies/sma_cross.lua --log-level loud --out "$T/u"
usage_err "$T/none.lua" "$T/none.lua"
[ ! -e "$T/u" ] || fail "usage errors create no run directory"
usage_err "$T/none.csv" strategies/sma_cross.lua --data "$T/none.csv" --out "$T/nodata"
eq "$(res "$T/nodata" .status)" failed "a missing data file: result.json status failed"
ok "usage errors exit 1 and name the culprit"

# --param: numbers become numbers, change the run; unknown names are errors
bt_ok strategies/sma_cross.lua --data "$WALK" --out "$T/p1"
bt_ok strategies/sma_cross.lua --data "$WALK" --param fast=5 --param slow=20 --param qty=7 --out "$T/p2"
eq "$(res "$T/p2" '.params | "\(.fast) \(.slow) \(.qty) \(.fast | type)"')" "5 20 7 number" "params in result.json"
eq "$(jq -r .qty "$T/p2/trades.jsonl" | sort -u)" "7.0" "qty param reaches the strategy"
[ "$(res "$T/p1" .trades)" != "$(res "$T/p2" .trades)" ] || fail "other params give other trades"
bt strategies/sma_cross.lua --data "$WALK" --param fsat=5 --out "$T/p3"
eq "$RC" 1 "unknown param: exit 1"
has "$T/err.log" "fsat" "unknown param named"
eq "$(res "$T/p3" .status)" failed "unknown param: status failed"
eq "$(res "$T/p3" .error.type)" usage_error "unknown param: error type"
[ ! -e "$T/p3/trades.jsonl" ] || fail "unknown param: no trades.jsonl"
bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --param side=sell --param "log=$T/s.log" --out "$T/p4"
eq "$(res "$T/p4" '.params | "\(.side) \(.log | type)"')" "sell string" "string params stay strings"
eq "$(jq -r .side "$T/p4/trades.jsonl")" short "string param changed the order side"
ok "--param"

# --cash, --correlation-id, --out
bt_ok strategies/sma_cross.lua --data "$WALK" --cash 2500.5 --correlation-id ci-42 --out "$T/c1/deep/dir"
deceq "$(res "$T/c1/deep/dir" .initial_cash)" 2500.5 "initial_cash from --cash"
eq "$(head -2 "$T/c1/deep/dir/equity.csv" | tail -1 | cut -d, -f2)" 2500.5 "equity starts at --cash"
eq "$(res "$T/c1/deep/dir" .correlation_id)" ci-42 "correlation_id from --correlation-id"
n=$(jq -r 'select(.run_id != null) | .correlation_id' "$T/out.log" | sort -u)
eq "$n" ci-42 "every run log record carries the correlation id"
ok "--cash, --correlation-id, --out (nested dirs created)"

# determinism: same inputs -> byte-identical trades.jsonl (but for run_id) and equity.csv
for k in 1 2; do
  bt_ok strategies/sma_cross.lua --data "$WALK" --param fast=5 --param slow=20 --out "$T/d$k"
done
[ "$(res "$T/d1" .run_id)" != "$(res "$T/d2" .run_id)" ] || fail "each run has its own run_id"
cmp "$T/d1/equity.csv" "$T/d2/equity.csv" || fail "equity.csv byte-identical"
same_trades "$T/d1/trades.jsonl" "$T/d2/trades.jsonl" || fail "trades.jsonl byte-identical but for run_id"
eq "$(jq -r .run_id "$T/d1/trades.jsonl" | sort -u)" "$(res "$T/d1" .run_id)" "every trade line carries the run's run_id"
[ -s "$T/d1/trades.jsonl" ] || fail "determinism run has trades"
for k in trades final_equity total_return sharpe max_drawdown; do
  eq "$(res "$T/d1" ".$k")" "$(res "$T/d2" ".$k")" "same $k"
done
ok "determinism"

# log level and memory size forms; BTRUN_LOG_LEVEL
bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --max-memory 1G --log-level warning --out "$T/l1"
[ -z "$(log_event backtest_completed)" ] || fail "--log-level warning hides info records"
BTRUN_LOG_LEVEL=error bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --max-memory 256M --out "$T/l2"
[ ! -s "$T/out.log" ] || fail "BTRUN_LOG_LEVEL=error: no records for a clean run"
BTRUN_LOG_LEVEL=error bt_ok "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --log-level info --out "$T/l3"
[ -n "$(log_event backtest_completed)" ] || fail "--log-level wins over BTRUN_LOG_LEVEL"
BTRUN_LOG_LEVEL=loud bt "$STRAT/core_probe.lua" --data "$FIX/up5.csv" --out "$T/l4"
eq "$RC" 1 "invalid BTRUN_LOG_LEVEL: exit 1"
has "$T/err.log" "BTRUN_LOG_LEVEL" "invalid BTRUN_LOG_LEVEL named"
ok "log levels, BTRUN_LOG_LEVEL, memory sizes"
