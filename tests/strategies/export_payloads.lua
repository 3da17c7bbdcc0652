-- export_payloads.lua: traces payloads of every kind the CSV export flattens, for
-- tests/e2e/trace_export_golden.sh: flat ones (doubles, ints, booleans, secrets under
-- secret-named keys and inside strings, quotes, line breaks, control bytes, invalid
-- UTF-8, NUL bytes, odd keys) and ones stored as JSON text (nested, arrays, too long to
-- be flat); trades every 20 bars, so ORDER, FILL and PORTFOLIO events come too.
local s = {}
local n = 0

local payloads = {
  function(bar) return { side = "buy", fast = bar.close / 3, slow = bar.open * 1.1 } end,
  function() return { api_key = "abc", password = 7, note = "Bearer xyz123" } end,
  function() return { url = "https://h/x?token=abc&page=2", n = -42, ok = true, no = false } end,
  function() return { nan = 0 / 0, inf = 1 / 0, ninf = -1 / 0, neg = -0.0, tiny = 5e-324,
                      big = 2 ^ 53, i = 123456789, third = 1 / 3,
                      huge = math.maxinteger } end,
  function() return { q = 'a,"b"', nl = "line\nbreak\r", ctl = "\1\127", u = "h\u{e9}llo",
                      bad = "\xff\xfe", nul = "a\0b", tnul = "token=\0abc" } end,
  function() return { ["a,b"] = 1, ['k"q'] = 2, ["Bearer tok"] = 3, ["x\0y"] = 4,
                      ["\xff"] = 5, [""] = 6 } end,
}

function s.on_bar(ctx, bar)
  n = n + 1
  local k = n % #payloads + 1
  bt.trace.signal(payloads[k](bar))
  if n % 7 == 0 then bt.trace.emit("note", { n = n, text = "x, y", flag = n % 2 == 0 }) end
  if n % 11 == 0 then
    bt.trace.emit("deep", { nested = { a = n, b = { c = "z" } }, list = { 1, "two" },
                            secret = "s3", empty = {} })
  end
  if n % 13 == 0 then bt.trace.emit("long", { text = string.rep("ab", 100), n = n / 4 }) end
  if n % 17 == 0 then bt.trace.emit("LOG", { msg = "password=hunter2 ok", level = "info" }) end
  if n % 20 == 0 then
    if ctx:position() == 0 then ctx:buy(3) else ctx:close() end
  end
end

return s
