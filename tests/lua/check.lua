-- check.lua: the Lua tests' harness (loaded with dofile; not a test itself).
-- check(cond, fmt, ...) records a failure and goes on; eq(got, want, what) compares;
-- done() raises when anything failed, so `btrun FILE` exits non-zero.
local M = { failures = 0 }

function M.check(cond, msg, ...)
  if not cond then
    M.failures = M.failures + 1
    io.stderr:write("FAIL: ", string.format(msg, ...), "\n")
  end
end

function M.eq(got, want, what)
  M.check(got == want, "%s: expected %s, got %s", what, tostring(want), tostring(got))
end

function M.done()
  if M.failures > 0 then error(M.failures .. " check(s) failed") end
end

return M
