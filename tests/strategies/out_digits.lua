-- out_digits.lua: trades long and short with fractional quantities, so that a run's
-- files carry many kinds of decimals (tests/e2e/core_output_golden.sh).
local s = {}
local n = 0

function s.on_bar(ctx, bar)
  n = n + 1
  local pos = ctx:position()
  if n % 11 == 0 and pos == 0 then
    if (n // 11) % 2 == 0 then ctx:buy(0.37) else ctx:sell(1.234) end
  elseif n % 11 == 6 and pos ~= 0 then
    ctx:close()
  end
end

return s
