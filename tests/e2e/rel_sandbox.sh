#!/usr/bin/env bash
# Hostile strategies (issue 11, items 8 and 9): a strategy runs sandboxed by default
# (docs/sandbox.md): no process spawning or exiting, no C loading, no debug, text-only
# load, reads only below its own directory, no writes; the config (or
# BTRUN_TRUST_STRATEGIES) trusts local strategies; scripts driving bt.backtest are
# trusted; target rules are sandboxed too. Every refusal fails the run with a result.
source "$BTRUN_SRC/tests/fixtures/core/lib.sh"
S="$T/strat"
mkdir -p "$S/sub" "$T/outside"
echo "secret" >"$T/outside/secret.txt"
echo "mine" >"$S/sub/own.txt"
ln -s "$T/outside/secret.txt" "$S/link.txt"
# One strategy, the attack chosen by a parameter; it prints what it got.
cat >"$S/h.lua" <<'LUA'
local s = { params = { what = "", path = "", x = 0 } }
local attacks = {
  passwd = function() return io.open("/etc/passwd"):read("l") end,
  outside = function(p) return io.open(p.path):read("l") end,
  lines = function(p) for l in io.lines(p.path) do return l end end,
  dofile = function(p) return dofile(p.path) end,
  symlink = function() return io.open(SDIR .. "/link.txt"):read("l") end,
  own = function() return io.open(SDIR .. "/sub/own.txt"):read("l") end,
  write = function(p) return io.open(p.path, "w") end,
  append = function(p) return io.open(p.path, "a+") end,
  execute = function() return os.execute("true") end,
  popen = function() return io.popen("id"):read("a") end,
  getenv = function() return os.getenv("HOME") end,
  remove = function(p) return os.remove(p.path) end,
  loadlib = function() return package.loadlib("libc.so.6", "puts") end,
  cpath = function() package.cpath = "/usr/lib/x86_64-linux-gnu/?.so"; return require("lpeg") end,
  debug = function() return debug.getregistry() end,
  debugreq = function() return require("debug").getregistry() end,
  bytecode = function()
    local b = string.dump(function() return 1 end)
    return assert(load(b))()
  end,
  mutated = function()
    local b = string.dump(function(x) return x + 1 end)
    b = b:sub(1, 20) .. string.char(255, 255, 255) .. b:sub(24)
    return assert(load(b, "m", "b"))()
  end,
  reqpath = function() package.path = "/etc/?"; return require("passwd") end,
  exit = function() os.exit(0) end,
  backtest = function() return bt.backtest { strategy = {} } end,
  loadtext = function() return load("return 6 * 7")() end,
}
function s.on_bar(ctx)
  local r = attacks[ctx.params.what](ctx.params)
  print("GOT", tostring(r))
  error("stop after one bar") -- reaching here means the attack was not refused
end
SDIR = "." -- replaced below
return s
LUA
sed -i "s|^SDIR = .*|SDIR = \"$S\"|" "$S/h.lua"

attack() { # attack NAME EXPECTED-ERROR-REGEX [extra args]
  local name=$1 want=$2
  shift 2
  bt "$S/h.lua" --data "$FIX/up5.csv" --param "what=$name" --out "$T/o-$name" "$@"
  [ "$RC" -eq 1 ] || { cat "$T/out.log" >&2; fail "$name: exit $RC, want 1"; }
  eq "$(res "$T/o-$name" .status)" failed "$name: result.json status"
  jq -r .error.message "$T/o-$name/result.json" | grep -qE -- "$want" \
    || fail "$name: error $(jq -r .error.message "$T/o-$name/result.json") does not match /$want/"
  hasnt "$T/out.log" '"message":"GOT' "$name: the attack got a value"
}
attack passwd "reading '/etc/passwd' is not allowed"
attack outside "not allowed.*below its own directory" --param "path=$T/outside/secret.txt"
attack outside "not allowed" --param "path=$S/../outside/secret.txt"
attack lines "not allowed" --param "path=$T/outside/secret.txt"
attack dofile "not allowed" --param "path=$T/outside/secret.txt"
attack symlink "link.txt' is not allowed"
attack write "mode 'w' is not allowed" --param "path=$S/new.txt"
[ ! -e "$S/new.txt" ] || fail "write: the file was created"
attack append "mode 'a\+' is not allowed" --param "path=$S/sub/own.txt"
attack execute "nil value \(field 'execute'\)"
attack popen "nil value \(field 'popen'\)"
attack getenv "nil value \(field 'getenv'\)"
attack remove "nil value \(field 'remove'\)" --param "path=$S/sub/own.txt"
[ -e "$S/sub/own.txt" ] || fail "remove: the file is gone"
attack loadlib "nil value \(field 'loadlib'\)"
attack cpath "module 'lpeg' not found"
attack debug "global 'debug'"
attack debugreq "module 'debug' not found"
attack bytecode "attempt to load a binary chunk"
attack mutated "attempt to load a binary chunk"
attack reqpath "module 'passwd' not found"
attack backtest "nil value \(field 'backtest'\)"
ok "sandbox refuses files outside, writes, processes, C, debug, bytecode, a changed path"

