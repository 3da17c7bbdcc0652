-- formats/run_report.lua - report.html of one backtest run: a tearsheet. Header (strategy,
-- symbols, dates, params, ids), KPI cards, the strategy against the buy-and-hold of its
-- symbols (and --benchmark's series), charts with dated axes and hover tooltips, the worst
-- drawdowns, monthly and yearly returns, per-symbol results, trades with their lineage and
-- the positions open at the end. The page's numbers are also embedded as JSON
-- (<script type="application/json" id="report-data">) so tests and tools can read them.
--
-- Input (run_report.c): {result=, summary= (the trades' totals, without its per-day rows),
--   benchmark_name=, benchmark_error=,
--   trades={total=, closed=, head={{t=trade, ["in"]={fill,order,cause,is_signal}, out=}},
--           tail=, open=, by_symbol=, returns=, returns_stride=},
--   series=(run_days.h: the day series' figures and the chart lines, computed in C over
--           every day, so nothing here loops over the run's days)}
local lib = require "formats.lib"
local charts = require "formats.charts"
local esc = lib.esc

local function pct(x, digits)
  if x == nil or x ~= x then return "n/a" end
  -- a tiny loss rounds to "0.0%", not "-0.0%"
  return (string.format("%." .. (digits or 2) .. "f%%", x * 100):gsub("^%-(0%.?0*%%)$", "%1"))
end
local function num(x, digits)
  if x == nil or x ~= x or x == math.huge or x == -math.huge then return "n/a" end
  return string.format("%." .. (digits or 2) .. "f", x)
end
local function signed_class(x) return x == nil and "" or (x >= 0 and "pos" or "neg") end

-- Money for display: thousands separators, 2 decimals (the exact value stays in result.json).
local function money(s)
  local v = tonumber(s)
  if v == nil then return "n/a" end
  local neg = v < 0
  local txt = string.format("%.2f", math.abs(v))
  local int, frac = txt:match("^(%d+)%.(%d+)$")
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return (neg and "-" or "") .. int .. "." .. frac
end

local function heat_color(r)
  if r == nil then return "#fff" end
  local a = math.min(math.abs(r) / 0.10, 1) -- full colour at +-10% a month
  if r >= 0 then return string.format("rgba(27,127,59,%.2f)", 0.08 + 0.6 * a) end
  return string.format("rgba(179,38,30,%.2f)", 0.08 + 0.6 * a)
end

local function days_between(a, b)
  local ta, tb = charts.iso_time(a), charts.iso_time(b)
  if not ta or not tb then return nil end
  return (tb - ta) / 86400
end

return function(d)
  local r, s = d.result or {}, d.summary or {}
  local tr = d.trades or {}
  local ser = d.series or {}
  local run8 = (r.run_id or ""):sub(1, 8)
  local out = {}
  local function add(x) out[#out + 1] = x end

  -- the series
  local init = tonumber(r.initial_cash) or 0
  local first, last = ser.first, ser.last
  local eql = ser.equity or {xs = {}, ys = {}}
  local have_bench, have_extra = ser.bench ~= nil, ser.extra ~= nil
  local tipd = ser.tips or {xs = {}, equity = {}, bench = {}, extra = {}}
  local worst = (ser.drawdowns or {})[1]
  local months, years, order_m, order_y = {}, {}, {}, {}
  for i, k in ipairs(ser.months_keys or {}) do order_m[i], months[k] = k, ser.months[i] end
  for i, k in ipairs(ser.years_keys or {}) do order_y[i], years[k] = k, ser.years[i] end
  local symbols = {}
  for _, x in ipairs(r.data or {}) do symbols[#symbols + 1] = x.symbol end

  local data = {
    run_id = r.run_id, correlation_id = r.correlation_id, strategy = r.strategy, status = r.status,
    start = first and charts.date(first), ["end"] = last and charts.date(last),
    rows = ser.rows, stride = ser.stride,
    kpi = {
      total_return = r.total_return, cagr = r.cagr, sharpe = r.sharpe, sortino = r.sortino,
      calmar = (r.cagr and r.max_drawdown and r.max_drawdown > 0) and r.cagr / r.max_drawdown or nil,
      max_drawdown = r.max_drawdown, volatility = ser.volatility,
      max_drawdown_start = worst and charts.date(worst.start),
      max_drawdown_trough = worst and charts.date(worst.trough),
      max_drawdown_recovery = worst and worst.recovery and charts.date(worst.recovery) or nil,
      max_drawdown_days = worst and worst.days,
      win_rate = r.win_rate, profit_factor = r.profit_factor, payoff = s.payoff_ratio,
      expectancy = r.expectancy, exposure = r.exposure, trades = r.trades,
      open_trades = #(tr.open or {}), rejected_orders = r.rejected_orders,
      initial_cash = r.initial_cash, final_equity = r.final_equity,
    },
    -- every month and year, written by C (run_days.h) as lib.json would
    monthly = lib.raw(ser.months_json or "{}"), yearly = lib.raw(ser.years_json or "{}"), drawdowns = lib.array({}), open_positions = lib.array({}),
    by_symbol = lib.array({}), trades_total = tr.total, trades_shown = 0,
  }
  for i, p in ipairs(ser.drawdowns or {}) do
    data.drawdowns[i] = {start = charts.date(p.start), trough = charts.date(p.trough),
                         recovery = p.recovery and charts.date(p.recovery) or nil, depth = p.depth, days = p.days}
  end
  local function bench_block(bs, name)
    return {name = name, total_return = bs.total_return, cagr = bs.cagr, sharpe = bs.sharpe,
            max_drawdown = bs.max_drawdown, volatility = bs.volatility, alpha = bs.alpha, beta = bs.beta,
            correlation = bs.correlation}
  end
  if have_bench then data.benchmark = bench_block(ser.bench_stats or {}, "Buy & hold " .. table.concat(symbols, "+")) end
  if have_extra then data.benchmark_extra = bench_block(ser.extra_stats or {}, d.benchmark_name or "benchmark") end

  -- page
  add('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
  add('<meta name="viewport" content="width=device-width,initial-scale=1">')
  add("<title>" .. esc((r.strategy_id or r.strategy or "run") .. " backtest " .. run8) .. "</title>")
  add("<style>" .. charts.css .. "</style></head><body>")
  add('<header id="summary">')
  add("<h1>" .. esc(r.strategy_id or r.strategy or "Backtest") .. " &middot; " .. esc(table.concat(symbols, ", ")) .. "</h1>")
  add('<p class="sub">' .. esc(data.start or "?") .. " to " .. esc(data["end"] or "?") .. " &middot; "
    .. esc(r.bars or 0) .. " bars &middot; status <b>" .. esc(r.status or "?") .. "</b></p>")
  add('<dl class="meta">')
  local params = {}
  for k, v in pairs(r.params or {}) do params[#params + 1] = k .. "=" .. tostring(v) end
  table.sort(params)
  local meta = {
    {"Strategy", r.strategy}, {"Symbols", table.concat(symbols, ", ")},
    {"Period", (data.start or "?") .. " to " .. (data["end"] or "?")},
    {"Bars", r.bars}, {"Parameters", #params > 0 and table.concat(params, " ") or "none"},
    {"Capital", money(r.initial_cash) .. " \u{2192} " .. money(r.final_equity)},
    {"Run id", r.run_id}, {"Correlation id", r.correlation_id}, {"Status", r.status},
  }
  for _, m in ipairs(meta) do add("<dt>" .. esc(m[1]) .. "</dt><dd>" .. esc(m[2] or "n/a") .. "</dd>") end
  add("</dl></header>")
  if d.benchmark_error then add('<p class="warn">Benchmark not shown: ' .. esc(d.benchmark_error) .. "</p>") end

  -- KPI cards
  local k = data.kpi
  local dd_detail = worst and string.format("%s \u{2192} %s, %d days", data.kpi.max_drawdown_start,
    data.kpi.max_drawdown_recovery or "not recovered", worst.days) or ""
  local cards = {
    {"Total return", pct(k.total_return), signed_class(k.total_return), money(r.final_equity) .. " final equity"},
    {"CAGR", pct(k.cagr), signed_class(k.cagr)},
    {"Sharpe", num(k.sharpe)}, {"Sortino", num(k.sortino)}, {"Calmar", num(k.calmar)},
    {"Max drawdown", pct(k.max_drawdown and -k.max_drawdown), "neg", dd_detail},
    {"Volatility (ann.)", pct(k.volatility)},
    {"Win rate", pct(k.win_rate, 1)}, {"Profit factor", num(k.profit_factor)}, {"Payoff", num(k.payoff)},
    {"Expectancy", money(k.expectancy), signed_class(tonumber(k.expectancy)), "per closed trade"},
    {"Exposure", pct(k.exposure, 1)},
    {"Trades", tostring(k.trades or 0), "", string.format("%d open at end", k.open_trades)},
    {"Rejected orders", tostring(k.rejected_orders or 0)},
  }
  if data.benchmark then
    local b = data.benchmark
    cards[#cards + 1] = {"Benchmark return", pct(b.total_return), signed_class(b.total_return), b.name}
    cards[#cards + 1] = {"Alpha / beta", num(b.alpha, 3) .. " / " .. num(b.beta, 2), "",
                         "correlation " .. num(b.correlation, 2)}
  end
  add('<section id="kpis"><h2>Key figures</h2><div class="cards">')
  for _, c in ipairs(cards) do
    add(string.format('<div class="card"><div class="k">%s</div><div class="v %s">%s</div>%s</div>', esc(c[1]),
      c[3] or "", esc(c[2]), c[4] and c[4] ~= "" and ('<div class="d">' .. esc(c[4]) .. "</div>") or ""))
  end
  add("</div></section>")

  -- equity with benchmarks, linear and log
  local function tip_row(i)
    local parts = {charts.date(tipd.xs[i]), "equity " .. money(tipd.equity[i])}
    if have_bench then parts[#parts + 1] = "buy & hold " .. money(tipd.bench[i]) end
    if have_extra then parts[#parts + 1] = (d.benchmark_name or "benchmark") .. " " .. money(tipd.extra[i]) end
    return table.concat(parts, " \u{b7} ")
  end
  local eq_series = {{xs = eql.xs, ys = eql.ys, last = ser.last_equity, color = "#1f77b4", name = "Strategy", stroke = "1.6"}}
  if have_bench then
    eq_series[#eq_series + 1] = {xs = ser.bench.xs, ys = ser.bench.ys, last = ser.last_bench, color = "#7f7f7f",
      name = data.benchmark.name, dash = "5 3"}
  end
  if have_extra then
    eq_series[#eq_series + 1] = {xs = ser.extra.xs, ys = ser.extra.ys, last = ser.last_extra, color = "#ff7f0e",
      name = data.benchmark_extra.name, dash = "2 2"}
  end
  add('<section id="equity"><h2>Equity</h2><div class="toggle">')
  -- log scale first when the curves end far apart (a flat line next to a tenfold one)
  local ratio = 1
  for _, sr in ipairs(eq_series) do
    local a, b = sr.last, ser.last_equity
    if a and b and a > 0 and b > 0 then ratio = math.max(ratio, a / b, b / a) end
  end
  local log_first = ratio > 4
  add('<input type="radio" name="scale" id="scale-lin"' .. (log_first and "" or " checked") .. '><label for="scale-lin">linear</label>')
  add('<input type="radio" name="scale" id="scale-log"' .. (log_first and " checked" or "") .. '><label for="scale-log">log scale</label>')
  local tips = {xs = tipd.xs, text = tip_row}
  add('<div class="lin">' .. charts.chart({title = "Equity", series = eq_series, y_fmt = function(v) return (money(v):gsub("%.%d+$", "")) end,
    tips = tips, height = 300}) .. "</div>")
  add('<div class="log">' .. charts.chart({title = "Equity (log scale)", series = eq_series, y_log = true,
    y_fmt = function(v) return (money(v):gsub("%.%d+$", "")) end, tips = tips, height = 300}) .. "</div>")
  add("</div>")
  if data.benchmark or data.benchmark_extra then
    add('<div class="tw"><table><tr><th class="l">Series</th><th>Total return</th><th>CAGR</th><th>Sharpe</th><th>Volatility</th><th>Max drawdown</th><th>Alpha</th><th>Beta</th><th>Correlation</th></tr>')
    add(string.format("<tr><td class=\"l\">Strategy</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td></td><td></td><td></td></tr>",
      pct(r.total_return), pct(r.cagr), num(r.sharpe), pct(ser.volatility), pct(r.max_drawdown)))
    for _, b in ipairs({data.benchmark, data.benchmark_extra}) do
      add(string.format("<tr><td class=\"l\">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
        esc(b.name), pct(b.total_return), pct(b.cagr), num(b.sharpe), pct(b.volatility), pct(b.max_drawdown),
        num(b.alpha, 3), num(b.beta, 2), num(b.correlation, 2)))
    end
    add("</table></div>")
    add('<p class="note">Buy &amp; hold: each symbol gets an equal share of the starting capital at its first close and is held to the end (no rebalancing). Alpha is annualised; beta and correlation are of daily returns.</p>')
  end
  if (ser.rows or 0) > charts.W then
    add(string.format('<p class="note">%d equity rows, drawn as the lowest and highest point of each of 320 columns.</p>', ser.rows))
  end
  add("</section>")

  -- drawdowns
  add('<section id="drawdowns"><h2>Drawdowns</h2>')
  local uw = ser.underwater or {xs = {}, ys = {}}
  local bands = {}
  for i, p in ipairs(ser.drawdowns or {}) do
    bands[#bands + 1] = {x0 = p.start, x1 = p.recovery or last, color = "#d62728",
      title = string.format("#%d: %s, %s to %s", i, pct(-p.depth), charts.date(p.start),
        p.recovery and charts.date(p.recovery) or "not recovered")}
  end
  add(charts.chart({title = "Underwater (drawdown from peak), 5 worst shaded",
    series = {{xs = uw.xs, ys = uw.ys, color = "#b3261e", area = 0}}, y_hi = 0, bands = bands,
    y_fmt = charts.pct_axis,
    tips = {xs = uw.xs, text = function(i) return charts.date(uw.xs[i]) .. " \u{b7} " .. pct(uw.ys[i]) end}}))
  if (ser.drawdown_periods or 0) == 0 then
    add("<p>No drawdown: equity never fell below its peak.</p>")
  else
    add('<div class="tw"><table><tr><th>#</th><th class="l">Start (peak)</th><th class="l">Trough</th><th class="l">Recovery</th><th>Depth</th><th>Days</th></tr>')
    for i, p in ipairs(data.drawdowns) do
      add(string.format('<tr><td>%d</td><td class="l">%s</td><td class="l">%s</td><td class="l">%s</td><td class="neg">%s</td><td>%d</td></tr>',
        i, p.start, p.trough, p.recovery or "not recovered", pct(-p.depth), p.days))
    end
    add("</table></div>")
  end
  add("</section>")

  -- monthly heatmap and yearly bars
  add('<section id="returns"><h2>Monthly and yearly returns</h2>')
  if #order_m == 0 then
    add("<p>No equity rows.</p>")
  else
    local ys = {}
    for _, y in ipairs(order_y) do ys[#ys + 1] = y end
    local shown_from = math.max(1, #ys - 49)
    if shown_from > 1 then
      add(string.format('<p class="note">The last 50 of %d years are shown; all are in the data block.</p>', #ys))
    end
    add('<div class="tw"><table class="heat"><tr><th class="l">Year</th>')
    for _, m in ipairs(charts.MONTHS) do add("<th>" .. m .. "</th>") end
    add("<th>Year</th></tr>")
    for i = shown_from, #ys do
      local y = ys[i]
      add('<tr><th class="l">' .. y .. "</th>")
      for m = 1, 12 do
        local key = string.format("%04d-%02d", y, m)
        local v = months[key]
        add(string.format('<td style="background:%s" title="%s %d: %s">%s</td>', heat_color(v),
          charts.MONTHS[m], y, v and pct(v) or "no data", v and pct(v, 1) or ""))
      end
      local v = years[y]
      add(string.format('<td style="background:%s"><b>%s</b></td></tr>', heat_color(v and v / 3), pct(v, 1)))
    end
    add("</table></div>")
    local items = {}
    for i = shown_from, #ys do
      local y = ys[i]
      items[#items + 1] = {label = tostring(y), value = years[y] or 0, title = y .. ": " .. pct(years[y])}
    end
    add(charts.bars(items, {title = "Yearly returns", y_fmt = charts.pct_axis}))
  end
  add("</section>")

  -- rolling 6-month Sharpe
  add('<section id="rolling"><h2>Rolling 6-month Sharpe</h2>')
  local win = 126
  local ro = ser.rolling or {}
  local nrets = ro.returns or 0
  if nrets < win + 2 then
    add(string.format("<p>Not enough history for a 6-month window (%d daily returns, %d needed).</p>", nrets, win + 2))
  else
    local rx, ry = ro.xs or {}, ro.ys or {}
    add(charts.chart({title = "Rolling Sharpe (126 trading days)", series = {{xs = rx, ys = ry, color = "#9467bd"}},
      y_fmt = function(v) return num(v, 1) end,
      tips = {xs = rx, text = function(i) return charts.date(rx[i]) .. " \u{b7} Sharpe " .. num(ry[i]) end}}))
  end
  add("</section>")

  -- distribution of trade returns and P&L by symbol
  add('<section id="trade-stats"><h2>Trades</h2>')
  local tr_rets = tr.returns or {}
  if #tr_rets < 2 then
    add(string.format("<p>%s: no distribution to draw.</p>",
      #tr_rets == 0 and "No closed trades" or "One closed trade (" .. pct(tr_rets[1]) .. ")"))
  else
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(tr_rets) do lo, hi = math.min(lo, v), math.max(hi, v) end
    local nb = math.max(5, math.min(40, math.floor(math.sqrt(#tr_rets) * 2)))
    if hi == lo then hi = lo + 0.01 end
    local w = (hi - lo) / nb
    local counts = {}
    for i = 1, nb do counts[i] = 0 end
    for _, v in ipairs(tr_rets) do
      local b = math.min(nb, math.floor((v - lo) / w) + 1)
      counts[b] = counts[b] + 1
    end
    local items = {}
    for i = 1, nb do
      local a = lo + (i - 1) * w
      items[i] = {label = pct(a + w / 2, 1), value = counts[i],
        color = a + w / 2 >= 0 and "#2ca02c" or "#d62728",
        title = string.format("%s to %s: %d trades", pct(a, 1), pct(a + w, 1), counts[i])}
    end
    add(charts.bars(items, {title = "Distribution of trade returns (" .. #tr_rets .. " closed trades)",
      y_fmt = function(v) return string.format("%d", math.floor(v + 0.5)) end}))
    if (tr.returns_stride or 1) > 1 then
      add(string.format('<p class="note">Every %d-th closed trade is in the histogram.</p>', tr.returns_stride))
    end
  end
  local bys = tr.by_symbol or {}
  if #bys > 0 then
    local items = {}
    for _, b in ipairs(bys) do
      local total = (tonumber(b.pnl) or 0) + (tonumber(b.unrealized) or 0)
      items[#items + 1] = {label = b.symbol, value = total,
        title = b.symbol .. ": " .. money(total) .. " (realized " .. money(b.pnl) .. ", unrealized " .. money(b.unrealized) .. ")"}
      data.by_symbol[#data.by_symbol + 1] = {symbol = b.symbol, trades = b.trades, wins = b.wins, pnl = b.pnl,
        open = b.open, unrealized = b.unrealized}
    end
    add(charts.bars(items, {title = "P&L by symbol (realized + unrealized)", height = 200,
      y_fmt = function(v) return (money(v):gsub("%.%d+$", "")) end}))
    add('<div class="tw"><table><tr><th class="l">Symbol</th><th>Closed trades</th><th>Win rate</th><th>Realized P&amp;L</th><th>Open</th><th>Unrealized P&amp;L</th></tr>')
    for _, b in ipairs(bys) do
      add(string.format('<tr><td class="l">%s</td><td>%d</td><td>%s</td><td class="%s">%s</td><td>%d</td><td class="%s">%s</td></tr>',
        esc(b.symbol), b.trades, b.trades > 0 and pct(b.wins / b.trades, 1) or "n/a",
        signed_class(tonumber(b.pnl)), money(b.pnl), b.open, signed_class(tonumber(b.unrealized)), money(b.unrealized)))
    end
    add("</table></div>")
  end
  add('<div class="tw"><table>')
  local rows = {
    {"Closed trades", string.format("%d (%d wins, %d losses)", s.trades or 0, s.wins or 0, s.losses or 0)},
    {"Open trades", #(tr.open or {})},
    {"Average win / loss", money(s.avg_win) .. " / " .. money(s.avg_loss)},
    {"Longest win / loss streak", (s.longest_win_streak or 0) .. " / " .. (s.longest_loss_streak or 0)},
    {"Realized / unrealized P&L", money(s.realized_pnl) .. " / " .. money(s.unrealized_pnl)},
  }
  for _, row in ipairs(rows) do add('<tr><th class="l">' .. esc(row[1]) .. "</th><td>" .. esc(row[2]) .. "</td></tr>") end
  add("</table></div></section>")

  -- trades table with lineage
  local function lineage(ids, kind)
    if not ids then return "" end
    local cause = ids[4] and "signal" or "bar"
    local txt = string.format("%s fill %d \u{2190} order %d \u{2190} %s %d", kind, ids[1], ids[2], cause, ids[3])
    return string.format('<span title="btrun trace lineage %s:%d">%s</span>', esc(run8), ids[1], esc(txt))
  end
  local function trade_row(x)
    local t = x.t
    local qty, ep = tonumber(t.qty) or 0, tonumber(t.entry_price) or 0
    local ret = qty * ep ~= 0 and (tonumber(t.pnl) or 0) / (qty * ep) or nil
    local held = days_between(t.entry_time, t.exit_time)
    add(string.format('<tr><td>%s</td><td class="l">%s</td><td class="l">%s</td><td>%s</td><td class="l">%s</td><td>%s</td><td class="l">%s</td><td>%s</td><td class="%s">%s</td><td class="%s">%s</td><td>%s</td><td class="l">%s%s%s</td></tr>',
      esc(t.trade_id), esc(t.symbol), esc(t.side), esc(t.qty), esc((t.entry_time or ""):sub(1, 10)), esc(t.entry_price),
      esc(t.exit_time and t.exit_time:sub(1, 10) or "open"), esc(t.exit_price), signed_class(tonumber(t.pnl)), money(t.pnl),
      signed_class(ret), pct(ret), held and string.format("%.0f", held) or "", lineage(x["in"], "entry"),
      x.out and "<br>" or "", lineage(x.out, "exit")))
  end
  local head, tail = tr.head or {}, tr.tail or {}
  add('<section id="trades"><h2>Trade list</h2>')
  if (tr.closed or 0) == 0 then
    add("<p>No closed trades.</p>")
  else
    add(string.format('<p class="note">Lineage: <code>btrun trace lineage %s:SEQ</code> (hover an id for the command) shows the chain from the signal to the fill, when the run was traced.</p>', esc(run8)))
    add('<div class="tw"><table><tr><th>#</th><th class="l">Symbol</th><th class="l">Side</th><th>Qty</th><th class="l">Entry</th><th>Price</th><th class="l">Exit</th><th>Price</th><th>P&amp;L</th><th>Return</th><th>Days</th><th class="l">Lineage (event ids)</th></tr>')
    for _, x in ipairs(head) do trade_row(x) end
    local skipped = (tr.closed or 0) - #head - #tail
    if skipped > 0 then
      add(string.format('<tr><td colspan="12" class="l note">&hellip; %d trades not listed &hellip;</td></tr>', skipped))
    end
    for _, x in ipairs(tail) do trade_row(x) end
    add("</table></div>")
    data.trades_shown = #head + #tail
    if skipped > 0 then
      add(string.format('<p class="note">The first %d and last %d of %d closed trades are listed; all are in trades.jsonl.</p>',
        #head, #tail, tr.closed))
    end
  end
  add("</section>")

  -- open positions at the end
  add('<section id="open-positions"><h2>Open positions at the end</h2>')
  local open = tr.open or {}
  if #open == 0 then
    add("<p>None: every position was closed by the last bar.</p>")
  else
    add('<div class="tw"><table><tr><th class="l">Symbol</th><th class="l">Side</th><th>Qty</th><th class="l">Entry</th><th>Entry price</th><th>Mark (last close)</th><th>Unrealized P&amp;L</th><th>Return</th><th class="l">Lineage</th></tr>')
    for _, x in ipairs(open) do
      local t = x.t
      local qty, ep = tonumber(t.qty) or 0, tonumber(t.entry_price) or 0
      local ret = qty * ep ~= 0 and (tonumber(t.pnl) or 0) / (qty * ep) or nil
      add(string.format('<tr><td class="l">%s</td><td class="l">%s</td><td>%s</td><td class="l">%s</td><td>%s</td><td>%s</td><td class="%s">%s</td><td class="%s">%s</td><td class="l">%s</td></tr>',
        esc(t.symbol), esc(t.side), esc(t.qty), esc((t.entry_time or ""):sub(1, 10)), esc(t.entry_price), esc(t.exit_price),
        signed_class(tonumber(t.pnl)), money(t.pnl), signed_class(ret), pct(ret), lineage(x["in"], "entry")))
      data.open_positions[#data.open_positions + 1] = {symbol = t.symbol, side = t.side, qty = t.qty,
        entry_time = t.entry_time, entry_price = t.entry_price, mark = t.exit_price, pnl = t.pnl}
    end
    add("</table></div>")
    add('<p class="note">Marked to the last close; their unrealized P&amp;L is in the final equity and the return figures, not in the trade statistics.</p>')
  end
  add("</section>")

  add('<footer><p class="note">btrun report &middot; full precision in result.json, trades.jsonl and equity.csv.</p></footer>')
  add('<script type="application/json" id="report-data">' .. lib.json(data) .. "</script>")
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end
