-- sma_cross_manual.lua: strategies/sma_cross.lua as it was before bt.ta, with hand-rolled
-- running sums over a ring of closes. Kept as the reference the bt.ta version must
-- trade exactly like (tests/e2e/ta_strategies.sh) and as the baseline of
-- scripts/bench-ta.sh.

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