# 8: os.exit cannot end the process: the run fails with a result, also when trusted.
attack exit "os.exit is not allowed in a strategy"
attack exit "os.exit is not allowed in a strategy" --param x=1 # (trusted below)
BTRUN_TRUST_STRATEGIES=1 attack exit "os.exit is not allowed"
ok "os.exit in on_bar fails the run with a result (sandboxed and trusted)"

# What a sandboxed strategy may do: read beside itself, load text, run to completion.
for what in own loadtext; do
  bt "$S/h.lua" --data "$FIX/up5.csv" --param "what=$what" --out "$T/o-$what"
  [ "$RC" -eq 1 ] || fail "$what: exit $RC"
  has "$T/o-$what/result.json" "stop after one bar" "$what: reached the end of on_bar"
done
has "$T/out.log" '"message":"GOT\\t42"' "load of text works"
bt_ok strategies/sma_cross.lua --data "$FIX/up5.csv" --out "$T/sma"
ok "a sandboxed strategy reads its own files, loads text; sma_cross runs"

# The trust switch: config key and environment.
printf 'return { trust_strategies = true }\n' >"$T/trust.lua"
for how in config env; do
  if [ "$how" = config ]; then
    bt "$S/h.lua" --config "$T/trust.lua" --data "$FIX/up5.csv" --param what=getenv --out "$T/t-$how"
  else
    BTRUN_TRUST_STRATEGIES=1 bt "$S/h.lua" --data "$FIX/up5.csv" --param what=passwd --out "$T/t-$how"
  fi
  has "$T/t-$how/result.json" "stop after one bar" "trusted via $how: the attack was allowed"
done
printf 'return { trust_strategies = "yes" }\n' >"$T/bad.lua"
bt "$S/h.lua" --config "$T/bad.lua" --data "$FIX/up5.csv" --param what=own --out "$T/t-bad"
[ "$RC" -eq 1 ] && has "$T/err.log" "trust_strategies: expected a boolean" "trust_strategies type checked"
ok "trust_strategies (config) and BTRUN_TRUST_STRATEGIES trust local strategies"

# A script driving bt.backtest is trusted; the strategy file it names is sandboxed.
cat >"$T/script.lua" <<LUA
local f = assert(io.open("$T/script-wrote.txt", "w")); f:write("ok"); f:close()
local r = bt.backtest { strategy = "$S/h.lua", data = "$FIX/up5.csv", out = "$T/o-script",
                        params = { what = "passwd" } }
print("script status", r.status)
LUA
bt "$T/script.lua"
[ -s "$T/script-wrote.txt" ] || fail "the script could not write its file"
eq "$(res "$T/o-script" .status)" failed "strategy by path from a script"
has "$T/o-script/result.json" "not allowed" "strategy by path from a script is sandboxed"
# A file whose table is not returned by a line starting with `return` ran as a script:
# it is not run as a strategy (its top level was not sandboxed).
printf 'local s = {on_bar = function() end}\n  return s\n' >"$T/sneaky.lua"
bt "$T/sneaky.lua" --data "$FIX/up5.csv" --out "$T/o-sneaky"
[ "$RC" -eq 1 ] && has "$T/err.log" "returned a strategy table but was run as a script" "sneaky file refused"
ok "scripts are trusted, strategies they name are not; a disguised strategy is refused"

# Target rules run sandboxed too.
printf '{"trade_id":"1","symbol":"X","side":"buy","qty":"1","entry_price":"1","exit_price":"2","entry_time":"2024-01-02T10:00:00Z","exit_time":"2024-01-02T11:00:00Z","pnl":"1","commission":"0"}\n' >"$T/trades.jsonl"
printf 'os.execute("touch %s/pwned")\nreturn {}\n' "$T" >"$T/targets.lua"
set +e
"$BTRUN" perf --trades "$T/trades.jsonl" --out "$T/perf" --targets "$T/targets.lua" >"$T/out.log" 2>"$T/err.log"
RC=$?
set -e
[ "$RC" -eq 1 ] || fail "hostile targets file: exit $RC"
[ ! -e "$T/pwned" ] || fail "the targets file ran a command"
has "$T/err.log" "nil value \(field 'execute'\)" "targets sandboxed"
ok "target rules are sandboxed"
