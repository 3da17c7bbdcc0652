#!/usr/bin/env bash
# --config / BTRUN_CONFIG: values reach the run, flags override them, and bad configs
# (unknown key, wrong type, missing file, syntax error) fail with exit 1 naming file and key.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
UP="$FIX/up5.csv"
cfg() { printf '%s\n' "$2" >"$T/$1.lua"; }

# Values from a custom config: cash, out_dir, skip_bad_rows.
cfg good "return { cash = \"2000.25\", out_dir = \"$T/cfg-runs\", skip_bad_rows = true,
  timeout = 30, max_memory = 64 * 1024 * 1024, progress_every = 0 }"
bt_ok "$STRAT/core_probe.lua" --config "$T/good.lua" --data "$FIX/bad_price.csv"
D=$(ls -d "$T"/cfg-runs/*)
eq "$(echo "$D" | wc -l)" 1 "the run directory is under the config's out_dir"
deceq "$(res "$D" .initial_cash)" 2000.25 "cash from config"
eq "$(res "$D" .skipped_rows)" 1 "skip_bad_rows from config"
# Flags override the config.
bt_ok "$STRAT/core_probe.lua" --config "$T/good.lua" --data "$UP" --cash 500 --out "$T/o1"
deceq "$(res "$T/o1" .initial_cash)" 500 "--cash overrides config cash"
# BTRUN_CONFIG names the config when --config is absent; --config wins over it.
BTRUN_CONFIG="$T/good.lua" bt_ok "$STRAT/core_probe.lua" --data "$UP" --out "$T/o2"
deceq "$(res "$T/o2" .initial_cash)" 2000.25 "BTRUN_CONFIG"
cfg cash7 "return { cash = 7 }"
BTRUN_CONFIG="$T/good.lua" bt_ok "$STRAT/core_probe.lua" --config "$T/cash7.lua" --data "$UP" --out "$T/o3"
deceq "$(res "$T/o3" .initial_cash)" 7 "--config wins over BTRUN_CONFIG"
# An empty table is a valid config: all defaults.
cfg empty "return {}"
bt_ok "$STRAT/core_probe.lua" --config "$T/empty.lua" --data "$UP" --out "$T/o4"
deceq "$(res "$T/o4" .initial_cash)" 100000 "default cash"
# The shipped config is valid and holds the defaults.
bt_ok "$STRAT/core_probe.lua" --config config/btrun.lua --data "$UP" --out "$T/o5"
deceq "$(res "$T/o5" .initial_cash)" 100000 "config/btrun.lua cash"
ok "config values, flag and env precedence"

# Bad configs: exit 1, stderr names the file and the key, no run directory.
bad() {
  local name="$1" text="$2" pattern="$3"
  cfg "$name" "$text"
  bt "$STRAT/core_probe.lua" --config "$T/$name.lua" --data "$UP" --out "$T/bad-$name"
  eq "$RC" 1 "config $name: exit code"
  has "$T/err.log" "$pattern" "config $name: message"
  [ "$(wc -l <"$T/err.log")" -le 2 ] || fail "config $name: a short message, not a dump"
}
bad unknown "return { cash = 5, bogus = 1 }" "$T/unknown.lua: bogus: unknown key"
bad nested "return { commission = { per_unt = 1 } }" "$T/nested.lua: commission.per_unt: unknown key \\(did you mean \"per_unit\"\\?\\)"
bad typo "return { progress_evry = 1 }" "$T/typo.lua: progress_evry: unknown key \\(did you mean \"progress_every\"\\?\\)"
bad smallmem "return { max_memory = 1000 }" "$T/smallmem.lua: max_memory: expected an integer >= 1048576 \\(bytes\\), got 1000"
bad cashtype "return { cash = {} }" "$T/cashtype.lua: cash: expected a number or decimal string, got table"
bad cashtext "return { cash = \"lots\" }" "$T/cashtext.lua: cash: not a decimal number"
bad timeout "return { timeout = \"soon\" }" "$T/timeout.lua: timeout: expected a number \\(seconds\\), got \"soon\""
bad skip "return { skip_bad_rows = 1 }" "$T/skip.lua: skip_bad_rows: expected a boolean, got 1"
bad outdir "return { out_dir = 5 }" "$T/outdir.lua: out_dir: expected a string, got 5"
bad commission "return { commission = 0.1 }" "$T/commission.lua: commission: expected a table, got 0.1"
for sec in log trace analytics perf risk; do
  bad "sec$sec" "return { $sec = 5 }" "$T/sec$sec.lua: $sec: expected a table, got 5"
done
bad maxmem "return { max_memory = 1.5 }" "$T/maxmem.lua: max_memory: expected an integer >= 1048576 \\(bytes\\), got 1.5"
bad cashzero "return { cash = 0 }" "cash: must be > 0"
bad syntax "return { cash = " "syntax.lua:2:"  # Lua shortens long paths with "..."
bad notable "return 5" "$T/notable.lua: must return a table"
bad slippage "return { slippage_bps = 10000 }" "slippage_bps"
bad negative "return { commission = { per_unit = -1 } }" "commission.per_unit"
bt "$STRAT/core_probe.lua" --config "$T/missing.lua" --data "$UP" --out "$T/bad-missing"
eq "$RC" 1 "missing config: exit code"
has "$T/err.log" "$T/missing.lua: config file not found" "missing config named"
BTRUN_CONFIG="$T/missing.lua" bt "$STRAT/core_probe.lua" --data "$UP" --out "$T/bad-env"
eq "$RC" 1 "missing BTRUN_CONFIG: exit code"
has "$T/err.log" "$T/missing.lua" "missing BTRUN_CONFIG named"
for d in unknown nested cashtype timeout syntax notable slippage negative missing env; do
  [ ! -e "$T/bad-$d" ] || fail "config error ($d) creates no run directory"
done
rec=$(log_event config_invalid)
eq "$(jq -r .level <<<"$rec")" error "config_invalid log record"
ok "bad configs are errors naming file and key"
