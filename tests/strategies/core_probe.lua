-- core_probe.lua: a test strategy driven by params. It submits one order on bar `at`
-- (ctx:buy/ctx:sell with the given type/price/stop), closes the position on bar
-- `close_at`, and writes what it sees to the file `log`, one line per event:
--   bar <n> <time> <position> <cash> <equity>
--   fill <order_id> <side> <qty> <price> <commission> <time>
--   reject <order_id> <status> <reason>
--   finish <order status of the submitted order>
-- Used by tests/e2e/core_fills.sh and core_money.sh.
local s = {
  params = { at = 1, side = "buy", qty = 1, type = "market", price = 0, stop = 0,
             close_at = 0, every = 0, log = "" },
}

local out, n, order_id

local function log(...)
  if out then out:write(table.concat({ ... }, " "), "\n") end
end

local function num(x) return string.format("%.8f", x) end

function s.on_start(ctx)
  n = 0
  if ctx.params.log ~= "" then out = assert(io.open(ctx.params.log, "w")) end
end

function s.on_bar(ctx, bar)
  local p = ctx.params
  n = n + 1
  log("bar", n, bar.time, num(ctx:position()), num(ctx:cash()), num(ctx:equity()))
  -- every > 0: submit on every bar from `at` on (repeated buys)
  if n == p.at or (p.every > 0 and n > p.at and (n - p.at) % p.every == 0) then
    local opts = { type = p.type }
    if p.price ~= 0 then opts.price = p.price end
    if p.stop ~= 0 then opts.stop = p.stop end
    if p.side == "buy" then order_id = ctx:buy(p.qty, opts)
    else order_id = ctx:sell(p.qty, opts) end
  end
  if n == p.close_at then ctx:close() end
end

function s.on_fill(ctx, f)
  log("fill", f.order_id, f.side, num(f.qty), num(f.price), num(f.commission), f.time)
end

function s.on_reject(ctx, o)
  log("reject", o.id, o.status, o.reason)
end

function s.on_finish(ctx)
  local o = order_id and ctx:order(order_id)
  log("finish", o and o.status or "none")
  if out then out:close() end
end

return s
