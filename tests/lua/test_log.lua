-- test_log.lua - bt.log inside btrun: the API exists on the bt module, calls with
-- awkward values never raise, scoped restores the context on return and on error,
-- (the run context of a backtest is checked in tests/e2e/log_runs.sh, which can
-- isolate the data directory). (Record contents are checked in tests/unit/test_log.c and
-- tests/e2e/log_*.sh, which capture the output.)
local log = bt.log
assert(type(log) == "table", "bt.log missing")
for _, name in ipairs({ "debug", "info", "warning", "warn", "error", "bind", "unbind", "scoped",
  "context", "enabled" }) do
  assert(type(log[name]) == "function", "bt.log." .. name .. " missing")
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- The CLI binds its correlation id before anything runs; count what we add to it.
local base = count(log.context())
assert(base >= 1 and type(log.context().correlation_id) == "string")

-- Logging at a level that is off still validates nothing and returns nothing.
assert(select("#", log.debug("quiet", { x = 1 })) == 0)

-- Awkward values: never an error into the caller.
local cyc = {}
cyc.self = cyc
local hostile = setmetatable({}, {
  __index = function() error("index") end,
  __newindex = function() error("newindex") end,
  __pairs = function() error("pairs") end,
  __tostring = function() error("tostring") end,
  __len = function() error("len") end,
})
local calls = {
  function() log.error("cyclic", { cyc = cyc }) end,
  function() log.error(hostile, hostile) end,
  function() log.error("hostile_field", { h = hostile, [hostile] = 1 }) end,
  function() log.error(nil) end,
  function() log.error() end,
  function() log.error(12.5, 7) end,
  function() log.error("values", { f = print, co = coroutine.running(), nan = 0 / 0, big = math.maxinteger,
    bin = "\0\255\254", u = io.stdout }) end,
  function() log.bind(hostile) end,
  function() log.bind("not a table") end,
  function() log.unbind(hostile, 1, nil, "nothing") end,
}
for i, f in ipairs(calls) do
  local ok, err = pcall(f)
  assert(ok, "log call " .. i .. " raised: " .. tostring(err))
end
assert(count(log.context()) == base, "binding a table with hostile metamethods binds nothing")

-- bind / unbind / context
log.bind({ request_id = "outer", n = 3, flag = true, nested = { a = 1 } })
local ctx = log.context()
assert(ctx.request_id == "outer" and ctx.n == 3 and ctx.flag == true and ctx.nested == '{"a":1}')
log.unbind("n", "flag")
assert(count(log.context()) == base + 2)

-- scoped: results pass through, the context comes back on return and on error
local a, b, c = log.scoped({ request_id = "inner", extra = 1 }, function(x, y)
  local inner = log.context()
  assert(inner.request_id == "inner" and inner.extra == 1)
  return x * y, "r", nil
end, 6, 7)
assert(a == 42 and b == "r" and c == nil)
assert(log.context().request_id == "outer" and log.context().extra == nil)

local ok, err = pcall(log.scoped, { extra = 2 }, function() error({ code = 7 }) end)
assert(not ok and type(err) == "table" and err.code == 7, "scoped re-raises the same error value")
assert(log.context().extra == nil)

-- nested scopes unwind one level at a time
log.scoped({ depth = 1 }, function()
  log.scoped({ depth = 2 }, function() assert(log.context().depth == 2) end)
  assert(log.context().depth == 1)
  local ok2 = pcall(log.scoped, { depth = 3 }, function() error("x") end)
  assert(not ok2 and log.context().depth == 1)
end)
assert(log.context().depth == nil)

-- scoped without a function is a usage error (like pcall(nil))
assert(not pcall(log.scoped, {}, nil))

-- enabled
assert(log.enabled("error") == true)
assert(not pcall(log.enabled, "chatty"))

log.unbind("request_id", "nested")
assert(count(log.context()) == base)
