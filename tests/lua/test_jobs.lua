-- test_jobs.lua - bt.jobs on the embedded (SQLite) queue: submit checks a job's names
-- (never paths) and queues it as a sweep job; wait gives up at its timeout naming what
-- is not done; a closed handle is refused. Jobs running to the end through workers:
-- tests/e2e/pg_sweep.sh.
local c = dofile((os.getenv("BTRUN_SRC") or ".") .. "/tests/lua/check.lua")
local tmp = (os.getenv("BT_TEST_TMP") or "/tmp") .. "/test_jobs." .. os.time() .. math.random(1e6)
local q = assert(bt.jobs.queue("sqlite:" .. tmp .. "/queue.db"))

local id = q:submit { strategy = "sma_cross", data = { "orcl" }, params = { fast = 5, slow = 20 } }
c.check(type(id) == "string" and #id == 36, "run id %s", tostring(id))
local id2 = q:submit { strategy = "sma_cross", data = "orcl" }
c.check(id2 ~= id, "two jobs, one id")

for _, bad in ipairs {
  { spec = { strategy = "../strategies/sma_cross" }, field = "strategy" },
  { spec = { strategy = "sma_cross", data = { "/etc/passwd" } }, field = "data" },
  { spec = { strategy = "sma_cross", params = { fast = {} } }, field = "params" },
  { spec = { data = { "orcl" } }, field = "strategy" },
} do
  local ok, err = pcall(q.submit, q, bad.spec)
  c.check(not ok and tostring(err):find(bad.field, 1, true), "refused naming %s: %s", bad.field, tostring(err))
end

local t0 = os.time()
local res, msg = q:wait({ id, id2 }, 0.3)
c.check(res == nil and msg:find("2 of 2 job", 1, true), "wait timeout: %s", tostring(msg))
c.check(os.time() - t0 < 5, "wait took too long")
local ok, err = pcall(q.wait, q, { "no-such-job" }, 1)
c.check(not ok and tostring(err):find("no job no-such-job", 1, true), "unknown job: %s", tostring(err))

q:close()
local ok2, err2 = pcall(q.submit, q, { strategy = "sma_cross" })
c.check(not ok2 and tostring(err2):find("closed", 1, true), "closed handle: %s", tostring(err2))
local none, why = bt.jobs.queue("mysql://user:secret@host/db")
c.check(none == nil and why:find("unsupported queue", 1, true) and not why:find("secret"), "bad url: %s", tostring(why))
c.done()
