-- formats/charts.lua - inline SVG charts for the HTML formats: dated x axes with ticks,
-- numeric y axes, legends, shaded bands, marked points, and hover tooltips through SVG
-- <title> on invisible strips (no script). Long series are reduced to the lowest and
-- highest point of each pixel column (downsample) so a chart's size is bounded by its
-- width, not by the number of rows.
local lib = require "formats.lib"
local esc = lib.esc

local M = {}

M.W = 900 -- viewBox width; the SVG scales to its container (phones, print)

-- Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end
M.days_from_civil = days_from_civil

-- Epoch seconds -> year, month, day (UTC).
function M.civil(t)
  local z = t // 86400 + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

function M.date(t)
  if t == nil then return "n/a" end
  local y, m, d = M.civil(t)
  return string.format("%04d-%02d-%02d", y, m, d)
end

-- "YYYY-MM-DDTHH:MM:SS..." (UTC) -> epoch seconds, nil for anything else.
function M.iso_time(s)
  if type(s) ~= "string" then return nil end
  local y, m, d, H, Mi, S = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)")
  if not y then return nil end
  return days_from_civil(tonumber(y), tonumber(m), tonumber(d)) * 86400 + tonumber(H) * 3600 + tonumber(Mi) * 60 + tonumber(S)
end

local MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
M.MONTHS = MONTHS

