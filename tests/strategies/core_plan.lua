-- core_plan.lua: a test strategy that follows a fixed plan, given as the param
--   plan = "1:buy:10,2:close,6:sell:5"   (on_bar call number : action [: qty [: symbol]])
-- Actions: buy, sell (market orders), close. Used by tests/e2e/core_money.sh and friends.
local s = { params = { plan = "" } }

local steps, n

function s.on_start(ctx)
  steps, n = {}, 0
  for item in ctx.params.plan:gmatch("[^,]+") do
    local at, action, qty, sym = item:match("^(%d+):(%a+):?([%d.]*):?(%w*)$")
    assert(at, "bad plan item: " .. item)
    local list = steps[tonumber(at)] or {}
    list[#list + 1] = { action = action, qty = tonumber(qty), symbol = sym ~= "" and sym or nil }
    steps[tonumber(at)] = list
  end
end

function s.on_bar(ctx, bar)
  n = n + 1
  for _, st in ipairs(steps[n] or {}) do
    if st.action == "close" then ctx:close(st.symbol)
    elseif st.action == "buy" then ctx:buy(st.qty, { symbol = st.symbol })
    elseif st.action == "sell" then ctx:sell(st.qty, { symbol = st.symbol })
    else error("unknown plan action " .. st.action) end
  end
end

return s
