-- sma_o1.lua - the strategy of scripts/bench-floor.sh: an O(1) SMA cross in plain Lua
-- (running sums over a ring of closes), so that btrun and the bare floor loop
-- (floor_bench.c) run exactly the same on_bar. It uses only ctx:position(), ctx:buy()
-- and ctx:close(), which the floor's minimal ctx provides.
local FAST, SLOW, QTY = 10, 30, 1
local ring, n, fsum, ssum = {}, 0, 0.0, 0.0

local strategy = {}

function strategy.on_bar(ctx, bar)
  local c = bar.close
  n = n + 1
  local slot = n % SLOW
  -- ring[slot] holds close n-SLOW, ring[(n-FAST) % SLOW] close n-FAST
  ssum = ssum + c - (ring[slot] or 0.0)
  fsum = fsum + c - (n > FAST and ring[(n - FAST) % SLOW] or 0.0)
  ring[slot] = c
  if n < SLOW then return end
  local above = fsum * SLOW > ssum * FAST
  local pos = ctx:position()
  if above and pos == 0 then
    ctx:buy(QTY)
  elseif not above and pos > 0 then
    ctx:close()
  end
end

return strategy
