-- sma_cross.lua: long when the fast simple moving average is above the slow one.
--
-- Running sums keep each bar O(1): the strategy stores the last `slow` closes in a
-- ring and never rescans it. Parameters are read once in on_start into locals, so the
-- per-bar path touches no tables but the ring. Copy this file to start your own strategy.
--
--   btrun strategies/sma_cross.lua --param fast=10 --param slow=30

local strategy = {
  params = { fast = 10, slow = 30, qty = 100 },
}

local fast, slow, qty
local ring, head, count
local fast_sum, slow_sum

function strategy.on_start(ctx)
  fast, slow, qty = ctx.params.fast, ctx.params.slow, ctx.params.qty
  assert(fast >= 1 and slow > fast, "need 1 <= fast < slow")
  ring, head, count = {}, 0, 0
  fast_sum, slow_sum = 0, 0
  for i = 1, slow do ring[i] = 0 end
end

function strategy.on_bar(ctx, bar)
  local close = bar.close
  -- ring[head] is the close `slow` bars ago once the ring is full
  head = head % slow + 1
  local fast_out = ring[(head - fast - 1) % slow + 1]
  slow_sum = slow_sum + close - ring[head]
  ring[head] = close
  count = count + 1
  fast_sum = fast_sum + close - (count > fast and fast_out or 0)
  if count < slow then return end

  local above = fast_sum / fast > slow_sum / slow
  local pos = ctx:position()
  if above and pos == 0 then
    bt.trace.signal { side = "buy", fast = fast_sum / fast, slow = slow_sum / slow }
    ctx:buy(qty)
  elseif not above and pos > 0 then
    bt.trace.signal { side = "sell", fast = fast_sum / fast, slow = slow_sum / slow }
    ctx:close()
  end
end

return strategy
