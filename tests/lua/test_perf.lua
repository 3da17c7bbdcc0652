-- test_perf.lua - bt.perf.summary on the hand-made fixture (values computed by hand in
-- tests/unit/test_perf.c) and the Lua format scripts rendering summaries, including
-- an empty window and a user format directory.
local perf = bt.perf
assert(type(perf) == "table" and type(perf.summary) == "function", "bt.perf.summary missing")

local src = os.getenv("BTRUN_SRC") or "."
local tmp = (os.getenv("BT_TEST_TMP") or "/tmp") .. "/test_perf_lua." .. tostring(os.time()) .. math.random(1e6)
local fixture = src .. "/tests/fixtures/perf/basic.jsonl"

local function near(a, b, eps, what)
  assert(type(a) == "number" and math.abs(a - b) <= eps, what .. ": got " .. tostring(a) .. " want " .. b)
end

local s = perf.summary{window = "weekly", ["end"] = "2024-01-10", trades = fixture, out = tmp .. "/out"}
assert(s.window == "weekly" and s.period_start == "2024-01-08" and s.period_end == "2024-01-14")
assert(s.trades == 8 and s.wins == 3 and s.losses == 4 and s.breakeven == 1 and s.open_trades == 1)
near(s.win_rate, 0.375, 0.01, "win_rate")
near(s.payoff_ratio, 63.5 / 21.3125, 0.001, "payoff_ratio")
near(s.profit_factor, 190.5 / 85.25, 0.001, "profit_factor")
near(s.avg_r_multiple, (2 - 1 + 1.21) / 3, 0.001, "avg_r_multiple")
-- money stays exact decimal strings
assert(s.realized_pnl == "105.25" and s.unrealized_pnl == "7.5" and s.max_drawdown == "40.0")
assert(s.avg_loss == "-21.3125" and s.expectancy == "13.15625")
assert(s.current_streak.kind == "loss" and s.current_streak.length == 2)
assert(#s.days == 3 and s.days[2].equity == "130.25")

-- default window is daily around the latest trade; a custom range without window
local d = perf.summary{trades = fixture, out = tmp .. "/out"}
assert(d.window == "daily" and d.period_start == "2024-01-10" and d.trades == 2)
local c = perf.summary{start = "2024-01-08", ["end"] = "2024-01-09", trades = fixture, out = tmp .. "/out"}
assert(c.window == "custom" and c.trades == 6)

-- empty window: zeros and the format says so
local e = perf.summary{window = "daily", ["end"] = "2024-03-01", trades = fixture, out = tmp .. "/out", write = true}
assert(e.no_trades == true and e.trades == 0 and e.win_rate == 0 and e.realized_pnl == "0.0")
local f = io.open(tmp .. "/out/daily-summary-2024-03-01.md")
assert(f, "write = true did not write the markdown summary")
local md = f:read("a")
f:close()
assert(md:find("No trades in window", 1, true), "empty-window markdown")

-- format scripts are plain Lua: render directly
local render_md = require "formats.summary_md"
local render_html = require "formats.summary_html"
local text = render_md(s)
assert(text:find("| Win rate | 37.50% |", 1, true), "markdown win rate row")
assert(text:find("| Realized P&L | 105.25 |", 1, true), "markdown exact money")
local html = render_html(s)
local svgs = select(2, html:gsub("<svg ", ""))
assert(svgs == 4, "four inline charts, got " .. svgs)
assert(not html:find("<script", 1, true) and not html:find('src="http', 1, true), "self-contained")
assert(render_html(e):find("No trades in window", 1, true))
local lib = require "formats.lib"
assert(lib.esc("<a&\"b'>") == "&lt;a&amp;&quot;b&#39;&gt;")
assert(lib.md("a|b\nc") == "a\\|b c")

-- bad options fail clearly
local ok, err = pcall(perf.summary, {window = "hourly", trades = fixture, out = tmp .. "/out"})
assert(not ok and err:find("window"), err)
ok, err = pcall(perf.summary, {windw = "daily"})
assert(not ok and err:find("unknown option 'windw'"), err)
ok, err = pcall(perf.summary, {trades = tmp .. "/nope.jsonl", out = tmp .. "/out"})
assert(not ok and err:find("nope.jsonl"), err)

os.execute("rm -rf '" .. tmp .. "'")
print("test_perf.lua ok")