-- Ticks for a time axis [t0, t1]: about 4..9 labelled dates on calendar boundaries.
function M.time_ticks(t0, t1)
  local span = t1 - t0
  local ticks = {}
  if span <= 0 then
    return {{t0, M.date(t0)}}
  end
  local days = span / 86400
  if days <= 10 then
    local step = math.max(1, math.ceil(days / 6)) * 86400
    if span < 2 * 86400 then step = math.max(3600, (span // 6 // 3600) * 3600) end
    local t = (t0 // step) * step
    while t <= t1 do
      if t >= t0 then
        local label = span < 2 * 86400 and os.date("!%m-%d %H:%M", t) or M.date(t)
        ticks[#ticks + 1] = {t, label}
      end
      t = t + step
    end
    return ticks
  end
  local months = days / 30.44
  local step_m
  for _, s in ipairs({1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400, 6000}) do
    step_m = s
    if months / s <= 10 then break end
  end
  local y, m = M.civil(t0)
  local idx = y * 12 + (m - 1)
  idx = ((idx + step_m - 1) // step_m) * step_m
  while true do
    local yy, mm = idx // 12, idx % 12 + 1
    local t = days_from_civil(yy, mm, 1) * 86400
    if t > t1 then break end
    if t >= t0 then
      ticks[#ticks + 1] = {t, step_m >= 12 and tostring(yy) or string.format("%s %d", MONTHS[mm], yy)}
    end
    idx = idx + step_m
  end
  if #ticks == 0 then ticks[1] = {t0, M.date(t0)} end
  return ticks
end

-- Axis label for a fraction: as many decimals as the spread needs ("-0.5%", "12%").
function M.pct_axis(v)
  if v == 0 then return "0%" end
  return string.format("%.3g%%", v * 100)
end

-- Nice numeric ticks covering [lo, hi].
function M.num_ticks(lo, hi, n)
  n = n or 5
  if hi <= lo then return {lo} end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, f in ipairs({1, 2, 2.5, 5, 10}) do
    step = f * mag
    if raw <= step then break end
  end
  local ticks = {}
  local v = math.ceil(lo / step - 1e-9) * step
  while v <= hi + step * 1e-9 do
    ticks[#ticks + 1] = math.abs(v) < step * 1e-9 and 0 or v
    v = v + step
  end
  return ticks
end

-- Keep the lowest and highest point of each of `buckets` equal x ranges, in x order.
-- Returns new xs, ys (the input when it is already small).
function M.downsample(xs, ys, buckets)
  local n = #xs
  if n <= 2 * buckets then return xs, ys end
  local x0, x1 = xs[1], xs[n]
  local span = (x1 - x0) > 0 and (x1 - x0) or 1
  local ox, oy = {}, {}
  local cur, lo, hi = nil, nil, nil
  local function flush()
    if not lo then return end
    local a, b = lo, hi
    if a > b then a, b = b, a end
    ox[#ox + 1], oy[#oy + 1] = xs[a], ys[a]
    if b ~= a then ox[#ox + 1], oy[#oy + 1] = xs[b], ys[b] end
  end
  for i = 1, n do
    local y = ys[i]
    if y ~= nil then
      local bk = math.min(buckets - 1, math.floor((xs[i] - x0) / span * buckets))
      if bk ~= cur then
        flush()
        cur, lo, hi = bk, i, i
      else
        if y < ys[lo] then lo = i end
        if y > ys[hi] then hi = i end
      end
    end
  end
  flush()
  return ox, oy
end

local function f1(v) return string.format("%.1f", v) end

-- A series' runs of drawable points (y not nil, and > 0 on a log scale) scaled into the
-- plot, {{text = "x,y x,y ...", n =, first = "x,y", last = "x,y"}, ...}. btrun's format
-- state has it in C (runtime/perf/chart_points.c: most of a report's Lua time was this
-- loop); the Lua here, the same arithmetic, serves scripts that require the formats
-- from a strategy.
local function lua_points(xs, ys, log, xlo, xhi, ylo, yhi, L, T, pw, ph)
  local runs, pts = {}, {}
  local function flush()
    if #pts > 0 then
      runs[#runs + 1] = {text = table.concat(pts, " "), n = #pts, first = pts[1], last = pts[#pts]}
      pts = {}
    end
  end
  for i = 1, #xs do
    local y = ys[i]
    if y ~= nil and (not log or y > 0) then
      if log then y = math.log(y, 10) end
      pts[#pts + 1] = f1(L + (xs[i] - xlo) / (xhi - xlo) * pw) .. "," .. f1(T + (yhi - y) / (yhi - ylo) * ph)
    else
      flush()
    end
  end
  flush()
  return runs
end
local has_native, native = pcall(require, "formats.native")
local points = has_native and native.points or lua_points

-- A chart. opts:
--   title, width (viewBox, default M.W), height (default 260)
--   series  = {{xs=, ys=, color=, name=, dash=, area=(baseline y)}, ...}; nil ys are gaps
--   time    = true (default): xs are epoch seconds, dated ticks; false: numeric xs
--   x_labels = {{x, label}, ...} instead of computed ticks
--   y_fmt   = function(v) -> label; y_log = log scale (values > 0)
--   y_lo, y_hi = include these values in the y range
--   bands   = {{x0=, x1=, color=, title=}} shaded vertical ranges
--   points  = {{x=, y=, color=, title=}} marked points
--   hlines  = {{y=, color=, dash=, label=}}
--   tips    = {xs=, text=function(i) -> string}: hover strips (<= 100) with the nearest row
--   buckets = x buckets for downsampling (default 320: 640 points at most per series)
function M.chart(opts)
  local W, H = opts.width or M.W, opts.height or 260
  local L, R, T, B = 64, 14, 30, 26
  local pw, ph = W - L - R, H - T - B
  local time = opts.time ~= false
  local y_fmt = opts.y_fmt or function(v) return string.format("%.4g", v) end
  local log = opts.y_log
  local fy = log and function(v) return math.log(v, 10) end or function(v) return v end
  -- ranges
  local xlo, xhi, ylo, yhi = math.huge, -math.huge, math.huge, -math.huge
  local drawn = {}
  for _, s in ipairs(opts.series or {}) do
    local xs, ys = M.downsample(s.xs, s.ys, opts.buckets or 320)
    drawn[#drawn + 1] = {s = s, xs = xs, ys = ys}
    for i = 1, #xs do
      local y = ys[i]
      if y ~= nil and (not log or y > 0) then
        if xs[i] < xlo then xlo = xs[i] end
        if xs[i] > xhi then xhi = xs[i] end
        local v = fy(y)
        if v < ylo then ylo = v end
        if v > yhi then yhi = v end
      end
    end
    if s.area and not log then
      if s.area < ylo then ylo = s.area end
      if s.area > yhi then yhi = s.area end
    end
  end
  for _, p in ipairs(opts.points or {}) do
    if p.x < xlo then xlo = p.x end
    if p.x > xhi then xhi = p.x end
  end
  for _, v in ipairs({opts.y_lo, opts.y_hi}) do
    if v ~= nil and (not log or v > 0) then
      v = fy(v)
      if v < ylo then ylo = v end
      if v > yhi then yhi = v end
    end
  end
  for _, h in ipairs(opts.hlines or {}) do
    local v = fy(h.y)
    if v < ylo then ylo = v end
    if v > yhi then yhi = v end
  end
  local out = {}
  local function add(x) out[#out + 1] = x end
  add(string.format('<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">',
    W, H, esc(opts.title or "")))
  add(string.format('<text x="%d" y="18" class="ct">%s</text>', L, esc(opts.title or "")))
  if xlo == math.huge then
    add(string.format('<text x="%d" y="%d" class="cn" text-anchor="middle">no data</text></svg>', W // 2, H // 2))
    return table.concat(out)
  end
  if xhi == xlo then xlo, xhi = xlo - (time and 86400 or 0.5), xhi + (time and 86400 or 0.5) end
  if yhi == ylo then
    local pad = math.abs(ylo) * 0.05
    if pad == 0 then pad = 1 end
    ylo, yhi = ylo - pad, yhi + pad
  else
    local pad = (yhi - ylo) * 0.04
    ylo, yhi = ylo - pad, yhi + pad
  end
  local function X(x) return L + (x - xlo) / (xhi - xlo) * pw end
  local function Y(v) return T + (yhi - v) / (yhi - ylo) * ph end
  -- grid and y labels
  local yt
  if log then
    yt = {}
    local a, b = math.floor(ylo), math.ceil(yhi)
    for e = a, b do
      for _, f in ipairs(b - a <= 3 and {1, 2, 5} or {1}) do
        local v = math.log(f, 10) + e
        if v >= ylo and v <= yhi then yt[#yt + 1] = v end
      end
    end
    if #yt < 2 then yt = M.num_ticks(ylo, yhi, 4) end
  else
    yt = M.num_ticks(ylo, yhi, 5)
  end
  for _, v in ipairs(yt) do
    local y = Y(v)
    add(string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" class="cg"/>', L, f1(y), W - R, f1(y)))
    add(string.format('<text x="%d" y="%s" class="cl" text-anchor="end">%s</text>', L - 4, f1(y + 3),
      esc(y_fmt(log and 10 ^ v or v))))
  end
  -- x ticks
  local xt = opts.x_labels
  if not xt then
    if time then xt = M.time_ticks(xlo, xhi)
    else
      xt = {}
      for _, v in ipairs(M.num_ticks(xlo, xhi, 6)) do xt[#xt + 1] = {v, y_fmt(v)} end
    end
  end
  for _, tk in ipairs(xt) do
    local x = X(tk[1])
    if x >= L - 1 and x <= W - R + 1 then
      add(string.format('<line x1="%s" y1="%d" x2="%s" y2="%d" class="ck"/>', f1(x), T + ph, f1(x), T + ph + 4))
      -- labels at the edges grow inwards so they are not cut
      local anchor = x > W - R - 30 and "end" or (x < L + 30 and "start" or "middle")
      add(string.format('<text x="%s" y="%d" class="cl" text-anchor="%s">%s</text>', f1(x), H - 8, anchor, esc(tk[2])))
    end
  end
  add(string.format('<rect x="%d" y="%d" width="%d" height="%d" class="cf"/>', L, T, pw, ph))
  -- bands
  for _, b in ipairs(opts.bands or {}) do
    local x0, x1 = X(math.max(b.x0, xlo)), X(math.min(b.x1, xhi))
    add(string.format('<rect x="%s" y="%d" width="%s" height="%d" fill="%s" opacity="0.18"><title>%s</title></rect>',
      f1(x0), T, f1(math.max(x1 - x0, 1)), ph, b.color or "#d62728", esc(b.title or "")))
  end
  -- zero / reference lines
  if not log and ylo < 0 and yhi > 0 then
    add(string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" class="cz"/>', L, f1(Y(0)), W - R, f1(Y(0))))
  end
  for _, h in ipairs(opts.hlines or {}) do
    local y = Y(fy(h.y))
    add(string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-dasharray="%s" stroke-width="1.2"><title>%s</title></line>',
      L, f1(y), W - R, f1(y), h.color or "#ff7f0e", h.dash or "6 4", esc(h.label or "")))
    if h.label then
      add(string.format('<text x="%d" y="%s" class="cl" text-anchor="end" fill="%s">%s</text>', W - R - 2, f1(y - 3),
        h.color or "#ff7f0e", esc(h.label)))
    end
  end
  -- series
  local legend = {}
  for _, d in ipairs(drawn) do
    local s = d.s
    local segs = points(d.xs, d.ys, log, xlo, xhi, ylo, yhi, L, T, pw, ph)
    for _, p in ipairs(segs) do
      if s.area and not log then
        local y0 = f1(Y(s.area))
        local first, last = p.first:match("^([^,]+)"), p.last:match("^([^,]+)")
        add(string.format('<polygon fill="%s" fill-opacity="0.3" stroke="%s" points="%s,%s %s %s,%s"/>',
          s.color or "#1f77b4", s.color or "#1f77b4", first, y0, p.text, last, y0))
      end
      if s.area and not log then
        -- the filled polygon's outline is the line
      elseif p.n == 1 then
        local x, y = p.first:match("^([^,]+),(.+)$")
        add(string.format('<circle cx="%s" cy="%s" r="3" fill="%s"/>', x, y, s.color or "#1f77b4"))
      else
        add(string.format('<polyline fill="none" stroke="%s" stroke-width="%s"%s points="%s"/>', s.color or "#1f77b4",
          s.stroke or "1.4", s.dash and (' stroke-dasharray="' .. s.dash .. '"') or "", p.text))
      end
    end
    if s.name then legend[#legend + 1] = s end
  end
  for _, p in ipairs(opts.points or {}) do
    if p.y ~= nil then
      add(string.format('<circle cx="%s" cy="%s" r="4" fill="%s" stroke="#fff"><title>%s</title></circle>',
        f1(X(p.x)), f1(Y(fy(p.y))), p.color or "#d62728", esc(p.title or "")))
    end
  end
  -- legend (top right)
  local lx = W - R
  for i = #legend, 1, -1 do
    local s = legend[i]
    local wd = #s.name * 6 + 24
    lx = lx - wd
    add(string.format('<line x1="%d" y1="14" x2="%d" y2="14" stroke="%s" stroke-width="2"%s/><text x="%d" y="18" class="cl">%s</text>',
      lx, lx + 14, s.color or "#1f77b4", s.dash and (' stroke-dasharray="' .. s.dash .. '"') or "", lx + 18, esc(s.name)))
  end
  -- hover strips
  local tips = opts.tips
  if tips and #tips.xs > 0 then
    local n = #tips.xs
    local strips = math.min(100, n)
    for k = 0, strips - 1 do
      local a = X(xlo + (xhi - xlo) * k / strips)
      local b = X(xlo + (xhi - xlo) * (k + 1) / strips)
      local xm = xlo + (xhi - xlo) * (k + 0.5) / strips
      -- nearest row to the strip's middle (xs ascending)
      local lo, hi = 1, n
      while lo < hi do
        local mid = (lo + hi) // 2
        if tips.xs[mid] < xm then lo = mid + 1 else hi = mid end
      end
      if lo > 1 and math.abs(tips.xs[lo - 1] - xm) < math.abs(tips.xs[lo] - xm) then lo = lo - 1 end
      add(string.format('<rect x="%s" y="%d" width="%s" height="%d" class="tip"><title>%s</title></rect>',
        f1(a), T, f1(b - a), ph, esc(tips.text(lo))))
    end
  end
  add("</svg>")
  return table.concat(out, "\n")
end

-- Vertical bars at category positions: items = {{label=, value=, title=}}.
function M.bars(items, opts)
  opts = opts or {}
  local W, H = opts.width or M.W, opts.height or 220
  local L, R, T, B = 64, 14, 30, 26
  local pw, ph = W - L - R, H - T - B
  local y_fmt = opts.y_fmt or function(v) return string.format("%.4g", v) end
  local lo, hi = 0, 0
  for _, it in ipairs(items) do
    if it.value < lo then lo = it.value end
    if it.value > hi then hi = it.value end
  end
  if lo == hi then hi = lo + 1 end
  local pad = (hi - lo) * 0.05
  lo, hi = lo < 0 and lo - pad or lo, hi > 0 and hi + pad or hi
  local function Y(v) return T + (hi - v) / (hi - lo) * ph end
  local out = {}
  local function add(x) out[#out + 1] = x end
  add(string.format('<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">',
    W, H, esc(opts.title or "")))
  add(string.format('<text x="%d" y="18" class="ct">%s</text>', L, esc(opts.title or "")))
  for _, v in ipairs(M.num_ticks(lo, hi, 5)) do
    local y = Y(v)
    add(string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" class="cg"/>', L, f1(y), W - R, f1(y)))
    add(string.format('<text x="%d" y="%s" class="cl" text-anchor="end">%s</text>', L - 4, f1(y + 3), esc(y_fmt(v))))
  end
  add(string.format('<rect x="%d" y="%d" width="%d" height="%d" class="cf"/>', L, T, pw, ph))
  local n = #items
  -- bars never wider than 60 px, so one or two bars do not fill the chart
  local slot = n > 0 and pw / n or pw
  local bw = math.min(slot * 0.8, 60)
  local every = math.max(1, math.ceil(n / (pw / 48)))
  local y0 = Y(0)
  for i, it in ipairs(items) do
    local cx = L + (i - 0.5) * slot
    local y = Y(it.value)
    add(string.format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>',
      f1(cx - bw / 2), f1(math.min(y, y0)), f1(math.max(bw, 0.5)), f1(math.max(math.abs(y0 - y), 0.5)),
      it.color or (it.value >= 0 and "#2ca02c" or "#d62728"), esc(it.title or (it.label .. ": " .. y_fmt(it.value)))))
    if (i - 1) % every == 0 then
      add(string.format('<text x="%s" y="%d" class="cl" text-anchor="middle">%s</text>', f1(cx), H - 8, esc(it.label)))
    end
  end
  add(string.format('<line x1="%d" y1="%s" x2="%d" y2="%s" class="cz"/>', L, f1(y0), W - R, f1(y0)))
  add("</svg>")
  return table.concat(out, "\n")
end

-- Shared chart and page styles: phone-friendly (fluid), print-friendly (no backgrounds lost).
M.css = [[
:root{color-scheme:light}
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;padding:16px;color:#222;max-width:980px;line-height:1.4}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e4e4e4;padding-bottom:4px}
.sub{color:#555;font-size:13px;margin:2px 0}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px;margin:10px 0}
.meta dt{color:#666}.meta dd{margin:0;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px;margin:10px 0}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 10px;background:#fafafa;break-inside:avoid}
.card .k{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:20px;font-weight:600;margin-top:2px}.card .d{font-size:11px;color:#777}
.pos{color:#1b7f3b}.neg{color:#b3261e}
.tw{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}td,th{border:1px solid #e0e0e0;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f5f5f5;font-weight:600}td.l,th.l{text-align:left}
.heat td{min-width:44px}
.note{color:#666;font-size:12px}.warn{background:#fff3cd;padding:6px 10px;border:1px solid #e0c36c;font-size:13px}
code{font-size:12px;background:#f3f3f3;padding:1px 4px;border-radius:3px}
svg.chart{width:100%;height:auto;display:block;margin:6px 0 14px}
svg .ct{font-size:13px;font-weight:600;fill:#333}svg .cl{font-size:10.5px;fill:#666}svg .cn{font-size:13px;fill:#999}
svg .cg{stroke:#eee}svg .ck{stroke:#999}svg .cf{fill:none;stroke:#ccc}svg .cz{stroke:#888;stroke-dasharray:3 3}
svg .tip{fill:transparent}svg .tip:hover{fill:rgba(0,0,0,.06)}
.breach{color:#b3261e;font-weight:bold}.ok{color:#1b7f3b}.skipped{color:#777}
.toggle input{margin-left:10px}.lin,.log{display:none}
#scale-lin:checked~.lin,#scale-log:checked~.log{display:block}
@media (max-width:600px){body{padding:8px}.card .v{font-size:17px}h1{font-size:19px}}
@media print{body{max-width:none;padding:0}.toggle label,.toggle>input,.tip{display:none}
 h2{break-after:avoid}svg.chart,table,.cards{break-inside:avoid}.card{background:#fff}}
]]

return M
